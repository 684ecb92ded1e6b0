use std::path::PathBuf;

use rathaus::app::{Application, Settings};
use serde_json::{Value, json};

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    /// The app's SQLite database, for looking at what it kept.
    pub database: PathBuf,
    _dir: tempfile::TempDir,
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Starts Rathaus on a free port with a fresh SQLite database and the demo knowledge.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(None).await
}

/// As [`spawn_app`], with an embedding service for meaning-based search.
pub async fn spawn_app_with(embedder: Option<rathaus::semantic::Embedder>) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("rathaus.db");
    let settings = Settings {
        listen: "127.0.0.1:0".into(),
        database: format!("sqlite://{}", db.display())
            .parse()
            .expect("database url"),
        knowledge: Some(repo().join("knowledge")),
        channels: None,
        retention: None,
        embedder,
    };
    let app = Application::build(settings).await.expect("app builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address,
        client: reqwest::Client::new(),
        database: db,
        _dir: dir,
    }
}

impl TestApp {
    pub async fn answer(&self, q: &str) -> Value {
        let r = self
            .client
            .post(format!("{}/api/v1/answer", self.address))
            .json(&json!({ "q": q }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "answer to {q}");
        r.json().await.unwrap()
    }

    /// Starts a conversation; returns (id, token).
    pub async fn start(&self) -> (String, String) {
        let r = self
            .client
            .post(format!("{}/api/v1/conversations", self.address))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let v: Value = r.json().await.unwrap();
        (
            v["id"].as_str().unwrap().to_string(),
            v["token"].as_str().unwrap().to_string(),
        )
    }

    pub async fn say(&self, id: &str, token: &str, body: Value) -> reqwest::Response {
        self.client
            .post(format!(
                "{}/api/v1/conversations/{id}/messages",
                self.address
            ))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// Sends a message and returns the reply as JSON.
    pub async fn say_json(&self, id: &str, token: &str, body: Value) -> Value {
        self.say(id, token, body).await.json().await.unwrap()
    }

    pub async fn transcript(&self, id: &str, token: &str) -> reqwest::Response {
        self.client
            .get(format!("{}/api/v1/conversations/{id}", self.address))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }
}

/// The values of `key` in each object of the array `items` (entry ids of a reply, authors of
/// a transcript).
pub fn fields<'a>(items: &'a Value, key: &str) -> Vec<&'a str> {
    items
        .as_array()
        .expect("an array")
        .iter()
        .map(|i| i[key].as_str().expect("a string"))
        .collect()
}
