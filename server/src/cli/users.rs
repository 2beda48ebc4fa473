//! `gatehouse user …`, `hash-password` and `import-users`: managing the users in the database.

use std::io::BufRead;
use std::path::Path;

use data_encoding::BASE32_NOPAD;
use rand::RngCore;
use serde_json::json;

use crate::clock::Clock;
use crate::config::Config;
use crate::identity::hashing::{hash_password, Argon2Params};
use crate::identity::names::{
    normalize_username, validate_display_name, validate_email, validate_group_name,
    validate_username, InvalidValue,
};
use crate::identity::users_file::UsersFile;
use crate::storage::{
    Database, NewAuditEvent, NewTotpConfiguration, StorageError, User, UserRecord,
};

use super::context::{self, ConfigSource};
use super::{CliError, TotpCommand, UserCommand};

/// Runs one `gatehouse user …` command.
pub async fn run(source: &ConfigSource, command: UserCommand) -> Result<(), CliError> {
    let loaded = source.load()?;
    let config = loaded.config;
    let db = context::open_database(&config).await?;
    let clock = Clock::System;
    let result = match command {
        UserCommand::Add {
            name,
            email,
            display_name,
            groups,
            password: _,
        } => add(&db, &config, &clock, &name, &email, &display_name, &groups).await,
        UserCommand::Passwd { name, password: _ } => passwd(&db, &config, &clock, &name).await,
        UserCommand::List { json } => list(&db, json).await,
        UserCommand::Disable { name } => set_disabled(&db, &clock, &name, true).await,
        UserCommand::Enable { name } => set_disabled(&db, &clock, &name, false).await,
        UserCommand::Groups { name, set } => set_groups(&db, &clock, &name, &set).await,
        UserCommand::Totp(TotpCommand::Generate { name, secret }) => {
            totp_generate(&db, &config, &clock, &name, secret.as_deref()).await
        }
    };
    db.close().await;
    result
}

/// `gatehouse hash-password --password-stdin`: prints an argon2id hash with the configured
/// parameters (the embedded default's without `--config`).
pub async fn hash_password_command(source: &ConfigSource) -> Result<(), CliError> {
    let params = if source.is_embedded() {
        Argon2Params::default()
    } else {
        context::hashing_params(&source.load()?.config)
    };
    let password = read_password_line()?;
    let hash = hash_blocking(password, params).await?;
    println!("{hash}");
    Ok(())
}

/// `gatehouse import-users FILE`: creates or updates the file's users in one transaction.
pub async fn import(source: &ConfigSource, file: &Path) -> Result<(), CliError> {
    let text = std::fs::read_to_string(file)
        .map_err(|error| CliError::new(format!("cannot read {}: {error}", file.display())))?;
    let users_file = UsersFile::parse(&text)
        .map_err(|error| CliError::new(format!("{}: {error}", file.display())))?;

    let mut records: Vec<UserRecord> = Vec::with_capacity(users_file.users().len());
    for user in users_file.users() {
        let username = normalize_username(&user.username);
        if let Some(earlier) = records.iter().find(|record| record.username == username) {
            return Err(CliError::new(format!(
                "{}: users.{} and users.{} are the same user once lower-cased; user names in the database are case-insensitive",
                file.display(),
                earlier.username,
                user.username
            )));
        }
        records.push(UserRecord {
            username,
            display_name: user.display_name.clone(),
            email: user.email.as_deref().map(normalize_email),
            password_hash: user.password.expose().to_owned(),
            disabled: user.disabled,
            groups: user.groups.clone(),
        });
    }

    let loaded = source.load()?;
    let db = context::open_database(&loaded.config).await?;
    let now = Clock::System.now_millis();
    let outcome = db.import_users(&records, now).await;
    let result = match outcome {
        Ok(counts) => {
            audit(
                &db,
                now,
                "import_users",
                None,
                json!({
                    "file": file.display().to_string(),
                    "created": counts.created,
                    "updated": counts.updated,
                    "unchanged": counts.unchanged,
                }),
            )
            .await;
            println!(
                "imported {}: {} created, {} updated, {} unchanged",
                file.display(),
                counts.created,
                counts.updated,
                counts.unchanged
            );
            Ok(())
        }
        Err(error) => Err(CliError::new(format!(
            "import of {} failed, nothing was changed: {error}",
            file.display()
        ))),
    };
    db.close().await;
    result
}

async fn add(
    db: &Database,
    config: &Config,
    clock: &Clock,
    name: &str,
    email: &str,
    display_name: &str,
    groups: &[String],
) -> Result<(), CliError> {
    validate_username(name).map_err(invalid)?;
    validate_display_name(display_name).map_err(invalid)?;
    validate_email(email).map_err(invalid)?;
    let groups = clean_groups(groups)?;
    let username = normalize_username(name);

    let password = read_password_line()?;
    let password_hash = hash_blocking(password, context::hashing_params(config)).await?;
    let record = UserRecord {
        username: username.clone(),
        display_name: display_name.to_owned(),
        email: Some(normalize_email(email)),
        password_hash,
        disabled: false,
        groups,
    };
    let now = clock.now_millis();
    db.create_user(&record, now).await.map_err(storage_error)?;
    audit(db, now, "user_add", Some(&username), json!({})).await;
    println!("created user {username}");
    Ok(())
}

async fn passwd(db: &Database, config: &Config, clock: &Clock, name: &str) -> Result<(), CliError> {
    let username = existing_user(db, name).await?.username;
    let password = read_password_line()?;
    let password_hash = hash_blocking(password, context::hashing_params(config)).await?;
    let now = clock.now_millis();
    db.set_password_hash(&username, &password_hash, now)
        .await
        .map_err(storage_error)?;
    audit(db, now, "user_passwd", Some(&username), json!({})).await;
    println!("password of {username} set; the user's sessions were ended");
    Ok(())
}

async fn list(db: &Database, as_json: bool) -> Result<(), CliError> {
    let users = db.list_users().await.map_err(storage_error)?;
    if as_json {
        let entries: Vec<serde_json::Value> = users
            .iter()
            .map(|user| {
                json!({
                    "username": user.username,
                    "display_name": user.display_name,
                    "email": user.email,
                    "groups": user.groups,
                    "disabled": user.disabled,
                })
            })
            .collect();
        let text = serde_json::to_string_pretty(&entries)
            .map_err(|error| CliError::new(format!("cannot write JSON: {error}")))?;
        println!("{text}");
        return Ok(());
    }
    println!(
        "{:<24} {:<28} {:<32} {:<24} STATE",
        "USERNAME", "DISPLAY NAME", "EMAIL", "GROUPS"
    );
    for user in &users {
        println!(
            "{:<24} {:<28} {:<32} {:<24} {}",
            user.username,
            user.display_name,
            user.email.as_deref().unwrap_or("-"),
            if user.groups.is_empty() {
                "-".to_owned()
            } else {
                user.groups.join(",")
            },
            if user.disabled { "disabled" } else { "enabled" }
        );
    }
    Ok(())
}

async fn set_disabled(
    db: &Database,
    clock: &Clock,
    name: &str,
    disabled: bool,
) -> Result<(), CliError> {
    let username = existing_user(db, name).await?.username;
    let now = clock.now_millis();
    db.set_user_disabled(&username, disabled, now)
        .await
        .map_err(storage_error)?;
    let action = if disabled {
        "user_disable"
    } else {
        "user_enable"
    };
    audit(db, now, action, Some(&username), json!({})).await;
    if disabled {
        println!("disabled {username}; the user's sessions were ended");
    } else {
        println!("enabled {username}");
    }
    Ok(())
}

async fn set_groups(
    db: &Database,
    clock: &Clock,
    name: &str,
    groups: &[String],
) -> Result<(), CliError> {
    let groups = clean_groups(groups)?;
    let username = existing_user(db, name).await?.username;
    let now = clock.now_millis();
    db.set_user_groups(&username, &groups, now)
        .await
        .map_err(storage_error)?;
    audit(
        db,
        now,
        "user_groups",
        Some(&username),
        json!({ "groups": groups }),
    )
    .await;
    println!(
        "groups of {username}: {}",
        if groups.is_empty() {
            "none".to_owned()
        } else {
            groups.join(",")
        }
    );
    Ok(())
}

async fn totp_generate(
    db: &Database,
    config: &Config,
    clock: &Clock,
    name: &str,
    secret: Option<&str>,
) -> Result<(), CliError> {
    let username = existing_user(db, name).await?.username;
    let secret = match secret {
        Some(text) => decode_base32_secret(text)?,
        None => {
            let mut bytes = vec![0u8; config.totp.secret_size as usize];
            rand::rngs::OsRng.fill_bytes(&mut bytes);
            bytes
        }
    };
    let totp = &config.totp;
    let record = NewTotpConfiguration {
        username: username.clone(),
        issuer: totp.issuer.clone(),
        algorithm: totp.algorithm.as_str().to_owned(),
        digits: totp.digits,
        period: totp.period,
        secret: secret.clone(),
    };
    let now = clock.now_millis();
    db.upsert_totp_configuration(&record, now)
        .await
        .map_err(storage_error)?;
    audit(db, now, "user_totp_generate", Some(&username), json!({})).await;
    println!("{}", otpauth_uri(&record));
    Ok(())
}

/// Builds the `otpauth://totp/…` URI that authenticator apps read from a QR code.
pub fn otpauth_uri(record: &NewTotpConfiguration) -> String {
    let label = format!("{}:{}", record.issuer, record.username);
    format!(
        "otpauth://totp/{}?secret={}&issuer={}&algorithm={}&digits={}&period={}",
        percent_encode(&label),
        BASE32_NOPAD.encode(&record.secret),
        percent_encode(&record.issuer),
        record.algorithm,
        record.digits,
        record.period
    )
}

fn percent_encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// Decodes a base32 TOTP secret given on the command line (spaces, padding and case ignored).
fn decode_base32_secret(text: &str) -> Result<Vec<u8>, CliError> {
    let cleaned: String = text
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '=')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let bytes = BASE32_NOPAD
        .decode(cleaned.as_bytes())
        .map_err(|_| CliError::new("--secret is not valid base32 (letters A-Z and digits 2-7)"))?;
    if bytes.len() < 20 {
        return Err(CliError::new(format!(
            "--secret holds {} bits; a TOTP secret needs at least 160 bits (32 base32 characters)",
            bytes.len() * 8
        )));
    }
    Ok(bytes)
}

async fn existing_user(db: &Database, name: &str) -> Result<User, CliError> {
    let username = normalize_username(name);
    db.get_user(&username)
        .await
        .map_err(storage_error)?
        .ok_or_else(|| CliError::new(format!("user {username:?} not found")))
}

fn clean_groups(groups: &[String]) -> Result<Vec<String>, CliError> {
    clean_group_names(groups).map_err(invalid)
}

/// Trims group names, drops empty ones and duplicates, and validates the rest; the command line
/// and the admin API share it.
pub(crate) fn clean_group_names(groups: &[String]) -> Result<Vec<String>, InvalidValue> {
    let mut cleaned: Vec<String> = Vec::new();
    for group in groups
        .iter()
        .map(|group| group.trim())
        .filter(|group| !group.is_empty())
    {
        validate_group_name(group)?;
        if !cleaned.iter().any(|known| known == group) {
            cleaned.push(group.to_owned());
        }
    }
    Ok(cleaned)
}

/// E-mail addresses are stored lower-case so that uniqueness and log-in by e-mail ignore case.
pub(crate) fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// Reads one line from standard input and removes one trailing `\n` or `\r\n`.
fn read_password_line() -> Result<String, CliError> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|error| {
            CliError::new(format!(
                "cannot read the password from standard input: {error}"
            ))
        })?;
    if line.ends_with('\n') {
        line.pop();
        if line.ends_with('\r') {
            line.pop();
        }
    }
    if line.is_empty() {
        return Err(CliError::new(
            "the password read from standard input is empty",
        ));
    }
    Ok(line)
}

async fn hash_blocking(password: String, params: Argon2Params) -> Result<String, CliError> {
    tokio::task::spawn_blocking(move || hash_password(&password, &params))
        .await
        .map_err(|_| CliError::new("password hashing stopped unexpectedly"))?
        .map_err(|error| CliError::new(format!("cannot hash the password: {error}")))
}

async fn audit(
    db: &Database,
    now: i64,
    action: &str,
    subject: Option<&str>,
    details: serde_json::Value,
) {
    let event = NewAuditEvent {
        time: now,
        actor: Some("cli".to_owned()),
        action: action.to_owned(),
        subject: subject.map(str::to_owned),
        remote_ip: None,
        details,
    };
    if let Err(error) = db.append_audit_event(&event).await {
        tracing::warn!(%error, action, "cannot record the audit event");
    }
}

fn invalid(error: impl std::fmt::Display) -> CliError {
    CliError::new(error.to_string())
}

fn storage_error(error: StorageError) -> CliError {
    CliError::new(error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base32_secret_needs_160_bits() {
        assert_eq!(
            decode_base32_secret("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
                .unwrap()
                .len(),
            20
        );
        assert_eq!(
            decode_base32_secret("jbsw y3dp ehpk 3pxp jbsw y3dp ehpk 3pxp")
                .unwrap()
                .len(),
            20
        );
        assert!(decode_base32_secret("JBSWY3DPEHPK3PXP").is_err());
        assert!(decode_base32_secret("not base32!").is_err());
    }

    #[test]
    fn otpauth_uri_escapes_label_and_issuer() {
        let record = NewTotpConfiguration {
            username: "zoë".to_owned(),
            issuer: "Gatehouse Test".to_owned(),
            algorithm: "SHA1".to_owned(),
            digits: 6,
            period: 30,
            secret: b"12345678901234567890".to_vec(),
        };
        assert_eq!(
            otpauth_uri(&record),
            "otpauth://totp/Gatehouse%20Test%3Azo%C3%AB?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Gatehouse%20Test&algorithm=SHA1&digits=6&period=30"
        );
    }

    #[test]
    fn groups_are_trimmed_and_deduplicated() {
        let groups = vec![
            " dev".to_owned(),
            "dev".to_owned(),
            "".to_owned(),
            "ops".to_owned(),
        ];
        assert_eq!(
            clean_groups(&groups).unwrap(),
            vec!["dev".to_owned(), "ops".to_owned()]
        );
        assert!(clean_groups(&["dev,admins".to_owned()]).is_err());
    }
}
