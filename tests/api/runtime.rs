//! The channel runtime itself, with a stand-in adapter: a channel whose source offers every
//! message again until the end (as Telegram does with updates it has not heard confirmed)
//! and whose sender appends each reply to a log file. The process that runs it is killed
//! with SIGKILL several times in the middle of the work and started again: every message is
//! recorded in a transcript once, answered once, and every answer leaves, in order per lane.
//!
//! The killed process is this test binary itself, started again with
//! `stand_in_channel_process` as the one test to run and the work folder in
//! `RATHAUS_STAND_IN`.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use rathaus::channels::outbox::{Delivery, SendError, Sender};
use rathaus::channels::runtime::{Adapter, Begun, Runtime, RuntimeSettings, Turn, WorkError};
use rathaus::conversations::Conversations;
use rathaus::dialogue::Inbound;
use rathaus::store::{Author, Channel, Conversation, Received, Store, StoreError};
use serde::{Deserialize, Serialize};

use crate::helpers::{Server, test_settings};

const FOLDER: &str = "RATHAUS_STAND_IN";
/// The questions offered, spread over lanes (chats).
const MESSAGES: usize = 48;
const LANES: usize = 6;
const KILLS: usize = 3;

/// One message as the stand-in's source offers it.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Offered {
    key: String,
    lane: i64,
    text: String,
}

fn offered() -> Vec<Offered> {
    let questions = [
        "Was kostet ein Reisepass?",
        "Wo melde ich meinen Hund an?",
        "Was kostet ein Personalausweis?",
        "Wie melde ich meinen Wohnsitz um?",
    ];
    (0..MESSAGES)
        .map(|i| Offered {
            key: format!("m{i:03}"),
            lane: 5_000 + (i % LANES) as i64,
            // Each text is unique, so a line recorded twice would show.
            text: format!("{} (Nr. {i})", questions[i % questions.len()]),
        })
        .collect()
}

struct StandIn {
    conversations: Conversations,
    log: PathBuf,
}

#[async_trait]
impl Adapter for StandIn {
    async fn work(&self, message: &Received, turn: &Turn<'_>) -> Result<(), WorkError> {
        let m: Offered = serde_json::from_slice(&message.payload)
            .map_err(|e| WorkError::Channel(e.to_string()))?;
        let conversation = self.conversation_of(m.lane).await?;
        if let Begun::Fresh = turn.begin(conversation.id, &m.text).await? {
            self.conversations
                .message_in_reply(
                    &conversation,
                    &Inbound::text(m.text.clone()),
                    Channel::Telegram,
                    Some(&m.key),
                )
                .await?;
        }
        // What a real adapter does after the turn (Telegram takes the buttons away) takes a
        // while, so that kills land between recording a turn and finishing its message too.
        tokio::time::sleep(Duration::from_millis(40)).await;
        Ok(())
    }
}

impl StandIn {
    /// The lane's conversation (the Telegram table of chats serves as the stand-in's).
    async fn conversation_of(&self, lane: i64) -> Result<Conversation, WorkError> {
        let store = self.conversations.store();
        let id = match store.telegram_conversation(lane).await? {
            Some(id) => id,
            None => {
                let started = self.conversations.start(Channel::Telegram).await?;
                if !store
                    .link_telegram_chat(lane, started.id, rathaus::conversations::now_ms())
                    .await?
                {
                    store.delete_conversation(started.id).await?;
                }
                store
                    .telegram_conversation(lane)
                    .await?
                    .ok_or(StoreError::Conflict)?
            }
        };
        Ok(store.conversation(id).await?.ok_or(StoreError::NotFound)?)
    }
}

#[async_trait]
impl Sender for StandIn {
    fn channel(&self) -> Channel {
        Channel::Telegram
    }

    async fn send(
        &self,
        conversation: &Conversation,
        delivery: &Delivery,
    ) -> Result<(), SendError> {
        // As long as a real send takes, so that kills land between sending and marking too.
        tokio::time::sleep(Duration::from_millis(15)).await;
        let line = format!(
            "{}\t{}\t{}\n",
            delivery.in_reply_to.as_deref().unwrap_or("-"),
            conversation.id,
            delivery.message.seq
        );
        let mut log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .map_err(|e| SendError::Permanent(e.to_string()))?;
        log.write_all(line.as_bytes())
            .and_then(|()| log.sync_data())
            .map_err(|e| SendError::Permanent(e.to_string()))?;
        Ok(())
    }
}

/// The process the test kills: the stand-in channel on the shared runtime, its source
/// offering every message again every 50 ms, until it is killed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "started by runtime_messages_arrive_once_and_replies_leave_once_across_kill_9"]
async fn stand_in_channel_process() {
    let Some(folder) = std::env::var_os(FOLDER).map(PathBuf::from) else {
        return;
    };
    let (_server, _, conversations) =
        Server::start(test_settings(&folder.join("rathaus.db"))).await;
    let runtime = Runtime::new(
        conversations.clone(),
        Channel::Telegram,
        RuntimeSettings {
            lease: Duration::from_secs(2),
            tick: Duration::from_millis(100),
            ..RuntimeSettings::default()
        },
    );
    let stand_in = Arc::new(StandIn {
        conversations,
        log: folder.join("sent.log"),
    });
    runtime.start(stand_in.clone(), stand_in);
    let messages: Vec<Received> = offered()
        .into_iter()
        .map(|m| Received {
            key: m.key.clone(),
            lane: Some(m.lane.to_string()),
            position: m.key[1..].parse().unwrap(),
            payload: serde_json::to_vec(&m).unwrap(),
        })
        .collect();
    loop {
        // A few at a time, as a source that delivers in batches does.
        for batch in messages.chunks(8) {
            runtime.receive(batch).await.unwrap();
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn start(folder: &Path) -> std::process::Child {
    std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "runtime::stand_in_channel_process",
            "--exact",
            "--ignored",
            "--quiet",
        ])
        .env(FOLDER, folder)
        .env("RATHAUS_WORDS_ONLY", "true")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("the stand-in process starts")
}

/// The log's lines: (the message answered, conversation, seq).
fn sent(folder: &Path) -> Vec<(String, String, i64)> {
    std::fs::read_to_string(folder.join("sent.log"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let mut f = l.split('\t');
            Some((
                f.next()?.to_string(),
                f.next()?.to_string(),
                f.next()?.parse().ok()?,
            ))
        })
        .collect()
}

fn answered(folder: &Path) -> usize {
    let keys: std::collections::HashSet<String> =
        sent(folder).into_iter().map(|(k, _, _)| k).collect();
    keys.len()
}

async fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while !done() {
        assert!(tokio::time::Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runtime_messages_arrive_once_and_replies_leave_once_across_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path();
    let offered = offered();

    // Killed at three points of the work, each after a few more answers left.
    for kill in 1..=KILLS {
        let mut process = start(folder);
        let target = kill * MESSAGES / (KILLS + 1);
        wait_for(&format!("{target} answers before kill {kill}"), || {
            answered(folder) >= target
        })
        .await;
        process.kill().expect("SIGKILL");
        process.wait().unwrap();
    }
    let before_last = answered(folder);
    assert!(
        before_last < MESSAGES,
        "the kills came mid-work ({before_last} of {MESSAGES} answered)"
    );
    let mut process = start(folder);
    wait_for("every message answered", || answered(folder) >= MESSAGES).await;
    // Let a late duplicate show if there were one.
    tokio::time::sleep(Duration::from_millis(500)).await;
    process.kill().unwrap();
    process.wait().unwrap();

    let store: Arc<dyn Store> = rathaus::store::open(
        &format!("sqlite://{}", folder.join("rathaus.db").display())
            .parse()
            .unwrap(),
    )
    .await
    .unwrap();
    assert!(
        store
            .inbox_pending(Channel::Telegram, 1)
            .await
            .unwrap()
            .is_empty()
    );

    // Every message recorded once, each answered once by the bot, in the order offered.
    let by_text: HashMap<&str, &Offered> = offered.iter().map(|m| (m.text.as_str(), m)).collect();
    let mut recorded: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    let mut bot_replies = Vec::new();
    for lane in 0..LANES {
        let lane = 5_000 + lane as i64;
        let id = store
            .telegram_conversation(lane)
            .await
            .unwrap()
            .expect("a conversation");
        let transcript = store.transcript(id).await.unwrap();
        let authors: Vec<Author> = transcript.iter().map(|m| m.author).collect();
        assert_eq!(
            authors,
            [Author::Citizen, Author::Bot].repeat(MESSAGES / LANES),
            "each line once, each answered once"
        );
        for m in &transcript {
            match m.author {
                Author::Citizen => recorded
                    .entry(lane)
                    .or_default()
                    .push(by_text[m.text.as_str()].key.clone()),
                _ => bot_replies.push((id.to_string(), m.seq)),
            }
        }
    }
    for (lane, keys) in &recorded {
        let expected: Vec<String> = offered
            .iter()
            .filter(|m| m.lane == *lane)
            .map(|m| m.key.clone())
            .collect();
        assert_eq!(keys, &expected, "lane {lane} in order");
    }

    // Every reply left; a second copy only of a reply in flight at a kill (sent, not yet
    // marked sent), at most one per kill.
    let log = sent(folder);
    let mut copies: HashMap<(String, i64), usize> = HashMap::new();
    for (_, conversation, seq) in &log {
        *copies.entry((conversation.clone(), *seq)).or_default() += 1;
    }
    for reply in &bot_replies {
        assert!(copies.contains_key(reply), "reply {reply:?} left");
    }
    assert_eq!(
        copies.len(),
        bot_replies.len(),
        "only the bot's replies left"
    );
    let repeated: usize = copies.values().map(|n| n - 1).sum();
    assert!(repeated <= KILLS, "{repeated} replies left twice");
    // In order per conversation: the first copy of each reply after the one before it.
    let mut last: HashMap<String, i64> = HashMap::new();
    for (_, conversation, seq) in &log {
        let previous = last.entry(conversation.clone()).or_insert(0);
        assert!(*seq >= *previous, "replies of {conversation} out of order");
        *previous = (*previous).max(*seq);
    }
}
