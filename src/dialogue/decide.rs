//! The decision: hand over, small talk, answer, offer choices or say "I don't know", read
//! from the intents recognised and the ranked candidates' probabilities against bars that
//! `rathaus eval --fit` chose (fewest wrong answers first). It composes no text.

use serde::{Deserialize, Serialize};

use super::HandoffReason;
use super::intent::SmallTalk;
use super::phrasings::{Intent, Match};

/// Choices offered at most.
pub const CHOICES: usize = 3;

/// Similarity by words from which a message is one of an intent's phrasings, word for word
/// (1.0 but for rounding): the city wrote that very message down as that intent, so no
/// entry's score overrides it ("test", listed as out of scope, in a catalogue that has an
/// entry "Testleistung").
const WORD_FOR_WORD: f32 = 0.99;

/// The bars between the outcomes, fitted with the ranker's weights.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Bars {
    /// The best candidate is answered from this probability …
    pub answer: f32,
    /// … when the second is at least this much less probable.
    pub lead: f32,
    /// Below, the closest candidates are offered as choices when the best has this
    /// probability; otherwise the bot says it does not know.
    pub clarify: f32,
    /// An intent is recognised from this similarity by words to one of its phrasings …
    pub intent_words: f32,
    /// … or from this similarity in meaning …
    pub intent_meaning: f32,
    /// … where the phrasing is this much closer in meaning than the closest entry.
    pub intent_lead: f32,
}

impl Default for Bars {
    /// Cautious bars for a ranker not yet fitted: answer only the near certain.
    fn default() -> Self {
        Bars {
            answer: 0.7,
            lead: 0.3,
            clarify: 0.2,
            intent_words: 0.7,
            intent_meaning: 0.92,
            intent_lead: 0.05,
        }
    }
}

/// What is known of a message before its candidates are ranked.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Signals {
    /// A request for a person in general words ("Mitarbeiter bitte", "rufen Sie mich an").
    pub cue_handoff: Option<HandoffReason>,
    /// A message that is small talk as a whole ("Hallo!", "Danke").
    #[serde(skip)]
    pub cue_small_talk: Option<SmallTalk>,
    /// The closest phrasing of each intent.
    pub matches: Vec<Match>,
    /// The similarity in meaning of the closest entry (0 without vectors).
    pub closest_entry: f32,
}

/// Ranks candidates by probability, with the same service in several forms counted once:
/// the forms' probabilities add up in the place of the most probable form, and the others
/// leave the ranking (the answer names them). `forms[i]` are the candidates that are
/// another form of candidate `i`. Returns the candidates' positions and probabilities,
/// most probable first.
pub fn rank(probabilities: &[f32], forms: &[Vec<usize>]) -> (Vec<usize>, Vec<f32>) {
    let mut order: Vec<usize> = (0..probabilities.len()).collect();
    order.sort_by(|&a, &b| probabilities[b].total_cmp(&probabilities[a]));
    let mut kept: Vec<usize> = Vec::with_capacity(order.len());
    let mut ranked: Vec<f32> = Vec::with_capacity(order.len());
    for i in order {
        if let Some(k) = kept
            .iter()
            .position(|&j| forms.get(j).is_some_and(|f| f.contains(&i)))
        {
            ranked[k] += probabilities[i];
        } else {
            kept.push(i);
            ranked.push(probabilities[i]);
        }
    }
    // Merging can lift a later candidate above an earlier one.
    let mut pairs: Vec<(usize, f32)> = kept.into_iter().zip(ranked).collect();
    pairs.sort_by(|a, b| b.1.total_cmp(&a.1));
    pairs.into_iter().unzip()
}

/// What the decision chose.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Choice {
    /// The ranked candidate at this position.
    Answer(usize),
    /// These ranked candidates as choices.
    Clarify(Vec<usize>),
    DontKnow,
    Intent(Intent),
    SmallTalk,
}

/// Which part of the answering chose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// The conversation itself: a choice picked, a follow-up on the entry answered last, or
    /// silence while a person has it.
    Conversation,
    /// The records of the office the question names.
    Office,
    /// General words asking for a person or making small talk.
    Cue,
    /// Similarity to an intent's phrasings.
    Phrasing,
    /// The ranked candidates' probabilities.
    Ranker,
}

fn cue_intent(reason: HandoffReason) -> Intent {
    match reason {
        HandoffReason::Callback => Intent::Callback,
        HandoffReason::Complaint => Intent::Complaint,
        HandoffReason::Requested | HandoffReason::NotAnswered => Intent::Handoff,
    }
}

/// The intent whose phrasings the message comes close enough to, if any.
pub fn recognised(signals: &Signals, bars: &Bars) -> Option<Match> {
    signals.matches.iter().copied().find(|m| {
        m.words >= bars.intent_words
            || (m.meaning >= bars.intent_meaning
                && m.meaning - signals.closest_entry >= bars.intent_lead)
    })
}

/// Decides on a message from its signals and its candidates' probabilities, best first.
/// A request for a person is handed over even when it comes with a question (the person
/// reads the question in the transcript); small talk and things outside the city's matters
/// yield to a confident answer.
pub fn decide(signals: &Signals, probabilities: &[f32], bars: &Bars) -> (Choice, Stage) {
    if let Some(reason) = signals.cue_handoff {
        return (Choice::Intent(cue_intent(reason)), Stage::Cue);
    }
    let phrasing = recognised(signals, bars).map(|m| m.intent);
    if let Some(intent) = phrasing.filter(|i| i.handoff().is_some()) {
        return (Choice::Intent(intent), Stage::Phrasing);
    }
    if let Some(m) = signals.matches.iter().find(|m| m.words >= WORD_FOR_WORD) {
        return (Choice::Intent(m.intent), Stage::Phrasing);
    }
    if signals.cue_small_talk.is_some() {
        return (Choice::SmallTalk, Stage::Cue);
    }
    let p = |i: usize| probabilities.get(i).copied().unwrap_or(0.0);
    if !probabilities.is_empty() && p(0) >= bars.answer && p(0) - p(1) >= bars.lead {
        return (Choice::Answer(0), Stage::Ranker);
    }
    if let Some(intent) = phrasing {
        return (Choice::Intent(intent), Stage::Phrasing);
    }
    // Unsure, but the best is worth offering: the closest three are, since the right one is
    // often second or third when the first is in doubt.
    if !probabilities.is_empty() && p(0) >= bars.clarify {
        let choices = (0..probabilities.len().min(CHOICES)).collect();
        (Choice::Clarify(choices), Stage::Ranker)
    } else {
        (Choice::DontKnow, Stage::Ranker)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bars() -> Bars {
        Bars {
            answer: 0.6,
            lead: 0.2,
            clarify: 0.2,
            intent_words: 0.7,
            intent_meaning: 0.9,
            intent_lead: 0.02,
        }
    }

    fn matching(intent: Intent, words: f32, meaning: f32) -> Signals {
        Signals {
            matches: vec![Match {
                intent,
                words,
                meaning,
            }],
            closest_entry: 0.85,
            ..Default::default()
        }
    }

    #[test]
    fn a_confident_lead_is_answered_the_closest_three_offered_and_nothing_not_known() {
        let s = Signals::default();
        assert_eq!(decide(&s, &[0.9, 0.1], &bars()).0, Choice::Answer(0));
        // A close pair: the three closest are offered, the third however unlikely.
        assert_eq!(
            decide(&s, &[0.9, 0.8, 0.1, 0.05], &bars()).0,
            Choice::Clarify(vec![0, 1, 2])
        );
        assert_eq!(
            decide(&s, &[0.45, 0.05], &bars()).0,
            Choice::Clarify(vec![0, 1])
        );
        assert_eq!(
            decide(&s, &[0.3, 0.25, 0.21, 0.2], &bars()).0,
            Choice::Clarify(vec![0, 1, 2])
        );
        assert_eq!(decide(&s, &[0.1, 0.05], &bars()).0, Choice::DontKnow);
        assert_eq!(decide(&s, &[], &bars()).0, Choice::DontKnow);
    }

    #[test]
    fn forms_of_one_service_count_once_with_their_probabilities_added() {
        // Candidates 0 and 2 are one service in two forms.
        let forms = vec![vec![2], vec![], vec![0]];
        let (order, p) = rank(&[0.3, 0.35, 0.3], &forms);
        assert_eq!(order, [0, 1]);
        assert!(
            (p[0] - 0.6).abs() < 1e-6 && (p[1] - 0.35).abs() < 1e-6,
            "{p:?}"
        );
        let (order, _) = rank(&[0.3, 0.35, 0.3], &[vec![], vec![], vec![]]);
        assert_eq!(order, [1, 0, 2]);
    }

    #[test]
    fn a_request_for_a_person_wins_even_over_a_confident_answer() {
        let s = matching(Intent::Handoff, 0.8, 0.0);
        assert_eq!(
            decide(&s, &[0.95], &bars()),
            (Choice::Intent(Intent::Handoff), Stage::Phrasing)
        );
        let cue = Signals {
            cue_handoff: Some(HandoffReason::Callback),
            ..Default::default()
        };
        assert_eq!(
            decide(&cue, &[0.95], &bars()),
            (Choice::Intent(Intent::Callback), Stage::Cue)
        );
    }

    #[test]
    fn out_of_scope_yields_to_a_confident_answer_and_wins_over_choices() {
        let s = matching(Intent::OutOfScope, 0.0, 0.95);
        assert_eq!(decide(&s, &[0.95], &bars()).0, Choice::Answer(0));
        assert_eq!(
            decide(&s, &[0.5, 0.4], &bars()).0,
            Choice::Intent(Intent::OutOfScope)
        );
    }

    #[test]
    fn a_message_that_is_a_phrasing_word_for_word_is_that_intent() {
        let s = matching(Intent::OutOfScope, 1.0, 0.0);
        assert_eq!(
            decide(&s, &[0.99], &bars()).0,
            Choice::Intent(Intent::OutOfScope)
        );
        let near = matching(Intent::OutOfScope, 0.9, 0.0);
        assert_eq!(decide(&near, &[0.99], &bars()).0, Choice::Answer(0));
    }

    #[test]
    fn meaning_recognises_an_intent_only_ahead_of_the_closest_entry() {
        let near_entry = Signals {
            closest_entry: 0.94,
            ..matching(Intent::Handoff, 0.0, 0.95)
        };
        assert_eq!(recognised(&near_entry, &bars()), None);
        assert!(recognised(&matching(Intent::Handoff, 0.0, 0.95), &bars()).is_some());
    }
}
