//! Errors of the storage layer, worded so that an operator can act on them.

use std::path::PathBuf;

/// An error from opening the database or from one of its repositories.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The database has migrations applied that this binary does not contain.
    #[error(
        "the database at {location} is newer than this Gatehouse binary: it has migration \
         version(s) {unknown} applied, which this binary does not know (the newest it knows is \
         {newest_known}); run the Gatehouse version that upgraded it, or restore a backup made \
         before that upgrade",
        unknown = join_versions(.unknown_versions)
    )]
    DatabaseNewerThanBinary {
        location: String,
        unknown_versions: Vec<i64>,
        newest_known: i64,
    },

    /// An applied migration differs from the file of the same version in this binary.
    #[error(
        "migration version {version} applied to the database at {location} differs from the one \
         in this binary; the database was migrated by a different build of Gatehouse"
    )]
    MigrationChanged { location: String, version: i64 },

    /// Running the migrations failed.
    #[error("migrating the database at {location} failed: {source}")]
    Migration {
        location: String,
        #[source]
        source: sqlx::migrate::MigrateError,
    },

    /// No connection to the PostgreSQL server could be made.
    #[error(
        "cannot connect to PostgreSQL at {address}: {reason}; check that the server is running \
         and that storage.postgres.address is right"
    )]
    PostgresUnreachable { address: String, reason: String },

    /// The PostgreSQL server refused the login.
    #[error(
        "PostgreSQL at {address} rejected the login of user {username:?}: {reason}; check \
         storage.postgres.username and storage.postgres.password"
    )]
    PostgresLoginRejected {
        address: String,
        username: String,
        reason: String,
    },

    /// The PostgreSQL connection failed for another reason (TLS, unknown database, server error).
    #[error("connecting to PostgreSQL at {address} failed: {reason}")]
    PostgresConnect { address: String, reason: String },

    /// The SQLite file exists but is not a SQLite database, or is damaged.
    #[error(
        "{path} is not a SQLite database or is corrupt ({reason}); restore it from a backup or \
         configure a different file"
    )]
    SqliteCorrupt { path: PathBuf, reason: String },

    /// The process may not read or write the SQLite file or its directory.
    #[error(
        "permission denied on the SQLite database {path} ({reason}); Gatehouse needs read and \
         write access to the file and to its directory (for the -wal and -shm files)"
    )]
    PermissionDenied { path: PathBuf, reason: String },

    /// The SQLite file could not be opened for another reason.
    #[error("cannot open the SQLite database {path}: {reason}")]
    SqliteOpen { path: PathBuf, reason: String },

    /// The configured encryption key is not the one this database was created with.
    #[error("storage.encryption_key does not match the key this database was created with")]
    EncryptionKeyMismatch,

    /// A stored secret failed to decrypt although the key check passed.
    #[error("a stored secret ({what}) failed to decrypt; the row was changed or damaged")]
    Decryption { what: String },

    /// A user with this username already exists.
    #[error("a user named {0:?} already exists")]
    DuplicateUsername(String),

    /// Another user already has this e-mail address.
    #[error("the e-mail address {0:?} already belongs to another user")]
    DuplicateEmail(String),

    /// A WebAuthn credential with this credential id is already registered.
    #[error("the WebAuthn credential {0:?} is already registered")]
    DuplicateCredential(String),

    /// A one-time token with this hash already exists.
    #[error("a one-time token with the same hash already exists")]
    DuplicateToken,

    /// The user does not exist in the database backend.
    #[error("user {0:?} not found")]
    UserNotFound(String),

    /// A stored value cannot be read as the type it should have.
    #[error("invalid value in {table}.{column}: {reason}")]
    InvalidValue {
        table: &'static str,
        column: &'static str,
        reason: String,
    },

    /// Any other database error.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

fn join_versions(versions: &[i64]) -> String {
    versions
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Returns the database error inside `error` if it is a unique-constraint violation.
pub(crate) fn unique_violation(error: &sqlx::Error) -> Option<&dyn sqlx::error::DatabaseError> {
    match error {
        sqlx::Error::Database(database_error) if database_error.is_unique_violation() => {
            Some(database_error.as_ref())
        }
        _ => None,
    }
}

/// Tells whether a unique violation concerns `column`, from PostgreSQL's constraint name
/// (`users_email_key`) or SQLite's message (`UNIQUE constraint failed: users.email`).
pub(crate) fn violation_mentions(
    database_error: &dyn sqlx::error::DatabaseError,
    column: &str,
) -> bool {
    database_error
        .constraint()
        .map(|constraint| constraint.contains(column))
        .unwrap_or(false)
        || database_error.message().contains(&format!(".{column}"))
}
