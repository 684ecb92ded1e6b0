//! The Telegram channel against a local stand-in for the Bot API: a small HTTP server that
//! speaks the Bot API's JSON (getMe, getUpdates with long polling and offsets, sendMessage,
//! editMessageReplyMarkup, answerCallbackQuery, setWebhook, deleteWebhook, 429 with
//! retry_after), wired in through the channel's `api_url` (teloxide's `set_api_url`).
//! Polling and webhook mode, the handoff to the console and back, groups, media, and a crash
//! in the middle of a batch with a second instance taking over.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use rathaus::store::{
    Author, Channel, ConversationId, ConversationState, Received, StaffRole, Store,
};
use serde_json::{Value, json};
use tokio::sync::Notify;

use crate::helpers::{TestApp, spawn_configured};

const TOKEN: &str = "123456:TEST-token_for-the-stand-in";
const BOT_ID: i64 = 999_001;
const BOT_NAME: &str = "MusterstadtBot";
const PRIVACY: &str = "https://www.musterstadt.example/datenschutz";
/// Longest wait for something the channel should do at once.
const PATIENCE: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------------------
// The stand-in for the Bot API

/// A call the stand-in accepted, with its parameters as sent.
#[derive(Debug, Clone)]
struct Call {
    method: String,
    params: Value,
}

#[derive(Default)]
struct Inner {
    /// Every update ever offered, and the id below which the bot confirmed them.
    updates: Vec<Value>,
    confirmed: i64,
    next_update: i64,
    next_message: i64,
    calls: Vec<Call>,
    /// sendMessage calls to this chat never get an answer and never reach the chat, as when
    /// the connection breaks before Telegram takes the request.
    hold_chat: Option<i64>,
    held: u32,
    /// The next this many sendMessage calls get 429 Too Many Requests, with this
    /// retry_after (default 1 second).
    too_many: u32,
    retry_after: u64,
    rate_limited: u32,
    /// getUpdates calls in progress, and how often two overlapped (Telegram ends one of them
    /// with 409 Conflict when two programs poll the same bot).
    polls: u32,
    overlapping_polls: u32,
}

struct BotApi {
    url: String,
    state: Arc<ApiState>,
}

struct ApiState {
    inner: Mutex<Inner>,
    changed: Notify,
}

impl ApiState {
    fn change<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        let out = f(&mut self.inner.lock().unwrap());
        self.changed.notify_waiters();
        out
    }
}

fn ok(result: Value) -> Response {
    axum::Json(json!({ "ok": true, "result": result })).into_response()
}

fn chat(id: i64) -> Value {
    if id < 0 {
        json!({ "id": id, "type": "supergroup", "title": "Nachbarschaft Nord" })
    } else {
        json!({ "id": id, "type": "private", "first_name": "Erika", "last_name": "Mustermann" })
    }
}

fn bot_user() -> Value {
    json!({ "id": BOT_ID, "is_bot": true, "first_name": "Rathaus Musterstadt", "username": BOT_NAME })
}

fn citizen(id: i64, lang: &str) -> Value {
    json!({ "id": id, "is_bot": false, "first_name": "Erika", "language_code": lang })
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Decrements the count of getUpdates in progress however the call ends.
struct Polling(Arc<ApiState>);

impl Drop for Polling {
    fn drop(&mut self) {
        self.0.change(|i| i.polls -= 1);
    }
}

async fn method(
    State(s): State<Arc<ApiState>>,
    UrlPath((bot, method)): UrlPath<(String, String)>,
    request: axum::extract::Request,
) -> Response {
    if bot != format!("bot{TOKEN}") {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({ "ok": false, "error_code": 401, "description": "Unauthorized" })),
        )
            .into_response();
    }
    // Method names are case-insensitive in the Bot API (teloxide sends "GetMe").
    let known = [
        "getMe",
        "getUpdates",
        "sendMessage",
        "editMessageReplyMarkup",
        "answerCallbackQuery",
        "setWebhook",
        "deleteWebhook",
    ];
    let Some(method) = known
        .iter()
        .find(|k| k.eq_ignore_ascii_case(&method))
        .map(|k| k.to_string())
    else {
        return (
            StatusCode::NOT_FOUND,
            axum::Json(json!({ "ok": false, "error_code": 404, "description": "Not Found" })),
        )
            .into_response();
    };
    let params = parameters(request).await;
    let record = |s: &ApiState, params: &Value| {
        s.change(|i| {
            i.calls.push(Call {
                method: method.clone(),
                params: params.clone(),
            })
        })
    };
    match method.as_str() {
        "getMe" => {
            record(&s, &params);
            let mut me = bot_user();
            me.as_object_mut().unwrap().extend(
                json!({
                    "can_join_groups": true,
                    "can_read_all_group_messages": false,
                    "supports_inline_queries": false,
                    "can_connect_to_business": false,
                    "has_main_web_app": false
                })
                .as_object()
                .unwrap()
                .clone(),
            );
            ok(me)
        }
        "getUpdates" => get_updates(s, params).await,
        "sendMessage" => {
            let to = params["chat_id"].as_i64().expect("chat_id");
            let retry_after = s.inner.lock().unwrap().retry_after.max(1);
            let hold = s.change(|i| {
                if i.too_many > 0 {
                    i.too_many -= 1;
                    i.rate_limited += 1;
                    return Some(true);
                }
                if i.hold_chat == Some(to) {
                    i.held += 1;
                    return Some(false);
                }
                None
            });
            match hold {
                Some(true) => {
                    return (
                        StatusCode::TOO_MANY_REQUESTS,
                        axum::Json(json!({
                            "ok": false,
                            "error_code": 429,
                            "description": format!("Too Many Requests: retry after {retry_after}"),
                            "parameters": { "retry_after": retry_after }
                        })),
                    )
                        .into_response();
                }
                Some(false) => std::future::pending::<()>().await,
                None => {}
            }
            let id = s.change(|i| {
                i.next_message += 1;
                // The id given to the message, for the tests (Telegram does not echo it).
                let mut params = params.clone();
                params["_message_id"] = json!(i.next_message);
                i.calls.push(Call {
                    method: method.clone(),
                    params,
                });
                i.next_message
            });
            ok(json!({
                "message_id": id,
                "date": now(),
                "chat": chat(to),
                "from": bot_user(),
                "text": params["text"],
            }))
        }
        "editMessageReplyMarkup" => {
            record(&s, &params);
            ok(json!({
                "message_id": params["message_id"],
                "date": now(),
                "edit_date": now(),
                "chat": chat(params["chat_id"].as_i64().unwrap()),
                "from": bot_user(),
                "text": "…",
            }))
        }
        "answerCallbackQuery" | "setWebhook" | "deleteWebhook" => {
            record(&s, &params);
            ok(json!(true))
        }
        _ => unreachable!("every known method is handled"),
    }
}

/// A call's parameters, sent as JSON or, by methods that may upload a file (setWebhook), as
/// multipart/form-data whose JSON-valued fields are JSON text.
async fn parameters(request: axum::extract::Request) -> Value {
    use axum::extract::FromRequest;
    let multipart = request
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("multipart/form-data"));
    if multipart {
        let mut form = axum::extract::Multipart::from_request(request, &())
            .await
            .expect("a multipart body");
        let mut params = serde_json::Map::new();
        while let Some(field) = form.next_field().await.expect("a multipart field") {
            let name = field.name().expect("a named field").to_string();
            let text = field.text().await.expect("a text field");
            let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
            params.insert(name, value);
        }
        return Value::Object(params);
    }
    let body = Bytes::from_request(request, &()).await.expect("a body");
    if body.is_empty() {
        json!({})
    } else {
        serde_json::from_slice(&body).expect("the bot sends JSON")
    }
}

/// Long polling as the Bot API does it: an offset confirms every update below it; the
/// answer is the unconfirmed updates, or, after up to `timeout` seconds, none.
async fn get_updates(s: Arc<ApiState>, params: Value) -> Response {
    let offset = params["offset"].as_i64();
    let timeout = Duration::from_secs(params["timeout"].as_u64().unwrap_or(0));
    assert_eq!(
        params["allowed_updates"],
        json!(["message", "edited_message", "callback_query"]),
        "the bot asks only for what it reads"
    );
    s.change(|i| {
        if let Some(o) = offset {
            i.confirmed = i.confirmed.max(o);
        }
        i.polls += 1;
        if i.polls > 1 {
            i.overlapping_polls += 1;
        }
        i.calls.push(Call {
            method: "getUpdates".into(),
            params: params.clone(),
        });
    });
    let _polling = Polling(s.clone());
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let changed = s.changed.notified();
        let batch: Vec<Value> = {
            let i = s.inner.lock().unwrap();
            i.updates
                .iter()
                .filter(|u| u["update_id"].as_i64().unwrap() >= i.confirmed)
                .take(100)
                .cloned()
                .collect()
        };
        if !batch.is_empty() || tokio::time::Instant::now() >= deadline {
            return ok(Value::Array(batch));
        }
        let _ = tokio::time::timeout_at(deadline, changed).await;
    }
}

impl BotApi {
    async fn start() -> BotApi {
        let state = Arc::new(ApiState {
            inner: Mutex::new(Inner {
                next_update: 100,
                ..Default::default()
            }),
            changed: Notify::new(),
        });
        let router = Router::new()
            .route("/{bot}/{method}", post(method))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await });
        BotApi { url, state }
    }

    /// Offers an update to the bot (getUpdates); returns its id.
    fn push(&self, kind: &str, body: Value) -> i64 {
        self.state.change(|i| {
            i.next_update += 1;
            i.updates
                .push(json!({ "update_id": i.next_update, kind: body }));
            i.next_update
        })
    }

    /// An update as Telegram would post it to a webhook (not offered to getUpdates).
    fn update(&self, kind: &str, body: Value) -> Value {
        self.state.change(|i| {
            i.next_update += 1;
            json!({ "update_id": i.next_update, kind: body })
        })
    }

    /// A text message from a citizen in a chat (a group when `chat` is negative).
    fn message(&self, chat_id: i64, lang: &str, text: &str) -> Value {
        let from = if chat_id < 0 { 4242 } else { chat_id };
        let id = self.state.change(|i| {
            i.next_message += 1;
            i.next_message
        });
        json!({
            "message_id": id,
            "date": now(),
            "chat": chat(chat_id),
            "from": citizen(from, lang),
            "text": text,
        })
    }

    fn say(&self, chat_id: i64, text: &str) -> i64 {
        let m = self.message(chat_id, "de", text);
        self.push("message", m)
    }

    /// A press on a button of a message the bot sent.
    fn press(&self, chat_id: i64, message_id: i64, data: &str) -> (i64, String) {
        let query = format!("cbq-{message_id}-{data}");
        let id = self.push(
            "callback_query",
            json!({
                "id": query,
                "from": citizen(chat_id, "de"),
                "chat_instance": "-7",
                "data": data,
                "message": {
                    "message_id": message_id,
                    "date": now(),
                    "chat": chat(chat_id),
                    "from": bot_user(),
                    "text": "Meinen Sie eines davon?",
                },
            }),
        );
        (id, query)
    }

    fn calls(&self, method: &str) -> Vec<Value> {
        self.state
            .inner
            .lock()
            .unwrap()
            .calls
            .iter()
            .filter(|c| c.method == method)
            .map(|c| c.params.clone())
            .collect()
    }

    /// The messages the bot sent to a chat, in order.
    fn sent_to(&self, chat_id: i64) -> Vec<Value> {
        self.calls("sendMessage")
            .into_iter()
            .filter(|p| p["chat_id"] == json!(chat_id))
            .collect()
    }

    /// Waits until `check` finds what it looks for in the stand-in's state.
    async fn wait<T>(&self, what: &str, check: impl Fn(&BotApi) -> Option<T>) -> T {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let changed = self.state.changed.notified();
            if let Some(t) = check(self) {
                return t;
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                let calls: Vec<String> = self
                    .state
                    .inner
                    .lock()
                    .unwrap()
                    .calls
                    .iter()
                    .filter(|c| c.method != "getUpdates")
                    .map(|c| format!("{} {}", c.method, c.params))
                    .collect();
                panic!("waited in vain for {what}; calls: {calls:#?}");
            }
        }
    }

    /// Waits for the `n`-th message (1-based) to a chat.
    async fn nth_to(&self, chat_id: i64, n: usize) -> Value {
        self.wait(&format!("message {n} to chat {chat_id}"), |api| {
            api.sent_to(chat_id).get(n - 1).cloned()
        })
        .await
    }
}

// ---------------------------------------------------------------------------------------
// Rathaus with the channel

fn channels_dir(dir: &Path, api: &BotApi, extra: &str) -> std::path::PathBuf {
    let channels = dir.join("channels");
    std::fs::create_dir_all(&channels).unwrap();
    std::fs::write(
        channels.join("telegram.toml"),
        format!(
            "enabled = true\napi_url = \"{}\"\nprivacy_url = \"{PRIVACY}\"\npoll_timeout_seconds = 1\n{extra}",
            api.url
        ),
    )
    .unwrap();
    channels
}

struct Bot {
    app: TestApp,
    api: BotApi,
    store: Arc<dyn Store>,
    _dir: tempfile::TempDir,
}

async fn spawn_bot(extra: &str) -> Bot {
    let api = BotApi::start().await;
    let dir = tempfile::tempdir().unwrap();
    let channels = channels_dir(dir.path(), &api, extra);
    let app = spawn_configured(|s| {
        s.channels = Some(channels);
        s.telegram_token = Some(TOKEN.to_string().into());
    })
    .await;
    let store = open(&app.database).await;
    Bot {
        app,
        api,
        store,
        _dir: dir,
    }
}

async fn open(db: &Path) -> Arc<dyn Store> {
    rathaus::store::open(&format!("sqlite://{}", db.display()).parse().unwrap())
        .await
        .unwrap()
}

/// The conversation a chat has.
async fn conversation_of(store: &dyn Store, chat_id: i64) -> ConversationId {
    store
        .telegram_conversation(chat_id)
        .await
        .unwrap()
        .expect("the chat has a conversation")
}

/// What the citizen of a chat wrote, as the transcript has it.
async fn citizen_lines(store: &dyn Store, chat_id: i64) -> Vec<String> {
    let Some(id) = store.telegram_conversation(chat_id).await.unwrap() else {
        return Vec::new();
    };
    store
        .transcript(id)
        .await
        .unwrap()
        .into_iter()
        .filter(|m| m.author == Author::Citizen)
        .map(|m| m.text)
        .collect()
}

/// Asks `check` until it gives a value; fails the test, saying what did not happen, when
/// that takes longer than [`PATIENCE`].
async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(tokio::time::Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until every update the app received is worked and every message to a chat sent.
async fn settled(store: &dyn Store) {
    eventually("every update worked", || async {
        store
            .inbox_pending(Channel::Telegram, 1)
            .await
            .unwrap()
            .is_empty()
            .then_some(())
    })
    .await
}

/// The outbox states of a staff reply that a test waits for.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Delivery {
    /// Refused for now, to be tried again.
    Retrying,
    Sent,
}

/// Waits until the staff reply of a conversation is in `want`; returns its attempts so far.
async fn delivery(db: &Path, id: ConversationId, want: Delivery) -> i64 {
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    let pool = &pool;
    eventually(&format!("staff reply {want:?}"), || async move {
        let (state, error, attempts): (Option<String>, Option<String>, i64) = sqlx::query_as(
            "SELECT delivery_state, delivery_error, delivery_attempts FROM messages \
             WHERE conversation_id = $1 AND author = 'staff'",
        )
        .bind(id.to_string())
        .fetch_one(pool)
        .await
        .unwrap();
        let now = match (state.as_deref(), &error) {
            (Some("sent"), _) => Some(Delivery::Sent),
            (None, Some(_)) => Some(Delivery::Retrying),
            _ => None,
        };
        (now == Some(want)).then_some(attempts)
    })
    .await
}

fn text(m: &Value) -> &str {
    m["text"].as_str().expect("a text")
}

/// (label, callback data) of a message's inline buttons.
fn buttons(m: &Value) -> Vec<(String, String)> {
    m["reply_markup"]["inline_keyboard"]
        .as_array()
        .map(|rows| {
            rows.iter()
                .flat_map(|r| r.as_array().unwrap())
                .map(|b| {
                    (
                        b["text"].as_str().unwrap().to_string(),
                        b["callback_data"].as_str().unwrap().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------
// Polling

#[tokio::test]
async fn polling_a_whole_dialogue_from_greeting_to_a_staff_reply() {
    let bot = spawn_bot("").await;
    let (api, store) = (&bot.api, bot.store.as_ref());
    let erika = 4711;

    // /start: greeting, an automated assistant, how to reach a person, the privacy notice.
    api.say(erika, "/start");
    let greeting = api.nth_to(erika, 1).await;
    assert_eq!(greeting["parse_mode"], "HTML");
    assert!(
        text(&greeting).contains("automatisches Programm"),
        "{greeting}"
    );
    assert!(text(&greeting).contains("/mensch"));
    assert!(
        text(&greeting).contains(&format!("<a href=\"{PRIVACY}\">")),
        "{greeting}"
    );

    // A question: the answer quotes the entry, names it and links its source.
    api.say(erika, "Was kostet ein Reisepass?");
    let answer = api.nth_to(erika, 2).await;
    let html = text(&answer);
    assert!(html.contains("<b>Reisepass beantragen</b>"), "{html}");
    assert!(
        html.contains("<a href=\"https://www.musterstadt.example/service/reisepass\">"),
        "{html}"
    );
    assert!(buttons(&answer).is_empty());

    // An ambiguous question: the choices as buttons, one pressed, its entry answered.
    api.say(erika, "Hund");
    let clarify = api.nth_to(erika, 3).await;
    let choices = buttons(&clarify);
    // The three closest entries, both dog entries first, numbered in the order the reply
    // ranks them, then a person.
    assert_eq!(choices.len(), 4, "{choices:?}");
    assert!(choices[2].0.starts_with("3. "), "{choices:?}");
    let name = |id: &str| match id {
        "hund-abmelden" => "Hund abmelden (Hundesteuer)",
        "hund-anmelden" => "Hund anmelden (Hundesteuer)",
        other => panic!("unexpected choice {other}"),
    };
    for (n, (label, id)) in choices[..2].iter().enumerate() {
        assert_eq!(label, &format!("{}. {}", n + 1, name(id)), "{choices:?}");
    }
    assert_ne!(choices[0].1, choices[1].1, "{choices:?}");
    assert_eq!(
        choices[3],
        (
            "Mit einem Menschen sprechen".to_string(),
            "!person".to_string()
        )
    );
    let clarify_id = clarify["_message_id"].as_i64().unwrap();
    let (_, query) = api.press(erika, clarify_id, "hund-anmelden");
    let chosen = api.nth_to(erika, 4).await;
    assert!(
        text(&chosen).contains("<b>Hund anmelden (Hundesteuer)</b>"),
        "{chosen}"
    );
    let acks = api.calls("answerCallbackQuery");
    assert_eq!(acks.len(), 1);
    assert_eq!(acks[0]["callback_query_id"], query);
    let edits = api.calls("editMessageReplyMarkup");
    assert_eq!(edits.len(), 1, "the buttons are taken away once used");
    assert_eq!(edits[0]["message_id"], clarify_id);
    assert_eq!(edits[0]["chat_id"], erika);

    // /mensch: handed over; the conversation waits in the console's queue.
    api.say(erika, "/mensch");
    let handoff = api.nth_to(erika, 5).await;
    assert!(text(&handoff).contains("Mitarbeiter"), "{handoff}");
    let id = conversation_of(store, erika).await;
    let c = store.conversation(id).await.unwrap().unwrap();
    assert_eq!(c.state, ConversationState::Waiting);
    assert_eq!(c.channel, rathaus::store::Channel::Telegram);

    let password = bot
        .app
        .add_staff("anna@musterstadt.example", "Anna Weber", StaffRole::Agent)
        .await;
    let anna = bot
        .app
        .staff_login("anna@musterstadt.example", &password)
        .await;
    let queue = anna.get("/console").await.text().await.unwrap();
    assert!(
        queue.contains(&id.to_string()),
        "the Telegram conversation is queued"
    );
    let page = format!("/console/conversations/{id}");
    assert_eq!(anna.post(&format!("{page}/claim"), &[]).await.status(), 303);

    // While claimed the bot is silent; the citizen's message reaches the transcript.
    api.say(erika, "Sind Sie noch da?");
    eventually("the message recorded", || async {
        citizen_lines(store, erika)
            .await
            .contains(&"Sind Sie noch da?".to_string())
            .then_some(())
    })
    .await;
    settled(store).await;
    assert_eq!(
        api.sent_to(erika).len(),
        5,
        "the bot said nothing while claimed"
    );

    // Anna's reply from the console reaches the chat, under her name.
    let reply = "Guten Tag, ich kümmere mich um Ihre Hundeanmeldung & melde mich <heute>.";
    assert_eq!(
        anna.post(&format!("{page}/reply"), &[("text", reply)])
            .await
            .status(),
        303
    );
    let delivered = api.nth_to(erika, 6).await;
    assert_eq!(
        text(&delivered),
        "<b>Anna Weber</b>\nGuten Tag, ich kümmere mich um Ihre Hundeanmeldung &amp; melde mich &lt;heute&gt;."
    );
    assert_eq!(delivered["parse_mode"], "HTML");

    // The transcript has the whole conversation on the Telegram channel.
    let lines = citizen_lines(store, erika).await;
    assert_eq!(
        lines,
        [
            "/start",
            "Was kostet ein Reisepass?",
            "Hund",
            "Hund anmelden (Hundesteuer)",
            "/mensch",
            "Sind Sie noch da?"
        ]
    );
    let transcript = store.transcript(id).await.unwrap();
    assert!(
        transcript
            .iter()
            .all(|m| m.channel == rathaus::store::Channel::Telegram)
    );
}

#[tokio::test]
async fn a_staff_reply_telegram_refuses_for_now_goes_out_once_after_a_restart() {
    let mut bot = spawn_bot("").await;
    let (api, store) = (&bot.api, bot.store.clone());
    let chat_id = 6060;
    api.say(chat_id, "/agent");
    let handoff = api.nth_to(chat_id, 1).await;
    assert!(text(&handoff).contains("Mitarbeiter"), "{handoff}");
    let id = conversation_of(store.as_ref(), chat_id).await;
    let password = bot
        .app
        .add_staff("bernd@musterstadt.example", "Bernd Roth", StaffRole::Agent)
        .await;
    let bernd = bot
        .app
        .staff_login("bernd@musterstadt.example", &password)
        .await;
    let page = format!("/console/conversations/{id}");
    assert_eq!(
        bernd.post(&format!("{page}/claim"), &[]).await.status(),
        303
    );

    // Telegram refuses the reply for now (429, retry after 3 seconds); Rathaus goes down
    // before it tries again.
    api.state.change(|i| {
        i.too_many = 1;
        i.retry_after = 3;
    });
    let r = bernd
        .post(&format!("{page}/reply"), &[("text", "Ihr Antrag ist da.")])
        .await;
    assert_eq!(r.status(), 303);
    let db = bot.app.database.clone();
    assert_eq!(delivery(&db, id, Delivery::Retrying).await, 1);
    assert_eq!(api.state.inner.lock().unwrap().rate_limited, 1);
    bot.app.restart().await;

    let delivered = api.nth_to(chat_id, 2).await;
    assert_eq!(text(&delivered), "<b>Bernd Roth</b>\nIhr Antrag ist da.");
    // Kept as sent after its second attempt: it is not sent again.
    assert_eq!(delivery(&db, id, Delivery::Sent).await, 2);
    assert_eq!(api.sent_to(chat_id).len(), 2);
}

#[tokio::test]
async fn media_edits_english_and_a_429_are_handled() {
    let bot = spawn_bot("").await;
    let (api, store) = (&bot.api, bot.store.as_ref());
    let chat_id = 5150;

    // A photo with a caption and a voice message: a polite note each, recorded by kind.
    let mut photo = api.message(chat_id, "de", "");
    let obj = photo.as_object_mut().unwrap();
    obj.remove("text");
    obj.insert(
        "photo".into(),
        json!([{ "file_id": "AgAD", "file_unique_id": "u1", "width": 90, "height": 90 }]),
    );
    obj.insert("caption".into(), json!("Mein Ausweis ist kaputt"));
    api.push("message", photo);
    let note = api.nth_to(chat_id, 1).await;
    assert!(text(&note).contains("nur Textnachrichten"), "{note}");

    let mut voice = api.message(chat_id, "en-US", "");
    let obj = voice.as_object_mut().unwrap();
    obj.remove("text");
    obj.insert(
        "voice".into(),
        json!({ "file_id": "AwAD", "file_unique_id": "u2", "duration": 4, "mime_type": "audio/ogg" }),
    );
    api.push("message", voice);
    let note = api.nth_to(chat_id, 2).await;
    assert!(text(&note).contains("only read text messages"), "{note}");
    assert_eq!(
        citizen_lines(store, chat_id).await,
        ["[Foto] Mein Ausweis ist kaputt", "[Sprachnachricht]"]
    );

    // Telegram asks to slow down once: the answer still arrives, once.
    api.state.change(|i| i.too_many = 1);
    let question = api.message(chat_id, "en", "How much is a passport?");
    let question_id = question["message_id"].clone();
    api.push("message", question.clone());
    let answer = api.nth_to(chat_id, 3).await;
    // In English, as the citizen's app is set.
    assert!(
        text(&answer).contains("<b>Applying for a passport</b>"),
        "{answer}"
    );
    assert_eq!(api.state.inner.lock().unwrap().rate_limited, 1);

    // The citizen corrects the question: the corrected one is answered, quoting it.
    let mut edited = question;
    edited["text"] = json!("Was kostet ein Personalausweis?");
    edited["edit_date"] = json!(now());
    api.push("edited_message", edited);
    let corrected = api.nth_to(chat_id, 4).await;
    // In English, as the citizen's app is set.
    assert!(
        text(&corrected).contains("<b>Applying for an identity card</b>"),
        "{corrected}"
    );
    assert_eq!(corrected["reply_parameters"]["message_id"], question_id);
    settled(store).await;
    assert_eq!(api.sent_to(chat_id).len(), 4);
}

#[tokio::test]
async fn in_groups_the_bot_answers_only_when_addressed() {
    let bot = spawn_bot("").await;
    let (api, store) = (&bot.api, bot.store.as_ref());
    let group = -100_777;

    api.say(group, "Wer bringt morgen den Kuchen mit?");
    let addressed = api.message(group, "de", "@musterstadtbot was kostet ein Reisepass?");
    let addressed_id = addressed["message_id"].clone();
    api.push("message", addressed);
    let answer = api.nth_to(group, 1).await;
    assert!(text(&answer).contains("Reisepass"), "{answer}");
    // In a group the answer quotes the question it answers.
    assert_eq!(answer["reply_parameters"]["message_id"], addressed_id);
    api.say(group, "/start@SomeOtherBot");
    api.say(group, "Danke euch allen");
    settled(store).await;
    assert_eq!(api.sent_to(group).len(), 1);
    // What was not meant for the bot is not kept either.
    assert_eq!(
        citizen_lines(store, group).await,
        ["was kostet ein Reisepass?"]
    );
}

// ---------------------------------------------------------------------------------------
// Webhook

#[tokio::test]
async fn webhook_updates_are_taken_only_with_the_secret_token() {
    let bot =
        spawn_bot("mode = \"webhook\"\npublic_url = \"https://rathaus.musterstadt.example/\"\n")
            .await;
    let (api, store, app) = (&bot.api, bot.store.as_ref(), &bot.app);

    // On start Rathaus registers its webhook: a secret path that is not the token.
    let registration = api
        .wait("setWebhook", |api| api.calls("setWebhook").pop())
        .await;
    let url = registration["url"].as_str().unwrap();
    let path = url
        .strip_prefix("https://rathaus.musterstadt.example")
        .expect("under the public URL");
    assert!(path.starts_with("/telegram/webhook/"), "{path}");
    let secret = registration["secret_token"].as_str().unwrap();
    for part in TOKEN.split(':') {
        assert!(!path.contains(part) && !secret.contains(part));
    }
    assert_eq!(
        registration["allowed_updates"],
        json!(["message", "edited_message", "callback_query"])
    );
    assert!(
        api.calls("getUpdates").is_empty(),
        "a webhook bot does not poll"
    );

    let hook = format!("{}{path}", app.address);
    let post = |update: &Value, secret: Option<&str>| {
        let mut r = app.client.post(&hook).json(update);
        if let Some(s) = secret {
            r = r.header("X-Telegram-Bot-Api-Secret-Token", s);
        }
        r.send()
    };
    let chat_id = 8080;
    let forged = api.update("message", api.message(chat_id, "de", "Wie ist das Wetter?"));
    let r = post(&forged, None).await.unwrap();
    assert_eq!(r.status(), 401);
    let r = post(&forged, Some("guessed")).await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(
        r.json::<Value>().await.unwrap()["code"],
        "invalid_secret_token"
    );
    // The token as path finds nothing.
    let r = app
        .client
        .post(format!("{}/telegram/webhook/{TOKEN}", app.address))
        .header("X-Telegram-Bot-Api-Secret-Token", secret)
        .json(&forged)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // Not JSON, or JSON without an update id: refused with a clear error.
    let r = app
        .client
        .post(&hook)
        .header("X-Telegram-Bot-Api-Secret-Token", secret)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "invalid_json");
    let r = post(&json!({ "message": {} }), Some(secret)).await.unwrap();
    assert_eq!(r.status(), 400);

    // The real one, sent twice as Telegram does when it missed the first answer.
    let genuine = api.update(
        "message",
        api.message(chat_id, "de", "Was kostet ein Reisepass?"),
    );
    for _ in 0..2 {
        let r = post(&genuine, Some(secret)).await.unwrap();
        assert_eq!(r.status(), 200);
    }
    let answer = api.nth_to(chat_id, 1).await;
    assert!(
        text(&answer).contains("<b>Reisepass beantragen</b>"),
        "{answer}"
    );
    // The webhook is served like the API: counted in the metrics, under a route name that
    // does not give its secret path away.
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("route=\"/telegram/webhook/{path}\""),
        "{metrics}"
    );
    assert!(!metrics.contains(path), "{metrics}");

    // A button press posted in the documented shape is answered too.
    let clarify_update = api.update("message", api.message(chat_id, "de", "Gewerbe"));
    assert_eq!(
        post(&clarify_update, Some(secret)).await.unwrap().status(),
        200
    );
    let clarify = api.nth_to(chat_id, 2).await;
    // The first choice's button, whichever entry the ranker put there.
    let (label, data) = buttons(&clarify).remove(0);
    let picked = label.trim_start_matches(|c: char| c.is_ascii_digit() || c == '.' || c == ' ');
    let press = api.update(
        "callback_query",
        json!({
            "id": "4382bfdwdsb323b2d9",
            "from": citizen(chat_id, "de"),
            "chat_instance": "-42",
            "data": data,
            "message": { "message_id": clarify["_message_id"], "date": now(), "chat": chat(chat_id), "from": bot_user(), "text": text(&clarify) },
        }),
    );
    assert_eq!(post(&press, Some(secret)).await.unwrap().status(), 200);
    let chosen = api.nth_to(chat_id, 3).await;
    assert!(
        text(&chosen).contains(&format!("<b>{picked}</b>")),
        "{picked}: {chosen}"
    );

    settled(store).await;
    assert_eq!(
        api.sent_to(chat_id).len(),
        3,
        "nothing answered twice or forged"
    );
    assert_eq!(
        citizen_lines(store, chat_id).await,
        ["Was kostet ein Reisepass?", "Gewerbe", picked]
    );
}

// ---------------------------------------------------------------------------------------
// Restart and lease

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_with_sigkill_mid_batch_nothing_is_lost_or_answered_twice() {
    let api = BotApi::start().await;
    let dir = tempfile::tempdir().unwrap();
    let channels = channels_dir(dir.path(), &api, "lease_seconds = 2\n");
    let db = dir.path().join("rathaus.db");
    let database = format!("sqlite://{}", db.display());
    let serve = || {
        crate::helpers::serve_process(&database, &channels, &[("RATHAUS_TELEGRAM_TOKEN", TOKEN)])
    };

    // The first instance polls and answers.
    let mut first = serve();
    api.wait("the first instance to poll", |api| {
        (!api.calls("getUpdates").is_empty()).then_some(())
    })
    .await;

    // One batch of three questions from two chats. The answer to bernd's first never gets
    // through before the first instance is killed, and his second waits behind it.
    let (anna, bernd) = (1001, 1002);
    api.state.change(|i| i.hold_chat = Some(bernd));
    let questions = [
        (anna, "Was kostet ein Reisepass?"),
        (bernd, "Wo melde ich meinen Hund an?"),
        (bernd, "Was kostet ein Personalausweis?"),
    ];
    let batch: Vec<Value> = questions
        .iter()
        .map(|(c, q)| {
            let m = api.message(*c, "de", q);
            api.update("message", m)
        })
        .collect();
    api.state.change(|i| i.updates.extend(batch));
    api.wait("the held answer to bernd", |api| {
        (api.state.inner.lock().unwrap().held > 0).then_some(())
    })
    .await;
    api.nth_to(anna, 1).await;
    // Anna's answer is through and recorded as sent before the kill: the kill hits bernd's
    // answer in flight. (An answer Telegram took but that was not recorded as sent yet can
    // go out twice; docs/channels.md says so.)
    let pool = sqlx::SqlitePool::connect(&database).await.unwrap();
    eventually("anna's answer recorded as sent", || async {
        let states: Vec<Option<String>> = sqlx::query_scalar(
            "SELECT m.delivery_state FROM messages m JOIN telegram_chats t \
             ON t.conversation_id = m.conversation_id WHERE t.chat_id = $1 AND m.author = 'bot'",
        )
        .bind(anna)
        .fetch_all(&pool)
        .await
        .unwrap();
        (states == [Some("sent".to_string())]).then_some(())
    })
    .await;
    first.kill().expect("SIGKILL");
    first.wait().unwrap();

    // As if the kill came before Telegram heard the batch confirmed: it offers all three
    // again to whoever polls next.
    api.state.change(|i| {
        i.hold_chat = None;
        i.confirmed = 0;
    });
    let mut second = serve();
    let dog = api.nth_to(bernd, 1).await;
    let id_card = api.nth_to(bernd, 2).await;
    let store = open(&db).await;
    settled(store.as_ref()).await;

    assert!(text(&api.sent_to(anna)[0]).contains("Reisepass"));
    assert!(text(&dog).contains("Hund anmelden"), "{dog}");
    assert!(text(&id_card).contains("Personalausweis"), "{id_card}");
    // Let a duplicate show up if there were one.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(api.sent_to(anna).len(), 1, "nothing answered twice");
    assert_eq!(api.sent_to(bernd).len(), 2, "nothing answered twice");
    assert_eq!(
        citizen_lines(store.as_ref(), anna).await,
        ["Was kostet ein Reisepass?"]
    );
    // Each of bernd's turns was recorded once, and his answers went out in order.
    let bernd_conversation = conversation_of(store.as_ref(), bernd).await;
    let turns: Vec<(Author, String)> = store
        .transcript(bernd_conversation)
        .await
        .unwrap()
        .into_iter()
        .map(|m| (m.author, m.text))
        .collect();
    assert_eq!(turns.len(), 4, "{turns:#?}");
    assert_eq!(
        turns[0],
        (Author::Citizen, "Wo melde ich meinen Hund an?".to_string())
    );
    assert_eq!(turns[1].0, Author::Bot);
    assert_eq!(
        turns[2],
        (
            Author::Citizen,
            "Was kostet ein Personalausweis?".to_string()
        )
    );
    assert_eq!(turns[3].0, Author::Bot);
    // Only ever one instance polled at a time.
    assert_eq!(api.state.inner.lock().unwrap().overlapping_polls, 0);
    second.kill().unwrap();
    second.wait().unwrap();
}

// ---------------------------------------------------------------------------------------
// The store's part, on SQLite and PostgreSQL (called from the store suite)

pub async fn store_suite(store: &dyn Store) {
    // The shared inbox, with Telegram's keys: kept once, pending in order, marked,
    // finished.
    let update = |id: i64, chat: Option<i64>| Received {
        key: id.to_string(),
        lane: chat.map(|c| c.to_string()),
        position: id,
        payload: format!("{{\"update_id\":{id}}}").into_bytes(),
    };
    let tg = Channel::Telegram;
    assert_eq!(
        store
            .inbox_receive(
                tg,
                &[update(7, Some(1)), update(5, Some(-2)), update(6, None)],
                10
            )
            .await
            .unwrap(),
        3
    );
    assert_eq!(
        store
            .inbox_receive(tg, &[update(7, Some(1)), update(8, Some(1))], 11)
            .await
            .unwrap(),
        1,
        "a message seen before is not kept again"
    );
    assert!(
        store
            .inbox_pending(Channel::Email, 10)
            .await
            .unwrap()
            .is_empty(),
        "each channel has its own"
    );
    let pending = store.inbox_pending(tg, 10).await.unwrap();
    let keys: Vec<&str> = pending.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(keys, ["5", "6", "7", "8"]);
    assert_eq!(pending[0].lane.as_deref(), Some("-2"));
    assert_eq!(pending[1].lane, None);
    assert_eq!(pending[2].payload, b"{\"update_id\":7}");

    // Chats and their conversations.
    let conversation = rathaus::store::Conversation {
        id: ConversationId::new(),
        channel: rathaus::store::Channel::Telegram,
        token_digest: "d".into(),
        state: ConversationState::Bot,
        context: Default::default(),
        handoff: None,
        assignee: None,
        created_at: 1,
        updated_at: 1,
    };
    store.create_conversation(&conversation).await.unwrap();
    let id = conversation.id;
    assert!(store.link_telegram_chat(1, id, 1).await.unwrap());
    assert!(
        !store
            .link_telegram_chat(1, ConversationId::new(), 2)
            .await
            .unwrap()
    );
    assert_eq!(store.telegram_conversation(1).await.unwrap(), Some(id));
    assert_eq!(store.telegram_chat(id).await.unwrap(), Some(1));
    assert_eq!(store.telegram_conversation(3).await.unwrap(), None);

    // The mark: where the transcript stood when processing began, kept across attempts.
    let say = |text: &'static str, at: i64| async move {
        let line = rathaus::store::NewMessage::citizen(rathaus::store::Channel::Telegram, text);
        store.append(id, &[line], at).await.unwrap();
    };
    say("Hallo", 2).await;
    let mark = store.inbox_mark(tg, "7", id).await.unwrap();
    assert_eq!(
        (mark.conversation, mark.seq, mark.first_attempt),
        (id, 1, true)
    );
    say("Noch da?", 3).await;
    let again = store.inbox_mark(tg, "7", id).await.unwrap();
    assert_eq!((again.seq, again.first_attempt), (1, false));

    store.inbox_finish(tg, "7", 20).await.unwrap();
    let keys: Vec<String> = store
        .inbox_pending(tg, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.key)
        .collect();
    assert_eq!(keys, ["5", "6", "8"]);
    assert_eq!(
        store
            .inbox_receive(tg, &[update(7, Some(1))], 21)
            .await
            .unwrap(),
        0,
        "a worked message received again is still known"
    );
    assert_eq!(store.inbox_prune(tg, 20).await.unwrap(), 0);
    assert_eq!(store.inbox_prune(tg, 21).await.unwrap(), 1);
    for key in ["5", "6", "8"] {
        store.inbox_finish(tg, key, 22).await.unwrap();
    }
    store.inbox_prune(tg, 23).await.unwrap();

    // A group that became a supergroup keeps its conversation.
    store.move_telegram_chat(1, -1001).await.unwrap();
    assert_eq!(store.telegram_conversation(-1001).await.unwrap(), Some(id));
    assert_eq!(store.telegram_chat(id).await.unwrap(), Some(-1001));

    // Deleting the conversation (retention, deletion on request) forgets the chat too.
    assert!(store.delete_conversation(id).await.unwrap());
    assert_eq!(store.telegram_conversation(-1001).await.unwrap(), None);
}
