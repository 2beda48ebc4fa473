//! The responses of the authz endpoints, each built in one place.

use axum::body::Body;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION, RETRY_AFTER, SET_COOKIE};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode};
use axum::response::Response;

use crate::forward_auth::escape::redirect_body;
use crate::forward_auth::target::Implementation;
use crate::identity::remote::RemoteIdentity;

const TEXT_PLAIN: &str = "text/plain; charset=utf-8";
const TEXT_HTML: &str = "text/html; charset=utf-8";

/// The challenge every Basic failure carries.
pub const BASIC_CHALLENGE: &str = "Basic realm=\"Authorization Required\"";

/// How long a client should wait after a 503 from a full hashing queue, in seconds.
const RETRY_AFTER_SECONDS: &str = "1";

fn plain(status: StatusCode, text: &'static str) -> Response {
    let mut response = Response::new(Body::from(text));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(TEXT_PLAIN));
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Builds the response for a request that does not describe a destination: 400, or 401 on the legacy
/// endpoint, with a fixed body that never echoes a header value.
pub fn bad_request(implementation: Implementation) -> Response {
    match implementation {
        Implementation::Legacy => plain(StatusCode::UNAUTHORIZED, "401 Unauthorized"),
        _ => plain(StatusCode::BAD_REQUEST, "400 Bad Request"),
    }
}

/// 403 for a denied request.
pub fn forbidden() -> Response {
    plain(StatusCode::FORBIDDEN, "403 Forbidden")
}

/// 503 with `Retry-After` when a Basic credential could not be checked now.
pub fn busy() -> Response {
    let mut response = plain(StatusCode::SERVICE_UNAVAILABLE, "503 Service Unavailable");
    response
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from_static(RETRY_AFTER_SECONDS));
    response
}

/// Builds the Basic challenge: 401 with `WWW-Authenticate`, or 407 with `Proxy-Authenticate` for the
/// `HeaderProxyAuthorization` strategy.
pub fn challenge(proxy: bool) -> Response {
    if proxy {
        let mut response = plain(
            StatusCode::PROXY_AUTHENTICATION_REQUIRED,
            "407 Proxy Authentication Required",
        );
        response.headers_mut().insert(
            HeaderName::from_static("proxy-authenticate"),
            HeaderValue::from_static(BASIC_CHALLENGE),
        );
        response
    } else {
        let mut response = plain(StatusCode::UNAUTHORIZED, "401 Unauthorized");
        response.headers_mut().insert(
            HeaderName::from_static("www-authenticate"),
            HeaderValue::from_static(BASIC_CHALLENGE),
        );
        response
    }
}

/// Builds the "log in first" response that carries the portal URL: `status` with `Location` and, unless
/// the authz request is HEAD, a short HTML body linking to it.
pub fn redirect(status: StatusCode, location: &str, authz_method: &Method) -> Response {
    let Ok(location_value) = HeaderValue::from_str(location) else {
        // The URL is built from escaped parts, so this cannot happen; deny rather than guess.
        tracing::error!("the portal redirection URL is not a valid header value");
        return forbidden();
    };
    let body = if authz_method == Method::HEAD {
        Body::empty()
    } else {
        Body::from(redirect_body(location, status))
    };
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(LOCATION, location_value);
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(TEXT_HTML));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// 401 without `Location`: the legacy endpoint with no portal URL to send the user to.
pub fn unauthorized_plain() -> Response {
    plain(StatusCode::UNAUTHORIZED, "401 Unauthorized")
}

/// 200, with the identity headers when a user was identified (none for an anonymous bypass).
pub fn allowed(user: Option<&RemoteIdentity>) -> Response {
    let mut response = plain(StatusCode::OK, "200 OK");
    let Some(user) = user else { return response };
    let Some(headers) = user.headers() else {
        tracing::error!(user = %user.username(), "identity header value is invalid: it contains a control character; request denied");
        return forbidden();
    };
    let response_headers = response.headers_mut();
    for (name, value) in headers {
        response_headers.insert(name, value);
    }
    response
}

/// Adds a `Set-Cookie` that clears a dead session cookie to a non-2xx response. A 2xx response
/// gets none.
pub fn with_clear_cookie(mut response: Response, clear_cookie: Option<HeaderValue>) -> Response {
    if let Some(cookie) = clear_cookie {
        if !response.status().is_success() {
            response.headers_mut().append(SET_COOKIE, cookie);
        }
    }
    response
}
