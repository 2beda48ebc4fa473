//! The administrators' JSON API under `/api/admin/`: users, groups, sessions and bans.
//!
//! Every route needs a session at two factors whose user is, according to the directory read on
//! this request, an enabled member of `administration.group`. Any other caller, anonymous
//! included, gets 403, the status for an endpoint whose caller has less than it needs. State-changing routes (POST, PUT, DELETE) also pass the cross-site check
//! and need an elevated session, as the sensitive self-service actions do. Input that would
//! become a response header (names, e-mail addresses, groups) is validated before anything is
//! stored, and a rejected request changes nothing.

mod bans;
mod sessions;
mod users;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{delete, get, put};
use axum::Router;

use crate::session::{ActiveSession, Level};

use super::account::audit;
use super::elevation::require_elevated;
use super::request::{admit, PortalRequest};
use super::response::{internal_error, ko, with_cookie};
use super::PortalState;

/// Builds the `/api/admin/…` routes.
pub(super) fn routes() -> Router<Arc<PortalState>> {
    Router::new()
        .route("/api/admin/users", get(users::list).post(users::create))
        .route(
            "/api/admin/users/{username}",
            put(users::update).delete(users::remove),
        )
        .route("/api/admin/groups", get(users::groups))
        .route("/api/admin/sessions", get(sessions::list))
        .route("/api/admin/sessions/{id}", delete(sessions::end))
        .route("/api/admin/bans", get(bans::list).post(bans::add))
        .route("/api/admin/bans/{id}", delete(bans::revoke))
}

/// A request admitted to the admin API: the portal it is for and the administrator's session.
struct AdminRequest<'a> {
    portal: PortalRequest<'a>,
    session: ActiveSession,
}

impl AdminRequest<'_> {
    fn username(&self) -> &str {
        self.session.username()
    }

    /// Appends `action` by this administrator about `subject` to the audit log.
    async fn audit(
        &self,
        state: &PortalState,
        action: &str,
        subject: &str,
        details: serde_json::Value,
    ) {
        let mut details = details;
        if let Some(map) = details.as_object_mut() {
            map.insert("subject".to_owned(), serde_json::json!(subject));
        }
        audit(state, &self.portal, self.username(), action, details).await;
    }
}

/// Admits an admin API request. It matches the portal (400) and applies the cross-site check to
/// state-changing requests (403). It then requires an administrator's two-factor session (403
/// otherwise, with or without a session) and, for state-changing requests, an elevated one (403
/// with the elevation flags).
async fn admit_admin<'a>(
    state: &'a PortalState,
    peer: SocketAddr,
    headers: &HeaderMap,
    state_changing: bool,
) -> Result<AdminRequest<'a>, Response> {
    let portal = admit(state, peer, headers, state_changing)?;
    let resolution = state.sessions.resolve(headers, &portal.entry.config).await;
    if resolution.store_error {
        return Err(internal_error());
    }
    let Some(session) = resolution.session else {
        let response = ko(StatusCode::FORBIDDEN, "Sign in to use the admin pages.");
        return Err(with_cookie(response, resolution.clear_cookie));
    };
    if !is_administrator(state, &session).await? {
        tracing::info!(
            username = session.username(),
            level = %session.level(),
            "admin request refused: not an administrator at two factors"
        );
        return Err(ko(
            StatusCode::FORBIDDEN,
            "The admin pages need a two-factor session of a member of the administrators' group.",
        ));
    }
    if state_changing {
        require_elevated(state, &portal, &session).await?;
    }
    Ok(AdminRequest { portal, session })
}

/// Checks that the session is at two factors and that the directory, read now rather than from
/// the session's cached profile, lists its user as an enabled member of `administration.group`.
async fn is_administrator(state: &PortalState, session: &ActiveSession) -> Result<bool, Response> {
    if session.level() < Level::TwoFactor {
        return Ok(false);
    }
    let group = &state.config.administration.group;
    match state.directory.get(session.username()).await {
        Ok(Some(user)) => Ok(!user.disabled && user.groups.iter().any(|name| name == group)),
        Ok(None) => Ok(false),
        Err(error) => {
            tracing::error!(%error, username = session.username(), "reading an administrator from the directory failed");
            Err(internal_error())
        }
    }
}

/// Admits a request or returns its refusal from the handler.
macro_rules! admin_or_return {
    ($state:expr, $peer:expr, $headers:expr, $state_changing:expr) => {
        match super::admit_admin(&$state, $peer, &$headers, $state_changing).await {
            Ok(request) => request,
            Err(response) => return response,
        }
    };
}
use admin_or_return;

/// Logs a storage failure of an admin request and returns 500.
fn storage_failure(error: &dyn std::fmt::Display, admin: &str, action: &str) -> Response {
    tracing::error!(%error, admin, action, "admin request failed: storage error");
    internal_error()
}
