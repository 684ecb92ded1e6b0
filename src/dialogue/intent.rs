//! What a message asks for besides a topic: a person, small talk, or one aspect of a
//! service (fees, documents, the office). Word lists are general German and English usage,
//! compared as stems so that inflected forms count.

use crate::domain::HandoffReason;
use std::collections::HashSet;
use std::sync::LazyLock;

use crate::language::{is_stopword, stem, words};

/// The part of an entry a question is about.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Aspect {
    Summary,
    Fees,
    Documents,
    Office,
}

/// Kinds of small talk the bot answers itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmallTalk {
    Greeting,
    Thanks,
    Goodbye,
    WhoAreYou,
}

fn stems(list: &[&str]) -> HashSet<String> {
    list.iter().map(|w| stem(w)).collect()
}

static PERSON_STRONG: LazyLock<HashSet<String>> = LazyLock::new(|| {
    stems(&[
        "mensch",
        "menschen",
        "menschlich",
        "menschlichen",
        "mitarbeiter",
        "mitarbeiterin",
        "mitarbeitenden",
        "sachbearbeiter",
        "sachbearbeiterin",
        "berater",
        "beraterin",
        "ansprechpartner",
        "ansprechpartnerin",
        "vorgesetzten",
        "vorgesetzter",
        "zuständigen",
        "verantwortlichen",
        "human",
        "humans",
        "agent",
        "operator",
        "staff",
        "representative",
        "employee",
        "clerk",
        "supervisor",
        "manager",
    ])
});
static PERSON_WEAK: LazyLock<HashSet<String>> = LazyLock::new(|| {
    stems(&[
        "person",
        "jemand",
        "jemanden",
        "jemandem",
        "persönlich",
        "someone",
        "somebody",
        "anybody",
        "anyone",
        "real",
        "echten",
        "echte",
    ])
});
static CONTACT: LazyLock<HashSet<String>> = LazyLock::new(|| {
    stems(&[
        "sprechen",
        "reden",
        "verbinden",
        "verbindet",
        "weiterleiten",
        "durchstellen",
        "anrufen",
        "telefonieren",
        "helfen",
        "hilft",
        "kontakt",
        "talk",
        "speak",
        "connect",
        "transfer",
        "chat",
        "help",
        "contact",
        "reach",
    ])
});
static CALLBACK: LazyLock<HashSet<String>> = LazyLock::new(|| {
    stems(&[
        "rückruf",
        "zurückrufen",
        "zurückruft",
        "callback",
        "rückrufbitte",
    ])
});
static COMPLAINT: LazyLock<HashSet<String>> = LazyLock::new(|| {
    stems(&[
        "beschweren",
        "beschwerde",
        "unzumutbar",
        "frechheit",
        "skandal",
        "unverschämt",
        "complaint",
        "complain",
        "unacceptable",
        "outrageous",
    ])
});
static OWNER: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    [
        "mein", "meine", "meinen", "meinem", "meiner", "unser", "unsere", "unseren", "unserem",
        "sein", "seine", "seinen", "ihr", "ihre", "ihren", "für", "my", "our", "his", "her", "for",
        "their", "neuen", "new",
    ]
    .into_iter()
    .collect()
});
/// Words that talk about this chat itself rather than a topic.
/// "Leiten Sie mich weiter", "verbinden Sie mich".
static REDIRECT: LazyLock<HashSet<String>> =
    LazyLock::new(|| stems(&["weiterleiten", "verbinden", "durchstellen"]));

static META: LazyLock<HashSet<String>> = LazyLock::new(|| {
    stems(&[
        "bot",
        "chat",
        "chatbot",
        "maschine",
        "computer",
        "tippen",
        "schreiben",
        "klar",
        "komme",
        "direkt",
        "sofort",
        "gleich",
        "jetzt",
        "bitte",
        "please",
        "now",
    ])
});

/// Whether the message asks for a person, and why.
pub fn handoff(text: &str) -> Option<HandoffReason> {
    let ws = words(text);
    let st: Vec<String> = ws.iter().map(|w| stem(w)).collect();
    let has = |set: &HashSet<String>| st.iter().any(|s| set.contains(s));
    let complaint = has(&COMPLAINT);
    let reason = if complaint {
        HandoffReason::Complaint
    } else {
        HandoffReason::Requested
    };

    if has(&CALLBACK)
        || text.to_lowercase().contains("call me back")
        || text.to_lowercase().contains("call back")
    {
        return Some(if complaint {
            HandoffReason::Complaint
        } else {
            HandoffReason::Callback
        });
    }
    // A person word about someone else ("für meinen Mitarbeiter") is not a request.
    let person_at = |set: &HashSet<String>| -> bool {
        st.iter().enumerate().any(|(i, s)| {
            set.contains(s)
                && !(i > 0 && OWNER.contains(ws[i - 1].as_str()))
                && !(i > 1 && OWNER.contains(ws[i - 2].as_str()) && !ws[i - 1].starts_with("ein"))
        })
    };
    let strong = person_at(&PERSON_STRONG);
    let weak = person_at(&PERSON_WEAK);
    let contact = has(&CONTACT);
    let leit = st.iter().any(|s| s.starts_with("leit"));
    let redirect = st
        .iter()
        .any(|s| REDIRECT.contains(s) || (leit && (s == "weit" || s == "weiter")))
        && ws.iter().any(|w| w == "mich" || w == "me" || w == "uns");
    let no_bot = ws.windows(2).any(|p| {
        matches!(p[0].as_str(), "kein" | "keinen" | "no" | "not") && META.contains(&stem(&p[1]))
    });

    if (strong || weak) && contact {
        return Some(reason);
    }
    if redirect || no_bot {
        return Some(reason);
    }
    if strong {
        // "Menschlichen Mitarbeiter bitte", "operator": a short message around the person word.
        let others = st
            .iter()
            .zip(&ws)
            .filter(|(s, w)| {
                !is_stopword(w)
                    && !PERSON_STRONG.contains(*s)
                    && !PERSON_WEAK.contains(*s)
                    && !META.contains(*s)
                    && !CONTACT.contains(*s)
            })
            .count();
        if others <= 3 {
            return Some(reason);
        }
    }
    if complaint && (strong || weak) {
        return Some(HandoffReason::Complaint);
    }
    None
}

/// Small talk, when the whole message is small talk (a greeting before a question is not).
pub fn small_talk(text: &str) -> Option<SmallTalk> {
    const GREETING: &[&str] = &[
        "hallo",
        "hi",
        "hey",
        "moin",
        "servus",
        "grüß",
        "gruss",
        "grüezi",
        "gott",
        "guten",
        "morgen",
        "tag",
        "abend",
        "hello",
        "good",
        "morning",
        "evening",
        "afternoon",
        "huhu",
        "na",
        "there",
    ];
    const THANKS: &[&str] = &[
        "danke",
        "dankeschön",
        "vielen",
        "dank",
        "besten",
        "herzlichen",
        "thanks",
        "thank",
        "you",
        "merci",
        "super",
        "toll",
        "prima",
        "perfekt",
        "great",
        "cheers",
        "much",
        "sehr",
        "schön",
    ];
    const BYE: &[&str] = &[
        "tschüss",
        "tschüs",
        "ciao",
        "bye",
        "goodbye",
        "wiedersehen",
        "auf",
        "bis",
        "bald",
        "später",
        "servus",
        "pfiat",
        "di",
        "see",
        "later",
        "schönen",
        "tag",
        "noch",
    ];
    const WHO: &[&str] = &[
        "wer", "bist", "du", "sind", "sie", "was", "ein", "eine", "bot", "chatbot", "roboter",
        "mensch", "ki", "maschine", "who", "are", "you", "a", "what", "is", "this", "human",
        "robot", "real", "kannst", "can", "do", "echt", "echter",
    ];
    let ws = words(text);
    if ws.is_empty() {
        return None;
    }
    let all_in = |list: &[&str]| ws.iter().all(|w| list.contains(&w.as_str()));
    let any_of = |list: &[&str]| ws.iter().any(|w| list.contains(&w.as_str()));
    if all_in(WHO)
        && any_of(&[
            "wer", "who", "bot", "chatbot", "roboter", "ki", "robot", "human", "mensch", "kannst",
            "can",
        ])
        && (any_of(&["du", "sie", "you"]) || ws.len() <= 2)
    {
        return Some(SmallTalk::WhoAreYou);
    }
    if all_in(THANKS)
        && any_of(&[
            "danke",
            "dankeschön",
            "dank",
            "thanks",
            "thank",
            "merci",
            "cheers",
        ])
    {
        return Some(SmallTalk::Thanks);
    }
    if all_in(BYE)
        && any_of(&[
            "tschüss",
            "tschüs",
            "ciao",
            "bye",
            "goodbye",
            "wiedersehen",
            "pfiat",
            "later",
        ])
    {
        return Some(SmallTalk::Goodbye);
    }
    if all_in(GREETING)
        && any_of(&[
            "hallo", "hi", "hey", "moin", "servus", "grüß", "gruss", "grüezi", "guten", "hello",
            "good", "huhu",
        ])
    {
        return Some(SmallTalk::Greeting);
    }
    None
}

static FEES: LazyLock<HashSet<String>> = LazyLock::new(|| {
    stems(&[
        "kosten",
        "kostet",
        "gebühr",
        "gebühren",
        "preis",
        "teuer",
        "zahlen",
        "bezahlen",
        "euro",
        "kostenlos",
        "gebührenfrei",
        "cost",
        "costs",
        "fee",
        "fees",
        "price",
        "pay",
        "charge",
        "expensive",
    ])
});
static DOCUMENTS: LazyLock<HashSet<String>> = LazyLock::new(|| {
    stems(&[
        "mitbringen",
        "mitnehmen",
        "unterlagen",
        "dokumente",
        "nachweise",
        "papiere",
        "vorlegen",
        "bring",
        "documents",
        "papers",
        "paperwork",
        "required",
        "requirements",
        "voraussetzung",
        "voraussetzungen",
    ])
});
static OFFICE: LazyLock<HashSet<String>> = LazyLock::new(|| {
    stems(&[
        "adresse",
        "anschrift",
        "telefon",
        "telefonnummer",
        "nummer",
        "rufnummer",
        "öffnungszeiten",
        "geöffnet",
        "offen",
        "befindet",
        "erreiche",
        "erreichen",
        "address",
        "phone",
        "located",
        "opening",
        "hours",
        "open",
        "number",
    ])
});
static NEED: LazyLock<HashSet<String>> =
    LazyLock::new(|| stems(&["brauche", "brauchen", "benötige", "benötigen", "need"]));

/// The aspect a question asks about; `Summary` when it names none.
pub fn aspect(text: &str) -> Aspect {
    let ws = words(text);
    let st: Vec<String> = ws.iter().map(|w| stem(w)).collect();
    let has = |set: &HashSet<String>| st.iter().any(|s| set.contains(s));
    if has(&FEES)
        || text.to_lowercase().contains("how much")
        || text.to_lowercase().contains("wie viel")
    {
        return Aspect::Fees;
    }
    if has(&DOCUMENTS) {
        return Aspect::Documents;
    }
    // "Was brauche ich für …", "Welche … benötige ich": a question for what to bring.
    let asks_what = ws
        .first()
        .is_some_and(|w| matches!(w.as_str(), "was" | "welche" | "welcher" | "what" | "which"))
        || ws.iter().any(|w| w == "was");
    if asks_what && has(&NEED) {
        return Aspect::Documents;
    }
    let where_is = ws.windows(2).any(|p| {
        matches!(p[0].as_str(), "wo" | "where")
            && matches!(
                p[1].as_str(),
                "ist" | "sind" | "befindet" | "finde" | "is" | "are" | "liegt"
            )
    });
    if where_is || has(&OFFICE) {
        return Aspect::Office;
    }
    Aspect::Summary
}

/// Words that name an aspect rather than a topic; search leaves them out.
pub fn is_aspect_word(word: &str) -> bool {
    is_aspect_term(&stem(word))
}

/// The stem of a word that names an aspect ("kost", "unterlag").
pub fn is_aspect_term(term: &str) -> bool {
    FEES.contains(term) || DOCUMENTS.contains(term) || OFFICE.contains(term)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_for_a_person() {
        for q in [
            "Ich möchte bitte mit einer Person sprechen.",
            "Menschlichen Mitarbeiter bitte",
            "talk to human",
            "operator",
            "agent please",
            "Ich will keinen Bot, ich will einen Sachbearbeiter!",
            "Weiterleiten an Mitarbeiter",
            "Gibt es jemanden, mit dem ich direkt reden kann?",
            "Können Sie mich bitte verbinden?",
        ] {
            assert_eq!(handoff(q), Some(HandoffReason::Requested), "{q}");
        }
        assert_eq!(
            handoff("Ich hätte gern einen Rückruf."),
            Some(HandoffReason::Callback)
        );
        assert_eq!(
            handoff("Could someone call me back?"),
            Some(HandoffReason::Callback)
        );
        assert_eq!(
            handoff("Das ist eine Frechheit, ich will sofort mit Ihrem Vorgesetzten sprechen"),
            Some(HandoffReason::Complaint)
        );
    }

    #[test]
    fn service_questions_mentioning_people_are_not_handoffs() {
        for q in [
            "Kann eine andere Person meinen Ausweis abholen?",
            "Ich brauche ein Führungszeugnis für meinen neuen Mitarbeiter",
            "Was kostet ein Personalausweis?",
            "Wo kann ich mich über Lärm beschweren?",
            "Mein Mann kann nicht mit zum Termin.",
        ] {
            assert_eq!(handoff(q), None, "{q}");
        }
    }

    #[test]
    fn small_talk_only_when_the_whole_message_is() {
        assert_eq!(small_talk("Hallo!"), Some(SmallTalk::Greeting));
        assert_eq!(small_talk("Guten Morgen"), Some(SmallTalk::Greeting));
        assert_eq!(small_talk("Vielen Dank!"), Some(SmallTalk::Thanks));
        assert_eq!(small_talk("thank you"), Some(SmallTalk::Thanks));
        assert_eq!(small_talk("Tschüss"), Some(SmallTalk::Goodbye));
        assert_eq!(small_talk("Wer bist du?"), Some(SmallTalk::WhoAreYou));
        assert_eq!(small_talk("Bist du ein Bot?"), Some(SmallTalk::WhoAreYou));
        assert_eq!(small_talk("Hallo, ich brauche einen Reisepass"), None);
        assert_eq!(small_talk("Tell me a joke"), None);
        assert_eq!(small_talk("lol"), None);
    }

    #[test]
    fn aspects() {
        assert_eq!(aspect("Was kostet ein Reisepass?"), Aspect::Fees);
        assert_eq!(aspect("How much is a passport?"), Aspect::Fees);
        assert_eq!(aspect("Was muss ich mitbringen?"), Aspect::Documents);
        assert_eq!(
            aspect("Welche Voraussetzungen gelten für die Einbürgerung?"),
            Aspect::Documents
        );
        assert_eq!(
            aspect("Was brauche ich für die Ummeldung?"),
            Aspect::Documents
        );
        assert_eq!(aspect("Wo ist das Standesamt?"), Aspect::Office);
        assert_eq!(
            aspect("Welche Öffnungszeiten hat das Bürgerbüro?"),
            Aspect::Office
        );
        assert_eq!(
            aspect("Wie beantrage ich einen Reisepass?"),
            Aspect::Summary
        );
        assert_eq!(aspect("Wo bekomme ich einen Reisepass?"), Aspect::Summary);
    }
}
