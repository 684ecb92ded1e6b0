//! `rathaus phone …`: hands the phone channel's tools ([`Command`]) a dialogue core over
//! the stored catalogue; the tools themselves live with the channel.

pub use crate::channels::phone::cli::Command;

use super::answering;
use crate::app::Answering;
use crate::store::DatabaseUrl;

/// Runs a phone tool. It answers by words only with the shipped phrasings and ranker, reading
/// words as the server does (with the thesaurus): of the answering options only
/// `--thesaurus` reaches it.
pub async fn run(
    database: &DatabaseUrl,
    answering: &answering::Args,
    command: Command,
) -> anyhow::Result<()> {
    let by_words = Answering {
        thesaurus: answering.thesaurus(),
        ..Answering::default()
    };
    let dialogue = answering::dialogue(database, &by_words).await?;
    command.run(&dialogue)
}
