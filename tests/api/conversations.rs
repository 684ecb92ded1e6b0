//! Conversations over HTTP on the demo catalogue: answers with sources, follow-ups,
//! clarify choices, handoff and the silence that follows it, deletion.

use serde_json::{Value, json};

use crate::helpers::{fields, spawn_app, spawn_configured};

#[tokio::test]
async fn stateless_answer_quotes_the_entry_with_its_source() {
    let app = spawn_app().await;
    let r = app.answer("Was kostet ein Personalausweis?").await;
    assert_eq!(r["outcome"], "answer");
    assert_eq!(r["aspect"], "fees");
    assert_eq!(r["entries"][0]["id"], "personalausweis");
    let text = r["text"].as_str().unwrap();
    assert!(text.contains("37,00 Euro"), "{text}");
    assert!(
        text.contains("https://www.musterstadt.example/service/personalausweis"),
        "{text}"
    );
    assert!(r["entries"][0]["booking"].as_str().is_some());
}

#[tokio::test]
async fn a_question_about_an_office_itself_is_answered_from_its_record() {
    let app = spawn_app().await;
    let r = app.answer("Wann hat das Bürgerbüro geöffnet?").await;
    assert_eq!(r["outcome"], "answer", "{r}");
    let text = r["text"].as_str().unwrap();
    assert!(text.contains("Bürgerbüro im Rathaus"), "{text}");
    assert!(text.contains("Marktplatz 1"), "{text}");
    assert!(
        text.contains("Di, Do 08:00–12:30 und 14:00–18:00"),
        "{text}"
    );
    let r = app.answer("Ist das Standesamt morgen offen?").await;
    assert!(r["text"].as_str().unwrap().contains("Morgen:"), "{r}");
    // A service asked of at the office goes to the catalogue, not to the office's record.
    let r = app.answer("Was kostet ein Reisepass im Bürgerbüro?").await;
    assert!(!r["entries"].as_array().unwrap().is_empty(), "{r}");
}

#[tokio::test]
async fn every_outcome_over_http() {
    let app = spawn_app().await;
    assert_eq!(app.answer("Hallo!").await["outcome"], "smalltalk");
    assert_eq!(app.answer("Wer bist du?").await["outcome"], "smalltalk");
    assert_eq!(
        app.answer("Ich möchte mit einem Menschen sprechen").await["outcome"],
        "handoff"
    );
    assert_eq!(app.answer("agent please").await["outcome"], "handoff");
    let r = app.answer("Was ist die Hauptstadt von Kanada?").await;
    assert_eq!(r["outcome"], "dont_know");
    assert_eq!(r["offer_handoff"], true);
    assert_eq!(app.answer("asdf").await["outcome"], "dont_know");
    assert_eq!(
        app.answer("Wie melde ich meinen Hund an?").await["outcome"],
        "answer"
    );
    assert_eq!(
        app.answer("How much does a passport cost?").await["lang"],
        "en"
    );
}

#[tokio::test]
async fn follow_up_refers_to_the_entry_just_answered() {
    let app = spawn_app().await;
    let (id, token) = app.start().await;
    let r: Value = app
        .say_json(
            &id,
            &token,
            json!({ "text": "Ich brauche einen neuen Reisepass" }),
        )
        .await;
    assert_eq!(r["outcome"], "answer");
    let answered = r["entries"][0]["id"].clone();
    let r: Value = app
        .say_json(&id, &token, json!({ "text": "und was kostet das?" }))
        .await;
    assert_eq!(r["outcome"], "answer", "{r}");
    assert_eq!(r["aspect"], "fees");
    assert_eq!(r["entries"][0]["id"], answered);
    let r: Value = app
        .say_json(&id, &token, json!({ "text": "Was muss ich mitbringen?" }))
        .await;
    assert_eq!(r["aspect"], "documents");
    assert_eq!(r["entries"][0]["id"], answered);

    let t: Value = app.transcript(&id, &token).await.json().await.unwrap();
    let messages = t["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 6);
    assert_eq!(messages[0]["author"], "citizen");
    assert_eq!(messages[0]["text"], "Ich brauche einen neuen Reisepass");
    assert_eq!(messages[1]["author"], "bot");
    assert_eq!(messages[1]["entries"][0]["id"], answered);
}

#[tokio::test]
async fn choosing_a_clarify_option_answers_it() {
    let app = spawn_app().await;
    let (id, token) = app.start().await;
    // "Gewerbe" alone fits registering and deregistering a business equally.
    let r: Value = app
        .say_json(&id, &token, json!({ "text": "Gewerbe" }))
        .await;
    assert_eq!(r["outcome"], "clarify", "{r}");
    let choices: Vec<&str> = fields(&r["entries"], "id");
    assert!(
        choices.contains(&"gewerbe-anmelden") && choices.contains(&"gewerbe-abmelden"),
        "{choices:?}"
    );
    assert_eq!(r["offer_handoff"], true);
    // Answering with the option's number answers that entry.
    let second = choices[1];
    let r: Value = app.say_json(&id, &token, json!({ "text": "2" })).await;
    assert_eq!(r["outcome"], "answer");
    assert_eq!(r["entries"][0]["id"], second);

    // Pick by id, as a widget button does.
    let r: Value = app
        .say_json(
            &id,
            &token,
            json!({ "text": "Reisepass", "choice": "kinderreisepass" }),
        )
        .await;
    assert_eq!(r["outcome"], "answer");
    assert_eq!(r["entries"][0]["id"], "kinderreisepass");
    // An unknown choice is ignored: the text gets the reply it gets on its own.
    let r: Value = app
        .say_json(
            &id,
            &token,
            json!({ "text": "Reisepass", "choice": "gibt-es-nicht" }),
        )
        .await;
    let alone = app.answer("Reisepass").await;
    assert_eq!(r["outcome"], alone["outcome"], "{r}");
    assert_eq!(r["entries"], alone["entries"]);
    assert_ne!(r["entries"][0]["id"], "gibt-es-nicht");
}

#[tokio::test]
async fn after_a_handoff_the_bot_is_silent() {
    let app = spawn_app().await;
    let (id, token) = app.start().await;
    let r: Value = app
        .say_json(
            &id,
            &token,
            json!({ "text": "Ich möchte bitte mit einer Person sprechen." }),
        )
        .await;
    assert_eq!(r["outcome"], "handoff");
    assert_eq!(r["handoff"], "requested");
    let r: Value = app
        .say_json(&id, &token, json!({ "text": "Was kostet ein Reisepass?" }))
        .await;
    assert_eq!(r["outcome"], "handoff");
    assert_eq!(r["silent"], true);
    assert_eq!(r["text"], "");
    let t: Value = app.transcript(&id, &token).await.json().await.unwrap();
    assert_eq!(t["state"], "waiting");
    let authors: Vec<&str> = fields(&t["messages"], "author");
    assert_eq!(authors, ["citizen", "bot", "citizen"]);
}

#[tokio::test]
async fn a_citizen_can_delete_the_conversation() {
    let app = spawn_app().await;
    let (id, token) = app.start().await;
    app.say_json(&id, &token, json!({ "text": "Reisepass" }))
        .await;
    let r = app
        .client
        .delete(format!("{}/api/v1/conversations/{id}", app.address))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(app.transcript(&id, &token).await.status(), 404);
}

#[tokio::test]
async fn unanswered_questions_are_stored_in_batches_and_those_queued_at_a_stop_are_kept() {
    // Three hundred questions from this one client: its limit on messages is off here.
    let app = spawn_configured(|s| s.limits.messages_per_minute = 0).await;
    // More than one batch, all at once.
    let questions: Vec<String> = (0..300)
        .map(|i| format!("Wie füttere ich mein Raumschiff {i}?"))
        .collect();
    let replies = futures::future::join_all(questions.iter().map(|q| app.answer(q))).await;
    assert!(replies.iter().all(|r| r["outcome"] == "dont_know"));
    // A clean stop stores what is still queued.
    app.conversations.stop().await;
    use rathaus::store::{SqliteStore, Store};
    let store = SqliteStore::connect(app.database.to_str().unwrap())
        .await
        .unwrap();
    let mut kept: Vec<String> = store
        .unanswered(1000)
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.text)
        .collect();
    kept.sort();
    let mut asked = questions.clone();
    asked.sort();
    assert_eq!(kept.len(), asked.len(), "questions kept");
    assert_eq!(kept, asked);
}

#[tokio::test]
async fn personal_data_is_masked_in_what_is_kept_for_statistics() {
    let app = spawn_app().await;
    let (id, token) = app.start().await;
    let text = "Flugzeugträger und Raumschiffe: IBAN DE89 3704 0044 0532 0130 00, Telefon 0171 2345678, max@example.org";
    let r: Value = app.say_json(&id, &token, json!({ "text": text })).await;
    assert_eq!(r["outcome"], "dont_know", "{r}");

    // The transcript keeps what the citizen wrote: staff need it.
    let t: Value = app.transcript(&id, &token).await.json().await.unwrap();
    assert_eq!(t["messages"][0]["text"], text);

    // The unanswered-questions list gets it masked (written off the reply's path).
    use rathaus::store::{SqliteStore, Store};
    let store = SqliteStore::connect(app.database.to_str().unwrap())
        .await
        .unwrap();
    let mut kept = Vec::new();
    for _ in 0..50 {
        kept = store.unanswered(10).await.unwrap();
        if !kept.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(kept.len(), 1);
    let masked = &kept[0].text;
    assert!(
        masked.contains("[IBAN]") && masked.contains("[TELEFON]") && masked.contains("[E-MAIL]"),
        "{masked}"
    );
    for secret in ["DE89", "2345678", "max@example.org"] {
        assert!(!masked.contains(secret), "{masked}");
    }
}
