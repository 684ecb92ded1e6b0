//! The core's reply as a person would say it on the phone: no links or e-mail addresses
//! read out, prices and times in words a listener follows ("8 bis 12 Uhr 30",
//! "37 Euro"), lists as sentences, and short. It rewrites only form, never content: every
//! fact still comes from the catalogue text.

use std::sync::LazyLock;

use regex::Regex;

use crate::dialogue::{Outcome, Reply};
use crate::language::Lang;

static URL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)\b(?:https?://|www\.)[^\s)>\]]+").expect("valid regex"));
static MARKDOWN_LINK: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\[([^\]]+)\]\([^)]*\)").expect("valid regex"));
static EMAIL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+").expect("valid regex"));
/// "08:00–12:30", "8.00 - 12.30 Uhr", "08:00 bis 12:30".
static TIME_RANGE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(\d{1,2})[:.](\d{2})\s*(?:[-–—]|bis|to)\s*(\d{1,2})[:.](\d{2})(?:\s*Uhr)?\b")
        .expect("valid regex")
});
static TIME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b(\d{1,2}):(\d{2})(?:\s*Uhr)?\b").expect("valid regex"));
/// "37,00 €", "22,80 Euro", "EUR 12,50", "€ 8", "€37.00".
static PRICE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?:(?:€|EUR)\s*(\d{1,3}(?:\.\d{3})*|\d+)(?:[,.](\d{2}))?)|(?:\b(\d{1,3}(?:\.\d{3})*|\d+)(?:,(\d{2}|-{1,2}))?\s*(?:€|Euro\b|EUR\b))",
    )
    .expect("valid regex")
});
static DAY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(Mo|Di|Mi|Do|Fr|Sa|So|Mon|Tue|Wed|Thu|Fri|Sat|Sun)\b(,?)").expect("valid regex")
});

/// How the phone channel renders replies.
#[derive(Debug, Clone)]
pub struct Style {
    /// Longest spoken reply, in characters; longer ones end at a sentence.
    pub max_chars: usize,
    /// How the city can send a link to a caller ("SMS", "E-Mail"), if at all.
    pub link_by: Option<String>,
}

impl Default for Style {
    fn default() -> Self {
        Style {
            max_chars: 450,
            link_by: None,
        }
    }
}

/// The reply's text for a caller's ear.
pub fn render(reply: &Reply, style: &Style) -> String {
    let lang = reply.lang;
    let mut sentences: Vec<String> = Vec::new();
    if reply.outcome == Outcome::Clarify && !reply.entries.is_empty() {
        let names: Vec<String> = reply.entries.iter().map(|e| e.name.clone()).collect();
        sentences.push(match lang {
            Lang::De => format!(
                "Meinen Sie {}? Sagen Sie bitte, welches.",
                or_list(&names, lang)
            ),
            Lang::En => format!(
                "Do you mean {}? Please say which one.",
                or_list(&names, lang)
            ),
        });
        return sentences.join(" ");
    }
    let mut list: Vec<String> = Vec::new();
    let flush = |list: &mut Vec<String>, sentences: &mut Vec<String>| {
        if !list.is_empty() {
            sentences.push(format!("{}.", and_list(list, lang)));
            list.clear();
        }
    };
    for line in reply.text.lines() {
        let line = speakable(line, lang);
        if line.is_empty() {
            continue;
        }
        if let Some(item) = line.strip_prefix("* ").or_else(|| line.strip_prefix("- ")) {
            list.push(item.trim_end_matches(['.', ';', ',']).to_string());
            continue;
        }
        flush(&mut list, &mut sentences);
        let ends = line.ends_with(['.', '!', '?', ':']);
        sentences.push(if ends { line } else { format!("{line}.") });
    }
    flush(&mut list, &mut sentences);
    let mut text = String::new();
    for s in sentences.iter().flat_map(|s| split_sentences(s)) {
        let s = s.replace(":.", ":");
        if !text.is_empty() && text.chars().count() + s.chars().count() > style.max_chars {
            break;
        }
        if !text.is_empty() {
            text.push(' ');
        }
        text.push_str(&s);
    }
    // A list cut off after its lead-in says nothing; end on the lead-in's sentence instead.
    let text = text.trim_end_matches(':').to_string();
    let has_link = reply
        .entries
        .iter()
        .any(|e| e.source.is_some() || e.booking.is_some());
    match (&style.link_by, has_link, reply.outcome) {
        (Some(by), true, Outcome::Answer) => format!(
            "{text} {}",
            match lang {
                Lang::De =>
                    format!("Den Link zur Seite der Stadt kann ich Ihnen per {by} schicken."),
                Lang::En => format!("I can send you the link to the city's page by {by}."),
            }
        ),
        _ => text,
    }
}

/// Cut points for a long reply: after ".", "!" or "?" and a space.
fn split_sentences(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        current.push(c);
        if matches!(c, '.' | '!' | '?') && chars.peek().is_some_and(|n| n.is_whitespace()) {
            out.push(current.trim().to_string());
            current.clear();
        }
    }
    if !current.trim().is_empty() {
        out.push(current.trim().to_string());
    }
    out
}

/// One line without what cannot be said, with prices, times and days in words.
fn speakable(line: &str, lang: Lang) -> String {
    let line = MARKDOWN_LINK.replace_all(line.trim(), "$1");
    let had_link = URL.is_match(&line) || EMAIL.is_match(&line);
    let line = URL.replace_all(&line, "");
    let line = EMAIL.replace_all(&line, "");
    let line = line.replace("**", "").replace(['“', '”', '„', '"'], "");
    let line = line.trim().trim_end_matches(',').trim().to_string();
    // A line that only labelled a link ("Quelle:", "Termin buchen:") has nothing left to say.
    if had_link && line.split_whitespace().count() <= 3 {
        return String::new();
    }
    let line = TIME_RANGE.replace_all(&line, |c: &regex::Captures| {
        let (h1, m1, h2, m2) = (&c[1], &c[2], &c[3], &c[4]);
        match lang {
            Lang::De => format!("{} bis {}", clock_de(h1, m1, false), clock_de(h2, m2, true)),
            Lang::En => format!("{} to {}", clock_en(h1, m1), clock_en(h2, m2)),
        }
    });
    let line = TIME.replace_all(&line, |c: &regex::Captures| match lang {
        Lang::De => clock_de(&c[1], &c[2], true),
        Lang::En => clock_en(&c[1], &c[2]),
    });
    let line = PRICE.replace_all(&line, |c: &regex::Captures| {
        let (euros, cents) = match (c.get(1), c.get(3)) {
            (Some(e), _) => (e.as_str(), c.get(2).map(|m| m.as_str())),
            (None, Some(e)) => (e.as_str(), c.get(4).map(|m| m.as_str())),
            _ => return c[0].to_string(),
        };
        price(euros, cents, lang)
    });
    let line = DAY.replace_all(&line, |c: &regex::Captures| {
        format!("{}{}", day(&c[1]), &c[2])
    });
    line.to_string()
}

/// "08", "30" → "8 Uhr 30"; a range's first half leaves out "Uhr" when the hour is full:
/// "8 bis 12 Uhr".
fn clock_de(h: &str, m: &str, last: bool) -> String {
    let h: u32 = h.parse().unwrap_or(0);
    match (m, last) {
        ("00", true) => format!("{h} Uhr"),
        ("00", false) => format!("{h}"),
        (m, _) => format!("{h} Uhr {}", m.trim_start_matches('0')),
    }
}

fn clock_en(h: &str, m: &str) -> String {
    let h: u32 = h.parse().unwrap_or(0);
    let (h12, suffix) = match h {
        0 => (12, "a.m."),
        1..=11 => (h, "a.m."),
        12 => (12, "p.m."),
        _ => (h - 12, "p.m."),
    };
    if m == "00" {
        if h == 12 {
            "noon".to_string()
        } else {
            format!("{h12} {suffix}")
        }
    } else {
        format!("{h12}:{m} {suffix}")
    }
}

fn price(euros: &str, cents: Option<&str>, lang: Lang) -> String {
    let euros = euros.replace('.', "");
    let euros = euros.trim_start_matches('0');
    let euros = if euros.is_empty() { "0" } else { euros };
    let cents = cents.filter(|c| c.chars().all(|d| d.is_ascii_digit()) && *c != "00");
    match (lang, cents) {
        (Lang::De, None) => format!("{euros} Euro"),
        (Lang::De, Some(c)) => format!("{euros} Euro {}", c.trim_start_matches('0')),
        (Lang::En, None) => format!("{euros} euros"),
        (Lang::En, Some(c)) => format!("{euros} euros {}", c.trim_start_matches('0')),
    }
}

fn day(abbr: &str) -> &'static str {
    match abbr {
        "Mo" => "Montag",
        "Di" => "Dienstag",
        "Mi" => "Mittwoch",
        "Do" => "Donnerstag",
        "Fr" => "Freitag",
        "Sa" => "Samstag",
        "So" => "Sonntag",
        "Mon" => "Monday",
        "Tue" => "Tuesday",
        "Wed" => "Wednesday",
        "Thu" => "Thursday",
        "Fri" => "Friday",
        "Sat" => "Saturday",
        _ => "Sunday",
    }
}

fn joined(items: &[String], word: &str) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} {word} {last}", rest.join(", ")),
    }
}

fn and_list(items: &[String], lang: Lang) -> String {
    joined(items, if lang == Lang::De { "und" } else { "and" })
}

fn or_list(items: &[String], lang: Lang) -> String {
    joined(items, if lang == Lang::De { "oder" } else { "or" })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialogue::EntryRef;

    fn reply(outcome: Outcome, text: &str, lang: Lang) -> Reply {
        Reply {
            outcome,
            text: text.into(),
            lang,
            entries: vec![EntryRef {
                id: "personalausweis".parse().unwrap(),
                name: "Personalausweis".into(),
                source: Some("https://musterstadt.de/perso".into()),
                booking: None,
            }],
            aspect: None,
            handoff: None,
            offer_handoff: false,
            silent: false,
        }
    }

    #[test]
    fn prices_times_and_days_are_said_not_read() {
        let r = reply(
            Outcome::Answer,
            "Gebühren für „Personalausweis“:\n* 37,00 € ab 24 Jahren\n* 22,80 Euro unter 24 Jahren\nÖffnungszeiten: Mo, Mi, Fr 08:00–12:30; Di 14:00–18:00\nQuelle: https://musterstadt.de/perso",
            Lang::De,
        );
        let text = render(&r, &Style::default());
        assert_eq!(
            text,
            "Gebühren für Personalausweis: 37 Euro ab 24 Jahren und 22 Euro 80 unter 24 Jahren. \
             Öffnungszeiten: Montag, Mittwoch, Freitag 8 bis 12 Uhr 30; Dienstag 14 bis 18 Uhr."
        );
        assert!(!text.contains("http"));
    }

    #[test]
    fn links_are_offered_where_the_city_sends_them() {
        let r = reply(
            Outcome::Answer,
            "Personalausweis\nDer Ausweis gilt zehn Jahre. Mehr unter www.musterstadt.de/perso",
            Lang::De,
        );
        let style = Style {
            link_by: Some("SMS".into()),
            ..Style::default()
        };
        let text = render(&r, &style);
        assert!(!text.contains("www"), "{text}");
        assert!(
            text.ends_with("Den Link zur Seite der Stadt kann ich Ihnen per SMS schicken."),
            "{text}"
        );
    }

    #[test]
    fn choices_become_a_question_and_english_times_use_am_pm() {
        let mut r = reply(Outcome::Clarify, "1. A\n2. B", Lang::En);
        r.entries.push(EntryRef {
            name: "Passport".into(),
            ..r.entries[0].clone()
        });
        assert_eq!(
            render(&r, &Style::default()),
            "Do you mean Personalausweis or Passport? Please say which one."
        );
        let r = reply(
            Outcome::Answer,
            "Opening hours: Mon 08:00–12:00\nE-mail: buergerbuero@musterstadt.de\nFee: €37.00",
            Lang::En,
        );
        assert_eq!(
            render(&r, &Style::default()),
            "Opening hours: Monday 8 a.m. to noon. Fee: 37 euros."
        );
    }

    #[test]
    fn long_replies_end_at_a_sentence() {
        let long = "Erster Satz mit Inhalt. ".repeat(5)
            + "\n"
            + &"Zweiter Teil, der zu lang ist. ".repeat(30);
        let text = render(&reply(Outcome::Answer, &long, Lang::De), &Style::default());
        assert!(text.chars().count() <= 450, "{}", text.len());
        assert!(text.ends_with('.'));
    }
}
