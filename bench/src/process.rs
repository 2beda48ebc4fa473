//! The Gatehouse child process: started with the generated configuration, killed when dropped.

use std::fs::File;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use http_body_util::Empty;

use crate::load::Client;

/// A running `gatehouse serve`. Dropping it kills the process, also when the bench panics or
/// is interrupted, so no server outlives the run.
pub struct GatehouseProcess {
    child: Child,
    pub address: SocketAddr,
    log_path: PathBuf,
}

impl GatehouseProcess {
    /// Starts `gatehouse serve` with standard output and error going to `log_path`.
    pub fn start(
        binary: &Path,
        config: &Path,
        port: u16,
        log_path: &Path,
    ) -> anyhow::Result<GatehouseProcess> {
        let log = File::create(log_path)
            .with_context(|| format!("creating {} failed", log_path.display()))?;
        let child = Command::new(binary)
            .arg("--config")
            .arg(config)
            .arg("serve")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {} serve failed", binary.display()))?;
        Ok(GatehouseProcess {
            child,
            address: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
            log_path: log_path.to_owned(),
        })
    }

    /// Returns the process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Polls `/api/health` until it responds with 200, and fails with the end of the log when the process
    /// exits or `timeout` passes first.
    pub async fn wait_until_ready(&mut self, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "gatehouse serve exited with {status} before it was ready; its log ends with:\n{}",
                    self.log_tail()
                );
            }
            if self.health_is_ok().await {
                return Ok(());
            }
            if Instant::now() >= deadline {
                bail!(
                    "gatehouse serve did not respond with 200 on {}/api/health within {} s; its log ends with:\n{}",
                    self.address,
                    timeout.as_secs(),
                    self.log_tail()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn health_is_ok(&self) -> bool {
        let Ok(mut client) = Client::connect(self.address).await else {
            return false;
        };
        let request = http::Request::get("/api/health")
            .header(http::header::HOST, client.authority())
            .body(Empty::new())
            .expect("the request's parts are valid");
        client
            .send(request)
            .await
            .is_ok_and(|response| response.status == http::StatusCode::OK)
    }

    /// Reads the resident set size (`VmRSS` in `/proc/<pid>/status`), in KiB.
    pub fn resident_kib(&self) -> anyhow::Result<u64> {
        let path = format!("/proc/{}/status", self.pid());
        let status =
            std::fs::read_to_string(&path).with_context(|| format!("reading {path} failed"))?;
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|value| value.trim().strip_suffix("kB"))
            .and_then(|value| value.trim().parse().ok())
            .with_context(|| format!("{path} has no VmRSS line in kB"))
    }

    /// Returns the last lines of the process's output, for error messages.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log_path).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

impl Drop for GatehouseProcess {
    fn drop(&mut self) {
        // SIGKILL: the database is a throwaway file, so there is nothing to shut down cleanly.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
