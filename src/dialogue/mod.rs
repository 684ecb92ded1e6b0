//! The dialogue core: one citizen message in, one reply out, whatever the channel.
//! It finds the entry a question is about and decides between answering, offering choices,
//! saying it does not know, and handing over to a person. It quotes the catalogue and never
//! invents; it knows no channel, no HTTP and no database.

mod compose;
pub mod intent;

/// A service's name in a language (the English name where the catalogue has one).
pub(crate) use compose::entry_name;
pub use intent::{Aspect, HandoffReason};

use std::sync::Arc;

use arc_swap::ArcSwap;
use serde::{Deserialize, Serialize};

use crate::knowledge::{Catalogue, Entry, EntryId};
use crate::language::{self, Lang};
use crate::search::{Analysis, Hit, SearchError, SearchIndex};
use crate::semantic::Vectors;

/// What the bot did with a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// One entry, quoted, with its source.
    Answer,
    /// Two or three entries offered as choices.
    Clarify,
    /// Nothing in the catalogue fits; a person is offered.
    DontKnow,
    /// The conversation goes (or has gone) to a person.
    Handoff,
    /// Greetings, thanks, goodbye, "who are you".
    Smalltalk,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Answer => "answer",
            Outcome::Clarify => "clarify",
            Outcome::DontKnow => "dont_know",
            Outcome::Handoff => "handoff",
            Outcome::Smalltalk => "smalltalk",
        }
    }
}

/// A citizen's message as every channel delivers it to the core.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Inbound {
    pub text: String,
    /// The language the channel knows the citizen uses; guessed from the text when absent.
    pub lang: Option<Lang>,
    /// A choice the citizen picked from a clarify reply (a button, a numbered option).
    pub choice: Option<EntryId>,
}

impl Inbound {
    pub fn text(text: impl Into<String>) -> Inbound {
        Inbound {
            text: text.into(),
            ..Default::default()
        }
    }
}

/// An entry a reply refers to, with the links a channel shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EntryRef {
    #[schema(value_type = String)]
    pub id: EntryId,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub booking: Option<String>,
}

impl EntryRef {
    fn of(e: &Entry, lang: Lang) -> EntryRef {
        EntryRef {
            id: e.id.clone(),
            name: compose::entry_name(e, lang),
            source: e.links.source.clone(),
            booking: e.links.booking.clone(),
        }
    }
}

/// The core's reply. `text` is complete plain text; the other fields let rich channels
/// show links and choices as buttons.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Reply {
    pub outcome: Outcome,
    pub text: String,
    #[schema(value_type = String)]
    pub lang: Lang,
    /// The answered entry, or the choices in order.
    pub entries: Vec<EntryRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aspect: Option<Aspect>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub handoff: Option<HandoffReason>,
    /// Whether the channel should offer a "talk to a person" action with this reply.
    pub offer_handoff: bool,
    /// True when a person has the conversation: the bot says nothing.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub silent: bool,
}

/// What the core remembers of a conversation between messages.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Context {
    /// The entry answered last, for follow-ups such as "und was kostet das?".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_entry: Option<EntryId>,
    /// The choices offered last, for "2" or a button.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<EntryId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<Lang>,
    /// A person has the conversation: the bot stays silent.
    #[serde(default)]
    pub with_staff: bool,
}

/// The confidence bars. Coverage is the share of a question's meaning found in an entry;
/// scores are BM25F divided by the catalogue's largest term weight, so the bars mean the
/// same for a town of 40 entries and a city of thousands.
#[derive(Debug, Clone, Copy)]
pub struct Confidence {
    /// The best entry is answered from this coverage …
    pub answer_coverage: f32,
    /// … and this score (or this strength, the score relative to the question's own
    /// weight, which carries small catalogues where every term is common) …
    pub answer_score: f32,
    pub answer_strength: f32,
    /// … and the entry's name or keywords must name some of what was asked …
    pub answer_title_coverage: f32,
    /// … or its text hold this much of it, with the answer strength …
    pub answer_whole_coverage: f32,
    /// … unless a second entry comes this close in score (ratio to the best).
    pub ambiguous_ratio: f32,
    /// Below the answer bars, the closest entries are offered as choices from this score
    /// (or strength) …
    pub clarify_score: f32,
    pub clarify_strength: f32,
    /// … or, with an embedding service, this similarity in meaning …
    pub clarify_similarity: f32,
    /// With an embedding service, the best entry is also answered when it is best both by
    /// words and by meaning, with this similarity and this coverage.
    pub agree_similarity: f32,
    pub agree_coverage: f32,
    /// … and this coverage; below both the bot says it does not know.
    pub clarify_coverage: f32,
}

impl Default for Confidence {
    fn default() -> Self {
        Confidence {
            answer_coverage: 0.35,
            answer_score: 1.2,
            answer_strength: 1.6,
            answer_title_coverage: 0.1,
            answer_whole_coverage: 0.9,
            ambiguous_ratio: 0.8,
            clarify_score: 0.95,
            clarify_strength: 1.3,
            clarify_similarity: 0.88,
            agree_similarity: 0.88,
            agree_coverage: 0.4,
            clarify_coverage: 0.4,
        }
    }
}

/// A published catalogue with its search index.
pub struct Knowledge {
    pub catalogue: Catalogue,
    pub index: SearchIndex,
    /// The entries' embeddings, where an embedding service is configured.
    pub vectors: Option<Vectors>,
    /// For each entry, the other entries that are the same service in another form
    /// ([`variants`]), found once when the catalogue is published.
    forms: Vec<Vec<usize>>,
    /// For each entry, the entries that are a special case of it: its name with a qualifier
    /// ("Wohnsitzanmeldung – Familie" of "Wohnsitzanmeldung", "Verlust oder Diebstahl
    /// Reisepass" of "Reisepass", [`narrows`]), not another form of it.
    special: Vec<Vec<usize>>,
}

impl Knowledge {
    pub fn build(catalogue: Catalogue) -> Result<Knowledge, SearchError> {
        let index = SearchIndex::build(&catalogue)?;
        Ok(Knowledge::new(catalogue, index))
    }

    /// The knowledge of a catalogue and its index, without embeddings.
    pub fn new(catalogue: Catalogue, index: SearchIndex) -> Knowledge {
        let names: Vec<&str> = catalogue.entries.iter().map(|e| e.name.as_str()).collect();
        let forms = names
            .iter()
            .map(|a| {
                (0..names.len())
                    .filter(|&j| variants(a, names[j]))
                    .collect()
            })
            .collect();
        let special = (0..names.len())
            .map(|i| {
                (0..names.len())
                    .filter(|&j| {
                        j != i && narrows(names[j], names[i]) && !variants(names[i], names[j])
                    })
                    .collect()
            })
            .collect();
        Knowledge {
            catalogue,
            index,
            vectors: None,
            forms,
            special,
        }
    }
}

/// The dialogue core. Cheap to share; the knowledge can be replaced while it serves.
pub struct Dialogue {
    knowledge: ArcSwap<Knowledge>,
    confidence: Confidence,
}

/// What the core found for a message, before it is put into words; used by the evaluation
/// and by the unanswered-questions list.
#[derive(Debug, Clone)]
pub struct Decision {
    pub reply: Reply,
    pub context: Context,
    /// Candidates considered, best first.
    pub candidates: Vec<Candidate>,
}

/// A search candidate with the figures the confidence decision read.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub id: EntryId,
    pub score: f32,
    pub lexical: f32,
    pub coverage: f32,
    pub title_coverage: f32,
    pub specificity: f32,
    pub strength: f32,
    pub similarity: f32,
}

impl Dialogue {
    pub fn new(knowledge: Knowledge, confidence: Confidence) -> Dialogue {
        Dialogue {
            knowledge: ArcSwap::from_pointee(knowledge),
            confidence,
        }
    }

    /// Replaces the published knowledge; conversations in progress go on with the new one.
    pub fn publish(&self, knowledge: Knowledge) {
        self.knowledge.store(Arc::new(knowledge));
    }

    pub fn knowledge(&self) -> Arc<Knowledge> {
        self.knowledge.load_full()
    }

    /// The reply to a message in a conversation, and the conversation's new context.
    pub fn respond(&self, context: &Context, message: &Inbound) -> Decision {
        self.respond_with(context, message, None)
    }

    /// The entry with this id as a reply refers to it (name in the language, links).
    pub fn entry_ref(&self, id: &str, lang: Lang) -> Option<EntryRef> {
        let id: EntryId = id.parse().ok()?;
        self.knowledge
            .load()
            .catalogue
            .entry(&id)
            .map(|e| EntryRef::of(e, lang))
    }

    /// The reply to a citizen's explicit request for a person (a button, a command).
    pub fn handoff_reply(&self, reason: HandoffReason, lang: Lang) -> Reply {
        compose::handoff(reason, lang)
    }

    /// As [`Dialogue::respond`], with the message's embedding from the configured embedding
    /// service (the core itself does no I/O).
    pub fn respond_with(
        &self,
        context: &Context,
        message: &Inbound,
        query_vector: Option<&[f32]>,
    ) -> Decision {
        let kb = self.knowledge.load();
        let text = message.text.trim();
        let lang = message.lang.unwrap_or_else(|| {
            if language::words(text).len() >= 2 {
                language::detect(text)
            } else {
                context.lang.unwrap_or(Lang::De)
            }
        });
        let mut next = Context {
            lang: Some(lang),
            ..context.clone()
        };
        let done = |reply: Reply, next: Context, candidates| Decision {
            reply,
            context: next,
            candidates,
        };

        if context.with_staff {
            return done(compose::silent(lang), next, Vec::new());
        }
        // A choice from the last clarify reply: a button, or its number.
        let picked = message.choice.clone().or_else(|| {
            let n: usize = text.trim_end_matches(['.', ')']).parse().ok()?;
            context.choices.get(n.checked_sub(1)?).cloned()
        });
        if let Some(id) = picked
            && let Some(entry) = kb.catalogue.entry(&id)
        {
            next.last_entry = Some(id);
            next.choices.clear();
            let reply = compose::answer(&kb.catalogue, entry, &[], &[], Aspect::Summary, lang);
            return done(reply, next, Vec::new());
        }
        if let Some(reason) = intent::handoff(text) {
            next.choices.clear();
            return done(compose::handoff(reason, lang), next, Vec::new());
        }
        if let Some(kind) = intent::small_talk(text) {
            return done(compose::small_talk(kind, lang), next, Vec::new());
        }

        let mut analysis = kb.index.analyse(text, lang);
        // Aspect words ("Kosten", "Adresse") leave the search, unless nothing else is asked.
        // A misspelt aspect word ("Vorraussetzungen") is one too, by the word it was read as.
        let means_aspect =
            |c: &crate::search::Concept| c.phrase.iter().any(|t| intent::is_aspect_term(t));
        let names_aspect = |c: &crate::search::Concept| {
            // A phrase names an aspect when both its first word and what it means do
            // ("opening times" → Öffnungszeiten), not when only its word does ("address
            // registration" → Wohnsitzanmeldung).
            if !c.phrase.is_empty() {
                return c.word.split(' ').next().is_some_and(intent::is_aspect_word)
                    && means_aspect(c);
            }
            intent::is_aspect_word(&c.word)
                || c.terms
                    .iter()
                    .any(|(t, w)| *w >= 1.0 && intent::is_aspect_term(t))
        };
        let topical = |c: &crate::search::Concept| c.known && !names_aspect(c);
        let has_topic = analysis.concepts.iter().any(topical);
        // The aspect asked for, in the words outside the phrases that name a topic: "address
        // registration" asks for the registration, not for an address; "the address for my
        // address registration" asks for the address.
        let topical_phrases: Vec<Vec<&str>> = analysis
            .concepts
            .iter()
            .filter(|c| !c.phrase.is_empty() && !means_aspect(c))
            .map(|c| c.word.split(' ').collect())
            .collect();
        let aspect = if topical_phrases.is_empty() {
            intent::aspect(text)
        } else {
            let mut rest = language::words(text);
            for phrase in &topical_phrases {
                if let Some(at) = rest
                    .windows(phrase.len())
                    .position(|w| w.iter().map(String::as_str).eq(phrase.iter().copied()))
                {
                    rest.drain(at..at + phrase.len());
                }
            }
            intent::aspect(&rest.join(" "))
        };

        // A follow-up on the entry just answered: an aspect and no topic of its own.
        if !has_topic
            && aspect != Aspect::Summary
            && let Some(entry) = context
                .last_entry
                .as_ref()
                .and_then(|id| kb.catalogue.entry(id))
        {
            return done(
                compose::answer(&kb.catalogue, entry, &[], &[], aspect, lang),
                next,
                Vec::new(),
            );
        }
        if has_topic {
            analysis.concepts.retain(|c| !names_aspect(c));
        }
        let semantic = match (&kb.vectors, query_vector) {
            (Some(v), Some(q)) => Some((v, q)),
            _ => None,
        };
        // A message without a single word ("....", "😂") is searched neither by words nor
        // by meaning: an embedding finds something near anything.
        if analysis.concepts.is_empty() || (analysis.known_weight() == 0.0 && semantic.is_none()) {
            next.choices.clear();
            return done(compose::dont_know(lang), next, Vec::new());
        }

        let mut hits = match kb.index.search(&analysis, semantic) {
            Ok(h) => h,
            Err(e) => {
                tracing::error!(error = %e, "search failed");
                Vec::new()
            }
        };
        self.order(&mut hits, &analysis, &kb);
        let candidates: Vec<Candidate> = hits
            .iter()
            .map(|h| Candidate {
                id: kb.index.entry_id(h.entry).clone(),
                score: h.score,
                lexical: h.lexical,
                coverage: h.coverage,
                title_coverage: h.title_coverage,
                specificity: h.specificity,
                strength: h.strength,
                similarity: h.similarity,
            })
            .collect();
        match self.decide(&hits, &analysis, &kb) {
            Choice::Answer(i) => {
                let entry = &kb.catalogue.entries[hits[i].entry];
                next.last_entry = Some(entry.id.clone());
                next.choices.clear();
                // The same service in its other forms, wherever the search ranked them.
                let variants: Vec<&Entry> = kb.forms[hits[i].entry]
                    .iter()
                    .map(|&j| &kb.catalogue.entries[j])
                    .collect();
                // Its special cases that came close, which the question did not speak of.
                let special: Vec<&Entry> = hits
                    .iter()
                    .take(3)
                    .filter(|h| kb.special[hits[i].entry].contains(&h.entry))
                    .map(|h| &kb.catalogue.entries[h.entry])
                    .collect();
                done(
                    compose::answer(&kb.catalogue, entry, &variants, &special, aspect, lang),
                    next,
                    candidates,
                )
            }
            Choice::Clarify(list) => {
                let entries: Vec<&Entry> = list
                    .iter()
                    .map(|&i| &kb.catalogue.entries[hits[i].entry])
                    .collect();
                next.choices = entries.iter().map(|e| e.id.clone()).collect();
                done(compose::clarify(&entries, lang), next, candidates)
            }
            Choice::DontKnow => {
                next.choices.clear();
                done(compose::dont_know(lang), next, candidates)
            }
        }
    }

    /// Puts first, among the first three hits, the entry the question means where the search
    /// ranked another a little higher: the plain service, when the best hit is a special case
    /// of it that the question says nothing special of and it names the plain service in full
    /// or finds it as close; else an entry whose name the question says in full, where the
    /// best hit's name it hardly says, when it is as close, covers as much of the question and
    /// the question says a word of its name that the best hit's name lacks ("emergency
    /// passport": "Vorläufiger Reisepass", not "Notfall-Hilfe Aufenthaltstitel"; but "Mein
    /// Perso ist weg" keeps "Personalausweis oder Reisepass verloren" before "Personalausweis
    /// beantragen", whose name says nothing the other's lacks).
    fn order(&self, hits: &mut Vec<Hit>, analysis: &Analysis, kb: &Knowledge) {
        let Some(best) = hits.first().cloned() else {
            return;
        };
        let close = |h: &Hit| h.score >= best.score * self.confidence.ambiguous_ratio;
        let plain = |h: &Hit| {
            (named_in_full(h) || close(h))
                && kb.special[h.entry].contains(&best.entry)
                && !kb.index.asks_beyond(analysis, best.entry, h.entry)
        };
        let named = |h: &Hit| {
            best.specificity + SPECIFICITY_MARGIN < NAMED_SPECIFICITY
                && named_in_full(h)
                && close(h)
                && h.coverage >= best.coverage
                && kb.index.asks_beyond(analysis, h.entry, best.entry)
        };
        let first = (1..hits.len().min(3))
            .find(|&i| plain(&hits[i]))
            .or_else(|| (1..hits.len().min(3)).find(|&i| named(&hits[i])));
        if let Some(i) = first {
            let h = hits.remove(i);
            hits.insert(0, h);
        }
    }

    /// `kb` tells each entry's other forms and special cases (see [`Knowledge`]).
    fn decide(&self, hits: &[Hit], analysis: &Analysis, kb: &Knowledge) -> Choice {
        let c = self.confidence;
        let Some(best) = hits.first() else {
            return Choice::DontKnow;
        };
        // The question says nothing of what makes a special case of the best entry special
        // ("Wohnsitzanmeldung", not "… – Familie"): the plain service is meant, and the answer
        // names the special case. The other way round, the best entry is a special case of
        // another and the question speaks of what makes it special ("Reisepass verloren":
        // "Verlust oder Diebstahl Reisepass", not "Reisepass").
        let unasked_case = |h: &Hit| {
            kb.special[best.entry].contains(&h.entry)
                && !kb.index.asks_beyond(analysis, h.entry, best.entry)
        };
        let asked_case = |h: &Hit| {
            kb.special[h.entry].contains(&best.entry)
                && kb.index.asks_beyond(analysis, best.entry, h.entry)
        };
        let close = |i: usize| {
            let h = &hits[i];
            // A close second that explains less of its own name is a variant, not a rival;
            // so is one whose name the question does not say in full where it says the best
            // entry's, unless it finds more of the question; so is the same service in another
            // form ("… (Telefon-Termin)"), which the answer names; so is a special case the
            // question does not speak of, and the plain service when the question speaks of
            // the special case.
            h.score >= best.score * c.ambiguous_ratio
                && h.specificity + SPECIFICITY_MARGIN > best.specificity
                && !(named_in_full(best) && !named_in_full(h) && h.coverage <= best.coverage)
                && !kb.forms[best.entry].contains(&h.entry)
                && !unasked_case(h)
                && !asked_case(h)
        };
        // An entry the question names in full needs less score to be answered: a short
        // question of one compound ("Ausbildungsduldung") weighs little.
        let answerable = best.lexical >= c.answer_score
            || best.strength >= c.answer_strength
            || (named_in_full(best) && best.lexical >= c.clarify_score);
        // The entry's name says something of the question, or its text holds all of it.
        let about = best.title_coverage >= c.answer_title_coverage
            || (best.coverage >= c.answer_whole_coverage && best.strength >= c.answer_strength);
        if best.coverage >= c.answer_coverage && about && answerable {
            let rivals: Vec<usize> = (1..hits.len().min(3)).filter(|&i| close(i)).collect();
            if rivals.is_empty() {
                return Choice::Answer(0);
            }
            return Choice::Clarify(std::iter::once(0).chain(rivals).collect());
        }
        // The question names the entry in full and nothing else comes close: answer it, even
        // when the question says much else besides.
        let named = named_in_full(best)
            && best.lexical >= c.answer_score
            && hits
                .get(1)
                .is_none_or(|h| h.score <= best.score * NAMED_RATIO);
        if named {
            return Choice::Answer(0);
        }
        // Words and meaning agree: the best entry by words alone is also the closest in
        // meaning, and close enough.
        let lexical_best = hits.iter().all(|h| h.lexical <= best.lexical);
        let semantic_best = hits.iter().all(|h| h.similarity <= best.similarity);
        if lexical_best
            && semantic_best
            && best.similarity >= c.agree_similarity
            && best.coverage >= c.agree_coverage
        {
            return Choice::Answer(0);
        }
        // Worth offering: the best entry, or one that comes as close to the question as the
        // best does (which of two near-equal entries is first should not decide whether
        // the bot knows something).
        let plausible = |h: &Hit| {
            h.coverage >= c.clarify_coverage
                && (h.lexical >= c.clarify_score || h.strength >= c.clarify_strength)
        };
        let similar = best.similarity >= c.clarify_similarity;
        if hits
            .iter()
            .take(3)
            .any(|h| h.score >= best.score * c.ambiguous_ratio && plausible(h))
            || similar
        {
            let choices = (0..hits.len().min(3))
                .filter(|&i| hits[i].score >= best.score * CHOICE_RATIO)
                .collect();
            return Choice::Clarify(choices);
        }
        Choice::DontKnow
    }
}

/// Whether two entry names are the same service in different forms: equal but for their
/// numbers ("Beglaubigung von bis zu 5 Dokumenten", "… bis zu 20 …"), equal but for a
/// qualifier at the end, in brackets ("Altersrente (Vor-Ort-Termin)", "Altersrente
/// (Telefon-Termin)"; "… Geduldete", "… Geduldete (§ 19d AufenthG)"), or one with and one
/// without the same thing ("Eheschließung ohne Auslandsbezug", "Eheschließung mit
/// Auslandsbezug"). A plain name and one with something ("Kurzzeitkennzeichen", "… mit
/// ausländischen Fahrzeugdokumenten") are not: the question may speak of that something.
fn variants(a: &str, b: &str) -> bool {
    /// "X mit Y" → (X, true, Y); "X ohne Y" → (X, false, Y).
    fn with_or_without(name: &str) -> Option<(&str, bool, &str)> {
        [
            (" mit ", true),
            (" ohne ", false),
            (" with ", true),
            (" without ", false),
        ]
        .iter()
        .filter_map(|&(word, with)| name.find(word).map(|at| (at, word, with)))
        .min_by_key(|&(at, _, _)| at)
        .map(|(at, word, with)| (name[..at].trim_end(), with, name[at + word.len()..].trim()))
    }
    /// The name with each number in it replaced by `#`, when it has one. Not for a name that
    /// cites a law: "§ 16a" and "§ 16b" are different services.
    fn without_numbers(name: &str) -> Option<String> {
        if name.contains('§') {
            return None;
        }
        let mut out = String::with_capacity(name.len());
        let mut numbers = 0;
        for c in name.trim().chars() {
            if !c.is_ascii_digit() {
                out.push(c);
            } else if !out.ends_with('#') {
                out.push('#');
                numbers += 1;
            }
        }
        (numbers > 0).then_some(out)
    }
    if a == b {
        return false;
    }
    if let (Some(na), Some(nb)) = (without_numbers(a), without_numbers(b))
        && na == nb
    {
        return true;
    }
    let (ba, bb) = (language::unbracketed(a), language::unbracketed(b));
    if !ba.is_empty() && ba == bb {
        return true;
    }
    match (with_or_without(a.trim()), with_or_without(b.trim())) {
        (Some((xa, wa, ya)), Some((xb, wb, yb))) => {
            !xa.is_empty() && xa == xb && wa != wb && ya == yb
        }
        _ => false,
    }
}

/// Whether `name` is a special case of `general`: the general name's words, in their order,
/// with a qualifier before or after them ("Wohnsitzanmeldung – Familie", "Parkausweis für
/// Härtefalle", "Verlust oder Diebstahl Reisepass" of "Reisepass"; not
/// "Parkausweisverlängerung"). Function words do not count, nor does a bracketed qualifier
/// of the general name ("Verlust oder Diebstahl eID-Karte" of "eID-Karte (EU/EWR)").
fn narrows(name: &str, general: &str) -> bool {
    let content = |text: &str| -> Vec<String> {
        language::words(text)
            .into_iter()
            .filter(|w| !language::is_stopword(w))
            .collect()
    };
    let (name, general) = (content(name), content(language::unbracketed(general)));
    !general.is_empty()
        && name.len() > general.len()
        && name.windows(general.len()).any(|w| w == general.as_slice())
}

/// An entry counts as named in full when the question explains this much of its name.
const NAMED_SPECIFICITY: f32 = 0.99;

/// Whether the question says the hit's name in full.
fn named_in_full(h: &Hit) -> bool {
    h.specificity >= NAMED_SPECIFICITY
}

/// How far ahead an entry named in full must be to be answered on its name alone.
const NAMED_RATIO: f32 = 0.75;

/// Choices offered when unsure: entries at least this close to the best.
const CHOICE_RATIO: f32 = 0.5;

/// How much more of its name the best entry must explain to beat a close second outright.
const SPECIFICITY_MARGIN: f32 = 0.4;

#[derive(Debug, PartialEq)]
enum Choice {
    Answer(usize),
    Clarify(Vec<usize>),
    DontKnow,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knowledge::files::test_entry as entry;

    /// A dialogue over `entries` and a few unrelated ones, so that words weigh as in a city's
    /// catalogue.
    fn dialogue(mut entries: Vec<Entry>) -> Dialogue {
        for (id, name, text) in [
            (
                "hund",
                "Hundesteuer",
                "Wer einen Hund hält, zahlt Hundesteuer.",
            ),
            (
                "pass",
                "Reisepass",
                "Den Reisepass beantragen Sie im Bürgerbüro.",
            ),
            (
                "gewerbe",
                "Gewerbe-Anmeldung",
                "Ein Gewerbe melden Sie beim Gewerbeamt an.",
            ),
            (
                "fisch",
                "Fischereischein",
                "Zum Angeln brauchen Sie einen Fischereischein.",
            ),
            (
                "wohnen",
                "Wohnsitzanmeldung",
                "Nach dem Umzug melden Sie Ihre Wohnung an.",
            ),
            (
                "kfz",
                "Fahrzeug abmelden",
                "Ein Fahrzeug melden Sie bei der Zulassungsstelle ab.",
            ),
        ] {
            entries.push(entry(id, name, text));
        }
        let catalogue = Catalogue {
            entries,
            ..Catalogue::default()
        };
        let index = SearchIndex::build_with(&catalogue, None).unwrap();
        Dialogue::new(Knowledge::new(catalogue, index), Confidence::default())
    }

    /// The reply to the first message of a conversation.
    fn first_reply(d: &Dialogue, text: &str) -> Reply {
        d.respond(&Context::default(), &Inbound::text(text)).reply
    }

    #[test]
    fn names_that_differ_only_in_a_bracketed_qualifier_are_variants() {
        assert!(variants(
            "Altersrente (Vor-Ort-Termin)",
            "Altersrente (Telefon-Termin)"
        ));
        assert!(variants(
            "Aufenthaltserlaubnis – Qualifizierte Geduldete",
            "Aufenthaltserlaubnis – Qualifizierte Geduldete (§ 19d AufenthG)"
        ));
        assert!(!variants("Altersrente", "Altersrente"));
        assert!(!variants(
            "Umschreibung Fahrzeug – innerhalb Münchens",
            "Umschreibung Fahrzeug – von außerhalb nach München"
        ));
        assert!(!variants("(Telefon-Termin)", "(Vor-Ort-Termin)"));
    }

    #[test]
    fn names_that_differ_only_in_their_numbers_are_variants_unless_they_cite_a_law() {
        assert!(variants(
            "Beglaubigung von bis zu 5 Dokumenten",
            "Beglaubigung von bis zu 20 Dokumenten"
        ));
        assert!(variants("Shortlane 15 min", "Shortlane 45 min"));
        assert!(!variants(
            "Aufenthaltserlaubnis nach § 18 AufenthG",
            "Aufenthaltserlaubnis nach § 19 AufenthG"
        ));
        assert!(!variants(
            "Beglaubigung von bis zu 5 Dokumenten",
            "Beglaubigung"
        ));
        assert!(!variants(
            "Beglaubigung von bis zu 5 Dokumenten",
            "Beglaubigung von bis zu 5 Dokumenten"
        ));
    }

    #[test]
    fn names_that_differ_only_in_with_or_without_the_same_thing_are_variants() {
        assert!(variants(
            "Anmeldung einer Eheschließung ohne Auslandsbezug",
            "Anmeldung einer Eheschließung mit Auslandsbezug"
        ));
        // The plain service and one for a special case are not: the question may speak of
        // the special case.
        assert!(!variants(
            "Kurzzeitkennzeichen",
            "Kurzzeitkennzeichen mit ausländischen Fahrzeugdokumenten"
        ));
        // Another service that is also about a marriage abroad is no variant.
        assert!(!variants(
            "Anmeldung einer Eheschließung mit Auslandsbezug",
            "Erstauskunft zur Eheschließung mit Auslandsbezug"
        ));
    }

    #[test]
    fn the_same_service_in_two_forms_is_answered_and_the_other_form_named() {
        let text = "Die Altersrente beantragen Sie beim Versicherungsamt. Bringen Sie Ihre Rentenversicherungsnummer mit.";
        let d = dialogue(vec![
            entry("vor-ort", "Altersrente (Vor-Ort-Termin)", text),
            entry("telefon", "Altersrente (Telefon-Termin)", text),
            entry(
                "waffe",
                "Waffenbesitzkarte",
                "Für den Besitz einer Schusswaffe.",
            ),
        ]);
        let reply = first_reply(&d, "Wie beantrage ich meine Altersrente?");
        assert_eq!(reply.outcome, Outcome::Answer, "{}", reply.text);
        let answered = reply.entries[0].id.as_str();
        let other = if answered == "vor-ort" {
            "Altersrente (Telefon-Termin)"
        } else {
            "Altersrente (Vor-Ort-Termin)"
        };
        assert!(
            reply
                .text
                .contains(&format!("Diesen Dienst gibt es auch als „{other}“.")),
            "{}",
            reply.text
        );
    }

    #[test]
    fn a_name_with_a_qualifier_narrows_the_plain_name() {
        assert!(narrows("Wohnsitzanmeldung – Familie", "Wohnsitzanmeldung"));
        assert!(narrows("Parkausweis für Härtefalle", "parkausweis"));
        assert!(!narrows("Parkausweisverlängerung", "Parkausweis"));
        assert!(!narrows("Parkausweis", "Parkausweis"));
        assert!(!narrows("Parkausweis – ", "Parkausweis"));
        assert!(!narrows("Parkausweis", "Parkausweis für Härtefalle"));
        // The qualifier may come first; function words and the general name's bracketed
        // qualifier do not count.
        assert!(narrows(
            "Verlust oder Diebstahl eID-Karte",
            "eID-Karte (EU/EWR)"
        ));
        assert!(narrows(
            "Einschalten der eID-Funktion oder Änderung der PIN – Elektronischer Aufenthaltstitel",
            "Einschalten eID-Funktion oder Änderung der PIN"
        ));
        assert!(!narrows("Reisepass beantragen", "Personalausweis"));
        assert!(!narrows("Kinderreisepass", "Reisepass"));
    }

    #[test]
    fn another_form_of_a_service_is_no_special_case_of_it() {
        let d = dialogue(vec![
            entry(
                "vor-ort",
                "Altersrente (Vor-Ort-Termin)",
                "Beratung im Büro.",
            ),
            entry(
                "telefon",
                "Altersrente (Telefon-Termin)",
                "Beratung am Telefon.",
            ),
        ]);
        let kb = d.knowledge();
        let at = |id: &str| {
            kb.catalogue
                .entries
                .iter()
                .position(|e| e.id.as_str() == id)
                .unwrap()
        };
        assert!(narrows(
            "Altersrente (Telefon-Termin)",
            "Altersrente (Vor-Ort-Termin)"
        ));
        assert_eq!(kb.forms[at("vor-ort")], [at("telefon")]);
        assert!(kb.special[at("vor-ort")].is_empty());
    }

    #[test]
    fn a_special_case_the_question_does_not_speak_of_is_named_not_offered() {
        let d = dialogue(vec![
            entry(
                "familie",
                "Wohnsitzanmeldung – Familie",
                "Zur Wohnsitzanmeldung einer Familie kommen alle gemeinsam.",
            ),
            entry(
                "kindergeld",
                "Kindergeld",
                "Jede Familie mit Kindern erhält Kindergeld.",
            ),
            entry(
                "familienpass",
                "Familienpass",
                "Der Familienpass bringt jeder Familie Rabatte.",
            ),
            entry(
                "elterngeld",
                "Elterngeld",
                "Elterngeld hilft der Familie im ersten Jahr.",
            ),
        ]);
        let reply = first_reply(&d, "Wie mache ich meine Wohnsitzanmeldung?");
        assert_eq!(reply.outcome, Outcome::Answer, "{}", reply.text);
        assert_eq!(reply.entries[0].id.as_str(), "wohnen");
        assert!(
            reply
                .text
                .contains("Für einen besonderen Fall gibt es „Wohnsitzanmeldung – Familie“."),
            "{}",
            reply.text
        );
        // A question that speaks of the special case is not answered with the plain service.
        let reply = first_reply(&d, "Wohnsitzanmeldung für die ganze Familie");
        assert!(
            reply.entries.iter().any(|e| e.id.as_str() == "familie"),
            "{:?} {}",
            reply.outcome,
            reply.text
        );
    }

    #[test]
    fn a_special_case_goes_first_only_where_the_question_speaks_of_it() {
        let d = dialogue(vec![
            entry(
                "verlust",
                "Verlust oder Diebstahl Reisepass",
                "Melden Sie es sofort.",
            ),
            entry(
                "fund",
                "Fundsache abholen",
                "Nach einem Verlust fragen Sie im Fundbüro.",
            ),
            entry(
                "ausweis",
                "Personalausweis",
                "Nach einem Verlust beantragen Sie einen neuen Ausweis.",
            ),
            entry(
                "ermaessigung",
                "Hundesteuer – Ermäßigung",
                "Wer einen Hund aus dem Tierheim holt, zahlt im ersten Jahr keine \
                 Hundesteuer für diesen Hund.",
            ),
        ]);
        let reply = first_reply(&d, "Verlust meines Reisepasses");
        assert_eq!(reply.outcome, Outcome::Answer, "{}", reply.text);
        assert_eq!(reply.entries[0].id.as_str(), "verlust");
        // A question that says nothing of what makes a special case special is about the
        // plain service, even where the special case's text says the question's words more
        // often; the answer names the special case.
        let reply = first_reply(&d, "Hundesteuer für meinen Hund im ersten Jahr");
        assert_eq!(reply.outcome, Outcome::Answer, "{}", reply.text);
        assert_eq!(reply.entries[0].id.as_str(), "hund");
        assert!(
            reply.text.contains("„Hundesteuer – Ermäßigung“"),
            "{}",
            reply.text
        );
    }

    #[test]
    fn a_question_is_offered_choices_when_a_close_second_covers_it() {
        let d = dialogue(vec![
            entry(
                "vater",
                "Vaterschaftsanerkennung",
                "Die Vaterschaft erkennen Sie beim Standesamt an.",
            ),
            entry(
                "geburt",
                "Geburtsurkunde",
                "Nach der Geburt im Krankenhaus stellt das Standesamt die Urkunde aus; \
                 Eltern mit Baby bringen den Ausweis mit.",
            ),
        ]);
        let q = "Vaterschaftsanerkennung Krankenhaus Eltern Zwillinge Oktober Hebamme";
        // The name's entry is first, but the question is mostly about the other one.
        let reply = first_reply(&d, q);
        assert_eq!(reply.outcome, Outcome::Clarify, "{}", reply.text);
        let offered: Vec<&str> = reply.entries.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(offered, ["vater", "geburt"]);
    }

    #[test]
    fn a_special_case_as_close_as_the_plain_service_goes_after_it() {
        let d = dialogue(vec![
            entry(
                "melden",
                "Anmeldung",
                "Bringen Sie die Wohnungsgeberbestätigung mit.",
            ),
            entry(
                "familie",
                "Anmeldung – Familie",
                "Bringen Sie die Wohnungsgeberbestätigung und die Wohnungsgeberbestätigung \
                 für jedes Kind mit.",
            ),
        ]);
        let found = d
            .respond(
                &Context::default(),
                &Inbound::text("Wohnungsgeberbestätigung"),
            )
            .candidates;
        let ids: Vec<&str> = found.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids[..2], ["melden", "familie"], "{found:?}");
        assert!(found[1].score > found[0].score);
    }

    /// A hit on the `entry`-th entry of [`dialogue`]'s catalogue, its score all by words.
    fn hit(entry: usize, score: f32, coverage: f32, title_coverage: f32, specificity: f32) -> Hit {
        Hit {
            entry,
            score,
            lexical: score,
            coverage,
            title_coverage,
            strength: score / 2.0,
            specificity,
            similarity: 0.0,
        }
    }

    /// What the core decides for `hits` found for `question`, in the order it puts them.
    fn decided_for(d: &Dialogue, question: &str, mut hits: Vec<Hit>) -> (Choice, Vec<usize>) {
        let kb = d.knowledge();
        let analysis = kb.index.analyse(question, Lang::De);
        d.order(&mut hits, &analysis, &kb);
        let choice = d.decide(&hits, &analysis, &kb);
        (choice, hits.iter().map(|h| h.entry).collect())
    }

    /// What the core decides for `hits` found for "Reisepass".
    fn decided(d: &Dialogue, hits: Vec<Hit>) -> (Choice, Vec<usize>) {
        decided_for(d, "Reisepass", hits)
    }

    #[test]
    fn the_entry_named_in_full_is_answered_over_a_close_one_named_in_part() {
        let d = dialogue(Vec::new());
        // "Umschreibung EU-Führerschein": "Umschreibung EU/EWR-Führerschein" in full,
        // "Umschreibung eines ausländischen Führerscheins" in part.
        let hits = vec![hit(0, 3.7, 1.0, 1.0, 1.0), hit(1, 3.6, 1.0, 1.0, 0.79)];
        assert_eq!(decided(&d, hits).0, Choice::Answer(0));
        // Unless the one named in part finds more of the question.
        let hits = vec![hit(0, 3.7, 0.8, 0.8, 1.0), hit(1, 3.6, 1.0, 1.0, 0.79)];
        assert_eq!(decided(&d, hits).0, Choice::Clarify(vec![0, 1]));
    }

    #[test]
    fn an_entry_named_in_full_goes_before_a_close_one_whose_name_is_hardly_said() {
        let d = dialogue(Vec::new());
        // "emergency passport": "Vorläufiger Reisepass" (1), not "Notfall-Hilfe
        // Aufenthaltstitel – Studierende, …" (0).
        let hits = vec![hit(0, 2.95, 0.75, 0.75, 0.16), hit(1, 2.8, 0.75, 0.55, 1.0)];
        let (choice, order) = decided(&d, hits);
        assert_eq!(order, [1, 0]);
        assert_eq!(choice, Choice::Answer(0));
        // Not when it covers less of the question, nor when it is not as close.
        let hits = vec![hit(0, 2.95, 0.75, 0.75, 0.16), hit(1, 2.8, 0.6, 0.55, 1.0)];
        assert_eq!(decided(&d, hits).1, [0, 1]);
        let hits = vec![hit(0, 2.95, 0.75, 0.75, 0.16), hit(1, 2.2, 0.75, 0.55, 1.0)];
        assert_eq!(decided(&d, hits).1, [0, 1]);
        // Nor when the question says no word of its name that the best hit's name lacks.
        let d = dialogue(vec![
            entry(
                "antrag",
                "Reisepass beantragen",
                "Den Reisepass beantragen Sie hier.",
            ),
            entry(
                "verlust",
                "Personalausweis oder Reisepass verloren",
                "Melden Sie den Verlust.",
            ),
        ]);
        let hits = vec![hit(1, 2.95, 1.0, 1.0, 0.3), hit(0, 2.8, 1.0, 1.0, 1.0)];
        let (choice, order) = decided_for(&d, "Mein Reisepass ist weg", hits);
        assert_eq!(order, [1, 0]);
        assert_eq!(choice, Choice::Clarify(vec![0, 1]));
    }

    #[test]
    fn a_short_question_that_names_an_entry_in_full_is_answered_on_a_lower_score() {
        let d = dialogue(Vec::new());
        // "Was ist eine Ausbildungsduldung?": "Duldung – Ausbildung", by the compound's parts.
        let hits = vec![hit(0, 1.0, 0.73, 0.73, 1.0), hit(1, 0.6, 0.6, 0.5, 0.3)];
        assert_eq!(decided(&d, hits).0, Choice::Answer(0));
        // The same score for an entry named in part is only worth offering.
        let hits = vec![hit(0, 1.0, 0.73, 0.73, 0.5), hit(1, 0.6, 0.6, 0.5, 0.3)];
        assert!(matches!(decided(&d, hits).0, Choice::Clarify(_)));
    }

    #[test]
    fn an_entry_whose_text_holds_the_whole_question_strongly_is_answered_without_its_name() {
        let d = dialogue(Vec::new());
        // "Was ist eine Wohnungsgeberbestätigung?": only the registration's text says it.
        let strong = |coverage| Hit {
            strength: 3.6,
            ..hit(0, 0.92, coverage, 0.0, 0.0)
        };
        let weak = hit(1, 0.4, 0.6, 0.6, 0.0);
        assert_eq!(
            decided(&d, vec![strong(1.0), weak.clone()]).0,
            Choice::Answer(0)
        );
        // Where the text holds only part of the question, the name must say some of it.
        assert_ne!(decided(&d, vec![strong(0.7), weak]).0, Choice::Answer(0));
    }

    #[test]
    fn a_message_without_words_is_not_searched_by_meaning() {
        let d = dialogue(Vec::new());
        let kb = d.knowledge();
        let n = kb.catalogue.entries.len();
        // Every entry its own direction; the question points straight at the first.
        let rows: Vec<Vec<f32>> = (0..n)
            .map(|i| (0..n).map(|j| if i == j { 1.0 } else { 0.0 }).collect())
            .collect();
        let query = rows[0].clone();
        let mut with_vectors = Knowledge::new(
            kb.catalogue.clone(),
            SearchIndex::build_with(&kb.catalogue, None).unwrap(),
        );
        with_vectors.vectors = crate::semantic::Vectors::new(rows);
        d.publish(with_vectors);
        let ask = |text: &str| {
            d.respond_with(&Context::default(), &Inbound::text(text), Some(&query))
                .reply
                .outcome
        };
        assert_eq!(ask("...."), Outcome::DontKnow);
        assert_eq!(ask("😂😂😂"), Outcome::DontKnow);
        // A word the catalogue lacks is still searched by meaning.
        assert_ne!(ask("Steuermarke für meinen Vierbeiner"), Outcome::DontKnow);
    }

    #[test]
    fn a_phrase_with_an_aspect_word_in_it_is_still_a_topic() {
        let d = dialogue(vec![entry(
            "nachzug",
            "Kindernachzug aus dem Ausland",
            // The aspect words are catalogue words, so that read as a topic they would be
            // searched.
            "Kinder aus dem Ausland ziehen zu ihren Eltern. Öffnungszeiten und Telefon: \
             siehe Bürgerbüro.",
        )]);
        let kb = d.knowledge();
        let mut catalogue = kb.catalogue.clone();
        // The registration has an office, so an answer about its address would show it.
        let office: crate::knowledge::OfficeId = "buergerbuero".parse().unwrap();
        catalogue.offices.insert(
            office.clone(),
            crate::knowledge::Office {
                id: office.clone(),
                name: "Bürgerbüro".into(),
                street: "Rathausplatz 1".into(),
                postal_code: "12345".into(),
                city: "Musterstadt".into(),
                phone: None,
                email: None,
                accessibility: None,
                note: None,
                hours: Default::default(),
            },
        );
        for e in &mut catalogue.entries {
            if e.id.as_str() == "wohnen" {
                e.offices.push(office.clone());
            }
        }
        catalogue.synonyms_en = "address => adresse\n\
                                 abroad => ausland\n\
                                 address registration => anmeldung, wohnsitzanmeldung\n\
                                 phone number => telefon\n\
                                 opening times => öffnungszeiten\n"
            .into();
        let index = SearchIndex::build_with(&catalogue, None).unwrap();
        d.publish(Knowledge::new(catalogue, index));
        let ask = |context: &Context, text: &str| {
            let inbound = Inbound {
                lang: Some(Lang::En),
                ..Inbound::text(text)
            };
            d.respond(context, &inbound)
        };
        // "address" alone asks where; "address registration" is a service, and it is what
        // the question is about, not being abroad.
        let found = ask(
            &Context::default(),
            "Can someone do my address registration while I am abroad?",
        );
        assert_eq!(
            found.reply.outcome,
            Outcome::Answer,
            "{:?}",
            found.candidates
        );
        assert_eq!(found.reply.aspect, Some(Aspect::Summary));
        assert_eq!(
            found.candidates.first().map(|c| c.id.as_str()),
            Some("wohnen"),
            "{:?}",
            found.candidates
        );
        // The same word outside the phrase still asks for the aspect.
        let found = ask(
            &Context::default(),
            "What is the address for my address registration?",
        );
        assert_eq!(found.reply.outcome, Outcome::Answer, "{}", found.reply.text);
        assert_eq!(
            found.reply.aspect,
            Some(Aspect::Office),
            "{}",
            found.reply.text
        );
        assert!(
            found.reply.text.contains("Rathausplatz 1"),
            "{}",
            found.reply.text
        );
        // A phrase that means an aspect is an aspect still, though one of its words is none
        // ("opening times"): a follow-up on the last answer.
        let context = Context {
            last_entry: Some("nachzug".parse().unwrap()),
            ..Context::default()
        };
        for text in ["and the phone number?", "and the opening times?"] {
            let followed = ask(&context, text);
            assert!(
                followed.candidates.is_empty(),
                "{text}: {:?}",
                followed.candidates
            );
            assert_eq!(followed.reply.outcome, Outcome::Answer, "{text}");
        }
    }

    #[test]
    fn a_misspelt_aspect_word_is_no_topic() {
        let d = dialogue(vec![
            entry(
                "niederlassung",
                "Niederlassungserlaubnis",
                "Ein unbefristeter Aufenthaltstitel.",
            ),
            entry(
                "fachkraefte",
                "Niederlassungserlaubnis für Fachkräfte",
                "Voraussetzungen: Die Voraussetzungen prüft die Behörde.",
            ),
        ]);
        for q in [
            "niederlassungserlaubnis voraussetzungen",
            "niederlassungserlaubnis vorraussetzungen",
        ] {
            let reply = first_reply(&d, q);
            assert_eq!(reply.outcome, Outcome::Answer, "{q}: {}", reply.text);
            assert_eq!(reply.entries[0].id.as_str(), "niederlassung", "{q}");
        }
    }

    #[test]
    fn different_services_with_similar_names_are_still_offered_as_choices() {
        let d = dialogue(vec![
            entry(
                "innerhalb",
                "Umschreibung Fahrzeug – innerhalb der Stadt",
                "Nach einem Umzug innerhalb der Stadt wird das Fahrzeug umgeschrieben.",
            ),
            entry(
                "ausserhalb",
                "Umschreibung Fahrzeug – von außerhalb",
                "Nach einem Umzug von außerhalb wird das Fahrzeug umgeschrieben.",
            ),
        ]);
        let reply = first_reply(&d, "Umschreibung Fahrzeug nach Umzug");
        assert_eq!(reply.outcome, Outcome::Clarify, "{}", reply.text);
        assert_eq!(reply.entries.len(), 2);
    }
}
