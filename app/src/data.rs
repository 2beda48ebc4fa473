//! The data a page shows, and the outcome codes a form submission can end with.
//!
//! # How page data reaches the components
//!
//! The server loads what a page shows before Leptos renders it: it resolves the session, calls
//! the JSON API in-process with the request's cookies, and puts one [`PageData`] into the
//! request's extensions. [`App`](crate::App) reads it from Leptos context inside
//! [`SharedValue::new`], which renders the value into the HTML as JSON; while hydrating, the
//! browser reads that JSON back instead of running the initializer. Server and browser therefore
//! see the same value without a second request, and the data is never fetched by the browser.
//! The only other input of a page is its URL (query parameters such as `rd` and `error`).
//!
//! Links between portal pages carry `rel="external"`, so the router leaves them to the browser
//! and every page is loaded, with its data, by the server.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// Everything a page needs beyond its URL.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageData {
    /// The cross-site request forgery token that every form sends back in its `csrf` field.
    pub form_token: String,
    /// Whether the cookie domain allows "Remember me".
    pub remember_me_allowed: bool,
    /// Whether any access rule needs a second factor.
    pub two_factor_in_use: bool,
    /// The signed-in user, when the request has a session.
    pub user: Option<UserView>,
    /// The user's second-factor methods, preferred method first.
    pub methods: Vec<String>,
    /// The user's active sessions, when the page lists them.
    pub sessions: Vec<SessionView>,
    /// Whether the session is elevated for sensitive changes.
    pub elevated: bool,
    /// Whether the user may change their password here.
    pub password_change_allowed: bool,
    /// Whether a password reset link may be requested.
    pub password_reset_allowed: bool,
    /// A TOTP enrolment the user has started and not yet confirmed.
    pub totp_enrolment: Option<TotpEnrolment>,
    /// The user's WebAuthn credentials.
    pub webauthn_credentials: Vec<CredentialView>,
    /// What an admin page shows, on the admin pages only.
    pub admin: Option<crate::pages::admin::AdminData>,
}

/// The signed-in user as the pages show them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserView {
    pub username: String,
    pub display_name: String,
    pub emails: Vec<String>,
    pub groups: Vec<String>,
    /// 1 after a password, 2 after a second factor.
    pub level: u8,
}

/// One active session of the user.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionView {
    /// The identifier the end-session request names; not the session cookie.
    pub id: String,
    /// A description for people: when it started and from where.
    pub description: String,
    /// Whether this is the session of the request.
    pub current: bool,
}

/// A TOTP secret waiting for its first code.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TotpEnrolment {
    /// The `otpauth://` URI as an SVG QR code, rendered by the server.
    pub qr_svg: String,
    /// The base32 secret, for people who type it into their app.
    pub secret: String,
}

/// One registered WebAuthn credential.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialView {
    pub id: String,
    pub name: String,
}

/// Returns the page data the server loaded, or the default for a page it loaded nothing for.
pub fn use_page_data() -> PageData {
    use_context::<PageData>().unwrap_or_default()
}

/// Makes the server's page data available to every component, the same on server and browser.
pub fn provide_page_data() {
    let shared = SharedValue::new(|| use_context::<PageData>().unwrap_or_default());
    provide_context(shared.into_inner());
}

/// Outcome codes put into a page's URL (`?error=…` or `?notice=…`) after a form submission.
/// They name what happened and never carry a secret.
pub mod outcome {
    /// Wrong user name or password (or a ban, which looks the same).
    pub const CREDENTIALS: &str = "credentials";
    /// A wrong, reused or expired one-time code.
    pub const CODE: &str = "code";
    /// Too many attempts from this address.
    pub const RATE_LIMITED: &str = "rate-limited";
    /// The server cannot check a password now.
    pub const BUSY: &str = "busy";
    /// The form's token was missing, wrong or from another session.
    pub const FORM_EXPIRED: &str = "form-expired";
    /// The request was not allowed, for example because the session ended.
    pub const FORBIDDEN: &str = "forbidden";
    /// The change needs an elevated session first.
    pub const ELEVATION: &str = "elevation";
    /// A new password does not meet the password policy.
    pub const PASSWORD_POLICY: &str = "password-policy";
    /// The two new passwords differ.
    pub const PASSWORD_MISMATCH: &str = "password-mismatch";
    /// A reset link is invalid, used or expired.
    pub const LINK: &str = "link";
    /// The input was not understood.
    pub const INVALID: &str = "invalid";
    /// Something failed on the server.
    pub const SERVER: &str = "server";

    /// A reset e-mail was requested.
    pub const RESET_SENT: &str = "reset-sent";
    /// The password was changed.
    pub const PASSWORD_CHANGED: &str = "password-changed";
    /// A session was ended.
    pub const SESSION_ENDED: &str = "session-ended";
    /// An elevation code was sent by e-mail.
    pub const CODE_SENT: &str = "code-sent";
    /// A second factor was added.
    pub const FACTOR_ADDED: &str = "factor-added";
    /// A second factor was removed.
    pub const FACTOR_REMOVED: &str = "factor-removed";
    /// A password reset link was revoked.
    pub const LINK_REVOKED: &str = "link-revoked";
    /// Pending one-time codes were revoked.
    pub const CODE_REVOKED: &str = "code-revoked";

    /// Returns the sentence shown for an outcome code, or `None` for a code the portal does not
    /// know (a hand-edited URL), which then shows nothing.
    pub fn message(code: &str) -> Option<&'static str> {
        Some(match code {
            CREDENTIALS => "Incorrect username or password.",
            CODE => "The code is incorrect or was already used. Wait for a new code and try again.",
            RATE_LIMITED => "Too many attempts. Wait a few minutes and try again.",
            BUSY => "The server is busy. Try again in a moment.",
            FORM_EXPIRED => "The form expired. Please try again.",
            FORBIDDEN => "This is not allowed in your session. Sign in again and retry.",
            ELEVATION => "Confirm your identity with an e-mailed code first.",
            PASSWORD_POLICY => "The new password does not meet the password policy.",
            PASSWORD_MISMATCH => "The two new passwords differ.",
            LINK => "The link is invalid or expired. Request a new one.",
            INVALID => "The request was not understood. Check the fields and try again.",
            SERVER => "Something went wrong on the server. Try again later.",
            RESET_SENT => {
                "If the account exists and has an e-mail address, a reset link is on its way."
            }
            PASSWORD_CHANGED => "Your password was changed.",
            SESSION_ENDED => "The session was ended.",
            CODE_SENT => "A confirmation code was sent to your e-mail address.",
            FACTOR_ADDED => "The second factor was added.",
            FACTOR_REMOVED => "The second factor was removed.",
            LINK_REVOKED => "The reset link was cancelled and can no longer be used.",
            CODE_REVOKED => "The code was cancelled and can no longer be used.",
            _ => return crate::pages::admin::outcome::message(code),
        })
    }

    /// Maps the HTTP status of a failed JSON API call to an outcome code. `refused` is the code
    /// for the endpoint's own refusal status (401 or 403).
    pub fn for_status(status: u16, refused: &'static str) -> &'static str {
        match status {
            401 => refused,
            403 => refused,
            429 => RATE_LIMITED,
            503 => BUSY,
            400 | 404 | 405 | 413 | 415 | 422 => INVALID,
            _ => SERVER,
        }
    }
}
