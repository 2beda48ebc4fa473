//! The sign-in page.
//!
//! NOTE: this page is a placeholder. The form renders and hydrates, but nothing handles its
//! submission yet: a POST to `/` gets 405. Signing in works through `POST /api/firstfactor`.

use leptos::prelude::*;

/// Renders the sign-in form: username, password and "Remember me".
#[component]
pub fn LoginPage() -> impl IntoView {
    // Set once the wasm has taken over the page, so tests and people can see that hydration worked.
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));

    view! {
        <section class="card" aria-labelledby="sign-in-heading">
            <h1 id="sign-in-heading">"Sign in"</h1>
            <form method="post" action="/" class="stack">
                <label for="username">"Username"</label>
                <input id="username" name="username" type="text" autocomplete="username" required/>
                <label for="password">"Password"</label>
                <input id="password" name="password" type="password" autocomplete="current-password" required/>
                <label class="checkbox" for="remember-me">
                    <input id="remember-me" name="remember_me" type="checkbox"/>
                    "Remember me"
                </label>
                <button type="submit">"Sign in"</button>
            </form>
            <p class="status" data-hydrated=move || if hydrated.get() { "true" } else { "false" }>
                {move || if hydrated.get() { "Interactive." } else { "Loading…" }}
            </p>
        </section>
    }
}
