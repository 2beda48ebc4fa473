//! The WebAuthn steps of the portal's pages in the browser: fetch the options from the JSON API,
//! run the ceremony with [`crate::webauthn`], and post the credential back. Every failure is
//! returned as an outcome code of [`crate::data::outcome`], which the page shows in its alert
//! region. The credential leaves these functions only in the POST body.

use serde_json::{json, Value};

use crate::data::outcome;
use crate::form::client::{get_json, needs_elevation, send_json, Answer};
use crate::webauthn::{self, CeremonyError};

/// The route that starts (`PUT`), finishes (`POST`) and cancels (`DELETE`) a registration.
const REGISTER_PATH: &str = "/api/secondfactor/webauthn/credential/register";

/// Runs an assertion: reads the options with `GET options_path`, requests a signed assertion
/// from the browser and posts it as the `response` member of `body` to `post_path`.
/// `refused` is the outcome code for the API's own 401 or 403.
pub async fn sign_in_with_key(
    options_path: &str,
    post_path: &str,
    mut body: Value,
    refused: &'static str,
) -> Result<Answer, &'static str> {
    let options = get_json(options_path).await.ok_or(outcome::SERVER)?;
    if !options.is_ok() {
        // 404: no credential for this portal, or passkey login is off.
        let code = match options.status {
            404 => refused,
            status => outcome::for_status(status, refused),
        };
        return Err(code);
    }
    let options_json = options.body.get("data").cloned().unwrap_or(Value::Null);
    let credential = webauthn::get_assertion(&options_json.to_string())
        .await
        .map_err(|error| ceremony_failure(&error, refused))?;
    body["response"] = serde_json::from_str(&credential).map_err(|_| outcome::SERVER)?;
    let answer = send_json("POST", post_path, &body)
        .await
        .ok_or(outcome::SERVER)?;
    if answer.is_ok() {
        Ok(answer)
    } else {
        Err(outcome::for_status(answer.status, refused))
    }
}

/// Registers a new security key or passkey under `description`: starts the registration, has
/// the browser create the credential and posts it. A ceremony that fails in the browser
/// cancels the pending registration.
pub async fn register_key(description: &str) -> Result<(), &'static str> {
    let body = json!({ "description": description });
    let start = send_json("PUT", REGISTER_PATH, &body)
        .await
        .ok_or(outcome::SERVER)?;
    if !start.is_ok() {
        return Err(match start.status {
            _ if needs_elevation(&start) => outcome::for_elevation(&start.body),
            400 => outcome::DEVICE_NAME,
            409 => outcome::DEVICE_NAME_TAKEN,
            status => outcome::for_status(status, outcome::FORBIDDEN),
        });
    }
    let options_json = start.body.get("data").cloned().unwrap_or(Value::Null);
    let credential = match webauthn::create_credential(&options_json.to_string()).await {
        Ok(credential) => credential,
        Err(error) => {
            // Best effort: the pending registration also expires on its own.
            let _ = send_json("DELETE", REGISTER_PATH, &json!({})).await;
            return Err(ceremony_failure(&error, outcome::KEY_REJECTED));
        }
    };
    let response: Value = serde_json::from_str(&credential).map_err(|_| outcome::SERVER)?;
    let finish = send_json("POST", REGISTER_PATH, &json!({ "response": response }))
        .await
        .ok_or(outcome::SERVER)?;
    if finish.is_ok() {
        return Ok(());
    }
    Err(match finish.status {
        _ if needs_elevation(&finish) => outcome::for_elevation(&finish.body),
        400 => outcome::KEY_REJECTED,
        409 => outcome::KEY_REGISTERED,
        status => outcome::for_status(status, outcome::FORBIDDEN),
    })
}

/// Maps a browser-side ceremony error to an outcome code. `other` covers browser errors that
/// name no known cause.
fn ceremony_failure(error: &CeremonyError, other: &'static str) -> &'static str {
    leptos::logging::warn!("WebAuthn ceremony failed: {error}");
    match error {
        CeremonyError::NotAllowed => outcome::KEY_CANCELLED,
        CeremonyError::NotSupported => outcome::KEY_UNSUPPORTED,
        CeremonyError::AlreadyRegistered => outcome::KEY_REGISTERED,
        CeremonyError::InvalidOptions(_) => outcome::SERVER,
        CeremonyError::Browser(_) => other,
    }
}

/// Stores `method` as the user's preferred second factor, so that `/2fa` lists the method used
/// last first. A failure only changes the order of a later page, so it is logged and ignored.
pub async fn remember_method(method: &str) {
    let body = json!({ "method": method });
    let stored = send_json("POST", "/api/user/info/2fa_method", &body).await;
    if !stored.as_ref().is_some_and(Answer::is_ok) {
        leptos::logging::warn!("storing the preferred second factor failed");
    }
}
