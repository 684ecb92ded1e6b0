//! Orders the candidate entries of a question by a conditional logit over their features:
//! the probability that an entry is the one the citizen means, against its rivals and against
//! "none of these", which the question's own features weigh. Its weights and the decision's
//! bars are fitted by `rathaus eval --fit` and read from `knowledge/ranker.toml`; nothing
//! here is set by hand.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::decide::Bars;
use super::features::{self, Features, QuestionFeatures};

/// The model fitted with the catalogue shipped in `knowledge/ranker.toml`.
const BUILTIN: &str = include_str!("../../knowledge/ranker.toml");

#[derive(Debug, thiserror::Error)]
pub enum RankerError {
    #[error("ranker file {path}: {message}")]
    Invalid { path: String, message: String },
}

/// A linear score over named features, each put on a common scale by its mean and spread
/// in the fit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Linear {
    pub features: Vec<String>,
    pub mean: Vec<f32>,
    pub scale: Vec<f32>,
    pub weights: Vec<f32>,
    #[serde(default)]
    pub bias: f32,
    /// Where each feature sits in its values.
    #[serde(skip)]
    index: Vec<usize>,
}

impl Linear {
    fn new(
        names: &[&str],
        mean: Vec<f32>,
        scale: Vec<f32>,
        weights: Vec<f32>,
        bias: f32,
        known: &[&str],
    ) -> Result<Linear, String> {
        let mut l = Linear {
            features: names.iter().map(|n| n.to_string()).collect(),
            mean,
            scale,
            weights,
            bias,
            index: Vec::new(),
        };
        l.resolve(known)?;
        Ok(l)
    }

    fn resolve(&mut self, known: &[&str]) -> Result<(), String> {
        let n = self.features.len();
        if self.mean.len() != n || self.scale.len() != n || self.weights.len() != n {
            return Err(format!(
                "{n} features but {} means, {} scales and {} weights",
                self.mean.len(),
                self.scale.len(),
                self.weights.len()
            ));
        }
        self.index = self
            .features
            .iter()
            .map(|f| {
                known
                    .iter()
                    .position(|n| n == f)
                    .ok_or_else(|| format!("unknown feature '{f}'"))
            })
            .collect::<Result<_, _>>()?;
        if self.scale.iter().any(|s| !s.is_finite() || *s <= 0.0) {
            return Err("every scale must be positive".into());
        }
        Ok(())
    }

    fn score(&self, values: &[f32]) -> f32 {
        self.index
            .iter()
            .enumerate()
            .map(|(k, &i)| self.weights[k] * (values[i] - self.mean[k]) / self.scale[k])
            .sum::<f32>()
            + self.bias
    }
}

/// The ranker of one mode, with the bars of the decision fitted with it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Model {
    /// A candidate's score, from its features ([`features::NAMES`]).
    pub candidate: Linear,
    /// The score of "none of these", from the question's features
    /// ([`features::QUESTION_NAMES`]).
    pub none: Linear,
    pub bars: Bars,
}

/// The two models: one for answering by words only, one for words and meaning.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Ranker {
    pub words: Model,
    pub meaning: Model,
}

impl Model {
    fn resolve(&mut self) -> Result<(), String> {
        self.candidate.resolve(&features::NAMES)?;
        self.none
            .resolve(&features::QUESTION_NAMES)
            .map_err(|e| format!("none: {e}"))
    }

    /// A candidate's score (its logit against the others).
    pub fn score(&self, f: &Features) -> f32 {
        self.candidate.score(&f.values)
    }

    /// Each candidate's probability of being the entry meant, in the candidates' order; what
    /// is left to 1 is the probability that none of them is.
    pub fn probabilities(&self, candidates: &[Features], question: &QuestionFeatures) -> Vec<f32> {
        let none = self.none.score(&question.values);
        let scores: Vec<f32> = candidates.iter().map(|f| self.score(f)).collect();
        let top = scores.iter().copied().fold(none, f32::max);
        let exp: Vec<f32> = scores.iter().map(|s| (s - top).exp()).collect();
        let sum = exp.iter().sum::<f32>() + (none - top).exp();
        exp.into_iter().map(|e| e / sum).collect()
    }

    /// Whether the model reads sentence vectors.
    fn reads_meaning(&self) -> bool {
        self.candidate
            .features
            .iter()
            .any(|f| features::MEANING.contains(&f.as_str()))
            || self
                .none
                .features
                .iter()
                .any(|f| features::QUESTION_MEANING.contains(&f.as_str()))
    }
}

impl Ranker {
    /// The ranker fitted on the shipped question set (`knowledge/ranker.toml`).
    pub fn builtin() -> Ranker {
        Ranker::parse(BUILTIN, "knowledge/ranker.toml").expect("the shipped ranker file is valid")
    }

    pub fn read(path: &Path) -> Result<Ranker, RankerError> {
        let text = std::fs::read_to_string(path).map_err(|e| RankerError::Invalid {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        Ranker::parse(&text, &path.display().to_string())
    }

    pub fn parse(text: &str, path: &str) -> Result<Ranker, RankerError> {
        let invalid = |message: String| RankerError::Invalid {
            path: path.to_string(),
            message,
        };
        let mut r: Ranker = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        r.words
            .resolve()
            .map_err(|e| invalid(format!("[words]: {e}")))?;
        r.meaning
            .resolve()
            .map_err(|e| invalid(format!("[meaning]: {e}")))?;
        if r.words.reads_meaning() {
            return Err(invalid("[words] reads a feature of meaning".into()));
        }
        Ok(r)
    }

    /// The model for a question with sentence vectors, or by words only.
    pub fn model(&self, meaning: bool) -> &Model {
        if meaning { &self.meaning } else { &self.words }
    }

    pub fn model_mut(&mut self, meaning: bool) -> &mut Model {
        if meaning {
            &mut self.meaning
        } else {
            &mut self.words
        }
    }
}

/// A question in a fit: its candidates' features, which are right, and its own features.
#[derive(Debug, Clone)]
pub struct Group {
    pub candidates: Vec<Features>,
    pub right: Vec<bool>,
    pub question: QuestionFeatures,
}

/// L2 penalty of the fit, relative to the number of questions: it keeps the weights of
/// features that few questions exercise from running away on about 150 questions.
pub const L2: f32 = 1e-2;
/// Gradient steps of the fit: the loss no longer moves in the fourth digit after these.
const STEPS: usize = 2_000;
const RATE: f32 = 0.3;

/// Means and spreads of some features over rows; a feature that never varies gets spread 1
/// (and learns nothing).
fn standardise<'a>(
    rows: impl Iterator<Item = &'a [f32]> + Clone,
    index: &[usize],
) -> (Vec<f32>, Vec<f32>) {
    let n = rows.clone().count().max(1) as f32;
    let mut mean = vec![0.0f32; index.len()];
    for r in rows.clone() {
        for (j, &i) in index.iter().enumerate() {
            mean[j] += r[i] / n;
        }
    }
    let mut var = vec![0.0f32; index.len()];
    for r in rows {
        for (j, &i) in index.iter().enumerate() {
            var[j] += (r[i] - mean[j]).powi(2) / n;
        }
    }
    let scale = var
        .into_iter()
        .map(|v| if v > 1e-12 { v.sqrt() } else { 1.0 })
        .collect();
    (mean, scale)
}

fn positions(names: &[&str], known: &[&str]) -> Vec<usize> {
    names
        .iter()
        .map(|n| known.iter().position(|x| x == n).expect("a known feature"))
        .collect()
}

/// Fits the conditional logit over the `names` candidate features and the `none_names`
/// question features by gradient descent on the log-likelihood of the right candidates (or
/// of "none", for a question without one), with an L2 penalty. The bars are left as given.
pub fn fit(groups: &[Group], names: &[&str], none_names: &[&str], bars: Bars) -> Model {
    let ci = positions(names, &features::NAMES);
    let qi = positions(none_names, &features::QUESTION_NAMES);
    let (cmean, cscale) = standardise(
        groups
            .iter()
            .flat_map(|g| g.candidates.iter().map(|f| &f.values[..])),
        &ci,
    );
    let (qmean, qscale) = standardise(groups.iter().map(|g| &g.question.values[..]), &qi);
    let scaled = |values: &[f32], index: &[usize], mean: &[f32], scale: &[f32]| -> Vec<f32> {
        index
            .iter()
            .enumerate()
            .map(|(j, &i)| (values[i] - mean[j]) / scale[j])
            .collect()
    };
    /// A question standardised: its candidates' features, which are right, its own features.
    type Row = (Vec<Vec<f32>>, Vec<bool>, Vec<f32>);
    let rows: Vec<Row> = groups
        .iter()
        .map(|g| {
            (
                g.candidates
                    .iter()
                    .map(|f| scaled(&f.values, &ci, &cmean, &cscale))
                    .collect(),
                g.right.clone(),
                scaled(&g.question.values, &qi, &qmean, &qscale),
            )
        })
        .collect();
    let n = rows.len().max(1) as f32;
    let dot = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
    let (mut w, mut v, mut b) = (vec![0.0f32; ci.len()], vec![0.0f32; qi.len()], 0.0f32);
    for _ in 0..STEPS {
        let (mut gw, mut gv, mut gb) = (vec![0.0f32; ci.len()], vec![0.0f32; qi.len()], 0.0f32);
        for (cands, right, q) in &rows {
            let none = dot(&v, q) + b;
            let scores: Vec<f32> = cands.iter().map(|x| dot(&w, x)).collect();
            let top = scores.iter().copied().fold(none, f32::max);
            let exp: Vec<f32> = scores.iter().map(|s| (s - top).exp()).collect();
            let en = (none - top).exp();
            let sum = exp.iter().sum::<f32>() + en;
            let right_mass: f32 = exp
                .iter()
                .zip(right)
                .filter(|(_, r)| **r)
                .map(|(e, _)| e)
                .sum();
            for (k, x) in cands.iter().enumerate() {
                let p = exp[k] / sum;
                let t = if right_mass > 0.0 && right[k] {
                    exp[k] / right_mass
                } else {
                    0.0
                };
                for j in 0..w.len() {
                    gw[j] += (p - t) * x[j];
                }
            }
            let pn = en / sum;
            let tn = if right_mass > 0.0 { 0.0 } else { 1.0 };
            for j in 0..v.len() {
                gv[j] += (pn - tn) * q[j];
            }
            gb += pn - tn;
        }
        for j in 0..w.len() {
            w[j] -= RATE * (gw[j] / n + L2 * w[j]);
        }
        for j in 0..v.len() {
            v[j] -= RATE * (gv[j] / n + L2 * v[j]);
        }
        b -= RATE * gb / n;
    }
    Model {
        candidate: Linear::new(names, cmean, cscale, w, 0.0, &features::NAMES)
            .expect("fitted candidate score is consistent"),
        none: Linear::new(none_names, qmean, qscale, v, b, &features::QUESTION_NAMES)
            .expect("fitted none score is consistent"),
        bars,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn features(lexical: f32, coverage: f32) -> Features {
        let mut values = [0.0; features::COUNT];
        values[0] = lexical;
        values[1] = coverage;
        Features { values }
    }

    fn question(best_coverage: f32) -> QuestionFeatures {
        let mut q = QuestionFeatures::default();
        q.values[2] = best_coverage;
        q
    }

    #[test]
    fn the_fit_finds_the_feature_that_tells_right_from_wrong_and_when_none_is_right() {
        // The right candidate has the highest coverage; the lexical score is noise. Every
        // third question has no right candidate, and all its coverages are low.
        let mut groups = Vec::new();
        for i in 0..90 {
            let noise = |k: usize| ((i * 7 + k * 3) % 13) as f32;
            let answerable = i % 3 != 0;
            let cov = if answerable { 0.9 } else { 0.3 };
            let candidates = vec![
                features(noise(0), cov),
                features(noise(1), 0.2),
                features(noise(2), 0.1),
            ];
            groups.push(Group {
                right: vec![answerable, false, false],
                question: question(cov),
                candidates,
            });
        }
        let m = fit(
            &groups,
            &["lexical", "coverage"],
            &["best_coverage"],
            Bars::default(),
        );
        assert!(
            m.candidate.weights[1] > 1.0,
            "coverage weighs {:?}",
            m.candidate.weights
        );
        assert!(
            m.candidate.weights[0].abs() < 0.3,
            "noise weighs {:?}",
            m.candidate.weights
        );
        let p = m.probabilities(&[features(3.0, 0.9), features(9.0, 0.2)], &question(0.9));
        assert!(p[0] > 0.8 && p[1] < 0.1, "{p:?}");
        let p = m.probabilities(&[features(3.0, 0.3), features(9.0, 0.2)], &question(0.3));
        assert!(p[0] < 0.3, "none of these should be likely: {p:?}");
    }

    #[test]
    fn the_shipped_ranker_reads_and_a_bad_one_is_refused_with_its_reason() {
        let r = Ranker::builtin();
        assert!(!r.meaning.candidate.features.is_empty());
        let text = BUILTIN.replacen("\"coverage\"", "\"colour\"", 1);
        let e = Ranker::parse(&text, "x.toml").unwrap_err().to_string();
        assert!(e.contains("unknown feature 'colour'"), "{e}");
    }

    #[test]
    fn a_model_written_and_read_again_gives_the_same_probabilities() {
        let candidate = Linear::new(
            &["lexical", "coverage"],
            vec![1.0, 0.5],
            vec![2.0, 0.25],
            vec![0.5, 3.0],
            0.0,
            &features::NAMES,
        )
        .unwrap();
        let none = Linear::new(
            &["best_coverage"],
            vec![0.5],
            vec![0.2],
            vec![-1.0],
            0.3,
            &features::QUESTION_NAMES,
        )
        .unwrap();
        let m = Model {
            candidate,
            none,
            bars: Bars::default(),
        };
        let r = Ranker {
            words: m.clone(),
            meaning: m.clone(),
        };
        let again = Ranker::parse(&toml::to_string(&r).unwrap(), "x").unwrap();
        let f = [features(2.0, 0.75), features(1.0, 0.5)];
        let q = question(0.75);
        assert_eq!(again.words.probabilities(&f, &q), m.probabilities(&f, &q));
        // Scores 0.5·0.5 + 3·1 = 3.25 and 0; none: −1·1.25 + 0.3 = −0.95.
        let (a, b, n) = (3.25f32.exp(), 1.0f32, (-0.95f32).exp());
        let p = m.probabilities(&f, &q);
        assert!((p[0] - a / (a + b + n)).abs() < 1e-5, "{p:?}");
    }
}
