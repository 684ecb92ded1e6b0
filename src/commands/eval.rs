//! `rathaus eval`: a question set run through the dialogue core, its figures printed and,
//! with `--fit`, the ranker fitted on it and written to the ranker file. The measuring and
//! fitting are [`crate::eval`]'s; this module reads, writes and prints.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use super::{answering, progress};
use crate::dialogue::Dialogue;
use crate::eval::{self, Question, Report, Validated};
use crate::store::DatabaseUrl;

#[derive(clap::Args)]
pub struct Args {
    /// JSON lines: {"q": …, "expect": [ids], "kind": …, "lang": …}.
    #[arg(long)]
    questions: PathBuf,
    /// Write one JSON line per question here, in input order.
    #[arg(long)]
    output: Option<PathBuf>,
    /// Print, for every question not answered right, the candidates the search found.
    #[arg(long)]
    explain: bool,
    /// Fit the ranker's weights and bars on the questions (with 5-fold cross-validation
    /// for the figures) and write them to the ranker file (`--ranker`), in the section of
    /// the mode running: words only, or words and meaning.
    #[arg(long)]
    fit: bool,
    /// Folds of the cross-validation.
    #[arg(long, default_value_t = 5)]
    folds: usize,
}

pub async fn run(
    database: &DatabaseUrl,
    answering: &answering::Args,
    args: Args,
) -> anyhow::Result<()> {
    let questions = read_questions(&args.questions)?;
    let ranker_file = &answering.ranker;
    let answering = answering.answering()?;
    let dialogue = answering::dialogue(database, &answering).await?;
    let texts: Vec<String> = questions.iter().map(|q| q.q.clone()).collect();
    let vectors = answering::query_vectors(answering.embedder.as_ref(), &dialogue, &texts).await;
    let modes = modes(vectors.as_deref());
    let validated: Vec<Validated> = modes
        .iter()
        .map(|&mode| eval::cross_validate(&dialogue, &questions, mode, args.folds))
        .collect();
    if args.fit {
        fit(&dialogue, &questions, &modes, &validated, ranker_file)?;
    }
    for v in &validated {
        print!("{v}");
    }
    let bar = progress(questions.len() as u64);
    let report = eval::run(&dialogue, &questions, vectors.as_deref(), || bar.inc(1));
    bar.finish_and_clear();
    if let Some(path) = &args.output {
        write_results(path, &report)?;
    }
    if args.explain {
        print!(
            "{}",
            eval::explain(&dialogue, &questions, vectors.as_deref(), &report)
        );
    }
    print!("{report}");
    Ok(())
}

fn read_questions(path: &Path) -> anyhow::Result<Vec<Question>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(eval::parse_questions(&text)?)
}

/// Each mode there is: by words only always, and with meaning where the questions have
/// vectors. The ranker has a model for each, so each is validated and fitted on its own.
fn modes(vectors: Option<&[Vec<f32>]>) -> Vec<Option<&[Vec<f32>]>> {
    let mut modes = vec![None];
    if let Some(v) = vectors {
        modes.push(Some(v));
    }
    modes
}

/// Fits the ranker in every mode and writes it, headed by the cross-validated figures.
/// The dialogue then answers with it, so that the figures printed next are those of the
/// ranker just fitted.
fn fit(
    dialogue: &Dialogue,
    questions: &[Question],
    modes: &[Option<&[Vec<f32>]>],
    validated: &[Validated],
    path: &Path,
) -> anyhow::Result<()> {
    let mut ranker = dialogue.ranker().as_ref().clone();
    let mut headers = String::new();
    for (&mode, v) in modes.iter().zip(validated) {
        *ranker.model_mut(mode.is_some()) = eval::fit_all(dialogue, questions, mode);
        headers.push_str(&eval::ranker_header(v, questions.len()));
    }
    let intro = "# The fitted ranker: weights of the candidates' features, of \"none of these\",\n\
                 # and the decision's bars, per mode. See docs/evaluation.md.\n";
    std::fs::write(
        path,
        format!("{intro}{headers}\n{}", toml::to_string(&ranker)?),
    )
    .with_context(|| format!("writing {}", path.display()))?;
    println!("ranker written to {}", path.display());
    dialogue.publish_ranker(ranker);
    Ok(())
}

/// One JSON line per question, in input order.
fn write_results(path: &Path, report: &Report) -> anyhow::Result<()> {
    let mut out = String::new();
    for r in &report.results {
        out.push_str(&serde_json::to_string(r)?);
        out.push('\n');
    }
    std::fs::write(path, out).with_context(|| format!("writing {}", path.display()))
}
