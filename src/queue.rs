//! Where each conversation waiting for a person stands, worked out once per change of the
//! queue and read by every waiting citizen's live stream. Before, each stream asked the
//! store itself on every change: a thousand waiting citizens turned one handoff into two
//! thousand queries, and an ordinary message took 1.6 s instead of 9 ms.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::broadcast::error::RecvError;
use tokio::sync::watch;

use crate::domain::now_ms;
use crate::events::{Event, Events};
use crate::store::{ConversationId, Store};

/// Where a waiting citizen stands in the staff queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct QueuePosition {
    /// 1: next in line.
    pub position: i64,
    /// About how many minutes until a person takes over, from recent claims; absent
    /// when there are too few to say.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_minutes: Option<i64>,
}

/// The queue at one moment: each waiting conversation's place.
#[derive(Debug, Default)]
pub struct Standings {
    positions: HashMap<ConversationId, QueuePosition>,
}

impl Standings {
    pub fn of(&self, id: ConversationId) -> Option<QueuePosition> {
        self.positions.get(&id).copied()
    }

    /// Places from the waiting conversations (with their handoff times, earliest first) and
    /// the recent waits between handoff and claim (ms). Conversations handed over at the same
    /// moment share a place; the expected wait is the median of recent waits times the place,
    /// and absent when fewer than three claims say anything.
    pub fn compute(waiting: &[(ConversationId, i64)], mut recent_waits: Vec<i64>) -> Standings {
        recent_waits.sort_unstable();
        let median = (recent_waits.len() >= 3).then(|| recent_waits[recent_waits.len() / 2].max(0));
        let mut positions = HashMap::with_capacity(waiting.len());
        let mut ahead = 0;
        for (i, (id, at)) in waiting.iter().enumerate() {
            if i > 0 && waiting[i - 1].1 < *at {
                ahead = i as i64;
            }
            positions.insert(
                *id,
                QueuePosition {
                    position: ahead + 1,
                    expected_minutes: median
                        .map(|m| ((m * (ahead + 1)) as f64 / 60_000.0).ceil().max(1.0) as i64),
                },
            );
        }
        Standings { positions }
    }
}

/// The board every waiting stream watches.
#[derive(Clone)]
pub struct Board {
    standings: watch::Receiver<Arc<Standings>>,
}

impl Board {
    /// Starts the one task that keeps the standings: it works them out at start and after
    /// every change of a conversation's state, once for a burst of changes.
    pub fn start(store: Arc<dyn Store>, events: &Events) -> Board {
        let (publish, standings) = watch::channel(Arc::new(Standings::default()));
        let mut changes = events.subscribe();
        tokio::spawn(async move {
            loop {
                match work_out(store.as_ref()).await {
                    Ok(s) => {
                        publish.send_replace(Arc::new(s));
                    }
                    Err(e) => tracing::warn!(error = %e, "queue standings not worked out"),
                }
                // Wait for a change of state; messages and typing leave the queue as it is.
                loop {
                    match changes.recv().await {
                        Ok(event) if matches!(*event, Event::State { .. }) => break,
                        Ok(_) => {}
                        Err(RecvError::Lagged(_)) => break,
                        Err(RecvError::Closed) => return,
                    }
                }
                // A burst of handoffs is one change: the standings are worked out once for it.
                tokio::time::sleep(Duration::from_millis(50)).await;
                while let Ok(_) | Err(tokio::sync::broadcast::error::TryRecvError::Lagged(_)) =
                    changes.try_recv()
                {}
                if publish.is_closed() {
                    return;
                }
            }
        });
        Board { standings }
    }

    /// A receiver that wakes on every new standing.
    pub fn watch(&self) -> watch::Receiver<Arc<Standings>> {
        self.standings.clone()
    }
}

async fn work_out(store: &dyn Store) -> Result<Standings, crate::store::StoreError> {
    let waiting = store.waiting().await?;
    let waits = if waiting.is_empty() {
        Vec::new()
    } else {
        store.recent_waits(now_ms() - 86_400_000, 20).await?
    };
    Ok(Standings::compute(&waiting, waits))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_follow_the_handoff_times_and_ties_share_one() {
        let ids: Vec<ConversationId> = (0..4).map(|_| ConversationId::new()).collect();
        let waiting = vec![(ids[0], 10), (ids[1], 20), (ids[2], 20), (ids[3], 30)];
        let s = Standings::compute(&waiting, vec![]);
        let places: Vec<i64> = ids.iter().map(|id| s.of(*id).unwrap().position).collect();
        assert_eq!(places, [1, 2, 2, 4]);
        assert_eq!(
            s.of(ids[0]).unwrap().expected_minutes,
            None,
            "too few claims"
        );
        assert_eq!(s.of(ConversationId::new()), None);
    }

    #[test]
    fn the_expected_wait_is_the_median_wait_times_the_place() {
        let ids: Vec<ConversationId> = (0..2).map(|_| ConversationId::new()).collect();
        let s = Standings::compute(&[(ids[0], 1), (ids[1], 2)], vec![120_000, 60_000, 600_000]);
        assert_eq!(s.of(ids[0]).unwrap().expected_minutes, Some(2));
        assert_eq!(s.of(ids[1]).unwrap().expected_minutes, Some(4));
    }
}
