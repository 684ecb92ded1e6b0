//! The handoff console at `/console`: staff sign in, see the queue of handed-over
//! conversations live, claim one, read its whole transcript, reply through the citizen's own
//! channel, write internal notes, close and reopen. Server-rendered HTML (askama templates
//! compiled into the binary) with a little JavaScript for live updates; no conversation data
//! is ever sent without a signed-in session.

pub mod auth;
mod pages;

use std::convert::Infallible;
use std::time::Duration;

use askama::Template;
use axum::Router;
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use futures::Stream;
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;

use self::auth::{Admin, LOGIN_COOKIE, SESSION_COOKIE, SessionPolicy, SignedIn};
use self::pages::*;
use crate::conversations::{Conflict, ConversationError, now_ms};
use crate::limits::ClientAddress;
use crate::store::{CannedReply, ConversationId, StaffId, StoreError};
use crate::web::ApiError;

/// Longest staff reply or note, in characters.
const MAX_TEXT_CHARS: usize = 8000;

/// The console's settings.
#[derive(Debug, Clone, Copy, Default)]
pub struct ConsoleSettings {
    pub policy: SessionPolicy,
}

/// What the console's pages share: the conversations and the console's settings. The
/// console mounts its own routes with it and knows nothing of the API's state.
#[derive(Clone)]
pub struct ConsoleState {
    pub conversations: crate::conversations::Conversations,
    pub console: ConsoleSettings,
    login_tokens: std::sync::Arc<tokio::sync::OnceCell<auth::LoginTokens>>,
}

impl ConsoleState {
    pub fn new(
        conversations: crate::conversations::Conversations,
        console: ConsoleSettings,
    ) -> ConsoleState {
        ConsoleState {
            conversations,
            console,
            login_tokens: Default::default(),
        }
    }

    async fn login_tokens(&self) -> Result<&auth::LoginTokens, ConsoleError> {
        Ok(self
            .login_tokens
            .get_or_try_init(|| auth::LoginTokens::load(self.conversations.store().as_ref()))
            .await?)
    }
}

/// What can go wrong in the console, shown as a page (never internal details).
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error("Diese Seite ist Administratorinnen und Administratoren vorbehalten.")]
    Forbidden,
    #[error(
        "Das Formular ist abgelaufen oder ungültig. Bitte laden Sie die Seite neu und versuchen Sie es noch einmal."
    )]
    Csrf,
    #[error("Dieses Gespräch gibt es nicht (mehr).")]
    NotFound,
    #[error("{0}")]
    Conflict(&'static str),
    #[error("{0}")]
    Invalid(&'static str),
    #[error("Der Dienst ist gerade nicht erreichbar. Bitte versuchen Sie es gleich noch einmal.")]
    Unavailable(String),
    #[error("Ein interner Fehler ist aufgetreten.")]
    Internal(String),
}

impl From<StoreError> for ConsoleError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ConsoleError::NotFound,
            StoreError::Unavailable(c) => ConsoleError::Unavailable(c),
            other => ConsoleError::Internal(other.to_string()),
        }
    }
}

impl From<ConversationError> for ConsoleError {
    fn from(e: ConversationError) -> Self {
        match e {
            ConversationError::NotFound => ConsoleError::NotFound,
            ConversationError::Conflict(why) => ConsoleError::Conflict(conflict_text(why)),
            ConversationError::Store(s) => s.into(),
        }
    }
}

/// The core speaks English to programs; staff read German.
fn conflict_text(why: Conflict) -> &'static str {
    match why {
        Conflict::TakenByColleague => {
            "Eine Kollegin oder ein Kollege hat dieses Gespräch bereits übernommen."
        }
        Conflict::NotWaiting => "Dieses Gespräch wartet nicht auf eine Person.",
        Conflict::NotYours => "Übernehmen Sie das Gespräch zuerst: es ist Ihnen nicht zugewiesen.",
        Conflict::Changed => {
            "Das Gespräch hat sich inzwischen geändert. Bitte laden Sie die Seite neu."
        }
        Conflict::NoSuchColleague => "Diese Kollegin oder diesen Kollegen gibt es nicht.",
        Conflict::CallerCannotRead => {
            "Anrufende können keine geschriebene Antwort lesen: Bitte rufen Sie zurück."
        }
        Conflict::ColleagueMustClose => {
            "Eine Kollegin oder ein Kollege bearbeitet dieses Gespräch; nur sie oder er kann es abschließen."
        }
        Conflict::NotOpen => "Dieses Gespräch ist nicht offen.",
        Conflict::NotClosed => "Nur ein abgeschlossenes Gespräch kann wieder geöffnet werden.",
        Conflict::NoCallbackOpen => "Für diesen Anruf ist kein Rückruf offen.",
    }
}

/// The console shows its errors as pages, in German and without internal details; the cause
/// of a server error goes to the log.
impl From<ConsoleError> for ApiError {
    fn from(e: ConsoleError) -> ApiError {
        let (status, cause) = match &e {
            ConsoleError::Forbidden | ConsoleError::Csrf => (StatusCode::FORBIDDEN, None),
            ConsoleError::NotFound => (StatusCode::NOT_FOUND, None),
            ConsoleError::Conflict(_) => (StatusCode::CONFLICT, None),
            ConsoleError::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, None),
            ConsoleError::Unavailable(c) => (StatusCode::SERVICE_UNAVAILABLE, Some(c.clone())),
            ConsoleError::Internal(c) => (StatusCode::INTERNAL_SERVER_ERROR, Some(c.clone())),
        };
        let page = ErrorPage {
            title: if status == StatusCode::FORBIDDEN {
                "Kein Zugriff"
            } else {
                "Das hat nicht geklappt"
            },
            message: e.to_string(),
        };
        ApiError::Page {
            status,
            page: page.html(),
            cause,
        }
    }
}

/// The console's routes, with their state given: they merge into a router of any state.
pub fn router<S: Clone + Send + Sync + 'static>(state: ConsoleState) -> Router<S> {
    Router::new()
        .route("/console", get(queue_page))
        .route("/console/", get(|| async { Redirect::to("/console") }))
        .route("/console/login", get(login_page).post(login))
        .route("/console/logout", post(logout))
        .route("/console/queue", get(queue_rows))
        .route("/console/events", get(events))
        .route("/console/conversations/{id}", get(conversation_page))
        .route(
            "/console/conversations/{id}/transcript",
            get(transcript_fragment),
        )
        .route("/console/conversations/{id}/claim", post(claim))
        .route("/console/conversations/{id}/unassign", post(unassign))
        .route("/console/conversations/{id}/transfer", post(transfer))
        .route("/console/conversations/{id}/close", post(close))
        .route("/console/conversations/{id}/reopen", post(reopen))
        .route("/console/conversations/{id}/reply", post(reply))
        .route("/console/conversations/{id}/note", post(note))
        .route("/console/conversations/{id}/called-back", post(called_back))
        .route("/console/conversations/{id}/typing", post(typing))
        .route("/console/canned", get(canned_page).post(save_canned))
        .route("/console/canned/{id}/delete", post(delete_canned))
        .route("/console/static/console.js", get(script))
        .route("/console/static/console.css", get(stylesheet))
        .layer(axum::middleware::from_fn_with_state(
            state.console.policy,
            security_headers,
        ))
        .with_state(state)
}

/// Headers every console response carries: no framing, no inline scripts, no caching of
/// conversation data, no referrer leaving the console.
async fn security_headers(
    State(policy): State<SessionPolicy>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    // A state-changing request from another site is refused before it is read.
    if req.method() == axum::http::Method::POST && !same_origin(req.headers(), &policy) {
        return ApiError::from(ConsoleError::Csrf).into_response();
    }
    let mut response = next.run(req).await;
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

/// An `Origin` header, when the browser sends one, must name this site: the scheme (as the
/// reverse proxy reports it in `X-Forwarded-Proto`, or as the settings say Rathaus is
/// served) and the host (`X-Forwarded-Host`, or the `Host` itself).
fn same_origin(headers: &HeaderMap, policy: &SessionPolicy) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let host = ["x-forwarded-host", "host"]
        .iter()
        .find_map(|h| headers.get(*h).and_then(|v| v.to_str().ok()))
        .unwrap_or("");
    let scheme = if auth::is_secure(policy, headers) {
        "https"
    } else {
        "http"
    };
    origin
        .split_once("://")
        .is_some_and(|(s, rest)| s.eq_ignore_ascii_case(scheme) && rest.eq_ignore_ascii_case(host))
}

fn text_field(text: &str) -> Result<String, ConsoleError> {
    let t = text.trim();
    if t.is_empty() {
        return Err(ConsoleError::Invalid("Der Text ist leer."));
    }
    if t.chars().count() > MAX_TEXT_CHARS || t.contains('\0') {
        return Err(ConsoleError::Invalid(
            "Der Text ist zu lang oder enthält ungültige Zeichen.",
        ));
    }
    Ok(t.to_string())
}

fn conversation_id(raw: &str) -> Result<ConversationId, ConsoleError> {
    raw.parse().map_err(|_| ConsoleError::NotFound)
}

/// A conversation staff may see: one that was handed over to them at some point. A
/// conversation the bot handled alone stays the citizen's, even for staff who know its id.
pub(crate) async fn handed_over(
    state: &ConsoleState,
    id: ConversationId,
) -> Result<crate::store::Conversation, ConsoleError> {
    state
        .conversations
        .store()
        .conversation(id)
        .await?
        .filter(|c| c.handoff.is_some())
        .ok_or(ConsoleError::NotFound)
}

fn back_to(id: ConversationId) -> Response {
    Redirect::to(&format!("/console/conversations/{id}")).into_response()
}

// ---- login ----

#[derive(Deserialize)]
struct LoginForm {
    email: String,
    password: String,
    csrf: String,
}

async fn login_page(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    login_form(&state, &headers, StatusCode::OK, None).await
}

/// The login form with a fresh token the server signed, in a cookie and in the form.
async fn login_form(
    state: &ConsoleState,
    headers: &HeaderMap,
    status: StatusCode,
    error: Option<&'static str>,
) -> Result<Response, ApiError> {
    let token = state.login_tokens().await?.issue(now_ms());
    let secure = auth::is_secure(&state.console.policy, headers);
    let cookie = auth::set_cookie(
        LOGIN_COOKIE,
        &token,
        Some(Duration::from_secs(3600)),
        secure,
    );
    let page = LoginPage { csrf: token, error };
    Ok((status, [(header::SET_COOKIE, cookie)], page.html()).into_response())
}

async fn login(
    State(state): State<ConsoleState>,
    client: ClientAddress,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Result<Response, ApiError> {
    let expected = auth::cookie_value(&headers, LOGIN_COOKIE).unwrap_or("");
    let issued = state.login_tokens().await?.valid(&form.csrf, now_ms());
    if !issued || !auth::same_secret(expected, &form.csrf) {
        return login_form(
            &state,
            &headers,
            StatusCode::FORBIDDEN,
            Some("Das Formular war abgelaufen. Bitte melden Sie sich noch einmal an."),
        )
        .await;
    }
    let policy = state.console.policy;
    let store = state.conversations.store();
    match auth::login(
        store.as_ref(),
        &policy,
        &form.email,
        &form.password,
        &client.to_string(),
    )
    .await
    {
        Ok((cookie, _)) => {
            let secure = auth::is_secure(&policy, &headers);
            let session = auth::set_cookie(SESSION_COOKIE, &cookie, None, secure);
            let clear = auth::set_cookie(LOGIN_COOKIE, "", Some(Duration::ZERO), secure);
            let mut r = Redirect::to("/console").into_response();
            r.headers_mut()
                .append(header::SET_COOKIE, session.parse().expect("cookie"));
            r.headers_mut()
                .append(header::SET_COOKIE, clear.parse().expect("cookie"));
            Ok(r)
        }
        Err(auth::LoginError::Invalid) => {
            login_form(
                &state,
                &headers,
                StatusCode::UNAUTHORIZED,
                Some("E-Mail-Adresse oder Passwort ist falsch."),
            )
            .await
        }
        Err(auth::LoginError::Throttled) => {
            let mut r = login_form(
                &state,
                &headers,
                StatusCode::TOO_MANY_REQUESTS,
                Some(
                    "Zu viele Fehlversuche. Bitte warten Sie einige Minuten und versuchen Sie es dann noch einmal.",
                ),
            )
            .await?;
            r.headers_mut().insert(
                header::RETRY_AFTER,
                policy.account_delay.as_secs().max(1).into(),
            );
            Ok(r)
        }
        Err(auth::LoginError::Busy) => {
            Err(ConsoleError::Unavailable("login checks busy".into()).into())
        }
        Err(auth::LoginError::Store(e)) => Err(ConsoleError::from(e).into()),
    }
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
}

async fn logout(
    State(state): State<ConsoleState>,
    me: SignedIn,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Result<Response, ApiError> {
    me.check_csrf(&form.csrf)?;
    state
        .conversations
        .store()
        .delete_session(&me.digest)
        .await
        .map_err(ConsoleError::from)?;
    let secure = auth::is_secure(&state.console.policy, &headers);
    let clear = auth::set_cookie(SESSION_COOKIE, "", Some(Duration::ZERO), secure);
    Ok((
        [(header::SET_COOKIE, clear)],
        Redirect::to("/console/login"),
    )
        .into_response())
}

// ---- queue ----

async fn queue_page(
    State(state): State<ConsoleState>,
    me: SignedIn,
) -> Result<Html<String>, ApiError> {
    let store = state.conversations.store();
    let now = now_ms();
    let rows = store.queue().await.map_err(ConsoleError::from)?;
    let closed = store
        .closed_since(now - 86_400_000, 30)
        .await
        .map_err(ConsoleError::from)?;
    Ok(QueuePage {
        me: me.staff(),
        csrf: &me.session.csrf,
        rows: QueueRow::all(rows, &me, now),
        closed: QueueRow::all(closed, &me, now),
    }
    .html())
}

async fn queue_rows(
    State(state): State<ConsoleState>,
    me: SignedIn,
) -> Result<Html<String>, ApiError> {
    let queue = state
        .conversations
        .store()
        .queue()
        .await
        .map_err(ConsoleError::from)?;
    let rows = QueueRow::all(queue, &me, now_ms());
    Ok(QueueRowsFragment { rows }.html())
}

/// What the console's pages hear of a change: which conversation, what kind of change and
/// its new state. The pages fetch what they show; no citizen text travels on this feed.
#[derive(serde::Serialize)]
struct Update {
    #[serde(rename = "type")]
    kind: &'static str,
    conversation: ConversationId,
    #[serde(skip_serializing_if = "Option::is_none")]
    state: Option<crate::store::ConversationState>,
}

impl Update {
    fn of(event: &crate::events::Event) -> Update {
        use crate::events::Event;
        match event {
            Event::Message { conversation, .. } => Update {
                kind: "message",
                conversation: *conversation,
                state: None,
            },
            Event::State {
                conversation,
                state,
                ..
            } => Update {
                kind: "state",
                conversation: *conversation,
                state: Some(*state),
            },
            Event::Typing { conversation, .. } => Update {
                kind: "typing",
                conversation: *conversation,
                state: None,
            },
        }
    }
}

/// Changes as they happen, for the console's live updates (signed-in staff only).
async fn events(
    State(state): State<ConsoleState>,
    _me: SignedIn,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let mut events = state.conversations.events().subscribe();
    let stopping = state.conversations.stopping();
    let stream = async_stream::stream! {
        tokio::pin!(stopping);
        loop {
            let event = tokio::select! {
                event = events.recv() => event,
                // The server stops: the browser's EventSource reconnects by itself.
                () = &mut stopping => return,
            };
            match event {
                Ok(event) => {
                    let data = serde_json::to_string(&Update::of(&event)).unwrap_or_else(|_| "{}".into());
                    yield Ok(SseEvent::default().event("update").data(data));
                }
                // Fell behind: the page reloads what it shows from the server.
                Err(RecvError::Lagged(_)) => yield Ok(SseEvent::default().event("resync").data("{}")),
                Err(RecvError::Closed) => return,
            }
        }
    };
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(20)))
}

// ---- one conversation ----

async fn conversation_page(
    State(state): State<ConsoleState>,
    me: SignedIn,
    Path(id): Path<String>,
) -> Result<Html<String>, ApiError> {
    let id = conversation_id(&id)?;
    let page = ConversationPage::load(&state, &me, id).await?;
    Ok(page.html())
}

async fn transcript_fragment(
    State(state): State<ConsoleState>,
    _me: SignedIn,
    Path(id): Path<String>,
) -> Result<Html<String>, ApiError> {
    let id = conversation_id(&id)?;
    handed_over(&state, id).await?;
    let messages = MessageView::all(&state, id).await?;
    Ok(TranscriptFragment { messages }.html())
}

async fn claim(
    State(state): State<ConsoleState>,
    me: SignedIn,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, ApiError> {
    me.check_csrf(&form.csrf)?;
    let id = conversation_id(&id)?;
    state
        .conversations
        .claim(id, me.staff())
        .await
        .map_err(ConsoleError::from)?;
    Ok(back_to(id))
}

async fn unassign(
    State(state): State<ConsoleState>,
    me: SignedIn,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, ApiError> {
    me.check_csrf(&form.csrf)?;
    let id = conversation_id(&id)?;
    state
        .conversations
        .unassign(id, me.staff())
        .await
        .map_err(ConsoleError::from)?;
    Ok(Redirect::to("/console").into_response())
}

#[derive(Deserialize)]
struct TransferForm {
    csrf: String,
    to: String,
}

async fn transfer(
    State(state): State<ConsoleState>,
    me: SignedIn,
    Path(id): Path<String>,
    Form(form): Form<TransferForm>,
) -> Result<Response, ApiError> {
    me.check_csrf(&form.csrf)?;
    let id = conversation_id(&id)?;
    state
        .conversations
        .transfer(id, me.staff(), &StaffId(form.to))
        .await
        .map_err(ConsoleError::from)?;
    Ok(Redirect::to("/console").into_response())
}

#[derive(Deserialize)]
struct CloseForm {
    csrf: String,
    outcome: String,
}

/// How a handoff can end, as staff record it.
pub const CLOSE_OUTCOMES: [(&str, &str); 5] = [
    ("resolved", "Erledigt"),
    ("referred", "An eine Fachstelle verwiesen"),
    ("callback_done", "Zurückgerufen"),
    ("no_response", "Keine Antwort mehr"),
    ("spam", "Missbrauch / Spam"),
];

async fn close(
    State(state): State<ConsoleState>,
    me: SignedIn,
    Path(id): Path<String>,
    Form(form): Form<CloseForm>,
) -> Result<Response, ApiError> {
    me.check_csrf(&form.csrf)?;
    let id = conversation_id(&id)?;
    if !CLOSE_OUTCOMES.iter().any(|(k, _)| *k == form.outcome) {
        return Err(ConsoleError::Invalid("Unbekanntes Ergebnis.").into());
    }
    state
        .conversations
        .close(id, me.staff(), &form.outcome)
        .await
        .map_err(ConsoleError::from)?;
    Ok(back_to(id))
}

async fn reopen(
    State(state): State<ConsoleState>,
    me: SignedIn,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, ApiError> {
    me.check_csrf(&form.csrf)?;
    let id = conversation_id(&id)?;
    state
        .conversations
        .reopen(id, me.staff())
        .await
        .map_err(ConsoleError::from)?;
    Ok(back_to(id))
}

#[derive(Deserialize)]
struct TextForm {
    csrf: String,
    text: String,
}

impl TextForm {
    /// The conversation and the text of a form a signed-in staff member sent.
    fn read(self, me: &SignedIn, id: &str) -> Result<(ConversationId, String), ConsoleError> {
        me.check_csrf(&self.csrf)?;
        Ok((conversation_id(id)?, text_field(&self.text)?))
    }
}

async fn reply(
    State(state): State<ConsoleState>,
    me: SignedIn,
    Path(id): Path<String>,
    Form(form): Form<TextForm>,
) -> Result<Response, ApiError> {
    let (id, text) = form.read(&me, &id)?;
    state
        .conversations
        .staff_reply(id, me.staff(), &text)
        .await
        .map_err(ConsoleError::from)?;
    Ok(back_to(id))
}

async fn note(
    State(state): State<ConsoleState>,
    me: SignedIn,
    Path(id): Path<String>,
    Form(form): Form<TextForm>,
) -> Result<Response, ApiError> {
    let (id, text) = form.read(&me, &id)?;
    handed_over(&state, id).await?;
    state
        .conversations
        .note(id, me.staff(), &text)
        .await
        .map_err(ConsoleError::from)?;
    Ok(back_to(id))
}

/// A phone caller was called back: the note goes into the transcript and the handoff closes.
async fn called_back(
    State(state): State<ConsoleState>,
    me: SignedIn,
    Path(id): Path<String>,
    Form(form): Form<TextForm>,
) -> Result<Response, ApiError> {
    let (id, text) = form.read(&me, &id)?;
    state
        .conversations
        .called_back(id, me.staff(), &text)
        .await
        .map_err(ConsoleError::from)?;
    Ok(back_to(id))
}

/// "Staff is typing", sent by the console's script with the CSRF token in a header.
async fn typing(
    State(state): State<ConsoleState>,
    me: SignedIn,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let given = headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    me.check_csrf(given)?;
    let id = conversation_id(&id)?;
    // Only the colleague who has the conversation is typing to the citizen.
    let c = handed_over(&state, id).await?;
    if c.state != crate::store::ConversationState::Claimed
        || c.assignee.as_ref() != Some(&me.staff().id)
    {
        return Err(ConsoleError::from(ConversationError::Conflict(Conflict::NotYours)).into());
    }
    state.conversations.typing(id, crate::store::Author::Staff);
    Ok(StatusCode::NO_CONTENT)
}

// ---- canned replies (admins) ----

async fn canned_page(
    State(state): State<ConsoleState>,
    Admin(me): Admin,
) -> Result<Html<String>, ApiError> {
    let replies = state
        .conversations
        .store()
        .canned_replies()
        .await
        .map_err(ConsoleError::from)?;
    Ok(CannedPage {
        me: me.staff(),
        csrf: &me.session.csrf,
        replies,
    }
    .html())
}

#[derive(Deserialize)]
struct CannedForm {
    csrf: String,
    title: String,
    body: String,
}

async fn save_canned(
    State(state): State<ConsoleState>,
    Admin(me): Admin,
    Form(form): Form<CannedForm>,
) -> Result<Response, ApiError> {
    me.check_csrf(&form.csrf)?;
    let title = form.title.trim();
    if title.is_empty() || title.chars().count() > 120 {
        return Err(
            ConsoleError::Invalid("Der Titel fehlt oder ist länger als 120 Zeichen.").into(),
        );
    }
    let reply = CannedReply {
        id: uuid::Uuid::new_v4().to_string(),
        title: title.to_string(),
        body: text_field(&form.body)?,
    };
    state
        .conversations
        .store()
        .put_canned_reply(&reply, now_ms())
        .await
        .map_err(ConsoleError::from)?;
    Ok(Redirect::to("/console/canned").into_response())
}

async fn delete_canned(
    State(state): State<ConsoleState>,
    Admin(me): Admin,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, ApiError> {
    me.check_csrf(&form.csrf)?;
    state
        .conversations
        .store()
        .delete_canned_reply(&id)
        .await
        .map_err(ConsoleError::from)?;
    Ok(Redirect::to("/console/canned").into_response())
}

// ---- static files ----

async fn script() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        include_str!("static/console.js"),
    )
}

async fn stylesheet() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        include_str!("static/console.css"),
    )
}

/// Renders a template; a template that cannot render is a bug, reported without details.
trait Page: Template {
    fn html(&self) -> Html<String> {
        match self.render() {
            Ok(s) => Html(s),
            Err(e) => {
                tracing::error!(error = %e, "console template failed");
                Html("<!doctype html><title>Fehler</title><p>Ein interner Fehler ist aufgetreten.</p>".into())
            }
        }
    }
}

impl<T: Template> Page for T {}
