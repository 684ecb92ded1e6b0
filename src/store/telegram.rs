//! What the Telegram channel keeps beyond the shared inbox and outbox: which conversation
//! each chat has. Written once for SQLite and PostgreSQL; it never holds the bot token.

use async_trait::async_trait;

use super::{ConversationId, PostgresStore, Result, SqliteStore};

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

        }
    };
}

telegram_store!(SqliteStore);
telegram_store!(PostgresStore);
