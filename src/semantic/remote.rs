//! Sentence vectors from an embedding service the operator runs on premises (any
//! OpenAI-compatible `/embeddings` endpoint), the alternative to the in-process model.
//! Never called unless the operator configured its address.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::{EmbedError, Purpose, normalised};

/// Texts sent in one request, at most.
const BATCH: usize = 32;

/// A client of an OpenAI-compatible embeddings endpoint.
#[derive(Clone)]
pub struct RemoteEncoder {
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

impl RemoteEncoder {
    /// `base_url` is the API root, e.g. `http://127.0.0.1:8000/v1`.
    pub fn new(
        base_url: &str,
        model: &str,
        api_key: Option<SecretString>,
        timeout: Duration,
    ) -> RemoteEncoder {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .unwrap_or_default();
        RemoteEncoder {
            client,
            url: format!("{}/embeddings", base_url.trim_end_matches('/')),
            model: model.to_string(),
            api_key,
        }
    }

    pub fn model(&self) -> &str {
        &self.model
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
