//! The Gatehouse portal: the pages a person sees when a reverse proxy sends them to log in.
//!
//! Every page is rendered on the server (feature `ssr`) and hydrated in the browser (feature
//! `hydrate`). This crate knows nothing of the server crate; what it needs from the backend reaches
//! it through Leptos context.

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::{
    components::{Route, Router, Routes},
    path,
};

#[cfg(any(feature = "hydrate", test))]
mod base64url;
#[cfg(feature = "hydrate")]
pub mod ceremony;
pub mod data;
pub mod form;
pub mod pages;
#[cfg(feature = "hydrate")]
pub mod webauthn;

/// Renders the HTML document around the app: head, hydration scripts and body.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light dark"/>
                <link rel="icon" href="/favicon.svg" type="image/svg+xml"/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The portal's router: one route a page.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    data::provide_page_data();

    view! {
        <Stylesheet id="gatehouse-style" href="/pkg/gatehouse.css"/>
        <Title text="Gatehouse"/>
        <Router>
            <main class="portal">
                <Routes fallback=pages::NotFound>
                    <Route path=path!("/") view=pages::login::LoginPage/>
                    <Route path=path!("/2fa") view=pages::second_factor::SecondFactorPage/>
                    <Route path=path!("/logout") view=pages::logout::LogoutPage/>
                    <Route path=path!("/settings") view=pages::settings::SettingsPage/>
                    <Route
                        path=path!("/settings/two-factor")
                        view=pages::two_factor::TwoFactorSettingsPage
                    />
                    <Route path=path!("/reset-password") view=pages::reset::ResetRequestPage/>
                    <Route
                        path=path!("/reset-password/step2")
                        view=pages::reset::ResetPasswordPage
                    />
                    <Route
                        path=path!("/revoke/reset-password")
                        view=pages::revoke::RevokeResetPage
                    />
                    <Route
                        path=path!("/revoke/one-time-code")
                        view=pages::revoke::RevokeCodePage
                    />
                    <Route path=path!("/admin") view=pages::admin::AdminPage/>
                    <Route path=path!("/admin/users") view=pages::admin::users::AdminUsersPage/>
                    <Route
                        path=path!("/admin/sessions")
                        view=pages::admin::sessions::AdminSessionsPage
                    />
                    <Route path=path!("/admin/bans") view=pages::admin::bans::AdminBansPage/>
                </Routes>
            </main>
        </Router>
    }
}

/// Hydrates the server-rendered page in the browser.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(App);
}
