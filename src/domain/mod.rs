//! What Rathaus is about, below everything else: conversations and their messages, staff,
//! the states a conversation goes through, and the clock its records are kept by. Nothing
//! here knows of storage, HTTP or the channels; every other layer builds on these types.

mod conversation;
mod staff;

pub use conversation::{
    Author, Channel, Context, Conversation, ConversationId, ConversationState, Handoff,
    HandoffReason, Message, NewMessage, Outcome, Unanswered, UnknownValue, token_digest,
};
pub use staff::{CannedReply, QueueItem, Session, Staff, StaffId, StaffRole};

/// Longest message the core reads, in characters. The HTTP edge refuses longer ones; a
/// channel that cannot refuse (a long mail) has the rest kept in the transcript, unread.
pub const MAX_MESSAGE_CHARS: usize = 4000;

/// Now, in milliseconds since the Unix epoch: how every record is timed.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
