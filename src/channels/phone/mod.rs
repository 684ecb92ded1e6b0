//! The phone channel. The city's telephony system (Asterisk, a voicemail box) starts a call,
//! sends what the caller said — audio, or a transcript it made itself — and speaks the reply
//! with its own text-to-speech. Rathaus transcribes with Whisper, answers from the catalogue
//! in a spoken style, and on handoff puts a callback request with the transcript in the
//! staff queue. The caller's number is kept for that callback only and never logged in full.

pub mod audio;
pub mod cli;
pub mod speech;
pub mod spoken;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::Path as UrlPath;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Extension, Router};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use crate::conversations::{ConversationError, Conversations, now_ms};
use crate::dialogue::{EntryRef, Inbound, Outcome};
use crate::language::Lang;
use crate::store::{Author, Channel, ConversationId, ConversationState, NewMessage, StoreError};
use crate::web::ApiError;

use self::audio::{AudioError, Encoding};
use self::speech::{Prompts, SpeechError, Transcriber, Transcript};
use self::spoken::Style;
pub use crate::store::{Call, CallerNumber, InvalidCallerNumber, PhoneStore};

/// Environment variables that override `channels/phone.toml`.
const MODEL_ENV: &str = "RATHAUS_WHISPER_MODEL";
const TOKEN_ENV: &str = "RATHAUS_PHONE_TOKEN";

// ---- settings ----

/// The phone channel's settings: `channels/phone.toml`, the model path from
/// `RATHAUS_WHISPER_MODEL` when the file names none, the telephony system's token from
/// `RATHAUS_PHONE_TOKEN` (or `RATHAUS_PHONE_TOKEN_FILE`, see [`crate::config::secret`]).
#[derive(Clone)]
pub struct PhoneSettings {
    pub model: PathBuf,
    /// The language of the line when the telephony system does not say.
    pub language: Lang,
    /// Cores one transcription uses.
    pub threads: usize,
    /// Transcriptions at once.
    pub parallel: usize,
    /// Longest utterance accepted, in seconds.
    pub max_seconds: u32,
    pub style: Style,
    pub token: SecretString,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PhoneFile {
    model: Option<PathBuf>,
    language: Option<String>,
    threads: Option<usize>,
    parallel: Option<usize>,
    max_seconds: Option<u32>,
    max_reply_chars: Option<usize>,
    link_by: Option<String>,
}

pub use super::SettingsError;

/// The model when `phone.toml` names none: `RATHAUS_WHISPER_MODEL`, else where
/// tools/whisper-model.sh writes it.
pub fn default_model() -> PathBuf {
    match std::env::var_os(MODEL_ENV) {
        Some(m) if !m.is_empty() => PathBuf::from(m),
        _ => resolve(Path::new("~/.cache/rathaus/ggml-base.bin"), Path::new(".")),
    }
}

/// `~/` at the start of a path is the home folder; a relative path is relative to the
/// channels folder.
fn resolve(path: &Path, base: &Path) -> PathBuf {
    if let Ok(rest) = path.strip_prefix("~")
        && let Some(home) = std::env::var_os("HOME")
    {
        return PathBuf::from(home).join(rest);
    }
    if path.is_relative() {
        base.join(path)
    } else {
        path.to_path_buf()
    }
}

impl PhoneSettings {
    /// The settings in `dir/phone.toml`; `None` (the channel is off) without that file or
    /// without the telephony system's token.
    pub fn load(dir: &Path) -> Result<Option<PhoneSettings>, SettingsError> {
        let Some(file) = super::read_settings::<PhoneFile>(dir, "phone.toml")? else {
            return Ok(None);
        };
        // The file names the model where the operator fixed one; otherwise the environment
        // or the place tools/whisper-model.sh writes to.
        let model = match &file.model {
            Some(m) => resolve(m, dir),
            None => default_model(),
        };
        let token = match crate::config::secret(TOKEN_ENV) {
            Ok(Some(token)) => token,
            Ok(None) => {
                // The shipped phone.toml is a template: without a token nobody can call the API.
                tracing::warn!(
                    "phone channel off: set {TOKEN_ENV} (or {TOKEN_ENV}_FILE) to switch it on"
                );
                return Ok(None);
            }
            // The channels' shared error has no place for a setting of the environment.
            Err(e) => return Err(SettingsError::Invalid(e.to_string())),
        };
        if token.expose_secret().len() < 16 {
            return Err(SettingsError::Invalid(format!(
                "{TOKEN_ENV}: the telephony system's token must be 16 characters or more"
            )));
        }
        let language = match &file.language {
            Some(l) => l.parse().map_err(SettingsError::Invalid)?,
            None => Lang::De,
        };
        let max_seconds = file.max_seconds.unwrap_or(30);
        if !(1..=600).contains(&max_seconds) {
            return Err(SettingsError::Invalid(
                "max_seconds must be between 1 and 600".into(),
            ));
        }
        Ok(Some(PhoneSettings {
            model,
            language,
            threads: file.threads.unwrap_or(2).clamp(1, 64),
            parallel: file.parallel.unwrap_or(1).clamp(1, 64),
            max_seconds,
            style: Style {
                max_chars: file
                    .max_reply_chars
                    .unwrap_or(Style::default().max_chars)
                    .max(80),
                link_by: file.link_by.filter(|s| !s.trim().is_empty()),
            },
            token,
        }))
    }
}

// ---- the channel ----

/// The phone channel, shared by its handlers.
#[derive(Clone)]
pub struct Phone {
    conversations: Conversations,
    /// `None` when the model could not be loaded: transcripts still work, audio is refused
    /// with `speech_unavailable`.
    transcriber: Option<Transcriber>,
    settings: Arc<PhoneSettings>,
}

impl Phone {
    /// Loads the Whisper model (off the async threads) with prompts from the catalogue.
    pub async fn start(conversations: Conversations, settings: PhoneSettings) -> Phone {
        let prompts = Prompts::from_catalogue(&conversations.dialogue().knowledge().catalogue);
        let (model, threads, parallel) =
            (settings.model.clone(), settings.threads, settings.parallel);
        let loaded =
            tokio::task::spawn_blocking(move || Transcriber::load(&model, threads, parallel))
                .await
                .unwrap_or_else(|e| Err(SpeechError::Failed(e.to_string())));
        let transcriber = match loaded {
            Ok(t) => {
                tracing::info!(model = %settings.model.display(), threads, "phone: Whisper model loaded");
                Some(t.with_prompts(prompts))
            }
            Err(e) => {
                tracing::error!(error = %e, "phone: speech to text is off; calls with transcripts still work");
                None
            }
        };
        Phone {
            conversations,
            transcriber,
            settings: Arc::new(settings),
        }
    }

    /// The HTTP routes of the telephony system's API.
    pub fn router<S: Clone + Send + Sync + 'static>(self) -> Router<S> {
        Router::new()
            .route("/api/v1/phone/calls", post(start_call))
            .route("/api/v1/phone/calls/{id}/utterances", post(utterance))
            .route("/api/v1/phone/calls/{id}/end", post(end_call))
            .layer(Extension(self))
    }

    fn check_token(&self, headers: &HeaderMap) -> Result<(), PhoneError> {
        let given = crate::web::bearer(headers).map_err(|_| PhoneError::Unauthorized)?;
        let expected = self.settings.token.expose_secret();
        if given.as_bytes().ct_eq(expected.as_bytes()).into() {
            Ok(())
        } else {
            Err(PhoneError::Unauthorized)
        }
    }

    async fn open_call(&self, id: &str) -> Result<(Call, crate::store::Conversation), PhoneError> {
        let id: ConversationId = id.parse().map_err(|_| PhoneError::CallNotFound)?;
        let store = self.conversations.store();
        let call = store.call(id).await?.ok_or(PhoneError::CallNotFound)?;
        if call.ended_at.is_some() {
            return Err(PhoneError::CallEnded);
        }
        let conversation = store
            .conversation(id)
            .await?
            .ok_or(PhoneError::CallNotFound)?;
        Ok((call, conversation))
    }

    /// One thing the caller said, as text: through the core, a callback on handoff.
    async fn reply_to(
        &self,
        call: &Call,
        conversation: &crate::store::Conversation,
        text: &str,
    ) -> Result<PhoneReply, PhoneError> {
        let inbound = Inbound {
            text: text.to_string(),
            lang: Some(call.lang),
            choice: None,
        };
        let reply = self
            .conversations
            .message(conversation, &inbound, Channel::Phone)
            .await?;
        let handed_over = reply.outcome == Outcome::Handoff || reply.silent;
        let mut spoken = if reply.silent {
            match call.lang {
                Lang::De => {
                    "Ihr Anliegen liegt bereits bei einer Mitarbeiterin oder einem Mitarbeiter."
                        .to_string()
                }
                Lang::En => "A member of staff already has your request.".to_string(),
            }
        } else {
            spoken::render(&reply, &self.settings.style)
        };
        let mut callback = false;
        if handed_over {
            callback = self.request_callback(call, conversation.id).await?;
            spoken = format!("{spoken} {}", callback_promise(call));
        } else if reply.offer_handoff {
            spoken = format!(
                "{spoken} {}",
                match call.lang {
                    Lang::De =>
                        "Wenn Sie möchten, ruft Sie eine Mitarbeiterin oder ein Mitarbeiter zurück: sagen Sie einfach „Rückruf“.",
                    Lang::En =>
                        "If you like, a member of staff will call you back: just say “call me back”.",
                }
            );
        }
        let links = reply
            .entries
            .iter()
            .take(if reply.outcome == Outcome::Answer {
                1
            } else {
                0
            })
            .flat_map(|e| e.booking.iter().chain(e.source.iter()).cloned())
            .collect();
        Ok(PhoneReply {
            transcript: None,
            outcome: reply.outcome,
            text: spoken,
            lang: call.lang,
            entries: reply.entries,
            links,
            callback,
        })
    }

    /// Marks the call for a callback and writes for staff whom to call and what the bot
    /// tried; once per handoff.
    async fn request_callback(&self, call: &Call, id: ConversationId) -> Result<bool, PhoneError> {
        let store = self.conversations.store();
        if !store.request_callback(id, now_ms()).await? {
            return Ok(false);
        }
        let transcript = store.transcript(id).await?;
        let knowledge = self.conversations.dialogue().knowledge();
        let tried: Vec<String> = transcript
            .iter()
            .filter(|m| m.author == Author::Bot)
            .filter_map(|m| {
                let outcome = m.outcome?;
                let names: Vec<String> = m
                    .entries
                    .iter()
                    .map(|e| {
                        e.parse()
                            .ok()
                            .and_then(|id| knowledge.catalogue.entry(&id))
                            .map_or_else(|| e.clone(), |x| x.name.clone())
                    })
                    .collect();
                Some(match outcome {
                    Outcome::Answer => format!("Antwort mit „{}“", names.join("“, „")),
                    Outcome::Clarify => format!("Rückfrage: „{}“", names.join("“ oder „")),
                    Outcome::DontKnow => "keine passende Leistung gefunden".to_string(),
                    Outcome::Handoff | Outcome::Smalltalk => return None,
                })
            })
            .collect();
        let number = call.caller.as_ref().map_or(
            "Rufnummer unterdrückt: kein Rückruf möglich".to_string(),
            |c| c.as_str().to_string(),
        );
        let tried = if tried.is_empty() {
            "nichts (direkt weitergegeben)".to_string()
        } else {
            tried.join("; ")
        };
        let line = format!("Rückruf erbeten: {number}. Der Assistent hat versucht: {tried}.");
        let c = store
            .conversation(id)
            .await?
            .ok_or(PhoneError::CallNotFound)?;
        self.conversations
            .record(&c, &[NewMessage::system(Channel::Phone, line)], c.state)
            .await?;
        tracing::info!(call = %id, caller = ?call.caller, "phone: callback requested");
        Ok(true)
    }

    /// Decodes and transcribes off the async threads; without a model nothing is decoded.
    async fn transcribe(
        &self,
        body: axum::body::Bytes,
        content_type: &str,
        lang: Lang,
    ) -> Result<Transcript, PhoneError> {
        let transcriber = self
            .transcriber
            .as_ref()
            .ok_or(PhoneError::SpeechUnavailable)?;
        let encoding = Encoding::from_media_type(content_type)?;
        let max_seconds = self.settings.max_seconds;
        let transcript = transcriber
            .transcribe(
                move || Ok::<_, PhoneError>(audio::decode(&body, encoding, max_seconds)?.samples),
                lang,
            )
            .await?;
        metrics::histogram!("rathaus_phone_transcription_seconds")
            .record(transcript.seconds as f64);
        metrics::histogram!("rathaus_phone_audio_seconds").record(transcript.audio_seconds as f64);
        Ok(transcript)
    }
}

/// What the bot promises when it hands a call over.
fn callback_promise(call: &Call) -> String {
    match (&call.caller, call.lang) {
        (Some(n), Lang::De) => format!("Wir rufen Sie unter Ihrer Nummer mit den Endziffern {} zurück.", n.last_digits()),
        (Some(n), Lang::En) => format!("We will call you back on your number ending in {}.", n.last_digits()),
        (None, Lang::De) => "Ihre Nummer ist unterdrückt; bitte rufen Sie während der Öffnungszeiten noch einmal an.".into(),
        (None, Lang::En) => "Your number is withheld; please call again during opening hours.".into(),
    }
}

// ---- HTTP ----

/// The start of a call, from the telephony system.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartCall {
    /// The caller's number; absent when withheld.
    #[serde(default)]
    pub caller: Option<String>,
    /// `de` or `en`: the line's language; the channel's setting when absent.
    #[serde(default)]
    pub lang: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CallStarted {
    #[schema(value_type = String)]
    pub id: ConversationId,
    #[schema(value_type = String)]
    pub lang: Lang,
    /// The greeting to speak.
    pub text: String,
}

/// A transcript the telephony system made itself.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TranscriptUtterance {
    pub transcript: String,
}

/// The reply to speak, and what it refers to.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PhoneReply {
    /// What Whisper heard, when audio was sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub transcript: Option<Transcript>,
    pub outcome: Outcome,
    /// Spoken-style text: no links, prices and times in words.
    pub text: String,
    #[schema(value_type = String)]
    pub lang: Lang,
    pub entries: Vec<EntryRef>,
    /// Links the telephony system may send by SMS or e-mail, where the city does that.
    pub links: Vec<String>,
    /// True when this reply put the call in the staff queue for a callback.
    pub callback: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CallEnded {
    pub text: String,
    /// Whether staff will call back.
    pub callback: bool,
}

async fn start_call(
    Extension(phone): Extension<Phone>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    phone.check_token(&headers)?;
    let request: StartCall = if body.iter().all(u8::is_ascii_whitespace) {
        StartCall::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            PhoneError::Invalid(
                "invalid_json",
                format!("the request body is not valid JSON for this endpoint: {e}"),
            )
        })?
    };
    let caller = request
        .caller
        .filter(|c| !c.trim().is_empty() && !c.trim().eq_ignore_ascii_case("anonymous"))
        .map(|c| c.parse::<CallerNumber>())
        .transpose()
        .map_err(|e| PhoneError::Invalid("invalid_caller", e.to_string()))?;
    let lang = match request.lang {
        Some(l) => l
            .parse()
            .map_err(|e| PhoneError::Invalid("invalid_lang", e))?,
        None => phone.settings.language,
    };
    let started = phone.conversations.start(Channel::Phone).await?;
    let call = Call {
        conversation: started.id,
        caller,
        lang,
        started_at: now_ms(),
        ended_at: None,
        callback_at: None,
        called_back: None,
    };
    phone.conversations.store().start_call(&call).await?;
    tracing::info!(call = %call.conversation, caller = ?call.caller, lang = %lang, "phone: call started");
    let text = match lang {
        Lang::De => {
            "Guten Tag, hier ist der automatische Bürgerservice der Stadt. Wie kann ich Ihnen helfen? Sie können jederzeit einen Rückruf von einer Mitarbeiterin oder einem Mitarbeiter verlangen."
        }
        Lang::En => {
            "Hello, this is the city's automated citizen service. How can I help you? You can ask for a call back from a member of staff at any time."
        }
    };
    Ok((
        StatusCode::CREATED,
        Json(CallStarted {
            id: call.conversation,
            lang,
            text: text.into(),
        }),
    )
        .into_response())
}

async fn utterance(
    Extension(phone): Extension<Phone>,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<PhoneReply>, ApiError> {
    phone.check_token(&headers)?;
    let (call, conversation) = phone.open_call(&id).await?;
    // From here on what the caller is told is said in the call's language.
    hear(&phone, &call, &conversation, &headers, body)
        .await
        .map(Json)
        .map_err(|e| e.in_language(call.lang))
}

/// One utterance of an open call, as audio or as a transcript.
async fn hear(
    phone: &Phone,
    call: &Call,
    conversation: &crate::store::Conversation,
    headers: &HeaderMap,
    body: Body,
) -> Result<PhoneReply, PhoneError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    // Enough for the longest accepted utterance in the widest accepted format.
    let limit = phone.settings.max_seconds as usize * 48_000 * 2 * 4 + 64 * 1024;
    let body = read_body(body, limit, phone.settings.max_seconds).await?;
    let (text, transcript) = if content_type
        .to_ascii_lowercase()
        .starts_with("application/json")
    {
        let t: TranscriptUtterance = serde_json::from_slice(&body).map_err(|e| {
            PhoneError::Invalid(
                "invalid_json",
                format!("the request body is not valid JSON for this endpoint: {e}"),
            )
        })?;
        (t.transcript, None)
    } else {
        let t = phone.transcribe(body, &content_type, call.lang).await?;
        tracing::debug!(call = %call.conversation, heard = %crate::pii::mask(&t.text), seconds = t.seconds, audio_seconds = t.audio_seconds, "phone: transcribed");
        (t.text.clone(), Some(t))
    };
    if transcript.is_some() && text.trim().is_empty() {
        return Err(PhoneError::NothingUnderstood);
    }
    let text = crate::web::message_text(text.trim().to_string())?;
    let mut reply = phone.reply_to(call, conversation, &text).await?;
    reply.transcript = transcript;
    Ok(reply)
}

/// The request body up to `limit` bytes: more is longer than any accepted utterance, a
/// stream that breaks off is not.
async fn read_body(
    body: Body,
    limit: usize,
    max_seconds: u32,
) -> Result<axum::body::Bytes, PhoneError> {
    use futures::StreamExt;
    let mut stream = body.into_data_stream();
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| PhoneError::BodyUnreadable(e.to_string()))?;
        if bytes.len() + chunk.len() > limit {
            return Err(PhoneError::BodyTooLarge { max: max_seconds });
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes.into())
}

async fn end_call(
    Extension(phone): Extension<Phone>,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
) -> Result<Json<CallEnded>, ApiError> {
    phone.check_token(&headers)?;
    let (call, conversation) = phone.open_call(&id).await?;
    // Two ends of one call at once: the second finds it ended.
    if !phone
        .conversations
        .store()
        .end_call(call.conversation, now_ms())
        .await?
    {
        return Err(PhoneError::CallEnded.into());
    }
    let callback = call.callback_at.is_some()
        && call.called_back.is_none()
        && matches!(
            conversation.state,
            ConversationState::Waiting | ConversationState::Claimed
        );
    tracing::info!(call = %call.conversation, callback, "phone: call ended");
    let text = match (call.lang, callback) {
        (Lang::De, true) => format!("Vielen Dank für Ihren Anruf. {}", callback_promise(&call)),
        (Lang::De, false) => "Vielen Dank für Ihren Anruf. Auf Wiederhören!".to_string(),
        (Lang::En, true) => format!("Thank you for calling. {}", callback_promise(&call)),
        (Lang::En, false) => "Thank you for calling. Goodbye!".to_string(),
    };
    Ok(Json(CallEnded { text, callback }))
}

// ---- errors ----

/// The phone API's errors: a stable code, a message for the integrator, and a sentence the
/// telephony system can say to the caller. None of them ends the call.
#[derive(Debug, thiserror::Error)]
pub enum PhoneError {
    #[error("the telephony system's token is required (Authorization: Bearer …)")]
    Unauthorized,
    #[error("call not found")]
    CallNotFound,
    #[error("the call has ended")]
    CallEnded,
    #[error(transparent)]
    Audio(#[from] AudioError),
    /// More bytes than the longest accepted utterance takes in any accepted format.
    #[error("the audio is longer than the {max} s accepted")]
    BodyTooLarge { max: u32 },
    #[error("the request body could not be read: {0}")]
    BodyUnreadable(String),
    #[error("nothing was understood in the audio")]
    NothingUnderstood,
    #[error("speech to text is not available (no Whisper model loaded)")]
    SpeechUnavailable,
    #[error("{1}")]
    Invalid(&'static str, String),
    #[error(transparent)]
    Conversation(#[from] ConversationError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// What the other APIs refuse the same way (an empty or overlong text).
    #[error(transparent)]
    Api(#[from] ApiError),
}

/// A model that fails on audio is logged here; the caller hears that speech is unavailable.
impl From<SpeechError> for PhoneError {
    fn from(e: SpeechError) -> PhoneError {
        tracing::error!(error = %e, "phone: transcription failed");
        PhoneError::SpeechUnavailable
    }
}

/// What the caller is told when an utterance is refused.
#[derive(Clone, Copy)]
enum Say {
    Again,
    Shorter,
    Trouble,
}

impl Say {
    fn text(self, lang: Lang) -> &'static str {
        match (self, lang) {
            (Say::Again, Lang::De) => {
                "Das habe ich leider nicht verstanden. Bitte sagen Sie Ihr Anliegen noch einmal, kurz und deutlich."
            }
            (Say::Again, Lang::En) => {
                "Sorry, I did not understand that. Please say your request again, briefly and clearly."
            }
            (Say::Shorter, Lang::De) => {
                "Das war leider zu lang für mich. Bitte sagen Sie Ihr Anliegen in einem kurzen Satz."
            }
            (Say::Shorter, Lang::En) => {
                "Sorry, that was too long for me. Please say your request in one short sentence."
            }
            (Say::Trouble, Lang::De) => {
                "Entschuldigung, ich habe gerade technische Schwierigkeiten. Bitte sagen Sie „Rückruf“, dann meldet sich eine Mitarbeiterin oder ein Mitarbeiter bei Ihnen."
            }
            (Say::Trouble, Lang::En) => {
                "Sorry, I am having technical difficulties. Please say “call me back”, and a member of staff will get back to you."
            }
        }
    }
}

/// Errors before a call is known carry nothing to say; German is the fallback.
impl From<PhoneError> for ApiError {
    fn from(e: PhoneError) -> ApiError {
        e.in_language(Lang::De)
    }
}

impl PhoneError {
    /// The error at the HTTP edge, with what to tell the caller in `lang`.
    fn in_language(self, lang: Lang) -> ApiError {
        let message = self.to_string();
        let (status, code, say) = match self {
            // What the other APIs refuse is refused as they refuse it.
            PhoneError::Conversation(e) => return e.into(),
            PhoneError::Store(e) => return e.into(),
            PhoneError::Api(e) => return e,
            PhoneError::Unauthorized => (StatusCode::UNAUTHORIZED, "missing_token", None),
            PhoneError::CallNotFound => (StatusCode::NOT_FOUND, "call_not_found", None),
            PhoneError::CallEnded => (StatusCode::CONFLICT, "call_ended", None),
            PhoneError::Audio(AudioError::Empty) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "audio_empty",
                Some(Say::Again),
            ),
            PhoneError::Audio(AudioError::Silent) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "audio_silent",
                Some(Say::Again),
            ),
            PhoneError::Audio(AudioError::Broken(_)) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "audio_broken",
                Some(Say::Again),
            ),
            PhoneError::Audio(AudioError::Unsupported(_)) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                Some(Say::Again),
            ),
            PhoneError::Audio(AudioError::TooLong { .. }) | PhoneError::BodyTooLarge { .. } => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "audio_too_long",
                Some(Say::Shorter),
            ),
            PhoneError::BodyUnreadable(_) => (StatusCode::BAD_REQUEST, "body_unreadable", None),
            PhoneError::NothingUnderstood => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "nothing_understood",
                Some(Say::Again),
            ),
            PhoneError::SpeechUnavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "speech_unavailable",
                Some(Say::Trouble),
            ),
            PhoneError::Invalid(code, _) => (StatusCode::UNPROCESSABLE_ENTITY, code, None),
        };
        ApiError::Refused {
            status,
            code,
            message,
            say: say.map(|s| s.text(lang)),
        }
    }
}
