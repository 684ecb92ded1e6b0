//! Germany's public holidays, nationwide and per state, so that "is the office open
//! tomorrow?" is answered right on a holiday the office's own exceptions do not list.
//! Computed from the calendar (Easter by the Gregorian computus), never fetched.

use chrono::{Datelike, Duration, NaiveDate, Weekday};

/// A German state, by its official two-letter code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    BW,
    BY,
    BE,
    BB,
    HB,
    HH,
    HE,
    MV,
    NI,
    NW,
    RP,
    SL,
    SN,
    ST,
    SH,
    TH,
}

#[derive(Debug, thiserror::Error)]
#[error("unknown state '{0}': use a code such as BY, NW or BE")]
pub struct UnknownState(String);

impl std::str::FromStr for State {
    type Err = UnknownState;
    fn from_str(s: &str) -> Result<State, UnknownState> {
        use State::*;
        Ok(match s.trim().to_ascii_uppercase().as_str() {
            "BW" => BW,
            "BY" => BY,
            "BE" => BE,
            "BB" => BB,
            "HB" => HB,
            "HH" => HH,
            "HE" => HE,
            "MV" => MV,
            "NI" => NI,
            "NW" => NW,
            "RP" => RP,
            "SL" => SL,
            "SN" => SN,
            "ST" => ST,
            "SH" => SH,
            "TH" => TH,
            _ => return Err(UnknownState(s.to_string())),
        })
    }
}

/// Easter Sunday of a year (anonymous Gregorian algorithm).
pub fn easter(year: i32) -> NaiveDate {
    let a = year % 19;
    let b = year / 100;
    let c = year % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    NaiveDate::from_ymd_opt(year, month as u32, day as u32).expect("a valid Easter date")
}

/// The public holiday on a date, by its German name: the nationwide ones, and those of
/// `state` where one is given.
pub fn holiday(date: NaiveDate, state: Option<State>) -> Option<&'static str> {
    use State::*;
    let in_state = |states: &[State]| state.is_some_and(|s| states.contains(&s));
    let from_easter = (date - easter(date.year())).num_days();
    match from_easter {
        -2 => return Some("Karfreitag"),
        1 => return Some("Ostermontag"),
        39 => return Some("Christi Himmelfahrt"),
        50 => return Some("Pfingstmontag"),
        60 if in_state(&[BW, BY, HE, NW, RP, SL]) => return Some("Fronleichnam"),
        _ => {}
    }
    match (date.month(), date.day()) {
        (1, 1) => Some("Neujahr"),
        (1, 6) if in_state(&[BW, BY, ST]) => Some("Heilige Drei Könige"),
        (3, 8) if in_state(&[BE, MV]) => Some("Internationaler Frauentag"),
        (5, 1) => Some("Tag der Arbeit"),
        (8, 15) if in_state(&[SL]) => Some("Mariä Himmelfahrt"),
        (9, 20) if in_state(&[TH]) => Some("Weltkindertag"),
        (10, 3) => Some("Tag der Deutschen Einheit"),
        (10, 31) if in_state(&[BB, HB, HH, MV, NI, SN, ST, SH, TH]) => Some("Reformationstag"),
        (11, 1) if in_state(&[BW, BY, NW, RP, SL]) => Some("Allerheiligen"),
        (12, 25) => Some("1. Weihnachtstag"),
        (12, 26) => Some("2. Weihnachtstag"),
        _ if in_state(&[SN]) && date == repentance_day(date.year()) => Some("Buß- und Bettag"),
        _ => None,
    }
}

/// Buß- und Bettag: the Wednesday before 23 November.
fn repentance_day(year: i32) -> NaiveDate {
    let mut d = NaiveDate::from_ymd_opt(year, 11, 22).expect("a valid date");
    while d.weekday() != Weekday::Wed {
        d -= Duration::days(1);
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn easter_falls_on_the_published_dates() {
        assert_eq!(easter(2024), day("2024-03-31"));
        assert_eq!(easter(2026), day("2026-04-05"));
        assert_eq!(easter(2027), day("2027-03-28"));
        assert_eq!(easter(2038), day("2038-04-25"));
    }

    #[test]
    fn holidays_nationwide_and_by_state() {
        assert_eq!(holiday(day("2026-04-03"), None), Some("Karfreitag"));
        assert_eq!(
            holiday(day("2026-05-14"), None),
            Some("Christi Himmelfahrt")
        );
        assert_eq!(
            holiday(day("2026-06-04"), None),
            None,
            "Fronleichnam is not nationwide"
        );
        assert_eq!(
            holiday(day("2026-06-04"), Some(State::BY)),
            Some("Fronleichnam")
        );
        assert_eq!(holiday(day("2026-11-01"), Some(State::BE)), None);
        assert_eq!(
            holiday(day("2026-11-01"), Some(State::NW)),
            Some("Allerheiligen")
        );
        assert_eq!(
            holiday(day("2026-11-18"), Some(State::SN)),
            Some("Buß- und Bettag")
        );
        assert_eq!(holiday(day("2026-12-07"), Some(State::BY)), None);
        assert!("by".parse::<State>().is_ok() && "XX".parse::<State>().is_err());
    }
}
