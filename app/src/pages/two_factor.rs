//! The second-factor settings at `/settings/two-factor`: elevation by an e-mailed code, TOTP
//! enrolment (QR code and secret, confirmed by one code) and removal, and the security keys and
//! passkeys (WebAuthn): the list, "Add security key" with a device name, rename and removal.
//!
//! Every change needs an elevated session, so until the session is elevated the page shows the
//! elevation forms and the list of keys only. The forms post to the server without JavaScript.
//! Hydrated, "Send a code", rename and removal call the JSON API and update the page in place.
//! Confirming the code and the TOTP steps still load a new page, because they change what the
//! page shows. Adding a security key needs the browser's WebAuthn API, so that form appears only
//! once the page is hydrated.

use leptos::ev::SubmitEvent;
use leptos::html;
use leptos::prelude::*;

use crate::data::{outcome, use_page_data, CredentialView, TotpEnrolment};
use crate::form::{error_from_url, query_value, ErrorMessage, TokenField};

/// The label of the button that registers a new security key or passkey.
pub const ADD_KEY_BUTTON: &str = "Add security key";

/// The value of the `form` query parameter that sends an error of the form bridge to the
/// security-key section instead of the TOTP one.
pub const KEYS_FORM: &str = "keys";

const KEY_ERROR_ID: &str = "security-key-error";
const ADD_KEY_ERROR_ID: &str = "add-key-error";

/// Renders the elevation step or, once elevated, the enrolment and removal forms.
#[component]
pub fn TwoFactorSettingsPage() -> impl IntoView {
    let data = use_page_data();
    let url_error = error_from_url();
    let for_keys = query_value("form") == KEYS_FORM;
    // An error of the form bridge shows next to the form it came from.
    let (error, key_error) = if for_keys {
        (RwSignal::new(None), url_error)
    } else {
        (url_error, RwSignal::new(None))
    };
    let notice = {
        let code = query_value("notice");
        RwSignal::new((!code.is_empty()).then_some(code))
    };
    let token = data.form_token.clone();
    let has_totp = data.methods.iter().any(|method| method == "totp");
    let elevated = data.elevated;
    let enrolment = data.totp_enrolment.clone();
    let show_keys = data.webauthn_enabled && enrolment.is_none();

    let body = if !elevated {
        view! { <ElevationForms token=token.clone() error notice/> }.into_any()
    } else if let Some(enrolment) = enrolment {
        view! { <TotpConfirmForm enrolment token=token.clone() error/> }.into_any()
    } else if has_totp {
        view! {
            <h2 class="section-heading">"Authenticator app"</h2>
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
            <h2 class="section-heading">"Authenticator app"</h2>
            <p>"Add an authenticator app that shows one-time codes."</p>
            <form method="post" action="/settings/two-factor/totp/start" class="stack">
                <TokenField token=token.clone()/>
                <ErrorMessage id="two-factor-error" code=error/>
                <button type="submit">"Add an authenticator app"</button>
            </form>
        }
        .into_any()
    };
    let keys = show_keys.then(|| {
        view! {
            <SecurityKeys
                credentials=data.webauthn_credentials.clone()
                token=token.clone()
                elevated
                error=key_error
                notice
            />
        }
    });
    let notice_text = move || {
        notice
            .get()
            .as_deref()
            .and_then(outcome::message)
            .unwrap_or("")
    };

    view! {
        <section class="card card--wide" aria-labelledby="two-factor-heading">
            <h1 id="two-factor-heading">"Second factors"</h1>
            <p class="notice" role="status">{notice_text}</p>
            {body}
            {keys}
            <p><a href="/settings" rel="external">"Back to settings"</a></p>
        </section>
    }
}

/// The two elevation steps: send a code by e-mail, then enter it.
#[component]
fn ElevationForms(
    token: String,
    error: RwSignal<Option<String>>,
    notice: RwSignal<Option<String>>,
) -> impl IntoView {
    let invalid = move || error.get().is_some().then_some("true");
    let pending = RwSignal::new(false);
    let on_send = move |event: SubmitEvent| {
        #[cfg(feature = "hydrate")]
        {
            use crate::form::client;

            event.prevent_default();
            if pending.get_untracked() {
                return;
            }
            pending.set(true);
            leptos::task::spawn_local(async move {
                let path = "/api/user/session/elevation";
                let sent = client::send_json("POST", path, &serde_json::json!({})).await;
                match sent {
                    Some(answer) if answer.is_ok() => {
                        error.set(None);
                        notice.set(Some(outcome::CODE_SENT.to_owned()));
                    }
                    Some(answer) => {
                        let code = outcome::for_status(answer.status, outcome::FORBIDDEN);
                        error.set(Some(code.to_owned()));
                    }
                    None => error.set(Some(outcome::SERVER.to_owned())),
                }
                pending.set(false);
            });
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (event, notice);
    };
    view! {
        <p>"Changing second factors needs a confirmation code, sent to your e-mail address."</p>
        <form method="post" action="/settings/two-factor/elevation/start" class="stack"
            on:submit=on_send>
            <TokenField token=token.clone()/>
            <button type="submit" class="button--secondary" disabled=move || pending.get()>
                "Send a code"
            </button>
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

/// Renders the security keys and passkeys: the list, and with an elevated session the forms that
/// rename, remove and add them.
#[component]
fn SecurityKeys(
    credentials: Vec<CredentialView>,
    token: String,
    elevated: bool,
    error: RwSignal<Option<String>>,
    notice: RwSignal<Option<String>>,
) -> impl IntoView {
    let keys = RwSignal::new(credentials);
    let item_token = token.clone();
    let list = move || {
        let items = keys.get();
        if items.is_empty() {
            return view! { <p>"No security key or passkey is registered."</p> }.into_any();
        }
        let token = item_token.clone();
        view! {
            <ul class="credential-list">
                {items
                    .into_iter()
                    .map(|key| {
                        view! {
                            <KeyItem key token=token.clone() elevated keys error notice/>
                        }
                    })
                    .collect_view()}
            </ul>
        }
        .into_any()
    };
    let add = elevated.then(|| view! { <AddKeyForm/> });

    view! {
        <h2 class="section-heading">"Security keys and passkeys"</h2>
        {list}
        <ErrorMessage id=KEY_ERROR_ID code=error/>
        {add}
    }
}

/// Renders one registered key: its name and times, and with an elevated session its rename and
/// remove forms.
#[component]
fn KeyItem(
    key: CredentialView,
    token: String,
    elevated: bool,
    keys: RwSignal<Vec<CredentialView>>,
    error: RwSignal<Option<String>>,
    notice: RwSignal<Option<String>>,
) -> impl IntoView {
    let last_used = key.last_used.clone().unwrap_or_else(|| "never".to_owned());
    let times = format!("Added {}, last used {last_used}", key.created);
    let actions = elevated.then(|| {
        view! { <KeyActions key=key.clone() token keys error notice/> }
    });
    view! {
        <li class="credential-list__item">
            <div class="credential-list__name">{key.name.clone()}</div>
            <div class="status">{times}</div>
            {actions}
        </li>
    }
}

/// Renders the rename and remove forms of one key.
#[component]
fn KeyActions(
    key: CredentialView,
    token: String,
    keys: RwSignal<Vec<CredentialView>>,
    error: RwSignal<Option<String>>,
    notice: RwSignal<Option<String>>,
) -> impl IntoView {
    let pending = RwSignal::new(false);
    let new_name = NodeRef::<html::Input>::new();
    let field_id = format!("device-name-{}", key.id);

    let remove_id = key.id.clone();
    let on_remove = move |event: SubmitEvent| {
        #[cfg(feature = "hydrate")]
        {
            event.prevent_default();
            let id = remove_id.clone();
            let path = format!("/api/secondfactor/webauthn/credential/{id}");
            change_key(
                pending,
                error,
                ("DELETE", path, serde_json::json!({})),
                move || {
                    keys.update(|list| list.retain(|key| key.id != id));
                    notice.set(Some(outcome::FACTOR_REMOVED.to_owned()));
                },
            );
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (event, &remove_id, pending, keys, notice);
    };
    let rename_id = key.id.clone();
    let on_rename = move |event: SubmitEvent| {
        #[cfg(feature = "hydrate")]
        {
            event.prevent_default();
            let id = rename_id.clone();
            let name = new_name
                .get_untracked()
                .map(|input| input.value().trim().to_owned())
                .unwrap_or_default();
            let path = format!("/api/secondfactor/webauthn/credential/{id}");
            let body = serde_json::json!({ "description": name });
            change_key(pending, error, ("PUT", path, body), move || {
                keys.update(|list| {
                    if let Some(key) = list.iter_mut().find(|key| key.id == id) {
                        key.name = name;
                    }
                });
                notice.set(Some(outcome::KEY_RENAMED.to_owned()));
            });
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (event, &rename_id, new_name, error);
    };

    view! {
        <div class="credential-list__actions">
            <details>
                <summary>"Rename"</summary>
                <form method="post" action="/settings/two-factor/webauthn/rename" class="stack"
                    on:submit=on_rename>
                    <TokenField token=token.clone()/>
                    <input type="hidden" name="id" value=key.id.clone()/>
                    <label for=field_id.clone()>"New name"</label>
                    <input id=field_id name="description" type="text" maxlength="64" required
                        value=key.name.clone() aria-describedby=KEY_ERROR_ID node_ref=new_name/>
                    <button type="submit" class="button--secondary" disabled=move || pending.get()>
                        "Save name"
                    </button>
                </form>
            </details>
            <form method="post" action="/settings/two-factor/webauthn/remove" class="inline-form"
                on:submit=on_remove>
                <TokenField token/>
                <input type="hidden" name="id" value=key.id.clone()/>
                <button type="submit" class="button--danger" disabled=move || pending.get()>
                    {format!("Remove {}", key.name)}
                </button>
            </form>
        </div>
    }
}

/// Sends a rename or removal to the JSON API. It runs `done` on success, else shows the outcome
/// in `error`.
#[cfg(feature = "hydrate")]
fn change_key(
    pending: RwSignal<bool>,
    error: RwSignal<Option<String>>,
    (method, path, body): (&'static str, String, serde_json::Value),
    done: impl FnOnce() + 'static,
) {
    use crate::form::client;

    if pending.get_untracked() {
        return;
    }
    pending.set(true);
    leptos::task::spawn_local(async move {
        match client::send_json(method, &path, &body).await {
            Some(answer) if answer.is_ok() => {
                error.set(None);
                done();
            }
            Some(answer) => {
                let code = match answer.status {
                    _ if client::needs_elevation(&answer) => outcome::for_elevation(&answer.body),
                    400 => outcome::DEVICE_NAME,
                    409 => outcome::DEVICE_NAME_TAKEN,
                    status => outcome::for_status(status, outcome::FORBIDDEN),
                };
                error.set(Some(code.to_owned()));
            }
            None => error.set(Some(outcome::SERVER.to_owned())),
        }
        pending.set(false);
    });
}

/// Renders the "Add security key" form with its required device name. It needs JavaScript, so it
/// is shown once the page is hydrated, and a short text explains that until then.
#[component]
fn AddKeyForm() -> impl IntoView {
    let error = RwSignal::new(None::<String>);
    let pending = RwSignal::new(false);
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    let name = NodeRef::<html::Input>::new();

    let on_submit = move |event: SubmitEvent| {
        event.prevent_default();
        #[cfg(feature = "hydrate")]
        {
            use crate::form::{client, page_url};

            if pending.get_untracked() {
                return;
            }
            let description = name
                .get_untracked()
                .map(|input| input.value().trim().to_owned())
                .unwrap_or_default();
            pending.set(true);
            error.set(None);
            leptos::task::spawn_local(async move {
                match crate::ceremony::register_key(&description).await {
                    Ok(()) => client::go_to(&page_url(
                        "/settings/two-factor",
                        &[("notice", outcome::FACTOR_ADDED)],
                    )),
                    Err(code) => {
                        error.set(Some(code.to_owned()));
                        pending.set(false);
                    }
                }
            });
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (pending, name);
    };
    let invalid = move || {
        error
            .get()
            .is_some_and(|code| code == outcome::DEVICE_NAME || code == outcome::DEVICE_NAME_TAKEN)
            .then_some("true")
    };

    view! {
        <p class="status" hidden=move || hydrated.get()>
            "Adding a security key or passkey needs JavaScript."
        </p>
        <form class="stack" hidden=move || !hydrated.get() on:submit=on_submit>
            <label for="device-name">"Device name"</label>
            <input id="device-name" name="description" type="text" maxlength="64" required
                autocomplete="off" aria-describedby=ADD_KEY_ERROR_ID aria-invalid=invalid
                node_ref=name/>
            <ErrorMessage id=ADD_KEY_ERROR_ID code=error/>
            <button type="submit" disabled=move || pending.get()>{ADD_KEY_BUTTON}</button>
        </form>
    }
}
