//! `storage`: where Gatehouse keeps its data, and the key that encrypts secrets at rest.

use std::path::PathBuf;
use std::time::Duration;

use crate::config::read::{Reader, Section};
use crate::config::secret::{Secret, GENERATE_SECRET_HINT};
use crate::config::session::check_hostname;
use crate::config::tls::{read_tls, TlsConfig};

const DEFAULT_POSTGRES_PORT: u16 = 5432;

/// `storage`.
#[derive(Debug, Clone)]
pub struct StorageConfig {
    /// Encrypts TOTP secrets and other data at rest; at least 20 characters.
    pub encryption_key: Secret,
    pub backend: StorageBackend,
}

/// The database Gatehouse uses.
#[derive(Debug, Clone)]
pub enum StorageBackend {
    /// `storage.local.path`: a SQLite file.
    Local {
        path: PathBuf,
    },
    Postgres(PostgresConfig),
}

/// `storage.postgres`.
#[derive(Debug, Clone)]
pub struct PostgresConfig {
    pub host: String,
    pub port: u16,
    pub database: String,
    pub schema: String,
    pub username: String,
    pub password: Secret,
    pub timeout: Duration,
    /// TLS settings; `None` when the section is absent.
    pub tls: Option<TlsConfig>,
}

pub(crate) fn read_storage(reader: &mut Reader, mut section: Section<'_>) -> StorageConfig {
    let key_path = section.key_path("encryption_key");
    let encryption_key = section.secret(reader, "encryption_key");
    match &encryption_key {
        None => reader.error(&key_path, format!("missing; {GENERATE_SECRET_HINT}")),
        Some(key) if key.char_count() < 20 => reader.error(
            &key_path,
            format!("must be at least 20 characters, found {}; {GENERATE_SECRET_HINT}", key.char_count()),
        ),
        Some(key) if key.char_count() < 32 => reader.warn(
            &key_path,
            format!(
                "is shorter than 32 characters ({}); it is accepted so that an existing Authelia database can be read, but a new key should be longer; {GENERATE_SECRET_HINT}",
                key.char_count()
            ),
        ),
        Some(_) => {}
    }

    let local = section.optional_section(reader, "local").map(|mut local| {
        let path_key = local.key_path("path");
        let path = local.string(reader, "path");
        local.finish(reader);
        if path.as_deref().is_none_or(str::is_empty) && !reader.recording() {
            reader.error(&path_key, "missing: the path of the SQLite database file");
        }
        PathBuf::from(path.unwrap_or_default())
    });
    let postgres = section
        .optional_section(reader, "postgres")
        .map(|postgres| read_postgres(reader, postgres));

    let backend = match (local, postgres) {
        (Some(path), None) => StorageBackend::Local { path },
        (None, Some(postgres)) => StorageBackend::Postgres(postgres),
        (Some(path), Some(_)) => {
            if !reader.recording() {
                reader.error(
                    section.path(),
                    "configure either storage.local or storage.postgres, not both",
                );
            }
            StorageBackend::Local { path }
        }
        (None, None) => {
            reader.error(
                section.path(),
                "missing: configure storage.local.path or storage.postgres",
            );
            StorageBackend::Local {
                path: PathBuf::new(),
            }
        }
    };
    section.finish(reader);
    StorageConfig {
        encryption_key: encryption_key.unwrap_or_else(|| Secret::new(String::new())),
        backend,
    }
}

fn read_postgres(reader: &mut Reader, mut section: Section<'_>) -> PostgresConfig {
    let address_path = section.key_path("address");
    let (host, port) = match section.string(reader, "address") {
        None => {
            if !reader.recording() {
                reader.error(
                    &address_path,
                    "missing: the database server, e.g. tcp://postgres:5432",
                );
            }
            (String::new(), DEFAULT_POSTGRES_PORT)
        }
        Some(text) => match parse_postgres_address(&text) {
            Ok(parts) => parts,
            Err(message) => {
                reader.error(&address_path, message);
                (String::new(), DEFAULT_POSTGRES_PORT)
            }
        },
    };
    let database_path = section.key_path("database");
    let database = section.string(reader, "database").unwrap_or_default();
    let schema = section.string_or(reader, "schema", "public");
    let username_path = section.key_path("username");
    let username = section.string(reader, "username").unwrap_or_default();
    let password = section
        .secret(reader, "password")
        .unwrap_or_else(|| Secret::new(String::new()));
    let timeout = section.duration_or(reader, "timeout", Duration::from_secs(5));
    let tls = section
        .optional_section(reader, "tls")
        .map(|tls| read_tls(reader, tls));
    section.finish(reader);

    if !reader.recording() {
        if database.is_empty() {
            reader.error(&database_path, "missing: the database name");
        }
        if username.is_empty() {
            reader.error(&username_path, "missing: the user name to connect as");
        }
    }
    PostgresConfig {
        host,
        port,
        database,
        schema,
        username,
        password,
        timeout,
        tls,
    }
}

/// Parses `tcp://host:port`, `host:port` or `host`.
fn parse_postgres_address(text: &str) -> Result<(String, u16), String> {
    let rest = match text.trim().split_once("://") {
        None => text.trim(),
        Some(("tcp" | "tcp4" | "tcp6", rest)) => rest,
        Some((scheme, _)) => {
            return Err(format!(
                "unsupported scheme '{scheme}': expected tcp://host:port"
            ))
        }
    };
    let rest = rest.trim_end_matches('/');
    let (host, port) = if let Some(bracketed) = rest.strip_prefix('[') {
        let (host, after) = bracketed
            .split_once(']')
            .ok_or("missing ']' after the IPv6 address")?;
        (host.to_owned(), after.strip_prefix(':'))
    } else {
        match rest.rsplit_once(':') {
            Some((host, port)) => (host.to_owned(), Some(port)),
            None => (rest.to_owned(), None),
        }
    };
    let port = match port {
        None => DEFAULT_POSTGRES_PORT,
        Some(port) => port
            .parse::<u16>()
            .map_err(|_| format!("invalid port '{port}'"))?,
    };
    if host.is_empty() {
        return Err("missing host".to_owned());
    }
    let host = host.to_ascii_lowercase();
    if host.parse::<std::net::IpAddr>().is_err() {
        check_hostname(&host)?;
    }
    Ok((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_address_forms() {
        assert_eq!(
            parse_postgres_address("tcp://db:5433").unwrap(),
            ("db".to_owned(), 5433)
        );
        assert_eq!(
            parse_postgres_address("db.internal").unwrap(),
            ("db.internal".to_owned(), 5432)
        );
        assert_eq!(
            parse_postgres_address("[::1]:5432").unwrap(),
            ("::1".to_owned(), 5432)
        );
        assert!(parse_postgres_address("mysql://db:3306").is_err());
        assert!(parse_postgres_address("tcp://:5432").is_err());
    }
}
