//! Session tests: cookies, the per-request checks, rotation and logout. Every test runs on
//! SQLite (a file in a temporary directory) and on PostgreSQL (a fresh schema per test in the
//! server named by `GATEHOUSE_TEST_POSTGRES_URL`), with a manual clock.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use gatehouse::clock::Clock;
use gatehouse::config::{
    AuthenticationBackendConfig, CookieDomain, DatabaseBackendConfig, FileBackendConfig,
    FileSearch, PasswordChangeConfig, PasswordHashing, PasswordResetConfig, RefreshInterval,
    SameSite, UserSearch,
};
use gatehouse::identity::directory::{UserDirectory, UserProfile};
use gatehouse::session::{
    ActiveSession, Level, Resolution, SessionError, SessionStore, TOUCH_INTERVAL_MILLIS,
};
use gatehouse::storage::{Cipher, Database, DatabaseOptions, SessionRecord, UserRecord};
use http::header::COOKIE;
use http::{HeaderMap, HeaderValue};
use sqlx::{Connection, PgConnection};

const KEY: &str = "a test encryption key that is long enough";
const START: i64 = 1_750_000_000_000;
const SECOND: i64 = 1_000;
const MINUTE: i64 = 60 * SECOND;
const COOKIE_NAME: &str = "gatehouse_session";
const REMEMBER_ME_SECS: u64 = 30 * 24 * 60 * 60;
const ARGON2_HASH: &str = "$argon2id$v=19$m=256,t=2,p=1$MrDDXlJacjkyKWl3J3qjTw$f8hZBmeUafjsLKSo7VF5JUUmzAPd3y0fUfbwMZocHuA";

/// One test database; dropping the PostgreSQL schema happens in `clean_up`.
struct TestDatabase {
    database: Database,
    postgres_schema: Option<String>,
    /// Keeps the SQLite file and any users file alive until the test ends.
    directory: tempfile::TempDir,
}

impl TestDatabase {
    async fn sqlite() -> TestDatabase {
        let directory = tempfile::tempdir().expect("create a temporary directory");
        let options = DatabaseOptions::Sqlite {
            path: directory.path().join("gatehouse.sqlite3"),
        };
        let database = Database::connect(&options, Cipher::new(KEY))
            .await
            .expect("open the SQLite test database");
        TestDatabase {
            database,
            postgres_schema: None,
            directory,
        }
    }

    async fn postgres() -> TestDatabase {
        let url = url::Url::parse(&common::postgres_url())
            .expect("GATEHOUSE_TEST_POSTGRES_URL is a valid URL");
        let schema = format!("session_{}", hex::encode(rand::random::<[u8; 8]>()));
        let options = DatabaseOptions::Postgres {
            host: url.host_str().unwrap_or("127.0.0.1").to_string(),
            port: url.port().unwrap_or(5432),
            database: url.path().trim_start_matches('/').to_string(),
            schema: Some(schema.clone()),
            username: url.username().to_string(),
            password: url.password().unwrap_or_default().to_string(),
            connect_timeout: Duration::from_secs(10),
        };
        let database = Database::connect(&options, Cipher::new(KEY))
            .await
            .expect("open the PostgreSQL test schema");
        TestDatabase {
            database,
            postgres_schema: Some(schema),
            directory: tempfile::tempdir().expect("create a temporary directory"),
        }
    }

    /// Drops the test's PostgreSQL schema; a failed test leaves it for the throwaway server.
    async fn clean_up(self) {
        self.database.close().await;
        if let Some(schema) = &self.postgres_schema {
            let mut connection = PgConnection::connect(&common::postgres_url())
                .await
                .expect("connect to drop the test schema");
            sqlx::query(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
                .execute(&mut connection)
                .await
                .expect("drop the test schema");
        }
    }
}

/// Instantiates each named test once per database: `name::sqlite` and `name::postgres`.
macro_rules! on_both_databases {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    let test_database = super::TestDatabase::sqlite().await;
                    super::$name(&test_database).await;
                    test_database.clean_up().await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    let test_database = super::TestDatabase::postgres().await;
                    super::$name(&test_database).await;
                    test_database.clean_up().await;
                }
            }
        )+
    };
}

on_both_databases!(
    create_then_resolve,
    inactivity_ends_session,
    remember_me_outlives_inactivity,
    expiration_counts_from_login,
    remember_me_disabled_is_ignored,
    set_cookie_attributes_exact,
    localhost_cookie_not_secure,
    raise_level_rotates_id,
    logout_ends_session,
    other_domain_session_destroyed,
    session_username_tripwire,
    repeated_cookie_is_anonymous,
    malformed_cookie_is_anonymous,
    group_change_seen_at_once,
    marked_session_refreshed_when_disabled,
    admin_disable_ends_session,
    users_file_changes_after_interval,
    touch_is_rate_limited,
    touched_session_cache_yields_to_later_change,
    deleted_row_not_served_from_cache,
    store_error_is_anonymous,
    create_rejects_bad_requests,
    replace_deletes_previous,
    elevation_is_stored,
);

// ---------------------------------------------------------------------------------------------
// Helpers

fn cookie_domain(domain: &str, remember_me: Option<Duration>) -> CookieDomain {
    CookieDomain {
        domain: domain.to_owned(),
        authelia_url: Some(url::Url::parse(&format!("https://auth.{domain}/")).unwrap()),
        default_redirection_url: None,
        name: COOKIE_NAME.to_owned(),
        same_site: SameSite::Lax,
        expiration: Duration::from_secs(60 * 60),
        inactivity: Duration::from_secs(5 * 60),
        remember_me,
    }
}

fn example() -> CookieDomain {
    cookie_domain("example.com", Some(Duration::from_secs(REMEMBER_ME_SECS)))
}

fn backend(
    refresh_interval: RefreshInterval,
    file: Option<PathBuf>,
) -> AuthenticationBackendConfig {
    AuthenticationBackendConfig {
        refresh_interval,
        password_reset: PasswordResetConfig {
            disable: false,
            custom_url: None,
        },
        password_change: PasswordChangeConfig { disable: false },
        search: UserSearch { email: false },
        file: file.map(|path| FileBackendConfig {
            path,
            watch: false,
            search: FileSearch {
                email: false,
                case_insensitive: false,
            },
            rehash: false,
            password: PasswordHashing::default(),
        }),
        database: DatabaseBackendConfig {
            password: PasswordHashing::default(),
        },
    }
}

/// A session store over the test database with `alice` (group `dev`) in the database.
struct Fixture {
    store: SessionStore,
    directory: UserDirectory,
    db: Database,
    clock: Clock,
}

impl Fixture {
    async fn new(test_database: &TestDatabase, refresh_interval: RefreshInterval) -> Fixture {
        let db = test_database.database.clone();
        let clock = Clock::manual(START);
        db.create_user(
            &UserRecord {
                username: "alice".to_owned(),
                display_name: "Alice Example".to_owned(),
                email: Some("alice@example.com".to_owned()),
                password_hash: ARGON2_HASH.to_owned(),
                disabled: false,
                groups: vec!["dev".to_owned()],
            },
            START,
        )
        .await
        .expect("create alice");
        let directory = UserDirectory::open(&backend(refresh_interval, None), &db)
            .expect("open the database directory");
        Fixture::with_directory(db, directory, clock, refresh_interval)
    }

    /// Creates a store whose users come from the users file at `path`.
    fn with_users_file(
        test_database: &TestDatabase,
        path: &Path,
        refresh_interval: RefreshInterval,
    ) -> Fixture {
        let directory = UserDirectory::open(
            &backend(refresh_interval, Some(path.to_path_buf())),
            &test_database.database,
        )
        .expect("open the users file");
        Fixture::with_directory(
            test_database.database.clone(),
            directory,
            Clock::manual(START),
            refresh_interval,
        )
    }

    fn with_directory(
        db: Database,
        directory: UserDirectory,
        clock: Clock,
        refresh_interval: RefreshInterval,
    ) -> Fixture {
        let store = SessionStore::new(
            db.clone(),
            directory.clone(),
            clock.clone(),
            refresh_interval,
        );
        Fixture {
            store,
            directory,
            db,
            clock,
        }
    }

    async fn profile(&self, username: &str) -> UserProfile {
        self.directory
            .get(username)
            .await
            .expect("read the directory")
            .expect("the user exists")
    }

    /// Logs `alice` in at level one and returns the session and its `Set-Cookie`.
    async fn login(&self, domain: &CookieDomain, remember_me: bool) -> (ActiveSession, String) {
        let profile = self.profile("alice").await;
        let (session, set_cookie) = self
            .store
            .create(domain, &profile, Level::OneFactor, remember_me)
            .await
            .expect("create the session");
        (session, set_cookie.to_str().unwrap().to_owned())
    }

    async fn resolve(&self, set_cookie: &str, domain: &CookieDomain) -> Resolution {
        self.store
            .resolve(&cookie_headers(&[cookie_pair(set_cookie)]), domain)
            .await
    }

    async fn resolve_shared(
        &self,
        set_cookie: &str,
        domain: &CookieDomain,
    ) -> Resolution<std::sync::Arc<ActiveSession>> {
        self.store
            .resolve_shared(&cookie_headers(&[cookie_pair(set_cookie)]), domain)
            .await
    }

    async fn rows_of_alice(&self) -> Vec<SessionRecord> {
        self.db
            .list_sessions_of_user("alice")
            .await
            .expect("list alice's sessions")
    }
}

/// Returns `name=value` of a `Set-Cookie` value.
fn cookie_pair(set_cookie: &str) -> &str {
    set_cookie.split(';').next().unwrap()
}

/// Returns the session id a `Set-Cookie` value carries.
fn cookie_value(set_cookie: &str) -> &str {
    cookie_pair(set_cookie)
        .strip_prefix(&format!("{COOKIE_NAME}="))
        .expect("the cookie has the configured name")
}

fn cookie_headers(lines: &[&str]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for line in lines {
        headers.append(COOKIE, HeaderValue::from_str(line).unwrap());
    }
    headers
}

fn clearing_cookie(domain: &str) -> String {
    format!("{COOKIE_NAME}=; Domain={domain}; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age=0")
}

fn assert_dead(resolution: &Resolution, domain: &str) {
    assert!(resolution.session.is_none(), "the session is not accepted");
    assert!(!resolution.store_error, "no store error is reported");
    assert_eq!(
        resolution
            .clear_cookie
            .as_ref()
            .map(|value| value.to_str().unwrap().to_owned()),
        Some(clearing_cookie(domain)),
        "the dead cookie is cleared"
    );
}

fn users_file_yaml(groups: &str, disabled: bool) -> String {
    format!(
        "users:\n  alice:\n    displayname: 'Alice Example'\n    password: '{ARGON2_HASH}'\n    \
         email: alice@example.com\n    groups: {groups}\n    disabled: {disabled}\n"
    )
}

/// Writes the users file and waits until the file directory will look at it again, which it
/// does at most once a second of real time.
async fn rewrite_users_file(path: &Path, yaml: &str) {
    std::fs::write(path, yaml).expect("write the users file");
    tokio::time::sleep(Duration::from_millis(1_100)).await;
}

// ---------------------------------------------------------------------------------------------
// Tests

async fn create_then_resolve(test_database: &TestDatabase) {
    let fixture = Fixture::new(
        test_database,
        RefreshInterval::Every(Duration::from_secs(300)),
    )
    .await;
    let domain = example();
    let (created, set_cookie) = fixture.login(&domain, false).await;
    assert_eq!(created.level(), Level::OneFactor);
    assert_eq!(cookie_value(&set_cookie).len(), 43);

    fixture.clock.advance_millis(30 * SECOND);
    let resolution = fixture.resolve(&set_cookie, &domain).await;
    assert!(resolution.clear_cookie.is_none());
    assert!(!resolution.store_error);
    let session = resolution.session.expect("the session resolves");
    assert_eq!(session.username(), "alice");
    assert_eq!(session.level(), Level::OneFactor);
    assert_eq!(session.display_name(), "Alice Example");
    assert_eq!(session.emails(), ["alice@example.com".to_owned()]);
    assert_eq!(session.groups(), ["dev".to_owned()]);
    assert_eq!(session.cookie_domain(), "example.com");
    assert!(!session.remember_me());
    assert_eq!(session.first_factor_at(), START);
    assert_eq!(session.second_factor_at(), None);

    let rows = fixture.rows_of_alice().await;
    assert_eq!(rows.len(), 1);
    assert_ne!(
        rows[0].id_hash,
        cookie_value(&set_cookie),
        "the store keeps a hash, not the id"
    );
    assert_eq!(rows[0].id_hash.len(), 64);
}

async fn inactivity_ends_session(test_database: &TestDatabase) {
    let fixture = Fixture::new(
        test_database,
        RefreshInterval::Every(Duration::from_secs(300)),
    )
    .await;
    let domain = example();
    let (_, set_cookie) = fixture.login(&domain, false).await;

    fixture.clock.advance_millis(4 * MINUTE + 50 * SECOND);
    let active = fixture.resolve(&set_cookie, &domain).await;
    assert!(
        active.session.is_some(),
        "activity within 5 minutes keeps it"
    );

    fixture.clock.advance_millis(5 * MINUTE + 10 * SECOND);
    let idle = fixture.resolve(&set_cookie, &domain).await;
    assert_dead(&idle, "example.com");
    assert!(fixture.rows_of_alice().await.is_empty(), "the row is gone");
}

async fn remember_me_outlives_inactivity(test_database: &TestDatabase) {
    let fixture = Fixture::new(
        test_database,
        RefreshInterval::Every(Duration::from_secs(300)),
    )
    .await;
    let domain = example();
    let (created, set_cookie) = fixture.login(&domain, true).await;
    assert!(created.remember_me());
    assert!(
        set_cookie.ends_with(&format!("; Max-Age={REMEMBER_ME_SECS}")),
        "{set_cookie}"
    );

    fixture.clock.advance_millis(5 * MINUTE + 10 * SECOND);
    let after_idle = fixture.resolve(&set_cookie, &domain).await;
    let session = after_idle.session.expect("inactivity does not end it");
    assert_eq!(
        session.last_activity_at(),
        START,
        "a remembered session's activity is not written"
    );

    let remember_me_millis = i64::try_from(REMEMBER_ME_SECS).unwrap() * SECOND;
    fixture
        .clock
        .advance_millis(remember_me_millis - 5 * MINUTE - 10 * SECOND);
    let at_limit = fixture.resolve(&set_cookie, &domain).await;
    assert!(at_limit.session.is_some(), "alive at exactly remember_me");

    fixture.clock.advance_millis(SECOND);
    let after_limit = fixture.resolve(&set_cookie, &domain).await;
    assert_dead(&after_limit, "example.com");
    assert!(fixture.rows_of_alice().await.is_empty());
}

async fn expiration_counts_from_login(test_database: &TestDatabase) {
    let fixture = Fixture::new(
        test_database,
        RefreshInterval::Every(Duration::from_secs(300)),
    )
    .await;
    let domain = example();
    let (_, set_cookie) = fixture.login(&domain, false).await;

    for step in 1..=15 {
        fixture.clock.advance_millis(4 * MINUTE);
        let resolution = fixture.resolve(&set_cookie, &domain).await;
        assert!(
            resolution.session.is_some(),
            "alive after {} minutes of activity",
            step * 4
        );
    }

    fixture.clock.advance_millis(SECOND);
    let expired = fixture.resolve(&set_cookie, &domain).await;
    assert_dead(&expired, "example.com");
    assert!(fixture.rows_of_alice().await.is_empty());
}

async fn remember_me_disabled_is_ignored(test_database: &TestDatabase) {
    let fixture = Fixture::new(
        test_database,
        RefreshInterval::Every(Duration::from_secs(300)),
    )
    .await;
    let domain = cookie_domain("example.com", None);
    let (created, set_cookie) = fixture.login(&domain, true).await;
    assert!(!created.remember_me(), "remember-me is off for the domain");
    assert!(!set_cookie.contains("Max-Age"), "{set_cookie}");
    assert!(!set_cookie.contains("Expires"), "{set_cookie}");
    assert!(!fixture.rows_of_alice().await[0].remember_me);

    fixture.clock.advance_millis(5 * MINUTE + 10 * SECOND);
    let idle = fixture.resolve(&set_cookie, &domain).await;
    assert_dead(&idle, "example.com");
}

async fn set_cookie_attributes_exact(test_database: &TestDatabase) {
    let fixture = Fixture::new(
        test_database,
        RefreshInterval::Every(Duration::from_secs(300)),
    )
    .await;
    let domain = example();
    let (_, set_cookie) = fixture.login(&domain, false).await;
    let id = cookie_value(&set_cookie);
    assert_eq!(
        set_cookie,
        format!("{COOKIE_NAME}={id}; Domain=example.com; Path=/; HttpOnly; Secure; SameSite=Lax")
    );

    let strict = CookieDomain {
        same_site: SameSite::Strict,
        ..example()
    };
    let (_, strict_cookie) = fixture.login(&strict, true).await;
    let strict_id = cookie_value(&strict_cookie);
    assert_eq!(
        strict_cookie,
        format!(
            "{COOKIE_NAME}={strict_id}; Domain=example.com; Path=/; HttpOnly; Secure; \
             SameSite=Strict; Max-Age={REMEMBER_ME_SECS}"
        )
    );
}

async fn localhost_cookie_not_secure(test_database: &TestDatabase) {
    let fixture = Fixture::new(
        test_database,
        RefreshInterval::Every(Duration::from_secs(300)),
    )
    .await;
    let domain = cookie_domain("gatehouse.localhost", None);
    let (_, set_cookie) = fixture.login(&domain, false).await;
    let id = cookie_value(&set_cookie);
    assert_eq!(
        set_cookie,
        format!("{COOKIE_NAME}={id}; Domain=gatehouse.localhost; Path=/; HttpOnly; SameSite=Lax")
    );
    let resolution = fixture.resolve(&set_cookie, &domain).await;
    assert!(resolution.session.is_some());
    assert_eq!(
        SessionStore::clear_cookie(&domain),
        "gatehouse_session=; Domain=gatehouse.localhost; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"
    );
}

async fn raise_level_rotates_id(test_database: &TestDatabase) {
    let fixture = Fixture::new(
        test_database,
        RefreshInterval::Every(Duration::from_secs(300)),
    )
    .await;
    let domain = example();
    let (_, first_cookie) = fixture.login(&domain, false).await;
    let session = fixture
        .resolve(&first_cookie, &domain)
        .await
        .session
        .expect("the first-factor session resolves");

    fixture.clock.advance_millis(20 * SECOND);
    let (raised, second_cookie) = fixture
        .store
        .raise_level(session, &domain, Level::TwoFactor)
        .await
        .expect("raise the level");
    let second_cookie = second_cookie.to_str().unwrap().to_owned();
    assert_ne!(cookie_value(&second_cookie), cookie_value(&first_cookie));
    assert_eq!(raised.level(), Level::TwoFactor);
    assert_eq!(raised.second_factor_at(), Some(START + 20 * SECOND));
    assert_eq!(
        raised.first_factor_at(),
        START,
        "expiration still counts from login"
    );
    assert!(second_cookie.contains("; HttpOnly; Secure; SameSite=Lax"));

    let old = fixture.resolve(&first_cookie, &domain).await;
    assert_dead(&old, "example.com");

    let new = fixture
        .resolve(&second_cookie, &domain)
        .await
        .session
        .expect("the new id resolves");
    assert_eq!(new.level(), Level::TwoFactor);
    assert_eq!(new.groups(), ["dev".to_owned()]);
    assert_eq!(fixture.rows_of_alice().await.len(), 1);

    let error = fixture
        .store
        .raise_level(new, &domain, Level::OneFactor)
        .await
        .expect_err("lowering is not a raise");
    assert!(
        matches!(error, SessionError::LevelNotRaised { .. }),
        "{error}"
    );
}

async fn logout_ends_session(test_database: &TestDatabase) {
    let fixture = Fixture::new(
        test_database,
        RefreshInterval::Every(Duration::from_secs(300)),
    )
    .await;
    let domain = example();
    let (_, set_cookie) = fixture.login(&domain, false).await;
    let session = fixture.resolve(&set_cookie, &domain).await.session.unwrap();

    let cleared = fixture
        .store
        .destroy(session, &domain)
        .await
        .expect("log out");
    assert_eq!(cleared, clearing_cookie("example.com").as_str());
    assert!(fixture.rows_of_alice().await.is_empty());

    let replayed = fixture.resolve(&set_cookie, &domain).await;
    assert_dead(&replayed, "example.com");
}

async fn other_domain_session_destroyed(test_database: &TestDatabase) {
    let fixture = Fixture::new(
        test_database,
        RefreshInterval::Every(Duration::from_secs(300)),
    )
    .await;
    let home = example();
    let other = cookie_domain("example.org", None);
    let (_, set_cookie) = fixture.login(&home, false).await;

    let elsewhere = fixture.resolve(&set_cookie, &other).await;
    assert_dead(&elsewhere, "example.org");
    assert!(fixture.rows_of_alice().await.is_empty(), "the row is gone");

    let at_home = fixture.resolve(&set_cookie, &home).await;
    assert!(
        at_home.session.is_none(),
        "the destroyed session stays dead"
    );
}

async fn session_username_tripwire(test_database: &TestDatabase) {
    let fixture = Fixture::new(
        test_database,
        RefreshInterval::Every(Duration::from_secs(300)),
    )
    .await;
    let domain = example();
    let (_, set_cookie) = fixture.login(&domain, false).await;

    let mut headers = cookie_headers(&[cookie_pair(&set_cookie)]);
    headers.insert("session-username", HeaderValue::from_static("ALICE"));
    let same_user = fixture.store.resolve(&headers, &domain).await;
    assert!(
        same_user.session.is_some(),
        "the name compares ignoring case"
    );

    headers.insert("session-username", HeaderValue::from_static("bob"));
    let other_user = fixture.store.resolve(&headers, &domain).await;
    assert_dead(&other_user, "example.com");
    assert!(fixture.rows_of_alice().await.is_empty(), "the row is gone");
}

async fn repeated_cookie_is_anonymous(test_database: &TestDatabase) {
    let fixture = Fixture::new(
        test_database,
        RefreshInterval::Every(Duration::from_secs(300)),
    )
    .await;
    let domain = example();
    let (_, set_cookie) = fixture.login(&domain, false).await;
    let pair = cookie_pair(&set_cookie);

    let cases = [
        cookie_headers(&[pair, pair]),
        cookie_headers(&[&format!("{pair}; lang=en; {COOKIE_NAME}=other")]),
        cookie_headers(&[&format!("{COOKIE_NAME}=other"), pair]),
    ];
    for headers in cases {
        let resolution = fixture.store.resolve(&headers, &domain).await;
        assert!(resolution.session.is_none(), "{headers:?} is ambiguous");
        assert!(
            resolution.clear_cookie.is_none(),
            "neither cookie is cleared"
        );
        assert!(!resolution.store_error);
    }
    assert_eq!(
        fixture.rows_of_alice().await.len(),
        1,
        "the session is kept"
    );

    let joined = cookie_headers(&["lang=en", pair, "theme=dark"]);
    let single = fixture.store.resolve(&joined, &domain).await;
    assert!(
        single.session.is_some(),
        "Cookie lines are read as one list"
    );
}

async fn malformed_cookie_is_anonymous(test_database: &TestDatabase) {
    let fixture = Fixture::new(
        test_database,
        RefreshInterval::Every(Duration::from_secs(300)),
    )
    .await;
    let domain = example();
    let (_, set_cookie) = fixture.login(&domain, false).await;
    let id = cookie_value(&set_cookie);

    let unknown = "A".repeat(43);
    let values = [
        "attacker-chosen-0001".to_owned(),
        String::new(),
        format!("{id}x"),
        id[..42].to_owned(),
        unknown,
    ];
    for value in values {
        let headers = cookie_headers(&[&format!("{COOKIE_NAME}={value}")]);
        let resolution = fixture.store.resolve(&headers, &domain).await;
        assert_dead(&resolution, "example.com");
    }
    assert_eq!(
        fixture.rows_of_alice().await.len(),
        1,
        "alice's session is untouched"
    );

    let quoted = cookie_headers(&[&format!("{COOKIE_NAME}=\"{id}\"")]);
    let resolution = fixture.store.resolve(&quoted, &domain).await;
    assert!(
        resolution.session.is_some(),
        "a quoted value is the same id"
    );
}

async fn group_change_seen_at_once(test_database: &TestDatabase) {
    let fixture = Fixture::new(
        test_database,
        RefreshInterval::Every(Duration::from_secs(300)),
    )
    .await;
    let domain = example();
    let (_, set_cookie) = fixture.login(&domain, false).await;

    fixture.clock.advance_millis(SECOND);
    fixture
        .db
        .set_user_groups("alice", &["ops".to_owned()], fixture.clock.now_millis())
        .await
        .expect("change alice's groups");
    let session = fixture
        .resolve(&set_cookie, &domain)
        .await
        .session
        .expect("the session survives a group change");
    assert_eq!(session.groups(), ["ops".to_owned()]);

    let rows = fixture.rows_of_alice().await;
    assert_eq!(rows[0].data["groups"], serde_json::json!(["ops"]));
    assert_eq!(rows[0].profile_refreshed_at, START + SECOND);
}

async fn marked_session_refreshed_when_disabled(test_database: &TestDatabase) {
    let fixture = Fixture::new(test_database, RefreshInterval::Disable).await;
    let domain = example();
    let (_, set_cookie) = fixture.login(&domain, false).await;

    fixture
        .db
        .set_user_groups("alice", &["ops".to_owned()], START)
        .await
        .expect("change alice's groups");
    let session = fixture.resolve(&set_cookie, &domain).await.session.unwrap();
    assert_eq!(
        session.groups(),
        ["ops".to_owned()],
        "an admin change is seen even with refresh disabled"
    );
}

async fn admin_disable_ends_session(test_database: &TestDatabase) {
    let fixture = Fixture::new(
        test_database,
        RefreshInterval::Every(Duration::from_secs(60)),
    )
    .await;
    let domain = example();
    let (_, set_cookie) = fixture.login(&domain, false).await;

    fixture
        .db
        .set_user_disabled("alice", true, START)
        .await
        .expect("disable alice");
    let resolution = fixture.resolve(&set_cookie, &domain).await;
    assert_dead(&resolution, "example.com");
    assert!(fixture.rows_of_alice().await.is_empty());
}

async fn users_file_changes_after_interval(test_database: &TestDatabase) {
    let path = test_database.directory.path().join("users.yml");
    std::fs::write(&path, users_file_yaml("[dev]", false)).unwrap();
    let fixture = Fixture::with_users_file(
        test_database,
        &path,
        RefreshInterval::Every(Duration::from_secs(60)),
    );
    let domain = example();
    let (_, set_cookie) = fixture.login(&domain, false).await;

    rewrite_users_file(&path, &users_file_yaml("[ops]", false)).await;
    fixture.clock.advance_millis(30 * SECOND);
    let before = fixture.resolve(&set_cookie, &domain).await.session.unwrap();
    assert_eq!(before.groups(), ["dev".to_owned()], "no refresh is due yet");

    fixture.clock.advance_millis(31 * SECOND);
    let after = fixture.resolve(&set_cookie, &domain).await.session.unwrap();
    assert_eq!(after.groups(), ["ops".to_owned()], "refreshed after 61 s");

    rewrite_users_file(&path, &users_file_yaml("[ops]", true)).await;
    fixture.clock.advance_millis(61 * SECOND);
    let disabled = fixture.resolve(&set_cookie, &domain).await;
    assert_dead(&disabled, "example.com");
    assert!(fixture.rows_of_alice().await.is_empty());

    std::fs::write(&path, users_file_yaml("[dev]", false)).unwrap();
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let (_, second_cookie) = fixture.login(&domain, false).await;
    rewrite_users_file(
        &path,
        &format!("users:\n  bob:\n    displayname: 'Bob'\n    password: '{ARGON2_HASH}'\n"),
    )
    .await;
    fixture.clock.advance_millis(61 * SECOND);
    let removed = fixture.resolve(&second_cookie, &domain).await;
    assert_dead(&removed, "example.com");
    assert!(fixture.rows_of_alice().await.is_empty());
}

async fn touch_is_rate_limited(test_database: &TestDatabase) {
    let fixture = Fixture::new(
        test_database,
        RefreshInterval::Every(Duration::from_secs(300)),
    )
    .await;
    let domain = example();
    let (_, set_cookie) = fixture.login(&domain, false).await;

    fixture.clock.advance_millis(TOUCH_INTERVAL_MILLIS - SECOND);
    let early = fixture.resolve(&set_cookie, &domain).await.session.unwrap();
    assert_eq!(early.last_activity_at(), START);
    assert_eq!(fixture.rows_of_alice().await[0].last_activity_at, START);

    fixture.clock.advance_millis(2 * SECOND);
    let later = fixture.resolve(&set_cookie, &domain).await.session.unwrap();
    let touched_at = START + TOUCH_INTERVAL_MILLIS + SECOND;
    assert_eq!(later.last_activity_at(), touched_at);
    assert_eq!(
        fixture.rows_of_alice().await[0].last_activity_at,
        touched_at
    );
}

/// A session written by a touch goes back into the cache, so the cached copy must carry the
/// written time. A rights-reducing change made afterwards must still replace it at once.
async fn touched_session_cache_yields_to_later_change(test_database: &TestDatabase) {
    let fixture = Fixture::new(
        test_database,
        RefreshInterval::Every(Duration::from_secs(300)),
    )
    .await;
    let domain = example();
    let (_, set_cookie) = fixture.login(&domain, false).await;

    fixture.clock.advance_millis(TOUCH_INTERVAL_MILLIS + SECOND);
    let touched_at = START + TOUCH_INTERVAL_MILLIS + SECOND;
    let touched = fixture.resolve(&set_cookie, &domain).await.session.unwrap();
    assert_eq!(touched.last_activity_at(), touched_at);

    fixture.clock.advance_millis(SECOND);
    let cached = fixture.resolve(&set_cookie, &domain).await.session.unwrap();
    assert_eq!(cached.last_activity_at(), touched_at);
    assert_eq!(cached.remote_identity().groups(), ["dev".to_owned()]);

    fixture
        .db
        .set_user_groups("alice", &["ops".to_owned()], fixture.clock.now_millis())
        .await
        .expect("change alice's groups");
    let changed = fixture
        .resolve_shared(&set_cookie, &domain)
        .await
        .session
        .expect("the session survives a group change");
    assert_eq!(changed.groups(), ["ops".to_owned()]);
    assert_eq!(changed.remote_identity().groups(), ["ops".to_owned()]);
    let headers: Vec<(String, Vec<u8>)> = changed
        .remote_identity()
        .headers()
        .expect("sendable identity")
        .into_iter()
        .map(|(name, value)| (name.to_string(), value.as_bytes().to_vec()))
        .collect();
    assert_eq!(headers[0], ("remote-user".to_owned(), b"alice".to_vec()));
    assert_eq!(headers[1], ("remote-groups".to_owned(), b"ops".to_vec()));
}

/// A session deleted through the database handle by any path (an admin's "End", a logout
/// elsewhere in the process) must not be served from the cache afterwards, even within the
/// cache's lifetime. The delete raises the change count, which drops every cached copy.
async fn deleted_row_not_served_from_cache(test_database: &TestDatabase) {
    let fixture = Fixture::new(
        test_database,
        RefreshInterval::Every(Duration::from_secs(300)),
    )
    .await;
    let domain = example();
    let (_, set_cookie) = fixture.login(&domain, false).await;
    let cached = fixture.resolve_shared(&set_cookie, &domain).await;
    assert!(cached.session.is_some(), "the session is read and cached");

    let id_hash = fixture.rows_of_alice().await[0].id_hash.clone();
    assert!(fixture.db.delete_session(&id_hash).await.unwrap());
    let after = fixture.resolve_shared(&set_cookie, &domain).await;
    assert!(
        after.session.is_none(),
        "the deleted session still granted access"
    );
    assert_eq!(
        after
            .clear_cookie
            .as_ref()
            .map(|value| value.to_str().unwrap().to_owned()),
        Some(clearing_cookie("example.com"))
    );
}

async fn store_error_is_anonymous(test_database: &TestDatabase) {
    let fixture = Fixture::new(
        test_database,
        RefreshInterval::Every(Duration::from_secs(300)),
    )
    .await;
    let domain = example();
    let (_, set_cookie) = fixture.login(&domain, false).await;

    fixture.db.close().await;
    let resolution = fixture.resolve(&set_cookie, &domain).await;
    assert!(resolution.session.is_none());
    assert!(resolution.store_error);
    assert!(
        resolution.clear_cookie.is_none(),
        "a live session keeps its cookie"
    );
}

async fn create_rejects_bad_requests(test_database: &TestDatabase) {
    let fixture = Fixture::new(
        test_database,
        RefreshInterval::Every(Duration::from_secs(300)),
    )
    .await;
    let domain = example();
    let profile = fixture.profile("alice").await;

    let anonymous = fixture
        .store
        .create(&domain, &profile, Level::Anonymous, false)
        .await
        .expect_err("no anonymous sessions");
    assert!(
        matches!(anonymous, SessionError::AnonymousLevel),
        "{anonymous}"
    );

    let disabled_profile = UserProfile {
        disabled: true,
        ..profile
    };
    let disabled = fixture
        .store
        .create(&domain, &disabled_profile, Level::OneFactor, false)
        .await
        .expect_err("no sessions for disabled users");
    assert!(
        matches!(disabled, SessionError::UserDisabled(_)),
        "{disabled}"
    );
    assert!(fixture.rows_of_alice().await.is_empty());

    let two_factor = fixture
        .store
        .create(
            &domain,
            &fixture.profile("alice").await,
            Level::TwoFactor,
            false,
        )
        .await
        .expect("a passkey login may start at level two")
        .0;
    assert_eq!(two_factor.second_factor_at(), Some(START));
}

async fn replace_deletes_previous(test_database: &TestDatabase) {
    let fixture = Fixture::new(
        test_database,
        RefreshInterval::Every(Duration::from_secs(300)),
    )
    .await;
    let domain = example();
    let (previous, previous_cookie) = fixture.login(&domain, false).await;
    let profile = fixture.profile("alice").await;

    let (_, set_cookie) = fixture
        .store
        .replace(previous, &domain, &profile, Level::OneFactor, false)
        .await
        .expect("replace the session");
    let set_cookie = set_cookie.to_str().unwrap().to_owned();
    assert_ne!(cookie_value(&set_cookie), cookie_value(&previous_cookie));
    assert_eq!(fixture.rows_of_alice().await.len(), 1);
    assert!(fixture
        .resolve(&previous_cookie, &domain)
        .await
        .session
        .is_none());
    assert!(fixture
        .resolve(&set_cookie, &domain)
        .await
        .session
        .is_some());
}

async fn elevation_is_stored(test_database: &TestDatabase) {
    let fixture = Fixture::new(
        test_database,
        RefreshInterval::Every(Duration::from_secs(300)),
    )
    .await;
    let domain = example();
    let (mut session, set_cookie) = fixture.login(&domain, false).await;
    let until = START + 5 * MINUTE;

    fixture
        .store
        .set_elevation(&mut session, Some((until, "192.0.2.1")))
        .await
        .expect("elevate");
    assert!(session.is_elevated(START, "192.0.2.1"));

    let resolved = fixture.resolve(&set_cookie, &domain).await.session.unwrap();
    assert_eq!(resolved.elevated_until(), Some(until));
    assert_eq!(resolved.elevated_ip(), Some("192.0.2.1"));
    assert!(!resolved.is_elevated(until, "192.0.2.1"));
}
