//! Speech to text with whisper.cpp (through whisper-rs), in-process. Transcription runs on
//! tokio's blocking pool, a few at a time, so the server keeps answering while a call is
//! transcribed. The model is a ggml file the operator names; nothing is ever downloaded.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::Semaphore;
use whisper_rs::{FullParams, SamplingStrategy, WhisperContext, WhisperContextParameters};

use crate::knowledge::Catalogue;
use crate::language::Lang;

#[derive(Debug, thiserror::Error)]
pub enum SpeechError {
    #[error(
        "no Whisper model at {0} (set RATHAUS_WHISPER_MODEL or `model` in channels/phone.toml)"
    )]
    ModelMissing(PathBuf),
    #[error("the Whisper model at {path} could not be loaded: {cause}")]
    ModelUnreadable { path: PathBuf, cause: String },
    #[error("transcription failed: {0}")]
    Failed(String),
}

/// What was heard.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Transcript {
    pub text: String,
    pub lang: Lang,
    /// Length of the audio, in seconds.
    pub audio_seconds: f32,
    /// Time spent transcribing, in seconds.
    pub seconds: f32,
}

/// A loaded model and how to run it.
#[derive(Clone)]
pub struct Transcriber {
    context: Arc<WhisperContext>,
    threads: usize,
    /// Transcriptions at once: each takes `threads` cores, more would only queue in the CPU.
    permits: Arc<Semaphore>,
    prompts: Arc<Prompts>,
}

/// Context Whisper reads before the audio, per language: the catalogue's own service names,
/// so that it spells the words citizens will say ("Personalausweis", "Meldebescheinigung").
#[derive(Debug, Clone, Default)]
pub struct Prompts {
    pub de: String,
    pub en: String,
}

/// Whisper reads at most half its 448-token text context as a prompt; about 3.5
/// characters a token for German leaves this many characters.
const PROMPT_CHARS: usize = 600;

impl Prompts {
    /// The shortest service names first (they are the core words: "Reisepass" before
    /// "Reisepass für Kinder unter zwölf Jahren"), each word once, until the prompt is full.
    pub fn from_catalogue(catalogue: &Catalogue) -> Prompts {
        let build = |lang: Lang, lead: &str| {
            let mut names: Vec<String> = catalogue
                .entries
                .iter()
                .map(|e| crate::dialogue::entry_name(e, lang))
                .collect();
            names.sort_by(|a, b| a.chars().count().cmp(&b.chars().count()).then(a.cmp(b)));
            let mut seen = std::collections::HashSet::new();
            let mut prompt = lead.to_string();
            for name in names {
                let words: Vec<String> = name
                    .split(|c: char| !c.is_alphanumeric() && c != '-')
                    .filter(|w| w.chars().count() > 3)
                    .map(str::to_lowercase)
                    .collect();
                if words.is_empty() || words.iter().all(|w| seen.contains(w)) {
                    continue;
                }
                if prompt.chars().count() + name.chars().count() + 2 > PROMPT_CHARS {
                    break;
                }
                seen.extend(words);
                prompt.push_str(&name);
                prompt.push_str(", ");
            }
            prompt.trim_end_matches(", ").to_string() + "."
        };
        Prompts {
            de: build(Lang::De, "Anruf beim Bürgerservice der Stadt. Themen: "),
            en: build(Lang::En, "A call to the city's citizen service. Topics: "),
        }
    }

    fn get(&self, lang: Lang) -> &str {
        match lang {
            Lang::De => &self.de,
            Lang::En => &self.en,
        }
    }
}

impl Transcriber {
    /// Loads the model file (blocking: call it at startup or from a blocking task).
    pub fn load(model: &Path, threads: usize, parallel: usize) -> Result<Transcriber, SpeechError> {
        if !model.is_file() {
            return Err(SpeechError::ModelMissing(model.to_path_buf()));
        }
        whisper_rs::install_logging_hooks();
        let context = WhisperContext::new_with_params(model, WhisperContextParameters::default())
            .map_err(|e| SpeechError::ModelUnreadable {
            path: model.to_path_buf(),
            cause: e.to_string(),
        })?;
        Ok(Transcriber {
            context: Arc::new(context),
            threads: threads.max(1),
            permits: Arc::new(Semaphore::new(parallel.max(1))),
            prompts: Arc::new(Prompts::default()),
        })
    }

    /// The same model with prompts from this catalogue.
    pub fn with_prompts(mut self, prompts: Prompts) -> Transcriber {
        self.prompts = Arc::new(prompts);
        self
    }

    /// Transcribes 16 kHz mono samples in `lang` (Whisper's own language detection is
    /// unreliable on a few seconds of telephone speech; the telephony system knows which
    /// line was called). Blocking.
    pub fn transcribe_blocking(
        &self,
        samples: &[f32],
        lang: Lang,
    ) -> Result<Transcript, SpeechError> {
        let started = Instant::now();
        let mut state = self
            .context
            .create_state()
            .map_err(|e| SpeechError::Failed(e.to_string()))?;
        // Greedy decoding, once: beam search and the temperature fallback (up to five more
        // decodes of audio that decoded badly) cost several times the time for little gain
        // on a short question, and a caller waits on the line; what was not understood is
        // asked again.
        let mut params = FullParams::new(SamplingStrategy::Greedy { best_of: 1 });
        params.set_temperature(0.0);
        params.set_temperature_inc(0.0);
        params.set_n_threads(self.threads as i32);
        params.set_language(Some(lang.code()));
        params.set_translate(false);
        params.set_no_timestamps(true);
        params.set_single_segment(true);
        params.set_suppress_blank(true);
        params.set_print_progress(false);
        params.set_print_realtime(false);
        params.set_print_special(false);
        params.set_print_timestamps(false);
        params.set_audio_ctx(audio_context(samples.len()));
        let prompt = self.prompts.get(lang);
        if !prompt.is_empty() {
            params.set_initial_prompt(prompt);
        }
        state
            .full(params, samples)
            .map_err(|e| SpeechError::Failed(e.to_string()))?;
        let mut text = String::new();
        for segment in state.as_iter() {
            let piece = segment
                .to_str_lossy()
                .map_err(|e| SpeechError::Failed(e.to_string()))?;
            text.push_str(piece.trim());
            text.push(' ');
        }
        Ok(Transcript {
            text: clean(&text),
            lang,
            audio_seconds: samples.len() as f32 / super::audio::WHISPER_RATE as f32,
            seconds: started.elapsed().as_secs_f32(),
        })
    }

    /// Runs `prepare` (decoding the audio: parsing and resampling are CPU work too) and the
    /// transcription of its samples on the blocking pool, waiting for a free slot first.
    pub async fn transcribe<E>(
        &self,
        prepare: impl FnOnce() -> Result<Vec<f32>, E> + Send + 'static,
        lang: Lang,
    ) -> Result<Transcript, E>
    where
        E: From<SpeechError> + Send + 'static,
    {
        let _permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| SpeechError::Failed(e.to_string()))?;
        let this = self.clone();
        tokio::task::spawn_blocking(move || {
            let samples = prepare()?;
            Ok(this.transcribe_blocking(&samples, lang)?)
        })
        .await
        .map_err(|e| SpeechError::Failed(e.to_string()))?
    }
}

/// Whisper's text without the bracketed sound notes it writes for noise ("[Musik]",
/// "(Geräusch)") and with plain spaces.
fn clean(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let (mut depth, mut starred) = (0usize, false);
    for c in text.chars() {
        match c {
            '[' | '(' => depth += 1,
            ']' | ')' if depth > 0 => depth -= 1,
            '*' => starred = !starred,
            _ if depth == 0 && !starred => out.push(c),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The encoder's window for an utterance: Whisper encodes 30 s (1,500 positions, 50 a
/// second) whatever the audio's length; a caller's question is a few seconds, so the encoder
/// is given the utterance's own length and a second's margin, in steps of 64 positions.
fn audio_context(samples: usize) -> i32 {
    const FULL: usize = 1500;
    let positions = samples * 50 / super::audio::WHISPER_RATE as usize + 50;
    positions.div_ceil(64).saturating_mul(64).min(FULL) as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    const WHISPER_RATE_SAMPLES: usize = super::super::audio::WHISPER_RATE as usize;

    #[test]
    fn sound_notes_are_dropped() {
        assert_eq!(
            clean(" [Musik] Ich brauche  einen Reisepass. "),
            "Ich brauche einen Reisepass."
        );
        assert_eq!(clean("(Geräusch) Was kostet das?"), "Was kostet das?");
        assert_eq!(clean("*hustet* Hallo"), "Hallo");
    }

    #[test]
    fn the_encoder_window_follows_the_utterance() {
        let second = WHISPER_RATE_SAMPLES;
        assert_eq!(audio_context(0), 64);
        // 5 s: 250 positions and a second's margin, in steps of 64.
        assert_eq!(audio_context(5 * second), 320);
        assert_eq!(audio_context(29 * second), 1500);
        assert_eq!(
            audio_context(40 * second),
            1500,
            "never more than Whisper's 30 s"
        );
    }
}
