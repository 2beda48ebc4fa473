//! Password endpoints of a logged-in user, and the password policy.
//!
//! - `GET /api/configuration/password-policy`: the policy the portal shows (no login needed).
//! - `POST /api/firstfactor/reauthenticate {"password"}`: checks the password again. Regulation
//!   applies as for a login: the ban check first, then the attempt is recorded.
//! - `POST /api/change-password {"username","old_password","new_password"}`: needs an elevated
//!   session, checks the old password like a login, applies the policy, stores the new hash and
//!   ends the user's other sessions, keeping the current one.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use crate::identity::directory::UserProfile;
use crate::identity::names::normalize_username;
use crate::identity::password_policy::{check_password, describe_policy, POLICY_FAILED};
use crate::identity::pool::PoolError;
use crate::identity::regulation::AttemptRecord;
use crate::identity::secret::Password;
use crate::session::ActiveSession;
use crate::storage::AttemptFactor;
use crate::telemetry::user_text;

use super::elevation::require_elevated;
use super::extract::{BodyShape, JsonBody, PortalSession};
use super::request::{admit, PortalRequest};
use super::reset_password::{hash_new_password, send_password_changed, user_inputs};
use super::response::{busy, forbidden, internal_error, ko, ok, with_cookie, FIRST_FACTOR_FAILED};
use super::PortalState;

#[derive(Deserialize)]
struct ReauthenticateBody {
    password: String,
}

#[derive(Deserialize)]
pub(super) struct ChangePasswordBody {
    username: String,
    old_password: String,
    new_password: String,
}

fn failed() -> Response {
    ko(StatusCode::UNAUTHORIZED, FIRST_FACTOR_FAILED)
}

/// `GET /api/configuration/password-policy`.
pub(super) async fn password_policy(
    State(state): State<Arc<PortalState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    if let Err(response) = admit(&state, peer, &headers, false) {
        return response;
    }
    ok(Some(describe_policy(&state.config.password_policy)))
}

/// `POST /api/firstfactor/reauthenticate`.
pub(super) async fn reauthenticate(
    State(state): State<Arc<PortalState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let portal = match admit(&state, peer, &headers, true) {
        Ok(portal) => portal,
        Err(response) => return response,
    };
    let resolution = state.sessions.resolve(&headers, &portal.entry.config).await;
    if resolution.store_error {
        return internal_error();
    }
    let Some(session) = resolution.session else {
        return with_cookie(forbidden(), resolution.clear_cookie);
    };
    let Ok(body) = serde_json::from_slice::<ReauthenticateBody>(&body) else {
        tracing::debug!(
            username = session.username(),
            "reauthentication rejected: malformed body"
        );
        return failed();
    };
    // NOTE: the time of this password entry is not stored yet, because no check reads it: the
    // elevation guard relies on the e-mailed code alone.
    match verify_current_password(&state, &portal, &session, body.password).await {
        Ok(_) => ok(None),
        Err(response) => response,
    }
}

impl BodyShape for ChangePasswordBody {
    const EXPECTED: &'static str =
        "The body must be a JSON object with username, old_password and new_password strings.";
}

/// `POST /api/change-password`.
pub(super) async fn change_password(
    State(state): State<Arc<PortalState>>,
    request: PortalSession<true>,
    JsonBody(body): JsonBody<ChangePasswordBody>,
) -> Response {
    let portal = request.portal();
    let session = &request.session;
    if normalize_username(&body.username) != normalize_username(session.username()) {
        tracing::info!(
            username = session.username(),
            "password change rejected: the body names another user"
        );
        return forbidden();
    }
    if let Err(response) = require_elevated(&state, &portal, session).await {
        return response;
    }

    let user = match verify_current_password(&state, &portal, session, body.old_password).await {
        Ok(user) => user,
        Err(response) => return response,
    };
    let new_password = Password::from(body.new_password);
    if let Err(violation) = check_password(
        &state.config.password_policy,
        new_password.expose(),
        &user_inputs(&user),
    ) {
        tracing::debug!(username = %user.username, ?violation, "password change rejected by the password policy");
        return ko(StatusCode::BAD_REQUEST, POLICY_FAILED);
    }
    let password_hash = match hash_new_password(&state, new_password, &user.username).await {
        Ok(hash) => hash,
        Err(response) => return response,
    };
    let now = state.clock.now_millis();
    if let Err(error) = state
        .directory
        .set_password(
            &state.db,
            &user.username,
            &password_hash,
            now,
            Some(&session.id_hash),
        )
        .await
    {
        tracing::error!(%error, username = %user.username, "password change failed: storing the new password failed");
        return internal_error();
    }
    tracing::info!(username = %user.username, "password changed; the user's other sessions ended");
    send_password_changed(&state, &user);
    ok(None)
}

/// Checks `password` against the session user's stored hash, with regulation: banned or wrong
/// gets the login failure response (401), and the attempt is recorded. Returns the user.
async fn verify_current_password(
    state: &PortalState,
    portal: &PortalRequest<'_>,
    session: &ActiveSession,
    password: String,
) -> Result<UserProfile, Response> {
    let username = session.username();
    let account_key = username.to_lowercase();
    let attempt = AttemptRecord {
        account_key: &account_key,
        successful: false,
        banned: false,
        factor: AttemptFactor::First,
        method: "reauthentication",
        subject: portal.subject(),
        request_uri: "",
        request_method: "",
    };
    match state
        .regulator
        .check_ban(Some(&account_key), &attempt.subject)
        .await
    {
        Ok(None) => {}
        Ok(Some(ban)) => {
            tracing::info!(username, ban_kind = %ban.kind, "password check rejected: banned");
            record(
                state,
                &AttemptRecord {
                    banned: true,
                    ..attempt
                },
            )
            .await;
            return Err(failed());
        }
        Err(error) => {
            tracing::error!(%error, username, "password check failed: ban check failed");
            return Err(internal_error());
        }
    }

    let user = match state.directory.get(username).await {
        Ok(user) => user.filter(|user| !user.disabled),
        Err(error) => {
            tracing::error!(%error, username, "password check failed: reading the user failed");
            return Err(internal_error());
        }
    };
    let stored_hash = user.as_ref().map(|user| user.password_hash.expose());
    let verified = match state
        .pool
        .verify_or_dummy(Password::from(password), stored_hash)
        .await
    {
        Ok(verified) => verified,
        Err(PoolError::Busy) => {
            tracing::warn!(
                username,
                "password not checked because the hashing pool is full; responded 503"
            );
            return Err(busy());
        }
        Err(error) => {
            tracing::error!(%error, username, "password check failed: verification failed");
            return Err(internal_error());
        }
    };
    let Some(user) = user.filter(|_| verified.matches) else {
        tracing::info!(username, "password check rejected: wrong password");
        record(state, &attempt).await;
        return Err(failed());
    };
    record(
        state,
        &AttemptRecord {
            successful: true,
            ..attempt
        },
    )
    .await;
    Ok(user)
}

async fn record(state: &PortalState, attempt: &AttemptRecord<'_>) {
    if let Err(error) = state.regulator.record(attempt).await {
        tracing::error!(%error, account_key = %user_text(attempt.account_key), "recording a password check failed");
    }
}
