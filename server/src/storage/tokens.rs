//! Single-use tokens (password reset links, elevation codes), stored only as hashes.

use super::{execute, with_pool, Database, StorageError};

/// The purpose password-reset links are stored under. Setting a password by any path revokes
/// the user's unused ones.
pub const RESET_PASSWORD_PURPOSE: &str = "reset_password";

/// A token to store. The caller hashes the token; the plain token is never stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewOneTimeToken {
    pub token_hash: String,
    /// Purpose such as `reset_password` or `elevation`. A token is valid only for its own
    /// purpose.
    pub purpose: String,
    pub username: String,
    pub created_at: i64,
    pub expires_at: i64,
}

/// A stored token.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct OneTimeToken {
    pub id: i64,
    pub token_hash: String,
    pub purpose: String,
    pub username: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub consumed_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// Condition of a usable token at time `$3` (`$1` hash, `$2` purpose); the statement names
/// the parameters.
const TOKEN_USABLE: &str = "token_hash = $1 AND purpose = $2 AND consumed_at IS NULL \
     AND revoked_at IS NULL AND expires_at > $3";

impl Database {
    /// Stores a token and returns its id. A hash that is already stored gives
    /// [`StorageError::DuplicateToken`].
    pub async fn insert_one_time_token(
        &self,
        token: &NewOneTimeToken,
    ) -> Result<i64, StorageError> {
        let inserted: Result<i64, sqlx::Error> = with_pool!(self, pool => {
            sqlx::query_scalar(
                "INSERT INTO one_time_tokens (token_hash, purpose, username, created_at, \
                 expires_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
            )
            .bind(&token.token_hash)
            .bind(&token.purpose)
            .bind(&token.username)
            .bind(token.created_at)
            .bind(token.expires_at)
            .fetch_one(pool)
            .await
        });
        inserted.map_err(|error| {
            if super::error::unique_violation(&error).is_some() {
                StorageError::DuplicateToken
            } else {
                StorageError::Database(error)
            }
        })
    }

    /// Marks the token consumed and returns its username, if it is for `purpose`, unexpired at
    /// `now`, unconsumed and unrevoked. One statement does the check and the mark, so a token
    /// is consumed once even by concurrent requests.
    pub async fn consume_one_time_token(
        &self,
        token_hash: &str,
        purpose: &str,
        now: i64,
    ) -> Result<Option<String>, StorageError> {
        let statement = format!(
            "UPDATE one_time_tokens SET consumed_at = $3 WHERE {TOKEN_USABLE} RETURNING username"
        );
        let username = with_pool!(self, pool => {
            sqlx::query_scalar(&statement)
                .bind(token_hash)
                .bind(purpose)
                .bind(now)
                .fetch_optional(pool)
                .await
        })?;
        Ok(username)
    }

    /// Returns the token if it is usable (as for consuming) without consuming it.
    pub async fn peek_one_time_token(
        &self,
        token_hash: &str,
        purpose: &str,
        now: i64,
    ) -> Result<Option<OneTimeToken>, StorageError> {
        let statement = format!(
            "SELECT id, token_hash, purpose, username, created_at, expires_at, consumed_at, \
             revoked_at FROM one_time_tokens WHERE {TOKEN_USABLE}"
        );
        let token = with_pool!(self, pool => {
            sqlx::query_as(&statement)
                .bind(token_hash)
                .bind(purpose)
                .bind(now)
                .fetch_optional(pool)
                .await
        })?;
        Ok(token)
    }

    /// Revokes an unused token so it can never be consumed; returns whether it was usable.
    pub async fn revoke_one_time_token(
        &self,
        token_hash: &str,
        purpose: &str,
        now: i64,
    ) -> Result<bool, StorageError> {
        let statement = format!("UPDATE one_time_tokens SET revoked_at = $3 WHERE {TOKEN_USABLE}");
        let updated = execute!(self, {
            sqlx::query(&statement)
                .bind(token_hash)
                .bind(purpose)
                .bind(now)
        })?;
        Ok(updated > 0)
    }

    /// Revokes every usable token of `username` for `purpose`; returns how many there were.
    pub async fn revoke_one_time_tokens_of_user(
        &self,
        username: &str,
        purpose: &str,
        now: i64,
    ) -> Result<u64, StorageError> {
        let revoked = execute!(self, {
            sqlx::query(
                "UPDATE one_time_tokens SET revoked_at = $3 WHERE username = $1 AND purpose = $2 \
                 AND consumed_at IS NULL AND revoked_at IS NULL AND expires_at > $3",
            )
            .bind(username)
            .bind(purpose)
            .bind(now)
        })?;
        Ok(revoked)
    }

    /// Deletes every token that can no longer be used at `now`: expired, consumed or revoked
    /// (housekeeping). Returns how many went.
    pub async fn delete_spent_one_time_tokens(&self, now: i64) -> Result<u64, StorageError> {
        let deleted = execute!(self, {
            sqlx::query(
                "DELETE FROM one_time_tokens WHERE expires_at <= $1 \
                 OR consumed_at IS NOT NULL OR revoked_at IS NOT NULL",
            )
            .bind(now)
        })?;
        Ok(deleted)
    }

    /// Deletes tokens that expired before `before` (housekeeping); returns how many went.
    pub async fn delete_expired_one_time_tokens(&self, before: i64) -> Result<u64, StorageError> {
        let deleted = execute!(self, {
            sqlx::query("DELETE FROM one_time_tokens WHERE expires_at < $1").bind(before)
        })?;
        Ok(deleted)
    }
}
