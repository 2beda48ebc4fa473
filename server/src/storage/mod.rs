//! The database: SQLite (the default, one file) or PostgreSQL (shared by several instances),
//! behind one set of repository methods on [`Database`].
//!
//! Queries are runtime-checked (`sqlx::query`, `sqlx::query_as`) because the compile-time macros
//! check against one database only. SQL is written once where both dialects agree, with `$1`
//! placeholders. SQLite takes `$N` as a parameter named by its number. sqlx's SQLite driver
//! (sqlx-sqlite 0.8, `SqliteArguments::bind`) binds such a parameter to the N-th bound value even
//! when the numbers appear out of order or repeat. A test in `server/tests/storage.rs` checks it.
//! Every integer column is `BIGINT` in PostgreSQL, so it decodes as `i64` on both databases.
//! Times are milliseconds since the Unix epoch passed in by the caller, which reads the server's
//! `Clock`; nothing here reads the system clock.
//!
//! Deviation from the storage design: `Database::connect` also takes the [`Cipher`]. The TOTP
//! repository encrypts and decrypts with it. Opening the database also checks the key against the
//! value stored at first start. So a wrong `storage.encryption_key` stops the server before any
//! request, and no caller can forget the check.

mod audit;
mod ceremonies;
mod connect;
pub mod crypto;
mod error;
mod options;
mod regulation;
mod sessions;
mod tokens;
mod totp;
mod users;
mod webauthn;

use sqlx::{PgPool, SqlitePool};

pub use audit::{AuditEvent, NewAuditEvent};
pub use ceremonies::PendingCeremony;
pub use crypto::{Cipher, DecryptError};
pub use error::StorageError;
pub use options::DatabaseOptions;
pub use regulation::{
    AttemptFactor, AuthenticationAttempt, Ban, BanKind, BanSource, NewAttempt, NewBan,
};
pub use sessions::{SessionLifetimes, SessionRecord};
pub use tokens::{NewOneTimeToken, OneTimeToken, RESET_PASSWORD_PURPOSE};
pub use totp::{NewTotpConfiguration, TotpConfiguration};
pub use users::{ImportCounts, User, UserRecord};
pub use webauthn::{NewWebauthnCredential, WebauthnCredential};

/// Runs `$body` with `$pool` bound to the SQLite or the PostgreSQL pool. The body is compiled
/// once per database, so the same `sqlx::query` text serves both.
macro_rules! with_pool {
    ($database:expr, $pool:ident => $body:expr) => {
        match &$database.pool {
            $crate::storage::Pool::Sqlite($pool) => $body,
            $crate::storage::Pool::Postgres($pool) => $body,
        }
    };
}

/// Executes `$query` (a `sqlx::query(…)` with its binds) on the pool and returns the number of
/// rows it affected, as `Result<u64, sqlx::Error>`.
macro_rules! execute {
    ($database:expr, $query:expr) => {
        match &$database.pool {
            $crate::storage::Pool::Sqlite(pool) => {
                $query.execute(pool).await.map(|done| done.rows_affected())
            }
            $crate::storage::Pool::Postgres(pool) => {
                $query.execute(pool).await.map(|done| done.rows_affected())
            }
        }
    };
}

/// Runs `$body` in a transaction with `$connection` bound to the transaction's connection
/// (`&mut SqliteConnection` or `&mut PgConnection`), and commits if the body finishes. A `?` or
/// `return` inside the body leaves without committing, which rolls the transaction back.
///
/// SQLite transactions start with `BEGIN IMMEDIATE`, which takes the write lock at once: a
/// transaction that reads and then writes cannot then fail with `SQLITE_BUSY` halfway because
/// another connection wrote in between (the busy timeout covers waiting for the lock).
macro_rules! in_transaction {
    ($database:expr, $connection:ident => $body:block) => {
        match &$database.pool {
            $crate::storage::Pool::Sqlite(pool) => {
                let mut transaction = pool.begin_with("BEGIN IMMEDIATE").await?;
                let output = {
                    let $connection: &mut sqlx::SqliteConnection = &mut *transaction;
                    $body
                };
                transaction.commit().await?;
                output
            }
            $crate::storage::Pool::Postgres(pool) => {
                let mut transaction = pool.begin().await?;
                let output = {
                    let $connection: &mut sqlx::PgConnection = &mut *transaction;
                    $body
                };
                transaction.commit().await?;
                output
            }
        }
    };
}

pub(crate) use {execute, in_transaction, with_pool};

/// A connection pool to the configured database. Clones share the pool.
#[derive(Clone, Debug)]
pub struct Database {
    pool: Pool,
    cipher: Cipher,
    /// Counts changes that can reduce a user's rights, made through this handle or its clones.
    changes: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

/// Counts one change when dropped, that is after the method that made it has committed: a
/// reader that saw the old value cannot then store it under the new count.
pub(crate) struct ChangeGuard<'a>(&'a Database);

impl Drop for ChangeGuard<'_> {
    fn drop(&mut self) {
        self.0
            .changes
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

#[derive(Clone, Debug)]
pub(crate) enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl Database {
    /// The number of changes made through this handle (and its clones) that can reduce a user's
    /// rights: password, disable, groups, profile, deletion, import, ending sessions. A cache of
    /// session state compares it to drop what such a change made stale, at once, in this
    /// process. Other processes and instances are not counted here.
    pub fn change_generation(&self) -> u64 {
        self.changes.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Returns a guard that counts one change when the calling method returns.
    pub(crate) fn change_guard(&self) -> ChangeGuard<'_> {
        ChangeGuard(self)
    }

    /// Opens the database, creating a SQLite file if missing, applies the migrations this binary
    /// contains, and checks `cipher` against the key the database was created with (storing the
    /// check value on first start).
    pub async fn connect(
        options: &DatabaseOptions,
        cipher: Cipher,
    ) -> Result<Database, StorageError> {
        let pool = connect::open(options).await?;
        let database = Database {
            pool,
            cipher,
            changes: std::sync::Arc::default(),
        };
        database.check_encryption_key().await?;
        Ok(database)
    }

    /// Runs a trivial query, for the health check.
    pub async fn ping(&self) -> Result<(), StorageError> {
        execute!(self, sqlx::query("SELECT 1"))?;
        Ok(())
    }

    /// Tells whether this is a PostgreSQL database.
    pub fn is_postgres(&self) -> bool {
        matches!(self.pool, Pool::Postgres(_))
    }

    /// Closes every connection; later queries fail.
    pub async fn close(&self) {
        with_pool!(self, pool => pool.close().await)
    }

    /// Returns the value stored under `key` in the meta table.
    pub async fn meta_value(&self, key: &str) -> Result<Option<String>, StorageError> {
        let value = with_pool!(self, pool => {
            sqlx::query_scalar("SELECT value FROM meta WHERE key = $1")
                .bind(key)
                .fetch_optional(pool)
                .await
        })?;
        Ok(value)
    }

    /// Stores `value` under `key` in the meta table, replacing any earlier value.
    pub async fn set_meta_value(&self, key: &str, value: &str) -> Result<(), StorageError> {
        execute!(self, {
            sqlx::query(
                "INSERT INTO meta (key, value) VALUES ($1, $2) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )
            .bind(key)
            .bind(value)
        })?;
        Ok(())
    }

    /// Stores an encrypted check value on first start; on later starts decrypts it, which fails
    /// with a different key. Two instances starting at once both keep the first stored value.
    async fn check_encryption_key(&self) -> Result<(), StorageError> {
        use base64::Engine as _;
        const KEY: &str = "encryption_check";
        const CONTEXT: &[u8] = b"meta:encryption_check";
        const PLAINTEXT: &[u8] = b"gatehouse storage encryption check";

        let fresh = base64::engine::general_purpose::STANDARD
            .encode(self.cipher.encrypt(PLAINTEXT, CONTEXT));
        execute!(self, {
            sqlx::query(
                "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
            )
            .bind(KEY)
            .bind(&fresh)
        })?;

        let stored = self.meta_value(KEY).await?.unwrap_or_default();
        let sealed = base64::engine::general_purpose::STANDARD
            .decode(stored.as_bytes())
            .map_err(|_| StorageError::InvalidValue {
                table: "meta",
                column: "value",
                reason: format!("{KEY} is not base64"),
            })?;
        match self.cipher.decrypt(&sealed, CONTEXT) {
            Ok(plaintext) if plaintext == PLAINTEXT => Ok(()),
            _ => Err(StorageError::EncryptionKeyMismatch),
        }
    }
}
