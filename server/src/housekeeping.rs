//! Periodic deletion of rows that can never be used again.
//!
//! The rows are sessions past their lifetime or under a cookie domain that is no longer
//! configured, authentication attempts older than `regulation.find_time`, spent or expired
//! one-time tokens (reset links, elevation codes), and expired pending ceremonies.
//!
//! Every check that reads these rows already ignores the dead ones, so the cleanup only bounds
//! the size of the tables. A failed step is logged and the next run tries again.

use std::time::Duration;

use tokio::task::JoinHandle;

use crate::clock::Clock;
use crate::config::Config;
use crate::storage::{Database, SessionLifetimes, StorageError};

/// The time between two cleanup runs.
pub const CLEANUP_INTERVAL: Duration = Duration::from_secs(10 * 60);

/// The time from the start of the server to the first cleanup run, so that the run does not
/// compete with the start itself.
pub const FIRST_CLEANUP_DELAY: Duration = Duration::from_secs(30);

/// The number of rows one cleanup run deleted, per table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CleanupCounts {
    pub sessions: u64,
    pub attempts: u64,
    pub one_time_tokens: u64,
    pub ceremonies: u64,
}

/// Deletes the dead rows of every table as of `now` (milliseconds since the Unix epoch). Each
/// step runs even when an earlier one failed. Returns the counts, or the first error after all
/// steps ran.
pub async fn clean_up(
    db: &Database,
    config: &Config,
    now: i64,
) -> Result<CleanupCounts, StorageError> {
    let mut counts = CleanupCounts::default();
    let mut first_error = None;
    let mut note =
        |step: &'static str, result: Result<u64, StorageError>, count: &mut u64| match result {
            Ok(deleted) => *count += deleted,
            Err(error) => {
                tracing::error!(%error, step, "cleanup step failed; the next run retries it");
                first_error.get_or_insert(error);
            }
        };

    let domains: Vec<String> = config
        .session
        .cookies
        .iter()
        .map(|cookie| cookie.domain.clone())
        .collect();
    let result = db.delete_sessions_outside_domains(&domains).await;
    note(
        "sessions of removed cookie domains",
        result,
        &mut counts.sessions,
    );
    for cookie in &config.session.cookies {
        let lifetimes = SessionLifetimes {
            cookie_domain: cookie.domain.clone(),
            expiration: millis(cookie.expiration),
            inactivity: millis(cookie.inactivity),
            remember_me: cookie.remember_me.map(millis),
        };
        let result = db.delete_expired_sessions(&lifetimes, now).await;
        note("expired sessions", result, &mut counts.sessions);
    }

    let oldest_counted = now.saturating_sub(millis(config.regulation.find_time));
    let result = db.delete_attempts_before(oldest_counted).await;
    note("old authentication attempts", result, &mut counts.attempts);

    let result = db.delete_spent_one_time_tokens(now).await;
    note("spent one-time tokens", result, &mut counts.one_time_tokens);

    let result = db.delete_expired_ceremonies(now).await;
    note("expired ceremonies", result, &mut counts.ceremonies);

    match first_error {
        Some(error) => Err(error),
        None => Ok(counts),
    }
}

/// Starts the periodic cleanup on the current runtime: the first run after
/// [`FIRST_CLEANUP_DELAY`], then one every [`CLEANUP_INTERVAL`]. Errors are logged and never end
/// the task. The task runs until the runtime shuts down or the handle is aborted.
pub fn spawn_cleanup(db: Database, config: std::sync::Arc<Config>, clock: Clock) -> JoinHandle<()> {
    tokio::spawn(async move {
        let start = tokio::time::Instant::now() + FIRST_CLEANUP_DELAY;
        let mut ticks = tokio::time::interval_at(start, CLEANUP_INTERVAL);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            // Errors were logged per step inside.
            if let Ok(counts) = clean_up(&db, &config, clock.now_millis()).await {
                log_counts(counts);
            }
        }
    })
}

fn log_counts(counts: CleanupCounts) {
    let total = counts.sessions + counts.attempts + counts.one_time_tokens + counts.ceremonies;
    if total == 0 {
        tracing::debug!("cleanup found no expired rows");
        return;
    }
    tracing::info!(
        sessions = counts.sessions,
        attempts = counts.attempts,
        one_time_tokens = counts.one_time_tokens,
        ceremonies = counts.ceremonies,
        "cleanup deleted expired rows"
    );
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}
