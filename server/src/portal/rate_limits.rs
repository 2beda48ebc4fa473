//! Per-client-IP rate limits of the WebAuthn routes, applied as route layers so the handlers
//! stay unchanged.
//!
//! Both limits use the buckets of `server.endpoints.rate_limits.second_factor_totp` (by default
//! 30 per minute, 40 per 2 minutes and 50 per 10 minutes), each with counters of its own:
//!
//! - assertions: `GET` and `POST /api/secondfactor/webauthn`, `POST /api/firstfactor/passkey`
//!   and `POST /api/secondfactor/password` (the passkey start, `GET /api/firstfactor/passkey`,
//!   has its own limiter in the handler);
//! - credential changes: every method of `/api/secondfactor/webauthn/credential/register` and
//!   `/api/secondfactor/webauthn/credential/{id}`.
//!
//! A request over a limit gets 429 with `Retry-After`, as every limited endpoint does.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::forward_auth::rate_limit::RateLimiter;

use super::request::admit;
use super::response::too_many_requests;
use super::PortalState;

/// The rate limiters of the WebAuthn routes, per client IP.
pub(super) struct WebauthnLimits {
    pub assertion: RateLimiter<IpAddr>,
    pub credential_change: RateLimiter<IpAddr>,
}

/// Applies the assertion limit to a WebAuthn login or second-factor request.
pub(super) async fn limit_assertion(
    State(state): State<Arc<PortalState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
    next: Next,
) -> Response {
    let limiter = &state.webauthn_limits.assertion;
    limit(&state, limiter, "webauthn_assertion", peer, request, next).await
}

/// Applies the credential-change limit to a WebAuthn registration, rename or removal request.
pub(super) async fn limit_credential_change(
    State(state): State<Arc<PortalState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
    next: Next,
) -> Response {
    let limiter = &state.webauthn_limits.credential_change;
    limit(
        &state,
        limiter,
        "webauthn_credential_change",
        peer,
        request,
        next,
    )
    .await
}

/// Counts the request under its client IP and returns 429 when a bucket is full. A request for
/// no configured portal passes on, and the handler rejects it with 400.
async fn limit(
    state: &PortalState,
    limiter: &RateLimiter<IpAddr>,
    limit_name: &'static str,
    peer: SocketAddr,
    request: Request,
    next: Next,
) -> Response {
    let Ok(portal) = admit(state, peer, request.headers(), false) else {
        return next.run(request).await;
    };
    let client = portal.subject().address();
    if let Err(limited) = limiter.acquire(client) {
        tracing::info!(%client, limit = limit_name, path = request.uri().path(), "request rejected: rate limit exceeded");
        return too_many_requests(limited.retry_after);
    }
    next.run(request).await
}
