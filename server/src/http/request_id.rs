//! A request id for every request: taken into a tracing span and echoed in `x-request-id`.
//!
//! The id is always made here; an `x-request-id` sent by the client is replaced, so that a client
//! cannot make its requests look like someone else's in the logs.

use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, Request};
use axum::Router;
use rand::RngCore;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::TraceLayer;

/// The header that carries the request id in responses.
pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Makes 64-bit random request ids written as 16 hex digits.
#[derive(Clone, Copy, Default)]
struct RandomRequestId;

impl MakeRequestId for RandomRequestId {
    fn make_request_id<B>(&mut self, _request: &Request<B>) -> Option<RequestId> {
        let id = format!("{:016x}", rand::thread_rng().next_u64());
        HeaderValue::from_str(&id).ok().map(RequestId::new)
    }
}

/// Wraps the router so that each request gets an id, a span carrying it, and the id in the response.
pub fn layer(router: Router) -> Router {
    router
        .layer(PropagateRequestIdLayer::new(REQUEST_ID_HEADER))
        .layer(
            TraceLayer::new_for_http().make_span_with(|request: &Request<Body>| {
                let request_id = request
                    .headers()
                    .get(REQUEST_ID_HEADER)
                    .and_then(|value| value.to_str().ok())
                    .unwrap_or("-");
                // Only the path: a query string can hold a single-use token.
                tracing::info_span!(
                    "request",
                    request_id = %request_id,
                    method = %request.method(),
                    path = %request.uri().path(),
                )
            }),
        )
        .layer(SetRequestIdLayer::new(REQUEST_ID_HEADER, RandomRequestId))
        .layer(axum::middleware::map_request(drop_client_request_id))
}

async fn drop_client_request_id(mut request: Request<Body>) -> Request<Body> {
    request.headers_mut().remove(REQUEST_ID_HEADER);
    request
}
