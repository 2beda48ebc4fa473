//! `POST /api/secondfactor/totp`: the TOTP second factor.
//!
//! The steps run in this order: the `second_factor_totp` rate limit of the client IP (429), a
//! session of level one or more (403 text), the ban check, then the code against the user's
//! device. A code is accepted only when its time step is newer than the last step accepted for
//! the device, and the database stores the new step in the same compare-and-set statement, so a
//! code works once even across instances. Every failure, including a replayed code, gets the
//! same 403 response and is recorded as a failed second factor, which counts toward bans.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use crate::identity::regulation::AttemptRecord;
use crate::session::{ActiveSession, Level};
use crate::storage::AttemptFactor;

use super::request::{admit, PortalRequest};
use super::response::{
    forbidden, internal_error, ko, ok, too_many_requests, with_cookie, SECOND_FACTOR_FAILED,
};
use super::target::{default_redirect_data, redirect_data, safe_target};
use super::totp::matching_step;
use super::PortalState;

/// The `method` of the attempts this endpoint records.
const ATTEMPT_METHOD: &str = "totp";

#[derive(Deserialize)]
struct TotpBody {
    token: String,
    #[serde(rename = "targetURL", default)]
    target_url: Option<String>,
}

fn failed() -> Response {
    ko(StatusCode::FORBIDDEN, SECOND_FACTOR_FAILED)
}

pub(super) async fn totp(
    State(state): State<Arc<PortalState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let portal = match admit(&state, peer, &headers, true) {
        Ok(portal) => portal,
        Err(response) => return response,
    };
    let subject = portal.subject();
    if let Err(limited) = state.totp_limiter.acquire(subject.address()) {
        tracing::info!(client = %subject.address(), "TOTP attempt rejected: rate limit exceeded");
        return too_many_requests(limited.retry_after);
    }

    let domain = &portal.entry.config;
    let resolution = state.sessions.resolve(&headers, domain).await;
    if resolution.store_error {
        return internal_error();
    }
    let Some(session) = resolution.session else {
        return with_cookie(forbidden(), resolution.clear_cookie);
    };
    let Ok(body) = serde_json::from_slice::<TotpBody>(&body) else {
        tracing::debug!(
            username = session.username(),
            "TOTP attempt rejected: malformed body"
        );
        return failed();
    };

    match check_code(&state, &portal, &session, &body.token).await {
        Ok(true) => {}
        Ok(false) => return failed(),
        Err(response) => return response,
    }

    let cookie = if session.level() < Level::TwoFactor {
        match state
            .sessions
            .raise_level(session, domain, Level::TwoFactor)
            .await
        {
            Ok((_, cookie)) => Some(cookie),
            Err(error) => {
                tracing::error!(%error, "TOTP accepted but raising the session level failed");
                return internal_error();
            }
        }
    } else {
        None
    };
    let data = match safe_target(&state, body.target_url.as_deref()) {
        Some(url) => Some(redirect_data(&url)),
        None => default_redirect_data(portal.entry),
    };
    with_cookie(ok(data), cookie)
}

/// Checks the ban state and the code, and records the attempt. Returns whether the code was
/// accepted, or the response for an internal error.
async fn check_code(
    state: &PortalState,
    portal: &PortalRequest<'_>,
    session: &ActiveSession,
    token: &str,
) -> Result<bool, Response> {
    let username = session.username();
    let account_key = username.to_lowercase();
    let attempt = AttemptRecord {
        account_key: &account_key,
        successful: false,
        banned: false,
        factor: AttemptFactor::Second,
        method: ATTEMPT_METHOD,
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
            tracing::info!(username, ban_kind = %ban.kind, "TOTP attempt rejected: banned");
            record(
                state,
                &AttemptRecord {
                    banned: true,
                    ..attempt
                },
            )
            .await;
            return Ok(false);
        }
        Err(error) => {
            tracing::error!(%error, username, "TOTP attempt failed: ban check failed");
            return Err(internal_error());
        }
    }

    let device = match state.db.get_totp_configuration(username).await {
        Ok(device) => device,
        Err(error) => {
            tracing::error!(%error, username, "TOTP attempt failed: reading the TOTP device failed");
            return Err(internal_error());
        }
    };
    let step = device.as_ref().and_then(|device| {
        matching_step(
            device,
            token,
            state.clock.now_secs(),
            state.config.totp.skew,
        )
    });
    let accepted = match step {
        None => {
            tracing::info!(
                username,
                has_device = device.is_some(),
                "TOTP attempt rejected: wrong code"
            );
            false
        }
        Some(step) => consume_step(state, username, step).await?,
    };

    record(
        state,
        &AttemptRecord {
            successful: accepted,
            ..attempt
        },
    )
    .await;
    Ok(accepted)
}

/// Marks `step` as used. Under the reuse policy it is accepted only when it is newer than the
/// last accepted step; with `disable_reuse_security_policy` a reuse is accepted and logged.
async fn consume_step(state: &PortalState, username: &str, step: i64) -> Result<bool, Response> {
    let newer = match state
        .db
        .accept_totp_step(username, step, state.clock.now_millis())
        .await
    {
        Ok(newer) => newer,
        Err(error) => {
            tracing::error!(%error, username, "TOTP attempt failed: storing the used step failed");
            return Err(internal_error());
        }
    };
    if newer {
        return Ok(true);
    }
    if state.config.totp.disable_reuse_security_policy {
        tracing::warn!(
            username,
            "TOTP code of an already used step accepted, because the reuse policy is disabled"
        );
        return Ok(true);
    }
    tracing::info!(username, "TOTP attempt rejected: the code's time step was already used or is older than the last one used");
    Ok(false)
}

async fn record(state: &PortalState, attempt: &AttemptRecord<'_>) {
    if let Err(error) = state.regulator.record(attempt).await {
        tracing::error!(%error, account_key = attempt.account_key, "recording a second-factor attempt failed");
    }
}
