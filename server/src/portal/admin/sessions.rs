//! Every user's sessions: `GET /api/admin/sessions` and `DELETE /api/admin/sessions/{id}`.
//!
//! Sessions are named by the same public handle as in `GET /api/user/sessions`; neither the
//! session id nor its hash is sent.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

use crate::session::{record_handle, SessionStore};

use super::super::response::{ko, ok, with_cookie};
use super::super::PortalState;
use super::{admin_or_return, storage_failure};

/// `GET /api/admin/sessions`: the sessions of every user, newest first.
pub(super) async fn list(
    State(state): State<Arc<PortalState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let admin = admin_or_return!(state, peer, headers, false);
    let records = match state.db.list_user_sessions().await {
        Ok(records) => records,
        Err(error) => return storage_failure(&error, admin.username(), "list sessions"),
    };
    let sessions: Vec<Value> = records
        .iter()
        .filter_map(|record| {
            // A session stored before handles existed cannot be named, so it is not listed.
            let handle = record_handle(record)?;
            Some(json!({
                "id": handle,
                "username": record.username,
                "cookie_domain": record.cookie_domain,
                "authentication_level": record.level,
                "created_at": record.first_factor_at.unwrap_or(record.created_at),
                "last_activity_at": record.last_activity_at,
                "remember_me": record.remember_me,
                "current": record.id_hash == admin.session.id_hash,
            }))
        })
        .collect();
    ok(Some(json!({ "sessions": sessions })))
}

/// `DELETE /api/admin/sessions/{id}`: ends any user's session at once. Ending the caller's own
/// session also clears its cookie, as a logout does.
pub(super) async fn end(
    State(state): State<Arc<PortalState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(handle): Path<String>,
    headers: HeaderMap,
) -> Response {
    let admin = admin_or_return!(state, peer, headers, true);
    let records = match state.db.list_user_sessions().await {
        Ok(records) => records,
        Err(error) => return storage_failure(&error, admin.username(), "list sessions"),
    };
    let owner = records
        .iter()
        .find(|record| record_handle(record) == Some(handle.as_str()))
        .and_then(|record| record.username.clone());
    let Some(owner) = owner else {
        return not_found();
    };
    match state.sessions.end_by_handle(&owner, &handle).await {
        Ok(true) => {
            admin
                .audit(
                    &state,
                    "admin.session_ended",
                    &owner,
                    json!({ "id": handle }),
                )
                .await;
            tracing::info!(admin = admin.username(), username = %owner, "session ended by an administrator");
            if admin.session.handle() == Some(handle.as_str()) {
                let cookie = SessionStore::clear_cookie(&admin.portal.entry.config);
                return with_cookie(ok(None), Some(cookie));
            }
            ok(None)
        }
        Ok(false) => not_found(),
        Err(error) => storage_failure(&error, admin.username(), "end a session"),
    }
}

fn not_found() -> Response {
    ko(
        StatusCode::NOT_FOUND,
        "No session has this id; it may have ended already.",
    )
}
