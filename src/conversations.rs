//! Conversations: the dialogue core plus memory. Starts conversations with an unguessable
//! token, checks the token on every access, runs each citizen message through the core and
//! records the turn. Every channel talks to Rathaus through this; it knows no channel's
//! wire format. Personal data is masked before anything is logged or counted.

use std::sync::{Arc, Mutex};

use base64::Engine;
use rand::RngCore;
use subtle::ConstantTimeEq;

use crate::dialogue::{Dialogue, HandoffReason, Inbound, Outcome, Reply};
use crate::events::{Event, Events};
use crate::language::Lang;
use crate::pii;
use crate::queue::{Board, QueuePosition, Standings};
use crate::semantic::Embedder;
use crate::store::{
    Author, Channel, Conversation, ConversationId, ConversationState, Message, NewMessage, Staff,
    StaffId, Store, StoreError, Unanswered, token_digest,
};

#[derive(Debug, thiserror::Error)]
pub enum ConversationError {
    /// Unknown id or wrong token: the same answer for both, so ids cannot be probed.
    #[error("conversation not found")]
    NotFound,
    /// A staff action that does not fit the conversation's state.
    #[error(transparent)]
    Conflict(#[from] Conflict),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a staff action does not fit the conversation's state; each side that shows it (the
/// API, the German console) says it in its own words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Conflict {
    #[error("another colleague has already taken this conversation")]
    TakenByColleague,
    #[error("this conversation is not waiting for a person")]
    NotWaiting,
    #[error("take the conversation first: it is not assigned to you")]
    NotYours,
    #[error("the conversation changed meanwhile")]
    Changed,
    #[error("no such active colleague")]
    NoSuchColleague,
    #[error("a caller cannot read a written reply: call them back")]
    CallerCannotRead,
    #[error("a colleague has this conversation: only they can close it")]
    ColleagueMustClose,
    #[error("this conversation is not open")]
    NotOpen,
    #[error("only a closed handoff can be reopened")]
    NotClosed,
    #[error("no callback is open for this call")]
    NoCallbackOpen,
}

/// A new conversation's id and its access token (shown once, stored only as a digest).
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Started {
    #[schema(value_type = String)]
    pub id: ConversationId,
    pub token: String,
}

pub use crate::domain::now_ms;

#[derive(Clone)]
pub struct Conversations {
    store: Arc<dyn Store>,
    dialogue: Arc<Dialogue>,
    embedder: Option<Embedder>,
    events: Events,
    unanswered: UnansweredQueue,
    board: Board,
    answering: Arc<tokio::sync::Semaphore>,
    stopping: Arc<tokio::sync::watch::Sender<bool>>,
}

/// Unanswered questions waiting to be stored, at most; beyond, new ones are counted and not
/// kept, so a flood of questions the catalogue cannot answer neither slows the replies nor
/// fills the memory.
const UNANSWERED_QUEUE: usize = 4096;
/// Unanswered questions stored in one transaction, at most.
const UNANSWERED_BATCH: usize = 256;

/// The way of unanswered questions to the store: a bounded queue, and one writer that
/// stores what has come in, in batches, off the replies' path.
#[derive(Clone)]
struct UnansweredQueue {
    queue: tokio::sync::mpsc::Sender<Unanswered>,
    stop: Arc<tokio::sync::Notify>,
    writer: Arc<Mutex<Option<tokio::task::JoinHandle<()>>>>,
}

impl UnansweredQueue {
    fn start(store: Arc<dyn Store>) -> UnansweredQueue {
        let (queue, questions) = tokio::sync::mpsc::channel(UNANSWERED_QUEUE);
        let stop = Arc::new(tokio::sync::Notify::new());
        let writer = tokio::spawn(write_unanswered(store, questions, stop.clone()));
        UnansweredQueue {
            queue,
            stop,
            writer: Arc::new(Mutex::new(Some(writer))),
        }
    }

    fn push(&self, question: Unanswered) {
        if self.queue.try_send(question).is_err() {
            metrics::counter!("rathaus_unanswered_dropped_total").increment(1);
            tracing::debug!("unanswered-questions queue full: a question was not kept");
        }
    }

    /// Stores what is queued and stops the writer.
    async fn stop(&self) {
        let writer = self.writer.lock().ok().and_then(|mut w| w.take());
        if let Some(writer) = writer {
            self.stop.notify_one();
            let _ = writer.await;
        }
    }
}

async fn write_unanswered(
    store: Arc<dyn Store>,
    mut questions: tokio::sync::mpsc::Receiver<Unanswered>,
    stop: Arc<tokio::sync::Notify>,
) {
    let mut batch = Vec::with_capacity(UNANSWERED_BATCH);
    loop {
        let received = tokio::select! {
            n = questions.recv_many(&mut batch, UNANSWERED_BATCH) => n,
            () = stop.notified() => {
                // No more come in; what has come is still stored.
                questions.close();
                questions.recv_many(&mut batch, UNANSWERED_BATCH).await
            }
        };
        if received == 0 {
            return;
        }
        if let Err(e) = store.record_unanswered(&batch).await {
            tracing::warn!(error = %e, questions = batch.len(), "could not record unanswered questions");
        }
        batch.clear();
    }
}

impl Conversations {
    pub fn new(
        store: Arc<dyn Store>,
        dialogue: Arc<Dialogue>,
        embedder: Option<Embedder>,
    ) -> Conversations {
        let events = Events::default();
        // Answering is work for the processor: as many at once as there are cores, on
        // threads of their own, so a long message never holds up another request.
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Conversations {
            unanswered: UnansweredQueue::start(store.clone()),
            board: Board::start(store.clone(), &events),
            store,
            dialogue,
            embedder,
            events,
            answering: Arc::new(tokio::sync::Semaphore::new(cores)),
            stopping: Arc::new(tokio::sync::watch::channel(false).0),
        }
    }

    /// Tells everything that holds a connection open (the live streams) that the server is
    /// stopping: they end, and their clients reconnect, to another instance or after the
    /// restart.
    pub fn begin_stop(&self) {
        self.stopping.send_replace(true);
    }

    /// Resolves when the server begins to stop.
    pub fn stopping(&self) -> impl Future<Output = ()> + Send + use<> {
        let mut stopping = self.stopping.subscribe();
        async move {
            let _ = stopping.wait_for(|s| *s).await;
        }
    }

    /// Whether the conversation waits for a person now; unknown (the store away) counts as
    /// waiting, so that limits on waiting hold while the store cannot say.
    pub async fn waiting(&self, id: ConversationId) -> bool {
        self.store.conversation(id).await.map_or(true, |c| {
            c.is_some_and(|c| c.state == ConversationState::Waiting)
        })
    }

    /// The queue's standings, worked out once per change, for the live streams.
    pub fn board(&self) -> &Board {
        &self.board
    }

    /// The core's decision on a message, worked out off the server's async threads.
    async fn decide(
        &self,
        context: &crate::dialogue::Context,
        message: &Inbound,
    ) -> Result<crate::dialogue::Decision, ConversationError> {
        // Reading costs time in the text's length: past the longest message, nothing is read.
        let message = match message
            .text
            .char_indices()
            .nth(crate::domain::MAX_MESSAGE_CHARS)
        {
            Some((cut, _)) => Inbound {
                text: message.text[..cut].to_string(),
                ..message.clone()
            },
            None => message.clone(),
        };
        let vector = self.query_vector(&message.text).await;
        let _permit = self
            .answering
            .acquire()
            .await
            .map_err(|_| StoreError::Unavailable("stopping".into()))?;
        let (dialogue, context) = (self.dialogue.clone(), context.clone());
        tokio::task::spawn_blocking(move || {
            dialogue.respond_with(&context, &message, vector.as_deref())
        })
        .await
        .map_err(|e| {
            ConversationError::Store(StoreError::Database(format!("answering failed: {e}")))
        })
    }

    /// Stores the unanswered questions still queued; for a clean stop.
    pub async fn stop(&self) {
        self.unanswered.stop().await;
    }

    /// The live feed of what happens in conversations.
    pub fn events(&self) -> &Events {
        &self.events
    }

    /// Tells the live readers about messages just recorded and, if it changed, the state.
    pub fn announce(
        &self,
        conversation: &Conversation,
        recorded: Vec<Message>,
        state: ConversationState,
    ) {
        for message in recorded {
            self.events.publish(Event::Message {
                conversation: conversation.id,
                channel: conversation.channel,
                message,
            });
        }
        if state != conversation.state {
            self.events.publish(Event::State {
                conversation: conversation.id,
                channel: conversation.channel,
                state,
            });
        }
    }

    /// The message's embedding, when a service is configured and the knowledge has vectors;
    /// `None` (lexical search only) when the service fails.
    async fn query_vector(&self, text: &str) -> Option<Vec<f32>> {
        let embedder = self.embedder.as_ref()?;
        self.dialogue.knowledge().vectors.as_ref()?;
        match embedder.query(text).await {
            Ok(v) => Some(v),
            Err(e) => {
                tracing::warn!(error = %e, "question not embedded: answering by words only");
                None
            }
        }
    }

    pub fn dialogue(&self) -> &Arc<Dialogue> {
        &self.dialogue
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub async fn start(&self, channel: Channel) -> Result<Started, ConversationError> {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        let now = now_ms();
        let c = Conversation {
            id: ConversationId::new(),
            channel,
            token_digest: token_digest(&token),
            state: ConversationState::Bot,
            context: Default::default(),
            handoff: None,
            assignee: None,
            created_at: now,
            updated_at: now,
        };
        self.store.create_conversation(&c).await?;
        metrics::counter!("rathaus_conversations_started_total", "channel" => channel.as_str())
            .increment(1);
        Ok(Started { id: c.id, token })
    }

    /// The conversation, if the token is its own.
    pub async fn authorize(
        &self,
        id: ConversationId,
        token: &str,
    ) -> Result<Conversation, ConversationError> {
        let c = self
            .store
            .conversation(id)
            .await?
            .ok_or(ConversationError::NotFound)?;
        let given = token_digest(token);
        if given.as_bytes().ct_eq(c.token_digest.as_bytes()).into() {
            Ok(c)
        } else {
            Err(ConversationError::NotFound)
        }
    }

    /// Runs a citizen's message through the core and records both sides of the turn.
    pub async fn message(
        &self,
        conversation: &Conversation,
        message: &Inbound,
        channel: Channel,
    ) -> Result<Reply, ConversationError> {
        self.message_in_reply(conversation, message, channel, None)
            .await
    }

    /// [`Conversations::message`] for a channel that threads or quotes its replies:
    /// `in_reply_to` is the channel's own id of the citizen's message, kept on the reply for
    /// its sender.
    pub async fn message_in_reply(
        &self,
        conversation: &Conversation,
        message: &Inbound,
        channel: Channel,
        in_reply_to: Option<&str>,
    ) -> Result<Reply, ConversationError> {
        let mut context = conversation.context.clone();
        context.with_staff = conversation.state.with_staff();
        let decision = self.decide(&context, message).await?;
        let why = decision.why();
        let reply = decision.reply;
        let state = match conversation.state {
            ConversationState::Closed => ConversationState::Bot,
            s => s,
        };
        let mut messages = vec![NewMessage::citizen(channel, message.text.clone())];
        if !reply.silent {
            messages.push(NewMessage {
                author: Author::Bot,
                channel,
                text: reply.text.clone(),
                outcome: Some(reply.outcome),
                entries: reply.entries.iter().map(|e| e.id.to_string()).collect(),
                author_name: None,
                why: Some(why),
                in_reply_to: in_reply_to.map(str::to_string),
            });
        }
        let mut next = decision.context;
        next.with_staff = false;
        let now = now_ms();
        let recorded = self
            .store
            .record_turn(conversation.id, &messages, state, &next, now)
            .await?;
        let state = match (state, reply.outcome, reply.handoff) {
            (ConversationState::Bot, Outcome::Handoff, Some(reason)) => {
                self.hand_over(conversation, reason, now).await?
            }
            _ => state,
        };
        self.announce(conversation, recorded, state);
        self.observe(&message.text, &reply, channel);
        Ok(reply)
    }

    /// A stateless answer (no conversation is kept), for portals and benchmarks.
    pub async fn answer(&self, message: &Inbound) -> Result<Reply, ConversationError> {
        let reply = self.decide(&Default::default(), message).await?.reply;
        self.observe(&message.text, &reply, Channel::Api);
        Ok(reply)
    }

    /// Counts the outcome, logs the masked question and keeps unanswered ones for the admins.
    fn observe(&self, text: &str, reply: &Reply, channel: Channel) {
        metrics::counter!("rathaus_replies_total", "outcome" => reply.outcome.as_str(), "channel" => channel.as_str())
            .increment(1);
        let masked = pii::mask(text);
        tracing::debug!(question = %masked, outcome = reply.outcome.as_str(), channel = channel.as_str(), "reply");
        if reply.outcome == Outcome::DontKnow && !masked.trim().is_empty() {
            // Off the reply's path: the citizen does not wait for the statistics.
            self.unanswered.push(Unanswered {
                text: masked.chars().take(500).collect(),
                lang: reply.lang.code().to_string(),
                at: now_ms(),
            });
        }
    }

    /// An agent called the caller back: records who and the note, writes the note into the
    /// transcript and closes the handoff as "called back". Takes a waiting call first.
    pub async fn called_back(
        &self,
        id: ConversationId,
        staff: &Staff,
        note: &str,
    ) -> Result<(), ConversationError> {
        let store = &self.store;
        let call = store.call(id).await?.ok_or(ConversationError::NotFound)?;
        if call.callback_at.is_none() || call.called_back.is_some() {
            return Err(ConversationError::Conflict(Conflict::NoCallbackOpen));
        }
        let c = store
            .conversation(id)
            .await?
            .ok_or(ConversationError::NotFound)?;
        if c.state == ConversationState::Waiting {
            self.claim(id, staff).await?;
        } else if c.state == ConversationState::Claimed && c.assignee.as_ref() != Some(&staff.id) {
            // The colleague who claimed the call records the callback; checked before any write.
            return Err(ConversationError::Conflict(Conflict::ColleagueMustClose));
        }
        if !store
            .mark_called_back(id, &staff.id, note, now_ms())
            .await?
        {
            return Err(ConversationError::Conflict(Conflict::NoCallbackOpen));
        }
        self.note(id, staff, &format!("Zurückgerufen: {note}"))
            .await?;
        self.close(id, staff, "callback_done").await?;
        tracing::info!(call = %id, caller = ?call.caller, "phone: called back");
        Ok(())
    }

    /// Whether the console should offer "called back" on this conversation.
    pub async fn callback_open(&self, id: ConversationId) -> Result<bool, StoreError> {
        Ok(self
            .store
            .call(id)
            .await?
            .is_some_and(|c| c.callback_at.is_some() && c.called_back.is_none()))
    }

    /// The whole transcript, internal notes included: for staff.
    pub async fn transcript(&self, id: ConversationId) -> Result<Vec<Message>, ConversationError> {
        Ok(self.store.transcript(id).await?)
    }

    /// The transcript as the citizen may see it: without staff's internal notes.
    pub async fn citizen_transcript(
        &self,
        id: ConversationId,
    ) -> Result<Vec<Message>, ConversationError> {
        let mut messages = self.store.transcript(id).await?;
        messages.retain(|m| m.author != Author::Note);
        Ok(messages)
    }

    /// Puts the conversation in the staff queue; the state it is in afterwards.
    async fn hand_over(
        &self,
        conversation: &Conversation,
        reason: HandoffReason,
        now: i64,
    ) -> Result<ConversationState, ConversationError> {
        if self.store.hand_over(conversation.id, reason, now).await? {
            metrics::counter!("rathaus_handoffs_total", "channel" => conversation.channel.as_str(), "reason" => crate::store::reason_str(reason))
                .increment(1);
            Ok(ConversationState::Waiting)
        } else {
            Ok(self
                .store
                .conversation(conversation.id)
                .await?
                .map_or(conversation.state, |c| c.state))
        }
    }

    /// The citizen asks for a person with a button or a command rather than in words.
    pub async fn request_handoff(
        &self,
        conversation: &Conversation,
        reason: HandoffReason,
        lang: Lang,
    ) -> Result<Reply, ConversationError> {
        self.request_handoff_in_reply(conversation, reason, lang, None)
            .await
    }

    /// [`Conversations::request_handoff`], the reply kept as answering the channel's message
    /// `in_reply_to`.
    pub async fn request_handoff_in_reply(
        &self,
        conversation: &Conversation,
        reason: HandoffReason,
        lang: Lang,
        in_reply_to: Option<&str>,
    ) -> Result<Reply, ConversationError> {
        if conversation.state.with_staff() {
            // Already with staff: nothing new to say, nothing to record twice.
            return Ok(self.dialogue.handoff_reply(reason, lang));
        }
        let reply = self.dialogue.handoff_reply(reason, lang);
        let now = now_ms();
        let recorded = self
            .store
            .append(
                conversation.id,
                &[NewMessage {
                    author: Author::Bot,
                    channel: conversation.channel,
                    text: reply.text.clone(),
                    outcome: Some(Outcome::Handoff),
                    entries: Vec::new(),
                    author_name: None,
                    why: None,
                    in_reply_to: in_reply_to.map(str::to_string),
                }],
                now,
            )
            .await?;
        let state = self.hand_over(conversation, reason, now).await?;
        self.announce(conversation, recorded, state);
        Ok(reply)
    }

    /// How many wait before this conversation and, from recent claims, about how long a
    /// citizen waits; `None` when it is not waiting.
    pub async fn queue_position(
        &self,
        id: ConversationId,
    ) -> Result<Option<QueuePosition>, ConversationError> {
        let waiting = self.store.waiting().await?;
        if !waiting.iter().any(|(w, _)| *w == id) {
            return Ok(None);
        }
        let waits = self.store.recent_waits(now_ms() - 86_400_000, 20).await?;
        Ok(Standings::compute(&waiting, waits).of(id))
    }

    /// Records a staff action's line in the transcript and tells the live readers.
    /// Records lines (for example a system line a channel writes) and tells the widget and the
    /// console about them and about the conversation's state.
    pub async fn record(
        &self,
        conversation: &Conversation,
        messages: &[NewMessage],
        state: ConversationState,
    ) -> Result<(), ConversationError> {
        let recorded = if messages.is_empty() {
            Vec::new()
        } else {
            self.store
                .append(conversation.id, messages, now_ms())
                .await?
        };
        self.announce(conversation, recorded, state);
        Ok(())
    }

    async fn fetch(&self, id: ConversationId) -> Result<Conversation, ConversationError> {
        self.store
            .conversation(id)
            .await?
            .ok_or(ConversationError::NotFound)
    }

    /// A staff member takes a waiting conversation; the bot stays silent from now on.
    pub async fn claim(&self, id: ConversationId, staff: &Staff) -> Result<(), ConversationError> {
        let c = self.fetch(id).await?;
        if !self.store.claim(id, &staff.id, now_ms()).await? {
            return Err(ConversationError::Conflict(match c.state {
                ConversationState::Claimed => Conflict::TakenByColleague,
                _ => Conflict::NotWaiting,
            }));
        }
        let line = format!("{} hat das Gespräch übernommen.", staff.name);
        self.record(
            &c,
            &[NewMessage::system(c.channel, line)],
            ConversationState::Claimed,
        )
        .await
    }

    fn own(c: &Conversation, staff: &Staff) -> Result<(), ConversationError> {
        if c.state == ConversationState::Claimed && c.assignee.as_ref() == Some(&staff.id) {
            Ok(())
        } else {
            Err(ConversationError::Conflict(Conflict::NotYours))
        }
    }

    /// Gives a claimed conversation back to the queue.
    pub async fn unassign(
        &self,
        id: ConversationId,
        staff: &Staff,
    ) -> Result<(), ConversationError> {
        let c = self.fetch(id).await?;
        Self::own(&c, staff)?;
        if !self.store.reassign(id, None, now_ms()).await? {
            return Err(ConversationError::Conflict(Conflict::Changed));
        }
        let line = format!(
            "{} hat das Gespräch an die Warteschlange zurückgegeben.",
            staff.name
        );
        self.record(
            &c,
            &[NewMessage::system(c.channel, line)],
            ConversationState::Waiting,
        )
        .await
    }

    /// Hands a claimed conversation to a colleague.
    pub async fn transfer(
        &self,
        id: ConversationId,
        staff: &Staff,
        to: &StaffId,
    ) -> Result<(), ConversationError> {
        let c = self.fetch(id).await?;
        Self::own(&c, staff)?;
        let colleague = self
            .store
            .staff_member(to)
            .await?
            .filter(|s| s.active)
            .ok_or(ConversationError::Conflict(Conflict::NoSuchColleague))?;
        if !self.store.reassign(id, Some(to), now_ms()).await? {
            return Err(ConversationError::Conflict(Conflict::Changed));
        }
        let line = format!(
            "{} hat das Gespräch an {} übergeben.",
            staff.name, colleague.name
        );
        self.record(
            &c,
            &[NewMessage::system(c.channel, line)],
            ConversationState::Claimed,
        )
        .await
    }

    /// A staff member's reply to the citizen; it reaches them through their own channel.
    pub async fn staff_reply(
        &self,
        id: ConversationId,
        staff: &Staff,
        text: &str,
    ) -> Result<Message, ConversationError> {
        let c = self.fetch(id).await?;
        Self::own(&c, staff)?;
        if !c.channel.takes_written_replies() {
            return Err(ConversationError::Conflict(Conflict::CallerCannotRead));
        }
        let message = NewMessage {
            author: Author::Staff,
            author_name: Some(staff.name.clone()),
            ..NewMessage::citizen(c.channel, text)
        };
        let mut recorded = self.store.append(id, &[message], now_ms()).await?;
        let message = recorded.pop().ok_or(ConversationError::NotFound)?;
        self.announce(&c, vec![message.clone()], c.state);
        metrics::counter!("rathaus_staff_replies_total", "channel" => c.channel.as_str())
            .increment(1);
        Ok(message)
    }

    /// An internal note for colleagues; never shown or sent to the citizen.
    pub async fn note(
        &self,
        id: ConversationId,
        staff: &Staff,
        text: &str,
    ) -> Result<(), ConversationError> {
        let c = self.fetch(id).await?;
        let note = NewMessage {
            author: Author::Note,
            author_name: Some(staff.name.clone()),
            ..NewMessage::citizen(c.channel, text)
        };
        self.record(&c, &[note], c.state).await
    }

    /// Ends the handoff with an outcome; the bot answers new questions again.
    pub async fn close(
        &self,
        id: ConversationId,
        staff: &Staff,
        outcome: &str,
    ) -> Result<(), ConversationError> {
        let c = self.fetch(id).await?;
        if c.state == ConversationState::Claimed && c.assignee.as_ref() != Some(&staff.id) {
            return Err(ConversationError::Conflict(Conflict::ColleagueMustClose));
        }
        if !self.store.close(id, outcome, now_ms()).await? {
            return Err(ConversationError::Conflict(Conflict::NotOpen));
        }
        let line = format!("{} hat das Gespräch abgeschlossen ({outcome}).", staff.name);
        self.record(
            &c,
            &[NewMessage::system(c.channel, line)],
            ConversationState::Closed,
        )
        .await
    }

    /// Opens a closed conversation again, claimed by the staff member who reopens it.
    pub async fn reopen(&self, id: ConversationId, staff: &Staff) -> Result<(), ConversationError> {
        let c = self.fetch(id).await?;
        if !self.store.reopen(id, &staff.id, now_ms()).await? {
            return Err(ConversationError::Conflict(Conflict::NotClosed));
        }
        let line = format!("{} hat das Gespräch wieder geöffnet.", staff.name);
        self.record(
            &c,
            &[NewMessage::system(c.channel, line)],
            ConversationState::Claimed,
        )
        .await
    }

    /// A staff reply that its channel could not deliver, for good: staff read why in the
    /// transcript and can reach the citizen another way.
    pub async fn delivery_given_up(
        &self,
        conversation: &Conversation,
        message: &Message,
        error: &str,
    ) -> Result<(), ConversationError> {
        let at = chrono::DateTime::from_timestamp_millis(message.at)
            .map(|t| {
                t.with_timezone(&chrono::Local)
                    .format("%d.%m. %H:%M")
                    .to_string()
            })
            .unwrap_or_default();
        let line = format!("Die Antwort vom {at} konnte nicht zugestellt werden: {error}");
        self.record(
            conversation,
            &[NewMessage::system(conversation.channel, line)],
            conversation.state,
        )
        .await
    }

    /// Tells the other side that somebody is typing (staff in the console, for the widget).
    pub fn typing(&self, id: ConversationId, author: Author) {
        self.events.publish(Event::Typing {
            conversation: id,
            author,
        });
    }
}
