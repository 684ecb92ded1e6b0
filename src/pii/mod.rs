//! Masks personal data that citizens type before text is logged, counted or kept for the
//! admins (see `conversations::observe`); the transcript itself keeps what the citizen wrote.
//! Masking errs on the side of hiding, and it must never cost more than linear time in the
//! text's length: the patterns run on the `regex` crate's automata (no backtracking, no
//! look-around), repeat without bound only in runs that are taken or skipped whole (see
//! `scan`), and the word scanners look a bounded number of words ahead.
//!
//! # Covered
//!
//! | Label          | What                                                                 |
//! |----------------|----------------------------------------------------------------------|
//! | `[E-MAIL]`     | e-mail addresses, also internationalised (`jürgen.müller@straße.de`) and written `name (at) host (dot) de` or `name[at]host.de` |
//! | `[IBAN]`       | IBANs of any country, in any case, grouped in fours or not           |
//! | `[RV-NR]`      | pension insurance numbers (`65 170839 J 003`, `65170839j003`)        |
//! | `[DATUM]`      | dates in digits (`03.07.1985`, `3.7.85`, `1985-07-03`, `07/03/1985`); dates in words with a year (`3. Juli 1985`, `am dritten Juli 1985`, `July 3rd, 1985`, `3rd of July 1985`), German and English month names and ordinal words; after a birth phrase ("geboren", "Geburtsdatum", "Jahrgang", "born") also a date without year or with a two-digit year, a month and year, or a year alone (`geboren am 3. Juli`, `geb. 3. Juli 85`, `Jahrgang 1985`, `2019 geboren`) |
//! | `[AUSWEIS-NR]` | ID-card, passport and residence-card numbers (`L01X00T47`, `l01x00t47`, `T22000129`, with or without check digit); any code with a digit after "Ausweisnummer", "Passnr.", "Führerscheinnummer", "passport number" |
//! | `[TELEFON]`    | phone numbers starting with `0`, `+` or `00` in the usual German and international groupings (`0171 2345678`, `(089) 233-96000`, `+49 (0)171 2345678`, `+1 (555) 123-4567`); any number after "Tel.", "Handy", "Telefonnummer", "phone", "meine Nummer ist" |
//! | `[STEUER-ID]`  | tax ids: eleven digits, the first not 0, in any grouping by spaces, dots or hyphens |
//! | `[STEUER-NR]`  | tax numbers written with slashes (`143/815/08150`, `21/815/08150`)    |
//! | `[ADRESSE]`    | a street with a house number, and a postcode and town right after it: compound street names (`Leopoldstraße 12a`, `Hauptstr. 3`, `Marienplatz 8`), an adjective and a street word (`Rosenheimer Str. 145 b`, `Alter Hof 2`), a preposition and a name (`Am Gasteig 5`, `An der Isar 3`) |
//! | `[NAME]`       | names after a phrase that introduces them, with titles (`Dr.`, `Prof.`, `Mr.`), particles (`von der`, `van`, `bin`), initials, hyphens and apostrophes: after "ich heiße", "mein Name ist", "my name is", "Name:", "Vorname:", "Antragsteller:" also typed in lower case; after "Herr", "Frau", "Hr.", "Fr.", "Familie", "Mr", "Mrs", "Ms", "hier spricht", "Dr.", "Prof." and after a relative, partner, neighbour or landlord with "mein/meine/unser/my/our" ("meine Tochter Lena", "my wife Sarah") when capitalised, also with "heißt" between (then in any case); after "ich bin", "hier ist", "Hallo", "Liebe", "Danke", "I'm" when the first word is a known first name (`first_names.txt`); at the end of a line after a signature's greeting ("Mit freundlichen Grüßen", "Viele Grüße", "MfG", "LG", "Best regards") |
//! | `[NUMMER]`     | any other number of seven or more digits (customer, file, health-insurance numbers: `A123456780`) |
//!
//! # Not covered
//!
//! Each has a line in `tests/fixtures/pii/not_covered.tsv`, which the benchmark measures.
//!
//! - Names without an introducing phrase ("Anna Schmidt hat angerufen", "ich, Olga
//!   Petrova, beantrage"), names in lower case after "Herr", "Frau" or a relative ("frau
//!   weber"), and first names missing from `first_names.txt` after "ich bin" or "Hallo".
//! - Streets in lower case that begin with a preposition ("am harras 5"), streets with
//!   neither a street word nor a preposition ("Tal 12"), streets named with a date
//!   ("Straße des 17. Juni 135"), house numbers above 999, and a postcode with a town alone.
//! - Outside a birth phrase, dates in words with a two-digit year ("Einreise am 3. Juli 85")
//!   and dates without a year ("am 3. Juli" stays: it is how opening hours are asked), and ages.
//! - Phone numbers with neither a leading `0`, `+` or `00` nor a phone word before them
//!   ("ruf an unter 233 96000"), and numbers grouped with dots (`089.233.96000`).
//! - E-mail addresses spelled with plain words ("max at web dot de") or mistyped
//!   ("anna@gmx,de").
//!
//! # Masked more than needed
//!
//! - Every full date, also one that is not personal ("ab 01.01.2025"), and every street
//!   with a house number, also a public office's.
//! - A capitalised noun right after a name introduced by "Herr"/"Frau" ("Frau Müller
//!   Bescheid geben"); a list after a plural is one `[NAME]` ("meine Kinder [NAME]" for
//!   "Lena und Paul"); digits after a short phone number ("030 1234567 12 Uhr").
//!
//! Licence plates ("M AB 1234") are not personal on their own and stay.

mod addresses;
mod contact;
mod dates;
mod identifiers;
mod names;
mod scan;

use std::borrow::Cow;
use std::ops::Range;

use scan::is_word;

/// What a masked stretch of text was; its label replaces it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Email,
    Iban,
    PensionNumber,
    Date,
    IdDocument,
    Phone,
    TaxId,
    TaxNumber,
    Address,
    Name,
    Number,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::Email => "[E-MAIL]",
            Kind::Iban => "[IBAN]",
            Kind::PensionNumber => "[RV-NR]",
            Kind::Date => "[DATUM]",
            Kind::IdDocument => "[AUSWEIS-NR]",
            Kind::Phone => "[TELEFON]",
            Kind::TaxId => "[STEUER-ID]",
            Kind::TaxNumber => "[STEUER-NR]",
            Kind::Address => "[ADRESSE]",
            Kind::Name => "[NAME]",
            Kind::Number => "[NUMMER]",
        }
    }
}

/// The recognisers, most specific first: where two findings overlap, the earlier one wins
/// (an IBAN's digits are not a phone number, an e-mail address's local part not a name).
const RECOGNISERS: [fn(&mut Findings); 11] = [
    contact::emails,
    identifiers::ibans,
    identifiers::pension_numbers,
    dates::find,
    identifiers::introduced,
    contact::introduced_phones,
    identifiers::tax_ids_and_documents,
    contact::phones,
    addresses::find,
    names::find,
    identifiers::other_numbers,
];

/// The text with personal data replaced by labels such as `[IBAN]`; borrowed when nothing
/// was found.
pub fn mask(text: &str) -> Cow<'_, str> {
    let mut found = Findings::new(text);
    for recognise in RECOGNISERS {
        recognise(&mut found);
    }
    found.render()
}

/// What the recognisers found so far. Each byte belongs to at most one finding; the
/// bookkeeping is an array as long as the text, so adding and rendering stay linear.
struct Findings<'t> {
    text: &'t str,
    /// For each byte of the text: 0 if free, else the index of its finding plus one.
    owner: Vec<u32>,
    spans: Vec<(Range<usize>, Kind)>,
}

impl<'t> Findings<'t> {
    fn new(text: &'t str) -> Self {
        Findings {
            text,
            owner: Vec::new(),
            spans: Vec::new(),
        }
    }

    /// Records `range` as `kind`. Where an earlier finding already holds part of it, the
    /// free part before that is kept if it still holds a word: "Name: Anna Schmidt
    /// Leopoldstraße 12" masks the name up to the address.
    fn add(&mut self, kind: Kind, range: Range<usize>) {
        if self.owner.is_empty() {
            self.owner = vec![0; self.text.len()];
        }
        let taken = self.owner[range.clone()].iter().position(|&o| o != 0);
        let end = match taken {
            None => range.end,
            Some(offset) => {
                let cut = &self.text[range.start..range.start + offset];
                range.start + cut.trim_end_matches(|c: char| !is_word(c)).len()
            }
        };
        if !self.text[range.start..end].chars().any(is_word) {
            return;
        }
        self.spans.push((range.start..end, kind));
        let id = u32::try_from(self.spans.len()).expect("fewer findings than bytes");
        self.owner[range.start..end].fill(id);
    }

    fn render(self) -> Cow<'t, str> {
        if self.spans.is_empty() {
            return Cow::Borrowed(self.text);
        }
        let mut out = String::with_capacity(self.text.len());
        let mut at = 0;
        while let Some(offset) = self.owner[at..].iter().position(|&o| o != 0) {
            let (range, kind) = &self.spans[self.owner[at + offset] as usize - 1];
            out.push_str(&self.text[at..range.start]);
            out.push_str(kind.label());
            at = range.end;
        }
        out.push_str(&self.text[at..]);
        Cow::Owned(out)
    }
}

#[cfg(test)]
mod tests {
    use super::mask;

    /// The cases: input and expected output, tab-separated; `\n` stands for a line break.
    const CASES: &str = include_str!("../../tests/fixtures/pii/cases.tsv");
    /// Ordinary questions without personal data, one a line.
    const ORDINARY: &str = include_str!("../../tests/fixtures/pii/ordinary.txt");

    fn lines(fixture: &str) -> impl Iterator<Item = &str> {
        fixture
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
    }

    fn cases() -> Vec<(String, String)> {
        lines(CASES)
            .map(|l| {
                let (input, expected) = l
                    .split_once('\t')
                    .unwrap_or_else(|| panic!("no tab in case {l:?}"));
                (input.replace("\\n", "\n"), expected.replace("\\n", "\n"))
            })
            .collect()
    }

    #[test]
    fn fixture_is_large_enough() {
        assert!(cases().len() >= 100, "{} cases", cases().len());
        assert!(lines(ORDINARY).count() >= 60);
    }

    #[test]
    fn masks_every_case_exactly() {
        let failed: Vec<String> = cases()
            .iter()
            .filter_map(|(input, expected)| {
                let got = mask(input);
                (got != *expected)
                    .then(|| format!("  {input:?}\n  want {expected:?}\n  got  {got:?}"))
            })
            .collect();
        assert!(
            failed.is_empty(),
            "{} cases:\n{}",
            failed.len(),
            failed.join("\n")
        );
    }

    #[test]
    fn leaves_ordinary_questions_alone() {
        let changed: Vec<String> = lines(ORDINARY)
            .filter_map(|q| {
                let got = mask(q);
                (got != q).then(|| format!("  {q:?}\n  got {got:?}"))
            })
            .collect();
        assert!(
            changed.is_empty(),
            "{} changed:\n{}",
            changed.len(),
            changed.join("\n")
        );
    }

    #[test]
    fn borrows_when_nothing_is_found() {
        assert!(matches!(
            mask("Wo ist das Bürgerbüro?"),
            std::borrow::Cow::Borrowed(_)
        ));
    }

    #[test]
    fn masking_is_idempotent() {
        for (_, expected) in cases() {
            assert_eq!(mask(&expected), expected);
        }
    }
}
