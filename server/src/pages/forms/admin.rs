//! The form bridge of the admin pages: each form calls one admin API route and returns to its
//! page with a notice on success or an outcome code on failure. The elevation forms return to
//! the admin page they were sent from.

use std::net::SocketAddr;
use std::sync::Arc;

use app::data::outcome;
use app::form::{encode_query_value, page_url};
use app::pages::admin::outcome as admin_outcome;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use serde_json::{json, Value};

use super::{admit, back, is_link_value, needs_elevation, see_other, PagesState, Submission};

const USERS: &str = "/admin/users";
const SESSIONS: &str = "/admin/sessions";
const BANS: &str = "/admin/bans";

/// Builds the `POST` routes of the admin pages.
pub(super) fn routes(state: Arc<PagesState>) -> Router {
    Router::new()
        .route("/admin/users/add", post(add_user))
        .route("/admin/users/edit", post(edit_user))
        .route("/admin/users/disable", post(set_disabled))
        .route("/admin/users/delete", post(delete_user))
        .route("/admin/sessions/end", post(end_session))
        .route("/admin/bans/add", post(add_ban))
        .route("/admin/bans/revoke", post(revoke_ban))
        .route("/admin/elevation/start", post(request_elevation_code))
        .route("/admin/elevation", post(confirm_elevation))
        .with_state(state)
}

macro_rules! admit_or_return {
    ($state:expr, $peer:expr, $headers:expr, $body:expr) => {
        match admit(&$state, $peer, $headers, &$body) {
            Ok(submission) => submission,
            Err(response) => return response,
        }
    };
}

/// Calls the admin API and returns to `page`: with `notice` on success, else with the outcome
/// code of the failure. `invalid` is the code of a 400 that names no field.
async fn call_and_return(
    state: &PagesState,
    form: &Submission,
    (method, path): (Method, &str),
    body: Option<&Value>,
    page: &str,
    (notice, invalid): (&str, &'static str),
) -> Response {
    let answer = form.caller.call(&state.api, method, path, body).await;
    if answer.is_ok() {
        return see_other(&page_url(page, &[("notice", notice)]), &answer.set_cookies);
    }
    let message = answer
        .body
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or("");
    let code = match answer.status {
        _ if needs_elevation(&answer) => outcome::ELEVATION,
        StatusCode::UNAUTHORIZED => outcome::FORBIDDEN,
        StatusCode::FORBIDDEN => admin_outcome::NOT_ADMIN,
        StatusCode::BAD_REQUEST => invalid_field(message).unwrap_or(invalid),
        StatusCode::NOT_FOUND => admin_outcome::NOT_FOUND,
        StatusCode::CONFLICT => conflict(message),
        status => outcome::for_status(status.as_u16(), outcome::FORBIDDEN),
    };
    back(page, code, &[], Some(&answer))
}

/// Maps the admin API's 400 message to the field it names.
fn invalid_field(message: &str) -> Option<&'static str> {
    if message.contains("password policy") {
        return Some(outcome::PASSWORD_POLICY);
    }
    let field = message.strip_prefix("The value of ")?;
    let field = field.split(' ').next()?;
    Some(match field {
        "username" => admin_outcome::INVALID_USERNAME,
        "display_name" => admin_outcome::INVALID_DISPLAY_NAME,
        "email" => admin_outcome::INVALID_EMAIL,
        "groups" => admin_outcome::INVALID_GROUPS,
        _ => return None,
    })
}

/// Maps the admin API's 409 message to its outcome code.
fn conflict(message: &str) -> &'static str {
    if message.contains("users file") {
        admin_outcome::FILE_BACKEND
    } else if message.contains("e-mail") {
        admin_outcome::EMAIL_TAKEN
    } else if message.contains("already exists") {
        admin_outcome::USER_EXISTS
    } else {
        admin_outcome::OWN_ACCOUNT
    }
}

/// Splits the comma-separated groups field.
fn group_list(field: &str) -> Vec<String> {
    field
        .split(',')
        .map(str::trim)
        .filter(|group| !group.is_empty())
        .map(str::to_owned)
        .collect()
}

fn user_path(form: &Submission) -> String {
    format!(
        "/api/admin/users/{}",
        encode_query_value(form.field("username"))
    )
}

/// `POST /admin/users/add`: adds a user with an initial password.
async fn add_user(
    State(state): State<Arc<PagesState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = admit_or_return!(state, peer, headers, body);
    let mut request = json!({
        "username": form.field("username").trim(),
        "display_name": form.field("display_name").trim(),
        "groups": group_list(form.field("groups")),
        "password": form.field("password"),
    });
    let email = form.field("email").trim();
    if !email.is_empty() {
        request["email"] = json!(email);
    }
    let call = (Method::POST, "/api/admin/users");
    let outcomes = (admin_outcome::USER_ADDED, outcome::INVALID);
    call_and_return(&state, &form, call, Some(&request), USERS, outcomes).await
}

/// `POST /admin/users/edit`: changes a user's display name, e-mail address and groups. An empty
/// e-mail field removes the address.
async fn edit_user(
    State(state): State<Arc<PagesState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = admit_or_return!(state, peer, headers, body);
    let email = form.field("email").trim();
    let request = json!({
        "display_name": form.field("display_name").trim(),
        "email": if email.is_empty() { Value::Null } else { json!(email) },
        "groups": group_list(form.field("groups")),
    });
    let path = user_path(&form);
    let outcomes = (admin_outcome::USER_CHANGED, outcome::INVALID);
    call_and_return(
        &state,
        &form,
        (Method::PUT, &path),
        Some(&request),
        USERS,
        outcomes,
    )
    .await
}

/// `POST /admin/users/disable`: disables (`disabled=true`) or enables a user.
async fn set_disabled(
    State(state): State<Arc<PagesState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = admit_or_return!(state, peer, headers, body);
    let disabled = match form.field("disabled") {
        "true" => true,
        "false" => false,
        _ => return back(USERS, outcome::INVALID, &[], None),
    };
    let request = json!({ "disabled": disabled });
    let path = user_path(&form);
    let outcomes = (admin_outcome::USER_CHANGED, outcome::INVALID);
    call_and_return(
        &state,
        &form,
        (Method::PUT, &path),
        Some(&request),
        USERS,
        outcomes,
    )
    .await
}

/// `POST /admin/users/delete`: deletes a user with their sessions and second factors.
async fn delete_user(
    State(state): State<Arc<PagesState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = admit_or_return!(state, peer, headers, body);
    let path = user_path(&form);
    let outcomes = (admin_outcome::USER_DELETED, outcome::INVALID);
    call_and_return(
        &state,
        &form,
        (Method::DELETE, &path),
        None,
        USERS,
        outcomes,
    )
    .await
}

/// `POST /admin/sessions/end`: ends any user's session.
async fn end_session(
    State(state): State<Arc<PagesState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = admit_or_return!(state, peer, headers, body);
    let id = form.field("id");
    if !is_link_value(id) {
        return back(SESSIONS, outcome::INVALID, &[], None);
    }
    let path = format!("/api/admin/sessions/{id}");
    let outcomes = (outcome::SESSION_ENDED, outcome::INVALID);
    call_and_return(
        &state,
        &form,
        (Method::DELETE, &path),
        None,
        SESSIONS,
        outcomes,
    )
    .await
}

/// `POST /admin/bans/add`: bans a user name or an IP address for a number of minutes.
async fn add_ban(
    State(state): State<Arc<PagesState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = admit_or_return!(state, peer, headers, body);
    let Ok(minutes) = form.field("duration").trim().parse::<u64>() else {
        return back(BANS, admin_outcome::INVALID_BAN, &[], None);
    };
    let request = json!({
        "kind": form.field("kind"),
        "value": form.field("value").trim(),
        "duration": minutes.saturating_mul(60),
        "reason": form.field("reason").trim(),
    });
    let call = (Method::POST, "/api/admin/bans");
    let outcomes = (admin_outcome::BAN_ADDED, admin_outcome::INVALID_BAN);
    call_and_return(&state, &form, call, Some(&request), BANS, outcomes).await
}

/// `POST /admin/bans/revoke`: ends a ban.
async fn revoke_ban(
    State(state): State<Arc<PagesState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = admit_or_return!(state, peer, headers, body);
    let Ok(id) = form.field("id").parse::<i64>() else {
        return back(BANS, outcome::INVALID, &[], None);
    };
    let path = format!("/api/admin/bans/{id}");
    let outcomes = (admin_outcome::BAN_REVOKED, outcome::INVALID);
    call_and_return(&state, &form, (Method::DELETE, &path), None, BANS, outcomes).await
}

/// Returns the admin page a form names in its `return` field, or the overview.
fn return_page(form: &Submission) -> &'static str {
    match form.field("return") {
        USERS => USERS,
        SESSIONS => SESSIONS,
        BANS => BANS,
        _ => "/admin",
    }
}

/// `POST /admin/elevation/start`: e-mails an elevation code.
async fn request_elevation_code(
    State(state): State<Arc<PagesState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = admit_or_return!(state, peer, headers, body);
    let page = return_page(&form);
    let call = (Method::POST, "/api/user/session/elevation");
    let outcomes = (outcome::CODE_SENT, outcome::INVALID);
    call_and_return(&state, &form, call, None, page, outcomes).await
}

/// `POST /admin/elevation`: confirms the e-mailed code.
async fn confirm_elevation(
    State(state): State<Arc<PagesState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = admit_or_return!(state, peer, headers, body);
    let page = return_page(&form);
    let request = json!({ "otc": form.field("otc").trim() });
    let answer = form
        .caller
        .call(
            &state.api,
            Method::PUT,
            "/api/user/session/elevation",
            Some(&request),
        )
        .await;
    if answer.is_ok() {
        let location = page_url(page, &[("notice", admin_outcome::ELEVATED)]);
        return see_other(&location, &answer.set_cookies);
    }
    let code = outcome::for_status(answer.status.as_u16(), outcome::CODE);
    let code = if answer.status == StatusCode::BAD_REQUEST {
        outcome::CODE
    } else {
        code
    };
    back(page, code, &[], Some(&answer))
}
