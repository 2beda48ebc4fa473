//! The baseline: an axum server that responds with 200 "OK" to every request without looking at it.
//!
//! It runs in a child process (this binary started again with `--serve-bare`), so that it and
//! Gatehouse are measured the same way: each a separate process with Tokio's default runtime of
//! one worker thread per core, reached over loopback from the load generator's process.

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::{Ipv4Addr, SocketAddr};
use std::process::{Child, Command, Stdio};

use anyhow::{bail, Context as _};
use axum::Router;

/// The hidden option that makes this binary serve the bare handler instead of benchmarking.
pub const SERVE_BARE_OPTION: &str = "--serve-bare";

/// The bare handler's child process, killed when this is dropped.
pub struct BareServer {
    pub address: SocketAddr,
    child: Child,
}

impl BareServer {
    /// Starts the child process and reads the address it listens on from its first output line.
    pub fn start() -> anyhow::Result<BareServer> {
        let program = std::env::current_exe().context("finding this binary's path failed")?;
        let mut child = Command::new(&program)
            .arg(SERVE_BARE_OPTION)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| {
                format!("starting {} {SERVE_BARE_OPTION} failed", program.display())
            })?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .context("reading the bare handler's address failed")?;
        let Ok(address) = line.trim().parse::<SocketAddr>() else {
            let _ = child.kill();
            let _ = child.wait();
            bail!("the bare handler printed {line:?} instead of its address");
        };
        Ok(BareServer { address, child })
    }
}

impl Drop for BareServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Serves the bare handler on a free loopback port until the process is killed, after printing
/// the address on standard output.
pub fn serve() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the bare handler's runtime failed")?;
    runtime.block_on(async {
        let listener = bind().await?;
        let mut stdout = std::io::stdout();
        writeln!(stdout, "{}", listener.local_addr()?)?;
        stdout.flush()?;
        serve_on(listener).await
    })
}

async fn bind() -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .context("binding the bare handler's port failed")
}

async fn serve_on(listener: tokio::net::TcpListener) -> anyhow::Result<()> {
    let router = Router::new().fallback(|| async { "OK" });
    axum::serve(listener, router)
        .await
        .context("the bare handler stopped")
}

/// Serves the bare handler in a task of the caller's runtime, for tests: a test binary cannot
/// start itself with `--serve-bare`, because the test harness owns its command line.
#[cfg(test)]
pub async fn start_in_task() -> SocketAddr {
    let listener = bind().await.expect("a loopback port is free");
    let address = listener
        .local_addr()
        .expect("a bound listener has an address");
    tokio::spawn(serve_on(listener));
    address
}
