//! A general German thesaurus for the words a catalogue does not use itself: OpenThesaurus in
//! the MyThes format that Debian's `mythes-de` package installs. It knows that a "Gewehr" is a
//! "Schusswaffe", a "Mofa" a "Fahrzeug" and a "Promovend" a "Doktorand", which no catalogue
//! says. Optional: without the file, questions are read as before.

use std::collections::{HashMap, HashSet};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where Debian's `mythes-de` puts the thesaurus.
pub const DEFAULT_PATH: &str = "/usr/share/mythes/th_de_DE_v2.dat";

/// How a related word relates to the word looked up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relation {
    /// Means the same ("Mofa" – "Moped").
    Synonym,
    /// A broader term ("Mofa" → "Fahrzeug"), marked "(Oberbegriff)" in OpenThesaurus.
    Broader,
}

/// The thesaurus: for each single word, the single words of its meanings.
#[derive(Debug, Default)]
pub struct Thesaurus {
    /// Every word, lowercase.
    words: Vec<String>,
    index: HashMap<String, u32>,
    /// Meanings: their words, with how each relates to the meaning's own words and whether
    /// it is a word of everyday register (see [`Term`]).
    sets: Vec<Vec<Term>>,
    /// The meanings each word belongs to (as a synonym, not as a broader term).
    meanings: Vec<Vec<u32>>,
}

/// A word of a meaning. A word marked colloquial, vulgar, pejorative, jocular, figurative or
/// dated ("Ische (ugs., veraltend)", "Alte (ugs., abwertend)") is how a citizen may write but
/// never how a catalogue does: it is looked up, but no other word is read as meaning it.
#[derive(Debug, Clone, Copy)]
struct Term {
    word: u32,
    relation: Relation,
    target: bool,
}

/// Register notes that keep a word from standing in for another.
const REGISTERS: &[&str] = &[
    "ugs.",
    "derb",
    "vulg",
    "abwertend",
    "salopp",
    "scherzhaft",
    "ironisch",
    "iron.",
    "fig.",
    "veraltet",
    "veraltend",
    "Jargon",
];

#[derive(Debug, thiserror::Error)]
#[error("thesaurus {path}: {source}")]
pub struct ThesaurusError {
    path: PathBuf,
    source: std::io::Error,
}

impl Thesaurus {
    /// The thesaurus at `path`, or `None` when it cannot be read: questions are then read
    /// without it, and the log says why.
    pub fn open(path: &Path) -> Option<Arc<Thesaurus>> {
        match Thesaurus::load(path) {
            Ok(t) => {
                tracing::info!(path = %path.display(), words = t.words.len(), "thesaurus loaded");
                Some(Arc::new(t))
            }
            Err(e) => {
                tracing::warn!(error = %e, "thesaurus not loaded; questions are read without it");
                None
            }
        }
    }

    /// The thesaurus at [`DEFAULT_PATH`], where `mythes-de` is installed.
    pub fn installed() -> Option<Arc<Thesaurus>> {
        let path = Path::new(DEFAULT_PATH);
        if path.exists() {
            Thesaurus::open(path)
        } else {
            None
        }
    }

    /// Reads a MyThes `.dat` file: an encoding line, then for each word a `word|count` line and
    /// `count` meaning lines `(pos)|word|word (ugs.)|word (Oberbegriff)|…`.
    pub fn load(path: &Path) -> Result<Thesaurus, ThesaurusError> {
        let error = |source| ThesaurusError {
            path: path.to_path_buf(),
            source,
        };
        let file = std::fs::File::open(path).map_err(error)?;
        Thesaurus::read(std::io::BufReader::new(file)).map_err(error)
    }

    /// Reads the MyThes format from any reader (see [`Thesaurus::load`]).
    pub fn read(reader: impl BufRead) -> std::io::Result<Thesaurus> {
        let mut t = Thesaurus::default();
        let mut seen: HashSet<Vec<u32>> = HashSet::new();
        for line in reader.lines() {
            let line = line?;
            // Meaning lines start with the part of speech, "-" or "(…)"; the rest are headers.
            if !(line.starts_with("-|") || line.starts_with('(')) {
                continue;
            }
            let mut set: Vec<Term> = Vec::new();
            for item in line.split('|').skip(1) {
                let relation = if item.contains("(Oberbegriff)") {
                    Relation::Broader
                } else if item.contains("(Unterbegriff)") || item.contains("(Antonym)") {
                    continue;
                } else {
                    Relation::Synonym
                };
                let Some(word) = single_word(item) else {
                    continue;
                };
                let id = t.intern(&word);
                if !set.iter().any(|t| t.word == id) {
                    let notes = notes(item);
                    set.push(Term {
                        word: id,
                        relation,
                        target: !REGISTERS.iter().any(|r| notes.contains(r)),
                    });
                }
            }
            if set.len() < 2 {
                continue;
            }
            // Each meaning is listed under every one of its words: keep it once.
            let mut key: Vec<u32> = set.iter().map(|t| t.word).collect();
            key.sort_unstable();
            if !seen.insert(key) {
                continue;
            }
            let id = t.sets.len() as u32;
            for term in &set {
                if term.relation == Relation::Synonym {
                    t.meanings[term.word as usize].push(id);
                }
            }
            t.sets.push(set);
        }
        Ok(t)
    }

    fn intern(&mut self, word: &str) -> u32 {
        if let Some(&id) = self.index.get(word) {
            return id;
        }
        let id = self.words.len() as u32;
        self.words.push(word.to_string());
        self.index.insert(word.to_string(), id);
        self.meanings.push(Vec::new());
        id
    }

    pub fn knows(&self, word: &str) -> bool {
        self.index.contains_key(word)
    }

    /// The words related to a lowercase word in any of its meanings: its synonyms, and the
    /// broader terms of those meanings. Broader terms of a broader term are not followed, and
    /// words of everyday register are never given for another.
    pub fn related(&self, word: &str) -> Vec<(&str, Relation)> {
        let Some(&id) = self.index.get(word) else {
            return Vec::new();
        };
        let mut out: Vec<(&str, Relation)> = Vec::new();
        for &set in &self.meanings[id as usize] {
            for term in &self.sets[set as usize] {
                let w = &self.words[term.word as usize];
                if term.word != id && term.target && !out.iter().any(|(o, _)| o == w) {
                    out.push((w, term.relation));
                }
            }
        }
        out
    }
}

/// The notes in brackets of a thesaurus item ("Alte (ugs., abwertend)" → "ugs., abwertend"),
/// so that a word is never taken for a note ("verderben" is not "derb").
fn notes(item: &str) -> String {
    let mut out = String::new();
    let mut depth = 0usize;
    for c in item.chars() {
        match c {
            '(' => {
                depth += 1;
                out.push(' ');
            }
            ')' => depth = depth.saturating_sub(1),
            _ if depth > 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// The one word of a thesaurus item, lowercase, without its notes in brackets ("Knifte (ugs.)"
/// → "knifte"); `None` for phrases, abbreviations with dots and fragments ("Deputat...").
fn single_word(item: &str) -> Option<String> {
    let mut text = String::new();
    let mut depth = 0usize;
    for c in item.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            _ if depth == 0 => text.push(c),
            _ => {}
        }
    }
    let text = text.trim();
    let ok = !text.is_empty()
        && text.chars().count() >= 3
        && text.chars().all(|c| c.is_alphabetic() || c == '-');
    ok.then(|| text.to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "UTF-8\n\
mofa|1\n\
-|Kleinkraftrad|Mofa|Mokick|Moped|Fahrzeug (Oberbegriff)|Vehikel (Oberbegriff)\n\
moped|1\n\
-|Kleinkraftrad|Mofa|Mokick|Moped|Fahrzeug (Oberbegriff)|Vehikel (Oberbegriff)\n\
gewehr|1\n\
-|Gewehr|Knifte (ugs.)|Feuerwaffe (Oberbegriff)|Schusswaffe (Oberbegriff)|Wumme (ugs., salopp) (Oberbegriff)\n\
waffe|1\n\
-|Waffe|Gewehr (Unterbegriff)|in Alarmbereitschaft\n";

    fn sample() -> Thesaurus {
        Thesaurus::read(SAMPLE.as_bytes()).unwrap()
    }

    #[test]
    fn synonyms_and_broader_terms_of_a_word() {
        let t = sample();
        let related = t.related("mofa");
        assert!(related.contains(&("moped", Relation::Synonym)));
        assert!(related.contains(&("fahrzeug", Relation::Broader)));
        assert!(!related.iter().any(|(w, _)| *w == "mofa"));
        let gewehr = t.related("gewehr");
        assert_eq!(
            gewehr,
            vec![
                ("feuerwaffe", Relation::Broader),
                ("schusswaffe", Relation::Broader),
            ]
        );
    }

    #[test]
    fn colloquial_words_are_looked_up_but_never_stand_in_for_another() {
        let t = sample();
        // "Knifte (ugs.)" and "Wumme (ugs., salopp)" are no words for a rifle a catalogue
        // would use; a citizen who writes "Knifte" still finds the rifle.
        assert!(
            !t.related("gewehr")
                .iter()
                .any(|(w, _)| *w == "knifte" || *w == "wumme")
        );
        assert!(t.related("knifte").contains(&("gewehr", Relation::Synonym)));
        assert_eq!(notes("Alte (ugs., abwertend)"), " ugs., abwertend");
        assert_eq!(notes("verderben"), "");
    }

    #[test]
    fn narrower_terms_phrases_and_broader_terms_themselves_are_not_expanded() {
        let t = sample();
        // "Gewehr (Unterbegriff)" under "Waffe" does not make every weapon a rifle, and the
        // phrase is not a word.
        assert!(t.related("waffe").is_empty());
        // A broader term does not lead back to its narrower words.
        assert!(t.related("fahrzeug").is_empty());
        assert!(t.related("unbekannt").is_empty());
    }

    #[test]
    fn a_missing_file_is_an_error_that_names_it() {
        let err = Thesaurus::load(Path::new("/nonexistent/th.dat")).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/th.dat"));
    }
}
