//! An inbound mail as the channel needs it: sender, threading headers, the citizen's question
//! without quoted history and signature, the attachments by name, type and size — and
//! whether the mail must never be answered (robots, bounces, lists, our own copies).
//! Parsing is mail-parser's; nothing here talks to a server or the store.

use std::sync::LazyLock;

use mail_parser::{Address, HeaderValue, MessageParser, MimeHeaders};
use regex::Regex;

/// An address as Rathaus keeps it: trimmed, lower case, with one `@` and no spaces.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn local_part(&self) -> &str {
        self.0.split('@').next().unwrap_or("")
    }

    pub fn domain(&self) -> &str {
        self.0.rsplit('@').next().unwrap_or("")
    }

    /// For logs: `m***@example.org`.
    pub fn masked(&self) -> String {
        let first: String = self.local_part().chars().take(1).collect();
        format!("{first}***@{}", self.domain())
    }
}

impl TryFrom<&str> for EmailAddress {
    type Error = String;

    fn try_from(s: &str) -> Result<Self, Self::Error> {
        let s = s
            .trim()
            .trim_start_matches('<')
            .trim_end_matches('>')
            .to_lowercase();
        let valid = s.len() <= 254
            && s.matches('@').count() == 1
            && !s.starts_with('@')
            && !s.ends_with('@')
            && s.rsplit('@')
                .next()
                .is_some_and(|d| d.contains('.') || d == "localhost")
            && !s
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || c == ',');
        if valid {
            Ok(EmailAddress(s))
        } else {
            Err(format!("not an e-mail address: {s:?}"))
        }
    }
}

impl std::fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A file that came with a mail: listed in the transcript, never read by the core.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub name: String,
    pub content_type: String,
    pub size: usize,
}

impl Attachment {
    /// "antrag.pdf (application/pdf, 1.2 MB)"
    pub fn describe(&self) -> String {
        let size = if self.size >= 1_000_000 {
            format!("{:.1} MB", self.size as f64 / 1_000_000.0)
        } else if self.size >= 1_000 {
            format!("{} KB", self.size / 1_000)
        } else {
            format!("{} B", self.size)
        };
        format!("{} ({}, {size})", self.name, self.content_type)
    }
}

/// Why a mail gets no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Robot {
    /// `Auto-Submitted` other than `no`, or an auto-reply marker: vacation notices and the like.
    AutoSubmitted,
    /// `Precedence: bulk`, `list` or `junk`.
    Bulk,
    /// A mailing list (`List-Id`, `List-Unsubscribe`).
    List,
    /// A delivery status notification or a mail from a mailer daemon.
    Bounce,
    /// mailer-daemon, postmaster, no-reply senders.
    NoReplySender,
    /// A copy of a mail Rathaus sent itself.
    Own,
}

impl Robot {
    pub fn as_str(self) -> &'static str {
        match self {
            Robot::AutoSubmitted => "auto-submitted",
            Robot::Bulk => "bulk",
            Robot::List => "mailing list",
            Robot::Bounce => "bounce",
            Robot::NoReplySender => "no-reply sender",
            Robot::Own => "own message",
        }
    }
}

/// A parsed inbound mail.
#[derive(Debug, Clone)]
pub struct InboundMail {
    pub from: Option<EmailAddress>,
    pub from_name: Option<String>,
    /// Without angle brackets; `None` when the mail has none.
    pub message_id: Option<String>,
    pub in_reply_to: Vec<String>,
    pub references: Vec<String>,
    pub subject: String,
    /// What the citizen wrote in this mail: no quoted history, no signature.
    pub question: String,
    pub attachments: Vec<Attachment>,
    /// Set when the mail must not be answered.
    pub robot: Option<Robot>,
    /// For bounces: the Message-IDs the report refers to (ours, if it is about a reply).
    pub reported: Vec<String>,
}

impl InboundMail {
    /// The ids this mail refers to, the direct parent first.
    pub fn referenced(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.in_reply_to.clone();
        for r in self.references.iter().rev() {
            if !ids.contains(r) {
                ids.push(r.clone());
            }
        }
        ids
    }
}

/// Parses a raw mail. `ours` is the channel's own address; `own_ids` tells whether a
/// Message-ID is one Rathaus generated.
pub fn parse(
    raw: &[u8],
    ours: &EmailAddress,
    own_id: impl Fn(&str) -> bool,
) -> Option<InboundMail> {
    let message = MessageParser::default().parse(raw)?;
    let (from, from_name) = match message.from().and_then(first_address) {
        Some((address, name)) => (EmailAddress::try_from(address.as_str()).ok(), name),
        None => (None, None),
    };
    let message_id = message.message_id().map(clean_id).filter(|s| !s.is_empty());
    let in_reply_to = id_list(message.in_reply_to());
    let references = id_list(message.references());
    let subject = message.subject().unwrap_or("").trim().to_string();

    let body = body_text(&message);
    let question = super::quote::question(&body);
    let attachments = message
        .attachments()
        .filter(|part| !is_report_part(part))
        .map(|part| Attachment {
            name: part
                .attachment_name()
                .map(str::to_string)
                .unwrap_or_else(|| "unbenannt".into()),
            content_type: part
                .content_type()
                .map(|ct| match ct.subtype() {
                    Some(sub) => format!("{}/{}", ct.ctype(), sub),
                    None => ct.ctype().to_string(),
                })
                .unwrap_or_else(|| "application/octet-stream".into())
                .to_lowercase(),
            size: part.contents().len(),
        })
        .collect();

    let mut mail = InboundMail {
        from,
        from_name,
        message_id,
        in_reply_to,
        references,
        subject,
        question,
        attachments,
        robot: None,
        reported: Vec::new(),
    };
    mail.robot = robot(&message, &mail, ours, &own_id);
    if mail.robot == Some(Robot::Bounce) {
        mail.reported = reported_ids(&message, &mail);
    }
    Some(mail)
}

fn first_address(address: &Address<'_>) -> Option<(String, Option<String>)> {
    let addr = address.first()?;
    let email = addr.address()?.to_string();
    let name = addr
        .name()
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty());
    Some((email, name))
}

fn clean_id(s: &str) -> String {
    s.trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim()
        .to_string()
}

fn id_list(value: &HeaderValue<'_>) -> Vec<String> {
    match value {
        HeaderValue::Text(t) => vec![clean_id(t)],
        HeaderValue::TextList(list) => list.iter().map(|t| clean_id(t)).collect(),
        _ => Vec::new(),
    }
    .into_iter()
    .filter(|s| !s.is_empty())
    .collect()
}

/// The mail's text: the first text/plain body, else the HTML body as text.
fn body_text(message: &mail_parser::Message<'_>) -> String {
    let plain = message
        .text_bodies()
        .find(|p| !p.is_text_html())
        .and_then(|p| p.text_contents());
    if let Some(text) = plain {
        return text.replace("\r\n", "\n");
    }
    if let Some(html) = message.html_bodies().next().and_then(|p| p.text_contents()) {
        return crate::knowledge::html::to_text(html);
    }
    String::new()
}

fn is_report_part(part: &mail_parser::MessagePart<'_>) -> bool {
    part.content_type().is_some_and(|ct| {
        let sub = ct.subtype().unwrap_or("").to_ascii_lowercase();
        ct.ctype().eq_ignore_ascii_case("message")
            && (sub == "delivery-status"
                || sub == "rfc822-headers"
                || sub == "disposition-notification")
    })
}

static NO_REPLY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(mailer-daemon|postmaster|no-?reply|do-?not-?reply|donotreply|noreply-.*|bounces?([+-].*)?|mail-?daemon)$")
        .expect("valid pattern")
});

fn header_text(message: &mail_parser::Message<'_>, name: &str) -> Option<String> {
    message
        .header_raw(name)
        .map(|v| v.trim().to_ascii_lowercase())
}

/// Whether a mail is from a robot or a list, or is our own; `None` for a person's mail.
fn robot(
    message: &mail_parser::Message<'_>,
    mail: &InboundMail,
    ours: &EmailAddress,
    own_id: &impl Fn(&str) -> bool,
) -> Option<Robot> {
    if mail.from.as_ref() == Some(ours) || mail.message_id.as_deref().is_some_and(own_id) {
        return Some(Robot::Own);
    }
    let content_type = message
        .content_type()
        .map(|ct| {
            format!(
                "{}/{}",
                ct.ctype().to_ascii_lowercase(),
                ct.subtype().unwrap_or("").to_ascii_lowercase()
            )
        })
        .unwrap_or_default();
    let report_type = message
        .content_type()
        .and_then(|ct| ct.attribute("report-type"))
        .map(str::to_ascii_lowercase);
    let return_path = message.header_raw("Return-Path").map(str::trim);
    let sender_local = mail.from.as_ref().map(|a| a.local_part().to_string());
    if content_type == "multipart/report"
        && report_type
            .as_deref()
            .is_some_and(|t| t == "delivery-status" || t == "disposition-notification")
        || sender_local
            .as_deref()
            .is_some_and(|l| l == "mailer-daemon" || l == "mail-daemon")
    {
        return Some(Robot::Bounce);
    }
    if header_text(message, "Auto-Submitted").is_some_and(|v| !v.starts_with("no"))
        || message.header_raw("X-Autoreply").is_some()
        || message.header_raw("X-Autorespond").is_some()
        || header_text(message, "X-Auto-Response-Suppress")
            .is_some_and(|v| v.contains("all") || v.contains("oof"))
            && message
                .header_raw("X-MS-Exchange-Inbox-Rules-Loop")
                .is_some()
    {
        return Some(Robot::AutoSubmitted);
    }
    if header_text(message, "Precedence")
        .is_some_and(|v| matches!(v.as_str(), "bulk" | "list" | "junk"))
    {
        return Some(Robot::Bulk);
    }
    if message.header_raw("List-Id").is_some() || message.header_raw("List-Unsubscribe").is_some() {
        return Some(Robot::List);
    }
    if return_path == Some("<>") {
        return Some(Robot::Bounce);
    }
    if sender_local
        .as_deref()
        .is_some_and(|l| NO_REPLY.is_match(l))
    {
        return Some(Robot::NoReplySender);
    }
    None
}

static MESSAGE_ID_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?im)^(?:Message-ID|In-Reply-To|References):\s*(.+)$").expect("valid pattern")
});
static ANGLE_ID: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"<([^<>\s]+@[^<>\s]+)>").expect("valid pattern"));

/// The Message-IDs a delivery report is about: from its returned headers, else its own
/// threading headers.
fn reported_ids(message: &mail_parser::Message<'_>, mail: &InboundMail) -> Vec<String> {
    let mut ids = Vec::new();
    for part in message.parts.iter() {
        let text = match part.text_contents() {
            Some(t) => t.to_string(),
            None => String::from_utf8_lossy(part.contents()).into_owned(),
        };
        for line in MESSAGE_ID_LINE.captures_iter(&text) {
            for id in ANGLE_ID.captures_iter(&line[1]) {
                let id = id[1].to_string();
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
        }
    }
    for id in mail.referenced() {
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    ids
}
