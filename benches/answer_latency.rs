//! Latency and throughput of answering with meaning on, in the process, on the Munich
//! catalogue: each answer with its question's sentence vector computed (distinct questions),
//! the same answers again (vectors from the cache), the model alone on the same questions
//! (the floor of an answer with meaning), and answering by words only. Prints figures;
//! asserts nothing about time.
//!
//!   cargo bench --bench answer_latency
//!
//! Environment: MUNICH_DIR (default ../shared/data/munich), QUESTIONS (default
//! ../shared/eval/dev.jsonl), RATHAUS_MODELS (default ~/.cache/rathaus, as tools/models.sh).

use std::path::PathBuf;
use std::time::Instant;

use rathaus::app::{Answering, dialogue};
use rathaus::catalogue;
use rathaus::dialogue::{Context, Inbound};
use rathaus::language::Thesaurus;
use rathaus::semantic::Embedder;
use rathaus::store;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn report(label: &str, mut ms: Vec<f64>, wall: f64) {
    ms.sort_by(f64::total_cmp);
    println!(
        "{label:<44} n {:>4}  p50 {:>7.2} ms  p99 {:>7.2} ms  max {:>7.2} ms  {:>8.0}/s",
        ms.len(),
        percentile(&ms, 0.5),
        percentile(&ms, 0.99),
        ms.last().copied().unwrap_or(0.0),
        ms.len() as f64 / wall
    );
}

fn main() -> anyhow::Result<()> {
    // As `rathaus` runs: the engine's threads sleep when idle.
    rathaus::app::runtime()?.block_on(run())
}

async fn run() -> anyhow::Result<()> {
    let munich =
        PathBuf::from(std::env::var("MUNICH_DIR").unwrap_or("../shared/data/munich".into()));
    let questions = std::env::var("QUESTIONS").unwrap_or("../shared/eval/dev.jsonl".into());
    let models = std::env::var_os("RATHAUS_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/rathaus")
        });
    let questions: Vec<String> =
        rathaus::eval::parse_questions(&std::fs::read_to_string(&questions)?)?
            .into_iter()
            .map(|q| q.q)
            .collect();

    let dir = tempfile::tempdir()?;
    let url: store::DatabaseUrl =
        format!("sqlite://{}", dir.path().join("b.db").display()).parse()?;
    let store = store::open(&url).await?;
    catalogue::import_dldb(
        store.as_ref(),
        &munich.join("services_de.json"),
        &munich.join("locations_de.json"),
    )
    .await?;
    let embedder = Embedder::local(
        &models.join("e5/libe5.so"),
        &models.join("e5/e5-small-q4.bin"),
    )?;
    let started = Instant::now();
    // Words read as a city's server reads them: with the thesaurus where it is installed.
    let by_words = Answering {
        thesaurus: Thesaurus::installed(),
        ..Answering::default()
    };
    let answering = Answering {
        embedder: Some(embedder.clone()),
        ..by_words.clone()
    };
    let with_meaning = dialogue(store.as_ref(), &answering).await?;
    println!(
        "catalogue embedded (287 entries' views and the intents' phrasings) in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let words_only = dialogue(store.as_ref(), &by_words).await?;

    // The model alone: a fresh embedder, so that no vector comes from a cache.
    let fresh = Embedder::local(
        &models.join("e5/libe5.so"),
        &models.join("e5/e5-small-q4.bin"),
    )?;
    let mut ms = Vec::new();
    let wall = Instant::now();
    for q in &questions {
        let t = Instant::now();
        fresh.query(q).await?;
        ms.push(t.elapsed().as_secs_f64() * 1e3);
    }
    report(
        "model alone, one question at a time",
        ms,
        wall.elapsed().as_secs_f64(),
    );

    // First pass: no question's vector is cached yet; second pass: every one is.
    for label in [
        "answer with meaning, distinct questions",
        "answer with meaning, repeated (cached vector)",
    ] {
        let mut ms = Vec::new();
        let wall = Instant::now();
        for q in &questions {
            let t = Instant::now();
            let v = embedder.query(q).await?;
            let d =
                with_meaning.respond_with(&Context::default(), &Inbound::text(q.clone()), Some(&v));
            std::hint::black_box(d);
            ms.push(t.elapsed().as_secs_f64() * 1e3);
        }
        report(label, ms, wall.elapsed().as_secs_f64());
    }

    let mut ms = Vec::new();
    let wall = Instant::now();
    for _ in 0..20 {
        for q in &questions {
            let t = Instant::now();
            let d = words_only.respond(&Context::default(), &Inbound::text(q.clone()));
            std::hint::black_box(d);
            ms.push(t.elapsed().as_secs_f64() * 1e3);
        }
    }
    report(
        "answer by words only, one thread",
        ms,
        wall.elapsed().as_secs_f64(),
    );
    Ok(())
}
