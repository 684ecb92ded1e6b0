//! The `rathaus` command: parse arguments, set up logging, run a subcommand.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use rathaus::app::{self, Answering, Application, Settings};
use rathaus::console::ConsoleSettings;
use rathaus::console::auth::{self, SessionPolicy};
use rathaus::dialogue::phrasings::Phrasings;
use rathaus::dialogue::ranker::Ranker;
use rathaus::dialogue::{Dialogue, Inbound};
use rathaus::semantic::{Embedder, Purpose, RemoteEncoder};
use rathaus::store::{DatabaseUrl, Staff, StaffId, StaffRole, Store};
use rathaus::{catalogue, eval, store};
use secrecy::SecretString;

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
    answering: AnsweringArgs,
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

/// How questions are answered: meaning, intents, ranker.
#[derive(clap::Args)]
struct AnsweringArgs {
    /// The sentence-vector model run in the process (`tools/models.sh` builds it); default
    /// `$RATHAUS_MODELS/e5/e5-small-q4.bin`, with `$RATHAUS_MODELS` `~/.cache/rathaus`.
    #[arg(long, global = true, env = "RATHAUS_EMBED_MODEL")]
    embed_model: Option<PathBuf>,
    /// The engine that runs it; default `libe5.so` beside the model.
    #[arg(long, global = true, env = "RATHAUS_EMBED_LIBRARY")]
    embed_library: Option<PathBuf>,
    /// Answer by words only, without sentence vectors.
    #[arg(long, global = true, env = "RATHAUS_WORDS_ONLY")]
    words_only: bool,
    /// Instead of the model in the process: an OpenAI-compatible embeddings API on premises
    /// (e.g. http://127.0.0.1:8000/v1) serving multilingual-e5-small.
    #[arg(long, global = true, env = "RATHAUS_EMBEDDINGS_URL")]
    embeddings_url: Option<String>,
    /// The intents' example phrasings (`<intent>.txt`); the shipped ones where missing.
    #[arg(
        long,
        global = true,
        env = "RATHAUS_INTENTS",
        default_value = "knowledge/intents"
    )]
    intents: PathBuf,
    /// The fitted ranker (`rathaus eval --fit` writes it); the shipped one where missing.
    #[arg(
        long,
        global = true,
        env = "RATHAUS_RANKER",
        default_value = "knowledge/ranker.toml"
    )]
    ranker: PathBuf,
    /// The city's state (BY, NW, BE, …), whose public holidays close its offices; without
    /// it only the nationwide holidays count.
    #[arg(long, global = true, env = "RATHAUS_STATE")]
    state: Option<rathaus::knowledge::holidays::State>,
    /// The model name sent to the embedding service.
    #[arg(
        long,
        global = true,
        env = "RATHAUS_EMBEDDINGS_MODEL",
        default_value = "multilingual-e5-small"
    )]
    embeddings_model: String,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API (and, on an empty database, load the knowledge folder first).
    Serve {
        /// Address and port to listen on.
        #[arg(long, env = "RATHAUS_LISTEN", default_value = "127.0.0.1:8080")]
        listen: String,
        /// Knowledge folder loaded into an empty database.
        #[arg(long, env = "RATHAUS_KNOWLEDGE", default_value = "knowledge")]
        knowledge: PathBuf,
        /// Folder with the channels' settings (telegram.toml, email.toml, phone.toml, …).
        #[arg(long, env = "RATHAUS_CHANNELS", default_value = "channels")]
        channels: PathBuf,
        /// Days after which untouched conversations and recorded unanswered questions are
        /// deleted (0 keeps them).
        #[arg(long, env = "RATHAUS_RETENTION_DAYS", default_value_t = 90)]
        retention_days: u64,
        /// Mark console cookies Secure (set this when Rathaus is served over TLS; behind a
        /// proxy that sends X-Forwarded-Proto: https it is set per request anyway).
        #[arg(long, env = "RATHAUS_SECURE_COOKIES")]
        secure_cookies: bool,
        /// Minutes after which an unused console session ends.
        #[arg(long, env = "RATHAUS_SESSION_IDLE_MINUTES", default_value_t = 30)]
        session_idle_minutes: u64,
        /// Hours after which a console session ends, used or not.
        #[arg(long, env = "RATHAUS_SESSION_MAX_HOURS", default_value_t = 10)]
        session_max_hours: u64,
    },
    /// Manage the staff accounts of the handoff console.
    #[command(subcommand)]
    User(User),
    /// Ask one question and print the reply, its outcome and its source.
    Ask {
        /// The question, as a citizen would write it.
        question: String,
        /// de or en (guessed when absent).
        #[arg(long)]
        lang: Option<String>,
        /// Print why: the stage that decided, the intents, the candidates' features and
        /// probabilities.
        #[arg(long)]
        explain: bool,
    },
    /// Import a catalogue into the database; entries are updated in place by id.
    #[command(subcommand)]
    Import(Import),
    /// Export the catalogue from the database.
    #[command(subcommand)]
    Export(Export),
    /// Run a question set and print how well the catalogue answers it.
    Eval {
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
    },
    /// The phone channel's tools.
    #[command(subcommand)]
    Phone(rathaus::channels::phone::cli::Command),
}

#[derive(Subcommand)]
enum Import {
    /// A DLDB export (the format of the Berlin and Munich appointment systems).
    Dldb {
        #[arg(long)]
        services: PathBuf,
        #[arg(long)]
        locations: PathBuf,
        /// Also load the synonym lists from this knowledge folder.
        #[arg(long, default_value = "knowledge")]
        synonyms: Option<PathBuf>,
    },
    /// A knowledge folder (entries/, offices/, synonyms.txt, synonyms-en.txt).
    Files { dir: PathBuf },
}

#[derive(Subcommand)]
enum User {
    /// Add an account. The password is asked for on a terminal, read from standard input
    /// otherwise, or generated and printed with --generate-password.
    Add {
        email: String,
        #[arg(long, value_enum, default_value = "agent")]
        role: StaffRole,
        /// The name citizens see on replies (default: the part of the address before @).
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        generate_password: bool,
    },
    /// List the accounts.
    List,
    /// Set a new password (ends the account's sessions).
    Password {
        email: String,
        #[arg(long)]
        generate_password: bool,
    },
    /// Disable an account (ends its sessions) or enable it again.
    Disable {
        email: String,
    },
    Enable {
        email: String,
    },
}

#[derive(Subcommand)]
enum Export {
    /// Write the catalogue as a knowledge folder.
    Files { dir: PathBuf },
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

fn main() -> anyhow::Result<()> {
    // Built before any thread starts: see `app::runtime`.
    app::runtime()?.block_on(run())
}

async fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_logging(&cli.log_format);
    match cli.command {
        Command::Serve {
            listen,
            knowledge,
            channels,
            retention_days,
            secure_cookies,
            session_idle_minutes,
            session_max_hours,
        } => {
            let policy = SessionPolicy {
                idle: std::time::Duration::from_secs(session_idle_minutes.max(1) * 60),
                absolute: std::time::Duration::from_secs(session_max_hours.max(1) * 3600),
                secure_cookies,
                ..SessionPolicy::default()
            };
            let settings = Settings {
                listen,
                database: cli.database,
                knowledge: Some(knowledge),
                channels: Some(channels),
                answering: answering(&cli.answering)?,
                retention: (retention_days > 0)
                    .then(|| std::time::Duration::from_secs(retention_days * 86_400)),
                console: ConsoleSettings { policy },
                // Read here, never from a flag: a token on the command line shows in `ps`.
                telegram_token: std::env::var(rathaus::channels::telegram::TOKEN_VARIABLE)
                    .ok()
                    .filter(|t| !t.trim().is_empty())
                    .map(SecretString::from),
            };
            let app = Application::build(settings).await?;
            tracing::info!(address = %app.local_addr()?, "Rathaus is listening");
            app.run_until_stopped().await?;
        }
        Command::Ask {
            question,
            lang,
            explain,
        } => {
            let answering = answering(&cli.answering)?;
            let dialogue = dialogue(&cli.database, &answering).await?;
            let lang = lang
                .map(|l| l.parse())
                .transpose()
                .map_err(anyhow::Error::msg)?;
            let vectors = query_vectors(
                answering.embedder.as_ref(),
                &dialogue,
                std::slice::from_ref(&question),
            )
            .await;
            let vector = vectors.as_ref().and_then(|v| v.first()).map(Vec::as_slice);
            let inbound = Inbound {
                text: question,
                lang,
                choice: None,
            };
            let decision = dialogue.respond_with(&Default::default(), &inbound, vector);
            if explain {
                println!("{}", eval::explain_decision(&decision));
            }
            let r = decision.reply;
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
        Command::Phone(command) => {
            command.run(&*dialogue(&cli.database, &Answering::default()).await?)?;
        }
        Command::Import(import) => {
            let store = store::open(&cli.database).await?;
            let report = match import {
                Import::Dldb {
                    services,
                    locations,
                    synonyms,
                } => {
                    let bar = progress(1);
                    bar.set_message("importing the DLDB export");
                    let mut report =
                        catalogue::import_dldb(store.as_ref(), &services, &locations).await?;
                    if let Some(dir) = synonyms.filter(|d| d.is_dir()) {
                        report.skipped.extend(
                            catalogue::import_synonyms(store.as_ref(), &dir)
                                .await?
                                .skipped,
                        );
                    }
                    bar.finish_and_clear();
                    report
                }
                Import::Files { dir } => catalogue::import_files(store.as_ref(), &dir).await?,
            };
            print!("{report}");
        }
        Command::User(user) => {
            let store = store::open(&cli.database).await?;
            users(store.as_ref(), user).await?;
        }
        Command::Export(Export::Files { dir }) => {
            let store = store::open(&cli.database).await?;
            let n = catalogue::export_files(store.as_ref(), &dir).await?;
            println!("{n} entries written to {}", dir.display());
        }
        Command::Eval {
            questions,
            output,
            explain,
            fit,
            folds,
        } => {
            let text = std::fs::read_to_string(&questions)
                .with_context(|| format!("reading {}", questions.display()))?;
            let questions = eval::parse_questions(&text)?;
            let answering = answering(&cli.answering)?;
            let dialogue = dialogue(&cli.database, &answering).await?;
            let texts: Vec<String> = questions.iter().map(|q| q.q.clone()).collect();
            let vectors = query_vectors(answering.embedder.as_ref(), &dialogue, &texts).await;
            // Fitted and validated in each mode there is: by words only always, and with
            // meaning where the questions have vectors.
            let mut modes: Vec<Option<&[Vec<f32>]>> = vec![None];
            if let Some(v) = vectors.as_deref() {
                modes.push(Some(v));
            }
            let mut ranker = dialogue.ranker().as_ref().clone();
            let mut headers = String::new();
            let mut validated = Vec::new();
            for mode in modes {
                let v = eval::cross_validate(&dialogue, &questions, mode, folds);
                if fit {
                    *ranker.model_mut(mode.is_some()) = eval::fit_all(&dialogue, &questions, mode);
                    headers.push_str(&eval::ranker_header(&v, questions.len()));
                }
                validated.push(v);
            }
            if fit {
                let path = &cli.answering.ranker;
                let intro = "# The fitted ranker: weights of the candidates' features, of \"none of these\",\n\
                             # and the decision's bars, per mode. See docs/evaluation.md.\n";
                std::fs::write(
                    path,
                    format!("{intro}{headers}\n{}", toml::to_string(&ranker)?),
                )
                .with_context(|| format!("writing {}", path.display()))?;
                println!("ranker written to {}", path.display());
                // The figures below are those of the ranker just fitted.
                dialogue.publish_ranker(ranker);
            }
            for v in &validated {
                print!("{v}");
            }
            let bar = progress(questions.len() as u64);
            let report = eval::run(&dialogue, &questions, vectors.as_deref(), || bar.inc(1));
            bar.finish_and_clear();
            if let Some(path) = output {
                let mut out = String::new();
                for r in &report.results {
                    out.push_str(&serde_json::to_string(r)?);
                    out.push('\n');
                }
                std::fs::write(&path, out)
                    .with_context(|| format!("writing {}", path.display()))?;
            }
            if explain {
                print!(
                    "{}",
                    eval::explain(&dialogue, &questions, vectors.as_deref(), &report)
                );
            }
            print!("{report}");
        }
    }
    Ok(())
}

/// The answering settings: the model in the process where its files are (or the service
/// configured instead), the intents' phrasings and the ranker from their files, each
/// falling back to what Rathaus ships. Says at start whether meaning is on.
fn answering(args: &AnsweringArgs) -> anyhow::Result<Answering> {
    let embedder = if args.words_only {
        tracing::info!("answering by words only (--words-only)");
        None
    } else if let Some(url) = &args.embeddings_url {
        let key = std::env::var("RATHAUS_EMBEDDINGS_API_KEY")
            .ok()
            .map(SecretString::from);
        tracing::info!(url, "meaning from the embedding service");
        Some(Embedder::remote(RemoteEncoder::new(
            url,
            &args.embeddings_model,
            key,
            std::time::Duration::from_secs(30),
        )))
    } else {
        let models = std::env::var_os("RATHAUS_MODELS")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/rathaus")))
            .unwrap_or_else(|| PathBuf::from(".cache/rathaus"));
        let model = args
            .embed_model
            .clone()
            .unwrap_or_else(|| models.join("e5/e5-small-q4.bin"));
        let library = args
            .embed_library
            .clone()
            .unwrap_or_else(|| model.with_file_name("libe5.so"));
        match Embedder::local(&library, &model) {
            Ok(e) => {
                tracing::info!(model = %model.display(), "meaning on: sentence vectors in the process");
                Some(e)
            }
            Err(e) => {
                tracing::warn!(error = %e, "meaning off, answering by words only: run tools/models.sh for the model");
                None
            }
        }
    };
    let phrasings = if args.intents.is_dir() {
        Phrasings::read_dir(&args.intents)?
    } else {
        Phrasings::builtin()
    };
    let ranker = if args.ranker.is_file() {
        Ranker::read(&args.ranker)?
    } else {
        Ranker::builtin()
    };
    Ok(Answering {
        embedder,
        phrasings,
        ranker,
        state: args.state,
    })
}

/// The questions' vectors, when the catalogue has vectors; `None` to answer by words.
async fn query_vectors(
    embedder: Option<&Embedder>,
    dialogue: &Dialogue,
    texts: &[String],
) -> Option<Vec<Vec<f32>>> {
    dialogue.knowledge().vectors.as_ref()?;
    match embedder?.embed(texts, Purpose::Query).await {
        Ok(v) => Some(v),
        Err(e) => {
            tracing::warn!(error = %e, "questions not embedded: answering by words only");
            None
        }
    }
}

async fn dialogue(database: &DatabaseUrl, answering: &Answering) -> anyhow::Result<Arc<Dialogue>> {
    let store = store::open(database).await?;
    let dialogue = app::dialogue(store.as_ref(), answering).await?;
    if dialogue.knowledge().catalogue.entries.is_empty() {
        anyhow::bail!("the catalogue in {database} is empty: run `rathaus import` first");
    }
    Ok(Arc::new(dialogue))
}

/// A new password: generated and printed, asked for twice on a terminal, or one line of
/// standard input (for scripts).
fn new_password(generate: bool) -> anyhow::Result<(String, bool)> {
    if generate {
        return Ok((auth::generate_password(), true));
    }
    let password = if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password: ")?;
        let second = rpassword::prompt_password("Repeat: ")?;
        anyhow::ensure!(first == second, "the passwords differ");
        first
    } else {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        line.trim_end_matches(['\r', '\n']).to_string()
    };
    anyhow::ensure!(
        password.chars().count() >= 12,
        "a password needs at least 12 characters"
    );
    Ok((password, false))
}

async fn users(store: &dyn Store, command: User) -> anyhow::Result<()> {
    let find = |email: String| async move {
        store
            .staff_by_email(&email)
            .await?
            .map(|(s, _)| s)
            .with_context(|| format!("no account {email}"))
    };
    match command {
        User::Add {
            email,
            role,
            name,
            generate_password,
        } => {
            let email = email.trim().to_lowercase();
            anyhow::ensure!(
                email.contains('@') && !email.starts_with('@') && !email.ends_with('@'),
                "'{email}' is not an e-mail address"
            );
            let (password, generated) = new_password(generate_password)?;
            let hash = auth::hash_password(&password)?;
            let staff = Staff {
                id: StaffId::new(),
                name: name.unwrap_or_else(|| email.split('@').next().unwrap_or(&email).to_string()),
                email: email.clone(),
                role,
                active: true,
            };
            match store
                .add_staff(&staff, &hash, rathaus::conversations::now_ms())
                .await
            {
                Err(store::StoreError::Conflict) => {
                    anyhow::bail!("an account {email} exists already")
                }
                other => other?,
            }
            println!(
                "added {} ({}) as {}",
                staff.email,
                staff.name,
                role.as_str()
            );
            if generated {
                println!("password: {password}");
            }
        }
        User::List => {
            for s in store.staff_list().await? {
                println!(
                    "{}\t{}\t{}\t{}",
                    s.email,
                    s.name,
                    s.role.as_str(),
                    if s.active { "active" } else { "disabled" }
                );
            }
        }
        User::Password {
            email,
            generate_password,
        } => {
            let staff = find(email).await?;
            let (password, generated) = new_password(generate_password)?;
            store
                .set_password(&staff.id, &auth::hash_password(&password)?)
                .await?;
            println!("password of {} changed; its sessions ended", staff.email);
            if generated {
                println!("password: {password}");
            }
        }
        User::Disable { email } => {
            let staff = find(email).await?;
            store.set_staff_active(&staff.id, false).await?;
            println!("{} disabled; its sessions ended", staff.email);
        }
        User::Enable { email } => {
            let staff = find(email).await?;
            store.set_staff_active(&staff.id, true).await?;
            println!("{} enabled", staff.email);
        }
    }
    Ok(())
}
