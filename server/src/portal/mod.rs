//! The portal's JSON API, compatible with Authelia's: login steps, session state, logout and
//! the checks the portal page calls.
//!
//! Every request is first matched to a configured portal by its host, and every POST passes the
//! cross-site request forgery check (see [`request`]). Responses use the envelope
//! `{"status":"OK","data":…}` or `{"status":"KO","message":…}` and carry
//! `Cache-Control: no-store`.

mod account;
mod admin;
mod elevation;
mod elevation_code;
mod extract;
mod first_factor;
pub(crate) mod links;
mod methods;
pub(crate) mod one_time;
mod password;
mod rate_limits;
pub(crate) mod request;
mod reset_password;
mod response;
mod second_factor;
mod session_info;
pub(crate) mod target;
mod totp;
mod totp_register;
mod user_sessions;
mod webauthn;
mod webauthn_credentials;
mod webauthn_login;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::http::header::{CACHE_CONTROL, X_CONTENT_TYPE_OPTIONS};
use axum::http::HeaderValue;
use axum::response::Response;
use axum::routing::{delete, get, post};
use axum::Router;

use crate::clock::Clock;
use crate::config::Config;
use crate::domain::CanonicalHost;
use crate::forward_auth::rate_limit::RateLimiter;
use crate::forward_auth::AuthzState;
use crate::identity::directory::UserDirectory;
use crate::identity::pool::HashingPool;
use crate::identity::regulation::Regulator;
use crate::notify::Notifier;
use crate::services::Services;
use crate::session::SessionStore;
use crate::storage::Database;

/// State shared by the portal endpoints.
struct PortalState {
    config: Arc<Config>,
    db: Database,
    clock: Clock,
    directory: UserDirectory,
    pool: Arc<HashingPool>,
    regulator: Regulator,
    sessions: SessionStore,
    authz: Arc<AuthzState>,
    /// The `second_factor_totp` rate limit, per client IP.
    totp_limiter: RateLimiter<IpAddr>,
    /// The limit on starting passkey logins, per client IP: the buckets of
    /// `second_factor_totp`, counted separately. Each start stores a ceremony row for an
    /// anonymous client, so the limit also bounds the rows one client can keep.
    passkey_limiter: RateLimiter<IpAddr>,
    /// The limits of the WebAuthn routes other than the passkey start, per client IP.
    webauthn_limits: rate_limits::WebauthnLimits,
    /// The canonical hosts of every cookie domain, which redirect targets must be under.
    redirect_domains: Vec<CanonicalHost>,
    notifier: Arc<Notifier>,
    /// The rate limits of the identity-validation endpoints, per client IP.
    limits: IdentityLimits,
    /// Key of the HMAC that stores reset tokens and one-time codes as hashes.
    token_key: Vec<u8>,
    /// The time every `PUT /api/user/session/elevation` takes at least, whatever its outcome.
    elevation_code_delay: Duration,
}

/// The rate limiters of the reset-password and elevation endpoints.
struct IdentityLimits {
    reset_password_start: RateLimiter<IpAddr>,
    reset_password_finish: RateLimiter<IpAddr>,
    session_elevation_start: RateLimiter<IpAddr>,
    session_elevation_finish: RateLimiter<IpAddr>,
}

/// Settings of the portal routes that tests change.
#[derive(Clone, Debug)]
pub struct PortalOptions {
    /// The time every one-time code check takes at least, so that its duration reveals nothing;
    /// one second by default.
    pub elevation_code_delay: Duration,
}

impl Default for PortalOptions {
    fn default() -> Self {
        PortalOptions {
            elevation_code_delay: Duration::from_secs(1),
        }
    }
}

impl PortalState {
    fn new(services: &Services, options: &PortalOptions) -> PortalState {
        let limits = &services.config.server.endpoints.rate_limits;
        let limiter = |limit| RateLimiter::new(limit, services.clock.clone());
        let token_key = one_time::token_key(&services.config);
        PortalState {
            notifier: Arc::clone(&services.notifier),
            limits: IdentityLimits {
                reset_password_start: limiter(&limits.reset_password_start),
                reset_password_finish: limiter(&limits.reset_password_finish),
                session_elevation_start: limiter(&limits.session_elevation_start),
                session_elevation_finish: limiter(&limits.session_elevation_finish),
            },
            token_key,
            elevation_code_delay: options.elevation_code_delay,
            config: Arc::clone(&services.config),
            db: services.db.clone(),
            clock: services.clock.clone(),
            directory: services.directory.clone(),
            pool: Arc::clone(&services.pool),
            regulator: services.regulator.clone(),
            sessions: services.sessions.clone(),
            authz: Arc::clone(&services.authz),
            totp_limiter: RateLimiter::new(
                &services
                    .config
                    .server
                    .endpoints
                    .rate_limits
                    .second_factor_totp,
                services.clock.clone(),
            ),
            passkey_limiter: RateLimiter::new(
                &services
                    .config
                    .server
                    .endpoints
                    .rate_limits
                    .second_factor_totp,
                services.clock.clone(),
            ),
            webauthn_limits: rate_limits::WebauthnLimits {
                assertion: limiter(&limits.second_factor_totp),
                credential_change: limiter(&limits.second_factor_totp),
            },
            redirect_domains: services
                .authz
                .cookie_domains
                .iter()
                .map(|entry| entry.host.clone())
                .collect(),
        }
    }
}

/// Builds the JSON API routes of the portal. The caller mounts them beside the authz endpoints
/// and must serve them with `into_make_service_with_connect_info::<SocketAddr>()`, because the
/// client IP and the trust in forwarded headers come from the TCP peer.
pub fn routes(services: &Services) -> Router {
    routes_with_options(services, &PortalOptions::default())
}

/// Builds the JSON API routes as [`routes`] does, with `options`.
pub fn routes_with_options(services: &Services, options: &PortalOptions) -> Router {
    let state = Arc::new(PortalState::new(services, options));
    let backend = &services.config.authentication_backend;
    let assertion_limit =
        axum::middleware::from_fn_with_state(Arc::clone(&state), rate_limits::limit_assertion);
    let credential_change_limit = axum::middleware::from_fn_with_state(
        Arc::clone(&state),
        rate_limits::limit_credential_change,
    );
    let mut router = Router::new()
        .route("/api/state", get(session_info::state))
        .route("/api/firstfactor", post(first_factor::first_factor))
        .route("/api/user/info", get(session_info::user_info))
        .route("/api/logout", post(session_info::logout))
        .route("/api/configuration", get(methods::configuration))
        .route(
            "/api/user/info/2fa_method",
            post(methods::set_preferred_method),
        )
        .route(
            "/api/secondfactor/totp",
            get(methods::totp_device)
                .post(second_factor::totp)
                .delete(totp_register::remove),
        )
        .route(
            "/api/secondfactor/totp/register",
            get(totp_register::options)
                .put(totp_register::start)
                .post(totp_register::confirm)
                .delete(totp_register::cancel),
        )
        .route(
            "/api/secondfactor/webauthn",
            get(webauthn_login::second_factor_options)
                .post(webauthn_login::second_factor)
                .route_layer(assertion_limit.clone()),
        )
        .route(
            "/api/secondfactor/webauthn/credentials",
            get(webauthn_credentials::list),
        )
        .route(
            "/api/secondfactor/webauthn/credential/register",
            axum::routing::put(webauthn_credentials::start)
                .post(webauthn_credentials::finish)
                .delete(webauthn_credentials::cancel)
                .route_layer(credential_change_limit.clone()),
        )
        .route(
            "/api/secondfactor/webauthn/credential/{id}",
            axum::routing::put(webauthn_credentials::rename)
                .delete(webauthn_credentials::remove)
                .route_layer(credential_change_limit),
        )
        .route(
            "/api/firstfactor/passkey",
            get(webauthn_login::passkey_options)
                .merge(post(webauthn_login::passkey_login).route_layer(assertion_limit.clone())),
        )
        .route(
            "/api/secondfactor/password",
            post(webauthn_login::password_step).route_layer(assertion_limit),
        )
        .route("/api/user/sessions", get(user_sessions::list))
        .route("/api/user/sessions/{id}", delete(user_sessions::end))
        .route(
            "/api/user/session/elevation",
            get(elevation::elevation_state)
                .post(elevation_code::start)
                .put(elevation_code::finish),
        )
        .route(
            "/api/user/session/elevation/{id}",
            delete(elevation_code::revoke),
        )
        .route(
            "/api/configuration/password-policy",
            get(password::password_policy),
        )
        .route(
            "/api/firstfactor/reauthenticate",
            post(password::reauthenticate),
        )
        .route(
            "/api/checks/safe-redirection",
            post(session_info::safe_redirection),
        );
    if !backend.password_change.disable {
        router = router.route("/api/change-password", post(password::change_password));
    }
    // A `custom_url` sends users to another reset service, so Gatehouse's own reset is off.
    if !backend.password_reset.disable && backend.password_reset.custom_url.is_none() {
        router = router
            .route(
                "/api/reset-password/identity/start",
                post(reset_password::start),
            )
            .route(
                "/api/reset-password/identity/finish",
                post(reset_password::finish),
            )
            .route(
                "/api/reset-password",
                post(reset_password::set_password).delete(reset_password::revoke),
            );
    }
    router
        .merge(admin::routes())
        .layer(axum::middleware::map_response(no_store))
        .with_state(state)
}

/// Marks every response as not cacheable, because responses carry session state and cookies,
/// and forbids content sniffing of the JSON bodies.
async fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}
