//! The second-factor page at `/2fa`: the user's methods, the preferred (last used) one first,
//! each with its form: the one-time code, and the "Use security key" button. After a passkey
//! login, which proves possession only, the page requests the password instead.

use leptos::ev::SubmitEvent;
use leptos::html;
use leptos::prelude::*;

use crate::data::use_page_data;
use crate::form::{error_from_url, query_value, ErrorMessage, Notice, TokenField};

const ERROR_ID: &str = "code-error";
const KEY_ERROR_ID: &str = "security-key-error";
const PASSWORD_ERROR_ID: &str = "password-error";

/// The label of the button that runs the security-key (WebAuthn) second factor.
pub const SECURITY_KEY_BUTTON: &str = "Use security key";

/// Renders the enrolled methods and their forms, or a way to set up a method.
#[component]
pub fn SecondFactorPage() -> impl IntoView {
    let data = use_page_data();
    let level = data.user.as_ref().map_or(0, |user| user.level);
    // A passkey login proved possession only, so its second step is the password.
    let password_step = level == 1 && !data.factor_knowledge;
    let methods: Vec<String> = data
        .methods
        .iter()
        .filter(|method| match method.as_str() {
            "totp" => true,
            "webauthn" => data.webauthn_enabled,
            _ => false,
        })
        .cloned()
        .collect();
    let name = data
        .user
        .as_ref()
        .map(|user| user.display_name.clone())
        .unwrap_or_default();

    let labels: Vec<_> = methods
        .iter()
        .map(|method| match method.as_str() {
            "totp" => "One-time code from an authenticator app",
            _ => "Security key or passkey",
        })
        .map(|label| view! { <li>{label}</li> })
        .collect();
    let forms: Vec<_> = methods
        .iter()
        .map(|method| match method.as_str() {
            "totp" => view! { <TotpForm token=data.form_token.clone()/> }.into_any(),
            _ => view! { <SecurityKeyForm/> }.into_any(),
        })
        .collect();

    let body = if password_step {
        view! {
            <p>"Hello " {name} ". You signed in with a passkey; enter your password to continue."</p>
            <PasswordForm token=data.form_token.clone()/>
        }
        .into_any()
    } else if methods.is_empty() {
        view! {
            <p>"Hello " {name} ". Confirm your sign-in with a second factor."</p>
            <p>"You have no second factor yet. "
                <a href="/settings/two-factor" rel="external">"Set one up"</a> "."</p>
        }
        .into_any()
    } else {
        view! {
            <p>"Hello " {name} ". Confirm your sign-in with a second factor."</p>
            <h2 class="section-heading">"Your methods"</h2>
            <ul class="method-list">{labels}</ul>
            {forms}
        }
        .into_any()
    };

    view! {
        <section class="card" aria-labelledby="second-factor-heading">
            <h1 id="second-factor-heading">"Second factor"</h1>
            <Notice/>
            {body}
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
            if pending.get_untracked() {
                return;
            }
            let token = code
                .get_untracked()
                .map(|input| input.value())
                .unwrap_or_default();
            if let Some(input) = code.get_untracked() {
                input.set_value("");
            }
            let body = serde_json::json!({ "token": token.trim(), "targetURL": submit_rd });
            pending.set(true);
            leptos::task::spawn_local(async move {
                let sent = client::send_json("POST", "/api/secondfactor/totp", &body).await;
                let failure = match sent {
                    Some(answer) if answer.is_ok() => {
                        crate::ceremony::remember_method("totp").await;
                        client::go_to(&after_second_factor(answer.redirect()));
                        return;
                    }
                    Some(answer) => outcome::for_status(answer.status, outcome::CODE),
                    None => outcome::SERVER,
                };
                error.set(Some(failure.to_owned()));
                pending.set(false);
            });
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (event, &submit_rd, code, pending);
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

/// Renders the security-key button. It needs the browser's WebAuthn API, so it is shown once the
/// page is hydrated. Until then, and without JavaScript, a short text explains that.
#[component]
fn SecurityKeyForm() -> impl IntoView {
    let rd = query_value("rd");
    let error = RwSignal::new(None::<String>);
    let pending = RwSignal::new(false);
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));

    let on_click = move |_| {
        #[cfg(feature = "hydrate")]
        {
            use crate::data::outcome;
            use crate::form::{after_second_factor, client};

            if pending.get_untracked() {
                return;
            }
            pending.set(true);
            error.set(None);
            let body = serde_json::json!({ "targetURL": rd });
            leptos::task::spawn_local(async move {
                let result = crate::ceremony::sign_in_with_key(
                    "/api/secondfactor/webauthn",
                    "/api/secondfactor/webauthn",
                    body,
                    outcome::SECURITY_KEY,
                )
                .await;
                match result {
                    Ok(answer) => {
                        crate::ceremony::remember_method("webauthn").await;
                        client::go_to(&after_second_factor(answer.redirect()));
                    }
                    Err(code) => {
                        error.set(Some(code.to_owned()));
                        pending.set(false);
                    }
                }
            });
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (&rd, pending);
    };

    view! {
        <div class="stack security-key">
            <p class="status" hidden=move || hydrated.get()>
                "Using a security key needs JavaScript. Turn it on, or use another method."
            </p>
            <button
                type="button"
                hidden=move || !hydrated.get()
                disabled=move || pending.get()
                aria-describedby=KEY_ERROR_ID
                on:click=on_click
            >
                {SECURITY_KEY_BUTTON}
            </button>
            <ErrorMessage id=KEY_ERROR_ID code=error/>
        </div>
    }
}

/// Renders the password form, the second step after a passkey login.
#[component]
fn PasswordForm(token: String) -> impl IntoView {
    let rd = query_value("rd");
    let error = error_from_url();
    let pending = RwSignal::new(false);
    let password = NodeRef::<html::Input>::new();

    let submit_rd = rd.clone();
    let on_submit = move |event: SubmitEvent| {
        #[cfg(feature = "hydrate")]
        {
            use crate::data::outcome;
            use crate::form::{after_second_factor, client};

            event.prevent_default();
            let value = password
                .get_untracked()
                .map(|input| input.value())
                .unwrap_or_default();
            let body = serde_json::json!({ "password": value, "targetURL": submit_rd });
            client::submit(
                pending,
                error,
                ("POST", "/api/secondfactor/password".to_owned()),
                body,
                outcome::CREDENTIALS,
                |answer| after_second_factor(answer.redirect()),
            );
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (event, &submit_rd, password);
    };
    let invalid = move || error.get().is_some().then_some("true");

    view! {
        <form method="post" action="/2fa/password" class="stack" on:submit=on_submit>
            <TokenField token/>
            <input type="hidden" name="rd" value=rd/>
            <label for="password">"Password"</label>
            <input
                id="password"
                name="password"
                type="password"
                autocomplete="current-password"
                required
                aria-describedby=PASSWORD_ERROR_ID
                aria-invalid=invalid
                node_ref=password
            />
            <ErrorMessage id=PASSWORD_ERROR_ID code=error/>
            <button type="submit" disabled=move || pending.get()>"Verify"</button>
        </form>
    }
}
