//! Regulation: bans after repeated failed authentication attempts.
//!
//! Every attempt that reaches the ban check is recorded in the database under its account key
//! (the user a typed name resolves to, else the typed name lower-cased) and its client IP. After
//! a failure, the attempts of that key are read newest-first up to the latest success. When at
//! least `max_retries` failures of them fall within `find_time`, the key is banned for
//! `ban_time` from that failure. Mode `user` applies this to account keys, mode `ip` to client
//! IPs. Unknown user names count like real ones. Second-factor failures count toward the same
//! streaks as first-factor failures.
//!
//! All state lives in the database, so several instances sharing it share their counters.

use std::net::IpAddr;
use std::time::Duration;

use crate::clock::Clock;
use crate::config::{RegulationConfig, RegulationMode};
use crate::forward_auth::client_ip::ClientIp;
use crate::storage::{
    AttemptFactor, AuthenticationAttempt, Ban, BanKind, BanSource, Database, NewAttempt, NewBan,
    StorageError,
};
use crate::telemetry::user_text;

/// Attempts read beyond `max_retries` when counting a streak. Attempts made while banned are
/// skipped by the count, so a few extra rows keep them from hiding failures that do count.
// NOTE: a key with more than this many banned attempts inside `find_time` can hide older
// failures from the count. The storage layer offers no query that skips banned rows.
const STREAK_READ_MARGIN: u32 = 64;

/// The address that regulation in `ip` mode counts an attempt under.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegulationSubject {
    /// The client IP, as the trusted proxies report it.
    Client(IpAddr),
    /// The client IP is unknown, so the attempt is counted under the TCP peer (normally the
    /// proxy), which groups every unknown client behind that peer.
    UnknownClient {
        /// The TCP peer of the request.
        peer: IpAddr,
    },
}

impl RegulationSubject {
    /// Chooses the client IP, or the TCP peer when the client IP is unknown.
    pub fn new(client: ClientIp, peer: IpAddr) -> Self {
        match client {
            ClientIp::Known(address) => RegulationSubject::Client(address),
            ClientIp::Unknown => RegulationSubject::UnknownClient {
                peer: peer.to_canonical(),
            },
        }
    }

    /// Returns the address that attempts and IP bans are keyed on.
    pub fn address(&self) -> IpAddr {
        match *self {
            RegulationSubject::Client(address) => address,
            RegulationSubject::UnknownClient { peer } => peer,
        }
    }
}

/// A ban in force that stopped an attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BanInfo {
    /// Whether an account key or an IP address is banned.
    pub kind: BanKind,
    /// The banned account key or IP address.
    pub value: String,
    /// End of the ban in milliseconds since the Unix epoch. `None` lasts until revoked.
    pub expires_at: Option<i64>,
    pub source: BanSource,
}

impl From<Ban> for BanInfo {
    fn from(ban: Ban) -> Self {
        BanInfo {
            kind: ban.kind,
            value: ban.value,
            expires_at: ban.expires_at,
            source: ban.source,
        }
    }
}

/// One authentication attempt to record.
#[derive(Clone, Copy, Debug)]
pub struct AttemptRecord<'a> {
    /// The resolved user name lower-cased, or the typed name lower-cased when no user matches.
    pub account_key: &'a str,
    pub successful: bool,
    /// The attempt was stopped by a ban, so no credential was checked.
    pub banned: bool,
    pub factor: AttemptFactor,
    /// Credential method: `basic`, `password`, `totp`, `webauthn` and so on.
    pub method: &'a str,
    pub subject: RegulationSubject,
    /// The URI of the request the attempt was made for.
    pub request_uri: &'a str,
    /// The HTTP method of that request.
    pub request_method: &'a str,
}

/// Checks bans before credentials are checked, records attempts and bans after failures.
#[derive(Clone, Debug)]
pub struct Regulator {
    db: Database,
    clock: Clock,
    config: RegulationConfig,
}

impl Regulator {
    /// Creates a regulator. `max_retries: 0` in `config` turns bans off, but attempts are still
    /// recorded.
    pub fn new(db: Database, clock: Clock, config: RegulationConfig) -> Self {
        Regulator { db, clock, config }
    }

    /// Tells whether failures lead to bans (`max_retries` above zero).
    pub fn is_enabled(&self) -> bool {
        self.config.max_retries > 0
    }

    fn mode_on(&self, mode: RegulationMode) -> bool {
        self.is_enabled() && self.config.modes.contains(&mode)
    }

    /// Returns the ban in force for the client address (when mode `ip` is on), else for the
    /// account key (when mode `user` is on and a key is given), else `None`.
    ///
    /// Only the kinds of the enabled modes are checked, including bans an administrator added.
    pub async fn check_ban(
        &self,
        account_key: Option<&str>,
        subject: &RegulationSubject,
    ) -> Result<Option<BanInfo>, StorageError> {
        let now = self.clock.now_millis();
        if self.mode_on(RegulationMode::Ip) {
            let address = subject.address().to_string();
            if let Some(ban) = self.db.active_ban(BanKind::Ip, &address, now).await? {
                return Ok(Some(ban.into()));
            }
        }
        if let (true, Some(key)) = (self.mode_on(RegulationMode::User), account_key) {
            if let Some(ban) = self.db.active_ban(BanKind::User, key, now).await? {
                return Ok(Some(ban.into()));
            }
        }
        Ok(None)
    }

    /// Records an attempt. After a failure that was not stopped by a ban, it counts the streak
    /// of each enabled mode and bans the key for `ban_time` from this failure when the streak
    /// reaches `max_retries`.
    pub async fn record(&self, attempt: &AttemptRecord<'_>) -> Result<(), StorageError> {
        let now = self.clock.now_millis();
        let address = attempt.subject.address().to_string();
        // NOTE: the attempts table has no column saying the client IP was unknown, so such an
        // attempt is stored under the TCP peer, which mode `ip` needs to find it again.
        if let (RegulationSubject::UnknownClient { peer }, true) =
            (attempt.subject, self.mode_on(RegulationMode::Ip))
        {
            tracing::info!(
                %peer,
                account_key = %user_text(attempt.account_key),
                "client IP unknown; counting the authentication attempt under the TCP peer"
            );
        }
        self.db
            .record_attempt(&NewAttempt {
                time: now,
                account_key: attempt.account_key.to_owned(),
                successful: attempt.successful,
                banned: attempt.banned,
                factor: attempt.factor,
                method: attempt.method.to_owned(),
                remote_ip: Some(address.clone()),
                request_uri: attempt.request_uri.to_owned(),
                request_method: attempt.request_method.to_owned(),
            })
            .await?;

        if attempt.successful || attempt.banned {
            return Ok(());
        }
        if self.mode_on(RegulationMode::Ip) {
            self.ban_if_streak_reached(BanKind::Ip, &address, now)
                .await?;
        }
        if self.mode_on(RegulationMode::User) {
            self.ban_if_streak_reached(BanKind::User, attempt.account_key, now)
                .await?;
        }
        Ok(())
    }

    async fn ban_if_streak_reached(
        &self,
        kind: BanKind,
        value: &str,
        now: i64,
    ) -> Result<(), StorageError> {
        let since = now.saturating_sub(duration_millis(self.config.find_time));
        let limit = self.config.max_retries.saturating_add(STREAK_READ_MARGIN);
        let attempts = match kind {
            BanKind::User => self.db.attempts_for_account(value, since, limit).await?,
            BanKind::Ip => self.db.attempts_for_ip(value, since, limit).await?,
        };
        let failures = count_streak(&attempts);
        if failures < self.config.max_retries {
            return Ok(());
        }
        // Another instance or a concurrent request may have banned the key a moment ago.
        if self.db.active_ban(kind, value, now).await?.is_some() {
            return Ok(());
        }

        let expires_at = now.saturating_add(duration_millis(self.config.ban_time));
        self.db
            .add_ban(&NewBan {
                kind,
                value: value.to_owned(),
                expires_at: Some(expires_at),
                source: BanSource::Regulation,
                reason: format!(
                    "{failures} failed authentication attempts within {} s",
                    self.config.find_time.as_secs()
                ),
                created_at: now,
            })
            .await?;
        tracing::info!(
            kind = %kind,
            value = %user_text(value),
            failures,
            ban_seconds = self.config.ban_time.as_secs(),
            "banned after repeated failed authentication attempts"
        );
        Ok(())
    }
}

/// Counts failures from the newest attempt back to the latest success. Attempts made while
/// banned are skipped, because counting them would extend a ban once it ends.
fn count_streak(newest_first: &[AuthenticationAttempt]) -> u32 {
    let mut failures = 0_u32;
    for attempt in newest_first {
        if attempt.successful {
            break;
        }
        if !attempt.banned {
            failures = failures.saturating_add(1);
        }
    }
    failures
}

fn duration_millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    fn attempt(successful: bool, banned: bool) -> AuthenticationAttempt {
        AuthenticationAttempt {
            id: 0,
            time: 0,
            account_key: "alice".to_owned(),
            successful,
            banned,
            factor: AttemptFactor::First,
            method: "basic".to_owned(),
            remote_ip: None,
            request_uri: "https://app.example.com/".to_owned(),
            request_method: "GET".to_owned(),
        }
    }

    #[test]
    fn streak_stops_at_success() {
        let attempts = [
            attempt(false, false),
            attempt(false, false),
            attempt(true, false),
            attempt(false, false),
        ];

        assert_eq!(count_streak(&attempts), 2);
    }

    #[test]
    fn streak_skips_banned_attempts() {
        let attempts = [
            attempt(false, false),
            attempt(false, true),
            attempt(false, true),
            attempt(false, false),
        ];

        assert_eq!(count_streak(&attempts), 2);
    }

    #[test]
    fn unknown_client_uses_peer() {
        let peer = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));
        let client = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 7));

        let unknown = RegulationSubject::new(ClientIp::Unknown, peer);
        let known = RegulationSubject::new(ClientIp::Known(client), peer);

        assert_eq!(unknown.address(), peer);
        assert_eq!(known.address(), client);
    }

    #[test]
    fn mapped_peer_is_ipv4() {
        let mapped: IpAddr = "::ffff:10.0.0.2".parse().unwrap();

        let subject = RegulationSubject::new(ClientIp::Unknown, mapped);

        assert_eq!(subject.address(), IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)));
    }
}
