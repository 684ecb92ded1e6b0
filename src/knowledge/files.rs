//! The `knowledge/` folder format (see docs/knowledge-format.md): one Markdown file with TOML
//! front matter per entry, one TOML file per office, and the synonym lists. Reading reports
//! each bad file by name and goes on; writing produces files that read back the same.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::html::{lead, sanitize, to_text};
use super::{Entry, EntryId, Links, Office, OfficeId, Skipped, Translation};

const SUMMARY_CHARS: usize = 280;

#[derive(Debug, thiserror::Error)]
pub enum FilesError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0} is not a knowledge folder (no entries/ inside)")]
    NotAFolder(PathBuf),
}

/// The front matter of an entry file.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FrontMatter {
    id: EntryId,
    name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    summary: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    keywords: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    questions: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    offices: Vec<OfficeId>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    documents: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    fees: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    plain_language: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    updated: Option<String>,
    #[serde(default)]
    links: Links,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    translations: BTreeMap<String, Translation>,
}

/// What a knowledge folder holds.
#[derive(Debug, Default)]
pub struct Folder {
    pub entries: Vec<Entry>,
    pub offices: Vec<Office>,
    pub synonyms: Option<String>,
    pub synonyms_en: Option<String>,
    pub skipped: Vec<Skipped>,
}

fn read(path: &Path) -> Result<String, FilesError> {
    fs::read_to_string(path).map_err(|source| FilesError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn sorted_files(dir: &Path, ext: &str) -> Result<Vec<PathBuf>, FilesError> {
    if !dir.exists() {
        return Ok(Vec::new());
    }
    let list = fs::read_dir(dir).map_err(|source| FilesError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut files: Vec<PathBuf> = list
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .collect();
    files.sort();
    Ok(files)
}

/// An entry as a test writes one: an id, a name and a text.
#[cfg(test)]
pub(crate) fn test_entry(id: &str, name: &str, text: &str) -> Entry {
    parse_entry(&format!(
        "+++\nid = \"{id}\"\nname = \"{name}\"\n+++\n{text}\n"
    ))
    .expect("a test entry parses")
}

/// Parses one entry file: `+++`, TOML, `+++`, Markdown body.
pub fn parse_entry(text: &str) -> Result<Entry, String> {
    let text = text.trim_start_matches('\u{feff}');
    let rest = text
        .strip_prefix("+++")
        .ok_or("file must start with a +++ line")?;
    let (front, body) = rest
        .split_once("\n+++")
        .ok_or("front matter has no closing +++ line")?;
    let fm: FrontMatter = toml::from_str(front).map_err(|e| e.message().to_string())?;
    let markdown = body.trim_start_matches(['\r', '\n']).trim_end().to_string();
    let html = markdown_to_html(&markdown);
    let description = to_text(&html);
    let summary = if fm.summary.trim().is_empty() {
        lead(&description, SUMMARY_CHARS)
    } else {
        fm.summary
    };
    if fm.name.trim().is_empty() {
        return Err("name is empty".into());
    }
    Ok(Entry {
        id: fm.id,
        name: fm.name,
        summary,
        description,
        description_html: (!html.is_empty()).then_some(html),
        fees: fm
            .fees
            .map(|f| f.trim().to_string())
            .filter(|f| !f.is_empty()),
        documents: fm.documents,
        offices: fm.offices,
        links: fm.links,
        keywords: fm.keywords,
        questions: fm.questions,
        translations: fm.translations,
        plain_language: fm
            .plain_language
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty()),
        updated: fm.updated,
    })
}

fn markdown_to_html(markdown: &str) -> String {
    let parser = pulldown_cmark::Parser::new(markdown);
    let mut html = String::new();
    pulldown_cmark::html::push_html(&mut html, parser);
    sanitize(&html)
}

/// Writes one entry file. The description is written as plain text, which is valid Markdown.
pub fn render_entry(entry: &Entry) -> String {
    let fm = FrontMatter {
        id: entry.id.clone(),
        name: entry.name.clone(),
        summary: entry.summary.clone(),
        keywords: entry.keywords.clone(),
        questions: entry.questions.clone(),
        offices: entry.offices.clone(),
        documents: entry.documents.clone(),
        fees: entry.fees.clone(),
        plain_language: entry.plain_language.clone(),
        updated: entry.updated.clone(),
        links: entry.links.clone(),
        translations: entry.translations.clone(),
    };
    let front = toml::to_string_pretty(&fm).unwrap_or_default();
    format!(
        "+++\n{front}+++\n\n{}\n",
        markdown_escape(&entry.description)
    )
}

/// Plain text as Markdown that renders back to the same text: list bullets stay bullets,
/// characters Markdown would read as formatting are escaped.
fn markdown_escape(text: &str) -> String {
    text.lines()
        .map(|line| {
            let (bullet, rest) = match line.strip_prefix("* ") {
                Some(rest) => ("* ", rest),
                None => ("", line),
            };
            let mut out = String::from(bullet);
            for (i, ch) in rest.chars().enumerate() {
                let at_start = i == 0;
                if matches!(ch, '\\' | '*' | '_' | '`' | '[' | ']' | '<' | '>')
                    || (at_start && matches!(ch, '#' | '+' | '-' | '='))
                {
                    out.push('\\');
                }
                out.push(ch);
            }
            out
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Reads a knowledge folder. Bad files are reported in `skipped` by file name.
pub fn read_folder(dir: &Path) -> Result<Folder, FilesError> {
    if !dir.join("entries").is_dir() {
        return Err(FilesError::NotAFolder(dir.to_path_buf()));
    }
    let mut folder = Folder::default();
    for path in sorted_files(&dir.join("entries"), "md")? {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        match parse_entry(&read(&path)?) {
            Ok(e) => folder.entries.push(e),
            Err(reason) => folder.skipped.push(Skipped {
                id: format!("entries/{name}"),
                reason,
            }),
        }
    }
    for path in sorted_files(&dir.join("offices"), "toml")? {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        match toml::from_str::<Office>(&read(&path)?) {
            Ok(o) => folder.offices.push(o),
            Err(e) => folder.skipped.push(Skipped {
                id: format!("offices/{name}"),
                reason: e.message().to_string(),
            }),
        }
    }
    let optional = |name: &str| -> Result<Option<String>, FilesError> {
        let p = dir.join(name);
        if p.exists() {
            read(&p).map(Some)
        } else {
            Ok(None)
        }
    };
    folder.synonyms = optional("synonyms.txt")?;
    folder.synonyms_en = optional("synonyms-en.txt")?;
    Ok(folder)
}

/// Writes a knowledge folder that [`read_folder`] reads back to the same catalogue.
pub fn write_folder(
    dir: &Path,
    entries: &[Entry],
    offices: &[Office],
    synonyms: &str,
    synonyms_en: &str,
) -> Result<usize, FilesError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| FilesError::Io { path, source }
    };
    for sub in ["entries", "offices"] {
        fs::create_dir_all(dir.join(sub)).map_err(io(&dir.join(sub)))?;
    }
    for e in entries {
        let path = dir.join("entries").join(format!("{}.md", e.id));
        fs::write(&path, render_entry(e)).map_err(io(&path))?;
    }
    for o in offices {
        let path = dir.join("offices").join(format!("{}.toml", o.id));
        let text = toml::to_string_pretty(o).unwrap_or_default();
        fs::write(&path, text).map_err(io(&path))?;
    }
    for (name, text) in [("synonyms.txt", synonyms), ("synonyms-en.txt", synonyms_en)] {
        if !text.is_empty() {
            let path = dir.join(name);
            fs::write(&path, text).map_err(io(&path))?;
        }
    }
    Ok(entries.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENTRY: &str = r#"+++
id = "personalausweis"
name = "Personalausweis beantragen"
keywords = ["Perso"]
offices = ["buergerbuero"]
documents = ["bisheriger Ausweis", "ein biometrisches Passfoto"]
fees = "37,00 Euro"

[links]
source = "https://www.musterstadt.example/service/personalausweis"
booking = "https://termine.musterstadt.example/pa"
+++

Sie brauchen einen **gültigen** Ausweis. Mehr im [Portal](https://portal.example).

- Punkt eins
- Punkt zwei
"#;

    #[test]
    fn entry_file_parses_with_text_and_html() {
        let e = parse_entry(ENTRY).unwrap();
        assert_eq!(e.id.as_str(), "personalausweis");
        assert_eq!(
            e.summary,
            "Sie brauchen einen gültigen Ausweis. Mehr im Portal (https://portal.example)."
        );
        assert!(
            e.description.contains("Portal (https://portal.example)"),
            "{}",
            e.description
        );
        assert!(e.description.contains("* Punkt zwei"));
        assert!(
            e.description_html
                .as_deref()
                .unwrap()
                .contains("<strong>gültigen</strong>")
        );
        assert_eq!(
            e.links.booking.as_deref(),
            Some("https://termine.musterstadt.example/pa")
        );
    }

    #[test]
    fn bad_front_matter_is_a_message_not_a_panic() {
        assert!(parse_entry("no front matter").is_err());
        assert!(parse_entry("+++\nid = \"x\"\n").is_err());
        let err = parse_entry("+++\nid = \"x\"\nname = \"X\"\nunknown = 1\n+++\n").unwrap_err();
        assert!(err.contains("unknown"), "{err}");
        assert!(parse_entry("+++\nid = \"a/b\"\nname = \"X\"\n+++\n").is_err());
    }

    #[test]
    fn written_entries_read_back_the_same() {
        let e = parse_entry(ENTRY).unwrap();
        let again = parse_entry(&render_entry(&e)).unwrap();
        assert_eq!(again.description, e.description);
        assert_eq!(again.summary, e.summary);
        assert_eq!(again.documents, e.documents);
        assert_eq!(again.links, e.links);
        assert_eq!(again.fees, e.fees);
    }
}
