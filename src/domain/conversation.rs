//! Conversations as Rathaus keeps them: their channels, states and messages, why they go to
//! a person, what the assistant did with a message and what it remembers between messages.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::StaffId;
use crate::knowledge::EntryId;
use crate::language::Lang;

/// A stored or sent value that names nothing Rathaus knows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UnknownValue(pub String);

/// Where a conversation takes place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Web,
    Email,
    Telegram,
    Phone,
    Api,
}

impl Channel {
    /// Whether a written staff reply can reach the citizen here (a caller is called back).
    pub fn takes_written_replies(self) -> bool {
        self != Channel::Phone
    }

    /// Whether the channel's own sender carries a message of `author` to the citizen, through
    /// the outbox: a Telegram chat gets the bot's and staff's lines that way, a mail thread
    /// staff's (the mailbox worker composes the bot's replies to each mail itself). The widget
    /// reads its transcript, and a caller hears the reply in the call.
    pub fn delivers(self, author: Author) -> bool {
        match self {
            Channel::Telegram => matches!(author, Author::Bot | Author::Staff),
            Channel::Email => author == Author::Staff,
            Channel::Web | Channel::Phone | Channel::Api => false,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Web => "web",
            Channel::Email => "email",
            Channel::Telegram => "telegram",
            Channel::Phone => "phone",
            Channel::Api => "api",
        }
    }
}

impl std::str::FromStr for Channel {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, UnknownValue> {
        Ok(match s {
            "web" => Channel::Web,
            "email" => Channel::Email,
            "telegram" => Channel::Telegram,
            "phone" => Channel::Phone,
            "api" => Channel::Api,
            other => return Err(UnknownValue(format!("unknown channel '{other}'"))),
        })
    }
}

/// Who has a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConversationState {
    /// The bot answers.
    Bot,
    /// Handed over, waiting in the staff queue.
    Waiting,
    /// A person has it; the bot is silent.
    Claimed,
    /// Closed by staff; the bot answers new questions again.
    Closed,
}

impl ConversationState {
    /// Whether the conversation is with the staff (waiting or claimed): the bot stays silent.
    pub fn with_staff(self) -> bool {
        matches!(
            self,
            ConversationState::Waiting | ConversationState::Claimed
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ConversationState::Bot => "bot",
            ConversationState::Waiting => "waiting",
            ConversationState::Claimed => "claimed",
            ConversationState::Closed => "closed",
        }
    }
}

impl std::str::FromStr for ConversationState {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, UnknownValue> {
        Ok(match s {
            "bot" => ConversationState::Bot,
            "waiting" => ConversationState::Waiting,
            "claimed" => ConversationState::Claimed,
            "closed" => ConversationState::Closed,
            other => return Err(UnknownValue(format!("unknown state '{other}'"))),
        })
    }
}

/// A conversation id: a random UUID, also what citizens' channels refer to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ConversationId(pub uuid::Uuid);

impl ConversationId {
    pub fn new() -> ConversationId {
        ConversationId(uuid::Uuid::new_v4())
    }
}

impl Default for ConversationId {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Display for ConversationId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::str::FromStr for ConversationId {
    type Err = uuid::Error;
    fn from_str(s: &str) -> Result<Self, uuid::Error> {
        uuid::Uuid::parse_str(s).map(ConversationId)
    }
}

/// The stored digest of a conversation's access token; the token itself is never stored.
pub fn token_digest(token: &str) -> String {
    let mut h = Sha256::new();
    h.update(token.as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

#[derive(Debug, Clone)]
pub struct Conversation {
    pub id: ConversationId,
    pub channel: Channel,
    pub token_digest: String,
    pub state: ConversationState,
    pub context: Context,
    /// Why and since when it waits for a person, once handed over.
    pub handoff: Option<Handoff>,
    /// The staff member who has it, while claimed.
    pub assignee: Option<StaffId>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A conversation's handoff to staff.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Handoff {
    pub reason: HandoffReason,
    pub at: i64,
}

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Author {
    Citizen,
    Bot,
    Staff,
    /// Notes of the system: handoff, claim, close.
    System,
    /// An internal note of staff: shown in the console, never to the citizen.
    Note,
}

impl Author {
    pub fn as_str(self) -> &'static str {
        match self {
            Author::Citizen => "citizen",
            Author::Bot => "bot",
            Author::Staff => "staff",
            Author::System => "system",
            Author::Note => "note",
        }
    }
    /// An author as stored.
    pub fn parse(s: &str) -> Result<Author, UnknownValue> {
        Ok(match s {
            "citizen" => Author::Citizen,
            "bot" => Author::Bot,
            "staff" => Author::Staff,
            "system" => Author::System,
            "note" => Author::Note,
            other => return Err(UnknownValue(format!("unknown author '{other}'"))),
        })
    }
}

/// One message of a transcript.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Message {
    pub seq: i64,
    pub author: Author,
    pub channel: Channel,
    pub text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
    /// Entry ids the bot's reply referred to, in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub entries: Vec<String>,
    /// The name staff show to citizens, on staff messages and notes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author_name: Option<String>,
    /// Milliseconds since the Unix epoch.
    pub at: i64,
    /// Why the bot replied so, for staff only (never sent to a citizen).
    #[serde(skip)]
    pub why: Option<String>,
}

/// A message to append; the store numbers it.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub author: Author,
    pub channel: Channel,
    pub text: String,
    pub outcome: Option<Outcome>,
    pub entries: Vec<String>,
    pub author_name: Option<String>,
    /// Why the bot replied so (the core's account of its decision), on bot replies.
    pub why: Option<String>,
    /// The channel's own id of the citizen's message this one answers, for a channel that
    /// threads or quotes its replies (a Telegram message id).
    pub in_reply_to: Option<String>,
}

impl NewMessage {
    /// A message of the citizen's.
    pub fn citizen(channel: Channel, text: impl Into<String>) -> NewMessage {
        NewMessage {
            author: Author::Citizen,
            channel,
            text: text.into(),
            outcome: None,
            entries: Vec::new(),
            author_name: None,
            why: None,
            in_reply_to: None,
        }
    }

    /// A line of the system's in the transcript: handoff, claim, close.
    pub fn system(channel: Channel, text: impl Into<String>) -> NewMessage {
        NewMessage {
            author: Author::System,
            ..NewMessage::citizen(channel, text)
        }
    }
}

/// A question the bot could not answer, masked, for the admins' to-do list.
#[derive(Debug, Clone, Serialize)]
pub struct Unanswered {
    pub text: String,
    pub lang: String,
    pub at: i64,
}

/// Why a conversation goes to a person.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum HandoffReason {
    /// The citizen asked for a person.
    Requested,
    /// The citizen asked to be called back.
    Callback,
    /// The citizen complains and wants someone responsible.
    Complaint,
    /// The bot could not answer and the citizen accepted the offer of a person.
    NotAnswered,
}

/// What the bot did with a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// One entry, quoted, with its source.
    Answer,
    /// Two or three entries offered as choices.
    Clarify,
    /// Nothing in the catalogue fits; a person is offered.
    DontKnow,
    /// The conversation goes (or has gone) to a person.
    Handoff,
    /// Greetings, thanks, goodbye, "who are you".
    Smalltalk,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Answer => "answer",
            Outcome::Clarify => "clarify",
            Outcome::DontKnow => "dont_know",
            Outcome::Handoff => "handoff",
            Outcome::Smalltalk => "smalltalk",
        }
    }
}

/// What the core remembers of a conversation between messages.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Context {
    /// The entry answered last, for follow-ups such as "und was kostet das?".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_entry: Option<EntryId>,
    /// The choices offered last, for "2" or a button.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<EntryId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<Lang>,
    /// A person has the conversation: the bot stays silent.
    #[serde(default)]
    pub with_staff: bool,
}
