//! Typed reading of the configuration tree. Every problem is collected with its key path, so
//! one run reports all of them. A key that a section does not read is reported as unknown.

use std::time::Duration;

use crate::config::duration::parse_duration;
use crate::config::secret::Secret;
use crate::config::tree::Value;
use crate::config::Diagnostic;

/// Collects diagnostics while the typed configuration is read.
#[derive(Default)]
pub(crate) struct Reader {
    pub(crate) errors: Vec<Diagnostic>,
    pub(crate) warnings: Vec<Diagnostic>,
    /// When set, the path of every scalar key that is read (present or not) is recorded here.
    /// This is how the list of keys that environment variables can set is built.
    pub(crate) scalar_paths: Option<Vec<String>>,
}

impl Reader {
    pub(crate) fn error(&mut self, path: &str, message: impl Into<String>) {
        self.errors.push(Diagnostic {
            path: path.to_owned(),
            message: message.into(),
        });
    }

    pub(crate) fn warn(&mut self, path: &str, message: impl Into<String>) {
        self.warnings.push(Diagnostic {
            path: path.to_owned(),
            message: message.into(),
        });
    }

    /// Whether optional sections should be read even when absent, to record their keys.
    pub(crate) fn recording(&self) -> bool {
        self.scalar_paths.is_some()
    }

    fn record(&mut self, path: &str) {
        if let Some(paths) = &mut self.scalar_paths {
            paths.push(path.to_owned());
        }
    }

    /// Reports a value of the wrong type without showing it.
    pub(crate) fn wrong_type(&mut self, path: &str, expected: &str, found: &Value) {
        let message = format!("expected {expected}, found {}", found.kind());
        self.error(path, with_origin(message, found));
    }
}

/// Appends the environment variable that set `value`, if one did.
pub(crate) fn with_origin(message: String, value: &Value) -> String {
    match value {
        Value::Env { variable, .. } => format!("{message} (set by {variable})"),
        _ => message,
    }
}

/// Joins a key path and a key.
pub(crate) fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// A mapping being read; keys that are never taken are reported by [`Section::finish`].
pub(crate) struct Section<'v> {
    path: String,
    entries: &'v [(String, Value)],
    used: Vec<bool>,
}

impl<'v> Section<'v> {
    /// Opens `value` as a mapping. A missing or empty value reads as an empty mapping.
    pub(crate) fn open(reader: &mut Reader, path: &str, value: Option<&'v Value>) -> Section<'v> {
        let entries: &'v [(String, Value)] = match value {
            Some(Value::Map(entries)) => entries,
            None | Some(Value::Null) => &[],
            Some(other) => {
                reader.wrong_type(path, "a mapping", other);
                &[]
            }
        };
        Section {
            path: path.to_owned(),
            entries,
            used: vec![false; entries.len()],
        }
    }

    pub(crate) fn path(&self) -> &str {
        &self.path
    }

    /// Returns the key path of `key` inside this section.
    pub(crate) fn key_path(&self, key: &str) -> String {
        join(&self.path, key)
    }

    /// Checks whether `key` is present with a non-null value.
    pub(crate) fn has(&self, key: &str) -> bool {
        self.entries.iter().any(|(k, v)| k == key && !v.is_null())
    }

    /// Takes the value of `key`; a null value counts as absent.
    pub(crate) fn take(&mut self, key: &str) -> Option<&'v Value> {
        let index = self.entries.iter().position(|(k, _)| k == key)?;
        self.used[index] = true;
        let value = &self.entries[index].1;
        if value.is_null() {
            None
        } else {
            Some(value)
        }
    }

    /// Takes `key` as a nested section; absent reads as empty.
    pub(crate) fn section(&mut self, reader: &mut Reader, key: &str) -> Section<'v> {
        let value = self.take(key);
        Section::open(reader, &self.key_path(key), value)
    }

    /// Takes `key` as a nested section if it is present (or when recording key paths).
    pub(crate) fn optional_section(
        &mut self,
        reader: &mut Reader,
        key: &str,
    ) -> Option<Section<'v>> {
        let value = self.take(key);
        if value.is_none() && !reader.recording() {
            return None;
        }
        Some(Section::open(reader, &self.key_path(key), value))
    }

    /// Takes `key` as a list and returns each item with its indexed path.
    pub(crate) fn list(&mut self, reader: &mut Reader, key: &str) -> Vec<(String, &'v Value)> {
        let path = self.key_path(key);
        match self.take(key) {
            None => Vec::new(),
            Some(Value::List(items)) => items
                .iter()
                .enumerate()
                .map(|(i, item)| (format!("{path}[{i}]"), item))
                .collect(),
            Some(other) => {
                reader.wrong_type(&path, "a list", other);
                Vec::new()
            }
        }
    }

    /// Takes `key` as a mapping of names to values and returns (name, path, value).
    pub(crate) fn entries(
        &mut self,
        reader: &mut Reader,
        key: &str,
    ) -> Vec<(String, String, &'v Value)> {
        let path = self.key_path(key);
        match self.take(key) {
            None => Vec::new(),
            Some(Value::Map(entries)) => entries
                .iter()
                .map(|(name, value)| (name.clone(), join(&path, name), value))
                .collect(),
            Some(other) => {
                reader.wrong_type(&path, "a mapping", other);
                Vec::new()
            }
        }
    }

    pub(crate) fn string(&mut self, reader: &mut Reader, key: &str) -> Option<String> {
        let path = self.key_path(key);
        reader.record(&path);
        let value = self.take(key)?;
        read_string(reader, &path, value)
    }

    pub(crate) fn string_or(&mut self, reader: &mut Reader, key: &str, default: &str) -> String {
        self.string(reader, key)
            .unwrap_or_else(|| default.to_owned())
    }

    pub(crate) fn secret(&mut self, reader: &mut Reader, key: &str) -> Option<Secret> {
        let path = self.key_path(key);
        reader.record(&path);
        match self.take(key)? {
            Value::Str(text) | Value::Env { text, .. } => Some(Secret::new(text.clone())),
            // YAML reads an all-digit password as a number; keep its text.
            Value::Int(number) => Some(Secret::new(number.to_string())),
            other => {
                reader.wrong_type(&path, "a string", other);
                None
            }
        }
    }

    pub(crate) fn bool(&mut self, reader: &mut Reader, key: &str, default: bool) -> bool {
        let path = self.key_path(key);
        reader.record(&path);
        let Some(value) = self.take(key) else {
            return default;
        };
        match value {
            Value::Bool(b) => *b,
            Value::Str(text) | Value::Env { text, .. } => {
                match text.trim().to_ascii_lowercase().as_str() {
                    "true" => true,
                    "false" => false,
                    _ => {
                        let message = format!("expected true or false, found '{}'", text.trim());
                        reader.error(&path, with_origin(message, value));
                        default
                    }
                }
            }
            other => {
                reader.wrong_type(&path, "true or false", other);
                default
            }
        }
    }

    /// Takes an integer; negative values and values above `max` are errors.
    pub(crate) fn uint(&mut self, reader: &mut Reader, key: &str, max: u64) -> Option<u64> {
        let path = self.key_path(key);
        reader.record(&path);
        let value = self.take(key)?;
        let number = read_integer(reader, &path, value)?;
        match u64::try_from(number) {
            Ok(n) if n <= max => Some(n),
            _ => {
                let message = format!("must be between 0 and {max}, found {number}");
                reader.error(&path, with_origin(message, value));
                None
            }
        }
    }

    pub(crate) fn duration(&mut self, reader: &mut Reader, key: &str) -> Option<Duration> {
        let path = self.key_path(key);
        reader.record(&path);
        let value = self.take(key)?;
        read_duration(reader, &path, value)
    }

    pub(crate) fn duration_or(
        &mut self,
        reader: &mut Reader,
        key: &str,
        default: Duration,
    ) -> Duration {
        self.duration(reader, key).unwrap_or(default)
    }

    /// Takes the raw value of a scalar key whose forms the caller interprets (such as a
    /// duration that may also be `-1` or `always`), recording its path.
    pub(crate) fn scalar(&mut self, reader: &mut Reader, key: &str) -> Option<&'v Value> {
        let path = self.key_path(key);
        reader.record(&path);
        self.take(key)
    }

    /// Takes a string or a list of strings. From the environment the text is split at commas.
    pub(crate) fn string_list(
        &mut self,
        reader: &mut Reader,
        key: &str,
    ) -> Option<Vec<(String, String)>> {
        let path = self.key_path(key);
        reader.record(&path);
        let value = self.take(key)?;
        Some(read_string_list(reader, &path, value))
    }

    /// Reports every key that was not taken: an unknown key is an error because a misspelt key
    /// would otherwise be ignored without notice.
    pub(crate) fn finish(self, reader: &mut Reader) {
        for ((key, _), used) in self.entries.iter().zip(&self.used) {
            if !used {
                reader.error(&join(&self.path, key), "unknown key");
            }
        }
    }
}

/// Reads a scalar as text. Numbers and booleans keep their YAML spelling.
pub(crate) fn read_string(reader: &mut Reader, path: &str, value: &Value) -> Option<String> {
    match value {
        Value::Str(text) | Value::Env { text, .. } => Some(text.clone()),
        Value::Int(number) => Some(number.to_string()),
        Value::Float(number) => Some(number.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        other => {
            reader.wrong_type(path, "a string", other);
            None
        }
    }
}

pub(crate) fn read_integer(reader: &mut Reader, path: &str, value: &Value) -> Option<i64> {
    match value {
        Value::Int(number) => Some(*number),
        Value::Str(text) | Value::Env { text, .. } => match text.trim().parse::<i64>() {
            Ok(number) => Some(number),
            Err(_) => {
                let message = format!("expected an integer, found '{}'", text.trim());
                reader.error(path, with_origin(message, value));
                None
            }
        },
        other => {
            reader.wrong_type(path, "an integer", other);
            None
        }
    }
}

pub(crate) fn read_duration(reader: &mut Reader, path: &str, value: &Value) -> Option<Duration> {
    match value {
        Value::Int(seconds) => match u64::try_from(*seconds) {
            Ok(seconds) => Some(Duration::from_secs(seconds)),
            Err(_) => {
                reader.error(
                    path,
                    format!("a duration cannot be negative, found {seconds}"),
                );
                None
            }
        },
        Value::Str(text) | Value::Env { text, .. } => match parse_duration(text) {
            Ok(duration) => Some(duration),
            Err(error) => {
                reader.error(path, with_origin(error.to_string(), value));
                None
            }
        },
        other => {
            reader.wrong_type(path, "a duration", other);
            None
        }
    }
}

/// Reads a string or a list of strings, returning each item with its path.
pub(crate) fn read_string_list(
    reader: &mut Reader,
    path: &str,
    value: &Value,
) -> Vec<(String, String)> {
    match value {
        Value::List(items) => items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| {
                let item_path = format!("{path}[{i}]");
                read_string(reader, &item_path, item).map(|text| (item_path, text))
            })
            .collect(),
        Value::Env { text, .. } => text
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .enumerate()
            .map(|(i, item)| (format!("{path}[{i}]"), item.to_owned()))
            .collect(),
        scalar => read_string(reader, path, scalar)
            .map(|text| vec![(path.to_owned(), text)])
            .unwrap_or_default(),
    }
}
