//! Moving the catalogue between its sources, the store and the dialogue core: imports from a
//! DLDB export or a knowledge folder, export back to files, and loading what is published.

use std::path::Path;
use std::sync::Arc;

use crate::dialogue::Knowledge;
use crate::dialogue::phrasings::Phrasings;
use crate::domain::now_ms;
use crate::knowledge::{Catalogue, Entry, ImportReport, dldb, files};
use crate::language::{Synonyms, Thesaurus};
use crate::search::{SearchError, SearchIndex};
use crate::semantic::{self, Embedder, Matrix, Purpose, Vectors, View};
use crate::store::{Store, StoreError, text_digest};

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
    keep_own_words(&mut entries, store.entries().await?);
    let now = now_ms();
    store.put_offices(&offices, now).await?;
    report.offices = offices.len();
    for (e, change) in entries.iter().zip(store.put_entries(&entries, now).await?) {
        report.count(e.id.as_str(), change);
    }
    Ok(report)
}

/// A city's own example questions and keywords of an entry outlive a re-import of its
/// export, which has neither the questions nor the keywords added since.
fn keep_own_words(entries: &mut [Entry], stored: Vec<Entry>) {
    let mut stored: std::collections::HashMap<_, _> =
        stored.into_iter().map(|e| (e.id.clone(), e)).collect();
    for e in entries {
        let Some(old) = stored.remove(&e.id) else {
            continue;
        };
        e.questions = old.questions;
        for k in old.keywords {
            if !e.keywords.iter().any(|x| x.eq_ignore_ascii_case(&k)) {
                e.keywords.push(k);
            }
        }
    }
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

/// The stored catalogue, indexed and ready for the dialogue core, with the intents'
/// phrasings. With an embedder, every entry's views and every phrasing get their vectors
/// (from the store's cache where a text was embedded before); when the model or service
/// fails, Rathaus goes on by words only and says so in the log.
pub async fn knowledge(
    store: &dyn Store,
    embedder: Option<&Embedder>,
    phrasings: Phrasings,
    thesaurus: Option<Arc<Thesaurus>>,
) -> Result<Knowledge, CatalogueError> {
    let catalogue = load(store).await?;
    let views: Vec<(usize, View, String)> = catalogue
        .entries
        .iter()
        .enumerate()
        .flat_map(|(i, e)| semantic::views(e).into_iter().map(move |(v, t)| (i, v, t)))
        .collect();
    let entries = catalogue.entries.len();
    let mut knowledge = tokio::task::spawn_blocking(move || {
        SearchIndex::build(&catalogue, thesaurus)
            .map(|index| Knowledge::new(catalogue, index, phrasings))
    })
    .await
    .map_err(|e| CatalogueError::Store(StoreError::Database(e.to_string())))??;
    let Some(embedder) = embedder.filter(|_| !views.is_empty()) else {
        return Ok(knowledge);
    };
    let started = std::time::Instant::now();
    let texts: Vec<String> = views.iter().map(|(_, _, t)| t.clone()).collect();
    let phrasing_texts = knowledge.phrasings.texts().to_vec();
    // Phrasings are embedded as passages, as the entries' views are, so that a message's
    // similarity to a phrasing and to an entry are on one scale (e5 puts two queries closer
    // together than a query and a passage).
    let embedded = match embed_cached(store, embedder, &texts, Purpose::Passage).await {
        Ok(rows) => embed_cached(store, embedder, &phrasing_texts, Purpose::Passage)
            .await
            .map(|p| (rows, p)),
        Err(e) => Err(e),
    };
    match embedded {
        Ok((rows, phrasing_rows)) => {
            knowledge.vectors = Vectors::new(
                views
                    .into_iter()
                    .zip(rows)
                    .map(|((i, v, _), row)| (i, v, row))
                    .collect(),
                entries,
            );
            if let Some(m) = Matrix::new(phrasing_rows) {
                knowledge.phrasings.set_vectors(m);
            }
            tracing::info!(
                views = texts.len(),
                phrasings = phrasing_texts.len(),
                ms = started.elapsed().as_millis() as u64,
                "catalogue embedded"
            );
        }
        Err(e) => {
            tracing::warn!(error = %e, "catalogue not embedded: answering by words only")
        }
    }
    Ok(knowledge)
}

#[derive(Debug, thiserror::Error)]
enum EmbedCacheError {
    #[error(transparent)]
    Embed(#[from] semantic::EmbedError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The vectors of texts, from the store's cache where the model embedded them before; the
/// others are embedded now and cached.
async fn embed_cached(
    store: &dyn Store,
    embedder: &Embedder,
    texts: &[String],
    purpose: Purpose,
) -> Result<Vec<Vec<f32>>, EmbedCacheError> {
    let key = |t: &str| text_digest(&format!("{purpose:?}:{t}"));
    let mut cached: std::collections::HashMap<String, Vec<f32>> = store
        .embeddings(embedder.model())
        .await?
        .into_iter()
        .collect();
    let missing: Vec<String> = texts
        .iter()
        .filter(|t| !cached.contains_key(&key(t)))
        .cloned()
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    if !missing.is_empty() {
        tracing::info!(texts = missing.len(), "embedding texts not seen before");
        let vectors = embedder.embed(&missing, purpose).await?;
        let rows: Vec<(String, Vec<f32>)> = missing.iter().map(|t| key(t)).zip(vectors).collect();
        store
            .put_embeddings(embedder.model(), &rows, now_ms())
            .await?;
        cached.extend(rows);
    }
    Ok(texts
        .iter()
        .map(|t| cached.get(&key(t)).cloned())
        .map(|v| v.expect("every text has its vector"))
        .collect())
}
