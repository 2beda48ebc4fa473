//! The authz endpoints against the real router, on SQLite and PostgreSQL: the rows of the
//! forward-auth tables and the field cases, each asserted on status, headers and body.

mod common;

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Request, StatusCode};
use axum::Router;
use base64::Engine;
use common::Backend;
use gatehouse::clock::Clock;
use gatehouse::identity::hashing::{hash_password, Argon2Params, Argon2Variant};
use gatehouse::services::Services;
use gatehouse::session::Level;
use gatehouse::storage::UserRecord;
use http_body_util::BodyExt;
use tower::ServiceExt;

/// The configuration every case starts from (see the cases' shared set-up).
const SHARED_SETUP: &str = "
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

const BROWSER_ACCEPT: &str = "text/html,application/xhtml+xml,*/*;q=0.8";
use common::{cheap_params, START_MILLIS};

/// A router with its services, a manual clock and the two users of the shared set-up.
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

    fn has_remote_headers(&self) -> bool {
        [
            "remote-user",
            "remote-groups",
            "remote-email",
            "remote-name",
        ]
        .iter()
        .any(|name| self.headers.contains_key(*name))
    }
}

impl App {
    async fn new(backend: Backend, access_control: &str, extra: &str) -> App {
        App::build(backend, access_control, extra, 2, 64).await
    }

    async fn with_hashing(
        backend: Backend,
        access_control: &str,
        workers: usize,
        queue: usize,
    ) -> App {
        App::build(backend, access_control, "", workers, queue).await
    }

    async fn build(
        backend: Backend,
        access_control: &str,
        extra: &str,
        workers: usize,
        queue: usize,
    ) -> App {
        let directory = tempfile::tempdir().expect("a temporary directory");
        let tail = format!("{access_control}{extra}");
        let (services, clock) =
            common::suite_services(backend, directory.path(), "1M", &tail, workers, queue).await;
        let router = gatehouse::http::authz_router(&services);
        App {
            router,
            services,
            clock,
            _directory: directory,
        }
    }

    /// Logs a user in at `level` and returns the session cookie's value.
    async fn session(&self, username: &str, level: Level) -> String {
        let domain = &self.services.authz.cookie_domains[0].config;
        let profile = self
            .services
            .directory
            .get(username)
            .await
            .expect("directory")
            .expect("user exists");
        let (_, set_cookie) = self
            .services
            .sessions
            .create(domain, &profile, Level::OneFactor, false)
            .await
            .expect("create a session");
        let mut cookie = set_cookie;
        if level == Level::TwoFactor {
            let resolution = self
                .services
                .sessions
                .resolve(&cookie_headers(&cookie_value(&cookie)), domain)
                .await;
            let session = resolution.session.expect("the new session resolves");
            let (_, raised) = self
                .services
                .sessions
                .raise_level(session, domain, Level::TwoFactor)
                .await
                .expect("raise the level");
            cookie = raised;
        }
        cookie_value(&cookie)
    }

    async fn send(&self, path: &str, headers: &[(&str, &str)]) -> Answer {
        self.send_from("127.0.0.1:40000", "GET", path, headers)
            .await
    }

    async fn send_from(
        &self,
        peer: &str,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Answer {
        let mut request = Request::builder().method(method).uri(path);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let mut request = request.body(Body::empty()).expect("a valid request");
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
}

fn cookie_value(set_cookie: &axum::http::HeaderValue) -> String {
    let text = set_cookie.to_str().expect("ASCII cookie");
    let pair = text.split(';').next().expect("a name=value pair");
    pair.split_once('=').expect("name=value").1.to_owned()
}

fn cookie_headers(value: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        "cookie",
        format!("gatehouse_session={value}")
            .parse()
            .expect("a header value"),
    );
    headers
}

fn forward_auth_headers<'a>(
    host: &'a str,
    uri: &'a str,
    method: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("x-forwarded-method", method),
        ("x-forwarded-proto", "https"),
        ("x-forwarded-host", host),
        ("x-forwarded-uri", uri),
        ("x-forwarded-for", "203.0.113.7"),
        ("accept", BROWSER_ACCEPT),
    ]
}

fn basic(user_password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(user_password)
    )
}

/// Instantiates each named test once per database: `name::sqlite` and `name::postgres`.
macro_rules! on_both_databases {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name(super::Backend::Sqlite).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name(super::Backend::Postgres).await;
                }
            }
        )+
    };
}

on_both_databases!(
    anonymous_browser_redirected,
    redirect_status_by_method_and_accept,
    auth_request_always_401,
    legacy_endpoint_answers,
    bad_requests_fail_closed,
    allowed_sends_identity_headers,
    bypass_sends_no_identity,
    one_factor_session_needs_second_for_two_factor,
    host_case_and_trailing_dot,
    wildcard_label_boundaries,
    dot_segments_cannot_bypass,
    client_ip_from_trusted_proxies,
    anonymous_subject_rule_asks_login,
    method_rules_use_original_method,
    basic_credentials,
    forward_auth_only_get_and_head,
    websocket_headers_ignored,
    forged_session_ids_anonymous,
    large_headers_accepted,
    ext_authz_reads_host_and_sub_path,
    non_ascii_identity_sent_as_utf8,
    admin_changes_end_access_at_once,
    trailing_dot_needs_two_factor,
    failed_basic_beats_session,
    portal_override_checked,
    busy_hashing_never_allows,
    other_instance_changes_seen_within_a_second,
    legacy_hash_rehashed_after_login,
    session_username_tripwire,
);

async fn session_username_tripwire(backend: Backend) {
    // A proxy may name the user it expects in Session-Username; a session of another user is a
    // stolen cookie and ends.
    let app = App::new(backend, SHARED_SETUP, "").await;
    let cookie = format!(
        "gatehouse_session={}",
        app.session("alice", Level::OneFactor).await
    );
    let mut same = forward_auth_headers("app.example.com", "/", "GET");
    same.extend([("cookie", cookie.as_str()), ("session-username", "ALICE")]);
    assert_eq!(
        app.send("/api/authz/forward-auth", &same).await.status,
        StatusCode::OK
    );

    let mut other = forward_auth_headers("app.example.com", "/", "GET");
    other.extend([("cookie", cookie.as_str()), ("session-username", "bob")]);
    let answer = app.send("/api/authz/forward-auth", &other).await;
    assert_eq!(answer.status, StatusCode::FOUND);
    assert!(answer
        .header("set-cookie")
        .unwrap_or_default()
        .contains("Max-Age=0"));

    let mut again = forward_auth_headers("app.example.com", "/", "GET");
    again.push(("cookie", cookie.as_str()));
    assert_eq!(
        app.send("/api/authz/forward-auth", &again).await.status,
        StatusCode::FOUND,
        "the session ended for good"
    );
}

async fn legacy_hash_rehashed_after_login(backend: Backend) {
    // A bcrypt hash, as an imported Authelia users file may hold, of "correct horse battery
    // staple" (passlib 1.7.4, cost 4).
    const BCRYPT: &str = "$2b$04$GJc/s0f9DGAHgR5OALajIuv4Lu0flhgGOw4fffbdBvRCFr0YjExge";
    let app = App::new(backend, SHARED_SETUP, "").await;
    let db = &app.services.db;
    db.set_password_hash("alice", BCRYPT, START_MILLIS)
        .await
        .expect("store the bcrypt hash");
    let version = db
        .get_user("alice")
        .await
        .expect("read")
        .expect("alice")
        .password_version;

    let credentials = basic("alice:correct horse battery staple");
    let mut headers = forward_auth_headers("app.example.com", "/", "GET");
    headers.push(("authorization", credentials.as_str()));
    assert_eq!(
        app.send("/api/authz/forward-auth", &headers).await.status,
        StatusCode::OK
    );

    // The re-hash runs after the response; give it up to five seconds.
    let mut stored = String::new();
    for _ in 0..50 {
        stored = db
            .get_user("alice")
            .await
            .expect("read")
            .expect("alice")
            .password_hash;
        if stored.starts_with("$argon2id$") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        stored.starts_with("$argon2id$v=19$m=64,t=1,p=1$"),
        "{stored}"
    );
    let user = db.get_user("alice").await.expect("read").expect("alice");
    assert_eq!(
        user.password_version, version,
        "the password itself did not change"
    );
    let verified =
        gatehouse::identity::hashing::verify_password("correct horse battery staple", &stored)
            .expect("a valid hash");
    assert!(verified.matches);
}

async fn other_instance_changes_seen_within_a_second(backend: Backend) {
    // Another instance (or the command line) shares the database but not this process's cache:
    // its logout or disable is seen once the cached row's lifetime has passed.
    let app = App::new(backend, SHARED_SETUP, "").await;
    let cookie = format!(
        "gatehouse_session={}",
        app.session("alice", Level::OneFactor).await
    );
    let mut headers = forward_auth_headers("app.example.com", "/", "GET");
    headers.push(("cookie", &cookie));
    assert_eq!(
        app.send("/api/authz/forward-auth", &headers).await.status,
        StatusCode::OK
    );

    let config = &app.services.config;
    let other_instance = gatehouse::storage::Database::connect(
        &gatehouse::cli::context::database_options(config),
        gatehouse::storage::Cipher::new(config.storage.encryption_key.expose()),
    )
    .await
    .expect("open the database as another instance");
    let ended = other_instance
        .delete_sessions_of_user("alice")
        .await
        .expect("end alice's sessions");
    assert_eq!(ended, 1);

    tokio::time::sleep(gatehouse::session::CACHE_LIFETIME + std::time::Duration::from_millis(200))
        .await;
    let answer = app.send("/api/authz/forward-auth", &headers).await;
    assert_eq!(
        answer.status,
        StatusCode::FOUND,
        "the session ended elsewhere is gone here too"
    );
    assert!(!answer.has_remote_headers());
}

async fn trailing_dot_needs_two_factor(backend: Backend) {
    // A trailing dot names the same host: it must not skip the two-factor rule for that host.
    let rules = "
access_control:
  default_policy: deny
  rules:
    - domain: 'admin.example.com'
      policy: two_factor
    - domain: '*.example.com'
      policy: one_factor
";
    let app = App::new(backend, rules, "").await;
    let one = format!(
        "gatehouse_session={}",
        app.session("alice", Level::OneFactor).await
    );
    let two = format!(
        "gatehouse_session={}",
        app.session("alice", Level::TwoFactor).await
    );
    for host in [
        "admin.example.com.",
        "ADMIN.example.com.",
        "admin.example.com.:443",
    ] {
        let mut headers = forward_auth_headers(host, "/", "GET");
        headers.push(("cookie", &one));
        let answer = app.send("/api/authz/forward-auth", &headers).await;
        assert_eq!(answer.status, StatusCode::FOUND, "1FA on {host}");
        assert_eq!(
            answer.header("location"),
            Some("https://auth.example.com/?rd=https%3A%2F%2Fadmin.example.com%2F&rm=GET")
        );
        let mut headers = forward_auth_headers(host, "/", "GET");
        headers.push(("cookie", &two));
        let answer = app.send("/api/authz/forward-auth", &headers).await;
        assert_eq!(answer.status, StatusCode::OK, "2FA on {host}");
        assert_eq!(answer.header("remote-user"), Some("alice"));
    }
    let answer = app
        .send(
            "/api/authz/auth-request",
            &[
                ("x-original-method", "GET"),
                ("x-original-url", "https://admin.example.com./"),
                ("cookie", &one),
            ],
        )
        .await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
}

async fn failed_basic_beats_session(backend: Backend) {
    let app = App::new(backend, SHARED_SETUP, "").await;
    let cookie = format!(
        "gatehouse_session={}",
        app.session("alice", Level::OneFactor).await
    );
    let wrong = basic("alice:not-her-password");
    let mut headers = forward_auth_headers("app.example.com", "/", "GET");
    headers.extend([
        ("authorization", wrong.as_str()),
        ("cookie", cookie.as_str()),
    ]);
    let answer = app.send("/api/authz/forward-auth", &headers).await;
    assert_eq!(
        answer.status,
        StatusCode::UNAUTHORIZED,
        "a failed header credential wins over the cookie"
    );
    assert_eq!(
        answer.header("www-authenticate"),
        Some("Basic realm=\"Authorization Required\"")
    );
    assert!(!answer.has_remote_headers());

    let mut bypass = forward_auth_headers("public.example.com", "/", "GET");
    bypass.push(("authorization", wrong.as_str()));
    let answer = app.send("/api/authz/forward-auth", &bypass).await;
    assert_eq!(
        answer.status,
        StatusCode::OK,
        "a bypass rule needs no identity"
    );
    assert!(!answer.has_remote_headers());
}

async fn portal_override_checked(backend: Backend) {
    let app = App::new(backend, SHARED_SETUP, "").await;
    let headers = forward_auth_headers("app.example.com", "/", "GET");
    let answer = app
        .send(
            "/api/authz/forward-auth?authelia_url=https%3A%2F%2Flogin.example.com%2Fsso%2F",
            &headers,
        )
        .await;
    assert_eq!(answer.status, StatusCode::FOUND);
    assert_eq!(
        answer.header("location"),
        Some("https://login.example.com/sso/?rd=https%3A%2F%2Fapp.example.com%2F&rm=GET")
    );
    for evil in [
        "https%3A%2F%2Fauth.example.com%2F%23fragment",
        "https%3A%2F%2Fauth.example.com%2F%2C%20https%3A%2F%2Fevil.example.net%2F",
        "https%3A%2F%2Fauth.example.com%2F&authelia_url=https%3A%2F%2Fauth.example.com%2F",
        "https%3A%2F%2Fevil.example.net%2F",
        "http%3A%2F%2Fauth.example.com%2F",
        "https%3A%2F%2Fauth.example.com.evil.example.net%2F",
        "https%3A%2F%2Fuser%40auth.example.com%2F",
    ] {
        let answer = app
            .send(
                &format!("/api/authz/forward-auth?authelia_url={evil}"),
                &headers,
            )
            .await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{evil}");
        assert_eq!(answer.header("location"), None, "{evil}");
    }
}

async fn busy_hashing_never_allows(backend: Backend) {
    // With the only hashing worker and the only queue place taken, a Basic check gets 503,
    // never 200, while a bypass rule still needs no identity.
    let app = App::with_hashing(backend, SHARED_SETUP, 1, 1).await;
    let pool = std::sync::Arc::clone(&app.services.pool);
    let slow = gatehouse::identity::hashing::hash_password(
        "x",
        &Argon2Params {
            variant: Argon2Variant::Argon2id,
            iterations: 12,
            memory_kib: 16384,
            parallelism: 1,
            key_length: 32,
            salt_length: 16,
        },
    )
    .expect("hash");
    // The first blocker must be running on the worker before the second takes the queue place,
    // so they are submitted one after the other; each takes far longer than these pauses.
    let mut blockers = Vec::new();
    for _ in 0..2 {
        let pool = std::sync::Arc::clone(&pool);
        let slow = slow.clone();
        blockers.push(tokio::spawn(async move {
            let _ = pool
                .verify(gatehouse::identity::secret::Password::from("y"), slow)
                .await;
        }));
        tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    }
    let good = basic("alice:correct-horse-1");
    let mut headers = forward_auth_headers("app.example.com", "/", "GET");
    headers.push(("authorization", good.as_str()));
    let answer = app.send("/api/authz/forward-auth", &headers).await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(answer.header("retry-after"), Some("1"));
    assert!(!answer.has_remote_headers());
    let mut bypass = forward_auth_headers("public.example.com", "/", "GET");
    bypass.push(("authorization", good.as_str()));
    assert_eq!(
        app.send("/api/authz/forward-auth", &bypass).await.status,
        StatusCode::OK
    );
    for blocker in blockers {
        blocker.abort();
    }
}

async fn ext_authz_reads_host_and_sub_path(backend: Backend) {
    let app = App::new(backend, SHARED_SETUP, "").await;
    let cookie = format!(
        "gatehouse_session={}",
        app.session("alice", Level::OneFactor).await
    );
    let headers = [
        ("host", "app.example.com"),
        ("x-forwarded-proto", "https"),
        ("accept", BROWSER_ACCEPT),
    ];
    let anonymous = app
        .send_from(
            "127.0.0.1:40000",
            "POST",
            "/api/authz/ext-authz//app/x?y=1",
            &headers,
        )
        .await;
    assert_eq!(anonymous.status, StatusCode::SEE_OTHER);
    assert_eq!(
        anonymous.header("location"),
        Some(
            "https://auth.example.com/?rd=https%3A%2F%2Fapp.example.com%2Fapp%2Fx%3Fy%3D1&rm=POST"
        )
    );
    let mut with_cookie = headers.to_vec();
    with_cookie.push(("cookie", &cookie));
    let allowed = app
        .send_from(
            "127.0.0.1:40000",
            "GET",
            "/api/authz/ext-authz/app/x",
            &with_cookie,
        )
        .await;
    assert_eq!(allowed.status, StatusCode::OK);
    assert_eq!(allowed.header("remote-user"), Some("alice"));
    // Over HTTP/2 the host is the request's authority, not a Host header.
    let http2_style = [("x-forwarded-proto", "https"), ("cookie", cookie.as_str())];
    let allowed = app
        .send(
            "http://app.example.com/api/authz/ext-authz/app/x",
            &http2_style,
        )
        .await;
    assert_eq!(allowed.status, StatusCode::OK);
    assert_eq!(allowed.header("remote-user"), Some("alice"));
    // Two URLs joined in one header value are two values, never one picked.
    let joined = [
        ("host", "app.example.com"),
        ("x-forwarded-proto", "https"),
        (
            "x-authelia-url",
            "https://auth.example.com/, https://evil.example.net/",
        ),
    ];
    assert_eq!(
        app.send("/api/authz/ext-authz/", &joined).await.status,
        StatusCode::BAD_REQUEST
    );
    let evil_portal = [
        ("host", "app.example.com"),
        ("x-forwarded-proto", "https"),
        ("x-authelia-url", "https://evil.example.net/"),
    ];
    assert_eq!(
        app.send("/api/authz/ext-authz/", &evil_portal).await.status,
        StatusCode::BAD_REQUEST
    );
}

async fn non_ascii_identity_sent_as_utf8(backend: Backend) {
    // Non-ASCII names and groups are sent as UTF-8 bytes, never a 500 or a second header line.
    let app = App::new(backend, SHARED_SETUP, "").await;
    let record = UserRecord {
        username: "zoe".to_owned(),
        display_name: "Zoë Ålvarez-Nuñez".to_owned(),
        email: Some("zoe@example.com".to_owned()),
        password_hash: hash_password("zoe-password-1", &cheap_params()).expect("hash"),
        disabled: false,
        groups: vec!["dev".to_owned(), "ops team".to_owned()],
    };
    app.services
        .db
        .create_user(&record, START_MILLIS)
        .await
        .expect("create zoe");
    let cookie = format!(
        "gatehouse_session={}",
        app.session("zoe", Level::OneFactor).await
    );
    let mut headers = forward_auth_headers("app.example.com", "/", "GET");
    headers.push(("cookie", &cookie));
    let answer = app.send("/api/authz/forward-auth", &headers).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.header("remote-user"), Some("zoe"));
    assert_eq!(answer.header("remote-groups"), Some("dev,ops team"));
    assert_eq!(answer.header("remote-email"), Some("zoe@example.com"));
    let name = answer
        .headers
        .get("remote-name")
        .expect("Remote-Name")
        .as_bytes();
    assert_eq!(name, "Zoë Ålvarez-Nuñez".as_bytes());
}

async fn admin_changes_end_access_at_once(backend: Backend) {
    // Admin changes to users in the database reach open sessions at once.
    let rules = "access_control:\n  default_policy: deny\n  rules:\n    - domain: 'dev.example.com'\n      subject: 'group:dev'\n      policy: one_factor\n";
    let app = App::new(backend, rules, "").await;
    let check = |cookie: String| {
        let app = &app;
        async move {
            let mut headers = forward_auth_headers("dev.example.com", "/", "GET");
            headers.push(("cookie", cookie.as_str()));
            app.send("/api/authz/forward-auth", &headers).await
        }
    };
    let cookie = format!(
        "gatehouse_session={}",
        app.session("alice", Level::OneFactor).await
    );
    let answer = check(cookie.clone()).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.header("remote-groups"), Some("dev"));

    app.services
        .db
        .set_user_groups("alice", &["ops".to_owned()], START_MILLIS)
        .await
        .expect("change groups");
    assert_eq!(
        check(cookie.clone()).await.status,
        StatusCode::FORBIDDEN,
        "the group change is seen at once"
    );

    app.services
        .db
        .set_user_disabled("alice", true, START_MILLIS)
        .await
        .expect("disable");
    assert_eq!(
        check(cookie).await.status,
        StatusCode::FOUND,
        "disabling ends the session at once"
    );
}

async fn anonymous_browser_redirected(backend: Backend) {
    let app = App::new(backend, SHARED_SETUP, "").await;
    let answer = app
        .send(
            "/api/authz/forward-auth",
            &forward_auth_headers("app.example.com", "/dashboard?tab=1", "GET"),
        )
        .await;
    assert_eq!(answer.status, StatusCode::FOUND);
    let location =
        "https://auth.example.com/?rd=https%3A%2F%2Fapp.example.com%2Fdashboard%3Ftab%3D1&rm=GET";
    assert_eq!(answer.header("location"), Some(location));
    assert_eq!(
        answer.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(
        answer.body,
        format!(
            "<a href=\"{}\">302 Found</a>",
            location.replace('&', "&amp;")
        )
    );
    assert!(!answer.has_remote_headers());
    assert!(
        answer.header("set-cookie").is_none(),
        "no session is made for an anonymous request"
    );
}

async fn redirect_status_by_method_and_accept(backend: Backend) {
    let app = App::new(backend, SHARED_SETUP, "").await;
    let post = app
        .send(
            "/api/authz/forward-auth",
            &forward_auth_headers("app.example.com", "/form", "POST"),
        )
        .await;
    assert_eq!(post.status, StatusCode::SEE_OTHER);
    assert_eq!(
        post.header("location"),
        Some("https://auth.example.com/?rd=https%3A%2F%2Fapp.example.com%2Fform&rm=POST")
    );

    let mut json = forward_auth_headers("app.example.com", "/", "GET");
    json.retain(|(name, _)| *name != "accept");
    json.push(("accept", "application/json"));
    let answer = app.send("/api/authz/forward-auth", &json).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        answer.header("location"),
        Some("https://auth.example.com/?rd=https%3A%2F%2Fapp.example.com%2F&rm=GET")
    );

    let mut xhr = forward_auth_headers("app.example.com", "/", "GET");
    xhr.push(("x-requested-with", "XMLHttpRequest"));
    assert_eq!(
        app.send("/api/authz/forward-auth", &xhr).await.status,
        StatusCode::UNAUTHORIZED
    );

    let head = app
        .send_from(
            "127.0.0.1:40000",
            "HEAD",
            "/api/authz/forward-auth",
            &forward_auth_headers("app.example.com", "/", "GET"),
        )
        .await;
    assert_eq!(head.status, StatusCode::FOUND);
    assert_eq!(head.body, "", "a HEAD authz request gets no body");
}

async fn auth_request_always_401(backend: Backend) {
    let app = App::new(backend, SHARED_SETUP, "").await;
    let answer = app
        .send(
            "/api/authz/auth-request",
            &[
                ("x-original-method", "GET"),
                ("x-original-url", "https://app.example.com/dashboard"),
                ("x-forwarded-for", "203.0.113.7"),
                ("accept", BROWSER_ACCEPT),
            ],
        )
        .await;
    // A browser navigation that would get 302 on forward-auth gets 401 here: NGINX cannot
    // follow a redirect from auth_request and builds it from Location itself.
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    let location = "https://auth.example.com/?rd=https%3A%2F%2Fapp.example.com%2Fdashboard&rm=GET";
    assert_eq!(answer.header("location"), Some(location));
    assert_eq!(
        answer.body,
        format!(
            "<a href=\"{}\">401 Unauthorized</a>",
            location.replace('&', "&amp;")
        )
    );
    let post = app
        .send(
            "/api/authz/auth-request",
            &[
                ("x-original-method", "POST"),
                ("x-original-url", "https://app.example.com/form"),
                ("accept", BROWSER_ACCEPT),
            ],
        )
        .await;
    assert_eq!(post.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        post.header("location"),
        Some("https://auth.example.com/?rd=https%3A%2F%2Fapp.example.com%2Fform&rm=POST")
    );

    // An OPTIONS preflight on a bypass rule by method: the original method decides, not the
    // authz request's own GET.
    let app = App::new(
        backend,
        "
access_control:
  default_policy: deny
  rules:
    - domain: 'api.example.com'
      methods: ['OPTIONS']
      policy: bypass
    - domain: 'api.example.com'
      policy: two_factor
",
        "",
    )
    .await;
    let answer = app
        .send(
            "/api/authz/auth-request",
            &[
                ("x-original-method", "OPTIONS"),
                ("x-original-url", "https://api.example.com/v1/items"),
            ],
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(!answer.has_remote_headers());
}

async fn legacy_endpoint_answers(backend: Backend) {
    let app = App::new(backend, SHARED_SETUP, "").await;
    let headers = [
        ("x-forwarded-proto", "https"),
        ("x-forwarded-host", "app.example.com"),
        ("x-forwarded-uri", "/"),
        ("x-forwarded-method", "GET"),
        ("accept", "text/html"),
    ];
    let answer = app
        .send("/api/verify?rd=https%3A%2F%2Fauth.example.com%2F", &headers)
        .await;
    assert_eq!(answer.status, StatusCode::FOUND);
    assert_eq!(
        answer.header("location"),
        Some("https://auth.example.com/?rd=https%3A%2F%2Fapp.example.com%2F&rm=GET")
    );

    let bare = app.send("/api/verify", &headers).await;
    assert_eq!(bare.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        bare.header("location"),
        None,
        "without rd the legacy endpoint has no portal to name"
    );

    let evil_portal = app
        .send("/api/verify?rd=https%3A%2F%2Fevil.example.net%2F", &headers)
        .await;
    assert_eq!(
        evil_portal.status,
        StatusCode::UNAUTHORIZED,
        "a portal override outside the cookie domain is a bad request"
    );
    assert_eq!(evil_portal.header("location"), None);

    let with_basic = app.send("/api/verify?auth=basic", &headers).await;
    assert_eq!(with_basic.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        with_basic.header("www-authenticate"),
        Some("Basic realm=\"Authorization Required\"")
    );
}

async fn bad_requests_fail_closed(backend: Backend) {
    let app = App::new(backend, "access_control:\n  default_policy: deny\n  rules:\n    - domain: 'app.example.com'\n      policy: two_factor\n", "").await;
    let cookie = format!(
        "gatehouse_session={}",
        app.session("alice", Level::TwoFactor).await
    );

    // Malformed X-Original-URL values on auth-request (400) and legacy (401), never 200.
    let bad_urls = [
        "https://app.example.com/%zz/../admin",
        "https://app.example.com:99999/",
        "https://app.example.com/a b",
        "://app.example.com/",
        "",
    ];
    for url in bad_urls {
        for (path, expected) in [
            ("/api/authz/auth-request", StatusCode::BAD_REQUEST),
            ("/api/verify", StatusCode::UNAUTHORIZED),
        ] {
            // A valid forwarded set beside the bad URL: the legacy endpoint must not fall back to it.
            let answer = app
                .send(
                    path,
                    &[
                        ("x-original-method", "GET"),
                        ("x-original-url", url),
                        ("x-forwarded-method", "GET"),
                        ("x-forwarded-proto", "https"),
                        ("x-forwarded-host", "app.example.com"),
                        ("x-forwarded-uri", "/"),
                        ("cookie", &cookie),
                    ],
                )
                .await;
            assert_eq!(
                answer.status, expected,
                "{path} with X-Original-URL {url:?}"
            );
            assert!(!answer.has_remote_headers(), "{path} {url:?}");
            assert_eq!(answer.header("location"), None, "{path} {url:?}");
            assert!(
                !answer.body.contains("app.example.com"),
                "the body never echoes a header: {}",
                answer.body
            );
        }
    }
    let missing = app
        .send(
            "/api/authz/auth-request",
            &[("x-original-method", "GET"), ("cookie", &cookie)],
        )
        .await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);

    // Forward-auth rows of the malformed examples, and the same on the legacy endpoint.
    let rows: [(&str, &str, &str, &str); 6] = [
        ("https", "", "/", "no X-Forwarded-Host"),
        ("http", "app.example.com", "/", "http scheme"),
        ("https", "app.example.com:abc", "/", "port not a number"),
        ("https", "app.example.com", "/%zz", "bad percent escape"),
        (
            "https",
            "evilexample.com",
            "/",
            "outside every cookie domain",
        ),
        ("https", "2001:db8::1", "/", "unbracketed IPv6"),
    ];
    for (proto, host, uri, why) in rows {
        let mut headers = vec![
            ("x-forwarded-method", "GET"),
            ("x-forwarded-proto", proto),
            ("x-forwarded-uri", uri),
            ("cookie", cookie.as_str()),
            ("accept", BROWSER_ACCEPT),
        ];
        if !host.is_empty() {
            headers.push(("x-forwarded-host", host));
        }
        let answer = app.send("/api/authz/forward-auth", &headers).await;
        assert_eq!(
            answer.status,
            StatusCode::BAD_REQUEST,
            "forward-auth: {why}"
        );
        assert!(!answer.has_remote_headers(), "{why}");
        let legacy = app.send("/api/verify", &headers).await;
        assert_eq!(legacy.status, StatusCode::UNAUTHORIZED, "legacy: {why}");
        assert!(!legacy.has_remote_headers(), "{why}");
    }

    // A destination header given twice is never resolved by picking one.
    let twice = app
        .send(
            "/api/authz/forward-auth",
            &[
                ("x-forwarded-method", "GET"),
                ("x-forwarded-proto", "https"),
                ("x-forwarded-host", "app.example.com, evil.example.net"),
                ("x-forwarded-uri", "/"),
                ("cookie", &cookie),
            ],
        )
        .await;
    assert_eq!(twice.status, StatusCode::BAD_REQUEST);
}

async fn allowed_sends_identity_headers(backend: Backend) {
    let app = App::new(backend, SHARED_SETUP, "").await;
    let cookie = format!(
        "gatehouse_session={}",
        app.session("alice", Level::OneFactor).await
    );
    let mut headers = forward_auth_headers("app.example.com", "/", "GET");
    headers.push(("cookie", &cookie));
    // Identity headers written by the client are never copied into the response.
    headers.push(("remote-user", "bob"));
    headers.push(("remote-groups", "admins"));
    let answer = app.send("/api/authz/forward-auth", &headers).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.header("remote-user"), Some("alice"));
    assert_eq!(answer.header("remote-groups"), Some("dev"));
    assert_eq!(answer.header("remote-email"), Some("alice@example.com"));
    assert_eq!(answer.header("remote-name"), Some("Alice Example"));
    assert_eq!(answer.headers.get_all("remote-user").iter().count(), 1);
    assert!(answer.header("set-cookie").is_none());
}

async fn bypass_sends_no_identity(backend: Backend) {
    let app = App::new(backend, SHARED_SETUP, "").await;
    let mut headers = forward_auth_headers("public.example.com", "/", "GET");
    headers.extend([
        ("remote-user", "bob"),
        ("remote-groups", "admins"),
        ("remote-email", "bob@example.com"),
        ("remote-name", "Bob Example"),
    ]);
    let answer = app.send("/api/authz/forward-auth", &headers).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(
        !answer.has_remote_headers(),
        "an anonymous bypass answer carries no identity headers"
    );

    let denied = app
        .send(
            "/api/authz/forward-auth",
            &forward_auth_headers("other.example.com", "/", "GET"),
        )
        .await;
    assert_eq!(
        denied.status,
        StatusCode::FORBIDDEN,
        "default policy deny for anonymous without a subject rule"
    );
    assert_eq!(denied.body, "403 Forbidden");
}

async fn one_factor_session_needs_second_for_two_factor(backend: Backend) {
    // A session still waiting for its second factor does not pass a two-factor rule.
    let app = App::new(backend, SHARED_SETUP, "").await;
    let one = format!(
        "gatehouse_session={}",
        app.session("alice", Level::OneFactor).await
    );
    let mut headers = forward_auth_headers("secure.example.com", "/", "GET");
    headers.push(("cookie", &one));
    let answer = app.send("/api/authz/forward-auth", &headers).await;
    assert_eq!(answer.status, StatusCode::FOUND);
    assert_eq!(
        answer.header("location"),
        Some("https://auth.example.com/?rd=https%3A%2F%2Fsecure.example.com%2F&rm=GET")
    );
    assert!(!answer.has_remote_headers());

    let two = format!(
        "gatehouse_session={}",
        app.session("alice", Level::TwoFactor).await
    );
    let mut headers = forward_auth_headers("secure.example.com", "/", "GET");
    headers.push(("cookie", &two));
    let answer = app.send("/api/authz/forward-auth", &headers).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.header("remote-user"), Some("alice"));
    assert_eq!(answer.header("remote-groups"), Some("dev"));
}

async fn host_case_and_trailing_dot(backend: Backend) {
    // Host case and a trailing dot cannot skip the rule written for the canonical host.
    let rules = "
access_control:
  default_policy: deny
  rules:
    - domain: 'admin.example.com'
      subject: 'group:admins'
      policy: one_factor
    - domain: 'admin.example.com'
      policy: deny
    - domain: '*.example.com'
      policy: one_factor
";
    let app = App::new(backend, rules, "").await;
    let alice = format!(
        "gatehouse_session={}",
        app.session("alice", Level::OneFactor).await
    );
    let bob = format!(
        "gatehouse_session={}",
        app.session("bob", Level::OneFactor).await
    );
    for host in [
        "ADMIN.Example.COM",
        "Admin.example.com",
        "admin.example.com.",
        "ADMIN.example.com.:443",
    ] {
        let mut headers = forward_auth_headers(host, "/", "GET");
        headers.push(("cookie", &alice));
        assert_eq!(
            app.send("/api/authz/forward-auth", &headers).await.status,
            StatusCode::FORBIDDEN,
            "alice on {host}"
        );
        let mut headers = forward_auth_headers(host, "/", "GET");
        headers.push(("cookie", &bob));
        let answer = app.send("/api/authz/forward-auth", &headers).await;
        assert_eq!(answer.status, StatusCode::OK, "bob on {host}");
        assert_eq!(answer.header("remote-user"), Some("bob"));
    }
    let answer = app
        .send(
            "/api/authz/auth-request",
            &[
                ("x-original-method", "GET"),
                ("x-original-url", "https://ADMIN.example.com/"),
                ("cookie", &alice),
            ],
        )
        .await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);

    let mut two_dots = forward_auth_headers("admin.example.com..", "/", "GET");
    two_dots.push(("cookie", &bob));
    assert_eq!(
        app.send("/api/authz/forward-auth", &two_dots).await.status,
        StatusCode::BAD_REQUEST
    );

    // The port is split off for rules and kept (unless default) in rd.
    let anonymous = app
        .send(
            "/api/authz/forward-auth",
            &forward_auth_headers("app.example.com:8443", "/", "GET"),
        )
        .await;
    assert_eq!(anonymous.status, StatusCode::FOUND);
    assert_eq!(
        anonymous.header("location"),
        Some("https://auth.example.com/?rd=https%3A%2F%2Fapp.example.com%3A8443%2F&rm=GET")
    );
    let anonymous = app
        .send(
            "/api/authz/forward-auth",
            &forward_auth_headers("app.example.com:443", "/", "GET"),
        )
        .await;
    assert_eq!(
        anonymous.header("location"),
        Some("https://auth.example.com/?rd=https%3A%2F%2Fapp.example.com%2F&rm=GET")
    );
    for host in [
        "[2001:db8::1]:8443",
        "[2001:db8::1]",
        "admin.example.com:99999",
    ] {
        let answer = app
            .send(
                "/api/authz/forward-auth",
                &forward_auth_headers(host, "/", "GET"),
            )
            .await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{host}");
    }
}

async fn wildcard_label_boundaries(backend: Backend) {
    // A wildcard matches on DNS label boundaries only.
    let app = App::new(backend, "access_control:\n  default_policy: deny\n  rules:\n    - domain: '*.example.com'\n      policy: one_factor\n", "").await;
    let alice = format!(
        "gatehouse_session={}",
        app.session("alice", Level::OneFactor).await
    );
    let rows = [
        ("app.example.com", StatusCode::FOUND, StatusCode::OK),
        ("a.b.example.com", StatusCode::FOUND, StatusCode::OK),
        ("example.com", StatusCode::FORBIDDEN, StatusCode::FORBIDDEN),
        (
            "evilexample.com",
            StatusCode::BAD_REQUEST,
            StatusCode::BAD_REQUEST,
        ),
        (
            "xexample.com",
            StatusCode::BAD_REQUEST,
            StatusCode::BAD_REQUEST,
        ),
        (
            "example.com.evil.net",
            StatusCode::BAD_REQUEST,
            StatusCode::BAD_REQUEST,
        ),
        (
            "app.example.community",
            StatusCode::BAD_REQUEST,
            StatusCode::BAD_REQUEST,
        ),
    ];
    for (host, anonymous, logged_in) in rows {
        assert_eq!(
            app.send(
                "/api/authz/forward-auth",
                &forward_auth_headers(host, "/", "GET")
            )
            .await
            .status,
            anonymous,
            "anonymous {host}"
        );
        let mut headers = forward_auth_headers(host, "/", "GET");
        headers.push(("cookie", &alice));
        let answer = app.send("/api/authz/forward-auth", &headers).await;
        assert_eq!(answer.status, logged_in, "alice {host}");
        if logged_in == StatusCode::OK {
            assert_eq!(answer.header("remote-user"), Some("alice"));
        }
    }
}

async fn dot_segments_cannot_bypass(backend: Backend) {
    // Extra slashes and dot segments cannot walk around a path rule.
    let rules = "
access_control:
  default_policy: deny
  rules:
    - domain: 'app.example.com'
      resources: ['^/public/']
      policy: bypass
    - domain: 'app.example.com'
      resources: ['^/admin([/?].*)?$']
      policy: deny
    - domain: 'app.example.com'
      policy: one_factor
";
    let app = App::new(backend, rules, "").await;
    let alice = format!(
        "gatehouse_session={}",
        app.session("alice", Level::OneFactor).await
    );
    for uri in [
        "//admin",
        "/./admin",
        "/x/../admin",
        "/admin/.",
        "///admin/users",
        "/%61dmin",
        "/admin;x",
        "/admin;.css",
        "/ADMIN/../admin",
    ] {
        let mut headers = forward_auth_headers("app.example.com", uri, "GET");
        headers.push(("cookie", &alice));
        assert_eq!(
            app.send("/api/authz/forward-auth", &headers).await.status,
            StatusCode::FORBIDDEN,
            "{uri}"
        );
    }
    assert_eq!(
        app.send(
            "/api/authz/forward-auth",
            &forward_auth_headers("app.example.com", "/public/../admin/users", "GET")
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
    let secret = app
        .send(
            "/api/authz/forward-auth",
            &forward_auth_headers("app.example.com", "/public/./../secret", "GET"),
        )
        .await;
    assert_eq!(secret.status, StatusCode::FOUND);
    assert_eq!(
        app.send(
            "/api/authz/forward-auth",
            &forward_auth_headers("app.example.com", "/public/style.css", "GET")
        )
        .await
        .status,
        StatusCode::OK
    );
}

async fn client_ip_from_trusted_proxies(backend: Backend) {
    // The client is the right-most untrusted X-Forwarded-For entry; anything unreadable is
    // unknown, and an unknown client meets no network criterion.
    let rules = "
access_control:
  default_policy: deny
  networks:
    - name: 'internal'
      networks: ['10.0.0.0/8']
  rules:
    - domain: 'app.example.com'
      networks: ['internal']
      policy: bypass
    - domain: 'app.example.com'
      policy: one_factor
";
    let app = App::new(
        backend,
        rules,
        "server:\n  trusted_proxies: ['10.0.0.2/32']\n",
    )
    .await;
    let base = |xff: &'static str| {
        let mut headers = vec![
            ("x-forwarded-method", "GET"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "app.example.com"),
            ("x-forwarded-uri", "/"),
            ("accept", BROWSER_ACCEPT),
        ];
        if !xff.is_empty() {
            headers.push(("x-forwarded-for", xff));
        }
        headers
    };
    for xff in [
        "a",
        "999.1.1.1",
        "10.0.0.1.evil",
        "10.0.0.1, a",
        "10.0.0.7, 198.51.100.7",
    ] {
        let answer = app
            .send_from(
                "10.0.0.2:5000",
                "GET",
                "/api/authz/forward-auth",
                &base(xff),
            )
            .await;
        assert_eq!(answer.status, StatusCode::FOUND, "X-Forwarded-For {xff:?}");
    }
    let mut empty = base("");
    empty.push(("x-forwarded-for", ""));
    assert_eq!(
        app.send_from("10.0.0.2:5000", "GET", "/api/authz/forward-auth", &empty)
            .await
            .status,
        StatusCode::FOUND
    );
    let mut two_lines = base("10.0.0.7");
    two_lines.push(("x-forwarded-for", "203.0.113.9"));
    assert_eq!(
        app.send_from(
            "10.0.0.2:5000",
            "GET",
            "/api/authz/forward-auth",
            &two_lines
        )
        .await
        .status,
        StatusCode::FOUND
    );

    let internal = app
        .send_from(
            "10.0.0.2:5000",
            "GET",
            "/api/authz/forward-auth",
            &base("10.0.0.7"),
        )
        .await;
    assert_eq!(
        internal.status,
        StatusCode::OK,
        "a real internal client is bypassed"
    );
    let direct = app
        .send_from(
            "198.51.100.7:5000",
            "GET",
            "/api/authz/forward-auth",
            &base("10.0.0.7"),
        )
        .await;
    assert_eq!(
        direct.status,
        StatusCode::BAD_REQUEST,
        "forwarded headers from an untrusted peer are not used"
    );
    assert!(!direct.has_remote_headers());
}

async fn anonymous_subject_rule_asks_login(backend: Backend) {
    // An anonymous request is sent to log in where logging in could satisfy a subject rule.
    let rules = "
access_control:
  default_policy: deny
  rules:
    - domain: 'admin.example.com'
      subject: 'group:admins'
      policy: one_factor
    - domain_regex: '^(?P<User>\\w+)\\.home\\.example\\.com$'
      policy: one_factor
";
    let app = App::new(backend, rules, "").await;
    let alice = format!(
        "gatehouse_session={}",
        app.session("alice", Level::OneFactor).await
    );
    let bob = format!(
        "gatehouse_session={}",
        app.session("bob", Level::OneFactor).await
    );
    let send = |host: &'static str, cookie: Option<&str>| {
        let mut headers = forward_auth_headers(host, "/", "GET");
        let cookie = cookie.map(str::to_owned);
        if let Some(cookie) = &cookie {
            headers.push(("cookie", cookie.as_str()));
            let _ = &headers;
        }
        (
            headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect::<Vec<_>>(),
            host,
        )
    };
    let call = |pair: (Vec<(String, String)>, &'static str)| {
        let app = &app;
        async move {
            let headers: Vec<(&str, &str)> = pair
                .0
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect();
            app.send("/api/authz/forward-auth", &headers).await
        }
    };
    assert_eq!(
        call(send("admin.example.com", None)).await.status,
        StatusCode::FOUND
    );
    assert_eq!(
        call(send("alice.home.example.com", None)).await.status,
        StatusCode::FOUND
    );
    assert_eq!(
        call(send("admin.example.com", Some(&alice))).await.status,
        StatusCode::FORBIDDEN
    );
    let answer = call(send("admin.example.com", Some(&bob))).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.header("remote-groups"), Some("admins"));
    assert_eq!(
        call(send("alice.home.example.com", Some(&alice)))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        call(send("bob.home.example.com", Some(&alice)))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        call(send("other.example.com", None)).await.status,
        StatusCode::FORBIDDEN
    );
}

async fn method_rules_use_original_method(backend: Backend) {
    // Method rules use the original method, and a lower-case method is a bad request.
    let rules = "
access_control:
  default_policy: deny
  rules:
    - domain: 'api.example.com'
      methods: ['OPTIONS']
      policy: bypass
    - domain: 'api.example.com'
      methods: ['GET', 'HEAD']
      policy: one_factor
    - domain: 'api.example.com'
      policy: two_factor
";
    let app = App::new(backend, rules, "").await;
    let alice = format!(
        "gatehouse_session={}",
        app.session("alice", Level::OneFactor).await
    );
    let mut preflight = forward_auth_headers("api.example.com", "/v1/items", "OPTIONS");
    preflight.extend([
        ("origin", "https://web.example.com"),
        ("access-control-request-method", "POST"),
    ]);
    let answer = app.send("/api/authz/forward-auth", &preflight).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(!answer.has_remote_headers());

    let post = app
        .send(
            "/api/authz/forward-auth",
            &forward_auth_headers("api.example.com", "/v1/items", "POST"),
        )
        .await;
    assert_eq!(post.status, StatusCode::SEE_OTHER);
    assert!(post
        .header("location")
        .unwrap_or_default()
        .ends_with("&rm=POST"));

    for method in ["GET", "HEAD"] {
        let mut headers = forward_auth_headers("api.example.com", "/v1/items", method);
        headers.push(("cookie", &alice));
        assert_eq!(
            app.send("/api/authz/forward-auth", &headers).await.status,
            StatusCode::OK,
            "{method}"
        );
    }
    let mut post = forward_auth_headers("api.example.com", "/v1/items", "POST");
    post.push(("cookie", &alice));
    assert_eq!(
        app.send("/api/authz/forward-auth", &post).await.status,
        StatusCode::SEE_OTHER
    );
    let mut lower = forward_auth_headers("api.example.com", "/v1/items", "post");
    lower.push(("cookie", &alice));
    assert_eq!(
        app.send("/api/authz/forward-auth", &lower).await.status,
        StatusCode::BAD_REQUEST
    );

    // A method override names a method the GET rule does not list.
    let mut overridden = forward_auth_headers("api.example.com", "/v1/items", "GET");
    overridden.push(("cookie", &alice));
    overridden.push(("x-http-method-override", "DELETE"));
    assert_eq!(
        app.send("/api/authz/forward-auth", &overridden)
            .await
            .status,
        StatusCode::FOUND
    );
}

async fn basic_credentials(backend: Backend) {
    // Basic credentials split at the first colon only, because alice's password contains colons.
    let app = App::new(backend, SHARED_SETUP, "").await;
    let hash = hash_password("s3cr:t:pass", &cheap_params()).expect("hash");
    app.services
        .db
        .set_password_hash("alice", &hash, START_MILLIS)
        .await
        .expect("set the password");

    let good = basic("alice:s3cr:t:pass");
    for (name, value) in [
        ("authorization", good.as_str()),
        ("authorization", &format!("basic {}", &good[6..])),
        ("proxy-authorization", good.as_str()),
    ] {
        let mut headers = forward_auth_headers("app.example.com", "/", "GET");
        headers.push((name, value));
        let answer = app.send("/api/authz/forward-auth", &headers).await;
        assert_eq!(answer.status, StatusCode::OK, "{name}: {value}");
        assert_eq!(answer.header("remote-user"), Some("alice"));
        assert_eq!(answer.header("remote-groups"), Some("dev"));
        assert_eq!(answer.header("remote-email"), Some("alice@example.com"));
        assert_eq!(answer.header("remote-name"), Some("Alice Example"));
    }
    let legacy = app
        .send(
            "/api/verify",
            &[
                ("x-forwarded-method", "GET"),
                ("x-forwarded-proto", "https"),
                ("x-forwarded-host", "app.example.com"),
                ("x-forwarded-uri", "/"),
                ("proxy-authorization", &good),
            ],
        )
        .await;
    assert_eq!(legacy.status, StatusCode::OK);
    assert_eq!(legacy.header("remote-user"), Some("alice"));

    for value in [
        basic("alice:s3cr"),
        basic("alice"),
        "Basic !!notbase64!!".to_owned(),
    ] {
        let mut headers = forward_auth_headers("app.example.com", "/", "GET");
        headers.push(("authorization", &value));
        let answer = app.send("/api/authz/forward-auth", &headers).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{value}");
        assert_eq!(
            answer.header("www-authenticate"),
            Some("Basic realm=\"Authorization Required\"")
        );
        assert_eq!(answer.header("location"), None);
        assert!(!answer.has_remote_headers());
    }

    // Another scheme belongs to the application: it is absent, so the session still counts.
    let cookie = format!(
        "gatehouse_session={}",
        app.session("alice", Level::OneFactor).await
    );
    let mut headers = forward_auth_headers("app.example.com", "/", "GET");
    headers.extend([
        ("authorization", "Bearer abc.def"),
        ("cookie", cookie.as_str()),
    ]);
    assert_eq!(
        app.send("/api/authz/forward-auth", &headers).await.status,
        StatusCode::OK
    );

    // Basic never reaches two factors: a two-factor target gets the challenge.
    let mut headers = forward_auth_headers("secure.example.com", "/", "GET");
    headers.push(("authorization", &good));
    let answer = app.send("/api/authz/forward-auth", &headers).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        answer.header("www-authenticate"),
        Some("Basic realm=\"Authorization Required\"")
    );
}

async fn forward_auth_only_get_and_head(backend: Backend) {
    let app = App::new(backend, SHARED_SETUP, "").await;
    let answer = app
        .send_from(
            "127.0.0.1:40000",
            "POST",
            "/api/authz/forward-auth",
            &forward_auth_headers("app.example.com", "/", "GET"),
        )
        .await;
    assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED);
    let legacy = app
        .send_from(
            "127.0.0.1:40000",
            "POST",
            "/api/verify/sub/path?rd=https%3A%2F%2Fauth.example.com%2F",
            &[
                ("x-forwarded-method", "GET"),
                ("x-forwarded-proto", "https"),
                ("x-forwarded-host", "public.example.com"),
                ("x-forwarded-uri", "/"),
            ],
        )
        .await;
    assert_eq!(
        legacy.status,
        StatusCode::OK,
        "the legacy endpoint takes any method and sub-path"
    );
}

async fn websocket_headers_ignored(backend: Backend) {
    // WebSocket upgrade headers copied from the client are information, not instructions.
    let app = App::new(backend, SHARED_SETUP, "").await;
    let cookie = format!(
        "gatehouse_session={}",
        app.session("alice", Level::TwoFactor).await
    );
    let mut headers = forward_auth_headers("secure.example.com", "/socket", "GET");
    headers.extend([
        ("connection", "Upgrade"),
        ("upgrade", "websocket"),
        ("sec-websocket-version", "13"),
        ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ("cookie", cookie.as_str()),
    ]);
    let answer = app.send("/api/authz/forward-auth", &headers).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.header("remote-user"), Some("alice"));
    assert!(answer.header("upgrade").is_none());
    assert!(answer.header("sec-websocket-accept").is_none());
}

async fn forged_session_ids_anonymous(backend: Backend) {
    // Session ids the client made up, or that a rise of level replaced, are anonymous.
    let app = App::new(backend, SHARED_SETUP, "").await;
    let first = app.session("alice", Level::OneFactor).await;
    // 43 characters of URL-safe base64 is the shape of a real id, so this one reaches the store.
    for value in ["attacker-chosen-0001", "", "A".repeat(43).as_str()] {
        let cookie = format!("gatehouse_session={value}");
        let mut headers = forward_auth_headers("app.example.com", "/", "GET");
        headers.push(("cookie", &cookie));
        assert_eq!(
            app.send("/api/authz/forward-auth", &headers).await.status,
            StatusCode::FOUND,
            "{value:?}"
        );
    }
    // A 1FA cookie whose session was raised to 2FA is dead: the raise issued a new id.
    let raised_from = app.session("alice", Level::OneFactor).await;
    let domain = &app.services.authz.cookie_domains[0].config;
    let session = app
        .services
        .sessions
        .resolve(&cookie_headers(&raised_from), domain)
        .await
        .session
        .expect("the 1FA session resolves");
    app.services
        .sessions
        .raise_level(session, domain, Level::TwoFactor)
        .await
        .expect("raise the level");
    let old = format!("gatehouse_session={raised_from}");
    let mut headers = forward_auth_headers("app.example.com", "/", "GET");
    headers.push(("cookie", &old));
    let replay = app.send("/api/authz/forward-auth", &headers).await;
    assert_eq!(replay.status, StatusCode::FOUND);
    assert!(replay
        .header("set-cookie")
        .unwrap_or_default()
        .contains("Max-Age=0"));

    // Two session cookies make the session ambiguous, which is anonymous.
    let doubled = format!("gatehouse_session={first}; gatehouse_session=attacker-chosen-0001");
    let mut headers = forward_auth_headers("app.example.com", "/", "GET");
    headers.push(("cookie", &doubled));
    assert_eq!(
        app.send("/api/authz/forward-auth", &headers).await.status,
        StatusCode::FOUND
    );

    // Inactivity: five minutes and ten seconds later the session is gone and the cookie cleared.
    app.clock.advance_millis(310_000);
    let cookie = format!("gatehouse_session={first}");
    let mut headers = forward_auth_headers("app.example.com", "/", "GET");
    headers.push(("cookie", &cookie));
    let answer = app.send("/api/authz/forward-auth", &headers).await;
    assert_eq!(answer.status, StatusCode::FOUND);
    let cleared = answer.header("set-cookie").unwrap_or_default();
    assert!(cleared.starts_with("gatehouse_session=;"), "{cleared}");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
}

async fn large_headers_accepted(backend: Backend) {
    // 12 KiB of cookies and an 8 KiB URI pass at the router level; the 431 above the limit is
    // tested against the real server in http.rs.
    let app = App::new(backend, SHARED_SETUP, "").await;
    let session = app.session("alice", Level::TwoFactor).await;
    let cookie = format!(
        "other={}; gatehouse_session={session}; more={}",
        "a".repeat(6 * 1024),
        "b".repeat(6 * 1024)
    );
    let uri = format!("/search?q={}", "c".repeat(8 * 1024));
    let mut headers = forward_auth_headers("secure.example.com", &uri, "GET");
    headers.push(("cookie", &cookie));
    let answer = app.send("/api/authz/forward-auth", &headers).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.header("remote-user"), Some("alice"));
}
