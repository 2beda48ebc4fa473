//! The form bridge: the `POST` routes of the portal's pages, which make every form work without
//! JavaScript.
//!
//! Each route first checks the form token (403 when it is missing or wrong). It then turns the
//! form fields into the JSON body of the matching JSON API route and calls that route in-process
//! with the browser's headers, cookies and address, so regulation, rate limits and the cross-site
//! check live in one place. It then responds with 303 See Other (Post/Redirect/Get): to the next
//! page on success, with the API's `Set-Cookie` headers, or back to the form's page with a
//! non-secret outcome code in the query (`?error=credentials`). No secret is ever put into a URL or a log.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use app::data::{outcome, TotpEnrolment};
use app::form::{
    after_first_factor, after_second_factor, elevation_failure, page_url, password_change_failure,
    password_failure, TOKEN_FIELD,
};
use app::pages::two_factor::KEYS_FORM;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Extension;
use axum::Router;
use serde_json::{json, Value};
use tower::ServiceExt;

use crate::portal::request::same_origin_request;
use crate::session::cookie::{find_cookie, CookieLookup};

use super::api::{ApiAnswer, Caller};
use super::headers::CspNonce;
use super::load::PendingTotp;
use super::{see_other, PagesState};

mod admin;

/// Builds the `POST` routes of the pages.
pub(super) fn routes(state: Arc<PagesState>) -> Router {
    Router::new()
        .route("/", post(log_in))
        .route("/2fa", post(verify_totp))
        .route("/2fa/password", post(verify_password))
        .route("/logout", post(log_out))
        .route("/settings/password", post(change_password))
        .route("/settings/sessions/end", post(end_session))
        .route("/reset-password", post(request_reset))
        .route("/reset-password/step2", post(reset_password))
        .route(
            "/settings/two-factor/elevation/start",
            post(request_elevation_code),
        )
        .route("/settings/two-factor/elevation", post(confirm_elevation))
        .route("/settings/two-factor/totp/start", post(start_totp))
        .route("/settings/two-factor/totp/confirm", post(confirm_totp))
        .route("/settings/two-factor/totp/remove", post(remove_totp))
        .route("/settings/two-factor/webauthn/rename", post(rename_key))
        .route("/settings/two-factor/webauthn/remove", post(remove_key))
        .route("/revoke/reset-password", post(revoke_reset_link))
        .route("/revoke/one-time-code", post(revoke_one_time_code))
        .with_state(Arc::clone(&state))
        .merge(admin::routes(state))
}

/// A form submission that passed the portal match and the token check.
struct Submission {
    fields: HashMap<String, String>,
    caller: Caller,
    /// Whether the matched cookie domain is a localhost one, whose cookies go without `Secure`.
    localhost: bool,
}

impl Submission {
    /// Returns a field's value, or an empty string when it is absent.
    fn field(&self, name: &str) -> &str {
        self.fields.get(name).map_or("", String::as_str)
    }
}

/// Matches the portal (400 when none), reads the form body, and checks that the form comes from
/// the portal's own origin and carries a valid token (403 otherwise).
#[allow(clippy::result_large_err)]
fn admit(
    state: &PagesState,
    peer: SocketAddr,
    headers: HeaderMap,
    body: &Bytes,
) -> Result<Submission, Response> {
    let Some(entry) = state.portal_entry(peer, &headers) else {
        return Err(super::unknown_portal());
    };
    let is_form = headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| {
            value
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    let mut fields = HashMap::new();
    if is_form {
        for (name, value) in url::form_urlencoded::parse(body) {
            fields
                .entry(name.into_owned())
                .or_insert_with(|| value.into_owned());
        }
    }
    // The JSON API repeats this check, but its 403 would reach the form as a failed login.
    let same_origin = entry
        .portal
        .as_ref()
        .is_some_and(|portal| same_origin_request(portal, &headers));
    if !same_origin {
        tracing::info!(%peer, "portal form rejected: Origin or Referer names another site, or both are missing");
        return Err(forbidden());
    }
    let token = fields.get(TOKEN_FIELD).map_or("", String::as_str);
    if !is_form || !state.form_key.verify(&headers, &entry.config, token) {
        tracing::info!(%peer, "portal form rejected: form token missing or wrong");
        return Err(forbidden());
    }
    Ok(Submission {
        fields,
        caller: Caller { headers, peer },
        localhost: entry.config.is_localhost(),
    })
}

/// Builds the response to a form whose token or origin check failed: 403 with a short page.
fn forbidden() -> Response {
    (
        StatusCode::FORBIDDEN,
        [(CONTENT_TYPE, "text/html; charset=utf-8")],
        "<!DOCTYPE html><html lang=\"en\"><head><title>Form expired</title></head><body>\
         <main><h1>Form expired</h1><p>The form expired or came from another site. \
         <a href=\"/\">Reload the sign-in page</a> and try again.</p></main></body></html>",
    )
        .into_response()
}

/// Sends the browser back to `path` with the outcome `code` and the `keep` parameters.
fn back(path: &str, code: &str, keep: &[(&str, &str)], answer: Option<&ApiAnswer>) -> Response {
    let mut pairs = vec![("error", code)];
    pairs.extend_from_slice(keep);
    let cookies = answer.map_or(&[][..], |answer| &answer.set_cookies[..]);
    see_other(&page_url(path, &pairs), cookies)
}

/// Returns whether the API refused because the session is not elevated (a code or the second
/// factor is missing). The two-factor settings page shows one message for both.
fn needs_elevation(answer: &ApiAnswer) -> bool {
    elevation_failure(answer.status.as_u16(), &answer.body).is_some()
}

/// Reads `data.redirect` of an API response when it names a safe redirect target.
fn api_redirect(state: &PagesState, answer: &ApiAnswer) -> Option<String> {
    let redirect = answer.data()?.get("redirect")?.as_str()?;
    state.safe_redirect(redirect).map(|url| url.to_string())
}

macro_rules! admit_or_return {
    ($state:expr, $peer:expr, $headers:expr, $body:expr) => {
        match admit(&$state, $peer, $headers, &$body) {
            Ok(submission) => submission,
            Err(response) => return response,
        }
    };
}

/// `POST /`: the password login.
async fn log_in(
    State(state): State<Arc<PagesState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = admit_or_return!(state, peer, headers, body);
    let rd = state
        .safe_redirect(form.field("rd"))
        .map(|url| url.to_string())
        .unwrap_or_default();
    let rm = form.field("rm").to_owned();
    let request = json!({
        "username": form.field("username"),
        "password": form.field("password"),
        "keepMeLoggedIn": form.field("remember_me") == "on",
        "targetURL": rd,
        "requestMethod": rm,
    });

    let answer = form
        .caller
        .call(&state.api, Method::POST, "/api/firstfactor", Some(&request))
        .await;
    if !answer.is_ok() {
        let code = outcome::for_status(answer.status.as_u16(), outcome::CREDENTIALS);
        return back("/", code, &[("rd", &rd), ("rm", &rm)], Some(&answer));
    }
    let redirect = api_redirect(&state, &answer);
    let two_factor_in_use = state.authz.access.is_two_factor_in_use();
    let next = after_first_factor(redirect.as_deref(), two_factor_in_use, &rd, &rm);
    see_other(&next, &answer.set_cookies)
}

/// `POST /2fa`: the one-time code of the second factor.
// NOTE: unlike the hydrated form, this path does not store TOTP as the preferred method, so after
// a script-free sign-in `/2fa` may still list a security key first.
async fn verify_totp(
    State(state): State<Arc<PagesState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = admit_or_return!(state, peer, headers, body);
    let rd = state
        .safe_redirect(form.field("rd"))
        .map(|url| url.to_string())
        .unwrap_or_default();
    let request = json!({ "token": form.field("token").trim(), "targetURL": rd });

    let answer = form
        .caller
        .call(
            &state.api,
            Method::POST,
            "/api/secondfactor/totp",
            Some(&request),
        )
        .await;
    if !answer.is_ok() {
        let code = outcome::for_status(answer.status.as_u16(), outcome::CODE);
        return back("/2fa", code, &[("rd", &rd)], Some(&answer));
    }
    let redirect = api_redirect(&state, &answer);
    see_other(
        &after_second_factor(redirect.as_deref()),
        &answer.set_cookies,
    )
}

/// `POST /2fa/password`: the password as the second step after a passkey login.
async fn verify_password(
    State(state): State<Arc<PagesState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = admit_or_return!(state, peer, headers, body);
    let rd = state
        .safe_redirect(form.field("rd"))
        .map(|url| url.to_string())
        .unwrap_or_default();
    let request = json!({ "password": form.field("password"), "targetURL": rd });

    let answer = form
        .caller
        .call(
            &state.api,
            Method::POST,
            "/api/secondfactor/password",
            Some(&request),
        )
        .await;
    if !answer.is_ok() {
        let code = outcome::for_status(answer.status.as_u16(), outcome::CREDENTIALS);
        return back("/2fa", code, &[("rd", &rd)], Some(&answer));
    }
    let redirect = api_redirect(&state, &answer);
    see_other(
        &after_second_factor(redirect.as_deref()),
        &answer.set_cookies,
    )
}

/// `POST /logout`: ends the session, then goes to a safe `rd` or the sign-in page.
async fn log_out(
    State(state): State<Arc<PagesState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = admit_or_return!(state, peer, headers, body);
    let rd = state
        .safe_redirect(form.field("rd"))
        .map(|url| url.to_string())
        .unwrap_or_default();
    let request = json!({ "targetURL": rd });

    let answer = form
        .caller
        .call(&state.api, Method::POST, "/api/logout", Some(&request))
        .await;
    if !answer.is_ok() {
        let code = outcome::for_status(answer.status.as_u16(), outcome::FORBIDDEN);
        return back("/logout", code, &[("rd", &rd)], Some(&answer));
    }
    let next = if rd.is_empty() { "/".to_owned() } else { rd };
    see_other(&next, &answer.set_cookies)
}

/// `POST /settings/password`: changes the password of the signed-in user.
async fn change_password(
    State(state): State<Arc<PagesState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = admit_or_return!(state, peer, headers, body);
    if form.field("new_password") != form.field("confirm_password") {
        return back("/settings", outcome::PASSWORD_MISMATCH, &[], None);
    }
    let request = json!({
        "username": form.field("username"),
        "old_password": form.field("old_password"),
        "new_password": form.field("new_password"),
    });

    let answer = form
        .caller
        .call(
            &state.api,
            Method::POST,
            "/api/change-password",
            Some(&request),
        )
        .await;
    if !answer.is_ok() {
        let code = password_change_failure(answer.status.as_u16(), &answer.body);
        return back("/settings", code, &[], Some(&answer));
    }
    see_other(
        &page_url("/settings", &[("notice", outcome::PASSWORD_CHANGED)]),
        &answer.set_cookies,
    )
}

/// `POST /settings/sessions/end`: ends one of the user's sessions.
async fn end_session(
    State(state): State<Arc<PagesState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = admit_or_return!(state, peer, headers, body);
    let id = form.field("id");
    if id.is_empty()
        || !id
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
    {
        return back("/settings", outcome::INVALID, &[], None);
    }
    let path = format!("/api/user/sessions/{id}");

    let answer = form
        .caller
        .call(&state.api, Method::DELETE, &path, None)
        .await;
    if !answer.is_ok() {
        let code = outcome::for_status(answer.status.as_u16(), outcome::FORBIDDEN);
        return back("/settings", code, &[], Some(&answer));
    }
    see_other(
        &page_url("/settings", &[("notice", outcome::SESSION_ENDED)]),
        &answer.set_cookies,
    )
}

/// `POST /reset-password`: requests a reset link by user name or e-mail address.
async fn request_reset(
    State(state): State<Arc<PagesState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = admit_or_return!(state, peer, headers, body);
    let custom_reset = &state
        .config
        .authentication_backend
        .password_reset
        .custom_url;
    if let Some(url) = custom_reset {
        return see_other(url.as_str(), &[]);
    }
    let request = json!({ "username": form.field("username").trim() });

    let path = "/api/reset-password/identity/start";
    let answer = form
        .caller
        .call(&state.api, Method::POST, path, Some(&request))
        .await;
    if !answer.is_ok() {
        let code = outcome::for_status(answer.status.as_u16(), outcome::FORBIDDEN);
        return back("/reset-password", code, &[], Some(&answer));
    }
    see_other(
        &page_url("/reset-password", &[("notice", outcome::RESET_SENT)]),
        &answer.set_cookies,
    )
}

/// The cookie that keeps a reset link's token for the new password form after a refused
/// attempt, so that the redirect back to the form never carries the token in its URL.
const RESET_LINK_COOKIE: &str = "gatehouse_reset_link";

/// The page the reset link opens, and the only path [`RESET_LINK_COOKIE`] is sent to.
const RESET_LINK_PAGE: &str = "/reset-password/step2";

/// How long a kept reset token cookie lives, in seconds. The token's own expiry still applies.
const RESET_LINK_COOKIE_SECS: u32 = 15 * 60;

/// Builds the `Set-Cookie` that keeps `token` for [`RESET_LINK_PAGE`], or removes it when
/// `token` is empty.
fn reset_link_cookie(token: &str, localhost: bool) -> HeaderValue {
    let secure = if localhost { "" } else { "; Secure" };
    let max_age = if token.is_empty() {
        0
    } else {
        RESET_LINK_COOKIE_SECS
    };
    let header = format!(
        "{RESET_LINK_COOKIE}={token}; Path={RESET_LINK_PAGE}; Max-Age={max_age}; HttpOnly; \
         SameSite=Strict{secure}"
    );
    HeaderValue::from_str(&header).unwrap_or_else(|_| {
        HeaderValue::from_static("gatehouse_reset_link=; Path=/reset-password/step2; Max-Age=0")
    })
}

/// `POST /reset-password/step2`: sets the new password with the reset link's token, sent in the
/// JSON body. The token comes from the form's hidden field, which the link's page fills, or after
/// a refused attempt from [`RESET_LINK_COOKIE`]. A rejected attempt with a still valid link sends
/// the browser back to the form with the token kept in that cookie, because the token must not
/// go into a URL. An invalid link sends it to the reset request page.
async fn reset_password(
    State(state): State<Arc<PagesState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = admit_or_return!(state, peer, headers, body);
    let token = match form.field("token") {
        "" => kept_reset_token(&form.caller.headers).unwrap_or_default(),
        field => field.to_owned(),
    };
    // Only URL-safe base64 can be stored in the cookie, and only such tokens are ever valid.
    let forget = reset_link_cookie("", form.localhost);
    if !is_link_value(&token) {
        return see_other(
            &page_url("/reset-password", &[("error", outcome::LINK)]),
            &[forget],
        );
    }
    let keep = reset_link_cookie(&token, form.localhost);
    if form.field("password") != form.field("confirm_password") {
        return see_other(
            &page_url(RESET_LINK_PAGE, &[("error", outcome::PASSWORD_MISMATCH)]),
            &[keep],
        );
    }

    let request = json!({ "password": form.field("password"), "token": token });
    let answer = form
        .caller
        .call(
            &state.api,
            Method::POST,
            "/api/reset-password",
            Some(&request),
        )
        .await;
    let mut cookies = answer.set_cookies.clone();
    if answer.is_ok() {
        cookies.push(forget);
        return see_other(
            &page_url("/", &[("notice", outcome::PASSWORD_CHANGED)]),
            &cookies,
        );
    }
    let code = password_failure(answer.status.as_u16(), &answer.body);
    if code == outcome::LINK {
        cookies.push(forget);
        return see_other(&page_url("/reset-password", &[("error", code)]), &cookies);
    }
    cookies.push(keep);
    see_other(&page_url(RESET_LINK_PAGE, &[("error", code)]), &cookies)
}

/// Returns the token kept in [`RESET_LINK_COOKIE`], when the request carries exactly one.
fn kept_reset_token(headers: &HeaderMap) -> Option<String> {
    match find_cookie(headers, RESET_LINK_COOKIE) {
        CookieLookup::Single(value) if !value.is_empty() => String::from_utf8(value.to_vec()).ok(),
        _ => None,
    }
}

/// Posts a two-factor settings form to the API and returns to the settings page with `notice`
/// on success.
async fn two_factor_step(
    state: &PagesState,
    form: &Submission,
    (method, path): (Method, &str),
    request: Option<&Value>,
    notice: &str,
    refused: &'static str,
) -> Response {
    let page = "/settings/two-factor";
    let answer = form.caller.call(&state.api, method, path, request).await;
    if !answer.is_ok() {
        // A code form's 400 is a wrong code, not a malformed request.
        let code = if needs_elevation(&answer) {
            outcome::for_elevation(&answer.body)
        } else if refused == outcome::CODE && answer.status == StatusCode::BAD_REQUEST {
            outcome::CODE
        } else {
            outcome::for_status(answer.status.as_u16(), refused)
        };
        return back(page, code, &[], Some(&answer));
    }
    let location = if notice.is_empty() {
        page.to_owned()
    } else {
        page_url(page, &[("notice", notice)])
    };
    see_other(&location, &answer.set_cookies)
}

/// `POST /settings/two-factor/elevation/start`: e-mails an elevation code.
async fn request_elevation_code(
    State(state): State<Arc<PagesState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = admit_or_return!(state, peer, headers, body);
    let request = (Method::POST, "/api/user/session/elevation");
    two_factor_step(
        &state,
        &form,
        request,
        None,
        outcome::CODE_SENT,
        outcome::FORBIDDEN,
    )
    .await
}

/// `POST /settings/two-factor/elevation`: confirms the e-mailed code.
async fn confirm_elevation(
    State(state): State<Arc<PagesState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = admit_or_return!(state, peer, headers, body);
    let body = json!({ "otc": form.field("otc").trim() });
    let request = (Method::PUT, "/api/user/session/elevation");
    two_factor_step(&state, &form, request, Some(&body), "", outcome::CODE).await
}

/// `POST /settings/two-factor/totp/start`: draws a new TOTP secret and responds with the page
/// that shows it (200, not a redirect), because the secret is shown once and must not travel in
/// a URL. Reloading that page shows no secret, and the user starts again.
async fn start_totp(
    State(state): State<Arc<PagesState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    nonce: Option<Extension<CspNonce>>,
    body: Bytes,
) -> Response {
    let form = admit_or_return!(state, peer, headers, body);
    let path = "/api/secondfactor/totp/register";
    // The form offers no choice of parameters, so the secret uses the configured defaults.
    let totp = &state.config.totp;
    let request = json!({
        "algorithm": totp.algorithm.as_str(),
        "length": totp.digits,
        "period": totp.period,
    });
    let answer = form
        .caller
        .call(&state.api, Method::PUT, path, Some(&request))
        .await;
    let text = |name: &str| {
        answer
            .data()
            .and_then(|data| data.get(name))
            .and_then(Value::as_str)
    };
    let (Some(secret), Some(qr_svg)) = (text("base32_secret"), text("qr_svg")) else {
        let code = if needs_elevation(&answer) {
            outcome::for_elevation(&answer.body)
        } else {
            outcome::for_status(answer.status.as_u16(), outcome::ELEVATION)
        };
        return back("/settings/two-factor", code, &[], Some(&answer));
    };
    let enrolment = TotpEnrolment {
        qr_svg: qr_svg.to_owned(),
        secret: secret.to_owned(),
    };

    let Some(pages) = state.page_router.get() else {
        tracing::error!("the page router is not set up");
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let mut request = axum::http::Request::get("/settings/two-factor")
        .body(axum::body::Body::empty())
        .expect("a fixed path makes a valid request");
    *request.headers_mut() = form.caller.headers.clone();
    request.headers_mut().remove(CONTENT_TYPE);
    request
        .headers_mut()
        .remove(axum::http::header::CONTENT_LENGTH);
    let extensions = request.extensions_mut();
    extensions.insert(ConnectInfo(peer));
    extensions.insert(PendingTotp(enrolment));
    if let Some(Extension(nonce)) = nonce {
        extensions.insert(nonce);
    }
    let mut response = match pages.clone().oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    for cookie in &answer.set_cookies {
        response
            .headers_mut()
            .append(axum::http::header::SET_COOKIE, cookie.clone());
    }
    response
}

/// `POST /settings/two-factor/totp/confirm`: confirms the new TOTP secret with one code.
async fn confirm_totp(
    State(state): State<Arc<PagesState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = admit_or_return!(state, peer, headers, body);
    let body = json!({ "token": form.field("token").trim() });
    let request = (Method::POST, "/api/secondfactor/totp/register");
    two_factor_step(
        &state,
        &form,
        request,
        Some(&body),
        outcome::FACTOR_ADDED,
        outcome::CODE,
    )
    .await
}

/// `POST /settings/two-factor/totp/remove`: removes the TOTP device.
async fn remove_totp(
    State(state): State<Arc<PagesState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = admit_or_return!(state, peer, headers, body);
    let request = (Method::DELETE, "/api/secondfactor/totp");
    two_factor_step(
        &state,
        &form,
        request,
        None,
        outcome::FACTOR_REMOVED,
        outcome::ELEVATION,
    )
    .await
}

/// Sends a rename or removal of a security key to the API and returns to the settings page:
/// with `notice` on success, else with an error code for the security-key section.
async fn key_step(
    state: &PagesState,
    form: &Submission,
    method: Method,
    request: Option<&Value>,
    notice: &str,
) -> Response {
    let page = "/settings/two-factor";
    let keep = [("form", KEYS_FORM)];
    let id = form.field("id");
    // Credential ids are row numbers; anything else never reaches the request path.
    if id.is_empty() || id.len() > 19 || !id.bytes().all(|byte| byte.is_ascii_digit()) {
        return back(page, outcome::INVALID, &keep, None);
    }
    let path = format!("/api/secondfactor/webauthn/credential/{id}");
    let answer = form.caller.call(&state.api, method, &path, request).await;
    if !answer.is_ok() {
        let code = match answer.status {
            _ if needs_elevation(&answer) => outcome::for_elevation(&answer.body),
            StatusCode::BAD_REQUEST if request.is_some() => outcome::DEVICE_NAME,
            StatusCode::CONFLICT => outcome::DEVICE_NAME_TAKEN,
            status => outcome::for_status(status.as_u16(), outcome::FORBIDDEN),
        };
        return back(page, code, &keep, Some(&answer));
    }
    see_other(&page_url(page, &[("notice", notice)]), &answer.set_cookies)
}

/// `POST /settings/two-factor/webauthn/rename`: gives a security key a new device name.
async fn rename_key(
    State(state): State<Arc<PagesState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = admit_or_return!(state, peer, headers, body);
    let request = json!({ "description": form.field("description") });
    key_step(
        &state,
        &form,
        Method::PUT,
        Some(&request),
        outcome::KEY_RENAMED,
    )
    .await
}

/// `POST /settings/two-factor/webauthn/remove`: removes a security key.
async fn remove_key(
    State(state): State<Arc<PagesState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = admit_or_return!(state, peer, headers, body);
    key_step(&state, &form, Method::DELETE, None, outcome::FACTOR_REMOVED).await
}

/// Returns whether `value` looks like a token or id of an e-mailed link: non-empty URL-safe
/// base64. The API checks it fully. This check only keeps other text out of a request path.
fn is_link_value(value: &str) -> bool {
    !value.is_empty()
        && value
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
}

/// Sends the browser back to a revoke page: with `notice` on success, else with an error code.
fn revoke_outcome(page: &str, answer: &ApiAnswer, notice: &str) -> Response {
    if answer.is_ok() {
        return see_other(&page_url(page, &[("notice", notice)]), &answer.set_cookies);
    }
    let code = match answer.status.as_u16() {
        400 | 404 => outcome::LINK,
        status => outcome::for_status(status, outcome::LINK),
    };
    back(page, code, &[], Some(answer))
}

/// `POST /revoke/reset-password`: revokes an unused password reset link.
async fn revoke_reset_link(
    State(state): State<Arc<PagesState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = admit_or_return!(state, peer, headers, body);
    let page = "/revoke/reset-password";
    let token = form.field("token");
    if !is_link_value(token) {
        return back(page, outcome::LINK, &[], None);
    }
    let request = json!({ "token": token });
    let answer = form
        .caller
        .call(
            &state.api,
            Method::DELETE,
            "/api/reset-password",
            Some(&request),
        )
        .await;
    revoke_outcome(page, &answer, outcome::LINK_REVOKED)
}

/// `POST /revoke/one-time-code`: revokes the pending elevation codes an e-mail was sent with.
async fn revoke_one_time_code(
    State(state): State<Arc<PagesState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = admit_or_return!(state, peer, headers, body);
    let page = "/revoke/one-time-code";
    let id = form.field("id");
    if !is_link_value(id) {
        return back(page, outcome::LINK, &[], None);
    }
    let path = format!("/api/user/session/elevation/{id}");
    let answer = form
        .caller
        .call(&state.api, Method::DELETE, &path, None)
        .await;
    revoke_outcome(page, &answer, outcome::CODE_REVOKED)
}
