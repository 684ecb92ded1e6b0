//! The Telegram channel: citizens write to the city's bot, Rathaus answers through the
//! dialogue core, staff replies from the console reach the same chat. An adapter of the
//! shared [`Runtime`]: updates arrive by long polling or by webhook, are kept in the inbox
//! (keyed by update id) before they are confirmed, and are worked once each, in order per
//! chat, by the one instance that holds the lease; the bot's and staff's messages go out
//! through the outbox. It never logs the bot token, a chat id or what citizens wrote.

mod inbound;
mod render;
mod texts;

use std::path::Path;
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

use crate::channels::outbox::{SendError, Sender};
use crate::channels::runtime::{
    Adapter, Backoff, Begun, Runtime, RuntimeSettings, Turn, WorkError,
};
use crate::conversations::{Conversations, now_ms};
use crate::dialogue::{HandoffReason, Inbound, Outcome};
use crate::language::Lang;
use crate::store::{
    Author, Channel, Conversation, Delivery, Message, NewMessage, Received, StoreError,
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
/// Waits after a failed call to Telegram, unless it says how long.
const BACKOFF: Backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(60));
/// Attempts for an answer Telegram could not give (a 5xx, a broken response) before the
/// message is given up; network errors and 429 are retried until they pass.
const UNCLEAR_ATTEMPTS: u32 = 5;

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

/// A call to Telegram that will not succeed by trying again.
#[derive(Debug, thiserror::Error)]
#[error("{what}: {error}")]
struct Undeliverable {
    what: &'static str,
    error: RequestError,
}

/// The running channel: the Telegram adapter of the shared [`Runtime`], the webhook route,
/// and the sender of the bot's and staff's messages.
pub struct Telegram {
    bot: Bot,
    settings: TelegramSettings,
    runtime: Arc<Runtime>,
    webhook_path: String,
    webhook_secret: String,
    me: OnceLock<BotIdentity>,
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
        let runtime = Runtime::new(
            conversations,
            Channel::Telegram,
            RuntimeSettings {
                lease: settings.lease,
                ..RuntimeSettings::default()
            },
        );
        Ok(Arc::new(Telegram {
            bot,
            webhook_path: token.webhook_path(),
            webhook_secret: token.webhook_secret(),
            settings,
            runtime,
            me: OnceLock::new(),
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

    /// Starts the channel: learns the bot's name, then runs on the shared runtime (the
    /// lease, the inbox worker, the outbox) and, while holding the lease, polls (polling
    /// mode).
    pub fn start(self: &Arc<Self>) {
        let t = self.clone();
        self.runtime.spawn(async move {
            let me = t.identify().await;
            tracing::info!(bot = %me.username, mode = ?t.settings.mode, "Telegram channel running");
            let _ = t.me.set(me);
            t.runtime.start(t.clone(), Arc::new(Deliveries(t.clone())));
            match t.settings.mode {
                Mode::Polling => t.poll().await,
                Mode::Webhook => t.register_webhook().await,
            }
        });
    }

    /// Stops on a clean shutdown and gives the lease up, so another instance takes over at
    /// once.
    pub async fn stop(&self) {
        self.runtime.stop().await;
    }

    async fn identify(&self) -> BotIdentity {
        let mut retry = BACKOFF.start();
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
                    self.runtime.pause(BACKOFF.max).await;
                }
                Err(e) => {
                    let wait = retry.failed(retry_after(&e));
                    tracing::warn!(error = %e, retry_in = ?wait, "Telegram getMe failed");
                    self.runtime.pause(wait).await;
                }
            }
        }
    }

    fn me(&self) -> &BotIdentity {
        self.me.get().expect("the runtime starts after getMe")
    }

    async fn register_webhook(&self) {
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

    /// Long polling while this instance holds the lease: `getUpdates`, keep the batch in the
    /// inbox, confirm it with the next call.
    async fn poll(&self) {
        let mut offset: Option<i32> = None;
        let mut retry = BACKOFF.start();
        let mut webhook_removed = false;
        loop {
            if !self.runtime.holding() {
                // Another instance polls; when this one takes over, Telegram's own record of
                // what was confirmed is where it starts.
                offset = None;
                if !self.runtime.held().await {
                    return;
                }
            }
            let failed = if !webhook_removed {
                // A bot with a webhook cannot be polled.
                match self.bot.delete_webhook().await {
                    Ok(_) => {
                        webhook_removed = true;
                        None
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "Telegram deleteWebhook failed");
                        Some(retry_after(&e))
                    }
                }
            } else {
                let mut request = self
                    .bot
                    .get_updates()
                    .timeout(self.settings.poll_timeout.as_secs() as u32)
                    .allowed_updates(ALLOWED);
                if let Some(o) = offset {
                    request = request.offset(o);
                }
                match request.await {
                    Ok(updates) => match updates.iter().map(|u| u.id.0).max() {
                        None => None,
                        Some(last) => {
                            let received: Vec<Received> = updates.iter().map(received).collect();
                            match self.runtime.receive(&received).await {
                                Ok(_) => {
                                    // Kept: the next call confirms them to Telegram.
                                    offset = Some(i32::try_from(last + 1).unwrap_or(i32::MAX));
                                    None
                                }
                                Err(e) => {
                                    // Not confirmed: Telegram sends them again.
                                    tracing::warn!(error = %e, "Telegram updates not stored; asking again");
                                    Some(None)
                                }
                            }
                        }
                    },
                    Err(e) => {
                        if matches!(
                            e,
                            RequestError::Api(BotApiError::TerminatedByOtherGetUpdates)
                        ) {
                            tracing::warn!(
                                "another program polls this bot: Telegram ends one of the two calls"
                            );
                        } else if !matches!(e, RequestError::RetryAfter(_)) {
                            tracing::warn!(error = %e, "Telegram getUpdates failed");
                        }
                        Some(retry_after(&e))
                    }
                }
            };
            match failed {
                None => retry.passed(),
                Some(asked) => {
                    let wait = retry.failed(asked);
                    self.runtime.pause(wait).await;
                }
            }
        }
    }

    async fn on_message(&self, turn: &Turn<'_>, m: CitizenMessage) -> Result<(), WorkError> {
        let conversation = self.conversation_of(m.from.chat).await?;
        let said = match &m.content {
            Content::Text(t) => t.clone(),
            Content::Command(c) => c.as_str().to_string(),
            Content::Media(media) => media.transcript(),
        };
        // In groups, and for a corrected question, the answer quotes what it answers.
        let reply_to = (m.from.group || m.edited).then(|| m.message_id.to_string());
        let reply_to = reply_to.as_deref();
        match turn.begin(conversation.id, &said).await? {
            Begun::Fresh => self.respond(&conversation, &m, said, reply_to).await,
            Begun::Recorded { answer: None } if m.content == Content::Command(Command::Person) => {
                self.hand_over(&conversation, &m.from, reply_to).await
            }
            Begun::Recorded { .. } => Ok(()),
        }
    }

    async fn on_button(&self, turn: &Turn<'_>, b: ButtonPress) -> Result<(), WorkError> {
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
                .runtime
                .conversations()
                .dialogue()
                .entry_ref(id.as_str(), lang)
                .map_or_else(|| id.to_string(), |e| e.name),
            Choice::Person => render::person_label(lang).to_string(),
        };
        match (turn.begin(conversation.id, &said).await?, &choice) {
            (Begun::Recorded { answer: None }, Choice::Person) => {
                self.hand_over(&conversation, &b.from, None).await
            }
            (Begun::Recorded { .. }, _) => Ok(()),
            (Begun::Fresh, Choice::Entry(id)) => {
                let inbound = Inbound {
                    text: said,
                    lang: b.from.lang,
                    choice: Some(id.clone()),
                };
                self.ask(&conversation, &inbound, None).await
            }
            (Begun::Fresh, Choice::Person) => {
                self.record(&conversation, &said, None, None).await?;
                self.hand_over(&conversation, &b.from, None).await
            }
        }
    }

    /// Records what a citizen's message gets: the core's reply, or the channel's own for
    /// commands and media. The outbox sends it.
    async fn respond(
        &self,
        conversation: &Conversation,
        m: &CitizenMessage,
        said: String,
        reply_to: Option<&str>,
    ) -> Result<(), WorkError> {
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
                return self.ask(conversation, &inbound, reply_to).await;
            }
            // While a person has the conversation the bot says nothing: the line is for them.
            _ if conversation.state.with_staff() => {
                return self.record(conversation, &said, None, reply_to).await;
            }
            Content::Command(Command::Person) => {
                self.record(conversation, &said, None, reply_to).await?;
                return self.hand_over(conversation, &m.from, reply_to).await;
            }
            Content::Command(Command::Start) => texts::greeting(lang, privacy),
            Content::Command(Command::Help) => texts::help(lang, privacy),
            Content::Media(_) => texts::media_note(lang),
        };
        self.record(conversation, &said, Some(text), reply_to).await
    }

    /// A question through the core.
    async fn ask(
        &self,
        conversation: &Conversation,
        inbound: &Inbound,
        reply_to: Option<&str>,
    ) -> Result<(), WorkError> {
        self.runtime
            .conversations()
            .message_in_reply(conversation, inbound, Channel::Telegram, reply_to)
            .await?;
        Ok(())
    }

    /// `/mensch` or the button: into the staff queue (nothing to say if already there).
    async fn hand_over(
        &self,
        conversation: &Conversation,
        from: &Origin,
        reply_to: Option<&str>,
    ) -> Result<(), WorkError> {
        // Already with staff, the core would repeat its handoff reply; the chat hears nothing.
        if conversation.state.with_staff() {
            return Ok(());
        }
        let lang = from.lang.or(conversation.context.lang).unwrap_or(Lang::De);
        self.runtime
            .conversations()
            .request_handoff_in_reply(conversation, HandoffReason::Requested, lang, reply_to)
            .await?;
        Ok(())
    }

    /// Records the citizen's line and the channel's own answer to it in one go.
    async fn record(
        &self,
        conversation: &Conversation,
        said: &str,
        answer: Option<String>,
        reply_to: Option<&str>,
    ) -> Result<(), WorkError> {
        let mut lines = vec![NewMessage::citizen(Channel::Telegram, said)];
        if let Some(text) = answer {
            lines.push(NewMessage {
                author: Author::Bot,
                outcome: Some(Outcome::Smalltalk),
                in_reply_to: reply_to.map(str::to_string),
                ..NewMessage::citizen(Channel::Telegram, text)
            });
        }
        self.runtime
            .conversations()
            .record(conversation, &lines, conversation.state)
            .await?;
        Ok(())
    }

    /// A recorded bot message as the chat shows it.
    fn line_of_message(&self, m: &Message) -> BotLine {
        let lang = crate::language::detect(&m.text);
        let entries = m
            .entries
            .iter()
            .filter_map(|id| self.runtime.conversations().dialogue().entry_ref(id, lang))
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
    async fn conversation_of(&self, chat: i64) -> Result<Conversation, WorkError> {
        if let Some(c) = self.linked_conversation(chat).await? {
            return Ok(c);
        }
        let conversations = self.runtime.conversations();
        let store = conversations.store();
        let started = conversations.start(Channel::Telegram).await?;
        if !store.link_telegram_chat(chat, started.id, now_ms()).await? {
            // The chat got one meanwhile: that one counts.
            store.delete_conversation(started.id).await?;
            return Ok(self
                .linked_conversation(chat)
                .await?
                .ok_or(StoreError::Conflict)?);
        }
        Ok(store
            .conversation(started.id)
            .await?
            .ok_or(StoreError::NotFound)?)
    }

    /// The conversation the chat is linked to, if it has one.
    async fn linked_conversation(&self, chat: i64) -> Result<Option<Conversation>, StoreError> {
        let store = self.runtime.conversations().store();
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
            .runtime
            .conversations()
            .store()
            .move_telegram_chat(from, to)
            .await
        {
            tracing::warn!(error = %e, "moved Telegram group not recorded");
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
        let mut retry = BACKOFF.start();
        let mut unclear = 0;
        loop {
            let error = match request.send_ref().await {
                Ok(out) => return Ok(out),
                Err(e) => e,
            };
            match &error {
                RequestError::RetryAfter(_) | RequestError::Network(_) | RequestError::Io(_) => {}
                RequestError::Api(BotApiError::Unknown(_)) | RequestError::InvalidJson { .. }
                    if unclear + 1 < UNCLEAR_ATTEMPTS =>
                {
                    unclear += 1;
                }
                _ => return Err(Undeliverable { what, error }),
            }
            let wait = retry.failed(retry_after(&error));
            tracing::warn!(what, error = %error, retry_in = ?wait, "Telegram call failed");
            tokio::time::sleep(wait).await;
        }
    }
}

#[async_trait::async_trait]
impl Adapter for Telegram {
    async fn work(&self, message: &Received, turn: &Turn<'_>) -> Result<(), WorkError> {
        match serde_json::from_slice::<Update>(&message.payload) {
            Ok(update) => match inbound::read(&update, self.me()) {
                Incoming::Ignored(why) => {
                    tracing::debug!(update_id = %message.key, why, "Telegram update left alone");
                }
                Incoming::Message(m) => self.on_message(turn, m).await?,
                Incoming::Button(b) => self.on_button(turn, b).await?,
            },
            Err(e) => {
                // Kept no longer: it would fail the same way every time.
                tracing::warn!(update_id = %message.key, error = %e, "unreadable Telegram update dropped");
            }
        }
        Ok(())
    }
}

/// The bot's replies and staff's from the console, handed over by the outbox, which keeps
/// each until it is sent and retries when Telegram fails for now.
struct Deliveries(Arc<Telegram>);

#[async_trait::async_trait]
impl Sender for Deliveries {
    fn channel(&self) -> Channel {
        Channel::Telegram
    }

    async fn send(
        &self,
        conversation: &Conversation,
        delivery: &Delivery,
    ) -> Result<(), SendError> {
        let t = &self.0;
        let message = &delivery.message;
        let mut chat = t
            .runtime
            .conversations()
            .store()
            .telegram_chat(conversation.id)
            .await
            .map_err(|e| SendError::Retry {
                error: e.to_string(),
                after: None,
            })?
            .ok_or_else(|| SendError::Permanent("the conversation has no Telegram chat".into()))?;
        let parts = match message.author {
            Author::Bot => render::bot_line(&t.line_of_message(message)),
            _ => render::staff_message(message.author_name.as_deref(), &message.text),
        };
        let reply_to = delivery
            .in_reply_to
            .as_deref()
            .and_then(|id| id.parse().ok());
        let timeout = t.runtime.settings().send_timeout();
        // A long reply goes in parts; a retry sends them all again (Telegram has no way to
        // tell a repeat), which is why parts are as long as Telegram allows.
        for part in parts {
            let mut moved = false;
            loop {
                let request = t.message_request(chat, &part, reply_to);
                let sent = tokio::time::timeout(timeout, request.send_ref())
                    .await
                    .map_err(|_| SendError::Retry {
                        error: format!("Telegram did not answer within {timeout:?}"),
                        after: None,
                    })?;
                match sent {
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

/// How long Telegram asked to wait, after a 429.
fn retry_after(e: &RequestError) -> Option<Duration> {
    match e {
        RequestError::RetryAfter(s) => {
            metrics::counter!("rathaus_telegram_rate_limited_total").increment(1);
            Some(s.duration())
        }
        _ => None,
    }
}

/// Whether trying again later can help: after a 429 as long as Telegram says, after a
/// network error or an unclear answer at the outbox's pace, never after a refusal.
fn send_error(e: RequestError) -> SendError {
    match e {
        RequestError::RetryAfter(_)
        | RequestError::Network(_)
        | RequestError::Io(_)
        | RequestError::InvalidJson { .. }
        | RequestError::Api(BotApiError::Unknown(_)) => SendError::Retry {
            after: retry_after(&e),
            error: e.to_string(),
        },
        e => SendError::Permanent(e.to_string()),
    }
}

fn received(u: &Update) -> Received {
    Received {
        key: u.id.0.to_string(),
        lane: u.chat().map(|c| c.id.0.to_string()),
        position: i64::from(u.id.0),
        payload: serde_json::to_vec(u).unwrap_or_else(|_| {
            // Kept with its id so that it counts as seen; working it drops it.
            format!("{{\"update_id\":{}}}", u.id.0).into_bytes()
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
    let lane = serde_json::from_slice::<Update>(&body)
        .ok()
        .and_then(|u| u.chat().map(|c| c.id.0.to_string()));
    let update = Received {
        key: update_id.to_string(),
        lane,
        position: update_id,
        payload: body.to_vec(),
    };
    match t.runtime.receive(std::slice::from_ref(&update)).await {
        Ok(_) => StatusCode::OK.into_response(),
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
