//! One compiled rule of `access_control.rules` and the test of its criteria against a request.

use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};

use ipnet::IpNet;
use regex::{CaptureLocations, Regex};

use crate::config::{Policy, QueryCondition, QueryOperator, Rule, Subject as SubjectCriterion};

use super::host::DomainPattern;
use super::request::{Request, Subject};
use super::CompileError;

/// A rule with its patterns compiled, ready to be tested against many requests.
#[derive(Debug)]
pub(super) struct CompiledRule {
    pub(super) policy: Policy,
    /// Empty together with `domain_regexes` when the rule has no host criterion.
    pub(super) domains: Vec<DomainPattern>,
    pub(super) domain_regexes: Vec<SubjectPattern>,
    subjects: Vec<Vec<SubjectCriterion>>,
    networks: Vec<IpNet>,
    resources: Vec<SubjectPattern>,
    query: Vec<Vec<Condition>>,
    methods: Vec<String>,
    /// True when any criterion depends on who makes the request.
    pub(super) has_subject_criteria: bool,
}

impl CompiledRule {
    /// Compiles `rule`, which is `access_control.rules[number]`. Errors name that key path.
    pub(super) fn compile(number: usize, rule: &Rule) -> Result<CompiledRule, CompileError> {
        let path = format!("access_control.rules[{number}]");
        let mut domains = Vec::with_capacity(rule.domain.len());
        for (item, entry) in rule.domain.iter().enumerate() {
            let patterns = DomainPattern::compile(entry)
                .map_err(|message| CompileError::new(format!("{path}.domain[{item}]"), message))?;
            domains.extend(patterns);
        }
        let domain_regexes = compile_patterns(&path, "domain_regex", &rule.domain_regex)?;
        let resources = compile_patterns(&path, "resources", &rule.resources)?;
        let mut query = Vec::with_capacity(rule.query.len());
        for (alternative, conditions) in rule.query.iter().enumerate() {
            let mut compiled = Vec::with_capacity(conditions.len());
            for (item, condition) in conditions.iter().enumerate() {
                let item_path = format!("{path}.query[{alternative}][{item}]");
                compiled.push(Condition::compile(&item_path, condition)?);
            }
            query.push(compiled);
        }

        let has_subject_criteria = !rule.subject.is_empty()
            || domains.iter().any(DomainPattern::depends_on_subject)
            || domain_regexes
                .iter()
                .any(SubjectPattern::depends_on_subject)
            || resources.iter().any(SubjectPattern::depends_on_subject);
        Ok(CompiledRule {
            policy: rule.policy,
            domains,
            domain_regexes,
            subjects: rule.subject.clone(),
            networks: rule.networks.clone(),
            resources,
            query,
            methods: rule.methods.clone(),
            has_subject_criteria,
        })
    }

    /// Tests every criterion of the rule, which all must match. Cheap criteria go first.
    pub(super) fn matches(&self, request: &Request<'_>, subject: &Subject<'_>) -> bool {
        self.matches_methods(request.method, request.method_overrides)
            && self.matches_networks(request.client_ip)
            && self.matches_host(request.host, subject)
            && self.matches_query(request.query)
            && self.matches_resources(request.resource, subject)
            && self.matches_subjects(subject)
    }

    fn matches_methods(&self, method: &str, overrides: &[String]) -> bool {
        let listed = |name: &str| self.methods.iter().any(|allowed| allowed == name);
        self.methods.is_empty() || (listed(method) && overrides.iter().all(|name| listed(name)))
    }

    fn matches_networks(&self, client_ip: Option<IpAddr>) -> bool {
        if self.networks.is_empty() {
            return true;
        }
        let Some(address) = client_ip else {
            return false;
        };
        // An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is the IPv4 client it carries.
        let address = address.to_canonical();
        self.networks
            .iter()
            .any(|network| network.contains(&address))
    }

    fn matches_host(&self, host: &str, subject: &Subject<'_>) -> bool {
        if self.domains.is_empty() && self.domain_regexes.is_empty() {
            return true;
        }
        self.domains
            .iter()
            .any(|pattern| pattern.matches(host, subject))
            || self
                .domain_regexes
                .iter()
                .any(|pattern| pattern.matches(host, subject))
    }

    fn matches_query(&self, parameters: &[(String, String)]) -> bool {
        self.query.is_empty()
            || self.query.iter().any(|conditions| {
                conditions
                    .iter()
                    .all(|condition| condition.matches(parameters))
            })
    }

    fn matches_resources(&self, resource: &str, subject: &Subject<'_>) -> bool {
        self.resources.is_empty()
            || self
                .resources
                .iter()
                .any(|pattern| pattern.matches(resource, subject))
    }

    fn matches_subjects(&self, subject: &Subject<'_>) -> bool {
        if self.subjects.is_empty() {
            return true;
        }
        let Subject::User { username, groups } = subject else {
            return true;
        };
        self.subjects.iter().any(|criteria| {
            criteria.iter().all(|criterion| match criterion {
                // NOTE: names compare ignoring case as in the database backend. A users file
                // without `search.case_insensitive` compares names exactly, which is not handled.
                SubjectCriterion::User(name) => eq_ignore_case(username, name),
                SubjectCriterion::Group(name) => groups.iter().any(|group| group == name),
                // Only bearer tokens carry an OAuth 2 client, and Gatehouse accepts none.
                SubjectCriterion::OAuth2Client(_) => false,
            })
        })
    }
}

fn compile_patterns(
    rule_path: &str,
    key: &str,
    patterns: &[String],
) -> Result<Vec<SubjectPattern>, CompileError> {
    patterns
        .iter()
        .enumerate()
        .map(|(item, pattern)| {
            SubjectPattern::compile(pattern).map_err(|error| {
                CompileError::new(
                    format!("{rule_path}.{key}[{item}]"),
                    format!("invalid regular expression: {error}"),
                )
            })
        })
        .collect()
}

/// The maximum number of capture buffers a [`SubjectPattern`] keeps for reuse, which is about
/// the number of threads that decide at once. Beyond it, a buffer is dropped after use.
const MAX_POOLED_CAPTURE_BUFFERS: usize = 64;

/// A regular expression of `domain_regex` or `resources`, whose named groups `User` and `Group`
/// tie the match to the subject.
#[derive(Debug)]
pub(super) struct SubjectPattern {
    regex: Regex,
    user_group: Option<usize>,
    group_group: Option<usize>,
    /// Capture buffers kept between decisions, so that reading the named groups allocates only
    /// while the pool warms up.
    capture_buffers: Mutex<Vec<CaptureLocations>>,
}

impl SubjectPattern {
    fn compile(pattern: &str) -> Result<SubjectPattern, regex::Error> {
        let regex = Regex::new(pattern)?;
        let group_index =
            |wanted: &str| regex.capture_names().position(|name| name == Some(wanted));
        Ok(SubjectPattern {
            user_group: group_index("User"),
            group_group: group_index("Group"),
            regex,
            capture_buffers: Mutex::new(Vec::new()),
        })
    }

    fn depends_on_subject(&self) -> bool {
        self.user_group.is_some() || self.group_group.is_some()
    }

    /// Tests the pattern against `text`. For an identified user, a `User` group must capture
    /// the user name and a `Group` group one of the user's groups, both ignoring case. A group
    /// that captures nothing fails. For an anonymous subject the regex only needs to match.
    pub(super) fn matches(&self, text: &str, subject: &Subject<'_>) -> bool {
        let (username, groups) = match subject {
            Subject::User { username, groups } if self.depends_on_subject() => (username, groups),
            _ => return self.regex.is_match(text),
        };
        // A failed match is common and needs no capture buffer.
        if !self.regex.is_match(text) {
            return false;
        }
        let mut buffer = self.take_capture_buffer();
        let matched = self.regex.captures_read(&mut buffer, text).is_some()
            && capture_holds(&buffer, self.user_group, text, |value| {
                eq_ignore_case(value, username)
            })
            && capture_holds(&buffer, self.group_group, text, |value| {
                groups.iter().any(|group| eq_ignore_case(value, group))
            });
        self.return_capture_buffer(buffer);
        matched
    }

    fn take_capture_buffer(&self) -> CaptureLocations {
        let pooled = self
            .capture_buffers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        pooled.unwrap_or_else(|| self.regex.capture_locations())
    }

    fn return_capture_buffer(&self, buffer: CaptureLocations) {
        let mut pool = self
            .capture_buffers
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if pool.len() < MAX_POOLED_CAPTURE_BUFFERS {
            pool.push(buffer);
        }
    }
}

/// Tests the text captured by the group at `index`. Returns true when the pattern has no such
/// group, and false when the group captured nothing.
fn capture_holds(
    buffer: &CaptureLocations,
    index: Option<usize>,
    text: &str,
    test: impl Fn(&str) -> bool,
) -> bool {
    let Some(index) = index else {
        return true;
    };
    buffer
        .get(index)
        .is_some_and(|(start, end)| test(&text[start..end]))
}

/// One compiled `{key, operator, value}` item of a rule's `query`.
#[derive(Debug)]
struct Condition {
    key: String,
    test: ConditionTest,
}

#[derive(Debug)]
enum ConditionTest {
    Equal(String),
    NotEqual(String),
    Present,
    Absent,
    Pattern(Regex),
    NotPattern(Regex),
}

impl Condition {
    fn compile(path: &str, condition: &QueryCondition) -> Result<Condition, CompileError> {
        let regex = || {
            Regex::new(&condition.value).map_err(|error| {
                CompileError::new(
                    format!("{path}.value"),
                    format!("invalid regular expression: {error}"),
                )
            })
        };
        let test = match condition.operator {
            QueryOperator::Equal => ConditionTest::Equal(condition.value.clone()),
            QueryOperator::NotEqual => ConditionTest::NotEqual(condition.value.clone()),
            QueryOperator::Present => ConditionTest::Present,
            QueryOperator::Absent => ConditionTest::Absent,
            QueryOperator::Pattern => ConditionTest::Pattern(regex()?),
            QueryOperator::NotPattern => ConditionTest::NotPattern(regex()?),
        };
        Ok(Condition {
            key: condition.key.clone(),
            test,
        })
    }

    /// Tests the first value of the key. A missing key compares as the empty string.
    fn matches(&self, parameters: &[(String, String)]) -> bool {
        let first = parameters
            .iter()
            .find(|(key, _)| *key == self.key)
            .map(|(_, value)| value.as_str());
        let value = first.unwrap_or("");
        match &self.test {
            ConditionTest::Equal(expected) => value == expected,
            ConditionTest::NotEqual(expected) => value != expected,
            ConditionTest::Present => first.is_some(),
            ConditionTest::Absent => first.is_none(),
            ConditionTest::Pattern(regex) => regex.is_match(value),
            ConditionTest::NotPattern(regex) => !regex.is_match(value),
        }
    }
}

/// Compares two names ignoring case without allocating: ASCII directly, other text by
/// lower-casing each character. The final sigma `ς` counts as `σ`, because `str::to_lowercase`,
/// which lower-cased the configured names, writes `ς` at the end of a word.
pub(super) fn eq_ignore_case(left: &str, right: &str) -> bool {
    if left.is_ascii() && right.is_ascii() {
        return left.eq_ignore_ascii_case(right);
    }
    folded(left).eq(folded(right))
}

fn folded(text: &str) -> impl Iterator<Item = char> + '_ {
    text.chars()
        .flat_map(char::to_lowercase)
        .map(|c| if c == 'ς' { 'σ' } else { c })
}
