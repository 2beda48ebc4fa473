//! The forward-auth path: turning an authz request from a reverse proxy into a decision.

pub mod basic;
pub mod client_ip;
pub mod escape;
pub mod handler;
pub mod rate_limit;
pub mod response;
pub mod target;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::routing::{any, get, MethodRouter};
use axum::Router;
use ipnet::IpNet;
use url::Url;

use crate::access::AccessControl;
use crate::config::{AuthScheme, Config, CookieDomain, StrategyName};
use crate::domain::{canonicalize_host, CanonicalHost};
use crate::session::SessionStore;

use handler::{Endpoint, Strategy};
use target::Implementation;

/// A configured cookie domain with its canonical host and portal URL.
pub struct CookieDomainEntry {
    pub host: CanonicalHost,
    pub portal: Option<Url>,
    pub config: CookieDomain,
}

/// The state the authz endpoints share.
pub struct AuthzState {
    pub trusted_proxies: Option<Vec<IpNet>>,
    pub cookie_domains: Vec<CookieDomainEntry>,
    pub access: AccessControl,
    pub sessions: SessionStore,
}

/// Reads the cookie domains of the configuration in canonical form.
pub fn cookie_domains(config: &Config) -> Result<Vec<CookieDomainEntry>, String> {
    config
        .session
        .cookies
        .iter()
        .map(|cookie| {
            let host = canonicalize_host(cookie.domain.trim_start_matches('.'))
                .map_err(|error| format!("session.cookies domain {:?}: {error}", cookie.domain))?;
            Ok(CookieDomainEntry {
                host,
                portal: cookie.authelia_url.clone(),
                config: cookie.clone(),
            })
        })
        .collect()
}

fn implementation_of(configured: crate::config::Implementation) -> Implementation {
    match configured {
        crate::config::Implementation::ForwardAuth => Implementation::ForwardAuth,
        crate::config::Implementation::AuthRequest => Implementation::AuthRequest,
        crate::config::Implementation::ExtAuthz => Implementation::ExtAuthz,
        crate::config::Implementation::Legacy => Implementation::Legacy,
    }
}

/// Builds the configured authz endpoints; `basic_for` makes the Basic verifier of a header
/// strategy (each strategy keeps its own cache lifespan).
pub fn endpoints(
    config: &Config,
    mut basic_for: impl FnMut(&crate::config::AuthnStrategy) -> Arc<basic::BasicVerifier>,
) -> Vec<Endpoint> {
    config
        .server
        .endpoints
        .authz
        .iter()
        .map(|endpoint| Endpoint {
            name: endpoint.name.clone(),
            path: endpoint.path(),
            implementation: implementation_of(endpoint.implementation),
            strategies: endpoint
                .authn_strategies
                .iter()
                .map(|strategy| Strategy {
                    name: strategy.name,
                    basic: (strategy.name != StrategyName::CookieSession
                        && strategy.schemes.contains(&AuthScheme::Basic))
                    .then(|| basic_for(strategy)),
                })
                .collect(),
        })
        .collect()
}

/// Mounts every endpoint. ForwardAuth and AuthRequest answer GET and HEAD only (405 otherwise);
/// Legacy and ExtAuthz accept every method, on their path and every path below it.
pub fn routes(state: Arc<AuthzState>, endpoints: &[Arc<Endpoint>]) -> Router {
    let mut router = Router::new();
    for endpoint in endpoints {
        let path = endpoint.path.clone();
        let implementation = endpoint.implementation;
        let endpoint = Arc::clone(endpoint);
        // The request is taken whole and split, because the `HeaderMap` extractor would copy
        // every header of every authz request.
        let handler = move |state: State<Arc<AuthzState>>,
                            connect: ConnectInfo<SocketAddr>,
                            request: Request| {
            let endpoint = Arc::clone(&endpoint);
            let (parts, _body) = request.into_parts();
            async move {
                handler::handle(
                    state,
                    endpoint,
                    connect,
                    parts.method,
                    parts.uri,
                    parts.headers,
                )
                .await
            }
        };
        let method_router: MethodRouter<Arc<AuthzState>> = match implementation {
            Implementation::ForwardAuth | Implementation::AuthRequest => {
                get(handler.clone()).head(handler)
            }
            Implementation::ExtAuthz | Implementation::Legacy => any(handler),
        };
        router = router.route(&path, method_router.clone());
        if matches!(
            implementation,
            Implementation::ExtAuthz | Implementation::Legacy
        ) {
            router = router.route(&format!("{path}/"), method_router.clone());
            router = router.route(&format!("{path}/{{*rest}}"), method_router);
        }
    }
    router.with_state(state)
}
