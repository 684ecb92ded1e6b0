//! Names after the phrases that introduce them ("ich heiße", "Frau", "meine Tochter",
//! "Mit freundlichen Grüßen"). Names without such a phrase are not recognised: without it a
//! surname cannot be told from a noun ("Bauer", "Koch", "Wolf").

use std::collections::HashSet;
use std::ops::Range;
use std::sync::LazyLock;

use regex::{Captures, Regex};

use super::scan::{each_capture, skip_blanks};
use super::{Findings, Kind};

/// A signature's greeting: the name follows, maybe on the next line.
const SIGNATURES: &str = concat!(
    r"mit\s+(?:freundlichen|besten|herzlichen|lieben|vielen)\s+gr(?:ü|ue|u)(?:ß|ss)en|",
    r"mit\s+freundlichem\s+gr(?:ü|ue|u)(?:ß|ss)|",
    r"(?:freundliche|viele|liebe|beste|herzliche|schöne|sonnige)\s+gr(?:ü|ue|u)(?:ß|ss)e|",
    r"gr(?:ü|ue|u)(?:ß|ss)e?|mfg|lg|vg|",
    r"(?:best|kind|warm|warmest)\s+regards|regards|best\s+wishes|(?:yours\s+)?sincerely|",
    r"yours\s+truly|cheers"
);

/// Phrases after which a name follows, typed in any case ("ich heiße anna schmidt").
const STATEMENTS: &str = concat!(
    r"ich\s+hei(?:ß|ss|s)e|ich\s+hie(?:ß|ss)|hei(?:ß|ss)e\s+ich|",
    r"mein\s+(?:vor|nach|familien|geburts|mädchen|ruf|voller\s+)?name\s+(?:ist|lautet|wäre|war)|",
    r"my\s+(?:first\s+|last\s+|full\s+|sur)?name\s+is|my\s+name's|i\s+am\s+called|i'm\s+called|",
    r"(?:(?:vor|nach|familien|geburts|mädchen|ruf)?name",
    r"(?:\s+(?:des|der)\s+(?:kindes|kinds|mutter|vaters|antragstellers|antragstellerin|partners|partnerin))?",
    r"|(?:first|last|full|given|sur)\s?name|antragsteller(?:in)?|ansprechpartner(?:in)?|",
    r"kontaktperson|absender(?:in)?)\s*:"
);

/// Relatives and others a citizen names after "mein", "meine", "my".
const RELATIVES: &str = concat!(
    r"tochter|sohn|kind|frau|mann|ehefrau|ehemann|gattin|gatte|partner|partnerin|",
    r"lebensgefährte|lebensgefährtin|lebenspartner|lebenspartnerin|verlobte|verlobter|",
    r"freund|freundin|mutter|vater|mama|papa|bruder|schwester|oma|opa|großmutter|großvater|",
    r"grossmutter|grossvater|enkel|enkelin|enkelkind|neffe|nichte|onkel|tante|cousin|cousine|",
    r"schwiegermutter|schwiegervater|schwiegersohn|schwiegertochter|schwager|schwägerin|",
    r"stiefsohn|stieftochter|stiefvater|stiefmutter|pflegekind|pflegesohn|pflegetochter|",
    r"nachbar|nachbarin|vermieter|vermieterin|mitbewohner|mitbewohnerin|betreuer|betreuerin|",
    r"daughter|son|child|wife|husband|mother|father|mom|mum|dad|brother|sister|grandmother|",
    r"grandfather|grandma|grandpa|grandson|granddaughter|friend|boyfriend|girlfriend|",
    r"neighbour|neighbor|landlord|landlady|uncle|aunt|nephew|niece|roommate|flatmate"
);

/// Plural relatives, after which a list of names may follow ("meine Kinder Lena und Paul").
const PLURALS: &str = r"kinder|söhne|töchter|eltern|enkelkinder|geschwister|children|kids|sons|daughters|parents|grandchildren";

const POSSESSIVES: &str =
    r"mein|meine|meiner|meinem|meinen|unser|unsere|unserer|unserem|unseren|my|our";

/// Forms of address, after which a capitalised name follows.
const ADDRESSES: &str =
    r"herr|herrn|hr\.|frau|fr\.|fräulein|familie|fam\.|mr\.?|mrs\.?|ms\.?|miss|hier\s+spricht";

/// Phrases after which a name is taken only if it is a known first name.
const GREETINGS: &str = r"ich\s+bin(?:\s+(?:der|die))?|i\s+am|i'm|this\s+is|hier\s+ist|hallo|hi|hey|liebe|lieber|dear|danke|thanks|thank\s+you";

static TRIGGER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        concat!(
            r"(?i:(?P<signature>{sig})[,!.;:-]?\s{{1,4}}",
            r"|(?P<statement>{statement})\s{{0,3}}",
            r"|(?:{poss})\s+(?:(?P<plural>{plurals})|{relatives})(?:\s+(?P<called>hei(?:ß|ss)t|hie(?:ß|ss)|namens|is\s+called|called|named))?[ \t]+",
            r"|(?P<address>{addresses})[ \t]+",
            r"|(?P<greeting>{greetings})[,!]?[ \t]+",
            r"|(?P<title>dr\.|prof\.))"
        ),
        sig = SIGNATURES,
        statement = STATEMENTS,
        poss = POSSESSIVES,
        plurals = PLURALS,
        relatives = RELATIVES,
        addresses = ADDRESSES,
        greetings = GREETINGS,
    ))
    .expect("name trigger pattern")
});

/// How the words after a trigger may look to be taken as a name.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// Any case: the citizen says it is a name ("ich heiße anna").
    Stated,
    /// Capitalised words only ("Frau Weber", "meine Tochter Lena").
    Capitalised,
    /// The first word a known first name ("ich bin Anna").
    KnownFirst,
}

/// Words a name does not take after a trigger: they begin the rest of the sentence.
const STOPWORDS: &str = "ich du er sie es wir ihr mich mir dich dir uns euch ihn ihm ihnen sich \
    und oder aber denn sondern doch also bin bist ist sind war waren sein habe hast hat haben \
    hatte hatten wird werde werden würde wurde kann können konnte muss müssen musste darf \
    dürfen soll sollen möchte möchten will wollen wollte wohne wohnt wohnen lebe lebt komme \
    kommt kommen brauche braucht brauchen benötige suche sucht frage fragt hätte heiße heisse \
    heißt heisst aus im am an auf bei mit nach vom zum zur für über unter vor hinter neben \
    zwischen seit bis ohne gegen um durch der die das den dem des ein eine einen einem einer \
    eines kein keine keinen mein meine meinen meinem meiner dein deine seine ihre ihren unser \
    unsere bitte danke hallo guten tag wie was wo wann warum wer wen wem welche welcher \
    welches weil dass da so auch noch schon jetzt hier dort heute gestern morgen nicht nur \
    sehr gerne gern mal ja nein geboren jahre jahr alt herr frau telefon tel mail email adresse \
    name nr geb i me my you he she it we they am is are was were be been have has had do \
    does did can could should would will may might must the a an and or but if of to in on at \
    by for with from as about please thanks thank hello hi dear this that here there not live \
    lives need needs want like born years old hr fr";

/// Roles that follow "Herr" or "Frau" without being names ("Frau Bürgermeisterin").
const ROLES: &str = "bürgermeister bürgermeisterin oberbürgermeister oberbürgermeisterin doktor \
    doktorin professor professorin pfarrer pfarrerin minister ministerin präsident präsidentin \
    richter richterin anwalt anwältin rechtsanwalt rechtsanwältin notar notarin kollege \
    kollegin sachbearbeiter sachbearbeiterin vorsitzende vorsitzender direktor direktorin \
    lehrer lehrerin ober nachbar nachbarin";

/// Lower-case particles inside names ("Ludwig van Beethoven", "Ali bin Said"); an article
/// may follow them ("Ursula von der Leyen", "Maria de la Cruz"), but never starts them:
/// "meine Frau den Pass" is no name.
const PARTICLES: &str = "von van zu de del della da di dos du ten ter bin ibn al el";
const PARTICLE_ARTICLES: &str = "der den dem la le";

/// What follows a particle when it is not a name ("Herr Meier von der Stadt", "meine Frau
/// zu Hause").
const NOT_AFTER_PARTICLE: &str = "stadt stadtverwaltung verwaltung behörde ausländerbehörde \
    polizei gemeinde bank sparkasse post kasse krankenkasse versicherung schule kita agentur \
    arbeitsagentur firma rathaus botschaft caritas diakonie awo hause haus amts beginn ende \
    zeit fuß besuch";

/// Titles and forms of address that belong to the name ("Frau Dr. Özdemir", "Mr. Smith").
const TITLES: [&str; 10] = [
    "dr.",
    "prof.",
    "dipl.-ing.",
    "dipl.-kfm.",
    "ing.",
    "med.",
    "mag.",
    "mr.",
    "mrs.",
    "ms.",
];

struct Lexicon {
    stopwords: HashSet<&'static str>,
    roles: HashSet<&'static str>,
    particles: HashSet<&'static str>,
    particle_articles: HashSet<&'static str>,
    not_after_particle: HashSet<&'static str>,
    first_names: HashSet<&'static str>,
}

static LEXICON: LazyLock<Lexicon> = LazyLock::new(|| Lexicon {
    stopwords: STOPWORDS.split_whitespace().collect(),
    roles: ROLES.split_whitespace().collect(),
    particles: PARTICLES.split_whitespace().collect(),
    particle_articles: PARTICLE_ARTICLES.split_whitespace().collect(),
    not_after_particle: NOT_AFTER_PARTICLE.split_whitespace().collect(),
    first_names: include_str!("first_names.txt")
        .lines()
        .filter(|l| !l.starts_with('#'))
        .flat_map(str::split_whitespace)
        .collect(),
});

/// Words after one trigger: bounded, so the scan stays linear.
const MAX_WORDS: usize = 4;
/// Names after a plural ("Lena, Paul und Mia").
const MAX_LISTED: usize = 5;
/// Longer words are not names.
const MAX_WORD_LEN: usize = 60;

pub(super) fn find(found: &mut Findings) {
    let text = found.text;
    each_capture(
        &TRIGGER,
        text,
        |caps| name_after(text, caps),
        |r| found.add(Kind::Name, r),
    );
}

/// The name a trigger introduces, if the words after it look like one.
fn name_after(text: &str, caps: &Captures) -> Option<Range<usize>> {
    let trigger = caps.get(0)?;
    if caps.name("title").is_some() {
        return name_at(text, trigger.start(), Expect::Capitalised, 3);
    }
    if caps.name("signature").is_some() {
        let name = name_at(
            text,
            skip_closing(text, trigger.end()),
            Expect::Stated,
            MAX_WORDS,
        )?;
        return ends_signature(text, name.end).then_some(name);
    }
    if caps.name("greeting").is_some() {
        return name_at(text, trigger.end(), Expect::KnownFirst, MAX_WORDS);
    }
    if caps.name("statement").is_some() || caps.name("called").is_some() {
        return name_at(text, trigger.end(), Expect::Stated, MAX_WORDS);
    }
    let first = name_at(text, trigger.end(), Expect::Capitalised, 3)?;
    if caps.name("plural").is_none() {
        return Some(first);
    }
    Some(first.start..listed_names_end(text, first.end))
}

/// Where a list of names goes on after the first ("Lena, Paul und Mia"): masked as one.
fn listed_names_end(text: &str, mut end: usize) -> usize {
    for _ in 1..MAX_LISTED {
        let at = skip_blanks(text, end);
        let rest = &text[at..];
        let joiner = [",", "und ", "and ", "& ", "sowie "]
            .iter()
            .find(|j| rest.starts_with(*j));
        let Some(joiner) = joiner else { break };
        match name_at(text, at + joiner.len(), Expect::Capitalised, 2) {
            Some(next) => end = next.end,
            None => break,
        }
    }
    end
}

/// Skips "Ihr", "Ihre", "Dein" ... between a greeting and the name in a signature.
fn skip_closing(text: &str, at: usize) -> usize {
    const CLOSINGS: [&str; 8] = [
        "ihr", "ihre", "dein", "deine", "euer", "eure", "your", "yours",
    ];
    let at = skip_blanks(text, at);
    match word(text, at) {
        Some(w) if CLOSINGS.contains(&w.to_lowercase().as_str()) => {
            let rest = &text[at + w.len()..];
            text.len() - rest.trim_start().len()
        }
        _ => at,
    }
}

/// A signature's name ends its line or sentence; anything else makes it prose ("Viele Grüße
/// an das Team", "LG München I").
fn ends_signature(text: &str, end: usize) -> bool {
    let at = skip_blanks(text, end);
    text[at..]
        .chars()
        .next()
        .is_none_or(|c| matches!(c, '\n' | '\r' | ',' | '.' | ';' | '!' | ')'))
}

/// The name starting at `at`: titles, then up to `max` name words (particles between
/// them not counted).
fn name_at(text: &str, at: usize, expect: Expect, max: usize) -> Option<Range<usize>> {
    let lexicon = &*LEXICON;
    let mut pos = skip_blanks(text, at);
    let start = pos;
    let mut end = None;
    for _ in 0..3 {
        let Some(len) = title_len(&text[pos..]) else {
            break;
        };
        end = Some(pos + len);
        pos = skip_blanks(text, pos + len);
    }
    let mut words = 0;
    let mut first_in_lower_case = false;
    // Each step takes a word or skips particles: at most `max` of each, so the scan is bounded.
    for _ in 0..2 * max {
        if words == max {
            break;
        }
        let Some(w) = word(text, pos) else { break };
        let lower = w.to_lowercase();
        let capitalised = w.chars().next().is_some_and(char::is_uppercase);
        if !capitalised && lexicon.particles.contains(lower.as_str()) {
            match after_particles(text, pos) {
                Some(next) => {
                    pos = next;
                    continue;
                }
                None => break,
            }
        }
        if lexicon.stopwords.contains(lower.as_str()) {
            break;
        }
        let fits = match (expect, words) {
            (Expect::KnownFirst, 0) => lexicon.first_names.contains(lower.as_str()),
            (Expect::Capitalised, 0) => capitalised && !lexicon.roles.contains(lower.as_str()),
            (Expect::Capitalised, _) => capitalised,
            (_, 0) => true,
            // After a capitalised first name only capitalised words; after one typed in lower
            // case, any.
            (_, _) => capitalised || first_in_lower_case,
        };
        if !fits {
            break;
        }
        if words == 0 {
            first_in_lower_case = !capitalised;
        }
        words += 1;
        end = Some(pos + w.len());
        pos = skip_blanks(text, pos + w.len());
    }
    (words > 0).then(|| start..end.expect("a word was taken"))
}

/// Where the capitalised word after a particle (and maybe an article) starts, if it is a
/// name word ("von der Leyen", not "von der Stadt").
fn after_particles(text: &str, at: usize) -> Option<usize> {
    let lexicon = &*LEXICON;
    let mut pos = at;
    for step in 0..2 {
        let w = word(text, pos)?;
        let next = skip_blanks(text, pos + w.len());
        if next == pos + w.len() {
            return None;
        }
        pos = next;
        let n = word(text, pos)?;
        let lower = n.to_lowercase();
        if step == 0 && lexicon.particle_articles.contains(lower.as_str()) {
            continue;
        }
        let capitalised = n.chars().next().is_some_and(char::is_uppercase);
        return (capitalised && !lexicon.not_after_particle.contains(lower.as_str()))
            .then_some(pos);
    }
    None
}

/// A name word at `at`: letters, joined by hyphens or apostrophes ("Müller-Lüdenscheidt",
/// "O'Brien"), or an initial with its dot ("M.").
fn word(text: &str, at: usize) -> Option<&str> {
    let rest = text.get(at..)?;
    let mut chars = rest.char_indices().peekable();
    let (_, first) = chars.next()?;
    if !first.is_alphabetic() {
        return None;
    }
    let mut end = first.len_utf8();
    while let Some(&(i, c)) = chars.peek() {
        chars.next();
        if c.is_alphabetic() {
            end = i + c.len_utf8();
        } else if matches!(c, '-' | '\'' | '’')
            && chars.peek().is_some_and(|&(_, n)| n.is_alphabetic())
            && end == i
        {
            continue;
        } else {
            break;
        }
        if end > MAX_WORD_LEN {
            return None;
        }
    }
    if end == first.len_utf8() && first.is_uppercase() && rest[end..].starts_with('.') {
        return Some(&rest[..end + 1]);
    }
    Some(&rest[..end])
}

fn title_len(rest: &str) -> Option<usize> {
    TITLES.iter().find_map(|t| {
        rest.get(..t.len())
            .filter(|head| head.eq_ignore_ascii_case(t))
            .map(|_| t.len())
    })
}

#[cfg(test)]
mod tests {
    use super::LEXICON;

    #[test]
    fn known_first_names_are_lower_case_and_no_stopwords() {
        for name in &LEXICON.first_names {
            assert_eq!(name.to_lowercase(), *name);
            assert!(!LEXICON.stopwords.contains(name), "{name}");
        }
    }
}
