//! Gatehouse: a forward-auth server for reverse proxies and its login portal.
//!
//! The binary in `main.rs` is a thin command-line front over these modules.

#![forbid(unsafe_code)]

pub mod access;
pub mod cli;
pub mod clock;
pub mod config;
pub mod domain;
pub mod forward_auth;
pub mod housekeeping;
pub mod http;
pub mod identity;
pub mod notify;
pub mod pages;
pub mod portal;
pub mod redirect;
pub mod serve;
pub mod services;
pub mod session;
pub mod storage;
pub mod telemetry;
