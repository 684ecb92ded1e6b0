//! Word boundaries without look-around, and the one loop that turns a pattern's matches into
//! findings. The loop must keep every search linear: after a rejected candidate it never
//! searches again from a point before the candidate's start.

use std::ops::Range;

use regex::{Captures, Regex};

/// Letters and digits of any script; what a masked item must not be cut out of.
pub(super) fn is_word(c: char) -> bool {
    c.is_alphanumeric()
}

/// True where `at` lies between two word characters: a match starting or ending there
/// would cut a word in two (the `regex` crate's `\b` would do this, but on text with
/// umlauts it sends the search to a slower engine).
pub(super) fn inside_word(text: &str, at: usize) -> bool {
    let before = text[..at].chars().next_back();
    let after = text[at..].chars().next();
    matches!((before, after), (Some(a), Some(b)) if is_word(a) && is_word(b))
}

/// The first position after the word run that contains `at`: the earliest point where a
/// match that does not cut a word can start again.
fn after_word(text: &str, at: usize) -> usize {
    text[at..]
        .char_indices()
        .find(|&(_, c)| !is_word(c))
        .map_or(text.len(), |(i, _)| at + i)
}

/// Calls `accept` with each match of `pattern` and keeps what it returns (it may shorten a
/// match or refuse it) if that neither starts nor ends inside a word.
pub(super) fn each_match(
    pattern: &Regex,
    text: &str,
    mut accept: impl FnMut(Range<usize>) -> Option<Range<usize>>,
    mut keep: impl FnMut(Range<usize>),
) {
    let mut at = 0;
    while at < text.len() {
        let Some(m) = pattern.find_at(text, at) else {
            return;
        };
        let part = if inside_word(text, m.start()) {
            None
        } else {
            accept(m.range())
        };
        at = next_start(text, m.range(), part, &mut keep);
    }
}

/// As [`each_match`], for patterns whose match holds context (a trigger word such as
/// "Tel.") around the part to mask: `accept` picks that part out of the captures.
pub(super) fn each_capture(
    pattern: &Regex,
    text: &str,
    mut accept: impl FnMut(&Captures) -> Option<Range<usize>>,
    mut keep: impl FnMut(Range<usize>),
) {
    let mut at = 0;
    while at < text.len() {
        let Some(caps) = pattern.captures_at(text, at) else {
            return;
        };
        let whole = caps.get(0).expect("group 0 is the match").range();
        let part = if inside_word(text, whole.start) {
            None
        } else {
            accept(&caps)
        };
        at = next_start(text, whole, part, &mut keep);
    }
}

/// Keeps `part` if it is whole words and says where the search goes on. A match that cut a
/// word at its start is retried after that word; any other is left behind entirely, so no
/// text is searched twice from an earlier point.
fn next_start(
    text: &str,
    whole: Range<usize>,
    part: Option<Range<usize>>,
    keep: &mut impl FnMut(Range<usize>),
) -> usize {
    if inside_word(text, whole.start) {
        return after_word(text, whole.start);
    }
    if let Some(part) =
        part.filter(|p| !p.is_empty() && !inside_word(text, p.start) && !inside_word(text, p.end))
    {
        keep(part.clone());
        return part.end;
    }
    let end = whole.end.max(whole.start + 1);
    // One past the match start may not be a character boundary.
    (end..=text.len())
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(text.len())
}

/// The digits of `s` as a number, ignoring everything else (`"07"` → 7).
pub(super) fn digits_value(s: &str) -> u32 {
    s.chars()
        .filter_map(|c| c.to_digit(10))
        .fold(0u32, |n, d| n.saturating_mul(10).saturating_add(d))
}

/// How many ASCII digits `s` holds.
pub(super) fn count_digits(s: &str) -> usize {
    s.bytes().filter(u8::is_ascii_digit).count()
}

/// The word (letters of any script) starting at `at`, if one does.
pub(super) fn word_at(text: &str, at: usize) -> Option<&str> {
    let rest = text.get(at..)?;
    let end = rest
        .char_indices()
        .find(|&(_, c)| !c.is_alphabetic())
        .map_or(rest.len(), |(i, _)| i);
    (end > 0).then(|| &rest[..end])
}

/// `at` moved past spaces and tabs (not line breaks).
pub(super) fn skip_blanks(text: &str, at: usize) -> usize {
    at + text[at..]
        .char_indices()
        .find(|&(_, c)| c != ' ' && c != '\t')
        .map_or(text.len() - at, |(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn whole_matches(pattern: &str, text: &str) -> Vec<String> {
        let pattern = Regex::new(pattern).unwrap();
        let mut out = Vec::new();
        each_match(&pattern, text, Some, |r| out.push(text[r].to_string()));
        out
    }

    #[test]
    fn matches_never_cut_a_word() {
        assert_eq!(
            whole_matches("[0-9]{3}", "123 x1234 456y 789"),
            ["123", "789"]
        );
        assert_eq!(whole_matches("Frau", "Ehefrau Frau Frauen"), ["Frau"]);
        assert_eq!(whole_matches("ab", "übab ab"), ["ab"]);
    }
}
