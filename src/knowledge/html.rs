//! HTML from catalogue exports, made safe and readable: plain text with links kept inline
//! ("Kontaktformular (https://…)") for text channels, sanitised HTML for rich ones.
//! Entities are decoded, zero-width characters and empty paragraphs dropped.

use html2text::render::RichAnnotation;

/// Plain text of an HTML fragment. Paragraphs are separated by blank lines, list items
/// start with "* ", a link's address follows its text in parentheses.
pub fn to_text(html: &str) -> String {
    let lines = match html2text::config::rich()
        .no_table_borders()
        .lines_from_read(html.as_bytes(), 100_000)
    {
        Ok(lines) => lines,
        Err(_) => return collapse(&strip_invisible(html)),
    };
    let mut out = String::new();
    for line in lines {
        let mut text = String::new();
        let mut open_link: Option<String> = None;
        for piece in line.tagged_strings() {
            let link = piece.tag.iter().find_map(|a| match a {
                RichAnnotation::Link(url) => Some(url.clone()),
                _ => None,
            });
            if open_link.is_some() && link != open_link {
                close_link(&mut text, open_link.take());
            }
            text.push_str(&piece.s);
            open_link = link;
        }
        close_link(&mut text, open_link);
        out.push_str(text.trim_end());
        out.push('\n');
    }
    collapse(&strip_invisible(&out))
}

fn close_link(text: &mut String, url: Option<String>) {
    if let Some(url) = url {
        let url = url.trim();
        if url.is_empty() || url.starts_with('#') || url.starts_with("javascript:") {
            return;
        }
        let shown = text.trim_end().ends_with(url);
        if !shown {
            text.push_str(&format!(" ({url})"));
        }
    }
}

fn strip_invisible(s: &str) -> String {
    s.chars()
        .filter(|c| {
            !matches!(
                c,
                '\u{200b}' | '\u{200c}' | '\u{200d}' | '\u{feff}' | '\u{00ad}'
            )
        })
        .map(|c| if c == '\u{00a0}' { ' ' } else { c })
        .collect()
}

/// Trims lines, keeps at most one blank line between blocks, turns list bullets into "* ".
fn collapse(s: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut blank = false;
    for line in s.lines() {
        let line = line.trim();
        if line.is_empty() {
            blank = !out.is_empty();
            continue;
        }
        if blank {
            out.push(String::new());
            blank = false;
        }
        let line = match line.strip_prefix("- ").or_else(|| line.strip_prefix("• ")) {
            Some(rest) => format!("* {rest}"),
            None => line.split_whitespace().collect::<Vec<_>>().join(" "),
        };
        out.push(line);
    }
    out.join("\n")
}

/// HTML that is safe to show: formatting, lists and links stay; scripts, styles, event
/// handlers and foreign attributes go. Links get `rel="noopener noreferrer"`.
pub fn sanitize(html: &str) -> String {
    let clean = ammonia::Builder::default()
        .link_rel(Some("noopener noreferrer"))
        .clean(&strip_invisible(html))
        .to_string();
    clean
        .replace("<p></p>", "")
        .replace("<p> </p>", "")
        .trim()
        .to_string()
}

/// The opening of a text: its first paragraph (and the next ones while it is shorter than a
/// sentence or two), cut at a sentence end before about `max` characters, or at a word when
/// the first sentence is longer. Never invents: only cuts.
pub fn lead(text: &str, max: usize) -> String {
    const ENOUGH: usize = 60;
    // Paragraphs: blank lines separate them, and so does the start or end of a list.
    let mut paragraphs: Vec<Vec<&str>> = vec![Vec::new()];
    let mut in_list = false;
    for line in text.lines().map(str::trim) {
        let item = line.starts_with("* ");
        let current = paragraphs.last_mut().expect("never empty");
        if line.is_empty() || (item != in_list && !current.is_empty()) {
            paragraphs.push(Vec::new());
        }
        if !line.is_empty() {
            paragraphs
                .last_mut()
                .expect("never empty")
                .push(line.trim_start_matches("* "));
            in_list = item;
        }
    }
    let mut flat = String::new();
    for paragraph in paragraphs.iter().filter(|p| !p.is_empty()) {
        if !flat.is_empty() {
            flat.push(' ');
        }
        flat.push_str(&paragraph.join(" "));
        if flat.chars().count() >= ENOUGH {
            break;
        }
    }
    if flat.chars().count() <= max {
        return flat;
    }
    let mut cut = 0;
    for (i, ch) in flat.char_indices() {
        if flat[..i].chars().count() >= max {
            break;
        }
        if matches!(ch, '.' | '!' | '?') {
            let next = flat[i + ch.len_utf8()..].chars().next();
            if next.is_none_or(|c| c.is_whitespace()) && !ends_with_abbreviation(&flat[..i]) {
                cut = i + ch.len_utf8();
            }
        }
    }
    if cut > max / 3 {
        return flat[..cut].to_string();
    }
    let mut end = 0;
    for (i, ch) in flat.char_indices() {
        if flat[..i].chars().count() >= max {
            break;
        }
        if ch.is_whitespace() {
            end = i;
        }
    }
    format!("{} …", flat[..end].trim_end_matches([',', ';', ':']))
}

fn ends_with_abbreviation(s: &str) -> bool {
    let last = s.rsplit(|c: char| c.is_whitespace()).next().unwrap_or("");
    matches!(
        last.to_lowercase().as_str(),
        "z.b"
            | "bzw"
            | "ca"
            | "usw"
            | "d.h"
            | "u.a"
            | "nr"
            | "str"
            | "abs"
            | "vgl"
            | "ggf"
            | "evtl"
            | "inkl"
            | "zzgl"
            | "etc"
            | "s"
    ) || last.chars().all(|c| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_keeps_links_lists_and_decodes_entities() {
        let html = "<p>\u{200b}Sie k&ouml;nnen das <a href=\"https://example.org/form\">Kontaktformular</a> nutzen.</p>\n<ul><li>unter 24 Jahren: 27,60&nbsp;Euro</li><li>über 24 Jahren: 46 Euro</li></ul><p></p>";
        let text = to_text(html);
        assert!(
            text.contains("Sie können das Kontaktformular (https://example.org/form) nutzen."),
            "{text}"
        );
        assert!(text.contains("* unter 24 Jahren: 27,60 Euro"), "{text}");
        assert!(text.contains("* über 24 Jahren: 46 Euro"), "{text}");
        assert!(!text.contains('\u{200b}'));
    }

    #[test]
    fn sanitize_removes_scripts_and_handlers() {
        let clean = sanitize(
            "<p onclick=\"x()\">Hallo <script>alert(1)</script><a href=\"https://a.example\">a</a></p>",
        );
        assert!(!clean.contains("script"));
        assert!(!clean.contains("onclick"));
        assert!(clean.contains("href=\"https://a.example\""));
    }

    #[test]
    fn lead_cuts_at_sentence_ends() {
        let text = "Sie erhalten den Ausweis im Scheckkartenformat. Darin sind die Daten z.B. Name und Foto gespeichert. Noch ein langer Satz folgt hier.";
        assert_eq!(
            lead(text, 60),
            "Sie erhalten den Ausweis im Scheckkartenformat."
        );
        assert_eq!(lead("kurz", 60), "kurz");
        assert!(lead(&"wort ".repeat(50), 40).ends_with('…'));
    }
}
