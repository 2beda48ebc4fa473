//! The set-up every command needs before it acts: the configuration and, for most, the database.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::config::{self, Config, Loaded, StorageBackend};
use crate::identity::hashing::{Argon2Params, Argon2Variant};
use crate::storage::{Cipher, Database, DatabaseOptions};

use super::{embedded, CliError};

/// The source of the configuration: the files named with `--config`, or the embedded default
/// in the data directory.
#[derive(Debug, Clone)]
pub struct ConfigSource {
    files: Vec<PathBuf>,
    data_dir: PathBuf,
}

impl ConfigSource {
    /// Takes the `--config` files and the `--data` directory from the command line.
    pub fn new(files: &[PathBuf], data_dir: &Path) -> Self {
        ConfigSource {
            files: files.to_vec(),
            data_dir: data_dir.to_path_buf(),
        }
    }

    /// True when no configuration file was named, so the embedded default applies.
    pub fn is_embedded(&self) -> bool {
        self.files.is_empty()
    }

    /// Loads and validates the configuration, with the process's environment applied.
    ///
    /// The embedded default creates its data directory and secrets on first use.
    pub fn load(&self) -> Result<Loaded, CliError> {
        let env = process_environment();
        let loaded = if self.is_embedded() {
            let yaml = embedded::prepare(&self.data_dir, embedded::DEFAULT_PORT)?;
            let loaded = config::load_str(&yaml, &env);
            // An overridden `server.address` moves the portal to that port too, so that the
            // portal's origin is the one browsers use.
            match &loaded {
                Ok(first) if first.config.server.address.port != embedded::DEFAULT_PORT => {
                    let port = first.config.server.address.port;
                    config::load_str(&embedded::prepare(&self.data_dir, port)?, &env)
                }
                _ => loaded,
            }
        } else {
            config::load(&self.files, &env)
        };
        loaded.map_err(|errors| CliError::new(format!("the configuration is invalid:\n{errors}")))
    }
}

/// Collects the process's environment, for `GATEHOUSE_…` and `AUTHELIA_…` overrides.
fn process_environment() -> HashMap<String, String> {
    std::env::vars_os()
        .filter_map(|(name, value)| Some((name.into_string().ok()?, value.into_string().ok()?)))
        .collect()
}

/// `gatehouse config check FILE…`: prints every error and warning with its key path.
pub fn check_config(files: &[PathBuf]) -> Result<(), CliError> {
    let report = config::check(files, &process_environment());
    for error in &report.errors {
        println!("error: {error}");
    }
    for warning in &report.warnings {
        println!("warning: {warning}");
    }
    if report.errors.is_empty() {
        println!(
            "configuration is valid ({} warnings)",
            report.warnings.len()
        );
        Ok(())
    } else {
        Err(CliError::new(format!(
            "the configuration is invalid ({} errors, {} warnings)",
            report.errors.len(),
            report.warnings.len()
        )))
    }
}

/// Maps the configured storage onto the storage layer's options.
pub fn database_options(config: &Config) -> DatabaseOptions {
    match &config.storage.backend {
        StorageBackend::Local { path } => DatabaseOptions::Sqlite { path: path.clone() },
        StorageBackend::Postgres(postgres) => DatabaseOptions::Postgres {
            host: postgres.host.clone(),
            port: postgres.port,
            database: postgres.database.clone(),
            schema: Some(postgres.schema.clone()).filter(|schema| !schema.is_empty()),
            username: postgres.username.clone(),
            password: postgres.password.expose().to_owned(),
            connect_timeout: postgres.timeout,
        },
    }
}

/// Opens the configured database, applying migrations and checking the encryption key.
pub async fn open_database(config: &Config) -> Result<Database, CliError> {
    let cipher = Cipher::new(config.storage.encryption_key.expose());
    Database::connect(&database_options(config), cipher)
        .await
        .map_err(|error| CliError::new(format!("cannot open the database: {error}")))
}

/// Returns the argon2 parameters new password hashes are written with: the users file's when users live
/// in a file, else the database backend's.
pub fn hashing_params(config: &Config) -> Argon2Params {
    let configured = &config.authentication_backend.password_hashing().argon2;
    Argon2Params {
        variant: Argon2Variant::Argon2id,
        iterations: configured.iterations,
        memory_kib: configured.memory,
        parallelism: configured.parallelism,
        key_length: configured.key_length as usize,
        salt_length: configured.salt_length as usize,
    }
}
