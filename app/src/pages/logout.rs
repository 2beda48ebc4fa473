//! The sign-out page at `/logout`. A GET only shows the "Log out" button, so that another site
//! cannot end a session with an image or a link; the button posts, the session ends in the store,
//! and the browser goes to a safe `rd` or to the sign-in page.

use leptos::ev::SubmitEvent;
use leptos::prelude::*;

use crate::data::use_page_data;
use crate::form::{error_from_url, query_value, ErrorMessage, TokenField};

/// Renders the confirmation with the "Log out" button.
#[component]
pub fn LogoutPage() -> impl IntoView {
    let data = use_page_data();
    let rd = query_value("rd");
    let error = error_from_url();
    let pending = RwSignal::new(false);
    let signed_in_as = data.user.as_ref().map(|user| user.username.clone());

    let submit_rd = rd.clone();
    let on_submit = move |event: SubmitEvent| {
        #[cfg(feature = "hydrate")]
        {
            use crate::data::outcome;
            use crate::form::client;

            event.prevent_default();
            let body = serde_json::json!({ "targetURL": submit_rd });
            let rd = submit_rd.clone();
            client::submit(
                pending,
                error,
                ("POST", "/api/logout".to_owned()),
                body,
                outcome::FORBIDDEN,
                move |answer| {
                    let safe = answer
                        .body
                        .pointer("/data/safeTargetURL")
                        .and_then(serde_json::Value::as_bool)
                        .unwrap_or(false);
                    if safe && !rd.is_empty() {
                        rd
                    } else {
                        "/".to_owned()
                    }
                },
            );
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (event, &submit_rd);
    };

    view! {
        <section class="card" aria-labelledby="logout-heading">
            <h1 id="logout-heading">"Log out"</h1>
            {match signed_in_as {
                Some(name) => view! { <p>"You are signed in as " <strong>{name}</strong> "."</p> }.into_any(),
                None => view! { <p>"You are not signed in."</p> }.into_any(),
            }}
            <form method="post" action="/logout" class="stack" on:submit=on_submit>
                <TokenField token=data.form_token.clone()/>
                <input type="hidden" name="rd" value=rd/>
                <ErrorMessage id="logout-error" code=error/>
                <button type="submit" disabled=move || pending.get()>"Log out"</button>
            </form>
        </section>
    }
}
