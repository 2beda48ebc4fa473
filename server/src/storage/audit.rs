//! The audit log: an append-only record of security-relevant actions.

use super::{with_pool, Database, StorageError};

/// An event to append.
#[derive(Clone, Debug, PartialEq)]
pub struct NewAuditEvent {
    pub time: i64,
    /// Username of the acting user, or `None` for the system or an anonymous client.
    pub actor: Option<String>,
    /// Action name, such as `user.disabled` or `ban.revoked`.
    pub action: String,
    /// Target of the action, such as a username.
    pub subject: Option<String>,
    pub remote_ip: Option<String>,
    /// Further facts as a JSON value. Callers must not put secrets here.
    pub details: serde_json::Value,
}

/// A stored event.
#[derive(Clone, Debug, PartialEq)]
pub struct AuditEvent {
    pub id: i64,
    pub time: i64,
    pub actor: Option<String>,
    pub action: String,
    pub subject: Option<String>,
    pub remote_ip: Option<String>,
    pub details: serde_json::Value,
}

#[derive(sqlx::FromRow)]
struct AuditRow {
    id: i64,
    time: i64,
    actor: Option<String>,
    action: String,
    subject: Option<String>,
    remote_ip: Option<String>,
    details: String,
}

impl Database {
    /// Appends an event and returns its id.
    pub async fn append_audit_event(&self, event: &NewAuditEvent) -> Result<i64, StorageError> {
        let details = event.details.to_string();
        let id = with_pool!(self, pool => {
            sqlx::query_scalar(
                "INSERT INTO audit_events (time, actor, action, subject, remote_ip, details) \
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            )
            .bind(event.time)
            .bind(&event.actor)
            .bind(&event.action)
            .bind(&event.subject)
            .bind(&event.remote_ip)
            .bind(&details)
            .fetch_one(pool)
            .await
        })?;
        Ok(id)
    }

    /// Returns the newest events, newest first, at most `limit`.
    pub async fn recent_audit_events(&self, limit: u32) -> Result<Vec<AuditEvent>, StorageError> {
        let rows: Vec<AuditRow> = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT id, time, actor, action, subject, remote_ip, details FROM audit_events \
                 ORDER BY time DESC, id DESC LIMIT $1",
            )
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await
        })?;
        rows.into_iter()
            .map(|row| {
                let details = serde_json::from_str(&row.details).map_err(|error| {
                    StorageError::InvalidValue {
                        table: "audit_events",
                        column: "details",
                        reason: error.to_string(),
                    }
                })?;
                Ok(AuditEvent {
                    id: row.id,
                    time: row.time,
                    actor: row.actor,
                    action: row.action,
                    subject: row.subject,
                    remote_ip: row.remote_ip,
                    details,
                })
            })
            .collect()
    }
}
