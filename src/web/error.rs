//! The HTTP edge's one error type: 4xx with a stable machine-readable code and a plain
//! message; 5xx logged with the cause, opaque to the client.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
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
}

/// The JSON body of every error response.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Stable code for programs, e.g. `invalid_json`, `empty_message`, `conversation_not_found`.
    pub code: &'static str,
    /// What went wrong, for people.
    pub message: String,
}

impl ApiError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
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
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        match &self {
            ApiError::Internal(cause) => tracing::error!(%cause, "internal error"),
            ApiError::Unavailable(cause) => tracing::warn!(%cause, "unavailable"),
            _ => {}
        }
        let message = match &self {
            ApiError::InvalidJson(_) => {
                "the request body is not valid JSON for this endpoint".to_string()
            }
            other => other.to_string(),
        };
        let detail = match &self {
            // serde's message names the field and position: useful, and contains no internals.
            ApiError::InvalidJson(d) => format!("{message}: {d}"),
            _ => message,
        };
        let mut response = (
            status,
            Json(ErrorBody {
                code,
                message: detail,
            }),
        )
            .into_response();
        let retry_after = match &self {
            ApiError::Limited(r) => Some(r.retry_after.as_secs().max(1)),
            ApiError::Unavailable(_) => Some(5),
            _ => None,
        };
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
