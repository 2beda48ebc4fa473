//! What the WebAuthn endpoints share: the relying party of a portal, the user handle, the
//! stored form of a credential, and the regulation of assertions.
//!
//! The RP ID is the host of the configured `authelia_url` of the portal the request was matched
//! to, and the only allowed origin is that URL's origin. No request header chooses either.
//! Ceremony state (challenges) is kept encrypted in the database between the two requests of a
//! ceremony. It is bound to the session, or for a passkey login to a random handle in a cookie.
//! The second request consumes it, so a challenge works once.

use axum::http::StatusCode;
use axum::response::Response;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use url::Url;
use webauthn_rs_core::proto::{
    AttestationConveyancePreference, AuthenticatorAttachment, Credential, UserVerificationPolicy,
};
use webauthn_rs_core::WebauthnCore;

use crate::config::{Attachment, AttestationConveyance, Preference};
use crate::identity::regulation::{AttemptRecord, RegulationSubject};
use crate::storage::{AttemptFactor, WebauthnCredential};

use super::response::{internal_error, ko};
use super::PortalState;

/// The `method` of the attempts WebAuthn assertions record.
pub(super) const ATTEMPT_METHOD: &str = "webauthn";

/// Builds the relying party of `portal`, the configured portal URL, or `None` when that URL has
/// no host.
pub(super) fn relying_party(state: &PortalState, portal: &Url) -> Option<(WebauthnCore, String)> {
    let rp_id = portal.host_str()?.to_ascii_lowercase();
    let origin = Url::parse(&portal.origin().ascii_serialization()).ok()?;
    let settings = &state.config.webauthn;
    let core = WebauthnCore::new_unsafe_experts_only(
        &settings.display_name,
        &rp_id,
        vec![origin],
        settings.timeout,
        Some(false),
        Some(false),
    );
    Some((core, rp_id))
}

/// Reads the WebAuthn user handle of `username`, 16 bytes that reveal nothing about the name.
/// The handle is stored at the user's first registration and read back afterwards, so it
/// survives a rotation of `session.secret` and an authenticator keeps one passkey per user.
/// Logins find the user by the credential id and only compare the handle. Returns 500 when the
/// store fails.
pub(super) async fn user_handle(state: &PortalState, username: &str) -> Result<Vec<u8>, Response> {
    let candidate = derived_user_handle(state, username);
    let now = state.clock.now_millis();
    match state
        .db
        .ensure_webauthn_user_handle(username, &candidate, now)
        .await
    {
        Ok(handle) => Ok(handle),
        Err(error) => {
            tracing::error!(%error, username, "reading the WebAuthn user handle failed");
            Err(internal_error())
        }
    }
}

/// Derives the first user handle of `username`: an HMAC of the name under `session.secret`.
/// Credentials registered before handles were stored carry this value, so it is what a user
/// without a stored handle gets.
fn derived_user_handle(state: &PortalState, username: &str) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(state.config.session.secret.expose().as_bytes())
        .expect("HMAC accepts a key of any length");
    mac.update(b"gatehouse webauthn user handle\0");
    mac.update(username.as_bytes());
    mac.finalize().into_bytes()[..16].to_vec()
}

/// Maps the configured user verification to the library's policy.
pub(super) fn verification_policy(state: &PortalState) -> UserVerificationPolicy {
    match state.config.webauthn.selection_criteria.user_verification {
        Preference::Required => UserVerificationPolicy::Required,
        Preference::Preferred => UserVerificationPolicy::Preferred,
        Preference::Discouraged => UserVerificationPolicy::Discouraged_DO_NOT_USE,
    }
}

pub(super) fn attestation_preference(state: &PortalState) -> AttestationConveyancePreference {
    match state.config.webauthn.attestation_conveyance_preference {
        AttestationConveyance::None => AttestationConveyancePreference::None,
        AttestationConveyance::Indirect => AttestationConveyancePreference::Indirect,
        AttestationConveyance::Direct => AttestationConveyancePreference::Direct,
    }
}

pub(super) fn attachment(state: &PortalState) -> Option<AuthenticatorAttachment> {
    state
        .config
        .webauthn
        .selection_criteria
        .attachment
        .map(|attachment| match attachment {
            Attachment::Platform => AuthenticatorAttachment::Platform,
            Attachment::CrossPlatform => AuthenticatorAttachment::CrossPlatform,
        })
}

/// Encodes a credential id as stored: base64url without padding.
pub(super) fn encode_id(raw: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

/// Reads the library's credential from its stored JSON; `None` (logged) when it cannot be read.
pub(super) fn stored_credential(row: &WebauthnCredential) -> Option<Credential> {
    match serde_json::from_str(&row.credential) {
        Ok(credential) => Some(credential),
        Err(error) => {
            tracing::error!(%error, username = %row.username, credential = row.id, "a stored WebAuthn credential cannot be read");
            None
        }
    }
}

/// Returns the 404 of the WebAuthn routes when `webauthn.disable` is set.
pub(super) fn disabled() -> Response {
    ko(
        StatusCode::NOT_FOUND,
        "WebAuthn is disabled by the configuration.",
    )
}

/// Returns 400 for a body that is not the expected JSON.
pub(super) fn bad_body(expected: &str) -> Response {
    ko(StatusCode::BAD_REQUEST, expected)
}

/// Runs the ban check of an assertion for `account_key` from `subject`. Returns `Ok(true)` when
/// banned (the banned attempt is recorded), or 500 when the check failed.
pub(super) async fn banned(
    state: &PortalState,
    account_key: &str,
    subject: RegulationSubject,
    factor: AttemptFactor,
    method: &'static str,
) -> Result<bool, Response> {
    match state.regulator.check_ban(Some(account_key), &subject).await {
        Ok(None) => Ok(false),
        Ok(Some(ban)) => {
            tracing::info!(account_key, ban_kind = %ban.kind, method, "WebAuthn attempt rejected: banned");
            record(state, account_key, subject, factor, method, false, true).await;
            Ok(true)
        }
        Err(error) => {
            tracing::error!(%error, account_key, "WebAuthn attempt failed: ban check failed");
            Err(internal_error())
        }
    }
}

/// Records an attempt for regulation; a failure to record is logged.
pub(super) async fn record(
    state: &PortalState,
    account_key: &str,
    subject: RegulationSubject,
    factor: AttemptFactor,
    method: &'static str,
    successful: bool,
    banned: bool,
) {
    let attempt = AttemptRecord {
        account_key,
        successful,
        banned,
        factor,
        method,
        subject,
        request_uri: "",
        request_method: "",
    };
    if let Err(error) = state.regulator.record(&attempt).await {
        tracing::error!(%error, account_key, "recording a WebAuthn attempt failed");
    }
}

/// Stores the outcome of a successful assertion: the new signature counter and backup state.
/// Returns `false` when a higher counter was stored meanwhile (a concurrent assertion, perhaps by
/// a cloned authenticator), which the caller treats as a failed assertion.
pub(super) async fn store_use(
    state: &PortalState,
    row: &WebauthnCredential,
    mut credential: Credential,
    counter: u32,
    backup_state: bool,
) -> Result<bool, Response> {
    if counter > credential.counter {
        credential.counter = counter;
    }
    credential.backup_state = backup_state;
    let serialized = serde_json::to_string(&credential).expect("a credential serializes");
    let now = state.clock.now_millis();
    match state
        .db
        .record_webauthn_use(
            &row.credential_id,
            i64::from(credential.counter),
            backup_state,
            &serialized,
            now,
        )
        .await
    {
        Ok(updated) => Ok(updated),
        Err(error) => {
            tracing::error!(%error, username = %row.username, "storing a WebAuthn credential's use failed");
            Err(internal_error())
        }
    }
}
