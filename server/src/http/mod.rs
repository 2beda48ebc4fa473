//! The HTTP side: router assembly, the request-id span and the health endpoint.

use std::sync::Arc;

use axum::routing::get;
use axum::Router;
use leptos::prelude::LeptosOptions;

use crate::clock::Clock;
use crate::services::Services;
use crate::storage::Database;

mod health;
pub mod request_id;

/// The state every handler can reach: storage, time and the portal's build settings.
#[derive(Clone)]
pub struct AppState {
    /// The database of users, sessions and second factors.
    pub db: Database,
    /// The source of the current time.
    pub clock: Clock,
    /// The portal's site directory and the names of its files.
    pub leptos: Arc<LeptosOptions>,
}

/// Builds the whole router: the authz endpoints, the JSON endpoints, the portal's pages and its
/// static files.
pub fn router(services: &Services, leptos: Arc<LeptosOptions>) -> Router {
    let api = crate::portal::routes(services);
    let pages = crate::pages::router(services, &leptos, api.clone());
    let state = AppState {
        db: services.db.clone(),
        clock: services.clock.clone(),
        leptos,
    };
    base_router(state)
        .merge(authz_router(services))
        .merge(request_id::layer(api))
        .merge(request_id::layer(pages))
}

/// Builds a router of the authz endpoints alone, which the forward-auth tests drive.
pub fn authz_router(services: &Services) -> Router {
    request_id::authz_layer(crate::forward_auth::routes(
        Arc::clone(&services.authz),
        &services.endpoints,
    ))
}

/// Builds the router of the health endpoint, which needs neither the portal nor the authz
/// endpoints.
pub fn base_router(state: AppState) -> Router {
    let api = Router::new()
        .route("/api/health", get(health::health).head(health::health))
        .with_state(state);
    request_id::layer(api)
}
