//! Everything Rathaus keeps: the catalogue, conversations with their messages, and the
//! questions it could not answer (masked). One [`Store`] trait; SQLite and PostgreSQL
//! implement it with the same SQL, written once below. Database errors are mapped here,
//! once, and never leave as driver text.

mod url;

pub use url::{DatabaseUrl, InvalidDatabaseUrl};

use std::sync::Arc;

use async_trait::async_trait;

mod email;
mod inbox;
mod lease;
mod outbox;
mod staff;

pub use crate::domain::{CannedReply, QueueItem, Session, Staff, StaffId, StaffRole};
pub use email::{
    EmailStore, InboundRecord, InboundState, MailKey, MailThread, OutboundKind, OutboundMail,
    OutboundState, PendingMail,
};
pub use inbox::{InboxStore, Received, TurnMark};
pub use lease::LeaseStore;
pub use outbox::{Delivery, OutboxStore};
pub use staff::{ConsoleStore, parse_reason, reason_str};

mod phone;
mod telegram;

pub use phone::{Call, CalledBack, CallerNumber, InvalidCallerNumber, PhoneStore};
pub use telegram::TelegramStore;

use crate::domain::Context;
use crate::knowledge::{Change, Entry, Office};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("conflicting write, try again")]
    Conflict,
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("database error: {0}")]
    Database(String),
    #[error("migration failed: {0}")]
    Migration(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::RowNotFound => StoreError::NotFound,
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict,
            sqlx::Error::Database(db) if db.code().is_some_and(|c| connection_lost(&c)) => {
                StoreError::Unavailable(e.to_string())
            }
            sqlx::Error::WorkerCrashed | sqlx::Error::Protocol(_) => {
                StoreError::Unavailable(e.to_string())
            }
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_) => StoreError::Unavailable(e.to_string()),
            sqlx::Error::ColumnDecode { .. }
            | sqlx::Error::Decode(_)
            | sqlx::Error::ColumnNotFound(_) => StoreError::Corrupt(e.to_string()),
            _ => StoreError::Database(e.to_string()),
        }
    }
}

/// SQLSTATEs that say the connection or the server went away, not that the query was
/// wrong: class 08 (connection exception), 57P01–57P03 (shut down, crashed, starting up),
/// 53300 (too many connections), and what a new connection meets when the database or its
/// role is gone (3D000, class 28). Retrying later may help; the client gets 503, not 500.
fn connection_lost(code: &str) -> bool {
    ["08", "28", "3D"]
        .iter()
        .any(|class| code.starts_with(class))
        || matches!(code, "57P01" | "57P02" | "57P03" | "53300")
}

/// A conversation id in a row that is not one.
impl From<uuid::Error> for StoreError {
    fn from(e: uuid::Error) -> Self {
        StoreError::Corrupt(e.to_string())
    }
}

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> Self {
        StoreError::Corrupt(e.to_string())
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

pub use crate::domain::{
    Author, Channel, Conversation, ConversationId, ConversationState, Handoff, Message, NewMessage,
    Unanswered, UnknownValue, token_digest,
};

/// A stored value Rathaus does not know (a channel, a state, a role): the row is corrupt.
impl From<UnknownValue> for StoreError {
    fn from(e: UnknownValue) -> Self {
        StoreError::Corrupt(e.0)
    }
}

#[async_trait]
pub trait Store:
    ConsoleStore
    + InboxStore
    + LeaseStore
    + OutboxStore
    + TelegramStore
    + EmailStore
    + PhoneStore
    + Send
    + Sync
{
    /// Whether the database answers a trivial query now.
    async fn ping(&self) -> Result<()>;
    /// Inserts or updates entries by id, in one transaction; says what changed for each.
    async fn put_entries(&self, entries: &[Entry], now: i64) -> Result<Vec<Change>>;
    async fn entries(&self) -> Result<Vec<Entry>>;
    async fn put_offices(&self, offices: &[Office], now: i64) -> Result<Vec<Change>>;
    async fn offices(&self) -> Result<Vec<Office>>;
    /// The synonym list of a language ("de", "en") as the admin wrote it.
    async fn put_synonyms(&self, lang: &str, text: &str, now: i64) -> Result<()>;
    async fn synonyms(&self, lang: &str) -> Result<Option<String>>;

    async fn create_conversation(&self, c: &Conversation) -> Result<()>;
    async fn conversation(&self, id: ConversationId) -> Result<Option<Conversation>>;
    /// Appends messages and sets the conversation's state and context, atomically.
    async fn record_turn(
        &self,
        id: ConversationId,
        messages: &[NewMessage],
        state: ConversationState,
        context: &Context,
        now: i64,
    ) -> Result<Vec<Message>>;
    async fn transcript(&self, id: ConversationId) -> Result<Vec<Message>>;
    /// Deletes a conversation with its messages; false when there was none.
    async fn delete_conversation(&self, id: ConversationId) -> Result<bool>;
    /// Deletes conversations not touched since `before`; returns how many.
    async fn delete_conversations_before(&self, before: i64) -> Result<u64>;

    /// Keeps unanswered questions (already masked), all in one transaction.
    async fn record_unanswered(&self, questions: &[Unanswered]) -> Result<()>;
    async fn unanswered(&self, limit: i64) -> Result<Vec<Unanswered>>;
    /// Deletes unanswered questions recorded before `before`; returns how many.
    async fn delete_unanswered_before(&self, before: i64) -> Result<u64>;

    /// Every cached text vector of a model, by the text's digest ([`text_digest`]).
    async fn embeddings(&self, model: &str) -> Result<Vec<(String, Vec<f32>)>>;
    /// Caches text vectors of a model; a digest already there keeps its vector.
    async fn put_embeddings(
        &self,
        model: &str,
        rows: &[(String, Vec<f32>)],
        now: i64,
    ) -> Result<()>;
}

/// The digest a text's vector is cached under.
pub fn text_digest(text: &str) -> String {
    token_digest(text)
}

/// A vector as stored: little-endian `f32`s.
fn vector_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn bytes_vector(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

fn entries_json(v: &[String]) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
}

fn content_hash(json: &str) -> String {
    token_digest(json)
}

/// Appends messages inside a transaction, numbering them after the last; the rows as stored.
macro_rules! append_messages {
    ($tx:ident, $id:expr, $messages:expr, $now:expr) => {{
        let last: Option<i64> = sqlx::query_scalar("SELECT MAX(seq) FROM messages WHERE conversation_id = $1")
            .bind($id.to_string())
            .fetch_one(&mut *$tx)
            .await?;
        let mut seq = last.unwrap_or(0);
        let mut out = Vec::with_capacity($messages.len());
        for m in $messages {
            seq += 1;
            sqlx::query(
                "INSERT INTO messages (conversation_id, seq, author, channel, text, outcome, entries, author_name, created_at, why, in_reply_to, delivery_state) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            )
            .bind($id.to_string())
            .bind(seq)
            .bind(m.author.as_str())
            .bind(m.channel.as_str())
            .bind(&m.text)
            .bind(m.outcome.map(|o| o.as_str()))
            .bind(entries_json(&m.entries))
            .bind(m.author_name.as_deref())
            .bind($now)
            .bind(m.why.as_deref())
            .bind(m.in_reply_to.as_deref())
            // Pending (NULL) for the outbox of a channel that sends it; no one's otherwise.
            .bind((!m.channel.delivers(m.author)).then_some("none"))
            .execute(&mut *$tx)
            .await?;
            out.push(Message {
                seq,
                author: m.author,
                channel: m.channel,
                text: m.text.clone(),
                outcome: m.outcome,
                entries: m.entries.clone(),
                author_name: m.author_name.clone(),
                at: $now,
                why: m.why.clone(),
            });
        }
        out
    }};
}
pub(crate) use append_messages;

/// The same SQL for both databases: `$n` placeholders, `ON CONFLICT`, BIGINT milliseconds.
macro_rules! sql_store {
    ($store:ident) => {
        #[async_trait]
        impl Store for $store {
            async fn ping(&self) -> Result<()> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }

            async fn put_entries(&self, entries: &[Entry], now: i64) -> Result<Vec<Change>> {
                let mut tx = self.pool.begin().await?;
                let mut changes = Vec::with_capacity(entries.len());
                for e in entries {
                    let data = serde_json::to_string(e)?;
                    let hash = content_hash(&data);
                    let old: Option<String> = sqlx::query_scalar("SELECT hash FROM entries WHERE id = $1")
                        .bind(e.id.as_str())
                        .fetch_optional(&mut *tx)
                        .await?;
                    let change = match old {
                        None => Change::Added,
                        Some(h) if h == hash => Change::Unchanged,
                        Some(_) => Change::Updated,
                    };
                    if change != Change::Unchanged {
                        sqlx::query(
                            "INSERT INTO entries (id, name, data, hash, updated_at) VALUES ($1, $2, $3, $4, $5) \
                             ON CONFLICT (id) DO UPDATE SET name = excluded.name, data = excluded.data, \
                             hash = excluded.hash, updated_at = excluded.updated_at",
                        )
                        .bind(e.id.as_str())
                        .bind(&e.name)
                        .bind(&data)
                        .bind(&hash)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                    }
                    changes.push(change);
                }
                tx.commit().await?;
                Ok(changes)
            }

            async fn entries(&self) -> Result<Vec<Entry>> {
                let rows: Vec<(String,)> = sqlx::query_as("SELECT data FROM entries ORDER BY id").fetch_all(&self.pool).await?;
                rows.into_iter().map(|(d,)| serde_json::from_str(&d).map_err(StoreError::from)).collect()
            }

            async fn put_offices(&self, offices: &[Office], now: i64) -> Result<Vec<Change>> {
                let mut tx = self.pool.begin().await?;
                let mut changes = Vec::with_capacity(offices.len());
                for o in offices {
                    let data = serde_json::to_string(o)?;
                    let old: Option<String> = sqlx::query_scalar("SELECT data FROM offices WHERE id = $1")
                        .bind(o.id.as_str())
                        .fetch_optional(&mut *tx)
                        .await?;
                    let change = match old {
                        None => Change::Added,
                        Some(d) if d == data => Change::Unchanged,
                        Some(_) => Change::Updated,
                    };
                    if change != Change::Unchanged {
                        sqlx::query(
                            "INSERT INTO offices (id, data, updated_at) VALUES ($1, $2, $3) \
                             ON CONFLICT (id) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at",
                        )
                        .bind(o.id.as_str())
                        .bind(&data)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                    }
                    changes.push(change);
                }
                tx.commit().await?;
                Ok(changes)
            }

            async fn offices(&self) -> Result<Vec<Office>> {
                let rows: Vec<(String,)> = sqlx::query_as("SELECT data FROM offices ORDER BY id").fetch_all(&self.pool).await?;
                rows.into_iter().map(|(d,)| serde_json::from_str(&d).map_err(StoreError::from)).collect()
            }

            async fn put_synonyms(&self, lang: &str, text: &str, now: i64) -> Result<()> {
                sqlx::query(
                    "INSERT INTO synonyms (lang, body, updated_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (lang) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at",
                )
                .bind(lang)
                .bind(text)
                .bind(now)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn synonyms(&self, lang: &str) -> Result<Option<String>> {
                Ok(sqlx::query_scalar("SELECT body FROM synonyms WHERE lang = $1").bind(lang).fetch_optional(&self.pool).await?)
            }

            async fn create_conversation(&self, c: &Conversation) -> Result<()> {
                sqlx::query(
                    "INSERT INTO conversations (id, channel, token_digest, state, context, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(c.id.to_string())
                .bind(c.channel.as_str())
                .bind(&c.token_digest)
                .bind(c.state.as_str())
                .bind(serde_json::to_string(&c.context)?)
                .bind(c.created_at)
                .bind(c.updated_at)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn conversation(&self, id: ConversationId) -> Result<Option<Conversation>> {
                #[allow(clippy::type_complexity)]
                let row: Option<(String, String, String, String, Option<String>, Option<i64>, Option<String>, i64, i64)> = sqlx::query_as(
                    "SELECT channel, token_digest, state, context, handoff_reason, handoff_at, assignee, created_at, updated_at \
                     FROM conversations WHERE id = $1",
                )
                .bind(id.to_string())
                .fetch_optional(&self.pool)
                .await?;
                row.map(|(channel, token_digest, state, context, reason, handoff_at, assignee, created_at, updated_at)| {
                    let handoff = match (reason, handoff_at) {
                        (Some(r), Some(at)) => Some(Handoff { reason: parse_reason(&r)?, at }),
                        _ => None,
                    };
                    Ok(Conversation {
                        id,
                        channel: channel.parse()?,
                        token_digest,
                        state: state.parse()?,
                        context: serde_json::from_str(&context)?,
                        handoff,
                        assignee: assignee.map(StaffId),
                        created_at,
                        updated_at,
                    })
                })
                .transpose()
            }

            async fn record_turn(
                &self,
                id: ConversationId,
                messages: &[NewMessage],
                state: ConversationState,
                context: &Context,
                now: i64,
            ) -> Result<Vec<Message>> {
                let mut tx = self.pool.begin().await?;
                // Updating the conversation first locks it: turns of one conversation queue up.
                let updated = sqlx::query("UPDATE conversations SET state = $1, context = $2, updated_at = $3 WHERE id = $4")
                    .bind(state.as_str())
                    .bind(serde_json::to_string(context)?)
                    .bind(now)
                    .bind(id.to_string())
                    .execute(&mut *tx)
                    .await?;
                if updated.rows_affected() == 0 {
                    return Err(StoreError::NotFound);
                }
                let out = append_messages!(tx, id, messages, now);
                tx.commit().await?;
                Ok(out)
            }

            async fn transcript(&self, id: ConversationId) -> Result<Vec<Message>> {
                #[allow(clippy::type_complexity)]
                let rows: Vec<(i64, String, String, String, Option<String>, String, Option<String>, i64, Option<String>)> = sqlx::query_as(
                    "SELECT seq, author, channel, text, outcome, entries, author_name, created_at, why FROM messages \
                     WHERE conversation_id = $1 ORDER BY seq",
                )
                .bind(id.to_string())
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter()
                    .map(|(seq, author, channel, text, outcome, entries, author_name, at, why)| {
                        Ok(Message {
                            seq,
                            author: Author::parse(&author)?,
                            channel: channel.parse()?,
                            text,
                            outcome: outcome.map(|o| serde_json::from_value(serde_json::Value::String(o))).transpose()?,
                            entries: serde_json::from_str(&entries)?,
                            author_name,
                            at,
                            why,
                        })
                    })
                    .collect()
            }

            async fn delete_conversation(&self, id: ConversationId) -> Result<bool> {
                let mut tx = self.pool.begin().await?;
                sqlx::query("DELETE FROM messages WHERE conversation_id = $1").bind(id.to_string()).execute(&mut *tx).await?;
                let r = sqlx::query("DELETE FROM conversations WHERE id = $1").bind(id.to_string()).execute(&mut *tx).await?;
                tx.commit().await?;
                Ok(r.rows_affected() > 0)
            }

            async fn delete_conversations_before(&self, before: i64) -> Result<u64> {
                let mut tx = self.pool.begin().await?;
                sqlx::query("DELETE FROM messages WHERE conversation_id IN (SELECT id FROM conversations WHERE updated_at < $1)")
                    .bind(before)
                    .execute(&mut *tx)
                    .await?;
                let r = sqlx::query("DELETE FROM conversations WHERE updated_at < $1").bind(before).execute(&mut *tx).await?;
                tx.commit().await?;
                Ok(r.rows_affected())
            }

            async fn record_unanswered(&self, questions: &[Unanswered]) -> Result<()> {
                let mut tx = self.pool.begin().await?;
                for q in questions {
                    sqlx::query("INSERT INTO unanswered (id, text, lang, created_at) VALUES ($1, $2, $3, $4)")
                        .bind(uuid::Uuid::new_v4().to_string())
                        .bind(&q.text)
                        .bind(&q.lang)
                        .bind(q.at)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn unanswered(&self, limit: i64) -> Result<Vec<Unanswered>> {
                let rows: Vec<(String, String, i64)> =
                    sqlx::query_as("SELECT text, lang, created_at FROM unanswered ORDER BY created_at DESC LIMIT $1")
                        .bind(limit)
                        .fetch_all(&self.pool)
                        .await?;
                Ok(rows.into_iter().map(|(text, lang, at)| Unanswered { text, lang, at }).collect())
            }

            async fn delete_unanswered_before(&self, before: i64) -> Result<u64> {
                let r = sqlx::query("DELETE FROM unanswered WHERE created_at < $1").bind(before).execute(&self.pool).await?;
                Ok(r.rows_affected())
            }

            async fn embeddings(&self, model: &str) -> Result<Vec<(String, Vec<f32>)>> {
                let rows: Vec<(String, Vec<u8>)> =
                    sqlx::query_as("SELECT text_hash, vector FROM embeddings WHERE model = $1")
                        .bind(model)
                        .fetch_all(&self.pool)
                        .await?;
                Ok(rows.into_iter().map(|(h, v)| (h, bytes_vector(&v))).collect())
            }

            async fn put_embeddings(&self, model: &str, rows: &[(String, Vec<f32>)], now: i64) -> Result<()> {
                let mut tx = self.pool.begin().await?;
                for (hash, vector) in rows {
                    sqlx::query(
                        "INSERT INTO embeddings (model, text_hash, vector, created_at) VALUES ($1, $2, $3, $4) \
                         ON CONFLICT (model, text_hash) DO NOTHING",
                    )
                    .bind(model)
                    .bind(hash)
                    .bind(vector_bytes(vector))
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(())
            }
        }
    };
}

/// The embedded default: one SQLite file.
pub struct SqliteStore {
    pub(crate) pool: sqlx::SqlitePool,
}

/// PostgreSQL, for several instances behind a load balancer.
pub struct PostgresStore {
    pub(crate) pool: sqlx::PgPool,
}

sql_store!(SqliteStore);
sql_store!(PostgresStore);

impl SqliteStore {
    pub async fn connect(path: &str) -> Result<SqliteStore> {
        use sqlx::sqlite::{
            SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
        };
        let memory = path == ":memory:";
        let options = if memory {
            SqliteConnectOptions::new().in_memory(true)
        } else {
            SqliteConnectOptions::new()
                .filename(path)
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
        }
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(std::time::Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(if memory { 1 } else { 8 })
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations/sqlite")
            .run(&pool)
            .await
            .map_err(|e| StoreError::Migration(e.to_string()))?;
        Ok(SqliteStore { pool })
    }
}

impl PostgresStore {
    pub async fn connect(url: &str) -> Result<PostgresStore> {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(std::time::Duration::from_secs(10))
            .connect(url)
            .await?;
        sqlx::migrate!("./migrations/postgres")
            .run(&pool)
            .await
            .map_err(|e| StoreError::Migration(e.to_string()))?;
        Ok(PostgresStore { pool })
    }
}

/// Opens the database a URL names, creating and migrating it as needed.
pub async fn open(url: &DatabaseUrl) -> Result<Arc<dyn Store>> {
    Ok(match url {
        DatabaseUrl::Sqlite(path) => Arc::new(SqliteStore::connect(path).await?),
        DatabaseUrl::Postgres(secret) => {
            use secrecy::ExposeSecret;
            Arc::new(PostgresStore::connect(secret.expose_secret()).await?)
        }
    })
}
