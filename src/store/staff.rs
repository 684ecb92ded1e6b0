//! What the handoff console keeps: staff accounts and sessions, failed logins, the handoff
//! queue with its claims, and canned replies. Written once for SQLite and PostgreSQL like the
//! rest of the store; passwords and session ids arrive here only as hashes and digests.

use async_trait::async_trait;

use super::{
    ConversationId, Message, NewMessage, PostgresStore, Result, SqliteStore, StoreError,
    append_messages, entries_json,
};
use crate::domain::{CannedReply, HandoffReason, QueueItem, Session, Staff, StaffId, StaffRole};

/// A stored role, read back.
fn parse_role(s: &str) -> Result<StaffRole> {
    match s {
        "agent" => Ok(StaffRole::Agent),
        "admin" => Ok(StaffRole::Admin),
        other => Err(StoreError::Corrupt(format!("unknown role '{other}'"))),
    }
}

pub fn reason_str(r: HandoffReason) -> &'static str {
    match r {
        HandoffReason::Requested => "requested",
        HandoffReason::Callback => "callback",
        HandoffReason::Complaint => "complaint",
        HandoffReason::NotAnswered => "not_answered",
    }
}

pub fn parse_reason(s: &str) -> Result<HandoffReason> {
    Ok(match s {
        "requested" => HandoffReason::Requested,
        "callback" => HandoffReason::Callback,
        "complaint" => HandoffReason::Complaint,
        "not_answered" => HandoffReason::NotAnswered,
        other => {
            return Err(StoreError::Corrupt(format!(
                "unknown handoff reason '{other}'"
            )));
        }
    })
}

#[async_trait]
pub trait ConsoleStore: Send + Sync {
    /// Adds an account; `Conflict` when the e-mail address is taken.
    async fn add_staff(&self, staff: &Staff, password_hash: &str, now: i64) -> Result<()>;
    /// The account with this e-mail address (any case), with its password hash.
    async fn staff_by_email(&self, email: &str) -> Result<Option<(Staff, String)>>;
    async fn staff_member(&self, id: &StaffId) -> Result<Option<Staff>>;
    async fn staff_list(&self) -> Result<Vec<Staff>>;
    async fn set_password(&self, id: &StaffId, password_hash: &str) -> Result<bool>;
    /// Enables or disables an account; disabling ends its sessions.
    async fn set_staff_active(&self, id: &StaffId, active: bool) -> Result<bool>;

    async fn create_session(
        &self,
        digest: &str,
        staff: &StaffId,
        csrf: &str,
        now: i64,
    ) -> Result<()>;
    /// The session with this cookie digest, if its account is active.
    async fn session(&self, digest: &str) -> Result<Option<Session>>;
    async fn touch_session(&self, digest: &str, now: i64) -> Result<()>;
    async fn delete_session(&self, digest: &str) -> Result<()>;
    /// Deletes sessions last seen before `before`; returns how many.
    async fn delete_sessions_before(&self, before: i64) -> Result<u64>;

    /// Records a login attempt under `key` (an account or an address) before its password
    /// is checked; its id and how many attempts under `key` there are since `since`, itself
    /// included. Recorded first and counted after, concurrent attempts see each other.
    async fn login_attempt(&self, key: &str, now: i64, since: i64) -> Result<(i64, i64)>;
    /// Attempts under `key` since `since`.
    async fn login_attempts_since(&self, key: &str, since: i64) -> Result<i64>;
    /// Takes back one attempt (it was refused unchecked, or it succeeded).
    async fn forget_login_attempt(&self, id: i64) -> Result<()>;
    /// Forgets every attempt under `key` (the account's owner signed in).
    async fn clear_login_attempts(&self, key: &str) -> Result<()>;
    /// Deletes attempts older than `before`; returns how many.
    async fn delete_login_attempts_before(&self, before: i64) -> Result<u64>;
    /// The server's key called `name`: `fresh` if there was none yet, else the one made first.
    async fn server_key(&self, name: &str, fresh: &str, now: i64) -> Result<String>;

    /// Puts a conversation in the queue (unless a person has it already); false when it
    /// was already waiting or claimed.
    async fn hand_over(&self, id: ConversationId, reason: HandoffReason, now: i64) -> Result<bool>;
    /// Claims a waiting conversation for one staff member; false when it is not waiting.
    async fn claim(&self, id: ConversationId, staff: &StaffId, now: i64) -> Result<bool>;
    /// Gives a claimed conversation to another staff member, or back to the queue (`None`).
    async fn reassign(&self, id: ConversationId, to: Option<&StaffId>, now: i64) -> Result<bool>;
    /// Closes a waiting or claimed conversation with an outcome.
    async fn close(&self, id: ConversationId, outcome: &str, now: i64) -> Result<bool>;
    /// Opens a closed conversation again, claimed by the staff member who reopens it.
    async fn reopen(&self, id: ConversationId, staff: &StaffId, now: i64) -> Result<bool>;
    /// Appends messages without changing the conversation's state; the rows as stored.
    async fn append(
        &self,
        id: ConversationId,
        messages: &[NewMessage],
        now: i64,
    ) -> Result<Vec<Message>>;
    /// Waiting and claimed conversations, longest waiting first.
    async fn queue(&self) -> Result<Vec<QueueItem>>;
    /// Conversations closed since `since`, newest first.
    async fn closed_since(&self, since: i64, limit: i64) -> Result<Vec<QueueItem>>;
    /// The conversations waiting for a person, with when each was handed over, first first.
    async fn waiting(&self) -> Result<Vec<(ConversationId, i64)>>;
    /// The waits (handoff to claim, ms) of the latest claims since `since`.
    async fn recent_waits(&self, since: i64, limit: i64) -> Result<Vec<i64>>;

    async fn canned_replies(&self) -> Result<Vec<CannedReply>>;
    async fn put_canned_reply(&self, reply: &CannedReply, now: i64) -> Result<()>;
    async fn delete_canned_reply(&self, id: &str) -> Result<bool>;
}

const QUEUE_COLUMNS: &str = "c.id, c.channel, c.state, c.handoff_reason, c.handoff_at, c.assignee, s.name, \
     c.closed_outcome, (SELECT m.text FROM messages m WHERE m.conversation_id = c.id AND m.author = 'citizen' \
     ORDER BY m.seq DESC LIMIT 1), c.updated_at";

type QueueRow = (
    String,
    String,
    String,
    Option<String>,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    i64,
);

fn queue_item(row: QueueRow) -> Result<QueueItem> {
    let (id, channel, state, reason, handoff_at, assignee, name, closed, last, updated_at) = row;
    Ok(QueueItem {
        id: id.parse()?,
        channel: channel.parse()?,
        state: state.parse()?,
        reason: reason.as_deref().map(parse_reason).transpose()?,
        handoff_at,
        assignee: assignee.map(StaffId),
        assignee_name: name,
        closed_outcome: closed,
        last_message: last,
        updated_at,
    })
}

type StaffRow = (String, String, String, String, i64);

fn staff(row: StaffRow) -> Result<Staff> {
    let (id, email, name, role, active) = row;
    Ok(Staff {
        id: StaffId(id),
        email,
        name,
        role: parse_role(&role)?,
        active: active != 0,
    })
}

macro_rules! console_store {
    ($store:ident) => {
        #[async_trait]
        impl ConsoleStore for $store {
            async fn add_staff(&self, s: &Staff, password_hash: &str, now: i64) -> Result<()> {
                sqlx::query(
                    "INSERT INTO staff (id, email, name, role, password_hash, active, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(&s.id.0)
                .bind(s.email.to_lowercase())
                .bind(&s.name)
                .bind(s.role.as_str())
                .bind(password_hash)
                .bind(i64::from(s.active))
                .bind(now)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn staff_by_email(&self, email: &str) -> Result<Option<(Staff, String)>> {
                let row: Option<(String, String, String, String, i64, String)> = sqlx::query_as(
                    "SELECT id, email, name, role, active, password_hash FROM staff WHERE email = $1",
                )
                .bind(email.trim().to_lowercase())
                .fetch_optional(&self.pool)
                .await?;
                row.map(|(id, email, name, role, active, hash)| Ok((staff((id, email, name, role, active))?, hash)))
                    .transpose()
            }

            async fn staff_member(&self, id: &StaffId) -> Result<Option<Staff>> {
                let row: Option<StaffRow> =
                    sqlx::query_as("SELECT id, email, name, role, active FROM staff WHERE id = $1")
                        .bind(&id.0)
                        .fetch_optional(&self.pool)
                        .await?;
                row.map(staff).transpose()
            }

            async fn staff_list(&self) -> Result<Vec<Staff>> {
                let rows: Vec<StaffRow> =
                    sqlx::query_as("SELECT id, email, name, role, active FROM staff ORDER BY name, email")
                        .fetch_all(&self.pool)
                        .await?;
                rows.into_iter().map(staff).collect()
            }

            async fn set_password(&self, id: &StaffId, password_hash: &str) -> Result<bool> {
                let mut tx = self.pool.begin().await?;
                let r = sqlx::query("UPDATE staff SET password_hash = $1 WHERE id = $2")
                    .bind(password_hash)
                    .bind(&id.0)
                    .execute(&mut *tx)
                    .await?;
                // A new password ends every session signed in with the old one.
                sqlx::query("DELETE FROM staff_sessions WHERE staff_id = $1").bind(&id.0).execute(&mut *tx).await?;
                tx.commit().await?;
                Ok(r.rows_affected() > 0)
            }

            async fn set_staff_active(&self, id: &StaffId, active: bool) -> Result<bool> {
                let mut tx = self.pool.begin().await?;
                let r = sqlx::query("UPDATE staff SET active = $1 WHERE id = $2")
                    .bind(i64::from(active))
                    .bind(&id.0)
                    .execute(&mut *tx)
                    .await?;
                if !active {
                    sqlx::query("DELETE FROM staff_sessions WHERE staff_id = $1").bind(&id.0).execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(r.rows_affected() > 0)
            }

            async fn create_session(&self, digest: &str, staff: &StaffId, csrf: &str, now: i64) -> Result<()> {
                sqlx::query(
                    "INSERT INTO staff_sessions (id_digest, staff_id, csrf, created_at, seen_at) VALUES ($1, $2, $3, $4, $4)",
                )
                .bind(digest)
                .bind(&staff.0)
                .bind(csrf)
                .bind(now)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn session(&self, digest: &str) -> Result<Option<Session>> {
                #[allow(clippy::type_complexity)]
                let row: Option<(String, String, String, String, i64, String, i64, i64)> = sqlx::query_as(
                    "SELECT s.id, s.email, s.name, s.role, s.active, x.csrf, x.created_at, x.seen_at \
                     FROM staff_sessions x JOIN staff s ON s.id = x.staff_id WHERE x.id_digest = $1 AND s.active = 1",
                )
                .bind(digest)
                .fetch_optional(&self.pool)
                .await?;
                row.map(|(id, email, name, role, active, csrf, created_at, seen_at)| {
                    Ok(Session { staff: staff((id, email, name, role, active))?, csrf, created_at, seen_at })
                })
                .transpose()
            }

            async fn touch_session(&self, digest: &str, now: i64) -> Result<()> {
                sqlx::query("UPDATE staff_sessions SET seen_at = $1 WHERE id_digest = $2")
                    .bind(now)
                    .bind(digest)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn delete_session(&self, digest: &str) -> Result<()> {
                sqlx::query("DELETE FROM staff_sessions WHERE id_digest = $1").bind(digest).execute(&self.pool).await?;
                Ok(())
            }

            async fn delete_sessions_before(&self, before: i64) -> Result<u64> {
                let r = sqlx::query("DELETE FROM staff_sessions WHERE seen_at < $1").bind(before).execute(&self.pool).await?;
                Ok(r.rows_affected())
            }

            async fn login_attempt(&self, key: &str, now: i64, since: i64) -> Result<(i64, i64)> {
                let id: i64 = sqlx::query_scalar("INSERT INTO login_attempts (key, at) VALUES ($1, $2) RETURNING id")
                    .bind(key)
                    .bind(now)
                    .fetch_one(&self.pool)
                    .await?;
                Ok((id, self.login_attempts_since(key, since).await?))
            }

            async fn login_attempts_since(&self, key: &str, since: i64) -> Result<i64> {
                Ok(sqlx::query_scalar("SELECT COUNT(*) FROM login_attempts WHERE key = $1 AND at >= $2")
                    .bind(key)
                    .bind(since)
                    .fetch_one(&self.pool)
                    .await?)
            }

            async fn forget_login_attempt(&self, id: i64) -> Result<()> {
                sqlx::query("DELETE FROM login_attempts WHERE id = $1").bind(id).execute(&self.pool).await?;
                Ok(())
            }

            async fn clear_login_attempts(&self, key: &str) -> Result<()> {
                sqlx::query("DELETE FROM login_attempts WHERE key = $1").bind(key).execute(&self.pool).await?;
                Ok(())
            }

            async fn delete_login_attempts_before(&self, before: i64) -> Result<u64> {
                let r = sqlx::query("DELETE FROM login_attempts WHERE at < $1").bind(before).execute(&self.pool).await?;
                Ok(r.rows_affected())
            }

            async fn server_key(&self, name: &str, fresh: &str, now: i64) -> Result<String> {
                sqlx::query("INSERT INTO server_keys (name, value, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING")
                    .bind(name)
                    .bind(fresh)
                    .bind(now)
                    .execute(&self.pool)
                    .await?;
                Ok(sqlx::query_scalar("SELECT value FROM server_keys WHERE name = $1")
                    .bind(name)
                    .fetch_one(&self.pool)
                    .await?)
            }

            async fn hand_over(&self, id: ConversationId, reason: HandoffReason, now: i64) -> Result<bool> {
                let r = sqlx::query(
                    "UPDATE conversations SET state = 'waiting', handoff_reason = $1, handoff_at = $2, assignee = NULL, \
                     claimed_at = NULL, closed_outcome = NULL, updated_at = $2 \
                     WHERE id = $3 AND state NOT IN ('waiting', 'claimed')",
                )
                .bind(super::reason_str(reason))
                .bind(now)
                .bind(id.to_string())
                .execute(&self.pool)
                .await?;
                Ok(r.rows_affected() > 0)
            }

            async fn claim(&self, id: ConversationId, staff: &StaffId, now: i64) -> Result<bool> {
                let r = sqlx::query(
                    "UPDATE conversations SET state = 'claimed', assignee = $1, claimed_at = $2, updated_at = $2 \
                     WHERE id = $3 AND state = 'waiting'",
                )
                .bind(&staff.0)
                .bind(now)
                .bind(id.to_string())
                .execute(&self.pool)
                .await?;
                Ok(r.rows_affected() > 0)
            }

            async fn reassign(&self, id: ConversationId, to: Option<&StaffId>, now: i64) -> Result<bool> {
                let state = if to.is_some() { "claimed" } else { "waiting" };
                let r = sqlx::query(
                    "UPDATE conversations SET state = $1, assignee = $2, updated_at = $3 \
                     WHERE id = $4 AND state = 'claimed'",
                )
                .bind(state)
                .bind(to.map(|s| s.0.as_str()))
                .bind(now)
                .bind(id.to_string())
                .execute(&self.pool)
                .await?;
                Ok(r.rows_affected() > 0)
            }

            async fn close(&self, id: ConversationId, outcome: &str, now: i64) -> Result<bool> {
                let r = sqlx::query(
                    "UPDATE conversations SET state = 'closed', closed_outcome = $1, updated_at = $2 \
                     WHERE id = $3 AND state IN ('waiting', 'claimed')",
                )
                .bind(outcome)
                .bind(now)
                .bind(id.to_string())
                .execute(&self.pool)
                .await?;
                Ok(r.rows_affected() > 0)
            }

            async fn reopen(&self, id: ConversationId, staff: &StaffId, now: i64) -> Result<bool> {
                let r = sqlx::query(
                    "UPDATE conversations SET state = 'claimed', assignee = $1, closed_outcome = NULL, updated_at = $2 \
                     WHERE id = $3 AND state IN ('closed', 'bot') AND handoff_at IS NOT NULL",
                )
                .bind(&staff.0)
                .bind(now)
                .bind(id.to_string())
                .execute(&self.pool)
                .await?;
                Ok(r.rows_affected() > 0)
            }

            async fn append(&self, id: ConversationId, messages: &[NewMessage], now: i64) -> Result<Vec<Message>> {
                let mut tx = self.pool.begin().await?;
                let updated = sqlx::query("UPDATE conversations SET updated_at = $1 WHERE id = $2")
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

            async fn queue(&self) -> Result<Vec<QueueItem>> {
                let rows: Vec<QueueRow> = sqlx::query_as(&format!(
                    "SELECT {QUEUE_COLUMNS} FROM conversations c LEFT JOIN staff s ON s.id = c.assignee \
                     WHERE c.state IN ('waiting', 'claimed') ORDER BY c.handoff_at, c.id"
                ))
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map(queue_item).collect()
            }

            async fn closed_since(&self, since: i64, limit: i64) -> Result<Vec<QueueItem>> {
                let rows: Vec<QueueRow> = sqlx::query_as(&format!(
                    "SELECT {QUEUE_COLUMNS} FROM conversations c LEFT JOIN staff s ON s.id = c.assignee \
                     WHERE c.handoff_at IS NOT NULL AND c.state IN ('closed', 'bot') AND c.updated_at >= $1 \
                     ORDER BY c.updated_at DESC LIMIT $2"
                ))
                .bind(since)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map(queue_item).collect()
            }

            async fn waiting(&self) -> Result<Vec<(ConversationId, i64)>> {
                let rows: Vec<(String, i64)> = sqlx::query_as(
                    "SELECT id, COALESCE(handoff_at, updated_at) FROM conversations \
                     WHERE state = 'waiting' ORDER BY 2, 1",
                )
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter()
                    .map(|(id, at)| Ok((id.parse()?, at)))
                    .collect()
            }

            async fn recent_waits(&self, since: i64, limit: i64) -> Result<Vec<i64>> {
                Ok(sqlx::query_scalar(
                    "SELECT claimed_at - handoff_at FROM conversations \
                     WHERE claimed_at IS NOT NULL AND handoff_at IS NOT NULL AND claimed_at >= $1 \
                     ORDER BY claimed_at DESC LIMIT $2",
                )
                .bind(since)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn canned_replies(&self) -> Result<Vec<CannedReply>> {
                let rows: Vec<(String, String, String)> =
                    sqlx::query_as("SELECT id, title, body FROM canned_replies ORDER BY title")
                        .fetch_all(&self.pool)
                        .await?;
                Ok(rows.into_iter().map(|(id, title, body)| CannedReply { id, title, body }).collect())
            }

            async fn put_canned_reply(&self, reply: &CannedReply, now: i64) -> Result<()> {
                sqlx::query(
                    "INSERT INTO canned_replies (id, title, body, updated_at) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (id) DO UPDATE SET title = excluded.title, body = excluded.body, updated_at = excluded.updated_at",
                )
                .bind(&reply.id)
                .bind(&reply.title)
                .bind(&reply.body)
                .bind(now)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn delete_canned_reply(&self, id: &str) -> Result<bool> {
                let r = sqlx::query("DELETE FROM canned_replies WHERE id = $1").bind(id).execute(&self.pool).await?;
                Ok(r.rows_affected() > 0)
            }
        }
    };
}

console_store!(SqliteStore);
console_store!(PostgresStore);
