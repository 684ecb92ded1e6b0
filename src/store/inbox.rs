//! The inbox every channel shares, the mirror of the outbox: a received message is kept
//! under the channel's idempotency key before it is worked (a repeat is skipped), stays
//! pending until it is finished, and carries a mark of where its conversation's transcript
//! stood when work on it began, so that work repeated after a crash can tell whether its turn
//! was recorded. Written once for SQLite and PostgreSQL.

use async_trait::async_trait;

use super::{Channel, ConversationId, PostgresStore, Result, SqliteStore, StoreError};

/// A message as a channel received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// The channel's idempotency key: the same message received twice has the same key.
    pub key: String,
    /// Messages of one lane (a chat, a sender) are worked in order, lanes side by side.
    pub lane: Option<String>,
    /// The order within the channel (an update id, a UID).
    pub position: i64,
    /// The message as the channel received it (emptied once it is worked).
    pub payload: Vec<u8>,
}

/// Where a conversation's transcript stood when work on a received message began.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TurnMark {
    pub conversation: ConversationId,
    /// The last message's number then (0: none).
    pub seq: i64,
    /// False when an earlier attempt set the mark: that attempt may have recorded its turn.
    pub first_attempt: bool,
}

#[async_trait]
pub trait InboxStore: Send + Sync {
    /// Keeps received messages, in one transaction; keys seen before are skipped. Returns
    /// how many were new.
    async fn inbox_receive(&self, channel: Channel, items: &[Received], now: i64) -> Result<u64>;
    /// Messages not worked yet, in order.
    async fn inbox_pending(&self, channel: Channel, limit: i64) -> Result<Vec<Received>>;
    /// Notes where the conversation stands as work on a message begins; an earlier
    /// attempt's mark stays (see [`TurnMark::first_attempt`]).
    async fn inbox_mark(
        &self,
        channel: Channel,
        key: &str,
        conversation: ConversationId,
    ) -> Result<TurnMark>;
    /// The message is worked: its payload is dropped, its key kept against repeats.
    async fn inbox_finish(&self, channel: Channel, key: &str, now: i64) -> Result<()>;
    /// Forgets the keys of messages worked before `before`; returns how many.
    async fn inbox_prune(&self, channel: Channel, before: i64) -> Result<u64>;
}

macro_rules! inbox_store {
    ($store:ident) => {
        #[async_trait]
        impl InboxStore for $store {
            async fn inbox_receive(&self, channel: Channel, items: &[Received], now: i64) -> Result<u64> {
                let mut tx = self.pool.begin().await?;
                let mut new = 0;
                for item in items {
                    let r = sqlx::query(
                        "INSERT INTO inbox (channel, item_key, lane, position, payload, received_at) \
                         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (channel, item_key) DO NOTHING",
                    )
                    .bind(channel.as_str())
                    .bind(&item.key)
                    .bind(item.lane.as_deref())
                    .bind(item.position)
                    .bind(&item.payload)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                    new += r.rows_affected();
                }
                tx.commit().await?;
                Ok(new)
            }

            async fn inbox_pending(&self, channel: Channel, limit: i64) -> Result<Vec<Received>> {
                let rows: Vec<(String, Option<String>, i64, Vec<u8>)> = sqlx::query_as(
                    "SELECT item_key, lane, position, payload FROM inbox \
                     WHERE channel = $1 AND done_at IS NULL ORDER BY position, received_at LIMIT $2",
                )
                .bind(channel.as_str())
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
                Ok(rows
                    .into_iter()
                    .map(|(key, lane, position, payload)| Received { key, lane, position, payload })
                    .collect())
            }

            async fn inbox_mark(
                &self,
                channel: Channel,
                key: &str,
                conversation: ConversationId,
            ) -> Result<TurnMark> {
                let mut tx = self.pool.begin().await?;
                let set = sqlx::query(
                    "UPDATE inbox SET conversation_id = $1, \
                     mark_seq = (SELECT COALESCE(MAX(seq), 0) FROM messages WHERE conversation_id = $1) \
                     WHERE channel = $2 AND item_key = $3 AND mark_seq IS NULL",
                )
                .bind(conversation.to_string())
                .bind(channel.as_str())
                .bind(key)
                .execute(&mut *tx)
                .await?;
                let (id, seq): (Option<String>, Option<i64>) = sqlx::query_as(
                    "SELECT conversation_id, mark_seq FROM inbox WHERE channel = $1 AND item_key = $2",
                )
                .bind(channel.as_str())
                .bind(key)
                .fetch_one(&mut *tx)
                .await?;
                tx.commit().await?;
                match (id, seq) {
                    (Some(id), Some(seq)) => Ok(TurnMark {
                        conversation: id.parse()?,
                        seq,
                        first_attempt: set.rows_affected() > 0,
                    }),
                    _ => Err(StoreError::Corrupt(format!(
                        "{} message {key} has no mark",
                        channel.as_str()
                    ))),
                }
            }

            async fn inbox_finish(&self, channel: Channel, key: &str, now: i64) -> Result<()> {
                sqlx::query(
                    "UPDATE inbox SET done_at = $1, payload = $2 \
                     WHERE channel = $3 AND item_key = $4 AND done_at IS NULL",
                )
                .bind(now)
                .bind(Vec::<u8>::new())
                .bind(channel.as_str())
                .bind(key)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn inbox_prune(&self, channel: Channel, before: i64) -> Result<u64> {
                let r = sqlx::query("DELETE FROM inbox WHERE channel = $1 AND done_at < $2")
                    .bind(channel.as_str())
                    .bind(before)
                    .execute(&self.pool)
                    .await?;
                Ok(r.rows_affected())
            }
        }
    };
}

inbox_store!(SqliteStore);
inbox_store!(PostgresStore);
