//! A client of the portal API for the account and WebAuthn suites: the real router with a
//! manual clock, requests as the portal's own pages send them, and session set-up helpers.

#![allow(dead_code)]

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Request, StatusCode};
use axum::Router;
use gatehouse::clock::Clock;
use gatehouse::services::Services;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

use crate::common::{self, Backend};

pub const PORTAL: &str = "https://auth.example.com";
pub const PEER: &str = "127.0.0.1:40000";
pub const SESSION_COOKIE: &str = "gatehouse_session";

/// A response with its body read.
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|error| panic!("the body {:?} is not JSON: {error}", self.body))
    }

    /// Returns the value of the cookie `name` that a `Set-Cookie` of the response sets.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.headers.get_all("set-cookie").iter().find_map(|value| {
            let text = value.to_str().ok()?;
            let pair = text.split(';').next()?;
            let (cookie_name, value) = pair.split_once('=')?;
            (cookie_name == name).then(|| value.to_owned())
        })
    }

    pub fn session_id(&self) -> String {
        self.cookie(SESSION_COOKIE)
            .expect("the answer sets the session cookie")
    }

    pub fn set_cookie_headers(&self) -> Vec<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .map(|value| value.to_str().unwrap_or("").to_owned())
            .collect()
    }
}

/// The portal API and authz endpoints on a fresh database with users alice and bob.
pub struct App {
    pub router: Router,
    pub services: Services,
    pub clock: Clock,
    _directory: tempfile::TempDir,
}

impl App {
    pub async fn new(backend: Backend, tail: &str) -> App {
        let directory = tempfile::tempdir().expect("a temporary directory");
        let (services, clock) =
            common::suite_services(backend, directory.path(), "1M", tail, 2, 64).await;
        let router =
            gatehouse::portal::routes(&services).merge(gatehouse::http::authz_router(&services));
        App {
            router,
            services,
            clock,
            _directory: directory,
        }
    }

    /// Rebuilds the routers as a restart with an edited configuration would: same database,
    /// clock and directory, fresh in-memory state.
    pub async fn restart_with(&mut self, edit: impl FnOnce(&mut gatehouse::config::Config)) {
        let mut config = (*self.services.config).clone();
        edit(&mut config);
        let services = Services::build_with_hashing(
            config,
            self.services.db.clone(),
            self.clock.clone(),
            2,
            64,
        )
        .await
        .expect("rebuild the services");
        self.router =
            gatehouse::portal::routes(&services).merge(gatehouse::http::authz_router(&services));
        self.services = services;
    }

    /// Like [`App::new`], with the configuration text passed through `edit` first.
    pub async fn with_config_edit(
        backend: Backend,
        tail: &str,
        edit: impl FnOnce(String) -> String,
    ) -> App {
        let directory = tempfile::tempdir().expect("a temporary directory");
        let (services, clock) =
            common::suite_services_edited(backend, directory.path(), "1M", tail, 2, 64, edit).await;
        let router =
            gatehouse::portal::routes(&services).merge(gatehouse::http::authz_router(&services));
        App {
            router,
            services,
            clock,
            _directory: directory,
        }
    }

    /// Sends a request from the test peer with exactly `headers`.
    pub async fn raw(
        &self,
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
        let peer: SocketAddr = PEER.parse().expect("a socket address");
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

    /// Sends `method` with a JSON body as the portal's page would, with `cookies` as given
    /// (`name=value` pairs joined by `; `).
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        cookies: Option<&str>,
        body: Option<&Value>,
    ) -> Answer {
        let mut headers = vec![("host", "auth.example.com")];
        if method != "GET" {
            headers.push(("origin", PORTAL));
            headers.push(("content-type", "application/json"));
        }
        if let Some(cookies) = cookies {
            headers.push(("cookie", cookies));
        }
        let text = body.map(Value::to_string).unwrap_or_default();
        self.raw(method, path, &headers, &text).await
    }

    /// Sends a request with the session cookie `session`.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        session: Option<&str>,
        body: Option<&Value>,
    ) -> Answer {
        let cookie = session.map(|id| format!("{SESSION_COOKIE}={id}"));
        self.send(method, path, cookie.as_deref(), body).await
    }

    /// Logs `username` in with `password` and returns the session id.
    pub async fn login(&self, username: &str, password: &str) -> String {
        let answer = self
            .call(
                "POST",
                "/api/firstfactor",
                None,
                Some(&json!({ "username": username, "password": password })),
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        answer.session_id()
    }

    pub async fn alice(&self) -> String {
        self.login("alice", "correct-horse-1").await
    }

    /// Elevates the session for sensitive actions from the test peer, for ten minutes.
    pub async fn elevate(&self, session_id: &str) {
        let mut session = self.session(session_id).await;
        let until = self.clock.now_millis() + 600_000;
        self.services
            .sessions
            .set_elevation(&mut session, Some((until, "127.0.0.1")))
            .await
            .expect("set the elevation");
    }

    /// Reads the stored session behind `session_id`.
    pub async fn session(&self, session_id: &str) -> gatehouse::session::ActiveSession {
        let mut headers = HeaderMap::new();
        headers.insert(
            "cookie",
            format!("{SESSION_COOKIE}={session_id}")
                .parse()
                .expect("a header"),
        );
        let domain = &self.services.authz.cookie_domains[0].config;
        self.services
            .sessions
            .resolve(&headers, domain)
            .await
            .session
            .expect("a live session")
    }

    pub async fn level(&self, session_id: &str) -> Value {
        self.call("GET", "/api/state", Some(session_id), None)
            .await
            .json()["data"]["authentication_level"]
            .clone()
    }
}

/// Runs each named test function on SQLite and on PostgreSQL.
#[macro_export]
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
pub mod authenticator;
