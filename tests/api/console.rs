//! The handoff console over HTTP: who may see and do what (login, roles, CSRF, logout,
//! throttling), and the handoff itself — queue, claim, reply through the citizen's channel,
//! notes, silence while claimed, close and reopen.

use rathaus::store::StaffRole;
use serde_json::{Value, json};

use crate::helpers::{TestApp, fields, hidden_csrf, login_form, set_cookie_line, spawn_app};

/// A citizen's conversation handed to staff: (id, token).
async fn handed_over(app: &TestApp, question: &str) -> (String, String) {
    let (id, token) = app.start().await;
    let r = app.say_json(&id, &token, json!({ "text": question })).await;
    assert_ne!(r["outcome"], "handoff", "{question} is a real question");
    let r = app
        .say_json(
            &id,
            &token,
            json!({ "text": "Ich möchte mit einem Menschen sprechen" }),
        )
        .await;
    assert_eq!(r["outcome"], "handoff");
    (id, token)
}

fn location(r: &reqwest::Response) -> &str {
    r.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

#[tokio::test]
async fn anonymous_visitors_are_sent_to_the_login_page() {
    let app = spawn_app().await;
    let (id, _) = handed_over(&app, "Was kostet ein Reisepass?").await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for path in [
        "/console".to_string(),
        "/console/queue".into(),
        "/console/events".into(),
        "/console/canned".into(),
        format!("/console/conversations/{id}"),
        format!("/console/conversations/{id}/transcript"),
    ] {
        let r = client
            .get(format!("{}{path}", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303, "{path}");
        assert_eq!(location(&r), "/console/login", "{path}");
    }
    // A forged session cookie is no better than none.
    let r = client
        .get(format!("{}/console", app.address))
        .header("cookie", "rathaus_session=made-up")
        .send()
        .await
        .unwrap();
    assert_eq!(location(&r), "/console/login");
    // Nor can anyone act without a session.
    let r = client
        .post(format!("{}/console/conversations/{id}/claim", app.address))
        .form(&[("csrf", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&r), "/console/login");
}

#[tokio::test]
async fn login_sets_a_strict_http_only_cookie_and_logout_ends_the_session() {
    let app = spawn_app().await;
    let password = app
        .add_staff("anna@musterstadt.example", "Anna Weber", StaffRole::Agent)
        .await;

    // The login form itself is protected: without its token the login is refused.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = client
        .post(format!("{}/console/login", app.address))
        .form(&[
            ("email", "anna@musterstadt.example"),
            ("password", password.as_str()),
            ("csrf", "forged"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(set_cookie_line(&r, "rathaus_session").is_none());

    let (cookie, csrf) = login_form(&client, &app.address).await;
    let r = client
        .post(format!("{}/console/login", app.address))
        .header("cookie", format!("rathaus_login={cookie}"))
        .form(&[
            ("email", "Anna@Musterstadt.example"),
            ("password", password.as_str()),
            ("csrf", csrf.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let line = set_cookie_line(&r, "rathaus_session").expect("session cookie");
    assert!(line.contains("HttpOnly"), "{line}");
    assert!(line.contains("SameSite=Strict"), "{line}");
    assert!(!line.contains("Secure"), "plain HTTP on loopback: {line}");

    // Behind a TLS proxy the cookie is Secure.
    let (cookie, csrf) = login_form(&client, &app.address).await;
    let r = client
        .post(format!("{}/console/login", app.address))
        .header("cookie", format!("rathaus_login={cookie}"))
        .header("x-forwarded-proto", "https")
        .form(&[
            ("email", "anna@musterstadt.example"),
            ("password", password.as_str()),
            ("csrf", csrf.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert!(
        set_cookie_line(&r, "rathaus_session")
            .unwrap()
            .contains("; Secure")
    );

    let anna = app.staff_login("anna@musterstadt.example", &password).await;
    assert_eq!(anna.get("/console").await.status(), 200);
    // Logging out needs the CSRF token too.
    let r = anna.post_raw("/console/logout", &[("csrf", "wrong")]).await;
    assert_eq!(r.status(), 403);
    assert_eq!(anna.get("/console").await.status(), 200);
    let r = anna.post("/console/logout", &[]).await;
    assert_eq!(r.status(), 303);
    let r = anna.get("/console").await;
    assert_eq!(r.status(), 303, "the old cookie no longer works");
    assert_eq!(location(&r), "/console/login");
}

#[tokio::test]
async fn wrong_passwords_are_throttled_per_account() {
    let app = spawn_app().await;
    let password = app
        .add_staff("bernd@musterstadt.example", "Bernd", StaffRole::Agent)
        .await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let attempt = |pw: String| {
        let client = client.clone();
        let address = app.address.clone();
        async move {
            let (cookie, csrf) = login_form(&client, &address).await;
            client
                .post(format!("{address}/console/login"))
                .header("cookie", format!("rathaus_login={cookie}"))
                .form(&[
                    ("email", "bernd@musterstadt.example"),
                    ("password", pw.as_str()),
                    ("csrf", csrf.as_str()),
                ])
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    // An unknown address fails the same way as a wrong password.
    let (cookie, csrf) = login_form(&client, &app.address).await;
    let r = client
        .post(format!("{}/console/login", app.address))
        .header("cookie", format!("rathaus_login={cookie}"))
        .form(&[
            ("email", "nobody@musterstadt.example"),
            ("password", "whatever it is"),
            ("csrf", csrf.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    for _ in 0..5 {
        assert_eq!(attempt("falsch falsch falsch".into()).await, 401);
    }
    // Now even the right password waits.
    assert_eq!(attempt(password.clone()).await, 429);
}

#[tokio::test]
async fn agents_cannot_reach_admin_pages() {
    let app = spawn_app().await;
    let agent_pw = app
        .add_staff("agent@musterstadt.example", "Agnes", StaffRole::Agent)
        .await;
    let admin_pw = app
        .add_staff("admin@musterstadt.example", "Adam", StaffRole::Admin)
        .await;
    let agent = app
        .staff_login("agent@musterstadt.example", &agent_pw)
        .await;
    let admin = app
        .staff_login("admin@musterstadt.example", &admin_pw)
        .await;

    assert_eq!(agent.get("/console/canned").await.status(), 403);
    let r = agent
        .post(
            "/console/canned",
            &[("title", "Gruß"), ("body", "Guten Tag")],
        )
        .await;
    assert_eq!(r.status(), 403);

    assert_eq!(admin.get("/console/canned").await.status(), 200);
    let r = admin
        .post(
            "/console/canned",
            &[
                ("title", "Öffnungszeiten"),
                ("body", "Wir sind montags bis freitags für Sie da."),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    let page = admin.get("/console/canned").await.text().await.unwrap();
    assert!(page.contains("Öffnungszeiten"));
    // The agent gets the canned reply in the conversation view.
    let (id, _) = handed_over(&app, "Was kostet ein Reisepass?").await;
    agent
        .post(&format!("/console/conversations/{id}/claim"), &[])
        .await;
    let page = agent
        .get(&format!("/console/conversations/{id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Wir sind montags bis freitags für Sie da."));
}

#[tokio::test]
async fn state_changes_need_the_sessions_csrf_token_and_the_same_origin() {
    let app = spawn_app().await;
    let pw = app
        .add_staff("carla@musterstadt.example", "Carla", StaffRole::Agent)
        .await;
    let carla = app.staff_login("carla@musterstadt.example", &pw).await;
    let (id, token) = handed_over(&app, "Was kostet ein Reisepass?").await;
    let claim = format!("/console/conversations/{id}/claim");

    let r = carla.post_raw(&claim, &[]).await;
    assert_eq!(r.status(), 422, "no token at all is a malformed form");
    let r = carla.post_raw(&claim, &[("csrf", "not-the-token")]).await;
    assert_eq!(r.status(), 403);
    // Another session's token does not count either.
    let pw2 = app
        .add_staff("dora@musterstadt.example", "Dora", StaffRole::Agent)
        .await;
    let dora = app.staff_login("dora@musterstadt.example", &pw2).await;
    let r = carla.post_raw(&claim, &[("csrf", &dora.csrf)]).await;
    assert_eq!(r.status(), 403);
    // A cross-site form post is refused before it is read.
    let r = carla
        .client
        .post(format!("{}{claim}", carla.address))
        .header("cookie", format!("rathaus_session={}", carla.session))
        .header("origin", "https://evil.example")
        .form(&[("csrf", carla.csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // Nothing was claimed.
    let t: Value = app.transcript(&id, &token).await.json().await.unwrap();
    assert_eq!(t["state"], "waiting");
    // With its token, it works.
    let r = carla.post(&claim, &[]).await;
    assert_eq!(r.status(), 303);
    let t: Value = app.transcript(&id, &token).await.json().await.unwrap();
    assert_eq!(t["state"], "claimed");
}

#[tokio::test]
async fn a_handoff_from_queue_to_claim_reply_and_close() {
    let app = spawn_app().await;
    let pw_a = app
        .add_staff("anna@musterstadt.example", "Anna Weber", StaffRole::Agent)
        .await;
    let pw_b = app
        .add_staff("bernd@musterstadt.example", "Bernd Roth", StaffRole::Agent)
        .await;
    let anna = app.staff_login("anna@musterstadt.example", &pw_a).await;
    let bernd = app.staff_login("bernd@musterstadt.example", &pw_b).await;

    // Two citizens wait; the second stands second in line.
    let (first, first_token) = handed_over(&app, "Was kostet ein Reisepass?").await;
    let (id, token) = handed_over(&app, "Wie melde ich meinen Hund an?").await;
    let t: Value = app.transcript(&id, &token).await.json().await.unwrap();
    assert_eq!(t["state"], "waiting");
    assert_eq!(t["queue"]["position"], 2);
    let t: Value = app
        .transcript(&first, &first_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(t["queue"]["position"], 1);

    // The queue lists both with reason and last message; the conversation view shows the
    // whole transcript with the entry the bot quoted.
    let queue = anna.get("/console").await.text().await.unwrap();
    assert!(queue.contains(&format!("/console/conversations/{id}")));
    assert!(queue.contains("Wollte einen Menschen sprechen"));
    let page = anna
        .get(&format!("/console/conversations/{id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Wie melde ich meinen Hund an?"));
    assert!(page.contains("Zitierte Einträge"));
    // Beside the bot's reply, why it replied so; the citizen's transcript has no such thing.
    assert!(page.contains("Warum diese Antwort?"), "{page}");
    assert!(page.contains("Entschieden durch"), "{page}");
    let mine = app.transcript(&id, &token).await.text().await.unwrap();
    assert!(!mine.contains("Entschieden"), "{mine}");

    // The citizen listens live.
    let mut live = app
        .client
        .get(format!("{}/api/v1/conversations/{id}/events", app.address))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(live.status(), 200);
    assert!(
        live.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );

    // Anna claims; Bernd cannot claim it any more, nor reply to it.
    assert_eq!(anna.act(&id, "claim", &[]).await, 303);
    let r = bernd
        .post(&format!("/console/conversations/{id}/claim"), &[])
        .await;
    assert_eq!(r.status(), 409);
    // Staff are told why on a page of the console, not in the API's JSON.
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(r.text().await.unwrap().contains("bereits übernommen"));
    assert_eq!(bernd.act(&id, "reply", &[("text", "Hallo")]).await, 409);
    // The first citizen moved up.
    let t: Value = app
        .transcript(&first, &first_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(t["queue"]["position"], 1);

    let reply =
        "Guten Tag, hier ist Anna Weber vom Bürgerservice. Die Hundesteuer melden Sie online an.";
    assert_eq!(anna.act(&id, "reply", &[("text", reply)]).await, 303);
    assert_eq!(
        anna.act(&id, "note", &[("text", "Intern: Vorgang HT-4711 prüfen")])
            .await,
        303
    );

    let later = "Melden Sie sich gern wieder.";
    assert_eq!(anna.act(&id, "reply", &[("text", later)]).await, 303);

    // Both replies reached the citizen's live stream, the note between them did not.
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while !seen.contains(later) {
        let chunk = tokio::time::timeout_at(deadline, live.chunk())
            .await
            .expect("the staff reply arrives live")
            .unwrap()
            .expect("stream open");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(seen.contains("\"author_name\":\"Anna Weber\""));
    assert!(seen.contains(reply));
    assert!(!seen.contains("HT-4711"));

    // While claimed the bot is silent.
    let r = app
        .say_json(&id, &token, json!({ "text": "Was kostet ein Reisepass?" }))
        .await;
    assert_eq!(r["silent"], true);
    let t: Value = app.transcript(&id, &token).await.json().await.unwrap();
    assert_eq!(t["state"], "claimed");
    let authors = fields(&t["messages"], "author");
    assert_eq!(authors.last(), Some(&"citizen"));
    assert!(
        !authors.contains(&"note"),
        "notes never reach the citizen: {authors:?}"
    );
    assert!(
        t["messages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["text"] == reply)
    );

    // Close; the bot answers again; reopen works from the closed list.
    assert_eq!(
        anna.act(&id, "close", &[("outcome", "resolved")]).await,
        303
    );
    let r = app
        .say_json(&id, &token, json!({ "text": "Was kostet ein Reisepass?" }))
        .await;
    assert_eq!(r["outcome"], "answer");
    let queue = anna.get("/console").await.text().await.unwrap();
    assert!(queue.contains("Erledigt"));
    assert_eq!(anna.act(&id, "reopen", &[]).await, 303);
    let t: Value = app.transcript(&id, &token).await.json().await.unwrap();
    assert_eq!(t["state"], "claimed");

    // Staff see the note in their transcript.
    let page = anna
        .get(&format!("/console/conversations/{id}/transcript"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Intern: Vorgang HT-4711 prüfen"));
}

#[tokio::test]
async fn transfer_and_unassign_move_the_conversation() {
    let app = spawn_app().await;
    let pw_a = app
        .add_staff("anna@musterstadt.example", "Anna", StaffRole::Agent)
        .await;
    let pw_b = app
        .add_staff("bernd@musterstadt.example", "Bernd", StaffRole::Agent)
        .await;
    let anna = app.staff_login("anna@musterstadt.example", &pw_a).await;
    let bernd = app.staff_login("bernd@musterstadt.example", &pw_b).await;
    let (id, token) = handed_over(&app, "Was kostet ein Reisepass?").await;
    anna.post(&format!("/console/conversations/{id}/claim"), &[])
        .await;

    let page = anna
        .get(&format!("/console/conversations/{id}"))
        .await
        .text()
        .await
        .unwrap();
    let marker = "<option value=\"";
    let start = page.find(marker).expect("a colleague to transfer to") + marker.len();
    let bernd_id = &page[start..start + page[start..].find('"').unwrap()];
    assert_eq!(anna.act(&id, "transfer", &[("to", bernd_id)]).await, 303);
    // Now Bernd may reply, Anna may not.
    assert_eq!(anna.act(&id, "reply", &[("text", "Hallo")]).await, 409);
    assert_eq!(bernd.act(&id, "reply", &[("text", "Hallo")]).await, 303);
    assert_eq!(bernd.act(&id, "unassign", &[]).await, 303);
    let t: Value = app.transcript(&id, &token).await.json().await.unwrap();
    assert_eq!(t["state"], "waiting");
}

#[tokio::test]
async fn the_widget_button_hands_over_without_words() {
    let app = spawn_app().await;
    let (id, token) = app.start().await;
    let r = app
        .client
        .post(format!("{}/api/v1/conversations/{id}/handoff", app.address))
        .bearer_auth(&token)
        .json(&json!({ "lang": "en" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r: Value = r.json().await.unwrap();
    assert_eq!(r["outcome"], "handoff");
    assert!(r["text"].as_str().unwrap().contains("staff"));
    let t: Value = app.transcript(&id, &token).await.json().await.unwrap();
    assert_eq!(t["state"], "waiting");
    assert_eq!(t["queue"]["position"], 1);
    // Someone else's token cannot hand it over.
    let (_, other) = app.start().await;
    let r = app
        .client
        .post(format!("{}/api/v1/conversations/{id}/handoff", app.address))
        .bearer_auth(&other)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn the_login_page_and_forms_carry_what_browsers_need() {
    let app = spawn_app().await;
    let r = app
        .client
        .get(format!("{}/console/login", app.address))
        .send()
        .await
        .unwrap();
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'"));
    let html = r.text().await.unwrap();
    assert!(!hidden_csrf(&html).is_empty());
    assert!(html.contains("<label for=\"email\">"));
}
