//! The console's pages and the views they show: plain data prepared for the templates in
//! `src/console/templates/`, which escape everything they print.

use super::ConsoleState;
use askama::Template;
use chrono::TimeZone;

use super::auth::SignedIn;
use super::{CLOSE_OUTCOMES, ConsoleError};
use crate::dialogue::HandoffReason;
use crate::language::Lang;
use crate::store::{
    Author, CannedReply, Channel, ConversationId, ConversationState, QueueItem, Staff,
};

pub fn channel_label(c: Channel) -> &'static str {
    match c {
        Channel::Web => "Web-Chat",
        Channel::Email => "E-Mail",
        Channel::Telegram => "Telegram",
        Channel::Phone => "Telefon",
        Channel::Api => "API",
    }
}

pub fn reason_label(r: Option<HandoffReason>) -> &'static str {
    match r {
        Some(HandoffReason::Requested) => "Wollte einen Menschen sprechen",
        Some(HandoffReason::Callback) => "Bittet um Rückruf",
        Some(HandoffReason::Complaint) => "Beschwerde",
        Some(HandoffReason::NotAnswered) => "Bot wusste keine Antwort",
        None => "—",
    }
}

pub fn state_label(s: ConversationState) -> &'static str {
    match s {
        ConversationState::Bot => "beim Bot",
        ConversationState::Waiting => "wartet",
        ConversationState::Claimed => "in Bearbeitung",
        ConversationState::Closed => "abgeschlossen",
    }
}

fn outcome_label(o: &str) -> &str {
    CLOSE_OUTCOMES
        .iter()
        .find(|(k, _)| *k == o)
        .map_or(o, |(_, label)| *label)
}

/// "vor 5 Min.", "vor 2 Std. 10 Min.": how long something has been waiting.
pub fn waited(since: i64, now: i64) -> String {
    let minutes = ((now - since).max(0) / 60_000) as u64;
    match minutes {
        0 => "gerade eben".into(),
        m if m < 60 => format!("seit {m} Min."),
        m => format!("seit {} Std. {} Min.", m / 60, m % 60),
    }
}

/// A time of day as staff in the city read it.
pub fn clock(ms: i64) -> String {
    chrono_tz::Europe::Berlin
        .timestamp_millis_opt(ms)
        .single()
        .map(|t| t.format("%d.%m. %H:%M").to_string())
        .unwrap_or_default()
}

fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let cut: String = text.chars().take(max).collect();
        format!("{}…", cut.trim_end())
    }
}

pub struct QueueRow {
    pub id: String,
    pub channel: &'static str,
    pub state: &'static str,
    pub waiting: bool,
    pub reason: &'static str,
    pub since: String,
    pub last_message: String,
    pub assignee: String,
    pub mine: bool,
    pub outcome: String,
}

impl QueueRow {
    pub fn all(items: Vec<QueueItem>, me: &SignedIn, now: i64) -> Vec<QueueRow> {
        items
            .into_iter()
            .map(|i| QueueRow {
                id: i.id.to_string(),
                channel: channel_label(i.channel),
                state: state_label(i.state),
                waiting: i.state == ConversationState::Waiting,
                reason: reason_label(i.reason),
                since: i.handoff_at.map(|at| waited(at, now)).unwrap_or_default(),
                last_message: shorten(i.last_message.as_deref().unwrap_or(""), 160),
                assignee: i.assignee_name.unwrap_or_default(),
                mine: i.assignee.as_ref() == Some(&me.staff().id),
                outcome: i
                    .closed_outcome
                    .as_deref()
                    .map(outcome_label)
                    .unwrap_or_default()
                    .to_string(),
            })
            .collect()
    }
}

pub struct EntryView {
    pub name: String,
    pub source: Option<String>,
}

pub struct MessageView {
    /// CSS class and role: citizen, bot, staff, system, note.
    pub kind: &'static str,
    pub who: String,
    pub at: String,
    pub text: String,
    pub outcome: &'static str,
    pub entries: Vec<EntryView>,
    /// Why the bot replied so, on bot replies.
    pub why: Option<String>,
}

impl MessageView {
    pub async fn all(
        state: &ConsoleState,
        id: ConversationId,
    ) -> Result<Vec<MessageView>, ConsoleError> {
        let dialogue = state.conversations.dialogue();
        let messages = state.conversations.transcript(id).await?;
        Ok(messages
            .into_iter()
            .map(|m| {
                let (kind, who) = match m.author {
                    Author::Citizen => ("citizen", "Bürger/in".to_string()),
                    Author::Bot => ("bot", "Assistent (Bot)".to_string()),
                    Author::Staff => (
                        "staff",
                        m.author_name
                            .clone()
                            .unwrap_or_else(|| "Mitarbeiter/in".into()),
                    ),
                    Author::System => ("system", "System".to_string()),
                    Author::Note => (
                        "note",
                        format!(
                            "Interne Notiz von {}",
                            m.author_name.as_deref().unwrap_or("Mitarbeiter/in")
                        ),
                    ),
                };
                MessageView {
                    why: m.why,
                    kind,
                    who,
                    at: clock(m.at),
                    outcome: m.outcome.map(|o| o.as_str()).unwrap_or(""),
                    entries: m
                        .entries
                        .iter()
                        .map(|e| match dialogue.entry_ref(e, Lang::De) {
                            Some(r) => EntryView {
                                name: r.name,
                                source: r.source,
                            },
                            None => EntryView {
                                name: format!("Eintrag {e} (nicht mehr im Katalog)"),
                                source: None,
                            },
                        })
                        .collect(),
                    text: m.text,
                }
            })
            .collect())
    }
}

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage {
    pub csrf: String,
    pub error: Option<&'static str>,
}

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub title: &'static str,
    pub message: String,
}

#[derive(Template)]
#[template(path = "queue.html")]
pub struct QueuePage<'a> {
    pub me: &'a Staff,
    pub csrf: &'a str,
    pub rows: Vec<QueueRow>,
    pub closed: Vec<QueueRow>,
}

#[derive(Template)]
#[template(path = "queue_rows.html")]
pub struct QueueRowsFragment {
    pub rows: Vec<QueueRow>,
}

#[derive(Template)]
#[template(path = "transcript.html")]
pub struct TranscriptFragment {
    pub messages: Vec<MessageView>,
}

pub struct Colleague {
    pub id: String,
    pub name: String,
}

#[derive(Template)]
#[template(path = "conversation.html")]
pub struct ConversationPage<'a> {
    pub me: &'a Staff,
    pub csrf: &'a str,
    pub id: String,
    pub channel: &'static str,
    pub state: &'static str,
    pub reason: &'static str,
    pub since: String,
    pub assignee: String,
    pub can_claim: bool,
    pub mine: bool,
    /// A written reply can reach the citizen (not a phone caller: they are called back).
    pub can_write: bool,
    pub closable: bool,
    pub reopenable: bool,
    /// A phone caller waits for a callback that this agent may record.
    pub callback: bool,
    pub messages: Vec<MessageView>,
    pub colleagues: Vec<Colleague>,
    pub canned: Vec<CannedReply>,
    pub outcomes: &'static [(&'static str, &'static str)],
}

impl<'a> ConversationPage<'a> {
    pub async fn load(
        state: &ConsoleState,
        me: &'a SignedIn,
        id: ConversationId,
    ) -> Result<ConversationPage<'a>, ConsoleError> {
        let store = state.conversations.store();
        let c = super::handed_over(state, id).await?;
        let assignee = match &c.assignee {
            Some(s) => store
                .staff_member(s)
                .await?
                .map(|s| s.name)
                .unwrap_or_default(),
            None => String::new(),
        };
        let mine =
            c.state == ConversationState::Claimed && c.assignee.as_ref() == Some(&me.staff().id);
        let colleagues = store
            .staff_list()
            .await?
            .into_iter()
            .filter(|s| s.active && s.id != me.staff().id)
            .map(|s| Colleague {
                id: s.id.0,
                name: s.name,
            })
            .collect();
        let closable = c.state == ConversationState::Waiting || mine;
        Ok(ConversationPage {
            me: me.staff(),
            csrf: &me.session.csrf,
            id: id.to_string(),
            channel: channel_label(c.channel),
            state: state_label(c.state),
            reason: reason_label(c.handoff.map(|h| h.reason)),
            since: c
                .handoff
                .map(|h| super::pages::clock(h.at))
                .unwrap_or_default(),
            assignee,
            can_claim: c.state == ConversationState::Waiting,
            mine,
            can_write: mine && c.channel.takes_written_replies(),
            closable,
            reopenable: c.handoff.is_some()
                && matches!(c.state, ConversationState::Closed | ConversationState::Bot),
            // Only a phone call has a callback to record.
            callback: closable
                && c.channel == Channel::Phone
                && state.conversations.callback_open(id).await?,
            messages: MessageView::all(state, id).await?,
            colleagues,
            canned: store.canned_replies().await?,
            outcomes: &CLOSE_OUTCOMES,
        })
    }
}

#[derive(Template)]
#[template(path = "canned.html")]
pub struct CannedPage<'a> {
    pub me: &'a Staff,
    pub csrf: &'a str,
    pub replies: Vec<CannedReply>,
}
