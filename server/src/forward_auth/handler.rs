//! The authz endpoints: `/api/verify` and `/api/authz/*`.
//!
//! Every request runs the same pipeline: trust check, target, cookie domain, portal URL,
//! identification, decision, response. Any failure before the decision gets the "bad request"
//! response, and an error after it never gets 200 unless the rule is `bypass`.

use std::borrow::Cow;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, State};
use axum::http::header::HOST;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};
use axum::response::Response;

use crate::access::{AccessControl, Decision, Request as AccessRequest, Subject as AccessSubject};
use crate::config::{Policy, StrategyName};
use crate::domain::{is_same_or_subdomain, CanonicalHost};
use crate::forward_auth::basic::{parse_authorization_lines, BasicOutcome, OtherSchemes, Parsed};
use crate::forward_auth::client_ip::{client_ip, trusted_peer, ClientIp};
use crate::forward_auth::escape::{redirection_url, unauthorized_status};
use crate::forward_auth::response;
use crate::forward_auth::target::{portal_override_header, BadRequest, Implementation, Target};
use crate::forward_auth::AuthzState;
use crate::http::request_id::request_id_of;
use crate::identity::remote::RemoteIdentity;
use crate::redirect::check_portal_override;
use crate::session::Level;
use url::Url;

/// The client address chain; a `HeaderName` so that the lookup does not parse the name.
static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// One configured authz endpoint, ready to serve.
pub struct Endpoint {
    pub name: String,
    pub path: String,
    pub implementation: Implementation,
    pub strategies: Vec<Strategy>,
}

/// One identification strategy of an endpoint, with the Basic verifier its cache belongs to.
pub struct Strategy {
    pub name: StrategyName,
    /// The Basic verifier of a header strategy whose `schemes` list Basic; `None` for the cookie
    /// strategy and for a header strategy that does not accept Basic, whose Basic header is
    /// then treated as absent.
    pub basic: Option<Arc<crate::forward_auth::basic::BasicVerifier>>,
}

/// The outcome of identification (success, absent or failure) and the strategy it stopped at.
enum Identity {
    /// A user at a level, found by a header strategy or (when `header_strategy` is `None`) the
    /// session cookie.
    User {
        user: Arc<RemoteIdentity>,
        level: Level,
        header_strategy: Option<StrategyName>,
    },
    /// No credential at all; `last` is the last strategy of the list.
    Anonymous { last: StrategyName },
    /// A header credential was present and invalid.
    HeaderFailure { strategy: StrategyName },
    /// A Basic credential could not be checked now (hashing queue full).
    Busy,
}

/// Handles one authz request for `endpoint`.
pub async fn handle(
    State(state): State<Arc<AuthzState>>,
    endpoint: Arc<Endpoint>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let implementation = endpoint.implementation;
    match evaluate(&state, &endpoint, peer.ip(), &method, &uri, &headers).await {
        Ok(response) => response,
        Err(reason) => {
            // Debug, not info: a client can send any number of these.
            tracing::debug!(request_id = request_id_of(&headers), endpoint = %endpoint.name, %reason, peer = %peer.ip(), "authz request rejected as a bad request");
            response::bad_request(implementation)
        }
    }
}

async fn evaluate(
    state: &AuthzState,
    endpoint: &Endpoint,
    peer: IpAddr,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<Response, BadRequest> {
    let trusted = state.trusted_proxies.as_deref();
    if !trusted_peer(peer, trusted) {
        return Err(BadRequest::UntrustedPeer);
    }
    let target = read_target(endpoint, method, uri, headers)?;
    let client = client_ip(peer, headers.get_all(&X_FORWARDED_FOR), trusted);

    let Some(domain_index) = state.cookie_domain_for(target.host()) else {
        return Err(BadRequest::HostOutsideCookieDomains);
    };
    let portal = portal_url(state, endpoint, domain_index, uri, headers)?;

    let legacy_basic = endpoint.implementation == Implementation::Legacy
        && url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
            .any(|(key, value)| key == "auth" && value == "basic");
    let (identity, clear_cookie) = identify(
        state,
        endpoint,
        domain_index,
        headers,
        legacy_basic,
        client,
        peer,
        &target,
    )
    .await;
    let subject = match &identity {
        Identity::User { user, .. } => AccessSubject::User {
            username: user.username(),
            groups: user.groups(),
        },
        _ => AccessSubject::Anonymous,
    };
    let decision = decide_for_target(&state.access, &target, client.known(), &subject);
    log_decision(endpoint, headers, &target, &identity, &decision);

    let answer = respond(
        state,
        endpoint,
        &target,
        portal.as_deref(),
        method,
        headers,
        &identity,
        &decision,
    );
    Ok(response::with_clear_cookie(answer, clear_cookie))
}

/// Decides for the target method and for every method an override names, and keeps the strictest
/// decision: the backend may act on any of them, so the decision must hold for each.
pub fn decide_for_target(
    access: &AccessControl,
    target: &Target,
    client_ip: Option<IpAddr>,
    subject: &AccessSubject<'_>,
) -> Decision {
    let resource = target.resource_string();
    let decide_for = |method: &str| {
        let request = AccessRequest {
            host: target.host().as_str(),
            method,
            method_overrides: &[],
            path: target.canonical_path(),
            resource: &resource,
            query: target.query_pairs(),
            client_ip,
        };
        access.decide(&request, subject)
    };
    let mut strictest = decide_for(target.method());
    for method in target.method_overrides() {
        let decision = decide_for(method);
        if strictness(decision.policy) > strictness(strictest.policy) {
            strictest = decision;
        }
    }
    strictest
}

fn strictness(policy: Policy) -> u8 {
    match policy {
        Policy::Bypass => 0,
        Policy::OneFactor => 1,
        Policy::TwoFactor => 2,
        Policy::Deny => 3,
    }
}

fn read_target(
    endpoint: &Endpoint,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<Target, BadRequest> {
    match endpoint.implementation {
        Implementation::ForwardAuth => Target::from_forward_auth(headers),
        Implementation::AuthRequest => Target::from_auth_request(headers),
        Implementation::Legacy => Target::from_legacy(method.as_str(), headers),
        Implementation::ExtAuthz => {
            let sub_path = uri
                .path()
                .strip_prefix(endpoint.path.as_str())
                .unwrap_or("");
            // Over HTTP/2 the host arrives as the `:authority` pseudo-header, which hyper puts in
            // the URI rather than in a `Host` header.
            let with_host;
            let headers = match uri.authority() {
                Some(authority) if !headers.contains_key(HOST) => {
                    let mut copy = headers.clone();
                    match HeaderValue::from_str(authority.as_str()) {
                        Ok(value) => copy.insert(HOST, value),
                        Err(_) => return Err(BadRequest::MissingHeader("Host")),
                    };
                    with_host = copy;
                    &with_host
                }
                _ => headers,
            };
            Target::from_ext_authz(method.as_str(), sub_path, uri.query(), headers)
        }
    }
}

/// Returns the portal URL for the "log in first" response; `None` only on the legacy endpoint without `rd`
/// or `X-Authelia-URL`, which then responds with a plain 401.
fn portal_url<'a>(
    state: &'a AuthzState,
    endpoint: &Endpoint,
    domain_index: usize,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<Option<Cow<'a, Url>>, BadRequest> {
    let domain = &state.cookie_domains[domain_index];
    let query_override = |name: &str| -> Result<Option<String>, BadRequest> {
        let mut values = url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
            .filter(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned());
        let first = values.next();
        // As with the destination headers, Gatehouse never picks one of several values.
        if values.next().is_some() {
            return Err(BadRequest::RepeatedQueryParameter);
        }
        Ok(first)
    };
    let override_value = match endpoint.implementation {
        Implementation::ForwardAuth | Implementation::AuthRequest => {
            query_override("authelia_url")?
        }
        Implementation::ExtAuthz => portal_override_header(headers)?.map(str::to_owned),
        Implementation::Legacy => match query_override("rd")? {
            Some(rd) => Some(rd),
            None => portal_override_header(headers)?.map(str::to_owned),
        },
    };
    if let Some(candidate) = override_value {
        let url = check_portal_override(&candidate, &domain.host)?;
        return Ok(Some(Cow::Owned(url)));
    }
    match endpoint.implementation {
        Implementation::Legacy => Ok(None),
        _ => match &domain.portal {
            Some(portal) => Ok(Some(Cow::Borrowed(portal))),
            None => Err(BadRequest::NoPortalUrl),
        },
    }
}

#[allow(clippy::too_many_arguments)]
async fn identify(
    state: &AuthzState,
    endpoint: &Endpoint,
    domain_index: usize,
    headers: &HeaderMap,
    legacy_basic: bool,
    client: ClientIp,
    peer: IpAddr,
    target: &Target,
) -> (Identity, Option<HeaderValue>) {
    let mut clear_cookie = None;
    for strategy in &endpoint.strategies {
        match strategy.name {
            StrategyName::CookieSession => {
                let domain = &state.cookie_domains[domain_index].config;
                let resolution = state.sessions.resolve_shared(headers, domain).await;
                clear_cookie = resolution.clear_cookie;
                if let Some(session) = resolution.session {
                    if session.level() > Level::Anonymous {
                        return (
                            Identity::User {
                                user: Arc::clone(session.remote_identity()),
                                level: session.level(),
                                header_strategy: None,
                            },
                            clear_cookie,
                        );
                    }
                }
            }
            name => {
                let Some(verifier) = &strategy.basic else {
                    continue;
                };
                let header_name = match name {
                    StrategyName::HeaderAuthorization => "authorization",
                    StrategyName::HeaderLegacy if legacy_basic => "authorization",
                    _ => "proxy-authorization",
                };
                let strict = name == StrategyName::HeaderLegacy;
                let other_schemes = if strict {
                    OtherSchemes::Malformed
                } else {
                    OtherSchemes::Absent
                };
                let parsed =
                    match parse_authorization_lines(headers.get_all(header_name), other_schemes) {
                        // With `auth=basic` the legacy endpoint always challenges instead of redirecting.
                        Parsed::Absent if strict && legacy_basic => Parsed::Malformed,
                        parsed => parsed,
                    };
                match parsed {
                    Parsed::Absent => continue,
                    Parsed::Malformed => {
                        return (Identity::HeaderFailure { strategy: name }, clear_cookie)
                    }
                    Parsed::Credentials(credentials) => {
                        let resource = target.rd_url();
                        let outcome = verifier
                            .verify(credentials, client, peer, &resource, target.method())
                            .await;
                        let identity = match outcome {
                            BasicOutcome::Success(profile) => Identity::User {
                                user: Arc::new(RemoteIdentity::from_profile(&profile)),
                                level: Level::OneFactor,
                                header_strategy: Some(name),
                            },
                            BasicOutcome::Failure => Identity::HeaderFailure { strategy: name },
                            BasicOutcome::Busy => Identity::Busy,
                        };
                        return (identity, clear_cookie);
                    }
                }
            }
        }
    }
    let last = endpoint
        .strategies
        .last()
        .map_or(StrategyName::CookieSession, |strategy| strategy.name);
    (Identity::Anonymous { last }, clear_cookie)
}

#[allow(clippy::too_many_arguments)]
fn respond(
    _state: &AuthzState,
    endpoint: &Endpoint,
    target: &Target,
    portal: Option<&Url>,
    authz_method: &Method,
    headers: &HeaderMap,
    identity: &Identity,
    decision: &Decision,
) -> Response {
    let unauthorized = || -> Response {
        match portal {
            Some(portal_url) => {
                let location = redirection_url(portal_url, &target.rd_url(), target.method());
                let status = unauthorized_status(headers, target.method(), endpoint.implementation);
                response::redirect(status, &location, authz_method)
            }
            None => response::unauthorized_plain(),
        }
    };
    let challenge = |strategy: StrategyName| {
        response::challenge(strategy == StrategyName::HeaderProxyAuthorization)
    };

    if decision.policy == Policy::Bypass {
        return match identity {
            Identity::User { user, .. } => response::allowed(Some(user.as_ref())),
            _ => response::allowed(None),
        };
    }
    match identity {
        Identity::HeaderFailure { strategy } => {
            // With or without subject criteria, an evaluation as anonymous that does not allow
            // ends in this strategy's challenge.
            challenge(*strategy)
        }
        Identity::User {
            user,
            level,
            header_strategy,
        } => match decision.policy {
            Policy::Deny => response::forbidden(),
            Policy::OneFactor | Policy::TwoFactor => {
                let needed = if decision.policy == Policy::TwoFactor {
                    Level::TwoFactor
                } else {
                    Level::OneFactor
                };
                if *level >= needed {
                    response::allowed(Some(user.as_ref()))
                } else if let Some(strategy) = header_strategy {
                    challenge(*strategy)
                } else {
                    unauthorized()
                }
            }
            Policy::Bypass => response::allowed(Some(user.as_ref())),
        },
        Identity::Anonymous { last } => {
            let header_last = !matches!(last, StrategyName::CookieSession);
            match decision.policy {
                Policy::Deny if !decision.subject_rule => response::forbidden(),
                _ if header_last => challenge(*last),
                _ => unauthorized(),
            }
        }
        Identity::Busy => response::busy(),
    }
}

fn log_decision(
    endpoint: &Endpoint,
    headers: &HeaderMap,
    target: &Target,
    identity: &Identity,
    decision: &Decision,
) {
    let user = match identity {
        Identity::User { user, .. } => user.username(),
        _ => "",
    };
    // Formatted only when the event is written, so the allowed path does not pay for it.
    let rule = RuleLabel(decision.rule);
    let policy = tracing::field::debug(decision.policy);
    if decision.policy == Policy::Deny {
        tracing::info!(request_id = request_id_of(headers), endpoint = %endpoint.name, host = %target.host(), method = target.method(), user, %rule, policy, "authz decision");
    } else {
        tracing::debug!(request_id = request_id_of(headers), endpoint = %endpoint.name, host = %target.host(), method = target.method(), user, %rule, policy, "authz decision");
    }
}

/// The rule that decided, for the log: its index, or `default` for the default policy.
struct RuleLabel(Option<usize>);

impl std::fmt::Display for RuleLabel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(index) => write!(f, "{index}"),
            None => f.write_str("default"),
        }
    }
}

impl AuthzState {
    /// Returns the index of the first cookie domain that is the host or a parent of it.
    pub fn cookie_domain_for(&self, host: &CanonicalHost) -> Option<usize> {
        self.cookie_domains
            .iter()
            .position(|domain| is_same_or_subdomain(host, &domain.host))
    }
}
