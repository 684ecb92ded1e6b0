//! How the commands answer: the global answering options, the [`Answering`] they make and
//! the dialogue core built from it. The one place the command line turns into answering
//! settings; the core itself is built by [`app::dialogue`] only.

use std::path::PathBuf;
use std::sync::Arc;

use crate::app::{self, Answering};
use crate::config::{self, ConfigError};
use crate::dialogue::Dialogue;
use crate::dialogue::phrasings::Phrasings;
use crate::dialogue::ranker::Ranker;
use crate::knowledge::holidays::State;
use crate::language::Thesaurus;
use crate::semantic::{Embedder, Purpose, RemoteEncoder};
use crate::store::{self, DatabaseUrl};

/// The embedding service's key (a secret: see [`config::secret`]).
const API_KEY_VARIABLE: &str = "RATHAUS_EMBEDDINGS_API_KEY";

/// How questions are answered: meaning, intents, ranker.
#[derive(clap::Args)]
pub struct Args {
    /// The sentence-vector model run in the process (`tools/models.sh` builds it); default
    /// `$RATHAUS_MODELS/e5/e5-small-q4.bin`, with `$RATHAUS_MODELS` `~/.cache/rathaus`.
    #[arg(long, global = true, env = "RATHAUS_EMBED_MODEL")]
    embed_model: Option<PathBuf>,
    /// The engine that runs it; default `libe5.so` beside the model.
    #[arg(long, global = true, env = "RATHAUS_EMBED_LIBRARY")]
    embed_library: Option<PathBuf>,
    /// Answer by words only, without sentence vectors.
    #[arg(long, global = true, env = "RATHAUS_WORDS_ONLY")]
    words_only: bool,
    /// Instead of the model in the process: an OpenAI-compatible embeddings API on premises
    /// (e.g. http://127.0.0.1:8000/v1) serving multilingual-e5-small.
    #[arg(long, global = true, env = "RATHAUS_EMBEDDINGS_URL")]
    embeddings_url: Option<String>,
    /// The intents' example phrasings (`<intent>.txt`); the shipped ones where missing.
    #[arg(
        long,
        global = true,
        env = "RATHAUS_INTENTS",
        default_value = "knowledge/intents"
    )]
    intents: PathBuf,
    /// The fitted ranker (`rathaus eval --fit` writes it); the shipped one where missing.
    #[arg(
        long,
        global = true,
        env = "RATHAUS_RANKER",
        default_value = "knowledge/ranker.toml"
    )]
    pub ranker: PathBuf,
    /// The city's state (BY, NW, BE, …), whose public holidays close its offices; without
    /// it only the nationwide holidays count.
    #[arg(long, global = true, env = "RATHAUS_STATE")]
    state: Option<State>,
    /// The German thesaurus for words the catalogue lacks: a MyThes file, or `off` for none;
    /// default /usr/share/mythes/th_de_DE_v2.dat where Debian's mythes-de installed it.
    #[arg(
        long,
        global = true,
        env = "RATHAUS_THESAURUS",
        value_name = "FILE|off"
    )]
    thesaurus: Option<PathBuf>,
    /// The model name sent to the embedding service.
    #[arg(
        long,
        global = true,
        env = "RATHAUS_EMBEDDINGS_MODEL",
        default_value = "multilingual-e5-small"
    )]
    embeddings_model: String,
}

impl Args {
    /// The answering settings: the model in the process where its files are (or the
    /// service configured instead), the intents' phrasings and the ranker from their files,
    /// each falling back to what Rathaus ships, and the thesaurus. Says at start whether
    /// meaning is on.
    pub fn answering(&self) -> anyhow::Result<Answering> {
        let embedder = self.embedder()?;
        let phrasings = if self.intents.is_dir() {
            Phrasings::read_dir(&self.intents)?
        } else {
            Phrasings::builtin()
        };
        let ranker = if self.ranker.is_file() {
            Ranker::read(&self.ranker)?
        } else {
            Ranker::builtin()
        };
        Ok(Answering {
            embedder,
            phrasings,
            ranker,
            state: self.state,
            thesaurus: self.thesaurus(),
        })
    }

    /// The thesaurus, read once here and handed to every index built from these settings.
    ///
    /// Read on a thread of its own, so that its 75,000 words lie in that thread's allocation
    /// arena rather than first thing on the main thread's heap. Read on the main thread at
    /// start, it made every question slower: 0.46 against 0.34 ms median per question in
    /// `rathaus eval` (release, Munich, words only), with the same answers.
    pub fn thesaurus(&self) -> Option<Arc<Thesaurus>> {
        let path = self.thesaurus.clone();
        std::thread::spawn(move || match path {
            Some(p) if p.as_os_str().eq_ignore_ascii_case("off") => None,
            Some(p) => Thesaurus::open(&p),
            None => Thesaurus::installed(),
        })
        .join()
        .ok()
        .flatten()
    }

    /// `None` answers by words only: asked for, or because the model could not be loaded
    /// (a city without the model files still gets answers). Only a service's key given
    /// wrongly is an error; a service without a key is called without one.
    fn embedder(&self) -> Result<Option<Embedder>, ConfigError> {
        if self.words_only {
            tracing::info!("answering by words only (--words-only)");
            return Ok(None);
        }
        if let Some(url) = &self.embeddings_url {
            let key = config::secret(API_KEY_VARIABLE)?;
            tracing::info!(url, "meaning from the embedding service");
            return Ok(Some(Embedder::remote(RemoteEncoder::new(
                url,
                &self.embeddings_model,
                key,
                std::time::Duration::from_secs(30),
            ))));
        }
        let model = self
            .embed_model
            .clone()
            .unwrap_or_else(|| models_dir().join("e5/e5-small-q4.bin"));
        let library = self
            .embed_library
            .clone()
            .unwrap_or_else(|| model.with_file_name("libe5.so"));
        Ok(match Embedder::local(&library, &model) {
            Ok(e) => {
                tracing::info!(model = %model.display(), "meaning on: sentence vectors in the process");
                Some(e)
            }
            Err(e) => {
                tracing::warn!(error = %e, "meaning off, answering by words only: run tools/models.sh for the model");
                None
            }
        })
    }
}

/// Where `tools/models.sh` puts the models: `$RATHAUS_MODELS`, else `~/.cache/rathaus`.
fn models_dir() -> PathBuf {
    std::env::var_os("RATHAUS_MODELS")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/rathaus")))
        .unwrap_or_else(|| PathBuf::from(".cache/rathaus"))
}

/// The dialogue core over the catalogue in `database`. Unlike the server, a command has
/// nothing to answer from an empty catalogue, so it stops and says what to run first.
pub async fn dialogue(database: &DatabaseUrl, answering: &Answering) -> anyhow::Result<Dialogue> {
    let store = store::open(database).await?;
    let dialogue = app::dialogue(store.as_ref(), answering).await?;
    if dialogue.knowledge().catalogue.entries.is_empty() {
        anyhow::bail!("the catalogue in {database} is empty: run `rathaus import` first");
    }
    Ok(dialogue)
}

/// The questions' vectors, when the catalogue has vectors; `None` to answer by words.
pub async fn query_vectors(
    embedder: Option<&Embedder>,
    dialogue: &Dialogue,
    texts: &[String],
) -> Option<Vec<Vec<f32>>> {
    dialogue.knowledge().vectors.as_ref()?;
    match embedder?.embed(texts, Purpose::Query).await {
        Ok(v) => Some(v),
        Err(e) => {
            tracing::warn!(error = %e, "questions not embedded: answering by words only");
            None
        }
    }
}
