//! Numbers that identify a person: IBAN, pension insurance number, tax id and tax number,
//! ID-card and passport numbers, and any other long number (customer, file, insurance).

use std::ops::Range;
use std::sync::LazyLock;

use regex::Regex;

use super::scan::{count_digits, each_capture, each_match, inside_word};
use super::{Findings, Kind};

fn pattern(p: &str) -> Regex {
    Regex::new(p).expect("valid identifier pattern")
}

/// Country, check digits, then 11 to 30 letters and digits, in groups of four or not.
static IBAN: LazyLock<Regex> = LazyLock::new(|| {
    pattern(r"[A-Za-z]{2} ?\d{2}(?: ?[A-Za-z0-9]{4}){2,7}(?: ?[A-Za-z0-9]{1,4})?")
});

/// Area, date of birth (ddmmyy), the birth name's initial and a serial with check digit.
static PENSION_NUMBER: LazyLock<Regex> =
    LazyLock::new(|| pattern(r"\d{2}[ /-]?[0-3]\d[01]\d\d{2}[ /-]?[A-Za-z][ /-]?\d{3}"));

/// Eleven digits, the first not 0, grouped any way by spaces, dots or hyphens.
static TAX_ID: LazyLock<Regex> = LazyLock::new(|| pattern(r"[1-9](?:[ .-]?\d){10}"));

/// A tax number as the tax office writes it: `143/815/08150`.
static TAX_NUMBER: LazyLock<Regex> = LazyLock::new(|| pattern(r"\d{2,4}/\d{3,4}/\d{4,5}"));

/// Nine characters of the alphabet of German ID cards, passports and residence cards
/// (no vowels, no B, D, Q, S), the first a letter, optionally a check digit.
static DOCUMENT: LazyLock<Regex> = LazyLock::new(|| {
    pattern(r"[CFGHJKLMNPRTVWXYZcfghjklmnprtvwxyz][CFGHJKLMNPRTVWXYZcfghjklmnprtvwxyz0-9]{8}[0-9]?")
});

/// Any code with a digit after a word that says it is a document's number.
static INTRODUCED_DOCUMENT: LazyLock<Regex> = LazyLock::new(|| {
    pattern(concat!(
        r"(?i:(?:(?:personal|kinder)?ausweis|(?:kinder)?reisepass|pass|passport|führerschein|fuehrerschein|",
        r"aufenthaltstitel|aufenthaltskarte|aufenthaltserlaubnis|visum|visa|id|identity\s+card|",
        r"id[- ]card|dokument|document|(?:driving\s+|driver'?s\s+)?licen[cs]e)",
        r"[- ]?(?:nummer|nr\.?|no\.?|number|\#)\s{0,3}(?:ist|lautet|is)?\s{0,3}:?\s{0,3})",
        r"(?P<code>[A-Za-z0-9]{5,12})",
    ))
});

/// Seven digits or more, with up to three letters before and two after (`A123456780`).
static NUMBER: LazyLock<Regex> = LazyLock::new(|| pattern(r"[A-Za-z]{0,3}\d{7,}[A-Za-z]{0,2}"));

pub(super) fn ibans(found: &mut Findings) {
    let text = found.text;
    each_match(
        &IBAN,
        text,
        |r| iban_within(text, r),
        |r| found.add(Kind::Iban, r),
    );
}

/// The IBAN in a match, without the word the last group may have taken from the sentence
/// after it ("… 0130 00 und"); at least eight digits after the check digits.
fn iban_within(text: &str, mut r: Range<usize>) -> Option<Range<usize>> {
    loop {
        let s = &text[r.clone()];
        let last_group = s.rsplit(' ').next().unwrap_or(s);
        let takes_word =
            inside_word(text, r.end) || !last_group.bytes().any(|b| b.is_ascii_digit());
        if !takes_word {
            break;
        }
        let cut = s.rfind(' ').filter(|&i| i > 4)?;
        r.end = r.start + cut;
    }
    let compact: String = text[r.clone()].chars().filter(|c| *c != ' ').collect();
    ((15..=34).contains(&compact.len()) && count_digits(&compact[4..]) >= 8).then_some(r)
}

pub(super) fn pension_numbers(found: &mut Findings) {
    mark(found, &PENSION_NUMBER, Kind::PensionNumber);
}

pub(super) fn introduced(found: &mut Findings) {
    let text = found.text;
    each_capture(
        &INTRODUCED_DOCUMENT,
        text,
        |caps| {
            let code = caps.name("code")?;
            (count_digits(code.as_str()) > 0).then(|| code.range())
        },
        |r| found.add(Kind::IdDocument, r),
    );
}

pub(super) fn tax_ids_and_documents(found: &mut Findings) {
    let text = found.text;
    each_match(
        &TAX_ID,
        text,
        |r| (!continues_number(text, &r)).then_some(r),
        |r| found.add(Kind::TaxId, r),
    );
    mark(found, &TAX_NUMBER, Kind::TaxNumber);
    each_match(
        &DOCUMENT,
        text,
        |r| (count_digits(&text[r.clone()]) >= 2).then_some(r),
        |r| found.add(Kind::IdDocument, r),
    );
}

pub(super) fn other_numbers(found: &mut Findings) {
    mark(found, &NUMBER, Kind::Number);
}

fn mark(found: &mut Findings, pattern: &Regex, kind: Kind) {
    let text = found.text;
    each_match(pattern, text, Some, |r| found.add(kind, r));
}

/// True if the digits in `r` go on before or after it: a `+` before them makes them a
/// phone number, a separator and a digit a longer number than a tax id.
fn continues_number(text: &str, r: &Range<usize>) -> bool {
    let before: Vec<char> = text[..r.start].chars().rev().take(2).collect();
    let after: Vec<char> = text[r.end..].chars().take(2).collect();
    let separated_digit =
        |cs: &[char]| matches!(cs, [s, d, ..] if " .-/".contains(*s) && d.is_ascii_digit());
    before.first() == Some(&'+') || separated_digit(&before) || separated_digit(&after)
}
