//! Dates such as a date of birth: in digits, in words with a year, and after a phrase about
//! birth also without a year or as a year alone. A day and month alone ("am 24. Dezember")
//! is a question about opening hours, not personal, and stays.

use std::ops::Range;
use std::sync::LazyLock;

use regex::{Captures, Regex};

use super::scan::{digits_value, each_capture, each_match};
use super::{Findings, Kind};

/// `03.07.1985`, `3. 7. 85`, `07/03/1985`, `1985-07-03`, `1985/7/3`.
static IN_DIGITS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?P<d1>[0-3]?\d)\.\s?(?P<m1>[01]?\d)\.\s?(?:\d{4}|\d{2})",
        r"|(?P<a2>[0-3]?\d)/(?P<b2>[0-3]?\d)/(?:\d{4}|\d{2})",
        r"|(?P<d3>[0-3]?\d)-(?P<m3>[01]?\d)-\d{4}",
        r"|\d{4}[-/.](?P<m4>[01]?\d)[-/.](?P<d4>[0-3]?\d)",
    ))
    .expect("date pattern")
});

/// German ordinal stems, "ersten" to "einunddreißigsten" without the ending.
fn german_ordinals() -> Vec<String> {
    let mut stems: Vec<String> = [
        "erst",
        "zweit",
        "dritt",
        "viert",
        "fünft",
        "sechst",
        "siebt",
        "siebent",
        "acht",
        "neunt",
        "zehnt",
        "elft",
        "zwölft",
        "dreizehnt",
        "vierzehnt",
        "fünfzehnt",
        "sechzehnt",
        "siebzehnt",
        "achtzehnt",
        "neunzehnt",
        "zwanzigst",
        "dreißigst",
        "einunddreißigst",
    ]
    .map(String::from)
    .to_vec();
    for unit in [
        "ein", "zwei", "drei", "vier", "fünf", "sechs", "sieben", "acht", "neun",
    ] {
        stems.push(format!("{unit}undzwanzigst"));
    }
    // Typed without umlauts or ß.
    let plain: Vec<String> = stems
        .iter()
        .filter(|s| s.contains(['ü', 'ö', 'ß']))
        .map(|s| s.replace('ü', "ue").replace('ö', "oe").replace('ß', "ss"))
        .collect();
    stems.extend(plain);
    stems
}

fn english_ordinals() -> Vec<String> {
    let units = [
        "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth",
    ];
    let mut words: Vec<String> = units.map(String::from).to_vec();
    words.extend(
        [
            "tenth",
            "eleventh",
            "twelfth",
            "thirteenth",
            "fourteenth",
            "fifteenth",
            "sixteenth",
            "seventeenth",
            "eighteenth",
            "nineteenth",
            "twentieth",
            "thirtieth",
        ]
        .map(String::from),
    );
    for unit in units {
        words.push(format!("twenty[- ]?{unit}"));
    }
    words.push("thirty[- ]?first".into());
    words
}

const MONTHS: &str = concat!(
    "januar|jänner|jaenner|februar|feber|märz|maerz|april|mai|juni|juli|august|september|",
    "oktober|november|dezember|january|february|march|may|june|july|october|december|",
    r"(?:jan|feb|mär|mrz|mar|apr|jun|jul|aug|sept|sep|okt|oct|nov|dez|dec)\.?"
);

const YEAR: &str = r"(?:1[89]\d{2}|20\d{2})";

/// The parts a date in words is made of, for the patterns below.
struct Words {
    day: String,
    month: String,
}

static WORDS: LazyLock<Words> = LazyLock::new(|| {
    let german = german_ordinals().join("|");
    let english = english_ordinals().join("|");
    Words {
        day: format!(r"(?:[0-3]?\d(?:\s?\.|st|nd|rd|th)?|(?:{german})(?:e|en|er|es|em)|{english})"),
        month: format!("(?:{MONTHS})"),
    }
});

/// A full date in words: `3. Juli 1985`, `am dritten Juli 1985`, `3rd of July, 1985`,
/// `July 3, 1985`, `July third 1985`.
static IN_WORDS: LazyLock<Regex> = LazyLock::new(|| {
    let Words { day, month } = &*WORDS;
    Regex::new(&format!(
        r"(?i){day}\s{{0,2}}(?:of\s+)?{month},?\s{{0,2}}{YEAR}|{month}\s{{0,2}}(?:the\s+)?{day},?\s{{1,2}}{YEAR}"
    ))
    .expect("date in words pattern")
});

/// A date, possibly without year or with two digits of it ("3. Juli 85"), or a month and
/// year, or a year alone. The month and year come before the month and day: "März 1948" is
/// not the 19th of March.
fn partial_date() -> String {
    let Words { day, month } = &*WORDS;
    format!(
        r"(?:{day}\s{{0,2}}(?:of\s+)?{month}(?:,?\s{{0,2}}(?:{YEAR}|'?\d{{2}}))?|{month}\s{{1,2}}{YEAR}|{month}\s{{0,2}}(?:the\s+)?{day}(?:,?\s{{1,2}}{YEAR})?|[0-3]?\d\.\s?[01]?\d\.(?:\s?\d{{4}})?|{YEAR})"
    )
}

/// A partial date after a phrase about birth: "geboren am 3. Juli", "Jahrgang 1985".
static AFTER_BIRTH: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"(?i:geboren|geb\.|geburtsdatum|geburtstag|geburtsjahr|jahrgang|born|date\s+of\s+birth|birth\s?date|birthday|d\.?o\.?b\.?)(?:\s{{1,3}}(?i:am|im|in|on|ist|is|den|the|war|was|:))?(?:\s{{1,3}}(?i:am|im|in|on|der|den|dem|the))?\s{{0,3}}:?\s{{0,3}}(?P<date>(?i:{}))",
        partial_date()
    ))
    .expect("birth date pattern")
});

/// A partial date before "geboren": "ist 2019 geboren", "am 3. Juli in Köln geboren".
static BEFORE_BIRTH: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"(?P<date>(?i:{}))\s{{1,3}}(?:(?i:in)\s\p{{Lu}}[\p{{L}}-]{{1,40}}\s{{1,3}})?(?i:geboren|zur\s+welt\s+gekommen|born)",
        partial_date()
    ))
    .expect("birth date pattern")
});

pub(super) fn find(found: &mut Findings) {
    let text = found.text;
    each_capture(&IN_DIGITS, text, plausible, |r| found.add(Kind::Date, r));
    each_match(&IN_WORDS, text, Some, |r| found.add(Kind::Date, r));
    for pattern in [&*AFTER_BIRTH, &*BEFORE_BIRTH] {
        each_capture(
            pattern,
            text,
            |caps| caps.name("date").map(|m| m.range()),
            |r| found.add(Kind::Date, r),
        );
    }
}

/// The whole match if its day and month can be a date (either order with slashes).
fn plausible(caps: &Captures) -> Option<Range<usize>> {
    let value = |name| caps.name(name).map(|m| digits_value(m.as_str()));
    let day_month = |d: Option<u32>, m: Option<u32>| match (d, m) {
        (Some(d), Some(m)) => (1..=31).contains(&d) && (1..=12).contains(&m),
        _ => false,
    };
    let ok = day_month(value("d1"), value("m1"))
        || day_month(value("d3"), value("m3"))
        || day_month(value("d4"), value("m4"))
        || day_month(value("a2"), value("b2"))
        || day_month(value("b2"), value("a2"));
    ok.then(|| caps.get(0).expect("whole match").range())
}
