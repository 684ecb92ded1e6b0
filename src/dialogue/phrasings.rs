//! What a message wants besides a service — a person, a callback, a complaint, small talk,
//! or something that is not the city's matter — recognised by its similarity to example
//! phrasings a city keeps in `knowledge/intents/`, by words and by meaning. Data, not code:
//! a new phrasing in a file changes what is recognised; nothing here names a phrase.

use std::path::Path;

use rustc_hash::FxHashMap;
use serde::Serialize;

use super::HandoffReason;
use super::intent::SmallTalk;
use crate::language::{stem, words};
use crate::semantic::Matrix;

/// What a message can want besides a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Intent {
    Handoff,
    Callback,
    Complaint,
    Greeting,
    Thanks,
    Goodbye,
    WhoAreYou,
    OutOfScope,
}

impl Intent {
    /// Each intent's file in the intents folder, `<name>.txt`.
    pub const ALL: [Intent; 8] = [
        Intent::Handoff,
        Intent::Callback,
        Intent::Complaint,
        Intent::Greeting,
        Intent::Thanks,
        Intent::Goodbye,
        Intent::WhoAreYou,
        Intent::OutOfScope,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Intent::Handoff => "handoff",
            Intent::Callback => "callback",
            Intent::Complaint => "complaint",
            Intent::Greeting => "greeting",
            Intent::Thanks => "thanks",
            Intent::Goodbye => "goodbye",
            Intent::WhoAreYou => "who_are_you",
            Intent::OutOfScope => "out_of_scope",
        }
    }

    /// Why the conversation goes to a person, for the intents that hand it over.
    pub fn handoff(self) -> Option<HandoffReason> {
        match self {
            Intent::Handoff => Some(HandoffReason::Requested),
            Intent::Callback => Some(HandoffReason::Callback),
            Intent::Complaint => Some(HandoffReason::Complaint),
            _ => None,
        }
    }

    pub fn small_talk(self) -> Option<SmallTalk> {
        match self {
            Intent::Greeting => Some(SmallTalk::Greeting),
            Intent::Thanks => Some(SmallTalk::Thanks),
            Intent::Goodbye => Some(SmallTalk::Goodbye),
            Intent::WhoAreYou => Some(SmallTalk::WhoAreYou),
            _ => None,
        }
    }
}

/// The phrasings shipped with Rathaus, used where no intents folder is configured.
const BUILTIN: [(Intent, &str); 8] = [
    (
        Intent::Handoff,
        include_str!("../../knowledge/intents/handoff.txt"),
    ),
    (
        Intent::Callback,
        include_str!("../../knowledge/intents/callback.txt"),
    ),
    (
        Intent::Complaint,
        include_str!("../../knowledge/intents/complaint.txt"),
    ),
    (
        Intent::Greeting,
        include_str!("../../knowledge/intents/greeting.txt"),
    ),
    (
        Intent::Thanks,
        include_str!("../../knowledge/intents/thanks.txt"),
    ),
    (
        Intent::Goodbye,
        include_str!("../../knowledge/intents/goodbye.txt"),
    ),
    (
        Intent::WhoAreYou,
        include_str!("../../knowledge/intents/who_are_you.txt"),
    ),
    (
        Intent::OutOfScope,
        include_str!("../../knowledge/intents/out_of_scope.txt"),
    ),
];

#[derive(Debug, thiserror::Error)]
pub enum PhrasingError {
    #[error("intents folder {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("intents folder {0}: no phrasings in any of its files")]
    Empty(String),
}

/// One example phrasing.
#[derive(Debug, Clone)]
struct Example {
    intent: Intent,
    /// Its stems, each once.
    terms: Vec<String>,
    /// The length of its term vector, for the cosine.
    norm: f32,
}

/// How close a message comes to an intent's closest phrasing.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Match {
    pub intent: Intent,
    /// By the words they share, weighted by how rare a word is among the phrasings (0–1).
    pub words: f32,
    /// By meaning (cosine of the sentence vectors; 0 without them).
    pub meaning: f32,
}

/// The example phrasings of every intent, ready to compare a message with.
#[derive(Debug, Clone)]
pub struct Phrasings {
    texts: Vec<String>,
    examples: Vec<Example>,
    /// Inverse frequency of each stem among the phrasings.
    idf: FxHashMap<String, f32>,
    /// The weight of a stem no phrasing uses: as rare as can be, so that a message's own
    /// topic words pull it away from every phrasing.
    unseen: f32,
    vectors: Option<Matrix>,
}

/// The distinct stems of a text.
fn stems(text: &str) -> Vec<String> {
    let mut out: Vec<String> = words(text).iter().map(|w| stem(w)).collect();
    out.sort();
    out.dedup();
    out
}

impl Phrasings {
    /// The phrasings shipped with Rathaus (`knowledge/intents/` at build time).
    pub fn builtin() -> Phrasings {
        Phrasings::parse(BUILTIN.iter().map(|(i, t)| (*i, *t)))
    }

    /// The phrasings in a folder: `<intent>.txt` per intent (see [`Intent::name`]); an
    /// intent without its file has no phrasings. One phrasing a line; blank lines and lines
    /// starting with `#` are skipped.
    pub fn read_dir(dir: &Path) -> Result<Phrasings, PhrasingError> {
        let mut files = Vec::new();
        for intent in Intent::ALL {
            let path = dir.join(format!("{}.txt", intent.name()));
            match std::fs::read_to_string(&path) {
                Ok(text) => files.push((intent, text)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => {
                    return Err(PhrasingError::Read {
                        path: path.display().to_string(),
                        source,
                    });
                }
            }
        }
        let p = Phrasings::parse(files.iter().map(|(i, t)| (*i, t.as_str())));
        if p.is_empty() {
            return Err(PhrasingError::Empty(dir.display().to_string()));
        }
        Ok(p)
    }

    pub fn parse<'a>(files: impl Iterator<Item = (Intent, &'a str)>) -> Phrasings {
        let mut texts = Vec::new();
        let mut raw: Vec<(Intent, Vec<String>)> = Vec::new();
        for (intent, text) in files {
            for line in text.lines().map(str::trim) {
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                let terms = stems(line);
                if terms.is_empty() {
                    continue;
                }
                texts.push(line.to_string());
                raw.push((intent, terms));
            }
        }
        let n = raw.len().max(1) as f32;
        let mut df: FxHashMap<String, f32> = FxHashMap::default();
        for (_, terms) in &raw {
            for t in terms {
                *df.entry(t.clone()).or_default() += 1.0;
            }
        }
        let idf: FxHashMap<String, f32> = df
            .into_iter()
            .map(|(t, d)| (t, (1.0 + n / d).ln()))
            .collect();
        let unseen = (1.0 + n).ln();
        let examples = raw
            .into_iter()
            .map(|(intent, terms)| {
                let norm = terms.iter().map(|t| idf[t].powi(2)).sum::<f32>().sqrt();
                Example {
                    intent,
                    terms,
                    norm,
                }
            })
            .collect();
        Phrasings {
            texts,
            examples,
            idf,
            unseen,
            vectors: None,
        }
    }

    pub fn len(&self) -> usize {
        self.examples.len()
    }

    pub fn is_empty(&self) -> bool {
        self.examples.is_empty()
    }

    /// The phrasings, in order, for embedding.
    pub fn texts(&self) -> &[String] {
        &self.texts
    }

    /// The phrasings' sentence vectors, in the order of [`Phrasings::texts`].
    pub fn set_vectors(&mut self, vectors: Matrix) {
        if vectors.len() == self.examples.len() {
            self.vectors = Some(vectors);
        }
    }

    /// The closest phrasing of every intent that has one, by words and by meaning.
    pub fn matches(&self, text: &str, query: Option<&[f32]>) -> Vec<Match> {
        let terms = stems(text);
        let weight = |t: &String| self.idf.get(t).copied().unwrap_or(self.unseen);
        let norm = terms.iter().map(|t| weight(t).powi(2)).sum::<f32>().sqrt();
        let meaning = match (&self.vectors, query) {
            (Some(v), Some(q)) => v.similarities(q),
            _ => vec![0.0; self.examples.len()],
        };
        let mut best: FxHashMap<Intent, Match> = FxHashMap::default();
        for (example, meaning) in self.examples.iter().zip(meaning) {
            let shared: f32 = example
                .terms
                .iter()
                .filter(|t| terms.binary_search(t).is_ok())
                .map(|t| self.idf[t].powi(2))
                .sum();
            let words = if norm > 0.0 && example.norm > 0.0 {
                shared / (norm * example.norm)
            } else {
                0.0
            };
            let m = best.entry(example.intent).or_insert(Match {
                intent: example.intent,
                words: 0.0,
                meaning: 0.0,
            });
            m.words = m.words.max(words);
            m.meaning = m.meaning.max(meaning);
        }
        let mut out: Vec<Match> = best.into_values().collect();
        out.sort_by(|a, b| b.words.max(b.meaning).total_cmp(&a.words.max(a.meaning)));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phrasings(handoff: &str) -> Phrasings {
        Phrasings::parse(
            [
                (Intent::Handoff, handoff),
                (Intent::Thanks, "# thanks\nDanke schön\nvielen Dank"),
            ]
            .into_iter(),
        )
    }

    fn best(p: &Phrasings, text: &str, intent: Intent) -> f32 {
        p.matches(text, None)
            .into_iter()
            .find(|m| m.intent == intent)
            .map_or(0.0, |m| m.words)
    }

    #[test]
    fn a_phrasing_matches_itself_and_comments_are_no_phrasings() {
        let p = phrasings("Ich möchte mit einem Menschen sprechen\n\n# a comment");
        assert_eq!(p.len(), 3);
        let same = best(
            &p,
            "Ich möchte mit einem Menschen sprechen",
            Intent::Handoff,
        );
        assert!((same - 1.0).abs() < 1e-5, "{same}");
    }

    #[test]
    fn a_message_of_its_own_topic_is_far_from_every_phrasing() {
        let p = phrasings("Ich möchte mit einem Menschen sprechen");
        let near = best(
            &p,
            "Ich möchte mit einem Mitarbeiter sprechen",
            Intent::Handoff,
        );
        let far = best(
            &p,
            "Ich möchte meinen Reisepass verlängern",
            Intent::Handoff,
        );
        assert!(near > 0.5, "{near}");
        assert!(far < near / 2.0, "{far} against {near}");
    }

    #[test]
    fn a_new_phrasing_changes_what_is_recognised() {
        let before = phrasings("Ich möchte mit einem Menschen sprechen");
        let after = phrasings("Ich möchte mit einem Menschen sprechen\nHolen Sie den Chef");
        let message = "holen Sie bitte den Chef";
        assert!(
            best(&after, message, Intent::Handoff) > best(&before, message, Intent::Handoff) + 0.4
        );
    }

    #[test]
    fn meaning_counts_with_vectors() {
        let mut p = phrasings("Mensch bitte");
        p.set_vectors(Matrix::new(vec![vec![1.0, 0.0], vec![0.0, 1.0], vec![0.0, 1.0]]).unwrap());
        let m = p.matches("xyz", Some(&[1.0, 0.0]));
        assert_eq!(m[0].intent, Intent::Handoff);
        assert_eq!(m[0].meaning, 1.0);
    }

    #[test]
    fn the_shipped_phrasings_cover_every_intent() {
        let p = Phrasings::builtin();
        let texts: Vec<Intent> = p.examples.iter().map(|e| e.intent).collect();
        for intent in Intent::ALL {
            assert!(
                texts.iter().filter(|&&i| i == intent).count() >= 20,
                "{} has too few phrasings",
                intent.name()
            );
        }
    }
}
