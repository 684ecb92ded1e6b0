//! `rathaus user …`: the staff accounts of the handoff console, managed from the server's
//! shell. A password is never taken from a flag, where it would show in `ps` and the
//! shell's history.

use std::io::IsTerminal;

use anyhow::Context as _;

use crate::console::auth;
use crate::store::{self, DatabaseUrl, Staff, StaffId, StaffRole, Store};

#[derive(clap::Subcommand)]
pub enum Command {
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

pub async fn run(database: &DatabaseUrl, command: Command) -> anyhow::Result<()> {
    let store = store::open(database).await?;
    let store = store.as_ref();
    match command {
        Command::Add {
            email,
            role,
            name,
            generate_password,
        } => add(store, email, role, name, generate_password).await,
        Command::List => list(store).await,
        Command::Password {
            email,
            generate_password,
        } => password(store, email, generate_password).await,
        Command::Disable { email } => {
            let staff = find(store, &email).await?;
            store.set_staff_active(&staff.id, false).await?;
            println!("{} disabled; its sessions ended", staff.email);
            Ok(())
        }
        Command::Enable { email } => {
            let staff = find(store, &email).await?;
            store.set_staff_active(&staff.id, true).await?;
            println!("{} enabled", staff.email);
            Ok(())
        }
    }
}

async fn add(
    store: &dyn Store,
    email: String,
    role: StaffRole,
    name: Option<String>,
    generate_password: bool,
) -> anyhow::Result<()> {
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
        .add_staff(&staff, &hash, crate::conversations::now_ms())
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
    Ok(())
}

async fn list(store: &dyn Store) -> anyhow::Result<()> {
    for s in store.staff_list().await? {
        println!(
            "{}\t{}\t{}\t{}",
            s.email,
            s.name,
            s.role.as_str(),
            if s.active { "active" } else { "disabled" }
        );
    }
    Ok(())
}

async fn password(store: &dyn Store, email: String, generate: bool) -> anyhow::Result<()> {
    let staff = find(store, &email).await?;
    let (password, generated) = new_password(generate)?;
    store
        .set_password(&staff.id, &auth::hash_password(&password)?)
        .await?;
    println!("password of {} changed; its sessions ended", staff.email);
    if generated {
        println!("password: {password}");
    }
    Ok(())
}

async fn find(store: &dyn Store, email: &str) -> anyhow::Result<Staff> {
    store
        .staff_by_email(email)
        .await?
        .map(|(s, _)| s)
        .with_context(|| format!("no account {email}"))
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
