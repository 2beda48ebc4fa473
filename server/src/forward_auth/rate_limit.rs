//! In-memory rate limits per key (normally a client IP) over one or more buckets of
//! "at most `requests` per `period`".
//!
//! Each bucket splits its period into [`SLOTS`] equal slots and keeps one counter per slot,
//! plus one for the slot in progress. The count of a bucket is the sum of its counters, which
//! covers at least the last full period. So no period-long window ever contains more than `requests`
//! counted requests. The price is that a limit can last up to one slot (a sixteenth of the
//! period) longer than an exact log of request times would keep it. Memory per key is fixed
//! whatever `requests` is.
//!
//! Keys live in a bounded cache that drops keys idle for longer than the longest period. When
//! the cache is full, its admission policy (moka's TinyLFU) prefers keys that are seen often, so
//! a flood of new keys cannot push out the counters of a busy client, but the counts of a new key
//! may then be dropped. Counts are not shared between instances.
//!
//! Time comes from the server's [`Clock`], so tests move it instead of sleeping.

use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use moka::sync::Cache;

use crate::clock::Clock;
use crate::config::RateLimit;

/// Number of whole slots a bucket's period is split into.
const SLOTS: usize = 16;

/// Keys kept at most by [`RateLimiter::new`]. Each key costs a few hundred bytes (an estimate
/// from the sizes of the structures, not a measurement).
pub const DEFAULT_MAX_KEYS: u64 = 65_536;

/// A request over the limit, with the time until the key is allowed again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limited {
    /// Time until every bucket has room again, for the `Retry-After` header.
    pub retry_after: Duration,
}

/// Rate limits for keys of type `K`, shared by every request that clones the `Arc` it lives in.
pub struct RateLimiter<K> {
    buckets: Arc<[BucketShape]>,
    /// `None` when the limit is disabled or has no bucket.
    windows: Option<Cache<K, Arc<Mutex<KeyWindows>>>>,
    clock: Clock,
}

#[derive(Clone, Copy, Debug)]
struct BucketShape {
    requests: u32,
    slot_millis: i64,
}

/// The counters of one key, one slot ring per bucket.
struct KeyWindows {
    rings: Vec<SlotRing>,
}

/// Counters for the slots `newest_slot - SLOTS ..= newest_slot` of one bucket.
struct SlotRing {
    counts: [u32; SLOTS + 1],
    newest_slot: i64,
}

impl SlotRing {
    fn new(slot: i64) -> Self {
        SlotRing {
            counts: [0; SLOTS + 1],
            newest_slot: slot,
        }
    }

    fn index(slot: i64) -> usize {
        // `rem_euclid` of a positive modulus is in `0..=SLOTS`, so the cast cannot truncate.
        slot.rem_euclid(SLOTS as i64 + 1) as usize
    }

    /// Moves the ring to `slot`, clearing the slots that fall out of the window. A slot before
    /// the newest one (the clock went back) changes nothing.
    fn advance(&mut self, slot: i64) {
        if slot <= self.newest_slot {
            return;
        }
        if slot - self.newest_slot > SLOTS as i64 {
            self.counts = [0; SLOTS + 1];
        } else {
            for cleared in self.newest_slot + 1..=slot {
                self.counts[Self::index(cleared)] = 0;
            }
        }
        self.newest_slot = slot;
    }

    fn total(&self) -> u64 {
        self.counts.iter().map(|&count| u64::from(count)).sum()
    }

    fn add(&mut self) {
        let counter = &mut self.counts[Self::index(self.newest_slot)];
        *counter = counter.saturating_add(1);
    }

    /// Returns the milliseconds from `now` until the count drops below `requests`, as old
    /// slots leave the window.
    fn millis_until_below(&self, requests: u32, slot_millis: i64, now: i64) -> i64 {
        let mut remaining = self.total();
        let oldest = self.newest_slot - SLOTS as i64;
        for slot in oldest..=self.newest_slot {
            remaining -= u64::from(self.counts[Self::index(slot)]);
            if remaining < u64::from(requests) {
                // Slot `slot` is counted until the ring advances past `slot + SLOTS`.
                let leaves_at = (slot + SLOTS as i64 + 1).saturating_mul(slot_millis);
                return leaves_at.saturating_sub(now).max(1);
            }
        }
        // Unreachable with `requests >= 1`, because the total drops to zero at the newest slot.
        (SLOTS as i64 + 1).saturating_mul(slot_millis)
    }
}

impl<K> RateLimiter<K>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
{
    /// Creates a limiter for `limit` that keeps at most [`DEFAULT_MAX_KEYS`] keys.
    pub fn new(limit: &RateLimit, clock: Clock) -> Self {
        Self::with_max_keys(limit, clock, DEFAULT_MAX_KEYS)
    }

    /// Creates a limiter for `limit` that keeps at most `max_keys` keys.
    ///
    /// A disabled limit, or one without buckets, never limits. A bucket with zero requests
    /// limits every request.
    pub fn with_max_keys(limit: &RateLimit, clock: Clock, max_keys: u64) -> Self {
        let buckets: Arc<[BucketShape]> = limit
            .buckets
            .iter()
            .map(|bucket| {
                let period_millis = i64::try_from(bucket.period.as_millis())
                    .unwrap_or(i64::MAX)
                    .max(1);
                BucketShape {
                    requests: bucket.requests,
                    // Rounded up, so that SLOTS slots cover at least the whole period.
                    slot_millis: (period_millis + SLOTS as i64 - 1) / SLOTS as i64,
                }
            })
            .collect();

        let windows = if limit.enable && !buckets.is_empty() {
            let longest_window_millis = buckets
                .iter()
                .map(|bucket| bucket.slot_millis.saturating_mul(SLOTS as i64 + 1))
                .max()
                .unwrap_or(0);
            let idle = Duration::from_millis(u64::try_from(longest_window_millis).unwrap_or(0));
            Some(
                Cache::builder()
                    .max_capacity(max_keys)
                    .time_to_idle(idle)
                    .build(),
            )
        } else {
            None
        };

        RateLimiter {
            buckets,
            windows,
            clock,
        }
    }

    /// Checks whether `key` is over a limit, without counting a request.
    pub fn check(&self, key: &K) -> Result<(), Limited> {
        let Some(windows) = &self.windows else {
            return Ok(());
        };
        let Some(entry) = windows.get(key) else {
            return Ok(());
        };
        let mut state = entry.lock().unwrap_or_else(PoisonError::into_inner);
        self.over_limit(&mut state, self.clock.now_millis())
    }

    /// Counts one request of `key`, whether or not it is over a limit.
    pub fn record(&self, key: K) {
        let Some(windows) = &self.windows else {
            return;
        };
        let now = self.clock.now_millis();
        let entry = windows.get_with(key, || self.new_windows(now));
        let mut state = entry.lock().unwrap_or_else(PoisonError::into_inner);
        self.add(&mut state, now);
    }

    /// Counts one request of `key` if it is within every limit. A request over a limit is
    /// rejected and not counted.
    pub fn acquire(&self, key: K) -> Result<(), Limited> {
        let Some(windows) = &self.windows else {
            return Ok(());
        };
        let now = self.clock.now_millis();
        let entry = windows.get_with(key, || self.new_windows(now));
        let mut state = entry.lock().unwrap_or_else(PoisonError::into_inner);
        self.over_limit(&mut state, now)?;
        self.add(&mut state, now);
        Ok(())
    }

    fn new_windows(&self, now: i64) -> Arc<Mutex<KeyWindows>> {
        let rings = self
            .buckets
            .iter()
            .map(|bucket| SlotRing::new(now.div_euclid(bucket.slot_millis)))
            .collect();
        Arc::new(Mutex::new(KeyWindows { rings }))
    }

    fn over_limit(&self, state: &mut KeyWindows, now: i64) -> Result<(), Limited> {
        let mut wait_millis: Option<i64> = None;
        for (bucket, ring) in self.buckets.iter().zip(state.rings.iter_mut()) {
            ring.advance(now.div_euclid(bucket.slot_millis));
            if ring.total() >= u64::from(bucket.requests) {
                let wait = ring.millis_until_below(bucket.requests, bucket.slot_millis, now);
                wait_millis = Some(wait_millis.map_or(wait, |longest| longest.max(wait)));
            }
        }
        match wait_millis {
            None => Ok(()),
            Some(wait) => Err(Limited {
                retry_after: Duration::from_millis(u64::try_from(wait).unwrap_or(0)),
            }),
        }
    }

    fn add(&self, state: &mut KeyWindows, now: i64) {
        for (bucket, ring) in self.buckets.iter().zip(state.rings.iter_mut()) {
            ring.advance(now.div_euclid(bucket.slot_millis));
            ring.add();
        }
    }
}

impl<K> std::fmt::Debug for RateLimiter<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter")
            .field("buckets", &self.buckets)
            .field("enabled", &self.windows.is_some())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use super::*;
    use crate::config::Bucket;

    const START: i64 = 1_700_000_000_000;

    fn limit(buckets: &[(u64, u32)]) -> RateLimit {
        RateLimit {
            enable: true,
            buckets: buckets
                .iter()
                .map(|&(seconds, requests)| Bucket {
                    period: Duration::from_secs(seconds),
                    requests,
                })
                .collect(),
        }
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn limits_after_requests() {
        let clock = Clock::manual(START);
        let limiter = RateLimiter::new(&limit(&[(60, 3)]), clock.clone());
        let key = ip("198.51.100.7");

        for _ in 0..3 {
            assert_eq!(limiter.check(&key), Ok(()));
            limiter.record(key);
            clock.advance_millis(1_000);
        }

        let limited = limiter.check(&key);
        assert!(limited.is_err(), "{limited:?}");
    }

    #[test]
    fn limit_ends_after_period() {
        let clock = Clock::manual(START);
        let limiter = RateLimiter::new(&limit(&[(60, 2)]), clock.clone());
        let key = ip("198.51.100.7");
        limiter.record(key);
        limiter.record(key);

        let Err(limited) = limiter.check(&key) else {
            panic!("two requests in a bucket of two must limit the third");
        };
        // The requests leave the window at most one slot (60 s / 16) after the period.
        assert!(limited.retry_after >= Duration::from_secs(60));
        assert!(limited.retry_after <= Duration::from_millis(63_750));

        clock.advance_millis(59_000);
        assert!(limiter.check(&key).is_err());
        clock.advance_millis(i64::try_from(limited.retry_after.as_millis()).unwrap() - 59_000);
        assert_eq!(limiter.check(&key), Ok(()));
    }

    #[test]
    fn window_slides_across_slots() {
        let clock = Clock::manual(START);
        let limiter = RateLimiter::new(&limit(&[(60, 2)]), clock.clone());
        let key = ip("198.51.100.7");
        limiter.record(key);
        clock.advance_millis(40_000);
        limiter.record(key);

        // The first request leaves the window about 60 s after it was made, the second 40 s
        // later, so there is room again in between.
        clock.advance_millis(30_000);
        assert_eq!(limiter.check(&key), Ok(()));
        limiter.record(key);
        assert!(limiter.check(&key).is_err());
    }

    #[test]
    fn every_bucket_applies() {
        let clock = Clock::manual(START);
        let limiter = RateLimiter::new(&limit(&[(60, 10), (600, 12)]), clock.clone());
        let key = ip("198.51.100.7");

        for _ in 0..10 {
            limiter.record(key);
        }
        assert!(limiter.check(&key).is_err(), "the 1-minute bucket is full");

        clock.advance_millis(65_000);
        assert_eq!(limiter.check(&key), Ok(()));
        limiter.record(key);
        limiter.record(key);

        let Err(limited) = limiter.check(&key) else {
            panic!("12 requests in 10 minutes must limit the 13th");
        };
        assert!(limited.retry_after > Duration::from_secs(500));
    }

    #[test]
    fn keys_are_independent() {
        let clock = Clock::manual(START);
        let limiter = RateLimiter::new(&limit(&[(60, 1)]), clock);
        limiter.record(ip("198.51.100.7"));

        assert!(limiter.check(&ip("198.51.100.7")).is_err());
        assert_eq!(limiter.check(&ip("198.51.100.8")), Ok(()));
    }

    #[test]
    fn check_does_not_count() {
        let clock = Clock::manual(START);
        let limiter = RateLimiter::new(&limit(&[(60, 1)]), clock);
        let key = "alice".to_owned();

        for _ in 0..5 {
            assert_eq!(limiter.check(&key), Ok(()));
        }
    }

    #[test]
    fn acquire_counts_allowed_requests_only() {
        let clock = Clock::manual(START);
        let limiter = RateLimiter::new(&limit(&[(60, 2)]), clock.clone());
        let key = ip("198.51.100.7");

        assert_eq!(limiter.acquire(key), Ok(()));
        assert_eq!(limiter.acquire(key), Ok(()));
        for _ in 0..5 {
            assert!(limiter.acquire(key).is_err());
        }

        // Rejected requests were not counted, so the limit ends with the two accepted ones.
        clock.advance_millis(64_000);
        assert_eq!(limiter.acquire(key), Ok(()));
    }

    #[test]
    fn disabled_limit_never_limits() {
        let clock = Clock::manual(START);
        let disabled = RateLimit {
            enable: false,
            ..limit(&[(60, 1)])
        };
        let limiter = RateLimiter::new(&disabled, clock);
        let key = ip("198.51.100.7");

        for _ in 0..5 {
            limiter.record(key);
        }

        assert_eq!(limiter.check(&key), Ok(()));
        assert_eq!(limiter.acquire(key), Ok(()));
    }

    #[test]
    fn clock_going_back_keeps_counts() {
        let clock = Clock::manual(START);
        let limiter = RateLimiter::new(&limit(&[(60, 2)]), clock.clone());
        let key = ip("198.51.100.7");
        limiter.record(key);
        limiter.record(key);

        clock.advance_millis(-3_600_000);

        assert!(limiter.check(&key).is_err());
    }

    #[test]
    fn long_idle_clears_counts() {
        let clock = Clock::manual(START);
        let limiter = RateLimiter::new(&limit(&[(60, 2)]), clock.clone());
        let key = ip("198.51.100.7");
        limiter.record(key);
        limiter.record(key);

        clock.advance_millis(3_600_000);

        assert_eq!(limiter.check(&key), Ok(()));
    }
}
