//! Users and their passwords: hashing, verification, and validation of user data.
//!
//! Invariants:
//! - Gatehouse writes only Argon2 hashes. It verifies the older formats an Authelia users file
//!   may hold, comparing derived keys in constant time.
//! - Hashing runs on [`pool::HashingPool`], never on the async runtime, with a bounded queue.
//!   An unknown user is verified against a dummy hash, so the work matches a wrong password.
//! - Passwords and hashes never appear in `Debug` output, error messages or logs.
//! - Usernames, display names, e-mail addresses and group names are validated where they enter,
//!   because they are sent in response headers.

pub mod atomic_write;
pub mod directory;
pub mod hashing;
mod legacy;
pub mod names;
pub mod password_policy;
pub mod pool;
pub mod regulation;
pub mod remote;
pub mod secret;
pub mod users_file;

#[cfg(test)]
mod test_vectors;
