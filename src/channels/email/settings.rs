//! `channels/email.toml`: the mailbox Rathaus reads, the server it sends through, the city's
//! address and signature, and the limits. Passwords never live in the file: the file names
//! the environment variables they come from (each `NAME` or `NAME_FILE`, see
//! [`crate::config::secret`]).

use std::path::Path;
use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;

use super::inbound::EmailAddress;

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error(transparent)]
    File(#[from] crate::channels::SettingsFileError),
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
    #[error("{path}: the {what} password: {source}")]
    Secret {
        path: String,
        what: &'static str,
        source: crate::config::ConfigError,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    enabled: bool,
    address: String,
    name: String,
    #[serde(default)]
    signature: String,
    imap: ImapFile,
    smtp: SmtpFile,
    #[serde(default)]
    limits: LimitsFile,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ImapFile {
    host: String,
    #[serde(default = "imap_port")]
    port: u16,
    #[serde(default = "yes")]
    tls: bool,
    user: String,
    #[serde(default = "imap_password_env")]
    password_env: String,
    #[serde(default = "inbox")]
    mailbox: String,
    /// Seconds between checks when the server has no IDLE (or `idle = false`).
    #[serde(default = "poll_seconds")]
    poll_seconds: u64,
    #[serde(default = "yes")]
    idle: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SmtpFile {
    host: String,
    #[serde(default = "smtp_port")]
    port: u16,
    /// `tls` (implicit, port 465), `starttls` (port 587) or `none` (loopback only).
    #[serde(default = "tls")]
    security: SmtpSecurity,
    user: Option<String>,
    #[serde(default = "smtp_password_env")]
    password_env: String,
    /// SMTP connections kept open for sending.
    #[serde(default = "connections")]
    connections: u32,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct LimitsFile {
    replies_per_sender_per_hour: Option<u32>,
    max_message_mb: Option<u64>,
    lease_seconds: Option<u64>,
    resend_after_seconds: Option<u64>,
    batch: Option<usize>,
    concurrency: Option<usize>,
}

fn yes() -> bool {
    true
}
fn imap_port() -> u16 {
    993
}
fn smtp_port() -> u16 {
    465
}
fn inbox() -> String {
    "INBOX".into()
}
fn poll_seconds() -> u64 {
    60
}
fn connections() -> u32 {
    4
}
fn tls() -> SmtpSecurity {
    SmtpSecurity::Tls
}
fn imap_password_env() -> String {
    "RATHAUS_EMAIL_IMAP_PASSWORD".into()
}
fn smtp_password_env() -> String {
    "RATHAUS_EMAIL_SMTP_PASSWORD".into()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    Tls,
    Starttls,
    None,
}

#[derive(Debug, Clone)]
pub struct ImapSettings {
    pub host: String,
    pub port: u16,
    pub tls: bool,
    pub user: String,
    pub password: SecretString,
    pub mailbox: String,
    pub idle: bool,
    pub poll: Duration,
}

#[derive(Debug, Clone)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    pub user: Option<String>,
    pub password: Option<SecretString>,
    pub connections: u32,
}

/// The e-mail channel's settings, checked.
#[derive(Debug, Clone)]
pub struct EmailSettings {
    pub address: EmailAddress,
    pub name: String,
    pub signature: String,
    pub imap: ImapSettings,
    pub smtp: SmtpSettings,
    /// Bot replies to one address per hour; more mails are kept for staff, not answered.
    pub replies_per_sender_per_hour: u32,
    /// Larger mails are flagged and reported, not fetched.
    pub max_message_bytes: u64,
    /// How long one instance holds the mailbox without renewing.
    pub lease: Duration,
    /// A reply whose sending was cut off is sent again after this long, unless its copy has
    /// arrived in the mailbox meanwhile.
    pub resend_after: Duration,
    /// Mails fetched at once.
    pub batch: usize,
    /// Mails worked on at once (mails of one sender stay in order).
    pub concurrency: usize,
}

impl EmailSettings {
    /// Reads `DIR/email.toml`; `Ok(None)` when there is none or it says `enabled = false`.
    pub fn load(dir: &Path) -> Result<Option<EmailSettings>, SettingsError> {
        let path = dir.join("email.toml");
        let shown = path.display().to_string();
        let invalid = |message: String| SettingsError::Invalid {
            path: shown.clone(),
            message,
        };
        let Some(file) = crate::channels::read_settings::<File>(dir, "email.toml")? else {
            return Ok(None);
        };
        if !file.enabled {
            return Ok(None);
        }
        // A channel switched on needs its passwords: not set is an error here.
        let secret = |var: &str, what: &'static str| -> Result<SecretString, SettingsError> {
            crate::config::secret(var)
                .and_then(|s| s.ok_or_else(|| crate::config::ConfigError::unset(var)))
                .map_err(|source| SettingsError::Secret {
                    path: shown.clone(),
                    what,
                    source,
                })
        };
        let address = EmailAddress::try_from(file.address.as_str()).map_err(invalid)?;
        let limits = file.limits;
        let smtp_password = match &file.smtp.user {
            Some(_) => Some(secret(&file.smtp.password_env, "SMTP")?),
            None => None,
        };
        Ok(Some(EmailSettings {
            address,
            name: file.name,
            signature: file.signature,
            imap: ImapSettings {
                password: secret(&file.imap.password_env, "IMAP")?,
                host: file.imap.host,
                port: file.imap.port,
                tls: file.imap.tls,
                user: file.imap.user,
                mailbox: file.imap.mailbox,
                idle: file.imap.idle,
                poll: Duration::from_secs(file.imap.poll_seconds.max(1)),
            },
            smtp: SmtpSettings {
                host: file.smtp.host,
                port: file.smtp.port,
                security: file.smtp.security,
                user: file.smtp.user,
                password: smtp_password,
                connections: file.smtp.connections.max(1),
            },
            replies_per_sender_per_hour: limits.replies_per_sender_per_hour.unwrap_or(10),
            max_message_bytes: limits.max_message_mb.unwrap_or(25) * 1_000_000,
            lease: Duration::from_secs(limits.lease_seconds.unwrap_or(60).max(2)),
            resend_after: Duration::from_secs(limits.resend_after_seconds.unwrap_or(120)),
            batch: limits.batch.unwrap_or(200).max(1),
            concurrency: limits.concurrency.unwrap_or(8).max(1),
        }))
    }
}
