//! How well and how fast `pii::mask` hides personal data: recall per kind on the cases
//! written for the tests (and on the cases it is known to miss), the share of ordinary
//! questions it changes, throughput, and the time for long messages of 4,000 and 40,000
//! characters (a single long word, random text), whose ratio shows the cost is linear.
//! Prints figures; asserts nothing about time.
//!
//!   cargo bench --bench pii
//!
//! Environment: QUESTIONS (default ../shared/eval/dev.jsonl; its questions are counted as
//! ordinary if the file is there).

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rathaus::pii::mask;

const CASES: &str = include_str!("../tests/fixtures/pii/cases.tsv");
const NOT_COVERED: &str = include_str!("../tests/fixtures/pii/not_covered.tsv");
const ORDINARY: &str = include_str!("../tests/fixtures/pii/ordinary.txt");

const LABELS: [&str; 11] = [
    "[E-MAIL]",
    "[IBAN]",
    "[RV-NR]",
    "[DATUM]",
    "[AUSWEIS-NR]",
    "[TELEFON]",
    "[STEUER-ID]",
    "[STEUER-NR]",
    "[ADRESSE]",
    "[NAME]",
    "[NUMMER]",
];

/// A fixture line: the input and, for each label in the expected output, the text it hides.
struct Case {
    input: String,
    items: Vec<(&'static str, String)>,
}

fn lines(fixture: &str) -> impl Iterator<Item = &str> {
    fixture
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
}

fn cases(fixture: &str) -> Vec<Case> {
    lines(fixture)
        .map(|l| {
            let (input, expected) = l.split_once('\t').expect("input and expected");
            let (input, expected) = (input.replace("\\n", "\n"), expected.replace("\\n", "\n"));
            let items = hidden(&input, &expected)
                .unwrap_or_else(|| panic!("expected output does not fit its input: {l}"));
            Case { input, items }
        })
        .collect()
}

/// The labels of `expected` and the stretches of `input` they stand for, found by walking
/// the text between labels through the input.
fn hidden(input: &str, expected: &str) -> Option<Vec<(&'static str, String)>> {
    let mut labels = Vec::new();
    let mut literals = vec![String::new()];
    let mut rest = expected;
    while !rest.is_empty() {
        if let Some(label) = LABELS.iter().find(|l| rest.starts_with(**l)) {
            labels.push(*label);
            literals.push(String::new());
            rest = &rest[label.len()..];
        } else {
            let c = rest.chars().next()?;
            literals.last_mut()?.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    let mut at = input
        .strip_prefix(literals[0].as_str())
        .map(|_| literals[0].len())?;
    let mut items = Vec::new();
    for (i, label) in labels.iter().enumerate() {
        let next = &literals[i + 1];
        let end = if i + 1 == labels.len() {
            input
                .len()
                .checked_sub(next.len())
                .filter(|&e| input[e..] == **next)?
        } else {
            at + 1 + input.get(at + 1..)?.find(next.as_str())?
        };
        items.push((*label, input.get(at..end)?.to_string()));
        at = end + next.len();
    }
    Some(items)
}

/// Caught: every expected label of the kind appears (as often) and none of its text remains.
fn caught(masked: &str, items: &[&(&str, String)]) -> bool {
    items.iter().all(|(label, text)| {
        let wanted = items.iter().filter(|(l, _)| l == label).count();
        masked.matches(label).count() >= wanted && !masked.contains(text.as_str())
    })
}

fn recall(title: &str, cases: &[Case]) {
    let mut per_kind: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut all = 0;
    for case in cases {
        let masked = mask(&case.input);
        let items: Vec<_> = case.items.iter().collect();
        all += usize::from(caught(&masked, &items));
        for label in LABELS {
            let of_kind: Vec<_> = items.iter().copied().filter(|(l, _)| *l == label).collect();
            if !of_kind.is_empty() {
                let entry = per_kind.entry(label).or_default();
                entry.0 += 1;
                entry.1 += usize::from(caught(&masked, &of_kind));
            }
        }
    }
    println!("{title}");
    for label in LABELS {
        if let Some((n, hit)) = per_kind.get(label) {
            println!("  {label:<13} {hit:>4} / {n:<4} {:>6.1} %", pct(*hit, *n));
        }
    }
    println!(
        "  {:<13} {all:>4} / {:<4} {:>6.1} %",
        "all cases",
        cases.len(),
        pct(all, cases.len())
    );
}

fn pct(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        100.0 * part as f64 / whole as f64
    }
}

fn false_positives(title: &str, questions: &[String]) {
    let changed: Vec<String> = questions
        .iter()
        .map(|q| mask(q))
        .zip(questions)
        .filter(|(masked, q)| masked != q.as_str())
        .map(|(masked, _)| masked.into_owned())
        .collect();
    println!(
        "{title:<44} {:>4} / {:<4} changed {:>6.1} %",
        changed.len(),
        questions.len(),
        pct(changed.len(), questions.len())
    );
    for masked in changed {
        println!("    {masked}");
    }
}

fn dev_questions() -> Vec<String> {
    let path = std::env::var("QUESTIONS").unwrap_or("../shared/eval/dev.jsonl".into());
    let Ok(jsonl) = std::fs::read_to_string(&path) else {
        println!("({path} not found: dev questions not counted)");
        return Vec::new();
    };
    rathaus::eval::parse_questions(&jsonl)
        .expect("question set")
        .into_iter()
        .map(|q| q.q)
        .collect()
}

fn throughput(texts: &[String]) {
    let bytes: usize = texts.iter().map(String::len).sum();
    let start = Instant::now();
    let mut rounds = 0;
    while start.elapsed() < Duration::from_secs(2) {
        for t in texts {
            black_box(mask(black_box(t)));
        }
        rounds += 1;
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "throughput on {} strings (avg {} bytes): {:>9.0} strings/s {:>7.2} MB/s",
        texts.len(),
        bytes / texts.len(),
        (rounds * texts.len()) as f64 / secs,
        (rounds * bytes) as f64 / secs / 1e6
    );
}

/// Median time of masking `text`.
fn time_one(text: &str) -> Duration {
    let mut times: Vec<Duration> = (0..41)
        .map(|_| {
            let start = Instant::now();
            black_box(mask(black_box(text)));
            start.elapsed()
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

fn repeat_to(unit: &str, chars: usize) -> String {
    unit.chars().cycle().take(chars).collect()
}

fn random_text(chars: usize, rng: &mut StdRng) -> String {
    let alphabet: Vec<char> =
        "abcdefghijklmnopqrstuvwxyzäöüßABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÜ0123456789     .,:;-/+@()"
            .chars()
            .collect();
    (0..chars)
        .map(|_| alphabet[rng.random_range(0..alphabet.len())])
        .collect()
}

fn long_messages() {
    let mut rng = StdRng::seed_from_u64(7);
    let realistic: String = lines(CASES)
        .map(|l| l.split_once('\t').map_or(l, |(input, _)| input))
        .collect::<Vec<_>>()
        .join(" ");
    type Make = Box<dyn Fn(usize, &mut StdRng) -> String>;
    let repeated = |unit: &'static str| -> Make { Box::new(move |n, _| repeat_to(unit, n)) };
    let inputs: Vec<(&str, Make)> = vec![
        (
            "one long word (letters, umlauts)",
            repeated("Donaudampfschifffahrtsgesellschaftskapitänsmützenstraße"),
        ),
        ("one long word (digits)", repeated("0123456789")),
        ("one long word (a.b@c)", repeated("a.b@c")),
        ("random text", Box::new(random_text)),
        ("digits and spaces", repeated("0 1 2 3 4 5 6 7 8 9 ")),
        (
            "triggers without names",
            repeated("Frau von Herr Name: ich bin "),
        ),
        ("streets glued to digits", repeated("1astraße 1")),
        (
            "fixture cases run together",
            Box::new(move |n, _| repeat_to(&realistic, n)),
        ),
    ];
    println!("one message of 4,000 and of 40,000 characters (median of 41):");
    for (name, make) in &inputs {
        let short = time_one(&make(4_000, &mut rng));
        let long = time_one(&make(40_000, &mut rng));
        println!(
            "  {name:<34} 4k {:>9.1} µs   40k {:>9.1} µs   ratio {:>5.1}",
            short.as_secs_f64() * 1e6,
            long.as_secs_f64() * 1e6,
            long.as_secs_f64() / short.as_secs_f64()
        );
    }
}

fn main() {
    let covered = cases(CASES);
    let known_misses = cases(NOT_COVERED);
    recall(
        &format!("recall on the cases ({} strings)", covered.len()),
        &covered,
    );
    recall(
        &format!(
            "recall on the cases known not covered ({} strings)",
            known_misses.len()
        ),
        &known_misses,
    );

    let ordinary: Vec<String> = lines(ORDINARY).map(String::from).collect();
    let dev = dev_questions();
    println!("false positives (a question counts if anything in it was masked):");
    false_positives("  ordinary questions (fixture)", &ordinary);
    if !dev.is_empty() {
        false_positives("  questions of the dev set", &dev);
    }

    let mut texts: Vec<String> = covered.into_iter().map(|c| c.input).collect();
    texts.extend(ordinary);
    texts.extend(dev);
    throughput(&texts);
    long_messages();
}
