//! `rathaus ask`: one question through the dialogue core, the reply printed with its
//! outcome and sources, and on request the reasons. It never writes to the store.

use super::answering;
use crate::dialogue::{Decision, Inbound};
use crate::eval;
use crate::store::DatabaseUrl;

#[derive(clap::Args)]
pub struct Args {
    /// The question, as a citizen would write it.
    question: String,
    /// de or en (guessed when absent).
    #[arg(long)]
    lang: Option<String>,
    /// Print why: the stage that decided, the intents, the candidates' features and
    /// probabilities.
    #[arg(long)]
    explain: bool,
}

pub async fn run(
    database: &DatabaseUrl,
    answering: &answering::Args,
    args: Args,
) -> anyhow::Result<()> {
    let answering = answering.answering()?;
    let dialogue = answering::dialogue(database, &answering).await?;
    let lang = args
        .lang
        .map(|l| l.parse())
        .transpose()
        .map_err(anyhow::Error::msg)?;
    let vectors = answering::query_vectors(
        answering.embedder.as_ref(),
        &dialogue,
        std::slice::from_ref(&args.question),
    )
    .await;
    let vector = vectors.as_ref().and_then(|v| v.first()).map(Vec::as_slice);
    let inbound = Inbound {
        text: args.question,
        lang,
        choice: None,
    };
    let decision = dialogue.respond_with(&Default::default(), &inbound, vector);
    if args.explain {
        println!("{}", eval::explain_decision(&decision));
    }
    print_reply(&decision);
    Ok(())
}

fn print_reply(decision: &Decision) {
    let r = &decision.reply;
    println!("{}\n", r.text);
    println!("outcome: {}", r.outcome.as_str());
    for e in &r.entries {
        println!(
            "entry: {} {} {}",
            e.id,
            e.name,
            e.source.as_deref().unwrap_or("")
        );
    }
}
