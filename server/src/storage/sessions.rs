//! Server-side sessions, keyed by the SHA-256 hex of the session id so that a copy of the
//! database contains no usable cookie.

use super::{execute, in_transaction, with_pool, Database, StorageError};

/// A stored session.
#[derive(Clone, Debug, PartialEq)]
pub struct SessionRecord {
    /// SHA-256 of the session id, lower-case hex.
    pub id_hash: String,
    /// `None` for an anonymous session.
    pub username: Option<String>,
    /// The cookie domain the session was created under; it is valid under no other.
    pub cookie_domain: String,
    /// Authentication level: 0 anonymous, 1 one factor, 2 two factors.
    pub level: u8,
    pub remember_me: bool,
    /// Time of the first-factor login; expiration is counted from it.
    pub first_factor_at: Option<i64>,
    pub second_factor_at: Option<i64>,
    pub created_at: i64,
    pub last_activity_at: i64,
    /// When the user's profile (groups, e-mail, display name) was last reloaded. The value 0
    /// requests a reload on the next request.
    pub profile_refreshed_at: i64,
    /// End of the elevation for sensitive actions.
    pub elevated_until: Option<i64>,
    /// Client IP address the elevation is bound to.
    pub elevated_ip: Option<String>,
    /// Small extras (a JSON object), such as the user's cached profile.
    pub data: serde_json::Value,
}

/// Session lifetimes of one cookie domain, in milliseconds, for housekeeping.
#[derive(Clone, Debug)]
pub struct SessionLifetimes {
    pub cookie_domain: String,
    pub expiration: i64,
    pub inactivity: i64,
    /// `None` when remember-me is disabled for the domain.
    pub remember_me: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct SessionRow {
    id_hash: String,
    username: Option<String>,
    cookie_domain: String,
    level: i64,
    remember_me: bool,
    first_factor_at: Option<i64>,
    second_factor_at: Option<i64>,
    created_at: i64,
    last_activity_at: i64,
    profile_refreshed_at: i64,
    elevated_until: Option<i64>,
    elevated_ip: Option<String>,
    data: String,
}

impl TryFrom<SessionRow> for SessionRecord {
    type Error = StorageError;

    fn try_from(row: SessionRow) -> Result<SessionRecord, StorageError> {
        let level = u8::try_from(row.level)
            .ok()
            .filter(|level| *level <= 2)
            .ok_or_else(|| StorageError::InvalidValue {
                table: "sessions",
                column: "level",
                reason: format!("{} is not 0, 1 or 2", row.level),
            })?;
        let data = serde_json::from_str(&row.data).map_err(|error| StorageError::InvalidValue {
            table: "sessions",
            column: "data",
            reason: error.to_string(),
        })?;
        Ok(SessionRecord {
            id_hash: row.id_hash,
            username: row.username,
            cookie_domain: row.cookie_domain,
            level,
            remember_me: row.remember_me,
            first_factor_at: row.first_factor_at,
            second_factor_at: row.second_factor_at,
            created_at: row.created_at,
            last_activity_at: row.last_activity_at,
            profile_refreshed_at: row.profile_refreshed_at,
            elevated_until: row.elevated_until,
            elevated_ip: row.elevated_ip,
            data,
        })
    }
}

macro_rules! select_sessions {
    () => {
        "SELECT id_hash, username, cookie_domain, level, remember_me, first_factor_at, \
         second_factor_at, created_at, last_activity_at, profile_refreshed_at, elevated_until, \
         elevated_ip, data FROM sessions"
    };
}

const INSERT_SESSION: &str = "INSERT INTO sessions (id_hash, username, cookie_domain, level, \
     remember_me, first_factor_at, second_factor_at, created_at, last_activity_at, \
     profile_refreshed_at, elevated_until, elevated_ip, data) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)";

/// Binds the fields of `$session` to `INSERT_SESSION` (or any statement with the same order).
macro_rules! bind_session {
    ($query:expr, $session:expr, $data:expr) => {
        $query
            .bind(&$session.id_hash)
            .bind(&$session.username)
            .bind(&$session.cookie_domain)
            .bind(i64::from($session.level))
            .bind($session.remember_me)
            .bind($session.first_factor_at)
            .bind($session.second_factor_at)
            .bind($session.created_at)
            .bind($session.last_activity_at)
            .bind($session.profile_refreshed_at)
            .bind($session.elevated_until)
            .bind(&$session.elevated_ip)
            .bind($data)
    };
}

impl Database {
    /// Stores a new session.
    pub async fn insert_session(&self, session: &SessionRecord) -> Result<(), StorageError> {
        let data = session.data.to_string();
        execute!(self, {
            bind_session!(sqlx::query(INSERT_SESSION), session, &data)
        })?;
        Ok(())
    }

    /// Returns the session whose id hashes to `id_hash`.
    pub async fn get_session(&self, id_hash: &str) -> Result<Option<SessionRecord>, StorageError> {
        let row: Option<SessionRow> = with_pool!(self, pool => {
            sqlx::query_as(concat!(select_sessions!(), " WHERE id_hash = $1"))
                .bind(id_hash)
                .fetch_optional(pool)
                .await
        })?;
        row.map(SessionRecord::try_from).transpose()
    }

    /// Deletes a session; returns whether it existed.
    pub async fn delete_session(&self, id_hash: &str) -> Result<bool, StorageError> {
        // Deleting a session ends its rights, so cached copies of it must go (see `change_guard`).
        let _changed = self.change_guard();
        let deleted = execute!(self, {
            sqlx::query("DELETE FROM sessions WHERE id_hash = $1").bind(id_hash)
        })?;
        Ok(deleted > 0)
    }

    /// Replaces the session `old_id_hash` with `new_session` in one transaction, so the old id is
    /// dead once the new one exists (done on every rise of authentication level). Returns
    /// whether the old session existed; the new one is stored either way, because a rise from
    /// anonymous may have no stored session to replace.
    pub async fn rotate_session(
        &self,
        old_id_hash: &str,
        new_session: &SessionRecord,
    ) -> Result<bool, StorageError> {
        // The old id loses its rights when the new one takes them.
        let _changed = self.change_guard();
        let data = new_session.data.to_string();
        in_transaction!(self, connection => {
            let deleted = sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
                .bind(old_id_hash)
                .execute(&mut *connection)
                .await?;
            bind_session!(sqlx::query(INSERT_SESSION), new_session, &data)
                .execute(&mut *connection)
                .await?;
            Ok(deleted.rows_affected() > 0)
        })
    }

    /// Writes every field but the id hash and creation time; returns whether the session exists.
    pub async fn update_session(&self, session: &SessionRecord) -> Result<bool, StorageError> {
        let data = session.data.to_string();
        let updated = execute!(self, {
            bind_session!(
                sqlx::query(
                    "UPDATE sessions SET username = $2, cookie_domain = $3, level = $4, \
                     remember_me = $5, first_factor_at = $6, second_factor_at = $7, \
                     last_activity_at = $9, profile_refreshed_at = $10, elevated_until = $11, \
                     elevated_ip = $12, data = $13 WHERE id_hash = $1",
                ),
                session,
                &data
            )
        })?;
        Ok(updated > 0)
    }

    /// Sets the last activity time; returns whether the session exists.
    pub async fn touch_session(&self, id_hash: &str, now: i64) -> Result<bool, StorageError> {
        let updated = execute!(self, {
            sqlx::query("UPDATE sessions SET last_activity_at = $2 WHERE id_hash = $1")
                .bind(id_hash)
                .bind(now)
        })?;
        Ok(updated > 0)
    }

    /// Raises or sets the authentication level and records the second-factor time, without a new
    /// id. Callers that raise the level from a request rotate the id with
    /// [`Database::rotate_session`] instead.
    pub async fn set_session_level(
        &self,
        id_hash: &str,
        level: u8,
        second_factor_at: Option<i64>,
    ) -> Result<bool, StorageError> {
        let updated = execute!(self, {
            sqlx::query("UPDATE sessions SET level = $2, second_factor_at = $3 WHERE id_hash = $1")
                .bind(id_hash)
                .bind(i64::from(level))
                .bind(second_factor_at)
        })?;
        Ok(updated > 0)
    }

    /// Sets (`Some((until, ip))`) or clears (`None`) the session's elevation.
    pub async fn set_session_elevation(
        &self,
        id_hash: &str,
        elevation: Option<(i64, &str)>,
    ) -> Result<bool, StorageError> {
        // Clearing or moving an elevation can end it; cached copies must not outlive that.
        let _changed = self.change_guard();
        let (until, ip) = match elevation {
            Some((until, ip)) => (Some(until), Some(ip)),
            None => (None, None),
        };
        let updated = execute!(self, {
            sqlx::query(
                "UPDATE sessions SET elevated_until = $2, elevated_ip = $3 WHERE id_hash = $1",
            )
            .bind(id_hash)
            .bind(until)
            .bind(ip)
        })?;
        Ok(updated > 0)
    }

    /// Stores a reloaded profile in the session's data and the time of the reload.
    pub async fn set_session_profile(
        &self,
        id_hash: &str,
        data: &serde_json::Value,
        now: i64,
    ) -> Result<bool, StorageError> {
        let updated = execute!(self, {
            sqlx::query(
                "UPDATE sessions SET data = $2, profile_refreshed_at = $3 WHERE id_hash = $1",
            )
            .bind(id_hash)
            .bind(data.to_string())
            .bind(now)
        })?;
        Ok(updated > 0)
    }

    /// Returns the user's sessions, oldest first.
    pub async fn list_sessions_of_user(
        &self,
        username: &str,
    ) -> Result<Vec<SessionRecord>, StorageError> {
        let rows: Vec<SessionRow> = with_pool!(self, pool => {
            sqlx::query_as(concat!(
                select_sessions!(),
                " WHERE username = $1 ORDER BY created_at, id_hash"
            ))
            .bind(username)
            .fetch_all(pool)
            .await
        })?;
        rows.into_iter().map(SessionRecord::try_from).collect()
    }

    /// Returns every session that belongs to a user (level one or more), newest first, for the
    /// administrators' list.
    pub async fn list_user_sessions(&self) -> Result<Vec<SessionRecord>, StorageError> {
        let rows: Vec<SessionRow> = with_pool!(self, pool => {
            sqlx::query_as(concat!(
                select_sessions!(),
                " WHERE username IS NOT NULL ORDER BY created_at DESC, id_hash"
            ))
            .fetch_all(pool)
            .await
        })?;
        rows.into_iter().map(SessionRecord::try_from).collect()
    }

    /// Deletes every session of the user; returns how many there were.
    pub async fn delete_sessions_of_user(&self, username: &str) -> Result<u64, StorageError> {
        let _changed = self.change_guard();
        let deleted = execute!(self, {
            sqlx::query("DELETE FROM sessions WHERE username = $1").bind(username)
        })?;
        Ok(deleted)
    }

    /// Deletes every session of the user but the one whose id hashes to `keep_session`;
    /// returns how many went.
    pub async fn delete_other_sessions_of_user(
        &self,
        username: &str,
        keep_session: &str,
    ) -> Result<u64, StorageError> {
        let _changed = self.change_guard();
        let deleted = execute!(self, {
            sqlx::query("DELETE FROM sessions WHERE username = $1 AND id_hash <> $2")
                .bind(username)
                .bind(keep_session)
        })?;
        Ok(deleted)
    }

    /// Deletes the sessions of one cookie domain that the lifetime rules already make invalid:
    /// past `expiration` (or `remember_me` for remembered sessions) since login, or, without
    /// remember-me, idle longer than `inactivity`. A remembered session is deleted by the
    /// `expiration` rule when remember-me is disabled for the domain. Returns how many went.
    pub async fn delete_expired_sessions(
        &self,
        lifetimes: &SessionLifetimes,
        now: i64,
    ) -> Result<u64, StorageError> {
        let remember_me = lifetimes.remember_me.unwrap_or(lifetimes.expiration);
        // $1 domain, $2 now, $3 expiration, $4 inactivity, $5 remember-me lifetime.
        let deleted = execute!(self, {
            sqlx::query(
                "DELETE FROM sessions WHERE cookie_domain = $1 AND ( \
                 (NOT remember_me AND ($2 > COALESCE(first_factor_at, created_at) + $3 \
                                       OR $2 > last_activity_at + $4)) \
                 OR (remember_me AND $2 > COALESCE(first_factor_at, created_at) + $5))",
            )
            .bind(&lifetimes.cookie_domain)
            .bind(now)
            .bind(lifetimes.expiration)
            .bind(lifetimes.inactivity)
            .bind(remember_me)
        })?;
        Ok(deleted)
    }

    /// Deletes sessions created under a cookie domain that is not configured any more; they can
    /// never be accepted again. Returns how many went.
    pub async fn delete_sessions_outside_domains(
        &self,
        cookie_domains: &[String],
    ) -> Result<u64, StorageError> {
        let domains: Vec<String> = with_pool!(self, pool => {
            sqlx::query_scalar("SELECT DISTINCT cookie_domain FROM sessions")
                .fetch_all(pool)
                .await
        })?;
        let mut deleted = 0;
        for domain in domains
            .iter()
            .filter(|domain| !cookie_domains.contains(domain))
        {
            let result = execute!(self, {
                sqlx::query("DELETE FROM sessions WHERE cookie_domain = $1").bind(domain)
            })?;
            deleted += result;
        }
        Ok(deleted)
    }
}
