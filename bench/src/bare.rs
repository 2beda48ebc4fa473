//! The baseline: an axum server that responds with 200 "OK" to every request without looking at it.

use std::net::{Ipv4Addr, SocketAddr};
use std::thread::JoinHandle;

use anyhow::Context as _;
use axum::Router;
use tokio::sync::oneshot;

/// The bare handler, served on its own Tokio runtime in a thread of this process.
///
/// The runtime is separate from the load generator's so that, like Gatehouse, the server has
/// its own worker threads (Tokio's default: one per core).
pub struct BareServer {
    pub address: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl BareServer {
    /// Binds a free loopback port and starts serving.
    pub fn start() -> anyhow::Result<BareServer> {
        let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .context("binding the bare handler's port failed")?;
        listener.set_nonblocking(true)?;
        let address = listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .thread_name("bare-handler")
            .enable_all()
            .build()
            .context("starting the bare handler's runtime failed")?;
        let (shutdown, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("bare-handler".to_owned())
            .spawn(move || {
                runtime.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener)
                        .expect("a non-blocking std listener converts");
                    let router = Router::new().fallback(|| async { "OK" });
                    // Stopping drops the open connections with the runtime instead of waiting
                    // for them, so a client that keeps one open cannot hold up the exit.
                    tokio::select! {
                        served = axum::serve(listener, router) => {
                            if let Err(error) = served {
                                eprintln!("gatehouse-bench: the bare handler stopped: {error}");
                            }
                        }
                        _ = stopped => {}
                    }
                });
                runtime.shutdown_background();
            })
            .context("starting the bare handler's thread failed")?;
        Ok(BareServer {
            address,
            shutdown: Some(shutdown),
            thread: Some(thread),
        })
    }
}

impl Drop for BareServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
