//! Elevated sessions: the guard that sensitive self-service actions call, and
//! `GET /api/user/session/elevation`.
//!
//! An elevation is the pair (`elevated_until`, `elevated_ip`) on the session. It counts only
//! before `elevated_until` and only for requests from the client IP it was completed from. A
//! request after expiry, from another IP or from an unknown IP removes it from the session.
//! With `skip_second_factor`, a session that completed the second factor counts as elevated
//! without a code. With `require_second_factor`, a user with any second-factor method must
//! also have completed the second factor in this session; users without one are not held back.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::json;

use crate::forward_auth::client_ip::ClientIp;
use crate::session::{ActiveSession, Level};

use super::request::{admit, PortalRequest};
use super::response::{forbidden, internal_error, ko_data, ok, with_cookie};
use super::PortalState;

/// The parts a session lacks for a sensitive action.
struct Missing {
    /// No valid code elevation.
    elevation: bool,
    /// The user has a second factor but did not complete it in this session.
    second_factor: bool,
}

/// Checks that `session` may perform a sensitive action. Returns the 403
/// response `{"status":"KO","data":{"elevation":…,"first_factor":false,"second_factor":…}}`
/// whose flags name what is missing, or 500 when the store fails. An elevation that expired or
/// is presented from another or an unknown client IP is removed from the session on the way.
pub(super) async fn require_elevated(
    state: &PortalState,
    portal: &PortalRequest<'_>,
    session: &ActiveSession,
) -> Result<(), Response> {
    let has_second_factor = has_second_factor_method(state, session.username()).await?;
    let mut session = session.clone();
    let elevated = check_elevation(state, portal, &mut session).await?;
    let missing = missing_for(state, &session, elevated, has_second_factor);
    if !missing.elevation && !missing.second_factor {
        return Ok(());
    }
    tracing::info!(
        username = session.username(),
        elevation_missing = missing.elevation,
        second_factor_missing = missing.second_factor,
        "sensitive action refused: the session is not elevated"
    );
    Err(elevation_required(&missing))
}

/// `GET /api/user/session/elevation`: the elevation state of the caller's session.
pub(super) async fn elevation_state(
    State(state): State<Arc<PortalState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let portal = match admit(&state, peer, &headers, false) {
        Ok(portal) => portal,
        Err(response) => return response,
    };
    let resolution = state.sessions.resolve(&headers, &portal.entry.config).await;
    if resolution.store_error {
        return internal_error();
    }
    let Some(mut session) = resolution.session else {
        return with_cookie(forbidden(), resolution.clear_cookie);
    };
    let has_second_factor = match has_second_factor_method(&state, session.username()).await {
        Ok(has) => has,
        Err(response) => return response,
    };
    let elevated = match check_elevation(&state, &portal, &mut session).await {
        Ok(elevated) => elevated,
        Err(response) => return response,
    };

    let settings = &state.config.identity_validation.elevated_session;
    let now = state.clock.now_millis();
    let expires_secs = match session.elevated_until() {
        Some(until) if elevated => ((until - now).max(0) + 999) / 1000,
        _ => 0,
    };
    ok(Some(json!({
        "require_second_factor": settings.require_second_factor && has_second_factor,
        "skip_second_factor": settings.skip_second_factor,
        "can_skip_second_factor": can_skip(&state, &session),
        "factor_knowledge": super::session_info::factor_knowledge(&session),
        "elevated": elevated,
        "expires": expires_secs,
    })))
}

/// Checks whether the session has a valid code elevation for this request. An elevation
/// that expired or is presented from another or an unknown client IP is removed first.
pub(super) async fn check_elevation(
    state: &PortalState,
    portal: &PortalRequest<'_>,
    session: &mut ActiveSession,
) -> Result<bool, Response> {
    let Some(until) = session.elevated_until() else {
        return Ok(false);
    };
    let now = state.clock.now_millis();
    let client = match portal.client {
        ClientIp::Known(address) => Some(address.to_string()),
        ClientIp::Unknown => None,
    };
    let reason = if now >= until {
        "it expired"
    } else if client.is_none() {
        "the client IP is unknown"
    } else if client.as_deref() != session.elevated_ip() {
        "it was completed from another client IP"
    } else {
        return Ok(true);
    };
    tracing::info!(
        username = session.username(),
        reason,
        "elevation removed from the session"
    );
    if let Err(error) = state.sessions.set_elevation(session, None).await {
        tracing::error!(%error, username = session.username(), "removing an elevation failed");
        return Err(internal_error());
    }
    Ok(false)
}

/// Checks whether the user has a TOTP device or a WebAuthn credential registered.
pub(super) async fn has_second_factor_method(
    state: &PortalState,
    username: &str,
) -> Result<bool, Response> {
    let lookups = tokio::try_join!(
        state.db.get_totp_configuration(username),
        state.db.list_webauthn_credentials(username),
    );
    match lookups {
        Ok((totp, webauthn)) => Ok(totp.is_some() || !webauthn.is_empty()),
        Err(error) => {
            tracing::error!(%error, username, "reading the user's second-factor methods failed");
            Err(internal_error())
        }
    }
}

/// Checks whether `skip_second_factor` lets this session act without a code.
fn can_skip(state: &PortalState, session: &ActiveSession) -> bool {
    state
        .config
        .identity_validation
        .elevated_session
        .skip_second_factor
        && session.level() >= Level::TwoFactor
}

fn missing_for(
    state: &PortalState,
    session: &ActiveSession,
    elevated: bool,
    has_second_factor: bool,
) -> Missing {
    let settings = &state.config.identity_validation.elevated_session;
    let second_factor_done = session.level() >= Level::TwoFactor;
    Missing {
        elevation: !elevated && !can_skip(state, session),
        second_factor: settings.require_second_factor && has_second_factor && !second_factor_done,
    }
}

fn elevation_required(missing: &Missing) -> Response {
    ko_data(
        StatusCode::FORBIDDEN,
        json!({
            "elevation": missing.elevation,
            "first_factor": false,
            "second_factor": missing.second_factor,
        }),
    )
}
