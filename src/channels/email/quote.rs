//! What the citizen wrote in a mail, without what their mail program added: the quoted
//! history (Outlook, Thunderbird, Apple Mail, Gmail; German and English headers), quoted
//! lines, the signature and the closing greeting. The transcript keeps the cut text; the core
//! reads only this.

use std::sync::LazyLock;

use regex::Regex;

/// A line that starts the quoted history: everything from here on is the earlier mail.
static HISTORY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?i)^\s*(?:",
        // Outlook plain text and Exchange
        r"-{2,}\s*(?:original message|ursprüngliche nachricht|originalnachricht|weitergeleitete nachricht|forwarded message)\s*-{2,}",
        // Outlook's HTML separator line, html2text's horizontal rule
        r"|[_─━-]{10,}",
        // Apple Mail's forward marker
        r"|(?:begin forwarded message|anfang der weitergeleiteten nachricht):",
        r")\s*$"
    ))
    .expect("valid pattern")
});

/// "Am 30.11.2026 um 10:12 schrieb Max <max@example.org>:", "On Mon, … wrote:" — Thunderbird,
/// Apple Mail and Gmail; Gmail may wrap it over two lines.
static ATTRIBUTION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?is)^\s*(?:am|on|le|el)\s.{0,200}\s(?:schrieb|wrote|a écrit|escribió)(?:\s+\S.{0,200})?\s*:\s*$")
        .expect("valid pattern")
});

/// Outlook's header block of the quoted mail: "Von: …" followed by "Gesendet: …"/"Sent: …".
static OUTLOOK_FROM: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)^\s*\*?(?:von|from)\s*:\*?\s+\S").expect("valid pattern"));
static OUTLOOK_NEXT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\s*\*?(?:gesendet|sent|datum|date|an|to|betreff|subject)\s*:\*?\s")
        .expect("valid pattern")
});

/// Where the signature or the closing begins.
static CLOSING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?i)^\s*(?:",
        r"--\s*",
        r"|(?:mit\s+)?(?:freundlichen|besten|herzlichen|lieben|vielen|schönen|sonnigen)\s+gr(?:ü|ue|u)(?:ß|ss)en.{0,30}",
        r"|(?:viele|beste|liebe|herzliche|schöne|freundliche)\s+gr(?:ü|ue|u)(?:ß|ss)e.{0,30}",
        r"|(?:mfg|vg|lg|gruß|grüße|gruss|gruesse)[,.!]?",
        r"|(?:gr(?:ü|ue)(?:ß|ss)e|gru(?:ß|ss))\s+(?:aus|von)\s.{0,40}",
        r"|(?:best|kind|warm)\s+regards.{0,20}|regards,?|cheers,?|yours sincerely,?|sincerely,?",
        r"|(?:gesendet|sent)\s+(?:von|from|mit|with)\s+.{0,60}",
        r"|von meinem \S+ gesendet",
        r")\s*$"
    ))
    .expect("valid pattern")
});

/// A salutation on a line of its own at the start: it says nothing about the question.
static SALUTATION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\s*(?:sehr geehrte[rs]?\b.{0,60}|guten (?:tag|morgen|abend)\b.{0,40}|hallo\b.{0,40}|liebe[rs]?\b.{0,40}|moin\b.{0,30}|servus\b.{0,30}|grüß gott\b.{0,30}|dear\b.{0,40}|hello\b.{0,40}|hi\b.{0,30})[,!.]?\s*$")
        .expect("valid pattern")
});

/// The citizen's own words of a mail body.
pub fn question(body: &str) -> String {
    let lines: Vec<&str> = body.lines().collect();
    let mut kept: Vec<&str> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let two = lines
            .get(i + 1)
            .map(|next| format!("{} {}", line.trim_end(), next.trim()));
        if HISTORY.is_match(line)
            || ATTRIBUTION.is_match(line)
            || two.as_deref().is_some_and(|t| {
                ATTRIBUTION.is_match(t) && line.trim_start().len() > 2 && starts_attribution(line)
            })
            || (OUTLOOK_FROM.is_match(line)
                && lines[i + 1..]
                    .iter()
                    .take(4)
                    .any(|l| OUTLOOK_NEXT.is_match(l)))
        {
            break;
        }
        if CLOSING.is_match(line) && !kept.iter().all(|l| l.trim().is_empty()) {
            break;
        }
        if !line.trim_start().starts_with('>') {
            kept.push(line);
        }
        i += 1;
    }
    // A salutation of its own says nothing about the question.
    if let Some(first) = kept.iter().position(|l| !l.trim().is_empty())
        && SALUTATION.is_match(kept[first])
        && kept[first + 1..].iter().any(|l| !l.trim().is_empty())
    {
        kept.drain(..=first);
    }
    tidy(&kept.join("\n"))
}

fn starts_attribution(line: &str) -> bool {
    let lower = line.trim_start().to_lowercase();
    ["am ", "on ", "le ", "el "]
        .iter()
        .any(|p| lower.starts_with(p))
}

/// Trailing spaces gone, at most one blank line in a row, no blank lines at the ends.
fn tidy(text: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for line in text.lines().map(str::trim_end) {
        if line.is_empty() && out.last().is_none_or(|l| l.is_empty()) {
            continue;
        }
        out.push(line);
    }
    while out.last().is_some_and(|l| l.is_empty()) {
        out.pop();
    }
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::question;

    #[test]
    fn keeps_the_question_and_drops_a_german_attribution_and_quote() {
        let body = "Guten Tag,\n\nwas kostet ein Personalausweis?\n\nAm 30.11.2026 um 10:12 schrieb Stadt <info@stadt.example>:\n> Frühere Nachricht\n";
        assert_eq!(question(body), "was kostet ein Personalausweis?");
    }

    #[test]
    fn gmail_wraps_the_attribution_over_two_lines() {
        let body = "Wo melde ich mich um?\n\nAm Mo., 30. Nov. 2026 um 10:12 Uhr schrieb Bürgerservice <\nbuergerservice@stadt.example>:\n\n> Alt\n";
        assert_eq!(question(body), "Wo melde ich mich um?");
    }

    #[test]
    fn outlook_header_block_and_signature() {
        let body = "Ich brauche einen Termin.\n\nMit freundlichen Grüßen\nMax Muster\nTel. 0170 1234567\n\nVon: Bürgerservice <b@stadt.example>\nGesendet: Montag, 30. November 2026 10:12\nAn: Max\nBetreff: Ihre Anfrage\n\nText";
        assert_eq!(question(body), "Ich brauche einen Termin.");
    }

    #[test]
    fn a_mail_that_is_only_a_greeting_keeps_it() {
        assert_eq!(question("Hallo!"), "Hallo!");
    }
}
