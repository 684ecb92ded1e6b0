//! Questions about an office itself — when it is open (now, today, tomorrow), where it is,
//! how to reach it, whether it is accessible — answered from the office records, with the
//! office's own exceptions and the state's public holidays. Never from a service entry, and
//! never an hour the records do not hold.

use chrono::{Duration, NaiveDateTime};

use super::compose;
use super::{Outcome, Reply};
use crate::knowledge::holidays::State;
use crate::knowledge::{Day, Office, periods_text};
use crate::language::{Lang, is_stopword, stem, words};

/// Offices named in one answer, at most; the rest are counted.
const MAX_OFFICES: usize = 3;

/// Which day a question about opening hours asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// No day: the week's hours.
    Week,
    Now,
    Today,
    Tomorrow,
}

/// The day a question asks for, from general words ("jetzt", "heute", "morgen", "now").
pub fn when(text: &str) -> When {
    let ws = words(text);
    let has = |list: &[&str]| ws.iter().any(|w| list.contains(&w.as_str()));
    if has(&["jetzt", "gerade", "momentan", "aktuell", "now", "currently"]) {
        When::Now
    } else if has(&["morgen", "tomorrow"]) {
        When::Tomorrow
    } else if has(&["heute", "today", "tonight"]) {
        When::Today
    } else {
        When::Week
    }
}

/// The stems of an office name's words that say which office it is.
pub fn name_stems(name: &str) -> Vec<String> {
    words(name)
        .iter()
        .filter(|w| w.chars().count() >= 3 && !is_stopword(w))
        .map(|w| stem(w))
        .collect()
}

/// The offices whose names the question says: those with the most of their name's words in
/// it, and at least half of them ("Bürgerbüro" names every "Bürgerbüro …").
pub fn named<'a>(
    question: &[String],
    offices: impl Iterator<Item = &'a Office>,
) -> Vec<&'a Office> {
    let mut best = 0;
    let mut out: Vec<&Office> = Vec::new();
    for o in offices {
        let stems = name_stems(&o.name);
        let found = stems.iter().filter(|s| question.contains(s)).count();
        if found == 0 || 2 * found < stems.len() {
            continue;
        }
        if found > best {
            best = found;
            out.clear();
        }
        if found == best {
            out.push(o);
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

fn day_line(label: &str, day: &Day, lang: Lang) -> String {
    match (day, lang) {
        (Day::Open(p), _) => format!("{label}: {}", periods_text(p, lang)),
        (Day::Closed(Some(why)), Lang::De) => format!("{label}: geschlossen ({why})"),
        (Day::Closed(Some(why)), Lang::En) => format!("{label}: closed ({why})"),
        (Day::Closed(None), Lang::De) => format!("{label}: geschlossen"),
        (Day::Closed(None), Lang::En) => format!("{label}: closed"),
    }
}

/// What an office's hours say for the day asked, at the local time `now`.
fn hours_text(
    o: &Office,
    when: When,
    now: NaiveDateTime,
    state: Option<State>,
    lang: Lang,
) -> String {
    let de = lang == Lang::De;
    if o.hours.is_empty() {
        return if de {
            "Öffnungszeiten sind für diese Dienststelle nicht hinterlegt; bitte fragen Sie telefonisch nach.".into()
        } else {
            "No opening hours are on record for this office; please ask by phone.".into()
        };
    }
    let today = o.hours.on(now.date(), state);
    let tomorrow = o.hours.on(now.date() + Duration::days(1), state);
    let (l_today, l_tomorrow) = if de {
        ("Heute", "Morgen")
    } else {
        ("Today", "Tomorrow")
    };
    match when {
        When::Now => {
            let open = today.is_open_at(now.time());
            let until = match &today {
                Day::Open(p) => p
                    .iter()
                    .find(|(o, c)| *o <= now.time() && now.time() < *c)
                    .map(|(_, c)| c.format("%H:%M").to_string()),
                Day::Closed(_) => None,
            };
            let state_line = match (open, until, de) {
                (true, Some(c), true) => format!("Jetzt geöffnet, bis {c} Uhr."),
                (true, Some(c), false) => format!("Open now, until {c}."),
                (_, _, true) => "Jetzt geschlossen.".to_string(),
                (_, _, false) => "Closed now.".to_string(),
            };
            format!(
                "{state_line}\n{}\n{}",
                day_line(l_today, &today, lang),
                day_line(l_tomorrow, &tomorrow, lang)
            )
        }
        When::Today => day_line(l_today, &today, lang),
        When::Tomorrow => day_line(l_tomorrow, &tomorrow, lang),
        When::Week => {
            let label = if de {
                "Öffnungszeiten"
            } else {
                "Opening hours"
            };
            format!(
                "{label}: {}\n{}",
                o.hours.describe(lang),
                day_line(l_today, &today, lang)
            )
        }
    }
}

/// The answer about offices from their records: address, phone, e-mail, accessibility, and
/// the hours of the day asked for.
pub fn answer(
    offices: &[&Office],
    when: When,
    now: NaiveDateTime,
    state: Option<State>,
    lang: Lang,
) -> Reply {
    let mut parts: Vec<String> = Vec::new();
    for o in offices.iter().take(MAX_OFFICES) {
        parts.push(format!(
            "{}\n{}",
            compose::office_contact(o, lang),
            hours_text(o, when, now, state, lang)
        ));
    }
    if offices.len() > MAX_OFFICES {
        let more = offices.len() - MAX_OFFICES;
        parts.push(if lang == Lang::De {
            format!("… und {more} weitere Dienststellen dieses Namens.")
        } else {
            format!("… and {more} more offices of this name.")
        });
    }
    let mut r = compose::reply(Outcome::Answer, parts.join("\n\n"), lang);
    r.aspect = Some(super::Aspect::Office);
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn office(name: &str) -> Office {
        toml::from_str(&format!(
            r#"
            id = "o"
            name = "{name}"
            street = "Marktplatz 1"
            phone = "+49 1234 567-100"
            [[hours]]
            days = ["mo", "di", "mi", "do", "fr"]
            opens = "08:00"
            closes = "12:30"
            [[exceptions]]
            date = "2026-12-24"
            closed = true
            note = "Heiligabend"
            "#
        ))
        .unwrap()
    }

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    fn stems(text: &str) -> Vec<String> {
        words(text).iter().map(|w| stem(w)).collect()
    }

    #[test]
    fn the_office_a_question_names_is_found_by_most_of_its_name() {
        let offices = [
            office("Bürgerbüro Nord"),
            office("Bürgerbüro Süd"),
            office("Standesamt"),
        ];
        let all = named(&stems("Wann hat das Bürgerbüro geöffnet?"), offices.iter());
        assert_eq!(all.len(), 2);
        let one = named(
            &stems("Ist das Bürgerbüro Süd heute offen?"),
            offices.iter(),
        );
        assert_eq!(
            one.iter().map(|o| o.name.as_str()).collect::<Vec<_>>(),
            ["Bürgerbüro Süd"]
        );
        assert!(named(&stems("Was kostet ein Reisepass?"), offices.iter()).is_empty());
    }

    #[test]
    fn the_day_asked_for_is_answered_with_exceptions_and_holidays() {
        let o = office("Bürgerbüro");
        let ask = |when, now| answer(&[&o], when, at(now), Some(State::BY), Lang::De).text;
        // Monday 2026-12-07, 10:00 and 14:00.
        assert!(ask(When::Now, "2026-12-07 10:00").contains("Jetzt geöffnet, bis 12:30 Uhr."));
        assert!(ask(When::Now, "2026-12-07 14:00").contains("Jetzt geschlossen."));
        assert!(ask(When::Today, "2026-12-07 14:00").contains("Heute: 08:00–12:30"));
        assert!(
            ask(When::Tomorrow, "2026-12-23 09:00").contains("Morgen: geschlossen (Heiligabend)")
        );
        // 2026-01-06 is a holiday in Bavaria, a Tuesday the office usually opens.
        assert!(
            ask(When::Tomorrow, "2026-01-05 09:00")
                .contains("Morgen: geschlossen (Heilige Drei Könige)")
        );
        let week = ask(When::Week, "2026-12-07 09:00");
        assert!(
            week.contains("Mo, Di, Mi, Do, Fr 08:00–12:30") && week.contains("Marktplatz 1"),
            "{week}"
        );
    }

    #[test]
    fn the_words_for_a_day_are_read() {
        assert_eq!(when("Hat das Bürgerbüro jetzt offen?"), When::Now);
        assert_eq!(when("Is the office open tomorrow?"), When::Tomorrow);
        assert_eq!(when("Öffnungszeiten Standesamt"), When::Week);
    }
}
