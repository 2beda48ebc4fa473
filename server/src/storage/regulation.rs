//! Authentication attempts and bans, the records behind brute-force regulation.

use std::fmt;
use std::str::FromStr;

use super::{execute, with_pool, Database, StorageError};

/// Authentication factor of an attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttemptFactor {
    First,
    Second,
}

/// Kind of value a ban applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BanKind {
    /// An account key (the resolved username, or the typed name lower-cased).
    User,
    /// A client IP address.
    Ip,
}

/// Origin of a ban.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BanSource {
    Regulation,
    Admin,
}

/// Maps each variant to the text stored in the database and back.
macro_rules! stored_text {
    (
        $type:ident,
        $table:literal . $column:literal,
        { $($variant:ident => $text:literal),+ $(,)? }
    ) => {
        impl $type {
            /// Returns the text stored in the database.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($type::$variant => $text,)+
                }
            }
        }

        impl fmt::Display for $type {
            fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str(self.as_str())
            }
        }

        impl FromStr for $type {
            type Err = StorageError;

            fn from_str(text: &str) -> Result<$type, StorageError> {
                match text {
                    $($text => Ok($type::$variant),)+
                    other => Err(StorageError::InvalidValue {
                        table: $table,
                        column: $column,
                        reason: format!("unknown value {other:?}"),
                    }),
                }
            }
        }
    };
}

stored_text!(AttemptFactor, "authentication_attempts"."factor", {
    First => "1fa",
    Second => "2fa",
});
stored_text!(BanKind, "bans"."kind", { User => "user", Ip => "ip" });
stored_text!(BanSource, "bans"."source", {
    Regulation => "regulation",
    Admin => "admin",
});

/// An attempt to record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewAttempt {
    pub time: i64,
    pub account_key: String,
    pub successful: bool,
    /// The attempt was made while the account key or the IP address was banned.
    pub banned: bool,
    pub factor: AttemptFactor,
    /// Credential method: `password`, `basic`, `totp`, `webauthn`, and so on.
    pub method: String,
    /// `None` when the client IP is unknown.
    pub remote_ip: Option<String>,
    pub request_uri: String,
    pub request_method: String,
}

/// A recorded attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthenticationAttempt {
    pub id: i64,
    pub time: i64,
    pub account_key: String,
    pub successful: bool,
    pub banned: bool,
    pub factor: AttemptFactor,
    pub method: String,
    pub remote_ip: Option<String>,
    pub request_uri: String,
    pub request_method: String,
}

/// A ban to add.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewBan {
    pub kind: BanKind,
    pub value: String,
    /// `None` bans until revoked.
    pub expires_at: Option<i64>,
    pub source: BanSource,
    pub reason: String,
    pub created_at: i64,
}

/// A stored ban.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ban {
    pub id: i64,
    pub kind: BanKind,
    pub value: String,
    pub expires_at: Option<i64>,
    pub source: BanSource,
    pub reason: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct AttemptRow {
    id: i64,
    time: i64,
    account_key: String,
    successful: bool,
    banned: bool,
    factor: String,
    method: String,
    remote_ip: Option<String>,
    request_uri: String,
    request_method: String,
}

impl TryFrom<AttemptRow> for AuthenticationAttempt {
    type Error = StorageError;

    fn try_from(row: AttemptRow) -> Result<AuthenticationAttempt, StorageError> {
        Ok(AuthenticationAttempt {
            id: row.id,
            time: row.time,
            account_key: row.account_key,
            successful: row.successful,
            banned: row.banned,
            factor: row.factor.parse()?,
            method: row.method,
            remote_ip: row.remote_ip,
            request_uri: row.request_uri,
            request_method: row.request_method,
        })
    }
}

#[derive(sqlx::FromRow)]
struct BanRow {
    id: i64,
    kind: String,
    value: String,
    expires_at: Option<i64>,
    source: String,
    reason: String,
    created_at: i64,
    revoked_at: Option<i64>,
}

impl TryFrom<BanRow> for Ban {
    type Error = StorageError;

    fn try_from(row: BanRow) -> Result<Ban, StorageError> {
        Ok(Ban {
            id: row.id,
            kind: row.kind.parse()?,
            value: row.value,
            expires_at: row.expires_at,
            source: row.source.parse()?,
            reason: row.reason,
            created_at: row.created_at,
            revoked_at: row.revoked_at,
        })
    }
}

macro_rules! select_attempts {
    () => {
        "SELECT id, time, account_key, successful, banned, factor, method, remote_ip, \
         request_uri, request_method FROM authentication_attempts"
    };
}

macro_rules! select_bans {
    () => {
        "SELECT id, kind, value, expires_at, source, reason, created_at, revoked_at FROM bans"
    };
}

/// Condition of a ban in force at time `$now`; the statement names the parameter.
macro_rules! ban_in_force {
    ($now:literal) => {
        concat!(
            "revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ",
            $now,
            ")"
        )
    };
}

impl Database {
    /// Records an attempt and returns its id.
    pub async fn record_attempt(&self, attempt: &NewAttempt) -> Result<i64, StorageError> {
        let id = with_pool!(self, pool => {
            sqlx::query_scalar(
                "INSERT INTO authentication_attempts (time, account_key, successful, banned, \
                 factor, method, remote_ip, request_uri, request_method) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
            )
            .bind(attempt.time)
            .bind(&attempt.account_key)
            .bind(attempt.successful)
            .bind(attempt.banned)
            .bind(attempt.factor.as_str())
            .bind(&attempt.method)
            .bind(&attempt.remote_ip)
            .bind(&attempt.request_uri)
            .bind(&attempt.request_method)
            .fetch_one(pool)
            .await
        })?;
        Ok(id)
    }

    /// Returns the account key's attempts at or after `since`, newest first, at most `limit`.
    pub async fn attempts_for_account(
        &self,
        account_key: &str,
        since: i64,
        limit: u32,
    ) -> Result<Vec<AuthenticationAttempt>, StorageError> {
        let rows: Vec<AttemptRow> = with_pool!(self, pool => {
            sqlx::query_as(concat!(
                select_attempts!(),
                " WHERE account_key = $1 AND time >= $2 ORDER BY time DESC, id DESC LIMIT $3"
            ))
            .bind(account_key)
            .bind(since)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await
        })?;
        rows.into_iter()
            .map(AuthenticationAttempt::try_from)
            .collect()
    }

    /// Returns the IP address's attempts at or after `since`, newest first, at most `limit`.
    pub async fn attempts_for_ip(
        &self,
        remote_ip: &str,
        since: i64,
        limit: u32,
    ) -> Result<Vec<AuthenticationAttempt>, StorageError> {
        let rows: Vec<AttemptRow> = with_pool!(self, pool => {
            sqlx::query_as(concat!(
                select_attempts!(),
                " WHERE remote_ip = $1 AND time >= $2 ORDER BY time DESC, id DESC LIMIT $3"
            ))
            .bind(remote_ip)
            .bind(since)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await
        })?;
        rows.into_iter()
            .map(AuthenticationAttempt::try_from)
            .collect()
    }

    /// Deletes attempts older than `before` (housekeeping); returns how many went.
    pub async fn delete_attempts_before(&self, before: i64) -> Result<u64, StorageError> {
        let deleted = execute!(self, {
            sqlx::query("DELETE FROM authentication_attempts WHERE time < $1").bind(before)
        })?;
        Ok(deleted)
    }

    /// Adds a ban and returns its id.
    pub async fn add_ban(&self, ban: &NewBan) -> Result<i64, StorageError> {
        let id = with_pool!(self, pool => {
            sqlx::query_scalar(
                "INSERT INTO bans (kind, value, expires_at, source, reason, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            )
            .bind(ban.kind.as_str())
            .bind(&ban.value)
            .bind(ban.expires_at)
            .bind(ban.source.as_str())
            .bind(&ban.reason)
            .bind(ban.created_at)
            .fetch_one(pool)
            .await
        })?;
        Ok(id)
    }

    /// Returns the ban in force for `(kind, value)` at `now` that lasts longest (a ban without
    /// expiry first), or `None`.
    pub async fn active_ban(
        &self,
        kind: BanKind,
        value: &str,
        now: i64,
    ) -> Result<Option<Ban>, StorageError> {
        let row: Option<BanRow> = with_pool!(self, pool => {
            sqlx::query_as(concat!(
                select_bans!(),
                " WHERE kind = $1 AND value = $2 AND ",
                ban_in_force!("$3"),
                " ORDER BY expires_at IS NULL DESC, expires_at DESC, id DESC LIMIT 1"
            ))
            .bind(kind.as_str())
            .bind(value)
            .bind(now)
            .fetch_optional(pool)
            .await
        })?;
        row.map(Ban::try_from).transpose()
    }

    /// Returns every ban in force at `now`, newest first.
    pub async fn list_active_bans(&self, now: i64) -> Result<Vec<Ban>, StorageError> {
        let rows: Vec<BanRow> = with_pool!(self, pool => {
            sqlx::query_as(concat!(
                select_bans!(),
                " WHERE ",
                ban_in_force!("$1"),
                " ORDER BY created_at DESC, id DESC"
            ))
            .bind(now)
            .fetch_all(pool)
            .await
        })?;
        rows.into_iter().map(Ban::try_from).collect()
    }

    /// Revokes a ban by id; returns whether it was in force.
    pub async fn revoke_ban(&self, id: i64, now: i64) -> Result<bool, StorageError> {
        let updated = execute!(self, {
            sqlx::query(concat!(
                "UPDATE bans SET revoked_at = $2 WHERE id = $1 AND ",
                ban_in_force!("$2")
            ))
            .bind(id)
            .bind(now)
        })?;
        Ok(updated > 0)
    }

    /// Revokes every ban in force for `(kind, value)`; returns how many there were.
    pub async fn revoke_bans_for(
        &self,
        kind: BanKind,
        value: &str,
        now: i64,
    ) -> Result<u64, StorageError> {
        let updated = execute!(self, {
            sqlx::query(concat!(
                "UPDATE bans SET revoked_at = $3 WHERE kind = $1 AND value = $2 AND ",
                ban_in_force!("$3")
            ))
            .bind(kind.as_str())
            .bind(value)
            .bind(now)
        })?;
        Ok(updated)
    }
}
