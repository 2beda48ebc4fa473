//! Authentication levels and the checked session a request carries.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::identity::directory::UserProfile;
use crate::identity::remote::RemoteIdentity;
use crate::storage::SessionRecord;

/// How far a session has authenticated. Levels compare in order, so a rule that needs
/// `OneFactor` is met by `TwoFactor`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Level {
    Anonymous = 0,
    OneFactor = 1,
    TwoFactor = 2,
}

impl Level {
    /// Returns the level for its stored number (`authentication_level` in `/api/state`).
    pub fn from_number(number: u8) -> Option<Level> {
        match number {
            0 => Some(Level::Anonymous),
            1 => Some(Level::OneFactor),
            2 => Some(Level::TwoFactor),
            _ => None,
        }
    }

    /// Returns the stored number: 0, 1 or 2.
    pub fn number(self) -> u8 {
        self as u8
    }
}

impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Level::Anonymous => "anonymous",
            Level::OneFactor => "one_factor",
            Level::TwoFactor => "two_factor",
        })
    }
}

/// The user's profile as last read from the directory, kept in the session's `data` column
/// under these keys beside any other extras.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct CachedProfile {
    #[serde(default)]
    pub(crate) display_name: String,
    #[serde(default)]
    pub(crate) emails: Vec<String>,
    #[serde(default)]
    pub(crate) groups: Vec<String>,
}

impl CachedProfile {
    pub(crate) fn from_profile(profile: &UserProfile) -> CachedProfile {
        CachedProfile {
            display_name: profile.display_name.clone(),
            emails: profile.emails.clone(),
            groups: profile.groups.clone(),
        }
    }
}

/// A session that passed every check of the current request, at level one or two. Only
/// [`SessionStore`](super::SessionStore) makes one. `Debug` leaves out the id hash.
#[derive(Clone)]
pub struct ActiveSession {
    pub(crate) id_hash: String,
    pub(crate) username: String,
    pub(crate) level: Level,
    pub(crate) cookie_domain: String,
    pub(crate) remember_me: bool,
    pub(crate) first_factor_at: i64,
    pub(crate) second_factor_at: Option<i64>,
    pub(crate) created_at: i64,
    pub(crate) last_activity_at: i64,
    pub(crate) profile_refreshed_at: i64,
    pub(crate) elevated_until: Option<i64>,
    pub(crate) elevated_ip: Option<String>,
    pub(crate) profile: CachedProfile,
    /// The user name and profile as the authz endpoints send them, rebuilt with the profile.
    pub(crate) remote: Arc<RemoteIdentity>,
    /// The whole `data` object, so that extras other modules store there survive a profile
    /// update or an id rotation.
    pub(crate) data: serde_json::Value,
}

/// Reason a stored row cannot be an active session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InvalidRecord {
    /// Level 0: this module never stores anonymous sessions.
    Anonymous,
    /// A level without a user name.
    MissingUsername,
    /// The `data` column is not an object with a valid profile.
    InvalidProfile,
}

impl InvalidRecord {
    pub(crate) fn reason(self) -> &'static str {
        match self {
            InvalidRecord::Anonymous => "a stored session has level 0",
            InvalidRecord::MissingUsername => "a stored session has a level but no user name",
            InvalidRecord::InvalidProfile => "a stored session has an invalid profile in its data",
        }
    }
}

impl ActiveSession {
    /// Builds the session from its row. A row without a first-factor time counts from its
    /// creation, as the store's housekeeping does.
    pub(crate) fn from_record(record: SessionRecord) -> Result<ActiveSession, InvalidRecord> {
        let level = Level::from_number(record.level).unwrap_or(Level::Anonymous);
        let username = record.username.ok_or(InvalidRecord::MissingUsername)?;
        if level == Level::Anonymous {
            return Err(InvalidRecord::Anonymous);
        }
        if !record.data.is_object() {
            return Err(InvalidRecord::InvalidProfile);
        }
        let profile =
            CachedProfile::deserialize(&record.data).map_err(|_| InvalidRecord::InvalidProfile)?;
        let remote = remote_identity(&username, &profile);
        Ok(ActiveSession {
            id_hash: record.id_hash,
            username,
            level,
            cookie_domain: record.cookie_domain,
            remember_me: record.remember_me,
            first_factor_at: record.first_factor_at.unwrap_or(record.created_at),
            second_factor_at: record.second_factor_at,
            created_at: record.created_at,
            last_activity_at: record.last_activity_at,
            profile_refreshed_at: record.profile_refreshed_at,
            elevated_until: record.elevated_until,
            elevated_ip: record.elevated_ip,
            profile,
            remote,
            data: record.data,
        })
    }

    /// Returns the row for this session under `id_hash`.
    pub(crate) fn to_record(&self, id_hash: &str) -> SessionRecord {
        SessionRecord {
            id_hash: id_hash.to_owned(),
            username: Some(self.username.clone()),
            cookie_domain: self.cookie_domain.clone(),
            level: self.level.number(),
            remember_me: self.remember_me,
            first_factor_at: Some(self.first_factor_at),
            second_factor_at: self.second_factor_at,
            created_at: self.created_at,
            last_activity_at: self.last_activity_at,
            profile_refreshed_at: self.profile_refreshed_at,
            elevated_until: self.elevated_until,
            elevated_ip: self.elevated_ip.clone(),
            data: self.data.clone(),
        }
    }

    /// Replaces the cached profile, in memory only; returns whether anything changed.
    pub(crate) fn apply_profile(&mut self, profile: CachedProfile) -> bool {
        if self.profile == profile {
            return false;
        }
        self.data = merge_profile(&self.data, &profile);
        self.remote = remote_identity(&self.username, &profile);
        self.profile = profile;
        true
    }

    /// Returns the canonical user name, as the directory returned it at login.
    pub fn username(&self) -> &str {
        &self.username
    }

    /// Returns the authentication level.
    pub fn level(&self) -> Level {
        self.level
    }

    /// Returns the display name as of the last profile refresh.
    pub fn display_name(&self) -> &str {
        &self.profile.display_name
    }

    /// Returns the e-mail addresses. The first one is sent as `Remote-Email`.
    pub fn emails(&self) -> &[String] {
        &self.profile.emails
    }

    /// Returns the groups as of the last profile refresh.
    pub fn groups(&self) -> &[String] {
        &self.profile.groups
    }

    /// Returns the identity the authz endpoints send for this session, shared, so that
    /// responding to a request does not copy the profile.
    pub fn remote_identity(&self) -> &Arc<RemoteIdentity> {
        &self.remote
    }

    /// Checks whether the user chose "remember me" at login and the cookie domain allowed it
    /// then.
    pub fn remember_me(&self) -> bool {
        self.remember_me
    }

    /// Returns the cookie domain the session was created under.
    pub fn cookie_domain(&self) -> &str {
        &self.cookie_domain
    }

    /// Returns the time of the first-factor login, in milliseconds since the Unix epoch.
    pub fn first_factor_at(&self) -> i64 {
        self.first_factor_at
    }

    /// Returns the time the second factor was completed, in milliseconds since the Unix epoch.
    pub fn second_factor_at(&self) -> Option<i64> {
        self.second_factor_at
    }

    /// Returns the time of the last recorded request, in milliseconds since the Unix epoch. The
    /// store writes it at most once per [`TOUCH_INTERVAL_MILLIS`](super::TOUCH_INTERVAL_MILLIS),
    /// so it may lag by that much.
    pub fn last_activity_at(&self) -> i64 {
        self.last_activity_at
    }

    /// Returns the end of the elevation for sensitive actions, in milliseconds since the Unix
    /// epoch.
    pub fn elevated_until(&self) -> Option<i64> {
        self.elevated_until
    }

    /// Returns the client IP address the elevation is bound to.
    pub fn elevated_ip(&self) -> Option<&str> {
        self.elevated_ip.as_deref()
    }

    /// Returns the session's public handle, which names it in the user's list of sessions. It is
    /// random and unrelated to the session id, so showing it reveals nothing about the cookie.
    /// Sessions stored before handles existed have none.
    pub fn handle(&self) -> Option<&str> {
        self.data
            .get(super::store::HANDLE_KEY)
            .and_then(|value| value.as_str())
    }

    /// Returns the value stored under `key` in the session's data object.
    pub fn data_value(&self, key: &str) -> Option<&serde_json::Value> {
        self.data.get(key)
    }

    /// Checks whether the session is elevated at `now` for a request from `client_ip`.
    pub fn is_elevated(&self, now: i64, client_ip: &str) -> bool {
        let unexpired = self.elevated_until.is_some_and(|until| now < until);
        unexpired && self.elevated_ip.as_deref() == Some(client_ip)
    }
}

impl std::fmt::Debug for ActiveSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActiveSession")
            .field("username", &self.username)
            .field("level", &self.level)
            .field("cookie_domain", &self.cookie_domain)
            .field("groups", &self.profile.groups)
            .field("remember_me", &self.remember_me)
            .field("first_factor_at", &self.first_factor_at)
            .field("second_factor_at", &self.second_factor_at)
            .field("last_activity_at", &self.last_activity_at)
            .field("elevated_until", &self.elevated_until)
            .finish_non_exhaustive()
    }
}

pub(crate) fn remote_identity(username: &str, profile: &CachedProfile) -> Arc<RemoteIdentity> {
    Arc::new(RemoteIdentity::new(
        username,
        &profile.display_name,
        &profile.emails,
        &profile.groups,
    ))
}

/// Returns `data` with the profile keys replaced and every other key kept.
pub(crate) fn merge_profile(
    data: &serde_json::Value,
    profile: &CachedProfile,
) -> serde_json::Value {
    let mut merged = match data {
        serde_json::Value::Object(map) => map.clone(),
        _ => serde_json::Map::new(),
    };
    if let Ok(serde_json::Value::Object(profile)) = serde_json::to_value(profile) {
        merged.extend(profile);
    }
    serde_json::Value::Object(merged)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(level: u8, username: Option<&str>, data: serde_json::Value) -> SessionRecord {
        SessionRecord {
            id_hash: "5e55e55e".to_owned(),
            username: username.map(str::to_owned),
            cookie_domain: "example.com".to_owned(),
            level,
            remember_me: false,
            first_factor_at: None,
            second_factor_at: None,
            created_at: 5,
            last_activity_at: 6,
            profile_refreshed_at: 7,
            elevated_until: None,
            elevated_ip: None,
            data,
        }
    }

    #[test]
    fn levels_compare_in_order() {
        assert!(Level::TwoFactor > Level::OneFactor);
        assert!(Level::OneFactor > Level::Anonymous);
        assert_eq!(Level::from_number(2), Some(Level::TwoFactor));
        assert_eq!(Level::from_number(3), None);
        assert_eq!(Level::OneFactor.number(), 1);
    }

    #[test]
    fn record_without_username_is_invalid() {
        let error = ActiveSession::from_record(record(1, None, serde_json::json!({}))).unwrap_err();
        assert_eq!(error, InvalidRecord::MissingUsername);
    }

    #[test]
    fn anonymous_record_is_invalid() {
        let error = ActiveSession::from_record(record(0, Some("alice"), serde_json::json!({})))
            .unwrap_err();
        assert_eq!(error, InvalidRecord::Anonymous);
    }

    #[test]
    fn record_with_bad_profile_is_invalid() {
        for data in [
            serde_json::json!([]),
            serde_json::json!({ "groups": "dev" }),
        ] {
            let error = ActiveSession::from_record(record(1, Some("alice"), data)).unwrap_err();
            assert_eq!(error, InvalidRecord::InvalidProfile);
        }
    }

    #[test]
    fn record_reads_profile_and_falls_back_to_creation() {
        let data = serde_json::json!({ "groups": ["dev"], "display_name": "Alice", "other": 1 });
        let session = ActiveSession::from_record(record(1, Some("alice"), data)).unwrap();
        assert_eq!(session.groups(), ["dev".to_owned()]);
        assert_eq!(session.display_name(), "Alice");
        assert!(session.emails().is_empty());
        assert_eq!(session.first_factor_at(), 5);
    }

    #[test]
    fn profile_update_keeps_other_data() {
        let data = serde_json::json!({ "groups": ["dev"], "other": 1 });
        let mut session = ActiveSession::from_record(record(1, Some("alice"), data)).unwrap();
        let changed = session.apply_profile(CachedProfile {
            display_name: "Alice".to_owned(),
            emails: vec!["alice@example.com".to_owned()],
            groups: vec!["ops".to_owned()],
        });
        assert!(changed);
        assert_eq!(session.data["other"], 1);
        assert_eq!(session.data["groups"], serde_json::json!(["ops"]));
        assert_eq!(
            session.data["emails"],
            serde_json::json!(["alice@example.com"])
        );
        assert_eq!(session.remote_identity().groups(), ["ops".to_owned()]);
        let unchanged = session.apply_profile(session.profile.clone());
        assert!(!unchanged);
    }

    #[test]
    fn elevation_needs_time_and_address() {
        let mut session =
            ActiveSession::from_record(record(1, Some("alice"), serde_json::json!({}))).unwrap();
        assert!(!session.is_elevated(10, "192.0.2.1"));
        session.elevated_until = Some(100);
        session.elevated_ip = Some("192.0.2.1".to_owned());
        assert!(session.is_elevated(10, "192.0.2.1"));
        assert!(!session.is_elevated(10, "192.0.2.2"));
        assert!(!session.is_elevated(100, "192.0.2.1"));
    }

    #[test]
    fn debug_leaves_out_the_id_hash() {
        let session =
            ActiveSession::from_record(record(1, Some("alice"), serde_json::json!({}))).unwrap();
        let printed = format!("{session:?}");
        assert!(printed.contains("alice"));
        assert!(!printed.contains("5e55e55e"));
    }
}
