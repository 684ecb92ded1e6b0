//! The HTTP edge's one error type: 4xx with a stable machine-readable code and a plain
//! message (the console's as pages of its own); 5xx logged with the cause, opaque to the
//! client. The edges turn their own errors into this one; none answers beside it.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use serde::Serialize;

use crate::conversations::ConversationError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("the request body is not valid JSON: {0}")]
    InvalidJson(String),
    #[error("the request body must be JSON (Content-Type: application/json)")]
    UnsupportedMediaType,
    #[error("the request body is too large")]
    PayloadTooLarge,
    /// A field's value refused: the stable code, and what is wrong in words.
    #[error("{1}")]
    Invalid(&'static str, String),
    #[error("a conversation token is required (Authorization: Bearer …)")]
    MissingToken,
    #[error("conversation not found")]
    ConversationNotFound,
    #[error("not found")]
    NotFound,
    #[error(transparent)]
    Conflict(crate::conversations::Conflict),
    #[error("{}", .0.limit.message())]
    Limited(crate::limits::Refused),
    #[error("the service is temporarily unavailable")]
    Unavailable(String),
    #[error("internal error")]
    Internal(String),
    /// A refusal in an edge's own codes (the phone's `call_ended`, `audio_silent`, …), with
    /// the sentence the telephony system says to the caller, where there is one.
    #[error("{message}")]
    Refused {
        status: StatusCode,
        code: &'static str,
        message: String,
        say: Option<&'static str>,
    },
    /// An error an edge shows as a page of its own (the console's HTML) instead of JSON. The
    /// cause of a server error goes to the log, never into the page.
    #[error("{status}")]
    Page {
        status: StatusCode,
        page: Html<String>,
        cause: Option<String>,
    },
}

/// The JSON body of every error response (but the console's pages).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Stable code for programs, e.g. `invalid_json`, `empty_message`, `conversation_not_found`.
    pub code: &'static str,
    /// What went wrong, for people.
    pub message: String,
}

/// What is sent: the [`ErrorBody`], and for the phone what to tell the caller.
#[derive(Serialize)]
struct Body {
    #[serde(flatten)]
    body: ErrorBody,
    #[serde(skip_serializing_if = "Option::is_none")]
    say: Option<&'static str>,
}

impl ApiError {
    /// What went wrong, for people.
    fn message(&self) -> String {
        match self {
            // serde's message names the field and position: useful, and contains no internals.
            ApiError::InvalidJson(detail) => {
                format!("the request body is not valid JSON for this endpoint: {detail}")
            }
            other => other.to_string(),
        }
    }

    /// The cause of a server error, for the log only.
    fn log(&self) {
        match self {
            ApiError::Internal(cause) => tracing::error!(%cause, "internal error"),
            ApiError::Unavailable(cause) => tracing::warn!(%cause, "unavailable"),
            ApiError::Page {
                status,
                cause: Some(cause),
                ..
            } => {
                if *status == StatusCode::SERVICE_UNAVAILABLE {
                    tracing::warn!(%cause, "unavailable");
                } else {
                    tracing::error!(%cause, "internal error");
                }
            }
            _ => {}
        }
    }

    /// Seconds after which a client may try again, where that is known.
    fn retry_after(&self) -> Option<u64> {
        match self {
            ApiError::Limited(r) => Some(r.retry_after.as_secs().max(1)),
            ApiError::Unavailable(_) => Some(5),
            _ => None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.log();
        let (message, retry_after) = (self.message(), self.retry_after());
        let say = match &self {
            ApiError::Refused { say, .. } => *say,
            _ => None,
        };
        let (status, code) = match self {
            ApiError::Page { status, page, .. } => return (status, page).into_response(),
            ApiError::Refused { status, code, .. } => (status, code),
            ApiError::InvalidJson(_) => (StatusCode::BAD_REQUEST, "invalid_json"),
            ApiError::UnsupportedMediaType => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            ApiError::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            ApiError::Invalid(code, _) => (StatusCode::UNPROCESSABLE_ENTITY, code),
            ApiError::MissingToken => (StatusCode::UNAUTHORIZED, "missing_token"),
            ApiError::ConversationNotFound => (StatusCode::NOT_FOUND, "conversation_not_found"),
            ApiError::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ApiError::Limited(r) => (StatusCode::TOO_MANY_REQUESTS, r.limit.code()),
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        };
        let body = ErrorBody { code, message };
        let mut response = (status, Json(Body { body, say })).into_response();
        if let Some(seconds) = retry_after {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, seconds.into());
        }
        response
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        match r {
            JsonRejection::MissingJsonContentType(_) => ApiError::UnsupportedMediaType,
            JsonRejection::BytesRejection(b) if b.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                ApiError::PayloadTooLarge
            }
            JsonRejection::JsonDataError(e) => ApiError::InvalidJson(e.body_text().replace(
                "Failed to deserialize the JSON body into the target type: ",
                "",
            )),
            JsonRejection::JsonSyntaxError(e) => ApiError::InvalidJson(
                e.body_text()
                    .replace("Failed to parse the request body as JSON: ", ""),
            ),
            other => ApiError::InvalidJson(other.body_text()),
        }
    }
}

impl From<crate::limits::Refused> for ApiError {
    fn from(r: crate::limits::Refused) -> Self {
        metrics::counter!("rathaus_limited_total", "limit" => r.limit.code()).increment(1);
        ApiError::Limited(r)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ApiError::NotFound,
            StoreError::Unavailable(c) => ApiError::Unavailable(c),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<ConversationError> for ApiError {
    fn from(e: ConversationError) -> Self {
        match e {
            ConversationError::NotFound => ApiError::ConversationNotFound,
            ConversationError::Conflict(why) => ApiError::Conflict(why),
            ConversationError::Store(StoreError::NotFound) => ApiError::ConversationNotFound,
            ConversationError::Store(s) => s.into(),
        }
    }
}
