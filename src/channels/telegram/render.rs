//! Rathaus's replies as Telegram messages: HTML parse mode with everything escaped, links as
//! anchors, clarify choices and "talk to a person" as inline buttons, long texts split below
//! Telegram's length limit. Pure functions: no I/O, no Bot API types beyond the keyboard.

use teloxide::types::{InlineKeyboardButton, InlineKeyboardMarkup};

use crate::channels::html::{escape, linkify};
use crate::dialogue::{EntryRef, Outcome};
use crate::knowledge::EntryId;
use crate::language::Lang;

/// Telegram takes at most 4096 characters of text per message; the rest of the reply goes in
/// the next one. Kept lower so that the markup added around names and links never tips it over.
const MAX_CHARS: usize = 3500;
/// Longest button label; Telegram cuts longer ones on small screens anyway.
const MAX_BUTTON_CHARS: usize = 60;
/// The callback data of the "talk to a person" button: `!` cannot start an entry id.
const PERSON: &str = "!person";

/// One message to send: its HTML and, on the last part of a reply, its buttons.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    pub html: String,
    pub keyboard: Option<InlineKeyboardMarkup>,
}

/// What a citizen picked with a button.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    Entry(EntryId),
    Person,
}

impl Choice {
    /// Reads a button's callback data; `None` for anything Rathaus did not send.
    pub fn parse(data: &str) -> Option<Choice> {
        if data == PERSON {
            return Some(Choice::Person);
        }
        EntryId::try_from(data.to_string()).ok().map(Choice::Entry)
    }
}

/// A bot message as the channel shows it: the core's reply, or one recorded earlier.
#[derive(Debug, Clone, PartialEq)]
pub struct BotLine {
    pub outcome: Option<Outcome>,
    pub text: String,
    pub entries: Vec<EntryRef>,
    pub offer_handoff: bool,
    pub lang: Lang,
}

/// Cuts text into parts of at most `max` characters, at paragraph or line ends where there
/// are some, else at a space, else anywhere.
fn split(text: &str, max: usize) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut rest = text.trim();
    while rest.chars().count() > max {
        let limit = rest.char_indices().nth(max).map_or(rest.len(), |(i, _)| i);
        let window = &rest[..limit];
        let cut = window
            .rfind("\n\n")
            .or_else(|| window.rfind('\n'))
            .or_else(|| window.rfind(' '))
            .filter(|&i| i > 0)
            .unwrap_or(limit);
        parts.push(rest[..cut].trim_end());
        rest = rest[cut..].trim_start();
    }
    if !rest.is_empty() {
        parts.push(rest);
    }
    parts
}

/// Renders plain text as one or more messages, the first occurrence of `bold` in bold.
fn messages(text: &str, bold: Option<&str>) -> Vec<String> {
    let mut pending_bold = bold.filter(|b| !b.is_empty());
    split(text, MAX_CHARS)
        .into_iter()
        .map(
            |part| match pending_bold.and_then(|b| part.find(b).map(|i| (b, i))) {
                Some((b, i)) => {
                    pending_bold = None;
                    format!(
                        "{}<b>{}</b>{}",
                        linkify(&part[..i]),
                        escape(b),
                        linkify(&part[i + b.len()..])
                    )
                }
                None => linkify(part),
            },
        )
        .collect()
}

fn label(text: &str) -> String {
    if text.chars().count() <= MAX_BUTTON_CHARS {
        return text.to_string();
    }
    let cut: String = text.chars().take(MAX_BUTTON_CHARS - 1).collect();
    format!("{}…", cut.trim_end())
}

/// The label of the "talk to a person" button.
pub fn person_label(lang: Lang) -> &'static str {
    match lang {
        Lang::De => "Mit einem Menschen sprechen",
        Lang::En => "Talk to a person",
    }
}

fn keyboard(line: &BotLine) -> Option<InlineKeyboardMarkup> {
    let mut rows: Vec<Vec<InlineKeyboardButton>> = Vec::new();
    if line.outcome == Some(Outcome::Clarify) {
        for (i, e) in line.entries.iter().enumerate() {
            let text = if line.entries.len() == 1 {
                label(&e.name)
            } else {
                label(&format!("{}. {}", i + 1, e.name))
            };
            rows.push(vec![InlineKeyboardButton::callback(text, e.id.as_str())]);
        }
    }
    if line.offer_handoff {
        rows.push(vec![InlineKeyboardButton::callback(
            person_label(line.lang),
            PERSON,
        )]);
    }
    (!rows.is_empty()).then(|| InlineKeyboardMarkup::new(rows))
}

/// A bot reply as Telegram messages; buttons go with the last one.
pub fn bot_line(line: &BotLine) -> Vec<Outgoing> {
    let bold = match line.outcome {
        Some(Outcome::Answer) => line.entries.first().map(|e| e.name.as_str()),
        _ => None,
    };
    with_keyboard(messages(&line.text, bold), keyboard(line))
}

/// A staff member's reply, under their name.
pub fn staff_message(name: Option<&str>, text: &str) -> Vec<Outgoing> {
    let mut parts = messages(text, None);
    if let (Some(name), Some(first)) = (name.filter(|n| !n.trim().is_empty()), parts.first_mut()) {
        *first = format!("<b>{}</b>\n{first}", escape(name.trim()));
    }
    with_keyboard(parts, None)
}

fn with_keyboard(parts: Vec<String>, keyboard: Option<InlineKeyboardMarkup>) -> Vec<Outgoing> {
    let n = parts.len();
    parts
        .into_iter()
        .enumerate()
        .map(|(i, html)| Outgoing {
            html,
            keyboard: if i + 1 == n { keyboard.clone() } else { None },
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use teloxide::types::InlineKeyboardButtonKind;

    fn entry(id: &str, name: &str) -> EntryRef {
        EntryRef {
            id: id.parse().unwrap(),
            name: name.into(),
            source: None,
            booking: None,
        }
    }

    #[test]
    fn an_answer_names_its_entry_in_bold_and_has_no_buttons() {
        let line = BotLine {
            outcome: Some(Outcome::Answer),
            text: "Reisepass <neu>\nKosten 70 €\n\nQuelle: https://stadt.example/pass".into(),
            entries: vec![entry("reisepass", "Reisepass <neu>")],
            offer_handoff: false,
            lang: Lang::De,
        };
        let out = bot_line(&line);
        assert_eq!(out.len(), 1);
        assert!(
            out[0]
                .html
                .starts_with("<b>Reisepass &lt;neu&gt;</b>\nKosten"),
            "{}",
            out[0].html
        );
        assert!(
            out[0]
                .html
                .contains("<a href=\"https://stadt.example/pass\">")
        );
        assert_eq!(out[0].keyboard, None);
    }

    #[test]
    fn clarify_choices_become_buttons_whose_data_is_the_entry_id() {
        let line = BotLine {
            outcome: Some(Outcome::Clarify),
            text: "Meinen Sie eines davon?\n1. Reisepass\n2. Kinderreisepass".into(),
            entries: vec![
                entry("reisepass", "Reisepass"),
                entry("kinderreisepass", "Kinderreisepass"),
            ],
            offer_handoff: true,
            lang: Lang::De,
        };
        let keyboard = bot_line(&line).pop().unwrap().keyboard.unwrap();
        let buttons: Vec<(String, String)> = keyboard
            .inline_keyboard
            .iter()
            .flatten()
            .map(|b| match &b.kind {
                InlineKeyboardButtonKind::CallbackData(d) => (b.text.clone(), d.clone()),
                other => panic!("not a callback button: {other:?}"),
            })
            .collect();
        assert_eq!(
            buttons,
            vec![
                ("1. Reisepass".to_string(), "reisepass".to_string()),
                (
                    "2. Kinderreisepass".to_string(),
                    "kinderreisepass".to_string()
                ),
                (
                    "Mit einem Menschen sprechen".to_string(),
                    PERSON.to_string()
                ),
            ]
        );
        for (_, data) in &buttons {
            assert!(data.len() <= 64, "callback data over Telegram's limit");
            assert!(Choice::parse(data).is_some());
        }
        assert_eq!(Choice::parse(PERSON), Some(Choice::Person));
        assert_eq!(Choice::parse("../etc"), None);
    }

    #[test]
    fn long_replies_are_split_at_line_ends_below_the_limit_with_buttons_on_the_last() {
        let para = "Zeile mit Text. ".repeat(20);
        let text = vec![para.trim(); 30].join("\n\n");
        let line = BotLine {
            outcome: Some(Outcome::DontKnow),
            text: text.clone(),
            entries: Vec::new(),
            offer_handoff: true,
            lang: Lang::En,
        };
        let out = bot_line(&line);
        assert!(out.len() >= 3, "{} parts", out.len());
        for o in &out {
            assert!(o.html.chars().count() <= 4096);
            assert!(o.html.starts_with("Zeile") && o.html.ends_with("Text."));
        }
        assert!(out[..out.len() - 1].iter().all(|o| o.keyboard.is_none()));
        assert!(out.last().unwrap().keyboard.is_some());
        let joined: String = out
            .iter()
            .map(|o| o.html.as_str())
            .collect::<Vec<_>>()
            .join("\n\n");
        assert_eq!(joined, text);
    }

    #[test]
    fn a_word_longer_than_a_message_is_cut_anyway() {
        let text = "x".repeat(MAX_CHARS * 2 + 5);
        let parts = split(&text, MAX_CHARS);
        assert_eq!(parts.len(), 3);
        assert_eq!(parts.concat(), text);
    }

    #[test]
    fn staff_replies_carry_the_name_escaped() {
        let out = staff_message(Some("Anna <Weber>"), "Ihr Termin ist frei & bestätigt.");
        assert_eq!(
            out[0].html,
            "<b>Anna &lt;Weber&gt;</b>\nIhr Termin ist frei &amp; bestätigt."
        );
    }
}
