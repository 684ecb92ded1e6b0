//! Meaning-based search, optional: sentence embeddings from a service the operator runs on
//! premises and configures (any OpenAI-compatible `/embeddings` endpoint, e.g. an e5 model).
//! Rathaus works without it; with it, questions that share no words with an entry can still
//! find it. Never calls anything the operator did not configure.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::knowledge::Entry;

/// Entries are embedded in batches of this many texts.
const BATCH: usize = 32;
/// Characters of an entry's description that go into its passage.
const PASSAGE_CHARS: usize = 600;

#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    #[error("embedding service unreachable: {0}")]
    Unreachable(String),
    #[error("embedding service answered {status}: {body}")]
    Status { status: u16, body: String },
    #[error("embedding service answered something unexpected: {0}")]
    Protocol(String),
}

/// Whether a text is a question or a catalogue passage (e5 models embed them differently).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Purpose {
    Query,
    Passage,
}

/// A client of an OpenAI-compatible embeddings endpoint.
#[derive(Clone)]
pub struct Embedder {
    client: reqwest::Client,
    url: String,
    model: String,
    api_key: Option<SecretString>,
}

#[derive(Serialize)]
struct Request<'a> {
    model: &'a str,
    input: &'a [String],
    /// Understood by e5 servers that add the "query: " / "passage: " prefixes themselves.
    input_type: Purpose,
    encoding_format: &'static str,
}

#[derive(Deserialize)]
struct Response {
    data: Vec<Item>,
}

#[derive(Deserialize)]
struct Item {
    embedding: Vec<f32>,
    #[serde(default)]
    index: Option<usize>,
}

impl Embedder {
    /// `base_url` is the API root, e.g. `http://127.0.0.1:8000/v1`.
    pub fn new(
        base_url: &str,
        model: &str,
        api_key: Option<SecretString>,
        timeout: Duration,
    ) -> Embedder {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .unwrap_or_default();
        Embedder {
            client,
            url: format!("{}/embeddings", base_url.trim_end_matches('/')),
            model: model.to_string(),
            api_key,
        }
    }

    /// One unit-length vector per text, in order.
    pub async fn embed(
        &self,
        texts: &[String],
        purpose: Purpose,
    ) -> Result<Vec<Vec<f32>>, EmbedError> {
        let mut out = Vec::with_capacity(texts.len());
        for batch in texts.chunks(BATCH) {
            let mut request = self.client.post(&self.url).json(&Request {
                model: &self.model,
                input: batch,
                input_type: purpose,
                encoding_format: "float",
            });
            if let Some(key) = &self.api_key {
                request = request.bearer_auth(key.expose_secret());
            }
            let response = request
                .send()
                .await
                .map_err(|e| EmbedError::Unreachable(e.to_string()))?;
            let status = response.status();
            if !status.is_success() {
                let body: String = response
                    .text()
                    .await
                    .unwrap_or_default()
                    .chars()
                    .take(200)
                    .collect();
                return Err(EmbedError::Status {
                    status: status.as_u16(),
                    body,
                });
            }
            let mut parsed: Response = response
                .json()
                .await
                .map_err(|e| EmbedError::Protocol(e.to_string()))?;
            if parsed.data.len() != batch.len() {
                return Err(EmbedError::Protocol(format!(
                    "{} vectors for {} texts",
                    parsed.data.len(),
                    batch.len()
                )));
            }
            parsed.data.sort_by_key(|i| i.index.unwrap_or(usize::MAX));
            for item in parsed.data {
                out.push(normalised(item.embedding)?);
            }
        }
        if let Some(first) = out.first()
            && out.iter().any(|v| v.len() != first.len())
        {
            return Err(EmbedError::Protocol("vectors of different lengths".into()));
        }
        Ok(out)
    }
}

fn normalised(mut v: Vec<f32>) -> Result<Vec<f32>, EmbedError> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if v.is_empty() || !norm.is_finite() || norm == 0.0 {
        return Err(EmbedError::Protocol("empty or zero vector".into()));
    }
    v.iter_mut().for_each(|x| *x /= norm);
    Ok(v)
}

/// What of an entry is embedded: its name, the words citizens use for it, and the opening
/// of its description.
pub fn passage(e: &Entry) -> String {
    let description: String = e.description.chars().take(PASSAGE_CHARS).collect();
    format!(
        "{}. {}. {}",
        e.name,
        e.keywords.join(", "),
        if e.summary.is_empty() {
            &description
        } else {
            &e.summary
        }
    )
}

/// The entries' vectors, one row per entry in catalogue order.
#[derive(Debug, Clone)]
pub struct Vectors {
    dim: usize,
    data: Vec<f32>,
}

impl Vectors {
    pub fn new(rows: Vec<Vec<f32>>) -> Option<Vectors> {
        let dim = rows.first()?.len();
        if dim == 0 || rows.iter().any(|r| r.len() != dim) {
            return None;
        }
        Some(Vectors {
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

    /// Cosine similarity of entry `i` with a unit-length query vector (0 on a size mismatch).
    pub fn similarity(&self, i: usize, query: &[f32]) -> f32 {
        if query.len() != self.dim {
            return 0.0;
        }
        self.data[i * self.dim..(i + 1) * self.dim]
            .iter()
            .zip(query)
            .map(|(a, b)| a * b)
            .sum()
    }

    /// The `k` entries most similar to the query, best first.
    pub fn nearest(&self, query: &[f32], k: usize) -> Vec<(usize, f32)> {
        let mut all: Vec<(usize, f32)> = (0..self.len())
            .map(|i| (i, self.similarity(i, query)))
            .collect();
        all.sort_by(|a, b| b.1.total_cmp(&a.1));
        all.truncate(k);
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_ranks_by_cosine() {
        let v = Vectors::new(vec![vec![1.0, 0.0], vec![0.0, 1.0], vec![0.6, 0.8]]).unwrap();
        let near = v.nearest(&[0.0, 1.0], 2);
        assert_eq!(near.iter().map(|(i, _)| *i).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(
            v.similarity(0, &[1.0]),
            0.0,
            "a query of another size matches nothing"
        );
        assert!(Vectors::new(vec![vec![1.0], vec![1.0, 2.0]]).is_none());
        assert!(normalised(vec![0.0, 0.0]).is_err());
    }
}
