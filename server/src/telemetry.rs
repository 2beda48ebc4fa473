//! Logs: text or JSON lines on standard error, or appended to `log.file_path`.

use std::fs::OpenOptions;
use std::io::IsTerminal;
use std::sync::Mutex;

use tracing_subscriber::EnvFilter;

use crate::config::{LogConfig, LogFormat};

/// Installs the global subscriber for `log`; `RUST_LOG`, when set, replaces the level filter.
///
/// sqlx logs every statement at info, so it is held at warn unless `RUST_LOG` says otherwise.
pub fn init(log: &LogConfig) -> Result<(), String> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(directives) if !directives.is_empty() => EnvFilter::try_new(&directives)
            .map_err(|error| format!("RUST_LOG is invalid: {error}"))?,
        _ => EnvFilter::new(format!(
            "{level},sqlx=warn,hyper=warn,tower_http=warn",
            level = log.level.as_str()
        )),
    };
    // Colours only on a terminal: redirected logs stay plain text.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal());

    let outcome = match (&log.file_path, log.format) {
        (None, LogFormat::Text) => builder.with_writer(std::io::stderr).try_init(),
        (None, LogFormat::Json) => builder.json().with_writer(std::io::stderr).try_init(),
        (Some(path), format) => {
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|error| {
                    format!("log.file_path {}: cannot open: {error}", path.display())
                })?;
            let writer = Mutex::new(file);
            match format {
                LogFormat::Text => builder.with_ansi(false).with_writer(writer).try_init(),
                LogFormat::Json => builder.json().with_writer(writer).try_init(),
            }
        }
    };
    outcome.map_err(|error| format!("cannot install the logger: {error}"))
}

/// The maximum number of characters of user-supplied text that one log field shows.
pub const MAX_LOGGED_CHARS: usize = 64;

/// User-supplied text (a typed user name) prepared for a log field.
///
/// Shows at most [`MAX_LOGGED_CHARS`] characters followed by `…(N more bytes)`, so a client
/// cannot fill the log with one huge value, and escapes control characters, so the value
/// cannot start a forged log line.
#[derive(Clone, Copy)]
pub struct UserText<'a>(&'a str);

/// Wraps `text` for a log field: `tracing::info!(account_key = %user_text(name), …)`.
pub fn user_text<T: AsRef<str> + ?Sized>(text: &T) -> UserText<'_> {
    UserText(text.as_ref())
}

impl std::fmt::Display for UserText<'_> {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use std::fmt::Write as _;

        let mut shown_bytes = 0;
        for character in self.0.chars().take(MAX_LOGGED_CHARS) {
            if character.is_control() {
                write!(formatter, "{}", character.escape_default())?;
            } else {
                formatter.write_char(character)?;
            }
            shown_bytes += character.len_utf8();
        }
        let hidden_bytes = self.0.len() - shown_bytes;
        if hidden_bytes > 0 {
            write!(formatter, "…({hidden_bytes} more bytes)")?;
        }
        Ok(())
    }
}

impl std::fmt::Debug for UserText<'_> {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "\"{self}\"")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_text_keeps_short_values() {
        assert_eq!(user_text("alice").to_string(), "alice");
        assert_eq!(user_text("").to_string(), "");
        let exact = "a".repeat(MAX_LOGGED_CHARS);
        assert_eq!(user_text(&exact).to_string(), exact);
    }

    #[test]
    fn user_text_truncates_long_values() {
        let long = "b".repeat(200 * 1024);
        let shown = user_text(&long).to_string();
        let expected = format!("{}…({} more bytes)", "b".repeat(64), 200 * 1024 - 64);
        assert_eq!(shown, expected);
    }

    #[test]
    fn user_text_counts_characters_not_bytes() {
        let long = "ü".repeat(70);
        let shown = user_text(&long).to_string();
        assert_eq!(shown, format!("{}…(12 more bytes)", "ü".repeat(64)));
    }

    #[test]
    fn user_text_escapes_control_characters() {
        assert_eq!(
            user_text("eve\nINFO forged line").to_string(),
            "eve\\nINFO forged line"
        );
        assert_eq!(user_text("a\u{1b}[31m").to_string(), "a\\u{1b}[31m");
    }
}
