//! The page loaders: before Leptos renders a page, the server finds the portal the request is
//! for, makes sure the browser has its form-token cookie, decides whether the page should send
//! the browser elsewhere (a signed-in user on the sign-in page, an anonymous one on the settings),
//! and loads the page's data into a [`PageData`] in the request's extensions.

use std::net::SocketAddr;
use std::sync::Arc;

use app::data::{CredentialView, PageData, SessionView, TotpEnrolment, UserView};
use app::form::page_url;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::config::Policy;
use crate::forward_auth::CookieDomainEntry;
use crate::portal::links::portal_link;
use crate::session::{ActiveSession, Level};

use super::api::Caller;
use super::csrf::browser_cookie;
use super::{see_other, PagesState};

mod admin;

/// The pages the loader handles. Any other path (files, the not-found page) passes unchanged.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Page {
    Login,
    SecondFactor,
    Logout,
    Settings,
    TwoFactorSettings,
    ResetRequest,
    ResetPassword,
    RevokeReset,
    RevokeCode,
    Admin(admin::AdminPage),
}

impl Page {
    fn from_path(path: &str) -> Option<Page> {
        Some(match path {
            "/" => Page::Login,
            "/2fa" => Page::SecondFactor,
            "/logout" => Page::Logout,
            "/settings" => Page::Settings,
            "/settings/two-factor" => Page::TwoFactorSettings,
            "/reset-password" => Page::ResetRequest,
            "/reset-password/step2" => Page::ResetPassword,
            "/revoke/reset-password" => Page::RevokeReset,
            "/revoke/one-time-code" => Page::RevokeCode,
            _ => return admin::AdminPage::from_path(path).map(Page::Admin),
        })
    }

    /// Checks whether the page belongs to Gatehouse's own password reset, which a configured
    /// `password_reset.custom_url` replaces.
    fn is_password_reset(self) -> bool {
        matches!(
            self,
            Page::ResetRequest | Page::ResetPassword | Page::RevokeReset
        )
    }

    fn needs_session(self) -> bool {
        matches!(
            self,
            Page::SecondFactor | Page::Settings | Page::TwoFactorSettings | Page::Admin(_)
        )
    }
}

/// Loads the data of a page request, or responds with a redirect. Other requests pass.
pub(super) async fn load_page(
    State(state): State<Arc<PagesState>>,
    mut request: Request,
    next: Next,
) -> Response {
    let page = Page::from_path(request.uri().path());
    let (Some(page), true) = (
        page,
        matches!(*request.method(), Method::GET | Method::HEAD),
    ) else {
        return next.run(request).await;
    };
    let Some(peer) = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0)
    else {
        tracing::error!("page request without the peer address; the server must insert it");
        return (StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error").into_response();
    };
    let headers = request.headers().clone();
    let Some(entry) = state.portal_entry(peer, &headers) else {
        return super::unknown_portal();
    };
    let domain = &entry.config;
    let (browser, new_cookie) = browser_cookie(&headers, domain.is_localhost());
    let resolution = state.sessions.resolve(&headers, domain).await;
    if resolution.store_error {
        return (StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error").into_response();
    }
    let mut set_cookies: Vec<HeaderValue> = new_cookie.into_iter().collect();
    set_cookies.extend(resolution.clear_cookie.clone());
    let session = resolution.session;
    let query = Query::parse(request.uri().query());
    let caller = Caller {
        headers: headers.clone(),
        peer,
    };

    let custom_reset = &state
        .config
        .authentication_backend
        .password_reset
        .custom_url;
    if let (Some(url), true) = (custom_reset, page.is_password_reset()) {
        return see_other(url.as_str(), &set_cookies);
    }
    if let Some(location) = forward_at_once(&state, entry, page, session.as_ref(), &query, &caller)
    {
        return see_other(&location, &set_cookies);
    }

    // A cleared cookie no longer counts for the token either.
    let session_value: &[u8] = if session.is_some() {
        super::csrf::session_cookie(&headers, domain).unwrap_or(b"")
    } else {
        b""
    };
    let mut data = PageData {
        form_token: state.form_key.token(&browser, session_value),
        remember_me_allowed: domain.remember_me.is_some(),
        two_factor_in_use: state.authz.access.is_two_factor_in_use(),
        password_change_allowed: !state.config.authentication_backend.password_change.disable,
        password_reset_allowed: password_reset_offered(&state.config),
        webauthn_enabled: !state.config.webauthn.disable,
        passkey_login_enabled: !state.config.webauthn.disable
            && state.config.webauthn.enable_passkey_login,
        ..PageData::default()
    };
    if let Some(session) = &session {
        data.user = Some(user_view(session));
        load_session_data(&state, entry, page, &caller, &mut data).await;
    }

    if let Some(pending) = request.extensions().get::<PendingTotp>() {
        data.totp_enrolment = Some(pending.0.clone());
    }
    request.extensions_mut().insert(data);
    let mut response = next.run(request).await;
    for cookie in set_cookies {
        response.headers_mut().append(SET_COOKIE, cookie);
    }
    response
}

/// Checks whether the sign-in page offers a password reset: Gatehouse's own, unless
/// `password_reset.disable` is set, or the `custom_url` service, which `disable` does not turn off.
fn password_reset_offered(config: &crate::config::Config) -> bool {
    let reset = &config.authentication_backend.password_reset;
    reset.custom_url.is_some() || !reset.disable
}

/// A TOTP secret that the form bridge just drew, to be shown once on the page it renders.
#[derive(Clone)]
pub(super) struct PendingTotp(pub TotpEnrolment);

/// The query parameters the loaders read.
struct Query {
    rd: String,
    rm: String,
}

impl Query {
    fn parse(query: Option<&str>) -> Query {
        let mut parsed = Query {
            rd: String::new(),
            rm: String::new(),
        };
        for (name, value) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            match name.as_ref() {
                "rd" if parsed.rd.is_empty() => parsed.rd = value.into_owned(),
                "rm" if parsed.rm.is_empty() => parsed.rm = value.into_owned(),
                _ => {}
            }
        }
        parsed
    }
}

/// Decides whether the page should send the browser elsewhere at once. A signed-in user on the
/// sign-in page goes to a safe `rd` when their level suffices for it, to the second factor when
/// `rd` needs one, and else to the settings. An anonymous user on a page that needs a session
/// goes to the sign-in page.
fn forward_at_once(
    state: &PagesState,
    entry: &CookieDomainEntry,
    page: Page,
    session: Option<&ActiveSession>,
    query: &Query,
    caller: &Caller,
) -> Option<String> {
    let safe_rd = state.safe_redirect(&query.rd);
    let Some(session) = session else {
        if !page.needs_session() {
            return None;
        }
        // The settings pages bring the user back to themselves after the login. The address is
        // built from the configured portal URL, so it passes the same redirect check as any `rd`.
        let own_rd = match page {
            Page::Settings => own_address(state, entry, "settings"),
            Page::TwoFactorSettings => own_address(state, entry, "settings/two-factor"),
            Page::Admin(admin_page) => own_address(state, entry, admin_page.relative_path()),
            _ => None,
        };
        let (rd, rm) = match own_rd {
            Some(url) => (url, String::new()),
            None => (
                safe_rd.map_or_else(String::new, |url| url.to_string()),
                query.rm.clone(),
            ),
        };
        return Some(page_url("/", &[("rd", &rd), ("rm", &rm)]));
    };
    if page != Page::Login {
        return None;
    }
    let Some(url) = safe_rd else {
        return Some("/settings".to_owned());
    };
    let client = state.client_ip(caller);
    let policy = crate::portal::target::decide_policy(
        &state.authz.access,
        &url,
        Some(&query.rm),
        client,
        session.username(),
        session.groups(),
    );
    let _ = entry;
    match policy {
        Some(Policy::TwoFactor) if session.level() < Level::TwoFactor => {
            Some(page_url("/2fa", &[("rd", url.as_str()), ("rm", &query.rm)]))
        }
        Some(_) => Some(url.to_string()),
        None => Some("/settings".to_owned()),
    }
}

/// Returns the portal's own page at `path` (relative to the portal URL) as an absolute URL, when
/// it is a safe redirect target.
fn own_address(state: &PagesState, entry: &CookieDomainEntry, path: &str) -> Option<String> {
    let url = portal_link(entry.portal.as_ref()?, path, &[]);
    state.safe_redirect(url.as_str()).map(|url| url.to_string())
}

fn user_view(session: &ActiveSession) -> UserView {
    UserView {
        username: session.username().to_owned(),
        display_name: session.display_name().to_owned(),
        emails: session.emails().to_vec(),
        groups: session.groups().to_vec(),
        level: session.level().number(),
    }
}

/// Loads what a signed-in user's page shows from the JSON API, with the request's cookies. A
/// failed call leaves its part of the page empty rather than failing the page.
async fn load_session_data(
    state: &PagesState,
    entry: &CookieDomainEntry,
    page: Page,
    caller: &Caller,
    data: &mut PageData,
) {
    if let Page::Admin(admin_page) = page {
        admin::load(state, admin_page, caller, data).await;
    }
    if matches!(
        page,
        Page::SecondFactor | Page::Settings | Page::TwoFactorSettings
    ) {
        let info = caller
            .call(&state.api, Method::GET, "/api/user/info", None)
            .await;
        if let Some(info) = info.data().filter(|_| info.is_ok()) {
            data.methods = methods(info);
        }
    }
    if page == Page::SecondFactor {
        let session_state = caller
            .call(&state.api, Method::GET, "/api/state", None)
            .await;
        data.factor_knowledge = session_state
            .data()
            .and_then(|data| data.get("factor_knowledge"))
            .and_then(Value::as_bool)
            .unwrap_or(true);
    }
    if page == Page::TwoFactorSettings && !state.config.webauthn.disable {
        let credentials = caller
            .call(
                &state.api,
                Method::GET,
                "/api/secondfactor/webauthn/credentials",
                None,
            )
            .await;
        if credentials.is_ok() {
            data.webauthn_credentials = credential_views(credentials.data());
        }
    }
    if page == Page::Settings {
        let sessions = caller
            .call(&state.api, Method::GET, "/api/user/sessions", None)
            .await;
        if sessions.is_ok() {
            data.sessions = session_views(sessions.data());
        }
    }
    if matches!(page, Page::Settings | Page::TwoFactorSettings) {
        let elevation = caller
            .call(&state.api, Method::GET, "/api/user/session/elevation", None)
            .await;
        let flag = |name: &str| {
            elevation
                .data()
                .filter(|_| elevation.is_ok())
                .and_then(|data| data.get(name))
                .and_then(Value::as_bool)
                .unwrap_or(false)
        };
        data.elevated = flag("elevated");
        data.can_skip_second_factor = flag("can_skip_second_factor");
        let second_factor_done = data.user.as_ref().is_some_and(|user| user.level >= 2);
        if page == Page::Settings && flag("require_second_factor") && !second_factor_done {
            data.second_factor_link =
                own_address(state, entry, "settings").map(|rd| page_url("/2fa", &[("rd", &rd)]));
        }
    }
}

/// Lists the user's methods from `/api/user/info`, the preferred one first.
fn methods(info: &Value) -> Vec<String> {
    let preferred = info.get("method").and_then(Value::as_str).unwrap_or("");
    let mut methods = Vec::new();
    for (flag, name) in [("has_totp", "totp"), ("has_webauthn", "webauthn")] {
        if info.get(flag).and_then(Value::as_bool) == Some(true) {
            methods.push(name.to_owned());
        }
    }
    methods.sort_by_key(|name| name != preferred);
    methods
}

/// Reads the session list of `/api/user/sessions` (`{"sessions":[{"id","created_at",…}]}`).
fn session_views(data: Option<&Value>) -> Vec<SessionView> {
    let Some(items) = data
        .and_then(|data| data.get("sessions"))
        .and_then(Value::as_array)
    else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|item| {
            let id = item.get("id").and_then(Value::as_str)?.to_owned();
            let started = item
                .get("created_at")
                .and_then(Value::as_i64)
                .map(format_utc);
            let remembered = item.get("remember_me").and_then(Value::as_bool) == Some(true);
            let mut description = match started {
                Some(time) => format!("Signed in {time}"),
                None => "Signed in".to_owned(),
            };
            if remembered {
                description.push_str(", remembered");
            }
            Some(SessionView {
                id,
                description,
                current: item
                    .get("current")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
            })
        })
        .collect()
}

/// Reads the credential list of `/api/secondfactor/webauthn/credentials`
/// (`[{"id","description","created_at","last_used_at",…}]`).
fn credential_views(data: Option<&Value>) -> Vec<CredentialView> {
    let Some(items) = data.and_then(Value::as_array) else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|item| {
            let id = item.get("id").and_then(Value::as_i64)?;
            Some(CredentialView {
                id: id.to_string(),
                name: item
                    .get("description")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                created: item
                    .get("created_at")
                    .and_then(Value::as_i64)
                    .map(format_utc)
                    .unwrap_or_default(),
                last_used: item
                    .get("last_used_at")
                    .and_then(Value::as_i64)
                    .map(format_utc),
            })
        })
        .collect()
}

/// Formats milliseconds since the Unix epoch as `YYYY-MM-DD HH:MM UTC`.
fn format_utc(millis: i64) -> String {
    let seconds = millis.div_euclid(1000);
    let (days, second_of_day) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    // Civil date from a day count, with years that start in March so leap days come last.
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        second_of_day / 3600,
        second_of_day % 3600 / 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc_times() {
        assert_eq!(format_utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(format_utc(951_782_400_000), "2000-02-29 00:00 UTC");
        assert_eq!(format_utc(1_800_000_000_000), "2027-01-15 08:00 UTC");
    }

    #[test]
    fn methods_put_preferred_first() {
        let info =
            serde_json::json!({"method": "webauthn", "has_totp": true, "has_webauthn": true});
        assert_eq!(methods(&info), ["webauthn", "totp"]);
    }
}
