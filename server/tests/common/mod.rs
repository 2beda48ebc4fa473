//! Shared set-up of the integration tests: a configuration on SQLite or on the throwaway
//! PostgreSQL, and a way to run the `gatehouse` binary against it.

#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The variable `make test` sets to the throwaway PostgreSQL server's URL.
pub const POSTGRES_URL_VARIABLE: &str = "GATEHOUSE_TEST_POSTGRES_URL";

/// The database a test instance uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The URL of the throwaway PostgreSQL server; fails the test when it is not set, so the
/// PostgreSQL half of a suite can never be skipped silently.
pub fn postgres_url() -> String {
    std::env::var(POSTGRES_URL_VARIABLE).unwrap_or_else(|_| {
        panic!(
            "{POSTGRES_URL_VARIABLE} is not set, so the PostgreSQL tests cannot run: run `make test`, \
             or `eval \"$(scripts/postgres-test.sh start)\"` and then cargo test"
        )
    })
}

/// A configuration file in a temporary directory, with its own SQLite file or PostgreSQL schema.
pub struct Instance {
    pub directory: tempfile::TempDir,
    pub config_path: PathBuf,
    pub backend: Backend,
}

impl Instance {
    /// Writes a configuration for `backend` with cheap argon2 parameters; `extra_yaml` is appended
    /// as further top-level sections.
    pub fn new(backend: Backend, extra_yaml: &str) -> Instance {
        let directory = tempfile::tempdir().expect("create a temporary directory");
        let storage = match backend {
            Backend::Sqlite => format!(
                "  local:\n    path: '{}'\n",
                directory.path().join("gatehouse.sqlite3").display()
            ),
            Backend::Postgres => postgres_storage_yaml(&postgres_url()),
        };
        let yaml = format!(
            "session:
  secret: 'test-session-secret-0123456789abcdefghijkl'
  cookies:
    - domain: 'example.com'
      authelia_url: 'https://auth.example.com'
      default_redirection_url: 'https://www.example.com'
storage:
  encryption_key: 'test-encryption-key-0123456789abcdefghij'
{storage}notifier:
  filesystem:
    filename: '{notifications}'
identity_validation:
  reset_password:
    jwt_secret: 'test-reset-secret-0123456789abcdefghijklm'
authentication_backend:
  database:
    password:
      argon2:
        iterations: 1
        memory: 64
        parallelism: 1
{extra_yaml}",
            notifications = directory.path().join("notifications.txt").display(),
        );
        let config_path = directory.path().join("configuration.yml");
        std::fs::write(&config_path, yaml).expect("write the test configuration");
        Instance {
            directory,
            config_path,
            backend,
        }
    }

    /// Runs `gatehouse --config <file> ARGS…` with `stdin` as standard input.
    pub fn cli(&self, args: &[&str], stdin: Option<&str>) -> Output {
        run_binary(Some(&self.config_path), args, stdin)
    }
}

/// `storage.postgres` for the throwaway server, in a schema of its own.
fn postgres_storage_yaml(url: &str) -> String {
    let url = url::Url::parse(url).expect("GATEHOUSE_TEST_POSTGRES_URL is a valid URL");
    let schema = format!("cli_{}", hex::encode(rand::random::<[u8; 6]>()));
    format!(
        "  postgres:
    address: 'tcp://{host}:{port}'
    database: '{database}'
    schema: '{schema}'
    username: '{username}'
    password: 'unused-with-trust-authentication'
",
        host = url.host_str().unwrap_or("127.0.0.1"),
        port = url.port().unwrap_or(5432),
        database = url.path().trim_start_matches('/'),
        username = url.username(),
    )
}

/// Runs the `gatehouse` binary built for these tests.
pub fn run_binary(config: Option<&Path>, args: &[&str], stdin: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_gatehouse"));
    if let Some(config) = config {
        command.arg("--config").arg(config);
    }
    command
        .args(args)
        .env_remove("GATEHOUSE_CONFIG")
        .env_remove("GATEHOUSE_DATA")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("start the gatehouse binary");
    {
        let mut input = child.stdin.take().expect("stdin is piped");
        if let Some(text) = stdin {
            input
                .write_all(text.as_bytes())
                .expect("write standard input");
        }
    }
    child
        .wait_with_output()
        .expect("wait for the gatehouse binary")
}

/// Standard output as text.
pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Standard error as text.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The start of the manual clock in the HTTP-level suites.
pub const START_MILLIS: i64 = 1_800_000_000_000;

/// argon2id parameters that make hashing in tests take microseconds.
pub fn cheap_params() -> gatehouse::identity::hashing::Argon2Params {
    gatehouse::identity::hashing::Argon2Params {
        variant: gatehouse::identity::hashing::Argon2Variant::Argon2id,
        iterations: 1,
        memory_kib: 64,
        parallelism: 1,
        key_length: 32,
        salt_length: 16,
    }
}

/// `storage` for `backend`: a SQLite file in `directory`, or a fresh schema on the throwaway
/// PostgreSQL server.
fn suite_storage_yaml(backend: Backend, directory: &Path) -> String {
    match backend {
        Backend::Sqlite => format!(
            "  local:\n    path: '{}'\n",
            directory.join("gatehouse.sqlite3").display()
        ),
        Backend::Postgres => postgres_storage_yaml(&postgres_url()),
    }
}

/// The configuration the HTTP-level suites share (the field cases' set-up): the cookie domain
/// `example.com`, session name `gatehouse_session`, `remember_me` as given (`-1` disables it), and
/// `tail` appended as further top-level sections.
pub fn suite_config_yaml(
    backend: Backend,
    directory: &Path,
    remember_me: &str,
    tail: &str,
) -> String {
    format!(
        "session:
  name: 'gatehouse_session'
  secret: 'test-session-secret-0123456789abcdefghijkl'
  expiration: '1h'
  inactivity: '5m'
  remember_me: '{remember_me}'
  cookies:
    - domain: 'example.com'
      authelia_url: 'https://auth.example.com'
      default_redirection_url: 'https://www.example.com'
storage:
  encryption_key: 'test-encryption-key-0123456789abcdefghij'
{storage}notifier:
  filesystem:
    filename: '{notifications}'
identity_validation:
  reset_password:
    jwt_secret: 'test-reset-secret-0123456789abcdefghijklm'
authentication_backend:
  database:
    password:
      argon2:
        iterations: 1
        memory: 64
        parallelism: 1
{tail}",
        storage = suite_storage_yaml(backend, directory),
        notifications = directory.join("notifications.txt").display(),
    )
}

/// Services on a fresh database with the field cases' users `alice` (group `dev`, password
/// `correct-horse-1`) and `bob` (group `admins`, password `battery-staple-2`), a manual clock at
/// [`START_MILLIS`], and a hashing pool of `workers` threads and `queue` places.
pub async fn suite_services(
    backend: Backend,
    directory: &Path,
    remember_me: &str,
    tail: &str,
    workers: usize,
    queue: usize,
) -> (gatehouse::services::Services, gatehouse::clock::Clock) {
    suite_services_edited(
        backend,
        directory,
        remember_me,
        tail,
        workers,
        queue,
        |yaml| yaml,
    )
    .await
}

/// Like [`suite_services`], with the configuration text passed through `edit` first, for keys
/// inside the sections the shared configuration already has.
pub async fn suite_services_edited(
    backend: Backend,
    directory: &Path,
    remember_me: &str,
    tail: &str,
    workers: usize,
    queue: usize,
    edit: impl FnOnce(String) -> String,
) -> (gatehouse::services::Services, gatehouse::clock::Clock) {
    use gatehouse::storage::{Cipher, Database, UserRecord};

    let yaml = edit(suite_config_yaml(backend, directory, remember_me, tail));
    let config = gatehouse::config::load_str(&yaml, &std::collections::HashMap::new())
        .expect("the test configuration is valid")
        .config;
    let options = gatehouse::cli::context::database_options(&config);
    let db = Database::connect(
        &options,
        Cipher::new(config.storage.encryption_key.expose()),
    )
    .await
    .expect("open the test database");
    let users = [
        (
            "alice",
            "Alice Example",
            "alice@example.com",
            "dev",
            "correct-horse-1",
        ),
        (
            "bob",
            "Bob Example",
            "bob@example.com",
            "admins",
            "battery-staple-2",
        ),
    ];
    for (username, display_name, email, group, password) in users {
        let record = UserRecord {
            username: username.to_owned(),
            display_name: display_name.to_owned(),
            email: Some(email.to_owned()),
            password_hash: gatehouse::identity::hashing::hash_password(password, &cheap_params())
                .expect("hash"),
            disabled: false,
            groups: vec![group.to_owned()],
        };
        db.create_user(&record, START_MILLIS)
            .await
            .expect("create a user");
    }
    let clock = gatehouse::clock::Clock::manual(START_MILLIS);
    let services = gatehouse::services::Services::build_with_hashing(
        config,
        db,
        clock.clone(),
        workers,
        queue,
    )
    .await
    .expect("build the services");
    (services, clock)
}
