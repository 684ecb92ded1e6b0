//! What the phone channel keeps beyond the transcript: one row per call with the caller's
//! number (for the callback only), and whether and by whom the caller was called back. The
//! same SQL for SQLite and PostgreSQL; the number is never logged in full.

use async_trait::async_trait;

use super::{ConversationId, PostgresStore, Result, SqliteStore, StaffId, StoreError};
use crate::language::Lang;

/// A caller's telephone number as the telephony system reports it: an optional `+` and 3 to
/// 20 digits; spaces, dashes, slashes, dots and brackets are dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct CallerNumber(String);

#[derive(Debug, thiserror::Error)]
#[error("not a telephone number (an optional + and 3 to 20 digits)")]
pub struct InvalidCallerNumber;

impl std::str::FromStr for CallerNumber {
    type Err = InvalidCallerNumber;
    fn from_str(s: &str) -> Result<Self, InvalidCallerNumber> {
        let s = s.trim();
        let (plus, rest) = match s.strip_prefix('+') {
            Some(r) => ("+", r),
            None => ("", s),
        };
        let mut digits = String::new();
        for c in rest.chars() {
            match c {
                '0'..='9' => digits.push(c),
                ' ' | '-' | '/' | '.' | '(' | ')' => {}
                _ => return Err(InvalidCallerNumber),
            }
        }
        if !(3..=20).contains(&digits.len()) {
            return Err(InvalidCallerNumber);
        }
        Ok(CallerNumber(format!("{plus}{digits}")))
    }
}

impl CallerNumber {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// For logs: the last two digits only ("…67").
    pub fn masked(&self) -> String {
        let tail: String = self
            .0
            .chars()
            .rev()
            .take(2)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        format!("…{tail}")
    }

    /// The last digits, as the bot says them to the caller.
    pub fn last_digits(&self) -> String {
        let tail: Vec<char> = self.0.chars().rev().take(2).collect();
        tail.into_iter()
            .rev()
            .map(String::from)
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Never the whole number, not even in a debug print.
impl std::fmt::Debug for CallerNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CallerNumber({})", self.masked())
    }
}

/// A call, keyed by the conversation that holds its transcript.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub conversation: ConversationId,
    /// `None` when the number was withheld.
    pub caller: Option<CallerNumber>,
    pub lang: Lang,
    pub started_at: i64,
    pub ended_at: Option<i64>,
    /// When the caller asked to be called back (or the bot handed over).
    pub callback_at: Option<i64>,
    pub called_back: Option<CalledBack>,
}

/// An agent's record of the callback.
#[derive(Debug, Clone, PartialEq)]
pub struct CalledBack {
    pub at: i64,
    pub by: StaffId,
    pub note: String,
}

#[async_trait]
pub trait PhoneStore {
    async fn start_call(&self, call: &Call) -> Result<()>;
    async fn call(&self, id: ConversationId) -> Result<Option<Call>>;
    /// False when the call had ended already.
    async fn end_call(&self, id: ConversationId, now: i64) -> Result<bool>;
    /// Records the callback request once; false when there was one already.
    async fn request_callback(&self, id: ConversationId, now: i64) -> Result<bool>;
    /// False when there was no callback request or it was already marked done.
    async fn mark_called_back(
        &self,
        id: ConversationId,
        by: &StaffId,
        note: &str,
        now: i64,
    ) -> Result<bool>;
}

type CallRow = (
    Option<String>,
    String,
    i64,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<String>,
    Option<String>,
);

fn call_from_row(conversation: ConversationId, row: CallRow) -> Result<Call> {
    let (caller, lang, started_at, ended_at, callback_at, called_at, by, note) = row;
    let caller = caller
        .map(|c| c.parse::<CallerNumber>())
        .transpose()
        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let lang: Lang = lang.parse().map_err(StoreError::Corrupt)?;
    let called_back = match (called_at, by) {
        (Some(at), Some(by)) => Some(CalledBack {
            at,
            by: StaffId(by),
            note: note.unwrap_or_default(),
        }),
        _ => None,
    };
    Ok(Call {
        conversation,
        caller,
        lang,
        started_at,
        ended_at,
        callback_at,
        called_back,
    })
}

macro_rules! phone_store {
    ($store:ident) => {
        #[async_trait]
        impl PhoneStore for $store {
            async fn start_call(&self, call: &Call) -> Result<()> {
                sqlx::query(
                    "INSERT INTO phone_calls (conversation_id, caller, lang, started_at) VALUES ($1, $2, $3, $4)",
                )
                .bind(call.conversation.to_string())
                .bind(call.caller.as_ref().map(|c| c.as_str().to_string()))
                .bind(call.lang.code())
                .bind(call.started_at)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn call(&self, id: ConversationId) -> Result<Option<Call>> {
                let row: Option<CallRow> = sqlx::query_as(
                    "SELECT caller, lang, started_at, ended_at, callback_at, called_back_at, called_back_by, called_back_note \
                     FROM phone_calls WHERE conversation_id = $1",
                )
                .bind(id.to_string())
                .fetch_optional(&self.pool)
                .await?;
                row.map(|r| call_from_row(id, r)).transpose()
            }

            async fn end_call(&self, id: ConversationId, now: i64) -> Result<bool> {
                let r = sqlx::query("UPDATE phone_calls SET ended_at = $1 WHERE conversation_id = $2 AND ended_at IS NULL")
                    .bind(now)
                    .bind(id.to_string())
                    .execute(&self.pool)
                    .await?;
                Ok(r.rows_affected() > 0)
            }

            async fn request_callback(&self, id: ConversationId, now: i64) -> Result<bool> {
                let r = sqlx::query(
                    "UPDATE phone_calls SET callback_at = $1, called_back_at = NULL, called_back_by = NULL, called_back_note = NULL \
                     WHERE conversation_id = $2 AND (callback_at IS NULL OR called_back_at IS NOT NULL)",
                )
                .bind(now)
                .bind(id.to_string())
                .execute(&self.pool)
                .await?;
                Ok(r.rows_affected() > 0)
            }

            async fn mark_called_back(&self, id: ConversationId, by: &StaffId, note: &str, now: i64) -> Result<bool> {
                let r = sqlx::query(
                    "UPDATE phone_calls SET called_back_at = $1, called_back_by = $2, called_back_note = $3 \
                     WHERE conversation_id = $4 AND callback_at IS NOT NULL AND called_back_at IS NULL",
                )
                .bind(now)
                .bind(&by.0)
                .bind(note)
                .bind(id.to_string())
                .execute(&self.pool)
                .await?;
                Ok(r.rows_affected() > 0)
            }
        }
    };
}

phone_store!(SqliteStore);
phone_store!(PostgresStore);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caller_numbers_are_parsed_and_masked() {
        let n: CallerNumber = "+49 (170) 123-45 67".parse().unwrap();
        assert_eq!(n.as_str(), "+491701234567");
        assert_eq!(n.masked(), "…67");
        assert_eq!(format!("{n:?}"), "CallerNumber(…67)");
        assert_eq!(n.last_digits(), "6 7");
        assert!("12".parse::<CallerNumber>().is_err());
        assert!("+49 170 abc".parse::<CallerNumber>().is_err());
        assert!("++49170".parse::<CallerNumber>().is_err());
    }
}
