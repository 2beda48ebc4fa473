//! Storage tests. Every repository test runs on SQLite (a file in a temporary directory) and on
//! PostgreSQL (a fresh schema per test in the server named by `GATEHOUSE_TEST_POSTGRES_URL`).

use std::path::PathBuf;
use std::time::Duration;

use gatehouse::storage::{
    AttemptFactor, BanKind, BanSource, Cipher, Database, DatabaseOptions, ImportCounts, NewAttempt,
    NewAuditEvent, NewBan, NewOneTimeToken, NewTotpConfiguration, NewWebauthnCredential,
    SessionLifetimes, SessionRecord, StorageError, UserRecord,
};
use sqlx::postgres::PgConnectOptions;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection, PgConnection, SqliteConnection};

const KEY: &str = "a test encryption key that is long enough";
const POSTGRES_URL_VARIABLE: &str = "GATEHOUSE_TEST_POSTGRES_URL";

/// One test database and what is needed to reopen it or read it behind the repository's back.
struct TestDatabase {
    database: Database,
    options: DatabaseOptions,
    /// Keeps the SQLite directory alive until the test ends.
    _directory: Option<tempfile::TempDir>,
}

/// A connection that bypasses the repositories, for reading raw columns and planting rows.
enum RawConnection {
    Sqlite(SqliteConnection),
    Postgres(PgConnection),
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
            options,
            _directory: Some(directory),
        }
    }

    async fn postgres() -> TestDatabase {
        let url = std::env::var(POSTGRES_URL_VARIABLE).unwrap_or_else(|_| {
            panic!(
                "{POSTGRES_URL_VARIABLE} is not set, so the PostgreSQL half of the storage tests \
                 cannot run: run `make test`, or run `eval \"$(scripts/postgres-test.sh start)\"` \
                 and then cargo test"
            )
        });
        let schema = format!("test_{}", hex::encode(rand::random::<[u8; 8]>()));
        let options = postgres_options(&url, Some(schema));
        let database = Database::connect(&options, Cipher::new(KEY))
            .await
            .expect("open the PostgreSQL test schema");
        TestDatabase {
            database,
            options,
            _directory: None,
        }
    }

    async fn reopen(&self, key: &str) -> Result<Database, StorageError> {
        Database::connect(&self.options, Cipher::new(key)).await
    }

    async fn raw(&self) -> RawConnection {
        match &self.options {
            DatabaseOptions::Sqlite { path } => RawConnection::Sqlite(
                SqliteConnectOptions::new()
                    .filename(path)
                    .connect()
                    .await
                    .expect("open a raw SQLite connection"),
            ),
            DatabaseOptions::Postgres {
                host,
                port,
                database,
                schema,
                username,
                ..
            } => RawConnection::Postgres(
                PgConnectOptions::new()
                    .host(host)
                    .port(*port)
                    .database(database)
                    .username(username)
                    .options([("search_path", schema.clone().unwrap_or_default())])
                    .connect()
                    .await
                    .expect("open a raw PostgreSQL connection"),
            ),
        }
    }

    /// Drops the test's PostgreSQL schema; a failed test leaves it for the throwaway server.
    async fn clean_up(self) {
        self.database.close().await;
        if let DatabaseOptions::Postgres {
            schema: Some(schema),
            ..
        } = &self.options
        {
            let RawConnection::Postgres(mut connection) = self.raw().await else {
                unreachable!()
            };
            sqlx::query(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
                .execute(&mut connection)
                .await
                .expect("drop the test schema");
        }
    }
}

fn postgres_options(url: &str, schema: Option<String>) -> DatabaseOptions {
    let url = url::Url::parse(url).expect("GATEHOUSE_TEST_POSTGRES_URL is a valid URL");
    DatabaseOptions::Postgres {
        host: url.host_str().unwrap_or("127.0.0.1").to_string(),
        port: url.port().unwrap_or(5432),
        database: url.path().trim_start_matches('/').to_string(),
        schema,
        username: url.username().to_string(),
        password: url.password().unwrap_or_default().to_string(),
        connect_timeout: Duration::from_secs(10),
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
    placeholders_bind_by_number,
    ping_and_meta,
    users_create_and_read,
    users_duplicates_rejected,
    password_change_ends_sessions,
    disable_ends_sessions,
    group_change_marks_sessions,
    profile_change_marks_sessions,
    delete_user_removes_dependents,
    import_counts_and_effects,
    import_rolls_back_on_error,
    sessions_round_trip,
    session_rotation,
    session_housekeeping,
    totp_secret_encrypted,
    totp_step_compare_and_set,
    totp_step_concurrent_single_winner,
    webauthn_credentials,
    attempts_newest_first,
    bans_active_and_revoked,
    one_time_tokens,
    password_change_revokes_reset_links,
    audit_events,
    wrong_encryption_key_rejected,
    newer_migration_rejected,
    cleanup_deletes_dead_rows,
    cleanup_deletes_spent_tokens,
    webauthn_user_handle_kept,
);

// ---------------------------------------------------------------------------------------------
// Helpers

fn user(username: &str, email: Option<&str>, groups: &[&str]) -> UserRecord {
    UserRecord {
        username: username.to_string(),
        display_name: format!("{username} display"),
        email: email.map(str::to_string),
        password_hash: format!("$argon2id$v=19$m=65536,t=3,p=4$salt${username}"),
        disabled: false,
        groups: groups.iter().map(|group| group.to_string()).collect(),
    }
}

fn session(id_hash: &str, username: Option<&str>, now: i64) -> SessionRecord {
    SessionRecord {
        id_hash: id_hash.to_string(),
        username: username.map(str::to_string),
        cookie_domain: "example.com".to_string(),
        level: if username.is_some() { 1 } else { 0 },
        remember_me: false,
        first_factor_at: username.map(|_| now),
        second_factor_at: None,
        created_at: now,
        last_activity_at: now,
        profile_refreshed_at: now,
        elevated_until: None,
        elevated_ip: None,
        data: serde_json::json!({ "groups": ["dev"] }),
    }
}

async fn session_ids(database: &Database, username: &str) -> Vec<String> {
    database
        .list_sessions_of_user(username)
        .await
        .unwrap()
        .into_iter()
        .map(|session| session.id_hash)
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Tests on both databases

async fn placeholders_bind_by_number(test: &TestDatabase) {
    // `$2` comes before `$1` and `$2` appears twice: each must get the value bound in its
    // position, not the next value in order of appearance.
    let statement = "SELECT $2 || '-' || $1 || '-' || $2";
    let joined: String = match test.raw().await {
        RawConnection::Sqlite(mut connection) => sqlx::query_scalar(statement)
            .bind("first")
            .bind("second")
            .fetch_one(&mut connection)
            .await
            .unwrap(),
        RawConnection::Postgres(mut connection) => sqlx::query_scalar(statement)
            .bind("first")
            .bind("second")
            .fetch_one(&mut connection)
            .await
            .unwrap(),
    };
    assert_eq!(joined, "second-first-second");

    // The same through a repository statement whose WHERE clause names $2 before $1.
    let database = &test.database;
    let credential = database
        .insert_webauthn_credential(&credential("alice", "cred-order"), 1_000)
        .await
        .unwrap();
    assert!(database
        .rename_webauthn_credential("alice", credential.id, "renamed")
        .await
        .unwrap());
    assert!(!database
        .rename_webauthn_credential("bob", credential.id, "stolen")
        .await
        .unwrap());
}

async fn ping_and_meta(test: &TestDatabase) {
    let database = &test.database;
    database.ping().await.unwrap();
    assert_eq!(
        database.is_postgres(),
        matches!(test.options, DatabaseOptions::Postgres { .. })
    );
    assert_eq!(database.meta_value("greeting").await.unwrap(), None);
    database.set_meta_value("greeting", "hello").await.unwrap();
    database
        .set_meta_value("greeting", "hello again")
        .await
        .unwrap();
    assert_eq!(
        database.meta_value("greeting").await.unwrap().as_deref(),
        Some("hello again")
    );
}

async fn users_create_and_read(test: &TestDatabase) {
    let database = &test.database;
    let created = database
        .create_user(
            &user("bob", Some("bob@example.com"), &["dev", "Admins", "dev"]),
            1_000,
        )
        .await
        .unwrap();
    assert_eq!(created.password_version, 1);
    assert_eq!(created.groups, vec!["Admins", "dev"]);
    database
        .create_user(&user("alice", None, &["admins"]), 2_000)
        .await
        .unwrap();

    let bob = database.get_user("bob").await.unwrap().expect("bob exists");
    assert_eq!(bob, created);
    assert_eq!(bob.created_at, 1_000);
    assert_eq!(bob.updated_at, 1_000);
    assert!(!bob.disabled);
    assert_eq!(bob.preferred_2fa_method, None);

    let by_email = database
        .get_user_by_email("bob@example.com")
        .await
        .unwrap()
        .expect("bob found by e-mail");
    assert_eq!(by_email.username, "bob");
    assert!(database
        .get_user_by_email("nobody@example.com")
        .await
        .unwrap()
        .is_none());
    assert!(database.get_user("carol").await.unwrap().is_none());

    let users = database.list_users().await.unwrap();
    let names: Vec<&str> = users.iter().map(|user| user.username.as_str()).collect();
    assert_eq!(names, vec!["alice", "bob"]);
    assert_eq!(users[0].groups, vec!["admins"]);
    assert_eq!(users[1].groups, vec!["Admins", "dev"]);
    // Group names are case-sensitive: "admins" and "Admins" are two groups.
    assert_eq!(
        database.list_groups().await.unwrap(),
        vec!["Admins", "admins", "dev"]
    );

    database
        .set_preferred_2fa_method("bob", Some("totp"), 3_000)
        .await
        .unwrap();
    let bob = database.get_user("bob").await.unwrap().unwrap();
    assert_eq!(bob.preferred_2fa_method.as_deref(), Some("totp"));
    assert_eq!(bob.updated_at, 3_000);
    assert!(!format!("{bob:?}").contains("argon2"));
}

async fn users_duplicates_rejected(test: &TestDatabase) {
    let database = &test.database;
    database
        .create_user(&user("alice", Some("alice@example.com"), &[]), 1_000)
        .await
        .unwrap();

    let error = database
        .create_user(&user("alice", Some("other@example.com"), &[]), 1_000)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, StorageError::DuplicateUsername(name) if name == "alice"),
        "{error:?}"
    );
    assert!(error.to_string().contains("\"alice\""), "{error}");

    let error = database
        .create_user(&user("bob", Some("alice@example.com"), &["dev"]), 1_000)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, StorageError::DuplicateEmail(email) if email == "alice@example.com"),
        "{error:?}"
    );
    assert!(error.to_string().contains("alice@example.com"), "{error}");
    // The failed creation left nothing behind.
    assert!(database.get_user("bob").await.unwrap().is_none());

    database
        .create_user(&user("carol", Some("carol@example.com"), &[]), 1_000)
        .await
        .unwrap();
    let error = database
        .update_user_profile("carol", "Carol", Some("alice@example.com"), 2_000)
        .await
        .unwrap_err();
    assert!(
        matches!(error, StorageError::DuplicateEmail(_)),
        "{error:?}"
    );
    let error = database
        .set_password_hash("nobody", "hash", 2_000)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, StorageError::UserNotFound(name) if name == "nobody"),
        "{error:?}"
    );
}

async fn password_change_ends_sessions(test: &TestDatabase) {
    let database = &test.database;
    database
        .create_user(&user("alice", None, &[]), 1_000)
        .await
        .unwrap();
    database
        .create_user(&user("bob", None, &[]), 1_000)
        .await
        .unwrap();
    database
        .insert_session(&session("a1", Some("alice"), 1_000))
        .await
        .unwrap();
    database
        .insert_session(&session("a2", Some("alice"), 1_000))
        .await
        .unwrap();
    database
        .insert_session(&session("b1", Some("bob"), 1_000))
        .await
        .unwrap();

    let version = database
        .set_password_hash("alice", "$argon2id$new", 2_000)
        .await
        .unwrap();
    assert_eq!(version, 2);
    let alice = database.get_user("alice").await.unwrap().unwrap();
    assert_eq!(alice.password_version, 2);
    assert_eq!(alice.password_hash, "$argon2id$new");
    assert_eq!(alice.updated_at, 2_000);
    assert!(session_ids(database, "alice").await.is_empty());
    assert!(database.get_session("a1").await.unwrap().is_none());
    assert_eq!(session_ids(database, "bob").await, vec!["b1"]);

    let version = database
        .set_password_hash("alice", "$argon2id$newer", 3_000)
        .await
        .unwrap();
    assert_eq!(version, 3);
}

async fn disable_ends_sessions(test: &TestDatabase) {
    let database = &test.database;
    database
        .create_user(&user("alice", None, &[]), 1_000)
        .await
        .unwrap();
    database
        .insert_session(&session("a1", Some("alice"), 1_000))
        .await
        .unwrap();

    // Enabling an enabled user keeps sessions.
    database
        .set_user_disabled("alice", false, 1_500)
        .await
        .unwrap();
    assert_eq!(session_ids(database, "alice").await, vec!["a1"]);

    database
        .set_user_disabled("alice", true, 2_000)
        .await
        .unwrap();
    assert!(database.get_user("alice").await.unwrap().unwrap().disabled);
    assert!(session_ids(database, "alice").await.is_empty());

    let error = database
        .set_user_disabled("nobody", true, 2_000)
        .await
        .unwrap_err();
    assert!(matches!(error, StorageError::UserNotFound(_)), "{error:?}");
}

async fn group_change_marks_sessions(test: &TestDatabase) {
    let database = &test.database;
    database
        .create_user(&user("alice", None, &["admins", "dev"]), 1_000)
        .await
        .unwrap();
    database
        .insert_session(&session("a1", Some("alice"), 5_000))
        .await
        .unwrap();

    database
        .set_user_groups("alice", &["dev".to_string(), "ops".to_string()], 6_000)
        .await
        .unwrap();
    let alice = database.get_user("alice").await.unwrap().unwrap();
    assert_eq!(alice.groups, vec!["dev", "ops"]);
    let marked = database.get_session("a1").await.unwrap().expect("kept");
    assert_eq!(marked.profile_refreshed_at, 0);
    assert_eq!(marked.last_activity_at, 5_000);

    let error = database
        .set_user_groups("nobody", &[], 6_000)
        .await
        .unwrap_err();
    assert!(matches!(error, StorageError::UserNotFound(_)), "{error:?}");
}

async fn profile_change_marks_sessions(test: &TestDatabase) {
    let database = &test.database;
    database
        .create_user(&user("alice", Some("old@example.com"), &[]), 1_000)
        .await
        .unwrap();
    database
        .insert_session(&session("a1", Some("alice"), 5_000))
        .await
        .unwrap();
    database
        .update_user_profile("alice", "Alice A.", Some("new@example.com"), 6_000)
        .await
        .unwrap();
    let alice = database.get_user("alice").await.unwrap().unwrap();
    assert_eq!(alice.display_name, "Alice A.");
    assert_eq!(alice.email.as_deref(), Some("new@example.com"));
    let marked = database.get_session("a1").await.unwrap().unwrap();
    assert_eq!(marked.profile_refreshed_at, 0);
}

async fn delete_user_removes_dependents(test: &TestDatabase) {
    let database = &test.database;
    database
        .create_user(&user("alice", None, &["dev"]), 1_000)
        .await
        .unwrap();
    database
        .insert_session(&session("a1", Some("alice"), 1_000))
        .await
        .unwrap();
    database
        .upsert_totp_configuration(&totp("alice"), 1_000)
        .await
        .unwrap();
    database
        .insert_webauthn_credential(&credential("alice", "cred-a"), 1_000)
        .await
        .unwrap();
    database
        .insert_one_time_token(&token("hash-a", "reset_password", "alice", 1_000, 9_000))
        .await
        .unwrap();
    database
        .ensure_webauthn_user_handle("alice", b"old-handle", 1_000)
        .await
        .unwrap();

    assert!(database.delete_user("alice").await.unwrap());
    assert!(database.get_user("alice").await.unwrap().is_none());
    assert!(database.get_session("a1").await.unwrap().is_none());
    assert!(database
        .get_totp_configuration("alice")
        .await
        .unwrap()
        .is_none());
    assert!(database
        .list_webauthn_credentials("alice")
        .await
        .unwrap()
        .is_empty());
    assert!(database
        .peek_one_time_token("hash-a", "reset_password", 2_000)
        .await
        .unwrap()
        .is_none());
    assert!(!database.delete_user("alice").await.unwrap());
    // A later user of the same name gets a handle of their own, not the deleted user's.
    let handle = database
        .ensure_webauthn_user_handle("alice", b"new-handle", 2_000)
        .await
        .unwrap();
    assert_eq!(handle, b"new-handle");

    // A new user of the same name starts with no groups.
    let again = database
        .create_user(&user("alice", None, &[]), 3_000)
        .await
        .unwrap();
    assert!(again.groups.is_empty());
}

async fn import_counts_and_effects(test: &TestDatabase) {
    let database = &test.database;
    database
        .create_user(&user("alice", Some("alice@example.com"), &["dev"]), 1_000)
        .await
        .unwrap();
    database
        .insert_session(&session("alice-session", Some("alice"), 1_000))
        .await
        .unwrap();

    let mut alice = user("alice", Some("alice@example.com"), &["dev"]);
    alice.password_hash = "$argon2id$from-file".to_string();
    let bob = user("bob", Some("bob@example.com"), &["admins"]);
    let carol = user("carol", None, &["dev", "ops"]);
    let file = vec![alice.clone(), bob.clone(), carol.clone()];

    let counts = database.import_users(&file, 2_000).await.unwrap();
    assert_eq!(
        counts,
        ImportCounts {
            created: 2,
            updated: 1,
            unchanged: 0
        }
    );
    let stored_alice = database.get_user("alice").await.unwrap().unwrap();
    assert_eq!(stored_alice.password_hash, "$argon2id$from-file");
    assert_eq!(stored_alice.password_version, 2);
    assert!(database
        .get_session("alice-session")
        .await
        .unwrap()
        .is_none());
    let stored_carol = database.get_user("carol").await.unwrap().unwrap();
    assert_eq!(stored_carol.groups, vec!["dev", "ops"]);
    assert_eq!(stored_carol.created_at, 2_000);

    // The same file again changes nothing.
    let counts = database.import_users(&file, 3_000).await.unwrap();
    assert_eq!(
        counts,
        ImportCounts {
            created: 0,
            updated: 0,
            unchanged: 3
        }
    );
    assert_eq!(
        database
            .get_user("alice")
            .await
            .unwrap()
            .unwrap()
            .password_version,
        2
    );

    // A group change keeps carol's session but marks it; disabling bob ends his.
    database
        .insert_session(&session("carol-session", Some("carol"), 3_000))
        .await
        .unwrap();
    database
        .insert_session(&session("bob-session", Some("bob"), 3_000))
        .await
        .unwrap();
    let mut changed_carol = carol.clone();
    changed_carol.groups = vec!["dev".to_string()];
    let mut disabled_bob = bob.clone();
    disabled_bob.disabled = true;
    let counts = database
        .import_users(&[alice.clone(), disabled_bob, changed_carol], 4_000)
        .await
        .unwrap();
    assert_eq!(
        counts,
        ImportCounts {
            created: 0,
            updated: 2,
            unchanged: 1
        }
    );
    let carol_session = database
        .get_session("carol-session")
        .await
        .unwrap()
        .expect("a group change keeps the session");
    assert_eq!(carol_session.profile_refreshed_at, 0);
    assert_eq!(
        database.get_user("carol").await.unwrap().unwrap().groups,
        vec!["dev"]
    );
    assert!(database.get_session("bob-session").await.unwrap().is_none());
    let stored_bob = database.get_user("bob").await.unwrap().unwrap();
    assert!(stored_bob.disabled);
    assert_eq!(stored_bob.password_version, 1);

    // Two users may swap addresses in one file.
    let mut alice_swapped = alice.clone();
    alice_swapped.email = Some("bob@example.com".to_string());
    let mut bob_swapped = bob.clone();
    bob_swapped.email = Some("alice@example.com".to_string());
    bob_swapped.disabled = true;
    let counts = database
        .import_users(&[alice_swapped, bob_swapped], 5_000)
        .await
        .unwrap();
    assert_eq!(counts.updated, 2);
    assert_eq!(
        database
            .get_user_by_email("bob@example.com")
            .await
            .unwrap()
            .unwrap()
            .username,
        "alice"
    );
}

async fn import_rolls_back_on_error(test: &TestDatabase) {
    let database = &test.database;
    database
        .create_user(&user("alice", Some("alice@example.com"), &[]), 1_000)
        .await
        .unwrap();
    let file = vec![
        user("bob", Some("bob@example.com"), &[]),
        user("carol", Some("alice@example.com"), &[]),
    ];
    let error = database.import_users(&file, 2_000).await.unwrap_err();
    assert!(
        matches!(&error, StorageError::DuplicateEmail(email) if email == "alice@example.com"),
        "{error:?}"
    );
    // bob came before the failing record, and the whole import was rolled back.
    assert!(database.get_user("bob").await.unwrap().is_none());
    assert_eq!(database.list_users().await.unwrap().len(), 1);
}

async fn sessions_round_trip(test: &TestDatabase) {
    let database = &test.database;
    let mut stored = session("s1", Some("alice"), 1_000);
    stored.elevated_until = Some(9_000);
    stored.elevated_ip = Some("192.0.2.7".to_string());
    database.insert_session(&stored).await.unwrap();
    assert_eq!(
        database.get_session("s1").await.unwrap(),
        Some(stored.clone())
    );
    assert!(database.get_session("missing").await.unwrap().is_none());

    assert!(database.touch_session("s1", 1_500).await.unwrap());
    assert!(!database.touch_session("missing", 1_500).await.unwrap());
    assert!(database
        .set_session_level("s1", 2, Some(1_600))
        .await
        .unwrap());
    assert!(database.set_session_elevation("s1", None).await.unwrap());
    let profile = serde_json::json!({ "groups": ["ops"], "email": "a@example.com" });
    assert!(database
        .set_session_profile("s1", &profile, 1_700)
        .await
        .unwrap());
    let read = database.get_session("s1").await.unwrap().unwrap();
    assert_eq!(read.last_activity_at, 1_500);
    assert_eq!(read.level, 2);
    assert_eq!(read.second_factor_at, Some(1_600));
    assert_eq!(read.elevated_until, None);
    assert_eq!(read.elevated_ip, None);
    assert_eq!(read.data, profile);
    assert_eq!(read.profile_refreshed_at, 1_700);

    assert!(database
        .set_session_elevation("s1", Some((5_000, "2001:db8::1")))
        .await
        .unwrap());
    let read = database.get_session("s1").await.unwrap().unwrap();
    assert_eq!(read.elevated_until, Some(5_000));
    assert_eq!(read.elevated_ip.as_deref(), Some("2001:db8::1"));

    let mut changed = read.clone();
    changed.remember_me = true;
    changed.created_at = 42; // not written by update_session
    changed.data = serde_json::json!({});
    assert!(database.update_session(&changed).await.unwrap());
    let read = database.get_session("s1").await.unwrap().unwrap();
    assert!(read.remember_me);
    assert_eq!(read.created_at, 1_000);
    assert_eq!(read.data, serde_json::json!({}));

    database
        .insert_session(&session("s2", Some("alice"), 2_000))
        .await
        .unwrap();
    database
        .insert_session(&session("anonymous", None, 2_000))
        .await
        .unwrap();
    assert_eq!(session_ids(database, "alice").await, vec!["s1", "s2"]);
    assert!(database.delete_session("s2").await.unwrap());
    assert!(!database.delete_session("s2").await.unwrap());
    assert_eq!(database.delete_sessions_of_user("alice").await.unwrap(), 1);
    assert!(database.get_session("anonymous").await.unwrap().is_some());
}

async fn session_rotation(test: &TestDatabase) {
    let database = &test.database;
    database
        .insert_session(&session("old", Some("alice"), 1_000))
        .await
        .unwrap();
    let mut risen = session("new", Some("alice"), 1_000);
    risen.level = 2;
    risen.second_factor_at = Some(2_000);
    assert!(database.rotate_session("old", &risen).await.unwrap());
    assert!(database.get_session("old").await.unwrap().is_none());
    assert_eq!(database.get_session("new").await.unwrap(), Some(risen));

    // From anonymous there may be nothing to replace.
    assert!(!database
        .rotate_session("never-stored", &session("fresh", Some("bob"), 3_000))
        .await
        .unwrap());
    assert!(database.get_session("fresh").await.unwrap().is_some());

    // A clash on the new id fails the whole rotation and keeps the old session.
    database
        .insert_session(&session("keep", Some("carol"), 1_000))
        .await
        .unwrap();
    assert!(database
        .rotate_session("keep", &session("fresh", Some("carol"), 4_000))
        .await
        .is_err());
    assert!(database.get_session("keep").await.unwrap().is_some());
}

async fn session_housekeeping(test: &TestDatabase) {
    let database = &test.database;
    let lifetimes = SessionLifetimes {
        cookie_domain: "example.com".to_string(),
        expiration: 3_600_000,
        inactivity: 300_000,
        remember_me: Some(86_400_000),
    };
    let now = 10_000_000;
    // Idle for longer than inactivity.
    let mut idle = session("idle", Some("alice"), now - 400_000);
    idle.last_activity_at = now - 301_000;
    // Active but logged in longer than expiration ago.
    let mut old = session("old", Some("alice"), now - 3_700_000);
    old.last_activity_at = now - 1_000;
    // Remembered: idle is fine, but not past remember_me.
    let mut remembered = session("remembered", Some("alice"), now - 7_200_000);
    remembered.remember_me = true;
    remembered.last_activity_at = now - 7_200_000;
    let mut remembered_too_long = session("remembered-old", Some("alice"), now - 90_000_000);
    remembered_too_long.remember_me = true;
    let fresh = session("fresh", Some("alice"), now - 1_000);
    let mut other_domain = session("other-domain", Some("alice"), now - 9_000_000);
    other_domain.cookie_domain = "example.org".to_string();
    for record in [
        &idle,
        &old,
        &remembered,
        &remembered_too_long,
        &fresh,
        &other_domain,
    ] {
        database.insert_session(record).await.unwrap();
    }

    let deleted = database
        .delete_expired_sessions(&lifetimes, now)
        .await
        .unwrap();
    assert_eq!(deleted, 3);
    let mut left = session_ids(database, "alice").await;
    left.sort();
    assert_eq!(left, vec!["fresh", "other-domain", "remembered"]);

    let deleted = database
        .delete_sessions_outside_domains(&["example.com".to_string()])
        .await
        .unwrap();
    assert_eq!(deleted, 1);
    assert!(database
        .get_session("other-domain")
        .await
        .unwrap()
        .is_none());
}

fn totp(username: &str) -> NewTotpConfiguration {
    NewTotpConfiguration {
        username: username.to_string(),
        issuer: "Gatehouse".to_string(),
        algorithm: "SHA1".to_string(),
        digits: 6,
        period: 30,
        secret: b"PLAINTEXT-SEED-0123456789".to_vec(),
    }
}

async fn totp_secret_encrypted(test: &TestDatabase) {
    let database = &test.database;
    let configuration = totp("alice");
    database
        .upsert_totp_configuration(&configuration, 1_000)
        .await
        .unwrap();
    let read = database
        .get_totp_configuration("alice")
        .await
        .unwrap()
        .expect("stored");
    assert_eq!(read.secret, configuration.secret);
    assert_eq!(read.issuer, "Gatehouse");
    assert_eq!(read.algorithm, "SHA1");
    assert_eq!(read.digits, 6);
    assert_eq!(read.period, 30);
    assert_eq!(read.last_used_step, None);
    assert_eq!(read.created_at, 1_000);
    assert!(!format!("{read:?}").contains("PLAINTEXT"));

    let statement = "SELECT secret FROM totp_configurations WHERE username = 'alice'";
    let raw: Vec<u8> = match test.raw().await {
        RawConnection::Sqlite(mut connection) => sqlx::query_scalar(statement)
            .fetch_one(&mut connection)
            .await
            .unwrap(),
        RawConnection::Postgres(mut connection) => sqlx::query_scalar(statement)
            .fetch_one(&mut connection)
            .await
            .unwrap(),
    };
    assert_ne!(raw, configuration.secret);
    assert!(
        !raw.windows(configuration.secret.len())
            .any(|window| window == configuration.secret.as_slice()),
        "the raw column contains the plaintext secret"
    );
    // Nonce (12) + ciphertext (same length as the secret) + tag (16).
    assert_eq!(raw.len(), 12 + configuration.secret.len() + 16);

    // Re-enrolment replaces the secret and the replay state.
    assert!(database
        .accept_totp_step("alice", 100, 2_000)
        .await
        .unwrap());
    let mut replacement = totp("alice");
    replacement.secret = b"another seed".to_vec();
    replacement.digits = 8;
    database
        .upsert_totp_configuration(&replacement, 3_000)
        .await
        .unwrap();
    let read = database
        .get_totp_configuration("alice")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.secret, b"another seed");
    assert_eq!(read.digits, 8);
    assert_eq!(read.last_used_step, None);

    assert!(database.delete_totp_configuration("alice").await.unwrap());
    assert!(!database.delete_totp_configuration("alice").await.unwrap());
    assert!(database
        .get_totp_configuration("alice")
        .await
        .unwrap()
        .is_none());
}

async fn totp_step_compare_and_set(test: &TestDatabase) {
    let database = &test.database;
    database
        .upsert_totp_configuration(&totp("alice"), 1_000)
        .await
        .unwrap();
    assert!(database
        .accept_totp_step("alice", 1_000, 2_000)
        .await
        .unwrap());
    assert!(
        !database
            .accept_totp_step("alice", 1_000, 2_001)
            .await
            .unwrap(),
        "the same step twice"
    );
    assert!(
        !database
            .accept_totp_step("alice", 999, 2_002)
            .await
            .unwrap(),
        "an older step"
    );
    assert!(database
        .accept_totp_step("alice", 1_001, 2_003)
        .await
        .unwrap());
    let read = database
        .get_totp_configuration("alice")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.last_used_step, Some(1_001));
    assert_eq!(read.last_used_at, Some(2_003));
    assert!(
        !database
            .accept_totp_step("nobody", 5_000, 2_004)
            .await
            .unwrap(),
        "a user without TOTP"
    );
}

async fn totp_step_concurrent_single_winner(test: &TestDatabase) {
    let database = &test.database;
    database
        .upsert_totp_configuration(&totp("alice"), 1_000)
        .await
        .unwrap();
    for step in 1..=20 {
        let first = database.clone();
        let second = database.clone();
        let (a, b) = tokio::join!(
            tokio::spawn(async move { first.accept_totp_step("alice", step, 2_000).await }),
            tokio::spawn(async move { second.accept_totp_step("alice", step, 2_000).await }),
        );
        let winners = [a.unwrap().unwrap(), b.unwrap().unwrap()]
            .iter()
            .filter(|won| **won)
            .count();
        assert_eq!(winners, 1, "step {step}");
    }
}

fn credential(username: &str, credential_id: &str) -> NewWebauthnCredential {
    NewWebauthnCredential {
        username: username.to_string(),
        rp_id: "auth.example.com".to_string(),
        description: "YubiKey".to_string(),
        credential_id: credential_id.to_string(),
        credential: r#"{"cred":{"counter":0}}"#.to_string(),
        aaguid: Some("ee882879-721c-4913-9775-3dfcce97072a".to_string()),
        attestation_type: "none".to_string(),
        transports: vec!["usb".to_string(), "nfc".to_string()],
        sign_count: 0,
        discoverable: true,
        user_verified: true,
        backup_eligible: false,
        backup_state: false,
    }
}

async fn webauthn_credentials(test: &TestDatabase) {
    let database = &test.database;
    let first = database
        .insert_webauthn_credential(&credential("alice", "AAEC"), 1_000)
        .await
        .unwrap();
    let second = database
        .insert_webauthn_credential(&credential("alice", "AwQF"), 2_000)
        .await
        .unwrap();
    database
        .insert_webauthn_credential(&credential("bob", "BgcI"), 2_000)
        .await
        .unwrap();
    assert_ne!(first.id, second.id);

    let error = database
        .insert_webauthn_credential(&credential("bob", "AAEC"), 3_000)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, StorageError::DuplicateCredential(id) if id == "AAEC"),
        "{error:?}"
    );

    let listed = database.list_webauthn_credentials("alice").await.unwrap();
    assert_eq!(listed, vec![first.clone(), second.clone()]);
    assert_eq!(listed[0].transports, vec!["usb", "nfc"]);

    let found = database
        .get_webauthn_credential("AAEC")
        .await
        .unwrap()
        .expect("found by credential id");
    assert_eq!(found, first);
    assert!(database
        .get_webauthn_credential("missing")
        .await
        .unwrap()
        .is_none());

    assert!(database
        .record_webauthn_use("AAEC", 7, true, r#"{"cred":{"counter":7}}"#, 4_000)
        .await
        .unwrap());
    let used = database
        .get_webauthn_credential("AAEC")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(used.sign_count, 7);
    assert!(used.backup_state);
    assert_eq!(used.credential, r#"{"cred":{"counter":7}}"#);
    assert_eq!(used.last_used_at, Some(4_000));

    assert!(database
        .rename_webauthn_credential("alice", first.id, "Laptop")
        .await
        .unwrap());
    assert_eq!(
        database
            .get_webauthn_credential("AAEC")
            .await
            .unwrap()
            .unwrap()
            .description,
        "Laptop"
    );
    assert!(
        !database
            .delete_webauthn_credential("bob", first.id)
            .await
            .unwrap(),
        "another user's credential"
    );
    assert!(database
        .delete_webauthn_credential("alice", first.id)
        .await
        .unwrap());
    assert_eq!(
        database.list_webauthn_credentials("alice").await.unwrap(),
        vec![second]
    );
}

fn attempt(time: i64, account_key: &str, successful: bool, ip: Option<&str>) -> NewAttempt {
    NewAttempt {
        time,
        account_key: account_key.to_string(),
        successful,
        banned: false,
        factor: AttemptFactor::First,
        method: "password".to_string(),
        remote_ip: ip.map(str::to_string),
        request_uri: "https://app.example.com/".to_string(),
        request_method: "GET".to_string(),
    }
}

async fn attempts_newest_first(test: &TestDatabase) {
    let database = &test.database;
    database
        .record_attempt(&attempt(1_000, "alice", false, Some("192.0.2.1")))
        .await
        .unwrap();
    database
        .record_attempt(&attempt(2_000, "alice", true, Some("192.0.2.1")))
        .await
        .unwrap();
    let mut second_factor = attempt(3_000, "alice", false, Some("192.0.2.2"));
    second_factor.factor = AttemptFactor::Second;
    second_factor.method = "totp".to_string();
    second_factor.banned = true;
    database.record_attempt(&second_factor).await.unwrap();
    database
        .record_attempt(&attempt(4_000, "bob", false, Some("192.0.2.1")))
        .await
        .unwrap();
    database
        .record_attempt(&attempt(5_000, "alice", false, None))
        .await
        .unwrap();

    let recent = database.attempts_for_account("alice", 0, 10).await.unwrap();
    let times: Vec<i64> = recent.iter().map(|attempt| attempt.time).collect();
    assert_eq!(times, vec![5_000, 3_000, 2_000, 1_000]);
    assert_eq!(recent[1].factor, AttemptFactor::Second);
    assert_eq!(recent[1].method, "totp");
    assert!(recent[1].banned);
    assert_eq!(recent[0].remote_ip, None);
    assert!(recent[2].successful);

    let limited = database
        .attempts_for_account("alice", 2_000, 2)
        .await
        .unwrap();
    let times: Vec<i64> = limited.iter().map(|attempt| attempt.time).collect();
    assert_eq!(times, vec![5_000, 3_000]);

    let by_ip = database
        .attempts_for_ip("192.0.2.1", 1_500, 10)
        .await
        .unwrap();
    let keys: Vec<(&str, i64)> = by_ip
        .iter()
        .map(|attempt| (attempt.account_key.as_str(), attempt.time))
        .collect();
    assert_eq!(keys, vec![("bob", 4_000), ("alice", 2_000)]);

    assert_eq!(database.delete_attempts_before(3_000).await.unwrap(), 2);
    assert_eq!(
        database
            .attempts_for_account("alice", 0, 10)
            .await
            .unwrap()
            .len(),
        2
    );
}

async fn bans_active_and_revoked(test: &TestDatabase) {
    let database = &test.database;
    let regulation_ban = NewBan {
        kind: BanKind::User,
        value: "alice".to_string(),
        expires_at: Some(5_000),
        source: BanSource::Regulation,
        reason: "3 failed attempts".to_string(),
        created_at: 1_000,
    };
    let id = database.add_ban(&regulation_ban).await.unwrap();
    let active = database
        .active_ban(BanKind::User, "alice", 4_999)
        .await
        .unwrap()
        .expect("in force before expiry");
    assert_eq!(active.id, id);
    assert_eq!(active.source, BanSource::Regulation);
    assert_eq!(active.reason, "3 failed attempts");
    assert!(database
        .active_ban(BanKind::User, "alice", 5_000)
        .await
        .unwrap()
        .is_none());
    assert!(
        database
            .active_ban(BanKind::Ip, "alice", 2_000)
            .await
            .unwrap()
            .is_none(),
        "kind is part of the key"
    );

    let permanent = NewBan {
        kind: BanKind::Ip,
        value: "192.0.2.9".to_string(),
        expires_at: None,
        source: BanSource::Admin,
        reason: String::new(),
        created_at: 2_000,
    };
    let permanent_id = database.add_ban(&permanent).await.unwrap();
    let mut shorter = permanent.clone();
    shorter.expires_at = Some(i64::MAX - 1);
    shorter.created_at = 3_000;
    database.add_ban(&shorter).await.unwrap();
    let active = database
        .active_ban(BanKind::Ip, "192.0.2.9", 1_000_000_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        active.id, permanent_id,
        "the ban without expiry lasts longest"
    );
    assert_eq!(active.expires_at, None);

    let listed = database.list_active_bans(4_000).await.unwrap();
    assert_eq!(listed.len(), 3);
    assert_eq!(listed[0].created_at, 3_000);
    assert_eq!(database.list_active_bans(6_000).await.unwrap().len(), 2);

    assert!(database.revoke_ban(id, 4_000).await.unwrap());
    assert!(!database.revoke_ban(id, 4_001).await.unwrap());
    assert!(database
        .active_ban(BanKind::User, "alice", 4_002)
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        database
            .revoke_bans_for(BanKind::Ip, "192.0.2.9", 7_000)
            .await
            .unwrap(),
        2
    );
    assert!(database.list_active_bans(7_001).await.unwrap().is_empty());
}

fn token(
    token_hash: &str,
    purpose: &str,
    username: &str,
    created_at: i64,
    expires_at: i64,
) -> NewOneTimeToken {
    NewOneTimeToken {
        token_hash: token_hash.to_string(),
        purpose: purpose.to_string(),
        username: username.to_string(),
        created_at,
        expires_at,
    }
}

/// A reset link (such as the first-start link for `admin`) must be revoked when the password is
/// set by another path. Other purposes and other users keep their tokens.
async fn password_change_revokes_reset_links(test: &TestDatabase) {
    let database = &test.database;
    for name in ["alice", "bob"] {
        database
            .create_user(&user(name, None, &[]), 1_000)
            .await
            .unwrap();
    }
    for (hash, purpose, name) in [
        ("reset-a", "reset_password", "alice"),
        ("code-a", "elevation", "alice"),
        ("reset-b", "reset_password", "bob"),
    ] {
        database
            .insert_one_time_token(&token(hash, purpose, name, 1_000, 9_000))
            .await
            .unwrap();
    }

    database
        .set_password_hash("alice", "$argon2id$new", 2_000)
        .await
        .unwrap();
    let alice_reset = database
        .peek_one_time_token("reset-a", "reset_password", 3_000)
        .await
        .unwrap();
    assert!(alice_reset.is_none(), "alice's reset link still works");
    let alice_code = database
        .peek_one_time_token("code-a", "elevation", 3_000)
        .await
        .unwrap();
    assert!(alice_code.is_some(), "another purpose was revoked");
    let bob_reset = database
        .peek_one_time_token("reset-b", "reset_password", 3_000)
        .await
        .unwrap();
    assert!(bob_reset.is_some(), "another user's link was revoked");
}

async fn one_time_tokens(test: &TestDatabase) {
    let database = &test.database;
    database
        .insert_one_time_token(&token("hash-1", "reset_password", "alice", 1_000, 5_000))
        .await
        .unwrap();
    let error = database
        .insert_one_time_token(&token("hash-1", "elevation", "bob", 1_000, 5_000))
        .await
        .unwrap_err();
    assert!(matches!(error, StorageError::DuplicateToken), "{error:?}");

    let peeked = database
        .peek_one_time_token("hash-1", "reset_password", 2_000)
        .await
        .unwrap()
        .expect("usable");
    assert_eq!(peeked.username, "alice");
    assert_eq!(peeked.expires_at, 5_000);
    assert!(database
        .peek_one_time_token("hash-1", "elevation", 2_000)
        .await
        .unwrap()
        .is_none());
    assert!(database
        .consume_one_time_token("hash-1", "elevation", 2_000)
        .await
        .unwrap()
        .is_none());

    assert_eq!(
        database
            .consume_one_time_token("hash-1", "reset_password", 2_000)
            .await
            .unwrap()
            .as_deref(),
        Some("alice")
    );
    assert!(
        database
            .consume_one_time_token("hash-1", "reset_password", 2_001)
            .await
            .unwrap()
            .is_none(),
        "consumed once only"
    );
    assert!(database
        .peek_one_time_token("hash-1", "reset_password", 2_002)
        .await
        .unwrap()
        .is_none());

    database
        .insert_one_time_token(&token("hash-2", "reset_password", "alice", 1_000, 5_000))
        .await
        .unwrap();
    assert!(
        database
            .consume_one_time_token("hash-2", "reset_password", 5_000)
            .await
            .unwrap()
            .is_none(),
        "expired at expires_at"
    );

    database
        .insert_one_time_token(&token("hash-3", "reset_password", "alice", 1_000, 5_000))
        .await
        .unwrap();
    assert!(database
        .revoke_one_time_token("hash-3", "reset_password", 2_000)
        .await
        .unwrap());
    assert!(database
        .consume_one_time_token("hash-3", "reset_password", 2_001)
        .await
        .unwrap()
        .is_none());

    assert_eq!(
        database
            .delete_expired_one_time_tokens(6_000)
            .await
            .unwrap(),
        3
    );
}

async fn audit_events(test: &TestDatabase) {
    let database = &test.database;
    for (time, action) in [
        (1_000, "user.created"),
        (3_000, "ban.revoked"),
        (2_000, "user.disabled"),
    ] {
        database
            .append_audit_event(&NewAuditEvent {
                time,
                actor: Some("admin".to_string()),
                action: action.to_string(),
                subject: Some("alice".to_string()),
                remote_ip: Some("192.0.2.1".to_string()),
                details: serde_json::json!({ "reason": action }),
            })
            .await
            .unwrap();
    }
    let recent = database.recent_audit_events(2).await.unwrap();
    let actions: Vec<&str> = recent.iter().map(|event| event.action.as_str()).collect();
    assert_eq!(actions, vec!["ban.revoked", "user.disabled"]);
    assert_eq!(
        recent[0].details,
        serde_json::json!({ "reason": "ban.revoked" })
    );
    assert_eq!(recent[0].actor.as_deref(), Some("admin"));
    assert_eq!(recent[0].subject.as_deref(), Some("alice"));
}

async fn wrong_encryption_key_rejected(test: &TestDatabase) {
    let error = test
        .reopen("a different key of the same length ok")
        .await
        .unwrap_err();
    assert!(
        matches!(error, StorageError::EncryptionKeyMismatch),
        "{error:?}"
    );
    let message = error.to_string();
    assert_eq!(
        message,
        "storage.encryption_key does not match the key this database was created with"
    );
    assert!(!message.contains(KEY));

    let reopened = test.reopen(KEY).await.expect("the right key opens it");
    reopened.ping().await.unwrap();
    reopened.close().await;
}

async fn newer_migration_rejected(test: &TestDatabase) {
    let statement = "INSERT INTO _sqlx_migrations \
         (version, description, success, checksum, execution_time) \
         VALUES (20991231000000, 'from the future', TRUE, $1, 0)";
    match test.raw().await {
        RawConnection::Sqlite(mut connection) => {
            sqlx::query(statement)
                .bind(vec![0u8; 48])
                .execute(&mut connection)
                .await
                .unwrap();
        }
        RawConnection::Postgres(mut connection) => {
            sqlx::query(statement)
                .bind(vec![0u8; 48])
                .execute(&mut connection)
                .await
                .unwrap();
        }
    }
    let error = test.reopen(KEY).await.unwrap_err();
    assert!(
        matches!(&error, StorageError::DatabaseNewerThanBinary { unknown_versions, .. }
            if unknown_versions == &vec![20991231000000]),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(
        message.contains("newer than this Gatehouse binary"),
        "{message}"
    );
    assert!(message.contains("20991231000000"), "{message}");
}

// ---------------------------------------------------------------------------------------------
// Start-up errors of one database

#[tokio::test]
async fn sqlite_corrupt_file() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("corrupt.sqlite3");
    std::fs::write(&path, vec![0x5a; 8192]).unwrap();
    let error = Database::connect(
        &DatabaseOptions::Sqlite { path: path.clone() },
        Cipher::new(KEY),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&error, StorageError::SqliteCorrupt { path: reported, .. } if *reported == path),
        "{error:?}"
    );
    assert!(
        error.to_string().contains("not a SQLite database"),
        "{error}"
    );
}

#[tokio::test]
async fn sqlite_missing_directory() {
    let directory = tempfile::tempdir().unwrap();
    let path: PathBuf = directory.path().join("absent").join("gatehouse.sqlite3");
    let error = Database::connect(&DatabaseOptions::Sqlite { path }, Cipher::new(KEY))
        .await
        .unwrap_err();
    assert!(
        matches!(error, StorageError::SqliteOpen { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("does not exist"), "{error}");
}

#[tokio::test]
async fn sqlite_creates_file_in_wal_mode() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("new.sqlite3");
    let database = Database::connect(
        &DatabaseOptions::Sqlite { path: path.clone() },
        Cipher::new(KEY),
    )
    .await
    .unwrap();
    assert!(path.exists());
    assert!(!database.is_postgres());
    database.close().await;
    let mut connection = SqliteConnectOptions::new()
        .filename(&path)
        .connect()
        .await
        .unwrap();
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&mut connection)
        .await
        .unwrap();
    assert_eq!(mode, "wal");
    connection.close().await.unwrap();
}

#[tokio::test]
async fn postgres_unreachable_names_address() {
    // A loopback port that was free a moment ago: nothing listens there.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let options = DatabaseOptions::Postgres {
        host: "127.0.0.1".to_string(),
        port,
        database: "gatehouse".to_string(),
        schema: None,
        username: "gatehouse".to_string(),
        password: "do-not-print-this-password".to_string(),
        connect_timeout: Duration::from_secs(5),
    };
    let error = Database::connect(&options, Cipher::new(KEY))
        .await
        .unwrap_err();
    assert!(
        matches!(error, StorageError::PostgresUnreachable { .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.contains(&format!("127.0.0.1:{port}")), "{message}");
    assert!(!message.contains("do-not-print-this-password"), "{message}");
    assert!(!format!("{error:?}").contains("do-not-print-this-password"));
}

// ---------------------------------------------------------------------------------------------
// Periodic cleanup

/// Counts the rows of `table` behind the repositories' back.
async fn count_rows(test: &TestDatabase, table: &str) -> i64 {
    let statement = format!("SELECT COUNT(*) FROM {table}");
    match test.raw().await {
        RawConnection::Sqlite(mut connection) => sqlx::query_scalar(&statement)
            .fetch_one(&mut connection)
            .await
            .expect("count rows"),
        RawConnection::Postgres(mut connection) => sqlx::query_scalar(&statement)
            .fetch_one(&mut connection)
            .await
            .expect("count rows"),
    }
}

/// Builds a configuration with the cookie domain `example.com` (expiration 1h, inactivity 5m,
/// remember-me 1M) and `regulation.find_time` of two minutes.
fn cleanup_config() -> gatehouse::config::Config {
    let yaml = "
session:
  secret: 'test-session-secret-0123456789abcdefghijkl'
  expiration: '1h'
  inactivity: '5m'
  remember_me: '1M'
  cookies:
    - domain: 'example.com'
      authelia_url: 'https://auth.example.com'
storage:
  encryption_key: 'test-encryption-key-0123456789abcdefghij'
  local:
    path: '/nonexistent/gatehouse.sqlite3'
notifier:
  filesystem:
    filename: '/nonexistent/notifications.txt'
identity_validation:
  reset_password:
    jwt_secret: 'test-reset-secret-0123456789abcdefghijklm'
regulation:
  max_retries: 3
  find_time: '2m'
  ban_time: '5m'
";
    gatehouse::config::load_str(yaml, &std::collections::HashMap::new())
        .expect("the cleanup configuration is valid")
        .config
}

async fn cleanup_deletes_dead_rows(test: &TestDatabase) {
    let database = &test.database;
    let config = cleanup_config();
    let now = 100 * 3_600_000;
    let minute = 60_000;

    let fresh = session("fresh", Some("alice"), now - minute);
    let idle = session("idle", Some("alice"), now - 10 * minute);
    let too_old = SessionRecord {
        last_activity_at: now - minute,
        ..session("too-old", Some("alice"), now - 2 * 3_600_000)
    };
    let removed_domain = SessionRecord {
        cookie_domain: "removed.example.org".to_string(),
        ..session("removed-domain", Some("alice"), now - minute)
    };
    for record in [&fresh, &idle, &too_old, &removed_domain] {
        database.insert_session(record).await.unwrap();
    }

    database
        .record_attempt(&attempt(now - 3 * minute, "alice", false, None))
        .await
        .unwrap();
    database
        .record_attempt(&attempt(now - minute, "alice", false, None))
        .await
        .unwrap();

    let binding = "binding";
    database
        .put_ceremony(
            binding,
            "expired",
            None,
            b"state",
            now - 2 * minute,
            now - minute,
        )
        .await
        .unwrap();
    database
        .put_ceremony(
            binding,
            "pending",
            None,
            b"state",
            now - minute,
            now + minute,
        )
        .await
        .unwrap();

    let counts = gatehouse::housekeeping::clean_up(database, &config, now)
        .await
        .expect("the cleanup runs");
    assert_eq!(counts.sessions, 3);
    assert_eq!(counts.attempts, 1);
    assert_eq!(counts.ceremonies, 1);
    assert_eq!(counts.one_time_tokens, 0);

    assert_eq!(session_ids(database, "alice").await, vec!["fresh"]);
    let attempts = database.attempts_for_account("alice", 0, 10).await.unwrap();
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].time, now - minute);
    assert_eq!(count_rows(test, "pending_ceremonies").await, 1);
    assert!(database
        .get_ceremony(binding, "pending", now)
        .await
        .unwrap()
        .is_some());

    let again = gatehouse::housekeeping::clean_up(database, &config, now)
        .await
        .expect("the cleanup runs again");
    assert_eq!(again, gatehouse::housekeeping::CleanupCounts::default());
}

async fn cleanup_deletes_spent_tokens(test: &TestDatabase) {
    let database = &test.database;
    let config = cleanup_config();
    let now = 50_000;
    for (hash, expires_at) in [
        ("expired", now - 1),
        ("consumed", now + 10_000),
        ("revoked", now + 10_000),
        ("live", now + 10_000),
    ] {
        database
            .insert_one_time_token(&token(hash, "reset_password", "alice", 1_000, expires_at))
            .await
            .unwrap();
    }
    let consumed = database
        .consume_one_time_token("consumed", "reset_password", now - 10)
        .await
        .unwrap();
    assert_eq!(consumed.as_deref(), Some("alice"));
    assert!(database
        .revoke_one_time_token("revoked", "reset_password", now - 10)
        .await
        .unwrap());

    let counts = gatehouse::housekeeping::clean_up(database, &config, now)
        .await
        .expect("the cleanup runs");
    assert_eq!(counts.one_time_tokens, 3);
    assert_eq!(count_rows(test, "one_time_tokens").await, 1);
    let live = database
        .peek_one_time_token("live", "reset_password", now)
        .await
        .unwrap();
    assert!(live.is_some(), "the unused, unexpired token stays");
}

async fn webauthn_user_handle_kept(test: &TestDatabase) {
    let database = &test.database;
    let first = database
        .ensure_webauthn_user_handle("alice", &[1; 16], 1_000)
        .await
        .unwrap();
    assert_eq!(first, vec![1; 16]);
    let again = database
        .ensure_webauthn_user_handle("alice", &[2; 16], 2_000)
        .await
        .unwrap();
    assert_eq!(
        again,
        vec![1; 16],
        "the stored handle wins over a new candidate"
    );
    let other = database
        .ensure_webauthn_user_handle("bob", &[2; 16], 2_000)
        .await
        .unwrap();
    assert_eq!(other, vec![2; 16]);
}
