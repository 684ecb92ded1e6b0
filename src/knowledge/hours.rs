//! Opening hours: several periods a day, and exceptions on dates (holidays, short days).

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Weekday {
    Mo,
    Di,
    Mi,
    Do,
    Fr,
    Sa,
    So,
}

impl Weekday {
    pub const ALL: [Weekday; 7] = [
        Weekday::Mo,
        Weekday::Di,
        Weekday::Mi,
        Weekday::Do,
        Weekday::Fr,
        Weekday::Sa,
        Weekday::So,
    ];

    fn from_chrono(d: chrono::Weekday) -> Weekday {
        Weekday::ALL[d.num_days_from_monday() as usize]
    }

    pub fn name(self, lang: crate::language::Lang) -> &'static str {
        use crate::language::Lang::*;
        let i = self as usize;
        match lang {
            De => ["Mo", "Di", "Mi", "Do", "Fr", "Sa", "So"][i],
            En => ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"][i],
        }
    }
}

/// "08:00" to "12:30" on the given days.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Period {
    pub days: Vec<Weekday>,
    pub opens: NaiveTime,
    pub closes: NaiveTime,
}

/// A date on which the usual hours do not apply: closed, or other hours.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Exception {
    pub date: NaiveDate,
    #[serde(default)]
    pub closed: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opens: Option<NaiveTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closes: Option<NaiveTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Periods of a day as a person reads them: "08:00–12:30 und 14:00–18:00".
pub fn periods_text(periods: &[(NaiveTime, NaiveTime)], lang: crate::language::Lang) -> String {
    let and = match lang {
        crate::language::Lang::De => " und ",
        crate::language::Lang::En => " and ",
    };
    periods
        .iter()
        .map(|(o, c)| format!("{}–{}", o.format("%H:%M"), c.format("%H:%M")))
        .collect::<Vec<_>>()
        .join(and)
}

/// An office's hours on one date.
#[derive(Debug, Clone, PartialEq)]
pub enum Day {
    /// Closed, with the reason where there is one (a holiday, the office's note).
    Closed(Option<String>),
    Open(Vec<(NaiveTime, NaiveTime)>),
}

impl Day {
    pub fn is_open_at(&self, time: NaiveTime) -> bool {
        matches!(self, Day::Open(p) if p.iter().any(|(o, c)| *o <= time && time < *c))
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OpeningHours {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hours: Vec<Period>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exceptions: Vec<Exception>,
}

impl OpeningHours {
    pub fn is_empty(&self) -> bool {
        self.hours.is_empty()
    }

    /// Whether the office is open at a local time, exceptions first.
    pub fn is_open_at(&self, at: NaiveDateTime) -> bool {
        let (date, time) = (at.date(), at.time());
        if let Some(ex) = self.exceptions.iter().find(|e| e.date == date) {
            return match (ex.closed, ex.opens, ex.closes) {
                (true, _, _) => false,
                (false, Some(o), Some(c)) => o <= time && time < c,
                _ => self.regular_open(date, time),
            };
        }
        self.regular_open(date, time)
    }

    /// The hours of one date: an exception of the office's own first, then a public
    /// holiday (closed), then the usual hours of its weekday.
    pub fn on(&self, date: NaiveDate, state: Option<super::holidays::State>) -> Day {
        if let Some(ex) = self.exceptions.iter().find(|e| e.date == date) {
            match (ex.closed, ex.opens, ex.closes) {
                (true, _, _) => return Day::Closed(ex.note.clone()),
                (false, Some(o), Some(c)) => return Day::Open(vec![(o, c)]),
                _ => {}
            }
        } else if let Some(name) = super::holidays::holiday(date, state) {
            return Day::Closed(Some(name.to_string()));
        }
        let periods = self.periods(Weekday::from_chrono(date.weekday()));
        if periods.is_empty() {
            Day::Closed(None)
        } else {
            Day::Open(periods)
        }
    }

    /// The usual periods of a weekday, earliest first.
    fn periods(&self, day: Weekday) -> Vec<(NaiveTime, NaiveTime)> {
        let mut periods: Vec<(NaiveTime, NaiveTime)> = self
            .hours
            .iter()
            .filter(|p| p.days.contains(&day))
            .map(|p| (p.opens, p.closes))
            .collect();
        periods.sort();
        periods
    }

    fn regular_open(&self, date: NaiveDate, time: NaiveTime) -> bool {
        let day = Weekday::from_chrono(date.weekday());
        self.hours
            .iter()
            .any(|p| p.days.contains(&day) && p.opens <= time && time < p.closes)
    }

    /// One line a day with all its periods: "Mo 08:00–12:30, Di 08:00–12:30 und 14:00–18:00".
    /// Days with the same periods are joined ("Mo, Mi, Fr 08:00–12:30").
    pub fn describe(&self, lang: crate::language::Lang) -> String {
        let mut groups: Vec<(Vec<Weekday>, String)> = Vec::new();
        for day in Weekday::ALL {
            let periods = self.periods(day);
            if periods.is_empty() {
                continue;
            }
            let text = periods_text(&periods, lang);
            match groups.iter_mut().find(|(_, t)| *t == text) {
                Some((days, _)) => days.push(day),
                None => groups.push((vec![day], text)),
            }
        }
        groups
            .into_iter()
            .map(|(days, text)| {
                let names: Vec<&str> = days.iter().map(|d| d.name(lang)).collect();
                format!("{} {}", names.join(", "), text)
            })
            .collect::<Vec<_>>()
            .join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::language::Lang;

    fn hours() -> OpeningHours {
        toml::from_str(
            r#"
            [[hours]]
            days = ["mo", "di", "mi", "do", "fr"]
            opens = "08:00"
            closes = "12:30"
            [[hours]]
            days = ["di", "do"]
            opens = "14:00"
            closes = "18:00"
            [[exceptions]]
            date = "2026-12-24"
            closed = true
            note = "Heiligabend"
            [[exceptions]]
            date = "2026-12-31"
            opens = "08:00"
            closes = "11:00"
            "#,
        )
        .unwrap()
    }

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    #[test]
    fn a_day_has_its_periods_unless_an_exception_or_a_holiday_closes_it() {
        let h = hours();
        let date = |s: &str| s.parse::<NaiveDate>().unwrap();
        // 2026-04-06 is Easter Monday, a Monday the office usually opens.
        assert_eq!(
            h.on(date("2026-04-06"), None),
            Day::Closed(Some("Ostermontag".into()))
        );
        let tuesday = h.on(date("2026-04-07"), None);
        assert!(
            matches!(&tuesday, Day::Open(p) if p.len() == 2),
            "{tuesday:?}"
        );
        assert!(tuesday.is_open_at("15:00".parse().unwrap()));
        assert!(!tuesday.is_open_at("13:00".parse().unwrap()));
    }

    #[test]
    fn several_periods_a_day_and_exceptions() {
        let h = hours();
        assert!(h.is_open_at(at("2026-12-01 15:00"))); // a Tuesday afternoon
        assert!(!h.is_open_at(at("2026-11-30 15:00"))); // Monday afternoon
        assert!(!h.is_open_at(at("2026-12-24 09:00"))); // Christmas Eve, closed
        assert!(h.is_open_at(at("2026-12-31 10:00")));
        assert!(!h.is_open_at(at("2026-12-31 11:30"))); // New Year's Eve, short day
        assert!(!h.is_open_at(at("2026-12-05 09:00"))); // Saturday
    }

    #[test]
    fn describes_days_with_equal_hours_together() {
        assert_eq!(
            hours().describe(Lang::De),
            "Mo, Mi, Fr 08:00–12:30; Di, Do 08:00–12:30 und 14:00–18:00"
        );
    }
}
