//! The responses of the JSON API: the OK and KO envelopes and the fixed failure messages.

use std::time::Duration;

use axum::http::header::{CONTENT_TYPE, RETRY_AFTER, SET_COOKIE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;

/// The message of every failed first factor, whatever the cause, so that it reveals nothing.
pub(super) const FIRST_FACTOR_FAILED: &str = "Authentication failed. Check your credentials.";

/// The message of every failed second factor.
pub(super) const SECOND_FACTOR_FAILED: &str = "Authentication failed, please retry later.";

/// The envelope of every JSON response. A struct rather than a `serde_json` map, so that
/// `status` comes first as in Authelia's responses.
#[derive(Serialize)]
struct Envelope<'a> {
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'a str>,
}

/// `{"status":"OK"}`, with `data` when it is given.
pub(super) fn ok(data: Option<Value>) -> Response {
    let envelope = Envelope {
        status: "OK",
        data,
        message: None,
    };
    json_response(StatusCode::OK, &envelope)
}

/// `{"status":"KO","message":…}` with `status`.
pub(super) fn ko(status: StatusCode, message: &str) -> Response {
    let envelope = Envelope {
        status: "KO",
        data: None,
        message: Some(message),
    };
    json_response(status, &envelope)
}

/// `{"status":"KO","data":…}` with `status`: a refusal whose data tells the portal what to do.
pub(super) fn ko_data(status: StatusCode, data: Value) -> Response {
    let envelope = Envelope {
        status: "KO",
        data: Some(data),
        message: None,
    };
    json_response(status, &envelope)
}

/// 403 with the plain text `403 Forbidden`: the caller's session has a lower level than the
/// endpoint needs, or the request failed the cross-site check.
pub(super) fn forbidden() -> Response {
    (
        StatusCode::FORBIDDEN,
        [(CONTENT_TYPE, "text/plain; charset=utf-8")],
        "403 Forbidden",
    )
        .into_response()
}

/// 500 with a KO body; the caller has logged the cause.
pub(super) fn internal_error() -> Response {
    ko(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
}

/// 503 with `Retry-After: 1`: the password hashing pool is full.
pub(super) fn busy() -> Response {
    let mut response = ko(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable");
    response
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

/// 429 with `Retry-After` in whole seconds, rounded up.
pub(super) fn too_many_requests(retry_after: Duration) -> Response {
    let seconds = retry_after.as_millis().div_ceil(1000).max(1);
    let mut response = ko(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests");
    response
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from(seconds as u64));
    response
}

/// Adds a `Set-Cookie` header to `response` when `cookie` is given.
pub(super) fn with_cookie(mut response: Response, cookie: Option<HeaderValue>) -> Response {
    if let Some(cookie) = cookie {
        response.headers_mut().append(SET_COOKIE, cookie);
    }
    response
}

fn json_response(status: StatusCode, envelope: &Envelope<'_>) -> Response {
    let body = serde_json::to_string(envelope).expect("an envelope always serializes");
    (
        status,
        [(CONTENT_TYPE, "application/json; charset=utf-8")],
        body,
    )
        .into_response()
}
