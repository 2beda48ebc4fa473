//! The second-factor page at `/2fa`: the user's methods, preferred first, and the one-time code
//! form.

use leptos::ev::SubmitEvent;
use leptos::html;
use leptos::prelude::*;

use crate::data::use_page_data;
use crate::form::{error_from_url, query_value, ErrorMessage, Notice, TokenField};

const ERROR_ID: &str = "code-error";

/// Renders the enrolled methods and the TOTP form, or a way to set up a method.
#[component]
pub fn SecondFactorPage() -> impl IntoView {
    let data = use_page_data();
    let methods = data.methods.clone();
    let has_totp = methods.iter().any(|method| method == "totp");
    let has_webauthn = methods.iter().any(|method| method == "webauthn");
    let name = data
        .user
        .as_ref()
        .map(|user| user.display_name.clone())
        .unwrap_or_default();

    let method_list = move || {
        methods
            .iter()
            .map(|method| {
                let label = match method.as_str() {
                    "totp" => "One-time code from an authenticator app",
                    "webauthn" => "Security key or passkey",
                    _ => "Other method",
                };
                view! { <li>{label}</li> }
            })
            .collect_view()
    };

    view! {
        <section class="card" aria-labelledby="second-factor-heading">
            <h1 id="second-factor-heading">"Second factor"</h1>
            <Notice/>
            <p>"Hello " {name} ". Confirm your sign-in with a second factor."</p>
            <Show
                when=move || has_totp || has_webauthn
                fallback=|| view! {
                    <p>"You have no second factor yet. "
                        <a href="/settings/two-factor" rel="external">"Set one up"</a> "."</p>
                }
            >
                <h2 class="section-heading">"Your methods"</h2>
                <ul class="method-list">{method_list.clone()}</ul>
            </Show>
            <Show when=move || has_totp>
                <TotpForm token=data.form_token.clone()/>
            </Show>
            <Show when=move || has_webauthn>
                // TODO: the security-key ceremony, once the browser functions for WebAuthn exist.
                <p class="status">"Security keys can be used here soon; use your one-time code meanwhile."</p>
            </Show>
            <p><a href="/logout" rel="external">"Log out"</a></p>
        </section>
    }
}

/// The one-time code form.
#[component]
fn TotpForm(token: String) -> impl IntoView {
    let rd = query_value("rd");
    let error = error_from_url();
    let pending = RwSignal::new(false);
    let code = NodeRef::<html::Input>::new();

    let submit_rd = rd.clone();
    let on_submit = move |event: SubmitEvent| {
        #[cfg(feature = "hydrate")]
        {
            use crate::data::outcome;
            use crate::form::{after_second_factor, client};

            event.prevent_default();
            let token = code
                .get_untracked()
                .map(|input| input.value())
                .unwrap_or_default();
            let body = serde_json::json!({ "token": token.trim(), "targetURL": submit_rd });
            client::submit(
                pending,
                error,
                ("POST", "/api/secondfactor/totp".to_owned()),
                body,
                outcome::CODE,
                |answer| after_second_factor(answer.redirect()),
            );
            if let Some(input) = code.get_untracked() {
                input.set_value("");
            }
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (event, &submit_rd, code);
    };
    let invalid = move || error.get().is_some().then_some("true");

    view! {
        <form method="post" action="/2fa" class="stack" on:submit=on_submit>
            <TokenField token/>
            <input type="hidden" name="rd" value=rd/>
            <label for="one-time-code">"One-time code"</label>
            <input
                id="one-time-code"
                name="token"
                type="text"
                inputmode="numeric"
                autocomplete="one-time-code"
                pattern="[0-9]{6,8}"
                maxlength="8"
                required
                aria-describedby=ERROR_ID
                aria-invalid=invalid
                node_ref=code
            />
            <ErrorMessage id=ERROR_ID code=error/>
            <button type="submit" disabled=move || pending.get()>"Verify"</button>
        </form>
    }
}
