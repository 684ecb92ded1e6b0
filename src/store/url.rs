//! Database URLs as operators write them: `sqlite://PATH`, `sqlite::memory:`,
//! `postgres://…`. The PostgreSQL URL is a secret: its `Debug` and `Display` hide the password.

use secrecy::{ExposeSecret, SecretString};

#[derive(Clone)]
pub enum DatabaseUrl {
    /// A file path, or `:memory:`.
    Sqlite(String),
    Postgres(SecretString),
}

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("unsupported database URL (use sqlite://PATH or postgres://USER@HOST/DB)")]
pub struct InvalidDatabaseUrl;

impl std::str::FromStr for DatabaseUrl {
    type Err = InvalidDatabaseUrl;
    fn from_str(s: &str) -> Result<Self, InvalidDatabaseUrl> {
        let s = s.trim();
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            return Ok(DatabaseUrl::Postgres(SecretString::from(s.to_string())));
        }
        let path = s
            .strip_prefix("sqlite://")
            .or_else(|| s.strip_prefix("sqlite:"))
            .ok_or(InvalidDatabaseUrl)?;
        let path = path.split('?').next().unwrap_or("");
        match path {
            "" => Err(InvalidDatabaseUrl),
            ":memory:" => Ok(DatabaseUrl::Sqlite(":memory:".into())),
            p => Ok(DatabaseUrl::Sqlite(p.to_string())),
        }
    }
}

impl std::fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DatabaseUrl::Sqlite(p) => write!(f, "sqlite://{p}"),
            DatabaseUrl::Postgres(secret) => {
                let url = secret.expose_secret();
                // postgres://user:password@host → postgres://user:***@host
                match (url.find("://"), url.rfind('@')) {
                    (Some(scheme), Some(at)) if url[scheme + 3..at].contains(':') => {
                        let user_end = scheme + 3 + url[scheme + 3..at].find(':').unwrap_or(0);
                        write!(f, "{}:***{}", &url[..user_end], &url[at..])
                    }
                    _ => f.write_str(url),
                }
            }
        }
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DatabaseUrl({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_hides_passwords() {
        let u: DatabaseUrl = "postgres://rathaus:geheim@db:5432/rathaus".parse().unwrap();
        assert_eq!(u.to_string(), "postgres://rathaus:***@db:5432/rathaus");
        assert!(!format!("{u:?}").contains("geheim"));
        assert!(
            matches!("sqlite://rathaus.db".parse(), Ok(DatabaseUrl::Sqlite(p)) if p == "rathaus.db")
        );
        assert!(
            matches!("sqlite:///var/lib/r.db?mode=rwc".parse(), Ok(DatabaseUrl::Sqlite(p)) if p == "/var/lib/r.db")
        );
        assert!(matches!("sqlite::memory:".parse(), Ok(DatabaseUrl::Sqlite(p)) if p == ":memory:"));
        assert_eq!(
            "mysql://x".parse::<DatabaseUrl>().unwrap_err(),
            InvalidDatabaseUrl
        );
    }
}
