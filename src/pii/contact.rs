//! E-mail addresses and phone numbers: the ways a citizen can be reached.

use std::sync::LazyLock;

use regex::Regex;

use super::scan::{count_digits, each_capture, each_match, is_word};
use super::{Findings, Kind};

/// Local part, `@` (or `(at)`, `[at]`), and dot-separated domain labels, in any script.
/// Unbounded, yet linear: the leftmost match always starts where the run of address
/// characters starts, and a rejected match is left behind as a whole.
static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    let open = r"\s?[(\[{]\s?";
    let close = r"\s?[)\]}]\s?";
    Regex::new(&format!(
        r"[\p{{L}}\p{{N}}._%+'’-]+(?:@|{open}(?i:at|ät){close})[\p{{L}}\p{{N}}-]+(?:(?:\.|{open}(?i:dot|punkt){close})[\p{{L}}\p{{N}}-]+)+"
    ))
    .expect("e-mail pattern")
});

pub(super) fn emails(found: &mut Findings) {
    let text = found.text;
    each_match(
        &EMAIL,
        text,
        |r| {
            // Punctuation before the address ("...max@web.de") is not part of it.
            let start = r.start + text[r.clone()].find(is_word)?;
            let top_level = text[r.clone()]
                .rsplit(['.', ')', ']', '}'])
                .next()
                .unwrap_or_default()
                .trim();
            (top_level.chars().count() >= 2 && top_level.chars().any(char::is_alphabetic))
                .then_some(start..r.end)
        },
        |r| found.add(Kind::Email, r),
    );
}

/// A separator between digit groups: a space, or a slash or hyphen with optional spaces.
const SEP: &str = r"(?:[ ]?[/–-][ ]?|[ ])";

/// A number that starts like a phone number: `+49`, `0049`, `(0)`, `(089)`, or `0`,
/// followed by six to fifteen more digits.
static PHONE: LazyLock<Regex> = LazyLock::new(|| {
    let international =
        format!(r"(?:\+|00)[1-9]\d{{0,2}}{SEP}?(?:\(0\){SEP}?)?(?:\(\d{{1,5}}\){SEP}?)?");
    let area = format!(r"\(0\d{{1,5}}\){SEP}?");
    Regex::new(&format!(
        r"(?:{international}|{area}|0)\d(?:{SEP}?\d){{5,14}}"
    ))
    .expect("phone pattern")
});

/// A number after a word that says it is one to call.
static INTRODUCED_PHONE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?i:tel(?:efon)?(?:\.?[ -]?(?:nr\.?|nummer))?\.?|handy(?:[ -]?(?:nr\.?|nummer))?|",
        r"mobil(?:[ -]?nummer|funknummer)?|rufnummer|festnetz(?:nummer)?|fax(?:nummer)?|whatsapp|",
        r"(?:phone|mobile|cell)(?:\s+(?:number|no\.?))?|(?:meine|unsere|my|our)\s+(?:nummer|number))",
        r"\s{0,3}(?:(?i:ist|lautet|is|:)\s{0,3})?:?\s{0,3}",
        r"(?P<number>\+?\(?\d[\d ()/-]{4,24}\d)",
    ))
    .expect("introduced phone pattern")
});

/// German numbers have at most twelve digits with the leading 0; digits beyond that are
/// the next number in the sentence ("0171 2345678 12 Uhr").
const NATIONAL_DIGITS: usize = 12;

pub(super) fn phones(found: &mut Findings) {
    let text = found.text;
    each_match(
        &PHONE,
        text,
        |mut r| {
            let national =
                !text[r.clone()].starts_with(['+', '(']) && !text[r.clone()].starts_with("00");
            while national && count_digits(&text[r.clone()]) > NATIONAL_DIGITS {
                r.end = r.start + text[r.clone()].rfind(' ')?;
                r.end = r.start + text[r.clone()].trim_end_matches([' ', '/', '-', '–']).len();
            }
            Some(r)
        },
        |r| found.add(Kind::Phone, r),
    );
}

pub(super) fn introduced_phones(found: &mut Findings) {
    let text = found.text;
    each_capture(
        &INTRODUCED_PHONE,
        text,
        |caps| {
            let number = caps.name("number")?;
            (count_digits(number.as_str()) >= 6).then(|| number.range())
        },
        |r| found.add(Kind::Phone, r),
    );
}
