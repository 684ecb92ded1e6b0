//! Real mail servers on loopback for the e-mail channel's tests and benchmark: Dovecot (IMAP,
//! LMTP) and OpenSMTPD (SMTP, handing mail to Dovecot over LMTP), from Debian's packages, with
//! the configuration in `tests/fixtures/mail-servers/`. Every address has a mailbox and the
//! password "secret". OpenSMTPD keeps its queue and control socket at fixed paths, so each
//! instance runs in its own mount namespace (`unshare`) with private ones.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures::TryStreamExt;

pub const PASSWORD: &str = "secret";
/// The city's address in the tests.
pub const CITY: &str = "buergerservice@musterstadt.example";

/// Citizens' questions for mails in bulk (the crash test, the throughput benchmark).
pub const QUESTIONS: &[&str] = &[
    "Was kostet ein neuer Personalausweis?",
    "Ich habe meinen Führerschein verloren. Was muss ich tun?",
    "Wie melde ich meinen Hund an?",
    "Was kostet eine Geburtsurkunde?",
    "Wie beantrage ich die Briefwahl?",
    "Wo bekomme ich ein Führungszeugnis?",
    "Ich bin umgezogen, wie melde ich mich um?",
    "Welche Unterlagen brauche ich für die Gewerbeanmeldung?",
];

/// A citizen's mail as a mail program writes it.
pub fn citizen_mail(
    from: &str,
    id: &str,
    subject: &str,
    body: &str,
    replying_to: Option<(&str, &[String])>,
) -> Vec<u8> {
    let mut head = format!(
        "From: {from}\r\nTo: Bürgerservice <{CITY}>\r\nSubject: {subject}\r\nDate: Mon, 30 Nov 2026 10:00:00 +0100\r\nMessage-ID: <{id}>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n"
    );
    if let Some((parent, references)) = replying_to {
        let refs: Vec<String> = references.iter().map(|r| format!("<{r}>")).collect();
        head.push_str(&format!(
            "In-Reply-To: <{parent}>\r\nReferences: {}\r\n",
            refs.join(" ")
        ));
    }
    format!("{head}\r\n{}\r\n", body.replace('\n', "\r\n")).into_bytes()
}

pub struct MailServers {
    pub dir: tempfile::TempDir,
    pub imap_port: u16,
    pub smtp_port: u16,
    dovecot: Child,
    smtpd: Child,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mail-servers")
}

fn fill(template: &str, base: &Path, imap: u16, smtp: u16) -> String {
    std::fs::read_to_string(fixtures().join(template))
        .expect("mail server template")
        .replace("@BASE@", &base.display().to_string())
        .replace("@IMAP_PORT@", &imap.to_string())
        .replace("@SMTP_PORT@", &smtp.to_string())
}

fn chown(path: &Path, user: &str) {
    let ok = Command::new("chown")
        .args(["-R", &format!("{user}:{user}")])
        .arg(path)
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "chown {user} {}", path.display());
}

async fn wait_for_port(port: u16, what: &str, log: &Path) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!(
        "{what} did not start: {}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

impl MailServers {
    /// Starts Dovecot and OpenSMTPD on free loopback ports (about a quarter of a second).
    pub async fn start() -> MailServers {
        let dir = tempfile::Builder::new()
            .prefix("rathaus-mail-")
            .tempdir()
            .expect("temp dir");
        let base = dir.path().to_path_buf();
        for sub in ["mail", "run", "state", "spool", "smtpd-run"] {
            std::fs::create_dir_all(base.join(sub)).unwrap();
        }
        use std::os::unix::fs::PermissionsExt;
        // The servers' unprivileged users must reach the LMTP socket and the mailboxes.
        std::fs::set_permissions(&base, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(base.join("spool"), std::fs::Permissions::from_mode(0o711))
            .unwrap();
        chown(&base.join("mail"), "mail");
        let (imap_port, smtp_port) = (free_port(), free_port());
        std::fs::write(
            base.join("dovecot.conf"),
            fill("dovecot.conf", &base, imap_port, smtp_port),
        )
        .unwrap();
        std::fs::write(
            base.join("smtpd.conf"),
            fill("smtpd.conf", &base, imap_port, smtp_port),
        )
        .unwrap();
        let dovecot = Command::new("dovecot")
            .arg("-F")
            .arg("-c")
            .arg(base.join("dovecot.conf"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(base.join("dovecot.out")).unwrap())
            .spawn()
            .expect("dovecot (apt-get install dovecot-imapd dovecot-lmtpd)");
        // OpenSMTPD's spool and socket paths are compiled in: give this instance its own.
        std::fs::create_dir_all("/var/spool/smtpd").expect("/var/spool/smtpd as a mount point");
        let script = format!(
            "mount --bind {spool} /var/spool/smtpd && mount --bind {run} /run && exec smtpd -d -f {conf}",
            spool = base.join("spool").display(),
            run = base.join("smtpd-run").display(),
            conf = base.join("smtpd.conf").display()
        );
        let smtpd = Command::new("unshare")
            .args(["--mount", "--propagation", "private", "sh", "-c", &script])
            .stdout(std::fs::File::create(base.join("smtpd.log")).unwrap())
            .stderr(std::fs::File::create(base.join("smtpd.err")).unwrap())
            .spawn()
            .expect("smtpd (apt-get install opensmtpd)");
        wait_for_port(imap_port, "dovecot", &base.join("dovecot.log")).await;
        wait_for_port(smtp_port, "smtpd", &base.join("smtpd.err")).await;
        MailServers {
            dir,
            imap_port,
            smtp_port,
            dovecot,
            smtpd,
        }
    }

    /// A channels folder whose `email.toml` points at these servers; `limits` is added to
    /// the `[limits]` table.
    pub fn channels_dir(&self, limits: &str) -> PathBuf {
        let dir = self
            .dir
            .path()
            .join(format!("channels-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let toml = format!(
            r#"enabled = true
address = "{CITY}"
name = "Bürgerservice Musterstadt"
signature = "Bürgerservice Musterstadt\nRathausplatz 1"

[imap]
host = "127.0.0.1"
port = {imap}
tls = false
user = "{CITY}"
password_env = "RATHAUS_TEST_MAIL_PASSWORD"

[smtp]
host = "127.0.0.1"
port = {smtp}
security = "none"

[limits]
{limits}
"#,
            imap = self.imap_port,
            smtp = self.smtp_port,
        );
        std::fs::write(dir.join("email.toml"), toml).unwrap();
        set_password_env();
        dir
    }

    pub async fn imap(&self, user: &str) -> async_imap::Session<tokio::net::TcpStream> {
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", self.imap_port))
            .await
            .unwrap();
        let mut client = async_imap::Client::new(tcp);
        client.read_response().await.unwrap();
        let mut session = client
            .login(user, PASSWORD)
            .await
            .map_err(|(e, _)| e)
            .unwrap();
        session.select("INBOX").await.unwrap();
        session
    }

    /// Puts raw mails into a mailbox's INBOX over one connection, as delivery would.
    pub async fn append_all(&self, user: &str, mails: &[Vec<u8>]) {
        let mut s = self.imap(user).await;
        for raw in mails {
            s.append("INBOX", None, None, raw).await.unwrap();
        }
        s.logout().await.unwrap();
    }

    /// Sends a mail through the SMTP server, as a citizen's mail program would.
    pub async fn send(&self, from: &str, to: &str, raw: &[u8]) {
        use lettre::AsyncTransport;
        let smtp =
            lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::builder_dangerous("127.0.0.1")
                .port(self.smtp_port)
                .build();
        let envelope =
            lettre::address::Envelope::new(Some(from.parse().unwrap()), vec![to.parse().unwrap()])
                .unwrap();
        smtp.send_raw(&envelope, raw)
            .await
            .expect("SMTP accepts the mail");
    }

    /// Every mail in a mailbox's INBOX, oldest first.
    pub async fn mails(&self, user: &str) -> Vec<Vec<u8>> {
        let mut s = self.imap(user).await;
        let fetched: Vec<_> = s
            .uid_fetch("1:*", "(UID BODY.PEEK[])")
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap_or_default();
        let mut mails: Vec<(u32, Vec<u8>)> = fetched
            .iter()
            .filter_map(|f| Some((f.uid?, f.body()?.to_vec())))
            .collect();
        drop(fetched);
        s.logout().await.ok();
        mails.sort_by_key(|(uid, _)| *uid);
        mails.into_iter().map(|(_, m)| m).collect()
    }

    /// How many mails a mailbox holds (a STATUS, cheap for polling).
    pub async fn count(&self, user: &str) -> u32 {
        let mut s = self.imap(user).await;
        let status = s.status("INBOX", "(MESSAGES)").await.unwrap();
        s.logout().await.ok();
        status.exists
    }

    /// Waits until a mailbox holds at least `n` mails; its mails.
    pub async fn wait_for_mails(&self, user: &str, n: usize, timeout: Duration) -> Vec<Vec<u8>> {
        let start = Instant::now();
        loop {
            let mails = self.mails(user).await;
            if mails.len() >= n || start.elapsed() > timeout {
                return mails;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for MailServers {
    fn drop(&mut self) {
        // SIGTERM: both masters stop their worker processes on it.
        for child in [&mut self.smtpd, &mut self.dovecot] {
            let _ = Command::new("kill").arg(child.id().to_string()).status();
        }
        let _ = self.smtpd.wait();
        let _ = self.dovecot.wait();
    }
}

/// The tests' IMAP password, from the environment as in production.
pub fn set_password_env() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: set once, before any channel reads it, to the same value for every test.
        unsafe { std::env::set_var("RATHAUS_TEST_MAIL_PASSWORD", PASSWORD) };
    });
}

/// A header's value in a raw mail (first occurrence, unfolded).
pub fn header(raw: &[u8], name: &str) -> Option<String> {
    let text = String::from_utf8_lossy(raw);
    let head = text.split("\r\n\r\n").next().unwrap_or("");
    let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ");
    unfolded.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
    })
}
