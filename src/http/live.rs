//! The citizen's live stream (Server-Sent Events): staff replies, the handoff state with the
//! queue position, staff typing. The token travels in the Authorization header, never in the
//! URL; after a reconnect (`Last-Event-ID`) the messages missed meanwhile are replayed from
//! the store, so a dropped connection or a server restart loses nothing.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures::Stream;
use tokio::sync::broadcast::error::RecvError;

use super::{ApiError, AppState, TranscriptMessage, bearer, conversation_id};
use crate::events::Event;
use crate::language::Lang;
use crate::store::{Author, ConversationId, ConversationState};

/// What the widget hears about its conversation's place with staff.
#[derive(serde::Serialize)]
struct StateEvent {
    state: ConversationState,
    #[serde(skip_serializing_if = "Option::is_none")]
    queue: Option<crate::conversations::QueuePosition>,
}

#[utoipa::path(get, path = "/api/v1/conversations/{id}/events", params(("id" = String, Path)), security(("token" = [])),
    responses((status = 200, description = "text/event-stream: `message` (a transcript message, id = its seq), `state` (state and queue position), `typing` (staff is typing)", content_type = "text/event-stream"),
        (status = 401, body = super::ErrorBody), (status = 404, body = super::ErrorBody)))]
pub(super) async fn conversation_events(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    let token = bearer(&headers)?;
    let c = state
        .conversations
        .authorize(conversation_id(&id)?, token)
        .await?;
    let after: i64 = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    // Subscribe before reading the store: nothing falls between the replay and the live feed.
    let mut events = state.conversations.events().subscribe();
    let conversations = state.conversations.clone();
    let lang = c.context.lang.unwrap_or(Lang::De);
    let stream = async_stream::stream! {
        let mut last = after;
        let mut current = c.state;
        let replay = match conversations.citizen_transcript(c.id).await {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(error = %e, "live stream: transcript unavailable");
                return;
            }
        };
        let since = last;
        for m in replay.into_iter().filter(|m| m.seq > since) {
            last = m.seq;
            yield Ok(message_event(TranscriptMessage::of(m, conversations.dialogue(), lang)));
        }
        yield Ok(state_event(&conversations, c.id, current).await);
        loop {
            match events.recv().await {
                Ok(event) => match &*event {
                    Event::Message { conversation, message, .. } if *conversation == c.id => {
                        if message.author == Author::Note || message.seq <= last {
                            continue;
                        }
                        last = message.seq;
                        yield Ok(message_event(TranscriptMessage::of(message.clone(), conversations.dialogue(), lang)));
                    }
                    Event::State { conversation, state, .. } if *conversation == c.id => {
                        current = *state;
                        yield Ok(state_event(&conversations, c.id, current).await);
                    }
                    // Another conversation left the queue: this one may have moved up.
                    Event::State { .. } if current == ConversationState::Waiting => {
                        yield Ok(state_event(&conversations, c.id, current).await);
                    }
                    Event::Typing { conversation, author: Author::Staff } if *conversation == c.id => {
                        yield Ok(SseEvent::default().event("typing").data("{}"));
                    }
                    _ => {}
                },
                Err(RecvError::Lagged(_)) => {
                    // Fell behind: catch up from the store, which has everything.
                    if let Ok(missed) = conversations.citizen_transcript(c.id).await {
                        let since = last;
                        for m in missed.into_iter().filter(|m| m.seq > since) {
                            last = m.seq;
                            yield Ok(message_event(TranscriptMessage::of(m, conversations.dialogue(), lang)));
                        }
                    }
                }
                Err(RecvError::Closed) => return,
            }
        }
    };
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(20))))
}

fn message_event(m: TranscriptMessage) -> SseEvent {
    let data = serde_json::to_string(&m).unwrap_or_else(|_| "{}".into());
    SseEvent::default()
        .event("message")
        .id(m.seq.to_string())
        .data(data)
}

async fn state_event(
    conversations: &crate::conversations::Conversations,
    id: ConversationId,
    state: ConversationState,
) -> SseEvent {
    let queue = if state == ConversationState::Waiting {
        conversations.queue_position(id).await.ok().flatten()
    } else {
        None
    };
    let data = serde_json::to_string(&StateEvent { state, queue }).unwrap_or_else(|_| "{}".into());
    SseEvent::default().event("state").data(data)
}
