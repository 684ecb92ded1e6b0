//! `rathaus serve`: the options of the running service turned into [`Settings`], then the
//! server started through [`Application::build`]. Nothing here serves a request itself.

use std::path::PathBuf;
use std::time::Duration;

use super::answering;
use crate::app::{self, Application, Settings};
use crate::channels::telegram;
use crate::config;
use crate::console::ConsoleSettings;
use crate::console::auth::SessionPolicy;
use crate::limits::LimitSettings;
use crate::store::DatabaseUrl;

#[derive(clap::Args)]
pub struct Args {
    /// Address and port to listen on.
    #[arg(long, env = "RATHAUS_LISTEN", default_value = "127.0.0.1:8080")]
    listen: String,
    /// Knowledge folder loaded into an empty database.
    #[arg(long, env = "RATHAUS_KNOWLEDGE", default_value = "knowledge")]
    knowledge: PathBuf,
    /// Folder with the channels' settings (telegram.toml, email.toml, phone.toml, …).
    #[arg(long, env = "RATHAUS_CHANNELS", default_value = "channels")]
    channels: PathBuf,
    /// Days after which untouched conversations and recorded unanswered questions are
    /// deleted (0 keeps them).
    #[arg(long, env = "RATHAUS_RETENTION_DAYS", default_value_t = 90)]
    retention_days: u64,
    /// Mark console cookies Secure (set this when Rathaus is served over TLS; behind a
    /// proxy that sends X-Forwarded-Proto: https it is set per request anyway).
    #[arg(long, env = "RATHAUS_SECURE_COOKIES")]
    secure_cookies: bool,
    /// Minutes after which an unused console session ends.
    #[arg(long, env = "RATHAUS_SESSION_IDLE_MINUTES", default_value_t = 30)]
    session_idle_minutes: u64,
    /// Hours after which a console session ends, used or not.
    #[arg(long, env = "RATHAUS_SESSION_MAX_HOURS", default_value_t = 10)]
    session_max_hours: u64,
    /// Where Prometheus reads the metrics (`/metrics`), apart from the public port;
    /// without it no metrics are served.
    #[arg(long, env = "RATHAUS_METRICS_LISTEN")]
    metrics_listen: Option<String>,
    /// Seconds a stop waits for requests in hand (open streams end at once).
    #[arg(long, env = "RATHAUS_STOP_WITHIN_SECONDS", default_value_t = app::STOP_WITHIN.as_secs())]
    stop_within_seconds: u64,
    #[command(flatten)]
    limits: LimitArgs,
}

/// Serves until stopped (see [`Application::run_until_stopped`]).
pub async fn run(
    database: DatabaseUrl,
    answering: &answering::Args,
    args: Args,
) -> anyhow::Result<()> {
    let settings = args.settings(database, answering)?;
    let app = Application::build(settings).await?;
    tracing::info!(address = %app.local_addr()?, "Rathaus is listening");
    app.run_until_stopped().await?;
    Ok(())
}

impl Args {
    fn settings(
        self,
        database: DatabaseUrl,
        answering: &answering::Args,
    ) -> anyhow::Result<Settings> {
        let policy = SessionPolicy {
            // At least a minute and an hour: 0 would end every session at once.
            idle: Duration::from_secs(self.session_idle_minutes.max(1) * 60),
            absolute: Duration::from_secs(self.session_max_hours.max(1) * 3600),
            secure_cookies: self.secure_cookies,
            ..SessionPolicy::default()
        };
        Ok(Settings {
            listen: self.listen,
            database,
            knowledge: Some(self.knowledge),
            channels: Some(self.channels),
            answering: answering.answering()?,
            retention: (self.retention_days > 0)
                .then(|| Duration::from_secs(self.retention_days * 86_400)),
            console: ConsoleSettings { policy },
            // Resolved whether or not telegram.toml switches the channel on: a token given
            // wrongly is an error either way.
            telegram_token: config::secret(telegram::TOKEN_VARIABLE)?,
            limits: self.limits.settings(),
            metrics_listen: self.metrics_listen,
            stop_within: Duration::from_secs(self.stop_within_seconds),
        })
    }
}

/// The limits on anonymous traffic (0 switches one off); see docs/security.md.
#[derive(clap::Args)]
struct LimitArgs {
    /// Conversations one client address may start per minute.
    #[arg(long, env = "RATHAUS_LIMIT_CONVERSATIONS_PER_MINUTE", default_value_t = LimitSettings::default().conversations_per_minute)]
    limit_conversations_per_minute: u32,
    /// Messages (and stateless answers) one client address may send per minute.
    #[arg(long, env = "RATHAUS_LIMIT_MESSAGES_PER_MINUTE", default_value_t = LimitSettings::default().messages_per_minute)]
    limit_messages_per_minute: u32,
    /// Live streams open on one conversation at once.
    #[arg(long, env = "RATHAUS_LIMIT_STREAMS_PER_CONVERSATION", default_value_t = LimitSettings::default().streams_per_conversation)]
    limit_streams_per_conversation: u32,
    /// Live streams one client address holds open at once.
    #[arg(long, env = "RATHAUS_LIMIT_STREAMS_PER_CLIENT", default_value_t = LimitSettings::default().streams_per_client)]
    limit_streams_per_client: u32,
    /// Live streams open in the process at once (also bounded by the open-files limit).
    #[arg(long, env = "RATHAUS_LIMIT_STREAMS_TOTAL", default_value_t = LimitSettings::default().streams_total)]
    limit_streams_total: u32,
    /// Conversations of one client address waiting for a person at once.
    #[arg(long, env = "RATHAUS_LIMIT_WAITING_PER_CLIENT", default_value_t = LimitSettings::default().waiting_per_client)]
    limit_waiting_per_client: u32,
    /// Reverse proxies whose X-Forwarded-For is believed, comma-separated addresses or
    /// networks (default: the loopback addresses).
    #[arg(long, env = "RATHAUS_TRUSTED_PROXIES", value_delimiter = ',')]
    trusted_proxies: Option<Vec<ipnet::IpNet>>,
}

impl LimitArgs {
    fn settings(self) -> LimitSettings {
        LimitSettings {
            conversations_per_minute: self.limit_conversations_per_minute,
            messages_per_minute: self.limit_messages_per_minute,
            streams_per_conversation: self.limit_streams_per_conversation,
            streams_per_client: self.limit_streams_per_client,
            streams_total: self.limit_streams_total,
            waiting_per_client: self.limit_waiting_per_client,
            trusted_proxies: self.trusted_proxies.unwrap_or_else(crate::limits::loopback),
        }
    }
}
