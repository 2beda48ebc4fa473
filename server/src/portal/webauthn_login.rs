//! WebAuthn assertions: the second factor (`GET/POST /api/secondfactor/webauthn`), passkey login
//! (`GET/POST /api/firstfactor/passkey`) and the password as the second step after a passkey
//! login (`POST /api/secondfactor/password`).
//!
//! A second-factor assertion runs the ban check first. The response is then verified against the
//! challenge kept for this session, which is consumed so it works once. The origin and RP ID of
//! the portal, the user verification the credential was registered with, and the signature
//! counter are checked too.
//! Failures get 403 and count toward bans like a wrong TOTP code. Success raises the session to
//! level two under a new id.
//!
//! A passkey login has no session yet: its challenge is bound to a random handle sent in an
//! HttpOnly cookie scoped to the passkey path. The user is found by the credential id; a user
//! handle in the response must match that user. The session gets level one (possession only),
//! or level two with `experimental_enable_passkey_uv_two_factors` when the authenticator
//! verified the user and the credential was registered with user verification.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use base64::Engine as _;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use webauthn_rs_core::proto::{AuthenticationState, PublicKeyCredential};

use crate::config::Policy;
use crate::identity::pool::PoolError;
use crate::identity::secret::Password;
use crate::session::{ActiveSession, Level};
use crate::storage::AttemptFactor;

use super::account::logged_in;
use super::request::{admit, PortalRequest};
use super::response::{
    busy, internal_error, ko, ok, too_many_requests, with_cookie, FIRST_FACTOR_FAILED,
    SECOND_FACTOR_FAILED,
};
use super::target::{default_redirect_data, redirect_data, required_policy, safe_target};
use super::webauthn::{
    banned, disabled, encode_id, record, relying_party, store_use, stored_credential, user_handle,
    verification_policy, ATTEMPT_METHOD,
};
use super::webauthn_credentials::ceremony_lifetime_millis;
use super::PortalState;

/// The `kind` of a pending second-factor assertion in the ceremony store.
const ASSERTION: &str = "webauthn_assert";
/// The `kind` of a pending passkey login in the ceremony store.
const PASSKEY_LOGIN: &str = "passkey_login";
/// The cookie that binds a passkey login's challenge to the browser that asked for it.
const PASSKEY_COOKIE: &str = "gatehouse_passkey";
const PASSKEY_PATH: &str = "/api/firstfactor/passkey";
/// The session data key that records a passkey login, so the portal requests the password as the
/// second step.
pub(super) const FIRST_FACTOR_KEY: &str = "first_factor";
const PASSKEY_METHOD: &str = "passkey";

/// The assertion state and the RP ID it was made for.
#[derive(Serialize, Deserialize)]
struct PendingAssertion {
    rp_id: String,
    state: AuthenticationState,
}

#[derive(Deserialize)]
struct AssertionBody {
    response: PublicKeyCredential,
    #[serde(rename = "targetURL", default)]
    target_url: Option<String>,
}

#[derive(Deserialize)]
struct PasskeyBody {
    response: PublicKeyCredential,
    #[serde(rename = "keepMeLoggedIn", default)]
    keep_me_logged_in: Option<bool>,
    #[serde(rename = "targetURL", default)]
    target_url: Option<String>,
    #[serde(rename = "requestMethod", default)]
    request_method: Option<String>,
}

#[derive(Deserialize)]
struct PasswordBody {
    password: String,
    #[serde(rename = "targetURL", default)]
    target_url: Option<String>,
}

fn second_factor_failed() -> Response {
    ko(StatusCode::FORBIDDEN, SECOND_FACTOR_FAILED)
}

fn first_factor_failed() -> Response {
    ko(StatusCode::UNAUTHORIZED, FIRST_FACTOR_FAILED)
}

/// Starts an assertion over `credentials` and stores its state under (`binding`, `kind`). An
/// empty list allows any credential, for a passkey login. Returns the options for
/// `navigator.credentials.get()` in the form `{"publicKey": …}`.
async fn start_assertion(
    state: &PortalState,
    portal: &PortalRequest<'_>,
    binding: &str,
    kind: &str,
    username: Option<&str>,
    credentials: Vec<webauthn_rs_core::proto::Credential>,
) -> Result<serde_json::Value, Response> {
    let portal_url = portal
        .entry
        .portal
        .as_ref()
        .expect("a matched entry has a portal URL");
    let (core, rp_id) = relying_party(state, portal_url).ok_or_else(internal_error)?;
    let builder = core
        .new_challenge_authenticate_builder(credentials, Some(verification_policy(state)))
        .map_err(|error| {
            tracing::error!(%error, "starting a WebAuthn assertion failed");
            internal_error()
        })?
        .allow_backup_eligible_upgrade(true);
    let (options, authentication) =
        core.generate_challenge_authenticate(builder)
            .map_err(|error| {
                tracing::error!(%error, "starting a WebAuthn assertion failed");
                internal_error()
            })?;
    let pending = PendingAssertion {
        rp_id,
        state: authentication,
    };
    let serialized = serde_json::to_vec(&pending).expect("an assertion state serializes");
    let now = state.clock.now_millis();
    let expires_at = now + ceremony_lifetime_millis(state);
    state
        .db
        .put_ceremony(binding, kind, username, &serialized, now, expires_at)
        .await
        .map_err(|error| {
            tracing::error!(%error, "storing a WebAuthn assertion state failed");
            internal_error()
        })?;
    Ok(json!(options))
}

/// `GET /api/secondfactor/webauthn`: the assertion options over the user's credentials of this
/// portal; 404 when the user has none.
pub(super) async fn second_factor_options(
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
    if state.config.webauthn.disable {
        return disabled();
    }
    let username = session.username();
    let portal_url = portal
        .entry
        .portal
        .as_ref()
        .expect("a matched entry has a portal URL");
    let rp_id = portal_url.host_str().unwrap_or("").to_ascii_lowercase();
    let rows = match state.db.list_webauthn_credentials(username).await {
        Ok(rows) => rows,
        Err(error) => {
            tracing::error!(%error, username, "listing WebAuthn credentials failed");
            return internal_error();
        }
    };
    let credentials: Vec<_> = rows
        .iter()
        .filter(|row| row.rp_id == rp_id)
        .filter_map(stored_credential)
        .collect();
    if credentials.is_empty() {
        return ko(
            StatusCode::NOT_FOUND,
            "You have no WebAuthn credential for this portal.",
        );
    }
    match start_assertion(
        &state,
        &portal,
        &session.id_hash,
        ASSERTION,
        Some(username),
        credentials,
    )
    .await
    {
        Ok(options) => ok(Some(options)),
        Err(response) => response,
    }
}

/// `POST /api/secondfactor/webauthn {"response": …, "targetURL"}`: the WebAuthn second factor.
pub(super) async fn second_factor(
    State(state): State<Arc<PortalState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let portal = match admit(&state, peer, &headers, true) {
        Ok(portal) => portal,
        Err(response) => return response,
    };
    let session = match logged_in(&state, &portal, &headers).await {
        Ok(session) => session,
        Err(response) => return response,
    };
    if state.config.webauthn.disable {
        return disabled();
    }
    let username = session.username().to_owned();
    let account_key = username.to_lowercase();
    let subject = portal.subject();
    let Ok(body) = serde_json::from_slice::<AssertionBody>(&body) else {
        tracing::debug!(username, "WebAuthn assertion rejected: malformed body");
        return second_factor_failed();
    };
    match banned(
        &state,
        &account_key,
        subject,
        AttemptFactor::Second,
        ATTEMPT_METHOD,
    )
    .await
    {
        Ok(false) => {}
        Ok(true) => return second_factor_failed(),
        Err(response) => return response,
    }

    let verified =
        verify_assertion(&state, &portal, &session.id_hash, ASSERTION, &body.response).await;
    let accepted = match verified {
        Ok(Some(outcome)) if outcome.username == username => true,
        Ok(Some(_)) => {
            tracing::warn!(target: "gatehouse::audit", username, "WebAuthn assertion rejected: the credential belongs to another user");
            false
        }
        Ok(None) => false,
        Err(response) => return response,
    };
    record(
        &state,
        &account_key,
        subject,
        AttemptFactor::Second,
        ATTEMPT_METHOD,
        accepted,
        false,
    )
    .await;
    if !accepted {
        return second_factor_failed();
    }
    finish_second_factor(&state, &portal, session, body.target_url.as_deref()).await
}

/// Raises the session to level two (new id) and responds as every second factor does.
async fn finish_second_factor(
    state: &PortalState,
    portal: &PortalRequest<'_>,
    session: ActiveSession,
    target_url: Option<&str>,
) -> Response {
    let domain = &portal.entry.config;
    let cookie = if session.level() < Level::TwoFactor {
        match state
            .sessions
            .raise_level(session, domain, Level::TwoFactor)
            .await
        {
            Ok((_, cookie)) => Some(cookie),
            Err(error) => {
                tracing::error!(%error, "second factor accepted but raising the session level failed");
                return internal_error();
            }
        }
    } else {
        None
    };
    let data = match safe_target(state, target_url) {
        Some(url) => Some(redirect_data(&url)),
        None => default_redirect_data(portal.entry),
    };
    with_cookie(ok(data), cookie)
}

/// The user and flags of a verified assertion.
struct VerifiedAssertion {
    username: String,
    /// The authenticator verified the user and the credential was registered with verification.
    user_verified: bool,
}

/// Consumes the ceremony under (`binding`, `kind`) and verifies `response` against it and the
/// stored credential. Returns `Ok(None)` for every failure (logged), `Err` for internal errors.
async fn verify_assertion(
    state: &PortalState,
    portal: &PortalRequest<'_>,
    binding: &str,
    kind: &str,
    response: &PublicKeyCredential,
) -> Result<Option<VerifiedAssertion>, Response> {
    let now = state.clock.now_millis();
    let pending = match state.db.take_ceremony(binding, kind, now).await {
        Ok(Some(pending)) => pending,
        Ok(None) => {
            tracing::info!("WebAuthn assertion rejected: no pending challenge, or it expired");
            return Ok(None);
        }
        Err(error) => {
            tracing::error!(%error, "reading a WebAuthn assertion state failed");
            return Err(internal_error());
        }
    };
    let Ok(pending) = serde_json::from_slice::<PendingAssertion>(&pending.state) else {
        tracing::error!("a pending WebAuthn assertion has an unreadable state");
        return Err(internal_error());
    };
    let portal_url = portal
        .entry
        .portal
        .as_ref()
        .expect("a matched entry has a portal URL");
    let (core, rp_id) = relying_party(state, portal_url).ok_or_else(internal_error)?;
    if rp_id != pending.rp_id {
        tracing::info!(
            "WebAuthn assertion rejected: the portal's RP ID changed during the ceremony"
        );
        return Ok(None);
    }

    let credential_id = encode_id(&response.raw_id);
    let row = match state.db.get_webauthn_credential(&credential_id).await {
        Ok(Some(row)) if row.rp_id == rp_id => row,
        Ok(_) => {
            tracing::warn!(target: "gatehouse::audit", "WebAuthn assertion rejected: unknown credential");
            return Ok(None);
        }
        Err(error) => {
            tracing::error!(%error, "reading a WebAuthn credential failed");
            return Err(internal_error());
        }
    };
    if let Some(handle) = &response.response.user_handle {
        if *handle != user_handle(state, &row.username).await? {
            tracing::warn!(target: "gatehouse::audit", username = %row.username, "WebAuthn assertion rejected: the user handle does not match the credential's user");
            return Ok(None);
        }
    }
    let Some(credential) = stored_credential(&row) else {
        return Err(internal_error());
    };
    let result = match core.authenticate_single_credential(response, &pending.state, &credential) {
        Ok(result) => result,
        Err(error) => {
            tracing::warn!(target: "gatehouse::audit", %error, username = %row.username, "WebAuthn assertion rejected");
            return Ok(None);
        }
    };
    let user_verified = result.user_verified() && credential.user_verified;
    let stored = store_use(
        state,
        &row,
        credential,
        result.counter(),
        result.backup_state(),
    )
    .await?;
    if !stored {
        tracing::warn!(target: "gatehouse::audit", username = %row.username, "WebAuthn assertion rejected: a higher signature counter was stored meanwhile");
        return Ok(None);
    }
    Ok(Some(VerifiedAssertion {
        username: row.username,
        user_verified,
    }))
}

/// `GET /api/firstfactor/passkey`: starts a passkey login; returns the options for
/// `navigator.credentials.get()` and sets the cookie that binds the challenge to this browser.
pub(super) async fn passkey_options(
    State(state): State<Arc<PortalState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let portal = match admit(&state, peer, &headers, false) {
        Ok(portal) => portal,
        Err(response) => return response,
    };
    if state.config.webauthn.disable || !state.config.webauthn.enable_passkey_login {
        return ko(StatusCode::NOT_FOUND, "Passkey login is not enabled.");
    }
    let client = portal.subject().address();
    if let Err(limited) = state.passkey_limiter.acquire(client) {
        tracing::info!(%client, "passkey login start rejected: rate limit exceeded");
        return too_many_requests(limited.retry_after);
    }
    // Anonymous requests add rows here, and nothing else deletes expired ones, so each start
    // deletes them first.
    if let Err(error) = state
        .db
        .delete_expired_ceremonies(state.clock.now_millis())
        .await
    {
        tracing::error!(%error, "deleting expired WebAuthn ceremonies failed");
        return internal_error();
    }
    let mut handle_bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut handle_bytes);
    let handle = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(handle_bytes);
    let binding = hex::encode(Sha256::digest(handle.as_bytes()));
    let options =
        match start_assertion(&state, &portal, &binding, PASSKEY_LOGIN, None, Vec::new()).await {
            Ok(options) => options,
            Err(response) => return response,
        };
    let max_age = ceremony_lifetime_millis(&state) / 1000;
    let mut response = ok(Some(options));
    response
        .headers_mut()
        .append(SET_COOKIE, passkey_cookie(&portal, &handle, max_age));
    response
}

/// Builds the passkey cookie; `max_age` 0 clears it. It is host-only, so only the portal receives it.
fn passkey_cookie(portal: &PortalRequest<'_>, value: &str, max_age: i64) -> HeaderValue {
    let secure = portal
        .entry
        .portal
        .as_ref()
        .is_some_and(|url| url.scheme() == "https");
    let text = format!(
        "{PASSKEY_COOKIE}={value}; Path={PASSKEY_PATH}; Max-Age={max_age}; HttpOnly{}; SameSite=Strict",
        if secure { "; Secure" } else { "" }
    );
    HeaderValue::from_str(&text).expect("the passkey cookie is a valid header value")
}

/// Returns the passkey handle of the request's cookie, when it has exactly one.
fn passkey_handle(headers: &HeaderMap) -> Option<String> {
    let mut found = None;
    for header in headers.get_all(axum::http::header::COOKIE) {
        for pair in header.to_str().ok()?.split(';') {
            let Some((name, value)) = pair.trim().split_once('=') else {
                continue;
            };
            if name == PASSKEY_COOKIE {
                if found.is_some() {
                    return None;
                }
                found = Some(value.to_owned());
            }
        }
    }
    found.filter(|value| !value.is_empty() && value.len() <= 64)
}

/// `POST /api/firstfactor/passkey {"response", "keepMeLoggedIn", "targetURL", "requestMethod"}`:
/// logs the user in with a passkey. Every failure gets the first factor's 401.
pub(super) async fn passkey_login(
    State(state): State<Arc<PortalState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let portal = match admit(&state, peer, &headers, true) {
        Ok(portal) => portal,
        Err(response) => return response,
    };
    if state.config.webauthn.disable || !state.config.webauthn.enable_passkey_login {
        return ko(StatusCode::NOT_FOUND, "Passkey login is not enabled.");
    }
    let clear = passkey_cookie(&portal, "", 0);
    let failed = || with_cookie(first_factor_failed(), Some(clear.clone()));
    let Ok(body) = serde_json::from_slice::<PasskeyBody>(&body) else {
        tracing::debug!("passkey login rejected: malformed body");
        return failed();
    };
    let Some(handle) = passkey_handle(&headers) else {
        tracing::info!("passkey login rejected: no passkey cookie");
        return failed();
    };
    let binding = hex::encode(Sha256::digest(handle.as_bytes()));
    let subject = portal.subject();

    // The ban check needs the account, which only the stored credential names; an unknown
    // credential fails in `verify_assertion` without a record.
    let owner = match state
        .db
        .get_webauthn_credential(&encode_id(&body.response.raw_id))
        .await
    {
        Ok(row) => row.map(|row| row.username),
        Err(error) => {
            tracing::error!(%error, "passkey login failed: reading the credential failed");
            return internal_error();
        }
    };
    let account_key = owner.as_deref().map(str::to_lowercase);
    if let Some(account_key) = &account_key {
        match banned(
            &state,
            account_key,
            subject,
            AttemptFactor::First,
            PASSKEY_METHOD,
        )
        .await
        {
            Ok(false) => {}
            Ok(true) => {
                let _ = state.db.delete_ceremony(&binding, PASSKEY_LOGIN).await;
                return failed();
            }
            Err(response) => return response,
        }
    }

    let verified =
        match verify_assertion(&state, &portal, &binding, PASSKEY_LOGIN, &body.response).await {
            Ok(verified) => verified,
            Err(response) => return response,
        };
    let user = match &verified {
        Some(verified) => match state.directory.get(&verified.username).await {
            Ok(Some(user)) if !user.disabled => Some(user),
            Ok(_) => None,
            Err(error) => {
                tracing::error!(%error, "passkey login failed: user lookup failed");
                return internal_error();
            }
        },
        None => None,
    };
    let (Some(verified), Some(user)) = (verified, user) else {
        if let Some(account_key) = &account_key {
            record(
                &state,
                account_key,
                subject,
                AttemptFactor::First,
                PASSKEY_METHOD,
                false,
                false,
            )
            .await;
        }
        return failed();
    };
    let account_key = user.username.to_lowercase();
    record(
        &state,
        &account_key,
        subject,
        AttemptFactor::First,
        PASSKEY_METHOD,
        true,
        false,
    )
    .await;

    let two_factor = state
        .config
        .webauthn
        .experimental_enable_passkey_uv_two_factors
        && verified.user_verified;
    let level = if two_factor {
        Level::TwoFactor
    } else {
        Level::OneFactor
    };
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
                .replace(previous, domain, &user, level, remember_me)
                .await
        }
        None => {
            state
                .sessions
                .create(domain, &user, level, remember_me)
                .await
        }
    };
    let (mut session, cookie) = match created {
        Ok(created) => created,
        Err(error) => {
            tracing::error!(%error, username = %user.username, "passkey login failed: storing the session failed");
            return internal_error();
        }
    };
    if let Err(error) = state
        .sessions
        .set_data_value(&mut session, FIRST_FACTOR_KEY, json!(PASSKEY_METHOD))
        .await
    {
        tracing::error!(%error, username = %user.username, "passkey login failed: marking the session failed");
        return internal_error();
    }
    tracing::info!(username = %user.username, level = %level, "passkey login");

    let safe_url = safe_target(&state, body.target_url.as_deref());
    let data = match safe_url {
        Some(url) if two_factor => Some(redirect_data(&url)),
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
                None => passkey_default_data(&state, &portal, two_factor),
            }
        }
        None => passkey_default_data(&state, &portal, two_factor),
    };
    let mut response = with_cookie(ok(data), Some(cookie));
    response.headers_mut().append(SET_COOKIE, clear);
    response
}

/// Returns the `data` of a passkey login without a usable target, as the first or second factor responds.
fn passkey_default_data(
    state: &PortalState,
    portal: &PortalRequest<'_>,
    two_factor: bool,
) -> Option<serde_json::Value> {
    if two_factor || !state.authz.access.is_two_factor_in_use() {
        default_redirect_data(portal.entry)
    } else {
        None
    }
}

/// `POST /api/secondfactor/password {"password", "targetURL"}`: the password as the second step
/// of a session that began with a passkey. Bans apply as for a password login; failures get 401.
pub(super) async fn password_step(
    State(state): State<Arc<PortalState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let portal = match admit(&state, peer, &headers, true) {
        Ok(portal) => portal,
        Err(response) => return response,
    };
    let session = match logged_in(&state, &portal, &headers).await {
        Ok(session) => session,
        Err(response) => return response,
    };
    let Ok(body) = serde_json::from_slice::<PasswordBody>(&body) else {
        return first_factor_failed();
    };
    let passkey_session = session
        .data_value(FIRST_FACTOR_KEY)
        .and_then(|value| value.as_str())
        == Some(PASSKEY_METHOD);
    if !passkey_session || body.password.is_empty() {
        tracing::debug!(
            username = session.username(),
            "password step rejected: not a passkey session or empty password"
        );
        return first_factor_failed();
    }
    let username = session.username().to_owned();
    let account_key = username.to_lowercase();
    let subject = portal.subject();
    match banned(
        &state,
        &account_key,
        subject,
        AttemptFactor::Second,
        "password",
    )
    .await
    {
        Ok(false) => {}
        Ok(true) => return first_factor_failed(),
        Err(response) => return response,
    }

    let user = match state.directory.get(&username).await {
        Ok(user) => user.filter(|user| !user.disabled),
        Err(error) => {
            tracing::error!(%error, username, "password step failed: user lookup failed");
            return internal_error();
        }
    };
    let stored_hash = user.as_ref().map(|user| user.password_hash.expose());
    let verified = match state
        .pool
        .verify_or_dummy(Password::from(body.password), stored_hash)
        .await
    {
        Ok(verified) => verified,
        Err(PoolError::Busy) => return busy(),
        Err(error) => {
            tracing::error!(%error, username, "password step failed: password verification failed");
            return internal_error();
        }
    };
    let accepted = user.is_some() && verified.matches;
    record(
        &state,
        &account_key,
        subject,
        AttemptFactor::Second,
        "password",
        accepted,
        false,
    )
    .await;
    if !accepted {
        tracing::info!(username, "password step rejected: wrong password");
        return first_factor_failed();
    }
    finish_second_factor(&state, &portal, session, body.target_url.as_deref()).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passkey_handle_needs_one_cookie() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "cookie",
            HeaderValue::from_static("a=1; gatehouse_passkey=abc"),
        );
        assert_eq!(passkey_handle(&headers).as_deref(), Some("abc"));
        headers.insert(
            "cookie",
            HeaderValue::from_static("gatehouse_passkey=abc; gatehouse_passkey=def"),
        );
        assert_eq!(passkey_handle(&headers), None);
        headers.insert("cookie", HeaderValue::from_static("other=1"));
        assert_eq!(passkey_handle(&headers), None);
    }
}
