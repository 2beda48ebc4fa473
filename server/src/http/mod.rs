//! The HTTP side: router assembly, the request-id span and the health endpoint.

use std::sync::Arc;

use axum::routing::get;
use axum::Router;
use leptos::prelude::LeptosOptions;
use leptos_axum::{generate_route_list, LeptosRoutes};

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
    let state = AppState {
        db: services.db.clone(),
        clock: services.clock.clone(),
        leptos,
    };
    base_router(state)
        .merge(authz_router(services))
        .merge(request_id::layer(crate::portal::routes(services)))
}

/// Builds a router of the authz endpoints alone, which the forward-auth tests drive.
pub fn authz_router(services: &Services) -> Router {
    request_id::authz_layer(crate::forward_auth::routes(
        Arc::clone(&services.authz),
        &services.endpoints,
    ))
}

/// Builds the router without the authz endpoints: health, portal pages and static files.
pub fn base_router(state: AppState) -> Router {
    let leptos_options = (*state.leptos).clone();
    let routes = generate_route_list(app::App);
    let shell_options = leptos_options.clone();

    let api = Router::new()
        .route("/api/health", get(health::health).head(health::health))
        .with_state(state);

    let portal = Router::new()
        .leptos_routes(&leptos_options, routes, move || {
            app::shell(shell_options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler(app::shell))
        .with_state(leptos_options);

    request_id::layer(api.merge(portal))
}
