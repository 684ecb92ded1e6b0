//! The people who answer when the assistant hands over: staff, their roles and sessions, the
//! queue as they see it, and their canned replies.

use serde::Serialize;

use super::{Channel, ConversationId, ConversationState, HandoffReason};

/// A staff member's id (a random UUID).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct StaffId(pub String);

impl StaffId {
    pub fn new() -> StaffId {
        StaffId(uuid::Uuid::new_v4().to_string())
    }
}

impl Default for StaffId {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Display for StaffId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a staff member may do: agents work the queue; admins also manage canned replies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum StaffRole {
    Agent,
    Admin,
}

impl StaffRole {
    pub fn as_str(self) -> &'static str {
        match self {
            StaffRole::Agent => "agent",
            StaffRole::Admin => "admin",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Staff {
    pub id: StaffId,
    pub email: String,
    /// The name citizens see on replies ("Anna Weber").
    pub name: String,
    pub role: StaffRole,
    pub active: bool,
}

/// A signed-in staff member's session, found by the digest of its cookie.
#[derive(Debug, Clone)]
pub struct Session {
    pub staff: Staff,
    /// The session's anti-CSRF token, sent back with every state-changing request.
    pub csrf: String,
    pub created_at: i64,
    pub seen_at: i64,
}

/// A conversation as the queue lists it.
#[derive(Debug, Clone, Serialize)]
pub struct QueueItem {
    pub id: ConversationId,
    pub channel: Channel,
    pub state: ConversationState,
    pub reason: Option<HandoffReason>,
    pub handoff_at: Option<i64>,
    pub assignee: Option<StaffId>,
    pub assignee_name: Option<String>,
    pub closed_outcome: Option<String>,
    /// The citizen's last message.
    pub last_message: Option<String>,
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CannedReply {
    pub id: String,
    pub title: String,
    pub body: String,
}
