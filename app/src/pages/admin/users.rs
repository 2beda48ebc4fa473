//! `/admin/users`: the users table with per-user change, disable and delete forms, and the form
//! that adds a user.

use leptos::prelude::*;

use crate::data::use_page_data;
use crate::form::TokenField;

use super::{or_none, use_admin_data, AdminFrame, AdminUser};

/// Renders the users table and the add form.
#[component]
pub fn AdminUsersPage() -> impl IntoView {
    view! {
        <AdminFrame title="Users" path="/admin/users">
            <UsersContent/>
        </AdminFrame>
    }
}

#[component]
fn UsersContent() -> impl IntoView {
    let admin = use_admin_data();
    let token = use_page_data().form_token;
    if let Some(reason) = admin.unavailable {
        return view! { <p>{reason}</p> }.into_any();
    }
    let rows = admin
        .users
        .into_iter()
        .enumerate()
        .map(|(index, user)| view! { <UserRow index user token=token.clone()/> })
        .collect_view();
    view! {
        <div class="table-scroll">
            <table class="admin-table">
                <caption>"All users, disabled ones included"</caption>
                <thead>
                    <tr>
                        <th scope="col">"Username"</th>
                        <th scope="col">"Display name"</th>
                        <th scope="col">"E-mail"</th>
                        <th scope="col">"Groups"</th>
                        <th scope="col">"State"</th>
                        <th scope="col">"Actions"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
        <AddUserForm token/>
    }
    .into_any()
}

/// One user's row: the values, then the disable or enable button, the delete button and the
/// change form folded into a disclosure.
#[component]
fn UserRow(index: usize, user: AdminUser, token: String) -> impl IntoView {
    let name = user.username.clone();
    let (toggle_value, toggle_label) = if user.disabled {
        ("false", "Enable")
    } else {
        ("true", "Disable")
    };
    let state = if user.disabled { "disabled" } else { "enabled" };
    let groups = user.groups.join(", ");
    let id = |field: &str| format!("user-{index}-{field}");
    view! {
        <tr>
            <th scope="row">{name.clone()}</th>
            <td>{user.display_name.clone()}</td>
            <td>{or_none(&user.email)}</td>
            <td>{or_none(&groups)}</td>
            <td>{state}</td>
            <td class="admin-table__actions">
                <form method="post" action="/admin/users/disable" class="inline-form">
                    <TokenField token=token.clone()/>
                    <input type="hidden" name="username" value=name.clone()/>
                    <input type="hidden" name="disabled" value=toggle_value/>
                    <button type="submit" class="button--secondary"
                        aria-label=format!("{toggle_label} {name}")>{toggle_label}</button>
                </form>
                <form method="post" action="/admin/users/delete" class="inline-form">
                    <TokenField token=token.clone()/>
                    <input type="hidden" name="username" value=name.clone()/>
                    <button type="submit" class="button--danger"
                        aria-label=format!("Delete {name}")>"Delete"</button>
                </form>
                <details class="admin-edit">
                    <summary>"Change " <span class="visually-hidden">{name.clone()}</span></summary>
                    <form method="post" action="/admin/users/edit" class="stack">
                        <TokenField token=token.clone()/>
                        <input type="hidden" name="username" value=name.clone()/>
                        <label for=id("name")>"Display name"</label>
                        <input id=id("name") name="display_name" type="text" required
                            value=user.display_name.clone()/>
                        <label for=id("email")>"E-mail"</label>
                        <input id=id("email") name="email" type="email" value=user.email.clone()/>
                        <label for=id("groups")>"Groups (comma-separated)"</label>
                        <input id=id("groups") name="groups" type="text" value=groups/>
                        <button type="submit">"Save changes"</button>
                    </form>
                </details>
            </td>
        </tr>
    }
}

/// The form that adds a user with an initial password.
#[component]
fn AddUserForm(token: String) -> impl IntoView {
    view! {
        <h2 class="section-heading" id="add-user-heading">"Add a user"</h2>
        <form method="post" action="/admin/users/add" class="stack"
            aria-labelledby="add-user-heading">
            <TokenField token/>
            <label for="new-username">"Username"</label>
            <input id="new-username" name="username" type="text" autocomplete="off" required/>
            <label for="new-display-name">"Display name"</label>
            <input id="new-display-name" name="display_name" type="text" autocomplete="off"
                required/>
            <label for="new-email">"E-mail"</label>
            <input id="new-email" name="email" type="email" autocomplete="off"/>
            <label for="new-groups">"Groups (comma-separated)"</label>
            <input id="new-groups" name="groups" type="text" autocomplete="off"/>
            <label for="new-password">"Initial password"</label>
            <input id="new-password" name="password" type="password" autocomplete="new-password"
                required/>
            <button type="submit">"Add user"</button>
        </form>
    }
}
