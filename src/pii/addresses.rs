//! Street addresses: a street with a house number, and the postcode and town right after
//! it. A street without a house number ("in der Ruppertstraße") is a place, not a person's
//! address, and stays.

use std::collections::HashSet;
use std::ops::Range;
use std::sync::LazyLock;

use regex::Regex;

use super::scan::{each_match, inside_word, skip_blanks, word_at};
use super::{Findings, Kind};

/// Endings of compound street names ("Leopold|straße", "Marien|platz").
const STREET_ENDINGS: &str = concat!(
    r"stra(?:ß|ss|s)e|str\.?|gasse|gässchen|allee|platz|ring|damm|ufer|steig|stieg|steg|",
    r"chaussee|promenade|graben|anger|zeile|pfad|bogen|weg|markt|brücke|bruecke|kai|wall|",
    r"leite|passage"
);

/// Street words that follow an adjective ("Rosenheimer Str.", "Alter Hof").
const STREET_WORDS: &str = concat!(
    r"stra(?:ß|ss|s)e|str\.?|landstra(?:ß|ss)e|gasse|allee|platz|ring|damm|ufer|weg|markt|",
    r"brücke|chaussee|steig|graben|anger|tor|berg|hof|feld|garten|park|höhe|hoehe|au|tal|",
    r"winkel|bogen|wall|kai"
);

/// Prepositions that begin street names ("Am Gasteig", "An der Isar").
const PREPOSITIONS: &str = concat!(
    r"Am|Im|Beim|Zum|Zur|An\s+der|An\s+den|Auf\s+der|Auf\s+dem|Auf\s+den|In\s+der|In\s+den|",
    r"Unter\s+den|Hinter\s+der|Hinter\s+dem|Vor\s+dem|Vor\s+der|Bei\s+der|Bei\s+den|",
    r"Über\s+der|Über\s+dem"
);

/// A street (compound name, adjective and street word, or preposition and name), a house
/// number with maybe a letter or a range, and maybe the postcode and town. Its runs of
/// letters are unbounded, yet the search stays linear: a run is taken or skipped whole (see
/// `scan::each_match`).
static ADDRESS: LazyLock<Regex> = LazyLock::new(|| {
    let compound = format!(r"\p{{L}}[\p{{L}}'’.-]+(?i:{STREET_ENDINGS})");
    let adjective = concat!(
        r"(?:\p{Lu}[\p{L}-]+er|(?:Alte|Neue|Lange|Hohe|Kurze|Breite|Obere|Untere|",
        r"Innere|Äußere|Große|Kleine|Hintere|Vordere|Mittlere|Weiße|Rote|Grüne|Schöne)[rsn]?)"
    );
    let with_adjective = format!(r"{adjective}\s{{1,2}}(?i:{STREET_WORDS})");
    let name = r"\p{Lu}[\p{L}'’-]+";
    let with_preposition = format!(r"(?:{PREPOSITIONS})\s{{1,2}}{name}(?:\s{name})?");
    let number = r"\d{1,3}(?:\s?[-/]\s?\d{1,3})?";
    // The town is tried before a letter after the number: "4 in 85521 Ottobrunn".
    let town = r",?\s{1,2}(?:(?i:in)\s)?(?:D-)?\d{5}\s{1,2}\p{L}[\p{L}-]+";
    Regex::new(&format!(
        r"(?:{compound}|{with_adjective}|{with_preposition})\s{{0,2}}(?:(?i:nr\.?|no\.?)\s?)?{number}(?:{town}|\s?[a-zA-Z](?:{town})?)?"
    ))
    .expect("address pattern")
});

/// Words ending like a street that are not one, lower case.
const NOT_STREETS: &str = "arbeitsweg schulweg heimweg rückweg hinweg umweg ausweg rechtsweg \
    dienstweg fußweg spielplatz parkplatz arbeitsplatz kitaplatz krippenplatz \
    kindergartenplatz studienplatz stellplatz ausbildungsplatz sitzplatz schlafplatz \
    pflegeplatz heimplatz wohnheimplatz praktikumsplatz therapieplatz ehering arbeitsmarkt \
    wohnungsmarkt flohmarkt weihnachtsmarkt supermarkt fragebogen antragsbogen meldebogen \
    anmeldebogen personalbogen erfassungsbogen betreffzeile kopfzeile fußzeile textzeile";

/// Words after "Am", "Im" that make a time, not a street ("Am Montag 3 Termine").
const NOT_PLACES: &str = "montag dienstag mittwoch donnerstag freitag samstag sonnabend sonntag \
    wochenende feiertag werktag wochentag jahr monat tag morgen vormittag mittag nachmittag \
    abend anfang ende schluss sommer winter herbst frühling frühjahr januar februar märz \
    april mai juni juli august september oktober november dezember alter durchschnitt \
    moment prinzip voraus grunde zuge rahmen falle fall notfall jänner";

/// Words after a number that make it a quantity, not a house number ("Arbeitsweg 20 Minuten").
const UNITS: &str = "min minute minuten stunde stunden std h tag tage tagen woche wochen monat \
    monate monaten jahr jahre jahren km m meter kilometer euro eur cent prozent uhr mal x \
    stück personen leute kinder plätze seiten zimmer qm quadratmeter minutes hours days \
    weeks months years times people rooms";

fn word_set(words: &'static str) -> HashSet<&'static str> {
    words.split_whitespace().collect()
}

static LISTS: LazyLock<[HashSet<&'static str>; 3]> =
    LazyLock::new(|| [word_set(NOT_STREETS), word_set(NOT_PLACES), word_set(UNITS)]);

pub(super) fn find(found: &mut Findings) {
    let text = found.text;
    each_match(
        &ADDRESS,
        text,
        |r| address_within(text, r),
        |r| found.add(Kind::Address, r),
    );
}

/// The address in a match, or `None` if the match is a quantity or a time after all.
fn address_within(text: &str, mut r: Range<usize>) -> Option<Range<usize>> {
    let [not_streets, not_places, units] = &*LISTS;
    // A letter the house number took from the next word ("145 bitte") goes back to it.
    if inside_word(text, r.end) && text[..r.end].ends_with(|c: char| c.is_ascii_alphabetic()) {
        let kept = text[r.start..r.end - 1].trim_end();
        r.end = r.start + kept.len();
    }
    let first = word_at(text, r.start)?.to_lowercase();
    if not_streets.contains(first.as_str()) {
        return None;
    }
    let named = street_after_preposition(text, &r, &first);
    let next = skip_blanks(text, r.end);
    if text[next..].starts_with(['€', '%']) {
        return None;
    }
    if let Some(word) = word_at(text, next) {
        let capitalised = word.chars().next().is_some_and(char::is_uppercase);
        // After "Am Montag 3" comes "Termine"; after a house number rarely a noun.
        if units.contains(word.to_lowercase().as_str()) || (named.is_some() && capitalised) {
            return None;
        }
    }
    if let Some(named) = named {
        let name = &text[named.clone()];
        if not_places.contains(name.to_lowercase().as_str()) {
            return None;
        }
        // "In der Leopoldstraße 12": the preposition and article belong to the sentence
        // ("Am Gasteig", "Zum Kirchberg" are names as a whole).
        if first_is_article_pair(&first) && ENDS_LIKE_STREET.is_match(name) {
            r.start = named.start;
        }
    }
    Some(r)
}

/// Prepositions that take an article before the street's name ("An der Isar").
fn first_is_article_pair(first: &str) -> bool {
    matches!(
        first,
        "an" | "auf" | "in" | "unter" | "hinter" | "vor" | "bei" | "über"
    )
}

/// The first word of the street's name if the match starts with a preposition
/// ("Am Gasteig", "An der Isar").
fn street_after_preposition(text: &str, r: &Range<usize>, first: &str) -> Option<Range<usize>> {
    let words = match first {
        "am" | "im" | "beim" | "zum" | "zur" => 1,
        other if first_is_article_pair(other) => 2,
        _ => return None,
    };
    let mut at = r.start;
    for _ in 0..words {
        at += text[at..].find(char::is_whitespace)?;
        at += text[at..].find(|c: char| !c.is_whitespace())?;
    }
    let end = at + text[at..].find(|c: char| c.is_whitespace() || c.is_ascii_digit())?;
    (end <= r.end).then_some(at..end)
}

/// A word that is a street's name by itself ("Leopoldstraße"), not after a preposition.
static ENDS_LIKE_STREET: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(&format!("(?i:{STREET_ENDINGS})$")).expect("street ending"));
