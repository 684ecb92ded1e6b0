//! The runtime every channel shares. A channel is an [`Adapter`]: it turns its traffic into
//! [`Received`] messages, each with the channel's own idempotency key, and works one message
//! at a time into a turn of the conversation; its [`Sender`] carries what the citizen is to
//! read. Everything else lives here, once:
//!
//! - **Inbox.** [`Runtime::receive`] keeps a message in the store before anything else
//!   happens to it (a repeat of the same key is skipped), and the worker takes pending
//!   messages in order, one lane (a chat, a sender) after the other, lanes side by side.
//!   A message is finished only after its turn is recorded; after a crash it is worked
//!   again, and [`Turn::begin`] tells the adapter whether the turn was recorded before, so
//!   it is never recorded twice.
//! - **Lease.** One instance at a time works a channel's inbox (and polls, for a channel that
//!   polls): the one that holds the channel's lease, renewed well before it runs out; another
//!   instance takes over once it has.
//! - **Outbox.** The bot's and staff's messages go out through the [`Outbox`] from every
//!   instance (each message is leased while it is sent), retried with the one [`Backoff`]
//!   and never faster than the other side asks.
//! - **Stop.** [`Runtime::stop`] begins no further message, gives the messages begun
//!   [`RuntimeSettings::stop_grace`] to finish, and gives the lease back so that another
//!   instance takes over at once.

pub mod backoff;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use crate::channels::outbox::{Outbox, Policy, Sender};
use crate::conversations::{ConversationError, Conversations, now_ms};
use crate::store::{Author, Channel, ConversationId, Message, Received, StoreError};

pub use backoff::{Backoff, Retry};

/// How a channel's runtime paces itself.
#[derive(Debug, Clone)]
pub struct RuntimeSettings {
    /// How long the lease lasts unrenewed; renewed every third of it.
    pub lease: Duration,
    /// Messages taken from the inbox at once.
    pub batch: i64,
    /// Lanes worked side by side.
    pub lanes: usize,
    /// How often the worker looks for messages that another instance received (a webhook
    /// behind a load balancer), when nothing wakes it.
    pub tick: Duration,
    /// How long the keys of worked messages are kept against repeats.
    pub keep_keys: Duration,
    /// How long a stop waits for the messages begun.
    pub stop_grace: Duration,
}

impl RuntimeSettings {
    /// The longest one call of a sender may take: a message has at most a few parts, and
    /// all of them go out well inside the lease on the message.
    pub fn send_timeout(&self) -> Duration {
        self.lease / 4
    }
}

impl Default for RuntimeSettings {
    fn default() -> Self {
        RuntimeSettings {
            lease: Duration::from_secs(30),
            batch: 100,
            lanes: 16,
            tick: Duration::from_secs(1),
            // Telegram repeats an update for at most a day; a mail server keeps UIDs.
            keep_keys: Duration::from_secs(2 * 86_400),
            // Inside the ten seconds a service manager gives between SIGTERM and SIGKILL.
            stop_grace: Duration::from_secs(8),
        }
    }
}

/// Why a message was not worked this time: it stays pending and is worked again.
#[derive(Debug, thiserror::Error)]
pub enum WorkError {
    #[error(transparent)]
    Conversation(#[from] ConversationError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Channel(String),
}

/// A channel's part: what one received message means.
#[async_trait]
pub trait Adapter: Send + Sync + 'static {
    /// Works one received message: finds its conversation, calls [`Turn::begin`] before
    /// recording anything, records the turn (the replies pending for the outbox). An error
    /// leaves the message to be worked again; a message that can never be worked is
    /// logged and returns `Ok`, so that it does not block its lane.
    async fn work(&self, message: &Received, turn: &Turn<'_>) -> Result<(), WorkError>;
}

/// One received message's turn, as the adapter works it.
pub struct Turn<'a> {
    runtime: &'a Runtime,
    key: &'a str,
}

/// What an earlier attempt at a message left in the transcript.
#[derive(Debug, Clone, PartialEq)]
pub enum Begun {
    /// Nothing: work it.
    Fresh,
    /// The citizen's line was recorded, and `answer`: the bot's reply after it (the outbox
    /// sends it, or a channel that composes its own replies composes it from this). `None`:
    /// the bot was silent, or the attempt stopped between recording the line and an action
    /// of its own.
    Recorded { answer: Option<Message> },
}

impl Turn<'_> {
    /// The message's idempotency key.
    pub fn key(&self) -> &str {
        self.key
    }

    /// Notes where `conversation` stands as work on this message begins, and says whether an
    /// earlier attempt already recorded the citizen's line `said` after that point.
    pub async fn begin(
        &self,
        conversation: ConversationId,
        said: &str,
    ) -> Result<Begun, WorkError> {
        let conversations = &self.runtime.conversations;
        let mark = conversations
            .store()
            .inbox_mark(self.runtime.channel, self.key, conversation)
            .await?;
        if mark.first_attempt {
            return Ok(Begun::Fresh);
        }
        let transcript = conversations.transcript(mark.conversation).await?;
        let mut after = transcript.iter().filter(|m| m.seq > mark.seq);
        if !after
            .by_ref()
            .any(|m| m.author == Author::Citizen && m.text == said)
        {
            return Ok(Begun::Fresh);
        }
        let answer = after
            .take_while(|m| m.author != Author::Citizen)
            .find(|m| m.author == Author::Bot)
            .cloned();
        Ok(Begun::Recorded { answer })
    }
}

/// A channel's inbox worker, lease and outbox.
pub struct Runtime {
    conversations: Conversations,
    channel: Channel,
    settings: RuntimeSettings,
    /// This process's name on the lease.
    holder: String,
    holding: watch::Sender<bool>,
    wake: Notify,
    stopping: watch::Sender<bool>,
    tasks: std::sync::Mutex<Vec<JoinHandle<()>>>,
}

impl Runtime {
    pub fn new(
        conversations: Conversations,
        channel: Channel,
        settings: RuntimeSettings,
    ) -> Arc<Runtime> {
        Arc::new(Runtime {
            conversations,
            channel,
            settings,
            holder: uuid::Uuid::new_v4().to_string(),
            holding: watch::Sender::new(false),
            wake: Notify::new(),
            stopping: watch::Sender::new(false),
            tasks: std::sync::Mutex::new(Vec::new()),
        })
    }

    pub fn conversations(&self) -> &Conversations {
        &self.conversations
    }

    pub fn settings(&self) -> &RuntimeSettings {
        &self.settings
    }

    fn lease_name(&self) -> &'static str {
        self.channel.as_str()
    }

    /// Keeps received messages for work and wakes the worker; returns how many were new.
    /// Once this returns, the messages are safe: the channel may confirm them to their
    /// sender.
    pub async fn receive(&self, messages: &[Received]) -> Result<u64, StoreError> {
        let new = self
            .conversations
            .store()
            .inbox_receive(self.channel, messages, now_ms())
            .await?;
        metrics::counter!("rathaus_channel_messages_received_total", "channel" => self.channel.as_str())
            .increment(new);
        self.wake.notify_one();
        Ok(new)
    }

    /// Whether this instance holds the channel's lease now.
    pub fn holding(&self) -> bool {
        *self.holding.borrow()
    }

    /// Waits until this instance holds the lease; false when the runtime stops first.
    pub async fn held(&self) -> bool {
        let mut holding = self.holding.subscribe();
        let mut stopping = self.stopping.subscribe();
        tokio::select! {
            held = holding.wait_for(|h| *h) => held.is_ok(),
            _ = stopping.wait_for(|s| *s) => false,
        }
    }

    pub fn is_stopping(&self) -> bool {
        *self.stopping.borrow()
    }

    /// Resolves once the runtime is told to stop.
    pub async fn stopped(&self) {
        let _ = self.stopping.subscribe().wait_for(|s| *s).await;
    }

    /// Waits `how_long`, or less when the runtime is told to stop.
    pub async fn pause(&self, how_long: Duration) {
        tokio::select! {
            _ = tokio::time::sleep(how_long) => {}
            _ = self.stopped() => {}
        }
    }

    /// Starts the channel: its outbox on this instance, the lease, and the inbox worker.
    pub fn start(self: &Arc<Self>, adapter: Arc<dyn Adapter>, sender: Arc<dyn Sender>) {
        let stopping = self.stopping.subscribe();
        // One message taken at a time, leased for as long as the channel's lease: a sender
        // bounds each of its calls well inside that (see `RuntimeSettings::send_timeout`),
        // so no other instance takes a message over while it is being sent.
        let policy = Policy {
            lease: self.settings.lease,
            batch: 1,
            ..Policy::default()
        };
        let outbox = tokio::spawn(
            Outbox::new(self.conversations.clone(), sender)
                .with_policy(policy)
                .run(async move {
                    let mut stopping = stopping;
                    let _ = stopping.wait_for(|s| *s).await;
                }),
        );
        let lease = tokio::spawn(self.clone().keep_lease());
        let worker = tokio::spawn(self.clone().work(adapter));
        self.tasks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend([outbox, lease, worker]);
    }

    /// Adds a task of the channel's own (a poller) that ends when the runtime stops.
    pub fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        let stopping = self.stopping.subscribe();
        let handle = tokio::spawn(async move {
            let mut stopping = stopping;
            tokio::select! {
                () = task => {}
                _ = stopping.wait_for(|s| *s) => {}
            }
        });
        self.tasks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(handle);
    }

    /// Stops on a clean shutdown: no further message is begun, the ones begun get
    /// [`RuntimeSettings::stop_grace`] to finish, and the lease is given back.
    pub async fn stop(&self) {
        self.stopping.send_replace(true);
        let tasks: Vec<_> =
            std::mem::take(&mut *self.tasks.lock().unwrap_or_else(|e| e.into_inner()));
        let grace = self.settings.stop_grace;
        let deadline = tokio::time::Instant::now() + grace;
        for mut task in tasks {
            if tokio::time::timeout_at(deadline, &mut task).await.is_err() {
                tracing::warn!(
                    channel = self.channel.as_str(),
                    grace_s = grace.as_secs(),
                    "channel still busy at shutdown: stopped; what was begun is worked again"
                );
                task.abort();
            }
        }
        if self.holding.send_replace(false)
            && let Err(e) = self
                .conversations
                .store()
                .release_lease(self.lease_name(), &self.holder)
                .await
        {
            tracing::warn!(channel = self.channel.as_str(), error = %e, "lease not released; it expires by itself");
        }
    }

    async fn renew(&self) -> bool {
        let now = now_ms();
        let until =
            now.saturating_add(i64::try_from(self.settings.lease.as_millis()).unwrap_or(i64::MAX));
        match self
            .conversations
            .store()
            .take_lease(self.lease_name(), &self.holder, now, until)
            .await
        {
            Ok(held) => held,
            Err(e) => {
                tracing::warn!(channel = self.channel.as_str(), error = %e, "lease not renewed");
                false
            }
        }
    }

    /// Takes and renews the lease until the runtime stops.
    async fn keep_lease(self: Arc<Self>) {
        while !self.is_stopping() {
            let held = self.renew().await;
            if self.is_stopping() {
                return;
            }
            let was = self.holding.send_replace(held);
            if held && !was {
                tracing::info!(
                    channel = self.channel.as_str(),
                    "this instance now works the channel"
                );
                self.wake.notify_one();
            } else if was && !held {
                tracing::warn!(
                    channel = self.channel.as_str(),
                    "another instance has taken the channel over"
                );
            }
            self.pause(self.settings.lease / 3).await;
        }
    }

    /// Works the inbox while this instance holds the lease, until the runtime stops.
    async fn work(self: Arc<Self>, adapter: Arc<dyn Adapter>) {
        let store = self.conversations.store().clone();
        let mut tick = tokio::time::interval(self.settings.tick);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut pruned_at = 0;
        loop {
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tick.tick() => {}
                _ = self.stopped() => return,
            }
            while self.holding() && !self.is_stopping() {
                let batch = match store.inbox_pending(self.channel, self.settings.batch).await {
                    Ok(b) => b,
                    Err(e) => {
                        tracing::warn!(channel = self.channel.as_str(), error = %e, "pending messages not read");
                        break;
                    }
                };
                if batch.is_empty() || !self.work_batch(adapter.as_ref(), batch).await {
                    break;
                }
            }
            let now = now_ms();
            if self.holding() && now - pruned_at > 3_600_000 {
                pruned_at = now;
                let keep = i64::try_from(self.settings.keep_keys.as_millis()).unwrap_or(i64::MAX);
                match store
                    .inbox_prune(self.channel, now.saturating_sub(keep))
                    .await
                {
                    Ok(0) => {}
                    Ok(n) => tracing::debug!(
                        channel = self.channel.as_str(),
                        forgotten = n,
                        "old message keys forgotten"
                    ),
                    Err(e) => {
                        tracing::warn!(channel = self.channel.as_str(), error = %e, "old message keys not pruned")
                    }
                }
            }
        }
    }

    /// Works a batch, each lane in order and lanes side by side; true when every message was
    /// finished (so the next batch may follow at once). Once the runtime stops or the lease
    /// is lost, no further message is begun.
    async fn work_batch(&self, adapter: &dyn Adapter, batch: Vec<Received>) -> bool {
        let mut lanes: BTreeMap<Option<String>, Vec<Received>> = BTreeMap::new();
        for m in batch {
            lanes.entry(m.lane.clone()).or_default().push(m);
        }
        let halted = AtomicBool::new(false);
        let halted = &halted;
        let results = futures::stream::iter(lanes.into_values().map(|messages| async move {
            for m in messages {
                if self.is_stopping() || !self.holding() {
                    halted.store(true, Ordering::SeqCst);
                    return false;
                }
                let turn = Turn {
                    runtime: self,
                    key: &m.key,
                };
                let worked = match adapter.work(&m, &turn).await {
                    Ok(()) => self
                        .conversations
                        .store()
                        .inbox_finish(self.channel, &m.key, now_ms())
                        .await
                        .map_err(WorkError::from),
                    Err(e) => Err(e),
                };
                if let Err(e) = worked {
                    // Left pending: worked again on the next round, and this lane waits.
                    tracing::warn!(channel = self.channel.as_str(), error = %crate::pii::mask(&e.to_string()), "message not worked yet");
                    return false;
                }
                metrics::counter!("rathaus_channel_messages_worked_total", "channel" => self.channel.as_str())
                    .increment(1);
            }
            true
        }))
        .buffer_unordered(self.settings.lanes.max(1))
        .collect::<Vec<bool>>()
        .await;
        !halted.load(Ordering::SeqCst) && results.into_iter().all(|ok| ok)
    }
}
