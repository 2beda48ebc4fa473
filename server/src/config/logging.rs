//! `log`: level, format and destination of the server's log.

use std::path::PathBuf;

use crate::config::read::{Reader, Section};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogConfig {
    pub level: LogLevel,
    pub format: LogFormat,
    /// File to append the log to; standard output when `None`.
    pub file_path: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

impl LogLevel {
    /// Returns the level as a `tracing` filter directive.
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Trace => "trace",
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

pub(crate) fn read_log(reader: &mut Reader, mut section: Section<'_>) -> LogConfig {
    let level_path = section.key_path("level");
    let level = match section
        .string(reader, "level")
        .map(|text| text.to_ascii_lowercase())
        .as_deref()
    {
        None | Some("info") => LogLevel::Info,
        Some("trace") => LogLevel::Trace,
        Some("debug") => LogLevel::Debug,
        Some("warn" | "warning") => LogLevel::Warn,
        Some("error") => LogLevel::Error,
        Some(other) => {
            reader.error(
                &level_path,
                format!("unknown level '{other}': expected trace, debug, info, warn or error"),
            );
            LogLevel::Info
        }
    };
    let format_path = section.key_path("format");
    let format = match section
        .string(reader, "format")
        .map(|text| text.to_ascii_lowercase())
        .as_deref()
    {
        None | Some("text") => LogFormat::Text,
        Some("json") => LogFormat::Json,
        Some(other) => {
            reader.error(
                &format_path,
                format!("unknown format '{other}': expected text or json"),
            );
            LogFormat::Text
        }
    };
    let file_path = section
        .string(reader, "file_path")
        .filter(|path| !path.is_empty())
        .map(PathBuf::from);
    section.finish(reader);
    LogConfig {
        level,
        format,
        file_path,
    }
}
