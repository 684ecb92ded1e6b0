//! What happens in conversations, as it happens: new messages and state changes, published
//! once by the conversations service and read by whoever shows or delivers them
//! live — the widget's stream, the staff console's queue, the channels that carry a staff
//! reply to the citizen (Telegram, e-mail, phone callback). In-process: a slow reader loses
//! the oldest events (it is told so) and reloads from the store, which stays the truth.

use std::sync::Arc;

use serde::Serialize;
use tokio::sync::broadcast;

use crate::store::{Author, Channel, ConversationId, ConversationState, Message};

/// Events kept for readers that fall behind before they are told they lagged.
const CAPACITY: usize = 1024;

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// A message was added to a conversation's transcript.
    Message {
        conversation: ConversationId,
        channel: Channel,
        message: Message,
    },
    /// A conversation changed hands: handed over, claimed, closed, reopened.
    State {
        conversation: ConversationId,
        channel: Channel,
        state: ConversationState,
    },
    /// Somebody is typing (staff, for the widget; citizens, for the console).
    Typing {
        conversation: ConversationId,
        author: Author,
    },
}

impl Event {
    pub fn conversation(&self) -> ConversationId {
        match self {
            Event::Message { conversation, .. }
            | Event::State { conversation, .. }
            | Event::Typing { conversation, .. } => *conversation,
        }
    }
}

/// The publish side and the subscriptions; cheap to clone.
#[derive(Clone)]
pub struct Events {
    sender: broadcast::Sender<Arc<Event>>,
}

impl Default for Events {
    fn default() -> Self {
        Events {
            sender: broadcast::channel(CAPACITY).0,
        }
    }
}

impl Events {
    pub fn publish(&self, event: Event) {
        // No subscriber is fine: nobody is watching.
        let _ = self.sender.send(Arc::new(event));
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.sender.subscribe()
    }
}
