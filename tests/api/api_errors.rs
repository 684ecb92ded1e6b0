//! Every bad request gets a clear 4xx with a stable code, never a panic or internals.

use serde_json::{Value, json};

use crate::helpers::spawn_app;

async fn error_of(r: reqwest::Response) -> (u16, String) {
    let status = r.status().as_u16();
    let body: Value = r.json().await.expect("errors are JSON");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    (
        status,
        body["code"].as_str().unwrap_or_default().to_string(),
    )
}

#[tokio::test]
async fn answer_rejects_bad_input_with_stable_codes() {
    let app = spawn_app().await;
    let url = format!("{}/api/v1/answer", app.address);
    let post = |body: &'static str, ct: &'static str| {
        app.client
            .post(&url)
            .header("content-type", ct)
            .body(body)
            .send()
    };

    assert_eq!(
        error_of(post("{not json", "application/json").await.unwrap()).await,
        (400, "invalid_json".into())
    );
    assert_eq!(
        error_of(
            post("{\"question\": \"x\"}", "application/json")
                .await
                .unwrap()
        )
        .await,
        (400, "invalid_json".into())
    );
    assert_eq!(
        error_of(post("{\"q\": 5}", "application/json").await.unwrap()).await,
        (400, "invalid_json".into())
    );
    assert_eq!(
        error_of(post("{\"q\": \"Reisepass\"}", "text/plain").await.unwrap()).await,
        (415, "unsupported_media_type".into())
    );
    assert_eq!(
        error_of(post("{\"q\": \"   \"}", "application/json").await.unwrap()).await,
        (422, "empty_message".into())
    );
    assert_eq!(
        error_of(
            post("{\"q\": \"Pass\", \"lang\": \"fr\"}", "application/json")
                .await
                .unwrap()
        )
        .await,
        (422, "invalid_lang".into())
    );

    let long = json!({ "q": "Reisepass ".repeat(500) });
    let r = app.client.post(&url).json(&long).send().await.unwrap();
    assert_eq!(error_of(r).await, (422, "message_too_long".into()));

    let huge = json!({ "q": "x".repeat(200_000) });
    let r = app.client.post(&url).json(&huge).send().await.unwrap();
    assert_eq!(error_of(r).await, (413, "payload_too_large".into()));

    let r = app
        .client
        .get(format!("{}/api/v1/nothing-here", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(r).await, (404, "not_found".into()));
}

#[tokio::test]
async fn conversations_need_their_own_token() {
    let app = spawn_app().await;
    let (id, token) = app.start().await;
    let (other_id, other_token) = app.start().await;

    // No token: 401. Another conversation's token, a made-up id, a malformed id: 404.
    let r = app
        .client
        .get(format!("{}/api/v1/conversations/{id}", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(r).await, (401, "missing_token".into()));
    assert_eq!(
        error_of(app.transcript(&id, &other_token).await).await,
        (404, "conversation_not_found".into())
    );
    assert_eq!(
        error_of(app.transcript(&other_id, &token).await).await,
        (404, "conversation_not_found".into())
    );
    let unknown = "7d4f2a9e-0000-4000-8000-000000000000";
    assert_eq!(
        error_of(app.transcript(unknown, &token).await).await,
        (404, "conversation_not_found".into())
    );
    assert_eq!(
        error_of(app.transcript("not-a-uuid", &token).await).await,
        (404, "conversation_not_found".into())
    );
    let r = app
        .say(&id, &other_token, json!({ "text": "Reisepass" }))
        .await;
    assert_eq!(error_of(r).await, (404, "conversation_not_found".into()));

    // Bad message bodies on a valid conversation.
    assert_eq!(
        error_of(app.say(&id, &token, json!({ "text": "" })).await).await,
        (422, "empty_message".into())
    );
    assert_eq!(
        error_of(
            app.say(&id, &token, json!({ "text": "x", "choice": "../x" }))
                .await
        )
        .await,
        (422, "invalid_choice".into())
    );
    assert_eq!(
        error_of(app.say(&id, &token, json!({ "txt": "x" })).await).await,
        (400, "invalid_json".into())
    );

    // Nothing of that reached the transcript.
    let t: Value = app.transcript(&id, &token).await.json().await.unwrap();
    assert_eq!(t["messages"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn health_metrics_and_openapi() {
    let app = spawn_app().await;
    let r = app
        .client
        .get(format!("{}/healthz", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    app.answer("Was kostet ein Reisepass?").await;
    let metrics = app.metrics().await;
    assert!(metrics.contains("rathaus_http_requests_total"), "{metrics}");
    assert!(metrics.contains("rathaus_replies_total"), "{metrics}");
    // The public port serves no metrics: they have a listen address of their own.
    let r = app
        .client
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let doc = app.get_json("/api/openapi.json").await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/api/v1/answer",
        "/api/v1/conversations",
        "/api/v1/conversations/{id}",
        "/api/v1/conversations/{id}/messages",
    ] {
        assert!(
            doc["paths"].get(path).is_some(),
            "{path} missing from the OpenAPI document"
        );
    }
    assert!(doc["components"]["schemas"].get("Reply").is_some());
}
