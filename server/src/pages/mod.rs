//! The portal's pages: Leptos server rendering with the page loaders, the form bridge, and the
//! security headers every page response carries.
//!
//! - `GET` of a page: [`load`] finds the portal, sets the form-token cookie, loads the page's
//!   data (from the session and the JSON API, in-process) or redirects, and Leptos renders the
//!   page with that data serialized for hydration.
//! - `POST` of a page's form: [`forms`] checks the form token, calls the JSON API in-process and
//!   redirects (303).
//! - Every response: [`headers`] adds a Content-Security-Policy with a fresh nonce, which the
//!   rendered scripts carry, and the other security headers.

mod api;
mod csrf;
mod forms;
pub mod headers;
mod load;

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use axum::http::header::{CONTENT_TYPE, LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};
use url::Url;

use crate::config::Config;
use crate::domain::CanonicalHost;
use crate::forward_auth::client_ip::{client_ip, trusted_peer, ClientIp};
use crate::forward_auth::{AuthzState, CookieDomainEntry};
use crate::redirect::is_safe_redirect;
use crate::services::Services;
use crate::session::SessionStore;

use self::csrf::FormKey;
use self::headers::CspNonce;

/// State shared by the page loaders and the form bridge.
struct PagesState {
    /// The JSON API, called in-process.
    api: Router,
    config: Arc<Config>,
    authz: Arc<AuthzState>,
    sessions: SessionStore,
    form_key: FormKey,
    /// The Leptos routes behind the page loaders, for a form that responds with a page.
    page_router: OnceLock<Router>,
    /// The canonical hosts of every cookie domain, which redirect targets must be under.
    redirect_domains: Vec<CanonicalHost>,
}

impl PagesState {
    /// Finds the configured portal whose host the request names, as the JSON API does.
    fn portal_entry(&self, peer: SocketAddr, headers: &HeaderMap) -> Option<&CookieDomainEntry> {
        let trusted = trusted_peer(peer.ip(), self.authz.trusted_proxies.as_deref());
        let host = crate::portal::request::request_host(headers, trusted)?;
        self.authz.cookie_domains.iter().find(|entry| {
            entry
                .portal
                .as_ref()
                .and_then(crate::portal::request::url_host)
                .as_ref()
                == Some(&host)
        })
    }

    /// Returns `candidate` as a URL when it is a safe redirect target.
    fn safe_redirect(&self, candidate: &str) -> Option<Url> {
        if candidate.is_empty() {
            return None;
        }
        is_safe_redirect(candidate, &self.redirect_domains)
    }

    fn client_ip(&self, caller: &api::Caller) -> ClientIp {
        client_ip(
            caller.peer.ip(),
            caller.headers.get_all("x-forwarded-for"),
            self.authz.trusted_proxies.as_deref(),
        )
    }
}

/// Builds the pages' router: the Leptos routes behind the page loaders, the form routes, the
/// site's files and the not-found page, all behind the security headers. `api` is the JSON API
/// router that forms and loaders call in-process.
pub fn router(services: &Services, leptos: &LeptosOptions, api: Router) -> Router {
    let state = Arc::new(PagesState {
        api,
        config: Arc::clone(&services.config),
        authz: Arc::clone(&services.authz),
        sessions: services.sessions.clone(),
        form_key: FormKey::derive(services.config.session.secret.expose()),
        page_router: OnceLock::new(),
        redirect_domains: services
            .authz
            .cookie_domains
            .iter()
            .map(|entry| entry.host.clone())
            .collect(),
    });
    let domains: Vec<(String, bool)> = services
        .config
        .session
        .cookies
        .iter()
        .map(|cookie| (cookie.domain.clone(), cookie.is_localhost()))
        .collect();
    let form_action: Arc<str> = headers::form_action_sources(&domains).into();

    let routes = generate_route_list(app::App);
    let shell_options = leptos.clone();
    let pages = Router::new()
        .leptos_routes_with_context(leptos, routes, provide_request_context, move || {
            app::shell(shell_options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler_with_context(
            provide_request_context,
            app::shell,
        ))
        .with_state(leptos.clone())
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state),
            load::load_page,
        ));

    // The TOTP enrolment form responds with the rendered page, through these same routes.
    let _ = state.page_router.set(pages.clone());
    pages
        .merge(forms::routes(state))
        .layer(axum::middleware::from_fn(move |request, next| {
            let form_action = Arc::clone(&form_action);
            async move { headers::security_headers(&form_action, request, next).await }
        }))
}

/// Hands what the server prepared for this request to Leptos: the page's data and the nonce of
/// the response's Content-Security-Policy.
fn provide_request_context() {
    let Some(parts) = use_context::<http::request::Parts>() else {
        return;
    };
    if let Some(data) = parts.extensions.get::<app::data::PageData>() {
        provide_context(data.clone());
    }
    if let Some(nonce) = parts.extensions.get::<CspNonce>() {
        provide_context(leptos::nonce::Nonce::from_value(nonce.0.clone()));
    }
}

/// 303 See Other to `location`, with `cookies` as `Set-Cookie` headers.
fn see_other(location: &str, cookies: &[HeaderValue]) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    match HeaderValue::from_str(location) {
        Ok(value) => {
            response.headers_mut().insert(LOCATION, value);
        }
        Err(_) => {
            response
                .headers_mut()
                .insert(LOCATION, HeaderValue::from_static("/"));
        }
    }
    for cookie in cookies {
        response.headers_mut().append(SET_COOKIE, cookie.clone());
    }
    response
}

/// 400 for a request whose host is no configured portal.
fn unknown_portal() -> Response {
    (
        StatusCode::BAD_REQUEST,
        [(CONTENT_TYPE, "text/plain; charset=utf-8")],
        "The request's host is not the host of any configured portal URL.",
    )
        .into_response()
}
