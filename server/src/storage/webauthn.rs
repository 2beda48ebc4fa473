//! WebAuthn credentials (security keys and passkeys).

use super::{execute, with_pool, Database, StorageError};

/// A credential to register.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewWebauthnCredential {
    pub username: String,
    /// The relying party id the credential was registered under (the portal's host).
    pub rp_id: String,
    /// The name the user gave the credential.
    pub description: String,
    /// The credential id, base64url without padding.
    pub credential_id: String,
    /// The serialized credential (public key, counter, flags) as JSON text.
    pub credential: String,
    pub aaguid: Option<String>,
    /// `none`, `self`, `basic`, and so on.
    pub attestation_type: String,
    /// Transport hints such as `usb`, `nfc`, `internal`.
    pub transports: Vec<String>,
    pub sign_count: i64,
    pub discoverable: bool,
    pub user_verified: bool,
    pub backup_eligible: bool,
    pub backup_state: bool,
}

/// A stored credential.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebauthnCredential {
    pub id: i64,
    pub username: String,
    pub rp_id: String,
    pub description: String,
    pub credential_id: String,
    pub credential: String,
    pub aaguid: Option<String>,
    pub attestation_type: String,
    pub transports: Vec<String>,
    pub sign_count: i64,
    pub discoverable: bool,
    pub user_verified: bool,
    pub backup_eligible: bool,
    pub backup_state: bool,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct CredentialRow {
    id: i64,
    username: String,
    rp_id: String,
    description: String,
    credential_id: String,
    credential: String,
    aaguid: Option<String>,
    attestation_type: String,
    transports: String,
    sign_count: i64,
    discoverable: bool,
    user_verified: bool,
    backup_eligible: bool,
    backup_state: bool,
    created_at: i64,
    last_used_at: Option<i64>,
}

impl TryFrom<CredentialRow> for WebauthnCredential {
    type Error = StorageError;

    fn try_from(row: CredentialRow) -> Result<WebauthnCredential, StorageError> {
        let transports =
            serde_json::from_str(&row.transports).map_err(|error| StorageError::InvalidValue {
                table: "webauthn_credentials",
                column: "transports",
                reason: error.to_string(),
            })?;
        Ok(WebauthnCredential {
            id: row.id,
            username: row.username,
            rp_id: row.rp_id,
            description: row.description,
            credential_id: row.credential_id,
            credential: row.credential,
            aaguid: row.aaguid,
            attestation_type: row.attestation_type,
            transports,
            sign_count: row.sign_count,
            discoverable: row.discoverable,
            user_verified: row.user_verified,
            backup_eligible: row.backup_eligible,
            backup_state: row.backup_state,
            created_at: row.created_at,
            last_used_at: row.last_used_at,
        })
    }
}

macro_rules! select_credentials {
    () => {
        "SELECT id, username, rp_id, description, credential_id, credential, aaguid, \
         attestation_type, transports, sign_count, discoverable, user_verified, backup_eligible, \
         backup_state, created_at, last_used_at FROM webauthn_credentials"
    };
}

impl Database {
    /// Stores a newly registered credential and returns it with its id. A credential id that is
    /// already registered gives [`StorageError::DuplicateCredential`].
    pub async fn insert_webauthn_credential(
        &self,
        credential: &NewWebauthnCredential,
        now: i64,
    ) -> Result<WebauthnCredential, StorageError> {
        let transports = serde_json::to_string(&credential.transports)
            .expect("a list of strings always serializes");
        let inserted: Result<i64, sqlx::Error> = with_pool!(self, pool => {
            sqlx::query_scalar(
                "INSERT INTO webauthn_credentials (username, rp_id, description, credential_id, \
                 credential, aaguid, attestation_type, transports, sign_count, discoverable, \
                 user_verified, backup_eligible, backup_state, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id",
            )
            .bind(&credential.username)
            .bind(&credential.rp_id)
            .bind(&credential.description)
            .bind(&credential.credential_id)
            .bind(&credential.credential)
            .bind(&credential.aaguid)
            .bind(&credential.attestation_type)
            .bind(&transports)
            .bind(credential.sign_count)
            .bind(credential.discoverable)
            .bind(credential.user_verified)
            .bind(credential.backup_eligible)
            .bind(credential.backup_state)
            .bind(now)
            .fetch_one(pool)
            .await
        });
        let id = inserted.map_err(|error| {
            if super::error::unique_violation(&error).is_some() {
                StorageError::DuplicateCredential(credential.credential_id.clone())
            } else {
                StorageError::Database(error)
            }
        })?;
        Ok(WebauthnCredential {
            id,
            username: credential.username.clone(),
            rp_id: credential.rp_id.clone(),
            description: credential.description.clone(),
            credential_id: credential.credential_id.clone(),
            credential: credential.credential.clone(),
            aaguid: credential.aaguid.clone(),
            attestation_type: credential.attestation_type.clone(),
            transports: credential.transports.clone(),
            sign_count: credential.sign_count,
            discoverable: credential.discoverable,
            user_verified: credential.user_verified,
            backup_eligible: credential.backup_eligible,
            backup_state: credential.backup_state,
            created_at: now,
            last_used_at: None,
        })
    }

    /// Returns the user's credentials, oldest first.
    pub async fn list_webauthn_credentials(
        &self,
        username: &str,
    ) -> Result<Vec<WebauthnCredential>, StorageError> {
        let rows: Vec<CredentialRow> = with_pool!(self, pool => {
            sqlx::query_as(concat!(select_credentials!(), " WHERE username = $1 ORDER BY id"))
                .bind(username)
                .fetch_all(pool)
                .await
        })?;
        rows.into_iter().map(WebauthnCredential::try_from).collect()
    }

    /// Returns the credential with this credential id (base64url), of any user.
    pub async fn get_webauthn_credential(
        &self,
        credential_id: &str,
    ) -> Result<Option<WebauthnCredential>, StorageError> {
        let row: Option<CredentialRow> = with_pool!(self, pool => {
            sqlx::query_as(concat!(select_credentials!(), " WHERE credential_id = $1"))
                .bind(credential_id)
                .fetch_optional(pool)
                .await
        })?;
        row.map(WebauthnCredential::try_from).transpose()
    }

    /// Records a successful assertion: the new signature counter, backup state and serialized
    /// credential, and the time of use. The update applies only while the stored counter is not
    /// above `sign_count`, so of two concurrent assertions (on any instances) the one with the
    /// lower counter cannot overwrite the higher. Returns whether the row was updated: `false`
    /// when the credential is gone or a higher counter was stored meanwhile.
    pub async fn record_webauthn_use(
        &self,
        credential_id: &str,
        sign_count: i64,
        backup_state: bool,
        credential: &str,
        now: i64,
    ) -> Result<bool, StorageError> {
        let updated = execute!(self, {
            sqlx::query(
                "UPDATE webauthn_credentials SET sign_count = $2, backup_state = $3, \
                 credential = $4, last_used_at = $5 WHERE credential_id = $1 \
                 AND sign_count <= $2",
            )
            .bind(credential_id)
            .bind(sign_count)
            .bind(backup_state)
            .bind(credential)
            .bind(now)
        })?;
        Ok(updated > 0)
    }

    /// Renames one of the user's credentials; returns whether the user has a credential with
    /// that id.
    pub async fn rename_webauthn_credential(
        &self,
        username: &str,
        id: i64,
        description: &str,
    ) -> Result<bool, StorageError> {
        let updated = execute!(self, {
            sqlx::query(
                "UPDATE webauthn_credentials SET description = $3 WHERE id = $2 AND username = $1",
            )
            .bind(username)
            .bind(id)
            .bind(description)
        })?;
        Ok(updated > 0)
    }

    /// Deletes one of the user's credentials; returns whether the user had a credential with
    /// that id.
    pub async fn delete_webauthn_credential(
        &self,
        username: &str,
        id: i64,
    ) -> Result<bool, StorageError> {
        let deleted = execute!(self, {
            sqlx::query("DELETE FROM webauthn_credentials WHERE id = $2 AND username = $1")
                .bind(username)
                .bind(id)
        })?;
        Ok(deleted > 0)
    }

    /// Reads the user's stored WebAuthn user handle, storing `candidate` first when the user
    /// has none. Of two concurrent first calls, both get the handle that was stored first.
    pub async fn ensure_webauthn_user_handle(
        &self,
        username: &str,
        candidate: &[u8],
        now: i64,
    ) -> Result<Vec<u8>, StorageError> {
        execute!(self, {
            sqlx::query(
                "INSERT INTO webauthn_user_handles (username, user_handle, created_at) \
                 VALUES ($1, $2, $3) ON CONFLICT (username) DO NOTHING",
            )
            .bind(username)
            .bind(candidate)
            .bind(now)
        })?;
        let handle: Vec<u8> = with_pool!(self, pool => {
            sqlx::query_scalar(
                "SELECT user_handle FROM webauthn_user_handles WHERE username = $1",
            )
            .bind(username)
            .fetch_one(pool)
            .await
        })?;
        Ok(handle)
    }
}
