//! End to end in real headless Chromium (Debian's chromium and chromedriver, driven with
//! fantoccini): a citizen in the widget on /demo and an agent in the console, two browser
//! sessions on one server, with axe-core checking every state for accessibility.
//!
//! Needs `chromium`, `chromium-driver` and `tests/browser/node_modules/axe-core` (`.ci/run`
//! installs them). Set `RATHAUS_SCREENSHOTS=DIR` to save the README's screenshots.

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use rathaus::store::StaffRole;
use serde_json::{Value, json};

use crate::helpers::{repo, spawn_app};

/// Narrower than this, a browser session emulates a phone's screen.
const PHONE_WIDTH: u32 = 600;

/// A chromedriver of our own on a free port, stopped when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    async fn start() -> Driver {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let binary = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
        let child = Command::new(&binary)
            .arg(format!("--port={port}"))
            // Its own process group, so that its browsers go with it even after a failed test.
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start {binary} ({e}): install chromium and chromium-driver (.ci/run does)")
            });
        // Owned from here: dropped (killed and reaped) if it never answers.
        let driver = Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return driver;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("chromedriver did not start");
    }

    async fn browser(&self, width: u32, height: u32) -> Client {
        // Already installed by another test of this process: fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut options = json!({
            "binary": std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
            "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--disable-background-networking", "--disable-component-update",
                     "--no-first-run", "--lang=de-DE", format!("--window-size={width},{height}")]
        });
        if width < PHONE_WIDTH {
            // A desktop window has a minimum width; a phone's screen is emulated instead.
            options["mobileEmulation"] = json!({
                "deviceMetrics": { "width": width, "height": height, "pixelRatio": 2.0, "touch": true }
            });
        }
        let mut caps = serde_json::Map::new();
        caps.insert("goog:chromeOptions".into(), options);
        ClientBuilder::rustls()
            .expect("tls")
            .capabilities(caps)
            .connect(&self.url)
            .await
            .expect("a Chromium session")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn axe_source() -> String {
    let path = std::env::var("AXE_CORE_JS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| repo().join("tests/browser/node_modules/axe-core/axe.min.js"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "axe-core not found at {} ({e}): run `npm ci --prefix tests/browser`",
            path.display()
        )
    })
}

/// Runs axe-core (WCAG 2.1 A and AA rules) on the page; the violations, described.
async fn axe(browser: &Client, source: &str) -> Vec<String> {
    browser
        .execute(source, vec![])
        .await
        .expect("axe-core loads");
    let result = browser
        .execute_async(
            r#"const done = arguments[arguments.length - 1];
               axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] } })
                  .then(r => done(r.violations.map(v => v.id + " (" + v.impact + "): " + v.help + " at " +
                         v.nodes.map(n => JSON.stringify(n.target)).join(", "))))
                  .catch(e => done(["axe failed: " + e]));"#,
            vec![],
        )
        .await
        .expect("axe runs");
    serde_json::from_value(result).unwrap_or_default()
}

async fn assert_accessible(browser: &Client, source: &str, what: &str) {
    let violations = axe(browser, source).await;
    assert!(
        violations.is_empty(),
        "axe-core on {what}:\n{}",
        violations.join("\n")
    );
}

/// Evaluates JavaScript inside the widget's shadow root (`w` is the root).
async fn in_widget(browser: &Client, body: &str) -> Value {
    let script = format!("const w = document.getElementById('rathaus-widget').shadowRoot; {body}");
    browser
        .execute(&script, vec![])
        .await
        .expect("widget script runs")
}

/// Waits until a JavaScript condition in the widget holds.
async fn widget_until(browser: &Client, condition: &str, what: &str) {
    for _ in 0..150 {
        if in_widget(browser, &format!("return !!({condition});")).await == Value::Bool(true) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let log = in_widget(
        browser,
        "return w.querySelector('.log').innerText + ' | ' + w.querySelector('.status').innerText;",
    )
    .await;
    panic!("the widget never showed {what}; it shows: {log}");
}

/// Clicks the page's button with this label.
async fn click_button(browser: &Client, label: &str) {
    browser
        .find(Locator::XPath(&format!("//button[text()='{label}']")))
        .await
        .unwrap_or_else(|e| panic!("no button \"{label}\": {e}"))
        .click()
        .await
        .unwrap();
}

async fn page_until(browser: &Client, condition: &str, what: &str) {
    for _ in 0..150 {
        if browser
            .execute(&format!("return !!({condition});"), vec![])
            .await
            .ok()
            == Some(Value::Bool(true))
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let text = browser
        .execute("return document.body.innerText;", vec![])
        .await
        .unwrap_or_default();
    panic!("the page never showed {what}; it shows: {text}");
}

async fn screenshot(browser: &Client, name: &str) {
    if let Ok(dir) = std::env::var("RATHAUS_SCREENSHOTS") {
        let png = browser.screenshot().await.expect("screenshot");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(PathBuf::from(dir).join(name), png).unwrap();
    }
}

#[tokio::test]
async fn a_citizen_asks_in_the_widget_and_an_agent_takes_over_in_the_console() {
    let axe_js = axe_source();
    let mut app = spawn_app().await;
    let password = app
        .add_staff("anna@musterstadt.example", "Anna Weber", StaffRole::Agent)
        .await;
    let driver = Driver::start().await;
    let agent = driver.browser(1280, 900).await;
    let citizen = driver.browser(1100, 800).await;

    // The agent signs in and watches the queue.
    agent
        .goto(&format!("{}/console", app.address))
        .await
        .unwrap();
    assert!(
        agent
            .current_url()
            .await
            .unwrap()
            .as_str()
            .ends_with("/console/login")
    );
    assert_accessible(&agent, &axe_js, "the console's login page").await;
    agent
        .find(Locator::Id("email"))
        .await
        .unwrap()
        .send_keys("anna@musterstadt.example")
        .await
        .unwrap();
    agent
        .find(Locator::Id("password"))
        .await
        .unwrap()
        .send_keys(&password)
        .await
        .unwrap();
    agent
        .find(Locator::Css("form button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    page_until(
        &agent,
        "document.querySelector('#queue-rows') !== null",
        "the queue",
    )
    .await;
    assert_accessible(&agent, &axe_js, "the console's queue page").await;

    // The citizen opens the demo page; the widget is closed.
    citizen
        .goto(&format!("{}/demo", app.address))
        .await
        .unwrap();
    widget_until(&citizen, "w.querySelector('.launch')", "its launcher").await;
    assert_accessible(&citizen, &axe_js, "the widget, closed").await;
    in_widget(&citizen, "w.querySelector('.launch').click(); return null;").await;
    // Focus moves into the widget's text field, so typing goes there.
    widget_until(
        &citizen,
        "w.activeElement && w.activeElement.id === 'rw-input'",
        "focus in the input",
    )
    .await;
    assert_accessible(&citizen, &axe_js, "the widget, open").await;
    let input = citizen.active_element().await.unwrap();
    input
        .send_keys("Was kostet ein Reisepass?\u{E007}")
        .await
        .unwrap();
    widget_until(
        &citizen,
        "[...w.querySelectorAll('.m.bot a')].some(a => a.textContent.startsWith('Quelle'))",
        "an answer with its source link",
    )
    .await;
    widget_until(
        &citizen,
        "[...w.querySelectorAll('.m.citizen .st')].every(s => s.textContent === 'gesendet')",
        "the message marked sent",
    )
    .await;
    assert_accessible(&citizen, &axe_js, "the widget with messages").await;
    screenshot(&citizen, "widget.png").await;

    // The citizen asks for a person; the agent's queue shows it without a reload.
    in_widget(&citizen, "[...w.querySelectorAll('button')].find(b => b.textContent === 'Mit einem Menschen sprechen').click(); return null;").await;
    widget_until(
        &citizen,
        "w.querySelector('.status').textContent.includes('übernimmt')",
        "the handoff state",
    )
    .await;
    widget_until(
        &citizen,
        "w.querySelector('.status').textContent.includes('als Nächstes')",
        "the queue position",
    )
    .await;
    assert_accessible(&citizen, &axe_js, "the widget in handoff").await;
    page_until(
        &agent,
        "document.querySelector('#queue-rows a') && document.querySelector('#queue-rows').textContent.includes('Reisepass')",
        "the new conversation in the queue, live",
    )
    .await;
    agent
        .find(Locator::Css("#queue-rows a"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    page_until(
        &agent,
        "document.querySelector('#transcript') !== null",
        "the conversation",
    )
    .await;
    let transcript = agent
        .find(Locator::Id("transcript"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        transcript.contains("Was kostet ein Reisepass?"),
        "{transcript}"
    );
    assert!(
        transcript.contains("Zitierte Einträge"),
        "the bot's quoted entry: {transcript}"
    );
    assert!(transcript.contains("Assistent (Bot)"));
    assert_accessible(&agent, &axe_js, "the console's conversation page").await;

    // Claim and reply; the reply appears in the widget live.
    click_button(&agent, "Übernehmen").await;
    page_until(
        &agent,
        "document.querySelector('#reply') !== null",
        "the reply box",
    )
    .await;
    widget_until(
        &citizen,
        "w.querySelector('.status').textContent.includes('jetzt für Sie da')",
        "the claimed state",
    )
    .await;
    let reply = "Guten Tag, hier ist Anna Weber. Ein Reisepass kostet 70 Euro.";
    agent
        .find(Locator::Id("reply"))
        .await
        .unwrap()
        .send_keys(reply)
        .await
        .unwrap();
    widget_until(
        &citizen,
        "w.querySelector('.status').textContent.includes('schreibt')",
        "staff typing",
    )
    .await;
    click_button(&agent, "Antwort senden").await;
    widget_until(
        &citizen,
        &format!(
            "[...w.querySelectorAll('.m.staff')].some(m => m.textContent.includes({}))",
            json!(reply)
        ),
        "the agent's reply",
    )
    .await;
    assert_accessible(&agent, &axe_js, "the console's conversation page, claimed").await;
    screenshot(&agent, "console.png").await;

    // A further question gets no bot reply while a person has the conversation.
    let bots_before = in_widget(&citizen, "return w.querySelectorAll('.m.bot').length;").await;
    in_widget(
        &citizen,
        "w.getElementById('rw-input').focus(); return null;",
    )
    .await;
    citizen
        .active_element()
        .await
        .unwrap()
        .send_keys("Und wie lange dauert das?\u{E007}")
        .await
        .unwrap();
    page_until(
        &agent,
        "document.querySelector('#transcript').textContent.includes('Und wie lange dauert das?')",
        "the citizen's follow-up in the console, live",
    )
    .await;
    widget_until(
        &citizen,
        "[...w.querySelectorAll('.m.citizen .st')].every(s => s.textContent === 'gesendet')",
        "the follow-up sent",
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        in_widget(&citizen, "return w.querySelectorAll('.m.bot').length;").await,
        bots_before
    );

    // The server restarts: the widget reconnects by itself, the agent's session holds, and
    // a reply written after the restart reaches the citizen live.
    app.restart().await;
    agent.refresh().await.unwrap();
    page_until(
        &agent,
        "document.querySelector('#reply') !== null",
        "the conversation page after the restart",
    )
    .await;
    let after = "Sind Sie noch da? Der Server war kurz weg.";
    agent
        .find(Locator::Id("reply"))
        .await
        .unwrap()
        .send_keys(after)
        .await
        .unwrap();
    click_button(&agent, "Antwort senden").await;
    widget_until(
        &citizen,
        &format!(
            "[...w.querySelectorAll('.m.staff')].some(m => m.textContent.includes({}))",
            json!(after)
        ),
        "the reply written after the restart, live",
    )
    .await;

    // The agent closes; the widget says so and the bot answers again.
    click_button(&agent, "Abschließen").await;
    page_until(
        &agent,
        "document.querySelector('#state').textContent.includes('abgeschlossen')",
        "the closed state",
    )
    .await;
    widget_until(
        &citizen,
        "w.querySelector('.status').textContent.includes('beendet')",
        "the end of the handoff",
    )
    .await;

    // A reload resumes the conversation.
    citizen.refresh().await.unwrap();
    widget_until(
        &citizen,
        &format!("w.querySelector('.log') && [...w.querySelectorAll('.m.staff')].some(m => m.textContent.includes({}))", json!(reply)),
        "the whole conversation after a reload",
    )
    .await;

    agent.close().await.unwrap();
    citizen.close().await.unwrap();
}

#[tokio::test]
async fn the_widget_works_by_keyboard_at_phone_width_and_in_english() {
    let axe_js = axe_source();
    let app = spawn_app().await;
    let driver = Driver::start().await;
    let phone = driver.browser(375, 740).await;
    phone.goto(&format!("{}/demo", app.address)).await.unwrap();
    // An English host page: the same script with data-lang="en".
    phone
        .execute(
            "document.getElementById('rathaus-widget').remove(); window.__rathausWidget = false;
             const s = document.createElement('script'); s.src = '/widget.js'; s.dataset.lang = 'en';
             document.body.appendChild(s); return null;",
            vec![],
        )
        .await
        .unwrap();
    widget_until(&phone, "w.querySelector('.launch') && w.querySelector('.launch').textContent.includes('Open chat')", "the English launcher").await;
    // Keyboard only: focus the launcher, press Enter, type, Enter; Escape closes and gives
    // focus back to the launcher.
    in_widget(&phone, "w.querySelector('.launch').focus(); return null;").await;
    phone
        .active_element()
        .await
        .unwrap()
        .send_keys("\u{E007}")
        .await
        .unwrap();
    widget_until(
        &phone,
        "w.activeElement && w.activeElement.id === 'rw-input'",
        "focus in the input",
    )
    .await;
    phone
        .active_element()
        .await
        .unwrap()
        .send_keys("How much is a passport?\u{E007}")
        .await
        .unwrap();
    widget_until(
        &phone,
        "[...w.querySelectorAll('.m.bot a')].some(a => a.textContent.startsWith('Source'))",
        "an English answer with its source",
    )
    .await;
    assert_accessible(&phone, &axe_js, "the English widget at phone width").await;
    let width = in_widget(
        &phone,
        "return w.querySelector('.panel').getBoundingClientRect().width;",
    )
    .await;
    assert!(
        width.as_f64().unwrap() <= 375.0,
        "the panel fits the phone: {width}"
    );
    phone
        .active_element()
        .await
        .unwrap()
        .send_keys("\u{E00C}")
        .await
        .unwrap();
    widget_until(
        &phone,
        "w.activeElement && w.activeElement.classList.contains('launch')",
        "focus back on the launcher",
    )
    .await;
    phone.close().await.unwrap();
}
