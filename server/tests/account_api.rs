//! The account endpoints against the real router, on SQLite and PostgreSQL: TOTP enrolment
//! behind elevation, the user's methods and preference, the configuration, and the user's own
//! sessions.

mod common;
#[macro_use]
mod portal_client;

use axum::http::StatusCode;
use common::{Backend, START_MILLIS};
use gatehouse::storage::{NewTotpConfiguration, NewWebauthnCredential};
use hmac::{Hmac, Mac};
use portal_client::App;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const ELEVATION_REQUIRED: &str =
    r#"{"status":"KO","data":{"elevation":true,"first_factor":false,"second_factor":false}}"#;

/// HOTP (RFC 4226) with HMAC-SHA1 and six digits, written apart from the server's code.
fn hotp(secret: &[u8], counter: i64) -> String {
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret).expect("any key length");
    mac.update(&(counter as u64).to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = (digest[19] & 0x0f) as usize;
    let value = u32::from_be_bytes([
        digest[offset] & 0x7f,
        digest[offset + 1],
        digest[offset + 2],
        digest[offset + 3],
    ]);
    format!("{:06}", value % 1_000_000)
}

impl App {
    fn totp_code(&self, secret: &[u8]) -> String {
        hotp(secret, self.clock.now_secs().div_euclid(30))
    }

    /// Starts an enrolment with the default parameters; returns the response data.
    async fn start_enrolment(&self, session: &str) -> Value {
        let body = json!({ "algorithm": "SHA1", "length": 6, "period": 30 });
        let answer = self
            .call(
                "PUT",
                "/api/secondfactor/totp/register",
                Some(session),
                Some(&body),
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        answer.json()["data"].clone()
    }

    /// Enrols a TOTP device for the session's user and returns its secret.
    async fn enrol(&self, session: &str) -> Vec<u8> {
        let data = self.start_enrolment(session).await;
        let secret = decode_secret(&data);
        let token = self.totp_code(&secret);
        let answer = self
            .call(
                "POST",
                "/api/secondfactor/totp/register",
                Some(session),
                Some(&json!({ "token": token })),
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        secret
    }
}

fn decode_secret(data: &Value) -> Vec<u8> {
    let text = data["base32_secret"].as_str().expect("a base32 secret");
    data_encoding::BASE32_NOPAD
        .decode(text.as_bytes())
        .expect("valid base32")
}

on_both_databases!(
    totp_enrolment_needs_elevation,
    totp_enrolment_confirms_with_code,
    totp_enrolment_rejects_bad_parameters,
    totp_removal,
    user_info_flags_and_preference,
    configuration_honours_disabled_methods,
    sessions_list_and_end,
);

async fn totp_enrolment_needs_elevation(backend: Backend) {
    let app = App::new(backend, "").await;
    let anonymous = app
        .call("GET", "/api/secondfactor/totp/register", None, None)
        .await;
    assert_eq!(anonymous.status, StatusCode::FORBIDDEN);
    assert_eq!(anonymous.body, "403 Forbidden");

    let session = app.alice().await;
    let body = json!({ "algorithm": "SHA1", "length": 6, "period": 30 });
    for (method, payload) in [
        ("GET", None),
        ("PUT", Some(&body)),
        ("POST", Some(&json!({ "token": "123456" }))),
        ("DELETE", None),
    ] {
        let answer = app
            .call(
                method,
                "/api/secondfactor/totp/register",
                Some(&session),
                payload,
            )
            .await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{method}");
        assert_eq!(answer.body, ELEVATION_REQUIRED, "{method}");
    }
    let removal = app
        .call("DELETE", "/api/secondfactor/totp", Some(&session), None)
        .await;
    assert_eq!(removal.status, StatusCode::FORBIDDEN);
    assert_eq!(removal.body, ELEVATION_REQUIRED);

    app.elevate(&session).await;
    let options = app
        .call(
            "GET",
            "/api/secondfactor/totp/register",
            Some(&session),
            None,
        )
        .await;
    assert_eq!(options.status, StatusCode::OK, "{}", options.body);
    assert_eq!(
        options.json()["data"],
        json!({
            "algorithm": "SHA1", "algorithms": ["SHA1"],
            "length": 6, "lengths": [6],
            "period": 30, "periods": [30],
        })
    );
}

async fn totp_enrolment_confirms_with_code(backend: Backend) {
    let app = App::new(backend, "").await;
    let session = app.alice().await;
    app.elevate(&session).await;
    let db = &app.services.db;

    let data = app.start_enrolment(&session).await;
    let secret = decode_secret(&data);
    assert_eq!(secret.len(), 32, "totp.secret_size defaults to 32 bytes");
    let base32 = data["base32_secret"].as_str().unwrap();
    assert_eq!(
        data["otpauth_url"],
        json!(format!(
            "otpauth://totp/Gatehouse:alice?secret={base32}&issuer=Gatehouse&algorithm=SHA1&digits=6&period=30"
        ))
    );
    assert!(data["qr_svg"].as_str().unwrap().starts_with("<?xml"));
    assert!(data["qr_svg"].as_str().unwrap().contains("<svg"));
    assert!(
        db.get_totp_configuration("alice").await.unwrap().is_none(),
        "nothing stored before the code"
    );

    let wrong_code = if app.totp_code(&secret) == "000000" {
        "111111"
    } else {
        "000000"
    };
    let wrong = app
        .call(
            "POST",
            "/api/secondfactor/totp/register",
            Some(&session),
            Some(&json!({ "token": wrong_code })),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert_eq!(wrong.json()["status"], "KO");
    assert!(
        db.get_totp_configuration("alice").await.unwrap().is_none(),
        "a wrong code stores nothing"
    );

    let code = app.totp_code(&secret);
    let confirmed = app
        .call(
            "POST",
            "/api/secondfactor/totp/register",
            Some(&session),
            Some(&json!({ "token": code })),
        )
        .await;
    assert_eq!(confirmed.status, StatusCode::OK, "{}", confirmed.body);
    let device = db
        .get_totp_configuration("alice")
        .await
        .unwrap()
        .expect("the device is stored");
    assert_eq!(device.secret, secret);
    assert_eq!(device.algorithm, "SHA1");
    assert_eq!(device.issuer, "Gatehouse");
    let events = db.recent_audit_events(10).await.unwrap();
    let registered = events
        .iter()
        .find(|event| event.action == "totp.registered");
    let registered = registered.expect("an audit event for the new device");
    assert_eq!(registered.actor.as_deref(), Some("alice"));
    assert_eq!(registered.remote_ip.as_deref(), Some("127.0.0.1"));
    assert!(!registered.details.to_string().contains(base32));

    let again = app
        .call(
            "POST",
            "/api/secondfactor/totp/register",
            Some(&session),
            Some(&json!({ "token": code })),
        )
        .await;
    // Alice now has a second factor, so this one-factor session may change nothing more.
    assert_eq!(again.status, StatusCode::FORBIDDEN);
    assert_eq!(again.json()["data"]["second_factor"], true);
    let pending = db
        .get_ceremony(
            &sha256_hex(&session),
            "totp_register",
            app.clock.now_millis(),
        )
        .await
        .unwrap();
    assert!(
        pending.is_none(),
        "the pending secret is gone once confirmed"
    );

    // The confirming code's step is used: the same code cannot pass as a second factor.
    let replayed = app
        .call(
            "POST",
            "/api/secondfactor/totp",
            Some(&session),
            Some(&json!({ "token": code })),
        )
        .await;
    assert_eq!(replayed.status, StatusCode::FORBIDDEN);
    app.clock.advance_millis(30_000);
    let next = app
        .call(
            "POST",
            "/api/secondfactor/totp",
            Some(&session),
            Some(&json!({ "token": app.totp_code(&secret) })),
        )
        .await;
    assert_eq!(next.status, StatusCode::OK, "{}", next.body);

    // The device's parameters are readable, its secret is not.
    let session = next.session_id();
    let parameters = app
        .call("GET", "/api/secondfactor/totp", Some(&session), None)
        .await;
    assert_eq!(parameters.status, StatusCode::OK);
    let parameters = parameters.json()["data"].clone();
    assert_eq!(parameters["algorithm"], "SHA1");
    assert_eq!(parameters["digits"], 6);
    assert_eq!(parameters["period"], 30);
    assert_eq!(parameters["issuer"], "Gatehouse");
    assert!(!parameters.to_string().contains(base32));
    assert!(parameters.get("secret").is_none());
}

async fn totp_enrolment_rejects_bad_parameters(backend: Backend) {
    let app = App::new(backend, "").await;
    let session = app.alice().await;
    app.elevate(&session).await;
    for body in [
        json!({ "algorithm": "SHA512", "length": 6, "period": 30 }),
        json!({ "algorithm": "SHA1", "length": 8, "period": 30 }),
        json!({ "algorithm": "SHA1", "length": 6, "period": 60 }),
        json!({ "algorithm": "SHA1" }),
    ] {
        let answer = app
            .call(
                "PUT",
                "/api/secondfactor/totp/register",
                Some(&session),
                Some(&body),
            )
            .await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{body}");
    }

    // A cancelled enrolment cannot be confirmed.
    let data = app.start_enrolment(&session).await;
    let cancelled = app
        .call(
            "DELETE",
            "/api/secondfactor/totp/register",
            Some(&session),
            None,
        )
        .await;
    assert_eq!(cancelled.status, StatusCode::OK);
    let token = app.totp_code(&decode_secret(&data));
    let late = app
        .call(
            "POST",
            "/api/secondfactor/totp/register",
            Some(&session),
            Some(&json!({ "token": token })),
        )
        .await;
    assert_eq!(late.status, StatusCode::BAD_REQUEST);
    assert!(app
        .services
        .db
        .get_totp_configuration("alice")
        .await
        .unwrap()
        .is_none());

    // A pending secret expires.
    let data = app.start_enrolment(&session).await;
    // Ten minutes and more, with requests in between so the session stays active.
    for _ in 0..3 {
        app.clock.advance_millis(4 * 60 * 1000);
        assert_eq!(app.level(&session).await, json!(1));
    }
    app.elevate(&session).await;
    let token = app.totp_code(&decode_secret(&data));
    let expired = app
        .call(
            "POST",
            "/api/secondfactor/totp/register",
            Some(&session),
            Some(&json!({ "token": token })),
        )
        .await;
    assert_eq!(expired.status, StatusCode::BAD_REQUEST);
    assert!(app
        .services
        .db
        .get_totp_configuration("alice")
        .await
        .unwrap()
        .is_none());
}

async fn totp_removal(backend: Backend) {
    let app = App::new(backend, "").await;
    let session = app.alice().await;
    app.elevate(&session).await;
    let secret = app.enrol(&session).await;

    // A user with a second factor completes it before changing second-factor settings.
    app.clock.advance_millis(30_000);
    let second = app
        .call(
            "POST",
            "/api/secondfactor/totp",
            Some(&session),
            Some(&json!({ "token": app.totp_code(&secret) })),
        )
        .await;
    assert_eq!(second.status, StatusCode::OK, "{}", second.body);
    let session = second.session_id();

    let removed = app
        .call("DELETE", "/api/secondfactor/totp", Some(&session), None)
        .await;
    assert_eq!(removed.status, StatusCode::OK, "{}", removed.body);
    assert!(app
        .services
        .db
        .get_totp_configuration("alice")
        .await
        .unwrap()
        .is_none());
    let parameters = app
        .call("GET", "/api/secondfactor/totp", Some(&session), None)
        .await;
    assert_eq!(parameters.status, StatusCode::NOT_FOUND);
    let again = app
        .call("DELETE", "/api/secondfactor/totp", Some(&session), None)
        .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    let info = app
        .call("GET", "/api/user/info", Some(&session), None)
        .await
        .json();
    assert_eq!(info["data"]["has_totp"], false);
}

fn dummy_credential(username: &str, id: &str) -> NewWebauthnCredential {
    NewWebauthnCredential {
        username: username.to_owned(),
        rp_id: "auth.example.com".to_owned(),
        description: format!("key {id}"),
        credential_id: id.to_owned(),
        credential: "{}".to_owned(),
        aaguid: None,
        attestation_type: "none".to_owned(),
        transports: vec![],
        sign_count: 0,
        discoverable: false,
        user_verified: false,
        backup_eligible: false,
        backup_state: false,
    }
}

async fn user_info_flags_and_preference(backend: Backend) {
    let app = App::new(backend, "").await;
    let session = app.alice().await;
    let info = app
        .call("GET", "/api/user/info", Some(&session), None)
        .await;
    assert_eq!(info.status, StatusCode::OK);
    assert_eq!(
        info.json()["data"],
        json!({
            "display_name": "Alice Example",
            "emails": ["alice@example.com"],
            "method": "totp",
            "has_totp": false,
            "has_webauthn": false,
            "has_duo": false,
        })
    );

    let set = |method: &'static str| {
        let app = &app;
        let session = session.clone();
        async move {
            app.call(
                "POST",
                "/api/user/info/2fa_method",
                Some(&session),
                Some(&json!({ "method": method })),
            )
            .await
        }
    };
    assert_eq!(
        set("webauthn").await.status,
        StatusCode::BAD_REQUEST,
        "not registered"
    );
    assert_eq!(set("duo").await.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        set("totp").await.status,
        StatusCode::BAD_REQUEST,
        "not registered"
    );

    let db = &app.services.db;
    db.insert_webauthn_credential(&dummy_credential("alice", "Y3JlZA"), START_MILLIS)
        .await
        .unwrap();
    let info = app
        .call("GET", "/api/user/info", Some(&session), None)
        .await
        .json();
    assert_eq!(info["data"]["has_webauthn"], true);
    assert_eq!(
        info["data"]["method"], "webauthn",
        "the one registered method"
    );

    db.upsert_totp_configuration(
        &NewTotpConfiguration {
            username: "alice".to_owned(),
            issuer: "Gatehouse".to_owned(),
            algorithm: "SHA1".to_owned(),
            digits: 6,
            period: 30,
            secret: b"alice-totp-secret-0123456789".to_vec(),
        },
        START_MILLIS,
    )
    .await
    .unwrap();
    let info = app
        .call("GET", "/api/user/info", Some(&session), None)
        .await
        .json();
    assert_eq!(info["data"]["has_totp"], true);
    assert_eq!(
        info["data"]["method"], "totp",
        "the first enabled method without a preference"
    );

    let chosen = set("webauthn").await;
    assert_eq!(chosen.status, StatusCode::OK, "{}", chosen.body);
    assert_eq!(chosen.body, r#"{"status":"OK"}"#);
    let stored = db.get_user("alice").await.unwrap().unwrap();
    assert_eq!(stored.preferred_2fa_method.as_deref(), Some("webauthn"));
    let info = app
        .call("GET", "/api/user/info", Some(&session), None)
        .await
        .json();
    assert_eq!(info["data"]["method"], "webauthn");

    let anonymous = app
        .call(
            "POST",
            "/api/user/info/2fa_method",
            None,
            Some(&json!({ "method": "totp" })),
        )
        .await;
    assert_eq!(anonymous.status, StatusCode::FORBIDDEN);
}

async fn configuration_honours_disabled_methods(backend: Backend) {
    let app = App::new(backend, "").await;
    let session = app.alice().await;
    let configuration = app
        .call("GET", "/api/configuration", Some(&session), None)
        .await;
    assert_eq!(configuration.status, StatusCode::OK);
    assert_eq!(
        configuration.json()["data"],
        json!({
            "available_methods": ["totp", "webauthn"],
            "password_change_disabled": false,
            "password_reset_disabled": false,
        })
    );
    let anonymous = app.call("GET", "/api/configuration", None, None).await;
    assert_eq!(anonymous.status, StatusCode::FORBIDDEN);

    let app = App::new(backend, "totp:\n  disable: true\n").await;
    let session = app.alice().await;
    let configuration = app
        .call("GET", "/api/configuration", Some(&session), None)
        .await
        .json();
    assert_eq!(
        configuration["data"]["available_methods"],
        json!(["webauthn"])
    );
    let info = app
        .call("GET", "/api/user/info", Some(&session), None)
        .await
        .json();
    assert_eq!(info["data"]["method"], "webauthn");
    app.elevate(&session).await;
    let enrol = app
        .call(
            "PUT",
            "/api/secondfactor/totp/register",
            Some(&session),
            Some(&json!({ "algorithm": "SHA1", "length": 6, "period": 30 })),
        )
        .await;
    assert_eq!(enrol.status, StatusCode::FORBIDDEN, "TOTP is disabled");

    let app = App::new(backend, "webauthn:\n  disable: true\n").await;
    let session = app.alice().await;
    let configuration = app
        .call("GET", "/api/configuration", Some(&session), None)
        .await
        .json();
    assert_eq!(configuration["data"]["available_methods"], json!(["totp"]));
}

fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

async fn sessions_list_and_end(backend: Backend) {
    let app = App::new(backend, "").await;
    let browser_a = app.alice().await;
    app.clock.advance_millis(1_000);
    let browser_b = app.alice().await;
    let bob = app.login("bob", "battery-staple-2").await;

    let listed = app
        .call("GET", "/api/user/sessions", Some(&browser_a), None)
        .await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    let sessions = listed.json()["data"]["sessions"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(sessions.len(), 2, "only alice's sessions: {sessions:?}");
    let current: Vec<&Value> = sessions
        .iter()
        .filter(|session| session["current"] == true)
        .collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["created_at"], json!(START_MILLIS));
    assert_eq!(current[0]["remember_me"], false);
    assert_eq!(current[0]["authentication_level"], 1);
    let other = sessions
        .iter()
        .find(|session| session["current"] == false)
        .unwrap();
    assert_eq!(other["created_at"], json!(START_MILLIS + 1_000));

    // The handles tell nothing about the cookies.
    let listed_text = listed.body.clone();
    for id in [&browser_a, &browser_b] {
        assert!(!listed_text.contains(id.as_str()));
        assert!(!listed_text.contains(&sha256_hex(id)[..16]));
    }
    let other_handle = other["id"].as_str().unwrap().to_owned();
    let own_handle = current[0]["id"].as_str().unwrap().to_owned();
    assert!(other_handle.len() >= 22);
    assert_ne!(other_handle, own_handle);

    // Bob cannot end alice's session.
    let foreign = app
        .call(
            "DELETE",
            &format!("/api/user/sessions/{other_handle}"),
            Some(&bob),
            None,
        )
        .await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND);
    assert_eq!(app.level(&browser_b).await, json!(1));

    let ended = app
        .call(
            "DELETE",
            &format!("/api/user/sessions/{other_handle}"),
            Some(&browser_a),
            None,
        )
        .await;
    assert_eq!(ended.status, StatusCode::OK, "{}", ended.body);
    assert_eq!(
        app.level(&browser_b).await,
        json!(0),
        "the session ended at once"
    );
    let remaining = app
        .call("GET", "/api/user/sessions", Some(&browser_a), None)
        .await
        .json();
    assert_eq!(remaining["data"]["sessions"].as_array().unwrap().len(), 1);

    let unknown = app
        .call(
            "DELETE",
            "/api/user/sessions/no-such-handle",
            Some(&browser_a),
            None,
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);

    // The handle is the one the session was created with.
    let stored = app.session(&browser_a).await.handle().map(str::to_owned);
    assert_eq!(stored.as_deref(), Some(own_handle.as_str()));

    // Ending the current session clears its cookie too.
    let own = app
        .call(
            "DELETE",
            &format!("/api/user/sessions/{own_handle}"),
            Some(&browser_a),
            None,
        )
        .await;
    assert_eq!(own.status, StatusCode::OK, "{}", own.body);
    let cleared = own.set_cookie_headers();
    assert_eq!(cleared.len(), 1);
    assert!(cleared[0].starts_with("gatehouse_session=;"), "{cleared:?}");
    assert!(cleared[0].contains("Max-Age=0"), "{cleared:?}");
    assert_eq!(app.level(&browser_a).await, json!(0));
}
