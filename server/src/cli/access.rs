//! `gatehouse access check`: prints the access decision the configured rules give one request.

use std::net::IpAddr;

use axum::http::{HeaderMap, HeaderValue};
use serde_json::json;

use crate::access::{AccessControl, Decision, Subject};
use crate::forward_auth::handler::decide_for_target;
use crate::forward_auth::target::Target;

use super::context::ConfigSource;
use super::{AccessCommand, CliError};

/// Runs one `gatehouse access …` command.
pub fn run(source: &ConfigSource, command: AccessCommand) -> Result<(), CliError> {
    match command {
        AccessCommand::Check {
            url,
            username,
            groups,
            method,
            ip,
            json,
        } => check(
            source,
            &url,
            username.as_deref(),
            &groups,
            &method,
            ip.as_deref(),
            json,
        ),
    }
}

fn check(
    source: &ConfigSource,
    url: &str,
    username: Option<&str>,
    groups: &[String],
    method: &str,
    ip: Option<&str>,
    json: bool,
) -> Result<(), CliError> {
    // Every argument is checked before the configuration loads, because loading the embedded
    // default creates its data directory.
    check_method(method)?;
    let target = parse_target(url, method)?;
    let client_ip = ip.map(parse_ip).transpose()?;
    let groups: Vec<String> = groups
        .iter()
        .filter(|group| !group.is_empty())
        .cloned()
        .collect();
    let subject = match username {
        None => Subject::Anonymous,
        Some("") => return Err(CliError::new("invalid --username: the user name is empty")),
        Some(username) => Subject::User {
            username,
            groups: &groups,
        },
    };

    let config = source.load()?.config;
    let engine = AccessControl::compile(&config.access_control)
        .map_err(|error| CliError::new(format!("cannot compile the access rules: {error}")))?;
    let decision = decide_for_target(&engine, &target, client_ip, &subject);
    if json {
        println!("{}", decision_json(&decision));
    } else {
        print_decision(&decision, matches!(subject, Subject::Anonymous));
    }
    Ok(())
}

/// Returns `{"policy": …, "rule": N}`, where `rule` is the 0-based index into
/// `access_control.rules`, or null when the default policy decided.
fn decision_json(decision: &Decision) -> serde_json::Value {
    json!({
        "policy": decision.policy.as_str(),
        "rule": decision.rule,
    })
}

fn print_decision(decision: &Decision, anonymous: bool) {
    let policy = decision.policy.as_str();
    match decision.rule {
        Some(rule) => println!("policy: {policy} (access_control.rules[{rule}])"),
        None => println!("policy: {policy} (default policy)"),
    }
    if anonymous && decision.subject_rule {
        println!(
            "note: this rule depends on the user, so an anonymous request is asked to log in; \
             add --username and --groups to see the decision after login"
        );
    }
}

/// Checks the method as the authorization endpoints do: upper-case letters `A`–`Z` only.
fn check_method(method: &str) -> Result<(), CliError> {
    if !method.is_empty() && method.bytes().all(|byte| byte.is_ascii_uppercase()) {
        Ok(())
    } else {
        Err(CliError::new(format!(
            "invalid --method '{method}': expected upper-case letters only, such as GET or POST"
        )))
    }
}

fn parse_ip(text: &str) -> Result<IpAddr, CliError> {
    text.trim().parse().map_err(|_| {
        CliError::new(format!(
            "invalid --ip '{text}': expected an IPv4 or IPv6 address without a port, such as 203.0.113.7"
        ))
    })
}

/// Reads `--url` and `--method` with the server's own target parser, as the auth-request
/// endpoint reads `X-Original-URL` and `X-Original-Method`, so that the command and the server
/// see the same canonical host, path, query and method overrides.
fn parse_target(url: &str, method: &str) -> Result<Target, CliError> {
    let mut headers = HeaderMap::new();
    let url_value = HeaderValue::from_str(url.trim()).map_err(|_| {
        CliError::new(format!(
            "invalid --url '{url}': it contains a control character"
        ))
    })?;
    let method_value = HeaderValue::from_str(method)
        .map_err(|_| CliError::new(format!("invalid --method '{method}'")))?;
    headers.insert("x-original-url", url_value);
    headers.insert("x-original-method", method_value);
    Target::from_auth_request(&headers).map_err(|reason| {
        CliError::new(format!(
            "invalid --url '{url}': {reason}; expected an absolute https URL such as https://app.example.com/path"
        ))
    })
}
