//! Fitting the ranker's weights and the decision's bars on a question set, and measuring
//! them honestly: k-fold cross-validation fits on all folds but one and counts only on the
//! fold left out, so the figures speak for questions the fit never saw.

use std::fmt;

use super::{Question, Result, Tally, summary};
use crate::dialogue::decide::{self, Bars, Choice, Signals};
use crate::dialogue::features::{self, Features, QuestionFeatures};
use crate::dialogue::phrasings::Intent;
use crate::dialogue::ranker::{self, Group, Model};
use crate::dialogue::{Dialogue, Inbound, Outcome};

/// Wrong answers allowed, as a share of all questions, when the bars are chosen: the
/// product's first rule is that "I don't know" beats a wrong answer.
pub const MAX_WRONG: f32 = 0.02;

/// What each outcome is worth when the bars are chosen. A wrong answer costs three right
/// ones; choices that hold the right entry are worth half an answer (the citizen picks);
/// choices that miss it, or a needless handoff, cost a little. These say what the city wants,
/// not what the question set rewards: they are not tuned.
mod worth {
    pub const RIGHT: f32 = 1.0;
    pub const WRONG: f32 = -3.0;
    pub const CHOICES_RIGHT: f32 = 0.5;
    pub const CHOICES_MISSED: f32 = -0.25;
    pub const NEEDLESS_PERSON: f32 = -0.5;
    pub const HANDLED: f32 = 1.0;
}

/// A question read by every stage before the ranker, with which candidates are right.
struct Item {
    question: usize,
    signals: Signals,
    features: Vec<Features>,
    question_features: QuestionFeatures,
    forms: Vec<Vec<usize>>,
    right: Vec<bool>,
    ids: Vec<String>,
}

fn prepare(dialogue: &Dialogue, questions: &[Question], vectors: Option<&[Vec<f32>]>) -> Vec<Item> {
    let kb = dialogue.knowledge();
    questions
        .iter()
        .enumerate()
        .map(|(i, q)| {
            let inbound = Inbound {
                text: q.q.clone(),
                lang: q.lang.as_deref().and_then(|l| l.parse().ok()),
                choice: None,
            };
            let vector = vectors.and_then(|v| v.get(i)).map(Vec::as_slice);
            let p = dialogue.prepare(&Default::default(), &inbound, vector);
            let ids: Vec<String> = p
                .hits
                .iter()
                .map(|h| kb.catalogue.entries[h.entry].id.to_string())
                .collect();
            Item {
                question: i,
                right: ids.iter().map(|id| q.expect.contains(id)).collect(),
                ids,
                signals: p.signals,
                features: p.features,
                question_features: p.question,
                forms: p.forms,
            }
        })
        .collect()
}

/// A decision in the evaluation's terms, with the ranks of the entries it names.
fn outcome_of(choice: Choice) -> (Outcome, Vec<usize>) {
    match choice {
        Choice::Answer(r) => (Outcome::Answer, vec![r]),
        Choice::Clarify(list) => (Outcome::Clarify, list),
        Choice::DontKnow => (Outcome::DontKnow, Vec::new()),
        Choice::SmallTalk => (Outcome::Smalltalk, Vec::new()),
        Choice::Intent(i) if i.handoff().is_some() => (Outcome::Handoff, Vec::new()),
        Choice::Intent(Intent::OutOfScope) => (Outcome::DontKnow, Vec::new()),
        Choice::Intent(_) => (Outcome::Smalltalk, Vec::new()),
    }
}

fn worth(q: &Question, item: &Item, outcome: &(Outcome, Vec<usize>)) -> f32 {
    let (o, entries) = outcome;
    let right = |i: &usize| item.right[*i];
    match (q.kind.as_str(), o) {
        (_, Outcome::Answer) if entries.iter().all(right) && q.answerable() => worth::RIGHT,
        (_, Outcome::Answer) => worth::WRONG,
        ("handoff", Outcome::Handoff) => worth::HANDLED,
        ("handoff", _) => 0.0,
        ("none", Outcome::DontKnow) => worth::HANDLED,
        ("none", Outcome::Clarify) => worth::CHOICES_MISSED,
        ("none", Outcome::Handoff) => worth::NEEDLESS_PERSON / 2.0,
        ("none", _) => 0.0,
        (_, Outcome::Clarify) if entries.iter().any(right) => worth::CHOICES_RIGHT,
        (_, Outcome::Clarify) => worth::CHOICES_MISSED,
        (_, Outcome::Handoff | Outcome::Smalltalk) => worth::NEEDLESS_PERSON,
        (_, Outcome::DontKnow) => 0.0,
    }
}

/// The candidate features a model of this mode reads.
fn names(meaning: bool) -> Vec<&'static str> {
    features::NAMES
        .iter()
        .copied()
        .filter(|n| meaning || !features::MEANING.contains(n))
        // The same for every candidate of a question: it says nothing of which is meant.
        .filter(|n| *n != "question_weight")
        .collect()
}

/// The question features that weigh "none of these" in this mode.
fn none_names(meaning: bool) -> Vec<&'static str> {
    features::QUESTION_NAMES
        .iter()
        .copied()
        .filter(|n| meaning || !features::QUESTION_MEANING.contains(n))
        .collect()
}

/// Fits weights on the items' candidates, then the bars on the items' outcomes.
fn fit_items(questions: &[Question], items: &[&Item], meaning: bool) -> Model {
    // Requests for a person never reach the ranker; the questions the catalogue cannot answer
    // do, and teach it what a candidate that is no answer looks like.
    let groups: Vec<Group> = items
        .iter()
        .filter(|it| questions[it.question].kind != "handoff")
        .map(|it| Group {
            candidates: it.features.clone(),
            right: it.right.clone(),
            question: it.question_features,
        })
        .collect();
    let mut model = ranker::fit(
        &groups,
        &names(meaning),
        &none_names(meaning),
        Bars::default(),
    );
    model.bars = choose_bars(questions, items, &model, meaning);
    model
}

fn grid(from: f32, to: f32, step: f32) -> Vec<f32> {
    let n = ((to - from) / step).round() as usize;
    (0..=n).map(|i| from + step * i as f32).collect()
}

/// An item ranked under one model: its candidates' probabilities, most probable first,
/// and their positions among the item's candidates.
struct Ranked<'a> {
    item: &'a Item,
    order: Vec<usize>,
    probabilities: Vec<f32>,
}

impl<'a> Ranked<'a> {
    fn new(item: &'a Item, model: &Model) -> Ranked<'a> {
        let p = model.probabilities(&item.features, &item.question_features);
        let (order, probabilities) = decide::rank(&p, &item.forms);
        Ranked {
            item,
            order,
            probabilities,
        }
    }

    fn outcome(&self, bars: &Bars) -> (Outcome, Vec<usize>) {
        self.outcome_with(&self.item.signals, bars)
    }

    fn outcome_with(&self, signals: &Signals, bars: &Bars) -> (Outcome, Vec<usize>) {
        let (o, ranks) = outcome_of(decide::decide(signals, &self.probabilities, bars).0);
        (o, ranks.into_iter().map(|r| self.order[r]).collect())
    }
}

/// The worth of a set of bars over ranked items, and its wrong answers; `cues` false weighs
/// the items as if the general cues for a person had said nothing.
fn worth_of(questions: &[Question], ranked: &[Ranked], bars: &Bars, cues: bool) -> (f32, usize) {
    let mut total = 0.0;
    let mut wrong = 0;
    for r in ranked {
        let o = if cues {
            r.outcome(bars)
        } else {
            let signals = Signals {
                cue_handoff: None,
                ..r.item.signals.clone()
            };
            r.outcome_with(&signals, bars)
        };
        let w = worth(&questions[r.item.question], r.item, &o);
        wrong += usize::from(w == worth::WRONG);
        total += w;
    }
    (total, wrong)
}

/// The bars that make the outcomes worth most with at most [`MAX_WRONG`] wrong answers, by
/// a search over a grid: the ranker's bars and the intents' bars in turn, twice (they
/// hardly interact: an intent is recognised before or instead of ranking). A bar above every
/// value (1.01) switches its path off.
///
/// The intents' bars are chosen as if the general cues for a person were silent: where the
/// cues already catch every request of a question set, the phrasings would otherwise never
/// earn their place there, and unseen requests that the cues miss are what they are for.
fn choose_bars(questions: &[Question], items: &[&Item], model: &Model, meaning: bool) -> Bars {
    let ranked: Vec<Ranked> = items.iter().map(|it| Ranked::new(it, model)).collect();
    let max_wrong = (MAX_WRONG * items.len() as f32).floor() as usize;
    let off = 1.01;
    let mut intent_words = grid(0.4, 0.9, 0.1);
    intent_words.push(off);
    let mut intent_meaning = if meaning {
        grid(0.84, 0.96, 0.01)
    } else {
        Vec::new()
    };
    intent_meaning.push(off);
    let intent_lead = if meaning {
        grid(-0.04, 0.08, 0.02)
    } else {
        vec![0.0]
    };
    let answer = grid(0.2, 0.95, 0.05);
    let lead = grid(0.0, 0.5, 0.1);
    let clarify = grid(0.02, 0.5, 0.04);
    let mut bars = Bars {
        intent_words: off,
        intent_meaning: off,
        ..Bars::default()
    };
    let consider = |candidate: Bars, best: &mut Option<f32>, bars: &mut Bars, cues: bool| {
        let (total, wrong) = worth_of(questions, &ranked, &candidate, cues);
        if wrong <= max_wrong && best.is_none_or(|b| total > b) {
            *best = Some(total);
            *bars = candidate;
        }
    };
    for _ in 0..2 {
        let fixed = bars;
        let mut best: Option<f32> = None;
        for &a in &answer {
            for &l in &lead {
                for &c in clarify.iter().filter(|&&c| c <= a) {
                    let candidate = Bars {
                        answer: a,
                        lead: l,
                        clarify: c,
                        ..fixed
                    };
                    consider(candidate, &mut best, &mut bars, true);
                }
            }
        }
        let fixed = bars;
        let mut best: Option<f32> = None;
        for &iw in &intent_words {
            for &im in &intent_meaning {
                for &il in &intent_lead {
                    let candidate = Bars {
                        intent_words: iw,
                        intent_meaning: im,
                        intent_lead: il,
                        ..fixed
                    };
                    consider(candidate, &mut best, &mut bars, false);
                }
            }
        }
    }
    bars
}

/// Figures of a question set under cross-validation.
pub struct Validated {
    pub folds: usize,
    pub meaning: bool,
    pub total: Tally,
    /// Answerable questions whose right entry the ranker put first, among its first three,
    /// and among the candidates at all, whatever was decided.
    pub ranked_first: usize,
    pub ranked_three: usize,
    pub found: usize,
    /// Requests for a person recognised by the phrasings alone, the general cues silenced.
    pub handoff_by_phrasings: usize,
}

impl fmt::Display for Validated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{}-fold cross-validated ({}; fit on {} of {} folds, counted on the fold left out):",
            self.folds,
            if self.meaning {
                "words and meaning"
            } else {
                "words only"
            },
            self.folds.saturating_sub(1),
            self.folds
        )?;
        summary(f, &self.total)?;
        let n = self.total.answerable;
        writeln!(
            f,
            "ranked first / among the first three / found at all: {} / {} / {} of {n} answerable",
            self.ranked_first, self.ranked_three, self.found
        )?;
        writeln!(
            f,
            "requests for a person recognised by the phrasings alone: {}/{}",
            self.handoff_by_phrasings, self.total.handoff_items
        )?;
        writeln!(f)
    }
}

/// Which fold a question is in: by kind, in turn, so that every fold has each kind.
fn folds_of(questions: &[Question], folds: usize) -> Vec<usize> {
    let mut by_kind: std::collections::BTreeMap<&str, usize> = Default::default();
    questions
        .iter()
        .map(|q| {
            let n = by_kind.entry(q.kind.as_str()).or_default();
            *n += 1;
            (*n - 1) % folds
        })
        .collect()
}

/// Fits on all folds but one and counts on the fold left out, for every fold.
pub fn cross_validate(
    dialogue: &Dialogue,
    questions: &[Question],
    vectors: Option<&[Vec<f32>]>,
    folds: usize,
) -> Validated {
    let folds = folds.max(2);
    let items = prepare(dialogue, questions, vectors);
    let meaning = vectors.is_some();
    let fold = folds_of(questions, folds);
    let mut total = Tally::default();
    let (mut ranked_first, mut ranked_three, mut found) = (0, 0, 0);
    let mut handoff_by_phrasings = 0;
    for k in 0..folds {
        let train: Vec<&Item> = items.iter().filter(|it| fold[it.question] != k).collect();
        let model = fit_items(questions, &train, meaning);
        for it in items.iter().filter(|it| fold[it.question] == k) {
            let ranked = Ranked::new(it, &model);
            if questions[it.question].answerable() {
                let rank = ranked.order.iter().position(|&i| it.right[i]);
                ranked_first += usize::from(rank == Some(0));
                ranked_three += usize::from(rank.is_some_and(|r| r < 3));
                found += usize::from(rank.is_some());
            }
            if questions[it.question].kind == "handoff" {
                let silenced = Signals {
                    cue_handoff: None,
                    ..it.signals.clone()
                };
                let (o, _) = ranked.outcome_with(&silenced, &model.bars);
                handoff_by_phrasings += usize::from(o == Outcome::Handoff);
            }
            let (o, entries) = ranked.outcome(&model.bars);
            total.add(
                &questions[it.question],
                &Result {
                    q: questions[it.question].q.clone(),
                    outcome: o,
                    entries: entries.iter().map(|&i| it.ids[i].clone()).collect(),
                    ms: 0.0,
                },
            );
        }
    }
    Validated {
        folds,
        meaning,
        total,
        ranked_first,
        ranked_three,
        found,
        handoff_by_phrasings,
    }
}

/// The model fitted on every question, for the ranker file.
pub fn fit_all(dialogue: &Dialogue, questions: &[Question], vectors: Option<&[Vec<f32>]>) -> Model {
    let items = prepare(dialogue, questions, vectors);
    let all: Vec<&Item> = items.iter().collect();
    fit_items(questions, &all, vectors.is_some())
}

/// The comment lines on one mode in a ranker file: how it was made and what it measured.
pub fn ranker_header(v: &Validated, questions: usize) -> String {
    let t = &v.total;
    format!(
        "# [{}]: `rathaus eval --fit --questions …` on {} questions; {}-fold cross-validated:\n\
         #   right at rank 1 {}/{}, right or among the choices {}/{}, wrong answers {}/{},\n\
         #   don't know outside the catalogue {}/{}, requests for a person {}/{}.\n",
        if v.meaning { "meaning" } else { "words" },
        questions,
        v.folds,
        t.rank1,
        t.answerable,
        t.top3,
        t.answerable,
        t.wrong,
        t.items,
        t.none_handled,
        t.none_items,
        t.handoff_handled,
        t.handoff_items
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn question(kind: &str) -> Question {
        Question {
            q: "x".into(),
            expect: if kind == "name" {
                vec!["a".into()]
            } else {
                Vec::new()
            },
            kind: kind.into(),
            lang: None,
        }
    }

    fn item(question: usize, candidates: &[(f32, bool)]) -> Item {
        Item {
            question,
            signals: Signals::default(),
            features: candidates
                .iter()
                .map(|(coverage, _)| {
                    let mut values = [0.0; features::COUNT];
                    values[1] = *coverage;
                    Features { values }
                })
                .collect(),
            question_features: {
                let mut q = QuestionFeatures::default();
                q.values[2] = candidates.iter().map(|c| c.0).fold(0.0, f32::max);
                q
            },
            right: candidates.iter().map(|(_, r)| *r).collect(),
            forms: vec![Vec::new(); candidates.len()],
            ids: candidates
                .iter()
                .map(|(_, r)| if *r { "a" } else { "b" }.to_string())
                .collect(),
        }
    }

    #[test]
    fn a_tiny_set_whose_answer_is_known_is_fitted_and_answered_without_wrong_answers() {
        // Answerable questions have one candidate of high coverage that is right; questions
        // outside the catalogue have only candidates of low coverage.
        let mut questions = Vec::new();
        let mut items = Vec::new();
        for i in 0..60 {
            let kind = if i % 3 == 0 { "none" } else { "name" };
            questions.push(question(kind));
            let noise = (i % 7) as f32 / 100.0;
            let cands: Vec<(f32, bool)> = if kind == "name" {
                vec![(0.9 - noise, true), (0.3 + noise, false), (0.2, false)]
            } else {
                vec![(0.3 + noise, false), (0.25, false)]
            };
            items.push(item(i, &cands));
        }
        let refs: Vec<&Item> = items.iter().collect();
        let model = fit_items(&questions, &refs, false);
        let coverage = model
            .candidate
            .features
            .iter()
            .position(|f| f == "coverage")
            .unwrap();
        assert!(
            model.candidate.weights[coverage] > 1.0,
            "{:?}",
            model.candidate.weights
        );
        let mut t = Tally::default();
        for it in &items {
            let (o, e) = Ranked::new(it, &model).outcome(&model.bars);
            let r = Result {
                q: "x".into(),
                outcome: o,
                entries: e.iter().map(|&i| it.ids[i].clone()).collect(),
                ms: 0.0,
            };
            t.add(&questions[it.question], &r);
        }
        assert_eq!(t.rank1, 40, "{:?}", model.bars);
        assert_eq!(t.wrong, 0);
        assert_eq!(t.none_handled, 20);
    }

    #[test]
    fn folds_hold_every_kind() {
        let qs: Vec<Question> = ["name", "none", "name", "none", "name", "none"]
            .iter()
            .map(|k| question(k))
            .collect();
        assert_eq!(folds_of(&qs, 3), [0, 0, 1, 1, 2, 2]);
    }
}
