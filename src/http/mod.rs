//! The HTTP API (axum): stateless answers, conversations with their transcripts, health,
//! metrics and the OpenAPI document. Handlers translate between JSON and the conversation
//! service; they hold no dialogue logic and touch no SQL.

mod live;

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use axum::extract::{DefaultBodyLimit, MatchedPath, Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use serde::{Deserialize, Serialize};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;

use crate::conversations::{Conversations, Started};
use crate::dialogue::{EntryRef, HandoffReason, Inbound, Reply};
use crate::knowledge::EntryId;
use crate::language::Lang;
use crate::limits::{ClientAddress, Limits};
use crate::queue::QueuePosition;
use crate::store::{Author, Channel, ConversationId, ConversationState, Message};
use crate::web::{
    ApiError, ApiJson, ErrorBody, MAX_BODY_BYTES, bearer, message_text, refuse_oversized,
};

#[derive(Clone)]
pub struct AppState {
    pub conversations: Conversations,
    pub limits: Arc<Limits>,
}

/// The process-wide Prometheus recorder (installed once, shared by every app in a process).
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets(&[
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                ])
                .expect("valid buckets")
                .build_recorder();
            let handle = recorder.handle();
            // Another recorder may be installed already (tests); this handle still renders ours.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// All routes: the citizens' API, the edges' own routes (the channels', the staff
/// console's, each mounted by the application), the widget, health and metrics.
pub fn router(state: AppState, edges: Router<AppState>) -> Router {
    // The API is called from city pages on other origins; it uses bearer tokens, never
    // cookies, so any origin may call it.
    let cors = tower_http::cors::CorsLayer::new()
        .allow_origin(tower_http::cors::Any)
        .allow_methods([
            axum::http::Method::GET,
            axum::http::Method::POST,
            axum::http::Method::DELETE,
        ])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            axum::http::HeaderName::from_static("last-event-id"),
        ])
        .max_age(std::time::Duration::from_secs(3600));
    let api = Router::new()
        .route("/api/v1/answer", post(answer))
        .route("/api/v1/conversations", post(start_conversation))
        .route(
            "/api/v1/conversations/{id}",
            get(transcript).delete(delete_conversation),
        )
        .route("/api/v1/conversations/{id}/messages", post(post_message))
        .route("/api/v1/conversations/{id}/handoff", post(request_handoff))
        .route(
            "/api/v1/conversations/{id}/events",
            get(live::conversation_events),
        )
        .route("/api/openapi.json", get(openapi))
        .layer(middleware::from_fn(refuse_oversized))
        .layer(cors);
    let limits = state.limits.clone();
    Router::new()
        .merge(api)
        .merge(edges)
        .merge(crate::widget::router())
        .route("/healthz", get(healthz))
        .fallback(|| async { ApiError::NotFound })
        .layer(middleware::from_fn(track))
        .layer(middleware::from_fn(security_headers))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(tower_http::compression::CompressionLayer::new())
        // Spans name the route's pattern, never the path: a webhook's secret path or a
        // conversation id stays out of the logs at every level.
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            let route = req
                .extensions()
                .get::<MatchedPath>()
                .map_or("unmatched", |p| p.as_str());
            tracing::debug_span!("request", method = %req.method(), route)
        }))
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::Internal("handler panicked".into()).into_response()
        }))
        .layer(axum::Extension(limits))
        .with_state(state)
}

/// Prometheus's metrics, served on a listen address of their own (`--metrics-listen`),
/// never beside the citizens' API.
pub fn metrics_router() -> Router {
    Router::new()
        .route("/metrics", get(render_metrics))
        .with_state(metrics_handle())
}

/// Headers every response carries unless its edge set its own: no sniffing of content
/// types, no referrer, no framing, and no caching of anything about a conversation.
async fn security_headers(req: Request, next: Next) -> Response {
    let api = req.uri().path().starts_with("/api/v1/conversations");
    let mut response = next.run(req).await;
    let h = response.headers_mut();
    h.entry(header::X_CONTENT_TYPE_OPTIONS)
        .or_insert(header::HeaderValue::from_static("nosniff"));
    h.entry(header::REFERRER_POLICY)
        .or_insert(header::HeaderValue::from_static("no-referrer"));
    h.entry(header::X_FRAME_OPTIONS)
        .or_insert(header::HeaderValue::from_static("DENY"));
    if api {
        h.entry(header::CACHE_CONTROL)
            .or_insert(header::HeaderValue::from_static("no-store"));
    }
    response
}

/// Counts requests and their latency per route (the route pattern, never the raw path).
async fn track(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let method = req.method().to_string();
    let started = Instant::now();
    let response = next.run(req).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("rathaus_http_requests_total", "route" => route.clone(), "method" => method.clone(), "status" => status).increment(1);
    metrics::histogram!("rathaus_http_request_duration_seconds", "route" => route, "method" => method)
        .record(started.elapsed().as_secs_f64());
    response
}

/// A question without a conversation.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswerRequest {
    /// The citizen's question.
    pub q: String,
    /// `de` or `en`; guessed from the text when absent.
    #[serde(default)]
    pub lang: Option<String>,
}

/// A citizen's message in a conversation.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageRequest {
    pub text: String,
    #[serde(default)]
    pub lang: Option<String>,
    /// The id of an entry the citizen picked from a clarify reply.
    #[serde(default)]
    pub choice: Option<String>,
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartRequest {
    /// `web` (default), `email`, `telegram`, `phone` or `api`.
    #[serde(default)]
    pub channel: Option<Channel>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TranscriptResponse {
    #[schema(value_type = String)]
    pub id: ConversationId,
    pub state: ConversationState,
    pub channel: Channel,
    /// Where the citizen stands in the staff queue while waiting for a person.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue: Option<QueuePosition>,
    pub messages: Vec<TranscriptMessage>,
}

/// A message as the citizen sees it: the entries a bot reply quoted come with their names
/// and links, so a reloaded page shows the same as the live one.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TranscriptMessage {
    pub seq: i64,
    pub author: Author,
    pub text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<crate::dialogue::Outcome>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub entries: Vec<EntryRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub author_name: Option<String>,
    pub at: i64,
}

impl TranscriptMessage {
    fn of(m: Message, dialogue: &crate::dialogue::Dialogue, lang: Lang) -> TranscriptMessage {
        TranscriptMessage {
            seq: m.seq,
            author: m.author,
            entries: m
                .entries
                .iter()
                .filter_map(|id| dialogue.entry_ref(id, lang))
                .collect(),
            text: m.text,
            outcome: m.outcome,
            author_name: m.author_name,
            at: m.at,
        }
    }
}

/// Optional settings of a citizen's request for a person.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HandoffRequest {
    #[serde(default)]
    pub lang: Option<String>,
}

fn lang(value: Option<String>) -> Result<Option<Lang>, ApiError> {
    value
        .map(|l| {
            l.parse()
                .map_err(|e: String| ApiError::Invalid("invalid_lang", e))
        })
        .transpose()
}

#[utoipa::path(post, path = "/api/v1/answer", request_body = AnswerRequest,
    responses((status = 200, body = Reply), (status = 400, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn answer(
    State(state): State<AppState>,
    client: ClientAddress,
    ApiJson(req): ApiJson<AnswerRequest>,
) -> Result<Json<Reply>, ApiError> {
    state.limits.send_message(client)?;
    let inbound = Inbound {
        text: message_text(req.q)?,
        lang: lang(req.lang)?,
        choice: None,
    };
    Ok(Json(state.conversations.answer(&inbound).await?))
}

#[utoipa::path(post, path = "/api/v1/conversations", request_body(content = Option<StartRequest>),
    responses((status = 201, body = Started)))]
async fn start_conversation(
    State(state): State<AppState>,
    client: ClientAddress,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<Started>), ApiError> {
    state.limits.start_conversation(client)?;
    // The body is optional: no body starts a web conversation.
    let req: StartRequest = if body.iter().all(u8::is_ascii_whitespace) {
        StartRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::InvalidJson(e.to_string()))?
    };
    let channel = req.channel.unwrap_or(Channel::Web);
    Ok((
        StatusCode::CREATED,
        Json(state.conversations.start(channel).await?),
    ))
}

pub(crate) fn conversation_id(raw: &str) -> Result<ConversationId, ApiError> {
    raw.parse().map_err(|_| ApiError::ConversationNotFound)
}

#[utoipa::path(post, path = "/api/v1/conversations/{id}/messages", request_body = MessageRequest,
    params(("id" = String, Path)), security(("token" = [])),
    responses((status = 200, body = Reply), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn post_message(
    State(state): State<AppState>,
    Path(id): Path<String>,
    client: ClientAddress,
    headers: HeaderMap,
    ApiJson(req): ApiJson<MessageRequest>,
) -> Result<Json<Reply>, ApiError> {
    state.limits.send_message(client)?;
    let token = bearer(&headers)?;
    let id = conversation_id(&id)?;
    let text = message_text(req.text)?;
    let choice = req
        .choice
        .map(|c| {
            c.parse::<EntryId>()
                .map_err(|e| ApiError::Invalid("invalid_choice", e.to_string()))
        })
        .transpose()?;
    let conversation = state.conversations.authorize(id, token).await?;
    let inbound = Inbound {
        text,
        lang: lang(req.lang)?,
        choice,
    };
    may_wait(&state, client, &conversation).await?;
    let channel = conversation.channel;
    let reply = state
        .conversations
        .message(&conversation, &inbound, channel)
        .await?;
    if reply.handoff.is_some() {
        state.limits.waits(client, conversation.id);
    }
    Ok(Json(reply))
}

/// Refuses a message that could put one more of this client's conversations in the staff
/// queue when as many as allowed wait already. Conversations with staff go on.
async fn may_wait(
    state: &AppState,
    client: ClientAddress,
    conversation: &crate::store::Conversation,
) -> Result<(), ApiError> {
    if conversation.state.with_staff() {
        return Ok(());
    }
    let conversations = &state.conversations;
    state
        .limits
        .may_wait(client, conversation.id, |id| conversations.waiting(id))
        .await?;
    Ok(())
}

#[utoipa::path(post, path = "/api/v1/conversations/{id}/handoff", request_body(content = Option<HandoffRequest>),
    params(("id" = String, Path)), security(("token" = [])),
    responses((status = 200, body = Reply), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn request_handoff(
    State(state): State<AppState>,
    Path(id): Path<String>,
    client: ClientAddress,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Json<Reply>, ApiError> {
    let token = bearer(&headers)?;
    let req: HandoffRequest = if body.iter().all(u8::is_ascii_whitespace) {
        HandoffRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::InvalidJson(e.to_string()))?
    };
    let c = state
        .conversations
        .authorize(conversation_id(&id)?, token)
        .await?;
    let lang = lang(req.lang)?.or(c.context.lang).unwrap_or(Lang::De);
    may_wait(&state, client, &c).await?;
    let reply = state
        .conversations
        .request_handoff(&c, HandoffReason::Requested, lang)
        .await?;
    state.limits.waits(client, c.id);
    Ok(Json(reply))
}

#[utoipa::path(get, path = "/api/v1/conversations/{id}", params(("id" = String, Path)), security(("token" = [])),
    responses((status = 200, body = TranscriptResponse), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn transcript(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<TranscriptResponse>, ApiError> {
    let token = bearer(&headers)?;
    let c = state
        .conversations
        .authorize(conversation_id(&id)?, token)
        .await?;
    let lang = c.context.lang.unwrap_or(Lang::De);
    let dialogue = state.conversations.dialogue();
    let messages = state
        .conversations
        .citizen_transcript(c.id)
        .await?
        .into_iter()
        .map(|m| TranscriptMessage::of(m, dialogue, lang))
        .collect();
    let queue = state.conversations.queue_position(c.id).await?;
    Ok(Json(TranscriptResponse {
        id: c.id,
        state: c.state,
        channel: c.channel,
        queue,
        messages,
    }))
}

#[utoipa::path(delete, path = "/api/v1/conversations/{id}", params(("id" = String, Path)), security(("token" = [])),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_conversation(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let token = bearer(&headers)?;
    let c = state
        .conversations
        .authorize(conversation_id(&id)?, token)
        .await?;
    state
        .conversations
        .store()
        .delete_conversation(c.id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/healthz", responses(
    (status = 200, description = "the server and its database are up; `meaning` says whether answers use sentence vectors yet"),
    (status = 503, description = "the database does not answer")))]
async fn healthz(State(state): State<AppState>) -> Response {
    let meaning = state.conversations.dialogue().knowledge().vectors.is_some();
    let database = tokio::time::timeout(
        std::time::Duration::from_secs(2),
        state.conversations.store().ping(),
    )
    .await;
    let (status, database) = match database {
        Ok(Ok(())) => (StatusCode::OK, true),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "health: the database does not answer");
            (StatusCode::SERVICE_UNAVAILABLE, false)
        }
        Err(_) => {
            tracing::warn!("health: the database did not answer within 2 s");
            (StatusCode::SERVICE_UNAVAILABLE, false)
        }
    };
    let word = if database { "ok" } else { "unavailable" };
    (
        status,
        [(header::CACHE_CONTROL, "no-store")],
        Json(serde_json::json!({"status": word, "database": database, "meaning": meaning})),
    )
        .into_response()
}

async fn render_metrics(State(metrics): State<PrometheusHandle>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        metrics.render(),
    )
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Rathaus API", description = "Citizen-service assistant: answers from the city's service catalogue, conversations with handoff to staff.", license(name = "EUPL-1.2")),
    paths(answer, start_conversation, post_message, request_handoff, transcript, live::conversation_events, delete_conversation, healthz),
    components(schemas(AnswerRequest, MessageRequest, StartRequest, HandoffRequest, Reply, Started, TranscriptResponse, TranscriptMessage, QueuePosition, ErrorBody, Message)),
    modifiers(&TokenScheme)
)]
pub struct ApiDoc;

struct TokenScheme;

impl utoipa::Modify for TokenScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "the conversation token returned when the conversation was started",
                    ))
                    .build(),
            ),
        );
    }
}

async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

/// Shared state for the server.
pub fn state(conversations: Conversations, limits: Arc<Limits>) -> AppState {
    AppState {
        conversations,
        limits,
    }
}
