//! The session endpoints: `GET /api/state`, `GET /api/user/info`, `POST /api/logout` and
//! `POST /api/checks/safe-redirection`.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use crate::session::{ActiveSession, Level, SessionStore};

use super::account::user_methods;
use super::extract::{BodyShape, JsonBody, PortalSession};
use super::request::admit;
use super::response::{internal_error, ko, ok, with_cookie};
use super::target::safe_target;
use super::webauthn_login::FIRST_FACTOR_KEY;
use super::PortalState;

/// `GET /api/state`: the user and level of the browser's session, anonymous when it has none.
pub(super) async fn state(
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
    let (username, level) = match &resolution.session {
        Some(session) => (session.username(), session.level()),
        None => ("", Level::Anonymous),
    };
    let mut data = json!({
        "username": username,
        "authentication_level": level.number(),
        "factor_knowledge": resolution.session.as_ref().is_some_and(factor_knowledge),
    });
    if let Some(url) = &portal.entry.config.default_redirection_url {
        data["default_redirection_url"] = json!(url.as_str());
    }
    with_cookie(ok(Some(data)), resolution.clear_cookie)
}

/// Tells whether the session's user proved a knowledge factor (the password). A passkey login
/// proves possession only, until the password step raises it to level two.
pub(super) fn factor_knowledge(session: &ActiveSession) -> bool {
    let passkey_only = session.level() == Level::OneFactor
        && session
            .data_value(FIRST_FACTOR_KEY)
            .and_then(|value| value.as_str())
            == Some("passkey");
    session.level() >= Level::OneFactor && !passkey_only
}

/// `GET /api/user/info`: the profile and second-factor methods of a logged-in user.
pub(super) async fn user_info(
    State(state): State<Arc<PortalState>>,
    request: PortalSession<false>,
) -> Response {
    let session = &request.session;
    let username = session.username();
    let methods = match user_methods(&state, username).await {
        Ok(methods) => methods,
        Err(error) => {
            tracing::error!(%error, username, "reading the user's second-factor methods failed");
            return internal_error();
        }
    };
    ok(Some(json!({
        "display_name": session.display_name(),
        "emails": session.emails(),
        "method": methods.method,
        "has_totp": methods.has_totp,
        "has_webauthn": methods.has_webauthn,
        // Duo push is not implemented.
        "has_duo": false,
    })))
}

#[derive(Deserialize, Default)]
struct LogoutBody {
    #[serde(rename = "targetURL", default)]
    target_url: Option<String>,
}

/// Reads the logout body: empty (no target URL) or a JSON object. serde would also read a
/// struct from a JSON array (`[]`, `["https://…"]`), so the shape is checked first.
fn parse_logout_body(body: &[u8]) -> Option<LogoutBody> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Some(LogoutBody::default());
    }
    let value = serde_json::from_slice::<serde_json::Value>(body).ok()?;
    if !value.is_object() {
        return None;
    }
    serde_json::from_value(value).ok()
}

/// `POST /api/logout`: deletes the session from the store and clears the cookie. An empty body
/// counts as no target URL.
pub(super) async fn logout(
    State(state): State<Arc<PortalState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let portal = match admit(&state, peer, &headers, true) {
        Ok(portal) => portal,
        Err(response) => return response,
    };
    let Some(body) = parse_logout_body(&body) else {
        return ko(
            StatusCode::BAD_REQUEST,
            "The body must be empty or a JSON object with an optional targetURL string.",
        );
    };

    let domain = &portal.entry.config;
    let resolution = state.sessions.resolve(&headers, domain).await;
    if resolution.store_error {
        return internal_error();
    }
    let cookie = match resolution.session {
        Some(session) => match state.sessions.destroy(session, domain).await {
            Ok(cookie) => cookie,
            Err(error) => {
                tracing::error!(%error, "logout failed: deleting the session failed");
                return internal_error();
            }
        },
        None => SessionStore::clear_cookie(domain),
    };
    let safe = safe_target(&state, body.target_url.as_deref()).is_some();
    with_cookie(ok(Some(json!({ "safeTargetURL": safe }))), Some(cookie))
}

#[derive(Deserialize)]
pub(super) struct SafeRedirectionBody {
    uri: String,
}

impl BodyShape for SafeRedirectionBody {
    const EXPECTED: &'static str = "The body must be a JSON object with a uri string.";
}

/// `POST /api/checks/safe-redirection`: whether `uri` is a safe redirect target, for a
/// logged-in user.
pub(super) async fn safe_redirection(
    State(state): State<Arc<PortalState>>,
    _request: PortalSession<true>,
    JsonBody(body): JsonBody<SafeRedirectionBody>,
) -> Response {
    let safe = safe_target(&state, Some(&body.uri)).is_some();
    ok(Some(json!({ "ok": safe })))
}
