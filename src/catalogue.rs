//! Moving the catalogue between its sources, the store and the dialogue core: imports from a
//! DLDB export or a knowledge folder, export back to files, and loading what is published.

use std::path::Path;

use crate::conversations::now_ms;
use crate::dialogue::Knowledge;
use crate::knowledge::{Catalogue, ImportReport, dldb, files};
use crate::language::Synonyms;
use crate::search::SearchError;
use crate::semantic::{self, Embedder, Purpose, Vectors};
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Dldb(#[from] dldb::DldbError),
    #[error(transparent)]
    Files(#[from] files::FilesError),
    #[error(transparent)]
    Search(#[from] SearchError),
    #[error("{path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
}

fn read(path: &Path) -> Result<String, CatalogueError> {
    std::fs::read_to_string(path).map_err(|source| CatalogueError::Read {
        path: path.display().to_string(),
        source,
    })
}

/// Reports synonym lines that do not parse, so an admin sees them at import.
fn check_synonyms(name: &str, text: &str, report: &mut ImportReport) {
    for e in Synonyms::parse(text).1 {
        report.skipped.push(crate::knowledge::Skipped {
            id: format!("{name} {}", e.line),
            reason: e.message,
        });
    }
}

/// Imports a DLDB export (services and locations files). Entries are updated in place by id.
pub async fn import_dldb(
    store: &dyn Store,
    services: &Path,
    locations: &Path,
) -> Result<ImportReport, CatalogueError> {
    let dldb::Export {
        mut entries,
        offices,
        skipped,
    } = dldb::parse(&read(services)?, &read(locations)?)?;
    let mut report = ImportReport {
        skipped,
        ..Default::default()
    };
    dldb::link_offices(&mut entries, &offices, &mut report);
    let now = now_ms();
    store.put_offices(&offices, now).await?;
    report.offices = offices.len();
    for (e, change) in entries.iter().zip(store.put_entries(&entries, now).await?) {
        report.count(e.id.as_str(), change);
    }
    Ok(report)
}

/// Imports a knowledge folder: entries, offices and synonym lists.
pub async fn import_files(store: &dyn Store, dir: &Path) -> Result<ImportReport, CatalogueError> {
    let folder = files::read_folder(dir)?;
    let mut report = ImportReport {
        skipped: folder.skipped,
        ..Default::default()
    };
    let now = now_ms();
    store.put_offices(&folder.offices, now).await?;
    report.offices = folder.offices.len();
    for (e, change) in folder
        .entries
        .iter()
        .zip(store.put_entries(&folder.entries, now).await?)
    {
        report.count(e.id.as_str(), change);
    }
    if let Some(text) = folder.synonyms {
        check_synonyms("synonyms.txt line", &text, &mut report);
        store.put_synonyms("de", &text, now).await?;
    }
    if let Some(text) = folder.synonyms_en {
        check_synonyms("synonyms-en.txt line", &text, &mut report);
        store.put_synonyms("en", &text, now).await?;
    }
    Ok(report)
}

/// Imports only the synonym lists of a knowledge folder (for a catalogue from elsewhere).
pub async fn import_synonyms(
    store: &dyn Store,
    dir: &Path,
) -> Result<ImportReport, CatalogueError> {
    let mut report = ImportReport::default();
    for (name, lang) in [("synonyms.txt", "de"), ("synonyms-en.txt", "en")] {
        let path = dir.join(name);
        if path.exists() {
            let text = read(&path)?;
            check_synonyms(&format!("{name} line"), &text, &mut report);
            store.put_synonyms(lang, &text, now_ms()).await?;
        }
    }
    Ok(report)
}

/// Writes the stored catalogue as a knowledge folder.
pub async fn export_files(store: &dyn Store, dir: &Path) -> Result<usize, CatalogueError> {
    let catalogue = load(store).await?;
    let offices: Vec<_> = catalogue.offices.into_values().collect();
    Ok(files::write_folder(
        dir,
        &catalogue.entries,
        &offices,
        &catalogue.synonyms,
        &catalogue.synonyms_en,
    )?)
}

/// The stored catalogue.
pub async fn load(store: &dyn Store) -> Result<Catalogue, CatalogueError> {
    Ok(Catalogue {
        entries: store.entries().await?,
        offices: store
            .offices()
            .await?
            .into_iter()
            .map(|o| (o.id.clone(), o))
            .collect(),
        synonyms: store.synonyms("de").await?.unwrap_or_default(),
        synonyms_en: store.synonyms("en").await?.unwrap_or_default(),
    })
}

/// The stored catalogue, indexed and ready for the dialogue core. With an embedder, every
/// entry is embedded too; when the service fails, Rathaus goes on without meaning-based
/// search and says so in the log.
pub async fn knowledge(
    store: &dyn Store,
    embedder: Option<&Embedder>,
) -> Result<Knowledge, CatalogueError> {
    let catalogue = load(store).await?;
    let passages: Vec<String> = catalogue.entries.iter().map(semantic::passage).collect();
    let mut knowledge = tokio::task::spawn_blocking(move || Knowledge::build(catalogue))
        .await
        .map_err(|e| CatalogueError::Store(StoreError::Database(e.to_string())))??;
    if let Some(embedder) = embedder.filter(|_| !passages.is_empty()) {
        match embedder.embed(&passages, Purpose::Passage).await {
            Ok(rows) => knowledge.vectors = Vectors::new(rows),
            Err(e) => {
                tracing::warn!(error = %e, "entries not embedded: answering without meaning-based search")
            }
        }
    }
    Ok(knowledge)
}
