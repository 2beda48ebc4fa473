//! The second-factor settings at `/settings/two-factor`: elevation by an e-mailed code, TOTP
//! enrolment (QR code and secret, confirmed by one code) and removal.
//!
//! These forms post to the server in every case, hydrated or not: each step changes what the page
//! shows, so a new page load is the natural result.

use leptos::prelude::*;

use crate::data::{use_page_data, TotpEnrolment};
use crate::form::{error_from_url, ErrorMessage, Notice, TokenField};

/// Renders the elevation step or, once elevated, the enrolment and removal forms.
#[component]
pub fn TwoFactorSettingsPage() -> impl IntoView {
    let data = use_page_data();
    let error = error_from_url();
    let token = data.form_token.clone();
    let has_totp = data.methods.iter().any(|method| method == "totp");
    let elevated = data.elevated;
    let enrolment = data.totp_enrolment.clone();

    let body = if !elevated {
        view! { <ElevationForms token=token.clone() error/> }.into_any()
    } else if let Some(enrolment) = enrolment {
        view! { <TotpConfirmForm enrolment token=token.clone() error/> }.into_any()
    } else if has_totp {
        view! {
            <p>"An authenticator app is set up for one-time codes."</p>
            <form method="post" action="/settings/two-factor/totp/remove" class="stack">
                <TokenField token=token.clone()/>
                <ErrorMessage id="two-factor-error" code=error/>
                <button type="submit" class="button--danger">"Remove the authenticator app"</button>
            </form>
        }
        .into_any()
    } else {
        view! {
            <p>"Add an authenticator app that shows one-time codes."</p>
            <form method="post" action="/settings/two-factor/totp/start" class="stack">
                <TokenField token=token.clone()/>
                <ErrorMessage id="two-factor-error" code=error/>
                <button type="submit">"Add an authenticator app"</button>
            </form>
        }
        .into_any()
    };

    view! {
        <section class="card card--wide" aria-labelledby="two-factor-heading">
            <h1 id="two-factor-heading">"Second factors"</h1>
            <Notice/>
            {body}
            <p><a href="/settings" rel="external">"Back to settings"</a></p>
        </section>
    }
}

/// The two elevation steps: send a code by e-mail, then enter it.
#[component]
fn ElevationForms(token: String, error: RwSignal<Option<String>>) -> impl IntoView {
    let invalid = move || error.get().is_some().then_some("true");
    view! {
        <p>"Changing second factors needs a confirmation code, sent to your e-mail address."</p>
        <form method="post" action="/settings/two-factor/elevation/start" class="stack">
            <TokenField token=token.clone()/>
            <button type="submit" class="button--secondary">"Send a code"</button>
        </form>
        <form method="post" action="/settings/two-factor/elevation" class="stack">
            <TokenField token/>
            <label for="elevation-code">"Confirmation code"</label>
            <input id="elevation-code" name="otc" type="text" autocomplete="one-time-code"
                autocapitalize="characters" spellcheck="false" required
                aria-describedby="elevation-error" aria-invalid=invalid/>
            <ErrorMessage id="elevation-error" code=error/>
            <button type="submit">"Confirm"</button>
        </form>
    }
}

/// The QR code and secret of a new TOTP device, with the form that confirms it by one code.
#[component]
fn TotpConfirmForm(
    enrolment: TotpEnrolment,
    token: String,
    error: RwSignal<Option<String>>,
) -> impl IntoView {
    let invalid = move || error.get().is_some().then_some("true");
    view! {
        <p>"Scan this QR code with your authenticator app, or type the secret into it."</p>
        // The server renders the SVG from the otpauth URI; it contains no script or style
        // attribute.
        <div class="qr-code" role="img" aria-label="QR code of the new authenticator secret"
            inner_html=enrolment.qr_svg></div>
        <p>"Secret: " <code class="secret">{enrolment.secret}</code></p>
        <form method="post" action="/settings/two-factor/totp/confirm" class="stack">
            <TokenField token/>
            <label for="one-time-code">"One-time code"</label>
            <input id="one-time-code" name="token" type="text" inputmode="numeric"
                autocomplete="one-time-code" pattern="[0-9]{6,8}" maxlength="8" required
                aria-describedby="totp-error" aria-invalid=invalid/>
            <ErrorMessage id="totp-error" code=error/>
            <button type="submit">"Verify"</button>
        </form>
    }
}
