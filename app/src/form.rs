//! Pieces every portal form shares: the hidden token field, the error and notice regions, the
//! page addresses a submission leads to, and (in the browser) the JSON request that replaces the
//! form post once the page is hydrated.
//!
//! Without JavaScript a form posts to its page's route, where the server checks the form token,
//! calls the JSON API and redirects (303) to the next page or back with `?error=<code>`. Hydrated,
//! the submit event is cancelled and the same JSON API is called with `fetch`; an error is shown
//! in place and success loads the next page with `window.location`.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::data::outcome;

/// The name of the form field that carries the page's cross-site request forgery token.
pub const TOKEN_FIELD: &str = "csrf";

/// Returns the value of query parameter `name` in the page's URL, or an empty string.
pub fn query_value(name: &'static str) -> String {
    use_query_map()
        .read_untracked()
        .get(name)
        .unwrap_or_default()
}

/// Percent-encodes `value` for a URL query: every byte outside `A–Z a–z 0–9 - . _ ~` becomes
/// `%XX`.
pub fn encode_query_value(value: &str) -> String {
    let mut encoded = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// Builds `path` with the non-empty `pairs` as its query.
pub fn page_url(path: &str, pairs: &[(&str, &str)]) -> String {
    let query: Vec<String> = pairs
        .iter()
        .filter(|(_, value)| !value.is_empty())
        .map(|(name, value)| format!("{name}={}", encode_query_value(value)))
        .collect();
    if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{}", query.join("&"))
    }
}

/// Decides where the browser goes after a successful password login: the API's `redirect` when
/// it gave one, else the second factor when any rule needs it, else the settings page.
pub fn after_first_factor(
    redirect: Option<&str>,
    two_factor_in_use: bool,
    rd: &str,
    rm: &str,
) -> String {
    match redirect {
        Some(url) if !url.is_empty() => url.to_owned(),
        _ if two_factor_in_use => page_url("/2fa", &[("rd", rd), ("rm", rm)]),
        _ => "/settings".to_owned(),
    }
}

/// Decides where the browser goes after a successful second factor: the API's `redirect`, else
/// the settings page.
pub fn after_second_factor(redirect: Option<&str>) -> String {
    match redirect {
        Some(url) if !url.is_empty() => url.to_owned(),
        _ => "/settings".to_owned(),
    }
}

/// Maps a failed password change or reset to an outcome code: the policy's rejection is
/// distinguished from other 400 responses by its message.
pub fn password_failure(status: u16, body: &serde_json::Value) -> &'static str {
    let message = body
        .get("message")
        .and_then(serde_json::Value::as_str)
        .unwrap_or("");
    if message.contains("password policy") {
        outcome::PASSWORD_POLICY
    } else if status == 400 {
        outcome::LINK
    } else {
        outcome::for_status(status, outcome::FORBIDDEN)
    }
}

/// Maps a failed password change to an outcome code, the same with and without JavaScript: a
/// missing second factor or elevation (403 with `data.second_factor` or `data.elevation`), a
/// wrong current password (401), the policy's rejection, or the status's code.
pub fn password_change_failure(status: u16, body: &serde_json::Value) -> &'static str {
    if let Some(code) = elevation_failure(status, body) {
        return code;
    }
    let message = body
        .get("message")
        .and_then(serde_json::Value::as_str)
        .unwrap_or("");
    if status == 401 {
        outcome::CREDENTIALS
    } else if message.contains("password policy") {
        outcome::PASSWORD_POLICY
    } else {
        outcome::for_status(status, outcome::FORBIDDEN)
    }
}

/// Maps the elevation guard's 403 to what the user must do first: the second factor when
/// `data.second_factor` is true, else an e-mailed code. `None` for any other response.
pub fn elevation_failure(status: u16, body: &serde_json::Value) -> Option<&'static str> {
    let flags = body.get("data").filter(|_| status == 403)?;
    let second_factor = flags.get("second_factor") == Some(&serde_json::Value::Bool(true));
    (second_factor || flags.get("elevation").is_some()).then(|| outcome::for_elevation(body))
}

/// The hidden field with the page's form token.
#[component]
pub fn TokenField(token: String) -> impl IntoView {
    view! { <input type="hidden" name=TOKEN_FIELD value=token/> }
}

/// A live region that shows the message of an error code; empty while there is none. Fields that
/// the error is about point at it with `aria-describedby`.
#[component]
pub fn ErrorMessage(id: &'static str, code: RwSignal<Option<String>>) -> impl IntoView {
    let text = move || {
        code.get()
            .as_deref()
            .and_then(outcome::message)
            .unwrap_or("")
    };
    view! {
        <p id=id class="form-error" role="alert" aria-live="assertive">
            {text}
        </p>
    }
}

/// A message for the `notice` code of the page's URL, such as "Your password was changed".
#[component]
pub fn Notice() -> impl IntoView {
    let code = query_value("notice");
    outcome::message(&code).map(|text| {
        view! { <p class="notice" role="status">{text}</p> }
    })
}

/// Returns the error code of the page's URL as the starting value of a form's error signal.
pub fn error_from_url() -> RwSignal<Option<String>> {
    let code = query_value("error");
    RwSignal::new((!code.is_empty()).then_some(code))
}

/// Browser-only helpers: JSON requests and navigation.
#[cfg(feature = "hydrate")]
pub mod client {
    use serde_json::Value;

    /// The status and JSON body of an API response. The body is `Null` when it is not JSON.
    pub struct Answer {
        pub status: u16,
        pub body: Value,
    }

    impl Answer {
        /// Returns `data.redirect` of an OK envelope.
        pub fn redirect(&self) -> Option<&str> {
            self.body.get("data")?.get("redirect")?.as_str()
        }

        /// Returns whether the response is a 2xx with `"status":"OK"`.
        pub fn is_ok(&self) -> bool {
            (200..300).contains(&self.status)
                && self.body.get("status").and_then(Value::as_str) == Some("OK")
        }
    }

    /// Sends `body` as JSON with `method` to `path` of the portal; `None` when the request
    /// could not be sent at all.
    pub async fn send_json(method: &str, path: &str, body: &Value) -> Option<Answer> {
        use gloo_net::http::RequestBuilder;

        let request = RequestBuilder::new(path)
            .method(method.parse().ok()?)
            .header("Accept", "application/json")
            .json(body)
            .ok()?;
        let response = request.send().await.ok()?;
        let status = response.status();
        let body = response.json::<Value>().await.unwrap_or(Value::Null);
        Some(Answer { status, body })
    }

    /// Sends a `GET` to `path` of the portal; `None` when the request could not be sent at all.
    pub async fn get_json(path: &str) -> Option<Answer> {
        use gloo_net::http::Request;

        let response = Request::get(path)
            .header("Accept", "application/json")
            .send()
            .await
            .ok()?;
        let status = response.status();
        let body = response.json::<Value>().await.unwrap_or(Value::Null);
        Some(Answer { status, body })
    }

    /// Returns whether the API refused because the session is not elevated.
    pub fn needs_elevation(answer: &Answer) -> bool {
        answer.status == 403 && answer.body.pointer("/data/elevation").is_some()
    }

    /// Sends the JSON request of a hydrated form: shows the outcome code in `error` on failure
    /// (`refused` for the endpoint's own 401 or 403), and on success loads the page `next`
    /// chooses from the response.
    pub fn submit(
        pending: leptos::prelude::RwSignal<bool>,
        error: leptos::prelude::RwSignal<Option<String>>,
        request: (&'static str, String),
        body: Value,
        refused: &'static str,
        next: impl FnOnce(&Answer) -> String + 'static,
    ) {
        use crate::data::outcome;

        let failure = move |answer: &Answer| {
            super::elevation_failure(answer.status, &answer.body)
                .unwrap_or_else(|| outcome::for_status(answer.status, refused))
        };
        submit_with(pending, error, request, body, failure, next);
    }

    /// Sends the JSON request of a hydrated form as [`submit`] does, with `failure` choosing the
    /// outcome code of a failed response.
    pub fn submit_with(
        pending: leptos::prelude::RwSignal<bool>,
        error: leptos::prelude::RwSignal<Option<String>>,
        request: (&'static str, String),
        body: Value,
        failure: impl FnOnce(&Answer) -> &'static str + 'static,
        next: impl FnOnce(&Answer) -> String + 'static,
    ) {
        use crate::data::outcome;
        use leptos::prelude::{GetUntracked, Set};

        if pending.get_untracked() {
            return;
        }
        pending.set(true);
        leptos::task::spawn_local(async move {
            let (method, path) = request;
            match send_json(method, &path, &body).await {
                Some(answer) if answer.is_ok() => go_to(&next(&answer)),
                Some(answer) => {
                    error.set(Some(failure(&answer).to_owned()));
                    pending.set(false);
                }
                None => {
                    error.set(Some(outcome::SERVER.to_owned()));
                    pending.set(false);
                }
            }
        });
    }

    /// Completes a password reset from its link: sends the link's token with the new password
    /// in one request, and loads the sign-in page with a notice.
    pub fn go_to_after_reset(
        pending: leptos::prelude::RwSignal<bool>,
        error: leptos::prelude::RwSignal<Option<String>>,
        token: String,
        password: String,
    ) {
        use crate::data::outcome;
        use leptos::prelude::{GetUntracked, Set};

        if pending.get_untracked() {
            return;
        }
        pending.set(true);
        leptos::task::spawn_local(async move {
            let body = serde_json::json!({ "password": password, "token": token });
            let failure = match send_json("POST", "/api/reset-password", &body).await {
                Some(answer) if answer.is_ok() => {
                    go_to(&super::page_url(
                        "/",
                        &[("notice", outcome::PASSWORD_CHANGED)],
                    ));
                    return;
                }
                Some(answer) => super::password_failure(answer.status, &answer.body),
                None => outcome::SERVER,
            };
            error.set(Some(failure.to_owned()));
            pending.set(false);
        });
    }

    /// Loads `url` as a new page.
    pub fn go_to(url: &str) {
        if let Some(window) = leptos::web_sys::window() {
            let _ = window.location().assign(url);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_reserved_characters() {
        assert_eq!(
            encode_query_value("https://app.example.com/a?b=c&d"),
            "https%3A%2F%2Fapp.example.com%2Fa%3Fb%3Dc%26d"
        );
        assert_eq!(encode_query_value("a b~"), "a%20b~");
    }

    #[test]
    fn page_url_skips_empty_values() {
        assert_eq!(
            page_url("/2fa", &[("rd", ""), ("rm", "GET")]),
            "/2fa?rm=GET"
        );
        assert_eq!(page_url("/settings", &[]), "/settings");
    }

    #[test]
    fn password_change_failures() {
        let policy = serde_json::json!({"status": "KO", "message":
            "Your supplied password does not meet the password policy requirements."});
        assert_eq!(
            password_change_failure(400, &policy),
            outcome::PASSWORD_POLICY
        );
        let wrong = serde_json::json!({"status": "KO", "message": "Authentication failed."});
        assert_eq!(password_change_failure(401, &wrong), outcome::CREDENTIALS);
        let malformed = serde_json::json!({"status": "KO", "message": "The body must be …"});
        assert_eq!(password_change_failure(400, &malformed), outcome::INVALID);
        let second_factor = serde_json::json!({"status": "KO",
            "data": {"elevation": true, "first_factor": false, "second_factor": true}});
        assert_eq!(
            password_change_failure(403, &second_factor),
            outcome::SECOND_FACTOR_FIRST
        );
        let code = serde_json::json!({"status": "KO",
            "data": {"elevation": true, "first_factor": false, "second_factor": false}});
        assert_eq!(password_change_failure(403, &code), outcome::ELEVATION);
        assert_eq!(password_change_failure(429, &wrong), outcome::RATE_LIMITED);
    }

    #[test]
    fn first_factor_destinations() {
        assert_eq!(
            after_first_factor(Some("https://a.example.com/"), true, "", ""),
            "https://a.example.com/"
        );
        assert_eq!(
            after_first_factor(None, true, "https://s.example.com/", "GET"),
            "/2fa?rd=https%3A%2F%2Fs.example.com%2F&rm=GET"
        );
        assert_eq!(after_first_factor(None, false, "x", ""), "/settings");
    }
}
