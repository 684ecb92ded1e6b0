//! Finds the catalogue entries a citizen's message is about. Text is analysed by
//! [`crate::language`] (stems, compounds, umlaut spellings, typos, synonyms, a thesaurus) and
//! scored with BM25 by tantivy over the entry's fields; on top, each candidate gets the share
//! of the question's concepts it covers, which is what the confidence decision reads.
//! Never decides what to answer: that is the dialogue core's job.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use rustc_hash::{FxHashMap, FxHashSet};
use tantivy::query::{BooleanQuery, BoostQuery, DisjunctionMaxQuery, Occur, Query, TermQuery};
use tantivy::schema::{
    Field, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions, Value,
};
use tantivy::tokenizer::{PreTokenizedString, Token};
use tantivy::{Index, IndexReader, TantivyDocument, Term, doc};

use crate::knowledge::{Catalogue, Entry, EntryId};
use crate::language::{self, Lang, Lexicon, Relation, Synonyms, Thesaurus, is_filler, is_stopword};
use crate::semantic::Similarities;

/// How much a match in each field counts.
const BOOST_NAME: f32 = 3.0;
const BOOST_KEYWORDS: f32 = 2.0;
const BOOST_SUMMARY: f32 = 1.0;
const BOOST_BODY: f32 = 0.6;
const BOOST_PARTS: f32 = 0.8;

/// What a term found another way counts, relative to the citizen's own word.
const WEIGHT_SYNONYM: f32 = 0.8;
/// A translation (an English question's word in the catalogue's German) is the word itself.
const WEIGHT_TRANSLATION: f32 = 1.0;
const WEIGHT_PART: f32 = 0.6;
/// All parts of a compound, found apart.
const WEIGHT_ALL_PARTS: f32 = 0.9;
/// A compound in this many entries or fewer is not yet a word of the catalogue's own.
const WHOLE_RARE: u32 = 2;
const WEIGHT_CORRECTED: f32 = 1.0;
const WEIGHT_THESAURUS: f32 = 0.6;
const WEIGHT_BROADER: f32 = 0.5;
/// The known first part of an unknown compound.
const WEIGHT_MODIFIER: f32 = 0.5;
/// A word found only in the name of one of an entry's forms ("Wohnungsgeberbestätigung"):
/// the entry's document, if not its own text.
const WEIGHT_FORM: f32 = 0.8;
/// Terms a thesaurus adds for one word, at most.
const THESAURUS_TERMS: usize = 12;

/// How much a concept's further matching terms and fields add to its best one.
const TIE_BREAKER: f32 = 0.3;

/// How much an entry name's unexplained words lower its score.
const SPECIFICITY_WEIGHT: f32 = 0.15;
/// How much the share of the question an entry leaves unexplained lowers its score.
const COVERAGE_WEIGHT: f32 = 0.2;

/// Entries nearest in meaning added to the candidates.
const SEMANTIC_CANDIDATES: usize = 10;

/// Candidates looked at after BM25.
const CANDIDATES: usize = 20;

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("search index: {0}")]
    Index(#[from] tantivy::TantivyError),
}

/// One meaning-bearing word of a question, with every index term that stands for it.
#[derive(Debug, Clone)]
pub struct Concept {
    /// The word as the citizen wrote it (lowercase); the words of a phrase that a synonym
    /// rule reads as one, separated by spaces.
    pub word: String,
    /// The stems of what a synonym rule of several words says the phrase means; empty for a
    /// single word.
    pub phrase: Vec<String>,
    /// Index terms and their weights (the word's stem, compound parts, synonyms).
    pub terms: Vec<(String, f32)>,
    /// How much the concept says about the topic (inverse document frequency).
    pub weight: f32,
    /// Whether any of its terms occurs in the catalogue at all.
    pub known: bool,
    /// The parts of a compound ("ausbild", "duldung" of "Ausbildungsduldung"): an entry that
    /// has them all explains the word, though it never writes it in one.
    pub parts: Vec<String>,
}

/// A question, analysed.
#[derive(Debug, Clone, Default)]
pub struct Analysis {
    pub concepts: Vec<Concept>,
}

impl Analysis {
    pub fn known_weight(&self) -> f32 {
        self.concepts
            .iter()
            .filter(|c| c.known)
            .map(|c| c.weight)
            .sum()
    }

    pub fn total_weight(&self) -> f32 {
        self.concepts.iter().map(|c| c.weight).sum()
    }

    /// Whether one of the question's concepts has this term among its terms.
    pub fn asks(&self, term: &str) -> bool {
        self.concepts
            .iter()
            .any(|c| c.terms.iter().any(|(t, _)| t == term))
    }
}

/// A candidate entry for a question.
#[derive(Debug, Clone)]
pub struct Hit {
    pub entry: usize,
    /// The word-based score: BM25F in units of the catalogue's largest term weight, lowered
    /// for what the entry leaves unexplained. The confidence bars read this.
    pub lexical: f32,
    /// Share of the question's concept weight found anywhere in the entry (0–1).
    pub coverage: f32,
    /// Share found in the entry's name or keywords (0–1).
    pub title_coverage: f32,
    /// BM25F relative to the question's own weight: how strongly the entry matches what was
    /// asked, the same scale for any question length and catalogue size (about 0–1.6).
    pub strength: f32,
    /// Share of the entry name's weight that the question explains (0–1): "Vorläufiger
    /// Reisepass" explains less of a question about a passport than "Reisepass".
    pub specificity: f32,
}

struct Fields {
    id: Field,
    name: Field,
    keywords: Field,
    summary: Field,
    body: Field,
    parts: Field,
}

/// Terms of one entry, for the coverage features.
#[derive(Default)]
struct EntryTerms {
    /// The name's terms that say what the entry is (not generic actions such as
    /// "beantragen", not a bracketed qualifier at its end), with their weights.
    name: Vec<(String, f32)>,
    /// Pairs of the name's terms that are alternatives ([`name_alternatives`]).
    alternatives: Vec<(String, String)>,
    /// Every term of the entry. One lookup per question term and candidate serves coverage,
    /// title coverage and BM25F.
    terms: FxHashMap<String, TermStats>,
    /// Field lengths in terms.
    len: [f32; FIELDS],
}

/// What one entry has of a term.
#[derive(Default, Clone, Copy)]
struct TermStats {
    /// Term frequency per field (name, keywords, summary, body, parts).
    tf: [f32; FIELDS],
    /// In the name or keywords, or a part of a compound there.
    title: bool,
}

/// BM25's weight of a term found in `df` of `n` entries.
fn idf(n: f32, df: f32) -> f32 {
    ((n - df + 0.5) / (df + 0.5) + 1.0).ln()
}

/// The entries whose forms name a term the texts do not use, and the term's weight there.
type InForms<'a> = (&'a [usize], f32);

/// Fields scored, in the order of [`FIELD_BOOSTS`].
const FIELDS: usize = 5;
const FIELD_BOOSTS: [f32; FIELDS] = [
    BOOST_NAME,
    BOOST_KEYWORDS,
    BOOST_SUMMARY,
    BOOST_BODY,
    BOOST_PARTS,
];
/// BM25 saturation and length normalisation.
const K1: f32 = 2.0;
const B: f32 = 0.75;

/// BM25's saturation of a term's boosted, length-normalised frequency.
const fn saturate(x: f32) -> f32 {
    x * (K1 + 1.0) / (x + K1)
}

/// A form's name counts as one mention among the keywords.
const FORM_MENTION: f32 = saturate(BOOST_KEYWORDS);

/// The searchable form of a catalogue. Built once per publication, then read-only.
pub struct SearchIndex {
    reader: IndexReader,
    fields: Fields,
    lexicon: Lexicon,
    synonyms: Synonyms,
    synonyms_en: Synonyms,
    /// A general thesaurus for words the catalogue does not use, where one is installed.
    thesaurus: Option<Arc<Thesaurus>>,
    /// Analysed right-hand sides of the synonym rules, by rule position (German, then English).
    expansions: Vec<Vec<String>>,
    terms: Vec<EntryTerms>,
    /// Numbers that occur in entry names.
    name_numbers: HashSet<String>,
    /// Stems of the words that the entries' form names use and their texts do not
    /// ("Wohnungsgeberbestätigung"), with the entries whose forms use them.
    form_words: FxHashMap<String, Vec<usize>>,
    /// Entry position of each document, by segment and document id.
    doc_entry: Vec<Vec<usize>>,
    avg_len: [f32; FIELDS],
    doc_freq: FxHashMap<String, u32>,
    ids: Vec<EntryId>,
}

/// Index terms of a text: stems of the non-stopwords, and separately the stems of the parts
/// of compound words.
fn analyse_text(lexicon: &Lexicon, text: &str) -> (Vec<String>, Vec<String>) {
    let mut stems = Vec::new();
    let mut parts = Vec::new();
    let text = language::complete_truncated(text, lexicon);
    for w in language::words(&text) {
        if is_stopword(&w) || w.chars().count() < 2 {
            continue;
        }
        stems.push(language::stem(&w));
        compound_parts(lexicon, &w, 0, &mut parts);
    }
    (stems, parts)
}

/// Pairs of a name's words that are alternatives, as index terms: joined by a slash ("EU/EWR",
/// "Aushändigung/Abgabe", "beantragen/ändern"), or listed with "oder" ("Verlust oder Diebstahl",
/// "Personalausweis, Reisepass oder eID-Karte", "Kfz-Versicherung oder Kfz-Steuer"). A
/// question that says one explains the others.
fn name_alternatives(name: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let tokens: Vec<&str> = name.split_whitespace().collect();
    for token in &tokens {
        let pieces: Vec<Vec<String>> = token.split('/').map(language::words).collect();
        for pair in pieces.windows(2) {
            if let (Some(a), Some(b)) = (pair[0].last(), pair[1].first()) {
                out.push((language::stem(a), language::stem(b)));
            }
        }
    }
    for (k, token) in tokens.iter().enumerate() {
        if !matches!(*token, "oder" | "bzw." | "or") || k == 0 || k + 1 == tokens.len() {
            continue;
        }
        // The item before "oder", and those before it in a list of single words with commas.
        let mut items = vec![tokens[k - 1], tokens[k + 1]];
        let mut j = k - 1;
        while j > 0 && tokens[j - 1].ends_with(',') {
            j -= 1;
            items.push(tokens[j]);
        }
        let stems: Vec<Vec<String>> = items
            .iter()
            .map(|t| {
                language::words(t)
                    .iter()
                    .map(|w| language::stem(w))
                    .collect()
            })
            .collect();
        // Each word of one alternative with each of another, but for the words they share
        // ("Kfz" of "Kfz-Versicherung oder Kfz-Steuer" is no alternative).
        for (x, a) in stems.iter().enumerate() {
            for b in &stems[x + 1..] {
                for s in a.iter().filter(|s| !b.contains(s)) {
                    for t in b.iter().filter(|t| !a.contains(t)) {
                        out.push((s.clone(), t.clone()));
                    }
                }
            }
        }
    }
    out
}

/// Stems of every part of a compound, recursively ("bewohnerparkausweis" → bewohn,
/// parkausweis, park, ausweis).
fn compound_parts(lexicon: &Lexicon, word: &str, depth: usize, out: &mut Vec<String>) {
    if depth > 2 {
        return;
    }
    if let Some(parts) = lexicon.split(word) {
        for p in parts {
            if !is_stopword(&p) {
                out.push(language::stem(&p));
                compound_parts(lexicon, &p, depth + 1, out);
            }
        }
    }
}

fn pre_tokenized(terms: &[String]) -> PreTokenizedString {
    PreTokenizedString {
        text: terms.join(" "),
        tokens: terms
            .iter()
            .enumerate()
            .map(|(i, t)| Token {
                offset_from: 0,
                offset_to: 0,
                position: i,
                text: t.clone(),
                position_length: 1,
            })
            .collect(),
    }
}

fn entry_texts(e: &Entry) -> (String, String, String, String) {
    let mut keywords = e.keywords.join(", ");
    // Example questions are the citizens' own words for the entry, searched as its keywords.
    for q in &e.questions {
        keywords.push_str(", ");
        keywords.push_str(q);
    }
    for t in e.translations.values() {
        keywords.push_str(", ");
        keywords.push_str(&t.name);
    }
    let mut body = e.description.clone();
    if let Some(f) = &e.fees {
        body.push('\n');
        body.push_str(f);
    }
    for d in &e.documents {
        body.push('\n');
        body.push_str(d);
    }
    (e.name.clone(), keywords, e.summary.clone(), body)
}

impl SearchIndex {
    /// Builds the index of a catalogue, with its synonym lists and the given thesaurus (or
    /// none).
    pub fn build(
        catalogue: &Catalogue,
        thesaurus: Option<Arc<Thesaurus>>,
    ) -> Result<SearchIndex, SearchError> {
        let (synonyms, _) = Synonyms::parse(&catalogue.synonyms);
        let (synonyms_en, _) = Synonyms::parse(&catalogue.synonyms_en);

        // The lexicon knows every word the catalogue and the synonym targets use.
        let mut all_words: Vec<String> = Vec::new();
        for e in &catalogue.entries {
            let (a, b, c, d) = entry_texts(e);
            for t in [a, b, c, d] {
                all_words.extend(language::words(&t));
            }
        }
        for rule in synonyms.rules.iter().chain(&synonyms_en.rules) {
            for t in &rule.to {
                all_words.extend(language::words(t));
            }
        }
        let lexicon = Lexicon::from_words(all_words.iter().map(String::as_str));

        let mut schema = Schema::builder();
        let text = TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer("raw")
                .set_index_option(IndexRecordOption::WithFreqs),
        );
        let fields = Fields {
            id: schema.add_text_field("id", STRING | STORED),
            name: schema.add_text_field("name", text.clone()),
            keywords: schema.add_text_field("keywords", text.clone()),
            summary: schema.add_text_field("summary", text.clone()),
            body: schema.add_text_field("body", text.clone()),
            parts: schema.add_text_field("parts", text),
        };
        let index = Index::create_in_ram(schema.build());
        let mut writer = index.writer_with_num_threads::<TantivyDocument>(1, 15_000_000)?;
        let mut terms = Vec::with_capacity(catalogue.entries.len());
        let mut doc_freq: FxHashMap<String, u32> = FxHashMap::default();
        let mut names: Vec<Vec<String>> = Vec::with_capacity(catalogue.entries.len());
        for (i, e) in catalogue.entries.iter().enumerate() {
            let (name, keywords, summary, body) = entry_texts(e);
            let (name_t, name_p) = analyse_text(&lexicon, &name);
            let (kw_t, kw_p) = analyse_text(&lexicon, &keywords);
            let (sum_t, sum_p) = analyse_text(&lexicon, &summary);
            let (body_t, body_p) = analyse_text(&lexicon, &body);
            // The parts of a compound in the name ("Lebens|bescheinigung") name the entry too.
            let title_parts: Vec<String> = name_p.iter().chain(&kw_p).cloned().collect();
            let parts: Vec<String> = [name_p, kw_p, sum_p, body_p].concat();
            let mut et = EntryTerms {
                alternatives: name_alternatives(&name),
                ..EntryTerms::default()
            };
            for (f, list) in [&name_t, &kw_t, &sum_t, &body_t, &parts]
                .into_iter()
                .enumerate()
            {
                et.len[f] = list.len() as f32;
                for t in list {
                    et.terms.entry(t.clone()).or_default().tf[f] += 1.0;
                }
            }
            for t in name_t.iter().chain(&kw_t).chain(&title_parts) {
                if let Some(stats) = et.terms.get_mut(t) {
                    stats.title = true;
                }
            }
            for t in et.terms.keys() {
                *doc_freq.entry(t.clone()).or_default() += 1;
            }
            // The words that say what the entry is. A bracketed qualifier at the name's end
            // annotates it ("(§ 81 AufenthG)", "(Telefon-Termin)"): a question names the
            // service without it.
            let core = match language::unbracketed(&name) {
                "" => name.as_str(),
                core => core,
            };
            let mut name = analyse_text(&lexicon, core).0;
            name.sort();
            name.dedup();
            name.retain(|t| !language::is_generic_action(t));
            names.push(name);
            terms.push(et);
            writer.add_document(doc!(
                fields.id => i.to_string(),
                fields.name => pre_tokenized(&name_t),
                fields.keywords => pre_tokenized(&kw_t),
                fields.summary => pre_tokenized(&sum_t),
                fields.body => pre_tokenized(&body_t),
                fields.parts => pre_tokenized(&parts),
            ))?;
        }
        writer.commit()?;
        // The names' terms weigh what they weigh in the whole catalogue.
        let n = catalogue.entries.len().max(1) as f32;
        for (et, name) in terms.iter_mut().zip(names) {
            et.name = name
                .into_iter()
                .map(|t| {
                    let w = doc_freq.get(&t).map_or(0.0, |&df| idf(n, df as f32));
                    (t, w)
                })
                .collect();
        }
        let reader = index.reader()?;
        // Which entry each document is, by segment and document id: read once here, so a
        // search never opens stored documents.
        let searcher = reader.searcher();
        let mut doc_entry = Vec::with_capacity(searcher.segment_readers().len());
        for (ord, segment) in searcher.segment_readers().iter().enumerate() {
            let mut entries = Vec::with_capacity(segment.max_doc() as usize);
            for doc_id in 0..segment.max_doc() {
                let stored: TantivyDocument =
                    searcher.doc(tantivy::DocAddress::new(ord as u32, doc_id))?;
                let entry = stored
                    .get_first(fields.id)
                    .and_then(|v| v.as_str())
                    .and_then(|s| s.parse::<usize>().ok())
                    .unwrap_or(usize::MAX);
                entries.push(entry);
            }
            doc_entry.push(entries);
        }

        let expansions = synonyms
            .rules
            .iter()
            .chain(&synonyms_en.rules)
            .map(|rule| {
                let mut out = Vec::new();
                for t in &rule.to {
                    let (stems, parts) = analyse_text(&lexicon, t);
                    out.extend(stems);
                    // A multi-word official term is found through its last word's parts too.
                    out.extend(parts);
                }
                out.sort();
                out.dedup();
                out
            })
            .collect();

        let count = terms.len().max(1) as f32;
        let avg_len: [f32; FIELDS] =
            std::array::from_fn(|f| terms.iter().map(|et| et.len[f]).sum::<f32>() / count);
        let name_numbers = catalogue
            .entries
            .iter()
            .flat_map(|e| language::words(&e.name))
            .filter(|w| w.chars().all(|c| c.is_ascii_digit()))
            .collect();
        // Read after the texts, so that a form's name neither changes what the catalogue's
        // words weigh nor stands in for words its texts use.
        let mut form_words: FxHashMap<String, Vec<usize>> = FxHashMap::default();
        for (i, e) in catalogue.entries.iter().enumerate() {
            for form in &e.links.forms {
                for stem in analyse_text(&lexicon, &form.name).0 {
                    if doc_freq.contains_key(&stem) {
                        continue;
                    }
                    let entries = form_words.entry(stem).or_default();
                    if entries.last() != Some(&i) {
                        entries.push(i);
                    }
                }
            }
        }
        Ok(SearchIndex {
            name_numbers,
            form_words,
            doc_entry,
            avg_len,
            reader,
            fields,
            lexicon,
            synonyms,
            synonyms_en,
            thesaurus,
            expansions,
            terms,
            doc_freq,
            ids: catalogue.entries.iter().map(|e| e.id.clone()).collect(),
        })
    }

    /// One query per searched field for an index term, boosted by what a match in the field
    /// counts and by the term's weight.
    fn field_queries<'a>(
        &'a self,
        term: &'a str,
        weight: f32,
    ) -> impl Iterator<Item = Box<dyn Query>> + 'a {
        [
            (self.fields.name, BOOST_NAME),
            (self.fields.keywords, BOOST_KEYWORDS),
            (self.fields.summary, BOOST_SUMMARY),
            (self.fields.body, BOOST_BODY),
            (self.fields.parts, BOOST_PARTS),
        ]
        .into_iter()
        .map(move |(field, boost)| {
            let q = TermQuery::new(
                Term::from_field_text(field, term),
                IndexRecordOption::WithFreqs,
            );
            Box::new(BoostQuery::new(Box::new(q), boost * weight)) as Box<dyn Query>
        })
    }

    fn idf(&self, term: &str) -> Option<f32> {
        let df = *self.doc_freq.get(term)? as f32;
        Some(idf(self.ids.len().max(1) as f32, df))
    }

    /// What a word found only in form names weighs: its weight among the forms, lowered.
    fn form_idf(&self, term: &str) -> Option<f32> {
        let df = self.form_words.get(term)?.len() as f32;
        Some(WEIGHT_FORM * idf(self.ids.len().max(1) as f32, df))
    }

    /// The weight of a term found in one entry only: the unit scores are measured in.
    fn max_idf(&self) -> f32 {
        let n = self.ids.len().max(1) as f32;
        ((n + 0.5) / 1.5 + 1.0).ln().max(f32::EPSILON)
    }

    /// The weight an unknown word gets: that of a word found in a few entries.
    fn unknown_weight(&self) -> f32 {
        let n = self.ids.len().max(1) as f32;
        ((n - 3.0 + 0.5) / 3.5 + 1.0).ln().max(0.5) * 0.25
    }

    /// Analyses a question into concepts. `lang` decides whether the English glossary applies.
    pub fn analyse(&self, text: &str, lang: Lang) -> Analysis {
        let text = language::complete_truncated(text, &self.lexicon);
        let words = language::words_joined(&text, |w| {
            self.lexicon.knows(w)
                || self.doc_freq.contains_key(&language::stem(w))
                || self.verb_form(w).is_some()
        });
        // Rules match the words as written and as meant (umlaut spellings and typos fixed).
        let written: Vec<String> = words.iter().map(|w| language::stem(w)).collect();
        let mut stems = written.clone();
        let mut concepts: Vec<Concept> = Vec::new();
        let mut concept_at: HashMap<usize, usize> = HashMap::new();

        for (pos, w) in words.iter().enumerate() {
            // A number counts only where an entry's name has it ("§ 81", "ab 16 Jahren"); ages,
            // years and amounts in a question are context, in digits or in words ("sechs").
            let number = language::number_word(w)
                .or_else(|| w.chars().all(|c| c.is_ascii_digit()).then_some(w.as_str()));
            if let Some(n) = number {
                if self.name_numbers.contains(n) {
                    concept_at.insert(pos, concepts.len());
                    concepts.push(Concept {
                        word: n.to_string(),
                        terms: vec![(n.to_string(), 1.0)],
                        weight: 0.0,
                        known: false,
                        parts: Vec::new(),
                        phrase: Vec::new(),
                    });
                }
                continue;
            }
            if is_stopword(w) || is_filler(w) || w.chars().count() < 2 {
                continue;
            }
            let mut terms: Vec<(String, f32)> = Vec::new();
            let word = match self.lexicon.canonical(w) {
                Some(c) => {
                    stems[pos] = language::stem(&c);
                    terms.push((stems[pos].clone(), 1.0));
                    c
                }
                None => {
                    terms.push((written[pos].clone(), 1.0));
                    w.clone()
                }
            };
            // The compound's parts, and theirs in turn.
            let whole: Vec<String> = self
                .lexicon
                .split(&word)
                .unwrap_or_default()
                .into_iter()
                .filter(|p| !is_stopword(p))
                .collect();
            let mut parts = Vec::new();
            for p in &whole {
                parts.push(language::stem(p));
                compound_parts(&self.lexicon, p, 1, &mut parts);
            }
            let whole: Vec<String> = whole.iter().map(|p| language::stem(p)).collect();
            let whole_df = self.doc_freq.get(&terms[0].0).copied().unwrap_or(0);
            let whole_known = whole_df > 0;
            // A compound the catalogue writes in one ("Personalausweis") is a word of its
            // own: its parts found apart ("Personal", "Ausweis") do not stand for it.
            let written_whole = whole_df > WHOLE_RARE;
            let parts_known =
                !parts.is_empty() && parts.iter().all(|p| self.doc_freq.contains_key(p));
            let split = !parts.is_empty();
            for p in parts {
                terms.push((p, WEIGHT_PART));
            }
            // The lexicon is German: English words are not corrected into German ones.
            if lang == Lang::De && !whole_known && !parts_known {
                let (more, meant) = self.unknown_word_terms(&word, split);
                if let Some(meant) = meant {
                    stems[pos] = language::stem(&meant);
                }
                terms.extend(more);
            }
            concept_at.insert(pos, concepts.len());
            concepts.push(Concept {
                word: word.clone(),
                terms,
                weight: 0.0,
                known: false,
                parts: if whole.len() > 1 && !written_whole {
                    whole
                } else {
                    Vec::new()
                },
                phrase: Vec::new(),
            });
        }

        let mut matched = self.synonyms.matches(&written);
        matched.extend(self.synonyms.matches(&stems));
        if lang == Lang::En {
            let offset = self.synonyms.rules.len();
            for list in [&written, &stems] {
                matched.extend(
                    self.synonyms_en
                        .matches(list)
                        .into_iter()
                        .map(|(i, p)| (offset + i, p)),
                );
            }
        }
        matched.sort();
        // A rule that matches twice ("birth … born") explains both words; the same match
        // found in the words as written and as meant counts once.
        matched.dedup();
        for (index, positions) in matched {
            let expansion = &self.expansions[index];
            // The English rules follow the German ones.
            let english = index.checked_sub(self.synonyms.rules.len());
            // Attach to the concept of the phrase's first meaningful word, or make one.
            let target = positions.iter().find_map(|p| concept_at.get(p).copied());
            let target = match target {
                Some(t) => t,
                None => {
                    let word = positions
                        .iter()
                        .map(|&p| words[p].as_str())
                        .collect::<Vec<_>>()
                        .join(" ");
                    concepts.push(Concept {
                        word,
                        terms: Vec::new(),
                        weight: 0.0,
                        known: false,
                        parts: Vec::new(),
                        phrase: Vec::new(),
                    });
                    for p in &positions {
                        concept_at.insert(*p, concepts.len() - 1);
                    }
                    concepts.len() - 1
                }
            };
            // The other words of a multi-word phrase are explained by the rule, and the
            // concept is the phrase ("address registration"), not its first word.
            if positions.len() > 1 {
                concepts[target].word = positions
                    .iter()
                    .map(|&p| words[p].as_str())
                    .collect::<Vec<_>>()
                    .join(" ");
                let rule = match english {
                    Some(en) => &self.synonyms_en.rules[en],
                    None => &self.synonyms.rules[index],
                };
                concepts[target].phrase.extend(
                    rule.to
                        .iter()
                        .flat_map(|t| language::words(t))
                        .map(|w| language::stem(&w)),
                );
            }
            for p in &positions {
                if let Some(&other) = concept_at.get(p)
                    && other != target
                {
                    concepts[other].terms.clear();
                    concepts[other].parts.clear();
                }
            }
            // An English rule translates: its German terms are the word itself, in the
            // catalogue's language. A German rule names a related word.
            let weight = if english.is_some() {
                WEIGHT_TRANSLATION
            } else {
                WEIGHT_SYNONYM
            };
            for t in expansion {
                concepts[target].terms.push((t.clone(), weight));
            }
            // What the synonym list says a compound means is better than its parts.
            concepts[target].parts.clear();
        }
        concepts.retain(|c| !c.terms.is_empty());

        let unknown = self.unknown_weight();
        for c in &mut concepts {
            // Merge duplicate terms, keeping the best weight.
            let mut best: HashMap<String, f32> = HashMap::new();
            for (t, w) in c.terms.drain(..) {
                let e = best.entry(t).or_insert(0.0);
                *e = e.max(w);
            }
            c.terms = best.into_iter().collect();
            c.terms
                .sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            // What the catalogue's texts say a word weighs; a word only forms name weighs
            // what it weighs among them.
            let best_of = |idf: &dyn Fn(&str) -> Option<f32>| {
                c.terms
                    .iter()
                    .filter_map(|(t, w)| idf(t).map(|i| i * w))
                    .fold(None, |m: Option<f32>, x| Some(m.map_or(x, |m| m.max(x))))
            };
            let idf = best_of(&|t| self.idf(t)).or_else(|| best_of(&|t| self.form_idf(t)));
            c.known = idf.is_some();
            c.weight = idf.unwrap_or(unknown);
        }
        // A word said twice ("Mieter … Miete") is one concept: it does not make the entries
        // that have it twice as right.
        let mut seen: HashSet<Vec<(String, u32)>> = HashSet::new();
        concepts.retain(|c| {
            seen.insert(
                c.terms
                    .iter()
                    .map(|(t, w)| (t.clone(), w.to_bits()))
                    .collect(),
            )
        });
        Analysis { concepts }
    }

    /// The candidates for an analysed question, best by words first. With `semantic` (each
    /// entry's similarity in meaning to the question), the entries nearest in meaning join
    /// the candidates; how much meaning counts is the ranker's to weigh.
    pub fn search(
        &self,
        analysis: &Analysis,
        semantic: Option<&Similarities>,
    ) -> Result<Vec<Hit>, SearchError> {
        // One clause per concept: the best of its terms and fields counts, the others only a
        // little, so a word with many synonyms does not outweigh a word with one.
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for c in &analysis.concepts {
            let mut disjuncts: Vec<Box<dyn Query>> = Vec::new();
            for (t, w) in &c.terms {
                if !self.doc_freq.contains_key(t.as_str()) {
                    continue;
                }
                disjuncts.extend(self.field_queries(t, *w));
            }
            // All parts of a compound together, each counting as a part does.
            let parts: Vec<(Occur, Box<dyn Query>)> = c
                .parts
                .iter()
                .filter(|&p| self.doc_freq.contains_key(p))
                .map(|p| {
                    let fields = self.field_queries(p, WEIGHT_PART).collect();
                    (
                        Occur::Should,
                        Box::new(DisjunctionMaxQuery::with_tie_breaker(fields, TIE_BREAKER))
                            as Box<dyn Query>,
                    )
                })
                .collect();
            if parts.len() > 1 {
                disjuncts.push(Box::new(BooleanQuery::new(parts)));
            }
            if !disjuncts.is_empty() {
                clauses.push((
                    Occur::Should,
                    Box::new(DisjunctionMaxQuery::with_tie_breaker(
                        disjuncts,
                        TIE_BREAKER,
                    )),
                ));
            }
        }
        let mut candidates: Vec<usize> = Vec::new();
        if !clauses.is_empty() {
            let query = BooleanQuery::new(clauses);
            let searcher = self.reader.searcher();
            let top = searcher.search(
                &query,
                &tantivy::collector::TopDocs::with_limit(CANDIDATES).order_by_score(),
            )?;
            candidates.extend(top.into_iter().filter_map(|(_, address)| {
                self.doc_entry
                    .get(address.segment_ord as usize)
                    .and_then(|docs| docs.get(address.doc_id as usize))
                    .copied()
                    .filter(|&e| e < self.terms.len())
            }));
        }
        // The entries whose forms name a question's term, and its weight there, where the
        // texts do not use it: looked up once, for the candidates and for their scores.
        let in_forms: Vec<Vec<Option<InForms>>> = analysis
            .concepts
            .iter()
            .map(|c| {
                c.terms
                    .iter()
                    .map(|(t, _)| {
                        Some((
                            self.form_words.get(t.as_str())?.as_slice(),
                            self.form_idf(t)?,
                        ))
                    })
                    .collect()
            })
            .collect();
        // Those entries are candidates where the word is particular to a few of them.
        for (entries, _) in in_forms.iter().flatten().flatten() {
            if entries.len() > CANDIDATES {
                continue;
            }
            for entry in *entries {
                if !candidates.contains(entry) {
                    candidates.push(*entry);
                }
            }
        }
        if let Some(similarities) = semantic.filter(|s| s.best.len() == self.terms.len()) {
            for (entry, _) in similarities.nearest(SEMANTIC_CANDIDATES) {
                if !candidates.contains(&entry) {
                    candidates.push(entry);
                }
            }
        }
        let total = analysis.total_weight().max(f32::EPSILON);
        let asked: FxHashSet<&str> = analysis
            .concepts
            .iter()
            .flat_map(|c| c.terms.iter().map(|(t, _)| t.as_str()))
            .collect();
        // The question's terms' weights in the catalogue, looked up once, not per candidate.
        let idfs: Vec<Vec<Option<f32>>> = analysis
            .concepts
            .iter()
            .map(|c| c.terms.iter().map(|(t, _)| self.idf(t)).collect())
            .collect();
        let mut hits = Vec::with_capacity(candidates.len());
        for entry in candidates {
            let terms = &self.terms[entry];
            // Per concept, its best term: anywhere in the entry (coverage), in its name or
            // keywords (title coverage), and by BM25F (one best term per concept, so a word
            // with many synonyms does not outweigh a word with one).
            let norm: [f32; FIELDS] = std::array::from_fn(|f| {
                let avg = self.avg_len[f].max(1.0);
                1.0 - B + B * terms.len[f] / avg
            });
            // BM25F of one term in this entry, before its weight and inverse frequency.
            let saturated = |stats: &TermStats| {
                saturate(
                    (0..FIELDS)
                        .map(|f| FIELD_BOOSTS[f] * stats.tf[f] / norm[f])
                        .sum(),
                )
            };
            let (mut found, mut named, mut raw) = (0.0f32, 0.0f32, 0.0f32);
            for ((c, idfs), forms) in analysis.concepts.iter().zip(&idfs).zip(&in_forms) {
                let (mut anywhere, mut in_title, mut best) = (0.0f32, 0.0f32, 0.0f32);
                for (((t, w), idf), form) in c.terms.iter().zip(idfs).zip(forms) {
                    let Some(stats) = terms.terms.get(t.as_str()) else {
                        if let Some((entries, weight)) = form
                            && entries.contains(&entry)
                        {
                            anywhere = anywhere.max(*w);
                            best = best.max(w * weight * FORM_MENTION);
                        }
                        continue;
                    };
                    anywhere = anywhere.max(*w);
                    if stats.title {
                        in_title = in_title.max(*w);
                    }
                    if let Some(idf) = idf {
                        best = best.max(w * idf * saturated(stats));
                    }
                }
                // A compound's parts, all found: nearly the word itself, scored as the sum
                // of the parts. Only where the entry's name or keywords have them all: parts
                // scattered over a long text do not make the word.
                if c.parts.len() > 1 {
                    let (mut all_named, mut sum) = (true, 0.0f32);
                    for p in &c.parts {
                        match (terms.terms.get(p.as_str()), self.idf(p)) {
                            (Some(stats), Some(idf)) if stats.title => {
                                sum += WEIGHT_PART * idf * saturated(stats);
                            }
                            _ => all_named = false,
                        }
                    }
                    if all_named {
                        anywhere = anywhere.max(WEIGHT_ALL_PARTS);
                        in_title = in_title.max(WEIGHT_ALL_PARTS);
                        best = best.max(sum);
                    }
                }
                found += c.weight * anywhere;
                named += c.weight * in_title;
                raw += best;
            }
            let (mut explained, mut total_name) = (0.0, 0.0);
            for (t, w) in &terms.name {
                total_name += w;
                let alternative_asked = || {
                    terms.alternatives.iter().any(|(a, b)| {
                        (a == t && asked.contains(b.as_str()))
                            || (b == t && asked.contains(a.as_str()))
                    })
                };
                if asked.contains(t.as_str()) || alternative_asked() {
                    explained += w;
                }
            }
            let coverage = found / total;
            let title_coverage = named / total;
            let specificity = if total_name > 0.0 {
                explained / total_name
            } else {
                0.0
            };
            let lexical = raw / self.max_idf()
                * (1.0 - COVERAGE_WEIGHT * (1.0 - coverage))
                * (1.0 - SPECIFICITY_WEIGHT * (1.0 - specificity));
            hits.push(Hit {
                entry,
                lexical,
                coverage,
                strength: raw / total,
                title_coverage,
                specificity,
            });
        }
        // By words: the ranker weighs meaning with the rest of the features.
        hits.sort_by(|a, b| b.lexical.total_cmp(&a.lexical));
        Ok(hits)
    }

    /// The index term of a verb form the stemmer leaves alone: "wohnt" → wohn(en),
    /// "gekauft" → kauf(en), "zugelassen" → zulass(en), "eingetragen" → eintrag(en).
    fn verb_form(&self, word: &str) -> Option<String> {
        const PARTICLES: &[&str] = &[
            "an", "ab", "auf", "aus", "ein", "mit", "nach", "um", "vor", "zu", "zurück", "weg",
            "fest", "durch", "über", "unter", "",
        ];
        const ENDINGS: &[&str] = &["t", "et", "st", "est", "te", "ten", "tet", "en", "n", ""];
        let known = |c: &str| -> Option<String> {
            [c.to_string(), format!("{c}en"), format!("{c}n")]
                .iter()
                .map(|v| language::stem(v))
                .find(|st| st.len() >= 3 && self.doc_freq.contains_key(st))
        };
        for particle in PARTICLES {
            let Some(rest) = word.strip_prefix(particle) else {
                continue;
            };
            // A participle: (particle) ge … t / en.
            let (rest, participle) = match rest.strip_prefix("ge") {
                Some(r) if r.chars().count() >= 3 => (r, true),
                _ if particle.is_empty() => (rest, false),
                _ => continue,
            };
            for ending in ENDINGS {
                if !participle && ending.is_empty() {
                    continue;
                }
                if let Some(base) = rest.strip_suffix(ending)
                    && base.chars().count() >= 3
                    && let Some(term) = known(&format!("{particle}{base}"))
                {
                    return Some(term);
                }
            }
        }
        None
    }

    /// Index terms for a German word the catalogue does not know (nor all the parts of, when
    /// `split`), tried in turn: a verb form or derived form of a catalogue word; the
    /// catalogue's compounds it begins ("Kirche" in "Kirchenaustritt"); what a thesaurus knows
    /// it to mean ("Gewehr" → Schusswaffe), for a real word is no typo; the catalogue word it
    /// is a typo of; and last, what the thesaurus knows of its last part ("Sportgewehr").
    /// Returns the terms and, for a typo, the word meant.
    fn unknown_word_terms(&self, word: &str, split: bool) -> (Vec<(String, f32)>, Option<String>) {
        let mut terms: Vec<(String, f32)> = Vec::new();
        let base = self.verb_form(word).or_else(|| self.derived_form(word));
        if let Some(base) = &base {
            terms.push((base.clone(), WEIGHT_CORRECTED));
        }
        let starts = self.lexicon.compounds_starting_with(word, 3);
        let begins_compounds = !starts.is_empty();
        terms.extend(starts.iter().map(|c| (language::stem(c), WEIGHT_PART)));
        if base.is_some() {
            return (terms, None);
        }
        if !begins_compounds && let Some(related) = self.thesaurus_terms(word, false) {
            // A real word is never corrected into another. Where the catalogue has none of
            // its relatives, its first part may still say what it is about.
            if related.is_empty() && !split {
                terms.extend(self.modifier_terms(word));
            }
            terms.extend(related);
            return (terms, None);
        }
        if let Some(meant) = self.lexicon.correct(word) {
            terms.push((language::stem(&meant), WEIGHT_CORRECTED));
            let mut parts = Vec::new();
            compound_parts(&self.lexicon, &meant, 0, &mut parts);
            terms.extend(
                parts
                    .into_iter()
                    .map(|p| (p, WEIGHT_CORRECTED * WEIGHT_PART)),
            );
            return (terms, Some(meant));
        }
        if terms.is_empty()
            && !split
            && let Some(related) = self.thesaurus_terms(word, true)
        {
            terms.extend(related);
        }
        if !split {
            terms.extend(self.modifier_terms(word));
        }
        (terms, None)
    }

    /// The terms of a compound's first part, where the catalogue knows it
    /// ("Beglaubigungs|stempel", "Forschungs|institut"): the compound is about that too, if
    /// less than about its last part.
    fn modifier_terms(&self, word: &str) -> Vec<(String, f32)> {
        self.lexicon
            .known_modifier(word)
            .unwrap_or_default()
            .iter()
            .map(|p| (language::stem(p), WEIGHT_MODIFIER))
            .collect()
    }

    /// Index terms for a word the catalogue lacks, from the thesaurus: the catalogue's words
    /// among its synonyms and broader terms, or those of its last part ("Sportgewehr" is
    /// looked up as "Gewehr", with `parts`). `None` when the thesaurus does not know it.
    fn thesaurus_terms(&self, word: &str, parts: bool) -> Option<Vec<(String, f32)>> {
        let thesaurus = self.thesaurus.as_deref()?;
        let chars: Vec<char> = word.chars().collect();
        // The word, an inflected form of it, or the longest last part it knows.
        let mut forms: Vec<String> = vec![word.to_string()];
        for ending in ["en", "n", "e", "es", "s", "er", "ern"] {
            if let Some(base) = word.strip_suffix(ending)
                && base.chars().count() >= 3
            {
                forms.push(base.to_string());
            }
        }
        // Verb forms: "schließe", "wohnt", "arbeitest" → the infinitive.
        for ending in ["e", "t", "st", "et", "est"] {
            if let Some(base) = word.strip_suffix(ending)
                && base.chars().count() >= 3
            {
                forms.push(format!("{base}en"));
            }
        }
        if parts {
            // A compound of two real words: a known modifier (with or without a linking
            // element) and a head of four letters or more.
            let real = |m: &str| thesaurus.knows(m) || self.lexicon.knows(m);
            for cut in 3..chars.len().saturating_sub(3) {
                let modifier: String = chars[..cut].iter().collect();
                let linked = ["s", "es", "n", "en", "er"].iter().any(|l| {
                    modifier
                        .strip_suffix(l)
                        .is_some_and(|m| m.chars().count() >= 3 && real(m))
                });
                if real(&modifier) || linked {
                    forms.push(chars[cut..].iter().collect());
                }
            }
        }
        let known = forms.iter().find(|f| thesaurus.knows(f))?;
        let mut terms: Vec<(String, f32)> = Vec::new();
        for (related, relation) in thesaurus.related(known) {
            let weight = match relation {
                Relation::Synonym => WEIGHT_THESAURUS,
                Relation::Broader => WEIGHT_BROADER,
            };
            let st = language::stem(related);
            // "sicher" stems to "sich": a stem that is a stop word means nothing.
            if is_stopword(related) || is_stopword(&st) {
                continue;
            }
            if self.doc_freq.contains_key(&st) {
                terms.push((st, weight));
            } else {
                let mut parts = Vec::new();
                compound_parts(&self.lexicon, related, 0, &mut parts);
                if let Some(head) = parts.last().filter(|p| self.doc_freq.contains_key(*p)) {
                    terms.push((head.clone(), weight * WEIGHT_PART));
                }
            }
            if terms.len() >= THESAURUS_TERMS {
                break;
            }
        }
        Some(terms)
    }

    /// The index term of a word derived from one the catalogue uses: the feminine form of a
    /// person ("Doktorandin" → doktorand, "Bürgerinnen" → bürger) and the noun of a verb
    /// ("Forschung" → forsch(en), or the people doing it: "Forschende"). Only for words the
    /// catalogue lacks.
    fn derived_form(&self, word: &str) -> Option<String> {
        const SUFFIXES: &[&str] = &["innen", "in", "ungen", "ung"];
        SUFFIXES.iter().find_map(|suffix| {
            let base = word.strip_suffix(suffix)?;
            if base.chars().count() < 4 {
                return None;
            }
            [base.to_string(), format!("{base}en"), format!("{base}ende")]
                .iter()
                .map(|v| language::stem(v))
                .find(|st| st.chars().count() >= 4 && self.doc_freq.contains_key(st))
        })
    }

    /// Whether the question asks for a word of `entry`'s name that `other`'s name lacks:
    /// "Reisepass verloren" asks for "Verlust" of "Verlust oder Diebstahl Reisepass", which
    /// "Reisepass" lacks.
    pub fn asks_beyond(&self, analysis: &Analysis, entry: usize, other: usize) -> bool {
        let theirs = &self.terms[other].name;
        self.terms[entry]
            .name
            .iter()
            .any(|(t, _)| !theirs.iter().any(|(o, _)| o == t) && analysis.asks(t))
    }

    /// The id of the entry at this position of the catalogue.
    pub fn entry_id(&self, entry: usize) -> &EntryId {
        &self.ids[entry]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knowledge::files::test_entry as entry;

    fn catalogue(synonyms: &str, synonyms_en: &str) -> Catalogue {
        Catalogue {
            entries: vec![
                entry(
                    "waffe",
                    "Waffenbesitzkarte beantragen",
                    "Wer eine Schusswaffe erwerben will, braucht eine Waffenbesitzkarte.",
                ),
                entry(
                    "auto",
                    "Fahrzeug anmelden",
                    "Ein Fahrzeug wird bei der Zulassungsbehörde angemeldet, wegen der Steuer auch online.",
                ),
                entry(
                    "forschung",
                    "Aufenthaltserlaubnis – Forschende",
                    "Für Forschende und Doktoranden an einem Institut.",
                ),
                entry(
                    "rente",
                    "Lebensbescheinigung",
                    "Für eine Rente von einem ausländischen Rentenversicherungsträger aus dem Ausland.",
                ),
            ],
            synonyms: synonyms.into(),
            synonyms_en: synonyms_en.into(),
            ..Catalogue::default()
        }
    }

    const THESAURUS: &str = "UTF-8\n\
gewehr|1\n\
-|Gewehr|Knifte (ugs.)|Schusswaffe (Oberbegriff)\n\
sport|1\n\
-|Sport|Leibesübungen\n\
wagen|1\n\
-|Wagen|Auto|Automobil|Fahrzeug (Oberbegriff)\n\
steuerbescheid|1\n\
-|Steuerbescheid|Bescheid (Oberbegriff)\n";

    /// The index of the test catalogue with these entries (id, name, text) added, without
    /// a thesaurus.
    fn index_with(entries: &[(&str, &str, &str)]) -> SearchIndex {
        let mut c = catalogue("", "");
        for (id, name, text) in entries {
            c.entries.push(entry(id, name, text));
        }
        SearchIndex::build(&c, None).unwrap()
    }

    fn thesaurus() -> Arc<Thesaurus> {
        Arc::new(Thesaurus::read(THESAURUS.as_bytes()).unwrap())
    }

    fn terms(index: &SearchIndex, text: &str, lang: Lang) -> Vec<String> {
        index
            .analyse(text, lang)
            .concepts
            .into_iter()
            .flat_map(|c| c.terms.into_iter().map(|(t, _)| t))
            .collect()
    }

    /// The first hit for a German question.
    fn best_hit(index: &SearchIndex, question: &str) -> Hit {
        let mut hits = index
            .search(&index.analyse(question, Lang::De), None)
            .unwrap();
        assert!(!hits.is_empty(), "nothing found for {question:?}");
        hits.swap_remove(0)
    }

    /// The ids of the entries found for a question, best first.
    fn found(index: &SearchIndex, text: &str, lang: Lang) -> Vec<String> {
        index
            .search(&index.analyse(text, lang), None)
            .unwrap()
            .into_iter()
            .map(|h| index.entry_id(h.entry).as_str().to_string())
            .collect()
    }

    #[test]
    fn a_word_only_the_thesaurus_knows_finds_the_catalogue_word() {
        let with = SearchIndex::build(&catalogue("", ""), Some(thesaurus())).unwrap();
        let without = SearchIndex::build(&catalogue("", ""), None).unwrap();
        assert!(terms(&with, "Gewehr", Lang::De).contains(&"schusswaff".to_string()));
        assert!(!terms(&without, "Gewehr", Lang::De).contains(&"schusswaff".to_string()));
        // A compound of two real words is looked up by its last part.
        assert!(terms(&with, "Sportgewehr", Lang::De).contains(&"schusswaff".to_string()));
        // The thesaurus finds the entry the words alone cannot.
        let question = "Ich möchte ein Gewehr kaufen";
        assert_eq!(
            found(&with, question, Lang::De).first().map(String::as_str),
            Some("waffe")
        );
        assert!(!found(&without, question, Lang::De).contains(&"waffe".to_string()));
    }

    #[test]
    fn a_real_word_whose_relatives_the_catalogue_lacks_is_about_its_first_part() {
        // The thesaurus knows "Steuerbescheid", and the catalogue none of its relatives; its
        // first part, "Steuer", is the catalogue's word.
        let index = SearchIndex::build(&catalogue("", ""), Some(thesaurus())).unwrap();
        assert!(terms(&index, "Steuerbescheid", Lang::De).contains(&"steu".to_string()));
        assert_eq!(
            found(&index, "Frage zu meinem Steuerbescheid", Lang::De),
            vec!["auto".to_string()]
        );
    }

    #[test]
    fn an_english_word_translated_counts_as_the_german_word_itself() {
        let index = SearchIndex::build(
            &catalogue("", "firearms licence => waffenbesitzkarte\n"),
            None,
        )
        .unwrap();
        let coverage = |text: &str, lang: Lang| {
            let hits = index.search(&index.analyse(text, lang), None).unwrap();
            let best = hits.first().expect("a hit");
            assert_eq!(index.entry_id(best.entry).as_str(), "waffe");
            best.coverage
        };
        // The English question explains the entry as fully as the German one does.
        assert_eq!(
            coverage("firearms licence", Lang::En),
            coverage("Waffenbesitzkarte", Lang::De)
        );
        assert_eq!(coverage("firearms licence", Lang::En), 1.0);
    }

    #[test]
    fn numbers_in_words_count_as_numbers_and_words_of_time_not_at_all() {
        let index = index_with(&[(
            "ab16",
            "Niederlassungserlaubnis ab 16 Jahren",
            "Für Jugendliche.",
        )]);
        let words = |text| -> Vec<String> {
            index
                .analyse(text, Lang::De)
                .concepts
                .into_iter()
                .map(|c| c.word)
                .collect()
        };
        // "seit", "oft" and a number no name has are context.
        assert_eq!(
            words("Ich lebe seit sechs Jahren oft hier"),
            ["lebe", "jahren"]
        );
        // A number a name has counts, in digits or in words.
        assert_eq!(words("Ich bin sechzehn Jahre alt"), ["16", "jahre", "alt"]);
        assert_eq!(words("Ich bin 16 Jahre alt"), ["16", "jahre", "alt"]);
        // So is an age: "10-jähriges Kind" is about a child.
        assert_eq!(words("Pass für mein 10-jähriges Kind"), ["pass", "kind"]);
    }

    #[test]
    fn a_compound_is_explained_by_an_entry_that_names_its_parts_apart() {
        let index = index_with(&[
            (
                "duldung-ausbildung",
                "Duldung - Ausbildung",
                "Geduldete in einer Berufsausbildung.",
            ),
            (
                "duldung",
                "Duldung",
                "Die Duldung ist kein Aufenthaltstitel.",
            ),
            ("ausbildung", "Ausbildungsförderung", "Für eine Ausbildung."),
        ]);
        let analysis = index.analyse("Ausbildungsduldung", Lang::De);
        let hits = index.search(&analysis, None).unwrap();
        assert_eq!(index.entry_id(hits[0].entry).as_str(), "duldung-ausbildung");
        assert!(hits[0].coverage > 0.8, "{}", hits[0].coverage);
        assert!(hits[1].coverage < 0.7, "{}", hits[1].coverage);
    }

    #[test]
    fn a_truncated_first_part_is_read_as_the_whole_word_in_texts_and_questions() {
        let index = index_with(&[
            (
                "taxi",
                "Betriebsaufnahme",
                "Die Aufnahme eines Taxi- oder Mietwagenunternehmens zeigen Sie an.",
            ),
            (
                "firma",
                "Gründung",
                "Die Gründung des Unternehmens melden Sie beim Gewerbeamt.",
            ),
            (
                "rotes",
                "Rotes Kennzeichen",
                "Für Probefahrten und Fahrten zur Werkstatt.",
            ),
        ]);
        // The text's "Taxi-" is "Taxiunternehmens": the question's word is the entry's own.
        assert_eq!(
            index.analyse("Taxiunternehmen", Lang::De).concepts[0]
                .terms
                .first()
                .map(|(t, _)| index.idf(t).is_some()),
            Some(true)
        );
        assert_eq!(
            found(&index, "Taxiunternehmen", Lang::De)
                .first()
                .map(String::as_str),
            Some("taxi")
        );
        // The question's "Überführungs-" is "Überführungsfahrten", a word about "Fahrten".
        let words: Vec<String> = index
            .analyse("Überführungs- und Probefahrten", Lang::De)
            .concepts
            .into_iter()
            .map(|c| c.word)
            .collect();
        assert!(
            words.contains(&"überführungsfahrten".to_string()),
            "{words:?}"
        );
    }

    #[test]
    fn a_question_naming_one_of_two_words_joined_by_a_slash_explains_both() {
        let index = index_with(&[
            (
                "eu",
                "Umschreibung EU/EWR-Führerschein",
                "Ein Führerschein aus einem Staat der EU wird umgeschrieben.",
            ),
            (
                "ausland",
                "Umschreibung eines ausländischen Führerscheins",
                "Ein Führerschein aus dem Ausland wird umgeschrieben.",
            ),
        ]);
        let hits = index
            .search(
                &index.analyse("Umschreibung meines EU-Führerscheins", Lang::De),
                None,
            )
            .unwrap();
        let specificity = |id: &str| {
            hits.iter()
                .find(|h| index.entry_id(h.entry).as_str() == id)
                .map(|h| h.specificity)
                .unwrap()
        };
        assert!(specificity("eu") > 0.99, "{}", specificity("eu"));
        assert!(specificity("ausland") < specificity("eu"));
        assert_eq!(
            name_alternatives("Aushändigung/Abgabe Originalunterlagen"),
            [("aushand".to_string(), "abgab".to_string())]
        );
    }

    #[test]
    fn words_listed_with_oder_in_a_name_are_alternatives() {
        let pair = |a: &str, b: &str| (language::stem(a), language::stem(b));
        assert_eq!(
            name_alternatives("Verlust oder Diebstahl Reisepass"),
            [pair("verlust", "diebstahl")]
        );
        // A word both alternatives share is none.
        assert_eq!(
            name_alternatives("Probleme bei Kfz-Versicherung oder Kfz-Steuer"),
            [pair("versicherung", "steuer")]
        );
        let list = name_alternatives("Abholung Personalausweis, Reisepass oder eID-Karte");
        for (a, b) in [
            ("reisepass", "eid"),
            ("reisepass", "karte"),
            ("personalausweis", "reisepass"),
            ("personalausweis", "karte"),
        ] {
            assert!(
                list.contains(&pair(a, b)) || list.contains(&pair(b, a)),
                "{a} {b} {list:?}"
            );
        }
        assert!(
            !list.iter().any(|(a, b)| a == "abhol" || b == "abhol"),
            "{list:?}"
        );
        // Asking for one explains the other.
        let index = index_with(&[(
            "verlust",
            "Verlust oder Diebstahl Reisepass",
            "Melden Sie den Verlust Ihres Reisepasses.",
        )]);
        let best = best_hit(&index, "Diebstahl Reisepass");
        assert!(best.specificity > 0.99, "{}", best.specificity);
    }

    #[test]
    fn a_bracketed_qualifier_at_the_end_of_a_name_need_not_be_asked() {
        let index = index_with(&[(
            "duldung",
            "Duldung - Ausbildung (§ 60c AufenthG)",
            "Während der Ausbildung können Sie eine Duldung bekommen.",
        )]);
        let best = best_hit(&index, "Duldung für die Ausbildung");
        assert_eq!(index.entry_id(best.entry).as_str(), "duldung");
        assert!(best.specificity > 0.99, "{}", best.specificity);
    }

    #[test]
    fn issuing_a_document_is_no_topic() {
        let index = index_with(&[
            (
                "fuehrung",
                "Führungen durch die Feuerwehrausstellung",
                "Die Ausstellung zeigt alte Löschfahrzeuge.",
            ),
            (
                "melde",
                "Meldebescheinigung",
                "Die Meldebescheinigung bestätigt Ihre Adresse.",
            ),
        ]);
        for q in [
            "Wer stellt die Meldebescheinigung aus?",
            "Wo wird eine Meldebescheinigung ausgestellt?",
        ] {
            assert_eq!(found(&index, q, Lang::De), ["melde"], "{q}");
        }
    }

    #[test]
    fn a_word_said_twice_is_one_concept() {
        let index = SearchIndex::build(&catalogue("", ""), None).unwrap();
        let concepts = |text| index.analyse(text, Lang::De).concepts.len();
        // "Fahrzeug" and "Fahrzeuge" are one stem; "Steuer" is another concept.
        assert_eq!(concepts("Fahrzeug Steuer"), 2);
        assert_eq!(concepts("Fahrzeug Fahrzeuge Steuer"), 2);
    }

    #[test]
    fn a_real_word_is_not_corrected_into_another_catalogue_word() {
        // Without a thesaurus "Wagen" is taken for a typo of "wegen"; with one it is a car.
        let without = SearchIndex::build(&catalogue("", ""), None).unwrap();
        assert!(terms(&without, "Wagen", Lang::De).contains(&"weg".to_string()));
        let with = SearchIndex::build(&catalogue("", ""), Some(thesaurus())).unwrap();
        let wagen = terms(&with, "Wagen", Lang::De);
        assert!(wagen.contains(&"fahrzeug".to_string()), "{wagen:?}");
        assert!(!wagen.contains(&"weg".to_string()), "{wagen:?}");
        // Typos of catalogue words are still corrected.
        assert!(
            terms(&with, "Lebensbescheinigugn", Lang::De).contains(&"lebensbeschein".to_string())
        );
    }

    #[test]
    fn a_word_only_a_form_names_finds_its_entry_and_weighs_nothing_else() {
        use crate::knowledge::Link;
        let form = |name: &str| Link {
            name: name.into(),
            url: "https://example.org/form.pdf".into(),
        };
        let mut c = catalogue("", "");
        let mut moving = entry(
            "umzug",
            "Wohnsitzanmeldung",
            "Wer nach München zieht, meldet sich innerhalb von zwei Wochen an.",
        );
        moving.links.forms = vec![form("Wohnungsgeberbestätigung")];
        // A form named with words the texts use adds nothing to them.
        let mut rent = entry("rente-2", "Rentenantrag", "Der Antrag auf eine Rente.");
        rent.links.forms = vec![form("Fahrzeug anmelden")];
        c.entries.extend([moving, rent]);
        let index = SearchIndex::build(&c, None).unwrap();
        let asked = "Wo bekomme ich eine Wohnungsgeberbestätigung?";
        assert_eq!(
            found(&index, asked, Lang::De).first().map(String::as_str),
            Some("umzug")
        );
        let car = found(&index, "Fahrzeug anmelden", Lang::De);
        assert_eq!(car.first().map(String::as_str), Some("auto"));
        assert!(!car.contains(&"rente-2".to_string()), "{car:?}");
        // The catalogue's words are in as many entries as without the forms.
        let plain = SearchIndex::build(&catalogue("", ""), None).unwrap();
        assert_eq!(
            index.doc_freq.get("fahrzeug"),
            plain.doc_freq.get("fahrzeug")
        );
        assert_eq!(index.doc_freq.get("fahrzeug"), Some(&1));
    }

    #[test]
    fn a_separable_verb_in_any_form_is_joined_to_its_particle() {
        let index = index_with(&[(
            "pass",
            "Reisepass",
            "Einen Reisepass können Sie nur persönlich abholen.",
        )]);
        let asked = terms(&index, "Wo hole ich meinen Reisepass ab?", Lang::De);
        assert!(asked.contains(&"abhol".to_string()), "{asked:?}");
        assert!(!asked.contains(&"hol".to_string()), "{asked:?}");
    }

    #[test]
    fn feminine_forms_and_nouns_of_verbs_find_the_catalogue_word() {
        let index = SearchIndex::build(&catalogue("", ""), None).unwrap();
        assert!(terms(&index, "Doktorandin", Lang::De).contains(&language::stem("doktoranden")));
        let forschung = terms(&index, "Forschung", Lang::De);
        assert!(
            forschung.contains(&language::stem("forschende")),
            "{forschung:?} {}",
            language::stem("forschende")
        );
    }

    #[test]
    fn a_foreign_country_means_abroad_in_both_languages() {
        let index = SearchIndex::build(
            &catalogue(
                include_str!("../knowledge/synonyms.txt"),
                include_str!("../knowledge/synonyms-en.txt"),
            ),
            None,
        )
        .unwrap();
        let ausland = language::stem("ausland");
        let de = terms(&index, "Ich bekomme eine Rente aus Italien", Lang::De);
        assert!(de.contains(&ausland), "{de:?}");
        assert!(de.contains(&"eu".to_string()), "{de:?}");
        let en = terms(&index, "I get a pension from Canada", Lang::En);
        assert!(en.contains(&ausland), "{en:?}");
        assert!(!en.contains(&"eu".to_string()), "{en:?}");
        // "us" is a pronoun, not the United States.
        let us = terms(&index, "Can you help us with the pension", Lang::En);
        assert!(!us.contains(&ausland), "{us:?}");
        let best = found(&index, "Rente aus Kanada, wer bestätigt das?", Lang::De);
        assert_eq!(best.first().map(String::as_str), Some("rente"));
    }
}
