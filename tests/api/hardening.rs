//! What an attacker or an unlucky operator does to a running Rathaus: long words, floods of
//! logins, conversations and streams, a stop while streams are open, a database that goes
//! away. Each test is one finding of the hardening review.

use std::time::{Duration, Instant};

use rathaus::limits::LimitSettings;
use rathaus::store::StaffRole;
use serde_json::{Value, json};

use crate::helpers::{login_form, postgres_database, repo, spawn_app, spawn_configured};

/// `rathaus serve` as a process of its own, on a fresh SQLite database, by words only.
struct Process {
    child: std::process::Child,
    address: String,
    _dir: tempfile::TempDir,
}

impl Process {
    async fn start(args: &[&str]) -> Process {
        let dir = tempfile::tempdir().unwrap();
        let database = format!("sqlite://{}", dir.path().join("rathaus.db").display());
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_rathaus"))
            .env("RATHAUS_WORDS_ONLY", "true")
            .env("RUST_LOG", "warn")
            .args(["--database", &database, "serve", "--listen"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("--knowledge")
            .arg(repo().join("knowledge"))
            .arg("--channels")
            .arg(dir.path().join("no-channels"))
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("rathaus starts");
        let process = Process {
            child,
            address: format!("http://127.0.0.1:{port}"),
            _dir: dir,
        };
        let client = reqwest::Client::new();
        let started = Instant::now();
        while client
            .get(format!("{}/healthz", process.address))
            .send()
            .await
            .is_err()
        {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "rathaus did not start"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        process
    }

    fn database(&self) -> String {
        format!("sqlite://{}", self._dir.path().join("rathaus.db").display())
    }

    /// The most memory the process has held (VmHWM), in MiB.
    fn peak_mib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .expect("VmHWM")
            / 1024
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn a_long_word_is_answered_at_once_while_health_stays_responsive() {
    let app = spawn_app().await;
    let one_word = "a".repeat(4000);
    // As many words of the longest length read as fit in a message: each is split into
    // compounds and corrected as a typo.
    let long_words =
        vec!["Rindfleischetikettierungsüberwachungsaufgabenübertragungsgesetz"; 62].join(" ");
    assert!(long_words.chars().count() <= 4000);
    let started = Instant::now();
    let answers =
        futures::future::join_all([&one_word, &long_words, &one_word, &long_words].map(|q| {
            let app = &app;
            async move {
                let r = app
                    .client
                    .post(format!("{}/api/v1/answer", app.address))
                    .json(&json!({ "q": q }))
                    .send()
                    .await
                    .unwrap();
                (r.status(), started.elapsed())
            }
        }));
    let health = async {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let asked = Instant::now();
        let r = app
            .client
            .get(format!("{}/healthz", app.address))
            .send()
            .await
            .unwrap();
        (r.status(), asked.elapsed())
    };
    let (answers, (health, health_took)) = tokio::join!(answers, health);
    for (status, took) in answers {
        assert_eq!(status, 200);
        assert!(took < Duration::from_secs(2), "answered after {took:?}");
    }
    assert_eq!(health, 200);
    assert!(
        health_took < Duration::from_secs(1),
        "health answered after {health_took:?}"
    );
}

/// Two hundred wrong passwords at once from one address, sixty at once for one account from
/// many addresses (behind the trusted local proxy): at most the limits get to the password
/// check, and the process stays small.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_wrong_logins_are_checked_at_most_the_limit_and_memory_stays_flat() {
    let rathaus = Process::start(&[]).await;
    let added = std::process::Command::new(env!("CARGO_BIN_EXE_rathaus"))
        .args([
            "--database",
            &rathaus.database(),
            "user",
            "add",
            "anna@example.org",
        ])
        .arg("--generate-password")
        .output()
        .unwrap();
    assert!(added.status.success(), "{added:?}");
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let (cookie, csrf) = login_form(&client, &rathaus.address).await;
    let attempt = |email: String, forwarded: Option<String>| {
        let (client, address, cookie, csrf) = (
            client.clone(),
            rathaus.address.clone(),
            cookie.clone(),
            csrf.clone(),
        );
        async move {
            let mut r = client
                .post(format!("{address}/console/login"))
                .header("cookie", format!("rathaus_login={cookie}"));
            if let Some(f) = forwarded {
                r = r.header("x-forwarded-for", f);
            }
            r.form(&[
                ("email", email.as_str()),
                ("password", "falsch"),
                ("csrf", &csrf),
            ])
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
        }
    };
    let count = |statuses: &[u16], status: u16| statuses.iter().filter(|s| **s == status).count();

    // One address, many accounts: the address's limit (20).
    let statuses = futures::future::join_all(
        (0..200).map(|i| attempt(format!("niemand{i}@example.org"), None)),
    )
    .await;
    assert!(count(&statuses, 401) <= 20, "{statuses:?}");
    assert_eq!(
        count(&statuses, 401) + count(&statuses, 429),
        200,
        "{statuses:?}"
    );

    // One account, many addresses: the account's limit (5).
    let statuses = futures::future::join_all(
        (0..60).map(|i| attempt("anna@example.org".into(), Some(format!("198.51.100.{i}")))),
    )
    .await;
    // Arriving all at once, each sees the others' attempts: as many as the limit, or fewer,
    // get to the check.
    assert!(count(&statuses, 401) <= 5, "{statuses:?}");
    assert_eq!(
        count(&statuses, 401) + count(&statuses, 429),
        60,
        "{statuses:?}"
    );

    let peak = rathaus.peak_mib();
    assert!(peak < 200, "the process held {peak} MiB at its peak");
}

#[tokio::test]
async fn a_login_token_the_client_made_up_is_refused() {
    let app = spawn_app().await;
    let password = app
        .add_staff("anna@example.org", "Anna", StaffRole::Agent)
        .await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let login = |cookie: String, csrf: String| {
        let (client, address, password) = (client.clone(), app.address.clone(), password.clone());
        async move {
            client
                .post(format!("{address}/console/login"))
                .header("cookie", format!("rathaus_login={cookie}"))
                .form(&[
                    ("email", "anna@example.org"),
                    ("password", password.as_str()),
                    ("csrf", csrf.as_str()),
                ])
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    // Cookie and field agree, but the server never issued them.
    let made_up = "selbstgemacht".to_string();
    assert_eq!(login(made_up.clone(), made_up).await, 403);
    // The server's token in the field, another in the cookie.
    let (_, csrf) = login_form(&client, &app.address).await;
    let (other, _) = login_form(&client, &app.address).await;
    assert_eq!(login(other, csrf.clone()).await, 403);
    let (cookie, csrf) = login_form(&client, &app.address).await;
    assert_eq!(login(cookie, csrf).await, 303);
}

async fn expect_limited(r: reqwest::Response, code: &str) {
    assert_eq!(r.status(), 429);
    let retry: u64 = r
        .headers()
        .get("retry-after")
        .expect("Retry-After")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=120).contains(&retry), "Retry-After: {retry}");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["code"], code, "{body}");
    assert!(!body["message"].as_str().unwrap().is_empty());
}

#[tokio::test]
async fn anonymous_floods_get_429_with_retry_after_while_health_stays_fast() {
    let app = spawn_configured(|s| {
        s.limits = LimitSettings {
            conversations_per_minute: 6,
            messages_per_minute: 8,
            streams_per_conversation: 2,
            streams_per_client: 3,
            waiting_per_client: 2,
            ..Default::default()
        }
    })
    .await;
    let start = || async {
        app.client
            .post(format!("{}/api/v1/conversations", app.address))
            .send()
            .await
            .unwrap()
    };
    let mut conversations = Vec::new();
    for _ in 0..6 {
        let r = start().await;
        assert_eq!(r.status(), 201);
        let v: Value = r.json().await.unwrap();
        conversations.push((
            v["id"].as_str().unwrap().to_string(),
            v["token"].as_str().unwrap().to_string(),
        ));
    }
    expect_limited(start().await, "too_many_conversations").await;

    // Streams: two on one conversation, three from one address.
    let stream = |(id, token): &(String, String)| {
        app.client
            .get(format!("{}/api/v1/conversations/{id}/events", app.address))
            .bearer_auth(token)
            .send()
    };
    let s1 = stream(&conversations[0]).await.unwrap();
    let s2 = stream(&conversations[0]).await.unwrap();
    assert_eq!((s1.status().as_u16(), s2.status().as_u16()), (200, 200));
    expect_limited(stream(&conversations[0]).await.unwrap(), "too_many_streams").await;
    let s3 = stream(&conversations[1]).await.unwrap();
    assert_eq!(s3.status(), 200);
    expect_limited(stream(&conversations[2]).await.unwrap(), "too_many_streams").await;
    drop((s1, s2));
    // A closed stream frees its place.
    let mut freed = false;
    for _ in 0..50 {
        let r = stream(&conversations[0]).await.unwrap();
        if r.status() == 200 {
            freed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(freed, "a closed stream's place was not given back");

    // Waiting: two conversations of one address in the queue, not a third.
    for (id, token) in &conversations[..2] {
        assert_eq!(app.handoff(id, token).await.status(), 200);
    }
    let (id, token) = &conversations[2];
    expect_limited(app.handoff(id, token).await, "too_many_waiting").await;
    let r = app
        .say(
            id,
            token,
            json!({"text": "Ich möchte mit einem Menschen sprechen"}),
        )
        .await;
    expect_limited(r, "too_many_waiting").await;
    // A conversation already with staff goes on.
    let (id, token) = &conversations[0];
    assert_eq!(
        app.say(id, token, json!({"text": "Hallo?"})).await.status(),
        200
    );

    // Messages: eight a minute from one address; two were sent above.
    let mut statuses = Vec::new();
    for _ in 0..7 {
        let r = app
            .client
            .post(format!("{}/api/v1/answer", app.address))
            .json(&json!({"q": "Was kostet ein Reisepass?"}))
            .send()
            .await
            .unwrap();
        statuses.push(r.status().as_u16());
        if r.status() == 429 {
            expect_limited(r, "too_many_messages").await;
            break;
        }
    }
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");

    let asked = Instant::now();
    let health = app.get_json("/healthz").await;
    assert_eq!(health["status"], "ok");
    assert!(asked.elapsed() < Duration::from_secs(1));
}

/// Reads a live stream until an event of `kind` arrives; its data.
async fn next_event(body: &mut reqwest::Response, seen: &mut String, kind: &str) -> Option<String> {
    let marker = format!("event: {kind}\n");
    loop {
        if let Some(i) = seen.find(&marker) {
            let rest = &seen[i + marker.len()..];
            if let Some(end) = rest.find("\n\n") {
                let data = rest[..end]
                    .lines()
                    .filter_map(|l| l.strip_prefix("data: "))
                    .collect::<String>();
                *seen = rest[end..].to_string();
                return Some(data);
            }
        }
        match tokio::time::timeout(Duration::from_secs(15), body.chunk()).await {
            Ok(Ok(Some(chunk))) => seen.push_str(&String::from_utf8_lossy(&chunk)),
            _ => return None,
        }
    }
}

#[tokio::test]
async fn waiting_citizens_hear_their_place_change_from_one_reckoning_per_change() {
    let app = spawn_app().await;
    let mut waiting = Vec::new();
    for _ in 0..3 {
        let (id, token) = app.start().await;
        assert_eq!(app.handoff(&id, &token).await.status(), 200);
        waiting.push((id, token));
    }
    let (id, token) = &waiting[2];
    let mut body = app
        .client
        .get(format!("{}/api/v1/conversations/{id}/events", app.address))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let mut seen = String::new();
    let place = |data: Option<String>| {
        let v: Value = serde_json::from_str(&data.expect("a state event")).unwrap();
        v["queue"]["position"].as_i64()
    };
    // The board may still be working out the first standing: the place comes with it.
    let mut first = place(next_event(&mut body, &mut seen, "state").await);
    if first.is_none() {
        first = place(next_event(&mut body, &mut seen, "state").await);
    }
    assert_eq!(first, Some(3));
    let password = app
        .add_staff("anna@example.org", "Anna", StaffRole::Agent)
        .await;
    let anna = app.staff_login("anna@example.org", &password).await;
    let r = anna
        .post(
            &format!("/console/conversations/{}/claim", waiting[0].0),
            &[],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        place(next_event(&mut body, &mut seen, "state").await),
        Some(2)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_ends_open_streams_and_the_process_exits_within_ten_seconds() {
    let mut rathaus = Process::start(&[]).await;
    let client = reqwest::Client::new();
    let started: Value = client
        .post(format!("{}/api/v1/conversations", rathaus.address))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (id, token) = (
        started["id"].as_str().unwrap(),
        started["token"].as_str().unwrap(),
    );
    let mut streams = Vec::new();
    for _ in 0..3 {
        let r = client
            .get(format!(
                "{}/api/v1/conversations/{id}/events",
                rathaus.address
            ))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let mut body = r;
        let mut seen = String::new();
        assert!(next_event(&mut body, &mut seen, "state").await.is_some());
        streams.push((body, seen));
    }
    let term = Instant::now();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &rathaus.child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    for (body, seen) in &mut streams {
        assert!(
            next_event(body, seen, "reconnect").await.is_some(),
            "the widget is told to reconnect"
        );
    }
    loop {
        if let Some(status) = rathaus.child.try_wait().unwrap() {
            assert!(status.success(), "{status:?}");
            break;
        }
        assert!(
            term.elapsed() < Duration::from_secs(10),
            "still running 10 s after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_database_that_went_away_gives_503_not_500_and_health_says_so() {
    let (url, name, mut admin) = postgres_database("rathaus_gone").await;
    let app = spawn_configured(|s| s.database = url.parse().unwrap()).await;
    assert_eq!(app.get_json("/healthz").await["database"], true);
    // The database is dropped under Rathaus: PostgreSQL ends its connections.
    sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await
        .unwrap();
    let health = app
        .client
        .get(format!("{}/healthz", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 503);
    let body: Value = health.json().await.unwrap();
    assert_eq!(body["database"], false);
    for _ in 0..3 {
        let r = app
            .client
            .post(format!("{}/api/v1/conversations", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 503);
        assert!(r.headers().contains_key("retry-after"));
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["code"], "unavailable", "{body}");
    }
}

#[tokio::test]
async fn the_console_shows_staff_only_handed_over_conversations_and_no_text_on_its_feed() {
    let app = spawn_app().await;
    let password = app
        .add_staff("anna@example.org", "Anna", StaffRole::Admin)
        .await;
    let anna = app.staff_login("anna@example.org", &password).await;
    // A conversation the bot handled alone stays the citizen's.
    let (id, token) = app.start().await;
    app.say(&id, &token, json!({"text": "Was kostet ein Reisepass?"}))
        .await;
    let r = anna.get(&format!("/console/conversations/{id}")).await;
    assert_eq!(r.status(), 404);
    let r = anna
        .get(&format!("/console/conversations/{id}/transcript"))
        .await;
    assert_eq!(r.status(), 404);

    // The live feed says what changed, never what was written.
    let feed = anna
        .client
        .get(format!("{}/console/events", app.address))
        .header("cookie", format!("rathaus_session={}", anna.session))
        .send()
        .await
        .unwrap();
    assert_eq!(feed.status(), 200);
    let mut body = feed;
    let (id, token) = app.start().await;
    app.say(
        &id,
        &token,
        json!({"text": "Ich möchte mit einem Menschen sprechen, Geheimnis 4711"}),
    )
    .await;
    let mut seen = String::new();
    let update = next_event(&mut body, &mut seen, "update").await.unwrap();
    let v: Value = serde_json::from_str(&update).unwrap();
    assert_eq!(v["conversation"], id.as_str());
    let mut all = update;
    while let Some(more) = tokio::time::timeout(Duration::from_millis(500), async {
        next_event(&mut body, &mut seen, "update").await
    })
    .await
    .ok()
    .flatten()
    {
        all.push_str(&more);
    }
    assert!(all.contains("\"state\":\"waiting\""), "{all}");
    assert!(!all.contains("4711"), "{all}");
    assert!(!all.contains("Menschen"), "{all}");
    // Handed over, it is the staff's to see.
    let r = anna.get(&format!("/console/conversations/{id}")).await;
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn the_console_refuses_a_post_from_another_scheme_and_every_response_has_its_headers() {
    let app = spawn_app().await;
    let password = app
        .add_staff("anna@example.org", "Anna", StaffRole::Agent)
        .await;
    let anna = app.staff_login("anna@example.org", &password).await;
    let host = app.address.trim_start_matches("http://").to_string();
    let logout = |origin: String| {
        anna.client
            .post(format!("{}/console/logout", app.address))
            .header("cookie", format!("rathaus_session={}", anna.session))
            .header("origin", origin)
            .form(&[("csrf", anna.csrf.as_str())])
            .send()
    };
    assert_eq!(
        logout(format!("https://{host}")).await.unwrap().status(),
        403
    );
    assert_eq!(
        logout(format!("http://{host}")).await.unwrap().status(),
        303
    );

    let demo = app
        .client
        .get(format!("{}/demo", app.address))
        .send()
        .await
        .unwrap();
    let csp = demo.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'"));
    let (id, token) = app.start().await;
    let transcript = app.transcript(&id, &token).await;
    for (name, value) in [
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        ("cache-control", "no-store"),
    ] {
        assert_eq!(transcript.headers()[name], value, "{name}");
    }
    // A refused field names the trouble in words, not by its code again.
    let r = app.say(&id, &token, json!({"text": "  "})).await;
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["code"], "empty_message");
    assert_eq!(body["message"], "the message is empty");
}

/// A channel that cannot refuse a long text (a mail) hands it over whole: the core reads its
/// first 4,000 characters, the transcript keeps all of it.
#[tokio::test]
async fn a_message_longer_than_any_the_api_takes_is_read_only_as_far_as_the_limit() {
    let app = spawn_app().await;
    let (id, token) = app.start().await;
    let conversation = app
        .conversations
        .authorize(id.parse().unwrap(), &token)
        .await
        .unwrap();
    let text = format!(
        "Was kostet ein Reisepass? {}",
        "Rindfleischetikettierungsüberwachungsaufgabenübertragungsgesetz ".repeat(2_000)
    );
    let reply = app
        .conversations
        .message(
            &conversation,
            &rathaus::dialogue::Inbound::text(text.clone()),
            rathaus::store::Channel::Email,
        )
        .await
        .unwrap();
    assert!(!reply.text.is_empty());
    let t: Value = app.transcript(&id, &token).await.json().await.unwrap();
    assert_eq!(t["messages"][0]["text"], text.as_str(), "kept whole");
}
