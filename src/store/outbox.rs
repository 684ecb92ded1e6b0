//! The outbox: the messages a channel's own sender carries to the citizen (staff replies on
//! e-mail and Telegram, the bot's replies on Telegram; see [`Channel::delivers`]). A message
//! is recorded first, pending; the channel takes it from here, sends it and marks it sent,
//! or keeps it for a later attempt, or gives up and says why.
//! Taking a reply leases it for a while, so that two Rathaus instances never send the same
//! one at the same time and a sender that dies mid-send leaves it to be taken again.

use async_trait::async_trait;

use super::{Author, Channel, ConversationId, Message, PostgresStore, Result, SqliteStore};

/// A message a channel has taken to send.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub conversation: ConversationId,
    pub message: Message,
    /// The channel's own id of the citizen's message it answers, if the channel gave one.
    pub in_reply_to: Option<String>,
    /// Attempts so far, this one included.
    pub attempts: i64,
}

#[async_trait]
pub trait OutboxStore: Send + Sync {
    /// Takes up to `limit` pending messages of a channel whose time has come, oldest
    /// first, each the first pending message of its conversation, and leases them until `lease_until`: nobody else takes them before then.
    async fn take_deliveries(
        &self,
        channel: Channel,
        now: i64,
        lease_until: i64,
        limit: i64,
    ) -> Result<Vec<Delivery>>;
    /// The message reached the citizen's channel.
    async fn delivery_sent(&self, id: ConversationId, seq: i64, now: i64) -> Result<bool>;
    /// The attempt failed: try again at `retry_at`, or never (`None`: given up).
    async fn delivery_failed(
        &self,
        id: ConversationId,
        seq: i64,
        error: &str,
        retry_at: Option<i64>,
    ) -> Result<bool>;
}

type DeliveryRow = (
    String,
    i64,
    String,
    Option<String>,
    String,
    String,
    Option<String>,
    String,
    Option<String>,
    i64,
    i64,
);

fn delivery(row: DeliveryRow) -> Result<Delivery> {
    let (
        conversation,
        seq,
        author,
        in_reply_to,
        channel,
        text,
        outcome,
        entries,
        author_name,
        at,
        attempts,
    ) = row;
    Ok(Delivery {
        conversation: conversation.parse()?,
        in_reply_to,
        message: Message {
            seq,
            author: Author::parse(&author)?,
            channel: channel.parse()?,
            text,
            outcome: outcome
                .map(|o| serde_json::from_value(serde_json::Value::String(o)))
                .transpose()?,
            entries: serde_json::from_str(&entries)?,
            author_name,
            at,
            why: None,
        },
        attempts,
    })
}

macro_rules! outbox_store {
    ($store:ident) => {
        #[async_trait]
        impl OutboxStore for $store {
            async fn take_deliveries(
                &self,
                channel: Channel,
                now: i64,
                lease_until: i64,
                limit: i64,
            ) -> Result<Vec<Delivery>> {
                // Only the first pending message of a conversation is taken, so that a
                // conversation's messages arrive in order even when an earlier one waits for
                // a retry or another instance's lease. The outer conditions are checked again
                // on the locked rows: of two instances taking at once, only one gets each.
                let rows: Vec<DeliveryRow> = sqlx::query_as(
                    "UPDATE messages SET delivery_retry_at = $1, delivery_attempts = delivery_attempts + 1 \
                     WHERE channel = $2 AND delivery_state IS NULL AND delivery_retry_at <= $3 \
                     AND (conversation_id, seq) IN (SELECT conversation_id, seq FROM messages m \
                         WHERE m.channel = $2 AND m.delivery_state IS NULL AND m.delivery_retry_at <= $3 \
                         AND NOT EXISTS (SELECT 1 FROM messages e WHERE e.conversation_id = m.conversation_id \
                             AND e.delivery_state IS NULL AND e.seq < m.seq) \
                         ORDER BY m.created_at, m.seq LIMIT $4) \
                     RETURNING conversation_id, seq, author, in_reply_to, channel, text, outcome, entries, author_name, created_at, delivery_attempts",
                )
                .bind(lease_until)
                .bind(channel.as_str())
                .bind(now)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
                let mut out = rows.into_iter().map(delivery).collect::<Result<Vec<_>>>()?;
                out.sort_by_key(|d| (d.message.at, d.message.seq));
                Ok(out)
            }

            async fn delivery_sent(&self, id: ConversationId, seq: i64, now: i64) -> Result<bool> {
                let r = sqlx::query(
                    "UPDATE messages SET delivery_state = 'sent', delivered_at = $1, delivery_error = NULL \
                     WHERE conversation_id = $2 AND seq = $3 AND delivery_state IS NULL",
                )
                .bind(now)
                .bind(id.to_string())
                .bind(seq)
                .execute(&self.pool)
                .await?;
                Ok(r.rows_affected() > 0)
            }

            async fn delivery_failed(
                &self,
                id: ConversationId,
                seq: i64,
                error: &str,
                retry_at: Option<i64>,
            ) -> Result<bool> {
                let r = match retry_at {
                    Some(at) => sqlx::query(
                        "UPDATE messages SET delivery_retry_at = $1, delivery_error = $2 \
                         WHERE conversation_id = $3 AND seq = $4 AND delivery_state IS NULL",
                    )
                    .bind(at),
                    None => sqlx::query(
                        "UPDATE messages SET delivery_state = 'failed', delivery_retry_at = $1, delivery_error = $2 \
                         WHERE conversation_id = $3 AND seq = $4 AND delivery_state IS NULL",
                    )
                    .bind(i64::MAX),
                }
                .bind(error)
                .bind(id.to_string())
                .bind(seq)
                .execute(&self.pool)
                .await?;
                Ok(r.rows_affected() > 0)
            }
        }
    };
}

outbox_store!(SqliteStore);
outbox_store!(PostgresStore);
