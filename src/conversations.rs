//! Conversations: the dialogue core plus memory. Starts conversations with an unguessable
//! token, checks the token on every access, runs each citizen message through the core and
//! records the turn. Every channel talks to Rathaus through this; it knows no channel's
//! wire format. Personal data is masked before anything is logged or counted.

use std::sync::Arc;

use base64::Engine;
use rand::RngCore;
use subtle::ConstantTimeEq;

use crate::dialogue::{Dialogue, Inbound, Outcome, Reply};
use crate::events::{Event, Events};
use crate::pii;
use crate::semantic::{Embedder, Purpose};
use crate::store::{
    Author, Channel, Conversation, ConversationId, ConversationState, Message, NewMessage, Store,
    StoreError, token_digest,
};

#[derive(Debug, thiserror::Error)]
pub enum ConversationError {
    /// Unknown id or wrong token: the same answer for both, so ids cannot be probed.
    #[error("conversation not found")]
    NotFound,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A new conversation's id and its access token (shown once, stored only as a digest).
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Started {
    #[schema(value_type = String)]
    pub id: ConversationId,
    pub token: String,
}

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[derive(Clone)]
pub struct Conversations {
    store: Arc<dyn Store>,
    dialogue: Arc<Dialogue>,
    embedder: Option<Embedder>,
    events: Events,
}

impl Conversations {
    pub fn new(
        store: Arc<dyn Store>,
        dialogue: Arc<Dialogue>,
        embedder: Option<Embedder>,
    ) -> Conversations {
        Conversations {
            store,
            dialogue,
            embedder,
            events: Events::default(),
        }
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
        match embedder.embed(&[text.to_string()], Purpose::Query).await {
            Ok(mut v) => v.pop(),
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
        let mut context = conversation.context.clone();
        context.with_staff = matches!(
            conversation.state,
            ConversationState::Waiting | ConversationState::Claimed
        );
        let vector = self.query_vector(&message.text).await;
        let decision = self
            .dialogue
            .respond_with(&context, message, vector.as_deref());
        let reply = decision.reply;
        let state = match (conversation.state, reply.outcome) {
            (ConversationState::Waiting | ConversationState::Claimed, _) => conversation.state,
            (_, Outcome::Handoff) => ConversationState::Waiting,
            (ConversationState::Closed, _) => ConversationState::Bot,
            (s, _) => s,
        };
        let mut messages = vec![NewMessage {
            author: Author::Citizen,
            channel,
            text: message.text.clone(),
            outcome: None,
            entries: Vec::new(),
        }];
        if !reply.silent {
            messages.push(NewMessage {
                author: Author::Bot,
                channel,
                text: reply.text.clone(),
                outcome: Some(reply.outcome),
                entries: reply.entries.iter().map(|e| e.id.to_string()).collect(),
            });
        }
        let mut next = decision.context;
        next.with_staff = false;
        let recorded = self
            .store
            .record_turn(conversation.id, &messages, state, &next, now_ms())
            .await?;
        self.announce(conversation, recorded, state);
        self.observe(&message.text, &reply, channel);
        Ok(reply)
    }

    /// A stateless answer (no conversation is kept), for portals and benchmarks.
    pub async fn answer(&self, message: &Inbound) -> Reply {
        let vector = self.query_vector(&message.text).await;
        let reply = self
            .dialogue
            .respond_with(&Default::default(), message, vector.as_deref())
            .reply;
        self.observe(&message.text, &reply, Channel::Api);
        reply
    }

    /// Counts the outcome, logs the masked question and keeps unanswered ones for the admins.
    fn observe(&self, text: &str, reply: &Reply, channel: Channel) {
        metrics::counter!("rathaus_replies_total", "outcome" => reply.outcome.as_str(), "channel" => channel.as_str())
            .increment(1);
        let masked = pii::mask(text);
        tracing::debug!(question = %masked, outcome = reply.outcome.as_str(), channel = channel.as_str(), "reply");
        if reply.outcome == Outcome::DontKnow && !masked.trim().is_empty() {
            // Off the reply's path: the citizen does not wait for the statistics.
            let short: String = masked.chars().take(500).collect();
            let (store, lang) = (self.store.clone(), reply.lang.code());
            tokio::spawn(async move {
                if let Err(e) = store.record_unanswered(&short, lang, now_ms()).await {
                    tracing::warn!(error = %e, "could not record an unanswered question");
                }
            });
        }
    }

    pub async fn transcript(&self, id: ConversationId) -> Result<Vec<Message>, ConversationError> {
        Ok(self.store.transcript(id).await?)
    }
}
