//! The admin pages and their form bridge against the real router, on SQLite and PostgreSQL:
//! who may open them, and every change through plain form posts as a browser without
//! JavaScript sends them.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Request, StatusCode};
use axum::Router;
use common::{Backend, START_MILLIS};
use gatehouse::clock::Clock;
use gatehouse::services::Services;
use gatehouse::storage::NewTotpConfiguration;
use hmac::{Hmac, Mac};
use http_body_util::BodyExt;
use leptos::prelude::LeptosOptions;
use tower::ServiceExt;

const RULES: &str = "
access_control:
  default_policy: deny
  rules:
    - domain: 'secure.example.com'
      policy: two_factor
";

const PORTAL: &str = "https://auth.example.com";
const TOTP_SECRET: &[u8] = b"bob-totp-secret-0123456789ab";

struct App {
    router: Router,
    clock: Clock,
    services: Services,
    directory: tempfile::TempDir,
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Answer {
    fn location(&self) -> &str {
        self.headers
            .get("location")
            .and_then(|value| value.to_str().ok())
            .unwrap_or_else(|| panic!("no Location; status {}", self.status))
    }

    fn cookie(&self, name: &str) -> Option<String> {
        self.headers.get_all("set-cookie").iter().find_map(|value| {
            let pair = value.to_str().ok()?.split(';').next()?;
            let (found, value) = pair.split_once('=')?;
            (found == name).then(|| value.to_owned())
        })
    }

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

#[derive(Default, Clone)]
struct Browser {
    csrf: String,
    session: Option<String>,
}

impl Browser {
    fn cookie_header(&self) -> String {
        let mut pairs = vec![format!("gatehouse_csrf={}", self.csrf)];
        if let Some(session) = &self.session {
            pairs.push(format!("gatehouse_session={session}"));
        }
        pairs.join("; ")
    }
}

impl App {
    async fn new(backend: Backend) -> App {
        let directory = tempfile::tempdir().expect("a temporary directory");
        let (services, clock) =
            common::suite_services(backend, directory.path(), "1M", RULES, 2, 64).await;
        let device = NewTotpConfiguration {
            username: "bob".to_owned(),
            issuer: "Gatehouse".to_owned(),
            algorithm: "SHA1".to_owned(),
            digits: 6,
            period: 30,
            secret: TOTP_SECRET.to_vec(),
        };
        services
            .db
            .upsert_totp_configuration(&device, START_MILLIS)
            .await
            .expect("store bob's TOTP device");
        let leptos = LeptosOptions::builder()
            .output_name("gatehouse")
            .site_root("target/site")
            .build();
        let router = gatehouse::http::router(&services, Arc::new(leptos));
        App {
            router,
            clock,
            services,
            directory,
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

    async fn page(&self, path: &str, browser: &Browser) -> Answer {
        let cookie = browser.cookie_header();
        let mut headers = vec![("host", "auth.example.com")];
        if !browser.csrf.is_empty() {
            headers.push(("cookie", &cookie));
        }
        self.send("GET", path, &headers, "").await
    }

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

    /// Signs `username` in through the sign-in form and returns the browser.
    async fn sign_in(&self, username: &str, password: &str) -> Browser {
        let first = self.page("/", &Browser::default()).await;
        let mut browser = Browser {
            csrf: first.cookie("gatehouse_csrf").expect("the form cookie"),
            session: None,
        };
        let token = first.form_token();
        let fields = [
            ("csrf", token.as_str()),
            ("username", username),
            ("password", password),
        ];
        let answer = self.submit("/", &browser, &fields).await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER);
        browser.session = answer.cookie("gatehouse_session");
        assert!(browser.session.is_some(), "signed in");
        browser
    }

    /// Signs bob in with his password and TOTP code, both through the forms.
    async fn admin(&self) -> Browser {
        let mut browser = self.sign_in("bob", "battery-staple-2").await;
        let token = self.page("/2fa", &browser).await.form_token();
        let code = self.code();
        let verified = self
            .submit("/2fa", &browser, &[("csrf", &token), ("token", &code)])
            .await;
        assert_eq!(verified.status, StatusCode::SEE_OTHER);
        browser.session = verified.cookie("gatehouse_session");
        browser
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

    /// Waits for the elevation code e-mail and returns the code.
    async fn elevation_code(&self) -> String {
        let path = self.directory.path().join("notifications.txt");
        for _ in 0..250 {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            if let Some(index) = lines
                .iter()
                .rposition(|line| line.ends_with("Your code is:"))
            {
                return lines[index + 2].trim().to_owned();
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("no elevation code was written within 5 s");
    }
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

on_both_databases!(admin_pages_access, no_js_admin_changes);

async fn admin_pages_access(backend: Backend) {
    let app = App::new(backend).await;
    let anonymous = app.page("/admin/users", &Browser::default()).await;
    assert_eq!(anonymous.status, StatusCode::SEE_OTHER);
    assert_eq!(
        anonymous.location(),
        "/?rd=https%3A%2F%2Fauth.example.com%2Fadmin%2Fusers"
    );

    let alice = app.sign_in("alice", "correct-horse-1").await;
    for path in ["/admin", "/admin/users", "/admin/sessions", "/admin/bans"] {
        let page = app.page(path, &alice).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{path}");
        assert!(page.body.contains("Access denied"), "{path}");
        assert!(
            !page.body.contains("bob@example.com"),
            "{path}: no other user's data"
        );
    }

    let bob_one_factor = app.sign_in("bob", "battery-staple-2").await;
    let page = app.page("/admin/users", &bob_one_factor).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(page.body.contains("Complete the second factor"));

    let admin = app.admin().await;
    let overview = app.page("/admin", &admin).await;
    assert_eq!(overview.status, StatusCode::OK);
    assert!(overview.body.contains(r#"href="/admin/users""#));
    let users = app.page("/admin/users", &admin).await;
    assert_eq!(users.status, StatusCode::OK);
    assert!(users.body.contains("alice@example.com"), "{}", users.body);
    assert!(
        users.body.contains("Confirmation code"),
        "the elevation form is offered"
    );
    assert!(users
        .body
        .contains(r#"<label for="new-username">Username</label>"#));
    assert!(users.body.contains(r#"<th scope="col">Username</th>"#));
}

async fn no_js_admin_changes(backend: Backend) {
    let app = App::new(backend).await;
    let admin = app.admin().await;
    let alice = app.sign_in("alice", "correct-horse-1").await;
    let token = app.page("/admin/users", &admin).await.form_token();
    let add = [
        ("csrf", token.as_str()),
        ("username", "carol"),
        ("display_name", "Carol Example"),
        ("email", "carol@example.com"),
        ("groups", "dev, ops"),
        ("password", "a-long-initial-password"),
    ];

    let refused = app.submit("/admin/users/add", &admin, &add).await;
    assert_eq!(refused.location(), "/admin/users?error=elevation");
    let forged = app
        .submit(
            "/admin/users/add",
            &admin,
            &[("csrf", "wrong"), ("username", "carol")],
        )
        .await;
    assert_eq!(
        forged.status,
        StatusCode::FORBIDDEN,
        "the form token is checked"
    );

    let sent = app
        .submit(
            "/admin/elevation/start",
            &admin,
            &[("csrf", &token), ("return", "/admin/users")],
        )
        .await;
    assert_eq!(sent.location(), "/admin/users?notice=code-sent");
    let code = app.elevation_code().await;
    let elevated = app
        .submit(
            "/admin/elevation",
            &admin,
            &[
                ("csrf", &token),
                ("otc", &code),
                ("return", "https://evil.example.net/"),
            ],
        )
        .await;
    assert_eq!(
        elevated.location(),
        "/admin?notice=elevated",
        "only admin pages are returned to"
    );

    let added = app.submit("/admin/users/add", &admin, &add).await;
    assert_eq!(added.location(), "/admin/users?notice=user-added");
    let carol = app
        .services
        .db
        .get_user("carol")
        .await
        .unwrap()
        .expect("carol exists");
    assert_eq!(carol.groups, ["dev", "ops"]);
    let mut same_name = add;
    same_name[3] = ("email", "carol2@example.com");
    let again = app.submit("/admin/users/add", &admin, &same_name).await;
    assert_eq!(again.location(), "/admin/users?error=user-exists");
    let mut unsafe_name = add;
    unsafe_name[1] = ("username", "dave");
    unsafe_name[2] = ("display_name", "Dave\r\nRemote-User: bob");
    let rejected = app.submit("/admin/users/add", &admin, &unsafe_name).await;
    assert_eq!(
        rejected.location(),
        "/admin/users?error=invalid-display-name"
    );
    assert!(app.services.db.get_user("dave").await.unwrap().is_none());

    let edit = [
        ("csrf", token.as_str()),
        ("username", "carol"),
        ("display_name", "Carol Changed"),
        ("email", ""),
        ("groups", "ops"),
    ];
    let edited = app.submit("/admin/users/edit", &admin, &edit).await;
    assert_eq!(edited.location(), "/admin/users?notice=user-changed");
    let carol = app.services.db.get_user("carol").await.unwrap().unwrap();
    assert_eq!(carol.display_name, "Carol Changed");
    assert_eq!(carol.email, None);
    assert_eq!(carol.groups, ["ops"]);

    let disable = [
        ("csrf", token.as_str()),
        ("username", "alice"),
        ("disabled", "true"),
    ];
    let disabled = app.submit("/admin/users/disable", &admin, &disable).await;
    assert_eq!(disabled.location(), "/admin/users?notice=user-changed");
    let settings = app.page("/settings", &alice).await;
    assert_eq!(
        settings.status,
        StatusCode::SEE_OTHER,
        "alice's session ended at once"
    );
    let users = app.page("/admin/users", &admin).await;
    assert!(
        users.body.contains("aria-label=\"Enable alice\""),
        "{}",
        users.body
    );

    let sessions = app.page("/admin/sessions", &admin).await;
    assert_eq!(sessions.status, StatusCode::OK);
    assert!(
        sessions.body.contains("bob (your session)"),
        "{}",
        sessions.body
    );
    let own_handle = app.services.db.list_sessions_of_user("bob").await.unwrap()[0].data["handle"]
        .as_str()
        .map(str::to_owned);
    if let Some(handle) = own_handle {
        assert!(sessions.body.contains(&handle));
    }
    assert!(
        !sessions.body.contains(admin.session.as_deref().unwrap()),
        "no session id"
    );

    let ban = [
        ("csrf", token.as_str()),
        ("kind", "ip"),
        ("value", "192.0.2.7"),
        ("duration", "30"),
        ("reason", "scanning"),
    ];
    let banned = app.submit("/admin/bans/add", &admin, &ban).await;
    assert_eq!(banned.location(), "/admin/bans?notice=ban-added");
    let mut bad_ban = ban;
    bad_ban[2] = ("value", "not-an-address");
    let bad = app.submit("/admin/bans/add", &admin, &bad_ban).await;
    assert_eq!(bad.location(), "/admin/bans?error=invalid-ban");
    let bans = app.page("/admin/bans", &admin).await;
    assert!(bans.body.contains("192.0.2.7"));
    let id = app
        .services
        .db
        .list_active_bans(app.clock.now_millis())
        .await
        .unwrap()[0]
        .id;
    let revoke = [("csrf", token.as_str()), ("id", &id.to_string())];
    let revoked = app.submit("/admin/bans/revoke", &admin, &revoke).await;
    assert_eq!(revoked.location(), "/admin/bans?notice=ban-revoked");

    let delete = [("csrf", token.as_str()), ("username", "carol")];
    let deleted = app.submit("/admin/users/delete", &admin, &delete).await;
    assert_eq!(deleted.location(), "/admin/users?notice=user-deleted");
    assert!(app.services.db.get_user("carol").await.unwrap().is_none());
    let own = [("csrf", token.as_str()), ("username", "bob")];
    let refused_self = app.submit("/admin/users/delete", &admin, &own).await;
    assert_eq!(refused_self.location(), "/admin/users?error=own-account");
}
