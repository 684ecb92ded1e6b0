//! The words a catalogue is written in, and what follows from knowing them: the German
//! spelling of "ae/oe/ue", compound splitting ("Anwohnerparkausweis" → "anwohner" +
//! "parkausweis") and typo correction ("personalauswies" → "personalausweis").
//! Built once per published catalogue; lookups never allocate more than a few strings.

use std::collections::HashMap;

use super::{is_stopword, umlautify};

/// Shortest word that is split into parts, and shortest part.
const MIN_COMPOUND: usize = 8;
const MIN_HEAD: usize = 4;
const MIN_MODIFIER: usize = 4;
/// Verb prefixes and particles are not the first part of a compound ("ver-bringen").
const PREFIXES: &[&str] = &[
    "durch", "unter", "hinter", "wieder", "zurück", "nach", "über", "gegen", "voran", "heraus",
    "herein", "hinaus", "hinein", "zusammen", "weiter", "entgegen", "vorbei", "empor",
];
/// Linking elements between the parts of a German compound ("Aufenthalt-s-erlaubnis").
const LINKS: &[&str] = &["s", "es", "n", "en", "e", "er", "ns"];

#[derive(Debug, Default, Clone)]
pub struct Lexicon {
    /// Surface word (lowercase, with umlauts) → how often the catalogue uses it.
    freq: HashMap<String, u32>,
    /// Words bucketed by their first letter, for typo candidates.
    by_initial: HashMap<char, Vec<(String, usize, Letters)>>,
    /// All words in order, for finding the compounds a word begins.
    sorted: std::collections::BTreeSet<String>,
}

impl Lexicon {
    /// Builds the lexicon from lowercase words (as [`super::words`] returns them).
    pub fn from_words<'a>(words: impl IntoIterator<Item = &'a str>) -> Lexicon {
        let mut freq: HashMap<String, u32> = HashMap::new();
        for w in words {
            if w.chars().count() >= 2 && !w.chars().all(|c| c.is_ascii_digit()) {
                *freq.entry(w.to_string()).or_default() += 1;
            }
        }
        let mut by_initial: HashMap<char, Vec<(String, usize, Letters)>> = HashMap::new();
        for w in freq.keys() {
            let n = w.chars().count();
            if n >= 4 {
                let initial = w.chars().next().unwrap_or(' ');
                by_initial
                    .entry(initial)
                    .or_default()
                    .push((w.clone(), n, letters(w)));
            }
        }
        for bucket in by_initial.values_mut() {
            bucket.sort_by(|a, b| a.0.cmp(&b.0));
        }
        let sorted = freq.keys().cloned().collect();
        Lexicon {
            freq,
            by_initial,
            sorted,
        }
    }

    pub fn knows(&self, word: &str) -> bool {
        self.freq.contains_key(word)
    }

    fn freq(&self, word: &str) -> u32 {
        self.freq.get(word).copied().unwrap_or(0)
    }

    /// The catalogue's spelling of a word typed with ae/oe/ue: "gebuehren" → "gebühren".
    pub fn canonical(&self, word: &str) -> Option<String> {
        if self.knows(word) {
            return Some(word.to_string());
        }
        let alt = umlautify(word)?;
        (self.knows(&alt) || self.split(&alt).is_some()).then_some(alt)
    }

    /// Splits a compound into known words, head last: "personalausweisverlängerung" →
    /// ["personalausweis", "verlängerung"]. A modifier the catalogue does not know is kept
    /// when the head is known ("anwohnerparkausweis" → ["anwohner", "parkausweis"]).
    /// Returns `None` for words that are not compounds of known words.
    pub fn split(&self, word: &str) -> Option<Vec<String>> {
        let chars: Vec<char> = word.chars().collect();
        if chars.len() < MIN_COMPOUND {
            return None;
        }
        // Longest known head first: German compounds put the core meaning last.
        let mut fallback: Option<Vec<String>> = None;
        for (cut, head) in self.known_ends(&chars, MIN_MODIFIER) {
            let modifier: String = chars[..cut].iter().collect();
            if let Some(mut parts) = self.modifier_parts(&modifier) {
                parts.push(head);
                return Some(parts);
            }
            if fallback.is_none()
                && !self.knows(word)
                && chars.len() - cut >= 6
                && !modifier.chars().all(|c| c.is_ascii_digit())
            {
                fallback = Some(vec![modifier, head]);
            }
        }
        fallback
    }

    /// The longest end of a word that is a word of the catalogue's own, of [`MIN_HEAD`]
    /// letters or more, short of the whole word: the head a compound's truncated first part
    /// lacks ("meldung" of "ummeldung", for "An- oder Ummeldung").
    pub fn known_head(&self, word: &str) -> Option<String> {
        let chars: Vec<char> = word.chars().collect();
        self.known_ends(&chars, 1).next().map(|(_, head)| head)
    }

    /// The ends of a word that the catalogue uses as words (not stopwords), longest first,
    /// each of [`MIN_HEAD`] letters or more after at least `min_start` letters, with where it
    /// begins.
    fn known_ends<'a>(
        &'a self,
        chars: &'a [char],
        min_start: usize,
    ) -> impl Iterator<Item = (usize, String)> + 'a {
        (min_start..=chars.len().saturating_sub(MIN_HEAD))
            .map(|cut| (cut, chars[cut..].iter().collect::<String>()))
            .filter(|(_, head)| self.knows(head) && !is_stopword(head))
    }

    /// The known first part of a compound whose last part is unknown: "beglaubigungsstempel"
    /// → ["beglaubigung"] (after its linking "s"). The longest that leaves a last part of
    /// [`MIN_HEAD`] letters or more.
    pub fn known_modifier(&self, word: &str) -> Option<Vec<String>> {
        let chars: Vec<char> = word.chars().collect();
        if chars.len() < MIN_COMPOUND {
            return None;
        }
        (MIN_MODIFIER..=chars.len() - MIN_HEAD)
            .rev()
            .find_map(|cut| self.modifier_parts(&chars[..cut].iter().collect::<String>()))
    }

    /// A modifier is known as it is, without a linking element, or as a compound itself.
    fn modifier_parts(&self, modifier: &str) -> Option<Vec<String>> {
        if modifier.chars().count() < MIN_MODIFIER {
            return None;
        }
        if PREFIXES.contains(&modifier) {
            return None;
        }
        if self.knows(modifier) && !is_stopword(modifier) {
            return Some(vec![modifier.to_string()]);
        }
        for link in LINKS {
            if let Some(base) = modifier.strip_suffix(link)
                && base.chars().count() >= MIN_MODIFIER
                && self.knows(base)
                && !is_stopword(base)
                && !PREFIXES.contains(&base)
            {
                return Some(vec![base.to_string()]);
            }
        }
        if let Some(parts) = self.split(modifier)
            && parts.iter().all(|p| self.knows(p))
        {
            return Some(parts);
        }
        None
    }

    /// Compounds of the catalogue that begin with a word it does not use alone:
    /// "kirche" → "kirchenaustritt", "kirchensteuer". The rest must be a word of four letters or
    /// more, after a linking element. At most `limit`, most used first.
    pub fn compounds_starting_with(&self, word: &str, limit: usize) -> Vec<String> {
        if word.chars().count() < 4 {
            return Vec::new();
        }
        let mut found: Vec<(&String, u32)> = self
            .sorted
            .range(word.to_string()..)
            .take_while(|w| w.starts_with(word))
            .filter(|w| {
                let rest = &w[word.len()..];
                [rest]
                    .into_iter()
                    .chain(LINKS.iter().filter_map(|l| rest.strip_prefix(l)))
                    .any(|r| r.chars().count() >= MIN_HEAD)
            })
            .map(|w| (w, self.freq(w)))
            .collect();
        found.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        found
            .into_iter()
            .take(limit)
            .map(|(w, _)| w.clone())
            .collect()
    }

    /// The known word a typo most likely meant: edit distance 1 for words of five letters
    /// or more, 2 from nine letters on (transpositions count once). Ties go to the word the
    /// catalogue uses most. `None` when nothing is close enough.
    pub fn correct(&self, word: &str) -> Option<String> {
        let n = word.chars().count();
        if n < 5 || word.chars().any(|c| c.is_ascii_digit()) {
            return None;
        }
        let max = if n >= 9 { 2 } else { 1 };
        let initial = word.chars().next()?;
        let bucket = self.by_initial.get(&initial)?;
        let mut best: Option<(usize, u32, &str)> = None;
        let mine = letters(word);
        for (candidate, len, theirs) in bucket {
            // One edit changes the letter counts by at most two: a cheap bound before the
            // edit distance itself.
            if len.abs_diff(n) > max || letter_difference(&mine, theirs) > 2 * max {
                continue;
            }
            let d = strsim::osa_distance(word, candidate);
            if d == 0 || d > max {
                continue;
            }
            let f = self.freq(candidate);
            let better = match best {
                None => true,
                Some((bd, bf, _)) => d < bd || (d == bd && f > bf),
            };
            if better {
                best = Some((d, f, candidate));
            }
        }
        best.map(|(_, _, w)| w.to_string())
    }
}

/// How often each letter occurs in a word (a–z, then ä ö ü ß, then anything else).
type Letters = [u8; 31];

fn letters(word: &str) -> Letters {
    let mut out = [0u8; 31];
    for c in word.chars() {
        let i = match c {
            'a'..='z' => c as usize - 'a' as usize,
            'ä' => 26,
            'ö' => 27,
            'ü' => 28,
            'ß' => 29,
            _ => 30,
        };
        out[i] = out[i].saturating_add(1);
    }
    out
}

fn letter_difference(a: &Letters, b: &Letters) -> usize {
    a.iter().zip(b).map(|(x, y)| x.abs_diff(*y) as usize).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lexicon() -> Lexicon {
        let text = "personalausweis verlängerung parkausweis aufenthalt erlaubnis \
                    aufenthaltserlaubnis gebühren münchen führerschein abholen anmeldung \
                    wohnsitz ummeldung fahrzeug verloren";
        let words = super::super::words(text);
        Lexicon::from_words(words.iter().map(String::as_str))
    }

    #[test]
    fn splits_compounds_head_last() {
        let l = lexicon();
        assert_eq!(
            l.split("personalausweisverlängerung").unwrap(),
            ["personalausweis", "verlängerung"]
        );
        assert_eq!(
            l.split("wohnsitzanmeldung").unwrap(),
            ["wohnsitz", "anmeldung"]
        );
        assert_eq!(
            l.split("anwohnerparkausweis").unwrap(),
            ["anwohner", "parkausweis"]
        );
        assert_eq!(
            l.split("aufenthaltsverlängerung").unwrap(),
            ["aufenthalt", "verlängerung"]
        );
        assert_eq!(l.split("parkausweis"), None);
        assert_eq!(l.split("abholen"), None);
    }

    #[test]
    fn finds_the_known_first_part_of_an_unknown_compound() {
        let l = lexicon();
        assert_eq!(
            l.known_modifier("aufenthaltsplastikkarte").unwrap(),
            ["aufenthalt"]
        );
        assert_eq!(
            l.known_modifier("parkausweishülle").unwrap(),
            ["parkausweis"]
        );
        assert_eq!(l.known_modifier("unbekanntwort"), None);
    }

    #[test]
    fn finds_compounds_a_word_begins() {
        let words = super::super::words("kirchenaustritt kirchensteuer kirchen kirchturm");
        let l = Lexicon::from_words(words.iter().map(String::as_str));
        assert_eq!(
            l.compounds_starting_with("kirche", 5),
            ["kirchenaustritt", "kirchensteuer"]
        );
        assert!(l.compounds_starting_with("kir", 5).is_empty());
    }

    #[test]
    fn finds_the_catalogue_spelling() {
        let l = lexicon();
        assert_eq!(l.canonical("gebuehren").as_deref(), Some("gebühren"));
        assert_eq!(l.canonical("muenchen").as_deref(), Some("münchen"));
        assert_eq!(
            l.canonical("fuehrerscheinverlaengerung").as_deref(),
            Some("führerscheinverlängerung")
        );
        assert_eq!(l.canonical("quelle"), None);
    }

    #[test]
    fn corrects_typos_but_not_short_or_unrelated_words() {
        let l = lexicon();
        assert_eq!(
            l.correct("personalauswies").as_deref(),
            Some("personalausweis")
        );
        assert_eq!(l.correct("abhohlen").as_deref(), Some("abholen"));
        assert_eq!(l.correct("ummeldug").as_deref(), Some("ummeldung"));
        assert_eq!(l.correct("verlohren").as_deref(), Some("verloren"));
        assert_eq!(l.correct("fahrzueg").as_deref(), Some("fahrzeug"));
        assert_eq!(l.correct("hund"), None);
        assert_eq!(l.correct("schrebergarten"), None);
    }
}
