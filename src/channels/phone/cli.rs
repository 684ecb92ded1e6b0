//! `rathaus phone …`: the phone channel's tools for the operator, e.g. to try the model on a
//! voicemail folder. They decode, transcribe and answer as a call would, and never write to
//! the store or start a call.

use std::path::{Path, PathBuf};

use crate::dialogue::{Dialogue, Inbound};
use crate::language::Lang;

use super::{audio, default_model, resolve, speech, spoken};

#[derive(clap::Subcommand)]
pub enum Command {
    /// Transcribe recordings (WAV; raw µ-law .ul/.pcmu or A-law .al/.pcma at 8 kHz) and
    /// print what was heard and the spoken reply, e.g. for a voicemail folder.
    Transcribe {
        files: Vec<PathBuf>,
        /// The callers' language: de or en.
        #[arg(long, default_value = "de")]
        lang: Lang,
        /// The ggml Whisper model [default: $RATHAUS_WHISPER_MODEL, else
        /// ~/.cache/rathaus/ggml-base.bin].
        #[arg(long)]
        model: Option<PathBuf>,
        /// Cores to use.
        #[arg(long, default_value_t = 2)]
        threads: usize,
        /// Longest recording accepted, in seconds.
        #[arg(long, default_value_t = 120)]
        max_seconds: u32,
        /// Transcribe without the prompt of the catalogue's service names (to compare).
        #[arg(long)]
        no_prompt: bool,
    },
}

impl Command {
    pub fn run(self, dialogue: &Dialogue) -> anyhow::Result<()> {
        match self {
            Command::Transcribe {
                files,
                lang,
                model,
                threads,
                max_seconds,
                no_prompt,
            } => {
                let model = model.map_or_else(default_model, |m| resolve(&m, Path::new(".")));
                transcribe(
                    dialogue,
                    &files,
                    lang,
                    &model,
                    threads,
                    max_seconds,
                    !no_prompt,
                )
            }
        }
    }
}

/// `rathaus phone transcribe`: each file's transcript, real-time factor and spoken reply.
fn transcribe(
    dialogue: &Dialogue,
    files: &[PathBuf],
    lang: Lang,
    model: &Path,
    threads: usize,
    max_seconds: u32,
    prompt: bool,
) -> anyhow::Result<()> {
    let transcriber = speech::Transcriber::load(model, threads, 1)?;
    let transcriber = if prompt {
        transcriber.with_prompts(speech::Prompts::from_catalogue(
            &dialogue.knowledge().catalogue,
        ))
    } else {
        transcriber
    };
    let mut failed = 0;
    for file in files {
        let encoding = audio::Encoding::for_file_name(file);
        let result = std::fs::read(file)
            .map_err(anyhow::Error::from)
            .and_then(|bytes| Ok(audio::decode(&bytes, encoding, max_seconds)?))
            .and_then(|a| Ok(transcriber.transcribe_blocking(&a.samples, lang)?));
        let t = match result {
            Ok(t) => t,
            Err(e) => {
                eprintln!("{}: {e}", file.display());
                failed += 1;
                continue;
            }
        };
        let reply = dialogue
            .respond(
                &Default::default(),
                &Inbound {
                    text: t.text.clone(),
                    lang: Some(lang),
                    choice: None,
                },
            )
            .reply;
        println!("== {}", file.display());
        println!(
            "heard: {}\naudio: {:.2} s, transcribed in {:.2} s (real-time factor {:.2})",
            t.text,
            t.audio_seconds,
            t.seconds,
            t.seconds / t.audio_seconds.max(0.01)
        );
        println!("outcome: {}", reply.outcome.as_str());
        for e in &reply.entries {
            println!("entry: {} {}", e.id, e.name);
        }
        println!(
            "reply: {}\n",
            spoken::render(&reply, &spoken::Style::default())
        );
    }
    if failed > 0 {
        anyhow::bail!("{failed} of {} files could not be transcribed", files.len());
    }
    Ok(())
}
