//! Everything a running Gatehouse holds, built once at start from the configuration.

use std::sync::Arc;

use crate::access::AccessControl;
use crate::cli::context::hashing_params;
use crate::clock::Clock;
use crate::config::{AuthnStrategy, Config};
use crate::forward_auth::basic::BasicVerifier;
use crate::forward_auth::handler::Endpoint;
use crate::forward_auth::rate_limit::RateLimiter;
use crate::forward_auth::{self, AuthzState};
use crate::identity::directory::UserDirectory;
use crate::identity::pool::HashingPool;
use crate::identity::regulation::Regulator;
use crate::notify::Notifier;
use crate::session::SessionStore;
use crate::storage::Database;

/// How many password hashes may wait for a worker before logins get 503: enough to absorb a
/// burst of logins, small enough that a flood cannot queue minutes of work.
const HASHING_QUEUE_PER_WORKER: usize = 16;

/// The server's shared parts.
pub struct Services {
    pub config: Arc<Config>,
    pub db: Database,
    pub clock: Clock,
    pub directory: UserDirectory,
    pub pool: Arc<HashingPool>,
    pub regulator: Regulator,
    pub sessions: SessionStore,
    pub authz: Arc<AuthzState>,
    pub endpoints: Vec<Arc<Endpoint>>,
    /// Sends reset links and one-time codes by e-mail.
    pub notifier: Arc<Notifier>,
}

impl Services {
    /// Builds every part, with one password-hashing worker per core; an error names what could
    /// not be built and why.
    pub async fn build(config: Config, db: Database, clock: Clock) -> Result<Services, String> {
        let workers = std::thread::available_parallelism().map_or(2, usize::from);
        Self::build_with_hashing(
            config,
            db,
            clock,
            workers,
            workers * HASHING_QUEUE_PER_WORKER,
        )
        .await
    }

    /// Builds every part with a hashing pool of `workers` threads and `queue` waiting places.
    pub async fn build_with_hashing(
        config: Config,
        db: Database,
        clock: Clock,
        workers: usize,
        queue: usize,
    ) -> Result<Services, String> {
        let directory = UserDirectory::open(&config.authentication_backend, &db)
            .map_err(|error| error.to_string())?;
        let pool = HashingPool::new(workers, queue, hashing_params(&config))
            .map_err(|error| format!("cannot start the password hashing pool: {error}"))?;
        let pool = Arc::new(pool);
        let regulator = Regulator::new(db.clone(), clock.clone(), config.regulation.clone());
        let sessions = SessionStore::new(
            db.clone(),
            directory.clone(),
            clock.clone(),
            config.authentication_backend.refresh_interval,
        );
        let access = AccessControl::compile(&config.access_control)
            .map_err(|error| format!("access_control: {error}"))?;
        let cookie_domains = forward_auth::cookie_domains(&config)?;
        let authz = Arc::new(AuthzState {
            trusted_proxies: config.server.trusted_proxies.clone(),
            cookie_domains,
            access,
            sessions: sessions.clone(),
        });

        let basic_limiter = Arc::new(RateLimiter::new(
            &config.server.endpoints.rate_limits.authz_basic,
            clock.clone(),
        ));
        let make_verifier = |strategy: &AuthnStrategy| {
            Arc::new(BasicVerifier::new(
                directory.clone(),
                Arc::clone(&pool),
                regulator.clone(),
                strategy.scheme_basic_cache_lifespan,
                Arc::clone(&basic_limiter),
                clock.clone(),
            ))
        };
        let endpoints = forward_auth::endpoints(&config, make_verifier)
            .into_iter()
            .map(Arc::new)
            .collect();

        let notifier =
            Notifier::new(&config.notifier).map_err(|error| format!("notifier: {error}"))?;

        Ok(Services {
            notifier: Arc::new(notifier),
            config: Arc::new(config),
            db,
            clock,
            directory,
            pool,
            regulator,
            sessions,
            authz,
            endpoints,
        })
    }
}
