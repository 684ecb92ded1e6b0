//! The features of each candidate entry for a question: what the search by words and the
//! search by meaning found, as numbers the ranker weighs. It measures; it never decides.

use serde::Serialize;

use crate::search::{Analysis, Hit};
use crate::semantic::Similarities;

/// The features, by name, in the order of [`Features::values`].
pub const NAMES: [&str; COUNT] = [
    "lexical",
    "coverage",
    "title_coverage",
    "strength",
    "specificity",
    "named_in_full",
    "lexical_share",
    "lexical_rank",
    "question_weight",
    "meaning",
    "meaning_name",
    "meaning_question",
    "meaning_gap",
    "meaning_rank",
    "out_of_scope_gap",
];
pub const COUNT: usize = 15;

/// The features that need sentence vectors (the last of [`NAMES`]); a ranker fitted
/// without them leaves them out.
pub const MEANING: &[&str] = NAMES.split_at(9).1;

/// An entry counts as named in full when the question explains this much of its name
/// (specificity is a share; 0.99 allows for rounding).
const NAMED_IN_FULL: f32 = 0.99;

/// The features of the question itself, which weigh "none of the candidates": how much it
/// says that the catalogue knows, how well its best candidates match, how close it comes in
/// meaning to any entry and to the phrasings of things that are not the city's matter.
pub const QUESTION_NAMES: [&str; QUESTION_COUNT] = [
    "question_weight",
    "best_lexical",
    "best_coverage",
    "out_of_scope_words",
    "closest_entry",
    "out_of_scope",
];
pub const QUESTION_COUNT: usize = 6;
/// The question's features that need sentence vectors.
pub const QUESTION_MEANING: &[&str] = QUESTION_NAMES.split_at(4).1;

/// A question's own features.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct QuestionFeatures {
    pub values: [f32; QUESTION_COUNT],
}

/// The question's own features from its analysis, its candidates' features and the signals
/// of meaning and phrasings.
pub fn of_question(
    analysis_weight: f32,
    candidates: &[Features],
    out_of_scope_words: f32,
    meaning: Option<(f32, f32)>,
) -> QuestionFeatures {
    let best = |i: usize| candidates.iter().map(|f| f.values[i]).fold(0.0, f32::max);
    let (closest, oos) = meaning.unwrap_or((0.0, 0.0));
    QuestionFeatures {
        values: [
            analysis_weight,
            best(0),
            best(1),
            out_of_scope_words,
            closest,
            oos,
        ],
    }
}

/// One candidate's features.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Features {
    pub values: [f32; COUNT],
}

impl Features {
    pub fn get(&self, name: &str) -> Option<f32> {
        NAMES
            .iter()
            .position(|n| *n == name)
            .map(|i| self.values[i])
    }
}

/// What the meaning search found for a question: each entry's similarity, and how close the
/// question comes to the phrasings of things that are not the city's matter.
pub struct Meaning<'a> {
    pub similarities: &'a Similarities,
    pub out_of_scope: f32,
}

/// The features of each hit, in the hits' order.
pub fn of(hits: &[Hit], analysis: &Analysis, meaning: Option<&Meaning>) -> Vec<Features> {
    let best_lexical = hits.iter().map(|h| h.lexical).fold(0.0, f32::max);
    let rank_of =
        |key: &dyn Fn(&Hit) -> f32, h: &Hit| hits.iter().filter(|o| key(o) > key(h)).count() as f32;
    let best_meaning = meaning.map_or(0.0, |m| {
        hits.iter()
            .map(|h| m.similarities.best[h.entry])
            .fold(0.0, f32::max)
    });
    hits.iter()
        .map(|h| {
            let mut v = [0.0; COUNT];
            v[0] = h.lexical;
            v[1] = h.coverage;
            v[2] = h.title_coverage;
            v[3] = h.strength;
            v[4] = h.specificity;
            v[5] = f32::from(u8::from(h.specificity >= NAMED_IN_FULL));
            v[6] = if best_lexical > 0.0 {
                h.lexical / best_lexical
            } else {
                0.0
            };
            v[7] = 1.0 / (1.0 + rank_of(&|x: &Hit| x.lexical, h));
            v[8] = analysis.known_weight();
            if let Some(m) = meaning {
                let s = m.similarities;
                v[9] = s.best[h.entry];
                v[10] = s.name[h.entry];
                v[11] = s.question[h.entry];
                v[12] = s.best[h.entry] - best_meaning;
                v[13] = 1.0 / (1.0 + rank_of(&|x: &Hit| s.best[x.entry], h));
                v[14] = s.best[h.entry] - m.out_of_scope;
            }
            Features { values: v }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(entry: usize, lexical: f32, specificity: f32) -> Hit {
        Hit {
            entry,
            lexical,
            coverage: 0.5,
            title_coverage: 0.5,
            strength: 1.0,
            specificity,
        }
    }

    #[test]
    fn ranks_shares_and_gaps_are_relative_to_the_other_candidates() {
        let hits = [hit(0, 2.0, 1.0), hit(1, 1.0, 0.5)];
        let s = Similarities {
            best: vec![0.8, 0.9],
            name: vec![0.7, 0.6],
            question: vec![0.0, 0.0],
        };
        let m = Meaning {
            similarities: &s,
            out_of_scope: 0.85,
        };
        let f = of(&hits, &Analysis::default(), Some(&m));
        assert_eq!(f[0].get("lexical_share"), Some(1.0));
        assert_eq!(f[1].get("lexical_share"), Some(0.5));
        assert_eq!(f[0].get("lexical_rank"), Some(1.0));
        assert_eq!(f[1].get("lexical_rank"), Some(0.5));
        assert_eq!(f[0].get("named_in_full"), Some(1.0));
        assert_eq!(f[1].get("named_in_full"), Some(0.0));
        assert_eq!(f[1].get("meaning_rank"), Some(1.0));
        assert!((f[0].get("meaning_gap").unwrap() + 0.1).abs() < 1e-6);
        assert!((f[1].get("out_of_scope_gap").unwrap() - 0.05).abs() < 1e-6);
        assert_eq!(MEANING[0], "meaning");
        assert_eq!(QUESTION_MEANING, ["closest_entry", "out_of_scope"]);
        let words_only = of(&hits, &Analysis::default(), None);
        assert_eq!(words_only[0].get("meaning"), Some(0.0));
    }
}
