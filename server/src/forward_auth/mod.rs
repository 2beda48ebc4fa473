//! The forward-auth path: turning an authz request from a reverse proxy into a decision.

pub mod basic;
pub mod client_ip;
pub mod escape;
pub mod rate_limit;
pub mod target;
