//! `/admin/bans`: the bans in force, each with a revoke button, and the form that adds a ban.

use leptos::prelude::*;

use crate::data::use_page_data;
use crate::form::TokenField;

use super::{use_admin_data, AdminBan, AdminFrame};

/// Renders the bans table and the add form.
#[component]
pub fn AdminBansPage() -> impl IntoView {
    view! {
        <AdminFrame title="Bans" path="/admin/bans">
            <BansContent/>
        </AdminFrame>
    }
}

#[component]
fn BansContent() -> impl IntoView {
    let admin = use_admin_data();
    let token = use_page_data().form_token;
    let table = if admin.bans.is_empty() {
        view! { <p>"No ban is in force."</p> }.into_any()
    } else {
        let rows = admin
            .bans
            .into_iter()
            .map(|ban| view! { <BanRow ban token=token.clone()/> })
            .collect_view();
        view! {
            <div class="table-scroll">
                <table class="admin-table">
                    <caption>"Bans in force, newest first"</caption>
                    <thead>
                        <tr>
                            <th scope="col">"Banned"</th>
                            <th scope="col">"Kind"</th>
                            <th scope="col">"Until"</th>
                            <th scope="col">"Added by"</th>
                            <th scope="col">"Reason"</th>
                            <th scope="col">"Action"</th>
                        </tr>
                    </thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
        }
        .into_any()
    };
    view! {
        {table}
        <AddBanForm token/>
    }
}

#[component]
fn BanRow(ban: AdminBan, token: String) -> impl IntoView {
    let kind = if ban.kind == "ip" {
        "IP address"
    } else {
        "user name"
    };
    let source = if ban.source == "admin" {
        "an administrator"
    } else {
        "regulation"
    };
    let label = format!("Revoke the ban of {}", ban.value);
    view! {
        <tr>
            <th scope="row">{ban.value.clone()}</th>
            <td>{kind}</td>
            <td>{ban.expires.clone()}</td>
            <td>{source}</td>
            <td>{super::or_none(&ban.reason)}</td>
            <td>
                <form method="post" action="/admin/bans/revoke" class="inline-form">
                    <TokenField token/>
                    <input type="hidden" name="id" value=ban.id.to_string()/>
                    <button type="submit" class="button--secondary" aria-label=label>"Revoke"</button>
                </form>
            </td>
        </tr>
    }
}

/// The form that bans a user name or an IP address.
#[component]
fn AddBanForm(token: String) -> impl IntoView {
    view! {
        <h2 class="section-heading" id="add-ban-heading">"Add a ban"</h2>
        <form method="post" action="/admin/bans/add" class="stack"
            aria-labelledby="add-ban-heading">
            <TokenField token/>
            <label for="ban-kind">"Kind"</label>
            <select id="ban-kind" name="kind">
                <option value="user">"User name"</option>
                <option value="ip">"IP address"</option>
            </select>
            <label for="ban-value">"User name or IP address"</label>
            <input id="ban-value" name="value" type="text" autocomplete="off" required/>
            <label for="ban-duration">"Duration in minutes (0: until revoked)"</label>
            <input id="ban-duration" name="duration" type="number" min="0" value="60" required/>
            <label for="ban-reason">"Reason"</label>
            <input id="ban-reason" name="reason" type="text" maxlength="200" autocomplete="off"/>
            <button type="submit">"Add ban"</button>
        </form>
    }
}
