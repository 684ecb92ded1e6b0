//! `rathaus phone …`: hands the phone channel's tools ([`Command`]) a dialogue core over
//! the stored catalogue; the tools themselves live with the channel.

pub use crate::channels::phone::cli::Command;

use super::answering;
use crate::app::Answering;
use crate::store::DatabaseUrl;

/// Runs a phone tool. It answers by words only with the shipped phrasings and ranker: the
/// answering options do not reach it.
pub async fn run(database: &DatabaseUrl, command: Command) -> anyhow::Result<()> {
    let dialogue = answering::dialogue(database, &Answering::default()).await?;
    command.run(&dialogue)
}
