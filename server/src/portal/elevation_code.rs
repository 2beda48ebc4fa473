//! Elevation by a one-time code sent by e-mail.
//!
//! - `POST /api/user/session/elevation` makes a code of `characters` characters, valid for
//!   `code_lifespan`, e-mails it and returns a `delete_id`. A new code revokes the user's
//!   earlier ones.
//! - `PUT /api/user/session/elevation {"otc"}` checks the code (trimmed and upper-cased) and
//!   elevates the session for `elevation_lifespan`, bound to the client IP. Every check takes the
//!   same fixed time, whatever its outcome. A code works once.
//! - `DELETE /api/user/session/elevation/{id}` revokes the pending codes of the user the id
//!   was made for, with no session needed, so the link in the e-mail works on any device.
//!
//! Codes are stored as an HMAC over the user name and the code, so a code is valid only for the
//! user it was sent to.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use crate::forward_auth::client_ip::ClientIp;
use crate::identity::regulation::{AttemptRecord, RegulationSubject};
use crate::notify::{templates, Recipient};
use crate::storage::{AttemptFactor, NewOneTimeToken};

use super::links::portal_link;
use super::one_time::{
    generate_code, generate_token, is_token_shaped, token_hash, ELEVATION_CODE, ELEVATION_REVOKE,
};
use super::request::{admit, PortalRequest};
use super::response::{forbidden, internal_error, ko, ok, too_many_requests, with_cookie};
use super::PortalState;

/// The `method` of the attempts that failed codes record.
const ATTEMPT_METHOD: &str = "one_time_code";

/// The message for a wrong, expired, used or revoked code.
const INVALID_CODE: &str = "The one-time code is invalid or has expired.";

/// The message when the code could not be e-mailed.
const NOT_SENT: &str = "The one-time code could not be sent. Try again later.";

#[derive(Deserialize)]
struct FinishBody {
    otc: String,
}

/// Applies a rate limit of the client IP; returns the 429 response when it is exceeded.
// The error is the finished response, sent at once, so its size on the stack does not matter.
#[allow(clippy::result_large_err)]
fn limit(
    limiter: &crate::forward_auth::rate_limit::RateLimiter<std::net::IpAddr>,
    portal: &PortalRequest<'_>,
    endpoint: &str,
) -> Result<(), Response> {
    let client = portal.subject().address();
    limiter.acquire(client).map_err(|limited| {
        tracing::info!(%client, endpoint, "request rejected: rate limit exceeded");
        too_many_requests(limited.retry_after)
    })
}

/// Returns the stored hash of `code` for `username`.
fn code_hash(state: &PortalState, username: &str, code: &str) -> String {
    token_hash(
        &state.token_key,
        ELEVATION_CODE,
        &format!("{username}\0{code}"),
    )
}

/// `POST /api/user/session/elevation`: e-mails a new one-time code.
pub(super) async fn start(
    State(state): State<Arc<PortalState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let portal = match admit(&state, peer, &headers, true) {
        Ok(portal) => portal,
        Err(response) => return response,
    };
    if let Err(response) = limit(
        &state.limits.session_elevation_start,
        &portal,
        "session_elevation_start",
    ) {
        return response;
    }
    let resolution = state.sessions.resolve(&headers, &portal.entry.config).await;
    if resolution.store_error {
        return internal_error();
    }
    let Some(session) = resolution.session else {
        return with_cookie(forbidden(), resolution.clear_cookie);
    };
    let username = session.username().to_owned();
    let Some(address) = session.emails().first().cloned() else {
        tracing::info!(
            username,
            "one-time code not sent: the user has no e-mail address"
        );
        return ko(
            StatusCode::BAD_REQUEST,
            "Your account has no e-mail address to send a one-time code to.",
        );
    };

    let settings = &state.config.identity_validation.elevated_session;
    let now = state.clock.now_millis();
    let expires_at =
        now.saturating_add(i64::try_from(settings.code_lifespan.as_millis()).unwrap_or(i64::MAX));
    if let Err(error) = revoke_pending(&state, &username, now).await {
        tracing::error!(%error, username, "revoking earlier one-time codes failed");
        return internal_error();
    }
    let code = generate_code(settings.characters);
    let delete_id = generate_token();
    let rows = [
        (code_hash(&state, &username, &code), ELEVATION_CODE),
        (
            token_hash(&state.token_key, ELEVATION_REVOKE, &delete_id),
            ELEVATION_REVOKE,
        ),
    ];
    for (hash, purpose) in rows {
        let record = NewOneTimeToken {
            token_hash: hash,
            purpose: purpose.to_owned(),
            username: username.clone(),
            created_at: now,
            expires_at,
        };
        if let Err(error) = state.db.insert_one_time_token(&record).await {
            // Two pending codes of one user with the same text collide on the hash. The earlier
            // one was just revoked, so this is a storage failure in practice.
            tracing::error!(%error, username, "storing a one-time code failed");
            return internal_error();
        }
    }

    let portal_url = portal
        .entry
        .portal
        .as_ref()
        .expect("a matched entry has a portal URL");
    let revoke_link = portal_link(portal_url, "revoke/one-time-code", &[("id", &delete_id)]);
    let email = templates::elevation_code(
        session.display_name(),
        &code,
        revoke_link.as_str(),
        settings.code_lifespan,
    );
    let recipient = Recipient {
        display_name: session.display_name(),
        address: &address,
    };
    if let Err(error) = state.notifier.send(&recipient, &email).await {
        tracing::error!(%error, username, "sending the one-time code failed");
        if let Err(error) = revoke_pending(&state, &username, state.clock.now_millis()).await {
            tracing::error!(%error, username, "revoking the unsent one-time code failed");
        }
        return ko(StatusCode::INTERNAL_SERVER_ERROR, NOT_SENT);
    }
    tracing::info!(username, "one-time code sent");
    ok(Some(json!({ "delete_id": delete_id })))
}

/// Revokes the user's pending codes and their revocation ids.
async fn revoke_pending(
    state: &PortalState,
    username: &str,
    now: i64,
) -> Result<(), crate::storage::StorageError> {
    state
        .db
        .revoke_one_time_tokens_of_user(username, ELEVATION_CODE, now)
        .await?;
    state
        .db
        .revoke_one_time_tokens_of_user(username, ELEVATION_REVOKE, now)
        .await?;
    Ok(())
}

/// `PUT /api/user/session/elevation`: checks a one-time code and elevates the session.
pub(super) async fn finish(
    State(state): State<Arc<PortalState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let started = tokio::time::Instant::now();
    let response = check_code(&state, peer, &headers, &body).await;
    // Every outcome, the rate limit included, takes at least the same fixed time, so the
    // duration reveals nothing about the code.
    tokio::time::sleep_until(started + state.elevation_code_delay).await;
    response
}

async fn check_code(
    state: &Arc<PortalState>,
    peer: SocketAddr,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    let portal = match admit(state, peer, headers, true) {
        Ok(portal) => portal,
        Err(response) => return response,
    };
    if let Err(response) = limit(
        &state.limits.session_elevation_finish,
        &portal,
        "session_elevation_finish",
    ) {
        return response;
    }
    let resolution = state.sessions.resolve(headers, &portal.entry.config).await;
    if resolution.store_error {
        return internal_error();
    }
    let Some(mut session) = resolution.session else {
        return with_cookie(forbidden(), resolution.clear_cookie);
    };
    let Ok(body) = serde_json::from_slice::<FinishBody>(body) else {
        return ko(
            StatusCode::BAD_REQUEST,
            "The body must be a JSON object with an otc string.",
        );
    };
    let username = session.username().to_owned();
    let ClientIp::Known(client) = portal.client else {
        tracing::info!(username, "elevation rejected: the client IP is unknown, so the elevation could not be bound to it");
        return ko(StatusCode::FORBIDDEN, INVALID_CODE);
    };

    let account_key = username.to_lowercase();
    let subject = portal.subject();
    match state
        .regulator
        .check_ban(Some(&account_key), &subject)
        .await
    {
        Ok(None) => {}
        Ok(Some(ban)) => {
            tracing::info!(username, client = %client, ban_kind = %ban.kind, "elevation rejected: banned");
            record_failure(state, &account_key, subject, true).await;
            return ko(StatusCode::FORBIDDEN, INVALID_CODE);
        }
        Err(error) => {
            tracing::error!(%error, username, "elevation failed: ban check failed");
            return internal_error();
        }
    }

    let code = body.otc.trim().to_uppercase();
    let now = state.clock.now_millis();
    let consumed = state
        .db
        .consume_one_time_token(&code_hash(state, &username, &code), ELEVATION_CODE, now)
        .await;
    match consumed {
        Ok(Some(_)) => {}
        Ok(None) => {
            tracing::info!(username, client = %client, "elevation rejected: wrong, expired, used or revoked code");
            record_failure(state, &account_key, subject, false).await;
            return ko(StatusCode::FORBIDDEN, INVALID_CODE);
        }
        Err(error) => {
            tracing::error!(%error, username, "elevation failed: consuming the code failed");
            return internal_error();
        }
    }
    if let Err(error) = state
        .db
        .revoke_one_time_tokens_of_user(&username, ELEVATION_REVOKE, now)
        .await
    {
        tracing::warn!(%error, username, "revoking the used code's revocation id failed");
    }

    let lifespan = state
        .config
        .identity_validation
        .elevated_session
        .elevation_lifespan;
    let until = now.saturating_add(i64::try_from(lifespan.as_millis()).unwrap_or(i64::MAX));
    let client_text = client.to_string();
    if let Err(error) = state
        .sessions
        .set_elevation(&mut session, Some((until, &client_text)))
        .await
    {
        tracing::error!(%error, username, "elevation failed: storing it in the session failed");
        return internal_error();
    }
    tracing::info!(username, client = %client, "session elevated");
    ok(Some(json!({ "expires": (until - now + 999) / 1000 })))
}

/// Records a failed code as a failed second-factor attempt, so that regulation counts it with
/// the user's failed passwords and codes. A correct code is not recorded, because it proves
/// access to the mailbox, not a login factor, and must not end a streak of failed passwords.
async fn record_failure(
    state: &PortalState,
    account_key: &str,
    subject: RegulationSubject,
    banned: bool,
) {
    let attempt = AttemptRecord {
        account_key,
        successful: false,
        banned,
        factor: AttemptFactor::Second,
        method: ATTEMPT_METHOD,
        subject,
        request_uri: "",
        request_method: "",
    };
    if let Err(error) = state.regulator.record(&attempt).await {
        tracing::error!(%error, account_key, "recording a failed one-time code failed");
    }
}

/// `DELETE /api/user/session/elevation/{id}`: revokes the pending codes the id was made with.
pub(super) async fn revoke(
    State(state): State<Arc<PortalState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(delete_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let portal = match admit(&state, peer, &headers, true) {
        Ok(portal) => portal,
        Err(response) => return response,
    };
    if let Err(response) = limit(
        &state.limits.session_elevation_finish,
        &portal,
        "session_elevation_finish",
    ) {
        return response;
    }
    if !is_token_shaped(&delete_id) {
        return ko(StatusCode::BAD_REQUEST, INVALID_CODE);
    }
    let now = state.clock.now_millis();
    let hash = token_hash(&state.token_key, ELEVATION_REVOKE, &delete_id);
    let username = match state
        .db
        .consume_one_time_token(&hash, ELEVATION_REVOKE, now)
        .await
    {
        Ok(Some(username)) => username,
        Ok(None) => return ko(StatusCode::BAD_REQUEST, INVALID_CODE),
        Err(error) => {
            tracing::error!(%error, "revoking a one-time code failed: reading the id failed");
            return internal_error();
        }
    };
    if let Err(error) = revoke_pending(&state, &username, now).await {
        tracing::error!(%error, username, "revoking the user's one-time codes failed");
        return internal_error();
    }
    tracing::info!(username, "one-time codes revoked by their e-mailed link");
    ok(None)
}
