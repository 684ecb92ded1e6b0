//! The synonym lists an admin keeps in `knowledge/synonyms*.txt`: colloquial and English words
//! mapped to the catalogue's official terms. Parsing and phrase matching only; what the
//! expansions weigh in a search is the search's business.

use super::{stem, words};

/// One rule: a question containing any of `from` is widened by `to`.
#[derive(Debug, Clone, PartialEq)]
pub struct SynonymRule {
    /// Phrases as stems, e.g. `[["perso"]]` or `[["call", "back"]]`.
    pub from: Vec<Vec<String>>,
    /// The official terms to add, as written (they are analysed like catalogue text).
    pub to: Vec<String>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("line {line}: {message}")]
pub struct SynonymError {
    pub line: usize,
    pub message: String,
}

/// A parsed synonym list.
#[derive(Debug, Clone, Default)]
pub struct Synonyms {
    pub rules: Vec<SynonymRule>,
    /// (rule, phrase) by the phrase's first stem, so a message is matched word by word.
    by_first: std::collections::HashMap<String, Vec<(usize, usize)>>,
}

fn phrase_stems(phrase: &str) -> Vec<String> {
    words(phrase).iter().map(|w| stem(w)).collect()
}

impl Synonyms {
    /// Parses the `a, b => x, y` and `a, b, c` line format. Every bad line is reported with
    /// its number; good lines are kept.
    pub fn parse(text: &str) -> (Synonyms, Vec<SynonymError>) {
        let mut rules = Vec::new();
        let mut errors = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let split = |s: &str| -> Vec<String> {
                s.split(',')
                    .map(|t| t.trim().to_string())
                    .filter(|t| !t.is_empty())
                    .collect()
            };
            let (from, to) = match line.split_once("=>") {
                Some((l, r)) => (split(l), split(r)),
                None => {
                    let all = split(line);
                    (all.clone(), all)
                }
            };
            if from.is_empty() || to.is_empty() || (!line.contains("=>") && from.len() < 2) {
                errors.push(SynonymError {
                    line: i + 1,
                    message: format!("expected 'a, b => c' or 'a, b, c', found '{line}'"),
                });
                continue;
            }
            let from: Vec<Vec<String>> = from
                .iter()
                .map(|p| phrase_stems(p))
                .filter(|p| !p.is_empty())
                .collect();
            if from.is_empty() {
                errors.push(SynonymError {
                    line: i + 1,
                    message: "no words on the left".into(),
                });
                continue;
            }
            rules.push(SynonymRule { from, to });
        }
        let mut by_first: std::collections::HashMap<String, Vec<(usize, usize)>> =
            Default::default();
        for (r, rule) in rules.iter().enumerate() {
            for (p, phrase) in rule.from.iter().enumerate() {
                by_first.entry(phrase[0].clone()).or_default().push((r, p));
            }
        }
        (Synonyms { rules, by_first }, errors)
    }

    /// The positions of the rules whose phrases occur in `stems` (a message's words as
    /// stems, in order), with the word positions each match covers.
    pub fn matches(&self, stems: &[String]) -> Vec<(usize, Vec<usize>)> {
        let mut out: Vec<(usize, Vec<usize>)> = Vec::new();
        for start in 0..stems.len() {
            let Some(candidates) = self.by_first.get(&stems[start]) else {
                continue;
            };
            for &(rule, phrase) in candidates {
                let phrase = &self.rules[rule].from[phrase];
                let end = start + phrase.len();
                let matched = end <= stems.len() && stems[start..end] == phrase[..];
                // A rule may match more than once ("birth … born"), never on words it
                // already matched.
                let overlaps = |(r, at): &(usize, Vec<usize>)| {
                    *r == rule && at.iter().any(|p| (start..end).contains(p))
                };
                if matched && !out.iter().any(overlaps) {
                    out.push((rule, (start..end).collect()));
                }
            }
        }
        out.sort_by_key(|(r, _)| *r);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_forms_and_reports_bad_lines() {
        let (s, errors) = Synonyms::parse(
            "# comment\nPerso, Persi => Personalausweis\nkfz, auto, pkw\n\nnur eins\n=> leer\n",
        );
        assert_eq!(s.rules.len(), 2);
        assert_eq!(s.rules[0].to, ["Personalausweis"]);
        assert_eq!(s.rules[1].from.len(), 3);
        assert_eq!(errors.iter().map(|e| e.line).collect::<Vec<_>>(), [5, 6]);
    }

    /// A message's words as stems, as the search matches rules on them.
    fn stems(text: &str) -> Vec<String> {
        words(text).iter().map(|w| stem(w)).collect()
    }

    #[test]
    fn matches_phrases_on_stems() {
        let (s, _) = Synonyms::parse("call back, ring back => rückruf\nperso => personalausweis");
        let hits = s.matches(&stems("Could you call me back? Calls back please"));
        assert_eq!(hits.len(), 1);
        assert_eq!(s.rules[hits[0].0].to, ["rückruf"]);
        assert_eq!(s.matches(&stems("Mein Perso ist weg")).len(), 1);
    }

    #[test]
    fn a_rule_matches_every_word_it_names() {
        let (s, _) = Synonyms::parse("birth, born, give birth => geburt");
        let msg = stems("A copy of my birth certificate? I was born here");
        let at: Vec<Vec<usize>> = s.matches(&msg).into_iter().map(|(_, p)| p).collect();
        assert_eq!(at, [vec![4], vec![8]]);
        // "give birth" and "birth" do not both take the same word.
        assert_eq!(s.matches(&stems("give birth")).len(), 1);
    }
}
