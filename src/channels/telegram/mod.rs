//! The Telegram channel: citizens write to the city's bot, Rathaus answers through the
//! dialogue core, staff replies from the console reach the same chat. Updates arrive by long
//! polling or by webhook, are kept in the store before they are confirmed, and are processed
//! once each, in order per chat, by the one instance that holds the lease. It never logs the
//! bot token, a chat id or what citizens wrote.

mod inbound;
mod render;
mod texts;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use teloxide::ApiError as BotApiError;
use teloxide::Bot;
use teloxide::RequestError;
use teloxide::payloads::setters::*;
use teloxide::requests::{Request, Requester};
use teloxide::types::{
    AllowedUpdate, CallbackQueryId, ChatId, LinkPreviewOptions, MessageId, ParseMode,
    ReplyParameters, Update,
};

use crate::channels::outbox::{Outbox, SendError, Sender};
use crate::conversations::{ConversationError, Conversations, now_ms};
use crate::dialogue::{HandoffReason, Inbound, Outcome, Reply};
use crate::language::Lang;
use crate::store::{
    Author, Channel, Conversation, Message, NewMessage, StoreError, StoredUpdate, UpdateMark,
};
use crate::web::{ApiError, ErrorBody};

use inbound::{BotIdentity, ButtonPress, CitizenMessage, Command, Content, Incoming, Origin};
use render::{BotLine, Choice, Outgoing};

/// The environment variable with the bot token from BotFather.
pub const TOKEN_VARIABLE: &str = "RATHAUS_TELEGRAM_TOKEN";
/// The settings file in the channels folder.
pub const SETTINGS_FILE: &str = "telegram.toml";

/// Updates the bot asks Telegram for; everything else is never sent to it.
const ALLOWED: [AllowedUpdate; 3] = [
    AllowedUpdate::Message,
    AllowedUpdate::EditedMessage,
    AllowedUpdate::CallbackQuery,
];
/// Updates taken from the store at once; one chat's updates run in order, chats side by side.
const BATCH: i64 = 100;
/// The lease of the one instance that polls and processes.
const LEASE: &str = "telegram";
/// How often the worker looks for updates that another instance's webhook received.
const WORKER_TICK: Duration = Duration::from_secs(1);
/// Waits after a failed call to Telegram: doubled each time up to the maximum.
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// Attempts for an answer Telegram could not give (a 5xx, a broken response) before the
/// message is given up; network errors and 429 are retried until they pass.
const UNCLEAR_ATTEMPTS: u32 = 5;
/// Processed update ids are kept this long: the Bot API repeats an update for at most a day.
const KEEP_UPDATE_IDS: Duration = Duration::from_secs(2 * 86_400);

pub use super::SettingsError;

/// How Telegram delivers updates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Rathaus asks Telegram (`getUpdates`): no public address needed.
    #[default]
    Polling,
    /// Telegram posts to Rathaus at a secret path under `public_url`.
    Webhook,
}

/// `channels/telegram.toml`, as the operator writes it. No secrets: the token is in
/// [`TOKEN_VARIABLE`].
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct SettingsFile {
    #[serde(default)]
    enabled: bool,
    #[serde(default)]
    mode: Mode,
    public_url: Option<String>,
    privacy_url: Option<String>,
    api_url: Option<String>,
    poll_timeout_seconds: Option<u32>,
    lease_seconds: Option<u32>,
}

/// The channel's settings, checked.
#[derive(Debug, Clone)]
pub struct TelegramSettings {
    pub mode: Mode,
    /// Where Telegram reaches this Rathaus (webhook mode), e.g. `https://rathaus.example.org`.
    pub public_url: Option<reqwest::Url>,
    /// The city's privacy notice, linked from `/start` and `/help`.
    pub privacy_url: Option<String>,
    /// The Bot API server: Telegram's, or a city's own `telegram-bot-api`.
    pub api_url: reqwest::Url,
    /// How long one `getUpdates` call waits for news.
    pub poll_timeout: Duration,
    /// How long the instance that polls and processes keeps that role without renewing it.
    pub lease: Duration,
}

impl TelegramSettings {
    /// Reads `telegram.toml` from the channels folder; `None` when it is missing or says
    /// `enabled = false`.
    pub fn load(dir: &Path) -> Result<Option<TelegramSettings>, SettingsError> {
        let Some(file) = super::read_settings::<SettingsFile>(dir, SETTINGS_FILE)? else {
            return Ok(None);
        };
        if !file.enabled {
            return Ok(None);
        }
        Self::check(file).map(Some)
    }

    fn check(file: SettingsFile) -> Result<TelegramSettings, SettingsError> {
        let url = |what: &str, s: &str| {
            reqwest::Url::parse(s)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
                .ok_or_else(|| {
                    SettingsError::Invalid(format!("{what} '{s}' is not an http(s) address"))
                })
        };
        let public_url = file
            .public_url
            .as_deref()
            .map(|s| {
                // The webhook's path goes below it, also when it has a path of its own.
                let mut u = url("public_url", s)?;
                if !u.path().ends_with('/') {
                    u.set_path(&format!("{}/", u.path()));
                }
                Ok::<_, SettingsError>(u)
            })
            .transpose()?;
        if file.mode == Mode::Webhook && public_url.is_none() {
            return Err(SettingsError::Invalid(
                "mode = \"webhook\" needs public_url, the address Telegram reaches Rathaus at"
                    .into(),
            ));
        }
        if let Some(p) = &file.privacy_url {
            url("privacy_url", p)?;
        }
        let api_url = url(
            "api_url",
            file.api_url
                .as_deref()
                .unwrap_or("https://api.telegram.org"),
        )?;
        let poll = file.poll_timeout_seconds.unwrap_or(25);
        if !(1..=50).contains(&poll) {
            return Err(SettingsError::Invalid(
                "poll_timeout_seconds must be between 1 and 50".into(),
            ));
        }
        let lease = file.lease_seconds.unwrap_or(30);
        if lease < 2 {
            return Err(SettingsError::Invalid(
                "lease_seconds must be at least 2".into(),
            ));
        }
        Ok(TelegramSettings {
            mode: file.mode,
            public_url,
            privacy_url: file.privacy_url,
            api_url,
            poll_timeout: Duration::from_secs(poll.into()),
            lease: Duration::from_secs(lease.into()),
        })
    }
}

/// A bot token from BotFather (`123456:ABC-…`); its `Debug` shows nothing of it.
#[derive(Clone)]
pub struct BotToken(SecretString);

impl std::fmt::Debug for BotToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BotToken(…)")
    }
}

impl TryFrom<String> for BotToken {
    type Error = SettingsError;
    fn try_from(s: String) -> Result<BotToken, SettingsError> {
        let s = s.trim();
        let valid = s.split_once(':').is_some_and(|(id, secret)| {
            !id.is_empty()
                && id.chars().all(|c| c.is_ascii_digit())
                && secret.len() >= 8
                && secret
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        });
        if valid {
            Ok(BotToken(SecretString::from(s.to_string())))
        } else {
            Err(SettingsError::Invalid(format!(
                "{TOKEN_VARIABLE} does not look like a bot token from BotFather (digits, ':', then letters, digits, '_' or '-')"
            )))
        }
    }
}

impl BotToken {
    /// A value derived from the token for one purpose; it reveals nothing of the token.
    fn derive(&self, purpose: &str) -> String {
        let mut h = Sha256::new();
        h.update(b"rathaus telegram ");
        h.update(purpose.as_bytes());
        h.update([0]);
        h.update(self.0.expose_secret().as_bytes());
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The webhook's path: secret, stable across instances, and not the token.
    pub fn webhook_path(&self) -> String {
        format!("/telegram/webhook/{}", &self.derive("webhook path")[..32])
    }

    /// The `secret_token` Telegram sends back in `X-Telegram-Bot-Api-Secret-Token`.
    pub fn webhook_secret(&self) -> String {
        self.derive("webhook secret")
    }
}

#[derive(Debug, thiserror::Error)]
enum ChannelError {
    #[error(transparent)]
    Conversation(#[from] ConversationError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A call to Telegram that will not succeed by trying again.
#[derive(Debug, thiserror::Error)]
#[error("{what}: {error}")]
struct Undeliverable {
    what: &'static str,
    error: RequestError,
}

/// The running channel: shared by the webhook route and the background tasks.
pub struct Telegram {
    bot: Bot,
    settings: TelegramSettings,
    conversations: Conversations,
    webhook_path: String,
    webhook_secret: String,
    /// This process's name in the lease.
    holder: String,
    holding: AtomicBool,
    me: OnceLock<BotIdentity>,
    wake: tokio::sync::Notify,
}

impl Telegram {
    pub fn new(
        settings: TelegramSettings,
        token: BotToken,
        conversations: Conversations,
    ) -> anyhow::Result<Arc<Telegram>> {
        // The client waits longer than a long poll, which Telegram holds open on purpose.
        let client = teloxide::net::default_reqwest_settings()
            .timeout(settings.poll_timeout + Duration::from_secs(15))
            .build()?;
        let bot =
            Bot::with_client(token.0.expose_secret(), client).set_api_url(settings.api_url.clone());
        Ok(Arc::new(Telegram {
            bot,
            webhook_path: token.webhook_path(),
            webhook_secret: token.webhook_secret(),
            settings,
            conversations,
            holder: uuid::Uuid::new_v4().to_string(),
            holding: AtomicBool::new(false),
            me: OnceLock::new(),
            wake: tokio::sync::Notify::new(),
        }))
    }

    /// The webhook route (webhook mode; an empty router when polling), for the server's
    /// `channels` so that it gets the same metrics, tracing and panic handling as the API.
    /// The secret part of the path is a parameter: the route name in the public metrics
    /// stays `/telegram/webhook/{path}`.
    pub fn router<S: Clone + Send + Sync + 'static>(self: &Arc<Self>) -> Router<S> {
        if self.settings.mode != Mode::Webhook {
            return Router::new();
        }
        Router::new()
            .route("/telegram/webhook/{path}", post(webhook))
            .layer(DefaultBodyLimit::max(1024 * 1024))
            .with_state(self.clone())
    }

    /// Runs the channel until the process ends: learns the bot's name, takes part in the
    /// lease, and, while holding it, polls (polling mode) and processes updates.
    pub async fn run(self: Arc<Self>) {
        // Staff replies go out from every instance: the outbox leases each one.
        Outbox::new(
            self.conversations.clone(),
            Arc::new(StaffReplies(self.clone())),
        )
        .spawn();
        let me = self.identify().await;
        tracing::info!(bot = %me.username, mode = ?self.settings.mode, "Telegram channel running");
        let _ = self.me.set(me);
        tokio::spawn(self.clone().keep_lease());
        match self.settings.mode {
            Mode::Polling => {
                tokio::spawn(self.clone().poll());
            }
            Mode::Webhook => {
                tokio::spawn(self.clone().register_webhook());
            }
        }
        self.work().await;
    }

    /// Gives the lease up so another instance takes over at once (on a clean shutdown).
    pub async fn stop(&self) {
        if self.holding.swap(false, Ordering::SeqCst)
            && let Err(e) = self
                .conversations
                .store()
                .release_lease(LEASE, &self.holder)
                .await
        {
            tracing::warn!(error = %e, "Telegram lease not released; it expires by itself");
        }
    }

    async fn identify(&self) -> BotIdentity {
        let mut backoff = FIRST_BACKOFF;
        loop {
            match self.bot.get_me().await {
                Ok(me) => {
                    return BotIdentity {
                        id: me.user.id.0,
                        username: me.user.username.clone().unwrap_or_default(),
                    };
                }
                Err(RequestError::Api(BotApiError::InvalidToken)) => {
                    tracing::error!("Telegram refuses the bot token: check {TOKEN_VARIABLE}");
                    tokio::time::sleep(MAX_BACKOFF).await;
                }
                Err(e) => {
                    tracing::warn!(error = %e, retry_in = ?backoff, "Telegram getMe failed");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }

    fn me(&self) -> &BotIdentity {
        self.me.get().expect("the worker starts after getMe")
    }

    /// Takes and renews the lease: only its holder polls and processes.
    async fn keep_lease(self: Arc<Self>) {
        let store = self.conversations.store().clone();
        let ttl = self.settings.lease;
        loop {
            let now = now_ms();
            let held = match store
                .take_lease(LEASE, &self.holder, now, now + ttl.as_millis() as i64)
                .await
            {
                Ok(held) => held,
                Err(e) => {
                    tracing::warn!(error = %e, "Telegram lease not renewed");
                    false
                }
            };
            let was = self.holding.swap(held, Ordering::SeqCst);
            if held && !was {
                tracing::info!("this instance now receives and answers Telegram updates");
                self.wake.notify_one();
            } else if was && !held {
                tracing::warn!("another instance has taken over Telegram");
            }
            tokio::time::sleep(ttl / 3).await;
        }
    }

    fn holding(&self) -> bool {
        self.holding.load(Ordering::SeqCst)
    }

    async fn register_webhook(self: Arc<Self>) {
        let Some(base) = &self.settings.public_url else {
            return;
        };
        let url = match base.join(self.webhook_path.trim_start_matches('/')) {
            Ok(u) => u,
            Err(e) => {
                tracing::error!(error = %e, "no webhook address can be formed from public_url");
                return;
            }
        };
        let request = self
            .bot
            .set_webhook(url)
            .secret_token(self.webhook_secret.clone())
            .allowed_updates(ALLOWED);
        match self.call("setWebhook", &request).await {
            Ok(_) => tracing::info!("Telegram webhook registered"),
            Err(e) => tracing::error!(error = %e, "Telegram webhook not registered"),
        }
    }

    /// Long polling: `getUpdates`, keep the batch in the store, confirm it with the next call.
    async fn poll(self: Arc<Self>) {
        let store = self.conversations.store().clone();
        let mut offset: Option<i32> = None;
        let mut backoff = FIRST_BACKOFF;
        let mut webhook_removed = false;
        loop {
            if !self.holding() {
                // Another instance polls; when this one takes over, Telegram's own record of
                // what was confirmed is where it starts.
                offset = None;
                tokio::time::sleep(self.settings.lease / 3).await;
                continue;
            }
            if !webhook_removed {
                // A bot with a webhook cannot be polled.
                match self.bot.delete_webhook().await {
                    Ok(_) => webhook_removed = true,
                    Err(e) => {
                        tracing::warn!(error = %e, "Telegram deleteWebhook failed");
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(MAX_BACKOFF);
                        continue;
                    }
                }
            }
            let mut request = self
                .bot
                .get_updates()
                .timeout(self.settings.poll_timeout.as_secs() as u32)
                .allowed_updates(ALLOWED);
            if let Some(o) = offset {
                request = request.offset(o);
            }
            match request.await {
                Ok(updates) => {
                    backoff = FIRST_BACKOFF;
                    let Some(last) = updates.iter().map(|u| u.id.0).max() else {
                        continue;
                    };
                    let received: Vec<StoredUpdate> = updates.iter().map(received).collect();
                    match store.receive_telegram_updates(&received, now_ms()).await {
                        Ok(new) => {
                            metrics::counter!("rathaus_telegram_updates_received_total", "mode" => "polling")
                                .increment(new);
                            // Kept: the next call confirms them to Telegram.
                            offset = Some(i32::try_from(last + 1).unwrap_or(i32::MAX));
                            self.wake.notify_one();
                        }
                        Err(e) => {
                            // Not confirmed: Telegram sends them again.
                            tracing::warn!(error = %e, "Telegram updates not stored; asking again");
                            tokio::time::sleep(backoff).await;
                            backoff = (backoff * 2).min(MAX_BACKOFF);
                        }
                    }
                }
                Err(RequestError::RetryAfter(s)) => {
                    metrics::counter!("rathaus_telegram_rate_limited_total").increment(1);
                    tokio::time::sleep(s.duration()).await;
                }
                Err(e) => {
                    if matches!(
                        e,
                        RequestError::Api(BotApiError::TerminatedByOtherGetUpdates)
                    ) {
                        tracing::warn!(
                            "another program polls this bot: Telegram ends one of the two calls"
                        );
                    } else {
                        tracing::warn!(error = %e, retry_in = ?backoff, "Telegram getUpdates failed");
                    }
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }

    /// Processes stored updates while this instance holds the lease.
    async fn work(self: Arc<Self>) {
        let store = self.conversations.store().clone();
        let mut tick = tokio::time::interval(WORKER_TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut pruned_at = 0;
        loop {
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tick.tick() => {}
            }
            if !self.holding() {
                continue;
            }
            loop {
                let batch = match store.pending_telegram_updates(BATCH).await {
                    Ok(b) => b,
                    Err(e) => {
                        tracing::warn!(error = %e, "pending Telegram updates not read");
                        break;
                    }
                };
                if batch.is_empty() || !self.process_batch(batch).await {
                    break;
                }
            }
            let now = now_ms();
            if now - pruned_at > 3_600_000 {
                pruned_at = now;
                match store
                    .prune_telegram_updates(now - KEEP_UPDATE_IDS.as_millis() as i64)
                    .await
                {
                    Ok(0) => {}
                    Ok(n) => tracing::debug!(forgotten = n, "old Telegram update ids forgotten"),
                    Err(e) => tracing::warn!(error = %e, "old Telegram update ids not pruned"),
                }
            }
        }
    }

    /// Processes a batch, each chat's updates in order and chats side by side; true when
    /// every update was finished (so the next batch may follow at once).
    async fn process_batch(&self, batch: Vec<StoredUpdate>) -> bool {
        let mut chats: BTreeMap<Option<i64>, Vec<StoredUpdate>> = BTreeMap::new();
        for u in batch {
            chats.entry(u.chat_id).or_default().push(u);
        }
        let results = futures::future::join_all(chats.into_values().map(|updates| async move {
            for u in updates {
                if let Err(e) = self.process(&u).await {
                    // Left pending: tried again on the next round, and this chat waits.
                    tracing::warn!(update_id = u.update_id, error = %e, "Telegram update not processed yet");
                    return false;
                }
            }
            true
        }))
        .await;
        results.into_iter().all(|ok| ok)
    }

    async fn process(&self, pending: &StoredUpdate) -> Result<(), ChannelError> {
        let store = self.conversations.store();
        match serde_json::from_str::<Update>(&pending.payload) {
            Ok(update) => match inbound::read(&update, self.me()) {
                Incoming::Ignored(why) => {
                    tracing::debug!(
                        update_id = pending.update_id,
                        why,
                        "Telegram update left alone"
                    );
                }
                Incoming::Message(m) => self.on_message(pending.update_id, m).await?,
                Incoming::Button(b) => self.on_button(pending.update_id, b).await?,
            },
            Err(e) => {
                // Kept no longer: it would fail the same way every time.
                tracing::warn!(update_id = pending.update_id, error = %e, "unreadable Telegram update dropped");
            }
        }
        store
            .finish_telegram_update(pending.update_id, now_ms())
            .await?;
        metrics::counter!("rathaus_telegram_updates_processed_total").increment(1);
        Ok(())
    }

    async fn on_message(&self, update_id: i64, m: CitizenMessage) -> Result<(), ChannelError> {
        let conversation = self.conversation_of(m.from.chat).await?;
        let said = match &m.content {
            Content::Text(t) => t.clone(),
            Content::Command(c) => c.as_str().to_string(),
            Content::Media(media) => media.transcript(),
        };
        let mark = self
            .conversations
            .store()
            .mark_telegram_update(update_id, conversation.id)
            .await?;
        let lines = match self.recorded(&mark, &said).await? {
            Some(Recorded::Answered(line)) => vec![line],
            Some(Recorded::Unanswered) if m.content == Content::Command(Command::Person) => {
                self.hand_over(&conversation, &m.from).await?
            }
            Some(Recorded::Unanswered) => Vec::new(),
            None => self.respond(&conversation, &m, said).await?,
        };
        // In groups, and for a corrected question, the answer quotes what it answers.
        let reply_to = (m.from.group || m.edited).then_some(m.message_id);
        for line in &lines {
            self.send_line(m.from.chat, line, reply_to).await;
        }
        Ok(())
    }

    async fn on_button(&self, update_id: i64, b: ButtonPress) -> Result<(), ChannelError> {
        let lang = b.from.lang.unwrap_or(Lang::De);
        // Acknowledged first, so the button stops spinning; a repeat after a restart is
        // refused by Telegram as too old, which changes nothing.
        let mut ack = self
            .bot
            .answer_callback_query(CallbackQueryId(b.callback_id.clone()));
        if b.choice.is_none() {
            ack = ack.text(texts::stale_button(lang));
        }
        if let Err(e) = self.call("answerCallbackQuery", &ack).await {
            tracing::debug!(error = %e, "button press not acknowledged");
        }
        let Some(choice) = b.choice else {
            return Ok(());
        };
        if let Some(id) = b.message_id {
            // The choice is made: the buttons go, so they cannot be pressed twice.
            let edit = self
                .bot
                .edit_message_reply_markup(ChatId(b.from.chat), MessageId(id));
            if let Err(e) = self.call("editMessageReplyMarkup", &edit).await {
                tracing::debug!(error = %e, "buttons not removed");
            }
        }
        let conversation = self.conversation_of(b.from.chat).await?;
        let said = match &choice {
            Choice::Entry(id) => self
                .conversations
                .dialogue()
                .entry_ref(id.as_str(), lang)
                .map_or_else(|| id.to_string(), |e| e.name),
            Choice::Person => render::person_label(lang).to_string(),
        };
        let mark = self
            .conversations
            .store()
            .mark_telegram_update(update_id, conversation.id)
            .await?;
        let lines = match (self.recorded(&mark, &said).await?, &choice) {
            (Some(Recorded::Answered(line)), _) => vec![line],
            (Some(Recorded::Unanswered), Choice::Person) => {
                self.hand_over(&conversation, &b.from).await?
            }
            (Some(Recorded::Unanswered), _) => Vec::new(),
            (None, Choice::Entry(id)) => {
                let inbound = Inbound {
                    text: said,
                    lang: b.from.lang,
                    choice: Some(id.clone()),
                };
                self.ask(&conversation, &inbound).await?
            }
            (None, Choice::Person) => {
                self.record(&conversation, &said, None).await?;
                self.hand_over(&conversation, &b.from).await?
            }
        };
        for line in &lines {
            self.send_line(b.from.chat, line, None).await;
        }
        Ok(())
    }

    /// What a citizen's message gets: the core's reply, or the channel's own for commands
    /// and media. Recorded in the transcript before anything is sent.
    async fn respond(
        &self,
        conversation: &Conversation,
        m: &CitizenMessage,
        said: String,
    ) -> Result<Vec<BotLine>, ChannelError> {
        let lang = m
            .from
            .lang
            .or(conversation.context.lang)
            .unwrap_or(Lang::De);
        let privacy = self.settings.privacy_url.as_deref();
        let text = match &m.content {
            Content::Text(_) => {
                let inbound = Inbound {
                    text: said,
                    lang: m.from.lang,
                    choice: None,
                };
                return self.ask(conversation, &inbound).await;
            }
            // While a person has the conversation the bot says nothing: the line is for them.
            _ if conversation.state.with_staff() => {
                self.record(conversation, &said, None).await?;
                return Ok(Vec::new());
            }
            Content::Command(Command::Person) => {
                self.record(conversation, &said, None).await?;
                return self.hand_over(conversation, &m.from).await;
            }
            Content::Command(Command::Start) => texts::greeting(lang, privacy),
            Content::Command(Command::Help) => texts::help(lang, privacy),
            Content::Media(_) => texts::media_note(lang),
        };
        let line = BotLine {
            outcome: Some(Outcome::Smalltalk),
            text,
            entries: Vec::new(),
            offer_handoff: false,
            lang,
        };
        self.record(conversation, &said, Some(&line)).await?;
        Ok(vec![line])
    }

    /// A question through the core.
    async fn ask(
        &self,
        conversation: &Conversation,
        inbound: &Inbound,
    ) -> Result<Vec<BotLine>, ChannelError> {
        let reply = self
            .conversations
            .message(conversation, inbound, Channel::Telegram)
            .await?;
        Ok(if reply.silent {
            Vec::new()
        } else {
            vec![line_of(&reply)]
        })
    }

    /// `/mensch` or the button: into the staff queue (nothing to say if already there).
    async fn hand_over(
        &self,
        conversation: &Conversation,
        from: &Origin,
    ) -> Result<Vec<BotLine>, ChannelError> {
        // Already with staff, the core would repeat its handoff reply; the chat hears nothing.
        if conversation.state.with_staff() {
            return Ok(Vec::new());
        }
        let lang = from.lang.or(conversation.context.lang).unwrap_or(Lang::De);
        let reply = self
            .conversations
            .request_handoff(conversation, HandoffReason::Requested, lang)
            .await?;
        Ok(vec![line_of(&reply)])
    }

    /// Records the citizen's line and the bot's answer to it in one go, and tells the console.
    async fn record(
        &self,
        conversation: &Conversation,
        said: &str,
        answer: Option<&BotLine>,
    ) -> Result<(), ChannelError> {
        let mut lines = vec![NewMessage::citizen(Channel::Telegram, said)];
        if let Some(a) = answer {
            lines.push(NewMessage {
                author: Author::Bot,
                outcome: a.outcome,
                ..NewMessage::citizen(Channel::Telegram, a.text.clone())
            });
        }
        self.conversations
            .record(conversation, &lines, conversation.state)
            .await?;
        Ok(())
    }

    /// After a restart: whether an earlier attempt at this update recorded its turn, and the
    /// bot's line then, so that it is sent rather than asked again.
    async fn recorded(
        &self,
        mark: &UpdateMark,
        said: &str,
    ) -> Result<Option<Recorded>, ChannelError> {
        if mark.first_attempt {
            return Ok(None);
        }
        let transcript = self.conversations.transcript(mark.conversation).await?;
        let mut after = transcript.iter().filter(|m| m.seq > mark.seq);
        if !after
            .by_ref()
            .any(|m| m.author == Author::Citizen && m.text == said)
        {
            return Ok(None);
        }
        let bot = after
            .take_while(|m| m.author != Author::Citizen)
            .find(|m| m.author == Author::Bot);
        Ok(Some(match bot {
            Some(m) => Recorded::Answered(self.line_of_message(m)),
            None => Recorded::Unanswered,
        }))
    }

    fn line_of_message(&self, m: &Message) -> BotLine {
        let lang = crate::language::detect(&m.text);
        let entries = m
            .entries
            .iter()
            .filter_map(|id| self.conversations.dialogue().entry_ref(id, lang))
            .collect();
        BotLine {
            outcome: m.outcome,
            text: m.text.clone(),
            entries,
            offer_handoff: matches!(m.outcome, Some(Outcome::Clarify | Outcome::DontKnow)),
            lang,
        }
    }

    /// The chat's conversation, started on its first message.
    async fn conversation_of(&self, chat: i64) -> Result<Conversation, ChannelError> {
        if let Some(c) = self.linked_conversation(chat).await? {
            return Ok(c);
        }
        let store = self.conversations.store();
        let started = self.conversations.start(Channel::Telegram).await?;
        if !store.link_telegram_chat(chat, started.id, now_ms()).await? {
            // The chat got one meanwhile: that one counts.
            store.delete_conversation(started.id).await?;
            return self
                .linked_conversation(chat)
                .await?
                .ok_or_else(|| StoreError::Conflict.into());
        }
        store
            .conversation(started.id)
            .await?
            .ok_or_else(|| StoreError::NotFound.into())
    }

    async fn send_line(&self, chat: i64, line: &BotLine, reply_to: Option<i32>) {
        for part in render::bot_line(line) {
            self.send(chat, &part, reply_to).await;
        }
    }

    /// The conversation the chat is linked to, if it has one.
    async fn linked_conversation(&self, chat: i64) -> Result<Option<Conversation>, ChannelError> {
        let store = self.conversations.store();
        Ok(match store.telegram_conversation(chat).await? {
            Some(id) => store.conversation(id).await?,
            None => None,
        })
    }

    fn message_request(
        &self,
        chat: i64,
        part: &Outgoing,
        reply_to: Option<i32>,
    ) -> teloxide::requests::JsonRequest<teloxide::payloads::SendMessage> {
        let mut request = self
            .bot
            .send_message(ChatId(chat), part.html.clone())
            .parse_mode(ParseMode::Html)
            .link_preview_options(LinkPreviewOptions {
                is_disabled: true,
                url: None,
                prefer_small_media: false,
                prefer_large_media: false,
                show_above_text: false,
            });
        if let Some(k) = &part.keyboard {
            request = request.reply_markup(k.clone());
        }
        if let Some(id) = reply_to {
            request = request.reply_parameters(ReplyParameters {
                allow_sending_without_reply: Some(true),
                ..ReplyParameters::new(MessageId(id))
            });
        }
        request
    }

    /// A group that became a supergroup: its conversation moves along.
    async fn moved(&self, from: i64, to: i64) {
        if let Err(e) = self
            .conversations
            .store()
            .move_telegram_chat(from, to)
            .await
        {
            tracing::warn!(error = %e, "moved Telegram group not recorded");
        }
    }

    /// Sends one of the bot's messages, retrying as [`Telegram::call`] does and following a
    /// group that became a supergroup; a message Telegram refuses for good (the citizen
    /// blocked the bot, the chat is gone) is logged and dropped.
    async fn send(&self, chat: i64, part: &Outgoing, reply_to: Option<i32>) {
        let mut chat = chat;
        for _ in 0..2 {
            let request = self.message_request(chat, part, reply_to);
            match self.call("sendMessage", &request).await {
                Ok(_) => {
                    metrics::counter!("rathaus_telegram_messages_sent_total").increment(1);
                    return;
                }
                Err(Undeliverable {
                    error: RequestError::MigrateToChatId(to),
                    ..
                }) => {
                    self.moved(chat, to.0).await;
                    chat = to.0;
                }
                Err(e) => {
                    metrics::counter!("rathaus_telegram_messages_undeliverable_total").increment(1);
                    tracing::warn!(error = %e, "Telegram message not delivered");
                    return;
                }
            }
        }
    }

    /// Calls the Bot API until it answers: waits as long as a 429 asks, backs off on
    /// network errors, gives up on errors that repeating cannot mend.
    async fn call<R>(
        &self,
        what: &'static str,
        request: &R,
    ) -> Result<teloxide::requests::Output<R>, Undeliverable>
    where
        R: Request<Err = RequestError>,
    {
        let mut backoff = FIRST_BACKOFF;
        let mut unclear = 0;
        loop {
            let error = match request.send_ref().await {
                Ok(out) => return Ok(out),
                Err(e) => e,
            };
            let wait = match &error {
                RequestError::RetryAfter(s) => {
                    metrics::counter!("rathaus_telegram_rate_limited_total").increment(1);
                    tracing::info!(what, wait = ?s.duration(), "Telegram asks to slow down");
                    s.duration()
                }
                RequestError::Network(_) | RequestError::Io(_) => backoff,
                RequestError::Api(BotApiError::Unknown(_)) | RequestError::InvalidJson { .. }
                    if unclear + 1 < UNCLEAR_ATTEMPTS =>
                {
                    unclear += 1;
                    backoff
                }
                _ => return Err(Undeliverable { what, error }),
            };
            if !matches!(error, RequestError::RetryAfter(_)) {
                tracing::warn!(what, error = %error, retry_in = ?wait, "Telegram call failed");
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
            tokio::time::sleep(wait).await;
        }
    }
}

/// Staff replies from the console, handed over by the [`Outbox`], which keeps each until it
/// is sent and retries when Telegram fails for now.
struct StaffReplies(Arc<Telegram>);

#[async_trait::async_trait]
impl Sender for StaffReplies {
    fn channel(&self) -> Channel {
        Channel::Telegram
    }

    async fn send(&self, conversation: &Conversation, message: &Message) -> Result<(), SendError> {
        let t = &self.0;
        let mut chat = t
            .conversations
            .store()
            .telegram_chat(conversation.id)
            .await
            .map_err(|e| SendError::Retry {
                error: e.to_string(),
                after: None,
            })?
            .ok_or_else(|| SendError::Permanent("the conversation has no Telegram chat".into()))?;
        // A long reply goes in parts; a retry sends them all again (Telegram has no way to
        // tell a repeat), which is why parts are as long as Telegram allows.
        for part in render::staff_message(message.author_name.as_deref(), &message.text) {
            let mut moved = false;
            loop {
                match t.message_request(chat, &part, None).send_ref().await {
                    Ok(_) => {
                        metrics::counter!("rathaus_telegram_messages_sent_total").increment(1);
                        break;
                    }
                    Err(RequestError::MigrateToChatId(to)) if !moved => {
                        t.moved(chat, to.0).await;
                        chat = to.0;
                        moved = true;
                    }
                    Err(e) => return Err(send_error(e)),
                }
            }
        }
        Ok(())
    }
}

/// Whether trying again later can help: after a 429 as long as Telegram says, after a
/// network error or an unclear answer at the outbox's pace, never after a refusal.
fn send_error(e: RequestError) -> SendError {
    match e {
        RequestError::RetryAfter(s) => {
            metrics::counter!("rathaus_telegram_rate_limited_total").increment(1);
            SendError::Retry {
                error: e.to_string(),
                after: Some(s.duration()),
            }
        }
        RequestError::Network(_)
        | RequestError::Io(_)
        | RequestError::InvalidJson { .. }
        | RequestError::Api(BotApiError::Unknown(_)) => SendError::Retry {
            error: e.to_string(),
            after: None,
        },
        e => SendError::Permanent(e.to_string()),
    }
}

/// What an earlier attempt at an update left in the transcript.
enum Recorded {
    /// The citizen's line and the bot's answer: the answer is sent.
    Answered(BotLine),
    /// The citizen's line alone (the bot was silent, or stopped before answering).
    Unanswered,
}

fn line_of(reply: &Reply) -> BotLine {
    BotLine {
        outcome: Some(reply.outcome),
        text: reply.text.clone(),
        entries: reply.entries.clone(),
        offer_handoff: reply.offer_handoff,
        lang: reply.lang,
    }
}

fn received(u: &Update) -> StoredUpdate {
    StoredUpdate {
        update_id: i64::from(u.id.0),
        chat_id: u.chat().map(|c| c.id.0),
        payload: serde_json::to_string(u).unwrap_or_else(|_| {
            // Kept with its id so that it counts as seen; processing drops it.
            format!("{{\"update_id\":{}}}", u.id.0)
        }),
    }
}

fn refuse(status: StatusCode, code: &'static str, message: &str) -> Response {
    (
        status,
        axum::Json(ErrorBody {
            code,
            message: message.to_string(),
        }),
    )
        .into_response()
}

/// `POST /telegram/webhook/<secret path>`: an update from Telegram, kept before it is
/// acknowledged (Telegram sends it again on anything but 2xx).
async fn webhook(
    State(t): State<Arc<Telegram>>,
    UrlPath(path): UrlPath<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let expected = t.webhook_path.rsplit('/').next().unwrap_or_default();
    if !bool::from(path.as_bytes().ct_eq(expected.as_bytes())) {
        return ApiError::NotFound.into_response();
    }
    let given = headers
        .get("x-telegram-bot-api-secret-token")
        .map(|v| v.as_bytes());
    let valid = given.is_some_and(|g| bool::from(g.ct_eq(t.webhook_secret.as_bytes())));
    if !valid {
        metrics::counter!("rathaus_telegram_webhook_refused_total").increment(1);
        tracing::warn!("Telegram webhook call refused: wrong or missing secret token");
        return refuse(
            StatusCode::UNAUTHORIZED,
            "invalid_secret_token",
            "the X-Telegram-Bot-Api-Secret-Token header is missing or wrong",
        );
    }
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            "the body is not a JSON update",
        );
    };
    let Some(update_id) = value
        .get("update_id")
        .and_then(serde_json::Value::as_i64)
        .filter(|id| *id >= 0)
    else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "invalid_update",
            "the update has no update_id",
        );
    };
    // From the text: teloxide reads an `Update` reliably only from text.
    let chat_id = serde_json::from_slice::<Update>(&body)
        .ok()
        .and_then(|u| u.chat().map(|c| c.id.0));
    let update = StoredUpdate {
        update_id,
        chat_id,
        payload: String::from_utf8_lossy(&body).into_owned(),
    };
    match t
        .conversations
        .store()
        .receive_telegram_updates(std::slice::from_ref(&update), now_ms())
        .await
    {
        Ok(new) => {
            metrics::counter!("rathaus_telegram_updates_received_total", "mode" => "webhook")
                .increment(new);
            t.wake.notify_one();
            StatusCode::OK.into_response()
        }
        Err(e) => {
            tracing::warn!(error = %e, "Telegram update not stored; Telegram will send it again");
            refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the update could not be kept; send it again",
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(toml: &str) -> Result<Option<TelegramSettings>, SettingsError> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(SETTINGS_FILE), toml).unwrap();
        TelegramSettings::load(dir.path())
    }

    #[test]
    fn the_shipped_settings_keep_the_channel_off() {
        let shipped = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("channels");
        assert!(shipped.join(SETTINGS_FILE).is_file());
        assert!(TelegramSettings::load(&shipped).unwrap().is_none());
    }

    #[test]
    fn settings_are_checked() {
        let s = settings("enabled = true\n").unwrap().unwrap();
        assert_eq!(s.mode, Mode::Polling);
        assert_eq!(s.api_url.as_str(), "https://api.telegram.org/");
        assert_eq!(s.poll_timeout, Duration::from_secs(25));

        let s = settings(
            "enabled = true\nmode = \"webhook\"\npublic_url = \"https://stadt.example/rathaus\"\n",
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            s.public_url
                .unwrap()
                .join("telegram/webhook/x")
                .unwrap()
                .as_str(),
            "https://stadt.example/rathaus/telegram/webhook/x"
        );

        let err = settings("enabled = true\nmode = \"webhook\"\n").unwrap_err();
        assert!(err.to_string().contains("public_url"), "{err}");
        let err = settings("enabled = true\ntoken = \"123:abc\"\n").unwrap_err();
        assert!(err.to_string().contains("unknown field"), "{err}");
        let err = settings("enabled = true\nprivacy_url = \"datenschutz\"\n").unwrap_err();
        assert!(err.to_string().contains("privacy_url"), "{err}");
    }

    #[test]
    fn tokens_are_checked_and_never_shown() {
        assert!(BotToken::try_from("nonsense".to_string()).is_err());
        assert!(BotToken::try_from("123:short".to_string()).is_err());
        let token = BotToken::try_from("123456:AAF7-g0gYncWnm5IyfZlpPRqRR".to_string()).unwrap();
        assert_eq!(format!("{token:?}"), "BotToken(…)");
        let (path, secret) = (token.webhook_path(), token.webhook_secret());
        assert!(!path.contains("AAF7") && !path.contains("123456"));
        assert!(!secret.contains("AAF7"));
        assert_ne!(path.rsplit('/').next().unwrap(), &secret[..32]);
        // Telegram allows only these characters in a secret token, 1 to 256 of them.
        assert!(secret.len() <= 256 && secret.chars().all(|c| c.is_ascii_alphanumeric()));
    }
}
