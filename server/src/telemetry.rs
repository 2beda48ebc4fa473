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
