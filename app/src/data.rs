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
    /// The second-factor page, with `rd` back to this page, when sensitive changes need the
    /// second factor first (`require_second_factor` and a user who has one but did not use it in
    /// this session).
    pub second_factor_link: Option<String>,
    /// Whether the completed second factor replaces an e-mailed code
    /// (`skip_second_factor`).
    pub can_skip_second_factor: bool,
    /// Whether the user may change their password here.
    pub password_change_allowed: bool,
    /// Whether a password reset link may be requested.
    pub password_reset_allowed: bool,
    /// A TOTP enrolment the user has started and not yet confirmed.
    pub totp_enrolment: Option<TotpEnrolment>,
    /// The user's WebAuthn credentials, oldest first.
    pub webauthn_credentials: Vec<CredentialView>,
    /// Whether WebAuthn (security keys and passkeys) is enabled (`webauthn.disable` unset).
    pub webauthn_enabled: bool,
    /// Whether the sign-in page offers passkey login (`webauthn.enable_passkey_login`).
    pub passkey_login_enabled: bool,
    /// Whether the session's user entered their password. It is false after a passkey login,
    /// until the password step on the second-factor page.
    pub factor_knowledge: bool,
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
    /// The credential's number in the API's routes (`/api/secondfactor/webauthn/credential/{id}`).
    pub id: String,
    /// The device name the user gave it.
    pub name: String,
    /// When it was registered, as `YYYY-MM-DD HH:MM UTC`.
    pub created: String,
    /// When it last passed a sign-in, in the same format, or `None` when never.
    pub last_used: Option<String>,
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
    /// The change needs the user's second factor in this session first.
    pub const SECOND_FACTOR_FIRST: &str = "second-factor-first";
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
    /// A security key's or passkey's assertion did not verify.
    pub const SECURITY_KEY: &str = "security-key";
    /// The passkey did not sign the user in.
    pub const PASSKEY: &str = "passkey";
    /// The browser's WebAuthn request was cancelled, timed out or found no matching key.
    pub const KEY_CANCELLED: &str = "key-cancelled";
    /// The browser cannot use security keys or passkeys.
    pub const KEY_UNSUPPORTED: &str = "key-unsupported";
    /// The security key is already registered for this account.
    pub const KEY_REGISTERED: &str = "key-registered";
    /// The new security key did not verify, or the configuration does not allow its model.
    pub const KEY_REJECTED: &str = "key-rejected";
    /// The device name is missing, too long or contains control characters.
    pub const DEVICE_NAME: &str = "device-name";
    /// Another of the user's security keys already has this device name.
    pub const DEVICE_NAME_TAKEN: &str = "device-name-taken";

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
    /// A security key was renamed.
    pub const KEY_RENAMED: &str = "key-renamed";
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
            SECOND_FACTOR_FIRST => {
                "You have a second factor, so use it first: sign in again with it, then retry."
            }
            PASSWORD_POLICY => "The new password does not meet the password policy.",
            PASSWORD_MISMATCH => "The two new passwords differ.",
            LINK => "The link is invalid or expired. Request a new one.",
            INVALID => "The request was not understood. Check the fields and try again.",
            SERVER => "Something went wrong on the server. Try again later.",
            SECURITY_KEY => "The security key was not accepted. Try again or use another method.",
            PASSKEY => "The passkey was not accepted. Try again or sign in with your password.",
            KEY_CANCELLED => {
                "The security key request was cancelled or timed out, or no matching key was \
                 found. Try again."
            }
            KEY_UNSUPPORTED => "This browser cannot use security keys or passkeys.",
            KEY_REGISTERED => "This security key is already registered for your account.",
            KEY_REJECTED => "The security key could not be registered. Try another key.",
            DEVICE_NAME => "Enter a device name of 1 to 64 characters.",
            DEVICE_NAME_TAKEN => "You already have a security key with this device name.",
            RESET_SENT => {
                "If the account exists and has an e-mail address, a reset link is on its way."
            }
            PASSWORD_CHANGED => "Your password was changed.",
            SESSION_ENDED => "The session was ended.",
            CODE_SENT => "A confirmation code was sent to your e-mail address.",
            FACTOR_ADDED => "The second factor was added.",
            FACTOR_REMOVED => "The second factor was removed.",
            KEY_RENAMED => "The security key was renamed.",
            LINK_REVOKED => "The reset link was cancelled and can no longer be used.",
            CODE_REVOKED => "The code was cancelled and can no longer be used.",
            _ => return crate::pages::admin::outcome::message(code),
        })
    }

    /// Chooses the code for a 403 that requires elevation. The body's `data.second_factor` flag
    /// is set when the session must pass the user's second factor before an e-mailed code counts.
    pub fn for_elevation(body: &serde_json::Value) -> &'static str {
        let second_factor =
            body.pointer("/data/second_factor") == Some(&serde_json::Value::Bool(true));
        if second_factor {
            SECOND_FACTOR_FIRST
        } else {
            ELEVATION
        }
    }

    /// Returns whether `code` is a failure of a security key or passkey rather than of a field.
    pub fn is_key_failure(code: &str) -> bool {
        matches!(
            code,
            SECURITY_KEY
                | PASSKEY
                | KEY_CANCELLED
                | KEY_UNSUPPORTED
                | KEY_REGISTERED
                | KEY_REJECTED
        )
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
