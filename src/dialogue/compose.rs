//! Puts a decision into words. Everything about a service is quoted or cut from the
//! catalogue entry; the only words of the bot's own are the frames around the quotes
//! ("Gebühren für …", "Quelle: …") and the fixed texts for small talk and handoff.

use crate::knowledge::{Catalogue, Entry, Office};
use crate::language::Lang;

use super::HandoffReason;
use super::intent::{Aspect, SmallTalk};
use super::{EntryRef, Outcome, Reply};

/// Longest summary quoted in an answer.
const SUMMARY_CHARS: usize = 400;
/// Offices listed at most in an office answer.
const MAX_OFFICES: usize = 3;

pub(super) fn reply(outcome: Outcome, text: String, lang: Lang) -> Reply {
    Reply {
        outcome,
        text,
        lang,
        entries: Vec::new(),
        aspect: None,
        handoff: None,
        offer_handoff: false,
        silent: false,
    }
}

/// The entry's name in the citizen's language where the catalogue has it.
pub(crate) fn entry_name(e: &Entry, lang: Lang) -> String {
    if lang == Lang::En
        && let Some(t) = e.translations.get("en")
        && !t.name.is_empty()
    {
        return t.name.clone();
    }
    e.name.clone()
}

fn summary(e: &Entry, lang: Lang) -> Option<String> {
    if lang == Lang::En
        && let Some(t) = e.translations.get("en").filter(|t| !t.summary.is_empty())
    {
        return Some(t.summary.clone());
    }
    let s = if e.summary.is_empty() {
        crate::knowledge::html::lead(&e.description, SUMMARY_CHARS)
    } else {
        e.summary.clone()
    };
    (!s.is_empty()).then_some(s)
}

/// Sentences of the description that talk about what to bring, when the entry has no list.
fn document_sentences(e: &Entry) -> Vec<String> {
    let mut out = Vec::new();
    let lines: Vec<&str> = e.description.lines().map(str::trim).collect();
    for (i, line) in lines.iter().enumerate() {
        let lower = line.to_lowercase();
        if !line.starts_with("* ")
            && crate::knowledge::DOCUMENT_CUES
                .iter()
                .any(|c| lower.contains(c))
        {
            out.push(line.to_string());
            // The list that follows a lead-in belongs to it.
            if line.ends_with(':') {
                out.extend(
                    lines[i + 1..]
                        .iter()
                        .take_while(|l| l.starts_with("* "))
                        .map(|l| l.to_string()),
                );
            }
        }
        if out.len() >= 12 {
            break;
        }
    }
    out
}

fn office_text(o: &Office, lang: Lang) -> String {
    let mut text = office_contact(o, lang);
    if !o.hours.is_empty() {
        let hours = if lang == Lang::En {
            "Opening hours"
        } else {
            "Öffnungszeiten"
        };
        text.push_str(&format!("\n{hours}: {}", o.hours.describe(lang)));
    }
    text
}

/// An office's name, address, phone, e-mail and accessibility, one a line.
pub(super) fn office_contact(o: &Office, lang: Lang) -> String {
    let mut lines = vec![o.name.clone()];
    let address = o.address();
    if !address.is_empty() {
        lines.push(address);
    }
    let (phone, mail) = match lang {
        Lang::De => ("Telefon", "E-Mail"),
        Lang::En => ("Phone", "E-mail"),
    };
    if let Some(p) = &o.phone {
        lines.push(format!("{phone}: {p}"));
    }
    if let Some(m) = &o.email {
        lines.push(format!("{mail}: {m}"));
    }
    if let Some(a) = &o.accessibility {
        lines.push(a.clone());
    }
    lines.join("\n")
}

/// An answer about one entry, on the aspect asked for.
/// The answer to a question about `e`. `variants` are the same service in other forms (an
/// appointment by phone instead of on site); the answer names them, with their booking link.
/// `special` are special cases of the service that the citizen may mean ("Wohnsitzanmeldung –
/// Familie"); the answer names them, with their link.
pub(super) fn answer(
    catalogue: &Catalogue,
    e: &Entry,
    variants: &[&Entry],
    special: &[&Entry],
    aspect: Aspect,
    lang: Lang,
) -> Reply {
    let name = entry_name(e, lang);
    let en = lang == Lang::En;
    let mut parts: Vec<String> = Vec::new();
    if en && !e.translations.contains_key("en") {
        parts.push(format!("The city's information on “{name}” is in German:"));
    }
    let offices: Vec<&Office> = e
        .offices
        .iter()
        .filter_map(|id| catalogue.offices.get(id))
        .collect();
    let mut answered = aspect;
    match aspect {
        Aspect::Fees => match &e.fees {
            Some(fees) => parts.push(if en {
                format!("Fees for “{name}”:\n{fees}")
            } else {
                format!("Gebühren für „{name}“:\n{fees}")
            }),
            None => {
                parts.push(if en {
                    format!("The catalogue entry “{name}” names no fees.")
                } else {
                    format!("Im Eintrag „{name}“ sind keine Gebühren genannt.")
                });
                answered = Aspect::Summary;
            }
        },
        Aspect::Documents => {
            let items: Vec<String> = if e.documents.is_empty() {
                document_sentences(e)
            } else {
                e.documents.iter().map(|d| format!("* {d}")).collect()
            };
            if items.is_empty() {
                parts.push(if en {
                    format!("The entry “{name}” lists no documents; the page linked below has the details.")
                } else {
                    format!("Der Eintrag „{name}“ nennt keine Unterlagen; Einzelheiten stehen auf der unten verlinkten Seite.")
                });
                answered = Aspect::Summary;
            } else {
                let items = items.join("\n");
                parts.push(if en {
                    format!("What to bring for “{name}”:\n{items}")
                } else {
                    format!("Unterlagen für „{name}“:\n{items}")
                });
            }
        }
        Aspect::Office => {
            if offices.is_empty() {
                parts.push(if en {
                    format!("The entry “{name}” names no office; please see the page below.")
                } else {
                    format!("Zum Eintrag „{name}“ ist keine Dienststelle hinterlegt; bitte sehen Sie auf der unten verlinkten Seite nach.")
                });
                answered = Aspect::Summary;
            } else {
                parts.push(if en {
                    format!("Where to go for “{name}”:")
                } else {
                    format!("Zuständig für „{name}“:")
                });
                for o in offices.iter().take(MAX_OFFICES) {
                    parts.push(office_text(o, lang));
                }
                if offices.len() > MAX_OFFICES {
                    parts.push(if en {
                        format!("… and {} more offices.", offices.len() - MAX_OFFICES)
                    } else {
                        format!(
                            "… und {} weitere Dienststellen.",
                            offices.len() - MAX_OFFICES
                        )
                    });
                }
            }
        }
        Aspect::Summary => {}
    }
    if answered == Aspect::Summary {
        match summary(e, lang) {
            Some(s) => parts.push(format!("{name}\n{s}")),
            None => parts.push(if en {
                format!("“{name}”: the details are on the city's page.")
            } else {
                format!("„{name}“: Alle Einzelheiten finden Sie auf der Seite der Stadt.")
            }),
        }
        if let Some(o) = offices.first() {
            parts.push(format!(
                "{}: {}",
                if en { "Office" } else { "Zuständig" },
                o.name
            ));
        }
    }
    let mut links = Vec::new();
    if let Some(b) = &e.links.booking {
        links.push(format!(
            "{}: {b}",
            if en {
                "Book an appointment"
            } else {
                "Termin buchen"
            }
        ));
    }
    if let Some(o) = &e.links.online {
        links.push(format!(
            "{}: {o}",
            if en {
                "Online service"
            } else {
                "Online erledigen"
            }
        ));
    }
    if let Some(s) = &e.links.source {
        links.push(format!("{}: {s}", if en { "Source" } else { "Quelle" }));
    }
    if !links.is_empty() {
        parts.push(links.join("\n"));
    }
    // The same service in its other forms, with where to book it; its special cases, with
    // their pages.
    let forms = variants.iter().map(|v| {
        let leads = ["Also available as", "Diesen Dienst gibt es auch als"];
        (v, leads, &v.links.booking)
    });
    let cases = special.iter().map(|v| {
        let leads = [
            "For a special case there is",
            "Für einen besonderen Fall gibt es",
        ];
        (v, leads, &v.links.source)
    });
    for (v, [lead_en, lead_de], link) in forms.chain(cases) {
        let vname = entry_name(v, lang);
        let mut line = if en {
            format!("{lead_en} “{vname}”.")
        } else {
            format!("{lead_de} „{vname}“.")
        };
        if let Some(url) = link.as_ref().or(v.links.source.as_ref()) {
            line.push_str(&format!(" {url}"));
        }
        parts.push(line);
    }
    let mut r = reply(Outcome::Answer, parts.join("\n\n"), lang);
    r.entries = vec![EntryRef::of(e, lang)];
    r.aspect = Some(answered);
    r
}

pub(super) fn clarify(entries: &[&Entry], lang: Lang) -> Reply {
    // One candidate is a question to confirm; several are numbered choices.
    let text = if let [only] = entries {
        let name = entry_name(only, lang);
        match lang {
            Lang::De => format!(
                "Meinen Sie „{name}“? Antworten Sie mit 1, wenn ja. Sonst formulieren Sie Ihre Frage bitte anders, oder schreiben Sie „Mitarbeiter“, wenn Sie lieber mit einem Menschen sprechen."
            ),
            Lang::En => format!(
                "Do you mean “{name}”? Reply 1 if so. Otherwise please rephrase your question, or write “agent” to talk to a person."
            ),
        }
    } else {
        let head = match lang {
            Lang::De => "Meinen Sie eines davon?",
            Lang::En => "Do you mean one of these?",
        };
        let options: Vec<String> = entries
            .iter()
            .enumerate()
            .map(|(i, e)| format!("{}. {}", i + 1, entry_name(e, lang)))
            .collect();
        let tail = match lang {
            Lang::De => {
                "Antworten Sie mit der Nummer, oder schreiben Sie „Mitarbeiter“, wenn Sie lieber mit einem Menschen sprechen."
            }
            Lang::En => "Reply with the number, or write “agent” to talk to a person.",
        };
        format!("{head}\n{}\n{tail}", options.join("\n"))
    };
    let mut r = reply(Outcome::Clarify, text, lang);
    r.entries = entries.iter().map(|e| EntryRef::of(e, lang)).collect();
    r.offer_handoff = true;
    r
}

pub(super) fn dont_know(lang: Lang) -> Reply {
    let text = match lang {
        Lang::De => {
            "Dazu habe ich in den Informationen der Stadt leider nichts gefunden. Ich möchte Ihnen nichts Falsches sagen. Soll ich Sie an eine Mitarbeiterin oder einen Mitarbeiter weitergeben? Sie können Ihre Frage auch anders formulieren."
        }
        Lang::En => {
            "I'm sorry, I found nothing about this in the city's information, and I don't want to guess. Shall I pass you on to a member of staff? You can also rephrase your question."
        }
    };
    let mut r = reply(Outcome::DontKnow, text.to_string(), lang);
    r.offer_handoff = true;
    r
}

/// A message about something that is not the city's matter: "don't know", saying why, with
/// a person offered all the same.
pub(super) fn out_of_scope(lang: Lang) -> Reply {
    let text = match lang {
        Lang::De => {
            "Dabei kann ich leider nicht helfen: Ich beantworte Fragen zu den Dienstleistungen der Stadt, etwa zu Ausweisen, Meldeangelegenheiten, Fahrzeugen oder Gewerbe. Wenn Ihr Anliegen doch die Stadt betrifft, formulieren Sie es gern anders, oder ich gebe Sie an eine Mitarbeiterin oder einen Mitarbeiter weiter."
        }
        Lang::En => {
            "I'm afraid I can't help with that: I answer questions about the city's services, such as ID documents, registration, vehicles or businesses. If your request does concern the city, please rephrase it, or I can pass you on to a member of staff."
        }
    };
    let mut r = reply(Outcome::DontKnow, text.to_string(), lang);
    r.offer_handoff = true;
    r
}

pub(super) fn handoff(reason: HandoffReason, lang: Lang) -> Reply {
    let text = match (reason, lang) {
        (HandoffReason::Callback, Lang::De) => {
            "Gern. Ich gebe Ihr Anliegen mit diesem Gesprächsverlauf an eine Mitarbeiterin oder einen Mitarbeiter weiter, die sich bei Ihnen meldet."
        }
        (HandoffReason::Callback, Lang::En) => {
            "Of course. I'm passing your request and this conversation to a member of staff, who will get back to you."
        }
        (HandoffReason::Complaint, Lang::De) => {
            "Das tut mir leid. Ich gebe Ihr Anliegen mit diesem Gesprächsverlauf an eine verantwortliche Mitarbeiterin oder einen verantwortlichen Mitarbeiter weiter."
        }
        (HandoffReason::Complaint, Lang::En) => {
            "I'm sorry about this. I'm passing your concern and this conversation to a responsible member of staff."
        }
        (_, Lang::De) => {
            "Gern. Ich verbinde Sie mit einer Mitarbeiterin oder einem Mitarbeiter. Der bisherige Gesprächsverlauf wird übergeben, Sie müssen nichts wiederholen."
        }
        (_, Lang::En) => {
            "Of course. I'm connecting you with a member of staff, who will see this conversation, so you won't have to repeat yourself."
        }
    };
    let mut r = reply(Outcome::Handoff, text.to_string(), lang);
    r.handoff = Some(reason);
    r
}

pub(super) fn small_talk(kind: SmallTalk, lang: Lang) -> Reply {
    let text = match (kind, lang) {
        (SmallTalk::Greeting, Lang::De) => {
            "Guten Tag! Ich bin der digitale Assistent der Stadtverwaltung, ein automatisches Programm. Fragen Sie mich zu Leistungen der Stadt, zum Beispiel „Was kostet ein Reisepass?“. Wenn Sie lieber mit einem Menschen sprechen, schreiben Sie „Mitarbeiter“."
        }
        (SmallTalk::Greeting, Lang::En) => {
            "Hello! I'm the city administration's digital assistant, an automated program. Ask me about the city's services, for example “How much is a passport?”. To talk to a person, write “agent”."
        }
        (SmallTalk::Thanks, Lang::De) => "Gern geschehen! Kann ich sonst noch helfen?",
        (SmallTalk::Thanks, Lang::En) => "You're welcome! Is there anything else?",
        (SmallTalk::Goodbye, Lang::De) => "Auf Wiedersehen und alles Gute!",
        (SmallTalk::Goodbye, Lang::En) => "Goodbye, and all the best!",
        (SmallTalk::WhoAreYou, Lang::De) => {
            "Ich bin ein automatischer Assistent der Stadtverwaltung, kein Mensch. Ich antworte mit den Texten aus dem Leistungskatalog der Stadt und nenne immer die Quelle. Wenn Sie mit einem Menschen sprechen möchten, schreiben Sie „Mitarbeiter“."
        }
        (SmallTalk::WhoAreYou, Lang::En) => {
            "I'm an automated assistant of the city administration, not a person. I answer with the texts of the city's service catalogue and always name the source. To talk to a person, write “agent”."
        }
    };
    let mut r = reply(Outcome::Smalltalk, text.to_string(), lang);
    r.offer_handoff = kind == SmallTalk::WhoAreYou;
    r
}

pub(super) fn silent(lang: Lang) -> Reply {
    let mut r = reply(Outcome::Handoff, String::new(), lang);
    r.silent = true;
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knowledge::files::test_entry;

    fn entry(id: &str, name: &str) -> Entry {
        test_entry(id, name, "Text.")
    }

    #[test]
    fn one_candidate_is_a_question_to_confirm_several_are_numbered() {
        let (a, b) = (entry("a", "Reisepass"), entry("b", "Vorläufiger Reisepass"));
        let one = clarify(&[&a], Lang::De);
        assert!(
            one.text.starts_with("Meinen Sie „Reisepass“?"),
            "{}",
            one.text
        );
        assert_eq!(one.entries.len(), 1);
        let two = clarify(&[&a, &b], Lang::En);
        assert!(
            two.text.contains("1. Reisepass\n2. Vorläufiger Reisepass"),
            "{}",
            two.text
        );
        assert!(two.offer_handoff);
    }
}
