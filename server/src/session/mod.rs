//! Login sessions: the session cookie of each cookie domain, the database row behind it, and
//! the checks every request runs on it.
//!
//! - A session id is 256 random bits from the operating system, sent as 43 characters of
//!   URL-safe base64. The store keeps only its SHA-256, so a copy of the database contains no
//!   usable cookie. A cookie value of any other shape is anonymous without a database read.
//! - Every rise of level issues a fresh id and deletes the old one in the same transaction.
//!   Logout deletes the row; clearing the cookie alone does not end a session.
//! - A row read from the database is reused for at most one second (`CACHE_LIFETIME`). Any
//!   change this process makes to the row, and any rights-reducing change made through this
//!   process's database handle (disable, password, groups, profile, deletion, import, ending
//!   sessions), drops the cached rows at once. A change made by another instance or by the
//!   command line is seen within one second.
//! - Times come from the server's [`Clock`](crate::clock::Clock), in milliseconds.
//! - Logs carry user names and outcomes, never session ids or cookie values.
//!
//! NOTE: `session.secret` is not used yet, so the `data` column (the cached display name,
//! e-mail addresses and groups) is stored as plain JSON rather than encrypted at rest.
//!
//! tower-sessions is not used. Its `SessionManagerLayer` (0.14) sets the cookie name and attributes
//! once, when the layer is built, while Gatehouse picks them per request from the matched cookie
//! domain. Its session data is an opaque record, while the forward-auth path needs typed columns
//! (level, times, user) and the admin side needs to find and change sessions by user. Rotation on a
//! level change must also be one transaction here. A `SessionStore` adapter for it would add a
//! second session model without taking over any of this work.

mod active;
pub(crate) mod cookie;
mod id;
mod store;
mod suspicion;

pub use active::{ActiveSession, Level};
pub use store::{
    record_handle, Resolution, SessionError, SessionStore, CACHE_LIFETIME, TOUCH_INTERVAL_MILLIS,
};
