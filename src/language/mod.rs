//! How Rathaus reads German and English the way citizens write it: words, umlaut spellings,
//! stems, compounds, typos and synonyms. Pure functions over text and a [`Lexicon`] built from
//! the catalogue; nothing here knows about entries, conversations, channels or storage.

mod lexicon;
mod stopwords;
mod synonyms;
mod thesaurus;

pub use lexicon::Lexicon;
pub use stopwords::{is_filler, is_generic_action, is_stopword};
pub use synonyms::{SynonymError, SynonymRule, Synonyms};
pub use thesaurus::{Relation, Thesaurus};

use std::borrow::Cow;
use std::sync::LazyLock;

use unicode_normalization::UnicodeNormalization;

/// The languages Rathaus speaks with citizens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    De,
    En,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::De => "de",
            Lang::En => "en",
        }
    }
}

impl std::str::FromStr for Lang {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "de" | "de-de" | "deu" | "german" | "deutsch" => Ok(Lang::De),
            "en" | "en-gb" | "en-us" | "eng" | "english" => Ok(Lang::En),
            other => Err(format!("unsupported language '{other}' (use de or en)")),
        }
    }
}

impl std::fmt::Display for Lang {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

/// Letters of the longest word read: longer than any German word in use (the longest law's
/// name, "Rindfleischetikettierungsüberwachungsaufgabenübertragungsgesetz", has 63). A
/// longer run of letters is no word, and is left out: splitting it into compounds and
/// correcting it as a typo would cost time that grows with the cube of its length.
pub const MAX_WORD_CHARS: usize = 64;

/// Splits text into lowercase words: letters and digits, everything else separates.
/// Text is NFC-normalised first so that a decomposed "ü" is one letter. Runs longer than
/// [`MAX_WORD_CHARS`] are no words and are left out.
pub fn words(text: &str) -> Vec<String> {
    let text: String = text.nfc().collect();
    let mut out = Vec::new();
    let mut current = String::new();
    let mut len = 0;
    let keep = |word: String, len: usize, out: &mut Vec<String>| {
        if len <= MAX_WORD_CHARS {
            out.push(word);
        }
    };
    for ch in text.chars() {
        if ch.is_alphanumeric() {
            if len <= MAX_WORD_CHARS {
                current.extend(ch.to_lowercase());
            }
            len += 1;
        } else if len > 0 {
            keep(std::mem::take(&mut current), len, &mut out);
            len = 0;
        }
    }
    if len > 0 {
        keep(current, len, &mut out);
    }
    out
}

/// A name without a qualifier in brackets at its end ("Altersrente (Telefon-Termin)" →
/// "Altersrente").
pub fn unbracketed(name: &str) -> &str {
    let name = name.trim();
    match name
        .strip_suffix(')')
        .and_then(|n| n.rfind('(').map(|at| &n[..at]))
    {
        Some(rest) => rest.trim_end(),
        None => name,
    }
}

/// The digits of a number written as a word ("zwei" → "2", "twelve" → "12"), in German
/// or English, so that it counts like a number written in digits.
pub fn number_word(word: &str) -> Option<&'static str> {
    const NUMBERS: &[(&str, &str)] = &[
        ("eins", "1"),
        ("zwei", "2"),
        ("drei", "3"),
        ("vier", "4"),
        ("fünf", "5"),
        ("sechs", "6"),
        ("sieben", "7"),
        ("acht", "8"),
        ("neun", "9"),
        ("zehn", "10"),
        ("elf", "11"),
        ("zwölf", "12"),
        ("fünfzehn", "15"),
        ("sechzehn", "16"),
        ("achtzehn", "18"),
        ("zwanzig", "20"),
        ("dreißig", "30"),
        ("fünfzig", "50"),
        ("hundert", "100"),
        ("one", "1"),
        ("two", "2"),
        ("three", "3"),
        ("four", "4"),
        ("five", "5"),
        ("six", "6"),
        ("seven", "7"),
        ("eight", "8"),
        ("nine", "9"),
        ("ten", "10"),
        ("eleven", "11"),
        ("twelve", "12"),
        ("fifteen", "15"),
        ("sixteen", "16"),
        ("eighteen", "18"),
        ("twenty", "20"),
        ("thirty", "30"),
        ("fifty", "50"),
        ("hundred", "100"),
    ];
    NUMBERS.iter().find(|(w, _)| *w == word).map(|(_, n)| *n)
}

/// Conjunctions after which a German word's truncated first part ("An- oder Ummeldung")
/// takes the last part of the word that follows.
const TRUNCATION_CONJUNCTIONS: &[&str] = &["und", "oder", "bzw", "sowie"];

/// Text with each truncated first part of a German compound written out in full:
/// "An- oder Ummeldung" → "anmeldung oder Ummeldung", "Überführungs- und Probefahrten" →
/// "überführungsfahrten und Probefahrten". The part it lacks is the next word's head as the
/// lexicon knows it ([`Lexicon::known_head`]); a truncation whose next word has none is left
/// as it is.
pub fn complete_truncated<'a>(text: &'a str, lexicon: &Lexicon) -> Cow<'a, str> {
    if !text.contains("- ") {
        return Cow::Borrowed(text);
    }
    let tokens: Vec<&str> = text.split(' ').collect();
    let mut out: Vec<Cow<str>> = tokens.iter().map(|t| Cow::Borrowed(*t)).collect();
    let mut changed = false;
    for i in 0..tokens.len().saturating_sub(2) {
        let Some(first) = tokens[i].strip_suffix('-') else {
            continue;
        };
        let lead = first.len()
            - first
                .trim_start_matches(|c: char| !c.is_alphanumeric())
                .len();
        let (opening, first) = first.split_at(lead);
        let conjunction = tokens[i + 1].trim_end_matches('.').to_lowercase();
        if first.chars().count() < 2
            || !first.chars().all(char::is_alphabetic)
            || !TRUNCATION_CONJUNCTIONS.contains(&conjunction.as_str())
        {
            continue;
        }
        let next: String = tokens[i + 2]
            .chars()
            .take_while(|c| c.is_alphanumeric())
            .flat_map(char::to_lowercase)
            .collect();
        if let Some(head) = lexicon.known_head(&next) {
            out[i] = Cow::Owned(format!("{opening}{}{head}", first.to_lowercase()));
            changed = true;
        }
    }
    if !changed {
        return Cow::Borrowed(text);
    }
    Cow::Owned(out.join(" "))
}

/// Particles of German separable verbs, which stand at the end of a clause:
/// "Wie melde ich meinen Hund an?" means "anmelden".
const PARTICLES: &[&str] = &[
    "an", "ab", "um", "aus", "ein", "auf", "zu", "nach", "vor", "mit", "weg", "zurück", "fest",
    "her", "hin", "los", "weiter", "wieder",
];

/// Words of a message with separable verbs joined back together, clause by clause:
/// "Wie melde ich meinen Hund an?" → […, "anmelde", …, "hund"] (the particle is dropped,
/// the verb carries it). `joins` says whether particle + verb is a real word.
pub fn words_joined(text: &str, joins: impl Fn(&str) -> bool) -> Vec<String> {
    let mut out = Vec::new();
    for clause in text.split(['.', ',', '!', '?', ';', ':', '\n']) {
        let mut ws = words(clause);
        if let Some(last) = ws.last().cloned()
            && ws.len() >= 3
            && PARTICLES.contains(&last.as_str())
        {
            let verb = ws[..ws.len() - 1]
                .iter()
                .position(|w| !is_stopword(w) && joins(&format!("{last}{w}")));
            if let Some(i) = verb {
                ws[i] = format!("{last}{}", ws[i]);
                ws.pop();
            }
        }
        out.extend(ws);
    }
    out
}

/// The German spelling of a word typed without umlauts: "muenchen" → "münchen",
/// "strasse" stays. Returns `None` when the word has no ae/oe/ue to replace.
/// "que" and "aue"/"eue" (as in "Steuer", "Frauen") are left alone.
pub fn umlautify(word: &str) -> Option<String> {
    if !(word.contains("ae") || word.contains("oe") || word.contains("ue")) {
        return None;
    }
    let chars: Vec<char> = word.chars().collect();
    let mut out = String::with_capacity(word.len());
    let mut i = 0;
    let mut changed = false;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        let prev = if i > 0 { Some(chars[i - 1]) } else { None };
        let umlaut = match (c, next) {
            ('a', Some('e')) => Some('ä'),
            ('o', Some('e')) => Some('ö'),
            ('u', Some('e')) if !matches!(prev, Some('q') | Some('a') | Some('e')) => Some('ü'),
            _ => None,
        };
        match umlaut {
            Some(u) => {
                out.push(u);
                changed = true;
                i += 2;
            }
            None => {
                out.push(c);
                i += 1;
            }
        }
    }
    changed.then_some(out)
}

/// Strips diacritics and folds German special letters: "Führerschein" → "fuhrerschein",
/// "Straße" → "strasse", "café" → "cafe". Used after stemming so that every spelling of
/// a word lands on one index term.
pub fn fold(word: &str) -> Cow<'_, str> {
    if word.is_ascii() {
        return Cow::Borrowed(word);
    }
    let mut out = String::with_capacity(word.len() + 2);
    for ch in word.chars() {
        match ch {
            'ß' => out.push_str("ss"),
            c if c.is_ascii() => out.push(c),
            c => out.extend(
                c.to_string()
                    .nfd()
                    .filter(|c| c.is_ascii() || c.is_alphanumeric() && !is_combining(*c)),
            ),
        }
    }
    Cow::Owned(out)
}

fn is_combining(c: char) -> bool {
    ('\u{0300}'..='\u{036f}').contains(&c)
}

static GERMAN: LazyLock<frostem::Stemmer> =
    LazyLock::new(|| frostem::Stemmer::new(frostem::Algorithm::German));

/// The index term for a lowercase word: its German Snowball stem, folded to ASCII.
/// "Verlängerungen" → "verlang", "Führerscheins" → "fuhrerschein".
pub fn stem(word: &str) -> String {
    let stemmed = GERMAN.stem(word);
    fold(&stemmed).into_owned()
}

/// A rough language guess for a citizen's message: English when English function words
/// outnumber German ones. Short messages without either count as German.
pub fn detect(text: &str) -> Lang {
    let mut de = 0;
    let mut en = 0;
    for w in words(text) {
        if stopwords::GERMAN_MARKERS.contains(&w.as_str()) {
            de += 1;
        }
        if stopwords::ENGLISH_MARKERS.contains(&w.as_str()) {
            en += 1;
        }
    }
    if en > de { Lang::En } else { Lang::De }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_of_letters_longer_than_any_word_is_no_word() {
        let long = "a".repeat(4000);
        assert_eq!(
            words(&format!("Reisepass {long} beantragen")),
            ["reisepass", "beantragen"]
        );
        let longest = "Rindfleischetikettierungsüberwachungsaufgabenübertragungsgesetz";
        assert_eq!(words(longest), [longest.to_lowercase()]);
    }

    #[test]
    fn words_split_on_punctuation_and_lowercase() {
        assert_eq!(
            words("Gewerbe-Anmeldung: Was kostet's?"),
            ["gewerbe", "anmeldung", "was", "kostet", "s"]
        );
        assert_eq!(words("😂😂 ...."), Vec::<String>::new());
    }

    #[test]
    fn umlaut_spellings_are_recognised() {
        assert_eq!(umlautify("muenchen").as_deref(), Some("münchen"));
        assert_eq!(umlautify("fuehrerschein").as_deref(), Some("führerschein"));
        assert_eq!(umlautify("gebuehr").as_deref(), Some("gebühr"));
        assert_eq!(umlautify("steuer"), None);
        assert_eq!(umlautify("frauen"), None);
        assert_eq!(umlautify("pass"), None);
    }

    #[test]
    fn stems_fold_inflection_and_umlauts() {
        assert_eq!(stem("führerscheins"), stem("führerschein"));
        assert_eq!(stem("verlängerungen"), stem("verlängerung"));
        assert_eq!(stem("straße"), "strass");
        assert!(!stem("personalausweis").contains('ä'));
    }

    #[test]
    fn a_truncated_first_part_takes_the_head_of_the_next_word() {
        let known = [
            "meldung",
            "ummeldung",
            "fahrten",
            "versicherung",
            "unternehmens",
        ];
        let lexicon = Lexicon::from_words(known);
        let complete = |text| complete_truncated(text, &lexicon).into_owned();
        assert_eq!(
            complete("Die An- oder Ummeldung."),
            "Die anmeldung oder Ummeldung."
        );
        assert_eq!(
            complete("Kennzeichen für Überführungs- und Probefahrten"),
            "Kennzeichen für überführungsfahrten und Probefahrten"
        );
        assert_eq!(
            complete("(Kranken- bzw. Pflegeversicherung)"),
            "(krankenversicherung bzw. Pflegeversicherung)"
        );
        assert_eq!(
            complete("Taxi- oder Mietwagenunternehmens"),
            "taxiunternehmens oder Mietwagenunternehmens"
        );
        // No known head, no conjunction, or no truncation: the text as it is.
        for text in [
            "Ein- oder Zweizimmerwohnung",
            "An- Ummeldung",
            "Nicht-EU-Bürger und Familie",
            "Gebühr - 20 Euro",
        ] {
            assert!(
                matches!(complete_truncated(text, &lexicon), Cow::Borrowed(_)),
                "{text}"
            );
        }
    }

    #[test]
    fn separable_verbs_are_joined() {
        let known = |w: &str| matches!(w, "anmelde" | "abmelde" | "abholen");
        assert_eq!(
            words_joined("Wie melde ich meinen Hund an?", known),
            ["wie", "anmelde", "ich", "meinen", "hund"]
        );
        assert_eq!(
            words_joined("Ich melde mich ab, danke", known),
            ["ich", "abmelde", "mich", "danke"]
        );
        assert_eq!(
            words_joined("Ich fahre nach Rom", known),
            ["ich", "fahre", "nach", "rom"]
        );
    }

    #[test]
    fn language_guess() {
        assert_eq!(detect("How do I renew my passport?"), Lang::En);
        assert_eq!(detect("Wie verlängere ich meinen Reisepass?"), Lang::De);
        assert_eq!(detect("Reisepass"), Lang::De);
    }
}
