//! Where a login step sends the browser next: the redirect decision of the first and second
//! factor responses.

use axum::http::{HeaderMap, HeaderValue};
use serde_json::{json, Value};
use url::Url;

use crate::access::{AccessControl, Request as AccessRequest, Subject};
use crate::config::Policy;
use crate::forward_auth::client_ip::ClientIp;
use crate::forward_auth::target::Target;
use crate::forward_auth::CookieDomainEntry;
use crate::redirect::is_safe_redirect;

use super::PortalState;

/// Returns the target as a safe redirect URL, or `None` when it is missing or unsafe.
pub(super) fn safe_target(state: &PortalState, candidate: Option<&str>) -> Option<Url> {
    let candidate = candidate.filter(|text| !text.is_empty())?;
    let url = is_safe_redirect(candidate, &state.redirect_domains);
    if url.is_none() {
        tracing::info!("unsafe redirect target ignored");
    }
    url
}

/// Builds the `data` of a login response that redirects to `url`.
pub(super) fn redirect_data(url: &Url) -> Value {
    json!({ "redirect": url.as_str() })
}

/// Builds the `data` that sends the browser to the domain's `default_redirection_url`, or `None`
/// (a bare `{"status":"OK"}`) when none is configured.
pub(super) fn default_redirect_data(entry: &CookieDomainEntry) -> Option<Value> {
    entry
        .config
        .default_redirection_url
        .as_ref()
        .map(redirect_data)
}

/// Decides which policy the user needs for `url` requested with `method`; see
/// [`decide_policy`].
pub(super) fn required_policy(
    state: &PortalState,
    url: &Url,
    method: Option<&str>,
    client: ClientIp,
    username: &str,
    groups: &[String],
) -> Option<Policy> {
    decide_policy(&state.authz.access, url, method, client, username, groups)
}

/// Decides which policy the user needs for `url` requested with `method`, as an authz request
/// for that URL would be decided. The rules see the canonical host and path. The method and
/// every method override in the URL's query are decided, and the strictest policy wins.
/// Returns `None` when the URL cannot be read as a target, which the caller treats as unsafe.
pub(crate) fn decide_policy(
    access: &AccessControl,
    url: &Url,
    method: Option<&str>,
    client: ClientIp,
    username: &str,
    groups: &[String],
) -> Option<Policy> {
    let method = method
        .filter(|method| {
            !method.is_empty() && method.bytes().all(|byte| byte.is_ascii_alphabetic())
        })
        .map_or_else(|| "GET".to_owned(), str::to_ascii_uppercase);
    let mut headers = HeaderMap::new();
    headers.insert("x-original-url", HeaderValue::from_str(url.as_str()).ok()?);
    headers.insert("x-original-method", HeaderValue::from_str(&method).ok()?);
    let target = Target::from_auth_request(&headers).ok()?;

    let subject = Subject::User { username, groups };
    let resource = target.resource_string();
    let decide_for = |method: &str| {
        let request = AccessRequest {
            host: target.host().as_str(),
            method,
            method_overrides: &[],
            path: target.canonical_path(),
            resource: &resource,
            query: target.query_pairs(),
            client_ip: client.known(),
        };
        access.decide(&request, &subject).policy
    };
    let mut strictest = decide_for(target.method());
    for method in target.method_overrides() {
        let policy = decide_for(method);
        if strictness(policy) > strictness(strictest) {
            strictest = policy;
        }
    }
    Some(strictest)
}

fn strictness(policy: Policy) -> u8 {
    match policy {
        Policy::Bypass => 0,
        Policy::OneFactor => 1,
        Policy::TwoFactor => 2,
        Policy::Deny => 3,
    }
}
