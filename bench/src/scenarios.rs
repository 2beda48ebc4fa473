//! The requests the load runs send, and the response each one expects from Gatehouse.

use base64::Engine as _;
use http::header::{HeaderName, HeaderValue, ACCEPT, AUTHORIZATION, COOKIE, LOCATION};
use http::StatusCode;

/// The ForwardAuth endpoint, as Traefik and Caddy call it.
pub const FORWARD_AUTH_PATH: &str = "/api/authz/forward-auth";
/// The `Accept` header of a browser's page request, so an unauthorized response is a redirect.
const BROWSER_ACCEPT: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
/// The client address the proxy reports. Gatehouse trusts one hop from a loopback peer.
const CLIENT_IP: &str = "203.0.113.7";
/// The portal URL Gatehouse redirects users to for login (`authelia_url` in the generated
/// configuration).
pub const PORTAL_URL: &str = "https://auth.example.com";

/// One request shape, sent to Gatehouse and, unchanged, to the bare handler.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: &'static str,
    /// The headers after the forwarded target and `Accept`, such as a cookie or credentials.
    pub credential: Option<(HeaderName, HeaderValue)>,
    /// The target host in `X-Forwarded-Host`.
    pub host: &'static str,
    /// Gatehouse's expected response. The bare handler always responds with 200.
    pub expected: Expectation,
    /// The ratios to the bare handler that Gatehouse should reach, if this scenario has any.
    pub target: Option<Target>,
}

/// The status and headers of a correct response.
#[derive(Debug, Clone)]
pub struct Expectation {
    pub status: StatusCode,
    /// The `Remote-User` value of a response for an identified user.
    pub remote_user: Option<String>,
    /// The start of the `Location` header of a redirect.
    pub location_prefix: Option<&'static str>,
}

impl Expectation {
    /// Expects `status` and nothing else.
    pub fn status(status: StatusCode) -> Expectation {
        Expectation {
            status,
            remote_user: None,
            location_prefix: None,
        }
    }

    /// Returns `None` when the response matches, else a description of the mismatch.
    pub fn check(&self, status: StatusCode, headers: &http::HeaderMap) -> Option<String> {
        if status != self.status {
            return Some(format!("expected status {}, got {status}", self.status));
        }
        if let Some(user) = &self.remote_user {
            let found = headers
                .get("remote-user")
                .and_then(|value| value.to_str().ok());
            if found != Some(user.as_str()) {
                return Some(format!(
                    "expected Remote-User: {user}, got {}",
                    found.unwrap_or("no Remote-User header")
                ));
            }
        }
        if let Some(prefix) = self.location_prefix {
            let found = headers.get(LOCATION).and_then(|value| value.to_str().ok());
            if !found.is_some_and(|location| location.starts_with(prefix)) {
                return Some(format!(
                    "expected a Location starting with {prefix}, got {}",
                    found.unwrap_or("no Location header")
                ));
            }
        }
        None
    }
}

/// Minimum throughput and maximum p99 latency of Gatehouse, as multiples of the bare handler's.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    pub min_rps_ratio: f64,
    pub max_p99_ratio: Option<f64>,
}

/// The user and credentials the fixture created, which the scenarios send.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub username: String,
    pub password: String,
    /// `name=value` of the session cookie.
    pub session_cookie: String,
}

/// Builds the five load scenarios in the order they run.
pub fn load_scenarios(credentials: &Credentials) -> Vec<Scenario> {
    let identified = |status| Expectation {
        status,
        remote_user: Some(credentials.username.clone()),
        location_prefix: None,
    };
    let cookie = HeaderValue::from_str(&credentials.session_cookie)
        .expect("a name and URL-safe base64 form a valid header value");
    vec![
        Scenario {
            name: "anonymous redirect",
            credential: None,
            host: "app.example.com",
            expected: Expectation {
                status: StatusCode::FOUND,
                remote_user: None,
                location_prefix: Some(PORTAL_URL),
            },
            target: Some(Target {
                min_rps_ratio: 0.7,
                max_p99_ratio: None,
            }),
        },
        Scenario {
            name: "cookie allowed",
            credential: Some((COOKIE, cookie)),
            host: "app.example.com",
            expected: identified(StatusCode::OK),
            target: Some(Target {
                min_rps_ratio: 0.6,
                max_p99_ratio: Some(1.5),
            }),
        },
        Scenario {
            name: "bypass rule",
            credential: None,
            host: "public.example.com",
            expected: Expectation::status(StatusCode::OK),
            target: None,
        },
        Scenario {
            name: "basic allowed",
            credential: Some((
                AUTHORIZATION,
                basic_authorization(&credentials.username, &credentials.password),
            )),
            host: "app.example.com",
            expected: identified(StatusCode::OK),
            target: None,
        },
        Scenario {
            name: "denied",
            credential: None,
            host: "other.example.com",
            expected: Expectation::status(StatusCode::FORBIDDEN),
            target: None,
        },
    ]
}

/// Builds an `Authorization: Basic` value for `username` and `password`.
pub fn basic_authorization(username: &str, password: &str) -> HeaderValue {
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
    HeaderValue::from_str(&format!("Basic {token}")).expect("base64 is a valid header value")
}

/// Builds the ForwardAuth request for `host`, as a proxy sends it for a browser's page request.
pub fn forward_auth_request(
    authority: &str,
    host: &str,
    credential: Option<&(HeaderName, HeaderValue)>,
) -> http::Request<http_body_util::Empty<hyper::body::Bytes>> {
    let mut builder = http::Request::get(FORWARD_AUTH_PATH)
        .header(http::header::HOST, authority)
        .header("x-forwarded-method", "GET")
        .header("x-forwarded-proto", "https")
        .header("x-forwarded-host", host)
        .header("x-forwarded-uri", "/dashboard?tab=1")
        .header("x-forwarded-for", CLIENT_IP)
        .header(ACCEPT, BROWSER_ACCEPT);
    if let Some((name, value)) = credential {
        builder = builder.header(name, value);
    }
    builder
        .body(http_body_util::Empty::new())
        .expect("the request's parts are valid")
}
