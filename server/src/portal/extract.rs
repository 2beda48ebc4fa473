//! Extractors for the preamble that most portal handlers share: match the request to a portal
//! (with the cross-site check for state-changing methods), resolve the session, and read the
//! JSON body. Each rejection is the finished response the handler would have sent.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use crate::forward_auth::client_ip::ClientIp;
use crate::session::ActiveSession;

use super::request::{admit, PortalRequest};
use super::response::{forbidden, internal_error, ko, with_cookie};
use super::PortalState;

/// A request matched to a portal, from a client with a valid session. `STATE_CHANGING` requests
/// also passed the cross-site request forgery check.
///
/// Rejections: 400 for a host that is no configured portal, 403 for a cross-site request or a
/// missing session (with a `Set-Cookie` that clears a dead cookie), 500 when the store fails.
pub(super) struct PortalSession<const STATE_CHANGING: bool> {
    state: Arc<PortalState>,
    /// The position of the matched entry in `state.authz.cookie_domains`.
    entry_index: usize,
    client: ClientIp,
    peer: std::net::IpAddr,
    pub session: ActiveSession,
}

impl<const STATE_CHANGING: bool> PortalSession<STATE_CHANGING> {
    /// Returns the portal the request was matched to.
    pub(super) fn portal(&self) -> PortalRequest<'_> {
        PortalRequest {
            entry: &self.state.authz.cookie_domains[self.entry_index],
            client: self.client,
            peer: self.peer,
        }
    }
}

impl<const STATE_CHANGING: bool> FromRequestParts<Arc<PortalState>>
    for PortalSession<STATE_CHANGING>
{
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<PortalState>,
    ) -> Result<Self, Response> {
        let Some(ConnectInfo(peer)) = parts.extensions.get::<ConnectInfo<SocketAddr>>().copied()
        else {
            tracing::error!("portal request without the peer address; the server must insert it");
            return Err(internal_error());
        };
        let portal = admit(state, peer, &parts.headers, STATE_CHANGING)?;
        let entry_index = state
            .authz
            .cookie_domains
            .iter()
            .position(|entry| std::ptr::eq(entry, portal.entry))
            .expect("admit returns one of the configured entries");
        let resolution = state
            .sessions
            .resolve(&parts.headers, &portal.entry.config)
            .await;
        if resolution.store_error {
            return Err(internal_error());
        }
        let Some(session) = resolution.session else {
            return Err(with_cookie(forbidden(), resolution.clear_cookie));
        };
        Ok(PortalSession {
            state: Arc::clone(state),
            entry_index,
            client: portal.client,
            peer: portal.peer,
            session,
        })
    }
}

/// The expected shape of a JSON body, named in the 400 response to a body that does not fit.
pub(super) trait BodyShape: DeserializeOwned {
    /// The message of the 400 response, such as "The body must be a JSON object with a uri
    /// string."
    const EXPECTED: &'static str;
}

/// A JSON body of type `T`. Unlike `axum::Json`, it does not require a `Content-Type` (the
/// cross-site check already decided on it) and rejects a body that does not fit with the
/// portal's KO envelope: 400 with [`BodyShape::EXPECTED`].
pub(super) struct JsonBody<T>(pub T);

impl<T: BodyShape> FromRequest<Arc<PortalState>> for JsonBody<T> {
    type Rejection = Response;

    async fn from_request(request: Request, state: &Arc<PortalState>) -> Result<Self, Response> {
        // A body over axum's size limit keeps axum's own 413.
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(IntoResponse::into_response)?;
        serde_json::from_slice(&bytes)
            .map(JsonBody)
            .map_err(|_| ko(StatusCode::BAD_REQUEST, T::EXPECTED))
    }
}
