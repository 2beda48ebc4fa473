//! The settings page at `/settings`: the profile (read-only), active sessions, second factors and
//! the password change form.

use leptos::ev::SubmitEvent;
use leptos::html;
use leptos::prelude::*;

use crate::data::{outcome, use_page_data, SessionView};
use crate::form::{error_from_url, ErrorMessage, Notice, TokenField};

const PASSWORD_ERROR_ID: &str = "password-error";
const SESSION_ERROR_ID: &str = "session-error";

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
    let needs = ChangeNeeds {
        second_factor_link: data.second_factor_link.clone(),
        code: !data.elevated && !data.can_skip_second_factor,
    };

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
                <PasswordForm token=token.clone() username=user.username.clone()
                    needs=needs.clone()/>
            </Show>
            <p><a href="/logout" rel="external">"Log out"</a></p>
        </section>
    }
}

/// The user's sessions, each with a button that ends it. Without JavaScript the button posts to
/// the form bridge, which reloads the page. Hydrated, the submit is cancelled, the session is
/// ended with `DELETE /api/user/sessions/{id}`, and its row leaves the list in place. Ending the
/// current session loads the sign-in page, because this page's session is then gone.
#[component]
fn SessionList(sessions: Vec<SessionView>, token: String) -> impl IntoView {
    if sessions.is_empty() {
        return view! { <p>"No session list is available."</p> }.into_any();
    }
    let listed = RwSignal::new(sessions);
    let error = RwSignal::new(None::<String>);
    let ended = RwSignal::new(false);
    let row = move |session: SessionView| {
        let label = if session.current {
            format!("{} (this session)", session.description)
        } else {
            session.description.clone()
        };
        let on_submit = end_session_handler(session.clone(), listed, error, ended);
        view! {
            <li class="session-list__item">
                <span>{label}</span>
                <form method="post" action="/settings/sessions/end" class="inline-form"
                    on:submit=on_submit>
                    <TokenField token=token.clone()/>
                    <input type="hidden" name="id" value=session.id.clone()/>
                    <button type="submit" class="button--secondary"
                        aria-label=format!("End session: {}", session.description)>
                        "End"
                    </button>
                </form>
            </li>
        }
    };
    view! {
        <Show when=move || ended.get()>
            <p class="notice" role="status">{outcome::message(outcome::SESSION_ENDED)}</p>
        </Show>
        <ErrorMessage id=SESSION_ERROR_ID code=error/>
        <ul class="session-list">
            <For each=move || listed.get() key=|session| session.id.clone() children=row/>
        </ul>
    }
    .into_any()
}

/// Builds the submit handler of one session's "End" form. Hydrated, it ends the session through
/// the JSON API and removes its row. On the server it does nothing, so the form posts.
fn end_session_handler(
    session: SessionView,
    listed: RwSignal<Vec<SessionView>>,
    error: RwSignal<Option<String>>,
    ended: RwSignal<bool>,
) -> impl Fn(SubmitEvent) + 'static {
    move |event: SubmitEvent| {
        #[cfg(feature = "hydrate")]
        {
            use crate::form::client;

            event.prevent_default();
            let session = session.clone();
            leptos::task::spawn_local(async move {
                let path = format!(
                    "/api/user/sessions/{}",
                    crate::form::encode_query_value(&session.id)
                );
                match client::send_json("DELETE", &path, &serde_json::Value::Null).await {
                    Some(answer) if answer.is_ok() => {
                        if session.current {
                            client::go_to("/");
                            return;
                        }
                        listed.update(|sessions| sessions.retain(|item| item.id != session.id));
                        error.set(None);
                        ended.set(true);
                    }
                    Some(answer) => {
                        let code = outcome::for_status(answer.status, outcome::FORBIDDEN);
                        error.set(Some(code.to_owned()));
                    }
                    None => error.set(Some(outcome::SERVER.to_owned())),
                }
            });
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (event, &session, listed, error, ended);
    }
}

/// The steps a password change still needs before it can succeed, as the page loader found them.
#[derive(Clone)]
struct ChangeNeeds {
    /// The second-factor page with `rd` back here, when the second factor is still missing.
    second_factor_link: Option<String>,
    /// Whether an e-mailed code is still needed.
    code: bool,
}

/// Tells the user what a password change needs first: the second factor of this session, or an
/// e-mailed code. Says nothing when the session may change the password now.
#[component]
fn ChangePrerequisite(needs: ChangeNeeds) -> impl IntoView {
    if let Some(link) = needs.second_factor_link {
        return view! {
            <p>"Changing the password needs the second factor of this session first: "
                <a href=link rel="external">"verify your second factor"</a>
                ", then come back here."</p>
        }
        .into_any();
    }
    if needs.code {
        return view! {
            <p>"Changing the password needs a confirmation code first: "
                <a href="/settings/two-factor" rel="external">"get one on the second-factor page"</a>
                "."</p>
        }
        .into_any();
    }
    ().into_any()
}

/// The password change form: current password, new password twice.
#[component]
fn PasswordForm(token: String, username: String, needs: ChangeNeeds) -> impl IntoView {
    let error = error_from_url();
    let pending = RwSignal::new(false);
    let current = NodeRef::<html::Input>::new();
    let new_password = NodeRef::<html::Input>::new();
    let confirm = NodeRef::<html::Input>::new();

    let submit_username = username.clone();
    let on_submit = move |event: SubmitEvent| {
        #[cfg(feature = "hydrate")]
        {
            use crate::form::{client, page_url, password_change_failure};

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
            client::submit_with(
                pending,
                error,
                ("POST", "/api/change-password".to_owned()),
                body,
                |answer| password_change_failure(answer.status, &answer.body),
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
            <ChangePrerequisite needs/>
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
