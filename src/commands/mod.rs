//! The bodies of the `rathaus` subcommands, one module each; `main.rs` only parses the
//! arguments and calls them. Every command that answers builds the dialogue core through
//! [`answering::dialogue`], never beside it.

pub mod answering;
pub mod ask;
pub mod catalogue;
pub mod eval;
pub mod phone;
pub mod serve;
pub mod user;

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A progress bar on standard error, hidden where that is no terminal so that logs and
/// CI output stay clean.
fn progress(len: u64) -> ProgressBar {
    let bar = ProgressBar::new(len);
    if std::io::stderr().is_terminal() {
        bar.set_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
    } else {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    bar
}
