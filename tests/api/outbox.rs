//! The outbox carries staff replies to a channel that sends them itself: replies written
//! before the channel started are sent, a failure for now is retried, a failure for good is
//! given up with a line staff read in the transcript, and nothing is sent twice.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use rathaus::channels::outbox::{Delivery, Outbox, Pass, Policy, SendError, Sender};
use rathaus::channels::runtime::Backoff;
use rathaus::conversations::Conversations;
use rathaus::dialogue::HandoffReason;
use rathaus::language::Lang;
use rathaus::store::{Author, Channel, Conversation, ConversationId, Staff, StaffId, StaffRole};

use crate::helpers::spawn_app;

/// A channel's sender that records what it sends and fails as told.
#[derive(Default)]
struct Recording {
    sent: Mutex<Vec<(ConversationId, String)>>,
    /// Failures to report, in order, before sending works.
    failures: Mutex<Vec<SendError>>,
}

#[async_trait]
impl Sender for Recording {
    fn channel(&self) -> Channel {
        Channel::Email
    }

    async fn send(
        &self,
        conversation: &Conversation,
        delivery: &Delivery,
    ) -> Result<(), SendError> {
        let message = &delivery.message;
        let mut failures = self.failures.lock().unwrap();
        if !failures.is_empty() {
            return Err(failures.remove(0));
        }
        self.sent
            .lock()
            .unwrap()
            .push((conversation.id, message.text.clone()));
        Ok(())
    }
}

fn quick() -> Policy {
    Policy {
        backoff: Backoff::new(Duration::from_millis(20), Duration::from_millis(50)),
        max_attempts: 3,
        poll: Duration::from_millis(20),
        ..Policy::default()
    }
}

/// A conversation on the recording channel, claimed by an agent.
async fn claimed(conversations: &Conversations) -> (ConversationId, Staff) {
    let started = conversations.start(Channel::Email).await.unwrap();
    let c = conversations
        .store()
        .conversation(started.id)
        .await
        .unwrap()
        .unwrap();
    conversations
        .request_handoff(&c, HandoffReason::Requested, Lang::De)
        .await
        .unwrap();
    let anna = Staff {
        id: StaffId::new(),
        email: format!("anna-{}@musterstadt.example", started.id),
        name: "Anna".into(),
        role: StaffRole::Agent,
        active: true,
    };
    conversations
        .store()
        .add_staff(&anna, "x", 1)
        .await
        .unwrap();
    conversations.claim(started.id, &anna).await.unwrap();
    (started.id, anna)
}

#[tokio::test]
async fn staff_replies_written_while_the_channel_was_down_are_sent_once() {
    let app = spawn_app().await;
    let (id, anna) = claimed(&app.conversations).await;
    app.conversations
        .staff_reply(id, &anna, "Erste Antwort")
        .await
        .unwrap();
    app.conversations
        .staff_reply(id, &anna, "Zweite Antwort")
        .await
        .unwrap();

    let sender = Arc::new(Recording::default());
    let outbox = Outbox::new(app.conversations.clone(), sender.clone()).with_policy(quick());
    assert_eq!(
        outbox.run_once().await.unwrap(),
        Pass {
            sent: 2,
            retrying: 0,
            given_up: 0
        }
    );
    assert_eq!(outbox.run_once().await.unwrap(), Pass::default());
    let texts: Vec<_> = sender
        .sent
        .lock()
        .unwrap()
        .iter()
        .map(|(c, t)| (*c, t.clone()))
        .collect();
    assert_eq!(
        texts,
        [
            (id, "Erste Antwort".to_string()),
            (id, "Zweite Antwort".to_string())
        ]
    );
}

#[tokio::test]
async fn a_running_outbox_sends_new_replies_and_retries_failures() {
    let app = spawn_app().await;
    let (id, anna) = claimed(&app.conversations).await;
    let sender = Arc::new(Recording::default());
    sender.failures.lock().unwrap().push(SendError::Retry {
        error: "429 Too Many Requests".into(),
        after: None,
    });
    let worker = Outbox::new(app.conversations.clone(), sender.clone())
        .with_policy(quick())
        .spawn();
    app.conversations
        .staff_reply(id, &anna, "Guten Tag")
        .await
        .unwrap();
    let mut waited = 0;
    while sender.sent.lock().unwrap().is_empty() && waited < 100 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        waited += 1;
    }
    worker.abort();
    assert_eq!(
        *sender.sent.lock().unwrap(),
        [(id, "Guten Tag".to_string())]
    );
    assert!(
        sender.failures.lock().unwrap().is_empty(),
        "the failure was met first"
    );
}

#[tokio::test]
async fn a_reply_that_cannot_be_delivered_is_given_up_with_a_line_for_staff() {
    let app = spawn_app().await;
    let (id, anna) = claimed(&app.conversations).await;
    app.conversations
        .staff_reply(id, &anna, "Hallo?")
        .await
        .unwrap();
    let sender = Arc::new(Recording::default());
    sender.failures.lock().unwrap().push(SendError::Permanent(
        "Forbidden: bot was blocked by the user".into(),
    ));
    let outbox = Outbox::new(app.conversations.clone(), sender.clone()).with_policy(quick());
    assert_eq!(
        outbox.run_once().await.unwrap(),
        Pass {
            sent: 0,
            retrying: 0,
            given_up: 1
        }
    );
    // Given up: never taken again, though sending would work now.
    assert_eq!(outbox.run_once().await.unwrap(), Pass::default());
    assert!(sender.sent.lock().unwrap().is_empty());
    let transcript = app.conversations.transcript(id).await.unwrap();
    let last = transcript.last().unwrap();
    assert_eq!(last.author, Author::System);
    assert!(
        last.text.contains("konnte nicht zugestellt werden")
            && last.text.contains("bot was blocked by the user"),
        "{}",
        last.text
    );
}

#[tokio::test]
async fn failures_for_now_are_given_up_after_the_last_attempt() {
    let app = spawn_app().await;
    let (id, anna) = claimed(&app.conversations).await;
    app.conversations
        .staff_reply(id, &anna, "Hallo?")
        .await
        .unwrap();
    let sender = Arc::new(Recording::default());
    for _ in 0..3 {
        sender.failures.lock().unwrap().push(SendError::Retry {
            error: "connection refused".into(),
            after: Some(Duration::from_millis(1)),
        });
    }
    let outbox = Outbox::new(app.conversations.clone(), sender.clone()).with_policy(quick());
    let mut passes = Vec::new();
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(5)).await;
        passes.push(outbox.run_once().await.unwrap());
    }
    assert_eq!(
        passes,
        [
            Pass {
                sent: 0,
                retrying: 1,
                given_up: 0
            },
            Pass {
                sent: 0,
                retrying: 1,
                given_up: 0
            },
            Pass {
                sent: 0,
                retrying: 0,
                given_up: 1
            },
        ]
    );
    assert!(sender.sent.lock().unwrap().is_empty());
}
