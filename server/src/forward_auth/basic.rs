//! Basic credentials on the authz endpoints: parsing the `Authorization` and
//! `Proxy-Authorization` headers, and checking the user name and password they carry.
//!
//! A check runs in this order, and the first step that decides ends it:
//!
//! 1. The `authz_basic` rate limit of the client IP. Over the limit, the credentials are
//!    rejected without a password check and without a record, so that nobody can lock accounts
//!    by flooding an authz endpoint.
//! 2. The ban check for the client IP and the account key. Banned credentials are rejected
//!    without a password check, and the attempt is recorded as banned.
//! 3. The user lookup. Disabled users count as unknown.
//! 4. For a known user, the cache of credentials that verified recently.
//! 5. The password check on the hashing pool, against the user's hash or, for an unknown user,
//!    against the pool's dummy hash, so that both cost one verification.
//!
//! Every rejection gets the same challenge, whatever its cause.

use std::net::IpAddr;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use http::HeaderValue;
use moka::sync::Cache;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::clock::Clock;
use crate::forward_auth::client_ip::ClientIp;
use crate::forward_auth::rate_limit::RateLimiter;
use crate::identity::directory::{rehash_after_login, UserDirectory, UserProfile};
use crate::identity::names::normalize_username;
use crate::identity::pool::{HashingPool, PoolError};
use crate::identity::regulation::{AttemptRecord, RegulationSubject, Regulator};
use crate::identity::secret::Password;
use crate::storage::AttemptFactor;
use crate::telemetry::user_text;

/// Maximum number of verified credentials the cache of one verifier keeps.
pub const MAX_CACHED_CREDENTIALS: u64 = 10_000;

/// The `method` of the attempts this module records.
const ATTEMPT_METHOD: &str = "basic";

/// Minimum time between two warnings that the hashing pool was full.
const BUSY_WARNING_INTERVAL_MILLIS: i64 = 10_000;

/// A user name and password from a `Basic` header.
#[derive(Debug)]
pub struct BasicCredentials {
    /// The user name as typed, which may also be an e-mail address.
    pub username: String,
    pub password: Password,
}

/// The result of parsing an `Authorization` or `Proxy-Authorization` header.
#[derive(Debug)]
pub enum Parsed {
    /// No credentials this strategy reads: the header is missing, or it uses another scheme
    /// and the strategy passes such headers on to the next one.
    Absent,
    /// The header is meant for Gatehouse but cannot be read: invalid base64, invalid UTF-8, no
    /// colon, an empty user name or password, several header lines, or another scheme where
    /// the strategy rejects other schemes. No user name can be trusted, so regulation does not
    /// record it.
    Malformed,
    /// Well-formed `Basic` credentials.
    Credentials(BasicCredentials),
}

/// Handling of a scheme other than `Basic` by a header strategy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OtherSchemes {
    /// The header belongs to someone else, such as the protected application, so the strategy
    /// treats it as absent. `Bearer` is always treated so.
    Absent,
    /// The header is malformed. The `HeaderLegacy` strategy of `/api/verify` is this strict.
    Malformed,
}

/// Parses the lines of one header. No line is [`Parsed::Absent`], and several lines are
/// [`Parsed::Malformed`].
pub fn parse_authorization_lines<'a, I>(lines: I, other_schemes: OtherSchemes) -> Parsed
where
    I: IntoIterator<Item = &'a HeaderValue>,
{
    let mut lines = lines.into_iter();
    let Some(first) = lines.next() else {
        return Parsed::Absent;
    };
    if lines.next().is_some() {
        return Parsed::Malformed;
    }
    parse_authorization(first, other_schemes)
}

/// Parses one `Authorization` or `Proxy-Authorization` value.
///
/// The scheme name is case-insensitive. The token after it is trimmed of spaces and tabs and
/// decoded as standard base64 with the padding required. The decoded text must be UTF-8 and is
/// split at its first colon, so the password may contain colons. A value without a space after
/// the scheme counts as that scheme without credentials.
pub fn parse_authorization(value: &HeaderValue, other_schemes: OtherSchemes) -> Parsed {
    let value = value.as_bytes().trim_ascii();
    let (scheme, token) = match value.iter().position(|&byte| is_space(byte)) {
        Some(end) => (&value[..end], &value[end..]),
        None => (value, &b""[..]),
    };

    if !scheme.eq_ignore_ascii_case(b"basic") {
        return match other_schemes {
            OtherSchemes::Absent => Parsed::Absent,
            OtherSchemes::Malformed => Parsed::Malformed,
        };
    }

    let token = token.trim_ascii();
    let decoded = match STANDARD.decode(token) {
        Ok(decoded) => Zeroizing::new(decoded),
        Err(_) => return Parsed::Malformed,
    };
    let Ok(text) = std::str::from_utf8(&decoded) else {
        return Parsed::Malformed;
    };
    let Some((username, password)) = text.split_once(':') else {
        return Parsed::Malformed;
    };
    if username.is_empty() || password.is_empty() {
        return Parsed::Malformed;
    }
    Parsed::Credentials(BasicCredentials {
        username: username.to_owned(),
        password: Password::from(password),
    })
}

fn is_space(byte: u8) -> bool {
    byte == b' ' || byte == b'\t'
}

/// The result of checking Basic credentials.
#[derive(Debug)]
pub enum BasicOutcome {
    /// The credentials are valid, so the subject is this user at level `one_factor`.
    Success(UserProfile),
    /// The credentials are rejected (wrong, unknown user, banned, rate limited, or an error).
    /// The strategy responds with its challenge.
    Failure,
    /// The hashing pool is full. The strategy responds with 503 and `Retry-After`, never 200.
    Busy,
}

/// Checks Basic credentials for one header strategy of an authz endpoint.
///
/// Each strategy has its own verifier, because the cache lifespan is configured per strategy.
/// The hashing pool, the regulator and the `authz_basic` rate limiter are shared by all of them.
pub struct BasicVerifier {
    directory: UserDirectory,
    pool: Arc<HashingPool>,
    regulator: Regulator,
    limiter: Arc<RateLimiter<IpAddr>>,
    cache: Option<CredentialCache>,
    clock: Clock,
    /// Checks turned away by a full hashing pool since the last warning.
    busy_since_warning: AtomicU64,
    /// Time of the last warning about a full hashing pool, in milliseconds since the epoch.
    last_busy_warning: AtomicI64,
}

/// Credentials that verified recently, keyed by an HMAC of the user name, the password and the
/// user's password version, with their expiry time by the server's clock as the value.
struct CredentialCache {
    entries: Cache<[u8; 32], i64>,
    lifespan_millis: i64,
    /// A random key made at start, so the stored HMACs are useless outside this process.
    hmac_key: Zeroizing<[u8; 32]>,
}

impl CredentialCache {
    fn new(lifespan: Duration) -> Option<Self> {
        if lifespan.is_zero() {
            return None;
        }
        let entries = Cache::builder()
            .max_capacity(MAX_CACHED_CREDENTIALS)
            .time_to_live(lifespan)
            .build();
        Some(CredentialCache {
            entries,
            lifespan_millis: i64::try_from(lifespan.as_millis()).unwrap_or(i64::MAX),
            hmac_key: Zeroizing::new(rand::random()),
        })
    }

    fn key(&self, user: &UserProfile, password: &Password) -> [u8; 32] {
        let mut mac = Hmac::<Sha256>::new_from_slice(self.hmac_key.as_slice())
            .expect("HMAC accepts a key of any length");
        // Length prefixes keep ("ab", "c") and ("a", "bc") apart.
        for field in [user.username.as_bytes(), password.expose().as_bytes()] {
            mac.update(&(field.len() as u64).to_be_bytes());
            mac.update(field);
        }
        mac.update(&user.password_version.to_be_bytes());
        mac.finalize().into_bytes().into()
    }

    /// Tells whether `key` verified within the lifespan. Entries expire by the server's clock,
    /// and the cache's own expiry only frees their memory.
    fn contains(&self, key: &[u8; 32], now: i64) -> bool {
        match self.entries.get(key) {
            Some(expires_at) if now < expires_at => true,
            Some(_) => {
                self.entries.invalidate(key);
                false
            }
            None => false,
        }
    }

    fn insert(&self, key: [u8; 32], now: i64) {
        self.entries
            .insert(key, now.saturating_add(self.lifespan_millis));
    }
}

impl BasicVerifier {
    /// Creates a verifier whose cache keeps verified credentials for `cache_lifespan`. Zero
    /// turns the cache off.
    ///
    /// `limiter` is the `authz_basic` limit. It counts failed credentials per client IP, and one
    /// limiter is meant to serve every authz endpoint.
    pub fn new(
        directory: UserDirectory,
        pool: Arc<HashingPool>,
        regulator: Regulator,
        cache_lifespan: Duration,
        limiter: Arc<RateLimiter<IpAddr>>,
        clock: Clock,
    ) -> Self {
        BasicVerifier {
            directory,
            pool,
            regulator,
            limiter,
            cache: CredentialCache::new(cache_lifespan),
            clock,
            busy_since_warning: AtomicU64::new(0),
            last_busy_warning: AtomicI64::new(i64::MIN),
        }
    }

    /// Checks `credentials` sent by `client` through the TCP peer `peer` for the target
    /// `target_uri` with method `target_method`, which are recorded with the attempt.
    pub async fn verify(
        &self,
        credentials: BasicCredentials,
        client: ClientIp,
        peer: IpAddr,
        target_uri: &str,
        target_method: &str,
    ) -> BasicOutcome {
        let subject = RegulationSubject::new(client, peer);
        if let Err(limited) = self.limiter.check(&subject.address()) {
            tracing::debug!(
                client = %subject.address(),
                retry_after_secs = limited.retry_after.as_secs(),
                "too many failed Basic credentials from this client; rejected without a password check"
            );
            return BasicOutcome::Failure;
        }

        let BasicCredentials { username, password } = credentials;
        // A banned address is turned away before the directory is read at all.
        match self.regulator.check_ban(None, &subject).await {
            Ok(None) => {}
            Ok(Some(_)) => {
                let account_key = normalize_username(&username);
                self.record_failure(&AttemptRecord {
                    account_key: &account_key,
                    successful: false,
                    banned: true,
                    factor: AttemptFactor::First,
                    method: ATTEMPT_METHOD,
                    subject,
                    request_uri: target_uri,
                    request_method: target_method,
                })
                .await;
                return BasicOutcome::Failure;
            }
            Err(error) => {
                tracing::error!(%error, "Basic credentials rejected: ban check failed");
                return BasicOutcome::Failure;
            }
        }
        let found = match self.directory.find_by_login(&username).await {
            Ok(found) => found,
            Err(error) => {
                tracing::error!(%error, username = %user_text(&username), "Basic credentials rejected: user lookup failed");
                return BasicOutcome::Failure;
            }
        };
        // The same key as `UserDirectory::account_key`, without a second lookup.
        let account_key = match &found {
            Some(user) => user.username.to_lowercase(),
            None => normalize_username(&username),
        };
        let failed_attempt = AttemptRecord {
            account_key: &account_key,
            successful: false,
            banned: false,
            factor: AttemptFactor::First,
            method: ATTEMPT_METHOD,
            subject,
            request_uri: target_uri,
            request_method: target_method,
        };

        match self.regulator.check_ban(Some(&account_key), &subject).await {
            Ok(None) => {}
            Ok(Some(ban)) => {
                tracing::debug!(
                    account_key = %user_text(&account_key),
                    client = %subject.address(),
                    ban_kind = %ban.kind,
                    "Basic credentials rejected: banned"
                );
                self.record_failure(&AttemptRecord {
                    banned: true,
                    ..failed_attempt
                })
                .await;
                return BasicOutcome::Failure;
            }
            Err(error) => {
                tracing::error!(%error, account_key = %user_text(&account_key), "Basic credentials rejected: ban check failed");
                return BasicOutcome::Failure;
            }
        }

        let user = found.filter(|user| !user.disabled);
        self.check_password(user, password, failed_attempt).await
    }

    /// Checks the password of a user that is not banned (`None` for an unknown or disabled
    /// user), first in the cache, then on the hashing pool.
    async fn check_password(
        &self,
        user: Option<UserProfile>,
        password: Password,
        failed_attempt: AttemptRecord<'_>,
    ) -> BasicOutcome {
        let cache_key = match (&self.cache, &user) {
            (Some(cache), Some(user)) => Some(cache.key(user, &password)),
            _ => None,
        };
        if let (Some(cache), Some(key), Some(user)) = (&self.cache, &cache_key, &user) {
            if cache.contains(key, self.clock.now_millis()) {
                tracing::debug!(
                    username = user.username,
                    "Basic credentials found in the cache"
                );
                return BasicOutcome::Success(user.clone());
            }
        }

        let account_key = failed_attempt.account_key;
        let stored_hash = user.as_ref().map(|user| user.password_hash.expose());
        // A second copy for a re-hash after success; both are cleared when dropped.
        let password_for_rehash = Password::from(password.expose().to_owned());
        let verified = match self.pool.verify_or_dummy(password, stored_hash).await {
            Ok(verified) => verified,
            Err(PoolError::Busy) => {
                self.warn_busy();
                return BasicOutcome::Busy;
            }
            Err(error) => {
                tracing::error!(%error, account_key = %user_text(&account_key), "Basic credentials rejected: password verification failed");
                return BasicOutcome::Failure;
            }
        };

        let Some(user) = user.filter(|_| verified.matches) else {
            tracing::debug!(
                account_key = %user_text(&account_key),
                client = %failed_attempt.subject.address(),
                "Basic credentials rejected: wrong user name or password"
            );
            self.record_failure(&failed_attempt).await;
            return BasicOutcome::Failure;
        };

        // A success that cannot be recorded is rejected, because every error on this path
        // must deny.
        let successful_attempt = AttemptRecord {
            successful: true,
            ..failed_attempt
        };
        if let Err(error) = self.regulator.record(&successful_attempt).await {
            tracing::error!(%error, account_key = %user_text(&account_key), "Basic credentials rejected: recording the successful attempt failed");
            return BasicOutcome::Failure;
        }
        if let (Some(cache), Some(key)) = (&self.cache, cache_key) {
            cache.insert(key, self.clock.now_millis());
        }
        if verified.needs_rehash {
            rehash_after_login(
                &self.directory,
                &self.pool,
                &self.clock,
                &user,
                password_for_rehash,
            );
        }
        tracing::debug!(username = user.username, "Basic credentials verified");
        BasicOutcome::Success(user)
    }

    /// Logs that the hashing pool was full, at most once per [`BUSY_WARNING_INTERVAL_MILLIS`],
    /// with the number of checks turned away since the previous warning.
    fn warn_busy(&self) {
        let turned_away = self.busy_since_warning.fetch_add(1, Ordering::Relaxed) + 1;
        let now = self.clock.now_millis();
        let last = self.last_busy_warning.load(Ordering::Relaxed);
        let due = now.saturating_sub(last) >= BUSY_WARNING_INTERVAL_MILLIS;
        if due
            && self
                .last_busy_warning
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            self.busy_since_warning.store(0, Ordering::Relaxed);
            tracing::warn!(
                turned_away,
                "Basic credentials not checked because the password hashing pool is full, so those requests get 503"
            );
        }
    }

    /// Records a failed attempt and counts it in the `authz_basic` rate limit of the client.
    async fn record_failure(&self, attempt: &AttemptRecord<'_>) {
        self.limiter.record(attempt.subject.address());
        if let Err(error) = self.regulator.record(attempt).await {
            tracing::error!(
                %error,
                account_key = %user_text(attempt.account_key),
                "recording a failed Basic authentication attempt failed"
            );
        }
    }
}

impl std::fmt::Debug for BasicVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BasicVerifier")
            .field("cache", &self.cache.is_some())
            .field("limiter", &self.limiter)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(decoded: &str) -> HeaderValue {
        HeaderValue::from_str(&format!("Basic {}", STANDARD.encode(decoded))).unwrap()
    }

    fn header(text: &str) -> HeaderValue {
        HeaderValue::from_str(text).unwrap()
    }

    /// Returns the user name and password, or panics with what was parsed instead.
    fn credentials(parsed: Parsed) -> (String, String) {
        match parsed {
            Parsed::Credentials(credentials) => (
                credentials.username,
                credentials.password.expose().to_owned(),
            ),
            other => panic!("expected credentials, got {other:?}"),
        }
    }

    #[test]
    fn password_may_contain_colons() {
        let parsed = parse_authorization(&basic("alice:s3cr:t:pass"), OtherSchemes::Absent);

        assert_eq!(
            credentials(parsed),
            ("alice".to_owned(), "s3cr:t:pass".to_owned())
        );
    }

    #[test]
    fn scheme_is_case_insensitive() {
        let token = STANDARD.encode("alice:secret");
        for scheme in ["basic", "Basic", "BASIC", "bAsIc"] {
            let parsed =
                parse_authorization(&header(&format!("{scheme} {token}")), OtherSchemes::Absent);
            assert_eq!(
                credentials(parsed),
                ("alice".to_owned(), "secret".to_owned()),
                "{scheme}"
            );
        }
    }

    #[test]
    fn whitespace_around_token_trimmed() {
        let token = STANDARD.encode("alice:secret");

        let parsed = parse_authorization(
            &header(&format!("Basic \t  {token} \t")),
            OtherSchemes::Absent,
        );

        assert_eq!(
            credentials(parsed),
            ("alice".to_owned(), "secret".to_owned())
        );
    }

    #[test]
    fn malformed_basic_values() {
        let cases = [
            ("no colon", basic("alice")),
            ("empty user", basic(":secret")),
            ("empty password", basic("alice:")),
            ("colon only", basic(":")),
            ("not base64", header("Basic !!notbase64!!")),
            ("missing padding", header("Basic YWxpY2U6c2VjcmV0MQ")),
            ("url-safe alphabet", header("Basic YWxpY2U6Pz8_")),
            ("space inside token", header("Basic YWxp Y2U6c2VjcmV0")),
            (
                "invalid UTF-8",
                header(&format!("Basic {}", STANDARD.encode(b"alice:\xff\xfe"))),
            ),
            ("scheme without token", header("Basic")),
            ("scheme with empty token", header("Basic   ")),
        ];
        for (name, value) in cases {
            let parsed = parse_authorization(&value, OtherSchemes::Absent);
            assert!(matches!(parsed, Parsed::Malformed), "{name}: {parsed:?}");
        }
    }

    #[test]
    fn other_schemes_absent_by_default() {
        for value in [
            "Bearer abc.def",
            "Token x",
            "Digest username=\"a\"",
            "Token",
            "Basicx YWJj",
        ] {
            let parsed = parse_authorization(&header(value), OtherSchemes::Absent);
            assert!(matches!(parsed, Parsed::Absent), "{value}: {parsed:?}");
        }
    }

    #[test]
    fn other_schemes_malformed_when_strict() {
        for value in ["Bearer abc.def", "Token x", "Token", ""] {
            let parsed = parse_authorization(&header(value), OtherSchemes::Malformed);
            assert!(matches!(parsed, Parsed::Malformed), "{value}: {parsed:?}");
        }
        let parsed = parse_authorization(&basic("alice:secret"), OtherSchemes::Malformed);
        assert_eq!(
            credentials(parsed),
            ("alice".to_owned(), "secret".to_owned())
        );
    }

    #[test]
    fn header_lines_counted() {
        let one = [basic("alice:secret")];
        let two = [basic("alice:secret"), basic("alice:secret")];

        let empty: [HeaderValue; 0] = [];
        let none = parse_authorization_lines(&empty, OtherSchemes::Absent);
        let single = parse_authorization_lines(&one, OtherSchemes::Absent);
        let repeated = parse_authorization_lines(&two, OtherSchemes::Absent);

        assert!(matches!(none, Parsed::Absent), "{none:?}");
        assert!(matches!(single, Parsed::Credentials(_)), "{single:?}");
        assert!(matches!(repeated, Parsed::Malformed), "{repeated:?}");
    }

    #[test]
    fn parsed_debug_hides_password() {
        let parsed = parse_authorization(&basic("alice:hunter2"), OtherSchemes::Absent);

        let debug = format!("{parsed:?}");

        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("alice"), "{debug}");
    }
}
