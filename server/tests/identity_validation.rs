//! Identity validation against the real router, on SQLite and PostgreSQL: password reset by
//! e-mailed link, elevation by e-mailed one-time code, password change, the password policy,
//! and the SMTP notifier against a real SMTP server on loopback.

mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Request, StatusCode};
use axum::Router;
use common::{Backend, START_MILLIS};
use gatehouse::clock::Clock;
use gatehouse::notify::{templates, Notifier, Recipient};
use gatehouse::portal::PortalOptions;
use gatehouse::services::Services;
use gatehouse::storage::NewTotpConfiguration;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

const PORTAL: &str = "https://auth.example.com";

/// Rules, a standard policy that the users' passwords meet, and elevation rate limits loose
/// enough that only the rate-limit tests reach them.
const TAIL: &str = "
access_control:
  default_policy: one_factor
password_policy:
  standard:
    enabled: true
    min_length: 12
    require_number: true
server:
  endpoints:
    rate_limits:
      session_elevation_start:
        buckets:
          - period: '1m'
            requests: 50
      session_elevation_finish:
        buckets:
          - period: '1m'
            requests: 50
";

const POLICY_FAILED: &str = r#"{"status":"KO","message":"Your supplied password does not meet the password policy requirements."}"#;

/// The portal API with a manual clock, the users alice and bob, and a one-time code check that
/// takes 50 ms instead of a second.
struct App {
    router: Router,
    services: Services,
    clock: Clock,
    directory: tempfile::TempDir,
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|error| panic!("the body {:?} is not JSON: {error}", self.body))
    }

    /// Returns the value of the `Set-Cookie` named `name`.
    fn cookie(&self, name: &str) -> Option<String> {
        self.headers.get_all("set-cookie").iter().find_map(|value| {
            let text = value.to_str().ok()?;
            let pair = text.split(';').next()?;
            let (cookie_name, cookie_value) = pair.split_once('=')?;
            (cookie_name == name).then(|| cookie_value.to_owned())
        })
    }
}

impl App {
    async fn new(backend: Backend, tail: &str) -> App {
        App::edited(backend, tail, |yaml| yaml).await
    }

    /// Builds the app with the shared configuration text passed through `edit`.
    async fn edited(backend: Backend, tail: &str, edit: impl FnOnce(String) -> String) -> App {
        let directory = tempfile::tempdir().expect("a temporary directory");
        let (services, clock) =
            common::suite_services_edited(backend, directory.path(), "1M", tail, 2, 64, edit).await;
        let options = PortalOptions {
            elevation_code_delay: Duration::from_millis(50),
        };
        let router = gatehouse::portal::routes_with_options(&services, &options);
        App {
            router,
            services,
            clock,
            directory,
        }
    }

    fn notifications(&self) -> PathBuf {
        self.directory.path().join("notifications.txt")
    }

    /// Sends a request from the loopback proxy on behalf of `client` (its `X-Forwarded-For`).
    async fn send(
        &self,
        method: &str,
        path: &str,
        client: &str,
        cookies: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Answer {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header("host", "auth.example.com")
            .header("origin", PORTAL)
            .header("content-type", "application/json")
            .header("x-forwarded-for", client);
        if !cookies.is_empty() {
            let joined: Vec<String> = cookies
                .iter()
                .map(|(name, value)| format!("{name}={value}"))
                .collect();
            request = request.header("cookie", joined.join("; "));
        }
        let body = body.map(Value::to_string).unwrap_or_default();
        let mut request = request.body(Body::from(body)).expect("a valid request");
        let peer: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        request.extensions_mut().insert(ConnectInfo(peer));
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("an answer");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("a body")
            .to_bytes();
        Answer {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    async fn post(&self, path: &str, session: Option<&str>, body: &Value) -> Answer {
        let cookies: Vec<(&str, &str)> = session
            .map(|id| ("gatehouse_session", id))
            .into_iter()
            .collect();
        self.send("POST", path, "203.0.113.7", &cookies, Some(body))
            .await
    }

    async fn login(&self, username: &str, password: &str) -> Answer {
        let body = json!({ "username": username, "password": password });
        self.post("/api/firstfactor", None, &body).await
    }

    async fn session_of(&self, username: &str, password: &str) -> String {
        let answer = self.login(username, password).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        answer
            .cookie("gatehouse_session")
            .expect("a session cookie")
    }

    async fn level(&self, session: &str) -> Value {
        let cookies = [("gatehouse_session", session)];
        let answer = self
            .send("GET", "/api/state", "203.0.113.7", &cookies, None)
            .await;
        answer.json()["data"]["authentication_level"].clone()
    }

    async fn start_reset(&self, username: &str, client: &str) -> Answer {
        let body = json!({ "username": username });
        self.send(
            "POST",
            "/api/reset-password/identity/start",
            client,
            &[],
            Some(&body),
        )
        .await
    }

    /// Waits until the notifications file has `count` messages and returns its text.
    async fn wait_for_messages(&self, count: usize) -> String {
        for _ in 0..250 {
            if message_count(&self.notifications()) >= count {
                return std::fs::read_to_string(self.notifications()).unwrap();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("message {count} was not written within 5 s");
    }

    /// Requests a reset for alice and returns the token of the e-mailed link.
    async fn reset_token(&self) -> String {
        let before = message_count(&self.notifications());
        let answer = self.start_reset("alice", "203.0.113.7").await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        let text = self.wait_for_messages(before + 1).await;
        last_link_token(&text, "/reset-password/step2?token=")
    }

    /// Requests an elevation code for `session` and returns the code and the `delete_id`.
    async fn elevation_code(&self, session: &str) -> (String, String) {
        let before = message_count(&self.notifications());
        let answer = self
            .post("/api/user/session/elevation", Some(session), &json!({}))
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        let delete_id = answer.json()["data"]["delete_id"]
            .as_str()
            .unwrap()
            .to_owned();
        let text = self.wait_for_messages(before + 1).await;
        (last_code(&text), delete_id)
    }

    async fn submit_code(&self, session: &str, client: &str, code: &str) -> Answer {
        let cookies = [("gatehouse_session", session)];
        let body = json!({ "otc": code });
        self.send(
            "PUT",
            "/api/user/session/elevation",
            client,
            &cookies,
            Some(&body),
        )
        .await
    }

    async fn elevation_state(&self, session: &str, client: &str) -> Value {
        let cookies = [("gatehouse_session", session)];
        let answer = self
            .send("GET", "/api/user/session/elevation", client, &cookies, None)
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        answer.json()["data"].clone()
    }

    async fn change_password(&self, session: &str, old: &str, new: &str) -> Answer {
        let body = json!({ "username": "alice", "old_password": old, "new_password": new });
        self.post("/api/change-password", Some(session), &body)
            .await
    }

    async fn reset_with_cookie(&self, token: &str, password: &str) -> Answer {
        let cookies = [("gatehouse_reset_password", token)];
        let body = json!({ "password": password });
        self.send(
            "POST",
            "/api/reset-password",
            "203.0.113.7",
            &cookies,
            Some(&body),
        )
        .await
    }
}

fn message_count(path: &Path) -> usize {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter(|line| line.starts_with("Subject: "))
        .count()
}

/// Returns the token of the last link in `text` that contains `marker`.
fn last_link_token(text: &str, marker: &str) -> String {
    let line = text
        .lines()
        .rev()
        .find(|line| line.contains(marker))
        .unwrap_or_else(|| panic!("no link with {marker} in {text}"));
    line.split_once("token=").unwrap().1.trim().to_owned()
}

/// Returns the code of the last one-time code message in `text`.
fn last_code(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let index = lines
        .iter()
        .rposition(|line| line.ends_with("Your code is:"))
        .expect("a code message");
    lines[index + 2].trim().to_owned()
}

macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                use super::*;

                #[tokio::test]
                async fn sqlite() {
                    super::$name(Backend::Sqlite).await;
                }

                #[tokio::test]
                async fn postgres() {
                    super::$name(Backend::Postgres).await;
                }
            }
        )*
    };
}

on_both_databases!(
    failed_codes_count_for_regulation,
    links_keep_portal_path,
    reset_start_same_answer,
    reset_ends_every_session,
    reset_token_expires,
    reset_token_revoked,
    reset_start_rate_limited,
    reset_finish_rate_limited,
    reset_disabled_removes_routes,
    password_policy_reported,
    change_password_needs_elevation,
    elevation_code_works_once,
    elevation_bound_to_client_ip,
    elevation_lapses,
    elevation_code_revoked,
    elevation_finish_rate_limited,
    second_factor_required_first,
    skip_second_factor_elevates,
    reauthenticate_checks_password,
    notifier_failure_reported,
);

async fn reset_start_same_answer(backend: Backend) {
    let app = App::new(backend, TAIL).await;
    let known = app.start_reset("alice", "203.0.113.7").await;
    let unknown = app.start_reset("ghost", "203.0.113.7").await;
    assert_eq!(known.status, StatusCode::OK);
    assert_eq!(unknown.status, known.status);
    assert_eq!(unknown.body, known.body);
    assert_eq!(known.body, r#"{"status":"OK"}"#);
    assert_eq!(
        unknown.headers.get("set-cookie"),
        known.headers.get("set-cookie")
    );

    let text = app.wait_for_messages(1).await;
    // Give the unknown user's task time to write, which it must not.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        message_count(&app.notifications()),
        1,
        "no message for the unknown user"
    );
    let header = "To: Alice Example <alice@example.com>\n\
                  Subject: [Gatehouse] Reset your password\n\n";
    assert!(text.starts_with(header), "{text}");
    assert!(
        text.contains("\nhttps://auth.example.com/reset-password/step2?token="),
        "{text}"
    );
    assert!(
        text.contains("\nhttps://auth.example.com/revoke/reset-password?token="),
        "{text}"
    );
    assert!(text.contains("expires in 5 minutes"), "{text}");
    let token = last_link_token(&text, "/reset-password/step2?token=");
    assert_eq!(token.len(), 43);
    assert!(token
        .bytes()
        .all(|byte| byte.is_ascii_alphanumeric() || b"-_".contains(&byte)));
}

async fn reset_ends_every_session(backend: Backend) {
    let app = App::new(backend, TAIL).await;
    let first = app.session_of("alice", "correct-horse-1").await;
    let second = app.session_of("alice", "correct-horse-1").await;
    let token = app.reset_token().await;

    let body = json!({ "token": token });
    let finish = app
        .post("/api/reset-password/identity/finish", None, &body)
        .await;
    assert_eq!(finish.status, StatusCode::OK, "{}", finish.body);
    assert_eq!(finish.json()["data"]["username"], "alice");
    let bound = finish
        .cookie("gatehouse_reset_password")
        .expect("a binding cookie");
    assert_eq!(bound, token);

    let weak = app.reset_with_cookie(&bound, "short1").await;
    assert_eq!(weak.status, StatusCode::BAD_REQUEST);
    assert_eq!(weak.body, POLICY_FAILED);
    let no_digit = app
        .reset_with_cookie(&bound, "long-enough-but-no-digit")
        .await;
    assert_eq!(no_digit.body, POLICY_FAILED);
    assert_eq!(
        app.level(&first).await,
        1,
        "a rejected password changes nothing"
    );

    let set = app.reset_with_cookie(&bound, "new-password-2026").await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);
    assert_eq!(set.cookie("gatehouse_reset_password").as_deref(), Some(""));
    assert_eq!(
        app.level(&first).await,
        0,
        "the first session ended at once"
    );
    assert_eq!(
        app.level(&second).await,
        0,
        "the second session ended at once"
    );

    let reused = app.reset_with_cookie(&bound, "another-password-2027").await;
    assert_eq!(reused.status, StatusCode::BAD_REQUEST);
    assert_eq!(reused.json()["status"], "KO");
    let finish_again = app
        .post("/api/reset-password/identity/finish", None, &body)
        .await;
    assert_eq!(finish_again.status, StatusCode::BAD_REQUEST);

    assert_eq!(
        app.login("alice", "correct-horse-1").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.login("alice", "new-password-2026").await.status,
        StatusCode::OK
    );
    let notice = app.wait_for_messages(2).await;
    assert!(
        notice.contains("Subject: [Gatehouse] Your password was changed"),
        "{notice}"
    );
}

async fn reset_token_expires(backend: Backend) {
    let app = App::new(backend, TAIL).await;
    let token = app.reset_token().await;
    app.clock.advance_millis(5 * 60 * 1000 + 1);
    let finish = app
        .post(
            "/api/reset-password/identity/finish",
            None,
            &json!({ "token": token }),
        )
        .await;
    assert_eq!(finish.status, StatusCode::BAD_REQUEST);
    let body = json!({ "token": token, "password": "new-password-2026" });
    let set = app.post("/api/reset-password", None, &body).await;
    assert_eq!(set.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        app.login("alice", "correct-horse-1").await.status,
        StatusCode::OK
    );
}

async fn reset_token_revoked(backend: Backend) {
    let app = App::new(backend, TAIL).await;
    let token = app.reset_token().await;
    let body = json!({ "token": token });
    let revoke = app
        .send(
            "DELETE",
            "/api/reset-password",
            "203.0.113.7",
            &[],
            Some(&body),
        )
        .await;
    assert_eq!(revoke.status, StatusCode::OK, "{}", revoke.body);
    let finish = app
        .post("/api/reset-password/identity/finish", None, &body)
        .await;
    assert_eq!(finish.status, StatusCode::BAD_REQUEST);
    let again = app
        .send(
            "DELETE",
            "/api/reset-password",
            "203.0.113.7",
            &[],
            Some(&body),
        )
        .await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    let bogus = json!({ "token": "x".repeat(43) });
    let unknown = app
        .post("/api/reset-password/identity/finish", None, &bogus)
        .await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
}

async fn reset_start_rate_limited(backend: Backend) {
    let app = App::new(backend, TAIL).await;
    for attempt in 0..5 {
        let answer = app.start_reset("ghost", "198.51.100.1").await;
        assert_eq!(answer.status, StatusCode::OK, "attempt {attempt}");
    }
    let limited = app.start_reset("ghost", "198.51.100.1").await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        limited.body,
        r#"{"status":"KO","message":"Too Many Requests"}"#
    );
    assert!(limited.headers.get("retry-after").is_some());
    let other_client = app.start_reset("ghost", "198.51.100.2").await;
    assert_eq!(other_client.status, StatusCode::OK);
}

async fn reset_finish_rate_limited(backend: Backend) {
    let app = App::new(backend, TAIL).await;
    let body = json!({ "token": "y".repeat(43) });
    let path = "/api/reset-password/identity/finish";
    for attempt in 0..10 {
        let answer = app
            .send("POST", path, "198.51.100.3", &[], Some(&body))
            .await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "attempt {attempt}");
    }
    let limited = app
        .send(
            "DELETE",
            "/api/reset-password",
            "198.51.100.3",
            &[],
            Some(&body),
        )
        .await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
}

async fn reset_disabled_removes_routes(backend: Backend) {
    let app = App::edited(backend, TAIL, |yaml| {
        yaml.replace(
            "authentication_backend:\n",
            "authentication_backend:\n  password_reset:\n    disable: true\n",
        )
    })
    .await;
    let start = app.start_reset("alice", "203.0.113.7").await;
    assert_eq!(start.status, StatusCode::NOT_FOUND);
    let body = json!({ "token": "x".repeat(43) });
    let finish = app
        .post("/api/reset-password/identity/finish", None, &body)
        .await;
    assert_eq!(finish.status, StatusCode::NOT_FOUND);
    let set = app.post("/api/reset-password", None, &body).await;
    assert_eq!(set.status, StatusCode::NOT_FOUND);
}

async fn password_policy_reported(backend: Backend) {
    let app = App::new(backend, TAIL).await;
    let path = "/api/configuration/password-policy";
    let answer = app.send("GET", path, "203.0.113.7", &[], None).await;
    assert_eq!(answer.status, StatusCode::OK);
    let expected = json!({"status":"OK","data":{
        "mode":"standard","min_length":12,"max_length":0,"min_score":0,
        "require_uppercase":false,"require_lowercase":false,
        "require_number":true,"require_special":false}});
    assert_eq!(answer.json(), expected);
}

async fn change_password_needs_elevation(backend: Backend) {
    let app = App::new(backend, TAIL).await;
    let session = app.session_of("alice", "correct-horse-1").await;
    let other = app.session_of("alice", "correct-horse-1").await;
    let refused = app
        .change_password(&session, "correct-horse-1", "new-password-2026")
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let missing =
        r#"{"status":"KO","data":{"elevation":true,"first_factor":false,"second_factor":false}}"#;
    assert_eq!(refused.body, missing);

    let (code, _) = app.elevation_code(&session).await;
    let elevated = app.submit_code(&session, "203.0.113.7", &code).await;
    assert_eq!(elevated.status, StatusCode::OK, "{}", elevated.body);

    let wrong_old = app
        .change_password(&session, "not-the-password", "new-password-2026")
        .await;
    assert_eq!(wrong_old.status, StatusCode::UNAUTHORIZED);
    let weak = app
        .change_password(&session, "correct-horse-1", "weak")
        .await;
    assert_eq!(weak.body, POLICY_FAILED);
    let body =
        json!({ "username": "bob", "old_password": "x", "new_password": "new-password-2026" });
    let for_bob = app
        .post("/api/change-password", Some(&session), &body)
        .await;
    assert_eq!(for_bob.status, StatusCode::FORBIDDEN);

    let changed = app
        .change_password(&session, "correct-horse-1", "new-password-2026")
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    assert_eq!(app.level(&session).await, 1, "the current session stays");
    assert_eq!(app.level(&other).await, 0, "other sessions end");
    assert_eq!(
        app.login("alice", "new-password-2026").await.status,
        StatusCode::OK
    );
}

async fn elevation_code_works_once(backend: Backend) {
    let app = App::new(backend, TAIL).await;
    let session = app.session_of("alice", "correct-horse-1").await;
    let state = app.elevation_state(&session, "203.0.113.7").await;
    assert_eq!(state["elevated"], false);
    assert_eq!(state["require_second_factor"], false);

    let (code, _) = app.elevation_code(&session).await;
    assert_eq!(code.len(), 8);
    let text = std::fs::read_to_string(app.notifications()).unwrap();
    assert!(
        text.contains("Subject: [Gatehouse] Confirm your identity"),
        "{text}"
    );
    assert!(
        text.contains("\nhttps://auth.example.com/revoke/one-time-code?id="),
        "{text}"
    );

    let wrong = app.submit_code(&session, "203.0.113.7", "ABCDEFGH").await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    let typed = format!("  {}  ", code.to_lowercase());
    let started = std::time::Instant::now();
    let right = app.submit_code(&session, "203.0.113.7", &typed).await;
    assert!(
        started.elapsed() >= Duration::from_millis(50),
        "the fixed delay applies"
    );
    assert_eq!(right.status, StatusCode::OK, "{}", right.body);
    assert_eq!(right.json()["data"]["expires"], 600);
    let state = app.elevation_state(&session, "203.0.113.7").await;
    assert_eq!(state["elevated"], true);
    assert_eq!(state["expires"], 600);

    let reused = app.submit_code(&session, "203.0.113.7", &code).await;
    assert_eq!(reused.status, StatusCode::FORBIDDEN);
}

async fn elevation_bound_to_client_ip(backend: Backend) {
    let app = App::new(backend, TAIL).await;
    let session = app.session_of("alice", "correct-horse-1").await;
    let (code, _) = app.elevation_code(&session).await;
    let unknown = app.submit_code(&session, "not-an-address", &code).await;
    assert_eq!(
        unknown.status,
        StatusCode::FORBIDDEN,
        "no elevation from an unknown IP"
    );
    let (code, _) = app.elevation_code(&session).await;
    let elevated = app.submit_code(&session, "203.0.113.7", &code).await;
    assert_eq!(elevated.status, StatusCode::OK);
    assert_eq!(
        app.elevation_state(&session, "203.0.113.7").await["elevated"],
        true
    );

    let elsewhere = app.elevation_state(&session, "198.51.100.9").await;
    assert_eq!(elsewhere["elevated"], false);
    let back = app.elevation_state(&session, "203.0.113.7").await;
    assert_eq!(
        back["elevated"], false,
        "a request from another IP destroyed the elevation"
    );
    let refused = app
        .change_password(&session, "correct-horse-1", "new-password-2026")
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(refused.json()["data"]["elevation"], true);
}

async fn elevation_lapses(backend: Backend) {
    let app = App::new(backend, TAIL).await;
    let session = app.session_of("alice", "correct-horse-1").await;
    let (code, _) = app.elevation_code(&session).await;
    assert_eq!(
        app.submit_code(&session, "203.0.113.7", &code).await.status,
        StatusCode::OK
    );
    // Stay active (inactivity is 5 minutes) while the ten-minute elevation runs out.
    for _ in 0..3 {
        app.clock.advance_millis(4 * 60 * 1000);
        assert_eq!(app.level(&session).await, 1);
    }
    let state = app.elevation_state(&session, "203.0.113.7").await;
    assert_eq!(state["elevated"], false);
    assert_eq!(state["expires"], 0);
    let refused = app
        .change_password(&session, "correct-horse-1", "new-password-2026")
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(refused.json()["data"]["elevation"], true);
}

async fn elevation_code_revoked(backend: Backend) {
    let app = App::new(backend, TAIL).await;
    let session = app.session_of("alice", "correct-horse-1").await;
    let (code, delete_id) = app.elevation_code(&session).await;
    let path = format!("/api/user/session/elevation/{delete_id}");
    let revoked = app.send("DELETE", &path, "198.51.100.4", &[], None).await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.body);
    let submit = app.submit_code(&session, "203.0.113.7", &code).await;
    assert_eq!(submit.status, StatusCode::FORBIDDEN);
    let again = app.send("DELETE", &path, "198.51.100.4", &[], None).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);

    let (first, _) = app.elevation_code(&session).await;
    let (second, _) = app.elevation_code(&session).await;
    if first != second {
        let old = app.submit_code(&session, "203.0.113.7", &first).await;
        assert_eq!(
            old.status,
            StatusCode::FORBIDDEN,
            "a new code revokes the old one"
        );
    }
    let new = app.submit_code(&session, "203.0.113.7", &second).await;
    assert_eq!(new.status, StatusCode::OK);
}

async fn elevation_finish_rate_limited(backend: Backend) {
    // The default buckets: three checks per code_lifespan and client IP.
    let app = App::new(backend, "access_control:\n  default_policy: one_factor\n").await;
    let session = app.session_of("alice", "correct-horse-1").await;
    for attempt in 0..3 {
        let answer = app.submit_code(&session, "198.51.100.5", "WRONGONE").await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "attempt {attempt}");
    }
    let limited = app.submit_code(&session, "198.51.100.5", "WRONGONE").await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(limited.headers.get("retry-after").is_some());
}

async fn add_totp_device(app: &App, username: &str) {
    let device = NewTotpConfiguration {
        username: username.to_owned(),
        issuer: "Gatehouse".to_owned(),
        algorithm: "SHA1".to_owned(),
        digits: 6,
        period: 30,
        secret: b"totp-secret-0123456789abcdef".to_vec(),
    };
    app.services
        .db
        .upsert_totp_configuration(&device, START_MILLIS)
        .await
        .unwrap();
}

async fn second_factor_required_first(backend: Backend) {
    let app = App::new(backend, TAIL).await;
    add_totp_device(&app, "alice").await;
    let session = app.session_of("alice", "correct-horse-1").await;
    let state = app.elevation_state(&session, "203.0.113.7").await;
    assert_eq!(state["require_second_factor"], true);
    let refused = app
        .change_password(&session, "correct-horse-1", "new-password-2026")
        .await;
    let both =
        r#"{"status":"KO","data":{"elevation":true,"first_factor":false,"second_factor":true}}"#;
    assert_eq!(refused.body, both);
    let (code, _) = app.elevation_code(&session).await;
    assert_eq!(
        app.submit_code(&session, "203.0.113.7", &code).await.status,
        StatusCode::OK
    );
    let still = app
        .change_password(&session, "correct-horse-1", "new-password-2026")
        .await;
    let second =
        r#"{"status":"KO","data":{"elevation":false,"first_factor":false,"second_factor":true}}"#;
    assert_eq!(still.body, second);
}

async fn skip_second_factor_elevates(backend: Backend) {
    let app = App::edited(backend, TAIL, |yaml| {
        yaml.replace(
            "identity_validation:\n",
            "identity_validation:\n  elevated_session:\n    skip_second_factor: true\n",
        )
    })
    .await;
    let session = app.session_of("alice", "correct-horse-1").await;
    let state = app.elevation_state(&session, "203.0.113.7").await;
    assert_eq!(state["skip_second_factor"], true);
    assert_eq!(
        state["can_skip_second_factor"], false,
        "only after a second factor"
    );
    let refused = app
        .change_password(&session, "correct-horse-1", "new-password-2026")
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
}

async fn reauthenticate_checks_password(backend: Backend) {
    let tail =
        format!("{TAIL}regulation:\n  max_retries: 2\n  find_time: '2m'\n  ban_time: '5m'\n");
    let app = App::new(backend, &tail).await;
    let session = app.session_of("alice", "correct-horse-1").await;
    let path = "/api/firstfactor/reauthenticate";
    let right_body = json!({ "password": "correct-horse-1" });
    let right = app.post(path, Some(&session), &right_body).await;
    assert_eq!(right.status, StatusCode::OK, "{}", right.body);
    let anonymous = app.post(path, None, &right_body).await;
    assert_eq!(anonymous.status, StatusCode::FORBIDDEN);
    for _ in 0..2 {
        let wrong = app
            .post(path, Some(&session), &json!({ "password": "wrong" }))
            .await;
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    }
    let banned = app.post(path, Some(&session), &right_body).await;
    assert_eq!(
        banned.status,
        StatusCode::UNAUTHORIZED,
        "regulation bans after two failures"
    );
}

async fn notifier_failure_reported(backend: Backend) {
    let app = App::new(backend, TAIL).await;
    // A directory in place of the notifications file makes every append fail.
    std::fs::create_dir(app.notifications()).unwrap();
    let session = app.session_of("alice", "correct-horse-1").await;
    let answer = app
        .post("/api/user/session/elevation", Some(&session), &json!({}))
        .await;
    assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
    let not_sent =
        r#"{"status":"KO","message":"The one-time code could not be sent. Try again later."}"#;
    assert_eq!(answer.body, not_sent);
    let reset = app.start_reset("alice", "203.0.113.7").await;
    assert_eq!(reset.status, StatusCode::OK);
    assert_eq!(reset.body, r#"{"status":"OK"}"#);
}

/// A loopback SMTP server (`scripts/smtp-sink.py`) that stores what it receives. It stops when
/// dropped, because its standard input closes.
struct SmtpSink {
    child: Child,
    port: u16,
    output: tempfile::TempDir,
}

impl SmtpSink {
    fn start(args: &[&str]) -> SmtpSink {
        let output = tempfile::tempdir().unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/smtp-sink.py");
        let mut child = Command::new("/usr/bin/python3")
            .arg(script)
            .arg(output.path())
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start scripts/smtp-sink.py (needs python3-aiosmtpd: scripts/setup.sh test)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .strip_prefix("port ")
            .and_then(|port| port.parse().ok())
            .unwrap_or_else(|| panic!("the SMTP sink did not start: {line:?}"));
        SmtpSink {
            child,
            port,
            output,
        }
    }

    fn message(&self, number: usize) -> String {
        let path = self.output.path().join(format!("message-{number}.eml"));
        std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

/// Builds a notifier from a `notifier.smtp` section.
fn smtp_notifier(smtp_yaml: &str) -> Notifier {
    let yaml = format!(
        "session:
  secret: 'test-session-secret-0123456789abcdefghijkl'
  cookies:
    - domain: 'example.com'
      authelia_url: 'https://auth.example.com'
storage:
  encryption_key: 'test-encryption-key-0123456789abcdefghij'
  local:
    path: '/nonexistent/unused.sqlite3'
identity_validation:
  reset_password:
    jwt_secret: 'test-reset-secret-0123456789abcdefghijklm'
notifier:
  smtp:
{smtp_yaml}"
    );
    let config = gatehouse::config::load_str(&yaml, &std::collections::HashMap::new())
        .unwrap_or_else(|errors| panic!("{errors:?}"))
        .config;
    Notifier::new(&config.notifier).expect("a notifier")
}

fn sample_email() -> templates::Email {
    templates::elevation_code(
        "Alice Example",
        "ABCD2346",
        "https://auth.example.com/revoke/one-time-code?id=x",
        Duration::from_secs(300),
    )
}

const ALICE: Recipient<'static> = Recipient {
    display_name: "Alice Example",
    address: "alice@example.com",
};

/// A self-signed certificate for `localhost`, made with openssl, in `directory`.
fn self_signed(directory: &Path) -> (String, String) {
    let cert = directory.join("cert.pem");
    let key = directory.join("key.pem");
    let status = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args([
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(Stdio::null())
        .status()
        .expect("run openssl");
    assert!(status.success());
    (cert.display().to_string(), key.display().to_string())
}

#[tokio::test]
async fn smtp_sends_both_parts_with_authentication() {
    let sink = SmtpSink::start(&["--auth", "gatehouse:mail-password"]);
    let notifier = smtp_notifier(&format!(
        "    address: 'smtp://127.0.0.1:{port}'
    sender: 'Gatehouse <auth@example.com>'
    username: 'gatehouse'
    password: 'mail-password'
    disable_require_tls: true
",
        port = sink.port
    ));
    notifier.send(&ALICE, &sample_email()).await.expect("sent");
    let message = sink.message(1);
    assert!(
        message.contains("From: Gatehouse <auth@example.com>"),
        "{message}"
    );
    assert!(
        message.contains("To: \"Alice Example\" <alice@example.com>"),
        "{message}"
    );
    assert!(
        message.contains("Subject: [Gatehouse] Confirm your identity"),
        "{message}"
    );
    assert!(message.contains("multipart/alternative"), "{message}");
    assert!(message.contains("Content-Type: text/plain"), "{message}");
    assert!(message.contains("Content-Type: text/html"), "{message}");
    assert!(message.contains("ABCD2346"), "{message}");
}

#[tokio::test]
async fn smtp_wrong_password_fails() {
    let sink = SmtpSink::start(&["--auth", "gatehouse:mail-password"]);
    let notifier = smtp_notifier(&format!(
        "    address: 'smtp://127.0.0.1:{port}'
    sender: 'auth@example.com'
    username: 'gatehouse'
    password: 'wrong-password'
    disable_require_tls: true
",
        port = sink.port
    ));
    let error = notifier
        .send(&ALICE, &sample_email())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains(&format!("127.0.0.1:{}", sink.port)),
        "{error}"
    );
    assert!(
        !error.contains("ABCD2346"),
        "the error never contains the code: {error}"
    );
}

#[tokio::test]
async fn smtp_requires_starttls_by_default() {
    let sink = SmtpSink::start(&[]);
    let notifier = smtp_notifier(&format!(
        "    address: 'smtp://127.0.0.1:{port}'\n    sender: 'auth@example.com'\n",
        port = sink.port
    ));
    let result = notifier.send(&ALICE, &sample_email()).await;
    assert!(result.is_err(), "a server without STARTTLS is refused");
    assert!(!sink.output.path().join("message-1.eml").exists());
}

#[tokio::test]
async fn smtp_starttls_and_implicit_tls() {
    let certificates = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed(certificates.path());
    for (flag, scheme) in [("--starttls", "submission"), ("--smtps", "smtps")] {
        let sink = SmtpSink::start(&[flag, &cert, &key]);
        let notifier = smtp_notifier(&format!(
            "    address: '{scheme}://127.0.0.1:{port}'
    sender: 'auth@example.com'
    tls:
      server_name: 'localhost'
      skip_verify: true
",
            port = sink.port
        ));
        notifier
            .send(&ALICE, &sample_email())
            .await
            .unwrap_or_else(|error| panic!("{scheme}: {error}"));
        assert!(sink.message(1).contains("ABCD2346"), "{scheme}");
    }
}

async fn links_keep_portal_path(backend: Backend) {
    let app = App::edited(backend, TAIL, |yaml| {
        yaml.replace(
            "authelia_url: 'https://auth.example.com'",
            "authelia_url: 'https://auth.example.com/auth'",
        )
    })
    .await;
    let session = app.session_of("alice", "correct-horse-1").await;
    app.elevation_code(&session).await;
    let text = std::fs::read_to_string(app.notifications()).unwrap();
    assert!(
        text.contains("https://auth.example.com/auth/revoke/one-time-code?id="),
        "{text}"
    );

    app.reset_token().await;
    let text = std::fs::read_to_string(app.notifications()).unwrap();
    assert!(
        text.contains("https://auth.example.com/auth/reset-password/step2?token="),
        "{text}"
    );
    assert!(
        text.contains("https://auth.example.com/auth/revoke/reset-password?token="),
        "{text}"
    );
}

async fn failed_codes_count_for_regulation(backend: Backend) {
    // Regulation's defaults: three failures within two minutes ban the user for five minutes.
    let app = App::new(backend, TAIL).await;
    let session = app.session_of("alice", "correct-horse-1").await;
    let (code, _) = app.elevation_code(&session).await;
    for attempt in 0..3 {
        let wrong = app.submit_code(&session, "203.0.113.7", "WRONGONE").await;
        assert_eq!(wrong.status, StatusCode::FORBIDDEN, "attempt {attempt}");
    }

    let attempts = app
        .services
        .db
        .attempts_for_account("alice", 0, 10)
        .await
        .unwrap();
    let failed_codes: Vec<_> = attempts
        .iter()
        .filter(|attempt| attempt.method == "one_time_code")
        .collect();
    assert_eq!(failed_codes.len(), 3);
    assert!(failed_codes.iter().all(|attempt| !attempt.successful));
    assert!(failed_codes
        .iter()
        .all(|attempt| attempt.factor == gatehouse::storage::AttemptFactor::Second));

    let banned = app.submit_code(&session, "203.0.113.7", &code).await;
    assert_eq!(
        banned.status,
        StatusCode::FORBIDDEN,
        "a banned user's right code is not checked"
    );
    assert_eq!(
        app.elevation_state(&session, "203.0.113.7").await["elevated"],
        json!(false)
    );
    let login = app.login("alice", "correct-horse-1").await;
    assert_eq!(
        login.status,
        StatusCode::UNAUTHORIZED,
        "the ban covers logins too"
    );

    app.clock.advance_millis(5 * 60 * 1000 + 1);
    let session = app.session_of("alice", "correct-horse-1").await;
    let (code, _) = app.elevation_code(&session).await;
    let accepted = app.submit_code(&session, "203.0.113.7", &code).await;
    assert_eq!(accepted.status, StatusCode::OK, "{}", accepted.body);
}
