//! Property tests: on random rule sets and requests, the indexed engine decides exactly as a
//! plain reference that tests every rule in order, written separately over the configuration
//! types with string and label operations.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::OnceLock;

use ipnet::IpNet;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{select, subsequence};
use regex::Regex;

use crate::config::{
    AccessControlConfig, Policy, QueryCondition, QueryOperator, Rule, Subject as SubjectCriterion,
};

use super::{AccessControl, Decision, Request, Subject};

/// Hosts and domains are built from these few labels and suffixes, so that rules often share a
/// suffix and hosts often fall under several rules.
const LABELS: &[&str] = &["a", "b", "alice", "bob", "dev", "admins"];
const SUFFIXES: &[&str] = &["com", "example.com", "a.example.com", "app.com"];
const METHODS: &[&str] = &["GET", "POST", "DELETE", "OPTIONS"];
const DOMAIN_REGEXES: &[&str] = &[
    r"^(?P<User>\w+)\.example\.com$",
    r"^(?P<Group>[a-z]+)\.",
    r"^a\.",
    r"example\.com$",
    r"^(?:(?P<User>[a-z]+)\.)?app\.com$",
    r"b",
];
const RESOURCES: &[&str] = &[
    "^/admin",
    r"\.css$",
    r"^/(?P<User>[a-z]+)/",
    "^/$",
    r"\?x=",
    r"^/(?P<Group>[a-z]+)(/|$)",
];
const QUERY_VALUES: &[&str] = &["", "1", "^1", "a"];
const PATHS: &[&str] = &["/", "/admin", "/admin/x", "/alice/x", "/dev", "/s.css"];
const ADDRESSES: &[&str] = &[
    "10.1.1.1",
    "192.0.2.5",
    "::ffff:10.2.2.2",
    "2001:db8::5",
    "198.51.100.1",
];
const NETWORKS: &[&str] = &[
    "10.0.0.0/8",
    "192.0.2.0/24",
    "2001:db8::/32",
    "198.51.100.1/32",
];
const USERNAMES: &[&str] = &["alice", "Alice", "bob", "carol"];
const GROUPS: &[&str] = &["dev", "admins", "Admins"];

/// Every regular expression the generators can produce, compiled once for the reference.
fn compiled(pattern: &str) -> &'static Regex {
    static REGEXES: OnceLock<HashMap<&'static str, Regex>> = OnceLock::new();
    let regexes = REGEXES.get_or_init(|| {
        DOMAIN_REGEXES
            .iter()
            .chain(RESOURCES)
            .chain(QUERY_VALUES)
            .map(|pattern| (*pattern, Regex::new(pattern).expect("a valid test pattern")))
            .collect()
    });
    &regexes[pattern]
}

fn strings(
    pool: &'static [&'static str],
    size: std::ops::RangeInclusive<usize>,
) -> impl Strategy<Value = Vec<String>> {
    vec(select(pool), size).prop_map(|items| items.into_iter().map(str::to_owned).collect())
}

fn domain_entry() -> impl Strategy<Value = String> {
    (
        select(&["", "", "*.", "{user}.", "{group}."][..]),
        prop::option::of(select(LABELS)),
        select(SUFFIXES),
        any::<bool>(),
    )
        .prop_map(|(prefix, label, suffix, trailing_dot)| {
            let label = label.map(|label| format!("{label}.")).unwrap_or_default();
            let dot = if trailing_dot { "." } else { "" };
            format!("{prefix}{label}{suffix}{dot}")
        })
}

fn subject_criterion() -> impl Strategy<Value = SubjectCriterion> {
    prop_oneof![
        select(&["alice", "bob"][..]).prop_map(|name| SubjectCriterion::User(name.to_owned())),
        select(GROUPS).prop_map(|name| SubjectCriterion::Group(name.to_owned())),
        Just(SubjectCriterion::OAuth2Client("ci".to_owned())),
    ]
}

fn query_condition() -> impl Strategy<Value = QueryCondition> {
    let operator = select(
        &[
            QueryOperator::Equal,
            QueryOperator::NotEqual,
            QueryOperator::Present,
            QueryOperator::Absent,
            QueryOperator::Pattern,
            QueryOperator::NotPattern,
        ][..],
    );
    (select(&["x", "y"][..]), operator, select(QUERY_VALUES)).prop_map(|(key, operator, value)| {
        let value = match operator {
            QueryOperator::Present | QueryOperator::Absent => "",
            _ => value,
        };
        QueryCondition {
            key: key.to_owned(),
            operator,
            value: value.to_owned(),
        }
    })
}

fn policy() -> impl Strategy<Value = Policy> {
    select(
        &[
            Policy::Bypass,
            Policy::OneFactor,
            Policy::TwoFactor,
            Policy::Deny,
        ][..],
    )
}

/// A list that is empty two times in three, so that most rules have few criteria and many
/// requests match some rule.
fn seldom<T: std::fmt::Debug + Clone>(
    items: impl Strategy<Value = Vec<T>> + 'static,
) -> impl Strategy<Value = Vec<T>> {
    prop_oneof![2 => Just(Vec::new()), 1 => items]
}

fn rule() -> impl Strategy<Value = Rule> {
    (
        vec(domain_entry(), 0..=2),
        seldom(strings(DOMAIN_REGEXES, 1..=1)),
        policy(),
        seldom(vec(vec(subject_criterion(), 1..=2), 1..=2)),
        seldom(vec(select(NETWORKS), 1..=2)),
        seldom(strings(RESOURCES, 1..=1)),
        seldom(vec(vec(query_condition(), 1..=2), 1..=2)),
        seldom(subsequence(METHODS, 1..=2)),
    )
        .prop_map(
            |(domain, domain_regex, policy, subject, networks, resources, query, methods)| Rule {
                domain,
                domain_regex,
                policy,
                subject,
                networks: networks
                    .into_iter()
                    .map(|network| network.parse().expect("a valid test network"))
                    .collect(),
                resources,
                query,
                methods: methods.into_iter().map(str::to_owned).collect(),
            },
        )
}

fn access_control() -> impl Strategy<Value = AccessControlConfig> {
    (policy(), vec(rule(), 0..=8)).prop_map(|(default_policy, rules)| AccessControlConfig {
        default_policy,
        rules,
    })
}

/// A generated request with what [`Request`] and [`Subject`] borrow.
#[derive(Debug, Clone)]
struct Case {
    host: String,
    method: String,
    overrides: Vec<String>,
    path: String,
    resource: String,
    query: Vec<(String, String)>,
    client_ip: Option<IpAddr>,
    user: Option<(String, Vec<String>)>,
}

impl Case {
    fn request(&self) -> Request<'_> {
        Request {
            host: &self.host,
            method: &self.method,
            method_overrides: &self.overrides,
            path: &self.path,
            resource: &self.resource,
            query: &self.query,
            client_ip: self.client_ip,
        }
    }

    fn subject(&self) -> Subject<'_> {
        match &self.user {
            None => Subject::Anonymous,
            Some((username, groups)) => Subject::User { username, groups },
        }
    }
}

fn case() -> impl Strategy<Value = Case> {
    let user = prop::option::of((select(USERNAMES), subsequence(GROUPS, 0..=2)));
    (
        (vec(select(LABELS), 0..=2), select(SUFFIXES)),
        select(METHODS),
        strings(METHODS, 0..=1),
        select(PATHS),
        vec(
            (
                select(&["x", "y", "z"][..]),
                select(&["", "1", "a", "12"][..]),
            ),
            0..=3,
        ),
        prop::option::of(select(ADDRESSES)),
        user,
    )
        .prop_map(
            |((labels, suffix), method, overrides, path, pairs, address, user)| {
                let raw_query: Vec<String> = pairs
                    .iter()
                    .map(|(key, value)| format!("{key}={value}"))
                    .collect();
                let resource = if raw_query.is_empty() {
                    path.to_owned()
                } else {
                    format!("{path}?{}", raw_query.join("&"))
                };
                Case {
                    host: labels
                        .into_iter()
                        .chain([suffix])
                        .collect::<Vec<_>>()
                        .join("."),
                    method: method.to_owned(),
                    overrides,
                    path: path.to_owned(),
                    resource,
                    query: pairs
                        .into_iter()
                        .map(|(key, value)| (key.to_owned(), value.to_owned()))
                        .collect(),
                    client_ip: address.map(|text| text.parse().expect("a valid test address")),
                    user: user.map(|(name, groups)| {
                        (
                            name.to_owned(),
                            groups.into_iter().map(str::to_owned).collect(),
                        )
                    }),
                }
            },
        )
}

// The reference: every rule in order, each criterion written out plainly.

fn reference_decide(config: &AccessControlConfig, case: &Case) -> Decision {
    for (number, rule) in config.rules.iter().enumerate() {
        if reference_matches(rule, case) {
            return Decision {
                policy: rule.policy,
                rule: Some(number),
                subject_rule: reference_has_subject_criteria(rule),
            };
        }
    }
    Decision {
        policy: config.default_policy,
        rule: None,
        subject_rule: false,
    }
}

fn reference_has_subject_criteria(rule: &Rule) -> bool {
    let named = |pattern: &String| pattern.contains("(?P<User>") || pattern.contains("(?P<Group>");
    !rule.subject.is_empty()
        || rule
            .domain
            .iter()
            .any(|entry| entry.starts_with("{user}.") || entry.starts_with("{group}."))
        || rule.domain_regex.iter().any(named)
        || rule.resources.iter().any(named)
}

fn reference_matches(rule: &Rule, case: &Case) -> bool {
    let host_matches = (rule.domain.is_empty() && rule.domain_regex.is_empty())
        || rule
            .domain
            .iter()
            .any(|entry| reference_domain(entry, case))
        || rule
            .domain_regex
            .iter()
            .any(|pattern| reference_regex(pattern, &case.host, case));
    let subject_matches = match &case.user {
        _ if rule.subject.is_empty() => true,
        None => true,
        Some((username, groups)) => rule.subject.iter().any(|criteria| {
            criteria.iter().all(|criterion| match criterion {
                SubjectCriterion::User(name) => username.to_lowercase() == *name,
                SubjectCriterion::Group(name) => groups.contains(name),
                SubjectCriterion::OAuth2Client(_) => false,
            })
        }),
    };
    let networks_match = rule.networks.is_empty()
        || case.client_ip.is_some_and(|address| {
            let address = address.to_canonical();
            rule.networks
                .iter()
                .any(|network: &IpNet| network.contains(&address))
        });
    let resources_match = rule.resources.is_empty()
        || rule
            .resources
            .iter()
            .any(|pattern| reference_regex(pattern, &case.resource, case));
    let query_matches = rule.query.is_empty()
        || rule.query.iter().any(|conditions| {
            conditions
                .iter()
                .all(|condition| reference_condition(condition, case))
        });
    let listed = |method: &String| rule.methods.contains(method);
    let methods_match =
        rule.methods.is_empty() || (listed(&case.method) && case.overrides.iter().all(listed));
    host_matches
        && subject_matches
        && networks_match
        && resources_match
        && query_matches
        && methods_match
}

fn reference_domain(entry: &str, case: &Case) -> bool {
    let entry = entry.strip_suffix('.').unwrap_or(entry);
    let host: Vec<&str> = case.host.split('.').collect();
    let under = |suffix: &str| {
        let suffix: Vec<&str> = suffix.split('.').collect();
        host.len() > suffix.len() && host.ends_with(&suffix)
    };
    let before = |suffix: &str| host[..host.len() - suffix.split('.').count()].join(".");
    if let Some(suffix) = entry.strip_prefix("*.") {
        under(suffix)
    } else if let Some(suffix) = entry.strip_prefix("{user}.") {
        under(suffix)
            && match &case.user {
                None => true,
                Some((username, _)) => before(suffix) == username.to_lowercase(),
            }
    } else if let Some(suffix) = entry.strip_prefix("{group}.") {
        under(suffix)
            && match &case.user {
                None => true,
                Some((_, groups)) => {
                    let label = before(suffix);
                    groups.iter().any(|group| group.to_lowercase() == label)
                }
            }
    } else {
        case.host == entry
    }
}

fn reference_regex(pattern: &str, text: &str, case: &Case) -> bool {
    let Some(captures) = compiled(pattern).captures(text) else {
        return false;
    };
    let Some((username, groups)) = &case.user else {
        return true;
    };
    let user_holds = !pattern.contains("(?P<User>")
        || captures
            .name("User")
            .is_some_and(|value| value.as_str().to_lowercase() == username.to_lowercase());
    let group_holds = !pattern.contains("(?P<Group>")
        || captures.name("Group").is_some_and(|value| {
            groups
                .iter()
                .any(|group| group.to_lowercase() == value.as_str().to_lowercase())
        });
    user_holds && group_holds
}

fn reference_condition(condition: &QueryCondition, case: &Case) -> bool {
    let first = case
        .query
        .iter()
        .find(|(key, _)| *key == condition.key)
        .map(|(_, value)| value.as_str());
    let value = first.unwrap_or("");
    match condition.operator {
        QueryOperator::Equal => value == condition.value,
        QueryOperator::NotEqual => value != condition.value,
        QueryOperator::Present => first.is_some(),
        QueryOperator::Absent => first.is_none(),
        QueryOperator::Pattern => compiled(&condition.value).is_match(value),
        QueryOperator::NotPattern => !compiled(&condition.value).is_match(value),
    }
}

/// Orders decisions by how far down the rules they stopped; the default policy comes last.
fn stop_position(decision: &Decision) -> usize {
    decision.rule.unwrap_or(usize::MAX)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        ..ProptestConfig::default()
    })]

    #[test]
    fn indexed_decision_equals_reference(config in access_control(), cases in vec(case(), 1..=8)) {
        let engine = AccessControl::compile(&config).expect("generated rules compile");
        for case in &cases {
            let decision = engine.decide(&case.request(), &case.subject());
            prop_assert_eq!(decision, reference_decide(&config, case), "case {:?}", case);
        }
    }

    #[test]
    fn decision_never_skips_matching_rule(config in access_control(), cases in vec(case(), 1..=8)) {
        let engine = AccessControl::compile(&config).expect("generated rules compile");
        for case in &cases {
            let decision = engine.decide(&case.request(), &case.subject());
            let first_match = config.rules.iter().position(|rule| reference_matches(rule, case));
            prop_assert_eq!(decision.rule, first_match, "case {:?}", case);
            let expected_policy = first_match.map_or(config.default_policy, |number| config.rules[number].policy);
            prop_assert_eq!(decision.policy, expected_policy, "case {:?}", case);
        }
    }

    #[test]
    fn anonymous_stops_no_later_than_user(config in access_control(), cases in vec(case(), 1..=8)) {
        // Anonymous requests pass every subject criterion, so they stop at or before the rule
        // that decides for any logged-in user.
        let engine = AccessControl::compile(&config).expect("generated rules compile");
        for case in &cases {
            let as_user = engine.decide(&case.request(), &case.subject());
            let as_anonymous = engine.decide(&case.request(), &Subject::Anonymous);
            prop_assert!(
                stop_position(&as_anonymous) <= stop_position(&as_user),
                "anonymous {:?} after user {:?} for {:?}", as_anonymous, as_user, case
            );
        }
    }
}
