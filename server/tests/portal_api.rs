//! The portal's JSON API against the real router, on SQLite and PostgreSQL: logins, session
//! state, the TOTP second factor, logout, and the checks every portal request passes.

mod common;

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Request, StatusCode};
use axum::Router;
use common::Backend;
use gatehouse::clock::Clock;
use gatehouse::services::Services;
use gatehouse::storage::{AttemptFactor, NewTotpConfiguration};
use hmac::{Hmac, Mac};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

/// The shared set-up's rules: a public host, a one-factor host and a two-factor host.
const SHARED_RULES: &str = "
access_control:
  default_policy: deny
  rules:
    - domain: 'public.example.com'
      policy: bypass
    - domain: 'app.example.com'
      policy: one_factor
    - domain: 'secure.example.com'
      policy: two_factor
";

/// Rules without any `two_factor` policy, so the portal does not use a second factor.
const ONE_FACTOR_RULES: &str = "
access_control:
  default_policy: deny
  rules:
    - domain: '*.example.com'
      policy: one_factor
";

const USER_REGULATION: &str = "
regulation:
  max_retries: 3
  find_time: '2m'
  ban_time: '5m'
";

use common::START_MILLIS;
const PORTAL: &str = "https://auth.example.com";
const FIRST_FACTOR_FAILED: &str =
    r#"{"status":"KO","message":"Authentication failed. Check your credentials."}"#;
const SECOND_FACTOR_FAILED: &str =
    r#"{"status":"KO","message":"Authentication failed, please retry later."}"#;
const TOTP_SECRET: &[u8] = b"alice-totp-secret-0123456789";

/// A router of the portal API and the authz endpoints, with a manual clock and two users.
struct App {
    router: Router,
    services: Services,
    clock: Clock,
    _directory: tempfile::TempDir,
}

/// A response with its body read.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|error| panic!("the body {:?} is not JSON: {error}", self.body))
    }

    fn set_cookie(&self) -> Option<&str> {
        self.header("set-cookie")
    }

    /// Returns the session id that the `Set-Cookie` of the response stores.
    fn session_id(&self) -> String {
        let text = self.set_cookie().expect("the answer sets a cookie");
        let pair = text.split(';').next().expect("a name=value pair");
        let (name, value) = pair.split_once('=').expect("name=value");
        assert_eq!(name, "gatehouse_session");
        value.to_owned()
    }
}

impl App {
    async fn new(backend: Backend, tail: &str) -> App {
        App::with_remember_me(backend, "1M", tail).await
    }

    async fn with_remember_me(backend: Backend, remember_me: &str, tail: &str) -> App {
        let directory = tempfile::tempdir().expect("a temporary directory");
        let (services, clock) =
            common::suite_services(backend, directory.path(), remember_me, tail, 2, 64).await;
        let db = &services.db;
        db.upsert_totp_configuration(
            &NewTotpConfiguration {
                username: "alice".to_owned(),
                issuer: "Gatehouse".to_owned(),
                algorithm: "SHA1".to_owned(),
                digits: 6,
                period: 30,
                secret: TOTP_SECRET.to_vec(),
            },
            START_MILLIS,
        )
        .await
        .expect("store alice's TOTP device");
        let router =
            gatehouse::portal::routes(&services).merge(gatehouse::http::authz_router(&services));
        App {
            router,
            services,
            clock,
            _directory: directory,
        }
    }

    /// Sends a request from `peer` with exactly `headers`.
    async fn raw(
        &self,
        peer: &str,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Answer {
        let mut request = Request::builder().method(method).uri(path);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let mut request = request
            .body(Body::from(body.to_owned()))
            .expect("a valid request");
        let peer: SocketAddr = peer.parse().expect("a socket address");
        request.extensions_mut().insert(ConnectInfo(peer));
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("an answer");
        let status = response.status();
        let headers = response.headers().clone();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("a body")
            .to_bytes();
        Answer {
            status,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        }
    }

    /// POSTs JSON to the portal as its own page would, with the session cookie when given.
    async fn post(&self, path: &str, cookie: Option<&str>, body: &Value) -> Answer {
        self.post_from("127.0.0.1:40000", None, path, cookie, &body.to_string())
            .await
    }

    async fn post_from(
        &self,
        peer: &str,
        client: Option<&str>,
        path: &str,
        cookie: Option<&str>,
        body: &str,
    ) -> Answer {
        let cookie_header = cookie.map(|value| format!("gatehouse_session={value}"));
        let mut headers = vec![
            ("host", "auth.example.com"),
            ("origin", PORTAL),
            ("content-type", "application/json"),
        ];
        if let Some(cookie) = &cookie_header {
            headers.push(("cookie", cookie));
        }
        if let Some(client) = client {
            headers.push(("x-forwarded-for", client));
        }
        self.raw(peer, "POST", path, &headers, body).await
    }

    async fn get(&self, path: &str, cookie: Option<&str>) -> Answer {
        let cookie_header = cookie.map(|value| format!("gatehouse_session={value}"));
        let mut headers = vec![("host", "auth.example.com")];
        if let Some(cookie) = &cookie_header {
            headers.push(("cookie", cookie));
        }
        self.raw("127.0.0.1:40000", "GET", path, &headers, "").await
    }

    async fn login(&self, username: &str, password: &str) -> Answer {
        self.post(
            "/api/firstfactor",
            None,
            &json!({ "username": username, "password": password }),
        )
        .await
    }

    /// Logs alice in with her password and returns the session id.
    async fn alice_session(&self) -> String {
        let answer = self.login("alice", "correct-horse-1").await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        answer.session_id()
    }

    async fn totp(&self, cookie: &str, token: &str) -> Answer {
        self.post(
            "/api/secondfactor/totp",
            Some(cookie),
            &json!({ "token": token }),
        )
        .await
    }

    /// Forward-auth for `https://<host>/` with the session cookie when given.
    async fn forward_auth(&self, host: &str, cookie: Option<&str>) -> Answer {
        let cookie_header = cookie.map(|value| format!("gatehouse_session={value}"));
        let mut headers = vec![
            ("x-forwarded-method", "GET"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", host),
            ("x-forwarded-uri", "/"),
            ("x-forwarded-for", "203.0.113.7"),
            ("accept", "text/html"),
        ];
        if let Some(cookie) = &cookie_header {
            headers.push(("cookie", cookie));
        }
        self.raw(
            "127.0.0.1:40000",
            "GET",
            "/api/authz/forward-auth",
            &headers,
            "",
        )
        .await
    }

    async fn level(&self, cookie: &str) -> Value {
        self.get("/api/state", Some(cookie)).await.json()["data"]["authentication_level"].clone()
    }

    /// Computes the TOTP code of alice's device, `offset` time steps from the clock's step.
    fn code(&self, offset: i64) -> String {
        let step = self.clock.now_secs().div_euclid(30) + offset;
        hotp_sha1_6(TOTP_SECRET, step as u64)
    }
}

/// HOTP (RFC 4226) with HMAC-SHA1 and six digits, written independently of the server's code.
fn hotp_sha1_6(secret: &[u8], counter: u64) -> String {
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret).expect("any key length");
    mac.update(&counter.to_be_bytes());
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

/// Request headers of a table of cases.
type Headers = Vec<(&'static str, &'static str)>;

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
    login_cookie_passes_authz,
    session_id_changes_each_level,
    login_failures_identical,
    banned_user_same_answer,
    ip_mode_counts_unknown_users,
    unsafe_targets_never_redirect,
    target_needing_two_factor,
    remember_me_cookie_lifetime,
    totp_code_works_once,
    totp_rate_limited,
    state_reports_levels,
    logout_ends_session,
    user_info_needs_login,
    safe_redirection_check,
    cross_site_posts_rejected,
    unknown_portal_host_rejected,
    long_username_logged_short,
);

async fn login_cookie_passes_authz(backend: Backend) {
    let app = App::new(backend, &format!("{SHARED_RULES}{USER_REGULATION}")).await;
    let answer = app.login("alice", "correct-horse-1").await;
    assert_eq!(answer.status, StatusCode::OK);
    // A second factor is in use and no target was given, so the portal decides what follows.
    assert_eq!(answer.body, r#"{"status":"OK"}"#);
    assert_eq!(answer.header("cache-control"), Some("no-store"));
    assert_eq!(answer.header("x-content-type-options"), Some("nosniff"));
    let id = answer.session_id();
    assert_eq!(id.len(), 43);
    assert_eq!(
        answer.set_cookie(),
        Some(
            format!(
                "gatehouse_session={id}; Domain=example.com; Path=/; HttpOnly; Secure; SameSite=Lax"
            )
            .as_str()
        )
    );

    let allowed = app.forward_auth("app.example.com", Some(&id)).await;
    assert_eq!(allowed.status, StatusCode::OK);
    assert_eq!(allowed.header("remote-user"), Some("alice"));
    let needs_second = app.forward_auth("secure.example.com", Some(&id)).await;
    assert_eq!(needs_second.status, StatusCode::FOUND);
    assert!(!needs_second.headers.contains_key("remote-user"));
}

async fn session_id_changes_each_level(backend: Backend) {
    let app = App::new(backend, &format!("{SHARED_RULES}{USER_REGULATION}")).await;
    let chosen = "attacker-chosen-0001";
    let login = app
        .post(
            "/api/firstfactor",
            Some(chosen),
            &json!({ "username": "alice", "password": "correct-horse-1" }),
        )
        .await;
    assert_eq!(login.status, StatusCode::OK);
    let first = login.session_id();
    assert_ne!(first, chosen);

    let second_factor = app.totp(&first, &app.code(0)).await;
    assert_eq!(
        second_factor.status,
        StatusCode::OK,
        "{}",
        second_factor.body
    );
    let second = second_factor.session_id();
    assert_ne!(second, first);

    for (id, host, expected) in [
        (chosen, "app.example.com", StatusCode::FOUND),
        (first.as_str(), "app.example.com", StatusCode::FOUND),
        (first.as_str(), "secure.example.com", StatusCode::FOUND),
        (second.as_str(), "app.example.com", StatusCode::OK),
        (second.as_str(), "secure.example.com", StatusCode::OK),
    ] {
        let answer = app.forward_auth(host, Some(id)).await;
        assert_eq!(answer.status, expected, "session {id} on {host}");
    }

    let logout = app.post("/api/logout", Some(&second), &json!({})).await;
    assert_eq!(logout.status, StatusCode::OK);
    for host in ["app.example.com", "secure.example.com"] {
        let answer = app.forward_auth(host, Some(&second)).await;
        assert_eq!(
            answer.status,
            StatusCode::FOUND,
            "logged-out session on {host}"
        );
    }
}

async fn login_failures_identical(backend: Backend) {
    let app = App::new(
        backend,
        &format!("{SHARED_RULES}regulation:\n  max_retries: 0\n"),
    )
    .await;
    let wrong_password = json!({ "username": "alice", "password": "wrong-password" }).to_string();
    let unknown_user =
        json!({ "username": "nosuchuser", "password": "wrong-password" }).to_string();
    let too_long = json!({ "username": "alice", "password": "p".repeat(5000) }).to_string();
    let cases: [(&str, &str, u64); 7] = [
        ("wrong password", &wrong_password, 1),
        ("unknown user", &unknown_user, 1),
        ("password over 4096 bytes", &too_long, 0),
        ("malformed JSON", "{\"username\": \"alice\", ", 0),
        ("missing password", r#"{"username":"alice"}"#, 0),
        ("empty password", r#"{"username":"alice","password":""}"#, 0),
        ("not an object", "[1, 2]", 0),
    ];
    let mut answers = Vec::new();
    for (case, body, verifications) in cases {
        let before = app.services.pool.verifications();
        let answer = app
            .post_from("127.0.0.1:40000", None, "/api/firstfactor", None, body)
            .await;
        assert_eq!(
            app.services.pool.verifications() - before,
            verifications,
            "password verifications for {case}"
        );
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{case}");
        assert_eq!(answer.body, FIRST_FACTOR_FAILED, "{case}");
        assert!(answer.set_cookie().is_none(), "{case}");
        answers.push((case, answer));
    }
    let (_, reference) = &answers[0];
    for (case, answer) in &answers[1..] {
        assert_eq!(answer.headers, reference.headers, "headers for {case}");
    }

    let unknown_attempts = app
        .services
        .db
        .attempts_for_account("nosuchuser", 0, 10)
        .await
        .expect("read attempts");
    assert_eq!(unknown_attempts.len(), 1);
    assert!(!unknown_attempts[0].successful);
    assert_eq!(unknown_attempts[0].factor, AttemptFactor::First);
}

async fn banned_user_same_answer(backend: Backend) {
    let app = App::new(backend, &format!("{SHARED_RULES}{USER_REGULATION}")).await;
    let reference = app.login("alice", "wrong-password").await;
    for _ in 0..2 {
        app.clock.advance_millis(1_000);
        let answer = app.login("ALICE", "wrong-password").await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    }

    let before = app.services.pool.verifications();
    let banned = app.login("alice", "correct-horse-1").await;
    assert_eq!(
        app.services.pool.verifications(),
        before,
        "no password check while banned"
    );
    assert_eq!(banned.status, StatusCode::UNAUTHORIZED);
    assert_eq!(banned.body, FIRST_FACTOR_FAILED);
    assert_eq!(banned.headers, reference.headers);

    let attempts = app
        .services
        .db
        .attempts_for_account("alice", 0, 10)
        .await
        .expect("read attempts");
    assert_eq!(attempts.len(), 4);
    assert!(attempts[0].banned);

    app.clock.advance_millis(5 * 60 * 1_000 + 1_000);
    let after_ban = app.login("alice", "correct-horse-1").await;
    assert_eq!(after_ban.status, StatusCode::OK);
}

async fn ip_mode_counts_unknown_users(backend: Backend) {
    let regulation = "
regulation:
  modes: ['ip']
  max_retries: 3
  find_time: '2m'
  ban_time: '5m'
";
    let app = App::new(backend, &format!("{SHARED_RULES}{regulation}")).await;
    let proxy = "127.0.0.1:40000";
    for name in ["nobody1", "nobody2", "nobody3", "nobody4"] {
        app.clock.advance_millis(1_000);
        let body = json!({ "username": name, "password": "some-password" }).to_string();
        let answer = app
            .post_from(proxy, Some("198.51.100.7"), "/api/firstfactor", None, &body)
            .await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{name}");
        assert_eq!(answer.body, FIRST_FACTOR_FAILED, "{name}");
        let attempts = app
            .services
            .db
            .attempts_for_account(name, 0, 10)
            .await
            .expect("read attempts");
        assert_eq!(attempts.len(), 1, "attempt recorded for {name}");
        assert_eq!(attempts[0].remote_ip.as_deref(), Some("198.51.100.7"));
    }

    let alice = json!({ "username": "alice", "password": "correct-horse-1" }).to_string();
    let banned = app
        .post_from(
            proxy,
            Some("198.51.100.7"),
            "/api/firstfactor",
            None,
            &alice,
        )
        .await;
    assert_eq!(banned.status, StatusCode::UNAUTHORIZED);
    assert_eq!(banned.body, FIRST_FACTOR_FAILED);

    let other_address = app
        .post_from(
            proxy,
            Some("198.51.100.8"),
            "/api/firstfactor",
            None,
            &alice,
        )
        .await;
    assert_eq!(
        other_address.status,
        StatusCode::OK,
        "{}",
        other_address.body
    );
}

async fn unsafe_targets_never_redirect(backend: Backend) {
    let app = App::new(backend, &format!("{ONE_FACTOR_RULES}{USER_REGULATION}")).await;
    let unsafe_targets = [
        "https://evil.example.net/login",
        "/\\evil.example.net/",
        "\\\\evil.example.net/",
        "//evil.example.net/",
        "https:/\\evil.example.net/",
        "https://evil.example.net\\@app.example.com/",
        "https://app.example.com@evil.example.net/",
        "http://app.example.com/",
        "https://app.example.community/",
        "javascript:alert(1)",
        "/dashboard",
    ];
    let fallback = json!({ "status": "OK", "data": { "redirect": "https://www.example.com/" } });
    for target in unsafe_targets {
        let answer = app
            .post(
                "/api/firstfactor",
                None,
                &json!({ "username": "alice", "password": "correct-horse-1", "targetURL": target }),
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{target}");
        assert_eq!(answer.json(), fallback, "{target}");
        assert!(!answer.body.contains("evil"), "{target}");
        assert!(answer.header("location").is_none(), "{target}");
    }

    let safe = app
        .post(
            "/api/firstfactor",
            None,
            &json!({
                "username": "alice",
                "password": "correct-horse-1",
                "targetURL": "https://app.example.com/dashboard",
                "requestMethod": "GET",
            }),
        )
        .await;
    assert_eq!(
        safe.json(),
        json!({ "status": "OK", "data": { "redirect": "https://app.example.com/dashboard" } })
    );
}

async fn target_needing_two_factor(backend: Backend) {
    let app = App::new(backend, &format!("{SHARED_RULES}{USER_REGULATION}")).await;
    let login = |target: &'static str| {
        let app = &app;
        async move {
            app.post(
                "/api/firstfactor",
                None,
                &json!({ "username": "alice", "password": "correct-horse-1", "targetURL": target }),
            )
            .await
            .json()
        }
    };
    assert_eq!(
        login("https://secure.example.com/").await,
        json!({ "status": "OK" })
    );
    assert_eq!(
        login("https://app.example.com/x").await,
        json!({ "status": "OK", "data": { "redirect": "https://app.example.com/x" } })
    );
    // Unsafe, and a second factor is in use: no default redirection.
    assert_eq!(
        login("https://evil.example.net/").await,
        json!({ "status": "OK" })
    );
    // A dot segment must not hide the two-factor host's path from the rules.
    assert_eq!(
        login("https://secure.example.com/a/../b").await,
        json!({ "status": "OK" })
    );
}

async fn remember_me_cookie_lifetime(backend: Backend) {
    let app = App::new(backend, &format!("{SHARED_RULES}{USER_REGULATION}")).await;
    let unchecked = app
        .post(
            "/api/firstfactor",
            None,
            &json!({ "username": "alice", "password": "correct-horse-1", "keepMeLoggedIn": false }),
        )
        .await;
    let cookie = unchecked.set_cookie().expect("a cookie");
    assert!(!cookie.contains("Max-Age"), "{cookie}");
    assert!(!cookie.contains("Expires"), "{cookie}");

    let checked = app
        .post(
            "/api/firstfactor",
            None,
            &json!({ "username": "alice", "password": "correct-horse-1", "keepMeLoggedIn": true }),
        )
        .await;
    let cookie = checked.set_cookie().expect("a cookie");
    assert!(cookie.ends_with("; Max-Age=2592000"), "{cookie}");

    let remembered = checked.session_id();
    let forgotten = unchecked.session_id();
    app.clock.advance_millis(5 * 60 * 1_000 + 10_000);
    assert_eq!(
        app.forward_auth("app.example.com", Some(&forgotten))
            .await
            .status,
        StatusCode::FOUND
    );
    assert_eq!(
        app.forward_auth("app.example.com", Some(&remembered))
            .await
            .status,
        StatusCode::OK
    );

    let disabled =
        App::with_remember_me(backend, "-1", &format!("{SHARED_RULES}{USER_REGULATION}")).await;
    let ignored = disabled
        .post(
            "/api/firstfactor",
            None,
            &json!({ "username": "alice", "password": "correct-horse-1", "keepMeLoggedIn": true }),
        )
        .await;
    assert_eq!(ignored.status, StatusCode::OK);
    let cookie = ignored.set_cookie().expect("a cookie");
    assert!(!cookie.contains("Max-Age"), "{cookie}");
}

async fn totp_code_works_once(backend: Backend) {
    // Three failed codes below would ban alice with `max_retries: 3`.
    let regulation = "regulation:\n  max_retries: 5\n  find_time: '2m'\n  ban_time: '5m'\n";
    let app = App::new(backend, &format!("{SHARED_RULES}{regulation}")).await;
    let browser_a = app.alice_session().await;
    let code = app.code(0);
    let accepted = app.totp(&browser_a, &code).await;
    assert_eq!(accepted.status, StatusCode::OK, "{}", accepted.body);
    assert_eq!(
        accepted.json(),
        json!({ "status": "OK", "data": { "redirect": "https://www.example.com/" } })
    );
    let browser_a = accepted.session_id();
    assert_eq!(app.level(&browser_a).await, json!(2));

    app.clock.advance_millis(5_000);
    let browser_b = app.alice_session().await;
    let replayed = app.totp(&browser_b, &code).await;
    assert_eq!(replayed.status, StatusCode::FORBIDDEN);
    assert_eq!(replayed.body, SECOND_FACTOR_FAILED);
    assert!(replayed.set_cookie().is_none());
    assert_eq!(app.level(&browser_b).await, json!(1));

    let older = app.totp(&browser_b, &app.code(-1)).await;
    assert_eq!(
        older.status,
        StatusCode::FORBIDDEN,
        "an older step inside the skew window"
    );
    assert_eq!(older.body, SECOND_FACTOR_FAILED);

    let wrong = app.totp(&browser_b, "000000").await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);

    let second_factor_failures = app
        .services
        .db
        .attempts_for_account("alice", 0, 20)
        .await
        .expect("read attempts")
        .into_iter()
        .filter(|attempt| attempt.factor == AttemptFactor::Second && !attempt.successful)
        .count();
    assert_eq!(second_factor_failures, 3);

    app.clock.advance_millis(30_000);
    let next = app
        .post(
            "/api/secondfactor/totp",
            Some(&browser_b),
            &json!({ "token": app.code(0), "targetURL": "https://secure.example.com/" }),
        )
        .await;
    assert_eq!(next.status, StatusCode::OK, "{}", next.body);
    assert_eq!(
        next.json(),
        json!({ "status": "OK", "data": { "redirect": "https://secure.example.com/" } })
    );
    assert_ne!(next.session_id(), browser_b);

    let anonymous = app.totp("no-such-session", &app.code(1)).await;
    assert_eq!(anonymous.status, StatusCode::FORBIDDEN);
    assert_eq!(anonymous.body, "403 Forbidden");
}

async fn totp_rate_limited(backend: Backend) {
    let limits = "
server:
  endpoints:
    rate_limits:
      second_factor_totp:
        buckets:
          - period: '1m'
            requests: 3
";
    let app = App::new(
        backend,
        &format!("{SHARED_RULES}regulation:\n  max_retries: 0\n{limits}"),
    )
    .await;
    let session = app.alice_session().await;
    for attempt in 0..3 {
        let answer = app.totp(&session, "000000").await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "attempt {attempt}");
    }
    let limited = app.totp(&session, &app.code(0)).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        limited.body,
        r#"{"status":"KO","message":"Too Many Requests"}"#
    );
    assert_eq!(limited.header("cache-control"), Some("no-store"));
    let retry_after: u64 = limited
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .expect("whole seconds");
    // The limiter may hold a key up to one sixteenth of the period longer than the period.
    assert!((1..=64).contains(&retry_after), "Retry-After {retry_after}");
    assert_eq!(app.level(&session).await, json!(1));

    app.clock.advance_millis(65_000);
    let later = app.totp(&session, &app.code(0)).await;
    assert_eq!(later.status, StatusCode::OK, "{}", later.body);
}

async fn state_reports_levels(backend: Backend) {
    let app = App::new(backend, &format!("{SHARED_RULES}{USER_REGULATION}")).await;
    let anonymous = app.get("/api/state", None).await;
    assert_eq!(anonymous.status, StatusCode::OK);
    assert_eq!(anonymous.header("cache-control"), Some("no-store"));
    assert_eq!(
        anonymous.json(),
        json!({ "status": "OK", "data": {
            "username": "",
            "authentication_level": 0,
            "factor_knowledge": false,
            "default_redirection_url": "https://www.example.com/",
        } })
    );

    let session = app.alice_session().await;
    let one = app.get("/api/state", Some(&session)).await.json();
    assert_eq!(one["data"]["username"], json!("alice"));
    assert_eq!(one["data"]["authentication_level"], json!(1));
    assert_eq!(one["data"]["factor_knowledge"], json!(true));

    let raised = app.totp(&session, &app.code(0)).await.session_id();
    let two = app.get("/api/state", Some(&raised)).await.json();
    assert_eq!(two["data"]["authentication_level"], json!(2));
}

async fn logout_ends_session(backend: Backend) {
    let app = App::new(backend, &format!("{SHARED_RULES}{USER_REGULATION}")).await;
    let session = app.alice_session().await;
    let logout = app
        .post(
            "/api/logout",
            Some(&session),
            &json!({ "targetURL": "https://app.example.com/" }),
        )
        .await;
    assert_eq!(logout.status, StatusCode::OK);
    assert_eq!(
        logout.json(),
        json!({ "status": "OK", "data": { "safeTargetURL": true } })
    );
    assert_eq!(
        logout.set_cookie(),
        Some("gatehouse_session=; Domain=example.com; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age=0")
    );
    assert_eq!(app.level(&session).await, json!(0));
    assert_eq!(
        app.forward_auth("app.example.com", Some(&session))
            .await
            .status,
        StatusCode::FOUND
    );

    let unsafe_target = app
        .post(
            "/api/logout",
            None,
            &json!({ "targetURL": "https://evil.example.net/" }),
        )
        .await;
    assert_eq!(
        unsafe_target.json(),
        json!({ "status": "OK", "data": { "safeTargetURL": false } })
    );
    let empty = app
        .post_from("127.0.0.1:40000", None, "/api/logout", None, "")
        .await;
    assert_eq!(empty.status, StatusCode::OK);
    assert_eq!(empty.json()["data"]["safeTargetURL"], json!(false));
    let empty_object = app
        .post_from("127.0.0.1:40000", None, "/api/logout", None, "{}")
        .await;
    assert_eq!(empty_object.status, StatusCode::OK);

    let session = app.alice_session().await;
    for body in [
        "[]",
        r#"["https://app.example.com/"]"#,
        "null",
        r#""https://app.example.com/""#,
        "7",
        r#"{"targetURL": 7}"#,
        "{",
    ] {
        let rejected = app
            .post_from("127.0.0.1:40000", None, "/api/logout", Some(&session), body)
            .await;
        assert_eq!(rejected.status, StatusCode::BAD_REQUEST, "body {body}");
        assert_eq!(rejected.json()["status"], json!("KO"), "body {body}");
        assert_eq!(rejected.set_cookie(), None, "body {body}");
    }
    assert_eq!(
        app.level(&session).await,
        json!(1),
        "a rejected logout keeps the session"
    );
}

async fn user_info_needs_login(backend: Backend) {
    let app = App::new(backend, &format!("{SHARED_RULES}{USER_REGULATION}")).await;
    let anonymous = app.get("/api/user/info", None).await;
    assert_eq!(anonymous.status, StatusCode::FORBIDDEN);
    assert_eq!(anonymous.body, "403 Forbidden");

    let alice = app.alice_session().await;
    let info = app.get("/api/user/info", Some(&alice)).await;
    assert_eq!(info.status, StatusCode::OK);
    assert_eq!(
        info.json(),
        json!({ "status": "OK", "data": {
            "display_name": "Alice Example",
            "emails": ["alice@example.com"],
            "method": "totp",
            "has_totp": true,
            "has_webauthn": false,
            "has_duo": false,
        } })
    );

    // Without any method, the first enabled one is what the portal offers to enrol.
    let bob = app.login("bob", "battery-staple-2").await.session_id();
    let info = app.get("/api/user/info", Some(&bob)).await.json();
    assert_eq!(info["data"]["method"], json!("totp"));
    assert_eq!(info["data"]["has_totp"], json!(false));
}

async fn safe_redirection_check(backend: Backend) {
    let app = App::new(backend, &format!("{SHARED_RULES}{USER_REGULATION}")).await;
    let anonymous = app
        .post(
            "/api/checks/safe-redirection",
            None,
            &json!({ "uri": "https://app.example.com/" }),
        )
        .await;
    assert_eq!(anonymous.status, StatusCode::FORBIDDEN);

    let session = app.alice_session().await;
    for (uri, expected) in [
        ("https://app.example.com/", true),
        ("https://example.com/", true),
        ("https://evil.example.net/", false),
        ("//evil.example.net/", false),
        ("https://evil.example.net\\@app.example.com/", false),
    ] {
        let answer = app
            .post(
                "/api/checks/safe-redirection",
                Some(&session),
                &json!({ "uri": uri }),
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{uri}");
        assert_eq!(
            answer.json(),
            json!({ "status": "OK", "data": { "ok": expected } }),
            "{uri}"
        );
    }
    let malformed = app
        .post(
            "/api/checks/safe-redirection",
            Some(&session),
            &json!({ "url": "x" }),
        )
        .await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
    assert_eq!(malformed.json()["status"], json!("KO"));
}

async fn cross_site_posts_rejected(backend: Backend) {
    let app = App::new(backend, &format!("{SHARED_RULES}{USER_REGULATION}")).await;
    let body = json!({ "username": "alice", "password": "correct-horse-1" }).to_string();
    let peer = "127.0.0.1:40000";
    let send = |headers: Vec<(&'static str, &'static str)>| {
        let app = &app;
        let body = body.clone();
        async move {
            let mut all = vec![("host", "auth.example.com")];
            all.extend(headers);
            app.raw(peer, "POST", "/api/firstfactor", &all, &body).await
        }
    };

    let cases: [(&str, Headers, StatusCode); 8] = [
        (
            "other origin",
            vec![
                ("origin", "https://evil.example.net"),
                ("content-type", "application/json"),
            ],
            StatusCode::FORBIDDEN,
        ),
        (
            "sibling origin",
            vec![
                ("origin", "https://app.example.com"),
                ("content-type", "application/json"),
            ],
            StatusCode::FORBIDDEN,
        ),
        (
            "null origin",
            vec![("origin", "null"), ("content-type", "application/json")],
            StatusCode::FORBIDDEN,
        ),
        (
            "other referer",
            vec![
                ("referer", "https://evil.example.net/page"),
                ("content-type", "application/json"),
            ],
            StatusCode::FORBIDDEN,
        ),
        (
            "form without origin",
            vec![("content-type", "application/x-www-form-urlencoded")],
            StatusCode::FORBIDDEN,
        ),
        (
            "json without origin",
            vec![("content-type", "application/json")],
            StatusCode::OK,
        ),
        (
            "same origin",
            vec![
                ("origin", "https://auth.example.com"),
                ("content-type", "application/json"),
            ],
            StatusCode::OK,
        ),
        (
            "same-origin referer",
            vec![
                ("referer", "https://auth.example.com/?rd=x"),
                ("content-type", "application/json; charset=utf-8"),
            ],
            StatusCode::OK,
        ),
    ];
    for (case, headers, expected) in cases {
        let answer = send(headers).await;
        assert_eq!(answer.status, expected, "{case}: {}", answer.body);
        if expected == StatusCode::FORBIDDEN {
            assert!(answer.set_cookie().is_none(), "{case}");
        }
    }

    let session = app.alice_session().await;
    let cookie = format!("gatehouse_session={session}");
    let logout = app
        .raw(
            peer,
            "POST",
            "/api/logout",
            &[
                ("host", "auth.example.com"),
                ("origin", "https://evil.example.net"),
                ("cookie", &cookie),
            ],
            "{}",
        )
        .await;
    assert_eq!(logout.status, StatusCode::FORBIDDEN);
    assert_eq!(
        app.level(&session).await,
        json!(1),
        "a cross-site logout ends nothing"
    );
}

async fn unknown_portal_host_rejected(backend: Backend) {
    let app = App::new(backend, &format!("{SHARED_RULES}{USER_REGULATION}")).await;
    let trusted = "127.0.0.1:40000";
    let untrusted = "203.0.113.9:40000";
    let cases: [(&str, &str, Headers, StatusCode); 6] = [
        (
            "other host",
            trusted,
            vec![("host", "app.example.com")],
            StatusCode::BAD_REQUEST,
        ),
        (
            "outside every domain",
            trusted,
            vec![("host", "evil.example.net")],
            StatusCode::BAD_REQUEST,
        ),
        ("no host", trusted, vec![], StatusCode::BAD_REQUEST),
        (
            "forwarded from a trusted peer",
            trusted,
            vec![
                ("host", "gatehouse:9091"),
                ("x-forwarded-host", "auth.example.com"),
            ],
            StatusCode::OK,
        ),
        (
            "forwarded from an untrusted peer",
            untrusted,
            vec![
                ("host", "gatehouse:9091"),
                ("x-forwarded-host", "auth.example.com"),
            ],
            StatusCode::BAD_REQUEST,
        ),
        (
            "host with case and port",
            untrusted,
            vec![("host", "AUTH.example.com:443")],
            StatusCode::OK,
        ),
    ];
    for (case, peer, headers, expected) in cases {
        let answer = app.raw(peer, "GET", "/api/state", &headers, "").await;
        assert_eq!(answer.status, expected, "{case}: {}", answer.body);
        if expected == StatusCode::BAD_REQUEST {
            assert_eq!(answer.json()["status"], json!("KO"), "{case}");
        }
    }
    let login = app
        .raw(
            trusted,
            "POST",
            "/api/firstfactor",
            &[
                ("host", "evil.example.net"),
                ("content-type", "application/json"),
            ],
            &json!({ "username": "alice", "password": "correct-horse-1" }).to_string(),
        )
        .await;
    assert_eq!(login.status, StatusCode::BAD_REQUEST);
    assert!(login.set_cookie().is_none());
}

/// A log writer that keeps every line in memory, for tests that read the log.
#[derive(Clone, Default)]
struct CapturedLog(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for CapturedLog {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .expect("the log buffer")
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl CapturedLog {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("the log buffer")).into_owned()
    }
}

async fn long_username_logged_short(backend: Backend) {
    let app = App::new(backend, &format!("{SHARED_RULES}{USER_REGULATION}")).await;
    let log = CapturedLog::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    // The test runtime has one thread, so every request of this test logs through this subscriber.
    let _guard = tracing::subscriber::set_default(subscriber);

    let long_name = "x".repeat(200 * 1024);
    for _ in 0..3 {
        let answer = app.login(&long_name, "wrong-password").await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    }
    let text = log.text();
    assert!(
        text.contains("first factor rejected: wrong user name or password"),
        "{text}"
    );
    assert!(
        text.contains("banned after repeated failed authentication attempts"),
        "{text}"
    );
    assert!(
        !text.contains(&"x".repeat(65)),
        "a log line holds the whole name"
    );
    let marker = format!("{}…({} more bytes)", "x".repeat(64), 200 * 1024 - 64);
    assert!(text.contains(&marker), "{}", &text[..text.len().min(2000)]);
    assert!(
        text.len() < 16 * 1024,
        "the log grew to {} bytes",
        text.len()
    );
}
