//! HTML for the channels that show Rathaus's text as markup (Telegram's HTML parse mode, the
//! HTML part of a mail): everything escaped, web addresses as links. Pure functions; they never
//! let text through unescaped.

use std::sync::LazyLock;

use regex::Regex;

/// Escapes text for HTML (also safe inside attribute values).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

static URL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"https?://[^\s<>"]+"#).expect("valid URL pattern"));

/// Escaped text with its web addresses as links.
pub fn linkify(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 32);
    let mut last = 0;
    for m in URL.find_iter(text) {
        // Sentence punctuation after an address is not part of it.
        let url = m
            .as_str()
            .trim_end_matches(['.', ',', ';', ':', '!', '?', ')', '»', '“', '”', '\'']);
        out.push_str(&escape(&text[last..m.start()]));
        let e = escape(url);
        out.push_str(&format!("<a href=\"{e}\">{e}</a>"));
        last = m.start() + url.len();
    }
    out.push_str(&escape(&text[last..]));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_catalogue_text_is_escaped_and_links_become_anchors() {
        let html =
            linkify("Gebühren: <37 €> & mehr \"hier\"\nQuelle: https://stadt.example/a?b=1&c=2.");
        assert_eq!(
            html,
            "Gebühren: &lt;37 €&gt; &amp; mehr &quot;hier&quot;\nQuelle: \
             <a href=\"https://stadt.example/a?b=1&amp;c=2\">https://stadt.example/a?b=1&amp;c=2</a>."
        );
    }

    #[test]
    fn punctuation_after_an_address_ends_the_sentence_not_the_link() {
        assert_eq!(
            linkify("Siehe https://stadt.example/personalausweis. Danke"),
            "Siehe <a href=\"https://stadt.example/personalausweis\">https://stadt.example/personalausweis</a>. Danke"
        );
        assert_eq!(
            linkify("(https://stadt.example/a)"),
            "(<a href=\"https://stadt.example/a\">https://stadt.example/a</a>)"
        );
    }
}
