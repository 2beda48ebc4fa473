//! The generated set-up: a configuration in a temporary directory, a user made with the
//! `gatehouse` command line and a logged-in session stored directly in the SQLite database.

use std::io::Write as _;
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context as _};
use base64::Engine as _;
use gatehouse::storage::{Cipher, Database, DatabaseOptions, SessionRecord};
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};

use crate::scenarios::{Credentials, PORTAL_URL};

/// The user the scenarios log in as.
pub const USERNAME: &str = "bench";
/// The session cookie's name (`session.name` in the generated configuration).
const SESSION_COOKIE_NAME: &str = "authelia_session";
/// The cookie domain every scenario's host is under.
const COOKIE_DOMAIN: &str = "example.com";

/// The files of one benchmark run, removed when this is dropped.
pub struct Fixture {
    directory: tempfile::TempDir,
    pub config_path: PathBuf,
    pub database_path: PathBuf,
    encryption_key: String,
    /// The loopback port Gatehouse is configured to listen on.
    pub port: u16,
}

impl Fixture {
    /// Writes the configuration into a new temporary directory.
    pub fn create() -> anyhow::Result<Fixture> {
        let directory = tempfile::Builder::new()
            .prefix("gatehouse-bench-")
            .tempdir()
            .context("creating a temporary directory failed")?;
        let config_path = directory.path().join("configuration.yml");
        let database_path = directory.path().join("gatehouse.sqlite3");
        let encryption_key = random_token();
        let port = free_port()?;
        let yaml = configuration_yaml(
            port,
            &database_path,
            &directory.path().join("notifications.txt"),
            &encryption_key,
        );
        std::fs::write(&config_path, yaml)
            .with_context(|| format!("writing {} failed", config_path.display()))?;
        Ok(Fixture {
            directory,
            config_path,
            database_path,
            encryption_key,
            port,
        })
    }

    /// Returns the directory that contains the configuration, the database and Gatehouse's log.
    pub fn directory(&self) -> &Path {
        self.directory.path()
    }

    /// Creates the benchmark user with `gatehouse user add` and stores a logged-in session for
    /// them. Returns the credentials the scenarios send.
    pub async fn create_user_and_session(&self, gatehouse: &Path) -> anyhow::Result<Credentials> {
        let password = random_token();
        self.add_user(gatehouse, &password)?;
        let cookie_value = random_token();
        self.insert_session(&cookie_value).await?;
        Ok(Credentials {
            username: USERNAME.to_owned(),
            password,
            session_cookie: format!("{SESSION_COOKIE_NAME}={cookie_value}"),
        })
    }

    fn add_user(&self, gatehouse: &Path, password: &str) -> anyhow::Result<()> {
        let mut child = Command::new(gatehouse)
            .arg("--config")
            .arg(&self.config_path)
            .args(["user", "add", USERNAME, "--email", "bench@example.com"])
            .args([
                "--name",
                "Bench User",
                "--groups",
                "dev",
                "--password-stdin",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {} failed", gatehouse.display()))?;
        let mut stdin = child
            .stdin
            .take()
            .context("the child has no standard input")?;
        writeln!(stdin, "{password}").context("writing the password to `user add` failed")?;
        drop(stdin);
        let output = child
            .wait_with_output()
            .context("waiting for `gatehouse user add` failed")?;
        if !output.status.success() {
            bail!(
                "`gatehouse user add {USERNAME}` failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Ok(())
    }

    /// Stores a one-factor session under the SHA-256 hex of `cookie_value`, as the session
    /// store keys it. Remember-me is on so that inactivity cannot end it during the run.
    async fn insert_session(&self, cookie_value: &str) -> anyhow::Result<()> {
        let options = DatabaseOptions::Sqlite {
            path: self.database_path.clone(),
        };
        let database = Database::connect(&options, Cipher::new(&self.encryption_key))
            .await
            .with_context(|| format!("opening {} failed", self.database_path.display()))?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .context("the system clock is before 1970")?
            .as_millis() as i64;
        let session = SessionRecord {
            id_hash: hex::encode(Sha256::digest(cookie_value.as_bytes())),
            username: Some(USERNAME.to_owned()),
            cookie_domain: COOKIE_DOMAIN.to_owned(),
            level: 1,
            remember_me: true,
            first_factor_at: Some(now),
            second_factor_at: None,
            created_at: now,
            last_activity_at: now,
            // Zero makes Gatehouse load the user's profile into the session on the first
            // request, as a login would have done.
            profile_refreshed_at: 0,
            elevated_until: None,
            elevated_ip: None,
            data: serde_json::json!({}),
        };
        let inserted = database.insert_session(&session).await;
        database.close().await;
        inserted.context("storing the benchmark session failed")
    }
}

/// Builds the configuration: one cookie domain, a bypass rule, a one-factor rule, default deny,
/// regulation and the Basic rate limit off so the timing series are not cut short by bans.
fn configuration_yaml(
    port: u16,
    database: &Path,
    notifications: &Path,
    encryption_key: &str,
) -> String {
    format!(
        "server:
  address: 'tcp://127.0.0.1:{port}/'
  endpoints:
    rate_limits:
      authz_basic:
        enable: false
session:
  name: {SESSION_COOKIE_NAME}
  secret: '{session_secret}'
  cookies:
    - domain: {COOKIE_DOMAIN}
      authelia_url: {PORTAL_URL}
storage:
  encryption_key: '{encryption_key}'
  local:
    path: '{database}'
identity_validation:
  reset_password:
    jwt_secret: '{jwt_secret}'
regulation:
  max_retries: 0
access_control:
  default_policy: deny
  rules:
    - domain: public.example.com
      policy: bypass
    - domain: app.example.com
      policy: one_factor
notifier:
  filesystem:
    filename: '{notifications}'
",
        session_secret = random_token(),
        jwt_secret = random_token(),
        database = database.display(),
        notifications = notifications.display(),
    )
}

/// Returns 32 random bytes in URL-safe base64 without padding (43 characters), the form of a
/// session id.
fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Asks the kernel for a free loopback port. Another process could take it before Gatehouse
/// binds it, and then Gatehouse fails to start and the bench prints its log.
fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .context("binding a free loopback port failed")?;
    Ok(listener.local_addr()?.port())
}
