//! The fuzz targets: every reader of outside input in Rathaus, each with the inputs that try
//! it — generated ones and real samples mutated — shared by the property tests
//! (`tests/fuzz/main.rs`) and the benchmark that times them (`benches/fuzz.rs`). A target may
//! refuse an input; it must never panic. Nothing here measures time: that is the benchmark's.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use proptest::prelude::*;
use proptest::sample::{Index, select};
use rathaus::app::{self, Answering};
use rathaus::channels::email::inbound::{self, EmailAddress};
use rathaus::channels::phone::audio::{self, Encoding, TELEPHONY_RATE, WHISPER_RATE};
use rathaus::dialogue::{Context, Dialogue, Inbound};
use rathaus::knowledge::{dldb, files};
use rathaus::language::{self, Lang, Thesaurus};
use rathaus::{catalogue, pii, store};
use serde_json::Value;

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// An input as the benchmark reports it: by its size in bytes.
#[cfg_attr(test, allow(dead_code, reason = "only the benchmark reports sizes"))]
pub trait Input: std::fmt::Debug {
    fn bytes(&self) -> usize;
}

/// The files in `dir` whose names end with one of `endings`, in name order.
fn samples(dir: &Path, endings: &[&str]) -> Vec<Vec<u8>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| {
            let name = p.to_string_lossy();
            endings.iter().any(|end| name.ends_with(end))
        })
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "no samples in {}", dir.display());
    paths
        .iter()
        .map(|p| std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
        .collect()
}

fn fixtures(name: &str) -> PathBuf {
    repo().join("tests/fixtures").join(name)
}

/// The longest catalogue file a target is given: a DLDB record is at most 13 KB, an entry
/// file 4 KB; a few of them, or one grown by mutation, stay within this. Beyond it, a file
/// only takes longer in proportion.
const MAX_FILE: usize = 64 << 10;

/// The longest mail a target is given (its headers may grow beyond, as a mail server's
/// limit on a header's length would not stop them).
const MAX_MAIL: usize = 256 << 10;

fn tokens(list: &[&str]) -> Vec<Vec<u8>> {
    list.iter().map(|t| t.as_bytes().to_vec()).collect()
}

// ---------------------------------------------------------------------------------------
// Mutation: what a mutation fuzzer does to a sample, as proptest values (so that a failing
// input shrinks to few, small edits).

/// A place in a sample: anywhere, or in its first 64 bytes, where the headers are.
#[derive(Debug, Clone)]
struct Place {
    at: Index,
    head: bool,
}

impl Place {
    /// A position in `0..=b.len()`; in text, moved back onto a character's first byte.
    fn of(&self, b: &[u8], text: bool) -> usize {
        let span = if self.head { b.len().min(64) } else { b.len() };
        let mut p = self.at.index(span + 1);
        while text && p > 0 && p < b.len() && (b[p] & 0xC0) == 0x80 {
            p -= 1;
        }
        p
    }
}

fn place() -> impl Strategy<Value = Place> {
    (any::<Index>(), prop::bool::weighted(0.3)).prop_map(|(at, head)| Place { at, head })
}

/// One change to a sample.
#[derive(Debug, Clone)]
enum Edit {
    /// One bit flipped.
    Flip(Place, u8),
    /// A stretch of up to this many bytes cut out.
    Cut(Place, usize),
    /// A token of the target's vocabulary put in, this many times in a row.
    Insert(Place, Vec<u8>, usize),
    /// A token written over what is there.
    Overwrite(Place, Vec<u8>),
    /// A stretch of the sample copied to another place.
    Copy(Place, usize, Place),
    /// A stretch of another sample put in.
    Splice(Index, Place, usize, Place),
    /// The end cut off.
    Truncate(Place),
}

fn edit(vocabulary: Vec<Vec<u8>>) -> impl Strategy<Value = Edit> {
    let token = prop_oneof![
        6 => select(vocabulary),
        1 => prop::collection::vec(any::<u8>(), 1..8),
    ];
    // Mostly once; sometimes enough for a huge header or a deep nesting.
    let times = prop_oneof![12 => Just(1usize), 3 => 2usize..32, 1 => 32usize..5000];
    prop_oneof![
        2 => (place(), 0u8..8).prop_map(|(p, bit)| Edit::Flip(p, bit)),
        2 => (place(), 1usize..64).prop_map(|(p, n)| Edit::Cut(p, n)),
        6 => (place(), token.clone(), times).prop_map(|(p, t, n)| Edit::Insert(p, t, n)),
        2 => (place(), token).prop_map(|(p, t)| Edit::Overwrite(p, t)),
        1 => (place(), 1usize..512, place()).prop_map(|(f, n, t)| Edit::Copy(f, n, t)),
        1 => (any::<Index>(), place(), 1usize..2048, place())
            .prop_map(|(s, f, n, t)| Edit::Splice(s, f, n, t)),
        1 => place().prop_map(Edit::Truncate),
    ]
}

/// `sample` with `edits` applied, at most `max` bytes long. `text` keeps insertions on
/// character boundaries (a flipped bit may still break the encoding, as in real input).
fn apply(sample: &[u8], edits: &[Edit], all: &[Vec<u8>], text: bool, max: usize) -> Vec<u8> {
    let mut b = sample.to_vec();
    for edit in edits {
        match edit {
            Edit::Flip(p, bit) => {
                let at = p.of(&b, false);
                if at < b.len() {
                    b[at] ^= 1 << bit;
                }
            }
            Edit::Cut(p, n) => {
                let at = p.of(&b, text);
                let end = (at + n).min(b.len());
                b.drain(at..end);
            }
            Edit::Insert(p, token, times) => {
                let at = p.of(&b, text);
                let times = (*times).min(max.saturating_sub(b.len()) / token.len().max(1));
                let run = token.repeat(times);
                b.splice(at..at, run);
            }
            Edit::Overwrite(p, token) => {
                let at = p.of(&b, text);
                let end = (at + token.len()).min(b.len());
                b.splice(at..end, token.iter().copied());
            }
            Edit::Copy(from, n, to) => {
                let from = from.of(&b, text);
                let piece = b[from..(from + n).min(b.len())].to_vec();
                let to = to.of(&b, text);
                b.splice(to..to, piece);
            }
            Edit::Splice(other, from, n, to) => {
                let other = &all[other.index(all.len())];
                let from = from.of(other, text);
                let piece = &other[from..(from + n).min(other.len())];
                let to = to.of(&b, text);
                b.splice(to..to, piece.iter().copied());
            }
            Edit::Truncate(p) => {
                let at = p.of(&b, text);
                b.truncate(at);
            }
        }
        b.truncate(max);
    }
    b
}

/// One of `samples`, changed by one to seven edits drawn from `vocabulary`.
fn mutated(
    samples: Arc<Vec<Vec<u8>>>,
    vocabulary: Vec<Vec<u8>>,
    text: bool,
    max: usize,
) -> impl Strategy<Value = Vec<u8>> {
    let edits = prop::collection::vec(edit(vocabulary), 1..8);
    (any::<Index>(), edits).prop_map(move |(pick, edits)| {
        let sample = &samples[pick.index(samples.len())];
        apply(sample, &edits, &samples, text, max)
    })
}

fn mutated_text(
    samples: Arc<Vec<Vec<u8>>>,
    vocabulary: &[&str],
    max: usize,
) -> impl Strategy<Value = String> + use<> {
    mutated(samples, tokens(vocabulary), true, max)
        .prop_map(|b| String::from_utf8_lossy(&b).into_owned())
}

/// `token` repeated until the text has about `chars` characters: the inputs that find
/// work growing faster than the text.
fn repeated(vocabulary: &'static [&'static str], chars: usize) -> impl Strategy<Value = String> {
    (select(vocabulary), 1..=chars).prop_map(|(token, n)| {
        let per = token.chars().count().max(1);
        token.repeat(n.div_ceil(per))
    })
}

// ---------------------------------------------------------------------------------------
// Text that people and programs send.

/// Text that breaks naive text handling: scripts, directions, combining marks, case
/// mappings that change length, invisible and control characters, emoji sequences.
const UNICODE: &[&str] = &[
    "ä",
    "a\u{308}",
    "u\u{308}",
    "e\u{301}\u{301}\u{301}\u{301}",
    "\u{308}",
    "Z\u{351}\u{352}\u{357}\u{35b}\u{363}\u{36a}\u{36b}",
    "ß",
    "ẞ",
    "İ",
    "ǅ",
    "ﬁ",
    "Ⅻ",
    "①",
    "²",
    "٣",
    "𝐑𝐞𝐢𝐬𝐞𝐩𝐚𝐬𝐬",
    "Ｒｅｉｓｅｐａｓｓ",
    "Διαβατήριο",
    "ΣΑΣ",
    "паспорт",
    "جواز السفر",
    "דרכון",
    "\u{202e}ssapesieR",
    "\u{200f}",
    "\u{200b}",
    "\u{200d}",
    "\u{feff}",
    "\u{ad}",
    "\u{a0}",
    "护照",
    "パスポート",
    "หนังสือเดินทาง",
    "पासपोर्ट",
    "😀",
    "👩\u{200d}👩\u{200d}👧\u{200d}👦",
    "🇩🇪",
    "\u{fe0f}",
    "\u{e000}",
    "\u{10ffff}",
    "\u{fffd}",
    "\0",
    "\u{7}",
    "\u{1b}[31m",
    "\r\n",
    "\r",
    "\t",
    "\u{85}",
    "\u{2028}",
    "\u{2029}",
];

/// Words and signs a citizen's message is made of.
const WORDS: &[&str] = &[
    "Reisepass",
    "Personalausweis",
    "Perso",
    "beantragen",
    "verlängern",
    "verlaengern",
    "Wohnsitz",
    "anmelden",
    "ummelden",
    "Ummeldung",
    "Hundesteuer",
    "Hund",
    "Führerschein",
    "fuehrerschein",
    "Fuehrungszeugnis",
    "Gewerbe",
    "Anmeldung",
    "Kfz",
    "Zulassung",
    "Termin",
    "Öffnungszeiten",
    "Kosten",
    "Gebühr",
    "kostet",
    "Bürgerbüro",
    "Standesamt",
    "Geburtsurkunde",
    "Eheschließung",
    "Fundsachen",
    "Briefwahl",
    "wo",
    "wann",
    "wie",
    "was",
    "ich",
    "meinen",
    "melde",
    "an",
    "ab",
    "um",
    "An-",
    "Ab-",
    "Kranken-",
    "oder",
    "und",
    "bzw.",
    "sowie",
    "nicht",
    "kein",
    "zwei",
    "zwölf",
    "sechs",
    "twelve",
    "How",
    "do",
    "I",
    "renew",
    "my",
    "passport",
    "the",
    "hello",
    "Hallo",
    "danke",
    "tschüss",
    "Mensch",
    "Mitarbeiter",
    "sprechen",
    "und was kostet das?",
    "1",
    "2",
    "3",
    "0",
    "99999999999999999999",
    "§ 81",
    "§§",
    "DE89 3704 0044 0532 0130 00",
    "max@example.org",
    "01.02.1990",
    "+49 89 1234567",
    "L01X00T47",
    "12 345 678 901",
    "Straße",
    "STRASSE",
    "<script>alert(1)</script>",
    "&nbsp;",
    "%s%n",
    "{{x}}",
    "'; DROP TABLE conversations; --",
    "...",
    "---",
    "???",
    "(",
    ")",
    "\"",
];

const SEPARATORS: &[&str] = &[
    " ", " ", " ", "", "-", "- ", "\n", ", ", "? ", ". ", "/", "_", "·", "  ", "\t",
];

/// A run of letters as long as a word can be, and longer.
fn long_word() -> impl Strategy<Value = String> {
    let lengths = prop_oneof![
        Just(63usize),
        Just(64),
        Just(65),
        Just(100),
        Just(1000),
        Just(4000)
    ];
    (
        select(&["a", "ä", "ab", "e\u{301}", "ß", "Ⅻ", "1", "x"][..]),
        lengths,
    )
        .prop_map(|(letters, n)| letters.repeat(n))
}

/// Known words written as one ("passwohnsitzanmeldunggebühr"): compound splitting's work.
fn compound() -> impl Strategy<Value = String> {
    prop::collection::vec(select(&WORDS[..34]), 2..16).prop_map(|w| w.concat().to_lowercase())
}

fn piece() -> impl Strategy<Value = String> {
    let word = prop_oneof![
        12 => select(WORDS).prop_map(str::to_string),
        3 => select(UNICODE).prop_map(str::to_string),
        2 => compound(),
        1 => long_word(),
        1 => any::<String>(),
    ];
    (word, select(SEPARATORS)).prop_map(|(w, s)| w + s)
}

// ---------------------------------------------------------------------------------------
// 1. The message reader: words, language, PII masking, the search's analysis and the whole
//    dialogue answering by words.

#[derive(Debug, Clone)]
pub struct Message {
    pub text: String,
    pub lang: Option<Lang>,
}

impl Input for Message {
    fn bytes(&self) -> usize {
        self.text.len()
    }
}

/// Citizens' messages as the widget and the API accept them (at most
/// [`rathaus::web::MAX_MESSAGE_CHARS`] characters): words and signs, the catalogue's own
/// questions mutated, arbitrary characters, and one token repeated.
pub fn messages() -> impl Strategy<Value = Message> {
    let questions = Arc::new(catalogue_questions());
    let text = prop_oneof![
        5 => prop::collection::vec(piece(), 0..300).prop_map(|p| p.concat()),
        3 => mutated_text(questions, &[WORDS, UNICODE, SEPARATORS].concat(), 16_000),
        2 => prop::collection::vec(any::<char>(), 0..=4000).prop_map(String::from_iter),
        1 => any::<String>(),
        2 => repeated(&["a", "ä ", "An- oder ", "- ", "😀", "\u{301}", "ab", "a-", "1 ", "x ",
            "fuehrerschein ", "Reisepass Personalausweis ", "?", "\u{202e}", "\0", "a\u{308}"],
            4000),
    ];
    let lang = prop_oneof![Just(None), Just(Some(Lang::De)), Just(Some(Lang::En))];
    (text, lang).prop_map(|(text, lang)| Message {
        text: text.chars().take(rathaus::web::MAX_MESSAGE_CHARS).collect(),
        lang,
    })
}

/// The names and example questions of the shipped entries.
fn catalogue_questions() -> Vec<Vec<u8>> {
    let folder = files::read_folder(&repo().join("knowledge")).expect("the knowledge folder");
    folder
        .entries
        .iter()
        .flat_map(|e| std::iter::once(&e.name).chain(&e.questions))
        .map(|q| q.as_bytes().to_vec())
        .collect()
}

/// The dialogue core over the shipped knowledge, answering by words only: built as the
/// server builds it, from a fresh store the knowledge folder was imported into.
pub struct Reader {
    dialogue: Dialogue,
}

impl Reader {
    pub fn demo() -> Reader {
        let dir = tempfile::tempdir().expect("temp dir");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let dialogue = runtime.block_on(async {
            let url: store::DatabaseUrl = format!("sqlite://{}", dir.path().join("f.db").display())
                .parse()
                .expect("database url");
            let store = store::open(&url).await.expect("the store opens");
            catalogue::import_files(store.as_ref(), &repo().join("knowledge"))
                .await
                .expect("the knowledge folder imports");
            let answering = Answering {
                thesaurus: Thesaurus::installed(),
                ..Answering::default()
            };
            app::dialogue(store.as_ref(), &answering)
                .await
                .expect("the dialogue builds")
        });
        Reader { dialogue }
    }

    /// Reads a message as each stage does, then answers it as a first message and again as
    /// a follow-up in the conversation the first answer leaves.
    pub fn read(&self, message: &Message) {
        let text = &message.text;
        for w in language::words(text) {
            // At most so many letters as written; lowercase may write one as two ("İ").
            assert!(
                w.chars().count() <= 2 * language::MAX_WORD_CHARS,
                "a word of {} characters was read",
                w.chars().count()
            );
            std::hint::black_box((
                language::stem(&w),
                language::fold(&w),
                language::umlautify(&w),
                language::number_word(&w),
            ));
        }
        let lang = message.lang.unwrap_or_else(|| language::detect(text));
        std::hint::black_box(pii::mask(text));
        let knowledge = self.dialogue.knowledge();
        let analysis = knowledge.index.analyse(text, lang);
        std::hint::black_box(knowledge.index.search(&analysis, None).ok());

        let inbound = Inbound {
            text: text.clone(),
            lang: message.lang,
            choice: None,
        };
        let first = self.dialogue.respond(&Context::default(), &inbound);
        assert!(
            first.reply.silent || !first.reply.text.trim().is_empty(),
            "an empty reply"
        );
        let again = Inbound {
            choice: first.context.choices.first().cloned(),
            ..inbound
        };
        let next = self.dialogue.respond(&first.context, &again);
        assert!(
            next.reply.silent || !next.reply.text.trim().is_empty(),
            "an empty follow-up reply"
        );
    }
}

// ---------------------------------------------------------------------------------------
// HTML, as catalogue exports and mail programs write it.

const HTML: &[&str] = &[
    "<p>",
    "</p>",
    "<br>",
    "<br/>",
    "<ul>",
    "</ul>",
    "<ol>",
    "<ol start=\"-2147483649\">",
    "<ol start=\"99999999999999999999\">",
    "</ol>",
    "<li>",
    "<li value=\"-1\">",
    "</li>",
    "<table>",
    "</table>",
    "<tbody>",
    "<tr>",
    "</tr>",
    "<td>",
    "</td>",
    "<td colspan=\"65535\">",
    "<td rowspan=\"0\">",
    "<td colspan=\"0\">",
    "<th>",
    "<col span=\"1000\">",
    "<caption>",
    "<a href=\"https://x.example/{serviceId}\">",
    "<a href=\"javascript:alert(1)\">",
    "<a href=\"#top\">",
    "<a href=\"\">",
    "<a>",
    "</a>",
    "<strong>",
    "</strong>",
    "<em>",
    "<u>",
    "<span>",
    "</span>",
    "<div>",
    "</div>",
    "<pre>",
    "</pre>",
    "<code>",
    "<blockquote>",
    "</blockquote>",
    "<h1>",
    "<h6>",
    "<hr>",
    "<img src=x onerror=alert(1)>",
    "<script>alert(1)</script>",
    "<style>p{color:red}</style>",
    "<iframe src=x>",
    "<svg><foreignObject><p>",
    "<math><mi>",
    "<template>",
    "<textarea>",
    "<noscript>",
    "<select><option>",
    "<dl><dt>a<dd>b",
    "<sup>",
    "<details><summary>",
    "<!--",
    "-->",
    "<![CDATA[x]]>",
    "<!DOCTYPE html>",
    "<html><body>",
    "<",
    ">",
    "</",
    "&nbsp;",
    "&amp;",
    "&lt;",
    "&#0;",
    "&#x110000;",
    "&#xD800;",
    "&#99999999999;",
    "&bogus;",
    "&",
    "Bitte bringen Sie mit:",
    "Erforderliche Unterlagen:",
    "* ",
    "- ",
    "• ",
    "Sie erhalten den Ausweis.",
    "z. B.",
    "Nr.",
    "https://example.org/a/very/long/path/that/goes/on",
];

/// HTML tag soup, deep nesting now and then.
fn html() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        8 => select(HTML).prop_map(str::to_string),
        3 => select(WORDS).prop_map(|w| format!("{w} ")),
        2 => select(UNICODE).prop_map(str::to_string),
        1 => repeated(&["<div>", "<ul><li>", "<table><tr><td>", "<blockquote>", "<ol><li>",
            "<b><i>", "<a href=x>", "<p>", "&amp;", "<td>"], 3000),
    ];
    let soup = prop::collection::vec(piece, 0..48).prop_map(|p| p.concat());
    prop_oneof![
        8 => soup,
        1 => (1usize..1500, 1usize..1500).prop_map(|(k, m)| reopened(k, m)),
    ]
}

/// `open` formatting elements left open in a block, and `blocks` blocks after it, in each of
/// which the parser opens them all again.
fn reopened(open: usize, blocks: usize) -> String {
    let mut html = String::from("<div>");
    for i in 0..open {
        html.push_str(&format!("<b id={i}>"));
    }
    html.push_str("</div>");
    html.push_str(&"<div>Reisepass</div>".repeat(blocks));
    html
}

// ---------------------------------------------------------------------------------------
// 2. The DLDB importer.

#[derive(Clone)]
pub struct Export {
    pub services: String,
    pub locations: String,
}

impl std::fmt::Debug for Export {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "services_de.json:\n{}", self.services)?;
        write!(f, "locations_de.json:\n{}", self.locations)
    }
}

impl Input for Export {
    fn bytes(&self) -> usize {
        self.services.len() + self.locations.len()
    }
}

/// The keys a DLDB record has, and a few more.
const DLDB_KEYS: &[&str] = &[
    "data",
    "id",
    "name",
    "description",
    "fees",
    "meta",
    "url",
    "keywords",
    "lastupdate",
    "locations",
    "location",
    "appointment",
    "allowed",
    "link",
    "links",
    "forms",
    "displayName",
    "address",
    "street",
    "house_number",
    "postal_code",
    "city",
    "contact",
    "phone",
    "email",
    "",
    "\u{0}",
];

const DLDB_STRINGS: &[&str] = &[
    "",
    " ",
    "10429823",
    "1063423",
    "a/b",
    "../etc/passwd",
    "{serviceId}",
    "https://stadt.muenchen.de/service/info/{serviceId}",
    "{serviceId}{serviceId}{serviceId}",
    "Perso, Ausweis,,, ,",
    "2026-06-08T07:41:01",
    "2026",
    "ä",
    "München",
];

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        1 => Just(Value::Null),
        1 => any::<bool>().prop_map(Value::Bool),
        1 => any::<i64>().prop_map(Value::from),
        1 => any::<u64>().prop_map(Value::from),
        1 => any::<f64>().prop_map(Value::from),
        4 => html().prop_map(Value::String),
        2 => select(DLDB_STRINGS).prop_map(Value::from),
        1 => any::<String>().prop_map(Value::String),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    json_leaf().prop_recursive(3, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((select(DLDB_KEYS), inner), 0..6).prop_map(|fields| {
                Value::Object(
                    fields
                        .into_iter()
                        .map(|(k, v)| (k.to_string(), v))
                        .collect(),
                )
            }),
        ]
    })
}

/// A change to a JSON document, at the node a path of indices leads to.
#[derive(Debug, Clone)]
enum JsonEdit {
    Set(Vec<Index>, Value),
    Remove(Vec<Index>, Index),
    Insert(Vec<Index>, &'static str, Value),
    Clone(Vec<Index>, Index, usize),
    Wrap(Vec<Index>),
}

fn json_edit() -> impl Strategy<Value = JsonEdit> {
    // Mostly into a record's fields, sometimes the document itself.
    let path = prop_oneof![
        1 => prop::collection::vec(any::<Index>(), 0..3),
        4 => prop::collection::vec(any::<Index>(), 3..7),
    ];
    prop_oneof![
        5 => (path.clone(), json_value()).prop_map(|(p, v)| JsonEdit::Set(p, v)),
        2 => (path.clone(), any::<Index>()).prop_map(|(p, i)| JsonEdit::Remove(p, i)),
        3 => (path.clone(), select(DLDB_KEYS), json_value())
            .prop_map(|(p, k, v)| JsonEdit::Insert(p, k, v)),
        1 => (path.clone(), any::<Index>(), 1usize..20)
            .prop_map(|(p, i, n)| JsonEdit::Clone(p, i, n)),
        1 => path.prop_map(JsonEdit::Wrap),
    ]
}

/// The node `path` leads to: each index picks a child while there is one.
fn node<'a>(v: &'a mut Value, path: &[Index]) -> &'a mut Value {
    let Some((first, rest)) = path.split_first() else {
        return v;
    };
    let len = match v {
        Value::Array(items) => items.len(),
        Value::Object(map) => map.len(),
        _ => 0,
    };
    if len == 0 {
        return v;
    }
    let i = first.index(len);
    match v {
        Value::Array(items) => node(&mut items[i], rest),
        Value::Object(map) => node(map.values_mut().nth(i).expect("in range"), rest),
        _ => unreachable!("only containers have children"),
    }
}

fn apply_json(v: &mut Value, edit: &JsonEdit) {
    match edit {
        JsonEdit::Set(path, x) => *node(v, path) = x.clone(),
        JsonEdit::Remove(path, i) => match node(v, path) {
            Value::Array(items) if !items.is_empty() => {
                items.remove(i.index(items.len()));
            }
            Value::Object(map) if !map.is_empty() => {
                let key = map.keys().nth(i.index(map.len())).cloned();
                key.map(|k| map.remove(&k));
            }
            _ => {}
        },
        JsonEdit::Insert(path, key, x) => match node(v, path) {
            Value::Array(items) => items.push(x.clone()),
            Value::Object(map) => {
                map.insert(key.to_string(), x.clone());
            }
            leaf => *leaf = x.clone(),
        },
        JsonEdit::Clone(path, i, n) => {
            if let Value::Array(items) = node(v, path)
                && !items.is_empty()
            {
                let item = items[i.index(items.len())].clone();
                items.extend(std::iter::repeat_n(item, *n));
            }
        }
        JsonEdit::Wrap(path) => {
            let n = node(v, path);
            *n = Value::Array(vec![n.take()]);
        }
    }
}

/// Export files: real samples with their records changed, or their text mutated, and
/// documents that are no export at all.
fn dldb_file(samples: Vec<Vec<u8>>) -> impl Strategy<Value = String> {
    let documents: Arc<Vec<Value>> = Arc::new(
        samples
            .iter()
            .map(|s| serde_json::from_slice(s).expect("a JSON sample"))
            .collect(),
    );
    let edited = (
        any::<Index>(),
        prop::collection::vec(json_edit(), 1..6),
        any::<bool>(),
    )
        .prop_map(move |(pick, edits, pretty)| {
            let write = |doc: &Value| {
                if pretty {
                    serde_json::to_string_pretty(doc).expect("JSON")
                } else {
                    doc.to_string()
                }
            };
            let mut doc = documents[pick.index(documents.len())].clone();
            let mut text = write(&doc);
            // Each edit while the file stays within MAX_FILE.
            for e in &edits {
                let mut next = doc.clone();
                apply_json(&mut next, e);
                let next_text = write(&next);
                if next_text.len() <= MAX_FILE {
                    (doc, text) = (next, next_text);
                }
            }
            text
        });
    let json_tokens = [
        "{",
        "}",
        "[",
        "]",
        ",",
        ":",
        "\"",
        "\\",
        "\\u0000",
        "\\ud800",
        "null",
        "true",
        "-0",
        "1e999",
        "0.0000000000000000000001",
        "\"data\":",
        "\"id\":",
        "[[[[",
        "{\"a\":",
    ];
    prop_oneof![
        6 => edited,
        2 => mutated_text(Arc::new(samples), &[&json_tokens[..], HTML, UNICODE].concat(), MAX_FILE),
        1 => json_value().prop_map(|v| v.to_string()),
        1 => any::<String>(),
    ]
}

/// Services and locations files, cut from the Munich export (`tests/fixtures/fuzz/`).
pub fn exports() -> impl Strategy<Value = Export> {
    let dir = fixtures("fuzz");
    let services = samples(
        &dir,
        &[
            "services-array.json",
            "services-forms.json",
            "services-table.json",
        ],
    );
    let locations = samples(&dir, &["locations-array.json", "locations-small.json"]);
    (dldb_file(services), dldb_file(locations)).prop_map(|(services, locations)| Export {
        services,
        locations,
    })
}

/// Imports an export: each record becomes an entry or an office, or is reported skipped.
pub fn import_dldb(export: &Export) {
    let Ok(read) = dldb::parse(&export.services, &export.locations) else {
        return;
    };
    let records = |json: &str| match serde_json::from_str::<Value>(json) {
        Ok(Value::Array(items)) => items.len(),
        Ok(Value::Object(map)) => map["data"].as_array().map_or(0, Vec::len),
        _ => unreachable!("the export was read"),
    };
    let skipped = |kind: &str| {
        read.skipped
            .iter()
            .filter(|s| s.id.starts_with(kind))
            .count()
    };
    assert_eq!(
        read.entries.len() + skipped("service "),
        records(&export.services),
        "every service is read or reported"
    );
    assert_eq!(
        read.offices.len() + skipped("location "),
        records(&export.locations),
        "every location is read or reported"
    );
    for e in &read.entries {
        assert!(!e.name.is_empty(), "an entry without a name: {}", e.id);
    }
}

// ---------------------------------------------------------------------------------------
// 3. The knowledge-file importer.

#[derive(Clone)]
pub struct EntryFile(pub String);

impl std::fmt::Debug for EntryFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl Input for EntryFile {
    fn bytes(&self) -> usize {
        self.0.len()
    }
}

const ENTRY_TOKENS: &[&str] = &[
    "+++",
    "+++\n",
    "\n+++\n",
    "\n",
    "\r\n",
    "id = \"x\"\n",
    "id = \"\"\n",
    "id = \"a/b\"\n",
    "id = 1\n",
    "name = \"\"\n",
    "name = \" \"\n",
    "name = \"\"\"\nmulti\nline\"\"\"\n",
    "summary = '''\n",
    "keywords = [",
    "keywords = [\"a\", 1, {}]\n",
    "questions = []\n",
    "offices = [\"../x\"]\n",
    "documents = [[[[[[[[\n",
    "fees = 1979-05-27T07:32:00Z\n",
    "updated = \"\"\n",
    "unknown = 1\n",
    "[links]\n",
    "[[links]]\n",
    "source = \"javascript:alert(1)\"\n",
    "[translations.en]\n",
    "[translations.\"\"]\n",
    "a.b.c.d.e.f.g = 1\n",
    "x = [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]\n",
    "x = {a={b={c={d={e={f={g={h={}}}}}}}}}\n",
    "\"\\u0000\"",
    "\"\\uD800\"",
    "'",
    "\"",
    "=",
    "#",
    "> ",
    ">>>>>>>>>>",
    "* ",
    "- ",
    "1. ",
    "99999999999. ",
    "    ",
    "```",
    "~~~",
    "`",
    "*",
    "**",
    "_",
    "[",
    "]",
    "(",
    ")",
    "[x](https://example.org)",
    "![x](javascript:alert(1))",
    "[^1]",
    "[^1]: note\n",
    "<div>",
    "<script>alert(1)</script>",
    "| a | b |\n|---|---|\n| c | d |\n",
    "# ",
    "####### ",
    "***\n",
    "\\",
    "&nbsp;",
    "&#0;",
];

/// Lines of front matter that parse, with values at the edges of what they may be.
const FRONT_LINES: &[&str] = &[
    "summary = \"\"\n",
    "summary = \"Ein Satz. Noch einer.\"\n",
    "keywords = [\"Perso\", \"\", \" \"]\n",
    "questions = [\"Was kostet das?\", \"\"]\n",
    "offices = [\"buergerbuero\", \"x\"]\n",
    "documents = [\"Ausweis\", \"<b>Foto</b>\"]\n",
    "fees = \"\"\n",
    "fees = \"37,00 Euro\"\n",
    "plain_language = \" \"\n",
    "updated = \"2026-13-45\"\n",
    "[links]\nsource = \"https://example.org\"\nbooking = \"\"\n",
    "[translations.en]\nname = \"Passport\"\n",
];

/// Entry files: the shipped ones mutated, front matter of generated fields, arbitrary text.
pub fn entry_files() -> impl Strategy<Value = EntryFile> {
    let shipped = Arc::new(samples(&repo().join("knowledge/entries"), &[".md"]));
    let markdown = prop::collection::vec(
        prop_oneof![
            6 => select(ENTRY_TOKENS).prop_map(str::to_string),
            3 => select(WORDS).prop_map(|w| format!("{w} ")),
            1 => select(UNICODE).prop_map(str::to_string),
            1 => repeated(&["> ", "* ", "[", "*a", "  - ", "<div>", "`", "![", "_", "|", "\\"],
                4000),
        ],
        0..64,
    )
    .prop_map(|p| p.concat());
    let front = prop::collection::vec(
        prop_oneof![
            3 => select(FRONT_LINES),
            1 => select(ENTRY_TOKENS),
        ],
        0..12,
    )
    .prop_map(|t| t.concat());
    let generated = (front, markdown.clone()).prop_map(|(front, body)| {
        format!("+++\nid = \"fuzz\"\nname = \"Fuzz\"\n{front}\n+++\n{body}")
    });
    prop_oneof![
        6 => mutated_text(shipped, &[ENTRY_TOKENS, UNICODE, HTML].concat(), MAX_FILE),
        3 => generated,
        1 => (any::<String>(), any::<String>())
            .prop_map(|(a, b)| format!("+++\n{a}\n+++\n{b}")),
        1 => any::<String>(),
    ]
    .prop_map(EntryFile)
}

/// Reads an entry file: an entry, or a message saying why not.
pub fn read_entry(file: &EntryFile) {
    if let Ok(entry) = files::parse_entry(&file.0) {
        assert!(!entry.name.trim().is_empty(), "an entry without a name");
    }
}

// ---------------------------------------------------------------------------------------
// 4. Inbound mail.

#[derive(Clone)]
pub struct Mail(pub Vec<u8>);

impl std::fmt::Debug for Mail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(&self.0))
    }
}

impl Input for Mail {
    fn bytes(&self) -> usize {
        self.0.len()
    }
}

const MIME: &[&str] = &[
    "\r\n",
    "\n",
    "\r\n\r\n",
    "From: ",
    "To: ",
    "Subject: ",
    "Message-ID: <a@b>\r\n",
    "Message-ID: <",
    "In-Reply-To: <x@rathaus.invalid>\r\n",
    "References: <a@b> <c@d>\r\n",
    "Content-Type: multipart/mixed; boundary=\"b\"\r\n",
    "Content-Type: multipart/alternative; boundary=b\r\n",
    "Content-Type: multipart/report; report-type=delivery-status; boundary=r\r\n",
    "Content-Type: message/rfc822\r\n",
    "Content-Type: message/delivery-status\r\n",
    "Content-Type: text/html; charset=\"iso-8859-1\"\r\n",
    "Content-Type: text/plain; charset=utf-7\r\n",
    "Content-Type: text/plain; charset=\"x-unknown\"\r\n",
    "charset=gb18030",
    "charset=shift_jis",
    "charset=utf-16",
    "charset=\"\"",
    "Content-Transfer-Encoding: base64\r\n",
    "Content-Transfer-Encoding: quoted-printable\r\n",
    "Content-Transfer-Encoding: 8bit\r\n",
    "Content-Disposition: attachment; filename*=UTF-8''%C3%A4%ZZ.pdf\r\n",
    "filename*0*=utf-8''a; filename*1*=%C3",
    "name=\"=?UTF-8?B?w6Q=?=\"",
    "--b\r\n",
    "--b--\r\n",
    "--r\r\n",
    "--",
    "=?UTF-8?B?",
    "=?UTF-8?Q?",
    "=?iso-8859-1?q?=E4?=",
    "=?utf-8?b?////?=",
    "=?x-unknown?q?a?=",
    "?=",
    "=E4",
    "=\r\n",
    "=ZZ",
    "=",
    "====",
    "SGVsbG8=",
    "Auto-Submitted: auto-replied\r\n",
    "Precedence: bulk\r\n",
    "List-Id: <x>\r\n",
    "Return-Path: <>\r\n",
    "X-Autoreply: yes\r\n",
    "From: MAILER-DAEMON@example.org\r\n",
    "From: \"=?utf-8?q?M=C3=BCller?=\" <m@example.org>\r\n",
    "From: <>\r\n",
    "From: a@b@c\r\n",
    "From: undisclosed-recipients:;\r\n",
    "Date: Mon, 99 Foo 99999 99:99:99 +9999\r\n",
    "\t",
    " ",
    ":",
    ";",
    "<",
    ">",
    "\"",
    "\\",
    "(comment (nested (deeper)))",
    "\0",
    "ä",
    "Am 30.11.2026 um 10:12 schrieb Max <max@example.org>:\r\n",
    "> ",
    "-- \r\n",
    "Mit freundlichen Grüßen\r\n",
    "Von: x\r\nGesendet: y\r\n",
    "-----Original Message-----\r\n",
    "begin 644 file.txt\r\n",
];

/// A mail of multiparts (or attached mails) nested `depth` deep, closed or left open.
fn nested_mail(depth: usize, attached: bool, closed: bool, same_boundary: bool) -> Vec<u8> {
    let mut out = String::from("From: Anna <anna@example.org>\r\nSubject: tief\r\n");
    let boundary = |i: usize| {
        if same_boundary {
            "b".to_string()
        } else {
            format!("b{i}")
        }
    };
    for i in 0..depth {
        if attached {
            out.push_str("Content-Type: message/rfc822\r\n\r\nSubject: innen\r\n");
        } else {
            out.push_str(&format!(
                "Content-Type: multipart/mixed; boundary=\"{}\"\r\n\r\n--{}\r\n",
                boundary(i),
                boundary(i)
            ));
        }
    }
    out.push_str("Content-Type: text/plain\r\n\r\nWas kostet ein Reisepass?\r\n");
    if closed && !attached {
        for i in (0..depth).rev() {
            out.push_str(&format!("--{}--\r\n", boundary(i)));
        }
    }
    out.into_bytes()
}

/// A header line `times` times as long as usual, or repeated `times` times.
fn huge_header(name: &str, value: &str, times: usize, lines: bool, folded: bool) -> Vec<u8> {
    let mut out = String::new();
    if lines {
        for _ in 0..times {
            out.push_str(&format!("{name}: {value}\r\n"));
        }
    } else {
        let sep = if folded { "\r\n " } else { " " };
        out.push_str(&format!("{name}: "));
        for _ in 0..times {
            out.push_str(value);
            out.push_str(sep);
        }
        out.push_str("\r\n");
    }
    out.push_str(
        "From: a@example.org\r\nContent-Type: text/plain\r\n\r\nWas kostet ein Reisepass?\r\n",
    );
    out.into_bytes()
}

/// Mails whose only text is HTML, of tag soup: the body the channel reads through html2text.
fn html_mails() -> impl Strategy<Value = Vec<u8>> {
    let charset = select(&["utf-8", "iso-8859-1", "windows-1252", "x-unknown"][..]);
    let encoding = select(&["8bit", "quoted-printable", "base64"][..]);
    (html(), charset, encoding, any::<bool>()).prop_map(|(body, charset, encoding, alternative)| {
        let body = match encoding {
            "base64" => {
                use base64::Engine;
                base64::engine::general_purpose::STANDARD.encode(body.as_bytes())
            }
            _ => body,
        };
        let part = format!(
            "Content-Type: text/html; charset={charset}\r\nContent-Transfer-Encoding: {encoding}\r\n\r\n{body}\r\n"
        );
        let mail = if alternative {
            format!("Content-Type: multipart/alternative; boundary=\"h\"\r\n\r\n--h\r\n{part}--h--\r\n")
        } else {
            part
        };
        format!("From: Anna <anna@example.org>\r\nSubject: Frage\r\nMIME-Version: 1.0\r\n{mail}")
            .into_bytes()
    })
}

/// Mails: the fixtures' real mails mutated, nested multiparts and attached mails, huge
/// headers, arbitrary bytes.
pub fn mails() -> impl Strategy<Value = Mail> {
    let real = Arc::new(samples(&fixtures("mail"), &[".eml", ".eml.head"]));
    let nested = (1usize..400, any::<bool>(), any::<bool>(), any::<bool>())
        .prop_map(|(depth, attached, closed, same)| nested_mail(depth, attached, closed, same));
    let huge = (
        select(
            &[
                "Subject",
                "References",
                "From",
                "To",
                "X-A",
                "Content-Type",
                "Received",
            ][..],
        ),
        select(
            &[
                "<a@b>",
                "x",
                "=?utf-8?q?=C3=A4?=",
                "a@example.org,",
                "(",
                "\"",
                "multipart/mixed; boundary=b;",
            ][..],
        ),
        1usize..50_000,
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(name, value, times, lines, folded)| {
            huge_header(name, value, times, lines, folded)
        });
    prop_oneof![
        6 => mutated(real, tokens(&[MIME, HTML].concat()), false, MAX_MAIL),
        2 => html_mails(),
        2 => nested,
        1 => huge,
        1 => prop::collection::vec(any::<u8>(), 0..4096),
    ]
    .prop_map(Mail)
}

/// Parses a mail as the e-mail channel does, and reads what the channel reads of it.
pub fn parse_mail(mail: &Mail) {
    let ours = EmailAddress::try_from("buergerservice@musterstadt.example").expect("an address");
    let Some(parsed) = inbound::parse(&mail.0, &ours, |id| id.ends_with("@rathaus.invalid")) else {
        return;
    };
    std::hint::black_box(parsed.referenced());
    if let Some(from) = &parsed.from {
        std::hint::black_box(from.masked());
    }
    for a in &parsed.attachments {
        std::hint::black_box(a.describe());
    }
}

// ---------------------------------------------------------------------------------------
// 5. Audio decoding.

#[derive(Clone)]
pub struct Utterance {
    /// The `Content-Type` it came with, which names its encoding.
    pub content_type: String,
    pub bytes: Vec<u8>,
    pub max_seconds: u32,
}

impl std::fmt::Debug for Utterance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:?}, max {} s, {} bytes: {:02x?}",
            self.content_type,
            self.max_seconds,
            self.bytes.len(),
            &self.bytes[..self.bytes.len().min(256)]
        )
    }
}

impl Input for Utterance {
    fn bytes(&self) -> usize {
        self.bytes.len()
    }
}

/// A RIFF/WAVE file with a 16-byte fmt chunk (or an extensible one, for tag 0xFFFE).
pub fn wav(tag: u16, bits: u16, rate: u32, channels: u16, data: &[u8]) -> Vec<u8> {
    let extensible = tag == 0xFFFE;
    let fmt_size: u32 = if extensible { 40 } else { 16 };
    let mut b = Vec::new();
    b.extend_from_slice(b"RIFF");
    b.extend_from_slice(&(20 + fmt_size + data.len() as u32).to_le_bytes());
    b.extend_from_slice(b"WAVEfmt ");
    b.extend_from_slice(&fmt_size.to_le_bytes());
    b.extend_from_slice(&tag.to_le_bytes());
    b.extend_from_slice(&channels.to_le_bytes());
    b.extend_from_slice(&rate.to_le_bytes());
    let align = channels.wrapping_mul(bits) / 8;
    b.extend_from_slice(&rate.wrapping_mul(align as u32).to_le_bytes());
    b.extend_from_slice(&align.to_le_bytes());
    b.extend_from_slice(&bits.to_le_bytes());
    if extensible {
        b.extend_from_slice(&22u16.to_le_bytes());
        b.extend_from_slice(&bits.to_le_bytes());
        b.extend_from_slice(&0u32.to_le_bytes());
        // KSDATAFORMAT_SUBTYPE_PCM: the real tag, then the GUID's fixed tail.
        b.extend_from_slice(&1u16.to_le_bytes());
        b.extend_from_slice(&[
            0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71,
        ]);
    }
    b.extend_from_slice(b"data");
    b.extend_from_slice(&(data.len() as u32).to_le_bytes());
    b.extend_from_slice(data);
    b
}

/// A tone's samples, `count` of them, as 16-bit values.
fn tone(count: usize) -> impl Iterator<Item = i16> {
    (0..count).map(|i| ((i as f32 * 0.35).sin() * 12_000.0) as i16)
}

/// Tiny valid recordings of every format the decoder reads, and a few odd but valid ones.
pub fn audio_samples() -> Vec<Vec<u8>> {
    let pcm16: Vec<u8> = tone(400).flat_map(i16::to_le_bytes).collect();
    let pcm8: Vec<u8> = tone(400).map(|s| ((s >> 8) + 128) as u8).collect();
    let pcm24: Vec<u8> = tone(400)
        .flat_map(|s| {
            let b = ((s as i32) << 8).to_le_bytes();
            [b[0], b[1], b[2]]
        })
        .collect();
    let pcm32: Vec<u8> = tone(400)
        .flat_map(|s| ((s as i32) << 16).to_le_bytes())
        .collect();
    let float: Vec<u8> = tone(400)
        .flat_map(|s| (s as f32 / 32768.0).to_le_bytes())
        .collect();
    let g711: Vec<u8> = (0..400u32).map(|i| (i * 37 % 251) as u8).collect();
    let l16: Vec<u8> = tone(400).flat_map(i16::to_be_bytes).collect();
    let mut with_list = wav(1, 16, 8000, 1, &pcm16);
    // A LIST chunk of odd size before the data, padded as RIFF says.
    let data_at = with_list.len() - pcm16.len() - 8;
    with_list.splice(data_at..data_at, *b"LIST\x03\x00\x00\x00abc\x00");
    let mut streamed = wav(1, 16, 16000, 1, &pcm16);
    let size_at = streamed.len() - pcm16.len() - 4;
    streamed[size_at..size_at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    vec![
        wav(1, 16, 8000, 1, &pcm16),
        wav(1, 16, 16000, 2, &pcm16),
        wav(1, 8, 11025, 1, &pcm8),
        wav(1, 24, 44100, 1, &pcm24),
        wav(1, 32, 22050, 1, &pcm32),
        wav(3, 32, 48000, 1, &float),
        wav(6, 8, 8000, 1, &g711),
        wav(7, 8, 8000, 1, &g711),
        wav(0xFFFE, 16, 16000, 1, &pcm16),
        with_list,
        streamed,
        g711,
        l16,
    ]
}

/// Bytes that WAV headers hold: chunk ids, sizes, tags, rates, channel and bit counts.
fn audio_tokens() -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = [&b"RIFF"[..], b"WAVE", b"fmt ", b"data", b"LIST", b"fact"]
        .iter()
        .map(|t| t.to_vec())
        .collect();
    for v in [
        0u32,
        1,
        2,
        16,
        18,
        40,
        7999,
        8000,
        16000,
        44100,
        48000,
        48001,
        0x7FFF_FFFF,
        0xFFFF_FFFE,
        0xFFFF_FFFF,
    ] {
        out.push(v.to_le_bytes().to_vec());
    }
    for v in [0u16, 1, 2, 3, 6, 7, 8, 16, 24, 32, 0x55, 0xFFFE, 0xFFFF] {
        out.push(v.to_le_bytes().to_vec());
    }
    out
}

/// The content types the phone channel is sent, and ones it must refuse.
const CONTENT_TYPES: &[&str] = &[
    "audio/wav",
    "audio/x-wav",
    "audio/wave",
    "audio/vnd.wave",
    "audio/basic",
    "audio/PCMU",
    "audio/PCMU; rate=8000",
    "audio/x-mulaw",
    "audio/PCMA",
    "audio/x-alaw",
    "audio/L16",
    "audio/L16;rate=16000",
    "audio/L16; rate=44100; channels=1",
    "audio/L16;rate=48000",
    "audio/L16;rate=8000",
    "AUDIO/L16 ; RATE = \"11025\"",
    "audio/L16;rate=7999",
    "audio/L16;rate=4294967295",
    "audio/L16;rate=-1",
    "audio/L16;rate=",
    "audio/L16;channels=2",
    "audio/PCMU;rate=16000",
    "audio/mpeg",
    "",
    ";;;=;",
];

/// Recordings as the phone channel receives them: the samples mutated, WAV headers of
/// arbitrary fields, arbitrary bytes; under a content type of every encoding.
pub fn utterances() -> impl Strategy<Value = Utterance> {
    let samples = Arc::new(audio_samples());
    let header = (
        prop_oneof![select(&[1u16, 3, 6, 7, 0xFFFE][..]), any::<u16>()],
        prop_oneof![select(&[8u16, 16, 24, 32][..]), any::<u16>()],
        prop_oneof![select(&[8000u32, 16000, 44100, 48000][..]), any::<u32>()],
        prop_oneof![select(&[1u16, 2][..]), any::<u16>()],
        prop::collection::vec(any::<u8>(), 0..4096),
    )
        .prop_map(|(tag, bits, rate, channels, data)| wav(tag, bits, rate, channels, &data));
    let bytes = prop_oneof![
        6 => mutated(samples, audio_tokens(), false, 1 << 18),
        2 => header,
        1 => prop::collection::vec(any::<u8>(), 0..4096),
    ];
    let content_type = prop_oneof![
        8 => select(CONTENT_TYPES).prop_map(str::to_string),
        2 => (8000u32..=48000).prop_map(|r| format!("audio/L16;rate={r}")),
        1 => any::<u32>().prop_map(|r| format!("audio/L16;rate={r}")),
        1 => any::<String>(),
    ];
    let max_seconds = prop_oneof![Just(30u32), 0u32..=600];
    (content_type, bytes, max_seconds).prop_map(|(content_type, bytes, max_seconds)| Utterance {
        content_type,
        bytes,
        max_seconds,
    })
}

/// Decodes an utterance as the phone channel does: audio no longer than allowed and, where
/// its length is known without a header, exactly as long as sent; or an error that says why
/// not.
pub fn decode_audio(u: &Utterance) {
    let Ok(encoding) = Encoding::from_media_type(&u.content_type) else {
        return;
    };
    let Ok(decoded) = audio::decode(&u.bytes, encoding, u.max_seconds) else {
        return;
    };
    let most = u.max_seconds as usize * WHISPER_RATE as usize;
    assert!(
        decoded.samples.len() <= most,
        "{} samples decoded, at most {most} allowed",
        decoded.samples.len()
    );
    assert!(decoded.samples.iter().all(|s| s.is_finite()));
    let raw = match encoding {
        Encoding::Mulaw | Encoding::Alaw => Some((u.bytes.len(), TELEPHONY_RATE)),
        Encoding::L16 { rate } => Some((u.bytes.len() / 2, rate)),
        Encoding::Wav => None,
    };
    if let Some((frames, rate)) = raw {
        assert_eq!(
            decoded.samples.len(),
            frames * WHISPER_RATE as usize / rate as usize,
            "{frames} frames at {rate} Hz"
        );
    }
}
