//! The e-mail channel: reads the city's mailbox over IMAP (IDLE, or polling), answers each
//! citizen's mail once through the dialogue core, threaded, over SMTP, and carries staff
//! replies from the console back as mail. It never answers a robot, a list or itself, never
//! lets a stranger join someone else's conversation, and never drops a mail silently: what it
//! cannot process is flagged in the mailbox and reported.
//!
//! An adapter of the shared [`Runtime`]: the mailbox session, while this instance holds the
//! channel's lease, keeps every new mail in the inbox (keyed by mailbox, UIDVALIDITY and UID)
//! before its cursor moves past it, and shows in the mailbox what was done with each (seen,
//! or flagged); the runtime works each mail once, in order per sender. Exactly once: a mail's
//! turn is recorded once (see [`Turn::begin`]), and its Message-ID recognises the same mail
//! delivered twice; a reply is stored byte for byte, with a Message-ID derived from the mail
//! it answers, before it is sent, and marked sent after. A copy of every reply goes to the
//! city's own address; if Rathaus dies between sending and marking, that copy arriving in the
//! mailbox confirms the send, and only a reply whose copy never came is sent again.

pub mod imap;
pub mod inbound;
pub mod outbound;
pub mod quote;
pub mod settings;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::TryStreamExt;
use lettre::address::Envelope;
use lettre::transport::smtp::PoolConfig;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use secrecy::ExposeSecret;
use tokio::sync::Notify;

use crate::channels::outbox::{self, SendError};
use crate::channels::runtime::{
    Adapter, Backoff, Begun, Runtime, RuntimeSettings, Turn, WorkError,
};
use crate::conversations::{ConversationError, Conversations, now_ms};
use crate::dialogue::Inbound;
use crate::store::Received;
use crate::store::{
    Author, Channel, Conversation, InboundState, MailKey, MailThread, NewMessage, OutboundKind,
    OutboundMail, OutboundState, StoreError,
};

pub use inbound::EmailAddress;
pub use settings::EmailSettings;

use inbound::{InboundMail, Robot};
use outbound::{Draft, Sender};

#[derive(Debug, thiserror::Error)]
pub enum EmailError {
    #[error(transparent)]
    Imap(#[from] imap::ImapError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Conversation(#[from] ConversationError),
    #[error("SMTP: {0}")]
    Smtp(#[from] lettre::transport::smtp::Error),
    #[error(transparent)]
    Compose(#[from] outbound::ComposeError),
    #[error("{0}")]
    Envelope(String),
    #[error(transparent)]
    Work(#[from] WorkError),
}

impl From<async_imap::error::Error> for EmailError {
    fn from(e: async_imap::error::Error) -> Self {
        EmailError::Imap(imap::ImapError::Protocol(e))
    }
}

/// What the transcript says when a mail came with files.
const ATTACHMENTS_LINE: &str = "Anhänge der E-Mail (vom Assistenten nicht gelesen)";
const EMPTY_MAIL_REPLY: &str = "Guten Tag,\n\nIhre E-Mail an uns war leider leer. Bitte schreiben Sie uns Ihre Frage in einer neuen Nachricht; wir antworten gern.";
const RATE_LIMITED_LINE: &str =
    "Keine automatische Antwort: zu viele E-Mails dieses Absenders in der letzten Stunde.";
/// Waits after the mailbox or the mail server failed: doubled each time up to a minute.
const BACKOFF: Backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
/// How long a clean shutdown waits for the mails begun to be finished.
const STOP_GRACE: Duration = Duration::from_secs(8);
/// Attempts at sending a stored reply before it is given up.
const SEND_ATTEMPTS: i64 = 10;
const BOUNCED_LINE: &str = "Eine E-Mail an den Bürger konnte nicht zugestellt werden (Unzustellbarkeitsnachricht erhalten).";

/// The e-mail channel, ready to run.
#[derive(Clone)]
pub struct EmailChannel {
    inner: Arc<Inner>,
}

struct Inner {
    settings: EmailSettings,
    sender: Sender,
    /// The city's address, the envelope's sender and the copy's recipient.
    own_address: lettre::Address,
    conversations: Conversations,
    smtp: AsyncSmtpTransport<Tokio1Executor>,
    /// The mailbox's name in the store: user, server and folder.
    mailbox: String,
    /// The inbox, lease and outbox the channels share.
    runtime: Arc<Runtime>,
    /// Wakes the mailbox session when a worked mail's flags are due.
    flags_due: Notify,
}

/// One fetched mail.
struct Fetched {
    uid: u32,
    /// `None` when the mail was larger than the limit: only its size is known.
    raw: Option<Vec<u8>>,
    size: u32,
}

impl Fetched {
    /// As the inbox keeps it: `R` and the mail, or `L` and the size of one too large to fetch.
    fn payload(&self) -> Vec<u8> {
        match &self.raw {
            Some(raw) => [b"R".as_slice(), raw].concat(),
            None => format!("L{}", self.size).into_bytes(),
        }
    }

    fn from_payload(uid: u32, payload: &[u8]) -> Option<Fetched> {
        match payload.split_first()? {
            (b'R', raw) => Some(Fetched {
                uid,
                size: u32::try_from(raw.len()).unwrap_or(u32::MAX),
                raw: Some(raw.to_vec()),
            }),
            (b'L', size) => Some(Fetched {
                uid,
                raw: None,
                size: std::str::from_utf8(size).ok()?.parse().ok()?,
            }),
            _ => None,
        }
    }
}

impl EmailChannel {
    pub fn new(
        settings: EmailSettings,
        conversations: Conversations,
    ) -> Result<EmailChannel, EmailError> {
        let smtp = &settings.smtp;
        let builder = match smtp.security {
            settings::SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&smtp.host)?,
            settings::SmtpSecurity::Starttls => {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&smtp.host)?
            }
            settings::SmtpSecurity::None => {
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host)
            }
        };
        let mut builder = builder
            .port(smtp.port)
            .timeout(Some(Duration::from_secs(60)))
            .pool_config(PoolConfig::new().max_size(smtp.connections));
        if let (Some(user), Some(password)) = (&smtp.user, &smtp.password) {
            builder = builder.credentials(Credentials::new(
                user.clone(),
                password.expose_secret().to_string(),
            ));
        }
        let own_address = settings
            .address
            .as_str()
            .parse()
            .map_err(|_| EmailError::Envelope("invalid own address".into()))?;
        let mailbox = format!(
            "{}@{}:{}/{}",
            settings.imap.user, settings.imap.host, settings.imap.port, settings.imap.mailbox
        );
        let runtime = Runtime::new(
            conversations.clone(),
            Channel::Email,
            RuntimeSettings {
                lease: settings.lease,
                batch: i64::try_from(settings.batch).unwrap_or(i64::MAX),
                lanes: settings.concurrency,
                stop_grace: STOP_GRACE,
                ..RuntimeSettings::default()
            },
        );
        Ok(EmailChannel {
            inner: Arc::new(Inner {
                sender: Sender {
                    address: settings.address.clone(),
                    name: settings.name.clone(),
                    signature: settings.signature.clone(),
                },
                own_address,
                smtp: builder.build(),
                mailbox,
                settings,
                conversations,
                runtime,
                flags_due: Notify::new(),
            }),
        })
    }

    /// Starts the channel on the shared runtime (inbox, lease, outbox for staff replies) and
    /// the mailbox session that, while this instance holds the lease, receives the mails.
    pub fn spawn(&self) {
        let runtime = &self.inner.runtime;
        runtime.start(Arc::new(self.clone()), Arc::new(self.clone()));
        runtime.spawn(self.clone().read_mailbox());
    }

    /// Stops on a clean shutdown: the mails begun are finished (for up to [`STOP_GRACE`]),
    /// no further one is begun, and the lease is given back so that another instance takes
    /// the mailbox over at once instead of waiting it out.
    pub async fn stop(&self) {
        self.inner.runtime.stop().await;
    }

    /// Reads the mailbox while this instance holds the lease, until the runtime stops.
    async fn read_mailbox(self) {
        let inner = &self.inner;
        let mut retry = BACKOFF.start();
        while inner.runtime.held().await {
            match inner.session().await {
                Ok(()) => retry.passed(),
                Err(e) => {
                    metrics::counter!("rathaus_email_errors_total").increment(1);
                    let pause = retry.failed(None);
                    tracing::warn!(error = %crate::pii::mask(&e.to_string()), retry_in_s = pause.as_secs(), "e-mail channel interrupted");
                    inner.runtime.pause(pause).await;
                }
            }
        }
    }
}

impl Inner {
    /// One IMAP session while the lease holds: receive what is new into the inbox, mark what
    /// was worked, then wait for new mail (IDLE, or polling).
    async fn session(&self) -> Result<(), EmailError> {
        let (mut session, has_idle) = imap::connect(&self.settings.imap).await?;
        let selected = session.select(&self.settings.imap.mailbox).await?;
        let uidvalidity = selected
            .uid_validity
            .ok_or(imap::ImapError::NoUidValidity)?;
        tracing::info!(
            idle = has_idle && self.settings.imap.idle,
            "e-mail channel reading the mailbox"
        );
        loop {
            if self.runtime.is_stopping() || !self.runtime.holding() {
                if self.runtime.is_stopping() {
                    tracing::info!("e-mail channel stopped");
                } else {
                    tracing::info!("mailbox lease lost to another instance");
                }
                let _ = session.logout().await;
                return Ok(());
            }
            if self.receive(&mut session, uidvalidity).await? {
                continue;
            }
            self.flag(&mut session, uidvalidity).await?;
            // Only once every mail received is worked: among them may be the copy that
            // confirms a reply sent before a crash.
            let store = self.conversations.store();
            if store.inbox_pending(Channel::Email, 1).await?.is_empty() {
                self.resend_unconfirmed().await?;
            }
            // Look at the lease, flags and unconfirmed replies again, even when nothing
            // arrives.
            let wait = (self.settings.lease / 3)
                .min(self.settings.imap.poll)
                .min(self.settings.resend_after.max(Duration::from_secs(1)));
            if has_idle && self.settings.imap.idle {
                let mut idle = session.idle();
                idle.init().await?;
                {
                    let (done, interrupt) = idle.wait_with_timeout(wait);
                    tokio::pin!(done);
                    tokio::select! {
                        r = &mut done => { r?; }
                        // Dropping the interrupt ends the IDLE at once.
                        _ = self.runtime.stopped() => {
                            drop(interrupt);
                            done.await?;
                        }
                        _ = self.flags_due.notified() => {
                            drop(interrupt);
                            done.await?;
                        }
                    }
                }
                session = idle.done().await?;
            } else {
                tokio::select! {
                    _ = self.runtime.pause(wait) => {}
                    _ = self.flags_due.notified() => {}
                }
                session.noop().await?;
            }
        }
    }

    /// Keeps the next batch of mails after the cursor in the inbox, then moves the cursor
    /// past them; true when the batch was full (more may be waiting).
    async fn receive(
        &self,
        session: &mut imap::Session,
        uidvalidity: u32,
    ) -> Result<bool, EmailError> {
        let store = self.conversations.store();
        let last = store.mail_cursor(&self.mailbox, uidvalidity).await?;
        let mut uids: Vec<u32> = session
            .uid_search(format!("UID {}:*", last.saturating_add(1)))
            .await?
            .into_iter()
            .filter(|u| *u > last)
            .collect();
        if uids.is_empty() {
            return Ok(false);
        }
        uids.sort_unstable();
        uids.truncate(self.settings.batch);
        let set = uid_set(&uids);

        let mut sizes: HashMap<u32, u32> = HashMap::new();
        {
            let fetches: Vec<_> = session
                .uid_fetch(&set, "(UID RFC822.SIZE)")
                .await?
                .try_collect()
                .await?;
            for f in fetches {
                if let (Some(uid), Some(size)) = (f.uid, f.size) {
                    sizes.insert(uid, size);
                }
            }
        }
        let (small, large): (Vec<u32>, Vec<u32>) = uids.iter().partition(|u| {
            sizes
                .get(u)
                .is_none_or(|s| u64::from(*s) <= self.settings.max_message_bytes)
        });
        let mut fetched: BTreeMap<u32, Fetched> = large
            .iter()
            .map(|&uid| {
                (
                    uid,
                    Fetched {
                        uid,
                        raw: None,
                        size: sizes.get(&uid).copied().unwrap_or(0),
                    },
                )
            })
            .collect();
        if !small.is_empty() {
            let fetches: Vec<_> = session
                .uid_fetch(uid_set(&small), "(UID BODY.PEEK[])")
                .await?
                .try_collect()
                .await?;
            for f in fetches {
                if let (Some(uid), Some(body)) = (f.uid, f.body()) {
                    fetched.insert(
                        uid,
                        Fetched {
                            uid,
                            raw: Some(body.to_vec()),
                            size: sizes.get(&uid).copied().unwrap_or(body.len() as u32),
                        },
                    );
                }
            }
        }
        // Mails of one sender are worked in order, different senders side by side.
        let received: Vec<Received> = fetched
            .values()
            .map(|f| {
                let sender = f
                    .raw
                    .as_deref()
                    .and_then(|raw| {
                        inbound::parse(raw, &self.settings.address, |id| self.sender.is_own_id(id))
                    })
                    .and_then(|m| m.from.map(|a| a.as_str().to_string()));
                Received {
                    key: self.key(uidvalidity, f.uid),
                    lane: Some(sender.unwrap_or_else(|| format!("uid:{}", f.uid))),
                    position: i64::from(f.uid),
                    payload: f.payload(),
                }
            })
            .collect();
        self.runtime.receive(&received).await?;
        let highest = *uids.last().expect("not empty");
        store
            .set_mail_cursor(&self.mailbox, uidvalidity, highest)
            .await?;
        Ok(uids.len() >= self.settings.batch)
    }

    /// A mail's idempotency key in the inbox: mailbox, UIDVALIDITY and UID.
    fn key(&self, uidvalidity: u32, uid: u32) -> String {
        format!("{}:{uidvalidity}:{uid}", self.mailbox)
    }

    /// Shows in the mailbox what was done with the mails worked: seen, or flagged for a
    /// person's look when they could not be processed.
    async fn flag(&self, session: &mut imap::Session, uidvalidity: u32) -> Result<(), EmailError> {
        let store = self.conversations.store();
        let due = store
            .inbound_to_flag(&self.mailbox, uidvalidity, 500)
            .await?;
        if due.is_empty() {
            return Ok(());
        }
        let (failed, seen): (Vec<_>, Vec<_>) = due
            .iter()
            .partition(|(_, state)| *state == InboundState::Failed);
        for (uids, flag) in [(seen, "\\Seen"), (failed, "\\Flagged")] {
            let uids: Vec<u32> = uids.into_iter().map(|(uid, _)| uid).collect();
            if !uids.is_empty() {
                session
                    .uid_store(uid_set(&uids), format!("+FLAGS ({flag})"))
                    .await?
                    .try_collect::<Vec<_>>()
                    .await?;
            }
        }
        let uids: Vec<u32> = due.iter().map(|(uid, _)| *uid).collect();
        store
            .inbound_flagged(&self.mailbox, uidvalidity, &uids, now_ms())
            .await?;
        Ok(())
    }

    /// Handles one mail; an error leaves it to be tried again.
    async fn handle(
        &self,
        uidvalidity: u32,
        f: Fetched,
        mail: Option<InboundMail>,
        turn: &Turn<'_>,
    ) -> Result<(), EmailError> {
        let store = self.conversations.store();
        let key = MailKey {
            mailbox: &self.mailbox,
            uidvalidity,
            uid: f.uid,
        };
        let message_id = mail
            .as_ref()
            .and_then(|m| m.message_id.clone())
            .unwrap_or_else(|| format!("uid.{uidvalidity}.{}@{}", f.uid, self.settings.imap.host));
        let now = now_ms();
        let record = store.begin_inbound(key, &message_id, now).await?;
        if record.state.is_final() {
            return Ok(());
        }
        let fail = |detail: String| async move {
            metrics::counter!("rathaus_email_failed_total").increment(1);
            tracing::warn!(uid = f.uid, reason = %detail, "mail not processed: flagged in the mailbox");
            store
                .set_inbound(key, InboundState::Failed, Some(&detail), None, now_ms())
                .await?;
            Ok::<_, EmailError>(())
        };
        if f.raw.is_none() {
            return fail(format!(
                "{} bytes, more than the limit of {} bytes",
                f.size, self.settings.max_message_bytes
            ))
            .await;
        }
        let Some(mail) = mail else {
            return fail("not a readable mail".into()).await;
        };
        if let Some(robot) = mail.robot {
            self.robot_mail(&mail, robot).await?;
            metrics::counter!("rathaus_email_ignored_total", "reason" => robot.as_str())
                .increment(1);
            store
                .set_inbound(
                    key,
                    InboundState::Ignored,
                    Some(robot.as_str()),
                    None,
                    now_ms(),
                )
                .await?;
            return Ok(());
        }
        if store.inbound_handled_elsewhere(key, &message_id).await? {
            store
                .set_inbound(
                    key,
                    InboundState::Ignored,
                    Some("duplicate"),
                    None,
                    now_ms(),
                )
                .await?;
            return Ok(());
        }
        let Some(from) = mail.from.clone() else {
            return fail("no sender address".into()).await;
        };

        // A mail begun before a restart keeps the conversation it was filed in.
        let begun = match record.conversation {
            Some(id) => match (store.conversation(id).await?, store.mail_thread(id).await?) {
                (Some(c), Some(t)) => Some((c, t)),
                _ => None,
            },
            None => None,
        };
        let first_time = begun.is_none();
        let (conversation, thread) = match begun {
            Some(found) => found,
            None => self.thread_for(&mail, &from, &message_id).await?,
        };
        if first_time {
            store
                .set_inbound(
                    key,
                    InboundState::Received,
                    None,
                    Some(conversation.id),
                    now_ms(),
                )
                .await?;
            if !mail.attachments.is_empty() {
                let list: Vec<String> = mail.attachments.iter().map(|a| a.describe()).collect();
                let line = format!("{ATTACHMENTS_LINE}: {}", list.join("; "));
                self.conversations
                    .record(
                        &conversation,
                        &[NewMessage::system(Channel::Email, line)],
                        conversation.state,
                    )
                    .await?;
            }
        }

        let reply_id = self.sender.reply_id(&message_id);
        if store.outbound_state(&reply_id).await?.is_some() {
            // Answered before a restart; an unconfirmed send is retried on its own.
            store
                .set_inbound(key, InboundState::Done, None, None, now_ms())
                .await?;
            return Ok(());
        }

        let hour_ago = now_ms() - 3_600_000;
        if store.bot_replies_since(from.as_str(), hour_ago).await?
            >= i64::from(self.settings.replies_per_sender_per_hour)
        {
            tracing::warn!(sender = %from.masked(), "reply limit per sender reached: mail kept, not answered");
            metrics::counter!("rathaus_email_rate_limited_total").increment(1);
            self.conversations
                .record(
                    &conversation,
                    &[
                        NewMessage::citizen(Channel::Email, citizen_text(&mail)),
                        NewMessage::system(Channel::Email, RATE_LIMITED_LINE),
                    ],
                    conversation.state,
                )
                .await?;
            store
                .set_inbound(
                    key,
                    InboundState::Done,
                    Some("rate limited"),
                    None,
                    now_ms(),
                )
                .await?;
            return Ok(());
        }

        let question = if mail.question.trim().is_empty() {
            outbound::base_subject(&mail.subject)
        } else {
            mail.question.clone()
        };
        let said = if question.trim().is_empty() {
            String::new()
        } else {
            question
        };
        let text = match turn.begin(conversation.id, &said).await? {
            // Recorded by an attempt that a crash cut short: the answer recorded then is
            // composed again, not asked again.
            Begun::Recorded {
                answer: Some(answer),
            } => {
                let lang = crate::language::detect(&answer.text);
                let dialogue = self.conversations.dialogue();
                let entries: Vec<_> = answer
                    .entries
                    .iter()
                    .filter_map(|id| dialogue.entry_ref(id, lang))
                    .collect();
                outbound::text_with_links(&answer.text, &entries)
            }
            Begun::Recorded { answer: None } => {
                store
                    .set_inbound(key, InboundState::Done, Some("with staff"), None, now_ms())
                    .await?;
                return Ok(());
            }
            Begun::Fresh if said.is_empty() => {
                self.conversations
                    .record(
                        &conversation,
                        &[
                            NewMessage::citizen(Channel::Email, ""),
                            NewMessage {
                                author: Author::Bot,
                                ..NewMessage::citizen(Channel::Email, EMPTY_MAIL_REPLY)
                            },
                        ],
                        conversation.state,
                    )
                    .await?;
                EMPTY_MAIL_REPLY.to_string()
            }
            Begun::Fresh => {
                let reply = self
                    .conversations
                    .message(&conversation, &Inbound::text(said), Channel::Email)
                    .await?;
                if reply.silent {
                    // A person has the conversation: they read the mail in the console.
                    store
                        .set_inbound(key, InboundState::Done, Some("with staff"), None, now_ms())
                        .await?;
                    return Ok(());
                }
                outbound::bot_text(&reply)
            }
        };

        let raw = outbound::render(
            &self.sender,
            &Draft {
                to: &from,
                to_name: mail.from_name.as_deref(),
                subject: &thread.subject,
                message_id: &reply_id,
                in_reply_to: &message_id,
                references: &mail.references,
                text,
                automatic: true,
            },
        )?;
        let out = OutboundMail {
            message_id: reply_id.clone(),
            conversation: Some(conversation.id),
            kind: OutboundKind::Bot,
            recipient: from.as_str().to_string(),
            raw,
        };
        // False when another instance stored this reply first (its lease ran out under it):
        // that one sends it, or the resend of unconfirmed replies does; never both.
        let stored = store.put_outbound(&out, now_ms()).await?;
        store
            .add_mail_message_id(&reply_id, conversation.id)
            .await?;
        store
            .set_inbound(key, InboundState::Done, None, None, now_ms())
            .await?;
        if !stored {
            tracing::info!("reply already stored by another attempt: not sent from here");
        } else if let Err(e) = self.send(&out.message_id, &out.recipient, &out.raw).await {
            // Stored: it goes out with the next retry.
            tracing::warn!(recipient = %from.masked(), error = %crate::pii::mask(&e.to_string()), "reply not sent yet");
        }
        Ok(())
    }

    /// The conversation a citizen's mail belongs to: the thread it answers, if the same
    /// address started it; otherwise a new one.
    async fn thread_for(
        &self,
        mail: &InboundMail,
        from: &EmailAddress,
        message_id: &str,
    ) -> Result<(Conversation, MailThread), EmailError> {
        let store = self.conversations.store();
        let mut references = mail.references.clone();
        references.retain(|r| r != message_id);
        references.push(message_id.to_string());
        let known = store.mail_thread_of(&mail.referenced()).await?;
        let existing = match known {
            Some(t) if t.address == from.as_str() => {
                store.conversation(t.conversation).await?.map(|c| (c, t))
            }
            Some(_) => {
                // Someone replying to another citizen's thread: their own conversation.
                tracing::info!(sender = %from.masked(), "mail refers to another sender's conversation: starting a new one");
                metrics::counter!("rathaus_email_foreign_thread_total").increment(1);
                None
            }
            None => None,
        };
        let thread = match existing {
            Some((conversation, mut thread)) => {
                thread.last_message_id = message_id.to_string();
                thread.references = references;
                store.put_mail_thread(&thread, now_ms()).await?;
                store
                    .add_mail_message_id(message_id, conversation.id)
                    .await?;
                return Ok((conversation, thread));
            }
            None => {
                let started = self.conversations.start(Channel::Email).await?;
                MailThread {
                    conversation: started.id,
                    address: from.as_str().to_string(),
                    subject: outbound::base_subject(&mail.subject),
                    last_message_id: message_id.to_string(),
                    references,
                }
            }
        };
        store.put_mail_thread(&thread, now_ms()).await?;
        store
            .add_mail_message_id(message_id, thread.conversation)
            .await?;
        let conversation = store
            .conversation(thread.conversation)
            .await?
            .ok_or(ConversationError::NotFound)?;
        Ok((conversation, thread))
    }

    /// What a robot's mail still tells: our own copy confirms a send; a bounce is noted in
    /// the conversation it is about.
    async fn robot_mail(&self, mail: &InboundMail, robot: Robot) -> Result<(), EmailError> {
        let store = self.conversations.store();
        match robot {
            Robot::Own => {
                if let Some(id) = &mail.message_id
                    && store.mark_outbound_sent(id, now_ms()).await?
                {
                    tracing::info!("an interrupted send was confirmed by its copy in the mailbox");
                }
            }
            Robot::Bounce => {
                let ours: Vec<String> = mail
                    .reported
                    .iter()
                    .filter(|id| self.sender.is_own_id(id))
                    .cloned()
                    .collect();
                if let Some(thread) = store.mail_thread_of(&ours).await?
                    && let Some(c) = store.conversation(thread.conversation).await?
                {
                    self.conversations
                        .record(
                            &c,
                            &[NewMessage::system(Channel::Email, BOUNCED_LINE)],
                            c.state,
                        )
                        .await?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Sends a stored reply, to the citizen and a copy to the city's address, and marks it
    /// sent.
    async fn send(&self, message_id: &str, recipient: &str, raw: &[u8]) -> Result<(), EmailError> {
        let to: lettre::Address = recipient
            .parse()
            .map_err(|_| EmailError::Envelope("invalid recipient".into()))?;
        let ours = &self.own_address;
        let envelope = Envelope::new(Some(ours.clone()), vec![to, ours.clone()])
            .map_err(|e| EmailError::Envelope(e.to_string()))?;
        self.smtp.send_raw(&envelope, raw).await?;
        metrics::counter!("rathaus_email_sent_total").increment(1);
        self.conversations
            .store()
            .mark_outbound_sent(message_id, now_ms())
            .await?;
        Ok(())
    }

    /// Sends again what was stored and never confirmed — neither marked sent nor seen as a
    /// copy in the mailbox — once `resend_after` has passed since the last attempt.
    async fn resend_unconfirmed(&self) -> Result<(), EmailError> {
        let store = self.conversations.store();
        let before = now_ms() - self.settings.resend_after.as_millis() as i64;
        for mail in store.pending_outbound(before, 100).await? {
            if mail.attempts >= SEND_ATTEMPTS {
                // A staff reply's outbox sees it failed and notes that in the transcript.
                store
                    .mark_outbound_failed(&mail.message_id, now_ms())
                    .await?;
                metrics::counter!("rathaus_email_undeliverable_total").increment(1);
                tracing::error!(
                    message_id = %mail.message_id,
                    attempts = mail.attempts,
                    "reply given up: not sent after {SEND_ATTEMPTS} attempts"
                );
                continue;
            }
            store.outbound_attempt(&mail.message_id, now_ms()).await?;
            tracing::info!(
                attempts = mail.attempts + 1,
                "sending an unconfirmed reply again"
            );
            if let Err(e) = self
                .send(&mail.message_id, &mail.recipient, &mail.raw)
                .await
            {
                tracing::warn!(error = %crate::pii::mask(&e.to_string()), "unconfirmed reply not sent yet");
            }
        }
        Ok(())
    }
}

#[async_trait]
impl Adapter for EmailChannel {
    async fn work(&self, message: &Received, turn: &Turn<'_>) -> Result<(), WorkError> {
        let inner = &self.inner;
        let mut parts = message.key.rsplitn(3, ':');
        let (Some(uid), Some(uidvalidity)) = (
            parts.next().and_then(|u| u.parse::<u32>().ok()),
            parts.next().and_then(|v| v.parse::<u32>().ok()),
        ) else {
            tracing::warn!("inbox key of a mail unreadable: dropped");
            return Ok(());
        };
        let Some(fetched) = Fetched::from_payload(uid, &message.payload) else {
            tracing::warn!(uid, "kept mail unreadable: dropped");
            return Ok(());
        };
        let mail = fetched.raw.as_deref().and_then(|raw| {
            inbound::parse(raw, &inner.settings.address, |id| {
                inner.sender.is_own_id(id)
            })
        });
        inner
            .handle(uidvalidity, fetched, mail, turn)
            .await
            .map_err(|e| WorkError::Channel(crate::pii::mask(&e.to_string()).into_owned()))?;
        inner.flags_due.notify_one();
        Ok(())
    }
}

/// The citizen's mail as the transcript keeps it when the core does not read it.
fn citizen_text(mail: &InboundMail) -> String {
    if mail.question.trim().is_empty() {
        mail.subject.clone()
    } else {
        mail.question.clone()
    }
}

/// An IMAP UID set: "3:5,9".
fn uid_set(uids: &[u32]) -> String {
    let mut sorted = uids.to_vec();
    sorted.sort_unstable();
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let start = sorted[i];
        let mut end = start;
        while i + 1 < sorted.len() && sorted[i + 1] == end + 1 {
            i += 1;
            end = sorted[i];
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}:{end}")
        });
        i += 1;
    }
    parts.join(",")
}

/// Staff replies from the console, through the outbox: threaded to the citizen's latest
/// mail, from the city's address, one Message-ID per transcript message so a second attempt
/// after a crash finds the first.
#[async_trait]
impl outbox::Sender for EmailChannel {
    fn channel(&self) -> Channel {
        Channel::Email
    }

    async fn send(
        &self,
        conversation: &Conversation,
        delivery: &outbox::Delivery,
    ) -> Result<(), SendError> {
        let message = &delivery.message;
        let inner = &self.inner;
        let store = inner.conversations.store();
        let retry = |e: String| SendError::Retry {
            error: e,
            after: None,
        };
        let Some(thread) = store
            .mail_thread(conversation.id)
            .await
            .map_err(|e| retry(e.to_string()))?
        else {
            return Err(SendError::Permanent(
                "the conversation has no e-mail thread".into(),
            ));
        };
        let id = inner.sender.staff_reply_id(conversation.id, message.seq);
        // Stored by an earlier attempt: the mailbox worker confirms or resends it, and the
        // outbox keeps asking until it is sent or given up.
        let unconfirmed = || retry("stored, not confirmed sent yet".into());
        match store
            .outbound_state(&id)
            .await
            .map_err(|e| retry(e.to_string()))?
        {
            None => {}
            Some(OutboundState::Sent) => return Ok(()),
            Some(OutboundState::Failed) => {
                return Err(SendError::Permanent(format!(
                    "the mail was refused or not sent after {SEND_ATTEMPTS} attempts"
                )));
            }
            Some(OutboundState::Pending) => return Err(unconfirmed()),
        }
        let to = EmailAddress::try_from(thread.address.as_str()).map_err(SendError::Permanent)?;
        let mut text = message.text.trim().to_string();
        if let Some(name) = &message.author_name {
            text.push_str(&format!("\n\n{name}"));
        }
        let raw = outbound::render(
            &inner.sender,
            &Draft {
                to: &to,
                to_name: None,
                subject: &thread.subject,
                message_id: &id,
                in_reply_to: &thread.last_message_id,
                references: &thread.references,
                text,
                automatic: false,
            },
        )
        .map_err(|e| SendError::Permanent(e.to_string()))?;
        let out = OutboundMail {
            message_id: id.clone(),
            conversation: Some(conversation.id),
            kind: OutboundKind::Staff,
            recipient: to.as_str().to_string(),
            raw,
        };
        let stored = store
            .put_outbound(&out, now_ms())
            .await
            .map_err(|e| retry(e.to_string()))?;
        if !stored {
            return Err(unconfirmed());
        }
        store
            .add_mail_message_id(&id, conversation.id)
            .await
            .map_err(|e| retry(e.to_string()))?;
        match inner.send(&id, &out.recipient, &out.raw).await {
            Ok(()) => Ok(()),
            Err(EmailError::Smtp(e)) if e.is_permanent() => {
                store
                    .mark_outbound_failed(&id, now_ms())
                    .await
                    .map_err(|e| retry(e.to_string()))?;
                Err(SendError::Permanent(e.to_string()))
            }
            // Stored and unconfirmed: the mailbox worker sends it again if its copy never
            // arrives, and the outbox's next try finds it sent.
            Err(e) => Err(retry(crate::pii::mask(&e.to_string()).into_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::uid_set;

    #[test]
    fn uid_sets_join_runs() {
        assert_eq!(uid_set(&[9, 3, 4, 5, 11]), "3:5,9,11");
        assert_eq!(uid_set(&[7]), "7");
    }
}
