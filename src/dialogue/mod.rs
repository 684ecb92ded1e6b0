//! The dialogue core: one citizen message in, one reply out, whatever the channel.
//! It finds the entry a question is about and decides between answering, offering choices,
//! saying it does not know, and handing over to a person. It quotes the catalogue and never
//! invents; it knows no channel, no HTTP and no database.

mod compose;
pub mod decide;
pub mod features;
pub mod intent;
pub mod offices;
pub mod phrasings;
pub mod ranker;

pub use crate::domain::{Context, HandoffReason, Outcome};
/// A service's name in a language (the English name where the catalogue has one).
pub(crate) use compose::entry_name;
pub use intent::Aspect;

use std::sync::Arc;

use arc_swap::ArcSwap;
use serde::{Deserialize, Serialize};

use crate::knowledge::holidays::State;
use crate::knowledge::{Catalogue, Entry, EntryId, Office};
use crate::language::{self, Lang};
use crate::search::{Hit, SearchIndex};
use crate::semantic::{Similarities, Vectors};
use decide::{Choice, Signals, Stage};
use features::{Features, QuestionFeatures};
use phrasings::{Intent, Phrasings};
use ranker::Ranker;

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

/// A published catalogue with its search index.
pub struct Knowledge {
    pub catalogue: Catalogue,
    pub index: SearchIndex,
    /// The vectors of the entries' views, where a model or service gives them.
    pub vectors: Option<Vectors>,
    /// The example phrasings of what a message can want besides a service.
    pub phrasings: Phrasings,
    /// For each entry, the other entries that are the same service in another form
    /// ([`variants`]), found once when the catalogue is published.
    forms: Vec<Vec<usize>>,
    /// For each entry, the entries that are a special case of it: its name with a qualifier
    /// ("Wohnsitzanmeldung – Familie" of "Wohnsitzanmeldung", "Verlust oder Diebstahl
    /// Reisepass" of "Reisepass", [`narrows`]), not another form of it.
    special: Vec<Vec<usize>>,
}

impl Knowledge {
    /// The knowledge of a catalogue, its index and the intents' phrasings, without vectors.
    pub fn new(catalogue: Catalogue, index: SearchIndex, phrasings: Phrasings) -> Knowledge {
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
            phrasings,
            forms,
            special,
        }
    }
}

/// The dialogue core. Cheap to share; the knowledge can be replaced while it serves.
pub struct Dialogue {
    knowledge: ArcSwap<Knowledge>,
    ranker: ArcSwap<Ranker>,
    /// The city's state, whose public holidays close its offices.
    state: Option<State>,
}

/// What the core found for a message and why, before it is put into words; read by the
/// evaluation, `rathaus ask --explain`, the console and the unanswered-questions list.
#[derive(Debug, Clone, Serialize)]
pub struct Decision {
    pub reply: Reply,
    #[serde(skip)]
    pub context: Context,
    /// Which stage decided.
    pub stage: Stage,
    /// What was known of the message before ranking: cues, intents, closest entry.
    pub signals: Signals,
    /// Candidates considered, most probable first.
    pub candidates: Vec<Candidate>,
    /// Whether meaning took part (the ranker for words and meaning decided).
    pub meaning: bool,
}

/// A candidate entry with its features and the ranker's probability.
#[derive(Debug, Clone, Serialize)]
pub struct Candidate {
    #[serde(serialize_with = "entry_id_str")]
    pub id: EntryId,
    pub name: String,
    pub probability: f32,
    pub features: Features,
}

impl Decision {
    /// Why the core replied so, in one line for staff: the stage that decided, the intent
    /// or the candidates with their probabilities.
    pub fn why(&self) -> String {
        let mode = if self.meaning {
            "Wörter und Bedeutung"
        } else {
            "nur Wörter"
        };
        let stage = match self.stage {
            Stage::Conversation => "den Gesprächsverlauf",
            Stage::Office => "die Angaben der genannten Dienststelle",
            Stage::Cue => "allgemeine Signalwörter",
            Stage::Phrasing => "Ähnlichkeit zu Beispielformulierungen",
            Stage::Ranker => "Rangfolge der Kandidaten",
        };
        let mut out = format!("Entschieden durch {stage} ({mode})");
        if let Some(m) = self
            .signals
            .matches
            .first()
            .filter(|_| self.stage == Stage::Phrasing)
        {
            out.push_str(&format!(
                "; Absicht „{}“ (Wörter {:.2}, Bedeutung {:.2})",
                m.intent.name(),
                m.words,
                m.meaning
            ));
        }
        for (i, c) in self.candidates.iter().take(3).enumerate() {
            out.push_str(&format!(
                "{} {} {:.0} %",
                if i == 0 { "; Kandidaten:" } else { "," },
                c.name,
                100.0 * c.probability
            ));
        }
        out
    }
}

fn entry_id_str<S: serde::Serializer>(id: &EntryId, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(id.as_str())
}

/// What a message comes to before its candidates are ranked.
pub struct Prepared {
    pub lang: Lang,
    pub signals: Signals,
    /// The ranked candidates' hits and features, in the search's order; empty where an
    /// earlier stage answered.
    pub hits: Vec<Hit>,
    pub features: Vec<Features>,
    /// The question's own features, which weigh "none of these".
    pub question: QuestionFeatures,
    /// For each candidate, the candidates that are the same service in another form.
    pub forms: Vec<Vec<usize>>,
    /// Set where an earlier stage (a choice picked, a follow-up, silence, a message of no
    /// words) already decided.
    pub early: Option<Decision>,
    aspect: Aspect,
    meaning: bool,
}

impl Dialogue {
    pub fn new(knowledge: Knowledge, ranker: Ranker) -> Dialogue {
        Dialogue {
            knowledge: ArcSwap::from_pointee(knowledge),
            ranker: ArcSwap::from_pointee(ranker),
            state: None,
        }
    }

    /// The state whose public holidays close the city's offices.
    pub fn with_state(mut self, state: Option<State>) -> Dialogue {
        self.state = state;
        self
    }

    pub fn ranker(&self) -> Arc<Ranker> {
        self.ranker.load_full()
    }

    /// Replaces the ranker (a new fit); the next message is ranked by it.
    pub fn publish_ranker(&self, ranker: Ranker) {
        self.ranker.store(Arc::new(ranker));
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

    /// As [`Dialogue::respond`], with the message's sentence vector where meaning is on
    /// (the core itself does no I/O).
    pub fn respond_with(
        &self,
        context: &Context,
        message: &Inbound,
        query_vector: Option<&[f32]>,
    ) -> Decision {
        let prepared = self.prepare(context, message, query_vector);
        let ranker = self.ranker.load();
        let model = ranker.model(prepared.meaning);
        let probabilities = model.probabilities(&prepared.features, &prepared.question);
        self.finish(context, prepared, &probabilities, &model.bars)
    }

    /// Reads a message and finds its candidates with their features: every stage before
    /// the ranker. The evaluation's fit ranks the same prepared message under many models.
    pub fn prepare(
        &self,
        context: &Context,
        message: &Inbound,
        query_vector: Option<&[f32]>,
    ) -> Prepared {
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
        let mut prepared = Prepared {
            lang,
            signals: Signals::default(),
            hits: Vec::new(),
            features: Vec::new(),
            question: QuestionFeatures::default(),
            forms: Vec::new(),
            early: None,
            aspect: Aspect::Summary,
            meaning: false,
        };
        let early = |reply: Reply, next: Context, stage: Stage| Decision {
            reply,
            context: next,
            stage,
            signals: Signals::default(),
            candidates: Vec::new(),
            meaning: false,
        };

        if context.with_staff {
            prepared.early = Some(early(compose::silent(lang), next, Stage::Conversation));
            return prepared;
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
            prepared.early = Some(early(reply, next, Stage::Conversation));
            return prepared;
        }

        // Meaning: how close the message is to each entry, where vectors are at hand.
        let similarities: Option<Similarities> = match (&kb.vectors, query_vector) {
            (Some(v), Some(q)) => Some(v.similarities(q)),
            _ => None,
        };
        let matches = kb.phrasings.matches(text, query_vector);
        let out_of_scope = matches
            .iter()
            .find(|m| m.intent == Intent::OutOfScope)
            .copied();
        prepared.signals = Signals {
            cue_handoff: intent::handoff(text),
            cue_small_talk: intent::small_talk(text),
            matches,
            closest_entry: similarities
                .as_ref()
                .map_or(0.0, |s| s.best.iter().copied().fold(0.0, f32::max)),
        };
        prepared.meaning = similarities.is_some();
        // A request for a person, or small talk as a whole, needs no search.
        if prepared.signals.cue_handoff.is_some() || prepared.signals.cue_small_talk.is_some() {
            return prepared;
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
        prepared.aspect = if topical_phrases.is_empty() {
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
            && prepared.aspect != Aspect::Summary
            && let Some(entry) = context
                .last_entry
                .as_ref()
                .and_then(|id| kb.catalogue.entry(id))
        {
            let reply = compose::answer(&kb.catalogue, entry, &[], &[], prepared.aspect, lang);
            prepared.early = Some(early(reply, next, Stage::Conversation));
            return prepared;
        }
        // A question about an office itself: it names one, asks where, how to reach it or
        // when it is open, and asks of no service besides.
        let when = offices::when(text);
        if prepared.aspect == Aspect::Office || when != offices::When::Week {
            let stems: Vec<String> = language::words(text)
                .iter()
                .map(|w| language::stem(w))
                .collect();
            let named: Vec<&Office> = offices::named(&stems, kb.catalogue.offices.values());
            let office_words: Vec<String> = named
                .iter()
                .flat_map(|o| offices::name_stems(&o.name))
                .collect();
            let other_topic = analysis.concepts.iter().filter(|c| topical(c)).any(|c| {
                !office_words.contains(&language::stem(&c.word))
                    && offices::when(&c.word) == offices::When::Week
            });
            if !named.is_empty() && !other_topic {
                let now = chrono::Utc::now()
                    .with_timezone(&chrono_tz::Europe::Berlin)
                    .naive_local();
                let reply = offices::answer(&named, when, now, self.state, lang);
                prepared.early = Some(early(reply, next, Stage::Office));
                return prepared;
            }
        }
        if has_topic {
            analysis.concepts.retain(|c| !names_aspect(c));
        }
        // A message without a single word ("....", "😂") is searched neither by words nor
        // by meaning: a sentence vector finds something near anything.
        if analysis.concepts.is_empty() {
            return prepared;
        }
        if analysis.known_weight() == 0.0 && similarities.is_none() {
            return prepared;
        }
        prepared.hits = match kb.index.search(&analysis, similarities.as_ref()) {
            Ok(h) => h,
            Err(e) => {
                tracing::error!(error = %e, "search failed");
                Vec::new()
            }
        };
        let oos_meaning = out_of_scope.map_or(0.0, |m| m.meaning);
        let meaning = similarities.as_ref().map(|s| features::Meaning {
            similarities: s,
            out_of_scope: oos_meaning,
        });
        prepared.features = features::of(&prepared.hits, &analysis, meaning.as_ref());
        prepared.forms = prepared
            .hits
            .iter()
            .map(|h| {
                let forms = &kb.forms[h.entry];
                (0..prepared.hits.len())
                    .filter(|&j| forms.contains(&prepared.hits[j].entry))
                    .collect()
            })
            .collect();
        prepared.question = features::of_question(
            analysis.known_weight(),
            &prepared.features,
            out_of_scope.map_or(0.0, |m| m.words),
            prepared
                .meaning
                .then_some((prepared.signals.closest_entry, oos_meaning)),
        );
        prepared
    }

    /// Ranks a prepared message's candidates by their probabilities, decides against the
    /// bars and puts the reply into words.
    pub fn finish(
        &self,
        context: &Context,
        prepared: Prepared,
        probabilities: &[f32],
        bars: &decide::Bars,
    ) -> Decision {
        if let Some(decision) = prepared.early {
            return decision;
        }
        let kb = self.knowledge.load();
        let lang = prepared.lang;
        let mut next = Context {
            lang: Some(lang),
            ..context.clone()
        };
        let (order, ranked) = decide::rank(probabilities, &prepared.forms);
        let hit = |rank: usize| &prepared.hits[order[rank]];
        let candidates: Vec<Candidate> = order
            .iter()
            .map(|&i| {
                let e = &kb.catalogue.entries[prepared.hits[i].entry];
                Candidate {
                    id: e.id.clone(),
                    name: e.name.clone(),
                    probability: probabilities[i],
                    features: prepared.features[i],
                }
            })
            .collect();
        let (choice, stage) = decide::decide(&prepared.signals, &ranked, bars);
        let reply = match choice {
            Choice::Intent(intent) => {
                if let Some(reason) = intent.handoff() {
                    next.choices.clear();
                    compose::handoff(reason, lang)
                } else if let Some(kind) = intent.small_talk() {
                    compose::small_talk(kind, lang)
                } else {
                    next.choices.clear();
                    compose::out_of_scope(lang)
                }
            }
            Choice::SmallTalk => match prepared.signals.cue_small_talk {
                Some(kind) => compose::small_talk(kind, lang),
                None => compose::dont_know(lang),
            },
            Choice::Answer(rank) => {
                let best = hit(rank).entry;
                let entry = &kb.catalogue.entries[best];
                next.last_entry = Some(entry.id.clone());
                next.choices.clear();
                // The same service in its other forms, wherever the search ranked them.
                let variants: Vec<&Entry> = kb.forms[best]
                    .iter()
                    .map(|&j| &kb.catalogue.entries[j])
                    .collect();
                // Its special cases that came close, which the answer names.
                let special: Vec<&Entry> = (0..order.len().min(decide::CHOICES))
                    .map(|r| hit(r).entry)
                    .filter(|e| kb.special[best].contains(e))
                    .map(|e| &kb.catalogue.entries[e])
                    .collect();
                compose::answer(
                    &kb.catalogue,
                    entry,
                    &variants,
                    &special,
                    prepared.aspect,
                    lang,
                )
            }
            Choice::Clarify(list) => {
                let entries: Vec<&Entry> = list
                    .iter()
                    .map(|&r| &kb.catalogue.entries[hit(r).entry])
                    .collect();
                next.choices = entries.iter().map(|e| e.id.clone()).collect();
                compose::clarify(&entries, lang)
            }
            Choice::DontKnow => {
                next.choices.clear();
                compose::dont_know(lang)
            }
        };
        Decision {
            reply,
            context: next,
            stage,
            signals: prepared.signals,
            candidates,
            meaning: prepared.meaning,
        }
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
        let index = SearchIndex::build(&catalogue, None).unwrap();
        Dialogue::new(
            Knowledge::new(catalogue, index, Phrasings::builtin()),
            Ranker::builtin(),
        )
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
            SearchIndex::build(&kb.catalogue, None).unwrap(),
            Phrasings::builtin(),
        );
        with_vectors.vectors = crate::semantic::Vectors::new(
            rows.into_iter()
                .enumerate()
                .map(|(i, r)| (i, crate::semantic::View::Name, r))
                .collect(),
            n,
        );
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
        let index = SearchIndex::build(&catalogue, None).unwrap();
        d.publish(Knowledge::new(catalogue, index, Phrasings::builtin()));
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
    fn a_phrasing_added_to_an_intents_file_changes_the_outcome() {
        let dir = tempfile::tempdir().unwrap();
        let ask = |phrasings: Phrasings| {
            let base = dialogue(Vec::new());
            let kb = base.knowledge();
            let catalogue = kb.catalogue.clone();
            let index = SearchIndex::build(&catalogue, None).unwrap();
            base.publish(Knowledge::new(catalogue, index, phrasings));
            first_reply(&base, "Holen Sie mir Ihren Vorgesetzten her").outcome
        };
        let file = dir.path().join("handoff.txt");
        std::fs::write(
            &file,
            "# requests for a person\nIch möchte mit einem Menschen sprechen\n",
        )
        .unwrap();
        let before = ask(Phrasings::read_dir(dir.path()).unwrap());
        assert_ne!(before, Outcome::Handoff);
        std::fs::write(
            &file,
            "Ich möchte mit einem Menschen sprechen\nHolen Sie mir Ihren Vorgesetzten\n",
        )
        .unwrap();
        assert_eq!(
            ask(Phrasings::read_dir(dir.path()).unwrap()),
            Outcome::Handoff
        );
        assert!(Phrasings::read_dir(&dir.path().join("missing")).is_err());
    }

    #[test]
    fn an_example_question_finds_its_entry_by_its_words() {
        let mut with = entry("hund", "Hundesteuer", "Wer einen Hund hält, zahlt Steuer.");
        with.id = "steuer-hund".parse().unwrap();
        with.questions = vec!["Wo bekomme ich die Steuermarke für meinen Vierbeiner?".into()];
        let d = dialogue(vec![with]);
        let reply = first_reply(&d, "Steuermarke Vierbeiner");
        assert!(
            reply
                .entries
                .first()
                .is_some_and(|e| e.id.as_str() == "steuer-hund"),
            "{}",
            reply.text
        );
    }
}
