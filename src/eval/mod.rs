//! The evaluation: runs a question set (JSON lines: q, expect, kind, lang) through the
//! dialogue core with a fresh conversation each, and counts what a city cares about: right
//! at rank 1, right within three, wrong answers, and none/handoff items handled.

use std::collections::BTreeMap;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::dialogue::{Candidate, Decision, Dialogue, Inbound, Outcome};

mod fit;
pub use fit::{Validated, cross_validate, fit_all, ranker_header};

#[derive(Debug, Clone, Deserialize)]
pub struct Question {
    pub q: String,
    #[serde(default)]
    pub expect: Vec<String>,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub lang: Option<String>,
}

impl Question {
    fn answerable(&self) -> bool {
        !matches!(self.kind.as_str(), "none" | "handoff")
    }
}

/// One line of `--output`, exactly as documented.
#[derive(Debug, Clone, Serialize)]
pub struct Result {
    pub q: String,
    pub outcome: Outcome,
    pub entries: Vec<String>,
    pub ms: f64,
}

#[derive(Debug, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct QuestionError {
    pub line: usize,
    pub message: String,
}

/// Parses a question file; blank lines are skipped, a bad line is an error naming it.
pub fn parse_questions(text: &str) -> std::result::Result<Vec<Question>, QuestionError> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| QuestionError {
                line: i + 1,
                message: e.to_string(),
            })
        })
        .collect()
}

/// Counts for one kind of question, or for all.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Tally {
    pub items: usize,
    pub answerable: usize,
    pub rank1: usize,
    pub top3: usize,
    pub wrong: usize,
    pub none_items: usize,
    pub none_handled: usize,
    pub handoff_items: usize,
    pub handoff_handled: usize,
    pub outcomes: BTreeMap<&'static str, usize>,
}

impl Tally {
    fn add(&mut self, q: &Question, r: &Result) {
        self.items += 1;
        *self.outcomes.entry(r.outcome.as_str()).or_default() += 1;
        let expected = |id: &String| q.expect.contains(id);
        if q.answerable() {
            self.answerable += 1;
            if r.outcome == Outcome::Answer && r.entries.first().is_some_and(expected) {
                self.rank1 += 1;
            }
            if r.entries.iter().take(3).any(expected) {
                self.top3 += 1;
            }
            if r.outcome == Outcome::Answer && !r.entries.first().is_some_and(expected) {
                self.wrong += 1;
            }
        } else {
            if r.outcome == Outcome::Answer {
                self.wrong += 1;
            }
            if q.kind == "none" {
                self.none_items += 1;
                self.none_handled += usize::from(r.outcome == Outcome::DontKnow);
            } else {
                self.handoff_items += 1;
                self.handoff_handled += usize::from(r.outcome == Outcome::Handoff);
            }
        }
    }
}

/// The evaluation's results, per question and counted.
pub struct Report {
    pub results: Vec<Result>,
    pub total: Tally,
    pub by_kind: BTreeMap<String, Tally>,
}

/// Runs every question through the core; `progress` is called after each.
/// `vectors` are the questions' embeddings, in order, where meaning-based search is on.
pub fn run(
    dialogue: &Dialogue,
    questions: &[Question],
    vectors: Option<&[Vec<f32>]>,
    mut progress: impl FnMut(),
) -> Report {
    let mut results = Vec::with_capacity(questions.len());
    let mut total = Tally::default();
    let mut by_kind: BTreeMap<String, Tally> = BTreeMap::new();
    for (i, q) in questions.iter().enumerate() {
        let vector = vectors.and_then(|v| v.get(i)).map(Vec::as_slice);
        let inbound = Inbound {
            text: q.q.clone(),
            lang: q.lang.as_deref().and_then(|l| l.parse().ok()),
            choice: None,
        };
        let started = Instant::now();
        let decision = dialogue.respond_with(&Default::default(), &inbound, vector);
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        let r = Result {
            q: q.q.clone(),
            outcome: decision.reply.outcome,
            entries: decision
                .reply
                .entries
                .iter()
                .map(|e| e.id.to_string())
                .collect(),
            ms: (ms * 1000.0).round() / 1000.0,
        };
        total.add(q, &r);
        by_kind.entry(q.kind.clone()).or_default().add(q, &r);
        results.push(r);
        progress();
    }
    Report {
        results,
        total,
        by_kind,
    }
}

/// For every question: whether it was handled right, what was expected, how the question
/// was analysed, and the candidates with their scores.
pub fn explain(
    dialogue: &Dialogue,
    questions: &[Question],
    vectors: Option<&[Vec<f32>]>,
    report: &Report,
) -> String {
    use std::fmt::Write;
    let kb = dialogue.knowledge();
    let name = |id: &str| {
        kb.catalogue
            .entries
            .iter()
            .find(|e| e.id.as_str() == id)
            .map(|e| e.name.clone())
            .unwrap_or_default()
    };
    let mut out = String::new();
    for (i, (q, r)) in questions.iter().zip(&report.results).enumerate() {
        let vector = vectors.and_then(|v| v.get(i)).map(Vec::as_slice);
        let right = if q.answerable() {
            r.outcome == Outcome::Answer && r.entries.first().is_some_and(|e| q.expect.contains(e))
        } else {
            r.outcome != Outcome::Answer
        };
        let inbound = Inbound {
            text: q.q.clone(),
            lang: q.lang.as_deref().and_then(|l| l.parse().ok()),
            choice: None,
        };
        let d = dialogue.respond_with(&Default::default(), &inbound, vector);
        let lang = inbound.lang.unwrap_or(crate::language::Lang::De);
        let concepts = kb
            .index
            .analyse(&q.q, lang)
            .concepts
            .iter()
            .map(|c| {
                let terms: Vec<String> =
                    c.terms.iter().map(|(t, w)| format!("{t}:{w:.1}")).collect();
                format!(
                    "{}({:.1}{})[{}]",
                    c.word,
                    c.weight,
                    if c.known { "" } else { "?" },
                    terms.join(" ")
                )
            })
            .collect::<Vec<_>>()
            .join(" ");
        let _ = writeln!(
            out,
            "[{}] {} -> {} {}",
            q.kind,
            q.q,
            r.outcome.as_str(),
            if right { "OK" } else { "FAIL" }
        );
        let _ = writeln!(
            out,
            "  expect: {}",
            q.expect
                .iter()
                .map(|e| format!("{e} {}", name(e)))
                .collect::<Vec<_>>()
                .join(" | ")
        );
        let _ = writeln!(out, "  concepts: {concepts}");
        let _ = writeln!(out, "  decided by: {:?}", d.stage);
        // The first five, and an expected entry ranked below them with its rank.
        let shown = d
            .candidates
            .iter()
            .enumerate()
            .filter(|(rank, c)| *rank < 5 || q.expect.contains(&c.id.to_string()));
        for (rank, c) in shown {
            let mark = match (q.expect.contains(&c.id.to_string()), rank < 5) {
                (false, _) => "  ".to_string(),
                (true, true) => "* ".to_string(),
                (true, false) => format!("#{}", rank + 1),
            };
            let _ = writeln!(out, "  {mark:<2} {}", candidate_line(c));
        }
    }
    out
}

/// A candidate on one line: probability, the main features, id and name.
fn candidate_line(c: &Candidate) -> String {
    let f = |n: &str| c.features.get(n).unwrap_or(0.0);
    format!(
        "p {:.3}  lex {:.2} cov {:.2} tcov {:.2} spec {:.2} str {:.2} sim {:.3} name {:.3} q {:.3}  {} {}",
        c.probability,
        f("lexical"),
        f("coverage"),
        f("title_coverage"),
        f("specificity"),
        f("strength"),
        f("meaning"),
        f("meaning_name"),
        f("meaning_question"),
        c.id,
        c.name
    )
}

/// Why the core decided as it did, for `rathaus ask --explain`.
pub fn explain_decision(d: &Decision) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "decided by: {:?} ({})",
        d.stage,
        if d.meaning {
            "words and meaning"
        } else {
            "words only"
        }
    );
    if let Some(reason) = d.signals.cue_handoff {
        let _ = writeln!(out, "cue: a request for a person ({reason:?})");
    }
    for m in d.signals.matches.iter().take(3) {
        let _ = writeln!(
            out,
            "intent {:<12} words {:.2} meaning {:.3}",
            m.intent.name(),
            m.words,
            m.meaning
        );
    }
    let _ = writeln!(
        out,
        "closest entry in meaning: {:.3}",
        d.signals.closest_entry
    );
    for c in d.candidates.iter().take(5) {
        let _ = writeln!(out, "  {}", candidate_line(c));
    }
    out
}

fn pct(n: usize, d: usize) -> String {
    if d == 0 {
        "–".into()
    } else {
        format!("{:.1} %", 100.0 * n as f64 / d as f64)
    }
}

/// The figures a city cares about, one a line.
fn summary(f: &mut std::fmt::Formatter<'_>, t: &Tally) -> std::fmt::Result {
    writeln!(
        f,
        "answered correctly at rank 1: {}/{} answerable ({})",
        t.rank1,
        t.answerable,
        pct(t.rank1, t.answerable)
    )?;
    writeln!(
        f,
        "answered right or among the choices: {}/{} answerable ({})",
        t.top3,
        t.answerable,
        pct(t.top3, t.answerable)
    )?;
    writeln!(
        f,
        "wrong answers: {}/{} items ({})",
        t.wrong,
        t.items,
        pct(t.wrong, t.items)
    )?;
    writeln!(
        f,
        "none items handled (dont_know): {}/{} ({})",
        t.none_handled,
        t.none_items,
        pct(t.none_handled, t.none_items)
    )?;
    writeln!(
        f,
        "handoff items handled: {}/{} ({})",
        t.handoff_handled,
        t.handoff_items,
        pct(t.handoff_handled, t.handoff_items)
    )
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{:<12} {:>5} {:>9} {:>9} {:>7}  outcomes",
            "kind", "items", "rank-1", "top-3", "wrong"
        )?;
        for (kind, t) in self
            .by_kind
            .iter()
            .chain(std::iter::once((&"all".to_string(), &self.total)))
        {
            let outcomes = t
                .outcomes
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", ");
            let (r1, t3) = if t.answerable > 0 {
                (pct(t.rank1, t.answerable), pct(t.top3, t.answerable))
            } else {
                ("–".into(), "–".into())
            };
            writeln!(
                f,
                "{:<12} {:>5} {:>9} {:>9} {:>7}  {}",
                kind, t.items, r1, t3, t.wrong, outcomes
            )?;
        }
        writeln!(f)?;
        summary(f, &self.total)?;
        let mut ms: Vec<f64> = self.results.iter().map(|r| r.ms).collect();
        ms.sort_by(f64::total_cmp);
        if let (Some(median), Some(max)) = (ms.get(ms.len() / 2), ms.last()) {
            writeln!(
                f,
                "time per question: median {median:.3} ms, max {max:.3} ms"
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_question_lines_are_named() {
        let err = parse_questions("{\"q\": \"a\", \"kind\": \"name\"}\n\nnot json\n").unwrap_err();
        assert_eq!(err.line, 3);
    }

    #[test]
    fn tally_counts_wrong_answers_and_handled_items() {
        let q = |kind: &str, expect: &[&str]| Question {
            q: "x".into(),
            expect: expect.iter().map(|s| s.to_string()).collect(),
            kind: kind.into(),
            lang: None,
        };
        let r = |outcome, entries: &[&str]| Result {
            q: "x".into(),
            outcome,
            entries: entries.iter().map(|s| s.to_string()).collect(),
            ms: 0.0,
        };
        let mut t = Tally::default();
        t.add(&q("name", &["1"]), &r(Outcome::Answer, &["1"]));
        t.add(&q("name", &["1"]), &r(Outcome::Answer, &["2"]));
        t.add(&q("name", &["1"]), &r(Outcome::Clarify, &["2", "1"]));
        t.add(&q("none", &[]), &r(Outcome::Answer, &["3"]));
        t.add(&q("none", &[]), &r(Outcome::DontKnow, &[]));
        t.add(&q("handoff", &[]), &r(Outcome::Handoff, &[]));
        assert_eq!((t.answerable, t.rank1, t.top3, t.wrong), (3, 1, 2, 2));
        assert_eq!(
            (
                t.none_items,
                t.none_handled,
                t.handoff_items,
                t.handoff_handled
            ),
            (2, 1, 1, 1)
        );
    }
}
