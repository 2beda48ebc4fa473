//! `access_control` and `definitions`: the rules that decide which policy a request needs.
//!
//! Patterns are checked to compile here; the access engine compiles its own matcher.

use std::collections::BTreeMap;

use ipnet::IpNet;

use crate::config::lint::lint_rule_patterns;
use crate::config::read::{read_string, read_string_list, Reader, Section};
use crate::config::server::parse_network;
use crate::config::session::check_hostname;
use crate::config::tree::Value;

/// Methods a rule's `methods` may name.
pub const VALID_METHODS: &[&str] = &[
    "GET",
    "HEAD",
    "POST",
    "PUT",
    "DELETE",
    "CONNECT",
    "OPTIONS",
    "TRACE",
    "PATCH",
    "PROPFIND",
    "PROPPATCH",
    "MKCOL",
    "COPY",
    "MOVE",
    "LOCK",
    "UNLOCK",
];

/// `access_control`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessControlConfig {
    pub default_policy: Policy,
    /// Rules in configuration order; the first that matches decides.
    pub rules: Vec<Rule>,
}

/// Required authentication level of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Policy {
    Bypass,
    OneFactor,
    TwoFactor,
    Deny,
}

impl Policy {
    pub fn as_str(self) -> &'static str {
        match self {
            Policy::Bypass => "bypass",
            Policy::OneFactor => "one_factor",
            Policy::TwoFactor => "two_factor",
            Policy::Deny => "deny",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        match text {
            "bypass" => Some(Policy::Bypass),
            "one_factor" => Some(Policy::OneFactor),
            "two_factor" => Some(Policy::TwoFactor),
            "deny" => Some(Policy::Deny),
            _ => None,
        }
    }
}

/// One entry of `access_control.rules`. An empty list means the field is absent, which matches
/// every request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Lower-cased host patterns: plain names, `*.` wildcards, `{user}.` and `{group}.` forms.
    pub domain: Vec<String>,
    /// Regular expressions matched against the canonical host; they compile.
    pub domain_regex: Vec<String>,
    pub policy: Policy,
    /// Alternatives (OR) of subject lists that must all match (AND).
    pub subject: Vec<Vec<Subject>>,
    /// Networks with names from `definitions.network` already resolved.
    pub networks: Vec<IpNet>,
    /// Regular expressions matched against the canonical path, plus `?` and the raw query.
    pub resources: Vec<String>,
    /// Alternatives (OR) of condition lists that must all match (AND).
    pub query: Vec<Vec<QueryCondition>>,
    /// Upper-case method names from [`VALID_METHODS`].
    pub methods: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// `user:<name>`, lower-cased.
    User(String),
    /// `group:<name>`, case-sensitive.
    Group(String),
    /// `oauth2:client:<id>`; never matches because Gatehouse has no bearer tokens.
    OAuth2Client(String),
}

/// One `{key, operator, value}` item of a rule's `query`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryCondition {
    pub key: String,
    pub operator: QueryOperator,
    /// The compared string or pattern; empty for `present` and `absent`.
    pub value: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryOperator {
    Equal,
    NotEqual,
    Present,
    Absent,
    Pattern,
    NotPattern,
}

/// `definitions`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Definitions {
    /// Named network lists that rules refer to by name.
    pub network: BTreeMap<String, Vec<IpNet>>,
}

pub(crate) fn read_definitions(reader: &mut Reader, mut section: Section<'_>) -> Definitions {
    let mut network = BTreeMap::new();
    for (name, path, value) in section.entries(reader, "network") {
        let nets: Vec<IpNet> = read_string_list(reader, &path, value)
            .into_iter()
            .filter_map(|(item_path, text)| {
                let net = parse_network(&text);
                if net.is_none() {
                    reader.error(
                        &item_path,
                        format!("'{text}' is not an IP address or CIDR network"),
                    );
                }
                net
            })
            .collect();
        if nets.is_empty() && !reader.errors.iter().any(|e| e.path.starts_with(&path)) {
            reader.error(
                &path,
                "a network definition needs at least one address or network",
            );
        }
        if parse_network(&name).is_some() {
            reader.error(&path, "a network name must not look like an address");
        }
        network.insert(name, nets);
    }
    section.finish(reader);
    Definitions { network }
}

pub(crate) fn read_access_control(
    reader: &mut Reader,
    mut section: Section<'_>,
    definitions: &Definitions,
) -> AccessControlConfig {
    let policy_path = section.key_path("default_policy");
    let default_policy = match section.string(reader, "default_policy") {
        None => Policy::Deny,
        Some(text) => parse_policy(reader, &policy_path, &text).unwrap_or(Policy::Deny),
    };
    let rules = section
        .list(reader, "rules")
        .into_iter()
        .filter_map(|(path, item)| read_rule(reader, &path, item, definitions))
        .collect();
    section.finish(reader);
    AccessControlConfig {
        default_policy,
        rules,
    }
}

fn parse_policy(reader: &mut Reader, path: &str, text: &str) -> Option<Policy> {
    let policy = Policy::parse(text);
    if policy.is_none() {
        reader.error(
            path,
            format!("unknown policy '{text}': expected bypass, one_factor, two_factor or deny"),
        );
    }
    policy
}

fn read_rule(
    reader: &mut Reader,
    path: &str,
    value: &Value,
    definitions: &Definitions,
) -> Option<Rule> {
    let errors_before = reader.errors.len();
    let mut section = Section::open(reader, path, Some(value));

    let domain = read_domains(reader, &mut section);
    let domain_regex = read_patterns(reader, &mut section, "domain_regex");
    if domain.is_empty()
        && domain_regex.is_empty()
        && !section.has("domain")
        && !section.has("domain_regex")
    {
        reader.error(
            &section.key_path("domain"),
            "missing: each rule needs domain or domain_regex",
        );
    }

    let policy_path = section.key_path("policy");
    let policy = match section.string(reader, "policy") {
        None => {
            reader.error(
                &policy_path,
                "missing: one of bypass, one_factor, two_factor, deny",
            );
            None
        }
        Some(text) => parse_policy(reader, &policy_path, &text),
    };

    let subject_path = section.key_path("subject");
    let subject = read_subjects(reader, &subject_path, section.take("subject"));
    if policy == Some(Policy::Bypass) && !subject.is_empty() {
        reader.error(
            &subject_path,
            "a bypass rule cannot have a subject: bypass lets anonymous requests through, so no user is known",
        );
    }

    let networks = read_rule_networks(reader, &mut section, definitions);
    let resources = read_patterns(reader, &mut section, "resources");
    let query_path = section.key_path("query");
    let query = read_query(reader, &query_path, section.take("query"));
    let methods = read_methods(reader, &mut section);
    section.finish(reader);

    let policy = policy?;
    let rule = Rule {
        domain,
        domain_regex,
        policy,
        subject,
        networks,
        resources,
        query,
        methods,
    };
    if reader.errors.len() == errors_before {
        lint_rule_patterns(reader, path, &rule);
    }
    Some(rule)
}

fn read_domains(reader: &mut Reader, section: &mut Section<'_>) -> Vec<String> {
    let Some(items) = section.string_list(reader, "domain") else {
        return Vec::new();
    };
    let mut domains = Vec::new();
    for (path, text) in items {
        let domain = text.trim().to_ascii_lowercase();
        match check_rule_domain(&domain) {
            Ok(()) => domains.push(domain),
            Err(message) => reader.error(&path, message),
        }
    }
    domains
}

/// Checks a rule domain: a host name, optionally after `*.`, `{user}.` or `{group}.`.
fn check_rule_domain(domain: &str) -> Result<(), String> {
    let rest = domain
        .strip_prefix("*.")
        .or_else(|| domain.strip_prefix("{user}."))
        .or_else(|| domain.strip_prefix("{group}."))
        .unwrap_or(domain);
    if rest.parse::<std::net::IpAddr>().is_ok() && rest == domain {
        return Ok(());
    }
    let rest = rest.strip_suffix('.').unwrap_or(rest);
    check_hostname(rest).map_err(|message| {
        format!("{message}; a rule domain is a host name, optionally starting with '*.', '{{user}}.' or '{{group}}.' (use domain_regex for other patterns)")
    })
}

/// Reads a string-or-list of regular expressions and checks that each compiles.
fn read_patterns(reader: &mut Reader, section: &mut Section<'_>, key: &str) -> Vec<String> {
    let Some(items) = section.string_list(reader, key) else {
        return Vec::new();
    };
    let mut patterns = Vec::new();
    for (path, pattern) in items {
        match regex::Regex::new(&pattern) {
            Ok(_) => patterns.push(pattern),
            Err(error) => reader.error(&path, format!("invalid regular expression: {error}")),
        }
    }
    patterns
}

fn read_subjects(reader: &mut Reader, path: &str, value: Option<&Value>) -> Vec<Vec<Subject>> {
    let Some(value) = value else {
        return Vec::new();
    };
    match value {
        Value::List(items) => items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| {
                let item_path = format!("{path}[{i}]");
                let group: Vec<Subject> = match item {
                    Value::List(_) => read_string_list(reader, &item_path, item)
                        .into_iter()
                        .filter_map(|(inner_path, text)| parse_subject(reader, &inner_path, &text))
                        .collect(),
                    _ => read_string(reader, &item_path, item)
                        .and_then(|text| parse_subject(reader, &item_path, &text))
                        .into_iter()
                        .collect(),
                };
                (!group.is_empty()).then_some(group)
            })
            .collect(),
        _ => read_string(reader, path, value)
            .and_then(|text| parse_subject(reader, path, &text))
            .map(|subject| vec![vec![subject]])
            .unwrap_or_default(),
    }
}

fn parse_subject(reader: &mut Reader, path: &str, text: &str) -> Option<Subject> {
    let text = text.trim();
    let (subject, name) = if let Some(name) = text.strip_prefix("user:") {
        (Subject::User(name.to_lowercase()), name)
    } else if let Some(name) = text.strip_prefix("group:") {
        (Subject::Group(name.to_owned()), name)
    } else if let Some(name) = text.strip_prefix("oauth2:client:") {
        (Subject::OAuth2Client(name.to_owned()), name)
    } else {
        reader.error(path, format!("invalid subject '{text}': expected user:<name>, group:<name> or oauth2:client:<id>"));
        return None;
    };
    if name.is_empty() {
        reader.error(path, format!("subject '{text}' names nobody"));
        return None;
    }
    Some(subject)
}

fn read_rule_networks(
    reader: &mut Reader,
    section: &mut Section<'_>,
    definitions: &Definitions,
) -> Vec<IpNet> {
    let Some(items) = section.string_list(reader, "networks") else {
        return Vec::new();
    };
    let mut networks = Vec::new();
    for (path, text) in items {
        let text = text.trim();
        if let Some(named) = definitions.network.get(text) {
            networks.extend(named.iter().copied());
        } else if let Some(net) = parse_network(text) {
            networks.push(net);
        } else {
            reader.error(
                &path,
                format!("'{text}' is neither a name from definitions.network nor an IP address or CIDR network"),
            );
        }
    }
    networks
}

fn read_query(reader: &mut Reader, path: &str, value: Option<&Value>) -> Vec<Vec<QueryCondition>> {
    let Some(value) = value else {
        return Vec::new();
    };
    let Value::List(alternatives) = value else {
        reader.wrong_type(path, "a list of lists of {key, operator, value}", value);
        return Vec::new();
    };
    let mut query = Vec::new();
    for (i, alternative) in alternatives.iter().enumerate() {
        let alternative_path = format!("{path}[{i}]");
        let Value::List(items) = alternative else {
            reader.wrong_type(
                &alternative_path,
                "a list of {key, operator, value} items (query is a list of lists)",
                alternative,
            );
            continue;
        };
        let conditions: Vec<QueryCondition> = items
            .iter()
            .enumerate()
            .filter_map(|(j, item)| {
                read_query_condition(reader, &format!("{alternative_path}[{j}]"), item)
            })
            .collect();
        if !conditions.is_empty() {
            query.push(conditions);
        }
    }
    query
}

fn read_query_condition(reader: &mut Reader, path: &str, value: &Value) -> Option<QueryCondition> {
    let mut section = Section::open(reader, path, Some(value));
    let key_path = section.key_path("key");
    let operator_path = section.key_path("operator");
    let value_path = section.key_path("value");
    let key = section.string(reader, "key");
    let operator_text = section.string(reader, "operator");
    let value = section.string(reader, "value");
    section.finish(reader);

    let Some(key) = key.filter(|key| !key.is_empty()) else {
        reader.error(&key_path, "missing: the name of the query parameter");
        return None;
    };
    let operator = match operator_text.as_deref() {
        None if value.is_some() => QueryOperator::Equal,
        None => QueryOperator::Present,
        Some("equal") => QueryOperator::Equal,
        Some("not equal") => QueryOperator::NotEqual,
        Some("present") => QueryOperator::Present,
        Some("absent") => QueryOperator::Absent,
        Some("pattern") => QueryOperator::Pattern,
        Some("not pattern") => QueryOperator::NotPattern,
        Some(other) => {
            reader.error(
                &operator_path,
                format!("unknown operator '{other}': expected equal, not equal, present, absent, pattern or not pattern"),
            );
            return None;
        }
    };
    let needs_value = !matches!(operator, QueryOperator::Present | QueryOperator::Absent);
    match (&value, needs_value) {
        (None, true) => {
            reader.error(
                &value_path,
                "missing: this operator compares against a value",
            );
            return None;
        }
        (Some(_), false) => {
            reader.error(&value_path, "present and absent take no value");
            return None;
        }
        _ => {}
    }
    let value = value.unwrap_or_default();
    if matches!(operator, QueryOperator::Pattern | QueryOperator::NotPattern) {
        if let Err(error) = regex::Regex::new(&value) {
            reader.error(&value_path, format!("invalid regular expression: {error}"));
            return None;
        }
    }
    Some(QueryCondition {
        key,
        operator,
        value,
    })
}

fn read_methods(reader: &mut Reader, section: &mut Section<'_>) -> Vec<String> {
    let Some(items) = section.string_list(reader, "methods") else {
        return Vec::new();
    };
    let mut methods = Vec::new();
    for (path, text) in items {
        let method = text.trim().to_ascii_uppercase();
        if VALID_METHODS.contains(&method.as_str()) {
            if !methods.contains(&method) {
                methods.push(method);
            }
        } else {
            reader.error(
                &path,
                format!(
                    "unknown method '{text}': expected one of {}",
                    VALID_METHODS.join(", ")
                ),
            );
        }
    }
    methods
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_domain_forms() {
        for domain in [
            "app.example.com",
            "*.example.com",
            "{user}.example.com",
            "{group}.example.com",
            "10.0.0.1",
        ] {
            assert!(check_rule_domain(domain).is_ok(), "{domain}");
        }
        for domain in [
            "*",
            "https://app.example.com",
            "app.example.com/x",
            "a..b",
            "*.*.example.com",
        ] {
            assert!(check_rule_domain(domain).is_err(), "{domain}");
        }
    }
}
