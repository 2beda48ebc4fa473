//! `authentication_backend`, `password_policy` and `administration`: where users live, how
//! their passwords are hashed and checked, and who administers them.

use std::path::PathBuf;
use std::time::Duration;

use url::Url;

use crate::config::read::{read_duration, read_string, Reader, Section};
use crate::config::tree::Value;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticationBackendConfig {
    /// How often a session's user profile is reloaded from the backend.
    pub refresh_interval: RefreshInterval,
    pub password_reset: PasswordResetConfig,
    pub password_change: PasswordChangeConfig,
    /// Log-in options of the database backend.
    pub search: UserSearch,
    /// The users file; `None` keeps users in Gatehouse's database.
    pub file: Option<FileBackendConfig>,
    /// Settings of the database backend (a Gatehouse section).
    pub database: DatabaseBackendConfig,
}

impl AuthenticationBackendConfig {
    /// Returns the parameters for hashing new passwords in the active backend.
    pub fn password_hashing(&self) -> &PasswordHashing {
        match &self.file {
            Some(file) => &file.password,
            None => &self.database.password,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshInterval {
    /// Reload on every request (`always` or `0`).
    Always,
    /// Never reload (`disable`).
    Disable,
    Every(Duration),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordResetConfig {
    pub disable: bool,
    /// External page that replaces Gatehouse's reset flow.
    pub custom_url: Option<Url>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordChangeConfig {
    pub disable: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSearch {
    /// Accept an e-mail address in place of the user name at login.
    pub email: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileBackendConfig {
    pub path: PathBuf,
    /// Reload the file when it changes.
    pub watch: bool,
    pub search: FileSearch,
    /// Rewrite hashes of other formats as argon2id after a successful login.
    pub rehash: bool,
    pub password: PasswordHashing,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSearch {
    pub email: bool,
    pub case_insensitive: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseBackendConfig {
    pub password: PasswordHashing,
}

/// Parameters for hashing new passwords. Gatehouse writes argon2id only; hashes of the other
/// formats are still verified.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PasswordHashing {
    pub argon2: Argon2Params,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Argon2Params {
    /// Passes over memory (t).
    pub iterations: u32,
    /// Memory in KiB (m).
    pub memory: u32,
    /// Lanes (p).
    pub parallelism: u32,
    /// Length of the derived key in bytes.
    pub key_length: u32,
    /// Length of the random salt in bytes.
    pub salt_length: u32,
}

impl Default for Argon2Params {
    fn default() -> Self {
        Self {
            iterations: 3,
            memory: 65_536,
            parallelism: 4,
            key_length: 32,
            salt_length: 16,
        }
    }
}

/// Rules for new passwords (reset and change; not login).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordPolicyConfig {
    /// Any non-empty password.
    Disabled,
    Standard(StandardPolicy),
    /// Minimum zxcvbn strength score, 1 to 4.
    Zxcvbn {
        min_score: u8,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StandardPolicy {
    /// Minimum length in bytes.
    pub min_length: u32,
    /// Maximum length in bytes; zero means no maximum.
    pub max_length: u32,
    pub require_uppercase: bool,
    pub require_lowercase: bool,
    pub require_number: bool,
    pub require_special: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdministrationConfig {
    /// Group whose members with two factors may use the admin pages.
    pub group: String,
}

pub(crate) fn read_authentication_backend(
    reader: &mut Reader,
    mut section: Section<'_>,
) -> AuthenticationBackendConfig {
    let refresh_path = section.key_path("refresh_interval");
    let refresh_interval = match section.scalar(reader, "refresh_interval") {
        None => RefreshInterval::Every(Duration::from_secs(5 * 60)),
        Some(value) => read_refresh_interval(reader, &refresh_path, value),
    };

    let mut reset = section.section(reader, "password_reset");
    let disable = reset.bool(reader, "disable", false);
    let custom_url_path = reset.key_path("custom_url");
    let custom_url = reset
        .string(reader, "custom_url")
        .filter(|text| !text.is_empty())
        .and_then(|text| match parse_custom_url(&text) {
            Ok(url) => Some(url),
            Err(message) => {
                reader.error(&custom_url_path, message);
                None
            }
        });
    reset.finish(reader);

    let mut change = section.section(reader, "password_change");
    let password_change = PasswordChangeConfig {
        disable: change.bool(reader, "disable", false),
    };
    change.finish(reader);

    let mut search_section = section.section(reader, "search");
    let search = UserSearch {
        email: search_section.bool(reader, "email", false),
    };
    search_section.finish(reader);

    let file = section
        .optional_section(reader, "file")
        .map(|file| read_file_backend(reader, file));

    let mut database_section = section.section(reader, "database");
    let password = database_section.section(reader, "password");
    let database = DatabaseBackendConfig {
        password: read_password_hashing(reader, password),
    };
    database_section.finish(reader);
    section.finish(reader);

    AuthenticationBackendConfig {
        refresh_interval,
        password_reset: PasswordResetConfig {
            disable,
            custom_url,
        },
        password_change,
        search,
        file,
        database,
    }
}

fn read_refresh_interval(reader: &mut Reader, path: &str, value: &Value) -> RefreshInterval {
    let text = match value {
        Value::Str(text) | Value::Env { text, .. } => Some(text.trim().to_ascii_lowercase()),
        _ => None,
    };
    match text.as_deref() {
        Some("always") => RefreshInterval::Always,
        Some("disable" | "disabled") => RefreshInterval::Disable,
        _ => match read_duration(reader, path, value) {
            Some(duration) if duration.is_zero() => RefreshInterval::Always,
            Some(duration) => RefreshInterval::Every(duration),
            None => RefreshInterval::Every(Duration::from_secs(5 * 60)),
        },
    }
}

fn parse_custom_url(text: &str) -> Result<Url, String> {
    let url = Url::parse(text.trim())
        .map_err(|error| format!("'{text}' is not an absolute URL: {error}"))?;
    let host = url.host_str().unwrap_or("");
    let localhost = host == "localhost" || host.ends_with(".localhost");
    match url.scheme() {
        "https" => Ok(url),
        "http" if localhost => Ok(url),
        _ => Err(format!("'{text}' must use https")),
    }
}

fn read_file_backend(reader: &mut Reader, mut section: Section<'_>) -> FileBackendConfig {
    let path_key = section.key_path("path");
    let path = section.string(reader, "path").unwrap_or_default();
    if path.is_empty() && !reader.recording() {
        reader.error(&path_key, "missing: the path of the users file");
    }
    let watch = section.bool(reader, "watch", false);
    let mut search_section = section.section(reader, "search");
    let search = FileSearch {
        email: search_section.bool(reader, "email", false),
        case_insensitive: search_section.bool(reader, "case_insensitive", false),
    };
    search_section.finish(reader);
    let rehash = section.bool(reader, "rehash", false);
    let password_section = section.section(reader, "password");
    let password = read_password_hashing(reader, password_section);
    section.finish(reader);
    FileBackendConfig {
        path: PathBuf::from(path),
        watch,
        search,
        rehash,
        password,
    }
}

fn read_password_hashing(reader: &mut Reader, mut section: Section<'_>) -> PasswordHashing {
    let algorithm_path = section.key_path("algorithm");
    match section.string(reader, "algorithm").map(|text| text.trim().to_ascii_lowercase()).as_deref() {
        None | Some("argon2") => {}
        Some(other @ ("sha2crypt" | "pbkdf2" | "bcrypt" | "scrypt")) => reader.warn(
            &algorithm_path,
            format!("Gatehouse hashes new passwords with argon2id only; existing {other} hashes are still verified"),
        ),
        Some(other) => reader.error(
            &algorithm_path,
            format!("unknown algorithm '{other}': expected argon2"),
        ),
    }

    let mut argon2 = section.section(reader, "argon2");
    let variant_path = argon2.key_path("variant");
    match argon2.string(reader, "variant").map(|text| text.trim().to_ascii_lowercase()).as_deref() {
        None | Some("argon2id") => {}
        Some("argon2i" | "argon2d") => reader.warn(
            &variant_path,
            "Gatehouse hashes new passwords with argon2id only; argon2i and argon2d hashes are still verified",
        ),
        Some(other) => reader.error(&variant_path, format!("unknown variant '{other}': expected argon2id")),
    }
    let defaults = Argon2Params::default();
    let mut number = |key: &str, default: u32, min: u32| {
        let path = argon2.key_path(key);
        let value = argon2
            .uint(reader, key, u64::from(u32::MAX))
            .map_or(default, |n| n as u32);
        if value < min {
            reader.error(&path, format!("must be at least {min}, found {value}"));
        }
        value
    };
    let params = Argon2Params {
        iterations: number("iterations", defaults.iterations, 1),
        memory: number("memory", defaults.memory, 8),
        parallelism: number("parallelism", defaults.parallelism, 1),
        key_length: number("key_length", defaults.key_length, 16),
        salt_length: number("salt_length", defaults.salt_length, 8),
    };
    // Argon2 needs at least 8 KiB of memory per lane (RFC 9106, section 3.1).
    if params.memory < params.parallelism.saturating_mul(8) {
        reader.error(
            &argon2.key_path("memory"),
            format!(
                "must be at least 8 KiB per lane ({} for parallelism {})",
                params.parallelism * 8,
                params.parallelism
            ),
        );
    }
    if params.parallelism > 0x00FF_FFFF {
        reader.error(&argon2.key_path("parallelism"), "must be at most 16777215");
    }
    argon2.finish(reader);
    section.finish(reader);
    PasswordHashing { argon2: params }
}

pub(crate) fn read_password_policy(
    reader: &mut Reader,
    mut section: Section<'_>,
) -> PasswordPolicyConfig {
    let mut standard = section.section(reader, "standard");
    let standard_enabled_path = standard.key_path("enabled");
    let standard_enabled = standard.bool(reader, "enabled", false);
    let min_length = match standard.uint(reader, "min_length", u64::from(u32::MAX)) {
        None | Some(0) => 8,
        Some(n) => n as u32,
    };
    let max_length_path = standard.key_path("max_length");
    let max_length = standard
        .uint(reader, "max_length", u64::from(u32::MAX))
        .unwrap_or(0) as u32;
    if max_length != 0 && max_length < min_length {
        reader.error(
            &max_length_path,
            format!(
                "must be 0 (no maximum) or at least min_length ({min_length}), found {max_length}"
            ),
        );
    }
    let policy = StandardPolicy {
        min_length,
        max_length,
        require_uppercase: standard.bool(reader, "require_uppercase", false),
        require_lowercase: standard.bool(reader, "require_lowercase", false),
        require_number: standard.bool(reader, "require_number", false),
        require_special: standard.bool(reader, "require_special", false),
    };
    standard.finish(reader);

    let mut zxcvbn = section.section(reader, "zxcvbn");
    let zxcvbn_enabled = zxcvbn.bool(reader, "enabled", false);
    let score_path = zxcvbn.key_path("min_score");
    let min_score = match zxcvbn.uint(reader, "min_score", u64::from(u32::MAX)) {
        None | Some(0) => 3,
        Some(score @ 1..=4) => score as u8,
        Some(score) => {
            reader.error(
                &score_path,
                format!("must be between 1 and 4, found {score}"),
            );
            3
        }
    };
    zxcvbn.finish(reader);
    section.finish(reader);

    match (standard_enabled, zxcvbn_enabled) {
        (true, true) => {
            reader.error(
                &standard_enabled_path,
                "enable at most one of password_policy.standard and password_policy.zxcvbn",
            );
            PasswordPolicyConfig::Standard(policy)
        }
        (true, false) => PasswordPolicyConfig::Standard(policy),
        (false, true) => PasswordPolicyConfig::Zxcvbn { min_score },
        (false, false) => PasswordPolicyConfig::Disabled,
    }
}

pub(crate) fn read_administration(
    reader: &mut Reader,
    mut section: Section<'_>,
) -> AdministrationConfig {
    let group_path = section.key_path("group");
    let group = match section.scalar(reader, "group") {
        None => "admins".to_owned(),
        Some(value) => {
            read_string(reader, &group_path, value).unwrap_or_else(|| "admins".to_owned())
        }
    };
    if group.trim().is_empty() {
        reader.error(&group_path, "must not be empty");
    } else if group.contains(',') || group.chars().any(char::is_control) {
        reader.error(
            &group_path,
            "a group name cannot contain ',' or control characters",
        );
    }
    section.finish(reader);
    AdministrationConfig { group }
}
