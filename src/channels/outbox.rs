//! Carries the messages a channel delivers itself to the citizen: staff replies on e-mail and
//! Telegram, the bot's replies on Telegram (see [`Channel::delivers`]). A message is recorded
//! first, pending; the outbox takes it from the store, hands it to the channel's [`Sender`]
//! and marks it sent, retries under the one [`Backoff`] (never sooner than the other side
//! asks) when the channel fails for now, and gives up with a line in the transcript that
//! staff see when it fails for good. The event hub only wakes it early: a message recorded
//! while the channel was down is sent once it is up again.
//!
//! Delivery is at least once: a sender that dies between sending and marking sends again
//! after its lease runs out. Senders that can tell (a mail's Message-ID) get the message's
//! conversation and number to make the second attempt a no-op.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::broadcast::error::RecvError;
use tokio::task::JoinHandle;

use crate::channels::runtime::Backoff;
use crate::conversations::{Conversations, now_ms};
use crate::events::Event;
pub use crate::store::Delivery;
use crate::store::{Channel, Conversation, StoreError};

/// Why a message did not go out.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// Worth another try (network, rate limit, server busy); `after` when the other side said
    /// how long to wait.
    #[error("{error}")]
    Retry {
        error: String,
        after: Option<Duration>,
    },
    /// Will never work (the chat is gone, the address rejected).
    #[error("{0}")]
    Permanent(String),
}

/// A channel's way of sending one message (the bot's or staff's) to the citizen of a
/// conversation.
#[async_trait]
pub trait Sender: Send + Sync + 'static {
    fn channel(&self) -> Channel;
    async fn send(&self, conversation: &Conversation, delivery: &Delivery)
    -> Result<(), SendError>;
}

/// How the outbox paces itself.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Replies taken per pass.
    pub batch: i64,
    /// How long a taken reply is the taker's; longer than one send can take.
    pub lease: Duration,
    /// The pauses between attempts.
    pub backoff: Backoff,
    /// Attempts before giving up.
    pub max_attempts: i64,
    /// How often to look for replies that are due again, when nothing wakes the outbox.
    pub poll: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            batch: 32,
            lease: Duration::from_secs(120),
            backoff: Backoff::new(Duration::from_secs(5), Duration::from_secs(15 * 60)),
            // 5 s doubling up to 15 min: about three hours of trying.
            max_attempts: 20,
            poll: Duration::from_secs(5),
        }
    }
}

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pass {
    pub sent: usize,
    pub retrying: usize,
    pub given_up: usize,
}

#[derive(Clone)]
pub struct Outbox {
    conversations: Conversations,
    sender: Arc<dyn Sender>,
    policy: Policy,
}

impl Outbox {
    pub fn new(conversations: Conversations, sender: Arc<dyn Sender>) -> Outbox {
        Outbox {
            conversations,
            sender,
            policy: Policy::default(),
        }
    }

    pub fn with_policy(mut self, policy: Policy) -> Outbox {
        self.policy = policy;
        self
    }

    /// Sends what is due now, one batch after another until none is left (a conversation's
    /// next message is due once the one before it is sent or given up).
    pub async fn run_once(&self) -> Result<Pass, StoreError> {
        let mut pass = Pass::default();
        loop {
            let now = now_ms();
            let lease = i64::try_from(self.policy.lease.as_millis()).unwrap_or(i64::MAX);
            let taken = self
                .conversations
                .store()
                .take_deliveries(
                    self.sender.channel(),
                    now,
                    now.saturating_add(lease),
                    self.policy.batch,
                )
                .await?;
            if taken.is_empty() {
                return Ok(pass);
            }
            let done_before = pass.sent + pass.given_up;
            for delivery in taken {
                self.deliver(delivery, &mut pass).await?;
            }
            // Only a message sent or given up lets the next one of its conversation go; one
            // that failed for now waits for its time, in a later pass.
            if pass.sent + pass.given_up == done_before {
                return Ok(pass);
            }
        }
    }

    async fn deliver(&self, d: Delivery, pass: &mut Pass) -> Result<(), StoreError> {
        let store = self.conversations.store();
        let Some(conversation) = store.conversation(d.conversation).await? else {
            // Deleted (retention, the citizen's request) while the reply waited.
            store
                .delivery_failed(d.conversation, d.message.seq, "conversation deleted", None)
                .await?;
            pass.given_up += 1;
            return Ok(());
        };
        let channel = self.sender.channel().as_str();
        match self.sender.send(&conversation, &d).await {
            Ok(()) => {
                store
                    .delivery_sent(d.conversation, d.message.seq, now_ms())
                    .await?;
                metrics::counter!("rathaus_messages_delivered_total", "channel" => channel, "author" => d.message.author.as_str())
                    .increment(1);
                pass.sent += 1;
            }
            Err(SendError::Retry { error, after }) if d.attempts < self.policy.max_attempts => {
                let failures = u32::try_from(d.attempts).unwrap_or(u32::MAX);
                let pause = self
                    .policy
                    .backoff
                    .pause(failures, after)
                    .max(Duration::from_millis(1));
                let at =
                    now_ms().saturating_add(i64::try_from(pause.as_millis()).unwrap_or(i64::MAX));
                tracing::warn!(channel, conversation = %d.conversation, seq = d.message.seq, attempts = d.attempts, %error, retry_in_ms = pause.as_millis() as u64, "message not sent yet");
                store
                    .delivery_failed(d.conversation, d.message.seq, &error, Some(at))
                    .await?;
                pass.retrying += 1;
            }
            Err(e) => {
                let error = e.to_string();
                tracing::error!(channel, conversation = %d.conversation, seq = d.message.seq, attempts = d.attempts, %error, "message given up");
                store
                    .delivery_failed(d.conversation, d.message.seq, &error, None)
                    .await?;
                metrics::counter!("rathaus_messages_undeliverable_total", "channel" => channel, "author" => d.message.author.as_str())
                    .increment(1);
                self.conversations
                    .delivery_given_up(&conversation, &d.message, &error)
                    .await
                    .map_err(|e| StoreError::Database(e.to_string()))?;
                pass.given_up += 1;
            }
        }
        Ok(())
    }

    /// Runs until the event hub closes: a pass at start, on every message of this channel
    /// to send, and every `poll` for retries that have come due.
    pub fn spawn(self) -> JoinHandle<()> {
        tokio::spawn(self.run(std::future::pending()))
    }

    /// [`Outbox::spawn`]'s loop, until `stop` resolves; a pass begun is finished first.
    pub async fn run(self, stop: impl Future<Output = ()> + Send) {
        let mut events = self.conversations.events().subscribe();
        let channel = self.sender.channel();
        tokio::pin!(stop);
        loop {
            if let Err(e) = self.run_once().await {
                tracing::warn!(channel = channel.as_str(), error = %e, "outbox pass failed");
            }
            let wake = async {
                loop {
                    match events.recv().await {
                        Ok(event) => {
                            if let Event::Message {
                                channel: c,
                                message,
                                ..
                            } = &*event
                                && *c == channel
                                && channel.delivers(message.author)
                            {
                                return true;
                            }
                        }
                        Err(RecvError::Lagged(_)) => return true,
                        Err(RecvError::Closed) => return false,
                    }
                }
            };
            tokio::select! {
                open = wake => if !open { return },
                _ = tokio::time::sleep(self.policy.poll) => {}
                () = &mut stop => return,
            }
        }
    }
}
