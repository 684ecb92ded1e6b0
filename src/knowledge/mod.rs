//! The city's service catalogue: entries, offices and their opening hours, as the rest of
//! Rathaus sees them, whatever file or export they came from. Plain data with validation at
//! the edge; importers live beside it (`dldb`, `files`), search does not.

pub mod dldb;
pub mod files;
pub mod holidays;
mod hours;
pub mod html;

pub use hours::{Day, Exception, OpeningHours, Period, Weekday, periods_text};

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// Words with which catalogue texts introduce what to bring ("Bitte bringen Sie mit:").
pub const DOCUMENT_CUES: &[&str] = &[
    "mitbringen",
    "mitzubringen",
    "bringen sie",
    "unterlagen",
    "dokumente",
    "nachweis",
    "benötigen sie",
    "brauchen sie",
    "vorlegen",
    "vorzulegen",
    "erforderlich",
];

/// A stable entry id, kept from its source (the DLDB service id, a file name).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EntryId(String);

/// The id of an office (a DLDB location id, a file name).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OfficeId(String);

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("invalid id '{0}': use 1 to 64 letters, digits, '-', '_' or '.'")]
pub struct InvalidId(pub String);

fn valid_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !s.starts_with('.')
}

macro_rules! id_type {
    ($t:ident) => {
        impl TryFrom<String> for $t {
            type Error = InvalidId;
            fn try_from(s: String) -> Result<Self, InvalidId> {
                if valid_id(&s) {
                    Ok($t(s))
                } else {
                    Err(InvalidId(s))
                }
            }
        }
        impl std::str::FromStr for $t {
            type Err = InvalidId;
            fn from_str(s: &str) -> Result<Self, InvalidId> {
                $t::try_from(s.to_string())
            }
        }
        impl From<$t> for String {
            fn from(id: $t) -> String {
                id.0
            }
        }
        impl $t {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}
id_type!(EntryId);
id_type!(OfficeId);

/// A named link (a form, a further page).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Link {
    pub name: String,
    pub url: String,
}

/// Where an entry comes from and where a citizen goes next.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Links {
    /// The entry's own page: every answer names it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Appointment booking.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub booking: Option<String>,
    /// The online service, where the matter can be done without a visit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub online: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub forms: Vec<Link>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub more: Vec<Link>,
}

/// An entry's text in another language.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Translation {
    pub name: String,
    #[serde(default)]
    pub summary: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// One service of the catalogue, in the city's own words.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub id: EntryId,
    pub name: String,
    /// One or two sentences; empty when the source has no description.
    #[serde(default)]
    pub summary: String,
    /// Plain text, paragraphs separated by blank lines, list items starting with "* ".
    #[serde(default)]
    pub description: String,
    /// Sanitised HTML for channels that show rich text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description_html: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fees: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub documents: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub offices: Vec<OfficeId>,
    #[serde(default)]
    pub links: Links,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keywords: Vec<String>,
    /// Questions citizens ask about the entry, in their words: searched by words and by
    /// meaning like the name. A city's own; a re-import of its export keeps them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub questions: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub translations: BTreeMap<String, Translation>,
    /// The entry in Leichte Sprache, where the city has written one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plain_language: Option<String>,
    /// Date of the last change at the source (YYYY-MM-DD).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated: Option<String>,
}

/// A place citizens go to: address, contact, opening hours.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Office {
    pub id: OfficeId,
    pub name: String,
    #[serde(default)]
    pub street: String,
    #[serde(default)]
    pub postal_code: String,
    #[serde(default)]
    pub city: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accessibility: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(default, flatten)]
    pub hours: OpeningHours,
}

impl Office {
    /// "Marktplatz 1, 01234 Musterstadt", leaving out what is missing.
    pub fn address(&self) -> String {
        let place = format!("{} {}", self.postal_code, self.city)
            .trim()
            .to_string();
        [self.street.trim(), place.as_str()]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Everything a published catalogue holds.
#[derive(Debug, Clone, Default)]
pub struct Catalogue {
    pub entries: Vec<Entry>,
    pub offices: BTreeMap<OfficeId, Office>,
    /// The synonym lists as the admin wrote them (German, then English).
    pub synonyms: String,
    pub synonyms_en: String,
}

impl Catalogue {
    pub fn entry(&self, id: &EntryId) -> Option<&Entry> {
        self.entries.iter().find(|e| &e.id == id)
    }
}

/// What an import did to one entry or office.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    Added,
    Updated,
    Unchanged,
}

/// What an import did, for the operator: counts, and every record it had to skip.
#[derive(Debug, Default, Clone, Serialize)]
pub struct ImportReport {
    pub added: Vec<String>,
    pub updated: Vec<String>,
    pub unchanged: usize,
    pub offices: usize,
    pub skipped: Vec<Skipped>,
}

/// A record that could not be imported, with the reason.
#[derive(Debug, Clone, Serialize)]
pub struct Skipped {
    pub id: String,
    pub reason: String,
}

impl ImportReport {
    pub fn count(&mut self, id: &str, change: Change) {
        match change {
            Change::Added => self.added.push(id.to_string()),
            Change::Updated => self.updated.push(id.to_string()),
            Change::Unchanged => self.unchanged += 1,
        }
    }
}

impl fmt::Display for ImportReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "entries: {} added, {} updated, {} unchanged; offices: {}; skipped: {}",
            self.added.len(),
            self.updated.len(),
            self.unchanged,
            self.offices,
            self.skipped.len()
        )?;
        for id in &self.updated {
            writeln!(f, "  updated {id}")?;
        }
        for s in &self.skipped {
            writeln!(f, "  skipped {}: {}", s.id, s.reason)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_checked_at_the_edge() {
        assert!("1063441".parse::<EntryId>().is_ok());
        assert!("personalausweis-beantragen".parse::<EntryId>().is_ok());
        assert!("".parse::<EntryId>().is_err());
        assert!("../etc/passwd".parse::<EntryId>().is_err());
        assert!("a b".parse::<OfficeId>().is_err());
        assert!(serde_json::from_str::<EntryId>("\"x/y\"").is_err());
    }
}
