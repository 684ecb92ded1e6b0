//! Inbound mails answered per second, end to end through real servers: Dovecot holds N
//! citizens' mails in the city's INBOX, Rathaus (release build, SQLite, the demo knowledge)
//! starts, fetches them over IMAP, runs each through the dialogue core, and sends every reply
//! over SMTP through OpenSMTPD, which delivers it (and the city's copy) to Dovecot over LMTP.
//! The clock runs from the start of the channel until the last copy is in the city's mailbox;
//! then every citizen's mailbox is counted.
//!
//!     cargo bench --bench email_throughput              # 1,000 mails from 100 citizens
//!     MAILS=5000 cargo bench --bench email_throughput

#[path = "../tests/api/mail_servers.rs"]
mod mail_servers;

use std::time::{Duration, Instant};

use mail_servers::{CITY, MailServers, QUESTIONS, citizen_mail};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let n: usize = std::env::var("MAILS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let citizens = (n / 10).max(1);
    let servers = MailServers::start().await;

    let mails: Vec<Vec<u8>> = (0..n)
        .map(|i| {
            let from = format!("buerger{}@example.org", i % citizens);
            let q = QUESTIONS[i % QUESTIONS.len()];
            citizen_mail(
                &from,
                &format!("bench-{i}@example.org"),
                &format!("Frage {i}"),
                &format!("Guten Tag,\n\n{q}\n\nMit freundlichen Grüßen\nBürger {i}"),
                None,
            )
        })
        .collect();
    servers.append_all(CITY, &mails).await;
    println!("{n} mails from {citizens} citizens in the city's INBOX");

    let dir = tempfile::tempdir()?;
    let settings = rathaus::app::Settings {
        listen: "127.0.0.1:0".into(),
        database: format!("sqlite://{}", dir.path().join("rathaus.db").display()).parse()?,
        knowledge: Some(std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("knowledge")),
        channels: Some(servers.channels_dir("replies_per_sender_per_hour = 1000000")),
        console: Default::default(),
        retention: None,
        answering: rathaus::app::Answering {
            thesaurus: rathaus::language::Thesaurus::installed(),
            ..Default::default()
        },
        telegram_token: None,
        limits: Default::default(),
        metrics_listen: None,
        stop_within: rathaus::app::STOP_WITHIN,
    };
    let app = rathaus::app::Application::build(settings).await?;
    let start = Instant::now();
    tokio::spawn(app.run_until_stopped());

    // Every reply's copy lands in the city's mailbox with it: all out when all copies are in.
    let mut last_report = Instant::now();
    loop {
        let count = servers.count(CITY).await as usize;
        if count >= 2 * n {
            break;
        }
        if start.elapsed() > Duration::from_secs(600) {
            anyhow::bail!("only {} of {n} replies after 10 minutes", count - n);
        }
        if last_report.elapsed() > Duration::from_secs(5) {
            println!(
                "  {} replies after {:.1} s",
                count - n,
                start.elapsed().as_secs_f64()
            );
            last_report = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let elapsed = start.elapsed();

    let mut received = 0;
    for i in 0..citizens {
        received += servers.count(&format!("buerger{i}@example.org")).await as usize;
    }
    println!(
        "{n} mails answered end to end in {:.2} s: {:.1} mails/s ({received} replies in the citizens' mailboxes)",
        elapsed.as_secs_f64(),
        n as f64 / elapsed.as_secs_f64()
    );
    anyhow::ensure!(received == n, "expected {n} replies, found {received}");
    Ok(())
}
