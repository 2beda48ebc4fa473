//! Users, groups and memberships of the database backend.
//!
//! Every change that reduces a user's rights ends or marks their sessions in the same transaction,
//! so no request can see the old rights after the change commits.

use std::collections::{BTreeSet, HashMap};
use std::fmt;

use super::tokens::RESET_PASSWORD_PURPOSE;
use super::{execute, in_transaction, with_pool, Database, StorageError};

/// A user's directory entry as an administrator or a users file supplies it.
#[derive(Clone, PartialEq, Eq)]
pub struct UserRecord {
    /// Lower-cased by the caller (user names are case-insensitive in the database backend).
    pub username: String,
    pub display_name: String,
    pub email: Option<String>,
    /// A PHC-format or crypt-format hash; never a plain password.
    pub password_hash: String,
    pub disabled: bool,
    /// Group names, case-sensitive; duplicates are ignored.
    pub groups: Vec<String>,
}

/// A stored user.
#[derive(Clone, PartialEq, Eq)]
pub struct User {
    pub username: String,
    pub display_name: String,
    pub email: Option<String>,
    pub password_hash: String,
    /// Starts at 1 and grows by one on every password change; caches of verified credentials
    /// compare it to notice a change made by any instance.
    pub password_version: i64,
    pub disabled: bool,
    pub preferred_2fa_method: Option<String>,
    /// Sorted by byte order, without duplicates.
    pub groups: Vec<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Counts of users an import created, updated and left unchanged.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ImportCounts {
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
}

#[derive(sqlx::FromRow)]
struct UserRow {
    username: String,
    display_name: String,
    email: Option<String>,
    password_hash: String,
    password_version: i64,
    disabled: bool,
    preferred_2fa_method: Option<String>,
    created_at: i64,
    updated_at: i64,
}

impl UserRow {
    fn into_user(self, groups: Vec<String>) -> User {
        User {
            username: self.username,
            display_name: self.display_name,
            email: self.email,
            password_hash: self.password_hash,
            password_version: self.password_version,
            disabled: self.disabled,
            preferred_2fa_method: self.preferred_2fa_method,
            groups,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

macro_rules! select_users {
    () => {
        "SELECT username, display_name, email, password_hash, password_version, disabled, \
         preferred_2fa_method, created_at, updated_at FROM users"
    };
}

const SELECT_GROUPS_OF_USER: &str = "SELECT group_name FROM user_groups WHERE username = $1";
const DELETE_SESSIONS_OF_USER: &str = "DELETE FROM sessions WHERE username = $1";
/// Deletes the user's sessions but the one whose id hash is `$2` (no session has the hash "").
const DELETE_SESSIONS_OF_USER_EXCEPT: &str =
    "DELETE FROM sessions WHERE username = $1 AND id_hash <> $2";
/// Sets the profile refresh time to 0 so that the next request reloads the user.
const MARK_SESSIONS_FOR_REFRESH: &str =
    "UPDATE sessions SET profile_refreshed_at = 0 WHERE username = $1";
const INSERT_GROUP: &str =
    "INSERT INTO groups (name, created_at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING";
const INSERT_MEMBERSHIP: &str = "INSERT INTO user_groups (username, group_name) VALUES ($1, $2)";
const DELETE_MEMBERSHIPS: &str = "DELETE FROM user_groups WHERE username = $1";
const INSERT_USER: &str = "INSERT INTO users (username, display_name, email, password_hash, \
     password_version, disabled, created_at, updated_at) VALUES ($1, $2, $3, $4, 1, $5, $6, $6)";

/// Replaces the memberships of `$username` with `$groups` (sorted, without duplicates),
/// creating missing groups, on the transaction's connection.
macro_rules! replace_memberships {
    ($connection:expr, $username:expr, $groups:expr, $now:expr) => {{
        sqlx::query(DELETE_MEMBERSHIPS)
            .bind($username)
            .execute(&mut *$connection)
            .await?;
        for group in $groups {
            sqlx::query(INSERT_GROUP)
                .bind(group)
                .bind($now)
                .execute(&mut *$connection)
                .await?;
            sqlx::query(INSERT_MEMBERSHIP)
                .bind($username)
                .bind(group)
                .execute(&mut *$connection)
                .await?;
        }
    }};
}

/// Reads one user and their groups on `$connection`.
macro_rules! fetch_user {
    ($connection:expr, $username:expr) => {{
        let row: Option<UserRow> = sqlx::query_as(concat!(select_users!(), " WHERE username = $1"))
            .bind($username)
            .fetch_optional(&mut *$connection)
            .await?;
        match row {
            Some(row) => {
                let groups: Vec<String> = sqlx::query_scalar(SELECT_GROUPS_OF_USER)
                    .bind($username)
                    .fetch_all(&mut *$connection)
                    .await?;
                Some(row.into_user(normalize_groups(&groups)))
            }
            None => None,
        }
    }};
}

impl Database {
    /// Creates a user with their groups. A taken username or e-mail address gives
    /// [`StorageError::DuplicateUsername`] or [`StorageError::DuplicateEmail`].
    pub async fn create_user(&self, record: &UserRecord, now: i64) -> Result<User, StorageError> {
        let groups = normalize_groups(&record.groups);
        in_transaction!(self, connection => {
            let inserted = sqlx::query(INSERT_USER)
                .bind(&record.username)
                .bind(&record.display_name)
                .bind(&record.email)
                .bind(&record.password_hash)
                .bind(record.disabled)
                .bind(now)
                .execute(&mut *connection)
                .await;
            inserted.map_err(|error| {
                duplicate_user_error(error, &record.username, record.email.as_deref())
            })?;
            replace_memberships!(connection, &record.username, &groups, now);
        });
        Ok(User {
            username: record.username.clone(),
            display_name: record.display_name.clone(),
            email: record.email.clone(),
            password_hash: record.password_hash.clone(),
            password_version: 1,
            disabled: record.disabled,
            preferred_2fa_method: None,
            groups,
            created_at: now,
            updated_at: now,
        })
    }

    /// Returns the user with this (lower-cased) username.
    pub async fn get_user(&self, username: &str) -> Result<Option<User>, StorageError> {
        let user = with_pool!(self, pool => {
            let mut connection = pool.acquire().await?;
            fetch_user!(connection, username)
        });
        Ok(user)
    }

    /// Returns the user with this e-mail address, compared exactly as stored.
    pub async fn get_user_by_email(&self, email: &str) -> Result<Option<User>, StorageError> {
        let username: Option<String> = with_pool!(self, pool => {
            sqlx::query_scalar("SELECT username FROM users WHERE email = $1")
                .bind(email)
                .fetch_optional(pool)
                .await
        })?;
        match username {
            Some(username) => self.get_user(&username).await,
            None => Ok(None),
        }
    }

    /// Returns every user with their groups, sorted by username.
    pub async fn list_users(&self) -> Result<Vec<User>, StorageError> {
        let (rows, memberships) = with_pool!(self, pool => {
            let rows: Vec<UserRow> = sqlx::query_as(select_users!()).fetch_all(pool).await?;
            let memberships: Vec<(String, String)> =
                sqlx::query_as("SELECT username, group_name FROM user_groups")
                    .fetch_all(pool)
                    .await?;
            (rows, memberships)
        });
        let mut groups_by_user: HashMap<String, Vec<String>> = HashMap::new();
        for (username, group) in memberships {
            groups_by_user.entry(username).or_default().push(group);
        }
        let mut users: Vec<User> = rows
            .into_iter()
            .map(|row| {
                let groups = groups_by_user.remove(&row.username).unwrap_or_default();
                row.into_user(normalize_groups(&groups))
            })
            .collect();
        users.sort_by(|left, right| left.username.cmp(&right.username));
        Ok(users)
    }

    /// Returns the names of all groups, sorted by byte order.
    pub async fn list_groups(&self) -> Result<Vec<String>, StorageError> {
        let mut groups: Vec<String> = with_pool!(self, pool => {
            sqlx::query_scalar("SELECT name FROM groups").fetch_all(pool).await
        })?;
        groups.sort();
        Ok(groups)
    }

    /// Stores a new password hash, increments the password version and ends every session of the
    /// user, in one transaction. Returns the new password version.
    pub async fn set_password_hash(
        &self,
        username: &str,
        password_hash: &str,
        now: i64,
    ) -> Result<i64, StorageError> {
        self.set_password_hash_keeping_session(username, password_hash, now, None)
            .await
    }

    /// Like [`Database::set_password_hash`], but keeps the session whose id hashes to
    /// `keep_session`, so a user who changes their own password stays logged in there.
    pub async fn set_password_hash_keeping_session(
        &self,
        username: &str,
        password_hash: &str,
        now: i64,
        keep_session: Option<&str>,
    ) -> Result<i64, StorageError> {
        let _changed = self.change_guard();
        in_transaction!(self, connection => {
            let version: Option<i64> = sqlx::query_scalar(
                "UPDATE users SET password_hash = $2, password_version = password_version + 1, \
                 updated_at = $3 WHERE username = $1 RETURNING password_version",
            )
            .bind(username)
            .bind(password_hash)
            .bind(now)
            .fetch_optional(&mut *connection)
            .await?;
            let Some(version) = version else {
                return Err(StorageError::UserNotFound(username.to_string()));
            };
            sqlx::query(DELETE_SESSIONS_OF_USER_EXCEPT)
                .bind(username)
                .bind(keep_session.unwrap_or(""))
                .execute(&mut *connection)
                .await?;
            // A reset link made for the old password, such as the first-start link printed for
            // `admin`, must not outlive a password set another way.
            sqlx::query(
                "UPDATE one_time_tokens SET revoked_at = $3 WHERE username = $1 AND purpose = $2 \
                 AND consumed_at IS NULL AND revoked_at IS NULL",
            )
            .bind(username)
            .bind(RESET_PASSWORD_PURPOSE)
            .bind(now)
            .execute(&mut *connection)
            .await?;
            Ok(version)
        })
    }

    /// Enables or disables a user; disabling ends every session of the user in the same
    /// transaction.
    pub async fn set_user_disabled(
        &self,
        username: &str,
        disabled: bool,
        now: i64,
    ) -> Result<(), StorageError> {
        let _changed = self.change_guard();
        in_transaction!(self, connection => {
            let updated = sqlx::query(
                "UPDATE users SET disabled = $2, updated_at = $3 WHERE username = $1",
            )
                .bind(username)
                .bind(disabled)
                .bind(now)
                .execute(&mut *connection)
                .await?;
            if updated.rows_affected() == 0 {
                return Err(StorageError::UserNotFound(username.to_string()));
            }
            if disabled {
                sqlx::query(DELETE_SESSIONS_OF_USER)
                    .bind(username)
                    .execute(&mut *connection)
                    .await?;
            }
        });
        Ok(())
    }

    /// Replaces the user's group memberships and marks their sessions for a profile refresh on
    /// the next request, in one transaction.
    pub async fn set_user_groups(
        &self,
        username: &str,
        groups: &[String],
        now: i64,
    ) -> Result<(), StorageError> {
        let _changed = self.change_guard();
        let groups = normalize_groups(groups);
        in_transaction!(self, connection => {
            let updated = sqlx::query("UPDATE users SET updated_at = $2 WHERE username = $1")
                .bind(username)
                .bind(now)
                .execute(&mut *connection)
                .await?;
            if updated.rows_affected() == 0 {
                return Err(StorageError::UserNotFound(username.to_string()));
            }
            replace_memberships!(connection, username, &groups, now);
            sqlx::query(MARK_SESSIONS_FOR_REFRESH)
                .bind(username)
                .execute(&mut *connection)
                .await?;
        });
        Ok(())
    }

    /// Changes the display name and e-mail address and marks the user's sessions for a profile
    /// refresh, in one transaction.
    pub async fn update_user_profile(
        &self,
        username: &str,
        display_name: &str,
        email: Option<&str>,
        now: i64,
    ) -> Result<(), StorageError> {
        let _changed = self.change_guard();
        in_transaction!(self, connection => {
            let updated = sqlx::query(
                "UPDATE users SET display_name = $2, email = $3, updated_at = $4 \
                 WHERE username = $1",
            )
            .bind(username)
            .bind(display_name)
            .bind(email)
            .bind(now)
            .execute(&mut *connection)
            .await
            .map_err(|error| duplicate_user_error(error, username, email))?;
            if updated.rows_affected() == 0 {
                return Err(StorageError::UserNotFound(username.to_string()));
            }
            sqlx::query(MARK_SESSIONS_FOR_REFRESH)
                .bind(username)
                .execute(&mut *connection)
                .await?;
        });
        Ok(())
    }

    /// Replaces the user's password hash with a new hash of the same password, written with the
    /// current algorithm, if the stored hash is still `old_hash`. Returns whether it did. The
    /// password version and the user's sessions stay as they are, because the password itself
    /// did not change.
    pub async fn rehash_password(
        &self,
        username: &str,
        old_hash: &str,
        new_hash: &str,
        now: i64,
    ) -> Result<bool, StorageError> {
        let updated = execute!(self, {
            sqlx::query(
                "UPDATE users SET password_hash = $3, updated_at = $4 \
                 WHERE username = $1 AND password_hash = $2",
            )
            .bind(username)
            .bind(old_hash)
            .bind(new_hash)
            .bind(now)
        })?;
        Ok(updated == 1)
    }

    /// Stores the second-factor method the user prefers (`None` for no preference).
    pub async fn set_preferred_2fa_method(
        &self,
        username: &str,
        method: Option<&str>,
        now: i64,
    ) -> Result<(), StorageError> {
        let updated = execute!(self, {
            sqlx::query(
                "UPDATE users SET preferred_2fa_method = $2, updated_at = $3 WHERE username = $1",
            )
            .bind(username)
            .bind(method)
            .bind(now)
        })?;
        if updated == 0 {
            return Err(StorageError::UserNotFound(username.to_string()));
        }
        Ok(())
    }

    /// Deletes a user with their memberships, sessions, second factors and one-time tokens, in
    /// one transaction, so that a later user of the same name inherits none of them. Attempts,
    /// bans and audit events are kept as history. Returns whether the user existed.
    pub async fn delete_user(&self, username: &str) -> Result<bool, StorageError> {
        let _changed = self.change_guard();
        in_transaction!(self, connection => {
            for statement in [
                DELETE_SESSIONS_OF_USER,
                "DELETE FROM totp_configurations WHERE username = $1",
                "DELETE FROM webauthn_credentials WHERE username = $1",
                "DELETE FROM webauthn_user_handles WHERE username = $1",
                "DELETE FROM one_time_tokens WHERE username = $1",
                DELETE_MEMBERSHIPS,
            ] {
                sqlx::query(statement)
                    .bind(username)
                    .execute(&mut *connection)
                    .await?;
            }
            let deleted = sqlx::query("DELETE FROM users WHERE username = $1")
                .bind(username)
                .execute(&mut *connection)
                .await?;
            Ok(deleted.rows_affected() > 0)
        })
    }

    /// Applies a whole users file in one transaction: creates missing users and updates changed
    /// ones. Users that are not in `records` are left as they are. A user whose password hash or
    /// disabled flag changes loses their sessions. A changed password hash also increments the
    /// password version. Other changes mark the sessions for a profile refresh. Importing the
    /// same records again reports every user unchanged.
    pub async fn import_users(
        &self,
        records: &[UserRecord],
        now: i64,
    ) -> Result<ImportCounts, StorageError> {
        let _changed = self.change_guard();
        in_transaction!(self, connection => {
            let mut counts = ImportCounts::default();
            let mut updates: Vec<(&UserRecord, Vec<String>, User)> = Vec::new();

            for record in records {
                let groups = normalize_groups(&record.groups);
                match fetch_user!(connection, &record.username) {
                    None => {
                        sqlx::query(INSERT_USER)
                            .bind(&record.username)
                            .bind(&record.display_name)
                            .bind(&record.email)
                            .bind(&record.password_hash)
                            .bind(record.disabled)
                            .bind(now)
                            .execute(&mut *connection)
                            .await
                            .map_err(|error| {
                                let email = record.email.as_deref();
                                duplicate_user_error(error, &record.username, email)
                            })?;
                        replace_memberships!(connection, &record.username, &groups, now);
                        counts.created += 1;
                    }
                    Some(existing) => {
                        let unchanged = existing.display_name == record.display_name
                            && existing.email == record.email
                            && existing.password_hash == record.password_hash
                            && existing.disabled == record.disabled
                            && existing.groups == groups;
                        if unchanged {
                            counts.unchanged += 1;
                        } else {
                            updates.push((record, groups, existing));
                        }
                    }
                }
            }

            // Clear the changing addresses first, so that two users may swap addresses in one
            // file without tripping the unique index halfway.
            for (record, _, existing) in &updates {
                if existing.email != record.email {
                    sqlx::query("UPDATE users SET email = NULL WHERE username = $1")
                        .bind(&record.username)
                        .execute(&mut *connection)
                        .await?;
                }
            }

            for (record, groups, existing) in &updates {
                let password_changed = existing.password_hash != record.password_hash;
                let disabled_changed = existing.disabled != record.disabled;
                sqlx::query(
                    "UPDATE users SET display_name = $2, email = $3, password_hash = $4, \
                     disabled = $5, password_version = password_version + $6, updated_at = $7 \
                     WHERE username = $1",
                )
                .bind(&record.username)
                .bind(&record.display_name)
                .bind(&record.email)
                .bind(&record.password_hash)
                .bind(record.disabled)
                .bind(i64::from(password_changed))
                .bind(now)
                .execute(&mut *connection)
                .await
                .map_err(|error| {
                    duplicate_user_error(error, &record.username, record.email.as_deref())
                })?;
                if existing.groups != *groups {
                    replace_memberships!(connection, &record.username, groups, now);
                }
                let statement = if password_changed || disabled_changed {
                    DELETE_SESSIONS_OF_USER
                } else {
                    MARK_SESSIONS_FOR_REFRESH
                };
                sqlx::query(statement)
                    .bind(&record.username)
                    .execute(&mut *connection)
                    .await?;
                counts.updated += 1;
            }
            Ok(counts)
        })
    }
}

/// Sorts group names by byte order and drops duplicates, so both databases (whose collations
/// differ) give the same order.
fn normalize_groups(groups: &[String]) -> Vec<String> {
    groups
        .iter()
        .cloned()
        .collect::<BTreeSet<String>>()
        .into_iter()
        .collect()
}

/// Turns a unique violation on the users table into the typed error naming the value.
fn duplicate_user_error(error: sqlx::Error, username: &str, email: Option<&str>) -> StorageError {
    match super::error::unique_violation(&error) {
        Some(database_error) if super::error::violation_mentions(database_error, "email") => {
            StorageError::DuplicateEmail(email.unwrap_or_default().to_string())
        }
        Some(_) => StorageError::DuplicateUsername(username.to_string()),
        None => StorageError::Database(error),
    }
}

impl fmt::Debug for UserRecord {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("UserRecord")
            .field("username", &self.username)
            .field("display_name", &self.display_name)
            .field("email", &self.email)
            .field("password_hash", &"<redacted>")
            .field("disabled", &self.disabled)
            .field("groups", &self.groups)
            .finish()
    }
}

impl fmt::Debug for User {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("User")
            .field("username", &self.username)
            .field("display_name", &self.display_name)
            .field("email", &self.email)
            .field("password_hash", &"<redacted>")
            .field("password_version", &self.password_version)
            .field("disabled", &self.disabled)
            .field("preferred_2fa_method", &self.preferred_2fa_method)
            .field("groups", &self.groups)
            .field("created_at", &self.created_at)
            .field("updated_at", &self.updated_at)
            .finish()
    }
}
