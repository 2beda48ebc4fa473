//! The untyped configuration tree: YAML documents converted to one shape, merged file by file,
//! then overridden from the environment before the typed sections are read from it.

use std::path::{Path, PathBuf};

use serde_norway::Value as Yaml;

use crate::config::Diagnostic;

/// One node of the configuration tree. Mappings keep the order of the file.
///
/// There is deliberately no `Debug` implementation: scalars may hold secrets.
#[derive(Clone, PartialEq)]
pub(crate) enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    List(Vec<Value>),
    Map(Vec<(String, Value)>),
    /// Scalar text set by an environment variable. It is converted to the key's type where the
    /// key is read, and messages name the variable.
    Env {
        variable: String,
        text: String,
    },
}

impl Value {
    /// Returns the value stored under `key` of a mapping.
    pub(crate) fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Returns a mutable reference to the value under `key` of a mapping.
    pub(crate) fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        match self {
            Value::Map(entries) => entries.iter_mut().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Removes `key` from a mapping and returns its value.
    pub(crate) fn remove(&mut self, key: &str) -> Option<Value> {
        match self {
            Value::Map(entries) => {
                let index = entries.iter().position(|(k, _)| k == key)?;
                Some(entries.remove(index).1)
            }
            _ => None,
        }
    }

    /// Sets `key` of a mapping, replacing an existing entry in place.
    pub(crate) fn insert(&mut self, key: &str, value: Value) {
        if let Value::Null = self {
            *self = Value::Map(Vec::new());
        }
        if let Value::Map(entries) = self {
            match entries.iter_mut().find(|(k, _)| k == key) {
                Some(entry) => entry.1 = value,
                None => entries.push((key.to_owned(), value)),
            }
        }
    }

    /// Returns the value at a dotted path such as `session.domain`.
    pub(crate) fn get_path(&self, path: &str) -> Option<&Value> {
        path.split('.').try_fold(self, |node, key| node.get(key))
    }

    /// Removes the value at a dotted path and returns it.
    pub(crate) fn remove_path(&mut self, path: &str) -> Option<Value> {
        match path.rsplit_once('.') {
            None => self.remove(path),
            Some((parent, key)) => {
                let mut node = self;
                for part in parent.split('.') {
                    node = node.get_mut(part)?;
                }
                node.remove(key)
            }
        }
    }

    pub(crate) fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// Names the kind of node, for "expected X, found Y" messages that must not show the value.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Value::Null => "nothing",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::Str(_) | Value::Env { .. } => "a string",
            Value::List(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
}

/// Parses one YAML document into a tree. `source` names the document in messages.
pub(crate) fn parse_yaml(text: &str, source: &str) -> Result<Value, Diagnostic> {
    // An empty file is an empty configuration, not an error.
    if text.trim().is_empty() {
        return Ok(Value::Map(Vec::new()));
    }
    let mut yaml: Yaml = serde_norway::from_str(text).map_err(|error| Diagnostic {
        path: source.to_owned(),
        message: format!("invalid YAML: {error}"),
    })?;
    yaml.apply_merge().map_err(|error| Diagnostic {
        path: source.to_owned(),
        message: format!("invalid YAML merge key: {error}"),
    })?;
    let value = convert(yaml, source)?;
    match value {
        Value::Map(_) | Value::Null => Ok(value),
        other => Err(Diagnostic {
            path: source.to_owned(),
            message: format!(
                "the document must be a mapping of keys, found {}",
                other.kind()
            ),
        }),
    }
}

fn convert(yaml: Yaml, source: &str) -> Result<Value, Diagnostic> {
    Ok(match yaml {
        Yaml::Null => Value::Null,
        Yaml::Bool(b) => Value::Bool(b),
        Yaml::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Yaml::String(s) => Value::Str(s),
        Yaml::Sequence(items) => Value::List(
            items
                .into_iter()
                .map(|item| convert(item, source))
                .collect::<Result<_, _>>()?,
        ),
        Yaml::Mapping(mapping) => {
            let mut entries = Vec::with_capacity(mapping.len());
            for (key, value) in mapping {
                let key = match key {
                    Yaml::String(s) => s,
                    Yaml::Number(n) => n.to_string(),
                    Yaml::Bool(b) => b.to_string(),
                    _ => {
                        return Err(Diagnostic {
                            path: source.to_owned(),
                            message: "a mapping key must be a string".to_owned(),
                        });
                    }
                };
                entries.push((key, convert(value, source)?));
            }
            Value::Map(entries)
        }
        // A YAML tag such as `!secret` carries no meaning here; read the tagged value itself.
        Yaml::Tagged(tagged) => convert(tagged.value, source)?,
    })
}

/// Merges `overlay` into `base`: mappings key by key, everything else (lists included) replaced.
pub(crate) fn merge(base: &mut Value, overlay: Value) {
    match (base, overlay) {
        (Value::Map(base_entries), Value::Map(overlay_entries)) => {
            for (key, value) in overlay_entries {
                match base_entries.iter_mut().find(|(k, _)| *k == key) {
                    Some((_, existing)) => merge(existing, value),
                    None => base_entries.push((key, value)),
                }
            }
        }
        (base, overlay) => *base = overlay,
    }
}

/// Expands the configuration arguments: a directory stands for its `*.yml` and `*.yaml` files
/// in name order (not recursive).
pub(crate) fn expand_paths(paths: &[PathBuf]) -> Result<Vec<PathBuf>, Diagnostic> {
    let mut files = Vec::new();
    for path in paths {
        if !path.is_dir() {
            files.push(path.clone());
            continue;
        }
        let entries = std::fs::read_dir(path).map_err(|error| read_error(path, &error))?;
        let mut found = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|error| read_error(path, &error))?;
            let file = entry.path();
            let is_yaml = file
                .extension()
                .and_then(|ext| ext.to_str())
                .is_some_and(|ext| ext == "yml" || ext == "yaml");
            if is_yaml && file.is_file() {
                found.push(file);
            }
        }
        found.sort();
        if found.is_empty() {
            return Err(Diagnostic {
                path: path.display().to_string(),
                message: "the directory contains no *.yml or *.yaml file".to_owned(),
            });
        }
        files.extend(found);
    }
    Ok(files)
}

/// Reads and parses one configuration file.
pub(crate) fn read_file(path: &Path) -> Result<Value, Diagnostic> {
    let text = std::fs::read_to_string(path).map_err(|error| read_error(path, &error))?;
    parse_yaml(&text, &path.display().to_string())
}

fn read_error(path: &Path, error: &std::io::Error) -> Diagnostic {
    Diagnostic {
        path: path.display().to_string(),
        message: format!("cannot read: {error}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(text: &str) -> Value {
        match parse_yaml(text, "test") {
            Ok(value) => value,
            Err(error) => panic!("{error}"),
        }
    }

    #[test]
    fn merge_replaces_lists_and_merges_maps() {
        let mut base = yaml("a: {b: 1, c: [1, 2]}\nd: x\n");
        merge(&mut base, yaml("a: {c: [3]}\ne: y\n"));
        assert!(base.get_path("a.b") == Some(&Value::Int(1)));
        assert!(base.get_path("a.c") == Some(&Value::List(vec![Value::Int(3)])));
        assert!(base.get("d") == Some(&Value::Str("x".to_owned())));
        assert!(base.get("e") == Some(&Value::Str("y".to_owned())));
    }

    #[test]
    fn parse_yaml_rejects_scalar_document() {
        assert!(parse_yaml("just text", "test").is_err());
    }

    #[test]
    fn parse_yaml_applies_merge_keys() {
        let value = yaml("base: &b {x: 1}\nother:\n  <<: *b\n  y: 2\n");
        assert!(value.get_path("other.x") == Some(&Value::Int(1)));
    }
}
