//! Masks personal data that citizens type (IBAN, e-mail addresses, phone numbers, tax ids,
//! ID-card and passport numbers, dates such as a date of birth) before text is logged,
//! counted or sent anywhere. The transcript itself keeps what the citizen wrote.
//! Masking errs on the side of hiding: a number that looks like a phone number is hidden.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::Regex;

struct Rule {
    pattern: Regex,
    label: &'static str,
}

static RULES: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    let rule = |p: &str, label| Rule {
        pattern: Regex::new(p).expect("valid PII pattern"),
        label,
    };
    vec![
        // E-mail first: its digits must not be taken for a phone number.
        rule(r"(?i)\b[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}\b", "[E-MAIL]"),
        // IBAN: two letters, two check digits, 11 to 30 more characters, spaces allowed in fours.
        rule(
            r"(?i)\b[a-z]{2}\d{2}(?:[ ]?[a-z0-9]{4}){2,7}(?:[ ]?[a-z0-9]{1,4})?\b",
            "[IBAN]",
        ),
        // Dates (a date of birth among them): 01.02.1990, 1.2.90, 1990-02-01.
        rule(
            r"\b(?:\d{1,2}\.\d{1,2}\.(?:\d{4}|\d{2})|\d{4}-\d{2}-\d{2})\b",
            "[DATUM]",
        ),
        // German tax id: eleven digits, often grouped.
        rule(r"\b\d{2}[ ]?\d{3}[ ]?\d{3}[ ]?\d{3}\b", "[STEUER-ID]"),
        // ID card, passport and residence-card numbers: nine characters of the ICAO
        // alphabet with at least one digit, e.g. L01X00T47 or C01X00T4.
        rule(
            r"\b(?-i:[CFGHJKLMNPRTVWXYZ](?:[CFGHJKLMNPRTVWXYZ]*\d)[CFGHJKLMNPRTVWXYZ0-9]{6,8})\b",
            "[AUSWEIS-NR]",
        ),
        // Phone numbers: +49 or a leading 0, then at least six more digits with separators.
        rule(r"(?:\+|\b00|\b0)\d[\d /().-]{5,}\d", "[TELEFON]"),
    ]
});

/// The text with personal data replaced by labels such as `[IBAN]`.
pub fn mask(text: &str) -> Cow<'_, str> {
    let mut out = Cow::Borrowed(text);
    for rule in RULES.iter() {
        if rule.pattern.is_match(&out) {
            out = Cow::Owned(rule.pattern.replace_all(&out, rule.label).into_owned());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::mask;

    #[test]
    fn masks_each_kind_of_personal_data() {
        let cases = [
            (
                "Meine IBAN ist DE89 3704 0044 0532 0130 00, bitte.",
                "Meine IBAN ist [IBAN], bitte.",
            ),
            ("IBAN DE89370400440532013000", "IBAN [IBAN]"),
            (
                "Schreiben Sie an max.muster@example.org!",
                "Schreiben Sie an [E-MAIL]!",
            ),
            (
                "Rufen Sie mich an: 0171 2345678",
                "Rufen Sie mich an: [TELEFON]",
            ),
            ("oder +49 (89) 233-96000", "oder [TELEFON]"),
            ("Steuer-ID 12 345 678 901", "Steuer-ID [STEUER-ID]"),
            ("Ausweisnummer L01X00T47", "Ausweisnummer [AUSWEIS-NR]"),
            (
                "geboren am 03.07.1985 in Köln",
                "geboren am [DATUM] in Köln",
            ),
            ("born 1985-07-03", "born [DATUM]"),
        ];
        for (input, expected) in cases {
            assert_eq!(mask(input), expected, "{input}");
        }
    }

    #[test]
    fn leaves_ordinary_text_alone() {
        for text in [
            "Was kostet ein Reisepass für mein 10-jähriges Kind?",
            "Ich werde nächstes Jahr 67.",
            "Aufenthaltserlaubnis nach § 24 AufenthG",
            "Mein Auto hat das Kennzeichen M AB 1234",
            "BAföG für die Fachakademie",
        ] {
            assert_eq!(mask(text), text);
        }
    }
}
