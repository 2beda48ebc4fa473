//! Second-factor ceremonies in progress (a TOTP enrolment, a WebAuthn challenge), encrypted at
//! rest and bound to a session or to a passkey login's cookie handle.

use super::{execute, with_pool, Database, StorageError};

/// A ceremony read back from the store, with its state decrypted.
pub struct PendingCeremony {
    /// The user the ceremony is for; `None` for a passkey login, which has no user yet.
    pub username: Option<String>,
    pub state: Vec<u8>,
    pub expires_at: i64,
}

#[derive(sqlx::FromRow)]
struct CeremonyRow {
    username: Option<String>,
    state: Vec<u8>,
    expires_at: i64,
}

/// Associated data for the state's encryption, so a ciphertext moved to another binding, kind
/// or user does not decrypt.
fn state_context(binding: &str, kind: &str, username: Option<&str>) -> Vec<u8> {
    format!(
        "pending_ceremonies.state:{kind}:{binding}:{}",
        username.unwrap_or("")
    )
    .into_bytes()
}

impl Database {
    /// Stores a ceremony's state under (`binding`, `kind`), replacing any earlier one, so a
    /// session has at most one ceremony of each kind.
    pub async fn put_ceremony(
        &self,
        binding: &str,
        kind: &str,
        username: Option<&str>,
        state: &[u8],
        now: i64,
        expires_at: i64,
    ) -> Result<(), StorageError> {
        let sealed = self
            .cipher
            .encrypt(state, &state_context(binding, kind, username));
        execute!(self, {
            sqlx::query(
                "INSERT INTO pending_ceremonies (binding, kind, username, state, created_at, \
                 expires_at) VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (binding, kind) DO UPDATE SET username = excluded.username, \
                 state = excluded.state, created_at = excluded.created_at, \
                 expires_at = excluded.expires_at",
            )
            .bind(binding)
            .bind(kind)
            .bind(username)
            .bind(&sealed)
            .bind(now)
            .bind(expires_at)
        })?;
        Ok(())
    }

    /// Returns the unexpired ceremony under (`binding`, `kind`) and leaves it in place.
    pub async fn get_ceremony(
        &self,
        binding: &str,
        kind: &str,
        now: i64,
    ) -> Result<Option<PendingCeremony>, StorageError> {
        let row: Option<CeremonyRow> = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT username, state, expires_at FROM pending_ceremonies \
                 WHERE binding = $1 AND kind = $2 AND expires_at > $3",
            )
            .bind(binding)
            .bind(kind)
            .bind(now)
            .fetch_optional(pool)
            .await
        })?;
        row.map(|row| self.open_ceremony(binding, kind, row))
            .transpose()
    }

    /// Deletes the ceremony under (`binding`, `kind`) and returns it when it had not expired.
    /// One statement, so of two requests presenting the same ceremony only one gets it.
    pub async fn take_ceremony(
        &self,
        binding: &str,
        kind: &str,
        now: i64,
    ) -> Result<Option<PendingCeremony>, StorageError> {
        let row: Option<CeremonyRow> = with_pool!(self, pool => {
            sqlx::query_as(
                "DELETE FROM pending_ceremonies WHERE binding = $1 AND kind = $2 \
                 RETURNING username, state, expires_at",
            )
            .bind(binding)
            .bind(kind)
            .fetch_optional(pool)
            .await
        })?;
        row.filter(|row| row.expires_at > now)
            .map(|row| self.open_ceremony(binding, kind, row))
            .transpose()
    }

    /// Deletes the ceremony under (`binding`, `kind`); returns whether there was one.
    pub async fn delete_ceremony(&self, binding: &str, kind: &str) -> Result<bool, StorageError> {
        let deleted = execute!(self, {
            sqlx::query("DELETE FROM pending_ceremonies WHERE binding = $1 AND kind = $2")
                .bind(binding)
                .bind(kind)
        })?;
        Ok(deleted > 0)
    }

    /// Deletes every ceremony that expired at or before `now`; returns how many went.
    pub async fn delete_expired_ceremonies(&self, now: i64) -> Result<u64, StorageError> {
        let deleted = execute!(self, {
            sqlx::query("DELETE FROM pending_ceremonies WHERE expires_at <= $1").bind(now)
        })?;
        Ok(deleted)
    }

    fn open_ceremony(
        &self,
        binding: &str,
        kind: &str,
        row: CeremonyRow,
    ) -> Result<PendingCeremony, StorageError> {
        let context = state_context(binding, kind, row.username.as_deref());
        let state =
            self.cipher
                .decrypt(&row.state, &context)
                .map_err(|_| StorageError::Decryption {
                    what: format!("state of a pending {kind} ceremony"),
                })?;
        Ok(PendingCeremony {
            username: row.username,
            state,
            expires_at: row.expires_at,
        })
    }
}
