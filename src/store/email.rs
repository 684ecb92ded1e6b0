//! What the e-mail channel keeps: which mails were handled (by UIDVALIDITY/UID and
//! Message-ID), each conversation's mail thread and citizen address, every reply exactly as
//! it was sent (the mailbox lease is a [`super::LeaseStore`] lease named "email:MAILBOX").
//! Written once for SQLite and PostgreSQL like the rest of the store; addresses stay here and
//! never go to logs.

use async_trait::async_trait;

use super::{ConversationId, PostgresStore, Result, SqliteStore, StoreError};

/// One mail in one mailbox, as IMAP names it: a UID is only meaningful with its UIDVALIDITY.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MailKey<'a> {
    pub mailbox: &'a str,
    pub uidvalidity: u32,
    pub uid: u32,
}

/// Where the handling of an inbound mail stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InboundState {
    /// Seen, not yet finished (a crash may have interrupted it).
    Received,
    /// Answered, or added to a conversation a person has.
    Done,
    /// Deliberately not answered: auto-replies, bounces, lists, our own copies, duplicates.
    Ignored,
    /// Could not be processed; flagged in the mailbox and reported.
    Failed,
}

impl InboundState {
    pub fn as_str(self) -> &'static str {
        match self {
            InboundState::Received => "received",
            InboundState::Done => "done",
            InboundState::Ignored => "ignored",
            InboundState::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Result<InboundState> {
        Ok(match s {
            "received" => InboundState::Received,
            "done" => InboundState::Done,
            "ignored" => InboundState::Ignored,
            "failed" => InboundState::Failed,
            other => return Err(StoreError::Corrupt(format!("unknown mail state '{other}'"))),
        })
    }

    /// Nothing more to do for the mail.
    pub fn is_final(self) -> bool {
        self != InboundState::Received
    }
}

/// An inbound mail's row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundRecord {
    pub state: InboundState,
    pub conversation: Option<ConversationId>,
}

/// A conversation's mail thread: who the citizen is and what a reply refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailThread {
    pub conversation: ConversationId,
    /// The citizen's address (lower case); only mail from it joins the conversation.
    pub address: String,
    /// The first mail's subject, without "Re:" prefixes.
    pub subject: String,
    /// The citizen's latest mail, which the next reply answers.
    pub last_message_id: String,
    /// The References chain for the next reply, oldest first.
    pub references: Vec<String>,
}

/// Who wrote an outbound mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutboundKind {
    Bot,
    Staff,
}

impl OutboundKind {
    fn as_str(self) -> &'static str {
        match self {
            OutboundKind::Bot => "bot",
            OutboundKind::Staff => "staff",
        }
    }
}

/// Where a stored reply stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutboundState {
    /// Stored; its sending not confirmed yet.
    Pending,
    Sent,
    /// Given up: refused for good, or not sent after the channel's number of attempts.
    Failed,
}

impl OutboundState {
    fn parse(s: &str) -> Result<OutboundState> {
        Ok(match s {
            "pending" => OutboundState::Pending,
            "sent" => OutboundState::Sent,
            "failed" => OutboundState::Failed,
            other => {
                return Err(StoreError::Corrupt(format!(
                    "unknown outbound mail state '{other}'"
                )));
            }
        })
    }
}

/// A reply as it goes out, byte for byte.
#[derive(Debug, Clone)]
pub struct OutboundMail {
    pub message_id: String,
    pub conversation: Option<ConversationId>,
    pub kind: OutboundKind,
    pub recipient: String,
    pub raw: Vec<u8>,
}

/// A reply whose sending was started and not confirmed.
#[derive(Debug, Clone)]
pub struct PendingMail {
    pub message_id: String,
    pub recipient: String,
    pub raw: Vec<u8>,
    pub attempts: i64,
}

#[async_trait]
pub trait EmailStore: Send + Sync {
    /// The highest UID below which every mail of the mailbox has a row (0: none yet).
    async fn mail_cursor(&self, mailbox: &str, uidvalidity: u32) -> Result<u32>;
    async fn set_mail_cursor(&self, mailbox: &str, uidvalidity: u32, last_uid: u32) -> Result<()>;

    /// Records that a mail was seen (once); its row as it is now.
    async fn begin_inbound(
        &self,
        key: MailKey<'_>,
        message_id: &str,
        now: i64,
    ) -> Result<InboundRecord>;
    /// Whether another row with this Message-ID was already handled (the same mail twice).
    async fn inbound_handled_elsewhere(&self, key: MailKey<'_>, message_id: &str) -> Result<bool>;
    async fn set_inbound(
        &self,
        key: MailKey<'_>,
        state: InboundState,
        detail: Option<&str>,
        conversation: Option<ConversationId>,
        now: i64,
    ) -> Result<()>;

    /// The thread one of these Message-IDs belongs to, the most recently active first.
    /// Mails of a mailbox that ended (answered, ignored, failed) and whose flags the mailbox
    /// does not show yet: (UID, how it ended).
    async fn inbound_to_flag(
        &self,
        mailbox: &str,
        uidvalidity: u32,
        limit: i64,
    ) -> Result<Vec<(u32, InboundState)>>;
    /// The mailbox shows these mails' flags now.
    async fn inbound_flagged(
        &self,
        mailbox: &str,
        uidvalidity: u32,
        uids: &[u32],
        now: i64,
    ) -> Result<()>;
    async fn mail_thread_of(&self, message_ids: &[String]) -> Result<Option<MailThread>>;
    async fn mail_thread(&self, conversation: ConversationId) -> Result<Option<MailThread>>;
    async fn put_mail_thread(&self, thread: &MailThread, now: i64) -> Result<()>;
    /// Links a Message-ID (the citizen's or ours) to a conversation; the first link stays.
    async fn add_mail_message_id(
        &self,
        message_id: &str,
        conversation: ConversationId,
    ) -> Result<()>;

    /// Stores a reply before it is sent, as an attempt now; false if it exists already.
    async fn put_outbound(&self, mail: &OutboundMail, now: i64) -> Result<bool>;
    /// The state of a reply, if it exists.
    async fn outbound_state(&self, message_id: &str) -> Result<Option<OutboundState>>;
    async fn outbound_attempt(&self, message_id: &str, now: i64) -> Result<()>;
    /// Marks a reply sent; false when it was already marked or is unknown.
    async fn mark_outbound_sent(&self, message_id: &str, now: i64) -> Result<bool>;
    /// Gives a pending reply up: it is no longer offered for sending again.
    async fn mark_outbound_failed(&self, message_id: &str, now: i64) -> Result<()>;
    /// Replies whose last attempt started before `before`, neither confirmed sent nor given
    /// up.
    async fn pending_outbound(&self, before: i64, limit: i64) -> Result<Vec<PendingMail>>;
    /// How many bot replies went to this address since `since`.
    async fn bot_replies_since(&self, recipient: &str, since: i64) -> Result<i64>;
}

fn thread_row(row: (String, String, String, String, String)) -> Result<MailThread> {
    let (id, address, subject, last_message_id, refs) = row;
    Ok(MailThread {
        conversation: id.parse()?,
        address,
        subject,
        last_message_id,
        references: serde_json::from_str(&refs)?,
    })
}

macro_rules! email_store {
    ($store:ident) => {
        #[async_trait]
        impl EmailStore for $store {
            async fn mail_cursor(&self, mailbox: &str, uidvalidity: u32) -> Result<u32> {
                let last: Option<i64> = sqlx::query_scalar(
                    "SELECT last_uid FROM email_cursors WHERE mailbox = $1 AND uidvalidity = $2",
                )
                .bind(mailbox)
                .bind(i64::from(uidvalidity))
                .fetch_optional(&self.pool)
                .await?;
                Ok(last.unwrap_or(0) as u32)
            }

            async fn set_mail_cursor(&self, mailbox: &str, uidvalidity: u32, last_uid: u32) -> Result<()> {
                sqlx::query(
                    "INSERT INTO email_cursors (mailbox, uidvalidity, last_uid) VALUES ($1, $2, $3) \
                     ON CONFLICT (mailbox, uidvalidity) DO UPDATE SET last_uid = excluded.last_uid \
                     WHERE email_cursors.last_uid < excluded.last_uid",
                )
                .bind(mailbox)
                .bind(i64::from(uidvalidity))
                .bind(i64::from(last_uid))
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn begin_inbound(&self, key: MailKey<'_>, message_id: &str, now: i64) -> Result<InboundRecord> {
                sqlx::query(
                    "INSERT INTO email_inbound (mailbox, uidvalidity, uid, message_id, state, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (mailbox, uidvalidity, uid) DO NOTHING",
                )
                .bind(key.mailbox)
                .bind(i64::from(key.uidvalidity))
                .bind(i64::from(key.uid))
                .bind(message_id)
                .bind(InboundState::Received.as_str())
                .bind(now)
                .execute(&self.pool)
                .await?;
                let (state, conversation): (String, Option<String>) = sqlx::query_as(
                    "SELECT state, conversation_id FROM email_inbound WHERE mailbox = $1 AND uidvalidity = $2 AND uid = $3",
                )
                .bind(key.mailbox)
                .bind(i64::from(key.uidvalidity))
                .bind(i64::from(key.uid))
                .fetch_one(&self.pool)
                .await?;
                Ok(InboundRecord {
                    state: InboundState::parse(&state)?,
                    conversation: conversation.map(|c| c.parse()).transpose()?,
                })
            }

            async fn inbound_handled_elsewhere(&self, key: MailKey<'_>, message_id: &str) -> Result<bool> {
                let n: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM email_inbound WHERE message_id = $1 AND state IN ('done', 'ignored') \
                     AND NOT (mailbox = $2 AND uidvalidity = $3 AND uid = $4)",
                )
                .bind(message_id)
                .bind(key.mailbox)
                .bind(i64::from(key.uidvalidity))
                .bind(i64::from(key.uid))
                .fetch_one(&self.pool)
                .await?;
                Ok(n > 0)
            }

            async fn set_inbound(
                &self,
                key: MailKey<'_>,
                state: InboundState,
                detail: Option<&str>,
                conversation: Option<ConversationId>,
                now: i64,
            ) -> Result<()> {
                sqlx::query(
                    "UPDATE email_inbound SET state = $1, detail = COALESCE($2, detail), \
                     conversation_id = COALESCE($3, conversation_id), updated_at = $4 \
                     WHERE mailbox = $5 AND uidvalidity = $6 AND uid = $7",
                )
                .bind(state.as_str())
                .bind(detail)
                .bind(conversation.map(|c| c.to_string()))
                .bind(now)
                .bind(key.mailbox)
                .bind(i64::from(key.uidvalidity))
                .bind(i64::from(key.uid))
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn inbound_to_flag(
                &self,
                mailbox: &str,
                uidvalidity: u32,
                limit: i64,
            ) -> Result<Vec<(u32, InboundState)>> {
                let rows: Vec<(i64, String)> = sqlx::query_as(
                    "SELECT uid, state FROM email_inbound WHERE mailbox = $1 AND uidvalidity = $2 \
                     AND state <> 'received' AND flagged_at IS NULL ORDER BY uid LIMIT $3",
                )
                .bind(mailbox)
                .bind(i64::from(uidvalidity))
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter()
                    .map(|(uid, state)| Ok((u32::try_from(uid).unwrap_or(u32::MAX), InboundState::parse(&state)?)))
                    .collect()
            }

            async fn inbound_flagged(
                &self,
                mailbox: &str,
                uidvalidity: u32,
                uids: &[u32],
                now: i64,
            ) -> Result<()> {
                let mut tx = self.pool.begin().await?;
                for uid in uids {
                    sqlx::query(
                        "UPDATE email_inbound SET flagged_at = $1 \
                         WHERE mailbox = $2 AND uidvalidity = $3 AND uid = $4",
                    )
                    .bind(now)
                    .bind(mailbox)
                    .bind(i64::from(uidvalidity))
                    .bind(i64::from(*uid))
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn mail_thread_of(&self, message_ids: &[String]) -> Result<Option<MailThread>> {
                let mut best: Option<(i64, MailThread)> = None;
                for id in message_ids {
                    let row: Option<(String, String, String, String, String, i64)> = sqlx::query_as(
                        "SELECT t.conversation_id, t.address, t.subject, t.last_message_id, t.refs, t.updated_at \
                         FROM email_message_ids m JOIN email_threads t ON t.conversation_id = m.conversation_id \
                         WHERE m.message_id = $1",
                    )
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?;
                    if let Some((c, a, s, l, r, at)) = row {
                        if best.as_ref().is_none_or(|(b, _)| at > *b) {
                            best = Some((at, thread_row((c, a, s, l, r))?));
                        }
                    }
                }
                Ok(best.map(|(_, t)| t))
            }

            async fn mail_thread(&self, conversation: ConversationId) -> Result<Option<MailThread>> {
                let row: Option<(String, String, String, String, String)> = sqlx::query_as(
                    "SELECT conversation_id, address, subject, last_message_id, refs FROM email_threads \
                     WHERE conversation_id = $1",
                )
                .bind(conversation.to_string())
                .fetch_optional(&self.pool)
                .await?;
                row.map(thread_row).transpose()
            }

            async fn put_mail_thread(&self, thread: &MailThread, now: i64) -> Result<()> {
                sqlx::query(
                    "INSERT INTO email_threads (conversation_id, address, subject, last_message_id, refs, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (conversation_id) DO UPDATE SET \
                     last_message_id = excluded.last_message_id, refs = excluded.refs, updated_at = excluded.updated_at",
                )
                .bind(thread.conversation.to_string())
                .bind(&thread.address)
                .bind(&thread.subject)
                .bind(&thread.last_message_id)
                .bind(serde_json::to_string(&thread.references)?)
                .bind(now)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn add_mail_message_id(&self, message_id: &str, conversation: ConversationId) -> Result<()> {
                sqlx::query(
                    "INSERT INTO email_message_ids (message_id, conversation_id) VALUES ($1, $2) \
                     ON CONFLICT (message_id) DO NOTHING",
                )
                .bind(message_id)
                .bind(conversation.to_string())
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn put_outbound(&self, mail: &OutboundMail, now: i64) -> Result<bool> {
                let r = sqlx::query(
                    "INSERT INTO email_outbound (message_id, conversation_id, kind, recipient, raw, state, attempts, created_at, attempted_at) \
                     VALUES ($1, $2, $3, $4, $5, 'pending', 1, $6, $6) ON CONFLICT (message_id) DO NOTHING",
                )
                .bind(&mail.message_id)
                .bind(mail.conversation.map(|c| c.to_string()))
                .bind(mail.kind.as_str())
                .bind(&mail.recipient)
                .bind(&mail.raw)
                .bind(now)
                .execute(&self.pool)
                .await?;
                Ok(r.rows_affected() == 1)
            }

            async fn outbound_state(&self, message_id: &str) -> Result<Option<OutboundState>> {
                let state: Option<String> =
                    sqlx::query_scalar("SELECT state FROM email_outbound WHERE message_id = $1")
                        .bind(message_id)
                        .fetch_optional(&self.pool)
                        .await?;
                state.as_deref().map(OutboundState::parse).transpose()
            }

            async fn outbound_attempt(&self, message_id: &str, now: i64) -> Result<()> {
                sqlx::query(
                    "UPDATE email_outbound SET attempts = attempts + 1, attempted_at = $1 WHERE message_id = $2",
                )
                .bind(now)
                .bind(message_id)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn mark_outbound_sent(&self, message_id: &str, now: i64) -> Result<bool> {
                let r = sqlx::query(
                    "UPDATE email_outbound SET state = 'sent', sent_at = $1 WHERE message_id = $2 AND state = 'pending'",
                )
                .bind(now)
                .bind(message_id)
                .execute(&self.pool)
                .await?;
                Ok(r.rows_affected() == 1)
            }

            async fn mark_outbound_failed(&self, message_id: &str, now: i64) -> Result<()> {
                // `sent_at` stays empty; `attempted_at` says when it was given up.
                sqlx::query(
                    "UPDATE email_outbound SET state = 'failed', attempted_at = $1 WHERE message_id = $2 AND state = 'pending'",
                )
                .bind(now)
                .bind(message_id)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn pending_outbound(&self, before: i64, limit: i64) -> Result<Vec<PendingMail>> {
                let rows: Vec<(String, String, Vec<u8>, i64)> = sqlx::query_as(
                    "SELECT message_id, recipient, raw, attempts FROM email_outbound \
                     WHERE state = 'pending' AND attempted_at < $1 ORDER BY attempted_at LIMIT $2",
                )
                .bind(before)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
                Ok(rows
                    .into_iter()
                    .map(|(message_id, recipient, raw, attempts)| PendingMail {
                        message_id,
                        recipient,
                        raw,
                        attempts,
                    })
                    .collect())
            }

            async fn bot_replies_since(&self, recipient: &str, since: i64) -> Result<i64> {
                Ok(sqlx::query_scalar(
                    "SELECT COUNT(*) FROM email_outbound WHERE recipient = $1 AND kind = 'bot' AND created_at > $2",
                )
                .bind(recipient)
                .bind(since)
                .fetch_one(&self.pool)
                .await?)
            }
        }
    };
}

email_store!(SqliteStore);
email_store!(PostgresStore);
