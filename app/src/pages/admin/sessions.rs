//! `/admin/sessions`: every user's sessions, each with a button that ends it.

use leptos::prelude::*;

use crate::data::use_page_data;
use crate::form::TokenField;

use super::{use_admin_data, AdminFrame, AdminSession};

/// Renders the sessions table.
#[component]
pub fn AdminSessionsPage() -> impl IntoView {
    view! {
        <AdminFrame title="Sessions" path="/admin/sessions">
            <SessionsTable/>
        </AdminFrame>
    }
}

#[component]
fn SessionsTable() -> impl IntoView {
    let admin = use_admin_data();
    let token = use_page_data().form_token;
    if admin.sessions.is_empty() {
        return view! { <p>"Nobody is signed in."</p> }.into_any();
    }
    let rows = admin
        .sessions
        .into_iter()
        .map(|session| view! { <SessionRow session token=token.clone()/> })
        .collect_view();
    view! {
        <div class="table-scroll">
            <table class="admin-table">
                <caption>"Signed-in sessions, newest first"</caption>
                <thead>
                    <tr>
                        <th scope="col">"User"</th>
                        <th scope="col">"Level"</th>
                        <th scope="col">"Signed in"</th>
                        <th scope="col">"Last activity"</th>
                        <th scope="col">"Remember me"</th>
                        <th scope="col">"Action"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
    .into_any()
}

#[component]
fn SessionRow(session: AdminSession, token: String) -> impl IntoView {
    let level = if session.level >= 2 {
        "two factors"
    } else {
        "one factor"
    };
    let user = if session.current {
        format!("{} (your session)", session.username)
    } else {
        session.username.clone()
    };
    let label = format!(
        "End the session of {} signed in {}",
        session.username, session.started
    );
    view! {
        <tr>
            <th scope="row">{user}</th>
            <td>{level}</td>
            <td>{session.started.clone()}</td>
            <td>{session.last_activity.clone()}</td>
            <td>{if session.remember_me { "yes" } else { "no" }}</td>
            <td>
                <form method="post" action="/admin/sessions/end" class="inline-form">
                    <TokenField token/>
                    <input type="hidden" name="id" value=session.id.clone()/>
                    <button type="submit" class="button--secondary" aria-label=label>"End"</button>
                </form>
            </td>
        </tr>
    }
}
