//! The password reset pages: `/reset-password` asks for the user name or e-mail address and
//! sends a link; `/reset-password/step2?token=…` (the link) asks for the new password.

use leptos::ev::SubmitEvent;
use leptos::html;
use leptos::prelude::*;

use crate::data::use_page_data;
use crate::form::{error_from_url, query_value, ErrorMessage, Notice, TokenField};

/// Renders the reset request form.
#[component]
pub fn ResetRequestPage() -> impl IntoView {
    let data = use_page_data();
    let error = error_from_url();
    let pending = RwSignal::new(false);
    let username = NodeRef::<html::Input>::new();

    let on_submit = move |event: SubmitEvent| {
        #[cfg(feature = "hydrate")]
        {
            use crate::data::outcome;
            use crate::form::{client, page_url};

            event.prevent_default();
            let name = username
                .get_untracked()
                .map(|input| input.value())
                .unwrap_or_default();
            client::submit(
                pending,
                error,
                ("POST", "/api/reset-password/identity/start".to_owned()),
                serde_json::json!({ "username": name }),
                outcome::FORBIDDEN,
                |_| page_url("/reset-password", &[("notice", outcome::RESET_SENT)]),
            );
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (event, username);
    };

    view! {
        <section class="card" aria-labelledby="reset-heading">
            <h1 id="reset-heading">"Reset your password"</h1>
            <Notice/>
            <form method="post" action="/reset-password" class="stack" on:submit=on_submit>
                <TokenField token=data.form_token.clone()/>
                <label for="reset-username">"Username or e-mail address"</label>
                <input id="reset-username" name="username" type="text" autocomplete="username"
                    autocapitalize="none" spellcheck="false" required
                    aria-describedby="reset-error" node_ref=username/>
                <ErrorMessage id="reset-error" code=error/>
                <button type="submit" disabled=move || pending.get()>"Send reset link"</button>
            </form>
            <p><a href="/" rel="external">"Back to sign in"</a></p>
        </section>
    }
}

/// Renders the new password form of a reset link.
#[component]
pub fn ResetPasswordPage() -> impl IntoView {
    let data = use_page_data();
    let token = query_value("token");
    let error = error_from_url();
    let pending = RwSignal::new(false);
    let password = NodeRef::<html::Input>::new();
    let confirm = NodeRef::<html::Input>::new();

    let submit_token = token.clone();
    let on_submit = move |event: SubmitEvent| {
        #[cfg(feature = "hydrate")]
        {
            use crate::data::outcome;
            use crate::form::client::go_to_after_reset;

            // Without the link's token in the URL (back from a rejected post), the form posts
            // natively, and the server reads the token it kept in a cookie.
            if submit_token.is_empty() {
                return;
            }
            event.prevent_default();
            let value = |input: NodeRef<html::Input>| {
                input
                    .get_untracked()
                    .map(|input| input.value())
                    .unwrap_or_default()
            };
            if value(password) != value(confirm) {
                error.set(Some(outcome::PASSWORD_MISMATCH.to_owned()));
                return;
            }
            go_to_after_reset(pending, error, submit_token.clone(), value(password));
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (event, &submit_token, password, confirm);
    };
    let invalid = move || error.get().is_some().then_some("true");

    view! {
        <section class="card" aria-labelledby="new-password-heading">
            <h1 id="new-password-heading">"Choose a new password"</h1>
            <form method="post" action="/reset-password/step2" class="stack" on:submit=on_submit>
                <TokenField token=data.form_token.clone()/>
                <input type="hidden" name="token" value=token/>
                <label for="reset-new-password">"New password"</label>
                <input id="reset-new-password" name="password" type="password"
                    autocomplete="new-password" required
                    aria-describedby="new-password-error" aria-invalid=invalid node_ref=password/>
                <label for="reset-confirm-password">"Repeat the new password"</label>
                <input id="reset-confirm-password" name="confirm_password" type="password"
                    autocomplete="new-password" required
                    aria-describedby="new-password-error" aria-invalid=invalid node_ref=confirm/>
                <ErrorMessage id="new-password-error" code=error/>
                <button type="submit" disabled=move || pending.get()>"Set password"</button>
            </form>
        </section>
    }
}
