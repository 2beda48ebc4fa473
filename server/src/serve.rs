//! The listening loop: accepts connections, serves the router on each, and stops cleanly.
//!
//! axum's own `serve` cannot set the maximum size of a request head, and the forward-auth endpoints
//! must accept large cookies and long URIs, so connections are served with hyper directly.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request};
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tower::ServiceExt;

/// hyper refuses a read buffer smaller than this (bytes).
pub const MIN_HEADER_LIMIT: usize = 8192;

/// Header lines accepted in one request. hyper's default of 100 is too few for a forward-auth
/// request, which carries the client's headers and the proxy's own.
pub const MAX_HEADER_LINES: usize = 512;

/// How long open connections get to finish after a shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Settings the listener applies to every connection.
#[derive(Clone, Debug)]
pub struct ListenSettings {
    /// Maximum size of a request head (request line and headers) in bytes; larger ones get 431.
    pub header_limit: usize,
}

/// Serves `router` on `listener` until `shutdown` completes, then waits for open connections.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    settings: ListenSettings,
    shutdown: impl Future<Output = ()>,
) {
    let header_limit = settings.header_limit.max(MIN_HEADER_LIMIT);
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .max_buf_size(header_limit)
        .max_headers(MAX_HEADER_LINES)
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(30));
    builder
        .http2()
        .max_header_list_size(u32::try_from(header_limit).unwrap_or(u32::MAX));

    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);

    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(connection) => connection,
                Err(error) => {
                    // Usually too many open files: wait a moment instead of spinning.
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };

        let service = router
            .clone()
            .map_request(move |mut request: Request<Incoming>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                request
            });
        let connection = builder
            .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                log_connection_error(peer, header_limit, &*error);
            }
        });
    }

    drop(listener);
    tracing::info!("shutting down: waiting for open connections");
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("all connections closed"),
        () = tokio::time::sleep(SHUTDOWN_GRACE) => {
            tracing::warn!(grace_seconds = SHUTDOWN_GRACE.as_secs(), "connections still open at shutdown were dropped");
        }
    }
}

fn log_connection_error(
    peer: SocketAddr,
    header_limit: usize,
    error: &(dyn std::error::Error + 'static),
) {
    let too_large = error
        .downcast_ref::<hyper::Error>()
        .is_some_and(hyper::Error::is_parse_too_large);
    if too_large {
        tracing::warn!(
            %peer,
            limit_bytes = header_limit,
            max_header_lines = MAX_HEADER_LINES,
            "responded 431: request head larger than server.buffers.read or with too many header lines; raise server.buffers.read to accept larger heads"
        );
    } else {
        tracing::debug!(%peer, %error, "connection ended with an error");
    }
}

/// Completes on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = ctrl_c => tracing::info!("received Ctrl-C"),
        () = terminate => tracing::info!("received SIGTERM"),
    }
}
