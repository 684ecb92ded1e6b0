//! Replies as mails: threaded to the citizen's mail (Message-ID, In-Reply-To, References),
//! "Re: " once, plain text and HTML, the source links, the city's signature, and
//! `Auto-Submitted: auto-replied` on what the bot wrote. Message-IDs are derived from what
//! they answer, so a reply sent twice after a crash carries the same id.

use std::sync::LazyLock;

use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use regex::Regex;
use sha2::{Digest, Sha256};

use super::inbound::EmailAddress;
use crate::channels::html::linkify;
use crate::dialogue::{EntryRef, Reply};
use crate::store::ConversationId;

/// Who replies: the city's address, its name and signature.
#[derive(Debug, Clone)]
pub struct Sender {
    pub address: EmailAddress,
    pub name: String,
    pub signature: String,
}

impl Sender {
    /// Message-IDs Rathaus makes: `rathaus.<digest>@<the city's domain>`.
    pub fn is_own_id(&self, id: &str) -> bool {
        id.starts_with("rathaus.") && id.ends_with(&format!("@{}", self.address.domain()))
    }

    fn id_from(&self, seed: &str) -> String {
        let digest = Sha256::digest(seed.as_bytes());
        let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
        format!("rathaus.{hex}@{}", self.address.domain())
    }

    /// The bot's reply to one inbound mail; the same mail always gets the same id.
    pub fn reply_id(&self, inbound_id: &str) -> String {
        self.id_from(&format!("reply:{inbound_id}"))
    }

    /// A staff member's reply: one id per transcript message.
    pub fn staff_reply_id(&self, conversation: ConversationId, seq: i64) -> String {
        self.id_from(&format!("staff:{conversation}:{seq}"))
    }
}

/// A reply to render.
#[derive(Debug, Clone)]
pub struct Draft<'a> {
    pub to: &'a EmailAddress,
    pub to_name: Option<&'a str>,
    /// The thread's subject, without prefixes.
    pub subject: &'a str,
    pub message_id: &'a str,
    pub in_reply_to: &'a str,
    /// Oldest first; the parent last.
    pub references: &'a [String],
    pub text: String,
    /// Written by the bot: marked `Auto-Submitted: auto-replied`.
    pub automatic: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ComposeError {
    #[error("invalid address: {0}")]
    Address(String),
    #[error("mail not built: {0}")]
    Build(String),
}

static REPLY_PREFIX: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\s*(?:(?:re|aw|antw|wg|fw|fwd|sv|vs)(?:\[\d+\])?\s*:\s*)+")
        .expect("valid pattern")
});

/// The subject without "Re:", "AW:", "WG:" and the like, however many.
pub fn base_subject(subject: &str) -> String {
    REPLY_PREFIX.replace(subject.trim(), "").trim().to_string()
}

/// "Re: " and the thread's subject (a default when the citizen left it empty).
pub fn reply_subject(subject: &str) -> String {
    let base = base_subject(subject);
    if base.is_empty() {
        "Re: Ihre Anfrage".to_string()
    } else {
        format!("Re: {base}")
    }
}

/// The bot's reply as mail text: the core's text and, where it does not show them yet, the
/// source and booking links of the entries it quoted.
pub fn bot_text(reply: &Reply) -> String {
    text_with_links(&reply.text, &reply.entries)
}

/// A reply's text with the source and booking links of its entries that it does not name.
pub fn text_with_links(text: &str, entries: &[EntryRef]) -> String {
    let mut text = text.trim_end().to_string();
    let mut links = Vec::new();
    for entry in entries {
        for (label, url) in [("Quelle", &entry.source), ("Termin", &entry.booking)] {
            if let Some(url) = url
                && !text.contains(url.as_str())
            {
                links.push(format!("{label} – {}: {url}", entry.name));
            }
        }
    }
    if !links.is_empty() {
        text.push_str("\n\n");
        text.push_str(&links.join("\n"));
    }
    text
}

/// The HTML part: paragraphs and line breaks as in the text, addresses as links.
fn html(text: &str, signature: &str) -> String {
    let mut out = String::from(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"></head><body style=\"font-family:sans-serif\">",
    );
    for paragraph in text.split("\n\n").filter(|p| !p.trim().is_empty()) {
        let lines: Vec<String> = paragraph.lines().map(linkify).collect();
        out.push_str(&format!("<p>{}</p>", lines.join("<br>")));
    }
    if !signature.trim().is_empty() {
        let lines: Vec<String> = signature.trim().lines().map(linkify).collect();
        out.push_str(&format!(
            "<p style=\"color:#555\">-- <br>{}</p>",
            lines.join("<br>")
        ));
    }
    out.push_str("</body></html>");
    out
}

fn mailbox(address: &EmailAddress, name: Option<&str>) -> Result<Mailbox, ComposeError> {
    let email = address
        .as_str()
        .parse()
        .map_err(|_| ComposeError::Address(address.masked()))?;
    Ok(Mailbox::new(name.map(str::to_string), email))
}

/// The reply as bytes, ready for SMTP.
pub fn render(sender: &Sender, draft: &Draft<'_>) -> Result<Vec<u8>, ComposeError> {
    let mut references: Vec<String> = draft.references.to_vec();
    if references.last().map(String::as_str) != Some(draft.in_reply_to) {
        references.retain(|r| r != draft.in_reply_to);
        references.push(draft.in_reply_to.to_string());
    }
    // Long threads keep the first and the latest ids, as RFC 5322 suggests.
    if references.len() > 20 {
        let keep_tail = references.split_off(references.len() - 19);
        references.truncate(1);
        references.extend(keep_tail);
    }
    let references = references
        .iter()
        .map(|r| format!("<{r}>"))
        .collect::<Vec<_>>()
        .join(" ");
    let mut builder = lettre::Message::builder()
        .from(mailbox(&sender.address, Some(&sender.name))?)
        .to(mailbox(draft.to, draft.to_name)?)
        .subject(reply_subject(draft.subject))
        .message_id(Some(format!("<{}>", draft.message_id)))
        .in_reply_to(format!("<{}>", draft.in_reply_to))
        .references(references);
    if draft.automatic {
        builder = builder
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("Auto-Submitted"),
                "auto-replied".into(),
            ))
            // Asks Exchange not to answer with its own out-of-office notices.
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("X-Auto-Response-Suppress"),
                "All".into(),
            ));
    }
    let mut text = draft.text.trim_end().to_string();
    if !sender.signature.trim().is_empty() {
        text.push_str("\n\n-- \n");
        text.push_str(sender.signature.trim());
    }
    text.push('\n');
    let message = builder
        .multipart(
            MultiPart::alternative()
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_PLAIN)
                        .body(text),
                )
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_HTML)
                        .body(html(&draft.text, &sender.signature)),
                ),
        )
        .map_err(|e| ComposeError::Build(e.to_string()))?;
    Ok(message.formatted())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_prefixes_do_not_stack() {
        assert_eq!(
            reply_subject("AW: Re: WG: Personalausweis"),
            "Re: Personalausweis"
        );
        assert_eq!(reply_subject("  "), "Re: Ihre Anfrage");
        assert_eq!(reply_subject("Reisepass"), "Re: Reisepass");
    }

    #[test]
    fn ids_are_derived_and_recognised() {
        let sender = Sender {
            address: EmailAddress::try_from("buergerservice@stadt.example").unwrap(),
            name: "Bürgerservice".into(),
            signature: String::new(),
        };
        let a = sender.reply_id("abc@example.org");
        assert_eq!(a, sender.reply_id("abc@example.org"));
        assert_ne!(a, sender.reply_id("abd@example.org"));
        assert!(sender.is_own_id(&a));
        assert!(!sender.is_own_id("abc@example.org"));
    }
}
