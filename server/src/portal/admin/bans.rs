//! Bans: `GET`/`POST /api/admin/bans` and `DELETE /api/admin/bans/{id}`.
//!
//! An administrator's ban is stored with the source `admin`. The login checks it only for the
//! kinds `regulation.modes` turns on: a user ban needs mode `user`, an IP ban mode `ip`.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::identity::names::{normalize_username, validate_username};
use crate::storage::{Ban, BanKind, BanSource, NewBan};

use super::super::account::json_body;
use super::super::response::{ko, ok};
use super::super::PortalState;
use super::{admin_or_return, storage_failure, AdminRequest};

/// The maximum length of a ban's reason, in characters.
const MAX_REASON_CHARS: usize = 200;

/// The maximum duration of a ban with an end, in seconds: ten years. Longer bans are added
/// without an end (duration 0).
const MAX_DURATION_SECS: u64 = 10 * 365 * 24 * 3600;

/// `GET /api/admin/bans`: every ban in force, newest first.
pub(super) async fn list(
    State(state): State<Arc<PortalState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let admin = admin_or_return!(state, peer, headers, false);
    let now = state.clock.now_millis();
    match state.db.list_active_bans(now).await {
        Ok(bans) => {
            let bans: Vec<Value> = bans.iter().map(ban_json).collect();
            ok(Some(json!({ "bans": bans })))
        }
        Err(error) => storage_failure(&error, admin.username(), "list bans"),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewBanBody {
    kind: String,
    value: String,
    /// Seconds from now; absent or 0 bans until revoked.
    #[serde(default)]
    duration: u64,
    #[serde(default)]
    reason: String,
}

/// `POST /api/admin/bans`: bans a user name or a client IP address.
pub(super) async fn add(
    State(state): State<Arc<PortalState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let admin = admin_or_return!(state, peer, headers, true);
    let expected = "Expected a JSON object with kind (\"user\" or \"ip\"), value, and optionally \
                    duration (seconds) and reason.";
    let body: NewBanBody = match json_body(&body, expected) {
        Ok(body) => body,
        Err(response) => return response,
    };
    let (kind, value) = match ban_target(&body.kind, &body.value) {
        Ok(target) => target,
        Err(message) => return ko(StatusCode::BAD_REQUEST, message),
    };
    let reason = body.reason.trim();
    if reason.chars().any(char::is_control) || reason.chars().count() > MAX_REASON_CHARS {
        return ko(
            StatusCode::BAD_REQUEST,
            "The reason must be at most 200 characters without control characters.",
        );
    }
    if body.duration > MAX_DURATION_SECS {
        return ko(
            StatusCode::BAD_REQUEST,
            "The duration is longer than ten years; use 0 for a ban until revoked.",
        );
    }

    if bans_the_admin(&admin, kind, &value) {
        return ko(
            StatusCode::CONFLICT,
            "You cannot ban your own user name or the address you are connected from.",
        );
    }

    let now = state.clock.now_millis();
    let duration_millis = i64::try_from(body.duration).unwrap_or(0) * 1000;
    let ban = NewBan {
        kind,
        value: value.clone(),
        expires_at: (body.duration > 0).then_some(now + duration_millis),
        source: BanSource::Admin,
        reason: reason.to_owned(),
        created_at: now,
    };
    match state.db.add_ban(&ban).await {
        Ok(id) => {
            let details = json!({ "kind": kind.as_str(), "id": id });
            admin
                .audit(&state, "admin.ban_added", &value, details)
                .await;
            tracing::info!(admin = admin.username(), kind = %kind, ban_id = id, "ban added by an administrator");
            ok(Some(json!({ "id": id })))
        }
        Err(error) => storage_failure(&error, admin.username(), "add a ban"),
    }
}

/// Checks whether a ban would shut out the administrator making it: their own user name, or the
/// address this request is counted under. As with disabling oneself, the last administrator must
/// not lock everyone out, here everyone behind the same address too.
fn bans_the_admin(admin: &AdminRequest<'_>, kind: BanKind, value: &str) -> bool {
    match kind {
        BanKind::User => value == normalize_username(admin.username()),
        BanKind::Ip => value.parse::<IpAddr>().is_ok_and(|banned| {
            banned.to_canonical() == admin.portal.subject().address().to_canonical()
        }),
    }
}

/// Parses the kind and value of a ban: a user name (lower-cased, as regulation's account keys
/// are) or an IP address (in the form regulation records).
fn ban_target(kind: &str, value: &str) -> Result<(BanKind, String), &'static str> {
    match kind {
        "user" => {
            validate_username(value.trim()).map_err(|_| {
                "The value is not a valid user name (no control characters, ',' or ':')."
            })?;
            Ok((BanKind::User, normalize_username(value.trim())))
        }
        "ip" => value
            .trim()
            .parse::<IpAddr>()
            .map(|address| (BanKind::Ip, address.to_string()))
            .map_err(|_| "The value is not an IP address such as 192.0.2.7 or 2001:db8::7."),
        _ => Err("The kind must be \"user\" or \"ip\"."),
    }
}

/// `DELETE /api/admin/bans/{id}`: ends a ban at once.
pub(super) async fn revoke(
    State(state): State<Arc<PortalState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let admin = admin_or_return!(state, peer, headers, true);
    let Ok(id) = id.parse::<i64>() else {
        return not_found();
    };
    let now = state.clock.now_millis();
    match state.db.revoke_ban(id, now).await {
        Ok(true) => {
            let details = json!({ "id": id });
            admin
                .audit(&state, "admin.ban_revoked", &id.to_string(), details)
                .await;
            tracing::info!(
                admin = admin.username(),
                ban_id = id,
                "ban revoked by an administrator"
            );
            ok(None)
        }
        Ok(false) => not_found(),
        Err(error) => storage_failure(&error, admin.username(), "revoke a ban"),
    }
}

fn not_found() -> Response {
    ko(StatusCode::NOT_FOUND, "No ban in force has this id.")
}

fn ban_json(ban: &Ban) -> Value {
    json!({
        "id": ban.id,
        "kind": ban.kind.as_str(),
        "value": ban.value,
        "expires_at": ban.expires_at,
        "source": ban.source.as_str(),
        "reason": ban.reason,
        "created_at": ban.created_at,
    })
}
