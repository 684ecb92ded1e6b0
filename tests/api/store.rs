//! The store suite, written once and run against SQLite and PostgreSQL. PostgreSQL comes
//! from RATHAUS_TEST_POSTGRES (default: the machine's loopback server, database `test`);
//! each test gets a database of its own.

use std::sync::Arc;

use rathaus::dialogue::{Context, Outcome};
use rathaus::knowledge::{Change, Entry, files::parse_entry};
use rathaus::store::{
    Author, Channel, Conversation, ConversationId, ConversationState, NewMessage, PostgresStore,
    SqliteStore, Store,
};
use sqlx::Connection;

fn entry(id: &str, name: &str) -> Entry {
    parse_entry(&format!(
        "+++\nid = \"{id}\"\nname = \"{name}\"\n+++\nText zu {name}.\n"
    ))
    .unwrap()
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
        channel: Channel::Web,
        token_digest: "digest".into(),
        state: ConversationState::Bot,
        context: Context::default(),
        created_at: 10,
        updated_at: 10,
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

    // Unanswered questions.
    store
        .record_unanswered("Wo ist der [TELEFON]?", "de", 40)
        .await
        .unwrap();
    assert_eq!(
        store.unanswered(10).await.unwrap()[0].text,
        "Wo ist der [TELEFON]?"
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
    let admin_url = std::env::var("RATHAUS_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let name = format!("rathaus_test_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect(&admin_url)
        .await
        .expect("PostgreSQL must run for the store suite (see .ci/run)");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
    let base = admin_url.rsplit_once('/').map(|(b, _)| b).unwrap();
    let store = PostgresStore::connect(&format!("{base}/{name}"))
        .await
        .unwrap();
    suite(Arc::new(store)).await;
    sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await
        .unwrap();
}
