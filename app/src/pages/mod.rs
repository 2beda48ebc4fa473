//! One module a page of the portal.

use leptos::prelude::*;

pub mod admin;
pub mod login;
pub mod logout;
pub mod reset;
pub mod revoke;
pub mod second_factor;
pub mod settings;
pub mod two_factor;

/// The page for a path the portal does not serve.
#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    {
        if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
            response.set_status(http_status_not_found());
        }
    }

    view! {
        <section class="card">
            <h1>"Page not found"</h1>
            <p><a href="/" rel="external">"Go to the sign-in page"</a></p>
        </section>
    }
}

#[cfg(feature = "ssr")]
fn http_status_not_found() -> http::StatusCode {
    http::StatusCode::NOT_FOUND
}
