//! Meaning-based search against a local stand-in for an OpenAI-compatible embeddings service
//! (the real protocol: POST /v1/embeddings, `data[].embedding`).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use rathaus::semantic::{EmbedError, Embedder, Purpose, RemoteEncoder};
use serde_json::{Value, json};

use crate::helpers::{fields, spawn_app_with};

/// A request body and its Authorization header.
type Request = (Value, Option<String>);

#[derive(Clone, Default)]
struct Seen {
    requests: Arc<Mutex<Vec<Request>>>,
}

/// Texts about dogs point one way, texts about passports another, the rest a third; the
/// vectors are not unit length, as some services send them.
fn vector(text: &str) -> Vec<f32> {
    let t = text.to_lowercase();
    if t.contains("hund") || t.contains("vierbeiner") {
        vec![3.0, 0.0, 0.0]
    } else if t.contains("pass") {
        vec![0.0, 2.0, 0.0]
    } else {
        vec![0.0, 0.0, 1.0]
    }
}

async fn embeddings(
    State(seen): State<Seen>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    seen.requests.lock().unwrap().push((body.clone(), auth));
    let inputs: Vec<String> = body["input"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    if inputs.iter().any(|t| t == "fail") {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({"error": {"message": "boom"}})),
        );
    }
    // Answer in reverse order with indexes, as the protocol allows.
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .rev()
        .map(|(i, t)| json!({"object": "embedding", "index": i, "embedding": vector(t)}))
        .collect();
    (
        StatusCode::OK,
        Json(json!({"object": "list", "data": data, "model": body["model"]})),
    )
}

async fn stand_in() -> (String, Seen) {
    let seen = Seen::default();
    let app = Router::new()
        .route("/v1/embeddings", post(embeddings))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, seen)
}

fn remote(
    url: &str,
    model: &str,
    key: Option<secrecy::SecretString>,
    timeout: Duration,
) -> Embedder {
    Embedder::remote(RemoteEncoder::new(url, model, key, timeout))
}

#[tokio::test]
async fn client_speaks_the_embeddings_protocol() {
    let (url, seen) = stand_in().await;
    let embedder = remote(
        &url,
        "e5-test",
        Some("geheim".to_string().into()),
        Duration::from_secs(5),
    );
    let texts: Vec<String> = (0..40)
        .map(|i| {
            if i % 2 == 0 {
                format!("Hund {i}")
            } else {
                format!("Reisepass {i}")
            }
        })
        .collect();
    let vectors = embedder.embed(&texts, Purpose::Passage).await.unwrap();
    assert_eq!(vectors.len(), 40);
    assert_eq!(vectors[0], [1.0, 0.0, 0.0], "unit length, in input order");
    assert_eq!(vectors[1], [0.0, 1.0, 0.0]);
    let requests = seen.requests.lock().unwrap().clone();
    assert_eq!(requests.len(), 2, "sent in batches");
    assert_eq!(requests[0].0["model"], "e5-test");
    assert_eq!(requests[0].0["input_type"], "passage");
    assert_eq!(requests[0].1.as_deref(), Some("Bearer geheim"));

    let err = embedder
        .embed(&["fail".to_string()], Purpose::Query)
        .await
        .unwrap_err();
    assert!(
        matches!(err, EmbedError::Status { status: 500, .. }),
        "{err}"
    );
    let nowhere = remote("http://127.0.0.1:9/v1", "m", None, Duration::from_secs(2));
    assert!(matches!(
        nowhere.embed(&["x".to_string()], Purpose::Query).await,
        Err(EmbedError::Unreachable(_))
    ));
}

#[tokio::test]
async fn meaning_finds_an_entry_that_shares_no_words_with_the_question() {
    let (url, _) = stand_in().await;
    let app = spawn_app_with(Some(remote(&url, "e5-test", None, Duration::from_secs(5)))).await;
    // The server answers by words at once and by meaning once the catalogue is embedded.
    assert!(
        app.wait_for_meaning(5).await,
        "the catalogue was not embedded within 5 s"
    );
    // "Vierbeiner" appears in no entry; the stand-in puts it beside the dog entries.
    let r = app.answer("Mein Vierbeiner").await;
    assert_eq!(r["outcome"], "clarify", "{r}");
    let ids: Vec<&str> = fields(&r["entries"], "id");
    // Both dog entries lead (other entries that mention dogs may follow).
    assert!(
        ids.len() >= 2 && ids[..2].iter().all(|id| id.starts_with("hund-")),
        "{ids:?}"
    );
}

#[tokio::test]
async fn without_the_service_rathaus_answers_by_words() {
    let down = remote("http://127.0.0.1:9/v1", "e5", None, Duration::from_secs(2));
    let app = spawn_app_with(Some(down)).await;
    let r = app.answer("Was kostet ein Personalausweis?").await;
    assert_eq!(r["outcome"], "answer", "{r}");
}

/// The model files `tools/models.sh` builds (`.ci/run` runs it first).
fn local_model() -> Embedder {
    let dir = std::env::var_os("RATHAUS_MODELS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                .join(".cache/rathaus")
        });
    Embedder::local(&dir.join("e5/libe5.so"), &dir.join("e5/e5-small-q4.bin"))
        .unwrap_or_else(|e| panic!("{e}: run tools/models.sh"))
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[tokio::test]
async fn the_model_in_the_process_puts_a_question_near_its_service() {
    let e5 = local_model();
    assert!(e5.is_local());
    let q = e5
        .query("Wie beantrage ich einen Reisepass?")
        .await
        .unwrap();
    assert_eq!(q.len(), 384);
    assert!((dot(&q, &q).sqrt() - 1.0).abs() < 1e-4, "unit length");
    let p = e5
        .embed(
            &[
                "Reisepass beantragen".to_string(),
                "Hund anmelden".to_string(),
            ],
            Purpose::Passage,
        )
        .await
        .unwrap();
    assert!(
        dot(&q, &p[0]) > dot(&q, &p[1]) + 0.02,
        "{} vs {}",
        dot(&q, &p[0]),
        dot(&q, &p[1])
    );
    // Repeated, the same vector comes from the cache.
    assert_eq!(
        e5.query("Wie beantrage ich einen Reisepass?")
            .await
            .unwrap(),
        q
    );
    // Bad input is an error, not a crash: nothing to embed.
    assert!(e5.query(" \0 ").await.is_err());
}

#[tokio::test]
async fn with_the_model_a_question_in_other_words_finds_its_entry() {
    use rathaus::dialogue::phrasings::{Intent, Phrasings};
    let app = crate::helpers::spawn_configured(|s| {
        s.answering.embedder = Some(local_model());
        // A few phrasings keep the test's embedding short; the catalogue is the demo's.
        s.answering.phrasings = Phrasings::parse(
            [
                (Intent::Handoff, "Ich möchte mit einem Menschen sprechen"),
                (Intent::OutOfScope, "Wer wird Deutscher Meister?"),
            ]
            .into_iter(),
        );
    })
    .await;
    assert!(
        app.wait_for_meaning(60).await,
        "the demo catalogue was not embedded within a minute"
    );
    // "Vierbeiner" and "Steuermarke" are in no entry of the demo catalogue.
    let r = app.answer("Mein Vierbeiner braucht eine Steuermarke").await;
    let ids: Vec<&str> = fields(&r["entries"], "id");
    assert!(ids.iter().any(|id| id.starts_with("hund-")), "{r}");
}
