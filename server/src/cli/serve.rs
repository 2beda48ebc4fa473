//! `gatehouse serve`: loads everything, prepares the embedded default on first start, and serves.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use leptos::prelude::LeptosOptions;
use tokio::net::TcpListener;

use crate::clock::Clock;
use crate::config::Config;
use crate::http;
use crate::identity::hashing::hash_password;
use crate::identity::names::normalize_username;
use crate::portal::one_time;
use crate::serve::{self as listener, ListenSettings};
use crate::services::Services;
use crate::storage::{Database, NewOneTimeToken, UserRecord};

use super::context::{self, ConfigSource};
use super::{embedded, CliError};

/// The first administrator of the embedded default.
const FIRST_ADMIN: &str = "admin";
/// How long the printed link to set the first administrator's password stays valid.
const FIRST_ADMIN_LINK_LIFETIME_MILLIS: i64 = 60 * 60 * 1000;
/// The `meta` key that holds the first administrator's password version at creation: while the
/// user still has that version, no one has set a known password.
const FIRST_ADMIN_VERSION_KEY: &str = "first_admin_unset_password_version";

/// Runs the server until SIGTERM or Ctrl-C.
pub async fn run(source: &ConfigSource) -> Result<(), CliError> {
    let loaded = source.load()?;
    let config = loaded.config;
    crate::telemetry::init(&config.log).map_err(CliError::new)?;
    for warning in &loaded.warnings {
        tracing::warn!(key = %warning.path, "configuration: {}", warning.message);
    }

    let db = context::open_database(&config).await?;
    tracing::info!(database = %context::database_options(&config).location(), "database ready");
    let clock = Clock::System;
    if source.is_embedded() {
        prepare_first_admin(&db, &config, &clock).await?;
    }

    let address = listen_address(&config);
    let leptos = leptos_options(address)?;
    let header_limit = config.server.buffers.read;
    let services = Services::build(config.clone(), db.clone(), clock)
        .await
        .map_err(CliError::new)?;
    let router = http::router(&services, Arc::new(leptos));
    let cleanup = crate::housekeeping::spawn_cleanup(
        services.db.clone(),
        Arc::clone(&services.config),
        services.clock.clone(),
    );

    let tcp = TcpListener::bind(address)
        .await
        .map_err(|error| CliError::new(format!("cannot listen on {address}: {error}")))?;
    tracing::info!(%address, "listening");
    print_welcome(&config, address, source.is_embedded());

    let settings = ListenSettings { header_limit };
    listener::serve(tcp, router, settings, listener::shutdown_signal()).await;
    cleanup.abort();
    db.close().await;
    tracing::info!("stopped");
    Ok(())
}

fn listen_address(config: &Config) -> SocketAddr {
    let ip = config
        .server
        .address
        .ip
        .unwrap_or(IpAddr::V6(Ipv6Addr::UNSPECIFIED));
    SocketAddr::new(ip, config.server.address.port)
}

/// Builds the site's settings: where its files are and what they are called.
fn leptos_options(address: SocketAddr) -> Result<LeptosOptions, CliError> {
    let site_root = find_site_root();
    match &site_root {
        Some(root) => tracing::info!(site_root = %root.display(), "serving the portal's files"),
        None => tracing::warn!(
            "no site directory with pkg/gatehouse.js found (set GATEHOUSE_SITE_ROOT); pages are served without their scripts and styles"
        ),
    }
    let site_root = site_root.unwrap_or_else(|| PathBuf::from("target/site"));
    Ok(LeptosOptions::builder()
        .output_name("gatehouse")
        .site_root(site_root.display().to_string())
        .site_pkg_dir("pkg")
        .site_addr(address)
        .build())
}

/// Looks for the site directory: `GATEHOUSE_SITE_ROOT`, then `site/` beside the binary or one level
/// up (the `target/release/gatehouse` + `target/site` layout of `make build`), then `target/site`.
fn find_site_root() -> Option<PathBuf> {
    if let Some(root) = std::env::var_os("GATEHOUSE_SITE_ROOT") {
        return Some(PathBuf::from(root));
    }
    let mut candidates = Vec::new();
    let invoked = std::env::args_os().next().map(PathBuf::from);
    let resolved = std::env::current_exe().ok();
    for binary in invoked.iter().chain(resolved.iter()) {
        if let Some(dir) = binary.parent() {
            candidates.push(dir.join("site"));
            candidates.push(dir.join("../site"));
        }
    }
    candidates.push(PathBuf::from("target/site"));
    candidates.into_iter().find(|dir| is_site_root(dir))
}

fn is_site_root(dir: &Path) -> bool {
    dir.join("pkg").join("gatehouse.js").is_file()
}

/// Creates the embedded default's administrator on first start, and while that user has never set
/// a password, prints a new single-use link to set it.
async fn prepare_first_admin(
    db: &Database,
    config: &Config,
    clock: &Clock,
) -> Result<(), CliError> {
    let username = normalize_username(FIRST_ADMIN);
    let now = clock.now_millis();
    let existing = db
        .get_user(&username)
        .await
        .map_err(|error| CliError::new(error.to_string()))?;
    let user = match existing {
        Some(user) => user,
        None => {
            // A random password that no one knows, so the account cannot be used until one is set.
            let unknown_password = random_token();
            let params = context::hashing_params(config);
            let password_hash =
                tokio::task::spawn_blocking(move || hash_password(&unknown_password, &params))
                    .await
                    .map_err(|_| CliError::new("password hashing stopped unexpectedly"))?
                    .map_err(|error| CliError::new(format!("cannot hash a password: {error}")))?;
            let record = UserRecord {
                username: username.clone(),
                display_name: "Administrator".to_owned(),
                // The embedded default's notifier writes mail to a file in the data directory,
                // so this address only has to exist: without one the administrator could never
                // receive the one-time code that elevation (second factors, password change)
                // needs.
                email: Some(format!("{username}@{}", embedded::COOKIE_DOMAIN)),
                password_hash,
                disabled: false,
                groups: vec![config.administration.group.clone()],
            };
            let user = db
                .create_user(&record, now)
                .await
                .map_err(|error| CliError::new(error.to_string()))?;
            db.set_meta_value(FIRST_ADMIN_VERSION_KEY, &user.password_version.to_string())
                .await
                .map_err(|error| CliError::new(error.to_string()))?;
            tracing::info!(user = %username, group = %config.administration.group, "created the first administrator");
            user
        }
    };
    let unset_version = db
        .meta_value(FIRST_ADMIN_VERSION_KEY)
        .await
        .map_err(|error| CliError::new(error.to_string()))?;
    if unset_version.as_deref() != Some(user.password_version.to_string().as_str()) {
        return Ok(());
    }

    let token = random_token();
    let record = NewOneTimeToken {
        // Stored exactly as the reset routes store their own links, which consume this one.
        token_hash: one_time::token_hash(
            &one_time::token_key(config),
            one_time::RESET_PASSWORD,
            &token,
        ),
        purpose: one_time::RESET_PASSWORD.to_owned(),
        username: username.clone(),
        created_at: now,
        expires_at: now + FIRST_ADMIN_LINK_LIFETIME_MILLIS,
    };
    db.insert_one_time_token(&record)
        .await
        .map_err(|error| CliError::new(error.to_string()))?;
    // Printed, not logged: the link is a credential and logs are kept and shipped elsewhere.
    println!();
    println!("The administrator `{username}` has no password yet. Set it within an hour with this single-use link:");
    println!(
        "  {}reset-password/step2?token={token}",
        embedded::portal_url(config.server.address.port)
    );
    println!("or with:");
    println!("  gatehouse user passwd {username} --password-stdin");
    println!();
    Ok(())
}

fn print_welcome(config: &Config, address: SocketAddr, embedded: bool) {
    println!("Gatehouse is listening on {address}.");
    for cookie in &config.session.cookies {
        if let Some(portal) = &cookie.authelia_url {
            println!("Portal for {}: {portal}", cookie.domain);
        }
    }
    if embedded {
        println!(
            "Running on the embedded default; pass --config FILE to use a configuration file."
        );
    }
}

/// 256 random bits in URL-safe base64: the single-use token of a link.
fn random_token() -> String {
    use base64::Engine;
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
