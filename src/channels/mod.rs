//! The channels that carry conversations beyond the widget: each turns its own traffic into
//! [`crate::dialogue::Inbound`] messages for [`crate::conversations::Conversations`] and
//! renders the replies in its own format. Staff replies from the console reach a channel's
//! citizens through the [`outbox`], which keeps them until they are sent.

pub mod email;
pub mod html;
pub mod outbox;
pub mod phone;
pub mod runtime;
pub mod telegram;

use std::path::Path;

use serde::de::DeserializeOwned;

/// A channel's settings file that could not be read or parsed.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct SettingsFileError {
    pub path: String,
    pub message: String,
}

/// Why a channel's settings were refused: the file, or a value in it.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error(transparent)]
    File(#[from] SettingsFileError),
    #[error("{0}")]
    Invalid(String),
}

/// Reads and parses the settings file `name` (TOML) from the channels folder `dir`; `None`
/// when there is no such file (the channel is off).
pub fn read_settings<T: DeserializeOwned>(
    dir: &Path,
    name: &str,
) -> Result<Option<T>, SettingsFileError> {
    let path = dir.join(name);
    let error = |message: String| SettingsFileError {
        path: path.display().to_string(),
        message,
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(error(e.to_string())),
    };
    toml::from_str(&text)
        .map(Some)
        .map_err(|e| error(e.to_string()))
}
