//! What every HTTP edge of Rathaus shares — the API, the console, the channels' webhooks:
//! the one error type with its JSON body and stable codes, the JSON extractor whose
//! rejections are that error, and the checks of bodies, tokens and messages. The edges build
//! on this and never on each other.

mod error;

pub use error::{ApiError, ErrorBody};

use axum::Json;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

pub use crate::domain::MAX_MESSAGE_CHARS;
/// Largest request body, in bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Larger bodies than this are not read at all before they are refused.
const DRAIN_BYTES: usize = 1024 * 1024;

/// JSON body extractor whose rejections are [`ApiError`]s.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    Json<T>: FromRequest<S, Rejection = axum::extract::rejection::JsonRejection>,
    S: Send + Sync,
{
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        Json::<T>::from_request(req, state)
            .await
            .map(|Json(v)| ApiJson(v))
            .map_err(ApiError::from)
    }
}

/// A body declared larger than the limit is refused before any handler sees it. Up to
/// `DRAIN_BYTES` it is read and thrown away first: a server that answers and closes while
/// the client is still sending makes the client see a reset connection instead of the error.
pub async fn refuse_oversized(req: Request, next: Next) -> Response {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<usize>().ok());
    match declared {
        Some(n) if n > MAX_BODY_BYTES => {
            if n <= DRAIN_BYTES {
                let body = req.into_body();
                let _ = tokio::time::timeout(
                    std::time::Duration::from_secs(10),
                    axum::body::to_bytes(body, DRAIN_BYTES),
                )
                .await;
            }
            ApiError::PayloadTooLarge.into_response()
        }
        _ => next.run(req).await,
    }
}

/// The bearer token of a request (a conversation's, the telephony system's).
pub fn bearer(headers: &HeaderMap) -> Result<&str, ApiError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or(ApiError::MissingToken)?;
    let token = value
        .strip_prefix("Bearer ")
        .map(str::trim)
        .ok_or(ApiError::MissingToken)?;
    if token.is_empty() {
        Err(ApiError::MissingToken)
    } else {
        Ok(token)
    }
}

/// A citizen's message as every edge accepts it: not empty, not too long, no NUL.
pub fn message_text(text: String) -> Result<String, ApiError> {
    if text.trim().is_empty() {
        return Err(ApiError::Invalid(
            "empty_message",
            "the message is empty".into(),
        ));
    }
    if text.chars().count() > MAX_MESSAGE_CHARS {
        return Err(ApiError::Invalid(
            "message_too_long",
            format!("the message is longer than {MAX_MESSAGE_CHARS} characters"),
        ));
    }
    if text.contains('\0') {
        return Err(ApiError::Invalid(
            "invalid_text",
            "the message contains a NUL character".into(),
        ));
    }
    Ok(text)
}
