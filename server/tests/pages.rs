//! The portal's pages and the form bridge against the real router, on SQLite and PostgreSQL:
//! security headers, the form token, Post/Redirect/Get, redirect safety and the no-JavaScript
//! login.

mod common;
mod portal_client;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Request, StatusCode};
use axum::Router;
use common::{Backend, START_MILLIS};
use gatehouse::clock::Clock;
use gatehouse::services::Services;
use gatehouse::storage::{NewTotpConfiguration, NewWebauthnCredential};
use hmac::{Hmac, Mac};
use http_body_util::BodyExt;
use leptos::prelude::LeptosOptions;
use portal_client::authenticator::SoftAuthenticator;
use serde_json::{json, Value};
use tower::ServiceExt;

/// A public host, a one-factor host and a two-factor host.
const RULES: &str = "
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

const PORTAL: &str = "https://auth.example.com";
const TOTP_SECRET: &[u8] = b"alice-totp-secret-0123456789";

/// The whole router with a manual clock and the shared users.
struct App {
    router: Router,
    clock: Clock,
    _services: Services,
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

    fn location(&self) -> &str {
        self.header("location")
            .unwrap_or_else(|| panic!("no Location; status {}", self.status))
    }

    /// Returns the value that a `Set-Cookie` of the response gives cookie `name`.
    fn cookie(&self, name: &str) -> Option<String> {
        self.headers.get_all("set-cookie").iter().find_map(|value| {
            let text = value.to_str().ok()?;
            let pair = text.split(';').next()?;
            let (found, value) = pair.split_once('=')?;
            (found == name).then(|| value.to_owned())
        })
    }

    /// Returns the form token in the page's HTML.
    fn form_token(&self) -> String {
        let marker = r#"name="csrf" value=""#;
        let start = self
            .body
            .find(marker)
            .unwrap_or_else(|| panic!("no form token in {}", self.body))
            + marker.len();
        let end = self.body[start..].find('"').expect("a closing quote") + start;
        self.body[start..end].to_owned()
    }
}

/// The cookies a browser holds for the portal.
#[derive(Default, Clone)]
struct Browser {
    csrf: String,
    session: Option<String>,
    /// Other cookies, as `name=value`.
    others: Vec<String>,
}

impl Browser {
    fn cookie_header(&self) -> String {
        let mut pairs = vec![format!("gatehouse_csrf={}", self.csrf)];
        if let Some(session) = &self.session {
            pairs.push(format!("gatehouse_session={session}"));
        }
        pairs.extend(self.others.iter().cloned());
        pairs.join("; ")
    }
}

impl App {
    async fn new(backend: Backend) -> App {
        App::with_remember_me(backend, "1M").await
    }

    async fn with_remember_me(backend: Backend, remember_me: &str) -> App {
        App::with_config(backend, remember_me, RULES).await
    }

    /// Builds the app with `tail` appended to the shared configuration.
    async fn with_config(backend: Backend, remember_me: &str, tail: &str) -> App {
        App::edited(backend, remember_me, tail, |yaml| yaml).await
    }

    /// Builds the app with `tail` appended to the shared configuration, then the whole
    /// configuration passed through `edit`.
    async fn edited(
        backend: Backend,
        remember_me: &str,
        tail: &str,
        edit: impl FnOnce(String) -> String,
    ) -> App {
        let directory = tempfile::tempdir().expect("a temporary directory");
        let (services, clock) = common::suite_services_edited(
            backend,
            directory.path(),
            remember_me,
            tail,
            2,
            64,
            edit,
        )
        .await;
        services
            .db
            .upsert_totp_configuration(
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
        let leptos = LeptosOptions::builder()
            .output_name("gatehouse")
            .site_root("target/site")
            .build();
        let router = gatehouse::http::router(&services, Arc::new(leptos));
        App {
            router,
            clock,
            _services: services,
            _directory: directory,
        }
    }

    async fn send(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Answer {
        let mut request = Request::builder().method(method).uri(path);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let mut request = request
            .body(Body::from(body.to_owned()))
            .expect("a valid request");
        let peer: SocketAddr = "127.0.0.1:40000".parse().expect("an address");
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

    /// Loads a page as a browser with `browser`'s cookies.
    async fn page(&self, path: &str, browser: &Browser) -> Answer {
        let cookie = browser.cookie_header();
        let mut headers = vec![("host", "auth.example.com")];
        if !browser.csrf.is_empty() {
            headers.push(("cookie", &cookie));
        }
        self.send("GET", path, &headers, "").await
    }

    /// Opens the sign-in page as a new browser: the cookie and the form token it gets.
    async fn new_browser(&self) -> (Browser, String) {
        let answer = self.page("/", &Browser::default()).await;
        assert_eq!(answer.status, StatusCode::OK);
        let csrf = answer
            .cookie("gatehouse_csrf")
            .expect("the page sets the form cookie");
        (
            Browser {
                csrf,
                ..Browser::default()
            },
            answer.form_token(),
        )
    }

    /// Submits a form from the portal's own page.
    async fn submit(&self, path: &str, browser: &Browser, fields: &[(&str, &str)]) -> Answer {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        let cookie = browser.cookie_header();
        let headers = [
            ("host", "auth.example.com"),
            ("origin", PORTAL),
            ("content-type", "application/x-www-form-urlencoded"),
            ("cookie", cookie.as_str()),
        ];
        self.send("POST", path, &headers, &body).await
    }

    /// Sends a JSON API request from the portal's page with `browser`'s cookies.
    async fn json(
        &self,
        method: &str,
        path: &str,
        browser: &Browser,
        body: Option<Value>,
    ) -> Answer {
        let cookie = browser.cookie_header();
        let mut headers = vec![("host", "auth.example.com"), ("cookie", cookie.as_str())];
        if method != "GET" {
            headers.push(("origin", PORTAL));
            headers.push(("content-type", "application/json"));
        }
        let text = body.map(|value| value.to_string()).unwrap_or_default();
        self.send(method, path, &headers, &text).await
    }

    /// Signs alice in through the sign-in form and returns her browser.
    async fn alice(&self, rd: &str) -> (Browser, Answer) {
        let (mut browser, token) = self.new_browser().await;
        let fields = [
            ("csrf", token.as_str()),
            ("username", "alice"),
            ("password", "correct-horse-1"),
            ("rd", rd),
        ];
        let answer = self.submit("/", &browser, &fields).await;
        browser.session = answer.cookie("gatehouse_session");
        (browser, answer)
    }

    /// Waits until the notifier's file has `count` messages and returns its text.
    async fn wait_for_messages(&self, count: usize) -> String {
        let path = self._directory.path().join("notifications.txt");
        for _ in 0..250 {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            if text.matches("Subject: ").count() >= count {
                return text;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("message {count} was not written within 5 s");
    }

    /// Requests a reset link for alice through the form and returns the link's token.
    async fn reset_token(&self, messages_before: usize) -> String {
        let (browser, _) = self.new_browser().await;
        let token = self.page("/reset-password", &browser).await.form_token();
        let fields = [("csrf", token.as_str()), ("username", "alice")];
        let answer = self.submit("/reset-password", &browser, &fields).await;
        assert_eq!(answer.location(), "/reset-password?notice=reset-sent");
        let text = self.wait_for_messages(messages_before + 1).await;
        last_query_value(&text, "/reset-password/step2?token=")
    }

    fn code(&self) -> String {
        let step = self.clock.now_secs().div_euclid(30);
        let mut mac = Hmac::<sha1::Sha1>::new_from_slice(TOTP_SECRET).expect("any key length");
        mac.update(&(step as u64).to_be_bytes());
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
}

/// Returns the query value after `marker` in the last line of `text` that contains it.
fn last_query_value(text: &str, marker: &str) -> String {
    let line = text
        .lines()
        .rev()
        .find(|line| line.contains(marker))
        .unwrap_or_else(|| panic!("no link with {marker} in {text}"));
    let start = line.find(marker).expect("the marker") + marker.len();
    line[start..]
        .split(|c: char| c.is_whitespace() || c == '"' || c == '&')
        .next()
        .expect("a value")
        .to_owned()
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
    pages_carry_security_headers,
    form_token_required,
    no_js_login_sets_cookie,
    failed_login_redirects_back,
    unsafe_rd_never_in_location,
    signed_in_user_forwarded,
    no_js_second_factor,
    logout_form_ends_session,
    settings_need_session,
    unknown_host_rejected,
    remember_me_follows_domain,
    token_bound_to_session,
    two_factor_settings_ask_elevation,
    reset_link_flow,
    reset_retry_keeps_token_out_of_url,
    reset_bad_link_rejected,
    revoke_reset_link_page,
    revoke_one_time_code_page,
    no_js_totp_enrolment,
    no_js_security_key_forms,
    no_js_password_step_after_passkey,
    settings_ask_second_factor,
    settings_end_other_session,
    form_foreign_origin_rejected,
    custom_reset_url_followed,
);

async fn pages_carry_security_headers(backend: Backend) {
    let app = App::new(backend).await;
    let first = app.page("/", &Browser::default()).await;
    let second = app.page("/", &Browser::default()).await;
    assert_eq!(first.status, StatusCode::OK);

    let policy = first.header("content-security-policy").expect("a CSP");
    let nonce = policy
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .expect("a nonce in script-src");
    assert!(nonce.len() >= 22, "{nonce}");
    assert!(
        first.body.contains(&format!("nonce=\"{nonce}\"")),
        "the scripts carry the nonce"
    );
    assert!(policy.contains("'wasm-unsafe-eval'"), "{policy}");
    assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
    assert!(!policy.contains("unsafe-inline"), "{policy}");
    assert!(!policy.contains("'unsafe-eval'"), "{policy}");
    assert_ne!(
        Some(policy),
        second.header("content-security-policy"),
        "a fresh nonce per response"
    );
    assert_eq!(first.header("referrer-policy"), Some("same-origin"));
    assert_eq!(first.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(first.header("cache-control"), Some("no-store"));

    let cookie = first
        .headers
        .get("set-cookie")
        .and_then(|value| value.to_str().ok())
        .expect("a cookie");
    assert!(cookie.starts_with("gatehouse_csrf="), "{cookie}");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    assert!(cookie.contains("Secure"), "{cookie}");

    let missing = app.page("/no-such-page", &Browser::default()).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.header("content-security-policy").is_some());
}

async fn form_token_required(backend: Backend) {
    let app = App::new(backend).await;
    let (browser, token) = app.new_browser().await;
    let login = |token: &'static str| {
        [
            ("csrf", token),
            ("username", "alice"),
            ("password", "correct-horse-1"),
        ]
    };

    let missing = app
        .submit(
            "/",
            &browser,
            &[("username", "alice"), ("password", "correct-horse-1")],
        )
        .await;
    assert_eq!(missing.status, StatusCode::FORBIDDEN);
    assert_eq!(missing.cookie("gatehouse_session"), None);

    let wrong = app
        .submit(
            "/",
            &browser,
            &login("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);

    let other_browser = Browser {
        csrf: "another-browser-cookie".to_owned(),
        ..Browser::default()
    };
    let fields = [
        ("csrf", token.as_str()),
        ("username", "alice"),
        ("password", "correct-horse-1"),
    ];
    let stolen = app.submit("/", &other_browser, &fields).await;
    assert_eq!(
        stolen.status,
        StatusCode::FORBIDDEN,
        "a token works only with its own cookie"
    );

    for path in [
        "/2fa",
        "/logout",
        "/settings/password",
        "/reset-password",
        "/reset-password/step2",
    ] {
        let answer = app.submit(path, &browser, &[("csrf", "")]).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{path}");
    }

    let accepted = app.submit("/", &browser, &fields).await;
    assert_eq!(accepted.status, StatusCode::SEE_OTHER);
}

async fn no_js_login_sets_cookie(backend: Backend) {
    let app = App::new(backend).await;
    let (_, answer) = app.alice("https://app.example.com/dashboard?tab=1").await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    assert_eq!(answer.location(), "https://app.example.com/dashboard?tab=1");
    let session = answer
        .cookie("gatehouse_session")
        .expect("the login sets the session cookie");
    assert!(session.len() >= 22, "{session}");

    let cookie = format!("gatehouse_session={session}");
    let state = app
        .send(
            "GET",
            "/api/state",
            &[("host", "auth.example.com"), ("cookie", &cookie)],
            "",
        )
        .await;
    assert!(
        state.body.contains(r#""authentication_level":1"#),
        "{}",
        state.body
    );
}

async fn failed_login_redirects_back(backend: Backend) {
    let app = App::new(backend).await;
    let (browser, token) = app.new_browser().await;
    let rd = "https://app.example.com/x";
    let fields = [
        ("csrf", token.as_str()),
        ("username", "alice"),
        ("password", "wrong-password-9"),
        ("rd", rd),
        ("rm", "GET"),
    ];
    let answer = app.submit("/", &browser, &fields).await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    assert_eq!(
        answer.location(),
        "/?error=credentials&rd=https%3A%2F%2Fapp.example.com%2Fx&rm=GET"
    );
    assert!(!answer.location().contains("wrong-password"));
    assert_eq!(answer.cookie("gatehouse_session"), None);

    let page = app.page(answer.location(), &browser).await;
    assert!(
        page.body.contains("Incorrect username or password."),
        "{}",
        page.body
    );
    assert!(
        page.body.contains(r#"aria-invalid="true""#),
        "{}",
        page.body
    );
}

async fn unsafe_rd_never_in_location(backend: Backend) {
    let app = App::new(backend).await;
    let unsafe_targets = [
        "https://evil.example.net/",
        "https://evil.example.net\\@app.example.com/",
        "http://app.example.com/",
        "//evil.example.net/",
        "javascript:alert(1)",
    ];
    for rd in unsafe_targets {
        let (browser, token) = app.new_browser().await;
        let wrong = [
            ("csrf", token.as_str()),
            ("username", "alice"),
            ("password", "nope-nope-1"),
            ("rd", rd),
        ];
        let failed = app.submit("/", &browser, &wrong).await;
        assert_eq!(failed.location(), "/?error=credentials", "{rd}");

        let (browser, answer) = app.alice(rd).await;
        assert_eq!(
            answer.location(),
            "/2fa",
            "{rd}: a second factor is in use, so the portal asks for it"
        );
        let page = app
            .page(
                &format!("/?rd={}", app::form::encode_query_value(rd)),
                &browser,
            )
            .await;
        assert_eq!(page.status, StatusCode::SEE_OTHER);
        assert_eq!(page.location(), "/settings", "{rd}");
    }
}

async fn signed_in_user_forwarded(backend: Backend) {
    let app = App::new(backend).await;
    let (browser, _) = app.alice("").await;
    let one_factor = app
        .page("/?rd=https%3A%2F%2Fapp.example.com%2Fa", &browser)
        .await;
    assert_eq!(one_factor.status, StatusCode::SEE_OTHER);
    assert_eq!(one_factor.location(), "https://app.example.com/a");

    let two_factor = app
        .page("/?rd=https%3A%2F%2Fsecure.example.com%2Fb&rm=GET", &browser)
        .await;
    assert_eq!(
        two_factor.location(),
        "/2fa?rd=https%3A%2F%2Fsecure.example.com%2Fb&rm=GET"
    );
}

async fn no_js_second_factor(backend: Backend) {
    let app = App::new(backend).await;
    let rd = "https://secure.example.com/b";
    let (mut browser, answer) = app.alice(rd).await;
    assert_eq!(
        answer.location(),
        "/2fa?rd=https%3A%2F%2Fsecure.example.com%2Fb"
    );

    let page = app.page(answer.location(), &browser).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("One-time code"), "{}", page.body);
    let token = page.form_token();

    let wrong = app
        .submit(
            "/2fa",
            &browser,
            &[("csrf", &token), ("token", "000000"), ("rd", rd)],
        )
        .await;
    assert_eq!(
        wrong.location(),
        "/2fa?error=code&rd=https%3A%2F%2Fsecure.example.com%2Fb"
    );

    let code = app.code();
    let verified = app
        .submit(
            "/2fa",
            &browser,
            &[("csrf", &token), ("token", &code), ("rd", rd)],
        )
        .await;
    assert_eq!(verified.status, StatusCode::SEE_OTHER);
    assert_eq!(verified.location(), rd);
    browser.session = verified.cookie("gatehouse_session");
    assert!(
        browser.session.is_some(),
        "the second factor issues a new session id"
    );
}

async fn logout_form_ends_session(backend: Backend) {
    let app = App::new(backend).await;
    let (browser, _) = app.alice("").await;
    let page = app.page("/logout", &browser).await;
    assert!(page.body.contains("Log out"), "{}", page.body);
    let token = page.form_token();

    let answer = app
        .submit(
            "/logout",
            &browser,
            &[("csrf", &token), ("rd", "https://evil.example.net/")],
        )
        .await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    assert_eq!(answer.location(), "/");
    assert_eq!(answer.cookie("gatehouse_session").as_deref(), Some(""));

    let cookie = browser.cookie_header();
    let state = app
        .send(
            "GET",
            "/api/state",
            &[("host", "auth.example.com"), ("cookie", &cookie)],
            "",
        )
        .await;
    assert!(
        state.body.contains(r#""authentication_level":0"#),
        "{}",
        state.body
    );
}

async fn settings_need_session(backend: Backend) {
    let app = App::new(backend).await;
    let anonymous = app.page("/settings", &Browser::default()).await;
    assert_eq!(anonymous.status, StatusCode::SEE_OTHER);
    assert_eq!(
        anonymous.location(),
        "/?rd=https%3A%2F%2Fauth.example.com%2Fsettings"
    );
    let unsafe_rd = app
        .page(
            "/settings?rd=https://evil.example.net/",
            &Browser::default(),
        )
        .await;
    assert_eq!(
        unsafe_rd.location(),
        "/?rd=https%3A%2F%2Fauth.example.com%2Fsettings"
    );
    let two_factor = app.page("/settings/two-factor", &Browser::default()).await;
    assert_eq!(
        two_factor.location(),
        "/?rd=https%3A%2F%2Fauth.example.com%2Fsettings%2Ftwo-factor"
    );

    let (_, login) = app.alice("https://auth.example.com/settings").await;
    assert_eq!(login.location(), "https://auth.example.com/settings");

    let (browser, _) = app.alice("").await;
    let page = app.page("/settings", &browser).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Alice Example"), "{}", page.body);
    assert!(page.body.contains("alice@example.com"));
    assert_eq!(page.header("cache-control"), Some("no-store"));
}

async fn unknown_host_rejected(backend: Backend) {
    let app = App::new(backend).await;
    let answer = app
        .send("GET", "/", &[("host", "evil.example.net")], "")
        .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    let answer = app
        .send("GET", "/", &[("host", "app.example.com")], "")
        .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
}

async fn remember_me_follows_domain(backend: Backend) {
    let allowed = App::new(backend).await;
    let page = allowed.page("/", &Browser::default()).await;
    assert!(page.body.contains("Remember me"), "{}", page.body);

    let disabled = App::with_remember_me(backend, "-1").await;
    let page = disabled.page("/", &Browser::default()).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.body.contains("Remember me"), "{}", page.body);
    assert!(
        !page.body.contains(r#"name="remember_me""#),
        "{}",
        page.body
    );
}

async fn token_bound_to_session(backend: Backend) {
    let app = App::new(backend).await;
    let (mut browser, token_before_login) = app.new_browser().await;
    let fields = [
        ("csrf", token_before_login.as_str()),
        ("username", "alice"),
        ("password", "correct-horse-1"),
    ];
    let login = app.submit("/", &browser, &fields).await;
    browser.session = login.cookie("gatehouse_session");
    assert!(browser.session.is_some());

    let stale = app
        .submit("/logout", &browser, &[("csrf", &token_before_login)])
        .await;
    assert_eq!(
        stale.status,
        StatusCode::FORBIDDEN,
        "a token from before the login is refused"
    );

    let fresh = app.page("/logout", &browser).await.form_token();
    assert_ne!(fresh, token_before_login);
    let accepted = app.submit("/logout", &browser, &[("csrf", &fresh)]).await;
    assert_eq!(accepted.status, StatusCode::SEE_OTHER);
}

async fn two_factor_settings_ask_elevation(backend: Backend) {
    let app = App::new(backend).await;
    let anonymous = app.page("/settings/two-factor", &Browser::default()).await;
    assert_eq!(anonymous.status, StatusCode::SEE_OTHER);

    let (browser, _) = app.alice("").await;
    let page = app.page("/settings/two-factor", &browser).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Confirmation code"), "{}", page.body);
    assert!(page.body.contains("Send a code"), "{}", page.body);
    assert!(
        !page.body.contains("Add an authenticator app"),
        "not elevated yet"
    );
}

/// Opens the reset link's page and returns the browser and the page's form token.
async fn open_reset_link(app: &App, token: &str) -> (Browser, String) {
    let (browser, _) = app.new_browser().await;
    let page = app
        .page(&format!("/reset-password/step2?token={token}"), &browser)
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.header("referrer-policy"), Some("strict-origin"));
    assert!(
        page.body
            .contains(&format!(r#"name="token" value="{token}""#)),
        "{}",
        page.body
    );
    (browser, page.form_token())
}

async fn reset_link_flow(backend: Backend) {
    let app = App::new(backend).await;
    let (old_session, _) = app.alice("").await;
    let token = app.reset_token(0).await;
    let (browser, form_token) = open_reset_link(&app, &token).await;

    let fields = [
        ("csrf", form_token.as_str()),
        ("token", token.as_str()),
        ("password", "a-new-long-passphrase-7"),
        ("confirm_password", "a-new-long-passphrase-7"),
    ];
    let answer = app.submit("/reset-password/step2", &browser, &fields).await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    assert_eq!(answer.location(), "/?notice=password-changed");
    assert_eq!(answer.cookie("gatehouse_reset_link").as_deref(), Some(""));

    let settings = app.page("/settings", &old_session).await;
    assert_eq!(
        settings.status,
        StatusCode::SEE_OTHER,
        "the old session ended"
    );

    let (fresh, login_token) = app.new_browser().await;
    let old_password = [
        ("csrf", login_token.as_str()),
        ("username", "alice"),
        ("password", "correct-horse-1"),
    ];
    let refused = app.submit("/", &fresh, &old_password).await;
    assert!(refused.location().starts_with("/?error=credentials"));
    let new_password = [
        ("csrf", login_token.as_str()),
        ("username", "alice"),
        ("password", "a-new-long-passphrase-7"),
    ];
    let accepted = app.submit("/", &fresh, &new_password).await;
    assert!(accepted.cookie("gatehouse_session").is_some());

    let reused = app.submit("/reset-password/step2", &browser, &fields).await;
    assert_eq!(reused.location(), "/reset-password?error=link");
}

async fn reset_retry_keeps_token_out_of_url(backend: Backend) {
    let app = App::new(backend).await;
    let token = app.reset_token(0).await;
    let (mut browser, form_token) = open_reset_link(&app, &token).await;

    let mismatch = [
        ("csrf", form_token.as_str()),
        ("token", token.as_str()),
        ("password", "a-new-long-passphrase-7"),
        ("confirm_password", "another-passphrase-8"),
    ];
    let answer = app
        .submit("/reset-password/step2", &browser, &mismatch)
        .await;
    assert_eq!(
        answer.location(),
        "/reset-password/step2?error=password-mismatch"
    );
    assert!(!answer.location().contains(&token));
    let kept = answer
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find(|value| value.starts_with("gatehouse_reset_link="))
        .expect("the token is kept in a cookie")
        .to_owned();
    assert!(kept.contains("Path=/reset-password/step2"), "{kept}");
    assert!(kept.contains("HttpOnly"), "{kept}");
    assert!(kept.contains("SameSite=Strict"), "{kept}");
    assert!(kept.contains("Secure"), "{kept}");
    assert_eq!(
        answer.cookie("gatehouse_reset_link").as_deref(),
        Some(token.as_str())
    );

    browser.others.push(format!("gatehouse_reset_link={token}"));
    let page = app
        .page("/reset-password/step2?error=password-mismatch", &browser)
        .await;
    assert!(page.body.contains("The two new passwords differ."));
    let retry = [
        ("csrf", page.form_token()),
        ("token", String::new()),
        ("password", "a-new-long-passphrase-7".to_owned()),
        ("confirm_password", "a-new-long-passphrase-7".to_owned()),
    ];
    let retry: Vec<(&str, &str)> = retry
        .iter()
        .map(|(name, value)| (*name, value.as_str()))
        .collect();
    let answer = app.submit("/reset-password/step2", &browser, &retry).await;
    assert_eq!(answer.location(), "/?notice=password-changed");
}

async fn reset_bad_link_rejected(backend: Backend) {
    let app = App::new(backend).await;
    let (browser, form_token) = app.new_browser().await;
    for token in [
        "",
        "not a token",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ] {
        let fields = [
            ("csrf", form_token.as_str()),
            ("token", token),
            ("password", "a-new-long-passphrase-7"),
            ("confirm_password", "a-new-long-passphrase-7"),
        ];
        let answer = app.submit("/reset-password/step2", &browser, &fields).await;
        assert_eq!(answer.location(), "/reset-password?error=link", "{token:?}");
        assert_eq!(answer.cookie("gatehouse_reset_link").as_deref(), Some(""));
    }
}

async fn revoke_reset_link_page(backend: Backend) {
    let app = App::new(backend).await;
    let token = app.reset_token(0).await;
    let (browser, _) = app.new_browser().await;
    let path = format!("/revoke/reset-password?token={token}");
    let page = app.page(&path, &browser).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.header("referrer-policy"), Some("strict-origin"));
    assert!(page.body.contains("Cancel the reset link"), "{}", page.body);
    let again = app.page(&path, &browser).await;
    assert_eq!(again.status, StatusCode::OK, "a GET changes nothing");

    let fields = [("csrf", page.form_token()), ("token", token.clone())];
    let fields: Vec<(&str, &str)> = fields
        .iter()
        .map(|(name, value)| (*name, value.as_str()))
        .collect();
    let revoked = app
        .submit("/revoke/reset-password", &browser, &fields)
        .await;
    assert_eq!(
        revoked.location(),
        "/revoke/reset-password?notice=link-revoked"
    );
    let repeated = app
        .submit("/revoke/reset-password", &browser, &fields)
        .await;
    assert_eq!(repeated.location(), "/revoke/reset-password?error=link");

    let (browser, form_token) = app.new_browser().await;
    let reset = [
        ("csrf", form_token.as_str()),
        ("token", token.as_str()),
        ("password", "a-new-long-passphrase-7"),
        ("confirm_password", "a-new-long-passphrase-7"),
    ];
    let answer = app.submit("/reset-password/step2", &browser, &reset).await;
    assert_eq!(answer.location(), "/reset-password?error=link");
}

async fn revoke_one_time_code_page(backend: Backend) {
    let app = App::new(backend).await;
    let (browser, _) = app.alice("").await;
    let form_token = app
        .page("/settings/two-factor", &browser)
        .await
        .form_token();
    let start = app
        .submit(
            "/settings/two-factor/elevation/start",
            &browser,
            &[("csrf", &form_token)],
        )
        .await;
    assert_eq!(start.location(), "/settings/two-factor?notice=code-sent");
    let text = app.wait_for_messages(1).await;
    let id = last_query_value(&text, "/revoke/one-time-code?id=");
    let lines: Vec<&str> = text.lines().collect();
    let code_line = lines
        .iter()
        .rposition(|line| line.ends_with("Your code is:"))
        .expect("a code message");
    let code = lines[code_line + 2].trim();

    let (stranger, _) = app.new_browser().await;
    let path = format!("/revoke/one-time-code?id={id}");
    let page = app.page(&path, &stranger).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Cancel the code"), "{}", page.body);
    let fields = [("csrf", page.form_token()), ("id", id.clone())];
    let fields: Vec<(&str, &str)> = fields
        .iter()
        .map(|(name, value)| (*name, value.as_str()))
        .collect();
    let revoked = app
        .submit("/revoke/one-time-code", &stranger, &fields)
        .await;
    assert_eq!(
        revoked.location(),
        "/revoke/one-time-code?notice=code-revoked"
    );

    let confirm = app
        .submit(
            "/settings/two-factor/elevation",
            &browser,
            &[("csrf", &form_token), ("otc", code)],
        )
        .await;
    assert_eq!(confirm.location(), "/settings/two-factor?error=code");
}

/// Computes the RFC 6238 code (SHA-1, 6 digits, 30 s) of `secret` at the app's clock.
fn totp_code(app: &App, secret: &[u8]) -> String {
    let step = app.clock.now_secs().div_euclid(30);
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret).expect("any key length");
    mac.update(&(step as u64).to_be_bytes());
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

/// Decodes the unpadded RFC 4648 base32 that the enrolment page shows.
fn base32_decode(text: &str) -> Vec<u8> {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let (mut bits, mut value, mut bytes) = (0u32, 0u32, Vec::new());
    for byte in text.bytes() {
        let index = alphabet
            .iter()
            .position(|&letter| letter == byte)
            .expect("a base32 letter") as u32;
        value = (value << 5) | index;
        bits += 5;
        if bits >= 8 {
            bytes.push((value >> (bits - 8)) as u8);
            bits -= 8;
        }
    }
    bytes
}

async fn no_js_totp_enrolment(backend: Backend) {
    let app = App::new(backend).await;
    let (mut browser, login_token) = app.new_browser().await;
    let fields = [
        ("csrf", login_token.as_str()),
        ("username", "bob"),
        ("password", "battery-staple-2"),
    ];
    let login = app.submit("/", &browser, &fields).await;
    browser.session = login.cookie("gatehouse_session");
    let form_token = app
        .page("/settings/two-factor", &browser)
        .await
        .form_token();
    let csrf = [("csrf", form_token.as_str())];

    let start = app
        .submit("/settings/two-factor/elevation/start", &browser, &csrf)
        .await;
    assert_eq!(start.location(), "/settings/two-factor?notice=code-sent");
    let text = app.wait_for_messages(1).await;
    let lines: Vec<&str> = text.lines().collect();
    let code_line = lines
        .iter()
        .rposition(|line| line.ends_with("Your code is:"))
        .expect("a code message");
    let code = lines[code_line + 2].trim();
    let elevated = app
        .submit(
            "/settings/two-factor/elevation",
            &browser,
            &[("csrf", &form_token), ("otc", code)],
        )
        .await;
    assert_eq!(elevated.location(), "/settings/two-factor");

    let page = app
        .submit("/settings/two-factor/totp/start", &browser, &csrf)
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("<svg"), "{}", page.body);
    let marker = r#"<code class="secret">"#;
    let start = page.body.find(marker).expect("the secret") + marker.len();
    let end = page.body[start..].find('<').expect("the end of the secret") + start;
    let secret = base32_decode(&page.body[start..end]);
    assert_eq!(secret.len(), 32, "the default secret size");

    let wrong = app
        .submit(
            "/settings/two-factor/totp/confirm",
            &browser,
            &[("csrf", &form_token), ("token", "000000")],
        )
        .await;
    assert_eq!(wrong.location(), "/settings/two-factor?error=code");
    let code = totp_code(&app, &secret);
    let confirmed = app
        .submit(
            "/settings/two-factor/totp/confirm",
            &browser,
            &[("csrf", &form_token), ("token", &code)],
        )
        .await;
    assert_eq!(
        confirmed.location(),
        "/settings/two-factor?notice=factor-added"
    );
    let settings = app.page("/settings/two-factor", &browser).await;
    assert!(settings.body.contains("Remove the authenticator app"));

    let refused = app
        .submit("/settings/two-factor/totp/remove", &browser, &csrf)
        .await;
    assert_eq!(
        refused.location(),
        "/settings/two-factor?error=second-factor-first",
        "a user with a second factor must pass it before removing one"
    );
    app.clock.advance_millis(30_000);
    let code = totp_code(&app, &secret);
    let second = app
        .submit("/2fa", &browser, &[("csrf", &form_token), ("token", &code)])
        .await;
    assert_eq!(
        second.location(),
        "https://www.example.com/",
        "the default redirection URL"
    );
    if let Some(session) = second.cookie("gatehouse_session") {
        browser.session = Some(session);
    }
    let form_token = app
        .page("/settings/two-factor", &browser)
        .await
        .form_token();
    let removed = app
        .submit(
            "/settings/two-factor/totp/remove",
            &browser,
            &[("csrf", &form_token)],
        )
        .await;
    assert_eq!(
        removed.location(),
        "/settings/two-factor?notice=factor-removed"
    );
}

/// Elevates `browser`'s session through the two elevation forms, reading the code from message
/// number `messages_before + 1` of the notifier's file.
async fn elevate_with_forms(
    app: &App,
    browser: &Browser,
    form_token: &str,
    messages_before: usize,
) {
    let start = app
        .submit(
            "/settings/two-factor/elevation/start",
            browser,
            &[("csrf", form_token)],
        )
        .await;
    assert_eq!(start.location(), "/settings/two-factor?notice=code-sent");
    let text = app.wait_for_messages(messages_before + 1).await;
    let lines: Vec<&str> = text.lines().collect();
    let code_line = lines
        .iter()
        .rposition(|line| line.ends_with("Your code is:"))
        .expect("a code message");
    let code = lines[code_line + 2].trim();
    let elevated = app
        .submit(
            "/settings/two-factor/elevation",
            browser,
            &[("csrf", form_token), ("otc", code)],
        )
        .await;
    assert_eq!(elevated.location(), "/settings/two-factor");
}

fn stored_key(description: &str, credential_id: &str) -> NewWebauthnCredential {
    NewWebauthnCredential {
        username: "alice".to_owned(),
        rp_id: "auth.example.com".to_owned(),
        description: description.to_owned(),
        credential_id: credential_id.to_owned(),
        credential: "{}".to_owned(),
        aaguid: None,
        attestation_type: "none".to_owned(),
        transports: vec![],
        sign_count: 0,
        discoverable: true,
        user_verified: true,
        backup_eligible: false,
        backup_state: false,
    }
}

async fn no_js_security_key_forms(backend: Backend) {
    let app = App::new(backend).await;
    let db = &app._services.db;
    for (description, credential_id) in [("Desk key", "ZGVzaw"), ("Spare key", "c3BhcmU")] {
        db.insert_webauthn_credential(&stored_key(description, credential_id), START_MILLIS)
            .await
            .expect("store a key");
    }
    let ids: Vec<i64> = db
        .list_webauthn_credentials("alice")
        .await
        .expect("list the keys")
        .iter()
        .map(|key| key.id)
        .collect();
    let desk = ids[0].to_string();

    let (mut browser, _) = app.alice("").await;
    let page = app.page("/settings/two-factor", &browser).await;
    assert!(page.body.contains("Desk key"), "{}", page.body);
    assert!(page.body.contains("last used never"), "{}", page.body);
    assert!(
        !page.body.contains("Remove Desk key"),
        "no remove button before elevation"
    );
    let form_token = page.form_token();
    let refused = app
        .submit(
            "/settings/two-factor/webauthn/remove",
            &browser,
            &[("csrf", &form_token), ("id", &desk)],
        )
        .await;
    assert_eq!(
        refused.location(),
        "/settings/two-factor?error=second-factor-first&form=keys",
        "a user with keys must pass a second factor before the code counts"
    );

    let second = app
        .submit(
            "/2fa",
            &browser,
            &[("csrf", &form_token), ("token", &app.code())],
        )
        .await;
    browser.session = second.cookie("gatehouse_session").or(browser.session);
    let form_token = app
        .page("/settings/two-factor", &browser)
        .await
        .form_token();
    let refused = app
        .submit(
            "/settings/two-factor/webauthn/remove",
            &browser,
            &[("csrf", &form_token), ("id", &desk)],
        )
        .await;
    assert_eq!(
        refused.location(),
        "/settings/two-factor?error=elevation&form=keys"
    );
    elevate_with_forms(&app, &browser, &form_token, 0).await;
    let page = app.page("/settings/two-factor", &browser).await;
    assert!(page.body.contains("Remove Desk key"), "{}", page.body);
    assert!(page.body.contains("Device name"), "{}", page.body);

    let rename = |id: String, description: &'static str| {
        let fields = [
            ("csrf", form_token.clone()),
            ("id", id),
            ("description", description.to_owned()),
        ];
        let browser = browser.clone();
        let app = &app;
        async move {
            let fields: Vec<(&str, &str)> = fields.iter().map(|(n, v)| (*n, v.as_str())).collect();
            app.submit("/settings/two-factor/webauthn/rename", &browser, &fields)
                .await
                .location()
                .to_owned()
        }
    };
    assert_eq!(
        rename(desk.clone(), "  ").await,
        "/settings/two-factor?error=device-name&form=keys"
    );
    assert_eq!(
        rename(desk.clone(), "Spare key").await,
        "/settings/two-factor?error=device-name-taken&form=keys"
    );
    assert_eq!(
        rename("12x".to_owned(), "Office key").await,
        "/settings/two-factor?error=invalid&form=keys"
    );
    assert_eq!(
        rename(desk.clone(), " Office key ").await,
        "/settings/two-factor?notice=key-renamed"
    );
    let page = app.page("/settings/two-factor", &browser).await;
    assert!(page.body.contains("Remove Office key"), "{}", page.body);

    let remove = |id: String| {
        let fields = [("csrf", form_token.clone()), ("id", id)];
        let browser = browser.clone();
        let app = &app;
        async move {
            let fields: Vec<(&str, &str)> = fields.iter().map(|(n, v)| (*n, v.as_str())).collect();
            app.submit("/settings/two-factor/webauthn/remove", &browser, &fields)
                .await
                .location()
                .to_owned()
        }
    };
    assert_eq!(
        remove("../totp".to_owned()).await,
        "/settings/two-factor?error=invalid&form=keys"
    );
    let unknown = (ids[1] + 1000).to_string();
    assert_eq!(
        remove(unknown).await,
        "/settings/two-factor?error=invalid&form=keys"
    );
    assert_eq!(
        remove(desk).await,
        "/settings/two-factor?notice=factor-removed"
    );
    let left: Vec<String> = db
        .list_webauthn_credentials("alice")
        .await
        .expect("list the keys")
        .into_iter()
        .map(|key| key.description)
        .collect();
    assert_eq!(left, ["Spare key"]);
}

fn data_of(answer: &Answer) -> Value {
    let body: Value = serde_json::from_str(&answer.body)
        .unwrap_or_else(|error| panic!("the body {:?} is not JSON: {error}", answer.body));
    body["data"].clone()
}

async fn no_js_password_step_after_passkey(backend: Backend) {
    let passkeys = format!("{RULES}\nwebauthn:\n  enable_passkey_login: true\n");
    let app = App::with_config(backend, "1M", &passkeys).await;
    let login_page = app.page("/", &Browser::default()).await;
    assert!(
        login_page.body.contains("Use a passkey"),
        "{}",
        login_page.body
    );

    // Bob has no second factor, so the e-mailed code alone elevates him to register a key.
    let (mut browser, token) = app.new_browser().await;
    let fields = [
        ("csrf", token.as_str()),
        ("username", "bob"),
        ("password", "battery-staple-2"),
    ];
    browser.session = app
        .submit("/", &browser, &fields)
        .await
        .cookie("gatehouse_session");
    let form_token = app
        .page("/settings/two-factor", &browser)
        .await
        .form_token();
    elevate_with_forms(&app, &browser, &form_token, 0).await;
    let register = "/api/secondfactor/webauthn/credential/register";
    let options = app
        .json(
            "PUT",
            register,
            &browser,
            Some(json!({ "description": "Laptop" })),
        )
        .await;
    assert_eq!(options.status, StatusCode::OK, "{}", options.body);
    let mut authenticator = SoftAuthenticator::new(PORTAL);
    let credential = authenticator.register(&data_of(&options));
    let registered = app
        .json(
            "POST",
            register,
            &browser,
            Some(json!({ "response": credential })),
        )
        .await;
    assert_eq!(registered.status, StatusCode::OK, "{}", registered.body);

    // Another browser signs in with the passkey for a two-factor target.
    let (mut other, _) = app.new_browser().await;
    let options = app
        .json("GET", "/api/firstfactor/passkey", &other, None)
        .await;
    let handle = options
        .cookie("gatehouse_passkey")
        .expect("the passkey cookie");
    other.others.push(format!("gatehouse_passkey={handle}"));
    let rd = "https://secure.example.com/a";
    let body = json!({
        "response": authenticator.assert(&data_of(&options)),
        "targetURL": rd,
        "requestMethod": "GET",
    });
    let passkey = app
        .json("POST", "/api/firstfactor/passkey", &other, Some(body))
        .await;
    assert_eq!(
        passkey.body, r#"{"status":"OK"}"#,
        "the target needs two factors"
    );
    other.session = passkey.cookie("gatehouse_session");

    let second = "/2fa?rd=https%3A%2F%2Fsecure.example.com%2Fa";
    let page = app.page(second, &other).await;
    assert!(
        page.body.contains("You signed in with a passkey"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains(r#"action="/2fa/password""#),
        "{}",
        page.body
    );
    assert!(
        !page.body.contains("One-time code"),
        "only the password step"
    );
    let token = page.form_token();
    let wrong = app
        .submit(
            "/2fa/password",
            &other,
            &[("csrf", &token), ("password", "wrong-password"), ("rd", rd)],
        )
        .await;
    assert_eq!(
        wrong.location(),
        "/2fa?error=credentials&rd=https%3A%2F%2Fsecure.example.com%2Fa"
    );
    let right = app
        .submit(
            "/2fa/password",
            &other,
            &[
                ("csrf", &token),
                ("password", "battery-staple-2"),
                ("rd", rd),
            ],
        )
        .await;
    assert_eq!(right.location(), rd);
    other.session = right.cookie("gatehouse_session").or(other.session);
    let state = app.json("GET", "/api/state", &other, None).await;
    assert_eq!(data_of(&state)["authentication_level"], 2);
    assert_eq!(data_of(&state)["username"], "bob");
}

async fn settings_ask_second_factor(backend: Backend) {
    let app = App::new(backend).await;
    let (mut browser, _) = app.alice("").await;
    let link = r#"href="/2fa?rd=https%3A%2F%2Fauth.example.com%2Fsettings""#;

    let page = app.page("/settings", &browser).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains(link), "{}", page.body);
    assert!(!page.body.contains("get one on the second-factor page"));

    let token = page.form_token();
    let fields = [
        ("csrf", token.as_str()),
        ("username", "alice"),
        ("old_password", "correct-horse-1"),
        ("new_password", "another-horse-2"),
        ("confirm_password", "another-horse-2"),
    ];
    let refused = app.submit("/settings/password", &browser, &fields).await;
    assert_eq!(refused.location(), "/settings?error=second-factor-first");

    let second_factor = app.page("/2fa", &browser).await.form_token();
    let code = app.code();
    let verified = app
        .submit(
            "/2fa",
            &browser,
            &[("csrf", &second_factor), ("token", &code)],
        )
        .await;
    browser.session = verified.cookie("gatehouse_session");
    let page = app.page("/settings", &browser).await;
    assert!(!page.body.contains(link), "{}", page.body);
    assert!(
        page.body.contains("get one on the second-factor page"),
        "{}",
        page.body
    );
    let token = page.form_token();
    let fields = [
        ("csrf", token.as_str()),
        ("username", "alice"),
        ("old_password", "correct-horse-1"),
        ("new_password", "another-horse-2"),
        ("confirm_password", "another-horse-2"),
    ];
    let refused = app.submit("/settings/password", &browser, &fields).await;
    assert_eq!(refused.location(), "/settings?error=elevation");
}

async fn settings_end_other_session(backend: Backend) {
    let app = App::new(backend).await;
    let (other, _) = app.alice("").await;
    let (browser, _) = app.alice("").await;
    let page = app.page("/settings", &browser).await;
    // Each row contains its label and its form. The row without "(this session)" is the other's.
    let rows: Vec<(bool, String)> = page
        .body
        .split("session-list__item")
        .skip(1)
        .map(|row| {
            let marker = r#"name="id" value=""#;
            let start = row.find(marker).expect("an id field") + marker.len();
            let id = row[start..start + row[start..].find('"').expect("a quote")].to_owned();
            (row.contains("(this session)"), id)
        })
        .collect();
    assert_eq!(rows.len(), 2, "{}", page.body);
    let current: Vec<_> = rows.iter().filter(|(current, _)| *current).collect();
    assert_eq!(current.len(), 1, "{}", page.body);
    let other_id = &rows
        .iter()
        .find(|(current, _)| !current)
        .expect("another row")
        .1;

    let token = page.form_token();
    let ended = app
        .submit(
            "/settings/sessions/end",
            &browser,
            &[("csrf", &token), ("id", other_id)],
        )
        .await;
    assert_eq!(ended.location(), "/settings?notice=session-ended");
    let gone = app.page("/settings", &other).await;
    assert_eq!(
        gone.status,
        StatusCode::SEE_OTHER,
        "the other session ended"
    );
    let kept = app.page("/settings", &browser).await;
    assert_eq!(kept.status, StatusCode::OK);
}

async fn form_foreign_origin_rejected(backend: Backend) {
    let app = App::new(backend).await;
    let (browser, token) = app.new_browser().await;
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("csrf", token.as_str()),
            ("username", "alice"),
            ("password", "correct-horse-1"),
        ])
        .finish();
    let cookie = browser.cookie_header();
    let post = |origin: Option<(&'static str, &'static str)>| {
        let mut headers = vec![
            ("host", "auth.example.com"),
            ("content-type", "application/x-www-form-urlencoded"),
            ("cookie", cookie.as_str()),
        ];
        headers.extend(origin);
        let body = body.clone();
        let app = &app;
        async move { app.send("POST", "/", &headers, &body).await }
    };

    let foreign = post(Some(("origin", "https://evil.example.net"))).await;
    assert_eq!(foreign.status, StatusCode::FORBIDDEN);
    assert_eq!(foreign.header("location"), None);
    assert_eq!(foreign.cookie("gatehouse_session"), None);

    let sibling = post(Some(("origin", "https://app.example.com"))).await;
    assert_eq!(sibling.status, StatusCode::FORBIDDEN);

    let foreign_referer = post(Some(("referer", "https://evil.example.net/form"))).await;
    assert_eq!(foreign_referer.status, StatusCode::FORBIDDEN);

    let neither = post(None).await;
    assert_eq!(neither.status, StatusCode::FORBIDDEN);

    let own_referer = post(Some(("referer", "https://auth.example.com/?rd="))).await;
    assert_eq!(own_referer.status, StatusCode::SEE_OTHER);
    assert!(own_referer.cookie("gatehouse_session").is_some());
}

async fn custom_reset_url_followed(backend: Backend) {
    let custom = "https://accounts.example.net/reset";
    let app = App::edited(backend, "1M", RULES, |yaml| {
        yaml.replace(
            "authentication_backend:\n",
            &format!(
                "authentication_backend:\n  password_reset:\n    disable: true\n    \
                 custom_url: '{custom}'\n"
            ),
        )
    })
    .await;
    let (browser, _) = app.new_browser().await;

    let login = app.page("/", &browser).await;
    assert!(
        login.body.contains("Forgot your password?"),
        "custom_url offers the reset even with disable: {}",
        login.body
    );
    for path in [
        "/reset-password",
        "/reset-password/step2?token=abc",
        "/revoke/reset-password?token=abc",
    ] {
        let page = app.page(path, &browser).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(page.location(), custom, "{path}");
    }

    let token = login.form_token();
    let form = app
        .submit(
            "/reset-password",
            &browser,
            &[("csrf", &token), ("username", "alice")],
        )
        .await;
    assert_eq!(form.location(), custom);

    let api = app
        .send(
            "POST",
            "/api/reset-password/identity/start",
            &[
                ("host", "auth.example.com"),
                ("content-type", "application/json"),
            ],
            r#"{"username":"alice"}"#,
        )
        .await;
    assert_eq!(
        api.status,
        StatusCode::NOT_FOUND,
        "the built-in reset API is off"
    );
}
