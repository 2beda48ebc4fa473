//! The user's second-factor settings: `GET /api/configuration`, `POST /api/user/info/2fa_method`
//! and `GET /api/secondfactor/totp`.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use super::account::{
    enabled_methods, json_body, logged_in, storage_failure, store_preference, user_methods, TOTP,
    WEBAUTHN,
};
use super::request::admit;
use super::response::{ko, ok};
use super::PortalState;

/// `GET /api/configuration`: the methods the portal offers and whether password change and
/// reset are available, for a logged-in user.
pub(super) async fn configuration(
    State(state): State<Arc<PortalState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let portal = match admit(&state, peer, &headers, false) {
        Ok(portal) => portal,
        Err(response) => return response,
    };
    if let Err(response) = logged_in(&state, &portal, &headers).await {
        return response;
    }
    let backend = &state.config.authentication_backend;
    ok(Some(json!({
        "available_methods": enabled_methods(&state),
        "password_change_disabled": backend.password_change.disable,
        "password_reset_disabled": backend.password_reset.disable,
    })))
}

#[derive(Deserialize)]
struct PreferredMethodBody {
    method: String,
}

/// `POST /api/user/info/2fa_method`: stores the method the portal offers first. Only a method
/// that is enabled and that the user has registered is accepted (400 otherwise).
pub(super) async fn set_preferred_method(
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
    let body: PreferredMethodBody = match json_body(
        &body,
        "The body must be a JSON object with a method string.",
    ) {
        Ok(body) => body,
        Err(response) => return response,
    };
    let username = session.username();

    let methods = match user_methods(&state, username).await {
        Ok(methods) => methods,
        Err(error) => return storage_failure(&error, username, "read second-factor methods"),
    };
    let registered = match body.method.as_str() {
        TOTP => methods.has_totp,
        WEBAUTHN => methods.has_webauthn,
        _ => false,
    };
    if !registered || !enabled_methods(&state).contains(&body.method.as_str()) {
        return ko(
            StatusCode::BAD_REQUEST,
            "The method must be an enabled second-factor method that you have registered: totp or webauthn.",
        );
    }
    if let Err(error) = store_preference(&state, username, &body.method).await {
        return storage_failure(&error, username, "store the preferred method");
    }
    tracing::info!(username, method = %body.method, "preferred second-factor method changed");
    ok(None)
}

/// `GET /api/secondfactor/totp`: the parameters of the user's TOTP device (never its secret);
/// 404 when the user has none.
pub(super) async fn totp_device(
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
    let device = match state.db.get_totp_configuration(username).await {
        Ok(Some(device)) => device,
        Ok(None) => return ko(StatusCode::NOT_FOUND, "No TOTP device is registered."),
        Err(error) => return storage_failure(&error, username, "read the TOTP device"),
    };
    ok(Some(json!({
        "issuer": device.issuer,
        "algorithm": device.algorithm,
        "digits": device.digits,
        "period": device.period,
        "created_at": device.created_at,
        "last_used_at": device.last_used_at,
    })))
}
