//! The load generator: keep-alive HTTP/1.1 connections that send one request shape back to back
//! for a fixed time and record each response's latency.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use http_body_util::{BodyExt as _, Empty};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::scenarios::{forward_auth_request, Expectation, Scenario};

/// A client connection to one server.
pub struct Client {
    address: SocketAddr,
    authority: String,
    sender: SendRequest<Empty<Bytes>>,
}

/// A response with its body read.
pub struct FullResponse {
    pub status: http::StatusCode,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

impl Client {
    /// Opens a keep-alive connection to `address`.
    pub async fn connect(address: SocketAddr) -> anyhow::Result<Client> {
        let stream = TcpStream::connect(address)
            .await
            .with_context(|| format!("connecting to {address} failed"))?;
        stream.set_nodelay(true)?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .with_context(|| format!("the HTTP/1.1 handshake with {address} failed"))?;
        // The connection task ends when the server closes it or the sender is dropped.
        tokio::spawn(connection);
        Ok(Client {
            address,
            authority: address.to_string(),
            sender,
        })
    }

    /// Returns the `Host` value for requests on this connection.
    pub fn authority(&self) -> &str {
        &self.authority
    }

    /// Sends `request` and reads the whole response. Reconnects first if the server closed the
    /// connection.
    pub async fn send(
        &mut self,
        request: http::Request<Empty<Bytes>>,
    ) -> anyhow::Result<FullResponse> {
        if self.sender.is_closed() {
            *self = Client::connect(self.address).await?;
        }
        self.sender.ready().await?;
        let response = self.sender.send_request(request).await?;
        let (parts, body) = response.into_parts();
        let body = body.collect().await?.to_bytes();
        Ok(FullResponse {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }
}

/// How long a run lasts and how many connections it uses.
#[derive(Debug, Clone, Copy)]
pub struct LoadSettings {
    pub connections: usize,
    pub warmup: Duration,
    pub duration: Duration,
}

/// The outcome of one measured run against one server.
#[derive(Debug, Clone)]
pub struct RunResult {
    /// Requests started in the measured window.
    pub requests: u64,
    /// Time from the end of the warm-up to the last response.
    pub elapsed: Duration,
    pub p50: Duration,
    pub p99: Duration,
    /// Wrong responses and failed requests, warm-up included.
    pub errors: u64,
    /// Description of the first wrong response or failed request.
    pub first_error: Option<String>,
}

impl RunResult {
    /// Returns the measured throughput in requests per second.
    pub fn requests_per_second(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }
}

/// The measurements of one connection.
struct ConnectionResult {
    latencies: Vec<Duration>,
    errors: u64,
    first_error: Option<String>,
    finished: Instant,
}

/// The raw measurements of one or more runs against one server, before they are summarised.
#[derive(Debug, Default)]
pub struct Samples {
    latencies: Vec<Duration>,
    /// Measured time, summed over the runs.
    elapsed: Duration,
    errors: u64,
    first_error: Option<String>,
}

impl Samples {
    /// Adds the measurements of another run of the same scenario against the same server.
    pub fn absorb(&mut self, other: Samples) {
        self.latencies.extend(other.latencies);
        self.elapsed += other.elapsed;
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }

    /// Returns the request count, throughput time and percentiles of every run absorbed.
    pub fn summary(mut self) -> RunResult {
        self.latencies.sort_unstable();
        RunResult {
            requests: self.latencies.len() as u64,
            elapsed: self.elapsed,
            p50: percentile(&self.latencies, 50.0),
            p99: percentile(&self.latencies, 99.0),
            errors: self.errors,
            first_error: self.first_error,
        }
    }
}

/// Sends `scenario` on `settings.connections` connections to `address` and measures it.
#[cfg(test)]
pub async fn run(
    address: SocketAddr,
    scenario: &Scenario,
    expected: &Expectation,
    settings: LoadSettings,
) -> anyhow::Result<RunResult> {
    Ok(run_samples(address, scenario, expected, settings)
        .await?
        .summary())
}

/// Like [`run`], returning the measurements unsummarised so that runs can be pooled.
pub async fn run_samples(
    address: SocketAddr,
    scenario: &Scenario,
    expected: &Expectation,
    settings: LoadSettings,
) -> anyhow::Result<Samples> {
    let mut clients = Vec::with_capacity(settings.connections);
    for _ in 0..settings.connections {
        clients.push(Client::connect(address).await?);
    }
    let start = Instant::now();
    let measure_from = start + settings.warmup;
    let end = measure_from + settings.duration;

    let mut tasks = tokio::task::JoinSet::new();
    for client in clients {
        let scenario = scenario.clone();
        let expected = expected.clone();
        tasks.spawn(drive_connection(
            client,
            scenario,
            expected,
            measure_from,
            end,
        ));
    }

    let mut samples = Samples::default();
    let mut finished = measure_from;
    while let Some(joined) = tasks.join_next().await {
        let result = joined.context("a load connection task panicked")?;
        samples.latencies.extend(result.latencies);
        samples.errors += result.errors;
        if samples.first_error.is_none() {
            samples.first_error = result.first_error;
        }
        finished = finished.max(result.finished);
    }
    samples.elapsed = finished.duration_since(measure_from);
    Ok(samples)
}

async fn drive_connection(
    mut client: Client,
    scenario: Scenario,
    expected: Expectation,
    measure_from: Instant,
    end: Instant,
) -> ConnectionResult {
    let mut result = ConnectionResult {
        latencies: Vec::new(),
        errors: 0,
        first_error: None,
        finished: Instant::now(),
    };
    loop {
        let sent = Instant::now();
        if sent >= end {
            break;
        }
        let request = forward_auth_request(
            client.authority(),
            scenario.host,
            scenario.credential.as_ref(),
        );
        let problem = match client.send(request).await {
            Ok(response) => expected.check(response.status, &response.headers),
            Err(error) => Some(format!("request failed: {error:#}")),
        };
        let latency = sent.elapsed();
        if sent >= measure_from {
            result.latencies.push(latency);
        }
        if let Some(problem) = problem {
            result.errors += 1;
            result.first_error.get_or_insert(problem);
        }
    }
    result.finished = Instant::now();
    result
}

/// Returns the `rank`-th percentile of sorted `values` (nearest rank), or zero for no values.
pub fn percentile(sorted: &[Duration], rank: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let position = (rank / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted[position.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenarios::{load_scenarios, Credentials};

    fn test_credentials() -> Credentials {
        Credentials {
            username: "bench".to_owned(),
            password: "password".to_owned(),
            session_cookie: "authelia_session=value".to_owned(),
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn run_against_bare_handler() {
        let bare_address = crate::bare::start_in_task().await;
        let credentials = test_credentials();
        let settings = LoadSettings {
            connections: 4,
            warmup: Duration::from_millis(200),
            duration: Duration::from_millis(500),
        };
        for scenario in load_scenarios(&credentials) {
            let ok = Expectation::status(http::StatusCode::OK);
            let result = run(bare_address, &scenario, &ok, settings).await.unwrap();
            assert_eq!(result.errors, 0, "{:?}", result.first_error);
            assert!(result.requests > 0);
            assert!(result.elapsed >= settings.duration);
            assert!(result.p50 <= result.p99);
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn run_counts_wrong_status() {
        let bare_address = crate::bare::start_in_task().await;
        let credentials = test_credentials();
        let scenario = load_scenarios(&credentials).remove(0);
        let settings = LoadSettings {
            connections: 2,
            warmup: Duration::ZERO,
            duration: Duration::from_millis(200),
        };
        let result = run(bare_address, &scenario, &scenario.expected, settings)
            .await
            .unwrap();
        assert_eq!(result.errors, result.requests);
        assert_eq!(
            result.first_error.as_deref(),
            Some("expected status 302 Found, got 200 OK")
        );
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn pooled_runs_add_up() {
        let bare_address = crate::bare::start_in_task().await;
        let credentials = test_credentials();
        let scenario = load_scenarios(&credentials).remove(0);
        let ok = Expectation::status(http::StatusCode::OK);
        let settings = LoadSettings {
            connections: 2,
            warmup: Duration::ZERO,
            duration: Duration::from_millis(150),
        };
        let first = run_samples(bare_address, &scenario, &ok, settings)
            .await
            .unwrap();
        let second = run_samples(bare_address, &scenario, &ok, settings)
            .await
            .unwrap();
        let counts = (first.latencies.len() + second.latencies.len()) as u64;
        let time = first.elapsed + second.elapsed;
        let mut pooled = first;
        pooled.absorb(second);
        let summary = pooled.summary();
        assert_eq!(summary.requests, counts);
        assert_eq!(summary.elapsed, time);
        assert!(summary.elapsed >= 2 * settings.duration);
        assert_eq!(summary.errors, 0);
    }

    #[test]
    fn percentile_nearest_rank() {
        let values: Vec<Duration> = (1..=100).map(Duration::from_micros).collect();
        assert_eq!(percentile(&values, 50.0), Duration::from_micros(50));
        assert_eq!(percentile(&values, 99.0), Duration::from_micros(99));
        assert_eq!(percentile(&values, 100.0), Duration::from_micros(100));
    }

    #[test]
    fn percentile_of_few_values() {
        let values = [Duration::from_micros(7)];
        assert_eq!(percentile(&values, 50.0), Duration::from_micros(7));
        assert_eq!(percentile(&values, 99.0), Duration::from_micros(7));
        assert_eq!(percentile(&[], 50.0), Duration::ZERO);
    }
}
