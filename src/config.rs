//! Secrets, read one way: a secret named `NAME` comes from the environment variable `NAME`,
//! or from the file whose path is in `NAME_FILE` (a Docker or systemd secret). Never from a
//! flag, which `ps` shows, nor from a settings file, which lives in the repository. Nothing
//! here logs or prints a secret's value; errors name the setting only.

use std::ffi::OsString;
use std::path::PathBuf;

use secrecy::SecretString;

/// A setting that was given wrongly, by its name (`RATHAUS_TELEGRAM_TOKEN: …`).
#[derive(Debug, thiserror::Error)]
#[error("{setting}: {problem}")]
pub struct ConfigError {
    setting: String,
    problem: Problem,
}

#[derive(Debug, thiserror::Error)]
enum Problem {
    #[error("not set (set it, or {0} to a file that holds it)")]
    Unset(String),
    #[error("both it and {0} are set; set one of them")]
    Both(String),
    #[error("is empty")]
    Empty,
    #[error("{0} is empty")]
    EmptyFileVariable(String),
    #[error("{0} names {1}, which is empty")]
    EmptyFile(String, PathBuf),
    #[error("{0} names {1}, which cannot be read: {2}")]
    Unreadable(String, PathBuf, std::io::Error),
    #[error("is not valid UTF-8")]
    NotUnicode,
}

impl ConfigError {
    /// A secret a setting needs but nobody gave (for callers to whom "not set" is an error).
    pub fn unset(setting: &str) -> ConfigError {
        ConfigError {
            setting: setting.to_string(),
            problem: Problem::Unset(file_variable(setting)),
        }
    }
}

/// The secret `name`, from the environment variable `name` or from the file named in
/// `name_FILE` (one trailing line break removed). `None` when neither is set: whether that
/// switches something off or is an error is the caller's to say. Both set, an empty value or
/// a file that cannot be read are errors.
pub fn secret(name: &str) -> Result<Option<SecretString>, ConfigError> {
    secret_in(name, |variable| std::env::var_os(variable))
}

/// [`secret`] with the environment given, so that tests need not change the process's.
fn secret_in(
    name: &str,
    env: impl Fn(&str) -> Option<OsString>,
) -> Result<Option<SecretString>, ConfigError> {
    let file_var = file_variable(name);
    let error = |problem| ConfigError {
        setting: name.to_string(),
        problem,
    };
    let value = match (env(name), env(&file_var)) {
        (None, None) => return Ok(None),
        (Some(_), Some(_)) => return Err(error(Problem::Both(file_var))),
        (Some(value), None) => {
            let value = value
                .into_string()
                .map_err(|_| error(Problem::NotUnicode))?;
            if value.trim().is_empty() {
                return Err(error(Problem::Empty));
            }
            value
        }
        (None, Some(path)) => {
            if path.is_empty() {
                return Err(error(Problem::EmptyFileVariable(file_var)));
            }
            let path = PathBuf::from(path);
            let text = std::fs::read_to_string(&path)
                .map_err(|e| error(Problem::Unreadable(file_var.clone(), path.clone(), e)))?;
            // Editors and `echo` end a file with a line break; the secret does not.
            let value = text
                .strip_suffix('\n')
                .map_or(text.as_str(), |t| t.strip_suffix('\r').unwrap_or(t));
            if value.trim().is_empty() {
                return Err(error(Problem::EmptyFile(file_var, path)));
            }
            value.to_string()
        }
    };
    Ok(Some(SecretString::from(value)))
}

fn file_variable(name: &str) -> String {
    format!("{name}_FILE")
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use secrecy::ExposeSecret;

    use super::*;

    fn resolve(name: &str, vars: &[(&str, &str)]) -> Result<Option<String>, ConfigError> {
        let vars: HashMap<String, OsString> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), OsString::from(v)))
            .collect();
        secret_in(name, |k| vars.get(k).cloned()).map(|s| s.map(|s| s.expose_secret().to_string()))
    }

    #[test]
    fn a_secret_comes_from_its_variable() {
        let got = resolve("RATHAUS_X_TOKEN", &[("RATHAUS_X_TOKEN", "s3cret ")]).unwrap();
        assert_eq!(got.as_deref(), Some("s3cret "), "taken as given");
    }

    #[test]
    fn a_secret_comes_from_the_file_its_file_variable_names() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "s3cret\n").unwrap();
        let got = resolve(
            "RATHAUS_X_TOKEN",
            &[("RATHAUS_X_TOKEN_FILE", path.to_str().unwrap())],
        )
        .unwrap();
        assert_eq!(got.as_deref(), Some("s3cret"), "the line break removed");
        std::fs::write(&path, "s3cret \r\n").unwrap();
        let got = resolve(
            "RATHAUS_X_TOKEN",
            &[("RATHAUS_X_TOKEN_FILE", path.to_str().unwrap())],
        )
        .unwrap();
        assert_eq!(got.as_deref(), Some("s3cret "), "only the line break");
    }

    #[test]
    fn neither_set_is_none_for_the_caller_to_judge() {
        assert!(resolve("RATHAUS_X_TOKEN", &[]).unwrap().is_none());
        assert_eq!(
            ConfigError::unset("RATHAUS_X_TOKEN").to_string(),
            "RATHAUS_X_TOKEN: not set (set it, or RATHAUS_X_TOKEN_FILE to a file that holds it)"
        );
    }

    #[test]
    fn both_set_is_an_error_naming_both() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "s3cret").unwrap();
        let e = resolve(
            "RATHAUS_X_TOKEN",
            &[
                ("RATHAUS_X_TOKEN", "s3cret"),
                ("RATHAUS_X_TOKEN_FILE", path.to_str().unwrap()),
            ],
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("RATHAUS_X_TOKEN: both") && e.contains("RATHAUS_X_TOKEN_FILE"),
            "{e}"
        );
    }

    #[test]
    fn an_empty_value_is_an_error_either_way() {
        let e = resolve("RATHAUS_X_TOKEN", &[("RATHAUS_X_TOKEN", "")]).unwrap_err();
        assert_eq!(e.to_string(), "RATHAUS_X_TOKEN: is empty");
        let e = resolve("RATHAUS_X_TOKEN", &[("RATHAUS_X_TOKEN", " \n")]).unwrap_err();
        assert_eq!(e.to_string(), "RATHAUS_X_TOKEN: is empty");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "\n").unwrap();
        let e = resolve(
            "RATHAUS_X_TOKEN",
            &[("RATHAUS_X_TOKEN_FILE", path.to_str().unwrap())],
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("RATHAUS_X_TOKEN: RATHAUS_X_TOKEN_FILE names") && e.ends_with("empty"),
            "{e}"
        );
        let e = resolve("RATHAUS_X_TOKEN", &[("RATHAUS_X_TOKEN_FILE", "")]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "RATHAUS_X_TOKEN: RATHAUS_X_TOKEN_FILE is empty"
        );
    }

    #[test]
    fn a_missing_file_is_an_error_naming_the_setting_and_the_file() {
        let e = resolve(
            "RATHAUS_X_TOKEN",
            &[("RATHAUS_X_TOKEN_FILE", "/nonexistent/rathaus-token")],
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("RATHAUS_X_TOKEN: RATHAUS_X_TOKEN_FILE names /nonexistent/rathaus-token, which cannot be read"),
            "{e}"
        );
    }
}
