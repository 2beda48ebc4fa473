//! The session store: checks the session a request presents, and creates, raises and ends
//! sessions with the `Set-Cookie` values that go with each change.

use std::sync::Arc;
use std::time::Duration;

use http::header::HeaderName;
use http::{HeaderMap, HeaderValue};

use crate::clock::Clock;
use crate::config::{CookieDomain, RefreshInterval};
use crate::identity::directory::{UserDirectory, UserProfile};
use crate::storage::{Database, SessionRecord, StorageError};

use super::active::{
    merge_profile, remote_identity, ActiveSession, CachedProfile, InvalidRecord, Level,
};
use super::cookie::{clearing_cookie, find_cookie, session_cookie, CookieLookup};
use super::id::SessionId;
use super::suspicion::SuspicionLog;

/// Returns the cache key of a stored id hash: the digest its hex text encodes. Every hash this
/// store makes decodes; anything else has no cache entry.
fn cache_key(id_hash: &str) -> Option<[u8; 32]> {
    let mut key = [0u8; 32];
    hex::decode_to_slice(id_hash, &mut key).ok()?;
    Some(key)
}

/// Minimum time between two writes of a session's last activity, in milliseconds, so
/// inactivity is measured with at most this error.
pub const TOUCH_INTERVAL_MILLIS: i64 = 10_000;

/// A header a proxy may set to the user it expects; a session of another user is ended.
const SESSION_USERNAME: HeaderName = HeaderName::from_static("session-username");

/// The outcome of checking the session cookie of one request.
#[derive(Debug)]
pub struct Resolution<S = ActiveSession> {
    /// The session, when the cookie names one that passed every check.
    pub session: Option<S>,
    /// A `Set-Cookie` that clears a dead session cookie, for the caller to send on responses
    /// other than 2xx.
    pub clear_cookie: Option<HeaderValue>,
    /// The store failed, so the request is anonymous although a session may exist.
    pub store_error: bool,
}

impl<S> Resolution<S> {
    fn anonymous() -> Resolution<S> {
        Resolution {
            session: None,
            clear_cookie: None,
            store_error: false,
        }
    }

    fn dead_cookie(domain: &CookieDomain) -> Resolution<S> {
        Resolution {
            session: None,
            clear_cookie: Some(clearing_cookie(domain)),
            store_error: false,
        }
    }

    fn store_failure() -> Resolution<S> {
        Resolution {
            session: None,
            clear_cookie: None,
            store_error: true,
        }
    }
}

/// A failure to create or change a session.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("a session needs at least one factor; the anonymous level was requested")]
    AnonymousLevel,
    #[error("the level of a session only rises: it is {from}, and {to} was requested")]
    LevelNotRaised { from: Level, to: Level },
    #[error("user {0} is disabled, so no session is created")]
    UserDisabled(String),
    #[error(
        "the session was created under cookie domain {session_domain}, not {requested_domain}"
    )]
    DomainMismatch {
        session_domain: String,
        requested_domain: String,
    },
    /// The session was deleted meanwhile, by a logout or revocation on any instance.
    #[error("the session no longer exists in the store; log in again")]
    Ended,
    #[error("the session store failed: {0}")]
    Storage(#[from] StorageError),
}

/// When a session's row was read: the database's change count then, and the time, so that a copy
/// written back by [`SessionStore::remember`] is still dropped [`CACHE_LIFETIME`] after the read.
#[derive(Clone, Copy, Debug)]
struct ReadAt {
    generation: u64,
    time: std::time::Instant,
}

/// A stored session as read: decoded with when its row was read, or the reason its row is not a
/// valid session.
enum Decoded {
    Session(Arc<ActiveSession>, ReadAt),
    Invalid(InvalidRecord),
}

/// Reason a presented session is not accepted.
enum Rejection {
    /// Delete it from the store and clear the cookie.
    Invalid,
    /// It was deleted meanwhile; clear the cookie.
    Gone,
    /// The store failed; nothing is cleared.
    Storage(StorageError),
}

/// How long a session row read from the database may be reused without reading it again. A
/// change made by another instance or by the command line is seen within this time; a change made
/// through this process is seen at once (see [`SessionStore::resolve`]).
pub const CACHE_LIFETIME: std::time::Duration = std::time::Duration::from_secs(1);

/// The maximum number of session rows kept in memory.
const CACHE_CAPACITY: u64 = 100_000;

/// Sessions in the database, with a short-lived cache of the rows in front of them.
#[derive(Clone)]
pub struct SessionStore {
    db: Database,
    directory: UserDirectory,
    clock: Clock,
    refresh_interval: RefreshInterval,
    suspicion: Arc<SuspicionLog>,
    /// Decoded sessions by id hash, with the database's change count when their rows were read.
    /// A hit is shared, not copied: a request that changes the session copies it first.
    /// The key is the binary SHA-256 of the id, so that a hit needs no hex text.
    cache: moka::sync::Cache<[u8; 32], (Arc<ActiveSession>, ReadAt)>,
}

impl SessionStore {
    /// Creates the store. `refresh_interval` is `authentication_backend.refresh_interval`.
    pub fn new(
        db: Database,
        directory: UserDirectory,
        clock: Clock,
        refresh_interval: RefreshInterval,
    ) -> SessionStore {
        SessionStore {
            db,
            directory,
            clock,
            refresh_interval,
            suspicion: Arc::new(SuspicionLog::default()),
            cache: moka::sync::Cache::builder()
                .max_capacity(CACHE_CAPACITY)
                .time_to_live(CACHE_LIFETIME)
                .build(),
        }
    }

    /// Reads and decodes a session, from the cache when its row was read within
    /// [`CACHE_LIFETIME`] and no rights-reducing change went through this process's database
    /// handle since. Returns the session with the change count it was read at. A row that is
    /// not a valid session is returned as the reason, and is not cached.
    async fn read_session(&self, id: &SessionId) -> Result<Option<Decoded>, StorageError> {
        let generation = self.db.change_generation();
        let digest = id.digest();
        if let Some((session, read_at)) = self.cache.get(&digest) {
            if read_at.generation == generation && read_at.time.elapsed() < CACHE_LIFETIME {
                return Ok(Some(Decoded::Session(session, read_at)));
            }
        }
        let read_at = ReadAt {
            generation,
            time: std::time::Instant::now(),
        };
        let Some(record) = self.db.get_session(&hex::encode(digest)).await? else {
            return Ok(None);
        };
        match ActiveSession::from_record(record) {
            Ok(session) => {
                let session = Arc::new(session);
                self.cache.insert(digest, (Arc::clone(&session), read_at));
                Ok(Some(Decoded::Session(session, read_at)))
            }
            Err(invalid) => Ok(Some(Decoded::Invalid(invalid))),
        }
    }

    /// Puts a session this request changed and wrote back into the cache, under the change
    /// count its row was read at, so that a rights-reducing change made meanwhile still wins.
    fn remember(&self, session: &Arc<ActiveSession>, read_at: ReadAt) {
        if let Some(key) = cache_key(&session.id_hash) {
            self.cache.insert(key, (Arc::clone(session), read_at));
        }
    }

    /// Drops a cached row before this store changes or deletes it.
    fn forget(&self, id_hash: &str) {
        if let Some(key) = cache_key(id_hash) {
            self.cache.invalidate(&key);
        }
    }

    /// Drops a cached row and returns the database, for a write to that row.
    fn forget_and_db(&self, id_hash: &str) -> &Database {
        self.forget(id_hash);
        &self.db
    }

    async fn delete_row(&self, id_hash: &str) -> Result<bool, StorageError> {
        self.forget(id_hash);
        self.db.delete_session(id_hash).await
    }

    /// Finds and checks the session cookie of `domain` in the request headers. It never
    /// stores a session for an anonymous request.
    ///
    /// A missing cookie, a cookie name that appears twice, or a value that is not a session
    /// id is anonymous without reading the store. A stored session runs these checks in
    /// order, and failing any one deletes it and clears the cookie:
    /// 1. it was created under this cookie domain;
    /// 2. it has a user name and level one or two;
    /// 3. without remember-me, it was active within `inactivity`;
    /// 4. when a profile refresh is due, the user still exists and is enabled, and changed
    ///    groups, e-mail addresses or display name are written to the session;
    /// 5. a `Session-Username` header, if present, names the session's user (any case);
    /// 6. without remember-me, the activity time is written, at most once per
    ///    [`TOUCH_INTERVAL_MILLIS`];
    /// 7. `expiration` (or `remember_me` for remembered sessions) since the first-factor login
    ///    has not passed.
    pub async fn resolve(&self, headers: &HeaderMap, domain: &CookieDomain) -> Resolution {
        let shared = self.resolve_shared(headers, domain).await;
        Resolution {
            session: shared.session.map(Arc::unwrap_or_clone),
            clear_cookie: shared.clear_cookie,
            store_error: shared.store_error,
        }
    }

    /// Like [`SessionStore::resolve`], with the session shared with the cache instead of
    /// copied, for the authz endpoints, which only read it.
    pub async fn resolve_shared(
        &self,
        headers: &HeaderMap,
        domain: &CookieDomain,
    ) -> Resolution<Arc<ActiveSession>> {
        let now = self.clock.now_millis();
        let value = match find_cookie(headers, &domain.name) {
            CookieLookup::Absent => return Resolution::anonymous(),
            CookieLookup::Repeated => {
                // Clearing one of them could leave the other, possibly planted, cookie in place.
                self.suspicion.warn(
                    now,
                    "the session cookie appears more than once, so the request is anonymous",
                    None,
                );
                return Resolution::anonymous();
            }
            CookieLookup::Single(value) => value,
        };
        let Some(id) = SessionId::parse(value) else {
            self.suspicion
                .warn(now, "the session cookie value is not a session id", None);
            return Resolution::dead_cookie(domain);
        };
        let checked = match self.read_session(&id).await {
            Ok(Some(Decoded::Session(session, read_at))) => {
                self.check(session, read_at, headers, domain, now).await
            }
            Ok(Some(Decoded::Invalid(invalid))) => {
                tracing::warn!(
                    reason = invalid.reason(),
                    "ending an invalid stored session"
                );
                Err(Rejection::Invalid)
            }
            Ok(None) => {
                tracing::debug!("the session cookie names no stored session");
                return Resolution::dead_cookie(domain);
            }
            Err(error) => {
                tracing::error!(%error, "reading the session failed; the request is anonymous");
                return Resolution::store_failure();
            }
        };

        match checked {
            Ok(session) => Resolution {
                session: Some(session),
                clear_cookie: None,
                store_error: false,
            },
            Err(Rejection::Gone) => Resolution::dead_cookie(domain),
            Err(Rejection::Storage(error)) => {
                tracing::error!(%error, "updating the session failed; the request is anonymous");
                Resolution::store_failure()
            }
            Err(Rejection::Invalid) => match self.delete_row(&id.hash()).await {
                Ok(_) => Resolution::dead_cookie(domain),
                Err(error) => {
                    tracing::error!(%error, "deleting an invalid session failed; the request is anonymous");
                    Resolution::store_failure()
                }
            },
        }
    }

    /// Runs the checks of [`SessionStore::resolve`] on a stored session read at change count
    /// `read_at`. The shared session is copied only when a check writes to it.
    async fn check(
        &self,
        mut session: Arc<ActiveSession>,
        read_at: ReadAt,
        headers: &HeaderMap,
        domain: &CookieDomain,
        now: i64,
    ) -> Result<Arc<ActiveSession>, Rejection> {
        if session.cookie_domain != domain.domain {
            self.suspicion.warn(
                now,
                "a session created under another cookie domain was presented; ending it",
                Some(&session.username),
            );
            return Err(Rejection::Invalid);
        }

        // A session remembered before remember-me was disabled for the domain follows the
        // rules of an ordinary session.
        let remembered = session.remember_me && domain.remember_me.is_some();
        let idle_limit = session
            .last_activity_at
            .saturating_add(millis(domain.inactivity));
        if !remembered && now > idle_limit {
            tracing::info!(username = %session.username, "session ended after inactivity");
            return Err(Rejection::Invalid);
        }

        let mut written = self.refresh_profile_if_due(&mut session, now).await?;

        if !session_username_matches(headers, &session.username) {
            self.suspicion.warn(
                now,
                "the Session-Username header names another user; ending the session",
                Some(&session.username),
            );
            return Err(Rejection::Invalid);
        }

        if !remembered && now - session.last_activity_at >= TOUCH_INTERVAL_MILLIS {
            self.forget(&session.id_hash);
            match self.db.touch_session(&session.id_hash, now).await {
                Ok(true) => {
                    Arc::make_mut(&mut session).last_activity_at = now;
                    written = true;
                }
                Ok(false) => return Err(Rejection::Gone),
                Err(error) => return Err(Rejection::Storage(error)),
            }
        }

        let lifetime = match domain.remember_me {
            Some(remember_me) if remembered => remember_me,
            _ => domain.expiration,
        };
        if now > session.first_factor_at.saturating_add(millis(lifetime)) {
            tracing::info!(username = %session.username, "session ended: its lifetime since login has passed");
            return Err(Rejection::Invalid);
        }
        if written {
            self.remember(&session, read_at);
        }
        Ok(session)
    }

    /// Reloads the user from the directory when the refresh interval has passed or an admin
    /// change set the refresh time to 0. A missing or disabled user ends the session. A
    /// directory error keeps the session's profile and tries again at the next request.
    /// Returns whether it wrote the session.
    async fn refresh_profile_if_due(
        &self,
        session: &mut Arc<ActiveSession>,
        now: i64,
    ) -> Result<bool, Rejection> {
        let marked = session.profile_refreshed_at == 0;
        let due = marked
            || match self.refresh_interval {
                RefreshInterval::Always => true,
                RefreshInterval::Disable => false,
                RefreshInterval::Every(interval) => {
                    now >= session
                        .profile_refreshed_at
                        .saturating_add(millis(interval))
                }
            };
        if !due {
            return Ok(false);
        }

        let profile = match self.directory.get(&session.username).await {
            Ok(Some(profile)) if !profile.disabled => profile,
            Ok(Some(_)) => {
                tracing::info!(username = %session.username, "session ended: the user is disabled");
                return Err(Rejection::Invalid);
            }
            Ok(None) => {
                tracing::info!(username = %session.username, "session ended: the user no longer exists");
                return Err(Rejection::Invalid);
            }
            Err(error) => {
                tracing::warn!(
                    username = %session.username,
                    %error,
                    "reloading the user's profile failed; the session keeps its profile"
                );
                return Ok(false);
            }
        };

        let fresh = CachedProfile::from_profile(&profile);
        let changed = session.profile != fresh;
        if changed {
            Arc::make_mut(session).apply_profile(fresh);
        }
        // With `Always` the refresh time is never read except for the admin mark, so an
        // unchanged profile is not written on every request.
        let write = changed || marked || self.refresh_interval != RefreshInterval::Always;
        if !write {
            return Ok(false);
        }
        // TODO: the write is not conditional on the refresh time read above. If an admin marks
        // the sessions between the directory read and this write, the mark is overwritten and the
        // old profile stays until the next interval. Closing that needs a storage method that
        // updates only when `profile_refreshed_at` still has the value read.
        match self
            .forget_and_db(&session.id_hash)
            .set_session_profile(&session.id_hash, &session.data, now)
            .await
        {
            Ok(true) => {
                Arc::make_mut(session).profile_refreshed_at = now;
                if changed {
                    tracing::info!(username = %session.username, "updated the session's profile from the directory");
                }
                Ok(true)
            }
            Ok(false) => Err(Rejection::Gone),
            Err(error) => Err(Rejection::Storage(error)),
        }
    }

    /// Stores a new session for a user who just logged in, and returns it with the
    /// `Set-Cookie` value for the response. Remember-me is honoured only where the cookie
    /// domain allows it. A browser that already had a session uses [`SessionStore::replace`].
    pub async fn create(
        &self,
        domain: &CookieDomain,
        profile: &UserProfile,
        level: Level,
        remember_me_requested: bool,
    ) -> Result<(ActiveSession, HeaderValue), SessionError> {
        self.store_login(None, domain, profile, level, remember_me_requested)
            .await
    }

    /// Like [`SessionStore::create`], and deletes `previous` in the same transaction, so a
    /// login from a browser with a session (perhaps of another user) leaves one session.
    pub async fn replace(
        &self,
        previous: ActiveSession,
        domain: &CookieDomain,
        profile: &UserProfile,
        level: Level,
        remember_me_requested: bool,
    ) -> Result<(ActiveSession, HeaderValue), SessionError> {
        self.store_login(
            Some(previous.id_hash),
            domain,
            profile,
            level,
            remember_me_requested,
        )
        .await
    }

    async fn store_login(
        &self,
        previous_id_hash: Option<String>,
        domain: &CookieDomain,
        profile: &UserProfile,
        level: Level,
        remember_me_requested: bool,
    ) -> Result<(ActiveSession, HeaderValue), SessionError> {
        if level == Level::Anonymous {
            return Err(SessionError::AnonymousLevel);
        }
        if profile.disabled {
            return Err(SessionError::UserDisabled(profile.username.clone()));
        }
        let now = self.clock.now_millis();
        let id = SessionId::generate();
        let cached = CachedProfile::from_profile(profile);
        let session = ActiveSession {
            id_hash: id.hash(),
            username: profile.username.clone(),
            level,
            cookie_domain: domain.domain.clone(),
            remember_me: remember_me_requested && domain.remember_me.is_some(),
            first_factor_at: now,
            second_factor_at: (level == Level::TwoFactor).then_some(now),
            created_at: now,
            last_activity_at: now,
            profile_refreshed_at: now,
            elevated_until: None,
            elevated_ip: None,
            data: merge_profile(&serde_json::json!({ HANDLE_KEY: new_handle() }), &cached),
            remote: remote_identity(&profile.username, &cached),
            profile: cached,
        };
        let record = session.to_record(&session.id_hash);
        match previous_id_hash {
            None => self.db.insert_session(&record).await?,
            Some(previous) => {
                self.forget(&previous);
                self.db.rotate_session(&previous, &record).await?;
            }
        }
        tracing::info!(
            username = %session.username,
            level = %level,
            remember_me = session.remember_me,
            "session created"
        );
        let cookie = self.cookie_for(&session, domain, &id, now);
        Ok((session, cookie))
    }

    /// Raises the session's level under a fresh id: the data moves to the new id and the old
    /// id is deleted in the same transaction, so a copy of the old cookie is worthless. Level
    /// two records the second-factor time. Returns the session and its new `Set-Cookie`.
    pub async fn raise_level(
        &self,
        session: ActiveSession,
        domain: &CookieDomain,
        level: Level,
    ) -> Result<(ActiveSession, HeaderValue), SessionError> {
        let mut session = session;
        if level <= session.level {
            return Err(SessionError::LevelNotRaised {
                from: session.level,
                to: level,
            });
        }
        if session.cookie_domain != domain.domain {
            return Err(SessionError::DomainMismatch {
                session_domain: session.cookie_domain.clone(),
                requested_domain: domain.domain.clone(),
            });
        }
        let now = self.clock.now_millis();
        let id = SessionId::generate();
        let old_id_hash = std::mem::replace(&mut session.id_hash, id.hash());
        session.level = level;
        session.last_activity_at = now;
        if level == Level::TwoFactor {
            session.second_factor_at = Some(now);
        }

        let record = session.to_record(&session.id_hash);
        self.forget(&old_id_hash);
        let old_existed = self.db.rotate_session(&old_id_hash, &record).await?;
        if !old_existed {
            // The session ended meanwhile; the row just stored must not revive it.
            self.db.delete_session(&session.id_hash).await?;
            tracing::info!(username = %session.username, "the session ended before its level could be raised");
            return Err(SessionError::Ended);
        }
        tracing::info!(username = %session.username, level = %level, "session level raised under a new id");
        let cookie = self.cookie_for(&session, domain, &id, now);
        Ok((session, cookie))
    }

    /// Deletes the session from the store (logout) and returns the `Set-Cookie` that clears
    /// the cookie. An error means the session may still be valid.
    pub async fn destroy(
        &self,
        session: ActiveSession,
        domain: &CookieDomain,
    ) -> Result<HeaderValue, SessionError> {
        self.delete_row(&session.id_hash).await?;
        tracing::info!(username = %session.username, "session destroyed");
        Ok(clearing_cookie(domain))
    }

    /// Sets (`Some((until, client_ip))`, `until` in milliseconds since the Unix epoch) or ends
    /// (`None`) the session's elevation for sensitive actions.
    pub async fn set_elevation(
        &self,
        session: &mut ActiveSession,
        elevation: Option<(i64, &str)>,
    ) -> Result<(), SessionError> {
        let exists = self
            .forget_and_db(&session.id_hash)
            .set_session_elevation(&session.id_hash, elevation)
            .await?;
        if !exists {
            return Err(SessionError::Ended);
        }
        session.elevated_until = elevation.map(|(until, _)| until);
        session.elevated_ip = elevation.map(|(_, ip)| ip.to_owned());
        Ok(())
    }

    /// Stores `value` under `key` in the session's data object, keeping every other key; the
    /// value moves with the data when the id is rotated.
    pub async fn set_data_value(
        &self,
        session: &mut ActiveSession,
        key: &str,
        value: serde_json::Value,
    ) -> Result<(), SessionError> {
        let mut data = session.data.clone();
        if let Some(map) = data.as_object_mut() {
            map.insert(key.to_owned(), value);
        }
        let exists = self
            .forget_and_db(&session.id_hash)
            .set_session_profile(&session.id_hash, &data, session.profile_refreshed_at)
            .await?;
        if !exists {
            return Err(SessionError::Ended);
        }
        session.data = data;
        Ok(())
    }

    /// Deletes the user's session whose public handle is `handle` (see
    /// [`ActiveSession::handle`]), dropping it from the cache at once; returns whether the user
    /// had such a session.
    pub async fn end_by_handle(&self, username: &str, handle: &str) -> Result<bool, SessionError> {
        let records = self.db.list_sessions_of_user(username).await?;
        let Some(record) = records.iter().find(|record| {
            record.data.get(HANDLE_KEY).and_then(|value| value.as_str()) == Some(handle)
        }) else {
            return Ok(false);
        };
        let deleted = self.delete_row(&record.id_hash).await?;
        if deleted {
            tracing::info!(username, "session ended by its user");
        }
        Ok(deleted)
    }

    /// Returns the `Set-Cookie` value that clears the session cookie of `domain`.
    pub fn clear_cookie(domain: &CookieDomain) -> HeaderValue {
        clearing_cookie(domain)
    }

    /// Builds the `Set-Cookie` for `session`. A remembered session's cookie lives until the
    /// server would end it: `remember_me` after the first-factor login.
    fn cookie_for(
        &self,
        session: &ActiveSession,
        domain: &CookieDomain,
        id: &SessionId,
        now: i64,
    ) -> HeaderValue {
        let max_age_secs = match domain.remember_me {
            Some(lifetime) if session.remember_me => {
                let end = session.first_factor_at.saturating_add(millis(lifetime));
                let remaining_millis = end.saturating_sub(now).max(0);
                Some(remaining_millis.saturating_add(999) / 1000)
            }
            _ => None,
        };
        session_cookie(domain, id.as_str(), max_age_secs)
    }
}

/// The key of the session's public handle in its `data` object.
pub(crate) const HANDLE_KEY: &str = "handle";

/// Returns the public handle of a stored session, as [`ActiveSession::handle`] does.
pub fn record_handle(record: &SessionRecord) -> Option<&str> {
    record.data.get(HANDLE_KEY).and_then(|value| value.as_str())
}

/// Generates a session's public handle: 128 random bits as URL-safe base64. It is drawn apart
/// from the session id, so it reveals nothing about the cookie.
fn new_handle() -> String {
    use base64::Engine as _;
    use rand::RngCore as _;
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Checks every `Session-Username` header against `username`, ignoring case. A value that is
/// not UTF-8 never matches.
fn session_username_matches(headers: &HeaderMap, username: &str) -> bool {
    let expected = username.to_lowercase();
    headers.get_all(SESSION_USERNAME).iter().all(|value| {
        std::str::from_utf8(value.as_bytes()).is_ok_and(|text| text.to_lowercase() == expected)
    })
}

/// Converts a configured duration to milliseconds, saturating at `i64::MAX`.
fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_session_username(values: &[&[u8]]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(SESSION_USERNAME, HeaderValue::from_bytes(value).unwrap());
        }
        headers
    }

    #[test]
    fn session_username_compares_ignoring_case() {
        assert!(session_username_matches(&HeaderMap::new(), "alice"));
        assert!(session_username_matches(
            &with_session_username(&[b"ALICE"]),
            "alice"
        ));
        assert!(session_username_matches(
            &with_session_username(&["J\u{d6}RG".as_bytes()]),
            "j\u{f6}rg"
        ));
    }

    #[test]
    fn session_username_mismatch_is_detected() {
        assert!(!session_username_matches(
            &with_session_username(&[b"bob"]),
            "alice"
        ));
        assert!(!session_username_matches(
            &with_session_username(&[b""]),
            "alice"
        ));
        assert!(!session_username_matches(
            &with_session_username(&[b"alice", b"bob"]),
            "alice"
        ));
        assert!(!session_username_matches(
            &with_session_username(&[b"\xff"]),
            "alice"
        ));
    }
}
