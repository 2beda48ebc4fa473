//! The user directory: where a user's name, groups, e-mail and password hash are read from.
//!
//! Users live in the database unless `authentication_backend.file.path` names an Authelia users
//! file. Sessions, second factors and regulation always live in the database, keyed by the
//! canonical user name this directory returns.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

use sha2::{Digest, Sha256};

use crate::config::{AuthenticationBackendConfig, FileBackendConfig};
use crate::identity::atomic_write::write_file_atomically;
use crate::identity::names::normalize_username;
use crate::identity::secret::EncodedHash;
use crate::identity::users_file::{FileUser, UsersFile, UsersFileError};
use crate::storage::{Database, StorageError, User};

/// How often at most the users file's modification time is checked.
const FILE_CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// A user's profile as the rest of Gatehouse uses it.
#[derive(Clone, PartialEq, Eq)]
pub struct UserProfile {
    /// The canonical user name: lower-case in the database backend, as written in a users file.
    pub username: String,
    pub display_name: String,
    /// E-mail addresses, the first one sent as `Remote-Email`.
    pub emails: Vec<String>,
    /// Groups in the directory's order.
    pub groups: Vec<String>,
    pub disabled: bool,
    pub password_hash: EncodedHash,
    /// Changes whenever the password hash changes, so caches keyed on it end with the change.
    pub password_version: i64,
}

impl std::fmt::Debug for UserProfile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserProfile")
            .field("username", &self.username)
            .field("groups", &self.groups)
            .field("disabled", &self.disabled)
            .field("password_version", &self.password_version)
            .finish_non_exhaustive()
    }
}

/// A failure to read the directory (not "user not found", which is `Ok(None)`).
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    /// The database query failed.
    #[error("the user directory is unavailable: {0}")]
    Storage(#[from] StorageError),
    /// The users file could not be read or is invalid.
    #[error("the users file {path} cannot be used: {reason}")]
    File { path: PathBuf, reason: String },
}

/// The configured user directory.
#[derive(Clone)]
pub enum UserDirectory {
    /// Users in Gatehouse's own database, managed by the CLI and the admin pages.
    Database(Arc<DatabaseDirectory>),
    /// An Authelia users file, reloaded when it changes.
    File(Arc<FileDirectory>),
}

impl UserDirectory {
    /// Opens the directory the configuration names; a users file is read and validated now.
    pub fn open(
        config: &AuthenticationBackendConfig,
        db: &Database,
    ) -> Result<Self, DirectoryError> {
        match &config.file {
            Some(file) => Ok(UserDirectory::File(Arc::new(FileDirectory::open(file)?))),
            None => Ok(UserDirectory::Database(Arc::new(DatabaseDirectory {
                db: db.clone(),
                search_email: config.search.email,
            }))),
        }
    }

    /// Finds the user a typed login name means: the user name (compared as the backend compares
    /// names) or, where e-mail login is on, an e-mail address.
    pub async fn find_by_login(&self, login: &str) -> Result<Option<UserProfile>, DirectoryError> {
        match self {
            UserDirectory::Database(directory) => directory.find_by_login(login).await,
            UserDirectory::File(directory) => {
                refresh_file(directory).await;
                directory.find_by_login(login)
            }
        }
    }

    /// Reads a user by canonical user name, as stored in a session.
    pub async fn get(&self, username: &str) -> Result<Option<UserProfile>, DirectoryError> {
        match self {
            UserDirectory::Database(directory) => directory.get(username).await,
            UserDirectory::File(directory) => {
                refresh_file(directory).await;
                directory.get(username)
            }
        }
    }

    /// Returns the key regulation counts attempts under: the user a login name resolves to, else the
    /// typed name lower-cased, so that `alice`, `ALICE` and her e-mail address share one counter.
    pub async fn account_key(&self, login: &str) -> Result<String, DirectoryError> {
        Ok(match self.find_by_login(login).await? {
            Some(user) => user.username.to_lowercase(),
            None => normalize_username(login),
        })
    }

    /// Stores a new password hash for `username` (the canonical name) and ends every session of
    /// the user but `keep_session` (an id hash). The database backend does both in one
    /// transaction and counts a new password version. A users file is rewritten atomically,
    /// keeping every other user and key, and reloaded before the sessions end. Either way the
    /// session cache drops its rows at once.
    pub async fn set_password(
        &self,
        db: &Database,
        username: &str,
        password_hash: &str,
        now: i64,
        keep_session: Option<&str>,
    ) -> Result<(), DirectoryError> {
        match self {
            UserDirectory::Database(_) => {
                db.set_password_hash_keeping_session(username, password_hash, now, keep_session)
                    .await?;
            }
            UserDirectory::File(directory) => {
                let directory = Arc::clone(directory);
                let name = username.to_owned();
                let hash = password_hash.to_owned();
                tokio::task::spawn_blocking(move || directory.write_password(&name, &hash))
                    .await
                    .map_err(|error| DirectoryError::File {
                        path: PathBuf::new(),
                        reason: format!("the users file writer stopped: {error}"),
                    })??;
                match keep_session {
                    Some(keep) => db.delete_other_sessions_of_user(username, keep).await?,
                    None => db.delete_sessions_of_user(username).await?,
                };
            }
        }
        Ok(())
    }
}

/// Re-reads the users file when it changed, off the async runtime: the check costs a `stat` at
/// most once a second, and a changed file is parsed on a blocking thread.
async fn refresh_file(directory: &Arc<FileDirectory>) {
    if !directory.check_due() {
        return;
    }
    let directory = Arc::clone(directory);
    if let Err(error) = tokio::task::spawn_blocking(move || directory.reload_if_changed()).await {
        tracing::error!(%error, "checking the users file for changes failed");
    }
}

/// Re-hashes a database user's password with the current argon2id parameters after a successful
/// login verified it against an older format, off the response path, so that later logins take
/// the same time as for every other user. Users of a users file are left alone: that file belongs
/// to the operator. A full hashing pool or a changed hash skips the re-hash until the next login.
///
/// NOTE: `authentication_backend.file.rehash: true` is accepted but not implemented yet, so
/// hashes in a users file are never rewritten.
pub fn rehash_after_login(
    directory: &UserDirectory,
    pool: &std::sync::Arc<crate::identity::pool::HashingPool>,
    clock: &crate::clock::Clock,
    user: &UserProfile,
    password: crate::identity::secret::Password,
) {
    let UserDirectory::Database(database) = directory else {
        return;
    };
    let db = database.db.clone();
    let pool = std::sync::Arc::clone(pool);
    let clock = clock.clone();
    let username = user.username.clone();
    let old_hash = user.password_hash.expose().to_owned();
    tokio::spawn(async move {
        let new_hash = match pool.hash(password).await {
            Ok(new_hash) => new_hash,
            Err(error) => {
                tracing::debug!(%error, username, "password re-hash skipped");
                return;
            }
        };
        match db
            .rehash_password(&username, &old_hash, &new_hash, clock.now_millis())
            .await
        {
            Ok(true) => tracing::info!(username, "password re-hashed with argon2id"),
            Ok(false) => tracing::debug!(username, "password changed meanwhile; re-hash skipped"),
            Err(error) => tracing::warn!(%error, username, "password re-hash failed"),
        }
    });
}

/// Users in the database.
#[derive(Clone)]
pub struct DatabaseDirectory {
    db: Database,
    search_email: bool,
}

impl DatabaseDirectory {
    async fn find_by_login(&self, login: &str) -> Result<Option<UserProfile>, DirectoryError> {
        if let Some(user) = self.get(login).await? {
            return Ok(Some(user));
        }
        if self.search_email && login.contains('@') {
            let user = self
                .db
                .get_user_by_email(&login.trim().to_lowercase())
                .await?;
            return Ok(user.map(profile_from_database));
        }
        Ok(None)
    }

    async fn get(&self, username: &str) -> Result<Option<UserProfile>, DirectoryError> {
        let user = self.db.get_user(&normalize_username(username)).await?;
        Ok(user.map(profile_from_database))
    }
}

fn profile_from_database(user: User) -> UserProfile {
    UserProfile {
        username: user.username,
        display_name: user.display_name,
        emails: user.email.into_iter().collect(),
        groups: user.groups,
        disabled: user.disabled,
        password_hash: EncodedHash::new(user.password_hash),
        password_version: user.password_version,
    }
}

/// An Authelia users file. The file is re-read when its modification time changes (checked at
/// most once a second); an invalid new version is logged and the previous valid list stays.
pub struct FileDirectory {
    path: PathBuf,
    case_insensitive: bool,
    search_email: bool,
    state: RwLock<Arc<Vec<UserProfile>>>,
    last_check: Mutex<FileStamp>,
    /// Serializes rewrites of the file, so two password changes cannot lose one another.
    write_lock: Mutex<()>,
}

struct FileStamp {
    checked_at: Instant,
    modified: Option<SystemTime>,
    length: u64,
}

impl FileDirectory {
    /// Reads and validates the users file; an invalid file is an error at start.
    pub fn open(config: &FileBackendConfig) -> Result<Self, DirectoryError> {
        let (users, modified, length) = read_users_file(&config.path)?;
        Ok(FileDirectory {
            path: config.path.clone(),
            case_insensitive: config.search.case_insensitive,
            search_email: config.search.email,
            state: RwLock::new(Arc::new(users)),
            last_check: Mutex::new(FileStamp {
                checked_at: Instant::now(),
                modified,
                length,
            }),
            write_lock: Mutex::new(()),
        })
    }

    /// Rewrites the users file with a new password hash for `username` (exact name) and loads
    /// the result. Blocking: call it from a blocking thread.
    fn write_password(&self, username: &str, password_hash: &str) -> Result<(), DirectoryError> {
        let file_error = |reason: String| DirectoryError::File {
            path: self.path.clone(),
            reason,
        };
        let _writing = self
            .write_lock
            .lock()
            .map_err(|_| file_error("a previous write panicked".to_owned()))?;
        let text =
            std::fs::read_to_string(&self.path).map_err(|error| file_error(error.to_string()))?;
        let mut file = UsersFile::parse(&text).map_err(|error| file_error(error.to_string()))?;
        let user = file
            .users_mut()
            .iter_mut()
            .find(|user| user.username == username)
            .ok_or_else(|| file_error(format!("user {username} is not in the file")))?;
        user.password = EncodedHash::new(password_hash.to_owned());
        let yaml = file
            .to_yaml()
            .map_err(|error| file_error(error.to_string()))?;
        write_file_atomically(&self.path, yaml.as_bytes())
            .map_err(|error| file_error(format!("writing failed: {error}")))?;

        let (users, modified, length) = read_users_file(&self.path)?;
        if let Ok(mut state) = self.state.write() {
            *state = Arc::new(users);
        }
        if let Ok(mut stamp) = self.last_check.lock() {
            stamp.modified = modified;
            stamp.length = length;
        }
        tracing::info!(path = %self.path.display(), username, "wrote a new password hash to the users file");
        Ok(())
    }

    fn users(&self) -> Arc<Vec<UserProfile>> {
        match self.state.read() {
            Ok(users) => Arc::clone(&users),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Returns true at most once per [`FILE_CHECK_INTERVAL`]: when the file should be checked.
    fn check_due(&self) -> bool {
        let Ok(mut stamp) = self.last_check.lock() else {
            return false;
        };
        if stamp.checked_at.elapsed() < FILE_CHECK_INTERVAL {
            return false;
        }
        stamp.checked_at = Instant::now();
        true
    }

    /// Re-reads the file if its modification time or length changed. Blocking: call it from a
    /// blocking thread.
    fn reload_if_changed(&self) {
        let Ok(mut stamp) = self.last_check.lock() else {
            return;
        };
        let Ok(metadata) = std::fs::metadata(&self.path) else {
            tracing::error!(path = %self.path.display(), "cannot read the users file; keeping the users loaded before");
            return;
        };
        let modified = metadata.modified().ok();
        if modified == stamp.modified && metadata.len() == stamp.length {
            return;
        }
        match read_users_file(&self.path) {
            Ok((users, modified, length)) => {
                tracing::info!(path = %self.path.display(), users = users.len(), "reloaded the users file");
                if let Ok(mut state) = self.state.write() {
                    *state = Arc::new(users);
                }
                stamp.modified = modified;
                stamp.length = length;
            }
            Err(error) => {
                // Remember this version so the error is logged once, not on every request.
                stamp.modified = modified;
                stamp.length = metadata.len();
                tracing::error!(%error, "the changed users file is invalid; keeping the users loaded before");
            }
        }
    }

    fn names_match(&self, stored: &str, typed: &str) -> bool {
        if self.case_insensitive {
            normalize_username(stored) == normalize_username(typed)
        } else {
            stored == typed
        }
    }

    fn find_by_login(&self, login: &str) -> Result<Option<UserProfile>, DirectoryError> {
        let users = self.users();
        if let Some(user) = users
            .iter()
            .find(|user| self.names_match(&user.username, login))
        {
            return Ok(Some(user.clone()));
        }
        if self.search_email && login.contains('@') {
            let wanted = login.trim().to_lowercase();
            let found = users.iter().find(|user| {
                user.emails
                    .iter()
                    .any(|email| email.to_lowercase() == wanted)
            });
            return Ok(found.cloned());
        }
        Ok(None)
    }

    fn get(&self, username: &str) -> Result<Option<UserProfile>, DirectoryError> {
        Ok(self
            .users()
            .iter()
            .find(|user| self.names_match(&user.username, username))
            .cloned())
    }
}

fn read_users_file(
    path: &Path,
) -> Result<(Vec<UserProfile>, Option<SystemTime>, u64), DirectoryError> {
    let file_error = |reason: String| DirectoryError::File {
        path: path.to_path_buf(),
        reason,
    };
    let metadata = std::fs::metadata(path).map_err(|error| file_error(error.to_string()))?;
    let text = std::fs::read_to_string(path).map_err(|error| file_error(error.to_string()))?;
    let file =
        UsersFile::parse(&text).map_err(|error: UsersFileError| file_error(error.to_string()))?;
    let users = file.users().iter().map(profile_from_file).collect();
    Ok((users, metadata.modified().ok(), metadata.len()))
}

fn profile_from_file(user: &FileUser) -> UserProfile {
    UserProfile {
        username: user.username.clone(),
        display_name: user.display_name.clone(),
        emails: user.email.iter().cloned().collect(),
        groups: user.groups.clone(),
        disabled: user.disabled,
        password_version: password_version_of(user.password.expose()),
        password_hash: user.password.clone(),
    }
}

/// A users file has no version counter, so the version is derived from the hash itself: any
/// change of the hash changes it.
fn password_version_of(encoded_hash: &str) -> i64 {
    let digest = Sha256::digest(encoded_hash.as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{FileSearch, PasswordHashing};

    const HASH_A: &str = "$argon2id$v=19$m=256,t=2,p=1$MrDDXlJacjkyKWl3J3qjTw$f8hZBmeUafjsLKSo7VF5JUUmzAPd3y0fUfbwMZocHuA";
    const HASH_B: &str = "$argon2i$v=19$m=256,t=2,p=1$O9/LQ3Lqb1H6PfKE4V90hQ$WT9L70vYGYL98tLANBjbYWjrrfXAMtQn2YkM4GjIQus";

    fn users_yaml(display_name: &str, groups: &str, hash: &str) -> String {
        format!(
            "users:\n  Alice:\n    displayname: '{display_name}'\n    password: '{hash}'\n    email: alice@example.com\n    groups: {groups}\n"
        )
    }

    fn file_config(path: &Path, case_insensitive: bool, email: bool) -> FileBackendConfig {
        FileBackendConfig {
            path: path.to_path_buf(),
            watch: false,
            search: FileSearch {
                email,
                case_insensitive,
            },
            rehash: false,
            password: PasswordHashing::default(),
        }
    }

    /// Checks the file again at once instead of waiting a second, as a lookup would.
    fn expire_check(directory: &FileDirectory) {
        directory.last_check.lock().unwrap().checked_at = Instant::now() - FILE_CHECK_INTERVAL * 2;
        assert!(directory.check_due());
        directory.reload_if_changed();
    }

    #[test]
    fn file_names_compare_as_configured() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users.yml");
        std::fs::write(&path, users_yaml("Alice Example", "[dev]", HASH_A)).unwrap();

        let exact = FileDirectory::open(&file_config(&path, false, false)).unwrap();
        assert_eq!(
            exact.get("Alice").unwrap().map(|user| user.username),
            Some("Alice".to_owned())
        );
        assert!(exact.get("alice").unwrap().is_none());
        assert!(exact.find_by_login("alice@example.com").unwrap().is_none());

        let relaxed = FileDirectory::open(&file_config(&path, true, true)).unwrap();
        assert_eq!(
            relaxed.get("ALICE").unwrap().map(|user| user.username),
            Some("Alice".to_owned())
        );
        let by_email = relaxed.find_by_login("Alice@Example.com").unwrap();
        assert_eq!(by_email.map(|user| user.username), Some("Alice".to_owned()));
    }

    #[test]
    fn file_changes_are_seen_and_bad_versions_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users.yml");
        std::fs::write(&path, users_yaml("Alice Example", "[dev]", HASH_A)).unwrap();
        let directory = FileDirectory::open(&file_config(&path, false, false)).unwrap();
        let before = directory.get("Alice").unwrap().unwrap();
        assert_eq!(before.groups, vec!["dev".to_owned()]);

        std::fs::write(&path, users_yaml("Alice Example", "[ops, admins]", HASH_B)).unwrap();
        expire_check(&directory);
        let after = directory.get("Alice").unwrap().unwrap();
        assert_eq!(after.groups, vec!["ops".to_owned(), "admins".to_owned()]);
        assert_ne!(
            after.password_version, before.password_version,
            "a new hash is a new version"
        );

        std::fs::write(
            &path,
            users_yaml("Mallory\\r\\nRemote-Groups: admins", "[dev]", HASH_A).replace('\'', "\""),
        )
        .unwrap();
        expire_check(&directory);
        let kept = directory.get("Alice").unwrap().unwrap();
        assert_eq!(
            kept.groups,
            vec!["ops".to_owned(), "admins".to_owned()],
            "an invalid file keeps the previous users"
        );
    }

    #[test]
    fn invalid_file_at_start_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users.yml");
        std::fs::write(&path, "users:\n  bob:\n    displayname: 'Bob'\n").unwrap();
        let error = FileDirectory::open(&file_config(&path, false, false))
            .err()
            .expect("missing password is an error");
        let message = error.to_string();
        assert!(message.contains("users.bob.password"), "{message}");
    }

    #[test]
    fn password_version_follows_the_hash() {
        assert_eq!(password_version_of(HASH_A), password_version_of(HASH_A));
        assert_ne!(password_version_of(HASH_A), password_version_of(HASH_B));
    }
}
