//! Environment overrides. `GATEHOUSE_<KEY>` (or Authelia's `AUTHELIA_<KEY>`) sets the scalar key
//! whose dotted path, upper-cased with `.` replaced by `_`, is `<KEY>`. `<KEY>_FILE` reads the
//! value from a file instead.
//!
//! Key names contain underscores themselves (`buffers.read` vs `remember_me`), so a variable is
//! looked up in the table of known scalar keys instead of being split at `_`.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use crate::config::legacy::{RENAMED_KEYS, STRUCTURAL_KEYS};
use crate::config::read::Reader;
use crate::config::tree::Value;

const PREFIXES: [&str; 2] = ["GATEHOUSE_", "AUTHELIA_"];

/// Variables read by the command line, the build or the tests, not by the configuration.
const IGNORED_VARIABLES: &[&str] = &[
    "GATEHOUSE_CONFIG",
    "GATEHOUSE_DATA",
    "GATEHOUSE_SITE_ROOT",
    "GATEHOUSE_CACHE",
];
const IGNORED_PREFIXES: [&str; 2] = ["GATEHOUSE_TEST_", "GATEHOUSE_E2E_"];

/// Returns the variable name (without prefix) for a key path.
pub(crate) fn variable_suffix(path: &str) -> String {
    path.replace('.', "_").to_ascii_uppercase()
}

/// Maps variable names (without prefix) to the key path they set. Renamed keys set their new
/// path; the older structural keys set their own path and are folded later.
pub(crate) fn variable_table(scalar_paths: &[String]) -> HashMap<String, String> {
    let mut table = HashMap::new();
    for path in scalar_paths {
        table.insert(variable_suffix(path), path.clone());
    }
    for (old, new) in RENAMED_KEYS {
        table.insert(variable_suffix(old), (*new).to_owned());
    }
    for path in STRUCTURAL_KEYS {
        table.insert(variable_suffix(path), (*path).to_owned());
    }
    table
}

/// One prefix's setting of a key: the plain variable and/or the `_FILE` variable.
#[derive(Default)]
struct Setting<'e> {
    plain: Option<(&'e str, &'e str)>,
    file: Option<(&'e str, &'e str)>,
}

/// Resolves the environment into (key path, value) overrides, reporting conflicts, unreadable
/// files and unknown variables.
pub(crate) fn resolve_overrides(
    reader: &mut Reader,
    env: &HashMap<String, String>,
    table: &HashMap<String, String>,
) -> Vec<(String, Value)> {
    // For each key path, the setting made under each prefix (index into PREFIXES).
    let mut settings: BTreeMap<&str, [Setting<'_>; 2]> = BTreeMap::new();
    let mut names: Vec<&String> = env.keys().collect();
    names.sort();

    for name in names {
        let Some((prefix_index, rest)) = PREFIXES
            .iter()
            .enumerate()
            .find_map(|(i, prefix)| name.strip_prefix(prefix).map(|rest| (i, rest)))
        else {
            continue;
        };
        if IGNORED_VARIABLES.contains(&name.as_str())
            || IGNORED_PREFIXES
                .iter()
                .any(|prefix| name.starts_with(prefix))
        {
            continue;
        }
        let value = env[name].as_str();
        let (path, is_file) = if let Some(path) = table.get(rest) {
            (path.as_str(), false)
        } else if let Some(path) = rest.strip_suffix("_FILE").and_then(|stem| table.get(stem)) {
            (path.as_str(), true)
        } else {
            reader.warn(
                name,
                "matches no configuration key that Gatehouse reads and is ignored",
            );
            continue;
        };
        let setting = &mut settings.entry(path).or_default()[prefix_index];
        if is_file {
            setting.file = Some((name.as_str(), value));
        } else {
            setting.plain = Some((name.as_str(), value));
        }
    }

    let mut overrides = Vec::new();
    for (path, per_prefix) in settings {
        let mut chosen: Option<(String, String)> = None;
        for setting in &per_prefix {
            let Some((variable, text)) = resolve_setting(reader, path, setting) else {
                continue;
            };
            match &chosen {
                None => chosen = Some((variable, text)),
                Some((winner, _)) => {
                    reader.warn(
                        &variable,
                        format!("is ignored because {winner} sets the same key ({path})"),
                    );
                }
            }
        }
        if let Some((variable, text)) = chosen {
            if is_renamed(&variable) {
                reader.warn(
                    &variable,
                    format!("uses an older key name; the key is {path}"),
                );
            }
            overrides.push((path.to_owned(), Value::Env { variable, text }));
        }
    }
    overrides
}

/// Checks whether the variable names a renamed key by its older name.
fn is_renamed(variable: &str) -> bool {
    let rest = PREFIXES
        .iter()
        .find_map(|prefix| variable.strip_prefix(prefix))
        .unwrap_or(variable);
    let rest = rest.strip_suffix("_FILE").unwrap_or(rest);
    RENAMED_KEYS
        .iter()
        .any(|(old, _)| variable_suffix(old) == rest)
}

/// Returns (variable, value) for one prefix, reading the `_FILE` form.
fn resolve_setting(
    reader: &mut Reader,
    path: &str,
    setting: &Setting<'_>,
) -> Option<(String, String)> {
    match (setting.plain, setting.file) {
        (None, None) => None,
        (Some((plain, _)), Some((file, _))) => {
            reader.error(
                path,
                format!("both {plain} and {file} are set; set only one of them"),
            );
            None
        }
        (Some((variable, text)), None) => Some((variable.to_owned(), text.to_owned())),
        (None, Some((variable, file))) => match read_value_file(Path::new(file)) {
            Ok(text) => Some((variable.to_owned(), text)),
            Err(error) => {
                reader.error(
                    path,
                    format!("cannot read the file {file} named by {variable}: {error}"),
                );
                None
            }
        },
    }
}

/// Reads a value file, removing one trailing line break.
fn read_value_file(path: &Path) -> std::io::Result<String> {
    let mut text = std::fs::read_to_string(path)?;
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    Ok(text)
}
