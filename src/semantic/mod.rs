//! Meaning: sentence vectors of questions and of the catalogue's texts, so that a question
//! that shares no word with an entry can still find it. Vectors come from the model inside
//! the process (multilingual-e5-small, built by `tools/models.sh`) or from an embedding
//! service the operator runs on premises; never from anything the operator did not set up.

pub mod local;
mod remote;

use std::path::Path;
use std::sync::Arc;

use serde::Serialize;

use crate::knowledge::Entry;
pub use local::LocalEncoder;
pub use remote::RemoteEncoder;

/// Question vectors (and catalogue texts) kept in memory, at most: a repeated question costs
/// no model time. About 1.5 KiB each at 384 dimensions, so some 30 MiB when full.
const CACHE_TEXTS: usize = 20_000;
/// Characters of a text that are embedded: e5 reads at most 512 tokens, and a passage's
/// meaning is in its opening.
const TEXT_CHARS: usize = 1_500;
/// An entry's description is embedded in passages of about this many characters …
const PASSAGE_CHARS: usize = 500;
/// … at most this many of them: the rest of a long description is detail (fees, forms) that
/// the words search finds.
const PASSAGES: usize = 3;

#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    #[error("embedding service unreachable: {0}")]
    Unreachable(String),
    #[error("embedding service answered {status}: {body}")]
    Status { status: u16, body: String },
    #[error("embedding service answered something unexpected: {0}")]
    Protocol(String),
    #[error("embedding model: {0}")]
    Local(#[from] local::LocalError),
}

/// Whether a text is a question or a catalogue passage (e5 models embed them differently).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Purpose {
    Query,
    Passage,
}

#[derive(Clone)]
enum Source {
    Local {
        encoder: Arc<LocalEncoder>,
        model: String,
        /// One call of the model at a time: each already uses every core (OpenMP), and
        /// several at once only share them worse (measured: p99 690 ms at 64 concurrent
        /// clients without this).
        turn: Arc<tokio::sync::Semaphore>,
    },
    Remote(RemoteEncoder),
}

type Cache = quick_cache::sync::Cache<(Purpose, String), Arc<Vec<f32>>>;

/// Sentence vectors, from the model in the process or from a service, with a cache of the
/// texts embedded last.
#[derive(Clone)]
pub struct Embedder {
    source: Source,
    cache: Arc<Cache>,
}

impl Embedder {
    /// The model in the process: its engine library and its weights, as `tools/models.sh`
    /// builds them.
    pub fn local(library: &Path, model: &Path) -> Result<Embedder, EmbedError> {
        let encoder = LocalEncoder::load(library, model)?;
        let size = std::fs::metadata(model).map(|m| m.len()).unwrap_or(0);
        let name = model
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        Ok(Embedder::with(Source::Local {
            encoder: Arc::new(encoder),
            // Cached vectors are keyed by the model: another file is another model.
            model: format!("{name}:{size}"),
            turn: Arc::new(tokio::sync::Semaphore::new(1)),
        }))
    }

    /// An OpenAI-compatible embeddings service; see [`RemoteEncoder::new`].
    pub fn remote(encoder: RemoteEncoder) -> Embedder {
        Embedder::with(Source::Remote(encoder))
    }

    fn with(source: Source) -> Embedder {
        Embedder {
            source,
            cache: Arc::new(Cache::new(CACHE_TEXTS)),
        }
    }

    /// The model's name, under which its vectors are cached.
    pub fn model(&self) -> &str {
        match &self.source {
            Source::Local { model, .. } => model,
            Source::Remote(r) => r.model(),
        }
    }

    /// Whether the model runs in this process.
    pub fn is_local(&self) -> bool {
        matches!(self.source, Source::Local { .. })
    }

    /// One unit-length vector per text, in order; texts embedded before come from the cache.
    pub async fn embed(
        &self,
        texts: &[String],
        purpose: Purpose,
    ) -> Result<Vec<Vec<f32>>, EmbedError> {
        let texts: Vec<String> = texts.iter().map(|t| bounded(t)).collect();
        let mut out: Vec<Option<Arc<Vec<f32>>>> = texts
            .iter()
            .map(|t| self.cache.get(&(purpose, t.clone())))
            .collect();
        let missing: Vec<String> = texts
            .iter()
            .zip(&out)
            .filter(|(_, v)| v.is_none())
            .map(|(t, _)| t.clone())
            .collect();
        if !missing.is_empty() {
            let fresh = match &self.source {
                Source::Local { encoder, turn, .. } => {
                    let _turn = turn
                        .acquire()
                        .await
                        .map_err(|e| EmbedError::Protocol(e.to_string()))?;
                    let encoder = encoder.clone();
                    let batch = missing.clone();
                    tokio::task::spawn_blocking(move || encoder.embed_batch(&batch, purpose))
                        .await
                        .map_err(|e| EmbedError::Protocol(e.to_string()))??
                }
                Source::Remote(r) => r.embed(&missing, purpose).await?,
            };
            let mut fresh = missing.into_iter().zip(fresh);
            for slot in out.iter_mut().filter(|v| v.is_none()) {
                let (text, vector) = fresh.next().expect("one vector per missing text");
                let vector = Arc::new(vector);
                self.cache.insert((purpose, text), vector.clone());
                *slot = Some(vector);
            }
        }
        Ok(out
            .into_iter()
            .map(|v| v.expect("every text embedded").as_ref().clone())
            .collect())
    }

    /// The vector of one question.
    pub async fn query(&self, text: &str) -> Result<Vec<f32>, EmbedError> {
        let mut v = self.embed(&[text.to_string()], Purpose::Query).await?;
        v.pop()
            .ok_or_else(|| EmbedError::Protocol("no vector".into()))
    }
}

/// A text cut to what is embedded, at a character boundary.
fn bounded(text: &str) -> String {
    text.chars().take(TEXT_CHARS).collect()
}

pub(crate) fn normalised(mut v: Vec<f32>) -> Result<Vec<f32>, EmbedError> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if v.is_empty() || !norm.is_finite() || norm == 0.0 {
        return Err(EmbedError::Protocol("empty or zero vector".into()));
    }
    v.iter_mut().for_each(|x| *x /= norm);
    Ok(v)
}

/// Which text of an entry a vector stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// The name (and the English name).
    Name,
    /// The name with the words citizens use for it.
    Keywords,
    /// The summary, or the description's opening.
    Summary,
    /// A passage of the description.
    Passage,
    /// An example question.
    Question,
}

/// The texts of an entry that are embedded, each with its view: the name, the name with
/// its keywords, the summary, the description's first passages, every example question.
pub fn views(e: &Entry) -> Vec<(View, String)> {
    let mut out = vec![(View::Name, e.name.clone())];
    for t in e.translations.values().filter(|t| !t.name.is_empty()) {
        out.push((View::Name, t.name.clone()));
    }
    if !e.keywords.is_empty() {
        out.push((
            View::Keywords,
            format!("{}: {}", e.name, e.keywords.join(", ")),
        ));
    }
    let summary = if e.summary.is_empty() {
        e.description.chars().take(PASSAGE_CHARS).collect()
    } else {
        e.summary.clone()
    };
    if !summary.trim().is_empty() {
        out.push((View::Summary, format!("{}. {}", e.name, summary)));
    }
    for p in passages(&e.description).into_iter().take(PASSAGES) {
        if !summary.starts_with(p.trim()) {
            out.push((View::Passage, format!("{}. {}", e.name, p)));
        }
    }
    for q in e.questions.iter().filter(|q| !q.trim().is_empty()) {
        out.push((View::Question, q.clone()));
    }
    out
}

/// A description in passages of about [`PASSAGE_CHARS`], cut between paragraphs where it
/// can be.
fn passages(description: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut current = String::new();
    for para in description
        .split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        if !current.is_empty() && current.len() + para.len() > PASSAGE_CHARS {
            out.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push('\n');
        }
        current.push_str(para);
        if current.len() > PASSAGE_CHARS {
            let cut: String = current.chars().take(PASSAGE_CHARS).collect();
            out.push(cut);
            current.clear();
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// Unit-length vectors, one per row.
#[derive(Debug, Clone)]
pub struct Matrix {
    dim: usize,
    data: Vec<f32>,
}

impl Matrix {
    pub fn new(rows: Vec<Vec<f32>>) -> Option<Matrix> {
        let dim = rows.first()?.len();
        if dim == 0 || rows.iter().any(|r| r.len() != dim) {
            return None;
        }
        Some(Matrix {
            dim,
            data: rows.into_iter().flatten().collect(),
        })
    }

    pub fn len(&self) -> usize {
        self.data.len() / self.dim
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Cosine similarity of every row with a unit-length query (all 0 on a size mismatch).
    pub fn similarities(&self, query: &[f32]) -> Vec<f32> {
        if query.len() != self.dim {
            return vec![0.0; self.len()];
        }
        self.data
            .chunks_exact(self.dim)
            .map(|row| row.iter().zip(query).map(|(a, b)| a * b).sum())
            .collect()
    }
}

/// The vectors of a catalogue's views, each row owned by an entry.
#[derive(Debug, Clone)]
pub struct Vectors {
    matrix: Matrix,
    owners: Vec<(usize, View)>,
    entries: usize,
}

/// How close a question is in meaning to each entry, by its closest view of each kind.
#[derive(Debug, Clone, Default)]
pub struct Similarities {
    /// The closest of all its views.
    pub best: Vec<f32>,
    /// Its name.
    pub name: Vec<f32>,
    /// Its closest example question (0 for an entry without).
    pub question: Vec<f32>,
}

impl Similarities {
    /// The `k` entries closest in meaning, best first.
    pub fn nearest(&self, k: usize) -> Vec<(usize, f32)> {
        let mut all: Vec<(usize, f32)> = self.best.iter().copied().enumerate().collect();
        all.sort_by(|a, b| b.1.total_cmp(&a.1));
        all.truncate(k);
        all
    }
}

impl Vectors {
    /// `rows`: each view's owner entry, its kind and its vector; `entries` in the catalogue.
    pub fn new(rows: Vec<(usize, View, Vec<f32>)>, entries: usize) -> Option<Vectors> {
        let owners = rows.iter().map(|(e, v, _)| (*e, *v)).collect();
        let matrix = Matrix::new(rows.into_iter().map(|(_, _, v)| v).collect())?;
        Some(Vectors {
            matrix,
            owners,
            entries,
        })
    }

    /// Each entry's similarity with a unit-length question vector.
    pub fn similarities(&self, query: &[f32]) -> Similarities {
        let mut s = Similarities {
            best: vec![0.0; self.entries],
            name: vec![0.0; self.entries],
            question: vec![0.0; self.entries],
        };
        for (&(entry, view), sim) in self.owners.iter().zip(self.matrix.similarities(query)) {
            s.best[entry] = s.best[entry].max(sim);
            match view {
                View::Name => s.name[entry] = s.name[entry].max(sim),
                View::Question => s.question[entry] = s.question[entry].max(sim),
                _ => {}
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_is_as_close_as_its_closest_view() {
        let v = Vectors::new(
            vec![
                (0, View::Name, vec![1.0, 0.0]),
                (1, View::Name, vec![0.0, 1.0]),
                (1, View::Question, vec![0.6, 0.8]),
            ],
            3,
        )
        .unwrap();
        let s = v.similarities(&[1.0, 0.0]);
        assert_eq!(s.best, [1.0, 0.6, 0.0]);
        assert_eq!(s.name, [1.0, 0.0, 0.0]);
        assert_eq!(s.question, [0.0, 0.6, 0.0]);
        assert_eq!(
            s.nearest(2).iter().map(|(i, _)| *i).collect::<Vec<_>>(),
            [0, 1]
        );
        assert_eq!(
            v.similarities(&[1.0]).best,
            [0.0, 0.0, 0.0],
            "a query of another size matches nothing"
        );
        assert!(Matrix::new(vec![vec![1.0], vec![1.0, 2.0]]).is_none());
        assert!(normalised(vec![0.0, 0.0]).is_err());
    }

    #[test]
    fn views_cover_name_keywords_summary_passages_and_questions() {
        let e = Entry {
            id: "reisepass".parse().unwrap(),
            name: "Reisepass beantragen".into(),
            summary: "Den Pass beantragen Sie im Bürgerbüro.".into(),
            description: format!("{}\n\n{}", "a".repeat(400), "b".repeat(400)),
            description_html: None,
            fees: None,
            documents: Vec::new(),
            offices: Vec::new(),
            links: Default::default(),
            keywords: vec!["Pass".into()],
            questions: vec!["Wo bekomme ich einen Pass?".into()],
            translations: Default::default(),
            plain_language: None,
            updated: None,
        };
        let kinds: Vec<View> = views(&e).into_iter().map(|(v, _)| v).collect();
        assert_eq!(
            kinds,
            [
                View::Name,
                View::Keywords,
                View::Summary,
                View::Passage,
                View::Passage,
                View::Question
            ]
        );
    }
}
