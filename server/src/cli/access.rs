//! `gatehouse access check`: prints the access decision the configured rules give one request.

use std::net::IpAddr;

use serde_json::json;
use url::Url;

use crate::access::{AccessControl, Decision, Request, Subject};

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
    let target = CliTarget::parse(url)?;
    check_method(method)?;
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
    let request = Request {
        host: &target.host,
        method,
        method_overrides: &target.method_overrides,
        path: &target.path,
        resource: &target.resource,
        query: &target.query,
        client_ip,
    };
    let decision = engine.decide(&request, &subject);
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

/// The request target derived from `--url`, for this command only.
///
/// NOTE: the authorization endpoints use the shared target parser instead. This helper applies
/// the same canonical forms to an absolute URL but reads no proxy headers, and the two may
/// differ on edge cases such as the text form of IPv6 literals.
#[derive(Debug)]
struct CliTarget {
    /// Lower-case host without a trailing dot or port.
    host: String,
    /// Canonical path: percent-decoded once, dot segments resolved, repeated slashes collapsed.
    path: String,
    /// The canonical path, then `?` and the raw query when the URL has one.
    resource: String,
    /// Decoded query parameters in order.
    query: Vec<(String, String)>,
    /// Values of the `_method` query parameter, which many backends treat as the method.
    method_overrides: Vec<String>,
}

impl CliTarget {
    fn parse(text: &str) -> Result<CliTarget, CliError> {
        let invalid = |reason: String| CliError::new(format!("invalid --url '{text}': {reason}"));
        let url = Url::parse(text.trim()).map_err(|error| {
            invalid(format!(
                "{error}; expected an absolute URL such as https://app.example.com/path"
            ))
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(invalid(format!(
                "the scheme '{}' is not http or https",
                url.scheme()
            )));
        }
        if url.fragment().is_some() {
            return Err(invalid(
                "a fragment (#…) is never sent to a server".to_owned(),
            ));
        }
        let host = canonical_host(url.host_str().unwrap_or("")).map_err(invalid)?;
        let path = canonical_path(url.path()).map_err(invalid)?;
        let resource = match url.query() {
            Some(raw) => format!("{path}?{raw}"),
            None => path.clone(),
        };
        let query: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        let method_overrides = query
            .iter()
            .filter(|(key, _)| key == "_method")
            .map(|(_, value)| value.clone())
            .collect();
        Ok(CliTarget {
            host,
            path,
            resource,
            query,
            method_overrides,
        })
    }
}

/// Lower-cases the host, removes one trailing dot and checks its labels: 1 to 63 characters of
/// `a`–`z`, `0`–`9`, `-` or `_`, at most 253 in all. IP literals pass unchanged.
fn canonical_host(host: &str) -> Result<String, String> {
    if host.starts_with('[') || host.parse::<IpAddr>().is_ok() {
        return Ok(host.to_owned());
    }
    let host = host.to_ascii_lowercase();
    let name = host.strip_suffix('.').unwrap_or(&host);
    let valid_label = |label: &str| {
        (1..=63).contains(&label.len())
            && label
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
    };
    if name.is_empty() || name.len() > 253 || !name.split('.').all(valid_label) {
        return Err(format!("the host '{host}' is not a valid host name"));
    }
    Ok(name.to_owned())
}

/// Percent-decodes the path once, then resolves dot segments and collapses repeated slashes.
/// A decoded `\` counts as `/`, and a trailing slash is kept.
fn canonical_path(raw: &str) -> Result<String, String> {
    let decoded = percent_decode(raw)?;
    let decoded = decoded.replace('\\', "/");
    let mut segments: Vec<&str> = Vec::new();
    let mut trailing_slash = false;
    for segment in decoded.split('/') {
        trailing_slash = matches!(segment, "" | "." | "..");
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            _ => segments.push(segment),
        }
    }
    let mut path = format!("/{}", segments.join("/"));
    if trailing_slash && !segments.is_empty() {
        path.push('/');
    }
    Ok(path)
}

/// Decodes every `%XX` escape once. Fails on a malformed escape, on bytes that are not UTF-8,
/// and on decoded control characters.
fn percent_decode(raw: &str) -> Result<String, String> {
    let bytes = raw.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut position = 0;
    while position < bytes.len() {
        if bytes[position] != b'%' {
            decoded.push(bytes[position]);
            position += 1;
            continue;
        }
        let escape = raw.get(position + 1..position + 3).unwrap_or("");
        let byte = u8::from_str_radix(escape, 16)
            .ok()
            .filter(|_| escape.bytes().all(|digit| digit.is_ascii_hexdigit()))
            .ok_or_else(|| format!("the path contains '%{escape}', which is not a %XX escape"))?;
        decoded.push(byte);
        position += 3;
    }
    let decoded =
        String::from_utf8(decoded).map_err(|_| "the decoded path is not valid UTF-8".to_owned())?;
    if decoded.chars().any(char::is_control) {
        return Err("the decoded path contains a control character".to_owned());
    }
    Ok(decoded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_path_examples() {
        let cases = [
            ("/", "/"),
            ("//admin", "/admin"),
            ("/./admin", "/admin"),
            ("/x/../admin", "/admin"),
            ("/admin/.", "/admin/"),
            ("/admin/", "/admin/"),
            ("/public/../admin/users", "/admin/users"),
            ("/%61dmin/%2e%2e/secret", "/secret"),
            ("/a/../../b", "/b"),
            ("/%252e", "/%2e"),
            ("/a%5c..%5cb", "/b"),
            ("/a/..", "/"),
        ];
        for (raw, expected) in cases {
            assert_eq!(canonical_path(raw).as_deref(), Ok(expected), "{raw}");
        }
    }

    #[test]
    fn canonical_path_rejects_bad_escapes() {
        for raw in ["/%zz", "/%4", "/%", "/%00", "/%ff", "/%+1"] {
            assert!(canonical_path(raw).is_err(), "{raw}");
        }
    }

    #[test]
    fn target_from_url() {
        let target =
            CliTarget::parse("https://ADMIN.Example.COM.:8443//x/../api?_method=DELETE&a=%31")
                .expect("a valid URL");
        assert_eq!(target.host, "admin.example.com");
        assert_eq!(target.path, "/api");
        assert_eq!(target.resource, "/api?_method=DELETE&a=%31");
        assert_eq!(
            target.query,
            vec![
                ("_method".to_owned(), "DELETE".to_owned()),
                ("a".to_owned(), "1".to_owned())
            ]
        );
        assert_eq!(target.method_overrides, vec!["DELETE".to_owned()]);
    }

    #[test]
    fn target_rejects_bad_urls() {
        for url in [
            "app.example.com/x",
            "ftp://app.example.com/",
            "https://app.example.com/#top",
            "https://admin.example.com../",
            "https://app..example.com/",
        ] {
            assert!(CliTarget::parse(url).is_err(), "{url}");
        }
    }

    #[test]
    fn method_must_be_upper_case() {
        assert!(check_method("GET").is_ok());
        assert!(check_method("PROPFIND").is_ok());
        for method in ["", "get", "Get", "GE T", "M-SEARCH"] {
            assert!(check_method(method).is_err(), "{method:?}");
        }
    }
}
