//! Users and groups: `GET`/`POST /api/admin/users`, `PUT`/`DELETE /api/admin/users/{username}`
//! and `GET /api/admin/groups`.
//!
//! Only the database backend is edited here. With a users file the user routes return 409,
//! because that file belongs to the operator (see `docs/decisions.md`).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::cli::users::{clean_group_names, normalize_email};
use crate::identity::directory::UserDirectory;
use crate::identity::names::{
    normalize_username, validate_display_name, validate_email, validate_username, InvalidValue,
    ValueProblem,
};
use crate::identity::password_policy::{check_password, POLICY_FAILED};
use crate::identity::secret::Password;
use crate::storage::{StorageError, User, UserRecord};

use super::super::account::json_body;
use super::super::reset_password::hash_new_password;
use super::super::response::{ko, ok};
use super::super::PortalState;
use super::{admin_or_return, storage_failure};

const FILE_BACKEND: &str = "Users are kept in the users file (authentication_backend.file.path); \
     edit that file to change them.";

/// `GET /api/admin/users`: every user with groups and state, disabled ones included.
pub(super) async fn list(
    State(state): State<Arc<PortalState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let admin = admin_or_return!(state, peer, headers, false);
    if let Err(response) = database_backend(&state) {
        return response;
    }
    match state.db.list_users().await {
        Ok(users) => {
            let users: Vec<Value> = users.iter().map(user_json).collect();
            ok(Some(json!({ "users": users })))
        }
        Err(error) => storage_failure(&error, admin.username(), "list users"),
    }
}

/// `GET /api/admin/groups`: the names of all groups, and the administrators' group.
pub(super) async fn groups(
    State(state): State<Arc<PortalState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let admin = admin_or_return!(state, peer, headers, false);
    if let Err(response) = database_backend(&state) {
        return response;
    }
    match state.db.list_groups().await {
        Ok(groups) => ok(Some(json!({
            "groups": groups,
            "administration_group": state.config.administration.group,
        }))),
        Err(error) => storage_failure(&error, admin.username(), "list groups"),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewUser {
    username: String,
    display_name: String,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    groups: Vec<String>,
    password: String,
}

/// `POST /api/admin/users`: creates a user with an initial password that must meet the password
/// policy.
pub(super) async fn create(
    State(state): State<Arc<PortalState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let admin = admin_or_return!(state, peer, headers, true);
    if let Err(response) = database_backend(&state) {
        return response;
    }
    let expected =
        "Expected a JSON object with username, display_name, email, groups and password.";
    let body: NewUser = match json_body(&body, expected) {
        Ok(body) => body,
        Err(response) => return response,
    };
    let record = match new_user_record(&body) {
        Ok(record) => record,
        Err(error) => return invalid(&error),
    };
    let inputs: Vec<&str> = [&record.username, &record.display_name]
        .into_iter()
        .map(String::as_str)
        .chain(record.email.as_deref())
        .collect();
    if check_password(&state.config.password_policy, &body.password, &inputs).is_err() {
        return ko(StatusCode::BAD_REQUEST, POLICY_FAILED);
    }
    let password = Password::from(body.password);
    let password_hash = match hash_new_password(&state, password, &record.username).await {
        Ok(hash) => hash,
        Err(response) => return response,
    };
    let record = UserRecord {
        password_hash,
        ..record
    };

    let now = state.clock.now_millis();
    match state.db.create_user(&record, now).await {
        Ok(user) => {
            admin
                .audit(&state, "admin.user_created", &user.username, json!({}))
                .await;
            tracing::info!(admin = admin.username(), username = %user.username, "user created by an administrator");
            ok(Some(user_json(&user)))
        }
        Err(error) => conflict_or_failure(&error, admin.username(), "create a user"),
    }
}

/// Validates a new user's fields and returns the record without its password hash.
fn new_user_record(body: &NewUser) -> Result<UserRecord, InvalidValue> {
    validate_username(&body.username)?;
    validate_display_name(&body.display_name)?;
    let email = optional_email(body.email.as_deref())?;
    let groups = group_names(&body.groups)?;
    Ok(UserRecord {
        username: normalize_username(&body.username),
        display_name: body.display_name.clone(),
        email,
        password_hash: String::new(),
        disabled: false,
        groups,
    })
}

/// Cleans group names as the command line does (trimmed, empty ones and duplicates dropped),
/// but rejects a control character anywhere, even one that trimming would remove.
fn group_names(groups: &[String]) -> Result<Vec<String>, InvalidValue> {
    if groups
        .iter()
        .any(|group| group.chars().any(char::is_control))
    {
        return Err(InvalidValue {
            field: "groups",
            problem: ValueProblem::ControlCharacter,
        });
    }
    clean_group_names(groups)
}

/// Validates an e-mail address; an absent or empty one means none.
fn optional_email(email: Option<&str>) -> Result<Option<String>, InvalidValue> {
    match email {
        None | Some("") => Ok(None),
        Some(address) => {
            validate_email(address)?;
            Ok(Some(normalize_email(address)))
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UserChange {
    #[serde(default)]
    display_name: Option<String>,
    /// `Some(None)` (JSON `null`) or an empty string removes the address.
    #[serde(default, deserialize_with = "present")]
    email: Option<Option<String>>,
    #[serde(default)]
    groups: Option<Vec<String>>,
    #[serde(default)]
    disabled: Option<bool>,
}

/// Reads a field that may be `null`, so that an absent field and `null` differ.
fn present<'de, D>(deserializer: D) -> Result<Option<Option<String>>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    Option::<String>::deserialize(deserializer).map(Some)
}

/// The checked form of a [`UserChange`].
struct CheckedChange {
    profile: Option<(String, Option<String>)>,
    groups: Option<Vec<String>>,
    disabled: Option<bool>,
}

/// `PUT /api/admin/users/{username}`: changes any of display name, e-mail address, groups and
/// the disabled flag. Every field is checked before the first change is stored. Disabling ends
/// the user's sessions, and a new profile or new groups mark them for a refresh, each in the
/// transaction of its change.
pub(super) async fn update(
    State(state): State<Arc<PortalState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(username): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let admin = admin_or_return!(state, peer, headers, true);
    if let Err(response) = database_backend(&state) {
        return response;
    }
    let expected = "Expected a JSON object with any of display_name, email, groups and disabled.";
    let change: UserChange = match json_body(&body, expected) {
        Ok(change) => change,
        Err(response) => return response,
    };
    let user = match existing_user(&state, &username, admin.username()).await {
        Ok(user) => user,
        Err(response) => return response,
    };
    let checked = match check_change(&state, &user, &change, admin.username()) {
        Ok(checked) => checked,
        Err(response) => return response,
    };

    let now = state.clock.now_millis();
    let name = user.username.as_str();
    // NOTE: each part is stored in its own transaction. A storage failure after the first part
    // leaves the earlier parts changed, and the response is then 500.
    if let Some((display_name, email)) = &checked.profile {
        let stored = state
            .db
            .update_user_profile(name, display_name, email.as_deref(), now)
            .await;
        if let Err(error) = stored {
            return conflict_or_failure(&error, admin.username(), "change a profile");
        }
    }
    if let Some(groups) = &checked.groups {
        if let Err(error) = state.db.set_user_groups(name, groups, now).await {
            return storage_failure(&error, admin.username(), "change groups");
        }
    }
    if let Some(disabled) = checked.disabled {
        if let Err(error) = state.db.set_user_disabled(name, disabled, now).await {
            return storage_failure(&error, admin.username(), "change the disabled flag");
        }
    }
    let details = json!({
        "profile": checked.profile.is_some(),
        "groups": checked.groups,
        "disabled": checked.disabled,
    });
    admin
        .audit(&state, "admin.user_changed", name, details)
        .await;
    tracing::info!(
        admin = admin.username(),
        username = name,
        "user changed by an administrator"
    );
    match state.db.get_user(name).await {
        Ok(Some(user)) => ok(Some(user_json(&user))),
        Ok(None) => ko(StatusCode::NOT_FOUND, "The user was deleted meanwhile."),
        Err(error) => storage_failure(&error, admin.username(), "read a changed user"),
    }
}

/// Checks a change against the validation rules, and keeps administrators from locking
/// themselves out: an administrator may not disable their own account or leave the
/// administrators' group here.
// The error is the finished response, sent at once, so its size on the stack does not matter.
#[allow(clippy::result_large_err)]
fn check_change(
    state: &PortalState,
    user: &User,
    change: &UserChange,
    admin: &str,
) -> Result<CheckedChange, Response> {
    let profile = if change.display_name.is_some() || change.email.is_some() {
        let display_name = change
            .display_name
            .clone()
            .unwrap_or_else(|| user.display_name.clone());
        validate_display_name(&display_name).map_err(|error| invalid(&error))?;
        let email = match &change.email {
            Some(email) => optional_email(email.as_deref()).map_err(|error| invalid(&error))?,
            None => user.email.clone(),
        };
        Some((display_name, email))
    } else {
        None
    };
    let groups = match &change.groups {
        Some(groups) => Some(group_names(groups).map_err(|error| invalid(&error))?),
        None => None,
    };

    let own_account = user.username == normalize_username(admin);
    if own_account && change.disabled == Some(true) {
        return Err(ko(
            StatusCode::CONFLICT,
            "You cannot disable your own account. Ask another administrator.",
        ));
    }
    let admin_group = &state.config.administration.group;
    let leaves_admins = groups
        .as_ref()
        .is_some_and(|groups| !groups.iter().any(|group| group == admin_group));
    if own_account && leaves_admins {
        return Err(ko(
            StatusCode::CONFLICT,
            "You cannot remove yourself from the administrators' group. Ask another administrator.",
        ));
    }
    Ok(CheckedChange {
        profile,
        groups,
        disabled: change.disabled,
    })
}

/// `DELETE /api/admin/users/{username}`: deletes the user with their sessions and second
/// factors in one transaction.
pub(super) async fn remove(
    State(state): State<Arc<PortalState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(username): Path<String>,
    headers: HeaderMap,
) -> Response {
    let admin = admin_or_return!(state, peer, headers, true);
    if let Err(response) = database_backend(&state) {
        return response;
    }
    let user = match existing_user(&state, &username, admin.username()).await {
        Ok(user) => user,
        Err(response) => return response,
    };
    if user.username == normalize_username(admin.username()) {
        return ko(
            StatusCode::CONFLICT,
            "You cannot delete your own account. Ask another administrator.",
        );
    }
    match state.db.delete_user(&user.username).await {
        Ok(true) => {
            admin
                .audit(&state, "admin.user_deleted", &user.username, json!({}))
                .await;
            tracing::info!(admin = admin.username(), username = %user.username, "user deleted by an administrator");
            ok(None)
        }
        Ok(false) => not_found(),
        Err(error) => storage_failure(&error, admin.username(), "delete a user"),
    }
}

/// Finds the user a path names (compared as the database compares names), or 404.
async fn existing_user(state: &PortalState, name: &str, admin: &str) -> Result<User, Response> {
    match state.db.get_user(&normalize_username(name)).await {
        Ok(Some(user)) => Ok(user),
        Ok(None) => Err(not_found()),
        Err(error) => Err(storage_failure(&error, admin, "read a user")),
    }
}

/// 409 when users live in a users file, which the admin API does not edit.
#[allow(clippy::result_large_err)]
fn database_backend(state: &PortalState) -> Result<(), Response> {
    match state.directory {
        UserDirectory::Database(_) => Ok(()),
        UserDirectory::File(_) => Err(ko(StatusCode::CONFLICT, FILE_BACKEND)),
    }
}

fn not_found() -> Response {
    ko(StatusCode::NOT_FOUND, "No user has this name.")
}

/// 400 naming the field and the problem, never the value.
fn invalid(error: &InvalidValue) -> Response {
    let field = match error.field {
        "displayname" => "display_name",
        other => other,
    };
    ko(
        StatusCode::BAD_REQUEST,
        &format!("The value of {field} {}.", error.problem),
    )
}

/// 409 for a taken name or address, else 500.
fn conflict_or_failure(error: &StorageError, admin: &str, action: &str) -> Response {
    match error {
        StorageError::DuplicateUsername(_) => ko(
            StatusCode::CONFLICT,
            "A user with this name already exists.",
        ),
        StorageError::DuplicateEmail(_) => ko(
            StatusCode::CONFLICT,
            "Another user already has this e-mail address.",
        ),
        StorageError::UserNotFound(_) => not_found(),
        other => storage_failure(other, admin, action),
    }
}

fn user_json(user: &User) -> Value {
    json!({
        "username": user.username,
        "display_name": user.display_name,
        "email": user.email,
        "groups": user.groups,
        "disabled": user.disabled,
        "created_at": user.created_at,
    })
}
