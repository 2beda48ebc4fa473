//! TOTP configurations, one per user, with the secret encrypted at rest.

use std::fmt;

use super::{execute, with_pool, Database, StorageError};

/// A TOTP configuration to store; the secret is the raw seed, encrypted on write.
#[derive(Clone)]
pub struct NewTotpConfiguration {
    pub username: String,
    pub issuer: String,
    /// `SHA1`, `SHA256` or `SHA512`.
    pub algorithm: String,
    pub digits: u32,
    /// Seconds per time step.
    pub period: u32,
    pub secret: Vec<u8>,
}

/// A stored TOTP configuration with the secret decrypted.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpConfiguration {
    pub username: String,
    pub issuer: String,
    pub algorithm: String,
    pub digits: u32,
    pub period: u32,
    pub secret: Vec<u8>,
    /// The newest time step accepted so far; a code is accepted only for a newer step.
    pub last_used_step: Option<i64>,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct TotpRow {
    username: String,
    issuer: String,
    algorithm: String,
    digits: i64,
    period: i64,
    secret: Vec<u8>,
    last_used_step: Option<i64>,
    created_at: i64,
    last_used_at: Option<i64>,
}

/// Associated data for the secret's encryption, so a ciphertext moved to another user's row
/// does not decrypt.
fn secret_context(username: &str) -> Vec<u8> {
    format!("totp_configurations.secret:{username}").into_bytes()
}

impl Database {
    /// Stores the user's TOTP configuration, replacing any earlier one and its replay state.
    pub async fn upsert_totp_configuration(
        &self,
        configuration: &NewTotpConfiguration,
        now: i64,
    ) -> Result<(), StorageError> {
        let sealed = self.cipher.encrypt(
            &configuration.secret,
            &secret_context(&configuration.username),
        );
        execute!(self, {
            sqlx::query(
                "INSERT INTO totp_configurations (username, issuer, algorithm, digits, period, \
                 secret, last_used_step, created_at, last_used_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, NULL, $7, NULL) \
                 ON CONFLICT (username) DO UPDATE SET issuer = excluded.issuer, \
                 algorithm = excluded.algorithm, digits = excluded.digits, \
                 period = excluded.period, secret = excluded.secret, last_used_step = NULL, \
                 created_at = excluded.created_at, last_used_at = NULL",
            )
            .bind(&configuration.username)
            .bind(&configuration.issuer)
            .bind(&configuration.algorithm)
            .bind(i64::from(configuration.digits))
            .bind(i64::from(configuration.period))
            .bind(&sealed)
            .bind(now)
        })?;
        Ok(())
    }

    /// Returns the user's TOTP configuration with the secret decrypted.
    pub async fn get_totp_configuration(
        &self,
        username: &str,
    ) -> Result<Option<TotpConfiguration>, StorageError> {
        let row: Option<TotpRow> = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT username, issuer, algorithm, digits, period, secret, last_used_step, \
                 created_at, last_used_at FROM totp_configurations WHERE username = $1",
            )
            .bind(username)
            .fetch_optional(pool)
            .await
        })?;
        let Some(row) = row else {
            return Ok(None);
        };
        let secret = self
            .cipher
            .decrypt(&row.secret, &secret_context(&row.username))
            .map_err(|_| StorageError::Decryption {
                what: format!("TOTP secret of user {:?}", row.username),
            })?;
        let small = |column: &'static str, value: i64| {
            u32::try_from(value).map_err(|_| StorageError::InvalidValue {
                table: "totp_configurations",
                column,
                reason: format!("{value} is out of range"),
            })
        };
        Ok(Some(TotpConfiguration {
            digits: small("digits", row.digits)?,
            period: small("period", row.period)?,
            username: row.username,
            issuer: row.issuer,
            algorithm: row.algorithm,
            secret,
            last_used_step: row.last_used_step,
            created_at: row.created_at,
            last_used_at: row.last_used_at,
        }))
    }

    /// Deletes the user's TOTP configuration; returns whether there was one.
    pub async fn delete_totp_configuration(&self, username: &str) -> Result<bool, StorageError> {
        let deleted = execute!(self, {
            sqlx::query("DELETE FROM totp_configurations WHERE username = $1").bind(username)
        })?;
        Ok(deleted > 0)
    }

    /// Records `step` as used if it is newer than every step accepted before, and returns whether
    /// it was. This is one compare-and-set statement, so of two requests (on any instances) with
    /// the same code exactly one gets `true`. Returns `false` too when the user has no TOTP.
    pub async fn accept_totp_step(
        &self,
        username: &str,
        step: i64,
        now: i64,
    ) -> Result<bool, StorageError> {
        let updated = execute!(self, {
            sqlx::query(
                "UPDATE totp_configurations SET last_used_step = $2, last_used_at = $3 \
                 WHERE username = $1 AND (last_used_step IS NULL OR last_used_step < $2)",
            )
            .bind(username)
            .bind(step)
            .bind(now)
        })?;
        Ok(updated == 1)
    }
}

impl fmt::Debug for NewTotpConfiguration {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("NewTotpConfiguration")
            .field("username", &self.username)
            .field("issuer", &self.issuer)
            .field("algorithm", &self.algorithm)
            .field("digits", &self.digits)
            .field("period", &self.period)
            .field("secret", &"<redacted>")
            .finish()
    }
}

impl fmt::Debug for TotpConfiguration {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("TotpConfiguration")
            .field("username", &self.username)
            .field("issuer", &self.issuer)
            .field("algorithm", &self.algorithm)
            .field("digits", &self.digits)
            .field("period", &self.period)
            .field("secret", &"<redacted>")
            .field("last_used_step", &self.last_used_step)
            .field("created_at", &self.created_at)
            .field("last_used_at", &self.last_used_at)
            .finish()
    }
}
