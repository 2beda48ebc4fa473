//! A request id for every request: taken into a tracing span (the authz endpoints: into their own
//! log lines) and echoed in `x-request-id`.
//!
//! The id is always made here; an `x-request-id` sent by the client is replaced, so that a client
//! cannot make its requests look like someone else's in the logs.
//!
//! One tower layer does the whole job (replace the header, open the span, copy the id into the
//! response, log the outcome), because it runs on every forward-auth request: four stacked
//! layers cost about a quarter of a bypass request's instructions in a callgrind profile.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::Body;
use axum::extract::MatchedPath;
use axum::http::{HeaderName, HeaderValue, Request};
use axum::response::Response;
use axum::Router;
use rand::RngCore;
use tower::{Layer, Service};
use tracing::Instrument;

/// Returns the request id this layer put in the request's headers, for a log line; empty when
/// the request did not pass through the layer.
pub fn request_id_of(headers: &axum::http::HeaderMap) -> &str {
    headers
        .get(&REQUEST_ID_HEADER)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
}

/// The header that carries the request id in requests and responses.
pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Wraps the router so that each request gets an id, a span carrying it with the method and
/// path, and the id in the response.
pub fn layer(router: Router) -> Router {
    router.layer(RequestIdLayer {
        method_and_path: true,
    })
}

/// Wraps the authz router like [`layer`], but without a span: the authz handler's own log lines
/// carry the request id, as does the outcome's line. Opening a span with only the id cost about
/// 7 % of the instructions of an anonymous redirect (callgrind, December 2026), and an authz
/// request rarely logs anything at the default level. Log lines written below the handler (the
/// session store, the Basic verifier) have no request id.
pub fn authz_layer(router: Router) -> Router {
    router.layer(RequestIdLayer {
        method_and_path: false,
    })
}

/// A 64-bit random request id, written as 16 lower-case hex digits.
#[derive(Clone, Copy)]
struct RequestId(u64);

impl RequestId {
    fn new() -> RequestId {
        RequestId(rand::thread_rng().next_u64())
    }

    fn digits(self) -> [u8; 16] {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut number = self.0;
        let mut digits = [0u8; 16];
        for digit in digits.iter_mut().rev() {
            *digit = HEX[(number & 0xf) as usize];
            number >>= 4;
        }
        digits
    }

    fn header_value(self) -> HeaderValue {
        HeaderValue::from_bytes(&self.digits()).expect("hex digits are a valid header value")
    }
}

/// Written with `Display` into the span, so that the log formatter copies the digits as they are
/// rather than escaping a string character by character.
impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let digits = self.digits();
        f.write_str(std::str::from_utf8(&digits).map_err(|_| std::fmt::Error)?)
    }
}

#[derive(Clone, Copy)]
struct RequestIdLayer {
    /// Whether the span also records the request's method and path.
    method_and_path: bool,
}

impl<S> Layer<S> for RequestIdLayer {
    type Service = RequestIdService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequestIdService {
            inner,
            method_and_path: self.method_and_path,
        }
    }
}

#[derive(Clone)]
struct RequestIdService<S> {
    inner: S,
    method_and_path: bool,
}

impl<S> Service<Request<Body>> for RequestIdService<S>
where
    S: Service<Request<Body>, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(context)
    }

    fn call(&mut self, mut request: Request<Body>) -> Self::Future {
        let request_id = RequestId::new();
        let id = request_id.header_value();
        request.headers_mut().insert(REQUEST_ID_HEADER, id.clone());
        // The matched route rather than the path, because a path segment can be a token (the
        // code-revocation id of `/api/user/session/elevation/{id}`), and never the query.
        // Requests that no route matched (static files, unknown paths) show the path. The authz
        // endpoints get no span (see `authz_layer`).
        let span = self.method_and_path.then(|| {
            let path = match request.extensions().get::<MatchedPath>() {
                Some(route) => route.as_str(),
                None => request.uri().path(),
            };
            tracing::info_span!(
                "request",
                %request_id,
                method = request.method().as_str(),
                path,
            )
        });
        // Without a span, the outcome's own line carries the id.
        let id_field = span.is_none().then_some(request_id);
        // The service that was polled ready is the one that must be called; a fresh clone takes
        // its place for the next request.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let started = Instant::now();
        let outcome = async move {
            let mut response = inner.call(request).await?;
            let status = response.status();
            let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
            let request_id = id_field.map(tracing::field::display);
            if status.is_server_error() {
                tracing::error!(
                    request_id,
                    status = status.as_u16(),
                    latency_ms,
                    "request failed"
                );
            } else {
                tracing::debug!(
                    request_id,
                    status = status.as_u16(),
                    latency_ms,
                    "request finished"
                );
            }
            response.headers_mut().insert(REQUEST_ID_HEADER, id);
            Ok(response)
        };
        match span {
            Some(span) => Box::pin(outcome.instrument(span)),
            None => Box::pin(outcome),
        }
    }
}
