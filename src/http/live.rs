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

use super::{AppState, TranscriptMessage, conversation_id};
use crate::events::Event;
use crate::language::Lang;
use crate::limits::ClientAddress;
use crate::queue::QueuePosition;
use crate::store::{Author, ConversationState};
use crate::web::{ApiError, ErrorBody, bearer};

/// What the widget hears about its conversation's place with staff.
#[derive(serde::Serialize)]
struct StateEvent {
    state: ConversationState,
    #[serde(skip_serializing_if = "Option::is_none")]
    queue: Option<QueuePosition>,
}

#[utoipa::path(get, path = "/api/v1/conversations/{id}/events", params(("id" = String, Path)), security(("token" = [])),
    responses((status = 200, description = "text/event-stream: `message` (a transcript message, id = its seq), `state` (state and queue position), `typing` (staff is typing)", content_type = "text/event-stream"),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(super) async fn conversation_events(
    State(state): State<AppState>,
    Path(id): Path<String>,
    client: ClientAddress,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    let token = bearer(&headers)?;
    let c = state
        .conversations
        .authorize(conversation_id(&id)?, token)
        .await?;
    // Counted while the stream is open: the guard goes with the stream.
    let open = state.limits.open_stream(client, c.id)?;
    let after: i64 = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    // Subscribe before reading the store: nothing falls between the replay and the live feed.
    let mut events = state.conversations.events().subscribe();
    let mut board = state.conversations.board().watch();
    let stopping = state.conversations.stopping();
    let conversations = state.conversations.clone();
    let lang = c.context.lang.unwrap_or(Lang::De);
    let stream = async_stream::stream! {
        let _open = open;
        tokio::pin!(stopping);
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
        let mut place = board.borrow_and_update().of(c.id);
        yield Ok(state_event(current, place));
        loop {
            let event = tokio::select! {
                event = events.recv() => event,
                changed = board.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    // The queue moved: tell this citizen only if their own place changed.
                    let now = board.borrow_and_update().of(c.id);
                    if current == ConversationState::Waiting && now != place {
                        place = now;
                        yield Ok(state_event(current, place));
                    }
                    continue;
                }
                () = &mut stopping => {
                    // The server stops: the widget reconnects (to another instance, or
                    // after the restart) and replays from its last message.
                    yield Ok(SseEvent::default().event("reconnect").retry(Duration::from_secs(2)).data("{}"));
                    return;
                }
            };
            match event {
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
                        if current != ConversationState::Waiting {
                            place = None;
                        }
                        yield Ok(state_event(current, place));
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

fn state_event(state: ConversationState, queue: Option<QueuePosition>) -> SseEvent {
    let queue = queue.filter(|_| state == ConversationState::Waiting);
    let data = serde_json::to_string(&StateEvent { state, queue }).unwrap_or_else(|_| "{}".into());
    SseEvent::default().event("state").data(data)
}
