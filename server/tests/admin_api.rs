//! The admin API against the real router, on SQLite and PostgreSQL: who may use it, each
//! operation on users, sessions and bans, the sessions a change ends or refreshes, and input
//! that would be unsafe in a response header.

mod common;
#[macro_use]
mod portal_client;

use axum::http::StatusCode;
use common::Backend;
use gatehouse::session::Level;
use portal_client::{App, SESSION_COOKIE};
use serde_json::{json, Value};

const ELEVATION_REQUIRED: &str =
    r#"{"status":"KO","data":{"elevation":true,"first_factor":false,"second_factor":false}}"#;

impl App {
    /// Raises the session to two factors as a completed second factor would; returns the new id.
    async fn second_factor(&self, session_id: &str) -> String {
        let session = self.session(session_id).await;
        let domain = &self.services.authz.cookie_domains[0].config;
        let (_, cookie) = self
            .services
            .sessions
            .raise_level(session, domain, Level::TwoFactor)
            .await
            .expect("raise the level");
        let text = cookie.to_str().expect("a text cookie");
        let pair = text.split(';').next().expect("a cookie pair");
        let (name, value) = pair.split_once('=').expect("name=value");
        assert_eq!(name, SESSION_COOKIE);
        value.to_owned()
    }

    /// Returns an elevated two-factor session of bob, who is in the `admins` group.
    async fn admin(&self) -> String {
        let one_factor = self.login("bob", "battery-staple-2").await;
        let session = self.second_factor(&one_factor).await;
        self.elevate(&session).await;
        session
    }

    async fn usernames(&self, admin: &str) -> Vec<String> {
        let answer = self
            .call("GET", "/api/admin/users", Some(admin), None)
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        answer.json()["data"]["users"]
            .as_array()
            .expect("a user list")
            .iter()
            .map(|user| user["username"].as_str().unwrap().to_owned())
            .collect()
    }

    async fn admin_user(&self, admin: &str, username: &str) -> Value {
        let answer = self
            .call("GET", "/api/admin/users", Some(admin), None)
            .await;
        answer.json()["data"]["users"]
            .as_array()
            .expect("a user list")
            .iter()
            .find(|user| user["username"] == username)
            .cloned()
            .unwrap_or(Value::Null)
    }
}

fn new_user(username: &str) -> Value {
    json!({
        "username": username,
        "display_name": "Carol Example",
        "email": "Carol@Example.com",
        "groups": ["dev", " ops ", "dev"],
        "password": "a-long-initial-password",
    })
}

on_both_databases!(
    anonymous_gets_403,
    non_admins_get_403,
    changes_need_elevation_and_same_origin,
    create_user_and_log_in,
    unsafe_header_values_rejected,
    update_profile_and_groups,
    disable_ends_sessions_at_once,
    delete_user_and_sessions,
    own_account_protected,
    sessions_list_and_end,
    bans_add_list_revoke,
    users_file_not_edited,
);

async fn anonymous_gets_403(backend: Backend) {
    let app = App::new(backend, "").await;
    for path in [
        "/api/admin/users",
        "/api/admin/groups",
        "/api/admin/sessions",
        "/api/admin/bans",
    ] {
        let answer = app.call("GET", path, None, None).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{path}");
        assert_eq!(answer.json()["status"], "KO", "{path}");
    }
    let create = app
        .call("POST", "/api/admin/users", None, Some(&new_user("carol")))
        .await;
    assert_eq!(create.status, StatusCode::FORBIDDEN);
    assert!(app.services.db.get_user("carol").await.unwrap().is_none());
}

async fn non_admins_get_403(backend: Backend) {
    let app = App::new(backend, "").await;

    let admin_one_factor = app.login("bob", "battery-staple-2").await;
    let answer = app
        .call("GET", "/api/admin/users", Some(&admin_one_factor), None)
        .await;
    assert_eq!(
        answer.status,
        StatusCode::FORBIDDEN,
        "one factor is not enough"
    );

    let alice = app.alice().await;
    let alice = app.second_factor(&alice).await;
    app.elevate(&alice).await;
    for path in ["/api/admin/users", "/api/admin/sessions", "/api/admin/bans"] {
        let answer = app.call("GET", path, Some(&alice), None).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{path}");
    }
    let create = app
        .call(
            "POST",
            "/api/admin/users",
            Some(&alice),
            Some(&new_user("carol")),
        )
        .await;
    assert_eq!(create.status, StatusCode::FORBIDDEN);
    assert!(app.services.db.get_user("carol").await.unwrap().is_none());

    let admin = app.admin().await;
    let listed = app
        .call("GET", "/api/admin/users", Some(&admin), None)
        .await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);

    // Group membership is read from the directory on each request, not from the session.
    let now = app.clock.now_millis();
    app.services
        .db
        .set_user_groups("bob", &["dev".to_owned()], now)
        .await
        .unwrap();
    let demoted = app
        .call("GET", "/api/admin/users", Some(&admin), None)
        .await;
    assert_eq!(demoted.status, StatusCode::FORBIDDEN);
}

async fn changes_need_elevation_and_same_origin(backend: Backend) {
    let app = App::new(backend, "").await;
    let one_factor = app.login("bob", "battery-staple-2").await;
    let admin = app.second_factor(&one_factor).await;

    let listed = app
        .call("GET", "/api/admin/users", Some(&admin), None)
        .await;
    assert_eq!(listed.status, StatusCode::OK, "reading needs no elevation");
    let create = app
        .call(
            "POST",
            "/api/admin/users",
            Some(&admin),
            Some(&new_user("carol")),
        )
        .await;
    assert_eq!(create.status, StatusCode::FORBIDDEN);
    assert_eq!(create.body, ELEVATION_REQUIRED);
    let disable = app
        .call(
            "PUT",
            "/api/admin/users/alice",
            Some(&admin),
            Some(&json!({ "disabled": true })),
        )
        .await;
    assert_eq!(disable.status, StatusCode::FORBIDDEN);
    assert!(
        !app.services
            .db
            .get_user("alice")
            .await
            .unwrap()
            .unwrap()
            .disabled
    );

    app.elevate(&admin).await;
    let cookie = format!("{SESSION_COOKIE}={admin}");
    let cross_site = app
        .raw(
            "POST",
            "/api/admin/users",
            &[
                ("host", "auth.example.com"),
                ("origin", "https://evil.example.net"),
                ("content-type", "application/json"),
                ("cookie", &cookie),
            ],
            &new_user("carol").to_string(),
        )
        .await;
    assert_eq!(cross_site.status, StatusCode::FORBIDDEN);
    assert!(app.services.db.get_user("carol").await.unwrap().is_none());
}

async fn create_user_and_log_in(backend: Backend) {
    let app = App::new(backend, "").await;
    let admin = app.admin().await;

    let created = app
        .call(
            "POST",
            "/api/admin/users",
            Some(&admin),
            Some(&new_user("Carol")),
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    let data = &created.json()["data"];
    assert_eq!(data["username"], "carol");
    assert_eq!(data["email"], "carol@example.com");
    assert_eq!(data["groups"], json!(["dev", "ops"]));
    assert_eq!(data["disabled"], false);
    assert_eq!(app.usernames(&admin).await, ["alice", "bob", "carol"]);

    app.login("carol", "a-long-initial-password").await;

    let again = app
        .call(
            "POST",
            "/api/admin/users",
            Some(&admin),
            Some(&new_user("CAROL")),
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    let mut same_email = new_user("dave");
    same_email["email"] = json!("carol@example.com");
    let taken = app
        .call("POST", "/api/admin/users", Some(&admin), Some(&same_email))
        .await;
    assert_eq!(taken.status, StatusCode::CONFLICT);
    assert!(app.services.db.get_user("dave").await.unwrap().is_none());

    let groups = app
        .call("GET", "/api/admin/groups", Some(&admin), None)
        .await;
    assert_eq!(
        groups.json()["data"],
        json!({ "groups": ["admins", "dev", "ops"], "administration_group": "admins" })
    );
}

async fn unsafe_header_values_rejected(backend: Backend) {
    let app = App::new(backend, "").await;
    let admin = app.admin().await;

    let cases: [(&str, Value); 7] = [
        ("username", json!("car\nol")),
        ("username", json!("carol:x")),
        ("display_name", json!("Carol\r\nRemote-User: admin")),
        ("display_name", json!("Carol\u{0}")),
        ("email", json!("carol@example.com\r\nX: y")),
        ("email", json!("Carol <carol@example.com>")),
        ("groups", json!(["dev,admins"])),
    ];
    for (field, value) in &cases {
        let mut body = new_user("carol");
        body[*field] = value.clone();
        let answer = app
            .call("POST", "/api/admin/users", Some(&admin), Some(&body))
            .await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{field}: {value}");
        let message = answer.json()["message"].as_str().unwrap().to_owned();
        assert!(message.contains(field), "{field}: {message}");
        assert!(
            !message.contains('\n') && !message.contains('\r'),
            "{message}"
        );
    }
    let mut control_group = new_user("carol");
    control_group["groups"] = json!(["dev\u{7f}"]);
    let answer = app
        .call(
            "POST",
            "/api/admin/users",
            Some(&admin),
            Some(&control_group),
        )
        .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(app.usernames(&admin).await, ["alice", "bob"]);

    for change in [
        json!({ "display_name": "Alice\nRemote-Groups: admins" }),
        json!({ "email": "alice@example.com\n" }),
        json!({ "groups": ["dev", "a,b"] }),
        json!({ "display_name": "Alice Changed", "groups": ["ops\r"] }),
    ] {
        let answer = app
            .call("PUT", "/api/admin/users/alice", Some(&admin), Some(&change))
            .await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{change}");
    }
    let alice = app.services.db.get_user("alice").await.unwrap().unwrap();
    assert_eq!(
        alice.display_name, "Alice Example",
        "a rejected change stores nothing"
    );
    assert_eq!(alice.groups, ["dev"]);

    let weak = json!({
        "username": "erin", "display_name": "Erin", "password": "",
    });
    let answer = app
        .call("POST", "/api/admin/users", Some(&admin), Some(&weak))
        .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert!(app.services.db.get_user("erin").await.unwrap().is_none());
}

async fn update_profile_and_groups(backend: Backend) {
    let app = App::new(backend, "").await;
    let admin = app.admin().await;
    let alice = app.alice().await;
    assert_eq!(app.session(&alice).await.groups(), ["dev"]);

    let change = json!({
        "display_name": "Zoë Ålvarez-Nuñez",
        "email": "zoe@example.com",
        "groups": ["ops", "dev"],
    });
    let answer = app
        .call("PUT", "/api/admin/users/ALICE", Some(&admin), Some(&change))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.json()["data"]["display_name"], "Zoë Ålvarez-Nuñez");
    assert_eq!(answer.json()["data"]["groups"], json!(["dev", "ops"]));

    // The next request of alice's session reads the new profile, without waiting for the
    // refresh interval.
    let session = app.session(&alice).await;
    assert_eq!(session.groups(), ["dev", "ops"]);
    assert_eq!(session.display_name(), "Zoë Ålvarez-Nuñez");
    assert_eq!(session.emails(), ["zoe@example.com"]);

    let removed = app
        .call(
            "PUT",
            "/api/admin/users/alice",
            Some(&admin),
            Some(&json!({ "email": null, "groups": [] })),
        )
        .await;
    assert_eq!(removed.status, StatusCode::OK, "{}", removed.body);
    let user = app.admin_user(&admin, "alice").await;
    assert_eq!(user["email"], Value::Null);
    assert_eq!(user["groups"], json!([]));
    assert_eq!(
        user["display_name"], "Zoë Ålvarez-Nuñez",
        "unchanged when absent"
    );

    let missing = app
        .call(
            "PUT",
            "/api/admin/users/nobody",
            Some(&admin),
            Some(&json!({ "disabled": true })),
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let unknown_field = app
        .call(
            "PUT",
            "/api/admin/users/alice",
            Some(&admin),
            Some(&json!({ "password": "x" })),
        )
        .await;
    assert_eq!(unknown_field.status, StatusCode::BAD_REQUEST);
}

async fn disable_ends_sessions_at_once(backend: Backend) {
    let app = App::new(backend, "").await;
    let admin = app.admin().await;
    let alice = app.alice().await;
    let alice_again = app.alice().await;
    assert_eq!(app.level(&alice).await, 1);

    let answer = app
        .call(
            "PUT",
            "/api/admin/users/alice",
            Some(&admin),
            Some(&json!({ "disabled": true })),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.json()["data"]["disabled"], true);
    let stored = app
        .services
        .db
        .list_sessions_of_user("alice")
        .await
        .unwrap();
    assert!(
        stored.is_empty(),
        "the sessions are gone when the response arrives"
    );
    assert_eq!(app.level(&alice).await, 0);
    assert_eq!(app.level(&alice_again).await, 0);

    let login = app
        .call(
            "POST",
            "/api/firstfactor",
            None,
            Some(&json!({ "username": "alice", "password": "correct-horse-1" })),
        )
        .await;
    assert_eq!(
        login.status,
        StatusCode::UNAUTHORIZED,
        "a disabled user cannot log in"
    );

    let enabled = app
        .call(
            "PUT",
            "/api/admin/users/alice",
            Some(&admin),
            Some(&json!({ "disabled": false })),
        )
        .await;
    assert_eq!(enabled.status, StatusCode::OK);
    app.alice().await;
}

async fn delete_user_and_sessions(backend: Backend) {
    let app = App::new(backend, "").await;
    let admin = app.admin().await;
    let alice = app.alice().await;

    let deleted = app
        .call("DELETE", "/api/admin/users/alice", Some(&admin), None)
        .await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.body);
    assert!(app.services.db.get_user("alice").await.unwrap().is_none());
    assert!(app
        .services
        .db
        .list_sessions_of_user("alice")
        .await
        .unwrap()
        .is_empty());
    assert_eq!(app.level(&alice).await, 0);
    assert_eq!(app.usernames(&admin).await, ["bob"]);

    let again = app
        .call("DELETE", "/api/admin/users/alice", Some(&admin), None)
        .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
}

async fn own_account_protected(backend: Backend) {
    let app = App::new(backend, "").await;
    let admin = app.admin().await;

    let disable = app
        .call(
            "PUT",
            "/api/admin/users/bob",
            Some(&admin),
            Some(&json!({ "disabled": true })),
        )
        .await;
    assert_eq!(disable.status, StatusCode::CONFLICT);
    let leave = app
        .call(
            "PUT",
            "/api/admin/users/bob",
            Some(&admin),
            Some(&json!({ "groups": ["dev"] })),
        )
        .await;
    assert_eq!(leave.status, StatusCode::CONFLICT);
    let delete = app
        .call("DELETE", "/api/admin/users/bob", Some(&admin), None)
        .await;
    assert_eq!(delete.status, StatusCode::CONFLICT);
    let bob = app.services.db.get_user("bob").await.unwrap().unwrap();
    assert!(!bob.disabled);
    assert_eq!(bob.groups, ["admins"]);
    assert_eq!(app.level(&admin).await, 2);
}

async fn sessions_list_and_end(backend: Backend) {
    let app = App::new(backend, "").await;
    let admin = app.admin().await;
    let alice = app.alice().await;
    let alice_handle = app.session(&alice).await.handle().unwrap().to_owned();

    let listed = app
        .call("GET", "/api/admin/sessions", Some(&admin), None)
        .await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    let sessions = listed.json()["data"]["sessions"].clone();
    let sessions = sessions.as_array().unwrap();
    assert_eq!(sessions.len(), 2);
    let entry = sessions
        .iter()
        .find(|entry| entry["username"] == "alice")
        .expect("alice's session is listed");
    assert_eq!(entry["id"], json!(alice_handle));
    assert_eq!(entry["authentication_level"], 1);
    assert_eq!(entry["current"], false);
    let own = sessions
        .iter()
        .find(|entry| entry["username"] == "bob")
        .unwrap();
    assert_eq!(own["authentication_level"], 2);
    assert_eq!(own["current"], true);
    assert!(
        !listed.body.contains(&alice),
        "the session id is never sent"
    );
    assert!(
        !listed.body.contains(&admin),
        "the session id is never sent"
    );

    let path = format!("/api/admin/sessions/{alice_handle}");
    let ended = app.call("DELETE", &path, Some(&admin), None).await;
    assert_eq!(ended.status, StatusCode::OK, "{}", ended.body);
    assert_eq!(app.level(&alice).await, 0);
    assert!(
        ended.cookie(SESSION_COOKIE).is_none(),
        "another user's session: no cookie change"
    );

    let again = app.call("DELETE", &path, Some(&admin), None).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
}

async fn bans_add_list_revoke(backend: Backend) {
    let app = App::new(backend, "").await;
    let admin = app.admin().await;

    for bad in [
        json!({ "kind": "host", "value": "alice" }),
        json!({ "kind": "ip", "value": "300.1.1.1" }),
        json!({ "kind": "user", "value": "ali\nce" }),
        json!({ "kind": "user", "value": "alice", "reason": "line\nbreak" }),
    ] {
        let answer = app
            .call("POST", "/api/admin/bans", Some(&admin), Some(&bad))
            .await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{bad}");
    }
    // The administrator (bob, connected from 127.0.0.1) cannot shut themselves out.
    for own in [
        json!({ "kind": "user", "value": "Bob" }),
        json!({ "kind": "ip", "value": "127.0.0.1" }),
        json!({ "kind": "ip", "value": "::ffff:127.0.0.1" }),
    ] {
        let answer = app
            .call("POST", "/api/admin/bans", Some(&admin), Some(&own))
            .await;
        assert_eq!(answer.status, StatusCode::CONFLICT, "{own}");
    }
    let empty = app.call("GET", "/api/admin/bans", Some(&admin), None).await;
    assert_eq!(empty.json()["data"]["bans"], json!([]));

    let added = app
        .call(
            "POST",
            "/api/admin/bans",
            Some(&admin),
            Some(&json!({ "kind": "user", "value": " ALICE ", "duration": 600, "reason": "test" })),
        )
        .await;
    assert_eq!(added.status, StatusCode::OK, "{}", added.body);
    let id = added.json()["data"]["id"].as_i64().unwrap();
    let ip = app
        .call(
            "POST",
            "/api/admin/bans",
            Some(&admin),
            Some(&json!({ "kind": "ip", "value": "2001:DB8::7" })),
        )
        .await;
    assert_eq!(ip.status, StatusCode::OK, "{}", ip.body);

    let listed = app.call("GET", "/api/admin/bans", Some(&admin), None).await;
    let bans = listed.json()["data"]["bans"].clone();
    assert_eq!(bans.as_array().unwrap().len(), 2);
    let user_ban = bans
        .as_array()
        .unwrap()
        .iter()
        .find(|ban| ban["id"] == id)
        .unwrap();
    assert_eq!(user_ban["kind"], "user");
    assert_eq!(user_ban["value"], "alice");
    assert_eq!(user_ban["source"], "admin");
    assert_eq!(user_ban["reason"], "test");
    assert_eq!(
        user_ban["expires_at"],
        json!(app.clock.now_millis() + 600_000)
    );
    let ip_ban = bans
        .as_array()
        .unwrap()
        .iter()
        .find(|ban| ban["kind"] == "ip")
        .unwrap();
    assert_eq!(ip_ban["value"], "2001:db8::7");
    assert_eq!(ip_ban["expires_at"], Value::Null);

    let refused = app
        .call(
            "POST",
            "/api/firstfactor",
            None,
            Some(&json!({ "username": "alice", "password": "correct-horse-1" })),
        )
        .await;
    assert_eq!(
        refused.status,
        StatusCode::UNAUTHORIZED,
        "the ban holds alice back"
    );

    let path = format!("/api/admin/bans/{id}");
    let revoked = app.call("DELETE", &path, Some(&admin), None).await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.body);
    app.alice().await;
    let again = app.call("DELETE", &path, Some(&admin), None).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    let bad_id = app
        .call("DELETE", "/api/admin/bans/x1", Some(&admin), None)
        .await;
    assert_eq!(bad_id.status, StatusCode::NOT_FOUND);
}

async fn users_file_not_edited(backend: Backend) {
    let files = tempfile::tempdir().expect("a temporary directory");
    let path = files.path().join("users.yml");
    let hash =
        gatehouse::identity::hashing::hash_password("battery-staple-2", &common::cheap_params())
            .expect("hash");
    let users = format!(
        "users:\n  bob:\n    displayname: 'Bob Example'\n    password: '{hash}'\n    \
         email: bob@example.com\n    groups: [admins]\n"
    );
    std::fs::write(&path, &users).expect("write the users file");
    let file_backend = format!(
        "authentication_backend:\n  file:\n    path: '{}'\n",
        path.display()
    );
    let app = App::with_config_edit(backend, "", |yaml| {
        yaml.replace("authentication_backend:\n", &file_backend)
    })
    .await;
    let admin = app.admin().await;

    let listed = app
        .call("GET", "/api/admin/users", Some(&admin), None)
        .await;
    assert_eq!(listed.status, StatusCode::CONFLICT);
    assert!(listed.json()["message"]
        .as_str()
        .unwrap()
        .contains("users file"));
    let created = app
        .call(
            "POST",
            "/api/admin/users",
            Some(&admin),
            Some(&new_user("carol")),
        )
        .await;
    assert_eq!(created.status, StatusCode::CONFLICT);
    let disabled = app
        .call(
            "PUT",
            "/api/admin/users/bob",
            Some(&admin),
            Some(&json!({ "display_name": "Changed" })),
        )
        .await;
    assert_eq!(disabled.status, StatusCode::CONFLICT);
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        users,
        "the file is unchanged"
    );

    let sessions = app
        .call("GET", "/api/admin/sessions", Some(&admin), None)
        .await;
    assert_eq!(
        sessions.status,
        StatusCode::OK,
        "sessions work with a users file"
    );
    let bans = app.call("GET", "/api/admin/bans", Some(&admin), None).await;
    assert_eq!(bans.status, StatusCode::OK, "bans work with a users file");
}
