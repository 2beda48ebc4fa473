//! Time as the server sees it.
//!
//! Logic never reads the system clock itself: it asks the [`Clock`] in the server state, so that
//! tests can move time for inactivity, expiry, bans and TOTP windows without sleeping.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// A source of the current time in milliseconds since the Unix epoch.
#[derive(Clone, Debug)]
pub enum Clock {
    /// The system clock.
    System,
    /// A clock that moves only when advanced, shared by every clone.
    Manual(Arc<AtomicI64>),
}

impl Clock {
    /// Creates a manual clock that starts at `start_millis`.
    pub fn manual(start_millis: i64) -> Self {
        Clock::Manual(Arc::new(AtomicI64::new(start_millis)))
    }

    /// Returns the current time in milliseconds since the Unix epoch.
    pub fn now_millis(&self) -> i64 {
        match self {
            Clock::System => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|elapsed| i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX))
                .unwrap_or(0),
            Clock::Manual(now) => now.load(Ordering::SeqCst),
        }
    }

    /// Returns the current time in whole seconds since the Unix epoch.
    pub fn now_secs(&self) -> i64 {
        self.now_millis().div_euclid(1000)
    }

    /// Moves a manual clock forward; does nothing to the system clock.
    pub fn advance_millis(&self, millis: i64) {
        if let Clock::Manual(now) = self {
            now.fetch_add(millis, Ordering::SeqCst);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_advanced() {
        let clock = Clock::manual(1_000);
        let copy = clock.clone();
        assert_eq!(clock.now_millis(), 1_000);
        copy.advance_millis(2_500);
        assert_eq!(clock.now_millis(), 3_500);
        assert_eq!(clock.now_secs(), 3);
    }

    #[test]
    fn system_clock_is_after_2024() {
        assert!(Clock::System.now_secs() > 1_704_067_200);
    }
}
