//! Timing of failed Basic credentials: a wrong password for the real user against an unknown
//! user. Gatehouse verifies an unknown user's password against a dummy hash of the same cost, so
//! the two series should take the same time. A gap would let a client find out which user names
//! exist.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use http::StatusCode;

use crate::load::{percentile, Client, FullResponse};
use crate::scenarios::{basic_authorization, forward_auth_request};

/// A user name that does not exist in the benchmark database.
pub const UNKNOWN_USER: &str = "nosuchuser";

/// The medians of both series and the count of unexpected responses.
#[derive(Debug, Clone)]
pub struct TimingResult {
    pub requests_per_series: usize,
    pub wrong_password_median: Duration,
    pub unknown_user_median: Duration,
    /// Responses other than 401 with a Basic challenge.
    pub errors: u64,
    /// Pairs whose two responses differ in status, `WWW-Authenticate` or body.
    pub differing_responses: u64,
    pub first_error: Option<String>,
}

impl TimingResult {
    /// Returns the unknown-user median minus the wrong-password median, as a percentage of the
    /// wrong-password median.
    pub fn difference_percent(&self) -> f64 {
        let wrong = self.wrong_password_median.as_secs_f64();
        let unknown = self.unknown_user_median.as_secs_f64();
        (unknown - wrong) / wrong * 100.0
    }

    /// True when the medians differ by at most 10 % of the wrong-password median or 5 ms,
    /// whichever is larger.
    pub fn meets_target(&self) -> bool {
        let allowed = self
            .wrong_password_median
            .mul_f64(0.10)
            .max(Duration::from_millis(5));
        self.wrong_password_median
            .abs_diff(self.unknown_user_median)
            <= allowed
    }
}

/// Sends `requests` pairs of failed Basic requests on one connection, one at a time, and times
/// each. The two series alternate, and which one goes first alternates too, so that both see
/// the same machine conditions.
pub async fn run(
    address: SocketAddr,
    username: &str,
    requests: usize,
) -> anyhow::Result<TimingResult> {
    let mut client = Client::connect(address).await?;
    let mut wrong_password = Vec::with_capacity(requests);
    let mut unknown_user = Vec::with_capacity(requests);
    let mut result = TimingResult {
        requests_per_series: requests,
        wrong_password_median: Duration::ZERO,
        unknown_user_median: Duration::ZERO,
        errors: 0,
        differing_responses: 0,
        first_error: None,
    };

    for round in 0..requests {
        // The same wrong password for both users in a round, and a new one each round.
        let password = format!("wrong-password-{round}");
        let (wrong, unknown) = if round % 2 == 0 {
            let wrong = send_timed(&mut client, username, &password).await?;
            (
                wrong,
                send_timed(&mut client, UNKNOWN_USER, &password).await?,
            )
        } else {
            let unknown = send_timed(&mut client, UNKNOWN_USER, &password).await?;
            (send_timed(&mut client, username, &password).await?, unknown)
        };

        for (series, response) in [("wrong password", &wrong.1), ("unknown user", &unknown.1)] {
            if let Some(problem) = check_challenge(response) {
                result.errors += 1;
                result
                    .first_error
                    .get_or_insert_with(|| format!("{series}: {problem}"));
            }
        }
        if !same_response(&wrong.1, &unknown.1) {
            result.differing_responses += 1;
            result.first_error.get_or_insert_with(|| {
                format!(
                    "the responses differ: {} {:?} for the wrong password, {} {:?} for the unknown user",
                    wrong.1.status,
                    wrong.1.headers.get(WWW_AUTHENTICATE),
                    unknown.1.status,
                    unknown.1.headers.get(WWW_AUTHENTICATE)
                )
            });
        }
        wrong_password.push(wrong.0);
        unknown_user.push(unknown.0);
    }

    wrong_password.sort_unstable();
    unknown_user.sort_unstable();
    result.wrong_password_median = percentile(&wrong_password, 50.0);
    result.unknown_user_median = percentile(&unknown_user, 50.0);
    Ok(result)
}

/// Sends one Basic request for `user` and returns its latency with the response.
async fn send_timed(
    client: &mut Client,
    user: &str,
    password: &str,
) -> anyhow::Result<(Duration, FullResponse)> {
    let credential = (AUTHORIZATION, basic_authorization(user, password));
    let request = forward_auth_request(client.authority(), "app.example.com", Some(&credential));
    let sent = Instant::now();
    let response = client.send(request).await?;
    Ok((sent.elapsed(), response))
}

/// Returns `None` for a 401 with a Basic challenge, else a description of what is wrong with the response.
fn check_challenge(response: &FullResponse) -> Option<String> {
    if response.status != StatusCode::UNAUTHORIZED {
        return Some(format!("expected status 401, got {}", response.status));
    }
    let challenge = response
        .headers
        .get(WWW_AUTHENTICATE)
        .and_then(|value| value.to_str().ok());
    if !challenge.is_some_and(|value| value.starts_with("Basic ")) {
        return Some(format!(
            "expected a Basic WWW-Authenticate challenge, got {}",
            challenge.unwrap_or("none")
        ));
    }
    None
}

/// Compares what a client could tell apart: status, challenge and body.
fn same_response(first: &FullResponse, second: &FullResponse) -> bool {
    first.status == second.status
        && first.headers.get(WWW_AUTHENTICATE) == second.headers.get(WWW_AUTHENTICATE)
        && first.body == second.body
}
