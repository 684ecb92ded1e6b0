//! Reads a Bot API update into what the citizen did: wrote text, gave a command, sent
//! something other than text, or pressed a button. Decides what the bot must leave alone —
//! channel posts, service messages, and in groups everything not addressed to it. Pure: it
//! sends nothing and keeps nothing.

use teloxide::types::{
    CallbackQuery, MediaKind as Sent, Message, MessageKind, Update, UpdateKind, User,
};

use super::render::Choice;
use crate::language::Lang;

/// Who the bot is, from `getMe`: to tell in groups whether a message is meant for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BotIdentity {
    pub id: u64,
    /// Without the leading `@`.
    pub username: String,
}

/// What an update asks of Rathaus.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// Nothing to answer; the reason is for the debug log.
    Ignored(&'static str),
    Message(CitizenMessage),
    Button(ButtonPress),
}

/// Where a citizen wrote and in which language their Telegram app is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin {
    pub chat: i64,
    /// A group or supergroup: replies quote the message they answer.
    pub group: bool,
    pub lang: Option<Lang>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CitizenMessage {
    pub from: Origin,
    pub message_id: i32,
    /// A correction of a message sent before.
    pub edited: bool,
    pub content: Content,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Content {
    Text(String),
    Command(Command),
    /// Anything but text; the bot reads only text.
    Media(Media),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// `/start`: greeting, what answers here, how to reach a person, privacy notice.
    Start,
    /// `/help`, and any command the bot does not know in a private chat.
    Help,
    /// `/mensch`, `/agent`: hand over to a person.
    Person,
}

impl Command {
    /// As the transcript records it.
    pub fn as_str(self) -> &'static str {
        match self {
            Command::Start => "/start",
            Command::Help => "/help",
            Command::Person => "/mensch",
        }
    }
}

/// A message that is not text, as the transcript names it: no file, place or number is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Media {
    pub kind: MediaKind,
    /// The text sent with a photo, video or document.
    pub caption: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaKind {
    Photo,
    Sticker,
    Voice,
    Audio,
    Video,
    VideoNote,
    Animation,
    Document,
    Location,
    Contact,
    Poll,
    Other,
}

impl Media {
    /// The transcript line: what was sent, and its caption.
    pub fn transcript(&self) -> String {
        let what = match self.kind {
            MediaKind::Photo => "[Foto]",
            MediaKind::Sticker => "[Sticker]",
            MediaKind::Voice => "[Sprachnachricht]",
            MediaKind::Audio => "[Audiodatei]",
            MediaKind::Video => "[Video]",
            MediaKind::VideoNote => "[Videonachricht]",
            MediaKind::Animation => "[GIF]",
            MediaKind::Document => "[Datei]",
            MediaKind::Location => "[Standort]",
            MediaKind::Contact => "[Kontakt]",
            MediaKind::Poll => "[Umfrage]",
            MediaKind::Other => "[Nachricht ohne Text]",
        };
        match self
            .caption
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty())
        {
            Some(c) => format!("{what} {c}"),
            None => what.to_string(),
        }
    }
}

/// A press on one of the bot's inline buttons.
#[derive(Debug, Clone, PartialEq)]
pub struct ButtonPress {
    pub from: Origin,
    pub callback_id: String,
    /// The message that carries the buttons, when Telegram still has it.
    pub message_id: Option<i32>,
    /// `None`: a button of an older version, or data Rathaus did not send.
    pub choice: Option<Choice>,
}

/// The language of a Telegram user's app (an IETF tag such as `de` or `en-GB`), where
/// Rathaus speaks it.
fn language(user: &User) -> Option<Lang> {
    let code = user.language_code.as_deref()?;
    code.split(['-', '_']).next()?.parse().ok()
}

/// What an update asks of Rathaus.
pub fn read(update: &Update, me: &BotIdentity) -> Incoming {
    match &update.kind {
        UpdateKind::Message(m) => message(m, me, false),
        UpdateKind::EditedMessage(m) => message(m, me, true),
        UpdateKind::CallbackQuery(q) => button(q),
        UpdateKind::ChannelPost(_) | UpdateKind::EditedChannelPost(_) => {
            Incoming::Ignored("channel post")
        }
        UpdateKind::Error(_) => Incoming::Ignored("an update this version cannot read"),
        _ => Incoming::Ignored("not a message"),
    }
}

fn button(q: &CallbackQuery) -> Incoming {
    let Some(message) = &q.message else {
        return Incoming::Ignored("button of an inline message");
    };
    let chat = message.chat();
    Incoming::Button(ButtonPress {
        from: Origin {
            chat: chat.id.0,
            group: chat.is_group() || chat.is_supergroup(),
            lang: language(&q.from),
        },
        callback_id: q.id.0.clone(),
        message_id: Some(message.id().0),
        choice: q.data.as_deref().and_then(Choice::parse),
    })
}

fn message(m: &Message, me: &BotIdentity, edited: bool) -> Incoming {
    let chat = &m.chat;
    if !(chat.is_private() || chat.is_group() || chat.is_supergroup()) {
        return Incoming::Ignored("not a private or group chat");
    }
    let Some(sender) = m.from.as_ref() else {
        return Incoming::Ignored("no sender");
    };
    if sender.is_bot {
        return Incoming::Ignored("written by a bot");
    }
    let group = !chat.is_private();
    let from = Origin {
        chat: chat.id.0,
        group,
        lang: language(sender),
    };
    let reply_to_bot = m
        .reply_to_message()
        .and_then(|r| r.from.as_ref())
        .is_some_and(|u| u.id.0 == me.id);
    let content = if let Some(text) = m.text() {
        match command(text, me) {
            Some(Addressed::ToUs(c)) => Content::Command(c),
            Some(Addressed::Elsewhere) => return Incoming::Ignored("command for another bot"),
            None if group => match without_mention(text, &me.username) {
                Some(t) => Content::Text(t),
                None if reply_to_bot => Content::Text(text.trim().to_string()),
                None => return Incoming::Ignored("group message not addressed to the bot"),
            },
            None => Content::Text(text.trim().to_string()),
        }
    } else if let Some(kind) = media_kind(m) {
        let caption = m.caption().map(str::to_string);
        let addressed = reply_to_bot
            || caption
                .as_deref()
                .is_some_and(|c| without_mention(c, &me.username).is_some());
        if group && !addressed {
            return Incoming::Ignored("group media not addressed to the bot");
        }
        Content::Media(Media { kind, caption })
    } else {
        return Incoming::Ignored("service message");
    };
    if matches!(&content, Content::Text(t) if t.is_empty()) {
        return Incoming::Ignored("nothing but the bot's name");
    }
    Incoming::Message(CitizenMessage {
        from,
        message_id: m.id.0,
        edited,
        content,
    })
}

/// What a message other than text carries; `None` for service messages (members joined, a
/// message pinned, a group moved to a supergroup, …). What a citizen sent that Rathaus does
/// not name is `Other`. Every kind is listed: a teloxide upgrade that adds one is noticed.
fn media_kind(m: &Message) -> Option<MediaKind> {
    let common = match &m.kind {
        MessageKind::Common(c) => c,
        MessageKind::Dice(_) => return Some(MediaKind::Other),
        _ => return None,
    };
    Some(match &common.media_kind {
        Sent::Photo(_) => MediaKind::Photo,
        Sent::Sticker(_) => MediaKind::Sticker,
        Sent::Voice(_) => MediaKind::Voice,
        Sent::Audio(_) => MediaKind::Audio,
        Sent::Video(_) => MediaKind::Video,
        Sent::VideoNote(_) => MediaKind::VideoNote,
        Sent::Animation(_) => MediaKind::Animation,
        Sent::Document(_) => MediaKind::Document,
        Sent::Location(_) | Sent::Venue(_) => MediaKind::Location,
        Sent::Contact(_) => MediaKind::Contact,
        Sent::Poll(_) => MediaKind::Poll,
        Sent::PaidMedia(_) | Sent::Game(_) | Sent::Checklist(_) | Sent::Story(_) => {
            MediaKind::Other
        }
        // Text is read before this is asked; a group's move to a supergroup is a service line.
        Sent::Text(_) | Sent::Migration(_) => return None,
    })
}

enum Addressed {
    ToUs(Command),
    Elsewhere,
}

/// A command at the start of the text: `/name` or `/name@bot`, arguments ignored.
fn command(text: &str, me: &BotIdentity) -> Option<Addressed> {
    let word = text
        .trim_start()
        .strip_prefix('/')?
        .split_whitespace()
        .next()?;
    let (name, bot) = match word.split_once('@') {
        Some((n, b)) => (n, Some(b)),
        None => (word, None),
    };
    if bot.is_some_and(|b| !b.eq_ignore_ascii_case(&me.username)) {
        return Some(Addressed::Elsewhere);
    }
    Some(Addressed::ToUs(match name.to_ascii_lowercase().as_str() {
        "start" => Command::Start,
        "mensch" | "agent" | "mitarbeiter" | "person" => Command::Person,
        _ => Command::Help,
    }))
}

/// The text without the first `@bot` mention, if it mentions the bot.
fn without_mention(text: &str, username: &str) -> Option<String> {
    if username.is_empty() {
        return None;
    }
    let handle = format!("@{}", username.to_ascii_lowercase());
    let lower = text.to_ascii_lowercase();
    let mut from = 0;
    while let Some(i) = lower[from..].find(&handle).map(|i| i + from) {
        let end = i + handle.len();
        let ends_word = lower[end..]
            .chars()
            .next()
            .is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_'));
        if ends_word {
            let rest = format!("{} {}", &text[..i], &text[end..]);
            let rest = rest.split_whitespace().collect::<Vec<_>>().join(" ");
            let rest = rest.trim_matches([',', ':', ' ']).to_string();
            return Some(rest);
        }
        from = end;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn me() -> BotIdentity {
        BotIdentity {
            id: 999,
            username: "MusterstadtBot".into(),
        }
    }

    /// Parsed from text, as updates arrive: teloxide reads an `Update` only from text
    /// (from a `serde_json::Value` it falls back to its unreadable-update case).
    fn update(kind: &str, message: serde_json::Value) -> Update {
        serde_json::from_str(&json!({ "update_id": 7, kind: message }).to_string()).unwrap()
    }

    fn private(extra: serde_json::Value) -> serde_json::Value {
        let mut m = json!({
            "message_id": 5,
            "date": 1_700_000_000,
            "chat": { "id": 42, "type": "private", "first_name": "Erika" },
            "from": { "id": 42, "is_bot": false, "first_name": "Erika", "language_code": "en-GB" },
        });
        m.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        m
    }

    fn group(extra: serde_json::Value) -> serde_json::Value {
        let mut m = private(extra);
        m["chat"] = json!({ "id": -100123, "type": "supergroup", "title": "Nachbarschaft" });
        m
    }

    fn content(i: Incoming) -> Content {
        match i {
            Incoming::Message(m) => m.content,
            other => panic!("not a message: {other:?}"),
        }
    }

    #[test]
    fn private_text_is_a_question_in_the_apps_language() {
        let i = read(
            &update(
                "message",
                private(json!({"text": " Was kostet ein Pass? "})),
            ),
            &me(),
        );
        let Incoming::Message(m) = i else { panic!() };
        assert_eq!(m.content, Content::Text("Was kostet ein Pass?".into()));
        assert_eq!(
            m.from,
            Origin {
                chat: 42,
                group: false,
                lang: Some(Lang::En)
            }
        );
        assert!(!m.edited);
    }

    #[test]
    fn commands_with_or_without_the_bots_name() {
        for (text, want) in [
            ("/start", Command::Start),
            ("/start payload", Command::Start),
            ("/help", Command::Help),
            ("/mensch", Command::Person),
            ("/Agent@musterstadtbot", Command::Person),
            ("/unbekannt", Command::Help),
        ] {
            let i = read(&update("message", private(json!({ "text": text }))), &me());
            assert_eq!(content(i), Content::Command(want), "{text}");
        }
        let other = read(
            &update("message", private(json!({"text": "/start@OtherBot"}))),
            &me(),
        );
        assert!(matches!(other, Incoming::Ignored(_)));
    }

    #[test]
    fn in_groups_only_what_addresses_the_bot_is_read() {
        let talk = read(
            &update("message", group(json!({"text": "Wer kommt morgen?"}))),
            &me(),
        );
        assert!(matches!(talk, Incoming::Ignored(_)), "{talk:?}");

        let mention = read(
            &update(
                "message",
                group(json!({"text": "@musterstadtbot wo melde ich meinen Hund an?"})),
            ),
            &me(),
        );
        assert_eq!(
            content(mention),
            Content::Text("wo melde ich meinen Hund an?".into())
        );

        let not_us = read(
            &update(
                "message",
                group(json!({"text": "@musterstadtbotfan hallo"})),
            ),
            &me(),
        );
        assert!(matches!(not_us, Incoming::Ignored(_)));

        let reply = read(
            &update(
                "message",
                group(json!({
                    "text": "Und was kostet das?",
                    "reply_to_message": {
                        "message_id": 4, "date": 1_700_000_000,
                        "chat": { "id": -100123, "type": "supergroup", "title": "Nachbarschaft" },
                        "from": { "id": 999, "is_bot": true, "first_name": "Rathaus", "username": "MusterstadtBot" },
                        "text": "Hundesteuer …"
                    }
                })),
            ),
            &me(),
        );
        assert_eq!(content(reply), Content::Text("Und was kostet das?".into()));

        let command = read(
            &update("message", group(json!({"text": "/mensch@MusterstadtBot"}))),
            &me(),
        );
        let Incoming::Message(m) = command else {
            panic!()
        };
        assert_eq!(m.content, Content::Command(Command::Person));
        assert!(m.from.group);

        let photo = read(
            &update(
                "message",
                group(
                    json!({"photo": [{"file_id": "a", "file_unique_id": "b", "width": 1, "height": 1}]}),
                ),
            ),
            &me(),
        );
        assert!(matches!(photo, Incoming::Ignored(_)));
    }

    #[test]
    fn media_is_named_without_its_content() {
        let cases = [
            (
                json!({"photo": [{"file_id": "a", "file_unique_id": "b", "width": 1, "height": 1}], "caption": "Mein Ausweis"}),
                "[Foto] Mein Ausweis",
            ),
            (
                json!({"voice": {"file_id": "a", "file_unique_id": "b", "duration": 3, "mime_type": "audio/ogg"}}),
                "[Sprachnachricht]",
            ),
            // Something this version cannot read is still answered with the note.
            (
                json!({"dice": {"emoji": "🎲", "value": 4}}),
                "[Nachricht ohne Text]",
            ),
            (
                json!({"location": {"latitude": 48.1, "longitude": 11.5}}),
                "[Standort]",
            ),
            (
                json!({"contact": {"phone_number": "+49 170 1234567", "first_name": "Max"}}),
                "[Kontakt]",
            ),
            (
                json!({"sticker": {"file_id": "a", "file_unique_id": "b", "type": "regular", "width": 1, "height": 1, "is_animated": false, "is_video": false}}),
                "[Sticker]",
            ),
            (
                json!({"document": {"file_id": "a", "file_unique_id": "b", "file_name": "antrag.pdf"}}),
                "[Datei]",
            ),
        ];
        for (extra, line) in cases {
            let c = match read(&update("message", private(extra.clone())), &me()) {
                Incoming::Message(m) => m.content,
                other => panic!("{extra}: {other:?}"),
            };
            let Content::Media(media) = c else {
                panic!("{c:?}")
            };
            assert_eq!(media.transcript(), line);
        }
    }

    #[test]
    fn edited_messages_and_button_presses() {
        let edited = read(
            &update(
                "edited_message",
                private(json!({"text": "Reisepass", "edit_date": 1_700_000_100})),
            ),
            &me(),
        );
        let Incoming::Message(m) = edited else {
            panic!()
        };
        assert!(m.edited);

        let press: Update = serde_json::from_str(&json!({
            "update_id": 8,
            "callback_query": {
                "id": "cbq-1",
                "from": { "id": 42, "is_bot": false, "first_name": "Erika", "language_code": "de" },
                "chat_instance": "1",
                "data": "reisepass",
                "message": private(json!({"text": "Meinen Sie eines davon?"})),
            }
        })
        .to_string())
        .unwrap();
        let Incoming::Button(b) = read(&press, &me()) else {
            panic!()
        };
        assert_eq!(b.callback_id, "cbq-1");
        assert_eq!(b.message_id, Some(5));
        assert_eq!(b.from.lang, Some(Lang::De));
        assert_eq!(b.choice, Some(Choice::Entry("reisepass".parse().unwrap())));
    }

    #[test]
    fn channel_posts_and_service_messages_are_left_alone() {
        let post = json!({
            "message_id": 1, "date": 1_700_000_000,
            "chat": { "id": -1001, "type": "channel", "title": "Amtsblatt" },
            "text": "Neu"
        });
        assert!(matches!(
            read(&update("channel_post", post), &me()),
            Incoming::Ignored(_)
        ));
        let joined =
            group(json!({"new_chat_members": [{"id": 5, "is_bot": false, "first_name": "Neu"}]}));
        assert!(matches!(
            read(&update("message", joined), &me()),
            Incoming::Ignored(_)
        ));
    }
}
