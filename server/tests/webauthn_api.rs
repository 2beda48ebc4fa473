//! WebAuthn against the real router with a software authenticator, on SQLite and PostgreSQL:
//! registration behind elevation, the second factor, passkey login, the password step, the
//! origin and RP ID checks, the signature counter, and credential management.

mod common;
#[macro_use]
mod portal_client;

use axum::http::StatusCode;
use common::Backend;
use gatehouse::storage::AttemptFactor;
use portal_client::authenticator::SoftAuthenticator;
use portal_client::{App, PORTAL};
use serde_json::{json, Value};

const SECOND_FACTOR_FAILED: &str =
    r#"{"status":"KO","message":"Authentication failed, please retry later."}"#;
const FIRST_FACTOR_FAILED: &str =
    r#"{"status":"KO","message":"Authentication failed. Check your credentials."}"#;

/// Rules with a two-factor host, so logins without a target stop before the redirect.
const RULES: &str = "
access_control:
  default_policy: deny
  rules:
    - domain: 'app.example.com'
      policy: one_factor
    - domain: 'secure.example.com'
      policy: two_factor
regulation:
  max_retries: 10
  find_time: '2m'
  ban_time: '5m'
";

const PASSKEYS: &str = "
webauthn:
  enable_passkey_login: true
";

impl App {
    /// Registers `authenticator` for the session's user (which must be elevated) as
    /// `description`; returns the registration response.
    async fn register(
        &self,
        session: &str,
        authenticator: &mut SoftAuthenticator,
        description: &str,
    ) -> portal_client::Answer {
        let options = self
            .call(
                "PUT",
                "/api/secondfactor/webauthn/credential/register",
                Some(session),
                Some(&json!({ "description": description })),
            )
            .await;
        assert_eq!(options.status, StatusCode::OK, "{}", options.body);
        let credential = authenticator.register(&options.json()["data"]);
        self.call(
            "POST",
            "/api/secondfactor/webauthn/credential/register",
            Some(session),
            Some(&json!({ "response": credential })),
        )
        .await
    }

    /// Fetches assertion options for the session and returns them.
    async fn assertion_options(&self, session: &str) -> Value {
        let options = self
            .call("GET", "/api/secondfactor/webauthn", Some(session), None)
            .await;
        assert_eq!(options.status, StatusCode::OK, "{}", options.body);
        options.json()["data"].clone()
    }

    async fn post_assertion(&self, session: &str, credential: &Value) -> portal_client::Answer {
        self.call(
            "POST",
            "/api/secondfactor/webauthn",
            Some(session),
            Some(&json!({ "response": credential })),
        )
        .await
    }

    /// Logs alice in, elevates the session and registers `authenticator`; returns the session.
    async fn alice_with_key(&self, authenticator: &mut SoftAuthenticator) -> String {
        let session = self.alice().await;
        self.elevate(&session).await;
        let registered = self.register(&session, authenticator, "Software key").await;
        assert_eq!(registered.status, StatusCode::OK, "{}", registered.body);
        session
    }

    async fn failed_second_factors(&self) -> usize {
        self.services
            .db
            .attempts_for_account("alice", 0, 50)
            .await
            .expect("read attempts")
            .into_iter()
            .filter(|attempt| attempt.factor == AttemptFactor::Second && !attempt.successful)
            .count()
    }
}

on_both_databases!(
    registration_needs_elevation_and_description,
    registration_and_second_factor,
    wrong_origin_or_rp_refused,
    sign_count_must_grow,
    passkey_login_and_password_step,
    passkey_user_verification_two_factors,
    credentials_rename_and_delete,
    passkey_start_rate_limited,
    webauthn_posts_rate_limited,
    passkey_survives_secret_rotation,
);

async fn registration_needs_elevation_and_description(backend: Backend) {
    let app = App::new(backend, RULES).await;
    let session = app.alice().await;
    let body = json!({ "description": "Key" });
    let refused = app
        .call(
            "PUT",
            "/api/secondfactor/webauthn/credential/register",
            Some(&session),
            Some(&body),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(refused.json()["data"]["elevation"], true);

    app.elevate(&session).await;
    for description in ["", "   ", &"x".repeat(65)] {
        let answer = app
            .call(
                "PUT",
                "/api/secondfactor/webauthn/credential/register",
                Some(&session),
                Some(&json!({ "description": description })),
            )
            .await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{description:?}");
    }
    let options = app
        .call(
            "PUT",
            "/api/secondfactor/webauthn/credential/register",
            Some(&session),
            Some(&body),
        )
        .await;
    assert_eq!(options.status, StatusCode::OK, "{}", options.body);
    let public_key = options.json()["data"]["publicKey"].clone();
    assert_eq!(public_key["rp"]["id"], "auth.example.com");
    assert_eq!(public_key["user"]["name"], "alice");
    assert_eq!(public_key["user"]["displayName"], "Alice Example");
    assert_eq!(
        public_key["authenticatorSelection"]["userVerification"],
        "preferred"
    );
    assert_eq!(
        public_key["authenticatorSelection"]["residentKey"],
        "preferred"
    );
    assert_eq!(public_key["attestation"], "indirect");
    assert!(!public_key["user"]["id"].as_str().unwrap().contains("alice"));

    // A cancelled registration cannot be finished.
    let mut authenticator = SoftAuthenticator::new(PORTAL);
    let credential = authenticator.register(&options.json()["data"]);
    let cancelled = app
        .call(
            "DELETE",
            "/api/secondfactor/webauthn/credential/register",
            Some(&session),
            None,
        )
        .await;
    assert_eq!(cancelled.status, StatusCode::OK);
    let late = app
        .call(
            "POST",
            "/api/secondfactor/webauthn/credential/register",
            Some(&session),
            Some(&json!({ "response": credential })),
        )
        .await;
    assert_eq!(late.status, StatusCode::BAD_REQUEST);
    assert!(app
        .services
        .db
        .list_webauthn_credentials("alice")
        .await
        .unwrap()
        .is_empty());
}

async fn registration_and_second_factor(backend: Backend) {
    let app = App::new(backend, RULES).await;
    let mut authenticator = SoftAuthenticator::new(PORTAL);
    app.alice_with_key(&mut authenticator).await;

    let listed = app
        .call(
            "GET",
            "/api/secondfactor/webauthn/credentials",
            Some(&app.alice().await),
            None,
        )
        .await;
    assert_eq!(listed.status, StatusCode::OK);
    let credentials = listed.json()["data"].as_array().unwrap().clone();
    assert_eq!(credentials.len(), 1);
    assert_eq!(credentials[0]["description"], "Software key");
    assert_eq!(credentials[0]["rp_id"], "auth.example.com");
    assert_eq!(credentials[0]["user_verified"], true);
    assert_eq!(credentials[0]["discoverable"], true);
    assert_eq!(
        credentials[0]["aaguid"],
        "5a5a5a5a-5a5a-5a5a-5a5a-5a5a5a5a5a5a"
    );
    assert_eq!(credentials[0]["transports"], json!(["usb"]));
    assert!(
        !listed.body.contains("cred_id"),
        "the public key is not listed"
    );

    let info = app
        .call("GET", "/api/user/info", Some(&app.alice().await), None)
        .await
        .json();
    assert_eq!(info["data"]["has_webauthn"], true);
    assert_eq!(info["data"]["method"], "webauthn");

    // A second-factor assertion from a new one-factor session.
    let session = app.alice().await;
    let options = app.assertion_options(&session).await;
    assert_eq!(options["publicKey"]["rpId"], "auth.example.com");
    assert_eq!(
        options["publicKey"]["allowCredentials"][0]["id"],
        json!(authenticator.credential_id_text())
    );
    let assertion = authenticator.assert(&options);
    let accepted = app.post_assertion(&session, &assertion).await;
    assert_eq!(accepted.status, StatusCode::OK, "{}", accepted.body);
    assert_eq!(
        accepted.json(),
        json!({ "status": "OK", "data": { "redirect": "https://www.example.com/" } })
    );
    let raised = accepted.session_id();
    assert_ne!(raised, session, "the session id is rotated");
    assert_eq!(app.level(&raised).await, json!(2));
    assert_eq!(app.level(&session).await, json!(0), "the old id is dead");
    let stored = app
        .services
        .db
        .list_webauthn_credentials("alice")
        .await
        .unwrap();
    assert_eq!(stored[0].sign_count, 1);
    assert!(stored[0].last_used_at.is_some());

    // The same response again: the challenge was consumed.
    let other = app.alice().await;
    let replayed = app.post_assertion(&other, &assertion).await;
    assert_eq!(replayed.status, StatusCode::FORBIDDEN);
    assert_eq!(replayed.body, SECOND_FACTOR_FAILED);
    let _ = app.assertion_options(&other).await;
    let stale_challenge = app.post_assertion(&other, &assertion).await;
    assert_eq!(stale_challenge.status, StatusCode::FORBIDDEN);
    assert_eq!(app.failed_second_factors().await, 2);
    assert_eq!(app.level(&other).await, json!(1));

    // Bob cannot use alice's credential.
    let bob = app.login("bob", "battery-staple-2").await;
    let none = app
        .call("GET", "/api/secondfactor/webauthn", Some(&bob), None)
        .await;
    assert_eq!(none.status, StatusCode::NOT_FOUND);
}

async fn wrong_origin_or_rp_refused(backend: Backend) {
    let app = App::new(backend, RULES).await;
    let session = app.alice().await;
    app.elevate(&session).await;

    let mut evil_origin = SoftAuthenticator::new("https://evil.example.net");
    let refused = app
        .register(&session, &mut evil_origin, "Evil origin")
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    let mut evil_rp = SoftAuthenticator::new(PORTAL);
    evil_rp.rp_id_override = Some("example.com".to_owned());
    let refused = app.register(&session, &mut evil_rp, "Evil RP").await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    assert!(app
        .services
        .db
        .list_webauthn_credentials("alice")
        .await
        .unwrap()
        .is_empty());

    let mut authenticator = SoftAuthenticator::new(PORTAL);
    let registered = app.register(&session, &mut authenticator, "Good").await;
    assert_eq!(registered.status, StatusCode::OK, "{}", registered.body);

    let login = app.alice().await;
    authenticator.origin = "https://auth.example.com.evil.example.net".to_owned();
    let wrong_origin = app
        .post_assertion(
            &login,
            &authenticator.assert(&app.assertion_options(&login).await),
        )
        .await;
    assert_eq!(wrong_origin.status, StatusCode::FORBIDDEN);
    assert_eq!(wrong_origin.body, SECOND_FACTOR_FAILED);

    authenticator.origin = PORTAL.to_owned();
    authenticator.rp_id_override = Some("evil.example.net".to_owned());
    let wrong_rp = app
        .post_assertion(
            &login,
            &authenticator.assert(&app.assertion_options(&login).await),
        )
        .await;
    assert_eq!(wrong_rp.status, StatusCode::FORBIDDEN);
    assert_eq!(
        app.failed_second_factors().await,
        2,
        "failures count toward bans"
    );
    assert_eq!(app.level(&login).await, json!(1));

    authenticator.rp_id_override = None;
    let good = app
        .post_assertion(
            &login,
            &authenticator.assert(&app.assertion_options(&login).await),
        )
        .await;
    assert_eq!(good.status, StatusCode::OK, "{}", good.body);
}

async fn sign_count_must_grow(backend: Backend) {
    let app = App::new(backend, RULES).await;
    let mut authenticator = SoftAuthenticator::new(PORTAL);
    app.alice_with_key(&mut authenticator).await;

    let session = app.alice().await;
    authenticator.counter = 5;
    let first = app
        .post_assertion(
            &session,
            &authenticator.assert(&app.assertion_options(&session).await),
        )
        .await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);

    // A clone that signs with a counter not above the stored one is refused.
    let session = app.alice().await;
    let options = app.assertion_options(&session).await;
    let higher = app
        .post_assertion(&session, &authenticator.assert_with_counter(&options, 9))
        .await;
    assert_eq!(
        higher.status,
        StatusCode::OK,
        "a higher counter passes: {}",
        higher.body
    );
    for stale_counter in [9, 8] {
        let session = app.alice().await;
        let options = app.assertion_options(&session).await;
        let stale = app
            .post_assertion(
                &session,
                &authenticator.assert_with_counter(&options, stale_counter),
            )
            .await;
        assert_eq!(
            stale.status,
            StatusCode::FORBIDDEN,
            "counter {stale_counter} is not above 9"
        );
    }
    let stored = app
        .services
        .db
        .list_webauthn_credentials("alice")
        .await
        .unwrap();
    assert_eq!(stored[0].sign_count, 9);

    // A slower concurrent assertion with a lower counter cannot overwrite the stored one.
    let db = &app.services.db;
    let credential_id = &stored[0].credential_id;
    let overwritten = db
        .record_webauthn_use(credential_id, 8, false, &stored[0].credential, 0)
        .await
        .unwrap();
    assert!(!overwritten);
    let stored = db.list_webauthn_credentials("alice").await.unwrap();
    assert_eq!(stored[0].sign_count, 9);
}

async fn passkey_login_and_password_step(backend: Backend) {
    let app = App::new(backend, &format!("{RULES}{PASSKEYS}")).await;
    let mut authenticator = SoftAuthenticator::new(PORTAL);
    app.alice_with_key(&mut authenticator).await;

    let options = app
        .call("GET", "/api/firstfactor/passkey", None, None)
        .await;
    assert_eq!(options.status, StatusCode::OK, "{}", options.body);
    let handle = options
        .cookie("gatehouse_passkey")
        .expect("the passkey cookie");
    let cookie_header = options
        .set_cookie_headers()
        .into_iter()
        .find(|value| value.starts_with("gatehouse_passkey="))
        .unwrap();
    assert!(cookie_header.contains("HttpOnly"));
    assert!(cookie_header.contains("Secure"));
    assert!(cookie_header.contains("Path=/api/firstfactor/passkey"));
    let data = options.json()["data"].clone();
    assert_eq!(data["publicKey"]["allowCredentials"], json!([]));

    let assertion = authenticator.assert(&data);
    let body = json!({ "response": assertion, "keepMeLoggedIn": true });
    let without_cookie = app
        .send("POST", "/api/firstfactor/passkey", None, Some(&body))
        .await;
    assert_eq!(without_cookie.status, StatusCode::UNAUTHORIZED);
    assert_eq!(without_cookie.body, FIRST_FACTOR_FAILED);

    let cookies = format!("gatehouse_passkey={handle}");
    let logged_in = app
        .send(
            "POST",
            "/api/firstfactor/passkey",
            Some(&cookies),
            Some(&body),
        )
        .await;
    assert_eq!(logged_in.status, StatusCode::OK, "{}", logged_in.body);
    assert_eq!(
        logged_in.body, r#"{"status":"OK"}"#,
        "two factors are in use, so the portal goes on"
    );
    let session_cookie = logged_in
        .set_cookie_headers()
        .into_iter()
        .find(|value| value.starts_with("gatehouse_session="))
        .unwrap();
    assert!(
        session_cookie.contains("Max-Age="),
        "remember-me is carried: {session_cookie}"
    );
    let session = logged_in.session_id();
    let state = app
        .call("GET", "/api/state", Some(&session), None)
        .await
        .json();
    assert_eq!(state["data"]["authentication_level"], 1);
    assert_eq!(state["data"]["username"], "alice");
    assert_eq!(state["data"]["factor_knowledge"], false);
    let elevation = app
        .call("GET", "/api/user/session/elevation", Some(&session), None)
        .await;
    assert_eq!(elevation.status, StatusCode::OK, "{}", elevation.body);
    assert_eq!(
        elevation.json()["data"]["factor_knowledge"],
        false,
        "a passkey proves possession, not knowledge"
    );

    // The challenge was used.
    let replayed = app
        .send(
            "POST",
            "/api/firstfactor/passkey",
            Some(&cookies),
            Some(&body),
        )
        .await;
    assert_eq!(replayed.status, StatusCode::UNAUTHORIZED);

    let wrong = app
        .call(
            "POST",
            "/api/secondfactor/password",
            Some(&session),
            Some(&json!({ "password": "wrong" })),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.body, FIRST_FACTOR_FAILED);
    let right = app
        .call(
            "POST",
            "/api/secondfactor/password",
            Some(&session),
            Some(&json!({ "password": "correct-horse-1", "targetURL": "https://secure.example.com/" })),
        )
        .await;
    assert_eq!(right.status, StatusCode::OK, "{}", right.body);
    assert_eq!(
        right.json()["data"]["redirect"],
        "https://secure.example.com/"
    );
    let raised = right.session_id();
    assert_eq!(app.level(&raised).await, json!(2));

    // A password session cannot use the password step.
    let password_session = app.alice().await;
    let refused = app
        .call(
            "POST",
            "/api/secondfactor/password",
            Some(&password_session),
            Some(&json!({ "password": "correct-horse-1" })),
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);

    // Without enable_passkey_login the routes are absent.
    let disabled = App::new(backend, RULES).await;
    let answer = disabled
        .call("GET", "/api/firstfactor/passkey", None, None)
        .await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
}

async fn passkey_user_verification_two_factors(backend: Backend) {
    let tail = format!("{RULES}{PASSKEYS}  experimental_enable_passkey_uv_two_factors: true\n");
    let app = App::new(backend, &tail).await;
    let mut authenticator = SoftAuthenticator::new(PORTAL);
    app.alice_with_key(&mut authenticator).await;

    let options = app
        .call("GET", "/api/firstfactor/passkey", None, None)
        .await;
    let cookies = format!(
        "gatehouse_passkey={}",
        options.cookie("gatehouse_passkey").unwrap()
    );
    let body = json!({
        "response": authenticator.assert(&options.json()["data"]),
        "targetURL": "https://secure.example.com/",
    });
    let logged_in = app
        .send(
            "POST",
            "/api/firstfactor/passkey",
            Some(&cookies),
            Some(&body),
        )
        .await;
    assert_eq!(logged_in.status, StatusCode::OK, "{}", logged_in.body);
    assert_eq!(
        logged_in.json()["data"]["redirect"],
        "https://secure.example.com/"
    );
    assert_eq!(app.level(&logged_in.session_id()).await, json!(2));
}

async fn credentials_rename_and_delete(backend: Backend) {
    let app = App::new(backend, RULES).await;
    let mut authenticator = SoftAuthenticator::new(PORTAL);
    app.alice_with_key(&mut authenticator).await;
    let id = app
        .services
        .db
        .list_webauthn_credentials("alice")
        .await
        .unwrap()[0]
        .id;
    let path = format!("/api/secondfactor/webauthn/credential/{id}");

    let session = app.alice().await;
    let refused = app
        .call(
            "PUT",
            &path,
            Some(&session),
            Some(&json!({ "description": "Renamed" })),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let refused = app.call("DELETE", &path, Some(&session), None).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    // A user with a second factor completes it, then elevates.
    let accepted = app
        .post_assertion(
            &session,
            &authenticator.assert(&app.assertion_options(&session).await),
        )
        .await;
    assert_eq!(accepted.status, StatusCode::OK, "{}", accepted.body);
    let session = accepted.session_id();
    app.elevate(&session).await;

    let renamed = app
        .call(
            "PUT",
            &path,
            Some(&session),
            Some(&json!({ "description": "Renamed" })),
        )
        .await;
    assert_eq!(renamed.status, StatusCode::OK, "{}", renamed.body);
    assert_eq!(
        app.services
            .db
            .list_webauthn_credentials("alice")
            .await
            .unwrap()[0]
            .description,
        "Renamed"
    );

    // Device names stay unique per user, as at registration.
    let mut second = SoftAuthenticator::new(PORTAL);
    let registered = app.register(&session, &mut second, "Second key").await;
    assert_eq!(registered.status, StatusCode::OK, "{}", registered.body);
    let taken = app
        .call(
            "PUT",
            &path,
            Some(&session),
            Some(&json!({ "description": "Second key" })),
        )
        .await;
    assert_eq!(taken.status, StatusCode::CONFLICT, "{}", taken.body);
    let names: Vec<String> = app
        .services
        .db
        .list_webauthn_credentials("alice")
        .await
        .unwrap()
        .into_iter()
        .map(|credential| credential.description)
        .collect();
    assert_eq!(names, ["Renamed", "Second key"]);
    let second_id = app
        .services
        .db
        .list_webauthn_credentials("alice")
        .await
        .unwrap()[1]
        .id;
    let second_path = format!("/api/secondfactor/webauthn/credential/{second_id}");
    let removed = app.call("DELETE", &second_path, Some(&session), None).await;
    assert_eq!(removed.status, StatusCode::OK, "{}", removed.body);

    let bob = app.login("bob", "battery-staple-2").await;
    app.elevate(&bob).await;
    let foreign = app.call("DELETE", &path, Some(&bob), None).await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND);

    let deleted = app.call("DELETE", &path, Some(&session), None).await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.body);
    assert!(app
        .services
        .db
        .list_webauthn_credentials("alice")
        .await
        .unwrap()
        .is_empty());
    let again = app.call("DELETE", &path, Some(&session), None).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);

    let events = app.services.db.recent_audit_events(20).await.unwrap();
    let actions: Vec<&str> = events.iter().map(|event| event.action.as_str()).collect();
    for action in [
        "webauthn.registered",
        "webauthn.renamed",
        "webauthn.deleted",
    ] {
        assert!(actions.contains(&action), "{action} in {actions:?}");
    }
}

/// Checks that passkey starts, which each store a row for an anonymous client, are limited
/// per client with the `second_factor_totp` buckets (30 a minute by default).
async fn passkey_start_rate_limited(backend: Backend) {
    let app = App::new(backend, &format!("{RULES}{PASSKEYS}")).await;
    for attempt in 0..30 {
        let options = app
            .call("GET", "/api/firstfactor/passkey", None, None)
            .await;
        assert_eq!(
            options.status,
            StatusCode::OK,
            "start {attempt}: {}",
            options.body
        );
    }
    let limited = app
        .call("GET", "/api/firstfactor/passkey", None, None)
        .await;
    assert_eq!(
        limited.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        limited.body
    );
    assert!(limited.headers.get("retry-after").is_some());
}

async fn webauthn_posts_rate_limited(backend: Backend) {
    let tight = "
server:
  endpoints:
    rate_limits:
      second_factor_totp:
        buckets:
          - period: '1m'
            requests: 3
";
    let app = App::new(backend, &format!("{RULES}{PASSKEYS}{tight}")).await;
    let session = app.alice().await;
    let garbage = json!({ "response": {} });

    for attempt in 0..3 {
        let answer = app
            .call(
                "POST",
                "/api/secondfactor/webauthn",
                Some(&session),
                Some(&garbage),
            )
            .await;
        assert_ne!(
            answer.status,
            StatusCode::TOO_MANY_REQUESTS,
            "assertion {attempt}: {}",
            answer.body
        );
    }
    for (path, body) in [
        ("/api/secondfactor/webauthn", garbage.clone()),
        ("/api/firstfactor/passkey", garbage.clone()),
        ("/api/secondfactor/password", json!({ "password": "x" })),
    ] {
        let limited = app.call("POST", path, Some(&session), Some(&body)).await;
        assert_eq!(
            limited.status,
            StatusCode::TOO_MANY_REQUESTS,
            "{path}: {}",
            limited.body
        );
        assert!(limited.headers.get("retry-after").is_some(), "{path}");
    }

    let register = "/api/secondfactor/webauthn/credential/register";
    let description = json!({ "description": "Key" });
    for attempt in 0..3 {
        let answer = app
            .call("PUT", register, Some(&session), Some(&description))
            .await;
        assert_eq!(
            answer.status,
            StatusCode::FORBIDDEN,
            "registration {attempt} needs elevation: {}",
            answer.body
        );
    }
    let limited = app
        .call(
            "DELETE",
            "/api/secondfactor/webauthn/credential/1",
            Some(&session),
            None,
        )
        .await;
    assert_eq!(
        limited.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        limited.body
    );

    // A bucket keeps its counts up to one sixteenth of its period longer than the period.
    app.clock.advance_millis(65_000);
    let later = app
        .call(
            "POST",
            "/api/secondfactor/webauthn",
            Some(&session),
            Some(&garbage),
        )
        .await;
    assert_ne!(
        later.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        later.body
    );
}

/// Logs in with `authenticator`'s passkey and returns the login's response.
async fn passkey_login(app: &App, authenticator: &mut SoftAuthenticator) -> portal_client::Answer {
    let options = app
        .call("GET", "/api/firstfactor/passkey", None, None)
        .await;
    assert_eq!(options.status, StatusCode::OK, "{}", options.body);
    let handle = options
        .cookie("gatehouse_passkey")
        .expect("the passkey cookie");
    let assertion = authenticator.assert(&options.json()["data"]);
    let body = json!({ "response": assertion });
    let cookies = format!("gatehouse_passkey={handle}");
    app.send(
        "POST",
        "/api/firstfactor/passkey",
        Some(&cookies),
        Some(&body),
    )
    .await
}

async fn passkey_survives_secret_rotation(backend: Backend) {
    let mut app = App::new(backend, &format!("{RULES}{PASSKEYS}")).await;
    let mut authenticator = SoftAuthenticator::new(PORTAL);
    app.alice_with_key(&mut authenticator).await;
    let registered_handle = authenticator.user_handle.clone();
    assert_eq!(registered_handle.len(), 16);

    let before = passkey_login(&app, &mut authenticator).await;
    assert_eq!(before.status, StatusCode::OK, "{}", before.body);

    app.restart_with(|config| {
        config.session.secret =
            gatehouse::config::Secret::new("a-rotated-session-secret-0123456789abcdef".to_owned());
    })
    .await;
    let after = passkey_login(&app, &mut authenticator).await;
    assert_eq!(after.status, StatusCode::OK, "{}", after.body);
    assert_eq!(after.body, r#"{"status":"OK"}"#);

    // A second key registered after the rotation gets the same handle, so an authenticator
    // keeps one passkey per user.
    let password_step = app
        .call(
            "POST",
            "/api/secondfactor/password",
            Some(&after.session_id()),
            Some(&json!({ "password": "correct-horse-1" })),
        )
        .await;
    assert_eq!(
        password_step.status,
        StatusCode::OK,
        "{}",
        password_step.body
    );
    let session = password_step.session_id();
    app.elevate(&session).await;
    let mut second = SoftAuthenticator::new(PORTAL);
    let registered = app.register(&session, &mut second, "Second key").await;
    assert_eq!(registered.status, StatusCode::OK, "{}", registered.body);
    assert_eq!(second.user_handle, registered_handle);

    // A response naming another handle is still rejected.
    authenticator.user_handle = vec![0; 16];
    let forged = passkey_login(&app, &mut authenticator).await;
    assert_eq!(forged.status, StatusCode::UNAUTHORIZED, "{}", forged.body);
}
