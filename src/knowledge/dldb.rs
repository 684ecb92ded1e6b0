//! Reads the DLDB export that the ZMS appointment systems of Berlin and Munich publish
//! (`services_de.json`, `locations_de.json`). Every record is converted on its own: a bad
//! record is reported with its id and skipped, it never stops the import.

use serde::Deserialize;
use serde_json::Value;

use super::html::{lead, sanitize, to_text};
use super::{Entry, EntryId, ImportReport, Link, Links, Office, OfficeId, OpeningHours, Skipped};

/// Longest summary cut from a description.
const SUMMARY_CHARS: usize = 280;

#[derive(Debug, thiserror::Error)]
pub enum DldbError {
    #[error("not a DLDB export: {0}")]
    Format(String),
    #[error("invalid JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// The records of an export file: `{"data": [...]}` or a bare array.
fn records(json: &str) -> Result<Vec<Value>, DldbError> {
    let value: Value = serde_json::from_str(json)?;
    match value {
        Value::Array(items) => Ok(items),
        Value::Object(mut map) => match map.remove("data") {
            Some(Value::Array(items)) => Ok(items),
            _ => Err(DldbError::Format(
                "expected an object with a \"data\" array".into(),
            )),
        },
        _ => Err(DldbError::Format("expected an array or an object".into())),
    }
}

fn record_id(v: &Value) -> String {
    match v.get("id") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => "(no id)".to_string(),
    }
}

#[derive(Deserialize)]
struct RawLink {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    link: Option<String>,
}

#[derive(Deserialize)]
struct RawService {
    id: Value,
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    fees: Option<String>,
    #[serde(default)]
    meta: Option<RawMeta>,
    #[serde(default)]
    locations: Vec<RawServiceLocation>,
    #[serde(default)]
    links: Vec<RawLink>,
    #[serde(default)]
    forms: Vec<RawLink>,
    #[serde(default)]
    appointment: Option<RawAppointment>,
}

#[derive(Deserialize, Default)]
struct RawMeta {
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    keywords: Option<String>,
    #[serde(default)]
    lastupdate: Option<String>,
}

#[derive(Deserialize)]
struct RawServiceLocation {
    location: Value,
    #[serde(default)]
    appointment: Option<RawAppointment>,
}

#[derive(Deserialize)]
struct RawAppointment {
    #[serde(default)]
    link: Option<String>,
    #[serde(default)]
    allowed: Option<bool>,
}

fn id_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn nonempty(s: Option<String>) -> Option<String> {
    s.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

fn links(raw: Vec<RawLink>) -> Vec<Link> {
    raw.into_iter()
        .filter_map(|l| {
            let url = nonempty(l.link)?;
            let name = nonempty(l.name).unwrap_or_else(|| url.clone());
            Some(Link {
                name: to_text(&name),
                url,
            })
        })
        .collect()
}

fn service(v: Value) -> Result<Entry, String> {
    let raw: RawService = serde_json::from_value(v).map_err(|e| e.to_string())?;
    let id_text = id_string(&raw.id).ok_or("missing id")?;
    let id: EntryId = id_text
        .parse()
        .map_err(|e: super::InvalidId| e.to_string())?;
    let name = to_text(&raw.name);
    if name.is_empty() {
        return Err("empty name".into());
    }
    let description_html = raw
        .description
        .as_deref()
        .map(sanitize)
        .filter(|h| !to_text(h).is_empty());
    let description = description_html.as_deref().map(to_text).unwrap_or_default();
    let meta = raw.meta.unwrap_or_default();
    let fill = |url: String| url.replace("{serviceId}", id.as_str());
    let source = nonempty(meta.url).map(fill);
    let bookable = raw.locations.iter().any(|l| {
        l.appointment
            .as_ref()
            .is_some_and(|a| a.allowed.unwrap_or(false))
    });
    let booking = raw
        .appointment
        .and_then(|a| nonempty(a.link))
        .filter(|_| bookable)
        .map(fill);
    let mut forms = links(raw.forms);
    let more: Vec<Link> = links(raw.links)
        .into_iter()
        .filter(|l| !forms.contains(l))
        .collect();
    forms.dedup();
    let keywords = meta
        .keywords
        .unwrap_or_default()
        .split(',')
        .map(|k| to_text(k.trim()))
        .filter(|k| !k.is_empty())
        .collect();
    let offices = raw
        .locations
        .iter()
        .filter_map(|l| id_string(&l.location)?.parse().ok())
        .collect();
    let fees = raw.fees.as_deref().map(to_text).filter(|f| !f.is_empty());
    Ok(Entry {
        summary: lead(&description, SUMMARY_CHARS),
        documents: documents(&description),
        id,
        name,
        description,
        description_html,
        fees,
        offices,
        links: Links {
            source,
            booking,
            online: None,
            forms,
            more,
        },
        keywords,
        questions: Vec::new(),
        translations: Default::default(),
        plain_language: None,
        updated: meta.lastupdate.map(|d| d.chars().take(10).collect()),
    })
}

/// The list of documents a description names after a lead-in such as "Bitte bringen Sie
/// mit:" or "Erforderliche Unterlagen:". Only list items right after such a line count.
pub fn documents(description: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_list = false;
    for line in description.lines() {
        let line = line.trim();
        if let Some(item) = line.strip_prefix("* ") {
            if in_list {
                out.push(item.trim().to_string());
            }
            continue;
        }
        let lower = line.to_lowercase();
        in_list = line.ends_with(':') && super::DOCUMENT_CUES.iter().any(|c| lower.contains(c));
    }
    out
}

fn location(v: Value) -> Result<Office, String> {
    #[derive(Deserialize)]
    struct RawLocation {
        id: Value,
        name: String,
        #[serde(default, rename = "displayName")]
        display_name: Option<String>,
        #[serde(default)]
        address: Option<RawAddress>,
        #[serde(default)]
        contact: Option<RawContact>,
    }
    #[derive(Deserialize, Default)]
    struct RawAddress {
        #[serde(default)]
        street: Option<String>,
        #[serde(default)]
        house_number: Option<String>,
        #[serde(default)]
        postal_code: Option<String>,
        #[serde(default)]
        city: Option<String>,
    }
    #[derive(Deserialize, Default)]
    struct RawContact {
        #[serde(default)]
        phone: Option<String>,
        #[serde(default)]
        email: Option<String>,
    }
    let raw: RawLocation = serde_json::from_value(v).map_err(|e| e.to_string())?;
    let id: OfficeId = id_string(&raw.id)
        .ok_or("missing id")?
        .parse()
        .map_err(|e: super::InvalidId| e.to_string())?;
    let address = raw.address.unwrap_or_default();
    let contact = raw.contact.unwrap_or_default();
    let street = [nonempty(address.street), nonempty(address.house_number)]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    Ok(Office {
        id,
        name: nonempty(raw.display_name)
            .map(|d| to_text(&d))
            .unwrap_or_else(|| to_text(&raw.name)),
        street,
        postal_code: nonempty(address.postal_code).unwrap_or_default(),
        city: nonempty(address.city).unwrap_or_default(),
        phone: nonempty(contact.phone),
        email: nonempty(contact.email),
        accessibility: None,
        note: None,
        hours: OpeningHours::default(),
    })
}

/// What a DLDB export holds: entries, offices, and the records that had to be skipped.
pub struct Export {
    pub entries: Vec<Entry>,
    pub offices: Vec<Office>,
    pub skipped: Vec<Skipped>,
}

/// The entries and offices of a DLDB export, and the records that had to be skipped.
pub fn parse(services_json: &str, locations_json: &str) -> Result<Export, DldbError> {
    let mut skipped = Vec::new();
    let mut entries = Vec::new();
    for v in records(services_json)? {
        let id = record_id(&v);
        match service(v) {
            Ok(e) => entries.push(e),
            Err(reason) => skipped.push(Skipped {
                id: format!("service {id}"),
                reason,
            }),
        }
    }
    let mut offices = Vec::new();
    for v in records(locations_json)? {
        let id = record_id(&v);
        match location(v) {
            Ok(o) => offices.push(o),
            Err(reason) => skipped.push(Skipped {
                id: format!("location {id}"),
                reason,
            }),
        }
    }
    Ok(Export {
        entries,
        offices,
        skipped,
    })
}

/// Keeps only the offices the import knows, so an entry never points nowhere.
pub fn link_offices(entries: &mut [Entry], offices: &[Office], report: &mut ImportReport) {
    let known: std::collections::HashSet<&OfficeId> = offices.iter().map(|o| &o.id).collect();
    for e in entries {
        let before = e.offices.len();
        e.offices.retain(|o| known.contains(o));
        if e.offices.len() < before {
            report.skipped.push(Skipped {
                id: format!("service {}", e.id),
                reason: format!(
                    "{} unknown office reference(s) dropped",
                    before - e.offices.len()
                ),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_records_are_skipped_with_their_id() {
        let services = r#"{"data": [
            {"id": "1", "name": "Personalausweis", "description": "<p>Sie erhalten den Ausweis.</p>",
             "fees": "<p>37&nbsp;Euro</p>", "meta": {"keywords": "Perso, Ausweis", "url": "https://x.example/s/{serviceId}"},
             "locations": [{"location": "10", "appointment": {"allowed": true}}],
             "appointment": {"link": "https://x.example/book/{serviceId}"}},
            {"id": "2", "name": 5},
            {"name": "ohne id"},
            {"id": "3", "name": "Leer", "description": "<p>\u200b</p>"}
        ]}"#;
        let locations = r#"{"data": [{"id": "10", "name": "Bürgerbüro", "address": {"street": "Ring", "house_number": "1", "postal_code": "80331", "city": "München"}, "contact": {"phone": "089 1"}}, {"id": 11}]}"#;
        let Export {
            entries,
            offices,
            skipped,
        } = parse(services, locations).unwrap();
        assert_eq!(entries.len(), 2);
        let e = &entries[0];
        assert_eq!(e.keywords, ["Perso", "Ausweis"]);
        assert_eq!(e.fees.as_deref(), Some("37 Euro"));
        assert_eq!(e.links.source.as_deref(), Some("https://x.example/s/1"));
        assert_eq!(e.links.booking.as_deref(), Some("https://x.example/book/1"));
        assert_eq!(entries[1].description, "");
        assert_eq!(entries[1].summary, "");
        assert_eq!(offices.len(), 1);
        assert_eq!(offices[0].address(), "Ring 1, 80331 München");
        let ids: Vec<&str> = skipped.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["service 2", "service (no id)", "location 11"]);
    }

    #[test]
    fn not_an_export_is_a_clear_error() {
        assert!(matches!(
            parse("{\"x\": 1}", "[]"),
            Err(DldbError::Format(_))
        ));
        assert!(matches!(parse("not json", "[]"), Err(DldbError::Json(_))));
    }

    #[test]
    fn documents_follow_a_lead_in() {
        let d = "Bitte bringen Sie mit:\n* Ihren Ausweis\n* ein Foto\n\nSonstiges:\n* nicht das";
        assert_eq!(documents(d), ["Ihren Ausweis", "ein Foto"]);
    }
}
