//! Warnings about session cookies that look forged, stolen or replayed, rate-limited so that a
//! client sending bad cookies on every request cannot flood the log.

use std::sync::Mutex;

use crate::telemetry::user_text;

/// Length of one counting window, in milliseconds.
const WINDOW_MILLIS: i64 = 60_000;

/// Warnings written per window; further ones are only counted.
const MAX_WARNINGS_PER_WINDOW: u64 = 20;

/// The prefix of every warning, so that operators can search and alert on one string.
pub(crate) const PREFIX: &str = "suspicious session";

/// A rate limiter for suspicious-session warnings, shared by every clone of the store.
#[derive(Debug, Default)]
pub(crate) struct SuspicionLog {
    state: Mutex<Window>,
}

#[derive(Debug, Default)]
struct Window {
    start: i64,
    written: u64,
    suppressed: u64,
}

impl SuspicionLog {
    /// Logs `reason` at warn level with the fixed prefix, unless this window's quota is used up.
    /// The first warning of a new window reports how many the previous window suppressed.
    /// `reason` is a fixed text: it must never contain a cookie value or session id.
    pub(crate) fn warn(&self, now: i64, reason: &'static str, username: Option<&str>) {
        let suppressed = {
            let mut window = match self.state.lock() {
                Ok(window) => window,
                Err(poisoned) => poisoned.into_inner(),
            };
            let mut suppressed_before = 0;
            if now >= window.start.saturating_add(WINDOW_MILLIS) || now < window.start {
                suppressed_before = window.suppressed;
                *window = Window {
                    start: now,
                    written: 0,
                    suppressed: 0,
                };
            }
            if window.written >= MAX_WARNINGS_PER_WINDOW {
                window.suppressed += 1;
                return;
            }
            window.written += 1;
            suppressed_before
        };
        match username {
            Some(username) => {
                tracing::warn!(username = %user_text(username), suppressed, "{PREFIX}: {reason}");
            }
            None => tracing::warn!(suppressed, "{PREFIX}: {reason}"),
        }
    }

    #[cfg(test)]
    fn counts(&self) -> (u64, u64) {
        let window = self.state.lock().unwrap();
        (window.written, window.suppressed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warnings_beyond_the_quota_are_counted() {
        let log = SuspicionLog::default();
        for _ in 0..MAX_WARNINGS_PER_WINDOW + 5 {
            log.warn(1_000, "test reason", None);
        }
        assert_eq!(log.counts(), (MAX_WARNINGS_PER_WINDOW, 5));
    }

    #[test]
    fn new_window_resets_the_quota() {
        let log = SuspicionLog::default();
        for _ in 0..MAX_WARNINGS_PER_WINDOW + 1 {
            log.warn(1_000, "test reason", None);
        }
        log.warn(1_000 + WINDOW_MILLIS, "test reason", Some("alice"));
        assert_eq!(log.counts(), (1, 0));
    }
}
