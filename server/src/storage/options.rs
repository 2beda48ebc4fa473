//! Database connection settings, which the caller maps from the configuration.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// Connection settings for one of the two supported databases.
#[derive(Clone)]
pub enum DatabaseOptions {
    /// A SQLite file, created if missing. Its directory must exist.
    Sqlite { path: PathBuf },
    /// A PostgreSQL server reached over TCP.
    Postgres {
        host: String,
        port: u16,
        database: String,
        /// Schema for Gatehouse's tables, created if missing; `None` uses the server's
        /// `search_path` (normally `public`).
        schema: Option<String>,
        username: String,
        /// Password; an empty string sends none. Never printed by `Debug`.
        password: String,
        /// Limit for opening one connection and for waiting on a pooled one.
        connect_timeout: Duration,
    },
}

impl DatabaseOptions {
    /// Returns where the database is, for messages: the file path or `host:port/database`.
    pub fn location(&self) -> String {
        match self {
            DatabaseOptions::Sqlite { path } => path.display().to_string(),
            DatabaseOptions::Postgres {
                host,
                port,
                database,
                ..
            } => format!("{}/{database}", postgres_address(host, *port)),
        }
    }
}

/// Formats `host:port`, with brackets around an IPv6 address.
pub(crate) fn postgres_address(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

impl fmt::Debug for DatabaseOptions {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DatabaseOptions::Sqlite { path } => formatter
                .debug_struct("Sqlite")
                .field("path", path)
                .finish(),
            DatabaseOptions::Postgres {
                host,
                port,
                database,
                schema,
                username,
                password,
                connect_timeout,
            } => formatter
                .debug_struct("Postgres")
                .field("host", host)
                .field("port", port)
                .field("database", database)
                .field("schema", schema)
                .field("username", username)
                .field(
                    "password",
                    &if password.is_empty() {
                        "<empty>"
                    } else {
                        "<redacted>"
                    },
                )
                .field("connect_timeout", connect_timeout)
                .finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_password() {
        let options = DatabaseOptions::Postgres {
            host: "db.internal".into(),
            port: 5432,
            database: "gatehouse".into(),
            schema: None,
            username: "gatehouse".into(),
            password: "hunter2-very-secret".into(),
            connect_timeout: Duration::from_secs(5),
        };
        let printed = format!("{options:?}");
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(printed.contains("<redacted>"), "{printed}");
        assert_eq!(options.location(), "db.internal:5432/gatehouse");
    }

    #[test]
    fn ipv6_address_gets_brackets() {
        assert_eq!(postgres_address("::1", 5432), "[::1]:5432");
    }
}
