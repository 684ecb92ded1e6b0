//! The store suite, written once and run against SQLite and PostgreSQL. PostgreSQL comes
//! from RATHAUS_TEST_POSTGRES (default: the machine's loopback server, database `test`);
//! each test gets a database of its own.

use std::sync::Arc;

use rathaus::dialogue::{Context, HandoffReason, Outcome};
use rathaus::knowledge::{Change, Entry, files::parse_entry};
use rathaus::store::{
    Author, CannedReply, Channel, Conversation, ConversationId, ConversationState, NewMessage,
    PostgresStore, SqliteStore, Staff, StaffId, StaffRole, Store, StoreError,
};

fn entry(id: &str, name: &str) -> Entry {
    parse_entry(&format!(
        "+++\nid = \"{id}\"\nname = \"{name}\"\n+++\nText zu {name}.\n"
    ))
    .unwrap()
}

/// A new conversation on `channel` in `state`, created and last changed at `at`.
pub fn conversation(channel: Channel, state: ConversationState, at: i64) -> Conversation {
    Conversation {
        id: ConversationId::new(),
        channel,
        token_digest: "digest".into(),
        state,
        context: Context::default(),
        handoff: None,
        assignee: None,
        created_at: at,
        updated_at: at,
    }
}

async fn suite(store: Arc<dyn Store>) {
    // Entries: insert, update in place, unchanged.
    let a = entry("a", "Reisepass");
    let b = entry("b", "Personalausweis");
    assert_eq!(
        store.put_entries(&[a.clone(), b.clone()], 1).await.unwrap(),
        [Change::Added, Change::Added]
    );
    let mut b2 = b.clone();
    b2.summary = "Neu.".into();
    assert_eq!(
        store
            .put_entries(&[a.clone(), b2.clone()], 2)
            .await
            .unwrap(),
        [Change::Unchanged, Change::Updated]
    );
    assert_eq!(store.entries().await.unwrap(), vec![a, b2]);
    store
        .put_synonyms("de", "perso => personalausweis", 3)
        .await
        .unwrap();
    assert_eq!(
        store.synonyms("de").await.unwrap().as_deref(),
        Some("perso => personalausweis")
    );
    assert_eq!(store.synonyms("en").await.unwrap(), None);

    // Conversations and turns.
    let id = ConversationId::new();
    let c = Conversation {
        id,
        ..conversation(Channel::Web, ConversationState::Bot, 10)
    };
    store.create_conversation(&c).await.unwrap();
    assert!(
        store.create_conversation(&c).await.is_err(),
        "ids are unique"
    );
    let msg = |author, text: &str, outcome| NewMessage {
        author,
        channel: Channel::Web,
        text: text.into(),
        outcome,
        entries: vec!["a".into()],
        author_name: None,
        why: (author == Author::Bot).then(|| format!("why: {text}")),
        in_reply_to: None,
    };
    let context = Context {
        last_entry: Some("a".parse().unwrap()),
        ..Default::default()
    };
    let recorded = store
        .record_turn(
            id,
            &[
                msg(
                    Author::Citizen,
                    "Meine IBAN DE89 3704 0044 0532 0130 00",
                    None,
                ),
                msg(Author::Bot, "Antwort", Some(Outcome::Answer)),
            ],
            ConversationState::Bot,
            &context,
            20,
        )
        .await
        .unwrap();
    assert_eq!(recorded.iter().map(|m| m.seq).collect::<Vec<_>>(), [1, 2]);
    store
        .record_turn(
            id,
            &[msg(Author::Citizen, "Mensch bitte", None)],
            ConversationState::Waiting,
            &context,
            30,
        )
        .await
        .unwrap();
    let t = store.transcript(id).await.unwrap();
    assert_eq!(t.len(), 3);
    assert_eq!(
        t[1].why.as_deref(),
        Some("why: Antwort"),
        "why a bot replied is kept"
    );
    assert_eq!(t[0].why, None);
    assert_eq!(
        t[0].text, "Meine IBAN DE89 3704 0044 0532 0130 00",
        "the transcript keeps what the citizen wrote"
    );
    assert_eq!(t[1].outcome, Some(Outcome::Answer));
    assert_eq!(t[2].seq, 3);
    let back = store.conversation(id).await.unwrap().unwrap();
    assert_eq!(back.state, ConversationState::Waiting);
    assert_eq!(back.context, context);
    assert_eq!(back.updated_at, 30);
    assert!(matches!(
        store
            .record_turn(
                ConversationId::new(),
                &[],
                ConversationState::Bot,
                &context,
                1
            )
            .await,
        Err(rathaus::store::StoreError::NotFound)
    ));

    // Unanswered questions, kept in batches.
    let question = |text: &str, at| rathaus::store::Unanswered {
        text: text.into(),
        lang: "de".into(),
        at,
    };
    store
        .record_unanswered(&[question("Wo ist der [TELEFON]?", 40)])
        .await
        .unwrap();
    assert_eq!(
        store.unanswered(10).await.unwrap()[0].text,
        "Wo ist der [TELEFON]?"
    );
    // Retention: what was recorded before the cut goes, what came after stays.
    store
        .record_unanswered(&[
            question("Wann hat das Bürgerbüro offen?", 60),
            question("Wo parke ich mein Boot?", 70),
        ])
        .await
        .unwrap();
    assert_eq!(store.delete_unanswered_before(50).await.unwrap(), 1);
    let kept: Vec<String> = store
        .unanswered(10)
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.text)
        .collect();
    assert_eq!(
        kept,
        ["Wo parke ich mein Boot?", "Wann hat das Bürgerbüro offen?"]
    );

    // Retention and deletion.
    let old = Conversation {
        id: ConversationId::new(),
        created_at: 1,
        updated_at: 1,
        ..c.clone()
    };
    store.create_conversation(&old).await.unwrap();
    store
        .record_turn(
            old.id,
            &[msg(Author::Citizen, "alt", None)],
            ConversationState::Bot,
            &Context::default(),
            5,
        )
        .await
        .unwrap();
    assert_eq!(store.delete_conversations_before(6).await.unwrap(), 1);
    assert!(store.conversation(old.id).await.unwrap().is_none());
    assert!(store.transcript(old.id).await.unwrap().is_empty());
    assert!(store.delete_conversation(id).await.unwrap());
    assert!(!store.delete_conversation(id).await.unwrap());
    assert!(store.transcript(id).await.unwrap().is_empty());

    // The console's, the outbox's and the channels' parts, on an empty conversation table.
    console(store.as_ref()).await;
    outbox(store.as_ref()).await;
    leases(store.as_ref()).await;
    crate::telegram::store_suite(store.as_ref()).await;
    crate::email::store_suite(store.as_ref()).await;
    phone(store.as_ref()).await;
}

/// Leases: one holder at a time, renewed by its holder, taken over once run out, given back
/// only by its holder; each name on its own.
async fn leases(store: &dyn Store) {
    assert!(store.take_lease("telegram", "a", 100, 200).await.unwrap());
    assert!(!store.take_lease("telegram", "b", 150, 250).await.unwrap());
    assert!(store.take_lease("telegram", "a", 190, 290).await.unwrap());
    assert!(!store.take_lease("telegram", "b", 289, 389).await.unwrap());
    assert!(store.take_lease("telegram", "b", 291, 391).await.unwrap());
    assert!(!store.take_lease("telegram", "a", 300, 400).await.unwrap());
    store.release_lease("telegram", "a").await.unwrap();
    assert!(
        !store.take_lease("telegram", "a", 301, 401).await.unwrap(),
        "only the holder gives it back"
    );
    store.release_lease("telegram", "b").await.unwrap();
    assert!(store.take_lease("telegram", "a", 302, 402).await.unwrap());
    // Another name is another lease.
    assert!(store.take_lease("email:box", "b", 302, 402).await.unwrap());
    assert!(!store.take_lease("email:box", "a", 303, 403).await.unwrap());
    store.release_lease("telegram", "a").await.unwrap();
    store.release_lease("email:box", "b").await.unwrap();
}

/// A call's row: the caller's number, the callback once, the called-back record once, and
/// gone with its conversation.
async fn phone(store: &dyn Store) {
    use rathaus::channels::phone::Call;
    let id = ConversationId::new();
    store
        .create_conversation(&Conversation {
            id,
            ..conversation(Channel::Phone, ConversationState::Bot, 1)
        })
        .await
        .unwrap();
    let call = Call {
        conversation: id,
        caller: Some("+49 170 1234567".parse().unwrap()),
        lang: rathaus::language::Lang::De,
        started_at: 1,
        ended_at: None,
        callback_at: None,
        called_back: None,
    };
    store.start_call(&call).await.unwrap();
    assert_eq!(store.call(id).await.unwrap().as_ref(), Some(&call));
    let agent = StaffId::new();
    assert!(
        !store
            .mark_called_back(id, &agent, "zu früh", 2)
            .await
            .unwrap()
    );
    assert!(store.request_callback(id, 3).await.unwrap());
    assert!(
        !store.request_callback(id, 4).await.unwrap(),
        "once per handoff"
    );
    assert!(store.end_call(id, 5).await.unwrap());
    assert!(!store.end_call(id, 6).await.unwrap());
    assert!(
        store
            .mark_called_back(id, &agent, "erledigt", 7)
            .await
            .unwrap()
    );
    assert!(
        !store
            .mark_called_back(id, &agent, "noch einmal", 8)
            .await
            .unwrap()
    );
    let stored = store.call(id).await.unwrap().unwrap();
    assert_eq!(stored.caller.unwrap().as_str(), "+491701234567");
    assert_eq!((stored.callback_at, stored.ended_at), (Some(3), Some(5)));
    let done = stored.called_back.unwrap();
    assert_eq!(
        (done.at, done.by, done.note.as_str()),
        (7, agent, "erledigt")
    );
    assert!(store.delete_conversation(id).await.unwrap());
    assert_eq!(
        store.call(id).await.unwrap(),
        None,
        "deleted with its conversation"
    );
}

/// Staff, sessions, throttling, the handoff queue and canned replies.
async fn console(store: &dyn Store) {
    let anna = Staff {
        id: StaffId::new(),
        email: "anna@musterstadt.example".into(),
        name: "Anna".into(),
        role: StaffRole::Agent,
        active: true,
    };
    let bernd = Staff {
        id: StaffId::new(),
        email: "bernd@musterstadt.example".into(),
        name: "Bernd".into(),
        role: StaffRole::Admin,
        active: true,
    };
    store.add_staff(&anna, "hash-a", 1).await.unwrap();
    store.add_staff(&bernd, "hash-b", 1).await.unwrap();
    let twin = Staff {
        id: StaffId::new(),
        ..anna.clone()
    };
    assert!(matches!(
        store.add_staff(&twin, "x", 1).await,
        Err(StoreError::Conflict)
    ));
    let (found, hash) = store
        .staff_by_email(" Anna@Musterstadt.example")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((found, hash.as_str()), (anna.clone(), "hash-a"));
    assert_eq!(
        store.staff_list().await.unwrap(),
        vec![anna.clone(), bernd.clone()]
    );

    store
        .create_session("d1", &anna.id, "csrf1", 100)
        .await
        .unwrap();
    let s = store.session("d1").await.unwrap().unwrap();
    assert_eq!(
        (s.staff.id.clone(), s.csrf.as_str(), s.seen_at),
        (anna.id.clone(), "csrf1", 100)
    );
    store.touch_session("d1", 150).await.unwrap();
    assert_eq!(store.session("d1").await.unwrap().unwrap().seen_at, 150);
    assert_eq!(store.delete_sessions_before(120).await.unwrap(), 0);
    // A new password and a disabled account end sessions.
    store.set_password(&anna.id, "hash-a2").await.unwrap();
    assert!(store.session("d1").await.unwrap().is_none());
    store
        .create_session("d2", &anna.id, "csrf2", 200)
        .await
        .unwrap();
    store.set_staff_active(&anna.id, false).await.unwrap();
    assert!(store.session("d2").await.unwrap().is_none());
    store.set_staff_active(&anna.id, true).await.unwrap();
    store
        .create_session("d3", &anna.id, "csrf3", 300)
        .await
        .unwrap();
    store.delete_session("d3").await.unwrap();
    assert!(store.session("d3").await.unwrap().is_none());

    // Attempts count from the window's start, themselves included.
    let (first, n) = store.login_attempt("account:x", 10, 0).await.unwrap();
    assert_eq!(n, 1);
    let (second, n) = store.login_attempt("account:x", 20, 15).await.unwrap();
    assert_eq!(n, 1, "the attempt at 10 is before the window");
    assert_ne!(first, second);
    assert_eq!(store.login_attempts_since("account:x", 0).await.unwrap(), 2);
    store.forget_login_attempt(second).await.unwrap();
    assert_eq!(store.login_attempts_since("account:x", 0).await.unwrap(), 1);
    store.login_attempt("address:y", 30, 0).await.unwrap();
    store.clear_login_attempts("account:x").await.unwrap();
    assert_eq!(store.login_attempts_since("account:x", 0).await.unwrap(), 0);
    assert_eq!(store.delete_login_attempts_before(31).await.unwrap(), 1);
    assert_eq!(store.login_attempts_since("address:y", 0).await.unwrap(), 0);
    // A server key is made once: the first one stays.
    assert_eq!(store.server_key("login", "k1", 1).await.unwrap(), "k1");
    assert_eq!(store.server_key("login", "k2", 2).await.unwrap(), "k1");

    // Two conversations handed over; the second waits behind the first.
    let mut ids = Vec::new();
    for at in [1000, 2000] {
        let c = conversation(Channel::Telegram, ConversationState::Bot, at);
        store.create_conversation(&c).await.unwrap();
        store
            .append(
                c.id,
                &[NewMessage::citizen(
                    Channel::Telegram,
                    format!("Frage {at}"),
                )],
                at,
            )
            .await
            .unwrap();
        assert!(
            store
                .hand_over(c.id, HandoffReason::Complaint, at)
                .await
                .unwrap()
        );
        assert!(
            !store
                .hand_over(c.id, HandoffReason::Requested, at)
                .await
                .unwrap(),
            "already waiting"
        );
        ids.push(c.id);
    }
    let (first, second) = (ids[0], ids[1]);
    assert_eq!(
        store.waiting().await.unwrap(),
        [(first, 1000), (second, 2000)],
        "first handed over, first in line"
    );
    let queue = store.queue().await.unwrap();
    assert_eq!(
        queue.iter().map(|q| q.id).collect::<Vec<_>>(),
        [first, second]
    );
    assert_eq!(queue[0].reason, Some(HandoffReason::Complaint));
    assert_eq!(queue[0].last_message.as_deref(), Some("Frage 1000"));
    let c = store.conversation(first).await.unwrap().unwrap();
    assert_eq!(
        c.handoff.map(|h| (h.reason, h.at)),
        Some((HandoffReason::Complaint, 1000))
    );

    // One claim wins.
    assert!(store.claim(first, &anna.id, 1600).await.unwrap());
    assert!(!store.claim(first, &bernd.id, 1700).await.unwrap());
    assert_eq!(store.waiting().await.unwrap(), [(second, 2000)]);
    assert_eq!(store.recent_waits(0, 10).await.unwrap(), [600]);
    let c = store.conversation(first).await.unwrap().unwrap();
    assert_eq!(
        (c.state, c.assignee),
        (ConversationState::Claimed, Some(anna.id.clone()))
    );
    assert_eq!(
        store.queue().await.unwrap()[0].assignee_name.as_deref(),
        Some("Anna")
    );
    assert!(store.reassign(first, Some(&bernd.id), 1800).await.unwrap());
    assert!(store.reassign(first, None, 1900).await.unwrap());
    assert_eq!(
        store.conversation(first).await.unwrap().unwrap().state,
        ConversationState::Waiting
    );

    // Close and reopen.
    assert!(store.close(first, "resolved", 2500).await.unwrap());
    assert!(!store.close(first, "resolved", 2500).await.unwrap());
    let closed = store.closed_since(0, 10).await.unwrap();
    assert_eq!(closed.len(), 1);
    assert_eq!(closed[0].closed_outcome.as_deref(), Some("resolved"));
    assert!(store.reopen(first, &bernd.id, 2600).await.unwrap());
    assert!(
        !store.reopen(second, &bernd.id, 2600).await.unwrap(),
        "only closed ones reopen"
    );
    let note = NewMessage {
        author: Author::Note,
        author_name: Some("Bernd".into()),
        ..NewMessage::citizen(Channel::Telegram, "intern")
    };
    let added = store.append(first, &[note], 2700).await.unwrap();
    assert_eq!(added[0].seq, 2);
    let t = store.transcript(first).await.unwrap();
    assert_eq!(
        (t[1].author, t[1].author_name.as_deref()),
        (Author::Note, Some("Bernd"))
    );
    assert!(matches!(
        store.append(ConversationId::new(), &[], 1).await,
        Err(StoreError::NotFound)
    ));

    // Canned replies.
    let greeting = CannedReply {
        id: "g".into(),
        title: "Gruß".into(),
        body: "Guten Tag".into(),
    };
    store.put_canned_reply(&greeting, 1).await.unwrap();
    store
        .put_canned_reply(
            &CannedReply {
                body: "Guten Tag!".into(),
                ..greeting.clone()
            },
            2,
        )
        .await
        .unwrap();
    assert_eq!(store.canned_replies().await.unwrap()[0].body, "Guten Tag!");
    assert!(store.delete_canned_reply("g").await.unwrap());
    assert!(store.canned_replies().await.unwrap().is_empty());
    for id in ids {
        store.delete_conversation(id).await.unwrap();
    }
}

/// The outbox of staff replies: only staff messages of the asked channel, oldest first,
/// leased while taken, retried when due, never taken again once sent or given up.
async fn outbox(store: &dyn Store) {
    let conversation = |channel| conversation(channel, ConversationState::Claimed, 1);
    let staff = |channel, text: &str| NewMessage {
        author: Author::Staff,
        author_name: Some("Anna".into()),
        ..NewMessage::citizen(channel, text)
    };
    let (mail, chat) = (
        conversation(Channel::Email),
        conversation(Channel::Telegram),
    );
    store.create_conversation(&mail).await.unwrap();
    store.create_conversation(&chat).await.unwrap();
    store
        .append(
            mail.id,
            &[
                NewMessage::citizen(Channel::Email, "Hallo"),
                staff(Channel::Email, "erste"),
            ],
            10,
        )
        .await
        .unwrap();
    store
        .append(chat.id, &[staff(Channel::Telegram, "chat")], 11)
        .await
        .unwrap();
    store
        .append(mail.id, &[staff(Channel::Email, "zweite")], 12)
        .await
        .unwrap();

    // Only the first pending message of a conversation: "zweite" waits for "erste".
    let taken = store
        .take_deliveries(Channel::Email, 100, 200, 10)
        .await
        .unwrap();
    let texts: Vec<_> = taken.iter().map(|d| d.message.text.as_str()).collect();
    assert_eq!(texts, ["erste"]);
    assert_eq!((taken[0].conversation, taken[0].attempts), (mail.id, 1));
    assert_eq!(taken[0].message.author, Author::Staff);
    assert_eq!(taken[0].message.author_name.as_deref(), Some("Anna"));
    // Leased: nobody takes it again before the lease ends, nor the one behind it.
    assert!(
        store
            .take_deliveries(Channel::Email, 150, 300, 10)
            .await
            .unwrap()
            .is_empty()
    );

    let first = &taken[0].message;
    assert!(store.delivery_sent(mail.id, first.seq, 160).await.unwrap());
    let taken = store
        .take_deliveries(Channel::Email, 170, 300, 10)
        .await
        .unwrap();
    assert_eq!(taken.len(), 1);
    let second = &taken[0].message;
    assert_eq!(second.text, "zweite");
    assert!(
        store
            .delivery_failed(mail.id, second.seq, "busy", Some(500))
            .await
            .unwrap()
    );
    assert!(
        store
            .take_deliveries(Channel::Email, 400, 600, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let again = store
        .take_deliveries(Channel::Email, 500, 700, 10)
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!((again[0].message.seq, again[0].attempts), (second.seq, 2));
    assert!(
        store
            .delivery_failed(mail.id, second.seq, "gone", None)
            .await
            .unwrap()
    );
    // Given up: stays given up, and is never taken again.
    assert!(
        !store
            .delivery_failed(mail.id, second.seq, "x", Some(0))
            .await
            .unwrap()
    );
    assert!(
        store
            .take_deliveries(Channel::Email, i64::MAX - 1, i64::MAX, 10)
            .await
            .unwrap()
            .is_empty()
    );

    // The other channel's reply untouched until asked for.
    let chat_taken = store
        .take_deliveries(Channel::Telegram, 1_000, 2_000, 1)
        .await
        .unwrap();
    assert_eq!(chat_taken.len(), 1);
    assert_eq!(chat_taken[0].message.text, "chat");
    assert!(
        store
            .delivery_sent(chat.id, chat_taken[0].message.seq, 1_001)
            .await
            .unwrap()
    );

    // The bot's replies go out through the outbox where the channel sends them itself
    // (Telegram, with what they answer), not where it does not (the mailbox worker
    // composes its own); a citizen's line never.
    let bot = |channel, text: &str, in_reply_to: Option<&str>| NewMessage {
        author: Author::Bot,
        in_reply_to: in_reply_to.map(str::to_string),
        ..NewMessage::citizen(channel, text)
    };
    store
        .append(
            chat.id,
            &[
                NewMessage::citizen(Channel::Telegram, "Frage"),
                bot(Channel::Telegram, "Antwort", Some("42")),
            ],
            3_000,
        )
        .await
        .unwrap();
    store
        .append(
            mail.id,
            &[bot(Channel::Email, "Antwort per Mail", None)],
            3_000,
        )
        .await
        .unwrap();
    let answer = store
        .take_deliveries(Channel::Telegram, 3_001, 4_000, 10)
        .await
        .unwrap();
    assert_eq!(answer.len(), 1);
    assert_eq!(
        (answer[0].message.author, answer[0].message.text.as_str()),
        (Author::Bot, "Antwort")
    );
    assert_eq!(answer[0].in_reply_to.as_deref(), Some("42"));
    assert!(
        store
            .take_deliveries(Channel::Email, 3_001, 4_000, 10)
            .await
            .unwrap()
            .is_empty()
    );
    store.delete_conversation(mail.id).await.unwrap();
    store.delete_conversation(chat.id).await.unwrap();
}

#[tokio::test]
async fn sqlite_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::connect(dir.path().join("s.db").to_str().unwrap())
        .await
        .unwrap();
    suite(Arc::new(store)).await;
}

#[tokio::test]
async fn postgres_store() {
    let (url, name, mut admin) = crate::helpers::postgres_database("rathaus_test").await;
    let store = PostgresStore::connect(&url).await.unwrap();
    suite(Arc::new(store)).await;
    sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await
        .unwrap();
}
