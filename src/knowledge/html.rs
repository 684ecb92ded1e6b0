//! HTML from catalogue exports and mails, made safe and readable: plain text with links kept
//! inline ("Kontaktformular (https://…)") for text channels, sanitised HTML for rich ones.
//! Entities are decoded, zero-width characters and empty paragraphs dropped. Whoever wrote
//! the HTML, reading it must never take more than linear time or a deep stack.

use std::borrow::Cow;

use html2text::render::RichAnnotation;

/// Plain text of an HTML fragment. Paragraphs are separated by blank lines, list items
/// start with "* ", a link's address follows its text in parentheses.
pub fn to_text(html: &str) -> String {
    let config = html2text::config::rich().no_table_borders();
    let lines = config
        .parse_html(shallow(html, false).as_bytes())
        .and_then(|dom| {
            if readable(&dom, html.len()) {
                config.dom_to_render_tree(&dom)
            } else {
                Err(html2text::Error::Fail)
            }
        })
        .and_then(|tree| config.render_to_lines(tree, 100_000));
    let lines = match lines {
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
        .clean(&shallow(&strip_invisible(html), true))
        .to_string();
    clean
        .replace("<p></p>", "")
        .replace("<p> </p>", "")
        .trim()
        .to_string()
}

/// The deepest nesting of elements read as written. Pages and mails nest some 30 deep; beyond
/// this, the HTML parser's work grows with the square of the depth (16,000 nested `div`s, 80 KB,
/// took 0.8 s) and html2text renders nested tables recursively until the stack overflows
/// (16,000 levels, 240 KB, on a Tokio worker's 2 MB). Deeper elements lose their tags; their
/// text stays.
const MAX_DEPTH: usize = 256;

/// The deepest and largest DOM html2text is given, whatever the estimate of [`shallow`] missed:
/// the parser adds elements that are not written (`tbody`, `tr`, an element that a block
/// interrupted, reopened), but without reopening formatting never more than two for each
/// written one, nor more than one for every byte.
const MAX_DOM_DEPTH: usize = 4 * MAX_DEPTH;

/// Formatting elements open at once where formatting is kept: the parser opens those left
/// open again in every block that follows, so that each block costs as many elements.
/// Writers close theirs; a few stay open in careless HTML.
const MAX_FORMATTING: usize = 8;

/// Elements without content, which never stay open.
const VOID: &[&str] = &[
    "area", "base", "basefont", "bgsound", "br", "col", "embed", "frame", "hr", "image", "img",
    "input", "keygen", "link", "meta", "param", "source", "track", "wbr",
];

/// Elements whose content the tokenizer reads as text up to their end tag.
const RAW_TEXT: &str = "iframe noembed noframes plaintext script style textarea title xmp";

/// Formatting elements, which the parser opens again in every block that follows until they
/// are closed: a thousand left open make 14 KB of HTML a DOM of a million elements. Plain
/// text needs none of them (a link is an `a`, which the parser never keeps open twice).
const FORMATTING: &[&str] = &[
    "b", "big", "code", "em", "font", "i", "nobr", "s", "small", "strike", "strong", "tt", "u",
];

/// Elements an end tag does not close the elements above (the parser's "special" ones): it is
/// ignored instead.
const SPECIAL: &str = concat!(
    "address applet area article aside base basefont bgsound blockquote body br button ",
    "caption center col colgroup dd details dir div dl dt embed fieldset figcaption figure ",
    "footer form frame frameset h1 h2 h3 h4 h5 h6 head header hgroup hr html iframe img input ",
    "keygen li link listing main marquee menu meta nav noembed noframes noscript object ol p ",
    "param plaintext pre script search section select source style summary table tbody td ",
    "template textarea tfoot th thead title tr track ul wbr xmp mi mo mn ms mtext ",
    "annotation-xml foreignobject desc",
);

/// Elements whose start closes an open `p` (the parser closes it in button scope; this only
/// when it is the current element, which errs on the deep side).
const CLOSES_P: &str = concat!(
    "address article aside blockquote center details dialog dir div dl fieldset figcaption ",
    "figure footer form h1 h2 h3 h4 h5 h6 header hgroup hr listing main menu nav ol p pre ",
    "search section summary table ul xmp",
);

/// Whether `name` is one of the space-separated `names`.
fn among(names: &str, name: &str) -> bool {
    names.split(' ').any(|n| n == name)
}

/// Whether a start tag `name` ends the current element `open`, as the parser ends an element
/// whose end tag may be left out (a `li` before the next, a cell before the next row).
fn ends(name: &str, open: &str) -> bool {
    match open {
        "p" => among(CLOSES_P, name),
        "li" => name == "li",
        "dd" | "dt" => matches!(name, "dd" | "dt"),
        "option" => matches!(name, "option" | "optgroup"),
        "td" | "th" => matches!(name, "td" | "th" | "tr" | "tbody" | "thead" | "tfoot"),
        "tr" => matches!(name, "tr" | "tbody" | "thead" | "tfoot"),
        "tbody" | "thead" | "tfoot" => matches!(name, "tbody" | "thead" | "tfoot"),
        _ => false,
    }
}

/// The index after the next `needle` from `from` on, or the end.
fn after(b: &[u8], from: usize, needle: &[u8]) -> usize {
    b[from.min(b.len())..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map_or(b.len(), |i| from + i + needle.len())
}

/// The end of a comment whose `<!--` ends before `from`, as the tokenizer ends it: `<!-->`,
/// `<!--->`, `-->` or `--!>`.
fn comment_end(b: &[u8], from: usize) -> usize {
    let rest = &b[from..];
    if rest.starts_with(b">") {
        return from + 1;
    }
    if rest.starts_with(b"->") {
        return from + 2;
    }
    let mut at = from;
    loop {
        let dashes = after(b, at, b"--");
        if dashes >= b.len() {
            return b.len();
        }
        if b[dashes] == b'>' {
            return dashes + 1;
        }
        if b[dashes..].starts_with(b"!>") {
            return dashes + 2;
        }
        at = dashes - 1;
    }
}

/// Where a tag whose name ends at `from` ends (after its `>`): a `>` in a quoted attribute
/// value does not end it. `None` if the text ends first (the tokenizer drops such a tag).
fn tag_end(b: &[u8], from: usize) -> Option<usize> {
    // The tokenizer's attribute states, as far as they decide where a quoted value starts.
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        Between,
        Name,
        AfterName,
        BeforeValue,
        Unquoted,
    }
    let mut state = State::Between;
    let mut i = from;
    loop {
        let c = *b.get(i)?;
        i += 1;
        state = match (state, c) {
            (_, b'>') => return Some(i),
            (State::BeforeValue, b'"' | b'\'') => {
                i += b[i..].iter().position(|&q| q == c)? + 1;
                State::Between
            }
            (State::Name, c) if c.is_ascii_whitespace() => State::AfterName,
            (State::Unquoted, c) if c.is_ascii_whitespace() => State::Between,
            (s, c) if c.is_ascii_whitespace() => s,
            (State::Name | State::AfterName, b'=') => State::BeforeValue,
            (State::Between | State::Name | State::AfterName, b'/') => State::Between,
            (State::Between | State::AfterName, _) => State::Name,
            (State::BeforeValue, _) => State::Unquoted,
            (s, _) => s,
        };
    }
}

/// Whether `b` has a tag named `name` at `at` (after its `<` or `</`): the name in any case
/// and then a space, `/` or `>`.
fn names(b: &[u8], at: usize, name: &str) -> bool {
    let n = name.len();
    b.get(at..at + n)
        .is_some_and(|t| t.eq_ignore_ascii_case(name.as_bytes()))
        && b.get(at + n)
            .is_some_and(|&c| c.is_ascii_whitespace() || matches!(c, b'/' | b'>'))
}

/// Where a script's text ends (at its end tag), as the tokenizer's script states read it: in
/// an HTML comment, a `<script>` opens a nested one whose `</script>` does not end it.
fn script_end(b: &[u8], from: usize) -> usize {
    #[derive(PartialEq)]
    enum State {
        Data,
        Escaped,
        DoubleEscaped,
    }
    let mut state = State::Data;
    // Dashes just read (a `>` after two of them ends a comment), or 0 after any other byte.
    let mut dashes = 0;
    let ends_script = |i: usize| b.get(i + 1) == Some(&b'/') && names(b, i + 2, "script");
    let mut i = from;
    while i < b.len() {
        let c = b[i];
        match (&state, c) {
            (State::Data, b'<') if b[i..].starts_with(b"<!--") => {
                state = State::Escaped;
                dashes = 2;
                i += 4;
                continue;
            }
            (State::Data | State::Escaped, b'<') if ends_script(i) => return i,
            (State::Escaped, b'<') if names(b, i + 1, "script") => state = State::DoubleEscaped,
            (State::DoubleEscaped, b'<') if ends_script(i) => state = State::Escaped,
            (State::Escaped | State::DoubleEscaped, b'>') if dashes >= 2 => state = State::Data,
            _ => {}
        }
        dashes = if c == b'-' && state != State::Data {
            dashes + 1
        } else {
            0
        };
        i += 1;
    }
    b.len()
}

/// Where the text of a raw-text element `name` ends: at its end tag (`plaintext` has none).
fn raw_text_end(b: &[u8], from: usize, name: &str) -> usize {
    match name {
        "plaintext" => return b.len(),
        "script" => return script_end(b, from),
        _ => {}
    }
    let mut at = from;
    while at < b.len() {
        let open = after(b, at, b"</");
        if open >= b.len() {
            break;
        }
        if names(b, open, name) {
            return open - 2;
        }
        at = open;
    }
    b.len()
}

/// `html` with the tags of elements nested deeper than [`MAX_DEPTH`] left out (their text
/// stays), and without formatting tags unless `formatting`. Tags are read as the tokenizer
/// reads them (comments, raw text, quoted attribute values), and which elements are open as
/// the parser's rules say where these are simple, and otherwise so that more elements count
/// as open, never fewer: an end tag closes only up to the nearest special element, an end
/// that the parser implies only the current element. Linear in the length of `html`.
fn shallow(html: &str, formatting: bool) -> Cow<'_, str> {
    let b = html.as_bytes();
    let mut out = String::new();
    let mut copied = 0;
    let mut cut = |out: &mut String, from: usize, to: usize, gap: &str| {
        out.push_str(&html[copied..from]);
        out.push_str(gap);
        copied = to;
    };
    // The open elements whose tags are kept, each with whether it is special.
    let mut open: Vec<(String, bool)> = Vec::new();
    // The elements opened deeper, or beyond [`MAX_FORMATTING`], by name: their end tags are
    // left out too.
    let mut deeper: std::collections::HashMap<String, usize> = Default::default();
    // Formatting elements left open, by name, until their end tag closes them; the end of a
    // block does not.
    let mut formatting_open: std::collections::HashMap<String, usize> = Default::default();
    // Open `svg` and `math` elements, in whose content other rules apply (no void elements,
    // no raw text) until the parser leaves it; up to `lenient`, what may be text or markup
    // (raw text in SVG, CDATA) counts start tags but no end tags.
    let mut foreign = 0;
    let mut lenient = 0;
    // Where each raw text and CDATA section ends, once looked up: never read ahead twice.
    let mut raw_ends = vec![0; RAW_TEXT.split(' ').count()];
    let mut cdata_end = 0;
    let mut at = 0;
    while let Some(lt) = b[at..].iter().position(|&c| c == b'<').map(|i| at + i) {
        let rest = &b[lt..];
        if rest.starts_with(b"<!--") {
            at = comment_end(b, lt + 4);
            continue;
        }
        if rest.starts_with(b"<!") || rest.starts_with(b"<?") {
            if foreign > 0 && rest.starts_with(b"<![CDATA[") {
                // Text to `]]>` in SVG or MathML, a comment to `>` in HTML.
                if cdata_end < lt {
                    cdata_end = after(b, lt, b"]]>");
                }
                lenient = lenient.max(cdata_end);
            }
            at = after(b, lt + 2, b">");
            continue;
        }
        let closing = rest.get(1) == Some(&b'/');
        let name_at = lt + 1 + usize::from(closing);
        if !b.get(name_at).is_some_and(u8::is_ascii_alphabetic) {
            // Text, or an end tag without a name, which is a comment.
            at = match (closing, b.get(name_at)) {
                (false, _) => lt + 1,
                (true, Some(b'>')) => name_at + 1,
                (true, _) => after(b, name_at, b">"),
            };
            continue;
        }
        let name_end = b[name_at..]
            .iter()
            .position(|&c| c.is_ascii_whitespace() || matches!(c, b'/' | b'>'))
            .map_or(b.len(), |i| name_at + i);
        let Some(end) = tag_end(b, name_end) else {
            break;
        };
        at = end;
        let name = html[name_at..name_end].to_ascii_lowercase();
        // The parser reads `noscript` as raw text when scripts are on (ammonia) and its
        // content as markup when off (html2text): without the tags, both read markup.
        if name == "noscript" || (!formatting && FORMATTING.contains(&name.as_str())) {
            cut(&mut out, lt, end, "");
            continue;
        }
        if closing {
            if lt < lenient {
                continue;
            }
            if let Some(n) = deeper.get_mut(&name).filter(|n| **n > 0) {
                *n -= 1;
                cut(&mut out, lt, end, " ");
                continue;
            }
            let nearest = open
                .iter()
                .rposition(|(n, special)| *n == name || *special)
                .filter(|&i| open[i].0 == name);
            if let Some(n) = formatting_open.get_mut(&name).filter(|n| **n > 0) {
                // Closed where the parser finds it in scope, or no longer open at all; an end
                // tag that the parser ignores leaves it open.
                if nearest.is_some() || !open.iter().any(|(o, _)| *o == name) {
                    *n -= 1;
                }
            }
            if let Some(i) = nearest {
                for (n, _) in open.drain(i..) {
                    foreign -= usize::from(n == "svg" || n == "math");
                }
                deeper.clear();
            }
            continue;
        }
        if foreign == 0 && VOID.contains(&name.as_str()) {
            continue;
        }
        while foreign == 0 && deeper.is_empty() && open.last().is_some_and(|(n, _)| ends(&name, n))
        {
            open.pop();
        }
        if FORMATTING.contains(&name.as_str()) {
            if formatting_open.values().sum::<usize>() >= MAX_FORMATTING {
                cut(&mut out, lt, end, "");
                *deeper.entry(name).or_default() += 1;
                continue;
            }
            *formatting_open.entry(name.clone()).or_default() += 1;
        }
        let keep = open.len() < MAX_DEPTH;
        if let Some(r) = RAW_TEXT.split(' ').position(|r| r == name) {
            if raw_ends[r] < end {
                raw_ends[r] = raw_text_end(b, end, &name);
            }
            if foreign > 0 {
                lenient = lenient.max(raw_ends[r]);
            } else {
                // Its text is no markup to the parser; left out, it would be.
                at = raw_ends[r];
                if !keep {
                    at = after(b, at, b">");
                    cut(&mut out, lt, at, " ");
                    continue;
                }
            }
        }
        if keep {
            foreign += usize::from(name == "svg" || name == "math");
            let special = among(SPECIAL, &name);
            open.push((name, special));
        } else {
            cut(&mut out, lt, end, " ");
            *deeper.entry(name).or_default() += 1;
        }
    }
    if copied == 0 {
        return Cow::Borrowed(html);
    }
    out.push_str(&html[copied..]);
    Cow::Owned(out)
}

/// Whether html2text may render `dom`, parsed from `bytes` of HTML: no deeper than
/// [`MAX_DOM_DEPTH`], at most one element for every byte. Mends on the way what html2text
/// would stumble over: a `rowspan` of 0 (it divides by it; browsers read it as "to the end of
/// the table", a cell of one row here).
fn readable(dom: &html2text::RcDom, bytes: usize) -> bool {
    let mut elements = 0;
    let mut stack = vec![(dom.document.clone(), 0)];
    while let Some((node, depth)) = stack.pop() {
        if depth > MAX_DOM_DEPTH {
            return false;
        }
        if let html2text::Element { attrs, .. } = &node.data {
            elements += 1;
            for a in attrs.borrow_mut().iter_mut() {
                if &*a.name.local == "rowspan" && a.value.parse::<usize>() == Ok(0) {
                    a.value.clear();
                    a.value.push_slice("1");
                }
            }
        }
        stack.extend(
            node.children
                .borrow()
                .iter()
                .map(|c| (c.clone(), depth + 1)),
        );
    }
    elements <= bytes + 16
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

    /// The depth and the number of elements of the DOM the parser builds from `html`.
    fn dom(html: &str) -> (usize, usize) {
        let dom = html2text::config::rich()
            .parse_html(html.as_bytes())
            .expect("HTML parses");
        let (mut deepest, mut elements) = (0, 0);
        let mut stack = vec![(dom.document.clone(), 0)];
        while let Some((node, depth)) = stack.pop() {
            deepest = deepest.max(depth);
            elements += usize::from(matches!(node.data, html2text::Element { .. }));
            stack.extend(
                node.children
                    .borrow()
                    .iter()
                    .map(|c| (c.clone(), depth + 1)),
            );
        }
        (deepest, elements)
    }

    /// `read` on a thread with the stack of a Tokio worker, where the channels read mail.
    fn on_worker_stack<T: Send + 'static>(read: impl FnOnce() -> T + Send + 'static) -> T {
        std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(read)
            .expect("a thread")
            .join()
            .expect("no panic")
    }

    #[test]
    fn a_rowspan_of_zero_is_a_cell_of_one_row() {
        // html2text 0.16 divides by the rowspan; found by `tests/fuzz` in a DLDB description.
        for rowspan in ["0", "00", "+0", "&#48;"] {
            let html = format!(
                "<table><tr><td rowspan=\"{rowspan}\">Antrag</td><td>Gebühr</td></tr><tr><td>37 Euro</td></tr></table>"
            );
            let text = to_text(&html);
            assert!(
                text.contains("Antrag") && text.contains("37 Euro"),
                "{text}"
            );
        }
    }

    #[test]
    fn deep_nesting_keeps_its_text_at_a_bounded_depth() {
        // 16,000 nested tables overflowed a 2 MB stack in html2text; nested `div`s, lists and
        // quotes (from Markdown "> > > …") took time growing with the square of the depth.
        for open in [
            "<table><tr><td>",
            "<div>",
            "<ul><li>",
            "<blockquote><p>",
            "<span>",
        ] {
            let html = format!("{}Kern{}", open.repeat(16_000), "</div>".repeat(10));
            let (depth, _) = dom(&shallow(&html, true));
            assert!(depth <= MAX_DOM_DEPTH, "{open}: depth {depth}");
            let text = on_worker_stack(move || to_text(&html));
            assert!(text.contains("Kern"), "{open}");
        }
        let clean = sanitize(&format!("{}Kern", "<div>".repeat(16_000)));
        assert_eq!(clean.matches("<div>").count(), MAX_DEPTH);
        assert!(clean.contains("Kern"));
        // Shallow HTML is left as it is.
        let html = "<div><table><tr><td><b>a</b><!-- <div> --></td></tr></table></div>";
        assert!(matches!(shallow(html, true), Cow::Borrowed(_)));
    }

    #[test]
    fn formatting_left_open_is_not_reopened_in_every_block() {
        // 1,000 bold elements left open and 1,000 blocks after them: 14 KB of HTML that the
        // parser made a DOM of a million elements.
        let mut html = String::from("<div>");
        for i in 0..1000 {
            html.push_str(&format!("<b id={i}>"));
        }
        html.push_str("</div>");
        html.push_str(&"<div>Antrag</div>".repeat(1000));
        let (_, elements) = dom(&shallow(&html, false));
        assert!(elements <= 2100, "{elements} elements");
        assert_eq!(to_text(&html).matches("Antrag").count(), 1000);
        // Sanitised HTML keeps formatting, as much of it as writers leave open.
        let (_, elements) = dom(&shallow(&html, true));
        assert!(
            elements <= 2100 + 1000 * MAX_FORMATTING,
            "{elements} elements"
        );
        let clean = sanitize(&html);
        assert_eq!(clean.matches("Antrag").count(), 1000);
        assert!(
            clean.starts_with("<div><b id=\"0\">") || clean.starts_with("<div><b>"),
            "{}",
            &clean[..80]
        );
        // Text reads the same without formatting: words stay apart or together as written.
        assert_eq!(
            to_text(
                "<p>Per<b>so</b>nal<i>aus</i>weis <strong>jetzt</strong> <a href=\"https://a.example\">online</a></p>"
            ),
            "Personalausweis jetzt online (https://a.example)"
        );
    }

    #[test]
    fn markup_that_hides_tags_from_a_naive_reader_counts_them_all() {
        // Comments, raw text and quoted attribute values hide end tags from a reader that only
        // looks for `</`; counted as closing, they would let the next elements nest deeper.
        for hide in [
            "<!-- </div> -->",
            "<!-- --!></div>",
            "<textarea></div></textarea>",
            "<style></div></style>",
            "<a title=\"</div>\">",
            "<svg><desc></div></desc></svg>",
            "<span><ul></span>",
        ] {
            let html = format!("{hide}<div>").repeat(2000);
            let (depth, _) = dom(&shallow(&html, true));
            assert!(depth <= MAX_DOM_DEPTH, "{hide}: depth {depth}");
        }
    }

    proptest::proptest! {
        // As many cases as the fuzz harness (`tests/fuzz`) is given, for a longer search.
        #![proptest_config(proptest::test_runner::Config {
            cases: std::env::var("RATHAUS_FUZZ_CASES")
                .ok()
                .and_then(|n| n.parse().ok())
                .unwrap_or(64),
            failure_persistence: None,
            ..Default::default()
        })]

        /// Whatever the markup, the parser's DOM of the shallow HTML stays within the depth
        /// and size html2text can render.
        #[test]
        fn shallow_html_makes_a_bounded_dom(
            runs in proptest::collection::vec(
                (
                    proptest::collection::vec(
                        proptest::sample::select(TAG_SOUP.split('|').collect::<Vec<_>>()),
                        1..6,
                    ),
                    1usize..700,
                ),
                1..12,
            ),
        ) {
            // Runs of a few tokens repeated: the shapes that nest.
            let html: String = runs.iter().map(|(t, n)| t.concat().repeat(*n)).collect();
            let (depth, elements) = dom(&shallow(&html, true));
            proptest::prop_assert!(depth <= MAX_DOM_DEPTH, "depth {}", depth);
            proptest::prop_assert!(elements <= 3 * html.len() + 16, "{} elements", elements);
            let (depth, elements) = dom(&shallow(&html, false));
            proptest::prop_assert!(depth <= MAX_DOM_DEPTH, "depth {}", depth);
            proptest::prop_assert!(elements <= html.len() + 16, "{} elements", elements);
        }
    }

    /// Markup that nests, or that a reader may take for something else, separated by `|`.
    const TAG_SOUP: &str = concat!(
        "<div>|</div>|<span>|</span>|<p>|</p>|<ul><li>|<li>|</ul>|<table>|<tr>|<td>|</td>|",
        "</table>|<b>|</b>|<b id=1>|<i><u>|<a href=x>|</a>|<font color=red>|<svg>|<g>|</svg>|",
        "<math><mi>|<desc>|<foreignObject>|<textarea>|</textarea>|<style>|</style>|<script>|",
        "</script>|<noscript>|</noscript>|<title>|<select>|<option>|<template>|</template>|",
        "<object>|<button>|<dl><dt>|<dd>|<html>|<body>|</body>|</br>|<!--|-->|--!>|<![CDATA[|",
        "]]>|<!x>|</ x>|</>|<?x>|<a title='>'>|<x y=\"|\">|<|>|text |<h1>|<form>|<blockquote>|",
        "<pre>|<caption>|<colgroup>|<col>|<frameset>|<frame>|<plaintext>|<xmp>|<iframe>|<nobr>|",
        "<rt>|<ruby>|<svg/>|<div/>|<x/>|<mtext>|<annotation-xml encoding=\"text/html\">|",
        "<applet>|<marquee>|<optgroup>|</html>|<head>|<meta>|<input>|<tbody>|<th>|<tfoot>|",
        "<font face=x>|<script><!--<script>|</p><div>|<image>|</tr>|</li>",
    );

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
