use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use rathaus::app::{Answering, Application, Settings};
use rathaus::console::auth;
use rathaus::language::Thesaurus;
use rathaus::store::{Staff, StaffId, StaffRole};
use serde_json::{Value, json};

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    /// The app's SQLite database, for looking at what it kept.
    pub database: PathBuf,
    pub conversations: rathaus::conversations::Conversations,
    settings: Settings,
    server: Server,
    _dir: tempfile::TempDir,
}

/// Rathaus on a thread and runtime of its own: stopping it ends every task it started and
/// drops every open connection, as a crash would.
pub struct Server {
    /// Where the metrics are served, apart from the public port.
    pub metrics: Option<std::net::SocketAddr>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    pub async fn start(settings: Settings) -> (Server, u16, rathaus::conversations::Conversations) {
        let (ready_tx, ready) = tokio::sync::oneshot::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("server runtime");
            runtime.block_on(async move {
                let app = Application::build(settings).await.expect("app builds");
                let _ =
                    ready_tx.send((app.port(), app.metrics_addr(), app.conversations().clone()));
                tokio::select! {
                    _ = app.run_until_stopped() => {}
                    _ = stopped => {}
                }
            });
        });
        let (port, metrics, conversations) = ready.await.expect("the server starts");
        let server = Server {
            metrics,
            stop: Some(stop),
            thread: Some(thread),
        };
        (server, port, conversations)
    }

    pub async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
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
    spawn_configured(|s| s.answering.embedder = embedder).await
}

/// As [`spawn_app`], with the channels whose settings are in `channels`.
pub async fn spawn_app_with_channels(channels: PathBuf) -> TestApp {
    spawn_configured(|s| s.channels = Some(channels)).await
}

/// The settings of a test server: port 0, the SQLite database `db`, the demo knowledge.
/// Starts `rathaus serve` as its own process on `database` with the channels folder
/// `channels`, so that a test can kill it with SIGKILL. Words only: the channels are what
/// such a test is about, and the model would only load the machine.
pub fn serve_process(database: &str, channels: &Path, env: &[(&str, &str)]) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_rathaus"))
        .env("RATHAUS_WORDS_ONLY", "true")
        .envs(env.iter().copied())
        .args([
            "--database",
            database,
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--knowledge",
        ])
        .arg(repo().join("knowledge"))
        .arg("--channels")
        .arg(channels)
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("rathaus starts")
}

pub fn test_settings(db: &Path) -> Settings {
    Settings {
        listen: "127.0.0.1:0".into(),
        database: format!("sqlite://{}", db.display())
            .parse()
            .expect("database url"),
        knowledge: Some(repo().join("knowledge")),
        channels: None,
        console: Default::default(),
        retention: None,
        answering: Answering {
            thesaurus: installed_thesaurus(),
            ..Answering::default()
        },
        telegram_token: None,
        limits: Default::default(),
        metrics_listen: Some("127.0.0.1:0".into()),
        stop_within: rathaus::app::STOP_WITHIN,
    }
}

/// The thesaurus where `mythes-de` is installed (as CI installs it), read once for every
/// server of the test run: the servers read questions as a city's does.
fn installed_thesaurus() -> Option<Arc<Thesaurus>> {
    static INSTALLED: OnceLock<Option<Arc<Thesaurus>>> = OnceLock::new();
    INSTALLED.get_or_init(Thesaurus::installed).clone()
}

/// As [`spawn_app`], with settings changed by `configure` first.
pub async fn spawn_configured(configure: impl FnOnce(&mut Settings)) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("rathaus.db");
    let mut settings = test_settings(&db);
    configure(&mut settings);
    let (server, port, conversations) = Server::start(settings.clone()).await;
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        client: reqwest::Client::new(),
        database: db,
        conversations,
        // A restart comes back on the same port.
        settings: Settings {
            listen: format!("127.0.0.1:{port}"),
            ..settings
        },
        server,
        _dir: dir,
    }
}

impl TestApp {
    /// The metrics, read where Prometheus reads them.
    pub async fn metrics(&self) -> String {
        let address = self.server.metrics.expect("the tests serve metrics");
        self.client
            .get(format!("http://{address}/metrics"))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("metrics text")
    }

    /// Stops the server as a crash would (every open connection drops) and starts a new one
    /// on the same port and database.
    pub async fn restart(&mut self) {
        self.server.stop().await;
        let (server, _, conversations) = Server::start(self.settings.clone()).await;
        self.server = server;
        self.conversations = conversations;
    }

    /// A GET's body as JSON.
    pub async fn get_json(&self, path: &str) -> Value {
        self.client
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Waits until the server answers by meaning (`/healthz` says so), at most `seconds`.
    pub async fn wait_for_meaning(&self, seconds: u64) -> bool {
        let until = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
        while std::time::Instant::now() < until {
            if self.get_json("/healthz").await["meaning"] == true {
                return true;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        false
    }

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

    /// The citizen presses "talk to a person" (no body).
    pub async fn handoff(&self, id: &str, token: &str) -> reqwest::Response {
        self.client
            .post(format!(
                "{}/api/v1/conversations/{id}/handoff",
                self.address
            ))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
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

    /// Adds a staff account straight to the app's database; returns its password.
    pub async fn add_staff(&self, email: &str, name: &str, role: StaffRole) -> String {
        let store = rathaus::store::open(
            &format!("sqlite://{}", self.database.display())
                .parse()
                .unwrap(),
        )
        .await
        .expect("store opens");
        let password = format!("{name} geheim 12345");
        let staff = Staff {
            id: StaffId::new(),
            email: email.into(),
            name: name.into(),
            role,
            active: true,
        };
        store
            .add_staff(&staff, &auth::hash_password(&password).unwrap(), 0)
            .await
            .expect("staff added");
        password
    }

    /// Signs a staff member in through the login form, as a browser would.
    pub async fn staff_login(&self, email: &str, password: &str) -> StaffClient {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let (login_cookie, csrf) = login_form(&client, &self.address).await;
        let r = client
            .post(format!("{}/console/login", self.address))
            .header("cookie", format!("rathaus_login={login_cookie}"))
            .form(&[("email", email), ("password", password), ("csrf", &csrf)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303, "login of {email}");
        let session = set_cookie(&r, "rathaus_session").expect("a session cookie");
        let mut staff = StaffClient {
            address: self.address.clone(),
            client,
            session,
            csrf: String::new(),
        };
        let queue = staff.get("/console").await;
        assert_eq!(queue.status(), 200);
        staff.csrf = hidden_csrf(&queue.text().await.unwrap());
        staff
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

/// The login page's double-submit token: (cookie value, form value).
pub async fn login_form(client: &reqwest::Client, address: &str) -> (String, String) {
    let r = client
        .get(format!("{address}/console/login"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let cookie = set_cookie(&r, "rathaus_login").expect("a login cookie");
    (cookie, hidden_csrf(&r.text().await.unwrap()))
}

/// The value a response sets for a cookie, and nothing of its attributes.
pub fn set_cookie(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| {
            let (pair, _) = v.split_once(';').unwrap_or((v, ""));
            let (k, value) = pair.split_once('=')?;
            (k == name).then(|| value.to_string())
        })
}

/// The full `Set-Cookie` line for a cookie, attributes included.
pub fn set_cookie_line(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(str::to_string)
}

pub fn hidden_csrf(html: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).expect("a CSRF field") + marker.len();
    html[start..start + html[start..].find('"').unwrap()].to_string()
}

/// A signed-in staff member's browser, without the browser.
pub struct StaffClient {
    pub address: String,
    pub client: reqwest::Client,
    pub session: String,
    pub csrf: String,
}

impl StaffClient {
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.address))
            .header("cookie", format!("rathaus_session={}", self.session))
            .send()
            .await
            .unwrap()
    }

    /// Posts a console form with this session's CSRF token.
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let mut form: Vec<(&str, &str)> = vec![("csrf", &self.csrf)];
        form.extend_from_slice(fields);
        self.post_raw(path, &form).await
    }

    /// A staff action on a conversation (`claim`, `reply`, `close`, …); its status.
    pub async fn act(
        &self,
        conversation: &str,
        action: &str,
        fields: &[(&str, &str)],
    ) -> reqwest::StatusCode {
        self.post(
            &format!("/console/conversations/{conversation}/{action}"),
            fields,
        )
        .await
        .status()
    }

    /// Posts exactly these fields (no CSRF token added).
    pub async fn post_raw(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        self.client
            .post(format!("{}{path}", self.address))
            .header("cookie", format!("rathaus_session={}", self.session))
            .form(fields)
            .send()
            .await
            .unwrap()
    }
}

/// A fresh PostgreSQL database for one test (PostgreSQL runs on the project's machines;
/// `.ci/run` makes sure of it): its URL, and an admin connection that can drop it.
pub async fn postgres_database(prefix: &str) -> (String, String, sqlx::PgConnection) {
    use sqlx::Connection;
    let admin_url = std::env::var("RATHAUS_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let name = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect(&admin_url)
        .await
        .expect("PostgreSQL must run for this test (see .ci/run)");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
    let base = admin_url.rsplit_once('/').map(|(b, _)| b).unwrap();
    (format!("{base}/{name}"), name, admin)
}
