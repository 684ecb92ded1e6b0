//! Startup in one place: open the store, make sure there is a catalogue, build the core,
//! bind the port, serve until stopped. Binding port 0 is what the integration tests use.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use tokio::net::TcpListener;

use crate::catalogue;
use crate::channels::telegram::{self, Telegram, TelegramSettings};
use crate::config::ConfigError;
use crate::console::ConsoleSettings;
use crate::conversations::{Conversations, now_ms};
use crate::dialogue::Dialogue;
use crate::dialogue::phrasings::Phrasings;
use crate::dialogue::ranker::Ranker;
use crate::http;
use crate::knowledge::holidays::State;
use crate::language::Thesaurus;
use crate::limits::{LimitSettings, Limits};
use crate::semantic::Embedder;
use crate::store::{self, DatabaseUrl, Store};

/// What the server needs to start.
#[derive(Clone)]
pub struct Settings {
    pub listen: String,
    pub database: DatabaseUrl,
    /// Loaded into an empty database on first start.
    pub knowledge: Option<PathBuf>,
    /// The channels' settings folder; a channel without a file there stays off.
    pub channels: Option<PathBuf>,
    /// Conversations untouched for this long are deleted; `None` keeps them.
    pub retention: Option<Duration>,
    /// How questions are answered: meaning, intents, the fitted ranker.
    pub answering: Answering,
    /// Staff sessions and logins in the console.
    pub console: ConsoleSettings,
    /// The Telegram bot's token (`RATHAUS_TELEGRAM_TOKEN`, resolved by [`crate::config::secret`]),
    /// for `channels/telegram.toml`.
    pub telegram_token: Option<SecretString>,
    /// What anonymous clients may do.
    pub limits: LimitSettings,
    /// Where Prometheus reads the metrics; none serves no metrics.
    pub metrics_listen: Option<String>,
    /// How long a stop may take: open streams are told to reconnect at once, requests in
    /// hand get this long to finish.
    pub stop_within: Duration,
}

/// How long a stop waits for requests in hand by default: well inside the ten seconds a
/// container runtime gives before it kills.
pub const STOP_WITHIN: Duration = Duration::from_secs(8);

/// How Rathaus answers: the sentence-vector model (in the process or a service; none to
/// answer by words only), the intents' example phrasings and the fitted ranker.
#[derive(Clone)]
pub struct Answering {
    pub embedder: Option<Embedder>,
    pub phrasings: Phrasings,
    pub ranker: Ranker,
    /// The city's state, whose public holidays close its offices (nationwide ones only
    /// without).
    pub state: Option<State>,
    /// The general German thesaurus for words the catalogue lacks; read once, shared by
    /// every index built (the catalogue is indexed again when meaning joins).
    pub thesaurus: Option<Arc<Thesaurus>>,
}

impl Default for Answering {
    /// By words only, with the phrasings and the ranker shipped with Rathaus, without a
    /// thesaurus.
    fn default() -> Self {
        Answering {
            embedder: None,
            phrasings: Phrasings::builtin(),
            ranker: Ranker::builtin(),
            state: None,
            thesaurus: None,
        }
    }
}

/// The process's async runtime. Before any thread starts, the sentence-vector engine's
/// OpenMP threads are told to sleep when idle (unless the operator set `OMP_WAIT_POLICY`):
/// spinning, they made a question take half a second while anything else used a core, and
/// libgomp reads the setting only once, when it loads.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    if std::env::var_os("OMP_WAIT_POLICY").is_none() {
        // SAFETY: called before the runtime, so no other thread of this process exists yet
        // to read the environment at the same time.
        unsafe { std::env::set_var("OMP_WAIT_POLICY", "PASSIVE") };
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
}

/// The dialogue core over the stored catalogue: the one way every command and the server
/// build it.
pub async fn dialogue(store: &dyn Store, answering: &Answering) -> anyhow::Result<Dialogue> {
    let knowledge = catalogue::knowledge(
        store,
        answering.embedder.as_ref(),
        answering.phrasings.clone(),
        answering.thesaurus.clone(),
    )
    .await?;
    if answering.embedder.is_some() && knowledge.vectors.is_none() {
        tracing::warn!(
            "the embedding model is configured but gave no vectors: answering by words only"
        );
    }
    Ok(Dialogue::new(knowledge, answering.ranker.clone()).with_state(answering.state))
}

pub struct Application {
    listener: TcpListener,
    metrics: Option<TcpListener>,
    limits: Arc<Limits>,
    stop_within: Duration,
    router: axum::Router,
    store: Arc<dyn Store>,
    conversations: Conversations,
    email: Option<crate::channels::email::EmailChannel>,
    retention: Option<Duration>,
    session_idle: Duration,
    telegram: Option<Arc<Telegram>>,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        let store = store::open(&settings.database).await?;
        if store.entries().await?.is_empty() {
            if let Some(dir) = settings
                .knowledge
                .as_deref()
                .filter(|d| d.join("entries").is_dir())
            {
                let report = catalogue::import_files(store.as_ref(), dir).await?;
                tracing::info!(dir = %dir.display(), added = report.added.len(), skipped = report.skipped.len(), "loaded the knowledge folder into an empty database");
            } else {
                tracing::warn!("the catalogue is empty: import one with `rathaus import`");
            }
        }
        // The server answers by words at once; where texts of the catalogue have no cached
        // vector yet (a first start, a new catalogue), meaning joins when they are embedded.
        let by_words = Answering {
            embedder: None,
            ..settings.answering.clone()
        };
        let dialogue = Arc::new(dialogue(store.as_ref(), &by_words).await?);
        let knowledge = dialogue.knowledge();
        tracing::info!(
            entries = knowledge.catalogue.entries.len(),
            offices = knowledge.catalogue.offices.len(),
            "catalogue published, answering by words"
        );
        if settings.answering.embedder.is_some() {
            let (store, answering, dialogue) =
                (store.clone(), settings.answering.clone(), dialogue.clone());
            tokio::spawn(async move {
                match catalogue::knowledge(
                    store.as_ref(),
                    answering.embedder.as_ref(),
                    answering.phrasings.clone(),
                    answering.thesaurus.clone(),
                )
                .await
                {
                    Ok(k) if k.vectors.is_some() => {
                        dialogue.publish(k);
                        tracing::info!("meaning on: the catalogue's vectors are ready");
                    }
                    Ok(_) => tracing::warn!("no vectors for the catalogue: answering by words"),
                    Err(e) => {
                        tracing::warn!(error = %e, "catalogue not embedded: answering by words")
                    }
                }
            });
        }
        let conversations =
            Conversations::new(store.clone(), dialogue, settings.answering.embedder.clone());
        let telegram = match settings.channels.as_deref().map(TelegramSettings::load) {
            Some(Ok(Some(channel))) => {
                let token = settings.telegram_token.as_ref().ok_or_else(|| {
                    anyhow::anyhow!(
                        "{} enables Telegram, but {}",
                        telegram::SETTINGS_FILE,
                        ConfigError::unset(telegram::TOKEN_VARIABLE)
                    )
                })?;
                let token = telegram::BotToken::try_from(token.expose_secret().to_string())?;
                Some(Telegram::new(channel, token, conversations.clone())?)
            }
            Some(Err(e)) => return Err(e.into()),
            _ => None,
        };
        let mut channels = axum::Router::new();
        if let Some(dir) = settings.channels.as_deref()
            && let Some(phone) = crate::channels::phone::PhoneSettings::load(dir)?
        {
            let phone = crate::channels::phone::Phone::start(conversations.clone(), phone).await;
            channels = channels.merge(phone.router());
        }
        if let Some(t) = &telegram {
            channels = channels.merge(t.router());
        }
        // Each edge mounts its own routes; the HTTP layer only wraps them.
        let console = crate::console::router(crate::console::ConsoleState::new(
            conversations.clone(),
            settings.console,
        ))
        .layer(axum::middleware::from_fn(crate::web::refuse_oversized));
        crate::limits::raise_open_files();
        let limits = Arc::new(Limits::new(settings.limits.clone()));
        let router = http::router(
            http::state(conversations.clone(), limits.clone()),
            channels.merge(console),
        );
        let listener = TcpListener::bind(&settings.listen).await?;
        let metrics = match &settings.metrics_listen {
            Some(address) => Some(TcpListener::bind(address).await?),
            None => None,
        };
        let email = match settings.channels.as_deref() {
            Some(dir) => crate::channels::email::EmailSettings::load(dir)?
                .map(|s| crate::channels::email::EmailChannel::new(s, conversations.clone()))
                .transpose()?,
            None => None,
        };
        Ok(Application {
            listener,
            metrics,
            limits,
            stop_within: settings.stop_within,
            router,
            store,
            conversations,
            email,
            retention: settings.retention,
            session_idle: settings.console.policy.idle,
            telegram,
        })
    }

    /// The conversations, for the channels that start beside the HTTP server.
    pub fn conversations(&self) -> &Conversations {
        &self.conversations
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    pub fn local_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.listener.local_addr()
    }

    /// Where the metrics are served, when they are.
    pub fn metrics_addr(&self) -> Option<std::net::SocketAddr> {
        self.metrics.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// Serves until SIGTERM or Ctrl-C, then stops within the bound: live streams are told
    /// to reconnect and end at once, requests in hand get `stop_within` to finish, the
    /// channels stop taking work and the unanswered questions queued are stored.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        if let Some(keep) = self.retention {
            tokio::spawn(retention(self.store.clone(), keep));
        }
        tokio::spawn(expire_sessions(self.store.clone(), self.session_idle));
        tokio::spawn(forget_idle_clients(self.limits.clone()));
        if let Some(metrics) = self.metrics {
            tokio::spawn(async move {
                if let Err(e) = axum::serve(metrics, http::metrics_router()).await {
                    tracing::warn!(error = %e, "the metrics listener stopped");
                }
            });
        }
        if let Some(t) = &self.telegram {
            t.start();
        }
        if let Some(email) = &self.email {
            email.spawn();
        }
        let conversations = self.conversations.clone();
        tokio::spawn(async move {
            shutdown().await;
            conversations.begin_stop();
        });
        let served = axum::serve(
            self.listener,
            self.router
                .into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .with_graceful_shutdown(self.conversations.stopping())
        .into_future();
        let stopping = self.conversations.stopping();
        let within = self.stop_within;
        let served = tokio::select! {
            served = served => served,
            () = async move { stopping.await; tokio::time::sleep(within).await } => {
                tracing::warn!(seconds = within.as_secs(), "requests still open at the stop's bound: closing them");
                Ok(())
            }
        };
        if let Some(t) = &self.telegram {
            t.stop().await;
        }
        if let Some(email) = &self.email {
            email.stop().await;
        }
        self.conversations.stop().await;
        tracing::info!("stopped");
        served
    }
}

/// Forgets the rate counts of clients not seen for a while, once a minute.
async fn forget_idle_clients(limits: Arc<Limits>) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tick.tick().await;
        limits.forget_idle();
    }
}

/// Deletes conversations and unanswered questions older than the retention period, once an
/// hour.
async fn retention(store: Arc<dyn Store>, keep: Duration) {
    let mut tick = tokio::time::interval(Duration::from_secs(3600));
    loop {
        tick.tick().await;
        let before = now_ms() - keep.as_millis() as i64;
        match store.delete_conversations_before(before).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(deleted = n, "retention: old conversations deleted"),
            Err(e) => tracing::warn!(error = %e, "retention run failed"),
        }
        match store.delete_unanswered_before(before).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(deleted = n, "retention: old unanswered questions deleted"),
            Err(e) => tracing::warn!(error = %e, "retention run for unanswered questions failed"),
        }
    }
}

/// Deletes staff sessions that have expired by idleness, every ten minutes.
async fn expire_sessions(store: Arc<dyn Store>, idle: Duration) {
    let mut tick = tokio::time::interval(Duration::from_secs(600));
    loop {
        tick.tick().await;
        let before = now_ms() - idle.as_millis() as i64;
        if let Err(e) = store.delete_sessions_before(before).await {
            tracing::warn!(error = %e, "expired staff sessions not deleted");
        }
        // Login attempts count for a quarter of an hour; a day is far beyond any window.
        if let Err(e) = store
            .delete_login_attempts_before(now_ms() - 86_400_000)
            .await
        {
            tracing::warn!(error = %e, "old login attempts not deleted");
        }
    }
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}
