//! The sign-in page at `/`: user name, password and "Remember me", and the "Sign in with a
//! passkey" button when `webauthn.enable_passkey_login` is set.
//!
//! Without JavaScript the form posts to `/`, which the server turns into `POST /api/firstfactor`.
//! Hydrated, the form calls that endpoint itself. The page's `rd` (target URL) and `rm` (target
//! method) travel along; the server follows `rd` only when it is a safe redirect target.

use leptos::ev::SubmitEvent;
use leptos::html;
use leptos::prelude::*;

use crate::data::use_page_data;
use crate::form::{error_from_url, query_value, ErrorMessage, Notice, TokenField};

const ERROR_ID: &str = "sign-in-error";

/// The label of the button that signs in with a passkey (a discoverable WebAuthn credential).
pub const PASSKEY_BUTTON: &str = "Use a passkey";

/// Renders the sign-in form.
#[component]
pub fn LoginPage() -> impl IntoView {
    let data = use_page_data();
    let rd = query_value("rd");
    let rm = query_value("rm");
    let error = error_from_url();
    let pending = RwSignal::new(false);
    let username = NodeRef::<html::Input>::new();
    let password = NodeRef::<html::Input>::new();
    let remember = NodeRef::<html::Input>::new();
    // Set once the wasm has taken over the page, so tests and people can see that hydration worked.
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));

    let two_factor_in_use = data.two_factor_in_use;
    let remember_me_allowed = data.remember_me_allowed;
    let reset_allowed = data.password_reset_allowed;
    let passkey_allowed = data.passkey_login_enabled;
    let (passkey_rd, passkey_rm) = (rd.clone(), rm.clone());
    let on_passkey = move |_| {
        #[cfg(feature = "hydrate")]
        {
            use crate::data::outcome;
            use crate::form::{after_first_factor, client};

            if pending.get_untracked() {
                return;
            }
            pending.set(true);
            error.set(None);
            let body = serde_json::json!({
                "keepMeLoggedIn": remember.get_untracked().is_some_and(|input| input.checked()),
                "targetURL": passkey_rd,
                "requestMethod": passkey_rm,
            });
            let (rd, rm) = (passkey_rd.clone(), passkey_rm.clone());
            leptos::task::spawn_local(async move {
                let result = crate::ceremony::sign_in_with_key(
                    "/api/firstfactor/passkey",
                    "/api/firstfactor/passkey",
                    body,
                    outcome::PASSKEY,
                )
                .await;
                match result {
                    Ok(answer) => client::go_to(&after_first_factor(
                        answer.redirect(),
                        two_factor_in_use,
                        &rd,
                        &rm,
                    )),
                    Err(code) => {
                        error.set(Some(code.to_owned()));
                        pending.set(false);
                    }
                }
            });
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (&passkey_rd, &passkey_rm);
    };
    // The passkey button needs the browser's WebAuthn API, so it appears once the page is
    // hydrated. Without JavaScript the password form is the only way in.
    let passkey_button = passkey_allowed.then(|| {
        view! {
            <div class="stack passkey" hidden=move || !hydrated.get()>
                <p class="divider">"or"</p>
                <button
                    type="button"
                    class="button--secondary"
                    disabled=move || pending.get()
                    aria-describedby=ERROR_ID
                    on:click=on_passkey
                >
                    {PASSKEY_BUTTON}
                </button>
            </div>
        }
    });
    let (submit_rd, submit_rm) = (rd.clone(), rm.clone());
    let on_submit = move |event: SubmitEvent| {
        #[cfg(feature = "hydrate")]
        {
            use crate::data::outcome;
            use crate::form::{after_first_factor, client};

            event.prevent_default();
            let value =
                |input: NodeRef<html::Input>| input.get_untracked().map(|input| input.value());
            let body = serde_json::json!({
                "username": value(username).unwrap_or_default(),
                "password": value(password).unwrap_or_default(),
                "keepMeLoggedIn": remember.get_untracked().is_some_and(|input| input.checked()),
                "targetURL": submit_rd,
                "requestMethod": submit_rm,
            });
            let (rd, rm) = (submit_rd.clone(), submit_rm.clone());
            client::submit(
                pending,
                error,
                ("POST", "/api/firstfactor".to_owned()),
                body,
                outcome::CREDENTIALS,
                move |answer| after_first_factor(answer.redirect(), two_factor_in_use, &rd, &rm),
            );
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (
            event,
            &submit_rd,
            &submit_rm,
            two_factor_in_use,
            username,
            password,
            remember,
        );
    };
    // A passkey failure is not about the two fields.
    let invalid = move || {
        error
            .get()
            .is_some_and(|code| !crate::data::outcome::is_key_failure(&code))
            .then_some("true")
    };

    view! {
        <section class="card" aria-labelledby="sign-in-heading">
            <h1 id="sign-in-heading">"Sign in"</h1>
            <Notice/>
            <form method="post" action="/" class="stack" on:submit=on_submit>
                <TokenField token=data.form_token.clone()/>
                <input type="hidden" name="rd" value=rd/>
                <input type="hidden" name="rm" value=rm/>
                <label for="username">"Username"</label>
                <input
                    id="username"
                    name="username"
                    type="text"
                    autocomplete="username"
                    autocapitalize="none"
                    spellcheck="false"
                    required
                    aria-describedby=ERROR_ID
                    aria-invalid=invalid
                    node_ref=username
                />
                <label for="password">"Password"</label>
                <input
                    id="password"
                    name="password"
                    type="password"
                    autocomplete="current-password"
                    required
                    aria-describedby=ERROR_ID
                    aria-invalid=invalid
                    node_ref=password
                />
                <Show when=move || remember_me_allowed>
                    <label class="checkbox" for="remember-me">
                        <input id="remember-me" name="remember_me" type="checkbox" value="on" node_ref=remember/>
                        "Remember me"
                    </label>
                </Show>
                <ErrorMessage id=ERROR_ID code=error/>
                <button type="submit" disabled=move || pending.get()>"Sign in"</button>
            </form>
            {passkey_button}
            <Show when=move || reset_allowed>
                <p><a href="/reset-password" rel="external">"Forgot your password?"</a></p>
            </Show>
            <p class="status" data-hydrated=move || if hydrated.get() { "true" } else { "false" }>
                {move || if hydrated.get() { "Interactive." } else { "Loading…" }}
            </p>
        </section>
    }
}
