//! The `rathaus` command: parse arguments, set up logging, run a subcommand. The bodies of
//! the subcommands live in the library's [`rathaus::commands`], so that this file stays
//! the list of what the command can do.

use clap::{Parser, Subcommand};

use rathaus::app;
use rathaus::commands::{answering, ask, catalogue, eval, phone, serve, user};
use rathaus::store::DatabaseUrl;

#[derive(Parser)]
#[command(
    name = "rathaus",
    version,
    about = "Citizen-service assistant for German municipalities"
)]
struct Cli {
    /// Database: sqlite://PATH (created when missing) or postgres://USER@HOST/DB.
    #[arg(
        long,
        global = true,
        env = "RATHAUS_DATABASE_URL",
        default_value = "sqlite://rathaus.db"
    )]
    database: DatabaseUrl,
    #[command(flatten)]
    answering: answering::Args,
    /// Log format: text or json.
    #[arg(
        long,
        global = true,
        env = "RATHAUS_LOG_FORMAT",
        default_value = "text"
    )]
    log_format: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API (and, on an empty database, load the knowledge folder first).
    Serve(serve::Args),
    /// Manage the staff accounts of the handoff console.
    #[command(subcommand)]
    User(user::Command),
    /// Ask one question and print the reply, its outcome and its source.
    Ask(ask::Args),
    /// Import a catalogue into the database; entries are updated in place by id.
    #[command(subcommand)]
    Import(catalogue::Import),
    /// Export the catalogue from the database.
    #[command(subcommand)]
    Export(catalogue::Export),
    /// Run a question set and print how well the catalogue answers it.
    Eval(eval::Args),
    /// The phone channel's tools.
    #[command(subcommand)]
    Phone(phone::Command),
}

fn init_logging(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,tower_http=warn,sqlx=warn".into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn main() -> anyhow::Result<()> {
    // Built before any thread starts: see `app::runtime`.
    app::runtime()?.block_on(run())
}

async fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_logging(&cli.log_format);
    let (database, answering) = (cli.database, &cli.answering);
    match cli.command {
        Command::Serve(args) => serve::run(database, answering, args).await,
        Command::User(command) => user::run(&database, command).await,
        Command::Ask(args) => ask::run(&database, answering, args).await,
        Command::Import(import) => catalogue::import(&database, import).await,
        Command::Export(export) => catalogue::export(&database, export).await,
        Command::Eval(args) => eval::run(&database, answering, args).await,
        Command::Phone(command) => phone::run(&database, answering, command).await,
    }
}
