//! Helpers shared by the account endpoints (second-factor methods, enrolment, sessions): finding
//! the caller's session, reading a JSON body, and the user's available methods.

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::de::DeserializeOwned;

use crate::session::ActiveSession;
use crate::storage::{NewAuditEvent, StorageError};

use super::elevation::require_elevated;
use super::request::PortalRequest;
use super::response::{forbidden, internal_error, ko, with_cookie};
use super::PortalState;

/// The second-factor methods Gatehouse implements, as the API names them.
pub(super) const TOTP: &str = "totp";
pub(super) const WEBAUTHN: &str = "webauthn";

/// Returns the caller's session of level one or more, or the 403 text (clearing a dead cookie),
/// or 500 when the store failed.
pub(super) async fn logged_in(
    state: &PortalState,
    portal: &PortalRequest<'_>,
    headers: &HeaderMap,
) -> Result<ActiveSession, Response> {
    let resolution = state.sessions.resolve(headers, &portal.entry.config).await;
    if resolution.store_error {
        return Err(internal_error());
    }
    resolution
        .session
        .ok_or_else(|| with_cookie(forbidden(), resolution.clear_cookie))
}

/// Returns the caller's session when it is logged in and elevated for sensitive actions, else
/// the response of [`logged_in`] or of the elevation guard.
pub(super) async fn elevated(
    state: &PortalState,
    portal: &PortalRequest<'_>,
    headers: &HeaderMap,
) -> Result<ActiveSession, Response> {
    let session = logged_in(state, portal, headers).await?;
    require_elevated(state, portal, &session).await?;
    Ok(session)
}

/// Parses a JSON body, or returns 400 with `expected` as the message.
// The error is the finished response, sent at once, so its size on the stack does not matter.
#[allow(clippy::result_large_err)]
pub(super) fn json_body<T: DeserializeOwned>(body: &[u8], expected: &str) -> Result<T, Response> {
    serde_json::from_slice(body).map_err(|_| ko(StatusCode::BAD_REQUEST, expected))
}

/// Logs a storage failure with `action` and returns 500.
pub(super) fn storage_failure(error: &StorageError, username: &str, action: &str) -> Response {
    tracing::error!(%error, username, action, "account request failed: storage error");
    internal_error()
}

/// Appends `action` (such as `totp.registered`) by the session's user to the audit log. The
/// change has already happened, so a failure to append is logged and not returned.
pub(super) async fn audit(
    state: &PortalState,
    portal: &PortalRequest<'_>,
    username: &str,
    action: &str,
    details: serde_json::Value,
) {
    let event = NewAuditEvent {
        time: state.clock.now_millis(),
        actor: Some(username.to_owned()),
        action: action.to_owned(),
        subject: Some(username.to_owned()),
        remote_ip: portal.client.known().map(|address| address.to_string()),
        details,
    };
    if let Err(error) = state.db.append_audit_event(&event).await {
        tracing::error!(%error, username, action, "appending an audit event failed");
    }
}

/// Returns the methods the configuration enables, in the order the portal offers them.
pub(super) fn enabled_methods(state: &PortalState) -> Vec<&'static str> {
    let mut methods = Vec::with_capacity(2);
    if !state.config.totp.disable {
        methods.push(TOTP);
    }
    if !state.config.webauthn.disable {
        methods.push(WEBAUTHN);
    }
    methods
}

/// The meta-table key that keeps the preferred method of a user who is not in the users table
/// (a user of the users file).
fn preference_key(username: &str) -> String {
    format!("preferred_2fa_method:{username}")
}

/// Returns the method the user chose, from the users table or, for users of the users file, from
/// the meta table.
pub(super) async fn stored_preference(
    state: &PortalState,
    username: &str,
) -> Result<Option<String>, StorageError> {
    if let Some(user) = state.db.get_user(username).await? {
        return Ok(user.preferred_2fa_method);
    }
    state.db.meta_value(&preference_key(username)).await
}

/// Stores the method the user chose, where [`stored_preference`] reads it.
pub(super) async fn store_preference(
    state: &PortalState,
    username: &str,
    method: &str,
) -> Result<(), StorageError> {
    let now = state.clock.now_millis();
    match state
        .db
        .set_preferred_2fa_method(username, Some(method), now)
        .await
    {
        Err(StorageError::UserNotFound(_)) => {
            state
                .db
                .set_meta_value(&preference_key(username), method)
                .await
        }
        other => other,
    }
}

/// Whether the user has each method registered, and which one the portal should offer first.
pub(super) struct UserMethods {
    pub has_totp: bool,
    pub has_webauthn: bool,
    /// The preferred method when it is enabled and registered, else the first enabled and
    /// registered one, else the preferred or first enabled method (what enrolment would add), or
    /// "" when every method is disabled.
    pub method: String,
}

/// Reads the user's registered methods and preference.
pub(super) async fn user_methods(
    state: &PortalState,
    username: &str,
) -> Result<UserMethods, StorageError> {
    let (totp, webauthn, preferred) = tokio::try_join!(
        state.db.get_totp_configuration(username),
        state.db.list_webauthn_credentials(username),
        stored_preference(state, username),
    )?;
    let has_totp = totp.is_some();
    let has_webauthn = !webauthn.is_empty();
    let enabled = enabled_methods(state);
    let registered = |method: &str| match method {
        TOTP => has_totp,
        WEBAUTHN => has_webauthn,
        _ => false,
    };
    let usable: Vec<&str> = enabled
        .iter()
        .copied()
        .filter(|method| registered(method))
        .collect();
    let preferred = preferred.as_deref();
    let method = match preferred {
        Some(choice) if usable.contains(&choice) => choice,
        _ if !usable.is_empty() => usable[0],
        Some(choice) if enabled.contains(&choice) => choice,
        _ => enabled.first().copied().unwrap_or(""),
    };
    Ok(UserMethods {
        has_totp,
        has_webauthn,
        method: method.to_owned(),
    })
}
