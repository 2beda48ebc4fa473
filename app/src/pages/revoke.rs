//! The pages behind the "this wasn't me" links of the portal's e-mails:
//! `/revoke/reset-password?token=…` revokes an unused password reset link, and
//! `/revoke/one-time-code?id=…` revokes the pending elevation codes the e-mail was sent with.
//!
//! A GET only shows a confirmation button, so that a mail scanner that follows links changes
//! nothing. The button posts the link's value back to the same path, and the server responds with
//! a redirect to this page with an outcome code and without the value.

use leptos::prelude::*;

use crate::data::use_page_data;
use crate::form::{error_from_url, query_value, ErrorMessage, Notice, TokenField};

/// Renders the confirmation that revokes a password reset link.
#[component]
pub fn RevokeResetPage() -> impl IntoView {
    view! {
        <RevokeForm
            action="/revoke/reset-password"
            field="token"
            heading="Cancel a password reset"
            explanation="If you did not ask to reset your password, cancel the link so that nobody can use it."
            button="Cancel the reset link"
        />
    }
}

/// Renders the confirmation that revokes pending one-time codes.
#[component]
pub fn RevokeCodePage() -> impl IntoView {
    view! {
        <RevokeForm
            action="/revoke/one-time-code"
            field="id"
            heading="Cancel a confirmation code"
            explanation="If you did not ask for a confirmation code, cancel it so that nobody can use it."
            button="Cancel the code"
        />
    }
}

/// The shared page: the button while the URL carries the link's value, else only the outcome.
#[component]
fn RevokeForm(
    action: &'static str,
    field: &'static str,
    heading: &'static str,
    explanation: &'static str,
    button: &'static str,
) -> impl IntoView {
    let data = use_page_data();
    let value = query_value(field);
    let error = error_from_url();
    let form = (!value.is_empty()).then(|| {
        view! {
            <p>{explanation}</p>
            <form method="post" action=action class="stack">
                <TokenField token=data.form_token.clone()/>
                <input type="hidden" name=field value=value/>
                <button type="submit">{button}</button>
            </form>
        }
    });

    view! {
        <section class="card" aria-labelledby="revoke-heading">
            <h1 id="revoke-heading">{heading}</h1>
            <Notice/>
            <ErrorMessage id="revoke-error" code=error/>
            {form}
            <p><a href="/" rel="external">"Go to the sign-in page"</a></p>
        </section>
    }
}
