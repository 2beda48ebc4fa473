//! Basic credentials on the authz endpoints with regulation (bans) and the `authz_basic` rate
//! limit. Every test runs on SQLite (a file in a temporary directory) and on PostgreSQL (a fresh
//! schema in the server named by `GATEHOUSE_TEST_POSTGRES_URL`), with a manual clock and cheap
//! argon2 parameters.

mod common;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use gatehouse::clock::Clock;
use gatehouse::config::{
    AuthenticationBackendConfig, Bucket, DatabaseBackendConfig, PasswordChangeConfig,
    PasswordHashing, PasswordResetConfig, RateLimit, RefreshInterval, RegulationConfig,
    RegulationMode, UserSearch,
};
use gatehouse::forward_auth::basic::{
    parse_authorization, BasicOutcome, BasicVerifier, OtherSchemes, Parsed,
};
use gatehouse::forward_auth::client_ip::ClientIp;
use gatehouse::forward_auth::rate_limit::RateLimiter;
use gatehouse::identity::directory::UserDirectory;
use gatehouse::identity::hashing::{hash_password, Argon2Params, Argon2Variant};
use gatehouse::identity::pool::{HashingPool, PoolError};
use gatehouse::identity::regulation::{AttemptRecord, RegulationSubject, Regulator};
use gatehouse::storage::{
    AttemptFactor, AuthenticationAttempt, BanKind, BanSource, Cipher, Database, DatabaseOptions,
    UserRecord,
};
use http::HeaderValue;
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection};

const KEY: &str = "a test encryption key that is long enough";
const START: i64 = 1_700_000_000_000;
const TARGET_URI: &str = "https://app.example.com/";
const ALICE_PASSWORD: &str = "s3cr:t:pass";
const PROXY: &str = "10.0.0.2";
const CLIENT: &str = "198.51.100.7";
const OTHER_CLIENT: &str = "198.51.100.8";

// ---------------------------------------------------------------------------------------------
// Set-up

#[derive(Clone, Copy)]
enum Backend {
    Sqlite,
    Postgres,
}

/// One test database with the pieces of a Basic check around it.
struct Fixture {
    db: Database,
    clock: Clock,
    pool: Arc<HashingPool>,
    regulator: Regulator,
    verifier: BasicVerifier,
    /// Keeps the SQLite directory alive until the test ends.
    _directory: Option<tempfile::TempDir>,
    /// The PostgreSQL URL and schema to drop at the end.
    postgres_schema: Option<(String, String)>,
}

/// Settings that differ between tests.
struct Settings {
    regulation: RegulationConfig,
    cache_lifespan: Duration,
    rate_limit: RateLimit,
    workers: usize,
    queue: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            regulation: regulation(&[RegulationMode::User], 3),
            cache_lifespan: Duration::ZERO,
            rate_limit: RateLimit {
                enable: false,
                buckets: Vec::new(),
            },
            workers: 1,
            queue: 16,
        }
    }
}

fn regulation(modes: &[RegulationMode], max_retries: u32) -> RegulationConfig {
    RegulationConfig {
        modes: modes.to_vec(),
        max_retries,
        find_time: Duration::from_secs(120),
        ban_time: Duration::from_secs(300),
    }
}

fn authz_basic_limit() -> RateLimit {
    RateLimit {
        enable: true,
        buckets: vec![
            Bucket {
                period: Duration::from_secs(60),
                requests: 10,
            },
            Bucket {
                period: Duration::from_secs(600),
                requests: 30,
            },
        ],
    }
}

fn cheap_params() -> Argon2Params {
    Argon2Params {
        variant: Argon2Variant::Argon2id,
        iterations: 1,
        memory_kib: 64,
        parallelism: 1,
        key_length: 32,
        salt_length: 16,
    }
}

fn backend_config() -> AuthenticationBackendConfig {
    AuthenticationBackendConfig {
        refresh_interval: RefreshInterval::Every(Duration::from_secs(300)),
        password_reset: PasswordResetConfig {
            disable: false,
            custom_url: None,
        },
        password_change: PasswordChangeConfig { disable: false },
        search: UserSearch { email: true },
        file: None,
        database: DatabaseBackendConfig {
            password: PasswordHashing::default(),
        },
    }
}

impl Fixture {
    async fn new(backend: Backend, settings: Settings) -> Fixture {
        let (db, directory, postgres_schema) = match backend {
            Backend::Sqlite => {
                let directory = tempfile::tempdir().expect("create a temporary directory");
                let options = DatabaseOptions::Sqlite {
                    path: directory.path().join("gatehouse.sqlite3"),
                };
                let db = Database::connect(&options, Cipher::new(KEY))
                    .await
                    .expect("open the SQLite test database");
                (db, Some(directory), None)
            }
            Backend::Postgres => {
                let url = common::postgres_url();
                let schema = format!("basic_{}", hex::encode(rand::random::<[u8; 8]>()));
                let options = postgres_options(&url, Some(schema.clone()));
                let db = Database::connect(&options, Cipher::new(KEY))
                    .await
                    .expect("open the PostgreSQL test schema");
                (db, None, Some((url, schema)))
            }
        };

        let clock = Clock::manual(START);
        let pool = Arc::new(
            HashingPool::new(settings.workers, settings.queue, cheap_params())
                .expect("start the hashing pool"),
        );
        let regulator = Regulator::new(db.clone(), clock.clone(), settings.regulation);
        let limiter = Arc::new(RateLimiter::new(&settings.rate_limit, clock.clone()));
        let user_directory =
            UserDirectory::open(&backend_config(), &db).expect("open the user directory");
        let verifier = BasicVerifier::new(
            user_directory,
            Arc::clone(&pool),
            regulator.clone(),
            settings.cache_lifespan,
            limiter,
            clock.clone(),
        );

        let fixture = Fixture {
            db,
            clock,
            pool,
            regulator,
            verifier,
            _directory: directory,
            postgres_schema,
        };
        fixture.create_user("alice", ALICE_PASSWORD, false).await;
        fixture
    }

    async fn create_user(&self, username: &str, password: &str, disabled: bool) {
        let hash = hash_password(password, &cheap_params()).expect("hash the test password");
        self.db
            .create_user(
                &UserRecord {
                    username: username.to_owned(),
                    display_name: format!("{username} display"),
                    email: Some(format!("{username}@example.com")),
                    password_hash: hash,
                    disabled,
                    groups: vec!["dev".to_owned()],
                },
                self.clock.now_millis(),
            )
            .await
            .expect("create the test user");
    }

    /// Runs a Basic check for `header` the way a header strategy does: a header that is not
    /// well-formed credentials gets no check at all. Moves the clock one second first, so that
    /// attempts have distinct times.
    async fn authenticate(&self, header: &HeaderValue, client: ClientIp) -> Outcome {
        self.clock.advance_millis(1_000);
        match parse_authorization(header, OtherSchemes::Absent) {
            Parsed::Absent => Outcome::Absent,
            Parsed::Malformed => Outcome::Malformed,
            Parsed::Credentials(credentials) => {
                let outcome = self
                    .verifier
                    .verify(credentials, client, ip(PROXY), TARGET_URI, "GET")
                    .await;
                match outcome {
                    BasicOutcome::Success(user) => Outcome::Success(user.username),
                    BasicOutcome::Failure => Outcome::Failure,
                    BasicOutcome::Busy => Outcome::Busy,
                }
            }
        }
    }

    async fn login(&self, username: &str, password: &str, client: &str) -> Outcome {
        self.authenticate(&basic(username, password), ClientIp::Known(ip(client)))
            .await
    }

    async fn attempts(&self, account_key: &str) -> Vec<AuthenticationAttempt> {
        self.db
            .attempts_for_account(account_key, 0, 1_000)
            .await
            .expect("read the attempts")
    }

    async fn clean_up(self) {
        drop(self.verifier);
        self.db.close().await;
        if let Some((url, schema)) = self.postgres_schema {
            let url = url::Url::parse(&url).expect("GATEHOUSE_TEST_POSTGRES_URL is a valid URL");
            let mut connection = PgConnectOptions::new()
                .host(url.host_str().unwrap_or("127.0.0.1"))
                .port(url.port().unwrap_or(5432))
                .database(url.path().trim_start_matches('/'))
                .username(url.username())
                .connect()
                .await
                .expect("open a raw PostgreSQL connection");
            sqlx::query(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
                .execute(&mut connection)
                .await
                .expect("drop the test schema");
            connection.close().await.ok();
        }
    }
}

/// The outcome of a Basic check, comparable in assertions.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Absent,
    Malformed,
    Success(String),
    Failure,
    Busy,
}

fn postgres_options(url: &str, schema: Option<String>) -> DatabaseOptions {
    let url = url::Url::parse(url).expect("GATEHOUSE_TEST_POSTGRES_URL is a valid URL");
    DatabaseOptions::Postgres {
        host: url.host_str().unwrap_or("127.0.0.1").to_owned(),
        port: url.port().unwrap_or(5432),
        database: url.path().trim_start_matches('/').to_owned(),
        schema,
        username: url.username().to_owned(),
        password: url.password().unwrap_or_default().to_owned(),
        connect_timeout: Duration::from_secs(10),
    }
}

fn ip(text: &str) -> IpAddr {
    text.parse().expect("a valid test IP address")
}

fn basic(username: &str, password: &str) -> HeaderValue {
    header(&format!(
        "Basic {}",
        STANDARD.encode(format!("{username}:{password}"))
    ))
}

fn header(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).expect("a valid test header value")
}

fn success(username: &str) -> Outcome {
    Outcome::Success(username.to_owned())
}

/// Instantiates each named test once per database: `name::sqlite` and `name::postgres`.
macro_rules! on_both_databases {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name(super::Backend::Sqlite).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name(super::Backend::Postgres).await;
                }
            }
        )+
    };
}

on_both_databases!(
    colon_in_password_and_malformed_headers,
    wrong_password_recorded,
    three_failures_ban_user,
    ban_ends_after_ban_time,
    success_resets_streak,
    account_key_ignores_case,
    second_factor_failures_count,
    unknown_names_ban_ip,
    unknown_client_keyed_on_peer,
    unknown_user_costs_one_verification,
    disabled_user_counts_as_unknown,
    cache_skips_verification,
    cache_ends_with_password_change,
    full_pool_gives_busy,
    rate_limit_skips_password_check,
    regulation_off_never_bans,
);

// ---------------------------------------------------------------------------------------------
// Tests

async fn colon_in_password_and_malformed_headers(backend: Backend) {
    let fixture = Fixture::new(backend, Settings::default()).await;
    let client = ClientIp::Known(ip(CLIENT));

    let first_colon = fixture
        .authenticate(&basic("alice", ALICE_PASSWORD), client)
        .await;
    let lower_case_scheme = fixture
        .authenticate(
            &header(&format!(
                "basic {}",
                STANDARD.encode(format!("alice:{ALICE_PASSWORD}"))
            )),
            client,
        )
        .await;
    let no_colon = fixture
        .authenticate(
            &header(&format!("Basic {}", STANDARD.encode("alice"))),
            client,
        )
        .await;
    let not_base64 = fixture
        .authenticate(&header("Basic !!notbase64!!"), client)
        .await;
    let bearer = fixture
        .authenticate(&header("Bearer abc.def"), client)
        .await;

    assert_eq!(first_colon, success("alice"));
    assert_eq!(lower_case_scheme, success("alice"));
    assert_eq!(no_colon, Outcome::Malformed);
    assert_eq!(not_base64, Outcome::Malformed);
    assert_eq!(bearer, Outcome::Absent);
    let attempts = fixture.attempts("alice").await;
    assert_eq!(
        attempts.len(),
        2,
        "only the two checked headers are recorded"
    );
    assert!(attempts.iter().all(|attempt| attempt.successful));

    // The password cut at its second colon is a wrong password, recorded as a failure.
    let cut_password = fixture.login("alice", "s3cr", CLIENT).await;
    assert_eq!(cut_password, Outcome::Failure);
    let attempts = fixture.attempts("alice").await;
    assert_eq!(attempts.len(), 3);
    assert!(!attempts[0].successful);
    fixture.clean_up().await;
}

async fn wrong_password_recorded(backend: Backend) {
    let fixture = Fixture::new(backend, Settings::default()).await;

    let outcome = fixture.login("alice", "wrong", CLIENT).await;

    assert_eq!(outcome, Outcome::Failure);
    let attempts = fixture.attempts("alice").await;
    assert_eq!(attempts.len(), 1);
    let attempt = &attempts[0];
    assert!(!attempt.successful);
    assert!(!attempt.banned);
    assert_eq!(attempt.factor, AttemptFactor::First);
    assert_eq!(attempt.method, "basic");
    assert_eq!(attempt.remote_ip.as_deref(), Some(CLIENT));
    assert_eq!(attempt.request_uri, TARGET_URI);
    assert_eq!(attempt.request_method, "GET");
    assert_eq!(attempt.time, START + 1_000);
    fixture.clean_up().await;
}

async fn three_failures_ban_user(backend: Backend) {
    let fixture = Fixture::new(backend, Settings::default()).await;

    for _ in 0..3 {
        assert_eq!(
            fixture.login("alice", "wrong", CLIENT).await,
            Outcome::Failure
        );
    }
    let third_failure_at = fixture.clock.now_millis();
    let verifications_before = fixture.pool.verifications();
    let right_password = fixture.login("alice", ALICE_PASSWORD, CLIENT).await;

    assert_eq!(right_password, Outcome::Failure);
    assert_eq!(
        fixture.pool.verifications(),
        verifications_before,
        "a banned user's password is not checked"
    );
    let attempts = fixture.attempts("alice").await;
    assert_eq!(attempts.len(), 4);
    assert!(
        attempts[0].banned,
        "the attempt while banned is recorded as banned"
    );
    assert!(!attempts[0].successful);

    let ban = fixture
        .db
        .active_ban(BanKind::User, "alice", fixture.clock.now_millis())
        .await
        .unwrap()
        .expect("alice is banned");
    assert_eq!(ban.source, BanSource::Regulation);
    assert_eq!(ban.expires_at, Some(third_failure_at + 300_000));
    let bans = fixture
        .db
        .list_active_bans(fixture.clock.now_millis())
        .await
        .unwrap();
    assert_eq!(bans.len(), 1, "user mode bans no IP: {bans:?}");
    fixture.clean_up().await;
}

async fn ban_ends_after_ban_time(backend: Backend) {
    let fixture = Fixture::new(backend, Settings::default()).await;
    for _ in 0..3 {
        fixture.login("alice", "wrong", CLIENT).await;
    }

    // Attempts while banned do not extend the ban, which ends 300 s after the third failure.
    fixture.clock.advance_millis(200_000);
    assert_eq!(
        fixture.login("alice", ALICE_PASSWORD, CLIENT).await,
        Outcome::Failure
    );
    fixture.clock.advance_millis(97_000);
    let before_end = fixture.login("alice", ALICE_PASSWORD, CLIENT).await;
    let at_end = fixture.login("alice", ALICE_PASSWORD, CLIENT).await;

    assert_eq!(before_end, Outcome::Failure, "the ban lasts until its end");
    assert_eq!(at_end, success("alice"));
    fixture.clean_up().await;
}

async fn success_resets_streak(backend: Backend) {
    let fixture = Fixture::new(backend, Settings::default()).await;

    fixture.login("alice", "wrong", CLIENT).await;
    fixture.login("alice", "wrong", CLIENT).await;
    let between = fixture.login("alice", ALICE_PASSWORD, CLIENT).await;
    fixture.login("alice", "wrong", CLIENT).await;
    fixture.login("alice", "wrong", CLIENT).await;
    let after = fixture.login("alice", ALICE_PASSWORD, CLIENT).await;

    assert_eq!(between, success("alice"));
    assert_eq!(
        after,
        success("alice"),
        "four failures, but no three in a row"
    );
    let subject = RegulationSubject::Client(ip(CLIENT));
    let ban = fixture
        .regulator
        .check_ban(Some("alice"), &subject)
        .await
        .unwrap();
    assert_eq!(ban, None);
    fixture.clean_up().await;
}

async fn account_key_ignores_case(backend: Backend) {
    let fixture = Fixture::new(backend, Settings::default()).await;

    fixture.login("ALICE", "wrong", CLIENT).await;
    fixture.login("Alice", "wrong", CLIENT).await;
    fixture.login("alice@example.com", "wrong", CLIENT).await;
    let right_password = fixture.login("alice", ALICE_PASSWORD, CLIENT).await;

    assert_eq!(
        right_password,
        Outcome::Failure,
        "the three names are one key"
    );
    let attempts = fixture.attempts("alice").await;
    assert_eq!(attempts.len(), 4);
    fixture.clean_up().await;
}

async fn second_factor_failures_count(backend: Backend) {
    let fixture = Fixture::new(backend, Settings::default()).await;
    fixture.login("alice", "wrong", CLIENT).await;
    fixture.login("alice", "wrong", CLIENT).await;

    fixture.clock.advance_millis(1_000);
    fixture
        .regulator
        .record(&AttemptRecord {
            account_key: "alice",
            successful: false,
            banned: false,
            factor: AttemptFactor::Second,
            method: "totp",
            subject: RegulationSubject::Client(ip(CLIENT)),
            request_uri: TARGET_URI,
            request_method: "GET",
        })
        .await
        .unwrap();
    let right_password = fixture.login("alice", ALICE_PASSWORD, CLIENT).await;

    assert_eq!(right_password, Outcome::Failure);
    fixture.clean_up().await;
}

async fn unknown_names_ban_ip(backend: Backend) {
    let settings = Settings {
        regulation: regulation(&[RegulationMode::Ip], 3),
        ..Settings::default()
    };
    let fixture = Fixture::new(backend, settings).await;

    for name in ["nobody1", "nobody2", "nobody3"] {
        assert_eq!(
            fixture.login(name, "guess", CLIENT).await,
            Outcome::Failure,
            "{name}"
        );
    }
    let verifications_before = fixture.pool.verifications();
    let banned_client = fixture.login("alice", ALICE_PASSWORD, CLIENT).await;
    let other_client = fixture.login("alice", ALICE_PASSWORD, OTHER_CLIENT).await;

    assert_eq!(banned_client, Outcome::Failure);
    assert_eq!(other_client, success("alice"));
    assert_eq!(
        fixture.pool.verifications(),
        verifications_before + 1,
        "only the other client's password is checked"
    );
    for name in ["nobody1", "nobody2", "nobody3"] {
        let attempts = fixture.attempts(name).await;
        assert_eq!(attempts.len(), 1, "{name}");
        assert_eq!(attempts[0].remote_ip.as_deref(), Some(CLIENT), "{name}");
        assert!(!attempts[0].successful, "{name}");
    }
    let ban = fixture
        .db
        .active_ban(BanKind::Ip, CLIENT, fixture.clock.now_millis())
        .await
        .unwrap();
    assert!(ban.is_some(), "{CLIENT} is banned");
    let user_ban = fixture
        .db
        .active_ban(BanKind::User, "alice", fixture.clock.now_millis())
        .await
        .unwrap();
    assert_eq!(user_ban, None, "ip mode bans no user");
    fixture.clean_up().await;
}

async fn unknown_client_keyed_on_peer(backend: Backend) {
    let settings = Settings {
        regulation: regulation(&[RegulationMode::Ip], 3),
        ..Settings::default()
    };
    let fixture = Fixture::new(backend, settings).await;

    for name in ["nobody1", "nobody2", "nobody3"] {
        fixture
            .authenticate(&basic(name, "guess"), ClientIp::Unknown)
            .await;
    }
    let unknown_client = fixture
        .authenticate(&basic("alice", ALICE_PASSWORD), ClientIp::Unknown)
        .await;
    let known_client = fixture.login("alice", ALICE_PASSWORD, CLIENT).await;

    assert_eq!(unknown_client, Outcome::Failure);
    assert_eq!(known_client, success("alice"));
    let ban = fixture
        .db
        .active_ban(BanKind::Ip, PROXY, fixture.clock.now_millis())
        .await
        .unwrap();
    assert!(ban.is_some(), "the TCP peer {PROXY} is banned");
    fixture.clean_up().await;
}

async fn unknown_user_costs_one_verification(backend: Backend) {
    let settings = Settings {
        regulation: regulation(&[RegulationMode::User, RegulationMode::Ip], 0),
        ..Settings::default()
    };
    let fixture = Fixture::new(backend, settings).await;

    let wrong_password = fixture.login("alice", "wrong", CLIENT).await;
    let after_wrong_password = fixture.pool.verifications();
    let unknown_user = fixture.login("nosuchuser", "wrong", CLIENT).await;
    let after_unknown_user = fixture.pool.verifications();

    assert_eq!(wrong_password, Outcome::Failure);
    assert_eq!(unknown_user, wrong_password);
    assert_eq!(after_wrong_password, 1);
    assert_eq!(after_unknown_user, 2);
    let attempts = fixture.attempts("nosuchuser").await;
    assert_eq!(attempts.len(), 1, "the unknown user's attempt is recorded");
    assert_eq!(attempts[0].factor, AttemptFactor::First);
    fixture.clean_up().await;
}

async fn disabled_user_counts_as_unknown(backend: Backend) {
    let fixture = Fixture::new(backend, Settings::default()).await;
    fixture.create_user("bob", "bob-password", true).await;

    let outcome = fixture.login("bob", "bob-password", CLIENT).await;

    assert_eq!(outcome, Outcome::Failure);
    assert_eq!(fixture.pool.verifications(), 1);
    let attempts = fixture.attempts("bob").await;
    assert_eq!(attempts.len(), 1);
    assert!(!attempts[0].successful);
    fixture.clean_up().await;
}

async fn cache_skips_verification(backend: Backend) {
    let settings = Settings {
        cache_lifespan: Duration::from_secs(300),
        ..Settings::default()
    };
    let fixture = Fixture::new(backend, settings).await;

    let first = fixture.login("alice", ALICE_PASSWORD, CLIENT).await;
    let second = fixture.login("alice", ALICE_PASSWORD, CLIENT).await;

    assert_eq!(first, success("alice"));
    assert_eq!(second, success("alice"));
    assert_eq!(fixture.pool.verifications(), 1);
    assert_eq!(
        fixture.attempts("alice").await.len(),
        1,
        "a cached success is not recorded again"
    );

    // A different password is not in the cache, and after the lifespan nothing is.
    let wrong = fixture.login("alice", "wrong", CLIENT).await;
    assert_eq!(wrong, Outcome::Failure);
    assert_eq!(fixture.pool.verifications(), 2);
    fixture.clock.advance_millis(300_000);
    let expired = fixture.login("alice", ALICE_PASSWORD, CLIENT).await;
    assert_eq!(expired, success("alice"));
    assert_eq!(fixture.pool.verifications(), 3);
    fixture.clean_up().await;
}

async fn cache_ends_with_password_change(backend: Backend) {
    let settings = Settings {
        cache_lifespan: Duration::from_secs(300),
        ..Settings::default()
    };
    let fixture = Fixture::new(backend, settings).await;
    let cached = fixture.login("alice", ALICE_PASSWORD, CLIENT).await;
    assert_eq!(cached, success("alice"));

    // The same password hashed again gives a new password version.
    let new_hash = hash_password(ALICE_PASSWORD, &cheap_params()).unwrap();
    fixture
        .db
        .set_password_hash("alice", &new_hash, fixture.clock.now_millis())
        .await
        .unwrap();
    let same_password = fixture.login("alice", ALICE_PASSWORD, CLIENT).await;

    assert_eq!(same_password, success("alice"));
    assert_eq!(
        fixture.pool.verifications(),
        2,
        "the old entry no longer applies"
    );

    let other_hash = hash_password("a new password", &cheap_params()).unwrap();
    fixture
        .db
        .set_password_hash("alice", &other_hash, fixture.clock.now_millis())
        .await
        .unwrap();
    let old_password = fixture.login("alice", ALICE_PASSWORD, CLIENT).await;

    assert_eq!(old_password, Outcome::Failure);
    assert_eq!(fixture.pool.verifications(), 3);
    fixture.clean_up().await;
}

async fn full_pool_gives_busy(backend: Backend) {
    // One worker and no queue: while the worker verifies a slow hash, nothing else fits.
    let settings = Settings {
        queue: 0,
        ..Settings::default()
    };
    let fixture = Arc::new(Fixture::new(backend, settings).await);
    let slow_params = Argon2Params {
        iterations: 2,
        memory_kib: 16 * 1024,
        ..cheap_params()
    };
    let slow_hash = hash_password("slow-password", &slow_params).unwrap();

    let pool = Arc::clone(&fixture.pool);
    let slow = tokio::spawn(async move {
        // A zero-length queue takes a job only while the worker waits for one, so the first
        // tries can find it still starting.
        loop {
            match pool.verify("slow-password".into(), slow_hash.clone()).await {
                Err(PoolError::Busy) => tokio::time::sleep(Duration::from_millis(1)).await,
                other => return other,
            }
        }
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while fixture.pool.verifications() == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the slow verification never started"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let busy = fixture.login("alice", ALICE_PASSWORD, CLIENT).await;
    let slow_result = slow.await.unwrap();

    assert_eq!(busy, Outcome::Busy);
    assert!(
        slow_result.unwrap().matches,
        "the slow verification ran to its end, so the pool was full during the check"
    );
    assert_eq!(fixture.pool.verifications(), 1);
    assert!(
        fixture.attempts("alice").await.is_empty(),
        "a check that did not run is not recorded"
    );
    let fixture = Arc::into_inner(fixture).expect("the fixture is no longer shared");
    fixture.clean_up().await;
}

async fn rate_limit_skips_password_check(backend: Backend) {
    let settings = Settings {
        regulation: regulation(&[RegulationMode::User], 0),
        rate_limit: authz_basic_limit(),
        ..Settings::default()
    };
    let fixture = Fixture::new(backend, settings).await;

    for attempt in 0..10 {
        assert_eq!(
            fixture.login("alice", "wrong", CLIENT).await,
            Outcome::Failure,
            "attempt {attempt}"
        );
    }
    let verifications_before = fixture.pool.verifications();
    let limited = fixture.login("alice", ALICE_PASSWORD, CLIENT).await;
    let other_client = fixture.login("alice", ALICE_PASSWORD, OTHER_CLIENT).await;

    assert_eq!(limited, Outcome::Failure);
    assert_eq!(other_client, success("alice"));
    assert_eq!(
        fixture.pool.verifications(),
        verifications_before + 1,
        "only the other client's password is checked"
    );
    let attempts = fixture.attempts("alice").await;
    assert_eq!(attempts.len(), 11, "the limited attempt is not recorded");

    // The failures leave the 1-minute bucket within its period plus one slot (60 s / 16).
    fixture.clock.advance_millis(65_000);
    let later = fixture.login("alice", ALICE_PASSWORD, CLIENT).await;
    assert_eq!(later, success("alice"));
    fixture.clean_up().await;
}

async fn regulation_off_never_bans(backend: Backend) {
    let settings = Settings {
        regulation: regulation(&[RegulationMode::User, RegulationMode::Ip], 0),
        ..Settings::default()
    };
    let fixture = Fixture::new(backend, settings).await;

    for _ in 0..5 {
        fixture.login("alice", "wrong", CLIENT).await;
    }
    let right_password = fixture.login("alice", ALICE_PASSWORD, CLIENT).await;

    assert_eq!(right_password, success("alice"));
    assert_eq!(fixture.attempts("alice").await.len(), 6);
    let bans = fixture
        .db
        .list_active_bans(fixture.clock.now_millis())
        .await
        .unwrap();
    assert!(bans.is_empty(), "{bans:?}");
    fixture.clean_up().await;
}
