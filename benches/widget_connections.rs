//! How many open widget connections the server holds, and at what memory: starts the real
//! `rathaus serve` (release build, SQLite, the demo knowledge) as a child process, opens N
//! conversations with their live event streams and keeps them open, then reads the server's
//! resident memory from /proc. Also measures how long a staff reply takes to reach one
//! citizen's stream while all N are connected, and then, with all N waiting for a person,
//! how long an ordinary message takes while two more conversations join the queue every
//! second (each change of the queue moves every waiting citizen's place).
//!
//!     bench/widget-connections.sh            # N=1000 (raises the open-files limit first)
//!     CONNECTIONS=2000 bench/widget-connections.sh

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn rss_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let n: usize = std::env::var("CONNECTIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let bin = std::env::var("RATHAUS_BIN").unwrap_or_else(|_| "target/release/rathaus".into());
    let dir = tempfile::tempdir()?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let address = format!("http://127.0.0.1:{port}");
    let mut server = Command::new(&bin)
        .args([
            "--database",
            &format!("sqlite://{}", dir.path().join("bench.db").display()),
        ])
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--knowledge",
            "knowledge",
            // Every connection comes from this one client: its per-address limits are off.
            "--limit-conversations-per-minute",
            "0",
            "--limit-streams-per-client",
            "0",
            "--limit-waiting-per-client",
            "0",
            "--limit-messages-per-minute",
            "0",
        ])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| anyhow::anyhow!("cannot start {bin}: {e} (cargo build --release first)"))?;
    let pid = server.id();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()?;
    let started = Instant::now();
    while client
        .get(format!("{address}/healthz"))
        .send()
        .await
        .is_err()
    {
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(60),
            "the server did not start"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (idle, _) = rss_kib(pid);

    let opening = Instant::now();
    let mut streams = Vec::with_capacity(n);
    let mut first = None;
    let mut conversations = Vec::with_capacity(n);
    for i in 0..n {
        let started: serde_json::Value = client
            .post(format!("{address}/api/v1/conversations"))
            .send()
            .await?
            .json()
            .await?;
        let id = started["id"].as_str().unwrap_or_default().to_string();
        let token = started["token"].as_str().unwrap_or_default().to_string();
        // Each stream gets a connection of its own, as each citizen's browser would.
        let own = reqwest::Client::builder().build()?;
        let mut response = own
            .get(format!("{address}/api/v1/conversations/{id}/events"))
            .bearer_auth(&token)
            .send()
            .await?;
        anyhow::ensure!(
            response.status() == 200,
            "stream {i}: {}",
            response.status()
        );
        // The first event (the conversation's state) proves the stream is live.
        let chunk = response.chunk().await?;
        anyhow::ensure!(chunk.is_some(), "stream {i} closed");
        if i == 0 {
            first = Some((id.clone(), token.clone()));
        }
        conversations.push((id, token));
        streams.push((own, response));
    }
    let open_time = opening.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (held, peak) = rss_kib(pid);

    // One citizen asks a question while all streams are open: time until its stream has the
    // bot's reply.
    let (id, token) = first.expect("at least one connection");
    let (_, stream) = &mut streams[0];
    let asked = Instant::now();
    client
        .post(format!("{address}/api/v1/conversations/{id}/messages"))
        .bearer_auth(&token)
        .json(&serde_json::json!({ "text": "Was kostet ein Reisepass?" }))
        .send()
        .await?;
    let mut seen = String::new();
    while !seen.contains("\"author\":\"bot\"") {
        match tokio::time::timeout(Duration::from_secs(10), stream.chunk()).await {
            Ok(Ok(Some(c))) => seen.push_str(&String::from_utf8_lossy(&c)),
            _ => anyhow::bail!("the reply never reached the stream"),
        }
    }
    let delivered = asked.elapsed();

    println!("widget connections held open: {n}");
    println!(
        "  opened in {:.1} s ({:.1} ms each, conversation + stream)",
        open_time.as_secs_f64(),
        open_time.as_secs_f64() * 1000.0 / n as f64
    );
    println!("  server RSS idle:            {:.1} MiB", mib(idle));
    println!(
        "  server RSS with {n} open:  {:.1} MiB (peak {:.1} MiB)",
        mib(held),
        mib(peak)
    );
    println!(
        "  per connection:             {:.1} KiB",
        (held.saturating_sub(idle)) as f64 / n as f64
    );
    println!(
        "  question to reply on its stream, all {n} open: {:.1} ms",
        delivered.as_secs_f64() * 1000.0
    );

    // Every one of the N waits for a person now; two more join the queue each second while
    // another citizen asks ordinary questions.
    let handoff = |id: String, token: String| {
        let (client, address) = (client.clone(), address.clone());
        async move {
            client
                .post(format!("{address}/api/v1/conversations/{id}/handoff"))
                .bearer_auth(&token)
                .send()
                .await
        }
    };
    for (id, token) in &conversations {
        handoff(id.clone(), token.clone()).await?;
    }
    let asker: serde_json::Value = client
        .post(format!("{address}/api/v1/conversations"))
        .send()
        .await?
        .json()
        .await?;
    let (aid, atoken) = (
        asker["id"].as_str().unwrap_or_default().to_string(),
        asker["token"].as_str().unwrap_or_default().to_string(),
    );
    let joining = {
        let (client, address) = (client.clone(), address.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(500));
            loop {
                tick.tick().await;
                let Ok(r) = client
                    .post(format!("{address}/api/v1/conversations"))
                    .send()
                    .await
                else {
                    continue;
                };
                let Ok(v) = r.json::<serde_json::Value>().await else {
                    continue;
                };
                let _ = client
                    .post(format!(
                        "{address}/api/v1/conversations/{}/handoff",
                        v["id"].as_str().unwrap_or_default()
                    ))
                    .bearer_auth(v["token"].as_str().unwrap_or_default())
                    .send()
                    .await;
            }
        })
    };
    let mut took = Vec::new();
    for _ in 0..50 {
        let asked = Instant::now();
        client
            .post(format!("{address}/api/v1/conversations/{aid}/messages"))
            .bearer_auth(&atoken)
            .json(&serde_json::json!({ "text": "Was kostet ein Reisepass?" }))
            .send()
            .await?
            .error_for_status()?;
        took.push(asked.elapsed().as_secs_f64() * 1000.0);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    joining.abort();
    took.sort_by(f64::total_cmp);
    println!(
        "  a message while all {n} wait and 2 join the queue a second: p50 {:.1} ms, p99 {:.1} ms",
        took[took.len() / 2],
        took[took.len() * 99 / 100]
    );

    drop(streams);
    let _ = server.kill();
    let _ = server.wait();
    Ok(())
}
