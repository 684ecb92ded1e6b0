//! What the Telegram channel keeps: which conversation each chat has, the updates received
//! from the Bot API until they are processed (and their ids after, so that none is processed
//! twice). The lease that lets one instance at a time poll and process is a
//! [`super::LeaseStore`] lease named "telegram". Written once for SQLite and PostgreSQL; it
//! never holds the bot token.

use async_trait::async_trait;

use super::{ConversationId, PostgresStore, Result, SqliteStore, StoreError};

/// An update as received and kept until it is processed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredUpdate {
    pub update_id: i64,
    /// The chat it belongs to, where it has one: updates of one chat are processed in order.
    pub chat_id: Option<i64>,
    /// The update's JSON as the Bot API sends it.
    pub payload: String,
}

/// Where a conversation's transcript stood when processing an update began.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpdateMark {
    pub conversation: ConversationId,
    /// The last message's number then (0: none).
    pub seq: i64,
    /// False when an earlier attempt set the mark: that attempt may have recorded its turn.
    pub first_attempt: bool,
}

#[async_trait]
pub trait TelegramStore: Send + Sync {
    /// The conversation a chat has, if any.
    async fn telegram_conversation(&self, chat_id: i64) -> Result<Option<ConversationId>>;
    /// Gives a chat its conversation; false when it has one already.
    async fn link_telegram_chat(
        &self,
        chat_id: i64,
        conversation: ConversationId,
        now: i64,
    ) -> Result<bool>;
    /// Moves a conversation to the chat's new id (a group that became a supergroup).
    async fn move_telegram_chat(&self, from: i64, to: i64) -> Result<()>;
    /// The chat a conversation takes place in.
    async fn telegram_chat(&self, conversation: ConversationId) -> Result<Option<i64>>;

    /// Keeps updates for processing, in one transaction; ids seen before are skipped.
    /// Returns how many were new.
    async fn receive_telegram_updates(&self, updates: &[StoredUpdate], now: i64) -> Result<u64>;
    /// Updates not processed yet, by update id.
    async fn pending_telegram_updates(&self, limit: i64) -> Result<Vec<StoredUpdate>>;
    /// Notes where the conversation stands as processing of an update begins; an earlier
    /// attempt's mark stays (see [`UpdateMark::first_attempt`]).
    async fn mark_telegram_update(
        &self,
        update_id: i64,
        conversation: ConversationId,
    ) -> Result<UpdateMark>;
    /// The update is processed: its payload is dropped, its id kept against repeats.
    async fn finish_telegram_update(&self, update_id: i64, now: i64) -> Result<()>;
    /// Forgets the ids of updates processed before `before` (the Bot API repeats an update
    /// for at most a day); returns how many.
    async fn prune_telegram_updates(&self, before: i64) -> Result<u64>;
}

macro_rules! telegram_store {
    ($store:ident) => {
        #[async_trait]
        impl TelegramStore for $store {
            async fn telegram_conversation(&self, chat_id: i64) -> Result<Option<ConversationId>> {
                let id: Option<String> = sqlx::query_scalar("SELECT conversation_id FROM telegram_chats WHERE chat_id = $1")
                    .bind(chat_id)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(id.map(|s| s.parse()).transpose()?)
            }

            async fn link_telegram_chat(&self, chat_id: i64, conversation: ConversationId, now: i64) -> Result<bool> {
                let r = sqlx::query(
                    "INSERT INTO telegram_chats (chat_id, conversation_id, created_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (chat_id) DO NOTHING",
                )
                .bind(chat_id)
                .bind(conversation.to_string())
                .bind(now)
                .execute(&self.pool)
                .await?;
                Ok(r.rows_affected() > 0)
            }

            async fn move_telegram_chat(&self, from: i64, to: i64) -> Result<()> {
                sqlx::query("UPDATE telegram_chats SET chat_id = $1 WHERE chat_id = $2")
                    .bind(to)
                    .bind(from)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn telegram_chat(&self, conversation: ConversationId) -> Result<Option<i64>> {
                Ok(sqlx::query_scalar("SELECT chat_id FROM telegram_chats WHERE conversation_id = $1")
                    .bind(conversation.to_string())
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn receive_telegram_updates(&self, updates: &[StoredUpdate], now: i64) -> Result<u64> {
                let mut tx = self.pool.begin().await?;
                let mut new = 0;
                for u in updates {
                    let r = sqlx::query(
                        "INSERT INTO telegram_updates (update_id, chat_id, payload, received_at) VALUES ($1, $2, $3, $4) \
                         ON CONFLICT (update_id) DO NOTHING",
                    )
                    .bind(u.update_id)
                    .bind(u.chat_id)
                    .bind(&u.payload)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                    new += r.rows_affected();
                }
                tx.commit().await?;
                Ok(new)
            }

            async fn pending_telegram_updates(&self, limit: i64) -> Result<Vec<StoredUpdate>> {
                let rows: Vec<(i64, Option<i64>, String)> = sqlx::query_as(
                    "SELECT update_id, chat_id, payload FROM telegram_updates WHERE done_at IS NULL \
                     ORDER BY update_id LIMIT $1",
                )
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
                Ok(rows
                    .into_iter()
                    .map(|(update_id, chat_id, payload)| StoredUpdate { update_id, chat_id, payload })
                    .collect())
            }

            async fn mark_telegram_update(&self, update_id: i64, conversation: ConversationId) -> Result<UpdateMark> {
                let mut tx = self.pool.begin().await?;
                let set = sqlx::query(
                    "UPDATE telegram_updates SET conversation_id = $1, \
                     mark_seq = (SELECT COALESCE(MAX(seq), 0) FROM messages WHERE conversation_id = $1) \
                     WHERE update_id = $2 AND mark_seq IS NULL",
                )
                .bind(conversation.to_string())
                .bind(update_id)
                .execute(&mut *tx)
                .await?;
                let (id, seq): (Option<String>, Option<i64>) =
                    sqlx::query_as("SELECT conversation_id, mark_seq FROM telegram_updates WHERE update_id = $1")
                        .bind(update_id)
                        .fetch_one(&mut *tx)
                        .await?;
                tx.commit().await?;
                match (id, seq) {
                    (Some(id), Some(seq)) => Ok(UpdateMark {
                        conversation: id.parse()?,
                        seq,
                        first_attempt: set.rows_affected() > 0,
                    }),
                    _ => Err(StoreError::Corrupt(format!("update {update_id} has no mark"))),
                }
            }

            async fn finish_telegram_update(&self, update_id: i64, now: i64) -> Result<()> {
                sqlx::query("UPDATE telegram_updates SET done_at = $1, payload = '' WHERE update_id = $2 AND done_at IS NULL")
                    .bind(now)
                    .bind(update_id)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn prune_telegram_updates(&self, before: i64) -> Result<u64> {
                let r = sqlx::query("DELETE FROM telegram_updates WHERE done_at < $1")
                    .bind(before)
                    .execute(&self.pool)
                    .await?;
                Ok(r.rows_affected())
            }
        }
    };
}

telegram_store!(SqliteStore);
telegram_store!(PostgresStore);
