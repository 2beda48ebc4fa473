//! `POST /api/firstfactor`: the password login.
//!
//! The steps run in this order, and every failure gets the same 401 response:
//! 1. the body is read; a malformed body, an empty user name or an empty password fails
//!    without a record, because no name can be trusted;
//! 2. the typed name is resolved to its account key, and the ban check (client IP, then account
//!    key) runs; a banned attempt is recorded as banned and no password is checked;
//! 3. the password is verified on the hashing pool, against the user's hash or, for an unknown or
//!    disabled user, against the pool's dummy hash, so both cost one verification;
//! 4. the attempt is recorded; a success replaces the browser's session with a new one at level
//!    one.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use crate::config::Policy;
use crate::identity::directory::rehash_after_login;
use crate::identity::names::normalize_username;
use crate::identity::pool::PoolError;
use crate::identity::regulation::AttemptRecord;
use crate::identity::secret::Password;
use crate::session::Level;
use crate::storage::AttemptFactor;
use crate::telemetry::user_text;

use super::request::admit;
use super::response::{busy, internal_error, ko, ok, with_cookie, FIRST_FACTOR_FAILED};
use super::target::{default_redirect_data, redirect_data, required_policy, safe_target};
use super::PortalState;

/// The `method` of the attempts this endpoint records.
const ATTEMPT_METHOD: &str = "password";

#[derive(Deserialize)]
struct FirstFactorBody {
    username: String,
    password: String,
    #[serde(rename = "keepMeLoggedIn", default)]
    keep_me_logged_in: Option<bool>,
    #[serde(rename = "targetURL", default)]
    target_url: Option<String>,
    #[serde(rename = "requestMethod", default)]
    request_method: Option<String>,
}

fn failed() -> Response {
    ko(StatusCode::UNAUTHORIZED, FIRST_FACTOR_FAILED)
}

pub(super) async fn first_factor(
    State(state): State<Arc<PortalState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let portal = match admit(&state, peer, &headers, true) {
        Ok(portal) => portal,
        Err(response) => return response,
    };
    let Ok(body) = serde_json::from_slice::<FirstFactorBody>(&body) else {
        tracing::debug!("first factor rejected: malformed body");
        return failed();
    };
    if body.username.is_empty() || body.password.is_empty() {
        tracing::debug!("first factor rejected: empty user name or password");
        return failed();
    }

    let found = match state.directory.find_by_login(&body.username).await {
        Ok(found) => found,
        Err(error) => {
            tracing::error!(%error, "first factor failed: user lookup failed");
            return internal_error();
        }
    };
    // The same key as `UserDirectory::account_key`, without a second lookup.
    let account_key = match &found {
        Some(user) => user.username.to_lowercase(),
        None => normalize_username(&body.username),
    };
    let safe_url = safe_target(&state, body.target_url.as_deref());
    let recorded_uri = safe_url.as_ref().map_or("", |url| url.as_str());
    let subject = portal.subject();
    let failed_attempt = AttemptRecord {
        account_key: &account_key,
        successful: false,
        banned: false,
        factor: AttemptFactor::First,
        method: ATTEMPT_METHOD,
        subject,
        request_uri: recorded_uri,
        request_method: body.request_method.as_deref().unwrap_or(""),
    };

    match state
        .regulator
        .check_ban(Some(&account_key), &subject)
        .await
    {
        Ok(None) => {}
        Ok(Some(ban)) => {
            tracing::info!(account_key = %user_text(&account_key), client = %subject.address(), ban_kind = %ban.kind, "first factor rejected: banned");
            let banned_attempt = AttemptRecord {
                banned: true,
                ..failed_attempt
            };
            if let Err(error) = state.regulator.record(&banned_attempt).await {
                tracing::error!(%error, account_key = %user_text(&account_key), "recording a banned login attempt failed");
            }
            return failed();
        }
        Err(error) => {
            tracing::error!(%error, account_key = %user_text(&account_key), "first factor failed: ban check failed");
            return internal_error();
        }
    }

    let user = found.filter(|user| !user.disabled);
    let stored_hash = user.as_ref().map(|user| user.password_hash.expose());
    // A second copy for a re-hash after success; both are cleared when dropped.
    let password_for_rehash = Password::from(body.password.clone());
    let password = Password::from(body.password);
    let verified = match state.pool.verify_or_dummy(password, stored_hash).await {
        Ok(verified) => verified,
        Err(PoolError::Busy) => {
            tracing::warn!(
                "login not checked because the password hashing pool is full; responded 503"
            );
            return busy();
        }
        Err(error) => {
            tracing::error!(%error, account_key = %user_text(&account_key), "first factor failed: password verification failed");
            return internal_error();
        }
    };
    let Some(user) = user.filter(|_| verified.matches) else {
        tracing::info!(account_key = %user_text(&account_key), client = %subject.address(), "first factor rejected: wrong user name or password");
        if let Err(error) = state.regulator.record(&failed_attempt).await {
            tracing::error!(%error, account_key = %user_text(&account_key), "recording a failed login attempt failed");
        }
        return failed();
    };

    let successful_attempt = AttemptRecord {
        successful: true,
        ..failed_attempt
    };
    if let Err(error) = state.regulator.record(&successful_attempt).await {
        tracing::error!(%error, account_key = %user_text(&account_key), "first factor failed: recording the successful attempt failed");
        return internal_error();
    }
    if verified.needs_rehash {
        rehash_after_login(
            &state.directory,
            &state.pool,
            &state.clock,
            &user,
            password_for_rehash,
        );
    }

    let domain = &portal.entry.config;
    let previous = state.sessions.resolve(&headers, domain).await;
    if previous.store_error {
        return internal_error();
    }
    let remember_me = body.keep_me_logged_in.unwrap_or(false);
    let created = match previous.session {
        Some(previous) => {
            state
                .sessions
                .replace(previous, domain, &user, Level::OneFactor, remember_me)
                .await
        }
        None => {
            state
                .sessions
                .create(domain, &user, Level::OneFactor, remember_me)
                .await
        }
    };
    let (_, cookie) = match created {
        Ok(created) => created,
        Err(error) => {
            tracing::error!(%error, username = %user.username, "first factor failed: storing the session failed");
            return internal_error();
        }
    };

    let data = match safe_url {
        Some(url) => {
            let policy = required_policy(
                &state,
                &url,
                body.request_method.as_deref(),
                portal.client,
                &user.username,
                &user.groups,
            );
            match policy {
                Some(Policy::TwoFactor) => None,
                Some(_) => Some(redirect_data(&url)),
                None => no_target_data(&state, portal.entry),
            }
        }
        None => no_target_data(&state, portal.entry),
    };
    with_cookie(ok(data), Some(cookie))
}

/// Returns the `data` of a login without a usable target: the default redirection URL when no rule needs a second
/// factor, else a bare OK so the portal moves on to the second factor or the settings page.
fn no_target_data(
    state: &PortalState,
    entry: &crate::forward_auth::CookieDomainEntry,
) -> Option<serde_json::Value> {
    if state.authz.access.is_two_factor_in_use() {
        None
    } else {
        default_redirect_data(entry)
    }
}
