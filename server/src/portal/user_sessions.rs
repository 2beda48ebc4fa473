//! The user's own sessions, a Gatehouse addition for the settings page:
//! `GET /api/user/sessions` and `DELETE /api/user/sessions/{id}`.
//!
//! A session is named by its public handle, 128 random bits drawn apart from the session id and
//! kept in the session's data. Neither the id nor its hash is ever sent, so the list reveals
//! nothing that could rebuild a cookie.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::json;

use crate::session::{record_handle, SessionStore};

use super::account::{audit, logged_in, storage_failure};
use super::request::admit;
use super::response::{internal_error, ko, ok, with_cookie};
use super::PortalState;

/// `GET /api/user/sessions`: the caller's sessions, newest first.
pub(super) async fn list(
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
    let mut records = match state.db.list_sessions_of_user(username).await {
        Ok(records) => records,
        Err(error) => return storage_failure(&error, username, "list sessions"),
    };
    records.reverse();

    let sessions: Vec<_> = records
        .iter()
        .map(|record| {
            json!({
                "id": record_handle(record),
                "cookie_domain": record.cookie_domain,
                "authentication_level": record.level,
                "created_at": record.first_factor_at.unwrap_or(record.created_at),
                "last_activity_at": record.last_activity_at,
                "remember_me": record.remember_me,
                "current": record.id_hash == session.id_hash,
            })
        })
        .collect();
    ok(Some(json!({ "sessions": sessions })))
}

/// `DELETE /api/user/sessions/{id}`: ends one of the caller's sessions at once. Ending the
/// current session works like a logout: the response also clears the cookie.
pub(super) async fn end(
    State(state): State<Arc<PortalState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(handle): Path<String>,
    headers: HeaderMap,
) -> Response {
    let portal = match admit(&state, peer, &headers, true) {
        Ok(portal) => portal,
        Err(response) => return response,
    };
    let session = match logged_in(&state, &portal, &headers).await {
        Ok(session) => session,
        Err(response) => return response,
    };
    let username = session.username();
    let current = session.handle() == Some(handle.as_str());
    let ended = state.sessions.end_by_handle(username, &handle).await;
    if matches!(ended, Ok(true)) {
        audit(
            &state,
            &portal,
            username,
            "session.ended",
            json!({ "id": handle }),
        )
        .await;
    }
    match ended {
        Ok(true) if current => with_cookie(
            ok(None),
            Some(SessionStore::clear_cookie(&portal.entry.config)),
        ),
        Ok(true) => ok(None),
        Ok(false) => ko(StatusCode::NOT_FOUND, "You have no session with this id."),
        Err(error) => {
            tracing::error!(%error, username, "ending a session of the user failed");
            internal_error()
        }
    }
}
