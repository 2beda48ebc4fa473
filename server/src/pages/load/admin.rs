//! The loader of the admin pages: one admin API call decides whether the session may see the
//! page and returns its table, and the elevation state decides whether the page offers the
//! confirmation code.

use app::pages::admin::{AdminBan, AdminData, AdminSession, AdminUser};
use axum::http::{Method, StatusCode};
use serde_json::Value;

use super::{format_utc, Caller, PageData, PagesState};

/// The admin pages.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum AdminPage {
    Overview,
    Users,
    Sessions,
    Bans,
}

impl AdminPage {
    pub(super) fn from_path(path: &str) -> Option<AdminPage> {
        Some(match path {
            "/admin" => AdminPage::Overview,
            "/admin/users" => AdminPage::Users,
            "/admin/sessions" => AdminPage::Sessions,
            "/admin/bans" => AdminPage::Bans,
            _ => return None,
        })
    }

    /// Returns the page's path relative to the portal URL.
    pub(super) fn relative_path(self) -> &'static str {
        match self {
            AdminPage::Overview => "admin",
            AdminPage::Users => "admin/users",
            AdminPage::Sessions => "admin/sessions",
            AdminPage::Bans => "admin/bans",
        }
    }

    /// Returns the admin API route whose list the page shows. The overview shows none and
    /// requests the bans, the shortest list, only to learn whether the session may use the admin
    /// pages.
    fn api_path(self) -> &'static str {
        match self {
            AdminPage::Users => "/api/admin/users",
            AdminPage::Sessions => "/api/admin/sessions",
            AdminPage::Overview | AdminPage::Bans => "/api/admin/bans",
        }
    }
}

/// Loads an admin page's data into `data.admin`. A session the admin API refuses gets
/// `allowed: false`, which renders the 403 page.
pub(super) async fn load(
    state: &PagesState,
    page: AdminPage,
    caller: &Caller,
    data: &mut PageData,
) {
    let answer = caller
        .call(&state.api, Method::GET, page.api_path(), None)
        .await;
    let level = data.user.as_ref().map_or(0, |user| user.level);
    let mut admin = AdminData::default();
    match answer.status {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
            admin.second_factor_needed = level < 2;
            data.admin = Some(admin);
            return;
        }
        StatusCode::CONFLICT => {
            admin.unavailable = answer
                .body
                .get("message")
                .and_then(Value::as_str)
                .map(str::to_owned);
        }
        _ if answer.is_ok() => {}
        status => {
            tracing::error!(%status, "loading an admin page failed");
            admin.unavailable = Some("The list could not be loaded. Try again later.".to_owned());
        }
    }
    admin.allowed = true;
    if let Some(list) = answer.data() {
        match page {
            AdminPage::Users => admin.users = users(list),
            AdminPage::Sessions => admin.sessions = sessions(list),
            AdminPage::Bans => admin.bans = bans(list),
            AdminPage::Overview => {}
        }
    }

    let elevation = caller
        .call(&state.api, Method::GET, "/api/user/session/elevation", None)
        .await;
    admin.elevated = elevation
        .data()
        .filter(|_| elevation.is_ok())
        .is_some_and(|data| {
            data.get("elevated").and_then(Value::as_bool) == Some(true)
                || data.get("can_skip_second_factor").and_then(Value::as_bool) == Some(true)
        });
    data.admin = Some(admin);
}

fn text(item: &Value, name: &str) -> String {
    item.get(name)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn items<'a>(data: &'a Value, name: &str) -> &'a [Value] {
    data.get(name)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn time(item: &Value, name: &str) -> String {
    item.get(name)
        .and_then(Value::as_i64)
        .map(format_utc)
        .unwrap_or_default()
}

fn users(data: &Value) -> Vec<AdminUser> {
    items(data, "users")
        .iter()
        .map(|item| AdminUser {
            username: text(item, "username"),
            display_name: text(item, "display_name"),
            email: text(item, "email"),
            groups: items(item, "groups")
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            disabled: item.get("disabled").and_then(Value::as_bool) == Some(true),
        })
        .collect()
}

fn sessions(data: &Value) -> Vec<AdminSession> {
    items(data, "sessions")
        .iter()
        .map(|item| AdminSession {
            id: text(item, "id"),
            username: text(item, "username"),
            level: item
                .get("authentication_level")
                .and_then(Value::as_u64)
                .and_then(|level| u8::try_from(level).ok())
                .unwrap_or(0),
            started: time(item, "created_at"),
            last_activity: time(item, "last_activity_at"),
            remember_me: item.get("remember_me").and_then(Value::as_bool) == Some(true),
            current: item.get("current").and_then(Value::as_bool) == Some(true),
        })
        .collect()
}

fn bans(data: &Value) -> Vec<AdminBan> {
    items(data, "bans")
        .iter()
        .map(|item| AdminBan {
            id: item.get("id").and_then(Value::as_i64).unwrap_or(0),
            kind: text(item, "kind"),
            value: text(item, "value"),
            expires: match item.get("expires_at").and_then(Value::as_i64) {
                Some(millis) => format_utc(millis),
                None => "until revoked".to_owned(),
            },
            source: text(item, "source"),
            reason: text(item, "reason"),
        })
        .collect()
}
