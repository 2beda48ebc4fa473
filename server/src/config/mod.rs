//! Configuration: YAML files with Authelia's key names, overridden by `GATEHOUSE_` (or
//! `AUTHELIA_`) environment variables, read into one typed tree and validated.
//!
//! Invariants:
//! - Every problem is reported with its key path, and all of them are reported in one run.
//! - An unknown key inside a section Gatehouse implements is an error, because a misspelt key
//!   (`resource:` for `resources:`) would otherwise widen a rule without notice. Authelia
//!   sections Gatehouse does not implement are warnings.
//! - Secret values ([`Secret`]) never appear in a message or in `Debug` output.
//!
//! Load order: files (merged key by key, later files win, lists replaced), then renamed
//! legacy keys, then the environment (a `_FILE` variable or a plain one), then the older
//! structural keys, then the typed reading and the checks across sections.

mod access_control;
mod duration;
mod env;
mod identity_validation;
mod legacy;
mod lint;
mod logging;
mod notifier;
mod read;
mod regulation;
mod second_factor;
mod secret;
mod server;
mod session;
mod storage;
mod tls;
mod tree;
mod users;
mod validate;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::OnceLock;

pub use access_control::{
    AccessControlConfig, Definitions, Policy, QueryCondition, QueryOperator, Rule, Subject,
    VALID_METHODS,
};
pub use duration::{format_duration, parse_duration, DurationError};
pub use identity_validation::{
    ElevatedSessionConfig, IdentityValidationConfig, JwtAlgorithm, ResetPasswordConfig,
};
pub use logging::{LogConfig, LogFormat, LogLevel};
pub use notifier::{NotifierConfig, NotifierTransport, SmtpConfig, SmtpScheme};
pub use regulation::{RegulationConfig, RegulationMode};
pub use second_factor::{
    Attachment, AttestationConveyance, Filtering, Preference, SelectionCriteria, TotpAlgorithm,
    TotpConfig, WebAuthnConfig,
};
pub use secret::{Secret, GENERATE_SECRET_HINT};
pub use server::{
    AuthScheme, AuthnStrategy, AuthzEndpoint, Bucket, Buffers, Endpoints, Implementation,
    ListenAddress, RateLimit, RateLimits, ServerConfig, StrategyName, DEFAULT_PORT,
    DEFAULT_READ_BUFFER,
};
pub use session::{CookieDomain, SameSite, SessionConfig};
pub use storage::{PostgresConfig, StorageBackend, StorageConfig};
pub use tls::{TlsConfig, TlsVersion};
pub use users::{
    AdministrationConfig, Argon2Params, AuthenticationBackendConfig, DatabaseBackendConfig,
    FileBackendConfig, FileSearch, PasswordChangeConfig, PasswordHashing, PasswordPolicyConfig,
    PasswordResetConfig, RefreshInterval, StandardPolicy, UserSearch,
};

use read::{Reader, Section};
use tree::Value;

/// The whole configuration, with defaults applied and every check passed.
#[derive(Debug, Clone)]
pub struct Config {
    pub server: ServerConfig,
    pub log: LogConfig,
    pub authentication_backend: AuthenticationBackendConfig,
    pub password_policy: PasswordPolicyConfig,
    pub session: SessionConfig,
    pub regulation: RegulationConfig,
    pub access_control: AccessControlConfig,
    pub definitions: Definitions,
    pub totp: TotpConfig,
    pub webauthn: WebAuthnConfig,
    pub identity_validation: IdentityValidationConfig,
    pub storage: StorageConfig,
    pub notifier: NotifierConfig,
    pub administration: AdministrationConfig,
}

/// A problem found in the configuration: the key path (or file, or environment variable) and
/// the reason. Displays as `path: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub path: String,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// A valid configuration and the warnings found while loading it.
#[derive(Debug)]
pub struct Loaded {
    pub config: Config,
    pub warnings: Vec<Diagnostic>,
}

/// Every error that made the configuration invalid, in the order found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<Diagnostic>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, diagnostic) in self.0.iter().enumerate() {
            if index > 0 {
                writeln!(f)?;
            }
            write!(f, "{diagnostic}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// Loads configuration files (a directory stands for its `*.yml` and `*.yaml` files in name
/// order), applies the environment `env`, and validates the result.
pub fn load(files: &[PathBuf], env: &HashMap<String, String>) -> Result<Loaded, ConfigErrors> {
    check(files, env).into_result()
}

/// Everything loading found: the configuration when it is valid, and every error and warning.
#[derive(Debug)]
pub struct Report {
    pub config: Option<Config>,
    pub errors: Vec<Diagnostic>,
    pub warnings: Vec<Diagnostic>,
}

impl Report {
    fn failed(errors: Vec<Diagnostic>) -> Report {
        Report {
            config: None,
            errors,
            warnings: Vec::new(),
        }
    }

    fn into_result(self) -> Result<Loaded, ConfigErrors> {
        match self.config {
            Some(config) if self.errors.is_empty() => Ok(Loaded {
                config,
                warnings: self.warnings,
            }),
            _ => Err(ConfigErrors(self.errors)),
        }
    }
}

/// Loads configuration files as [`load`] does, but returns the warnings even when there are
/// errors, for `gatehouse config check`.
pub fn check(files: &[PathBuf], env: &HashMap<String, String>) -> Report {
    if files.is_empty() {
        return Report::failed(vec![Diagnostic {
            path: "--config".to_owned(),
            message: "no configuration file given".to_owned(),
        }]);
    }
    let paths = match tree::expand_paths(files) {
        Ok(paths) => paths,
        Err(error) => return Report::failed(vec![error]),
    };
    let mut root = Value::Map(Vec::new());
    let mut errors = Vec::new();
    for path in &paths {
        match tree::read_file(path) {
            Ok(document) => tree::merge(&mut root, document),
            Err(error) => errors.push(error),
        }
    }
    if !errors.is_empty() {
        return Report::failed(errors);
    }
    finish_loading(root, env)
}

/// Loads configuration from YAML text, as [`load`] does for files.
pub fn load_str(yaml: &str, env: &HashMap<String, String>) -> Result<Loaded, ConfigErrors> {
    let root =
        tree::parse_yaml(yaml, "<configuration>").map_err(|error| ConfigErrors(vec![error]))?;
    finish_loading(root, env).into_result()
}

/// Returns the dotted path of every scalar key that an environment variable can set.
pub fn scalar_key_paths() -> &'static [String] {
    static PATHS: OnceLock<Vec<String>> = OnceLock::new();
    PATHS.get_or_init(|| {
        let mut reader = Reader {
            scalar_paths: Some(Vec::new()),
            ..Reader::default()
        };
        let empty = Value::Map(Vec::new());
        read_config(&mut reader, &empty, false);
        let mut paths = reader.scalar_paths.unwrap_or_default();
        paths.sort();
        paths.dedup();
        paths
    })
}

fn finish_loading(mut root: Value, env: &HashMap<String, String>) -> Report {
    if root.is_null() {
        root = Value::Map(Vec::new());
    }
    let mut reader = Reader::default();
    legacy::rename_keys(&mut reader, &mut root);

    let table = env::variable_table(scalar_key_paths());
    for (path, value) in env::resolve_overrides(&mut reader, env, &table) {
        let source = match &value {
            Value::Env { variable, .. } => variable.clone(),
            _ => path.clone(),
        };
        legacy::set_path(&mut reader, &mut root, &path, value, &source);
    }

    let legacy_domain = legacy::fold_structural_keys(&mut reader, &mut root);
    legacy::strip_unimplemented(&mut reader, &mut root);
    let config = read_config(&mut reader, &root, legacy_domain);
    validate::check_config(&mut reader, &config);

    Report {
        config: reader.errors.is_empty().then_some(config),
        errors: reader.errors,
        warnings: reader.warnings,
    }
}

/// Reads every section from the tree. Problems go to `reader`; the returned value is only
/// meaningful when there are none.
fn read_config(reader: &mut Reader, root: &Value, legacy_domain: bool) -> Config {
    let mut top = Section::open(reader, "", Some(root));

    let section = top.section(reader, "identity_validation");
    let identity_validation = identity_validation::read_identity_validation(reader, section);
    let lifespans = server::ElevationLifespans {
        code: identity_validation.elevated_session.code_lifespan,
        elevation: identity_validation.elevated_session.elevation_lifespan,
    };
    let section = top.section(reader, "server");
    let server = server::read_server(reader, section, &lifespans);
    let section = top.section(reader, "log");
    let log = logging::read_log(reader, section);
    let section = top.section(reader, "authentication_backend");
    let authentication_backend = users::read_authentication_backend(reader, section);
    let section = top.section(reader, "password_policy");
    let password_policy = users::read_password_policy(reader, section);
    let section = top.section(reader, "session");
    let session = session::read_session(reader, section, legacy_domain);
    let section = top.section(reader, "regulation");
    let regulation = regulation::read_regulation(reader, section);
    let section = top.section(reader, "definitions");
    let definitions = access_control::read_definitions(reader, section);
    let section = top.section(reader, "access_control");
    let access_control = access_control::read_access_control(reader, section, &definitions);
    let section = top.section(reader, "totp");
    let totp = second_factor::read_totp(reader, section);
    let section = top.section(reader, "webauthn");
    let webauthn = second_factor::read_webauthn(reader, section);
    let section = top.section(reader, "storage");
    let storage = storage::read_storage(reader, section);
    let section = top.section(reader, "notifier");
    let notifier = notifier::read_notifier(reader, section);
    let section = top.section(reader, "administration");
    let administration = users::read_administration(reader, section);
    top.finish(reader);

    Config {
        server,
        log,
        authentication_backend,
        password_policy,
        session,
        regulation,
        access_control,
        definitions,
        totp,
        webauthn,
        identity_validation,
        storage,
        notifier,
        administration,
    }
}
