//! The admin pages: `/admin` (overview), `/admin/users`, `/admin/sessions` and `/admin/bans`.
//!
//! Only a two-factor session of a member of the administrators' group may open them. Anyone else
//! who is signed in gets a 403 page, and the server sends anonymous visitors to the sign-in page.
//! Every form posts to the server's form bridge, hydrated or not, because each change alters the
//! tables the page shows and a new page load is the natural result. Changes also need an
//! elevated session, so each page offers the e-mailed confirmation code while there is none.

pub mod bans;
pub mod sessions;
pub mod users;

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::use_page_data;
use crate::form::{error_from_url, ErrorMessage, Notice, TokenField};

/// The data of the admin pages, loaded by the server from the admin API.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminData {
    /// Whether the session may use the admin pages.
    pub allowed: bool,
    /// Whether the session is at one factor, so that a second factor may open the pages.
    pub second_factor_needed: bool,
    /// Whether the session is elevated, so that changes are accepted.
    pub elevated: bool,
    pub users: Vec<AdminUser>,
    pub sessions: Vec<AdminSession>,
    pub bans: Vec<AdminBan>,
    /// The reason the page's list is not available, shown in its place.
    pub unavailable: Option<String>,
}

/// A user as the users table shows it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminUser {
    pub username: String,
    pub display_name: String,
    pub email: String,
    pub groups: Vec<String>,
    pub disabled: bool,
}

/// A session as the sessions table shows it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminSession {
    /// The session's public handle, which the end request names; not the session id.
    pub id: String,
    pub username: String,
    /// 1 after a password, 2 after a second factor.
    pub level: u8,
    /// The login time, formatted for people.
    pub started: String,
    pub last_activity: String,
    pub remember_me: bool,
    /// Whether this is the administrator's own session.
    pub current: bool,
}

/// A ban in force as the bans table shows it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminBan {
    pub id: i64,
    /// `user` or `ip`.
    pub kind: String,
    pub value: String,
    /// The end of the ban formatted for people, or "until revoked".
    pub expires: String,
    /// `admin` or `regulation`.
    pub source: String,
    pub reason: String,
}

/// Outcome codes of the admin forms, beside the portal's shared ones in
/// [`crate::data::outcome`].
pub mod outcome {
    pub const INVALID_USERNAME: &str = "invalid-username";
    pub const INVALID_DISPLAY_NAME: &str = "invalid-display-name";
    pub const INVALID_EMAIL: &str = "invalid-email";
    pub const INVALID_GROUPS: &str = "invalid-groups";
    pub const INVALID_BAN: &str = "invalid-ban";
    pub const USER_EXISTS: &str = "user-exists";
    pub const EMAIL_TAKEN: &str = "email-taken";
    pub const OWN_ACCOUNT: &str = "own-account";
    pub const FILE_BACKEND: &str = "file-backend";
    pub const NOT_FOUND: &str = "not-found";
    pub const NOT_ADMIN: &str = "not-admin";

    pub const USER_ADDED: &str = "user-added";
    pub const USER_CHANGED: &str = "user-changed";
    pub const USER_DELETED: &str = "user-deleted";
    pub const BAN_ADDED: &str = "ban-added";
    pub const BAN_REVOKED: &str = "ban-revoked";
    pub const ELEVATED: &str = "elevated";

    /// Returns the sentence shown for an admin outcome code, or `None` for an unknown code.
    pub fn message(code: &str) -> Option<&'static str> {
        Some(match code {
            INVALID_USERNAME => {
                "The user name is invalid: it must not be empty or contain control characters, ',' or ':'."
            }
            INVALID_DISPLAY_NAME => {
                "The display name is invalid: it must not be empty or contain control characters."
            }
            INVALID_EMAIL => "The e-mail address is invalid: enter one address such as name@example.com.",
            INVALID_GROUPS => {
                "A group name is invalid: separate groups with commas, without control characters."
            }
            INVALID_BAN => "The ban is invalid: enter a user name or an IP address, a duration in minutes and a short reason.",
            USER_EXISTS => "A user with this name already exists.",
            EMAIL_TAKEN => "Another user already has this e-mail address.",
            OWN_ACCOUNT => {
                "You cannot disable or delete your own account or leave the administrators' group."
            }
            FILE_BACKEND => "Users are kept in the users file; edit that file to change them.",
            NOT_FOUND => "It no longer exists. Reload the page.",
            NOT_ADMIN => "Only administrators with a second factor may do this.",
            USER_ADDED => "The user was added.",
            USER_CHANGED => "The user was changed.",
            USER_DELETED => "The user was deleted, with their sessions.",
            BAN_ADDED => "The ban was added.",
            BAN_REVOKED => "The ban was revoked.",
            ELEVATED => "Your identity is confirmed; changes are allowed for a few minutes.",
            _ => return None,
        })
    }
}

/// Returns `text`, or "none" for an empty value, so that an empty table cell still reads as a
/// value to people and screen readers.
fn or_none(text: &str) -> String {
    if text.is_empty() {
        "none".to_owned()
    } else {
        text.to_owned()
    }
}

/// Returns the admin data the server loaded.
fn use_admin_data() -> AdminData {
    use_page_data().admin.unwrap_or_default()
}

/// The overview at `/admin`: links to the three admin pages.
#[component]
pub fn AdminPage() -> impl IntoView {
    view! {
        <AdminFrame title="Administration" path="/admin">
            <ul class="admin-links">
                <li><a href="/admin/users" rel="external">"Users"</a>
                    " — add, change, disable or delete users"</li>
                <li><a href="/admin/sessions" rel="external">"Sessions"</a>
                    " — see who is signed in and end sessions"</li>
                <li><a href="/admin/bans" rel="external">"Bans"</a>
                    " — ban user names or addresses and revoke bans"</li>
            </ul>
        </AdminFrame>
    }
}

/// The frame of every admin page: heading, navigation, notice and elevation forms, or the 403
/// page when the session may not use the admin pages.
#[component]
fn AdminFrame(title: &'static str, path: &'static str, children: ChildrenFn) -> impl IntoView {
    let data = use_page_data();
    let admin = data.admin.clone().unwrap_or_default();
    if !admin.allowed {
        return view! { <Forbidden second_factor_needed=admin.second_factor_needed/> }.into_any();
    }
    let token = data.form_token.clone();
    let elevation = (!admin.elevated).then(|| view! { <ElevationForms token=token.clone() path/> });
    view! {
        <section class="card card--admin" aria-labelledby="admin-heading">
            <nav class="admin-nav" aria-label="Administration">
                <a href="/admin" rel="external">"Overview"</a>
                <a href="/admin/users" rel="external">"Users"</a>
                <a href="/admin/sessions" rel="external">"Sessions"</a>
                <a href="/admin/bans" rel="external">"Bans"</a>
                <a href="/settings" rel="external">"Your settings"</a>
            </nav>
            <h1 id="admin-heading">{title}</h1>
            <Notice/>
            <AdminError/>
            {elevation}
            {children()}
        </section>
    }
    .into_any()
}

/// The 403 page for a signed-in user who may not use the admin pages.
#[component]
fn Forbidden(second_factor_needed: bool) -> impl IntoView {
    #[cfg(feature = "ssr")]
    {
        if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
            response.set_status(http::StatusCode::FORBIDDEN);
        }
    }
    let hint = if second_factor_needed {
        view! {
            <p>"The admin pages need a second factor. "
                <a href="/2fa" rel="external">"Complete the second factor"</a>
                " and open this page again."</p>
        }
        .into_any()
    } else {
        view! {
            <p>"Only members of the administrators' group may use the admin pages."</p>
        }
        .into_any()
    };
    view! {
        <section class="card" aria-labelledby="forbidden-heading">
            <h1 id="forbidden-heading">"Access denied"</h1>
            {hint}
            <p><a href="/settings" rel="external">"Go to your settings"</a></p>
        </section>
    }
}

/// The two elevation steps, shown while the session is not elevated: send a code by e-mail,
/// then enter it. Both return to the page at `path`.
#[component]
fn ElevationForms(token: String, path: &'static str) -> impl IntoView {
    let error = error_from_url();
    let invalid = move || error.get().is_some().then_some("true");
    view! {
        <div class="admin-elevation">
            <p>"Changes need a confirmation code, sent to your e-mail address."</p>
            <form method="post" action="/admin/elevation/start" class="inline-form">
                <TokenField token=token.clone()/>
                <input type="hidden" name="return" value=path/>
                <button type="submit" class="button--secondary">"Send a code"</button>
            </form>
            <form method="post" action="/admin/elevation" class="stack">
                <TokenField token/>
                <input type="hidden" name="return" value=path/>
                <label for="elevation-code">"Confirmation code"</label>
                <input id="elevation-code" name="otc" type="text" autocomplete="one-time-code"
                    autocapitalize="characters" spellcheck="false" required
                    aria-describedby="admin-error" aria-invalid=invalid/>
                <button type="submit">"Confirm"</button>
            </form>
        </div>
    }
}

/// The page's error message, for the outcome code of the last form.
#[component]
fn AdminError() -> impl IntoView {
    let error = error_from_url();
    view! { <ErrorMessage id="admin-error" code=error/> }
}
