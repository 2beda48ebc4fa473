//! The settings page at `/settings`: the profile (read-only), active sessions, second factors and
//! the password change form.

use leptos::ev::SubmitEvent;
use leptos::html;
use leptos::prelude::*;

use crate::data::{use_page_data, SessionView};
use crate::form::{error_from_url, ErrorMessage, Notice, TokenField};

const PASSWORD_ERROR_ID: &str = "password-error";

/// Renders the signed-in user's settings.
#[component]
pub fn SettingsPage() -> impl IntoView {
    let data = use_page_data();
    let user = data.user.clone().unwrap_or_default();
    let token = data.form_token.clone();
    let methods = if data.methods.is_empty() {
        "none".to_owned()
    } else {
        data.methods
            .iter()
            .map(|method| {
                if method == "totp" {
                    "one-time codes"
                } else {
                    "security keys"
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let emails = user.emails.join(", ");
    let groups = user.groups.join(", ");
    let password_change_allowed = data.password_change_allowed;
    let sessions = data.sessions.clone();
    let session_token = token.clone();

    view! {
        <section class="card card--wide" aria-labelledby="settings-heading">
            <h1 id="settings-heading">"Settings"</h1>
            <Notice/>
            <h2 class="section-heading">"Profile"</h2>
            <dl class="profile">
                <dt>"Username"</dt><dd>{user.username.clone()}</dd>
                <dt>"Display name"</dt><dd>{user.display_name.clone()}</dd>
                <dt>"E-mail"</dt><dd>{emails}</dd>
                <dt>"Groups"</dt><dd>{groups}</dd>
            </dl>

            <h2 class="section-heading">"Second factors"</h2>
            <p>"In use: " {methods} ". "
                <a href="/settings/two-factor" rel="external">"Manage second factors"</a></p>

            <h2 class="section-heading">"Active sessions"</h2>
            <SessionList sessions token=session_token/>

            <Show when=move || password_change_allowed>
                <PasswordForm token=token.clone() username=user.username.clone()/>
            </Show>
            <p><a href="/logout" rel="external">"Log out"</a></p>
        </section>
    }
}

/// The user's sessions, each with a button that ends it.
// NOTE: these buttons post to the form bridge even when the page is hydrated, so ending a
// session reloads the page.
#[component]
fn SessionList(sessions: Vec<SessionView>, token: String) -> impl IntoView {
    if sessions.is_empty() {
        return view! { <p>"No session list is available."</p> }.into_any();
    }
    let rows = sessions
        .into_iter()
        .map(|session| {
            let label = if session.current {
                format!("{} (this session)", session.description)
            } else {
                session.description.clone()
            };
            view! {
                <li class="session-list__item">
                    <span>{label}</span>
                    <form method="post" action="/settings/sessions/end" class="inline-form">
                        <TokenField token=token.clone()/>
                        <input type="hidden" name="id" value=session.id.clone()/>
                        <button type="submit" class="button--secondary"
                            aria-label=format!("End session: {}", session.description)>
                            "End"
                        </button>
                    </form>
                </li>
            }
        })
        .collect_view();
    view! { <ul class="session-list">{rows}</ul> }.into_any()
}

/// The password change form: current password, new password twice.
#[component]
fn PasswordForm(token: String, username: String) -> impl IntoView {
    let error = error_from_url();
    let pending = RwSignal::new(false);
    let current = NodeRef::<html::Input>::new();
    let new_password = NodeRef::<html::Input>::new();
    let confirm = NodeRef::<html::Input>::new();

    let submit_username = username.clone();
    let on_submit = move |event: SubmitEvent| {
        #[cfg(feature = "hydrate")]
        {
            use crate::data::outcome;
            use crate::form::{client, page_url};

            event.prevent_default();
            let value = |input: NodeRef<html::Input>| {
                input
                    .get_untracked()
                    .map(|input| input.value())
                    .unwrap_or_default()
            };
            if value(new_password) != value(confirm) {
                error.set(Some(outcome::PASSWORD_MISMATCH.to_owned()));
                return;
            }
            let body = serde_json::json!({
                "username": submit_username,
                "old_password": value(current),
                "new_password": value(new_password),
            });
            client::submit(
                pending,
                error,
                ("POST", "/api/change-password".to_owned()),
                body,
                outcome::CREDENTIALS,
                |_| page_url("/settings", &[("notice", outcome::PASSWORD_CHANGED)]),
            );
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (event, &submit_username, current, new_password, confirm);
    };
    let invalid = move || error.get().is_some().then_some("true");

    view! {
        <h2 class="section-heading" id="password-heading">"Change password"</h2>
        <form method="post" action="/settings/password" class="stack" on:submit=on_submit
            aria-labelledby="password-heading">
            <TokenField token/>
            <input type="hidden" name="username" value=username/>
            <p>"Changing the password needs a confirmation code first: "
                <a href="/settings/two-factor" rel="external">"get one on the second-factor page"</a>
                "."</p>
            <label for="current-password">"Current password"</label>
            <input id="current-password" name="old_password" type="password"
                autocomplete="current-password" required
                aria-describedby=PASSWORD_ERROR_ID aria-invalid=invalid node_ref=current/>
            <label for="new-password">"New password"</label>
            <input id="new-password" name="new_password" type="password"
                autocomplete="new-password" required
                aria-describedby=PASSWORD_ERROR_ID aria-invalid=invalid node_ref=new_password/>
            <label for="confirm-password">"Repeat the new password"</label>
            <input id="confirm-password" name="confirm_password" type="password"
                autocomplete="new-password" required
                aria-describedby=PASSWORD_ERROR_ID aria-invalid=invalid node_ref=confirm/>
            <ErrorMessage id=PASSWORD_ERROR_ID code=error/>
            <button type="submit" disabled=move || pending.get()>"Change password"</button>
        </form>
    }
}
