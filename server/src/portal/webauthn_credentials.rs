//! WebAuthn credential management: `GET /api/secondfactor/webauthn/credentials` (one factor),
//! `PUT/POST/DELETE /api/secondfactor/webauthn/credential/register` and
//! `PUT/DELETE /api/secondfactor/webauthn/credential/{id}` (elevated).
//!
//! Registration: `PUT` with a description returns the creation options and keeps the
//! registration state pending for the session; `POST` with the authenticator's response checks
//! it (challenge, origin, RP ID, user verification as configured, the `filtering` rules) and
//! stores the credential under the RP ID it was registered for.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::json;
use webauthn_rs_core::proto::{
    ExtnState, RegisterPublicKeyCredential, RegistrationState, RequestRegistrationExtensions,
    ResidentKeyRequirement,
};

use crate::config::Preference;
use crate::storage::{NewWebauthnCredential, StorageError};

use super::account::{audit, elevated, json_body, logged_in, storage_failure};
use super::request::admit;
use super::response::{internal_error, ko, ok};
use super::webauthn::{
    attachment, attestation_preference, bad_body, disabled, encode_id, relying_party, user_handle,
    verification_policy,
};
use super::PortalState;

/// The `kind` of a pending registration in the ceremony store.
const CEREMONY: &str = "webauthn_register";

/// The maximum length of a description, in characters.
const DESCRIPTION_MAX_CHARS: usize = 64;

/// The registration state and the chosen description, kept between `PUT` and `POST`.
#[derive(Serialize, Deserialize)]
struct PendingRegistration {
    description: String,
    rp_id: String,
    state: RegistrationState,
}

#[derive(Deserialize)]
struct DescriptionBody {
    description: String,
}

#[derive(Deserialize)]
struct RegistrationBody {
    response: RegisterPublicKeyCredential,
}

/// Trims a description and checks it is 1 to 64 characters without control characters.
fn valid_description(text: &str) -> Option<String> {
    let trimmed = text.trim();
    let length = trimmed.chars().count();
    let clean = !trimmed.chars().any(char::is_control);
    ((1..=DESCRIPTION_MAX_CHARS).contains(&length) && clean).then(|| trimmed.to_owned())
}

fn invalid_description() -> Response {
    ko(
        StatusCode::BAD_REQUEST,
        "The description is required: 1 to 64 characters, without control characters.",
    )
}

/// `GET /api/secondfactor/webauthn/credentials`: the user's credentials, oldest first.
pub(super) async fn list(
    State(state): State<Arc<PortalState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let portal = match admit(&state, peer, &headers, false) {
        Ok(portal) => portal,
        Err(response) => return response,
    };
    let session = match logged_in(&state, &portal, &headers).await {
        Ok(session) => session,
        Err(response) => return response,
    };
    let username = session.username();
    let credentials = match state.db.list_webauthn_credentials(username).await {
        Ok(credentials) => credentials,
        Err(error) => return storage_failure(&error, username, "list WebAuthn credentials"),
    };
    let listed: Vec<_> = credentials
        .iter()
        .map(|credential| {
            json!({
                "id": credential.id,
                "description": credential.description,
                "rp_id": credential.rp_id,
                "aaguid": credential.aaguid,
                "attestation_type": credential.attestation_type,
                "transports": credential.transports,
                "sign_count": credential.sign_count,
                "discoverable": credential.discoverable,
                "user_verified": credential.user_verified,
                "backup_eligible": credential.backup_eligible,
                "backup_state": credential.backup_state,
                "created_at": credential.created_at,
                "last_used_at": credential.last_used_at,
            })
        })
        .collect();
    ok(Some(json!(listed)))
}

/// `PUT /api/secondfactor/webauthn/credential/register {description}`: starts a registration
/// and returns the options for `navigator.credentials.create()` (`{"publicKey": …}`).
pub(super) async fn start(
    State(state): State<Arc<PortalState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let portal = match admit(&state, peer, &headers, true) {
        Ok(portal) => portal,
        Err(response) => return response,
    };
    let session = match elevated(&state, &portal, &headers).await {
        Ok(session) => session,
        Err(response) => return response,
    };
    if state.config.webauthn.disable {
        return disabled();
    }
    let body: DescriptionBody = match json_body(
        &body,
        "The body must be a JSON object with a description string.",
    ) {
        Ok(body) => body,
        Err(response) => return response,
    };
    let Some(description) = valid_description(&body.description) else {
        return invalid_description();
    };
    let portal_url = portal
        .entry
        .portal
        .as_ref()
        .expect("a matched entry has a portal URL");
    let Some((core, rp_id)) = relying_party(&state, portal_url) else {
        return internal_error();
    };
    let username = session.username();

    let existing = match state.db.list_webauthn_credentials(username).await {
        Ok(existing) => existing,
        Err(error) => return storage_failure(&error, username, "list WebAuthn credentials"),
    };
    if existing
        .iter()
        .any(|credential| credential.rp_id == rp_id && credential.description == description)
    {
        return ko(
            StatusCode::CONFLICT,
            "You already have a credential with this description.",
        );
    }
    let exclude: Vec<Vec<u8>> = existing
        .iter()
        .filter(|credential| credential.rp_id == rp_id)
        .filter_map(|credential| {
            use base64::Engine as _;
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(&credential.credential_id)
                .ok()
        })
        .collect();

    let criteria = &state.config.webauthn.selection_criteria;
    let display_name = if session.display_name().is_empty() {
        username
    } else {
        session.display_name()
    };
    let handle = match user_handle(&state, username).await {
        Ok(handle) => handle,
        Err(response) => return response,
    };
    let builder = match core.new_challenge_register_builder(&handle, username, display_name) {
        Ok(builder) => builder,
        Err(error) => {
            tracing::error!(%error, username, "starting a WebAuthn registration failed");
            return internal_error();
        }
    };
    let builder = builder
        .attestation(attestation_preference(&state))
        .user_verification_policy(verification_policy(&state))
        .require_resident_key(criteria.discoverability == Preference::Required)
        .authenticator_attachment(attachment(&state))
        .reject_synchronised_authenticators(
            state.config.webauthn.filtering.prohibit_backup_eligibility,
        )
        .exclude_credentials(Some(exclude))
        .extensions(Some(RequestRegistrationExtensions::default()));
    let (mut options, registration) = match core.generate_challenge_register(builder) {
        Ok(generated) => generated,
        Err(error) => {
            tracing::error!(%error, username, "starting a WebAuthn registration failed");
            return internal_error();
        }
    };
    // The library can only require or discourage a resident key; `preferred` requests one where
    // the authenticator can store it, which passkey login needs.
    if criteria.discoverability == Preference::Preferred {
        if let Some(selection) = options.public_key.authenticator_selection.as_mut() {
            selection.resident_key = Some(ResidentKeyRequirement::Preferred);
        }
    }

    let pending = PendingRegistration {
        description,
        rp_id,
        state: registration,
    };
    let now = state.clock.now_millis();
    let expires_at = now + ceremony_lifetime_millis(&state);
    let serialized = serde_json::to_vec(&pending).expect("a registration state serializes");
    if let Err(error) = state
        .db
        .put_ceremony(
            &session.id_hash,
            CEREMONY,
            Some(username),
            &serialized,
            now,
            expires_at,
        )
        .await
    {
        return storage_failure(&error, username, "store the WebAuthn registration state");
    }
    ok(Some(json!(options)))
}

/// Returns how long a pending ceremony lives: the configured `webauthn.timeout` plus a minute for the
/// round trips.
pub(super) fn ceremony_lifetime_millis(state: &PortalState) -> i64 {
    let timeout = i64::try_from(state.config.webauthn.timeout.as_millis()).unwrap_or(i64::MAX);
    timeout.saturating_add(60_000)
}

/// `POST /api/secondfactor/webauthn/credential/register {"response": …}`: checks the
/// authenticator's response against the pending registration and stores the credential.
pub(super) async fn finish(
    State(state): State<Arc<PortalState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let portal = match admit(&state, peer, &headers, true) {
        Ok(portal) => portal,
        Err(response) => return response,
    };
    let session = match elevated(&state, &portal, &headers).await {
        Ok(session) => session,
        Err(response) => return response,
    };
    if state.config.webauthn.disable {
        return disabled();
    }
    let Ok(body) = serde_json::from_slice::<RegistrationBody>(&body) else {
        return bad_body("The body must be a JSON object whose response is the credential from navigator.credentials.create().");
    };
    let username = session.username();
    let now = state.clock.now_millis();

    let pending = match state
        .db
        .take_ceremony(&session.id_hash, CEREMONY, now)
        .await
    {
        Ok(Some(pending)) => pending,
        Ok(None) => return ko(
            StatusCode::BAD_REQUEST,
            "No WebAuthn registration is in progress for this session, or it expired; start again.",
        ),
        Err(error) => {
            return storage_failure(&error, username, "read the WebAuthn registration state")
        }
    };
    let Ok(pending) = serde_json::from_slice::<PendingRegistration>(&pending.state) else {
        tracing::error!(
            username,
            "a pending WebAuthn registration has an unreadable state"
        );
        return internal_error();
    };
    let portal_url = portal
        .entry
        .portal
        .as_ref()
        .expect("a matched entry has a portal URL");
    let Some((core, rp_id)) = relying_party(&state, portal_url) else {
        return internal_error();
    };
    if rp_id != pending.rp_id {
        return registration_failed(username, "the portal's RP ID changed during the ceremony");
    }

    let credential = match core.register_credential(&body.response, &pending.state, None) {
        Ok(credential) => credential,
        Err(error) => {
            tracing::info!(target: "gatehouse::audit", %error, username, "WebAuthn registration rejected");
            return registration_failed(username, "the response did not verify");
        }
    };
    // NOTE: no attestation CA list is configured, so the AAGUID is what the authenticator claims;
    // the `filtering` AAGUID lists keep honest authenticators out but cannot stop a forged one.
    let aaguid = aaguid_of(&body.response.response.attestation_object);
    let filtering = &state.config.webauthn.filtering;
    if filtering.prohibit_backup_eligibility && credential.backup_eligible {
        return registration_failed(username, "backup-eligible credentials are prohibited");
    }
    let aaguid_allowed = match aaguid.as_deref() {
        Some(aaguid) => {
            (filtering.permitted_aaguids.is_empty()
                || filtering
                    .permitted_aaguids
                    .iter()
                    .any(|permitted| permitted == aaguid))
                && !filtering
                    .prohibited_aaguids
                    .iter()
                    .any(|prohibited| prohibited == aaguid)
        }
        None => filtering.permitted_aaguids.is_empty(),
    };
    if !aaguid_allowed {
        return registration_failed(username, "the authenticator's AAGUID is not permitted");
    }

    // The browser's credProps output reports whether the authenticator stored a resident key. It is
    // a hint for the settings page, not a security property.
    let client_resident_key = body
        .response
        .extensions
        .cred_props
        .as_ref()
        .and_then(|props| props.rk);
    let discoverable = match &credential.extensions.cred_props {
        ExtnState::Set(props) | ExtnState::Unsolicited(props) => props.rk,
        _ => None,
    }
    .or(client_resident_key)
    .unwrap_or(state.config.webauthn.selection_criteria.discoverability == Preference::Required);
    let transports = credential
        .transports
        .as_ref()
        .or(body.response.response.transports.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|transport| serde_json::to_value(transport).ok())
        .filter_map(|value| value.as_str().map(str::to_owned))
        .collect();
    let attestation_type = serde_json::to_value(&credential.attestation_format)
        .ok()
        .and_then(|value| value.as_str().map(str::to_owned))
        .unwrap_or_else(|| "none".to_owned());
    let new_credential = NewWebauthnCredential {
        username: username.to_owned(),
        rp_id,
        description: pending.description,
        credential_id: encode_id(&credential.cred_id),
        credential: serde_json::to_string(&credential).expect("a credential serializes"),
        aaguid,
        attestation_type,
        transports,
        sign_count: i64::from(credential.counter),
        discoverable,
        user_verified: credential.user_verified,
        backup_eligible: credential.backup_eligible,
        backup_state: credential.backup_state,
    };
    match state
        .db
        .insert_webauthn_credential(&new_credential, now)
        .await
    {
        Ok(stored) => {
            tracing::info!(
                username,
                credential = stored.id,
                "WebAuthn credential registered"
            );
            let details = json!({ "id": stored.id, "description": stored.description, "aaguid": stored.aaguid });
            audit(&state, &portal, username, "webauthn.registered", details).await;
            ok(Some(json!({ "id": stored.id })))
        }
        Err(StorageError::DuplicateCredential(_)) => ko(
            StatusCode::CONFLICT,
            "This credential is already registered.",
        ),
        Err(error) => storage_failure(&error, username, "store the WebAuthn credential"),
    }
}

fn registration_failed(username: &str, reason: &str) -> Response {
    tracing::info!(username, reason, "WebAuthn registration rejected");
    ko(
        StatusCode::BAD_REQUEST,
        "The credential could not be registered.",
    )
}

/// Reads the AAGUID from an attestation object (CBOR map with `authData`): bytes 37 to 53 of the
/// authenticator data, as a lower-case hyphenated UUID. `None` when absent or all zero.
fn aaguid_of(attestation_object: &[u8]) -> Option<String> {
    let value: ciborium::Value = ciborium::from_reader(attestation_object).ok()?;
    let auth_data = value.as_map()?.iter().find_map(|(key, value)| {
        (key.as_text() == Some("authData"))
            .then(|| value.as_bytes())
            .flatten()
    })?;
    let bytes: [u8; 16] = auth_data.get(37..53)?.try_into().ok()?;
    if bytes == [0; 16] {
        return None;
    }
    Some(uuid::Uuid::from_bytes(bytes).hyphenated().to_string())
}

/// `DELETE /api/secondfactor/webauthn/credential/register`: cancels a pending registration.
pub(super) async fn cancel(
    State(state): State<Arc<PortalState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let portal = match admit(&state, peer, &headers, true) {
        Ok(portal) => portal,
        Err(response) => return response,
    };
    let session = match elevated(&state, &portal, &headers).await {
        Ok(session) => session,
        Err(response) => return response,
    };
    if let Err(error) = state.db.delete_ceremony(&session.id_hash, CEREMONY).await {
        return storage_failure(
            &error,
            session.username(),
            "cancel the WebAuthn registration",
        );
    }
    ok(None)
}

/// `PUT /api/secondfactor/webauthn/credential/{id} {description}`: renames a credential.
pub(super) async fn rename(
    State(state): State<Arc<PortalState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let portal = match admit(&state, peer, &headers, true) {
        Ok(portal) => portal,
        Err(response) => return response,
    };
    let session = match elevated(&state, &portal, &headers).await {
        Ok(session) => session,
        Err(response) => return response,
    };
    let Ok(id) = id.parse::<i64>() else {
        return not_found();
    };
    let body: DescriptionBody = match json_body(
        &body,
        "The body must be a JSON object with a description string.",
    ) {
        Ok(body) => body,
        Err(response) => return response,
    };
    let Some(description) = valid_description(&body.description) else {
        return invalid_description();
    };
    let username = session.username();
    let existing = match state.db.list_webauthn_credentials(username).await {
        Ok(existing) => existing,
        Err(error) => return storage_failure(&error, username, "list WebAuthn credentials"),
    };
    let Some(renamed) = existing.iter().find(|credential| credential.id == id) else {
        return not_found();
    };
    // Descriptions are unique per user and RP ID, as at registration.
    if existing.iter().any(|credential| {
        credential.id != id
            && credential.rp_id == renamed.rp_id
            && credential.description == description
    }) {
        return ko(
            StatusCode::CONFLICT,
            "You already have a credential with this description.",
        );
    }
    match state
        .db
        .rename_webauthn_credential(username, id, &description)
        .await
    {
        Ok(true) => {
            let details = json!({ "id": id, "description": description });
            audit(&state, &portal, username, "webauthn.renamed", details).await;
            ok(None)
        }
        Ok(false) => not_found(),
        Err(error) => storage_failure(&error, username, "rename a WebAuthn credential"),
    }
}

/// `DELETE /api/secondfactor/webauthn/credential/{id}`: deletes one of the user's credentials.
pub(super) async fn remove(
    State(state): State<Arc<PortalState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let portal = match admit(&state, peer, &headers, true) {
        Ok(portal) => portal,
        Err(response) => return response,
    };
    let session = match elevated(&state, &portal, &headers).await {
        Ok(session) => session,
        Err(response) => return response,
    };
    let Ok(id) = id.parse::<i64>() else {
        return not_found();
    };
    let username = session.username();
    match state.db.delete_webauthn_credential(username, id).await {
        Ok(true) => {
            tracing::info!(username, credential = id, "WebAuthn credential deleted");
            audit(
                &state,
                &portal,
                username,
                "webauthn.deleted",
                json!({ "id": id }),
            )
            .await;
            ok(None)
        }
        Ok(false) => not_found(),
        Err(error) => storage_failure(&error, username, "delete a WebAuthn credential"),
    }
}

fn not_found() -> Response {
    ko(
        StatusCode::NOT_FOUND,
        "You have no WebAuthn credential with this id.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_are_checked() {
        assert_eq!(
            valid_description("  YubiKey 5 ").as_deref(),
            Some("YubiKey 5")
        );
        assert_eq!(valid_description("   "), None);
        assert_eq!(valid_description("a\u{7}b"), None);
        assert_eq!(valid_description(&"x".repeat(65)), None);
        assert!(valid_description(&"é".repeat(64)).is_some());
    }
}
