//! The e-mail channel against real Dovecot and OpenSMTPD on loopback: the corpus of real-world
//! mails, a conversation threaded over three mails and handed to staff whose reply arrives
//! threaded, a hijack attempt, kill -9 in the middle of a batch with every mail answered
//! exactly once, a clean stop that hands the mailbox over at once, and a mail left to the
//! instance that claimed it. Replies are counted in the receiving mailboxes.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use rathaus::store::{
    Author, ConversationId, InboundState, MailKey, MailThread, OutboundKind, OutboundMail,
    OutboundState, Store,
};

use crate::helpers::spawn_app_with_channels;
use crate::mail_servers::{CITY, MailServers, QUESTIONS, citizen_mail, header};

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        crate::helpers::repo()
            .join("tests/fixtures/mail")
            .join(name),
    )
    .expect("fixture")
}

/// The fixture with a 10 MB attachment, built here rather than kept in the repository.
fn large_mail() -> Vec<u8> {
    use base64::Engine;
    let mut raw = fixture("large-attachment.eml.head");
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let bytes: Vec<u8> = (0..10_000_000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
    for line in b64.as_bytes().chunks(76) {
        raw.extend_from_slice(line);
        raw.extend_from_slice(b"\r\n");
    }
    raw.extend_from_slice(b"--large-boundary--\r\n");
    raw
}

/// The conversation a mail (by its Message-ID) was filed in.
async fn conversation_of(store: &dyn Store, message_id: &str) -> Option<ConversationId> {
    store
        .mail_thread_of(&[message_id.to_string()])
        .await
        .unwrap()
        .map(|t| t.conversation)
}

/// The citizen's and the system's lines of a conversation.
async fn lines(store: &dyn Store, id: ConversationId, author: Author) -> Vec<String> {
    store
        .transcript(id)
        .await
        .unwrap()
        .into_iter()
        .filter(|m| m.author == author)
        .map(|m| m.text)
        .collect()
}

fn parsed(raw: &[u8]) -> mail_parser::Message<'_> {
    mail_parser::MessageParser::default()
        .parse(raw)
        .expect("a mail")
}

fn text_of(raw: &[u8]) -> String {
    parsed(raw)
        .body_text(0)
        .map(|t| t.into_owned())
        .unwrap_or_default()
}

fn id_of(raw: &[u8]) -> String {
    parsed(raw).message_id().expect("a Message-ID").to_string()
}

async fn wait_until<F, Fut>(what: &str, timeout: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !check().await {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// (fixture, sender, what the citizen asked as the core must read it, a reply expected)
const CORPUS: &[(&str, &str, Option<&str>, bool)] = &[
    (
        "plain.eml",
        "anna.schmidt@example.org",
        Some("was kostet ein neuer Personalausweis?"),
        true,
    ),
    (
        "multipart-alternative.eml",
        "bernd.krause@example.net",
        Some("ich habe meinen Führerschein verloren. Was muss ich tun?"),
        true,
    ),
    (
        "html-only.eml",
        "carla.j@example.com",
        Some("wie melde ich meinen Hund an?"),
        true,
    ),
    (
        "iso-8859-1.eml",
        "juergen.mueller@example.de",
        Some("Was kostet eine Geburtsurkunde für meine Tochter?"),
        true,
    ),
    (
        "windows-1252-base64.eml",
        "soeren.weiss@example.org",
        Some("ich möchte mein Gewerbe anmelden – welche Unterlagen brauche ich?"),
        true,
    ),
    (
        "attachments.eml",
        "dilek.yilmaz@example.org",
        Some(
            "ich bin innerhalb von Musterstadt umgezogen. Wie melde ich meinen Wohnsitz um?\nDen Mietvertrag habe ich angehängt.\n\nDilek Yilmaz",
        ),
        true,
    ),
    (
        "outlook-reply.eml",
        "elke.hoffmann@example.com",
        Some("Wo kann ich ein Führungszeugnis beantragen?"),
        true,
    ),
    (
        "thunderbird-reply.eml",
        "frank@lehmann.example",
        Some("Wie beantrage ich die Briefwahl?"),
        true,
    ),
    (
        "apple-mail-reply.eml",
        "greta.wagner@icloud.example",
        Some("Wie bekomme ich einen Kitaplatz für meinen Sohn?"),
        true,
    ),
    (
        "gmail-reply-html.eml",
        "hakan.demir@gmail.example",
        Some("Was kostet ein Bewohnerparkausweis?"),
        true,
    ),
    ("empty-body.eml", "jonas.klein@example.net", Some(""), true),
    (
        "large-attachment",
        "katrin.vogel@example.org",
        Some(
            "Ich möchte einen Baum auf meinem Grundstück fällen. Brauche ich dafür eine Genehmigung?\nFotos des Baums anbei.",
        ),
        true,
    ),
    ("bounce.eml", "mailer-daemon@mx.example.org", None, false),
    ("out-of-office.eml", "ines.becker@example.com", None, false),
    (
        "mailing-list.eml",
        "newsletter@lists.example.org",
        None,
        false,
    ),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_mail_of_the_corpus_is_handled_as_described() {
    let servers = MailServers::start().await;
    let mut raws = Vec::new();
    for (name, ..) in CORPUS {
        raws.push(if *name == "large-attachment" {
            large_mail()
        } else {
            fixture(name)
        });
    }
    let ids: Vec<String> = raws.iter().map(|r| id_of(r)).collect();
    servers.append_all(CITY, &raws).await;
    let app = spawn_app_with_channels(servers.channels_dir("")).await;
    let store = app.conversations.store();

    let answered = CORPUS.iter().filter(|c| c.3).count();
    // Each reply's copy comes back to the city's mailbox: all replies are out when they are in.
    wait_until("every reply", Duration::from_secs(60), || async {
        servers.count(CITY).await as usize >= CORPUS.len() + answered
    })
    .await;
    // Nothing else follows.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(servers.count(CITY).await as usize, CORPUS.len() + answered);

    for ((name, sender, question, reply), id) in CORPUS.iter().zip(&ids) {
        let mails = servers.mails(sender).await;
        if !reply {
            assert!(
                mails.is_empty(),
                "{name}: a robot's or list's mail got an answer"
            );
            assert_eq!(conversation_of(store.as_ref(), id).await, None, "{name}");
            continue;
        }
        assert_eq!(mails.len(), 1, "{name}: exactly one reply");
        let r = &mails[0];
        assert_eq!(
            header(r, "In-Reply-To").as_deref(),
            Some(format!("<{id}>").as_str()),
            "{name}"
        );
        assert!(
            header(r, "References")
                .unwrap()
                .ends_with(&format!("<{id}>")),
            "{name}"
        );
        assert_eq!(
            header(r, "Auto-Submitted").as_deref(),
            Some("auto-replied"),
            "{name}"
        );
        let subject = parsed(r).subject().unwrap().to_string();
        assert!(
            subject.starts_with("Re: ")
                && !subject[4..].to_lowercase().starts_with("re:")
                && !subject.contains("AW:"),
            "{name}: {subject}"
        );
        let p = parsed(r);
        assert!(
            p.from().unwrap().first().unwrap().address().unwrap() == CITY,
            "{name}"
        );
        assert_eq!(
            p.text_body_count() + p.html_body_count(),
            2,
            "{name}: plain text and HTML"
        );

        let conversation = conversation_of(store.as_ref(), id).await.expect("filed");
        let said = lines(store.as_ref(), conversation, Author::Citizen).await;
        assert_eq!(
            said,
            vec![question.unwrap().to_string()],
            "{name}: what the core read"
        );
    }

    // Specific expectations of single mails.
    let reply = |sender: &'static str| {
        let servers = &servers;
        async move { text_of(&servers.mails(sender).await[0]) }
    };
    let plain = reply("anna.schmidt@example.org").await;
    assert!(plain.contains("37,00 Euro"), "{plain}");
    assert!(
        plain.contains("https://www.musterstadt.example/service/personalausweis"),
        "the source link: {plain}"
    );
    assert!(plain.contains("Rathausplatz 1"), "the signature: {plain}");
    assert!(
        reply("jonas.klein@example.net").await.contains("leer"),
        "the empty mail is answered with a request to write again"
    );
    let outlook = parsed(&servers.mails("elke.hoffmann@example.com").await[0])
        .subject()
        .unwrap()
        .to_string();
    assert_eq!(outlook, "Re: Ihre Anfrage", "AW: is replaced, not stacked");

    let attachments = conversation_of(store.as_ref(), &ids[5]).await.unwrap();
    let system = lines(store.as_ref(), attachments, Author::System)
        .await
        .join("\n");
    assert!(
        system.contains("Mietvertrag Königstraße.pdf (application/pdf, 1 KB)"),
        "{system}"
    );
    assert!(system.contains("logo.png (image/png"), "{system}");
    let large = conversation_of(store.as_ref(), &ids[11]).await.unwrap();
    let system = lines(store.as_ref(), large, Author::System)
        .await
        .join("\n");
    assert!(
        system.contains("baum.jpg (image/jpeg, 10.0 MB)"),
        "{system}"
    );

    // The mailbox shows what was done: answered mails seen, nothing flagged.
    let mut session = servers.imap(CITY).await;
    let unseen = session.uid_search("UNSEEN").await.unwrap();
    let flagged = session.uid_search("FLAGGED").await.unwrap();
    assert!(unseen.is_empty(), "every mail was handled: {unseen:?}");
    assert!(flagged.is_empty(), "none failed: {flagged:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mail_over_the_size_limit_is_flagged_and_kept() {
    let servers = MailServers::start().await;
    servers
        .append_all(CITY, &[large_mail(), fixture("plain.eml")])
        .await;
    let _app = spawn_app_with_channels(servers.channels_dir("max_message_mb = 5")).await;
    let answered = servers
        .wait_for_mails("anna.schmidt@example.org", 1, Duration::from_secs(30))
        .await;
    assert_eq!(answered.len(), 1, "the mail after it is answered");
    wait_until(
        "the large mail flagged",
        Duration::from_secs(10),
        || async {
            let mut session = servers.imap(CITY).await;
            let flagged = session.uid_search("FLAGGED").await.unwrap();
            let _ = session.logout().await;
            !flagged.is_empty()
        },
    )
    .await;
    let mut session = servers.imap(CITY).await;
    // Kept in the mailbox, unread, for a person to look at; not answered.
    assert_eq!(session.uid_search("FLAGGED UNSEEN").await.unwrap().len(), 1);
    assert!(servers.mails("katrin.vogel@example.org").await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_mails_in_one_thread_then_a_person_answers_in_it() {
    let servers = MailServers::start().await;
    let app = spawn_app_with_channels(servers.channels_dir("")).await;
    let store = app.conversations.store();
    let citizen = "lena.fischer@example.org";

    let c1 = "first-7a1@example.org";
    servers
        .send(
            citizen,
            CITY,
            &citizen_mail(
                citizen,
                c1,
                "Personalausweis",
                "Guten Tag,\n\nwas kostet ein neuer Personalausweis?\n\nViele Grüße\nLena Fischer",
                None,
            ),
        )
        .await;
    let mails = servers
        .wait_for_mails(citizen, 1, Duration::from_secs(20))
        .await;
    assert_eq!(mails.len(), 1);
    let r1 = id_of(&mails[0]);
    assert!(text_of(&mails[0]).contains("37,00 Euro"));

    let c2 = "second-7a2@example.org";
    let quoted = format!(
        "Und was muss ich mitbringen?\n\nAm 30.11.2026 um 10:01 schrieb Bürgerservice Musterstadt <{CITY}>:\n> Gebühren für „Personalausweis beantragen“:\n> - ab 24 Jahren: 37,00 Euro"
    );
    servers
        .send(
            citizen,
            CITY,
            &citizen_mail(
                citizen,
                c2,
                "Re: Personalausweis",
                &quoted,
                Some((&r1, &[c1.to_string(), r1.clone()])),
            ),
        )
        .await;
    let mails = servers
        .wait_for_mails(citizen, 2, Duration::from_secs(20))
        .await;
    assert_eq!(mails.len(), 2);
    let r2 = id_of(&mails[1]);
    assert_eq!(header(&mails[1], "In-Reply-To").unwrap(), format!("<{c2}>"));
    assert_eq!(
        header(&mails[1], "References").unwrap(),
        format!("<{c1}> <{r1}> <{c2}>")
    );
    assert_eq!(parsed(&mails[1]).subject(), Some("Re: Personalausweis"));

    let c3 = "third-7a3@example.org";
    servers
        .send(
            citizen,
            CITY,
            &citizen_mail(
                citizen,
                c3,
                "Re: Personalausweis",
                "Ich möchte mit einem Menschen sprechen.",
                Some((
                    &r2,
                    &[c1.to_string(), r1.clone(), c2.to_string(), r2.clone()],
                )),
            ),
        )
        .await;
    let mails = servers
        .wait_for_mails(citizen, 3, Duration::from_secs(20))
        .await;
    assert_eq!(mails.len(), 3);
    assert!(
        text_of(&mails[2]).contains("verbinde Sie"),
        "the handoff is acknowledged: {}",
        text_of(&mails[2])
    );

    // One conversation, waiting for a person, with the whole thread.
    let id = conversation_of(store.as_ref(), c1).await.unwrap();
    assert_eq!(conversation_of(store.as_ref(), c2).await, Some(id));
    assert_eq!(conversation_of(store.as_ref(), c3).await, Some(id));
    let conversation = store.conversation(id).await.unwrap().unwrap();
    assert_eq!(conversation.state.as_str(), "waiting");
    assert_eq!(
        lines(store.as_ref(), id, Author::Citizen).await,
        vec![
            "was kostet ein neuer Personalausweis?",
            "Und was muss ich mitbringen?",
            "Ich möchte mit einem Menschen sprechen."
        ]
    );
    assert_eq!(lines(store.as_ref(), id, Author::Bot).await.len(), 3);

    // A person takes it in the console and answers.
    let password = app
        .add_staff(
            "anna.weber@musterstadt.example",
            "Anna Weber",
            rathaus::store::StaffRole::Agent,
        )
        .await;
    let anna = app
        .staff_login("anna.weber@musterstadt.example", &password)
        .await;
    assert_eq!(anna.act(&id.to_string(), "claim", &[]).await, 303);
    let answer = "Guten Tag Frau Fischer, bitte bringen Sie Ihren alten Ausweis und ein biometrisches Foto mit.";
    assert_eq!(
        anna.act(&id.to_string(), "reply", &[("text", answer)])
            .await,
        303
    );
    let mails = servers
        .wait_for_mails(citizen, 4, Duration::from_secs(20))
        .await;
    assert_eq!(mails.len(), 4, "the agent's reply arrives");
    let staff = &mails[3];
    assert_eq!(header(staff, "In-Reply-To").unwrap(), format!("<{c3}>"));
    let references = header(staff, "References").unwrap();
    assert!(
        references.starts_with(&format!("<{c1}>")) && references.ends_with(&format!("<{c3}>")),
        "{references}"
    );
    assert_eq!(
        header(staff, "Auto-Submitted"),
        None,
        "a person's reply is not automatic"
    );
    assert_eq!(parsed(staff).subject(), Some("Re: Personalausweis"));
    assert_eq!(
        parsed(staff).from().unwrap().first().unwrap().address(),
        Some(CITY)
    );
    let text = text_of(staff);
    assert!(
        text.contains(answer) && text.contains("Anna Weber"),
        "{text}"
    );

    // Delivered once: nothing more arrives.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(servers.mails(citizen).await.len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_sender_replying_to_a_thread_gets_a_conversation_of_their_own() {
    let servers = MailServers::start().await;
    let app = spawn_app_with_channels(servers.channels_dir("")).await;
    let store = app.conversations.store();
    let anna = "anna@example.org";
    let mallory = "mallory@example.net";

    servers
        .send(
            anna,
            CITY,
            &citizen_mail(
                anna,
                "anna-1@example.org",
                "Hund",
                "Wie melde ich meinen Hund an?",
                None,
            ),
        )
        .await;
    let mails = servers
        .wait_for_mails(anna, 1, Duration::from_secs(20))
        .await;
    let ours = id_of(&mails[0]);

    // Mallory knows the reply's Message-ID and answers "in" Anna's thread.
    servers
        .send(
            mallory,
            CITY,
            &citizen_mail(
                mallory,
                "mallory-1@example.net",
                "Re: Hund",
                "Was kostet ein Reisepass?",
                Some((&ours, &["anna-1@example.org".to_string(), ours.clone()])),
            ),
        )
        .await;
    let answer = servers
        .wait_for_mails(mallory, 1, Duration::from_secs(20))
        .await;
    assert_eq!(answer.len(), 1, "Mallory gets an answer of her own");

    let annas = conversation_of(store.as_ref(), "anna-1@example.org")
        .await
        .unwrap();
    let mallorys = conversation_of(store.as_ref(), "mallory-1@example.net")
        .await
        .unwrap();
    assert_ne!(annas, mallorys, "a new conversation");
    assert_eq!(
        lines(store.as_ref(), annas, Author::Citizen).await,
        vec!["Wie melde ich meinen Hund an?"]
    );
    assert_eq!(
        store.mail_thread(mallorys).await.unwrap().unwrap().address,
        mallory
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(servers.mails(anna).await.len(), 1, "nothing went to Anna");
}

/// The channel's part of the store suite, run against SQLite and PostgreSQL.
pub async fn store_suite(store: &dyn Store) {
    let mailbox = format!("box-{}", uuid::Uuid::new_v4());
    // The cursor only moves forward.
    assert_eq!(store.mail_cursor(&mailbox, 7).await.unwrap(), 0);
    store.set_mail_cursor(&mailbox, 7, 10).await.unwrap();
    store.set_mail_cursor(&mailbox, 7, 4).await.unwrap();
    assert_eq!(store.mail_cursor(&mailbox, 7).await.unwrap(), 10);
    assert_eq!(store.mail_cursor(&mailbox, 8).await.unwrap(), 0);

    // A mail is recorded once; the same Message-ID under another UID is recognised.
    let key = MailKey {
        mailbox: &mailbox,
        uidvalidity: 7,
        uid: 11,
    };
    let first = store.begin_inbound(key, "m1@example.org", 1).await.unwrap();
    assert_eq!(first.state, InboundState::Received);
    store
        .set_inbound(key, InboundState::Done, None, None, 2)
        .await
        .unwrap();
    let again = store.begin_inbound(key, "m1@example.org", 3).await.unwrap();
    assert_eq!(again.state, InboundState::Done);
    let other = MailKey { uid: 12, ..key };
    assert!(
        store
            .inbound_handled_elsewhere(other, "m1@example.org")
            .await
            .unwrap()
    );
    assert!(
        !store
            .inbound_handled_elsewhere(key, "m1@example.org")
            .await
            .unwrap()
    );

    // What the mailbox must show: the mails that ended and are not flagged yet, once.
    let failed = MailKey { uid: 13, ..key };
    store
        .begin_inbound(other, "m2@example.org", 4)
        .await
        .unwrap();
    store
        .begin_inbound(failed, "m3@example.org", 4)
        .await
        .unwrap();
    store
        .set_inbound(failed, InboundState::Failed, Some("too large"), None, 5)
        .await
        .unwrap();
    assert_eq!(
        store.inbound_to_flag(&mailbox, 7, 10).await.unwrap(),
        [(11, InboundState::Done), (13, InboundState::Failed)],
        "not the one still being worked"
    );
    store
        .inbound_flagged(&mailbox, 7, &[11, 13], 6)
        .await
        .unwrap();
    assert!(
        store
            .inbound_to_flag(&mailbox, 7, 10)
            .await
            .unwrap()
            .is_empty()
    );

    // Threads are found by any of their Message-IDs.
    let c = rathaus::store::Conversation {
        id: ConversationId::new(),
        channel: rathaus::store::Channel::Email,
        token_digest: "x".into(),
        state: rathaus::store::ConversationState::Bot,
        context: Default::default(),
        handoff: None,
        assignee: None,
        created_at: 1,
        updated_at: 1,
    };
    store.create_conversation(&c).await.unwrap();
    let thread = MailThread {
        conversation: c.id,
        address: "lena@example.org".into(),
        subject: "Ausweis".into(),
        last_message_id: "m1@example.org".into(),
        references: vec!["m1@example.org".into()],
    };
    store.put_mail_thread(&thread, 5).await.unwrap();
    store
        .add_mail_message_id("m1@example.org", c.id)
        .await
        .unwrap();
    store
        .add_mail_message_id("r1@stadt.example", c.id)
        .await
        .unwrap();
    let found = store
        .mail_thread_of(&["unknown@x".into(), "r1@stadt.example".into()])
        .await
        .unwrap();
    assert_eq!(found, Some(thread.clone()));

    // Replies: stored once, pending until marked, counted per recipient.
    let mail = OutboundMail {
        message_id: format!("rathaus.{}@stadt.example", uuid::Uuid::new_v4().simple()),
        conversation: Some(c.id),
        kind: OutboundKind::Bot,
        recipient: "lena@example.org".into(),
        raw: b"Subject: x\r\n\r\nbody\xff".to_vec(),
    };
    assert!(store.put_outbound(&mail, 100).await.unwrap());
    assert!(!store.put_outbound(&mail, 101).await.unwrap());
    let pending = store.pending_outbound(200, 10).await.unwrap();
    assert!(
        pending
            .iter()
            .any(|p| p.message_id == mail.message_id && p.raw == mail.raw)
    );
    assert!(
        store
            .pending_outbound(100, 10)
            .await
            .unwrap()
            .iter()
            .all(|p| p.message_id != mail.message_id)
    );
    assert_eq!(
        store
            .bot_replies_since("lena@example.org", 50)
            .await
            .unwrap(),
        1
    );
    assert!(
        store
            .mark_outbound_sent(&mail.message_id, 150)
            .await
            .unwrap()
    );
    assert!(
        !store
            .mark_outbound_sent(&mail.message_id, 151)
            .await
            .unwrap()
    );
    assert_eq!(
        store.outbound_state(&mail.message_id).await.unwrap(),
        Some(OutboundState::Sent)
    );

    // A reply given up is no longer offered for sending again, and says so.
    let given_up = OutboundMail {
        message_id: format!("rathaus.{}@stadt.example", uuid::Uuid::new_v4().simple()),
        ..mail.clone()
    };
    assert!(store.put_outbound(&given_up, 100).await.unwrap());
    store
        .mark_outbound_failed(&given_up.message_id, 300)
        .await
        .unwrap();
    assert!(
        store
            .pending_outbound(1_000, 10)
            .await
            .unwrap()
            .iter()
            .all(|p| p.message_id != given_up.message_id)
    );
    assert_eq!(
        store.outbound_state(&given_up.message_id).await.unwrap(),
        Some(OutboundState::Failed)
    );

    // Deleting the conversation takes its mail data with it.
    store.delete_conversation(c.id).await.unwrap();
    assert_eq!(store.mail_thread(c.id).await.unwrap(), None);
    assert_eq!(store.outbound_state(&mail.message_id).await.unwrap(), None);
}

fn serve(database: &str, channels: &std::path::Path) -> std::process::Child {
    crate::helpers::serve_process(database, channels, &[])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_with_sigkill_mid_batch_every_mail_is_answered_exactly_once() {
    let servers = MailServers::start().await;
    let citizens: Vec<String> = (0..20).map(|i| format!("buerger{i}@example.org")).collect();
    let mut mails = Vec::new();
    let mut expected: HashMap<String, HashSet<String>> = HashMap::new();
    for round in 0..3 {
        for (i, citizen) in citizens.iter().enumerate() {
            let id = format!("crash-{round}-{i}@example.org");
            let q = QUESTIONS[(i + round) % QUESTIONS.len()];
            mails.push(citizen_mail(citizen, &id, "Frage", q, None));
            expected
                .entry(citizen.clone())
                .or_default()
                .insert(format!("<{id}>"));
        }
    }
    servers.append_all(CITY, &mails).await;
    let total = mails.len();
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("rathaus.db").display());
    let channels = servers.channels_dir(
        "lease_seconds = 2\nresend_after_seconds = 3\nbatch = 10\nconcurrency = 4\nreplies_per_sender_per_hour = 1000",
    );

    // Killed twice while replies go out: the copies in the city's mailbox show progress.
    for stop_at in [total / 4, total / 2] {
        let mut rathaus = serve(&database, &channels);
        wait_until("replies going out", Duration::from_secs(60), || async {
            servers.count(CITY).await as usize >= total + stop_at
        })
        .await;
        rathaus.kill().expect("SIGKILL");
        rathaus.wait().unwrap();
    }
    let copies_before_restart = servers.count(CITY).await as usize - total;
    assert!(
        copies_before_restart < total,
        "the kills came mid-batch ({copies_before_restart} of {total} sent)"
    );

    let mut rathaus = serve(&database, &channels);
    wait_until("every mail answered", Duration::from_secs(90), || {
        let (servers, citizens) = (&servers, &citizens);
        async move {
            let mut n = 0;
            for c in citizens {
                n += servers.count(c).await as usize;
            }
            n >= total
        }
    })
    .await;
    // Long enough for any unconfirmed reply to be sent again, if it were.
    tokio::time::sleep(Duration::from_secs(5)).await;
    rathaus.kill().unwrap();
    rathaus.wait().unwrap();

    for citizen in &citizens {
        let replies = servers.mails(citizen).await;
        let answered: Vec<String> = replies
            .iter()
            .filter_map(|r| header(r, "In-Reply-To"))
            .collect();
        let distinct: HashSet<String> = answered.iter().cloned().collect();
        assert_eq!(
            answered.len(),
            3,
            "{citizen}: one reply per mail, no more: {answered:?}"
        );
        assert_eq!(
            distinct, expected[citizen],
            "{citizen}: every mail answered"
        );
    }
}

/// The mailbox is worked by the instance that holds the channel's lease: while another one
/// holds it, a new mail is neither filed nor answered here; once the lease is free, it is
/// answered once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_another_instance_holds_the_mailbox_its_mail_is_left_to_it() {
    let servers = MailServers::start().await;
    // The channel's lease, held by another instance before this one starts.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("rathaus.db");
    let store = rathaus::store::open(&format!("sqlite://{}", db.display()).parse().unwrap())
        .await
        .unwrap();
    let now = rathaus::conversations::now_ms();
    assert!(
        store
            .take_lease("email", "other instance", now, now + 3_600_000)
            .await
            .unwrap()
    );
    let channels = servers.channels_dir("");
    let app = crate::helpers::spawn_configured(|s| {
        s.database = format!("sqlite://{}", db.display()).parse().unwrap();
        s.channels = Some(channels);
    })
    .await;
    servers
        .append_all(
            CITY,
            &[citizen_mail(
                "anna@example.org",
                "held@example.org",
                "Frage",
                QUESTIONS[0],
                None,
            )],
        )
        .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        servers.mails("anna@example.org").await.is_empty(),
        "the mail waits for the holder"
    );
    assert_eq!(
        conversation_of(store.as_ref(), "held@example.org").await,
        None
    );

    store
        .release_lease("email", "other instance")
        .await
        .unwrap();
    let answered = servers
        .wait_for_mails("anna@example.org", 1, Duration::from_secs(90))
        .await;
    assert_eq!(answered.len(), 1, "answered once the lease is free");
    let id = conversation_of(app.conversations.store().as_ref(), "held@example.org")
        .await
        .expect("filed");
    assert_eq!(
        lines(app.conversations.store().as_ref(), id, Author::Citizen)
            .await
            .len(),
        1
    );
}

/// SIGTERM: Rathaus stops reading the mailbox, gives its lease back and exits, so another
/// instance answers the next mail at once instead of waiting out a ten-minute lease.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_stop_hands_the_mailbox_over_at_once() {
    let servers = MailServers::start().await;
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("rathaus.db").display());
    let channels = servers.channels_dir("lease_seconds = 600");
    let ask = |citizen: &str, id: &str| citizen_mail(citizen, id, "Frage", QUESTIONS[0], None);

    let mut first = serve(&database, &channels);
    servers
        .append_all(CITY, &[ask("anna@example.org", "stop-1@example.org")])
        .await;
    let answered = servers
        .wait_for_mails("anna@example.org", 1, Duration::from_secs(60))
        .await;
    assert_eq!(answered.len(), 1, "the first instance works the mailbox");

    let term = std::process::Command::new("kill")
        .args(["-TERM", &first.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let exited = tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(30) {
            if let Some(status) = first.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = first.kill();
        let _ = first.wait();
        None
    })
    .await
    .unwrap();
    assert!(
        exited.is_some_and(|s| s.success()),
        "SIGTERM ends Rathaus cleanly: {exited:?}"
    );

    let mut second = serve(&database, &channels);
    servers
        .append_all(CITY, &[ask("bernd@example.org", "stop-2@example.org")])
        .await;
    let answered = servers
        .wait_for_mails("bernd@example.org", 1, Duration::from_secs(60))
        .await;
    second.kill().unwrap();
    second.wait().unwrap();
    assert_eq!(
        answered.len(),
        1,
        "the second instance took the mailbox over without waiting for the lease to run out"
    );
    assert_eq!(
        servers.mails("anna@example.org").await.len(),
        1,
        "answered once"
    );
}

/// The two states a crash can leave a reply in, set up by hand: sent but not marked (its copy
/// is in the city's mailbox), and stored but never sent. The first must not go out again; the
/// second must, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_cut_off_by_a_crash_is_confirmed_by_its_copy_or_sent_once() {
    use rathaus::channels::email::EmailAddress;
    use rathaus::channels::email::outbound::{Draft, Sender, render};

    let servers = MailServers::start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rathaus.db");
    let store = rathaus::store::open(&format!("sqlite://{}", path.display()).parse().unwrap())
        .await
        .unwrap();
    let sender = Sender {
        address: EmailAddress::try_from(CITY).unwrap(),
        name: "Bürgerservice Musterstadt".into(),
        signature: String::new(),
    };
    let mut outbound = Vec::new();
    for citizen in ["sent@example.org", "unsent@example.org"] {
        let to = EmailAddress::try_from(citizen).unwrap();
        let id = sender.reply_id(&format!("question@{citizen}"));
        let raw = render(
            &sender,
            &Draft {
                to: &to,
                to_name: None,
                subject: "Frage",
                message_id: &id,
                in_reply_to: &format!("question@{citizen}"),
                references: &[],
                text: "Die Antwort.".into(),
                automatic: true,
            },
        )
        .unwrap();
        let mail = OutboundMail {
            message_id: id,
            conversation: None,
            kind: OutboundKind::Bot,
            recipient: citizen.into(),
            raw,
        };
        assert!(
            store
                .put_outbound(&mail, rathaus::conversations::now_ms())
                .await
                .unwrap()
        );
        outbound.push(mail);
    }
    // The first was handed to SMTP (citizen and the city's copy) before the crash.
    let sent = &outbound[0];
    servers.send(CITY, &sent.recipient, &sent.raw).await;
    servers.send(CITY, CITY, &sent.raw).await;
    drop(store);

    let settings = rathaus::app::Settings {
        channels: Some(servers.channels_dir("resend_after_seconds = 2")),
        ..crate::helpers::test_settings(&path)
    };
    let app = rathaus::app::Application::build(settings).await.unwrap();
    tokio::spawn(app.run_until_stopped());

    let unsent = servers
        .wait_for_mails("unsent@example.org", 1, Duration::from_secs(20))
        .await;
    assert_eq!(unsent.len(), 1, "the reply that never left is sent");
    // Well past the resend pause: the confirmed one is not sent again.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(
        servers.mails("sent@example.org").await.len(),
        1,
        "sent once"
    );
    assert_eq!(
        servers.mails("unsent@example.org").await.len(),
        1,
        "sent once"
    );
    let store = rathaus::store::open(&format!("sqlite://{}", path.display()).parse().unwrap())
        .await
        .unwrap();
    for mail in &outbound {
        assert_eq!(
            store.outbound_state(&mail.message_id).await.unwrap(),
            Some(OutboundState::Sent)
        );
    }
}
