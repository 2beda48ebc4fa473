//! The checks every portal request passes before its endpoint runs: which configured portal it
//! is for, whether a POST comes from that portal's own pages, and who the client is.

use std::net::{IpAddr, SocketAddr};

use axum::http::header::{CONTENT_TYPE, HOST, ORIGIN, REFERER};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use url::{Host, Url};

use crate::domain::{canonicalize_authority, canonicalize_host, CanonicalHost};
use crate::forward_auth::client_ip::{client_ip, trusted_peer, ClientIp};
use crate::forward_auth::CookieDomainEntry;
use crate::identity::regulation::RegulationSubject;

use super::response::{forbidden, ko};
use super::PortalState;

const X_FORWARDED_HOST: &str = "x-forwarded-host";

/// A request matched to a configured portal.
pub(super) struct PortalRequest<'a> {
    /// The cookie domain whose `authelia_url` the request's host names.
    pub entry: &'a CookieDomainEntry,
    pub client: ClientIp,
    pub peer: IpAddr,
}

impl PortalRequest<'_> {
    /// Returns the address that regulation and rate limits count this request under.
    pub fn subject(&self) -> RegulationSubject {
        RegulationSubject::new(self.client, self.peer)
    }
}

/// Matches the request to a portal (400 when none matches), and for a POST also applies the
/// cross-site request forgery check (403 when it fails).
// The error is the finished response, sent at once, so its size on the stack does not matter.
#[allow(clippy::result_large_err)]
pub(super) fn admit<'a>(
    state: &'a PortalState,
    peer: SocketAddr,
    headers: &HeaderMap,
    state_changing: bool,
) -> Result<PortalRequest<'a>, Response> {
    let peer = peer.ip();
    let trusted = state.authz.trusted_proxies.as_deref();
    let peer_trusted = trusted_peer(peer, trusted);

    let Some(host) = request_host(headers, peer_trusted) else {
        tracing::info!(%peer, "portal request rejected: Host or X-Forwarded-Host is missing, repeated or invalid");
        return Err(unknown_portal());
    };
    let Some(entry) = state
        .authz
        .cookie_domains
        .iter()
        .find(|entry| entry.portal.as_ref().and_then(url_host).as_ref() == Some(&host))
    else {
        tracing::info!(%peer, host = %host.as_str(), "portal request for a host that is no configured portal; rejected");
        return Err(unknown_portal());
    };

    if state_changing {
        let portal = entry
            .portal
            .as_ref()
            .expect("a matched entry has a portal URL");
        if !same_origin_request(portal, headers) {
            tracing::info!(%peer, portal = %portal, "cross-site portal request rejected");
            return Err(forbidden());
        }
    }

    Ok(PortalRequest {
        entry,
        client: client_ip(peer, headers.get_all("x-forwarded-for"), trusted),
        peer,
    })
}

fn unknown_portal() -> Response {
    ko(
        StatusCode::BAD_REQUEST,
        "The request's host is not the host of any configured portal URL.",
    )
}

/// Reads the host the client asked for: `X-Forwarded-Host` from a peer that may send forwarded
/// headers, else `Host`. Of a comma-separated `X-Forwarded-Host`, the first entry is the
/// client's. A header given twice, or a value that is not a valid host, reads as `None`.
pub(crate) fn request_host(headers: &HeaderMap, peer_trusted: bool) -> Option<CanonicalHost> {
    let forwarded = peer_trusted
        .then(|| single_header(headers, X_FORWARDED_HOST))
        .flatten();
    let text = match forwarded {
        Some(value) => value?.split(',').next()?.trim(),
        None => single_header(headers, HOST.as_str())??.trim(),
    };
    canonicalize_authority(text).ok().map(|(host, _port)| host)
}

/// Returns `None` when the header is absent, `Some(None)` when it is repeated or not text, and
/// `Some(Some(value))` otherwise.
fn single_header<'a>(headers: &'a HeaderMap, name: &str) -> Option<Option<&'a str>> {
    let mut values = headers.get_all(name).iter();
    let first = values.next()?;
    if values.next().is_some() {
        return Some(None);
    }
    Some(first.to_str().ok())
}

/// Returns the canonical host of a URL.
pub(crate) fn url_host(url: &Url) -> Option<CanonicalHost> {
    match url.host()? {
        Host::Domain(name) => canonicalize_host(name).ok(),
        Host::Ipv4(address) => Some(CanonicalHost::from(IpAddr::V4(address))),
        Host::Ipv6(address) => Some(CanonicalHost::from(IpAddr::V6(address))),
    }
}

/// Checks that a state-changing request comes from the portal's own origin. `Origin` decides
/// when present, else `Referer`. With neither, only a JSON body is accepted, because a
/// cross-site form cannot send `Content-Type: application/json` without a CORS preflight.
pub(crate) fn same_origin_request(portal: &Url, headers: &HeaderMap) -> bool {
    let named_origin = match (
        single_header(headers, ORIGIN.as_str()),
        single_header(headers, REFERER.as_str()),
    ) {
        (Some(origin), _) => Some(origin),
        (None, Some(referer)) => Some(referer),
        (None, None) => None,
    };
    match named_origin {
        Some(value) => value
            .and_then(|text| Url::parse(text).ok())
            .is_some_and(|url| url.origin() == portal.origin()),
        None => is_json(headers),
    }
}

fn is_json(headers: &HeaderMap) -> bool {
    let Some(Some(value)) = single_header(headers, CONTENT_TYPE.as_str()) else {
        return false;
    };
    let media_type = value.split(';').next().unwrap_or("").trim();
    media_type.eq_ignore_ascii_case("application/json")
}
