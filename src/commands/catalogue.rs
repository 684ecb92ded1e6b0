//! `rathaus import …` and `rathaus export …`: the catalogue moved between the database
//! and its outside forms (a DLDB export, a knowledge folder). The formats themselves are
//! read and written in [`crate::catalogue`], not here.

use std::path::PathBuf;

use super::progress;
use crate::catalogue;
use crate::store::{self, DatabaseUrl};

#[derive(clap::Subcommand)]
pub enum Import {
    /// A DLDB export (the format of the Berlin and Munich appointment systems).
    Dldb {
        #[arg(long)]
        services: PathBuf,
        #[arg(long)]
        locations: PathBuf,
        /// Also load the synonym lists from this knowledge folder.
        #[arg(long, default_value = "knowledge")]
        synonyms: Option<PathBuf>,
    },
    /// A knowledge folder (entries/, offices/, synonyms.txt, synonyms-en.txt).
    Files { dir: PathBuf },
}

#[derive(clap::Subcommand)]
pub enum Export {
    /// Write the catalogue as a knowledge folder.
    Files { dir: PathBuf },
}

/// Imports and prints what was added, updated and skipped.
pub async fn import(database: &DatabaseUrl, import: Import) -> anyhow::Result<()> {
    let store = store::open(database).await?;
    let report = match import {
        Import::Dldb {
            services,
            locations,
            synonyms,
        } => {
            let bar = progress(1);
            bar.set_message("importing the DLDB export");
            let mut report = catalogue::import_dldb(store.as_ref(), &services, &locations).await?;
            // The default folder may be missing where only a DLDB export is deployed.
            if let Some(dir) = synonyms.filter(|d| d.is_dir()) {
                report.skipped.extend(
                    catalogue::import_synonyms(store.as_ref(), &dir)
                        .await?
                        .skipped,
                );
            }
            bar.finish_and_clear();
            report
        }
        Import::Files { dir } => catalogue::import_files(store.as_ref(), &dir).await?,
    };
    print!("{report}");
    Ok(())
}

pub async fn export(database: &DatabaseUrl, export: Export) -> anyhow::Result<()> {
    let Export::Files { dir } = export;
    let store = store::open(database).await?;
    let n = catalogue::export_files(store.as_ref(), &dir).await?;
    println!("{n} entries written to {}", dir.display());
    Ok(())
}
