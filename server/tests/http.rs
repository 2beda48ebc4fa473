//! The HTTP server as a proxy and an operator meet it: health, request ids, the header size limit
//! and a clean stop on SIGTERM.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::{Backend, Instance};
use gatehouse::clock::Clock;
use gatehouse::http::{base_router, AppState};
use gatehouse::storage::{Cipher, Database, DatabaseOptions};
use http_body_util::BodyExt;
use leptos::prelude::LeptosOptions;
use tower::ServiceExt;

async fn open(backend: Backend, directory: &std::path::Path) -> Database {
    let options = match backend {
        Backend::Sqlite => DatabaseOptions::Sqlite {
            path: directory.join("gatehouse.sqlite3"),
        },
        Backend::Postgres => {
            let url = url::Url::parse(&common::postgres_url()).expect("a valid URL");
            DatabaseOptions::Postgres {
                host: url.host_str().unwrap_or("127.0.0.1").to_owned(),
                port: url.port().unwrap_or(5432),
                database: url.path().trim_start_matches('/').to_owned(),
                schema: Some(format!("http_{}", hex::encode(rand::random::<[u8; 6]>()))),
                username: url.username().to_owned(),
                password: String::new(),
                connect_timeout: Duration::from_secs(10),
            }
        }
    };
    Database::connect(
        &options,
        Cipher::new("test-encryption-key-0123456789abcdefghij"),
    )
    .await
    .expect("open the test database")
}

fn state(db: Database) -> AppState {
    let leptos = LeptosOptions::builder()
        .output_name("gatehouse")
        .site_root("target/site")
        .build();
    AppState {
        db,
        clock: Clock::System,
        leptos: Arc::new(leptos),
    }
}

async fn health_follows_the_database(backend: Backend) {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let db = open(backend, directory.path()).await;
    let app = base_router(state(db.clone()));

    let request = Request::get("/api/health")
        .header("x-request-id", "client-chosen")
        .body(Body::empty())
        .unwrap();
    let response = app.clone().oneshot(request).await.expect("an answer");
    assert_eq!(response.status(), StatusCode::OK);
    let request_id = response
        .headers()
        .get("x-request-id")
        .expect("a request id")
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(request_id.len(), 16, "{request_id}");
    assert!(
        request_id.chars().all(|c| c.is_ascii_hexdigit()),
        "{request_id}"
    );
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], br#"{"status":"OK"}"#);

    let head = app
        .clone()
        .oneshot(Request::head("/api/health").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(head.status(), StatusCode::OK);

    db.close().await;
    let response = app
        .oneshot(Request::get("/api/health").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(
        &body[..],
        br#"{"status":"KO","message":"The database is not reachable."}"#
    );
}

#[tokio::test]
async fn health_follows_the_database_sqlite() {
    health_follows_the_database(Backend::Sqlite).await;
}

#[tokio::test]
async fn health_follows_the_database_postgres() {
    health_follows_the_database(Backend::Postgres).await;
}

/// A running `gatehouse serve` that is killed if the test fails before stopping it.
struct Server {
    child: Child,
    address: SocketAddr,
    _instance: Instance,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind a free port")
        .local_addr()
        .unwrap()
        .port()
}

fn start_server(backend: Backend) -> Server {
    let port = free_port();
    let instance = Instance::new(
        backend,
        &format!("server:\n  address: 'tcp://127.0.0.1:{port}/'\n"),
    );
    let child = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .arg("serve")
        .arg("--config")
        .arg(&instance.config_path)
        .env_remove("GATEHOUSE_CONFIG")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start gatehouse serve");
    let address: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(address).is_err() {
        assert!(
            Instant::now() < deadline,
            "gatehouse did not start listening within 30 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Server {
        child,
        address,
        _instance: instance,
    }
}

/// Sends one raw HTTP/1.1 request and returns the status code of the response.
fn status_of_raw_request(address: SocketAddr, extra_header_bytes: usize) -> u16 {
    status_of_raw_request_with_lines(address, extra_header_bytes, 0)
}

/// Sends one raw HTTP/1.1 request with a cookie of `extra_header_bytes` and `extra_lines` short
/// header lines, and returns the status code of the response.
fn status_of_raw_request_with_lines(
    address: SocketAddr,
    extra_header_bytes: usize,
    extra_lines: usize,
) -> u16 {
    let mut stream = TcpStream::connect(address).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let cookie = "a".repeat(extra_header_bytes);
    let lines: String = (0..extra_lines)
        .map(|index| format!("X-Extra-{index}: a\r\n"))
        .collect();
    let request = format!(
        "GET /api/health HTTP/1.1\r\nHost: auth.example.com\r\nCookie: other={cookie}\r\n{lines}Connection: close\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .expect("send the request");
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer);
    let status_line = text.lines().next().unwrap_or_default();
    status_line
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0)
}

#[test]
fn serve_limits_headers_and_stops_on_sigterm() {
    let mut server = start_server(Backend::Sqlite);
    assert_eq!(status_of_raw_request(server.address, 100), 200);
    // 30 KiB of cookies fit under the default 32 KiB limit (server.buffers.read).
    assert_eq!(status_of_raw_request(server.address, 30 * 1024), 200);
    assert_eq!(status_of_raw_request(server.address, 200 * 1024), 431);
    // A proxy forwards the client's headers and adds its own: 150 short lines are normal.
    assert_eq!(
        status_of_raw_request_with_lines(server.address, 100, 150),
        200
    );
    assert_eq!(
        status_of_raw_request(server.address, 100),
        200,
        "the server still answers after a 431"
    );

    let pid = server.child.id().to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("run kill");
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = server.child.try_wait().expect("wait for gatehouse") {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "gatehouse did not stop within 15 s of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(
        status.code(),
        Some(0),
        "SIGTERM ends gatehouse with exit status 0"
    );
}

#[test]
fn serve_on_postgres_answers_health() {
    let server = start_server(Backend::Postgres);
    assert_eq!(status_of_raw_request(server.address, 100), 200);
}

/// The embedded default prints a link that sets the first administrator's password; the reset
/// routes must accept its token, and the administrator must have an address for e-mailed codes.
#[test]
fn embedded_first_admin_link_works() {
    use std::io::{BufRead, BufReader};

    let data = tempfile::tempdir().expect("temporary directory");
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .arg("serve")
        .arg("--data")
        .arg(data.path())
        .env_remove("GATEHOUSE_CONFIG")
        .env(
            "GATEHOUSE_SERVER_ADDRESS",
            format!("tcp://127.0.0.1:{port}/"),
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start gatehouse serve");
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut server = Server {
        child,
        address: format!("127.0.0.1:{port}").parse().unwrap(),
        _instance: Instance::new(Backend::Sqlite, ""),
    };
    // The output is read to its end on a thread, because a closed pipe would make the server's
    // next line of output fail.
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some((_, token)) = line.split_once("/reset-password/step2?token=") {
                let _ = sender.send(token.trim().to_owned());
            }
        }
    });
    let token = receiver
        .recv_timeout(Duration::from_secs(30))
        .expect("serve prints the first administrator's link");
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(server.address).is_err() {
        assert!(
            Instant::now() < deadline,
            "gatehouse did not start listening"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    let body = format!(r#"{{"token":"{token}"}}"#);
    let mut stream = TcpStream::connect(server.address).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "POST /api/reset-password/identity/finish HTTP/1.1\r\nHost: auth.gatehouse.localhost:{port}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains(r#""username":"admin""#), "{answer}");

    let _ = server.child.kill();
    let _ = server.child.wait();
    let listed = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(["user", "list", "--json", "--data"])
        .arg(data.path())
        .env_remove("GATEHOUSE_CONFIG")
        .output()
        .expect("run gatehouse user list");
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(listed.contains("admin@gatehouse.localhost"), "{listed}");
}
