//! Opening the database: connection settings, migrations, and operator-facing start-up errors.
//!
//! One connection is opened on its own first, so that its error can be reported precisely (the
//! pool retries a refused connection until its timeout and then reports only the timeout), and
//! the migrations run on it. The pool is built after that.

use std::collections::HashMap;
use std::io;
use std::path::Path;
use std::time::Duration;

use sqlx::migrate::{Migrate, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection, PgConnection, SqliteConnection};

use super::options::postgres_address;
use super::{DatabaseOptions, Pool, StorageError};

// NOTE: `sqlx::migrate!` embeds the files at compile time and Cargo does not notice a newly added
// file (there is no build script that watches the folders), so touch this file after adding one.
static SQLITE_MIGRATOR: Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATOR: Migrator = sqlx::migrate!("../migrations/postgres");

/// How long a SQLite statement waits for another connection's write lock before failing.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// SQLite primary result codes (the low byte of an extended code) that start-up distinguishes.
const SQLITE_PERM: i32 = 3;
const SQLITE_READONLY: i32 = 8;
const SQLITE_CORRUPT: i32 = 11;
const SQLITE_CANTOPEN: i32 = 14;
const SQLITE_NOTADB: i32 = 26;

/// Applies this binary's migrations after checking that the database has none it does not know.
///
/// sqlx's own check stops at the first unknown version with a terse message. This one lists them
/// all and names the operator's next step. The check runs under the migration lock, a PostgreSQL
/// advisory lock that the same session may take again inside `Migrator::run` (SQLite needs none).
macro_rules! run_migrations {
    ($connection:expr, $migrator:expr, $location:expr) => {{
        let connection = $connection;
        let location: &str = $location;
        let migration_error = |source| StorageError::Migration {
            location: location.to_string(),
            source,
        };
        connection.lock().await.map_err(migration_error)?;
        let applied = match check_applied_migrations(&mut *connection, $migrator, location).await {
            Ok(()) => $migrator
                .run(&mut *connection)
                .await
                .map_err(migration_error),
            Err(error) => Err(error),
        };
        let unlocked = connection.unlock().await.map_err(migration_error);
        applied.and(unlocked)
    }};
}

/// Creates a missing database file readable by its owner only (mode 0600): it holds password
/// hashes and session records, and SQLite gives its `-wal` and `-shm` files the same mode. A
/// failure is left to SQLite's own open, which reports it with the path.
fn create_private_file(path: &Path) {
    use std::os::unix::fs::OpenOptionsExt;
    if path.exists() {
        return;
    }
    let _ = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path);
}

/// Opens a pool to the configured database after migrating it.
pub(super) async fn open(options: &DatabaseOptions) -> Result<Pool, StorageError> {
    match options {
        DatabaseOptions::Sqlite { path } => open_sqlite(path).await,
        DatabaseOptions::Postgres { .. } => open_postgres(options).await,
    }
}

async fn open_sqlite(path: &Path) -> Result<Pool, StorageError> {
    create_private_file(path);
    let connect_options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(SQLITE_BUSY_TIMEOUT)
        .log_statements(tracing::log::LevelFilter::Trace);

    let mut connection = SqliteConnection::connect_with(&connect_options)
        .await
        .map_err(|error| sqlite_open_error(path, error))?;
    let location = path.display().to_string();
    let migrated: Result<(), StorageError> =
        run_migrations!(&mut connection, &SQLITE_MIGRATOR, &location);
    migrated.map_err(|error| match error {
        StorageError::Migration {
            source: sqlx::migrate::MigrateError::Execute(inner),
            ..
        } => sqlite_open_error(path, inner),
        other => other,
    })?;
    connection.close().await?;

    let pool = SqlitePoolOptions::new()
        .connect_with(connect_options)
        .await
        .map_err(|error| sqlite_open_error(path, error))?;
    Ok(Pool::Sqlite(pool))
}

/// Turns a SQLite error at start-up into the error an operator can act on.
fn sqlite_open_error(path: &Path, error: sqlx::Error) -> StorageError {
    let sqlx::Error::Database(database_error) = &error else {
        return StorageError::SqliteOpen {
            path: path.to_path_buf(),
            reason: error.to_string(),
        };
    };
    let primary_code = database_error
        .code()
        .and_then(|code| code.parse::<i32>().ok())
        .map(|code| code & 0xff);
    let reason = database_error.message().to_string();
    match primary_code {
        Some(SQLITE_NOTADB) | Some(SQLITE_CORRUPT) => StorageError::SqliteCorrupt {
            path: path.to_path_buf(),
            reason,
        },
        Some(SQLITE_PERM) | Some(SQLITE_READONLY) => StorageError::PermissionDenied {
            path: path.to_path_buf(),
            reason,
        },
        Some(SQLITE_CANTOPEN) => diagnose_cannot_open(path).unwrap_or(StorageError::SqliteOpen {
            path: path.to_path_buf(),
            reason,
        }),
        _ => StorageError::SqliteOpen {
            path: path.to_path_buf(),
            reason,
        },
    }
}

/// Finds the cause when SQLite could not open `path`, because SQLite's own message ("unable to
/// open database file") does not name it.
fn diagnose_cannot_open(path: &Path) -> Option<StorageError> {
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    if !directory.is_dir() {
        return Some(StorageError::SqliteOpen {
            path: path.to_path_buf(),
            reason: format!("the directory {} does not exist", directory.display()),
        });
    }
    let probe = if path.exists() {
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map(drop)
    } else {
        // The probe repeats the creation that SQLite failed at, and removes the file again so
        // that a failed start leaves nothing behind.
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .and_then(|_| std::fs::remove_file(path))
    };
    match probe {
        Err(error) if error.kind() == io::ErrorKind::PermissionDenied => {
            Some(StorageError::PermissionDenied {
                path: path.to_path_buf(),
                reason: error.to_string(),
            })
        }
        _ => None,
    }
}

async fn open_postgres(options: &DatabaseOptions) -> Result<Pool, StorageError> {
    let DatabaseOptions::Postgres {
        host,
        port,
        database,
        schema,
        username,
        password,
        connect_timeout,
    } = options
    else {
        unreachable!("open_postgres is called only with PostgreSQL options");
    };
    let address = postgres_address(host, *port);

    let mut connect_options = PgConnectOptions::new()
        .host(host)
        .port(*port)
        .database(database)
        .username(username)
        .application_name("gatehouse")
        .log_statements(tracing::log::LevelFilter::Trace);
    if !password.is_empty() {
        connect_options = connect_options.password(password);
    }
    if let Some(schema) = schema {
        connect_options = connect_options.options([(
            "search_path",
            startup_option_value(&quote_identifier(schema)),
        )]);
    }

    let mut connection = match tokio::time::timeout(
        *connect_timeout,
        PgConnection::connect_with(&connect_options),
    )
    .await
    {
        Ok(Ok(connection)) => connection,
        Ok(Err(error)) => return Err(postgres_connect_error(error, &address, username)),
        Err(_) => {
            return Err(StorageError::PostgresUnreachable {
                address,
                reason: format!("no answer within {connect_timeout:?}"),
            })
        }
    };

    if let Some(schema) = schema {
        create_schema_if_missing(&mut connection, schema).await?;
    }
    let migrated: Result<(), StorageError> =
        run_migrations!(&mut connection, &POSTGRES_MIGRATOR, &options.location());
    migrated?;
    connection.close().await?;

    let pool = PgPoolOptions::new()
        .acquire_timeout(*connect_timeout)
        .connect_with(connect_options)
        .await
        .map_err(|error| postgres_connect_error(error, &address, username))?;
    Ok(Pool::Postgres(pool))
}

/// Creates the configured schema unless it exists. The existence check comes first because
/// `CREATE SCHEMA IF NOT EXISTS` needs the CREATE privilege on the database even when the schema
/// is already there, and a prepared schema is how operators give Gatehouse a narrower role.
async fn create_schema_if_missing(
    connection: &mut PgConnection,
    schema: &str,
) -> Result<(), StorageError> {
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)")
            .bind(schema)
            .fetch_one(&mut *connection)
            .await?;
    if !exists {
        let statement = format!("CREATE SCHEMA IF NOT EXISTS {}", quote_identifier(schema));
        sqlx::query(&statement).execute(&mut *connection).await?;
    }
    Ok(())
}

/// Quotes a PostgreSQL identifier, doubling any `"` inside it.
fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Escapes a value for the `options` startup parameter, where spaces separate arguments unless
/// escaped with a backslash.
fn startup_option_value(value: &str) -> String {
    value.replace('\\', "\\\\").replace(' ', "\\ ")
}

/// Turns a PostgreSQL connection error into the error an operator can act on. Messages come
/// from the I/O layer or the server and never contain the configured password.
fn postgres_connect_error(error: sqlx::Error, address: &str, username: &str) -> StorageError {
    let address = address.to_string();
    match error {
        sqlx::Error::Io(io_error) => StorageError::PostgresUnreachable {
            address,
            reason: io_error.to_string(),
        },
        sqlx::Error::PoolTimedOut => StorageError::PostgresUnreachable {
            address,
            reason: "timed out waiting for a connection".to_string(),
        },
        sqlx::Error::Database(database_error) => {
            let reason = database_error.message().to_string();
            match database_error.code().as_deref() {
                // invalid_password, invalid_authorization_specification
                Some("28P01") | Some("28000") => StorageError::PostgresLoginRejected {
                    address,
                    username: username.to_string(),
                    reason,
                },
                _ => StorageError::PostgresConnect { address, reason },
            }
        }
        other => StorageError::PostgresConnect {
            address,
            reason: other.to_string(),
        },
    }
}

async fn check_applied_migrations<C: Migrate>(
    connection: &mut C,
    migrator: &Migrator,
    location: &str,
) -> Result<(), StorageError> {
    let migration_error = |source| StorageError::Migration {
        location: location.to_string(),
        source,
    };
    connection
        .ensure_migrations_table()
        .await
        .map_err(migration_error)?;
    let applied = connection
        .list_applied_migrations()
        .await
        .map_err(migration_error)?;

    let known: HashMap<i64, &[u8]> = migrator
        .iter()
        .filter(|migration| migration.migration_type.is_up_migration())
        .map(|migration| (migration.version, migration.checksum.as_ref()))
        .collect();
    let mut unknown_versions: Vec<i64> = applied
        .iter()
        .map(|migration| migration.version)
        .filter(|version| !known.contains_key(version))
        .collect();
    if !unknown_versions.is_empty() {
        unknown_versions.sort_unstable();
        return Err(StorageError::DatabaseNewerThanBinary {
            location: location.to_string(),
            unknown_versions,
            newest_known: known.keys().copied().max().unwrap_or(0),
        });
    }
    for migration in &applied {
        if known.get(&migration.version) != Some(&migration.checksum.as_ref()) {
            return Err(StorageError::MigrationChanged {
                location: location.to_string(),
                version: migration.version,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifier_quoting() {
        assert_eq!(quote_identifier("gatehouse"), "\"gatehouse\"");
        assert_eq!(quote_identifier("a\"b"), "\"a\"\"b\"");
    }

    #[test]
    fn startup_option_escaping() {
        assert_eq!(startup_option_value("\"my schema\""), "\"my\\ schema\"");
        assert_eq!(startup_option_value("a\\b"), "a\\\\b");
    }

    #[test]
    fn migrations_have_same_versions() {
        let sqlite: Vec<(i64, String)> = SQLITE_MIGRATOR
            .iter()
            .map(|migration| (migration.version, migration.description.to_string()))
            .collect();
        let postgres: Vec<(i64, String)> = POSTGRES_MIGRATOR
            .iter()
            .map(|migration| (migration.version, migration.description.to_string()))
            .collect();
        assert!(!sqlite.is_empty());
        assert_eq!(sqlite, postgres);
    }
}
