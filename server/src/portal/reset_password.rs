//! Password reset by e-mailed link.
//!
//! 1. `POST /api/reset-password/identity/start {"username"}` always returns `{"status":"OK"}` at
//!    once. The lookup, the token and the e-mail happen afterwards on a task of their own, so
//!    neither the response nor its timing reveals whether the user exists.
//! 2. `POST /api/reset-password/identity/finish {"token"}` checks the token without consuming it
//!    and binds it to the browser with a cookie scoped to `/api/reset-password` that ends with the
//!    token.
//! 3. `POST /api/reset-password {"password"}` (the token from that cookie, or `"token"` in the
//!    body) checks the password policy, consumes the token, stores the new hash and ends every
//!    session of the user.
//! 4. `DELETE /api/reset-password {"token"}` revokes an unused token.
//!
//! Tokens are 256 random bits, stored only as an HMAC, valid for
//! `identity_validation.reset_password.jwt_lifespan`, and used once. Links are built from the
//! configured portal URL of the cookie domain the request was matched to, never from request
//! headers.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;
use url::Url;

use crate::identity::directory::UserProfile;
use crate::identity::password_policy::{check_password, POLICY_FAILED};
use crate::identity::pool::PoolError;
use crate::identity::secret::Password;
use crate::notify::{templates, Recipient};
use crate::storage::NewOneTimeToken;

use super::links::portal_link;
use super::one_time::{generate_token, is_token_shaped, token_hash, RESET_PASSWORD};
use super::request::{admit, PortalRequest};
use super::response::{busy, internal_error, ko, ok, too_many_requests};
use super::PortalState;

/// The cookie that binds a checked reset token to the browser between steps 2 and 3.
const RESET_COOKIE: &str = "gatehouse_reset_password";

/// The message for a token that is unknown, expired, used or revoked.
const INVALID_TOKEN: &str = "The link is invalid or has expired. Request a new one.";

#[derive(Deserialize)]
struct StartBody {
    username: String,
}

#[derive(Deserialize)]
struct TokenBody {
    token: String,
}

#[derive(Deserialize)]
struct PasswordBody {
    password: String,
    #[serde(default)]
    token: Option<String>,
}

fn bad_body(expected: &str) -> Response {
    ko(
        StatusCode::BAD_REQUEST,
        &format!("The body must be a JSON object with {expected}."),
    )
}

fn invalid_token() -> Response {
    ko(StatusCode::BAD_REQUEST, INVALID_TOKEN)
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

/// `POST /api/reset-password/identity/start`.
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
    if let Err(response) = limit(
        &state.limits.reset_password_start,
        &portal,
        "reset_password_start",
    ) {
        return response;
    }
    let Ok(body) = serde_json::from_slice::<StartBody>(&body) else {
        return bad_body("a username string");
    };
    let login = body.username.trim().to_owned();
    if login.is_empty() {
        return bad_body("a non-empty username");
    }
    let portal_url = portal
        .entry
        .portal
        .clone()
        .expect("a matched entry has a portal URL");

    let task_state = Arc::clone(&state);
    tokio::spawn(async move {
        send_reset_link(&task_state, &login, &portal_url).await;
    });
    ok(None)
}

/// Looks the user up and, when it exists, is enabled and has an e-mail address, stores a new
/// token and e-mails the links. Runs after the response; every outcome is logged.
async fn send_reset_link(state: &PortalState, login: &str, portal_url: &Url) {
    let user = match state.directory.find_by_login(login).await {
        Ok(Some(user)) if !user.disabled => user,
        Ok(_) => {
            tracing::info!(
                "password reset requested for an unknown or disabled user; no e-mail sent"
            );
            return;
        }
        Err(error) => {
            tracing::error!(%error, "password reset: looking up the user failed; no e-mail sent");
            return;
        }
    };
    let Some(address) = user.emails.first() else {
        tracing::info!(username = %user.username, "password reset requested for a user without an e-mail address; no e-mail sent");
        return;
    };

    let lifespan = state.config.identity_validation.reset_password.jwt_lifespan;
    let now = state.clock.now_millis();
    let token = generate_token();
    let record = NewOneTimeToken {
        token_hash: token_hash(&state.token_key, RESET_PASSWORD, &token),
        purpose: RESET_PASSWORD.to_owned(),
        username: user.username.clone(),
        created_at: now,
        expires_at: now.saturating_add(i64::try_from(lifespan.as_millis()).unwrap_or(i64::MAX)),
    };
    if let Err(error) = state.db.insert_one_time_token(&record).await {
        tracing::error!(%error, username = %user.username, "password reset: storing the token failed; no e-mail sent");
        return;
    }

    let link = portal_link(portal_url, "reset-password/step2", &[("token", &token)]).to_string();
    let revoke_link =
        portal_link(portal_url, "revoke/reset-password", &[("token", &token)]).to_string();
    let email = templates::reset_password(
        &user.display_name,
        &user.username,
        &link,
        &revoke_link,
        lifespan,
    );
    let recipient = Recipient {
        display_name: &user.display_name,
        address,
    };
    match state.notifier.send(&recipient, &email).await {
        Ok(()) => tracing::info!(username = %user.username, "password reset link sent"),
        Err(error) => {
            tracing::error!(%error, username = %user.username, "sending the password reset link failed");
        }
    }
}

/// `POST /api/reset-password/identity/finish`.
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
    if let Err(response) = limit(
        &state.limits.reset_password_finish,
        &portal,
        "reset_password_finish",
    ) {
        return response;
    }
    let Ok(body) = serde_json::from_slice::<TokenBody>(&body) else {
        return bad_body("a token string");
    };
    let token = match usable_token(&state, &body.token).await {
        Ok(token) => token,
        Err(response) => return response,
    };

    let remaining_secs = ((token.expires_at - state.clock.now_millis()).max(0) + 999) / 1000;
    let cookie = binding_cookie(&portal, &body.token, remaining_secs);
    let mut response = ok(Some(json!({ "username": token.username })));
    response.headers_mut().append(SET_COOKIE, cookie);
    response
}

/// `POST /api/reset-password`: sets the new password.
pub(super) async fn set_password(
    State(state): State<Arc<PortalState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let portal = match admit(&state, peer, &headers, true) {
        Ok(portal) => portal,
        Err(response) => return response,
    };
    if let Err(response) = limit(
        &state.limits.reset_password_finish,
        &portal,
        "reset_password_finish",
    ) {
        return response;
    }
    let Ok(body) = serde_json::from_slice::<PasswordBody>(&body) else {
        return bad_body("a password string");
    };
    let Some(token_text) = body.token.clone().or_else(|| bound_token(&headers)) else {
        tracing::debug!("password reset rejected: no token in the body or the reset cookie");
        return invalid_token();
    };
    let token = match usable_token(&state, &token_text).await {
        Ok(token) => token,
        Err(response) => return response,
    };
    let user = match state.directory.get(&token.username).await {
        Ok(Some(user)) if !user.disabled => user,
        Ok(_) => {
            tracing::info!(username = %token.username, "password reset rejected: the user is gone or disabled");
            return invalid_token();
        }
        Err(error) => {
            tracing::error!(%error, username = %token.username, "password reset failed: reading the user failed");
            return internal_error();
        }
    };

    let password = Password::from(body.password);
    if let Err(violation) = check_password(
        &state.config.password_policy,
        password.expose(),
        &user_inputs(&user),
    ) {
        tracing::debug!(username = %user.username, ?violation, "password reset rejected by the password policy");
        return ko(StatusCode::BAD_REQUEST, POLICY_FAILED);
    }
    let password_hash = match hash_new_password(&state, password, &user.username).await {
        Ok(hash) => hash,
        Err(response) => return response,
    };

    let now = state.clock.now_millis();
    let token_hash = token_hash(&state.token_key, RESET_PASSWORD, &token_text);
    match state
        .db
        .consume_one_time_token(&token_hash, RESET_PASSWORD, now)
        .await
    {
        Ok(Some(_)) => {}
        Ok(None) => {
            tracing::info!(username = %user.username, "password reset rejected: the token was used or revoked meanwhile");
            return invalid_token();
        }
        Err(error) => {
            tracing::error!(%error, username = %user.username, "password reset failed: consuming the token failed");
            return internal_error();
        }
    }
    if let Err(error) = state
        .directory
        .set_password(&state.db, &user.username, &password_hash, now, None)
        .await
    {
        tracing::error!(%error, username = %user.username, "password reset failed: storing the new password failed");
        return internal_error();
    }
    if let Err(error) = state
        .db
        .revoke_one_time_tokens_of_user(&user.username, RESET_PASSWORD, now)
        .await
    {
        tracing::warn!(%error, username = %user.username, "revoking the user's other reset links failed");
    }
    tracing::info!(username = %user.username, "password reset; every session of the user ended");
    send_password_changed(&state, &user);

    let mut response = ok(None);
    response
        .headers_mut()
        .append(SET_COOKIE, binding_cookie(&portal, "", 0));
    response
}

/// `DELETE /api/reset-password`: revokes an unused reset token ("this wasn't me").
pub(super) async fn revoke(
    State(state): State<Arc<PortalState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let portal = match admit(&state, peer, &headers, true) {
        Ok(portal) => portal,
        Err(response) => return response,
    };
    if let Err(response) = limit(
        &state.limits.reset_password_finish,
        &portal,
        "reset_password_finish",
    ) {
        return response;
    }
    let Ok(body) = serde_json::from_slice::<TokenBody>(&body) else {
        return bad_body("a token string");
    };
    if !is_token_shaped(&body.token) {
        return invalid_token();
    }
    let hash = token_hash(&state.token_key, RESET_PASSWORD, &body.token);
    match state
        .db
        .revoke_one_time_token(&hash, RESET_PASSWORD, state.clock.now_millis())
        .await
    {
        Ok(true) => {
            tracing::info!("password reset link revoked");
            ok(None)
        }
        Ok(false) => invalid_token(),
        Err(error) => {
            tracing::error!(%error, "revoking a password reset link failed");
            internal_error()
        }
    }
}

/// Returns the stored token when `token` is well formed, unexpired, unused and unrevoked.
async fn usable_token(
    state: &PortalState,
    token: &str,
) -> Result<crate::storage::OneTimeToken, Response> {
    if !is_token_shaped(token) {
        tracing::debug!("password reset rejected: the token is malformed");
        return Err(invalid_token());
    }
    let hash = token_hash(&state.token_key, RESET_PASSWORD, token);
    match state
        .db
        .peek_one_time_token(&hash, RESET_PASSWORD, state.clock.now_millis())
        .await
    {
        Ok(Some(token)) => Ok(token),
        Ok(None) => {
            tracing::info!(
                "password reset rejected: the token is unknown, expired, used or revoked"
            );
            Err(invalid_token())
        }
        Err(error) => {
            tracing::error!(%error, "password reset failed: reading the token failed");
            Err(internal_error())
        }
    }
}

/// Hashes a new password on the hashing pool: 503 when the pool is full, 500 on failure.
pub(super) async fn hash_new_password(
    state: &PortalState,
    password: Password,
    username: &str,
) -> Result<String, Response> {
    match state.pool.hash(password).await {
        Ok(hash) => Ok(hash),
        Err(PoolError::Busy) => {
            tracing::warn!(
                username,
                "new password not hashed because the hashing pool is full; responded 503"
            );
            Err(busy())
        }
        Err(error) => {
            tracing::error!(%error, username, "hashing a new password failed");
            Err(internal_error())
        }
    }
}

/// Returns the words a new password should not be built from: the user's name, display name
/// and e-mail addresses.
pub(super) fn user_inputs(user: &UserProfile) -> Vec<&str> {
    let mut inputs = vec![user.username.as_str(), user.display_name.as_str()];
    inputs.extend(user.emails.iter().map(String::as_str));
    inputs
}

/// E-mails the user that the password changed, off the response path.
pub(super) fn send_password_changed(state: &Arc<PortalState>, user: &UserProfile) {
    let Some(address) = user.emails.first().cloned() else {
        return;
    };
    let state = Arc::clone(state);
    let display_name = user.display_name.clone();
    let username = user.username.clone();
    tokio::spawn(async move {
        let email = templates::password_changed(&display_name, &username);
        let recipient = Recipient {
            display_name: &display_name,
            address: &address,
        };
        if let Err(error) = state.notifier.send(&recipient, &email).await {
            tracing::error!(%error, username, "sending the password change notice failed");
        }
    });
}

/// Builds the cookie that binds `token` to the browser for `max_age_secs`; an empty token with
/// zero seconds clears it. The cookie belongs to the portal's host only.
fn binding_cookie(portal: &PortalRequest<'_>, token: &str, max_age_secs: i64) -> HeaderValue {
    let secure = if portal.entry.config.is_localhost() {
        ""
    } else {
        "; Secure"
    };
    let text = format!(
        "{RESET_COOKIE}={token}; Path=/api/reset-password; Max-Age={max_age_secs}; HttpOnly; SameSite=Strict{secure}"
    );
    HeaderValue::from_str(&text).expect("a token of URL-safe characters is a valid header value")
}

/// Reads the reset token bound by step 2 from the `Cookie` headers. A name given twice reads as
/// no token.
fn bound_token(headers: &HeaderMap) -> Option<String> {
    let mut found = None;
    for line in headers.get_all(COOKIE) {
        let text = line.to_str().ok()?;
        for pair in text.split(';') {
            let Some((name, value)) = pair.split_once('=') else {
                continue;
            };
            if name.trim() != RESET_COOKIE {
                continue;
            }
            if found.is_some() {
                return None;
            }
            found = Some(value.trim().to_owned());
        }
    }
    found.filter(|value| !value.is_empty())
}
