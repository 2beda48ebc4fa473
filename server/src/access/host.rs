//! Host patterns from `domain`, and the index that finds the rules whose host criterion can
//! match a given host without looking at the others.

use std::collections::HashMap;
use std::net::Ipv6Addr;

use super::request::Subject;
use super::rule::{eq_ignore_case, CompiledRule};

/// One compiled entry of a rule's `domain`. Patterns contain lower-case text without a trailing
/// dot, and matching works on whole labels, so a suffix only matches after a `.`.
#[derive(Debug)]
pub(super) enum DomainPattern {
    /// A host name or IP literal, equal to the host.
    Exact(Box<str>),
    /// `*.suffix`: one or more labels, then exactly the suffix.
    Wildcard(Box<str>),
    /// `{user}.suffix`: the user name, then exactly the suffix.
    User(Box<str>),
    /// `{group}.suffix`: one label naming one of the user's groups, then exactly the suffix.
    Group(Box<str>),
}

impl DomainPattern {
    /// Compiles one `domain` entry into the patterns it stands for. An IPv6 literal yields two
    /// patterns, one with and one without brackets, so either host form matches.
    pub(super) fn compile(entry: &str) -> Result<Vec<DomainPattern>, String> {
        let entry = entry.trim().to_ascii_lowercase();
        let entry = entry.strip_suffix('.').unwrap_or(&entry);
        if let Ok(address) = entry.parse::<Ipv6Addr>() {
            return Ok(vec![
                DomainPattern::Exact(address.to_string().into()),
                DomainPattern::Exact(format!("[{address}]").into()),
            ]);
        }
        let (make, name): (fn(Box<str>) -> DomainPattern, &str) =
            if let Some(rest) = entry.strip_prefix("*.") {
                (DomainPattern::Wildcard, rest)
            } else if let Some(rest) = entry.strip_prefix("{user}.") {
                (DomainPattern::User, rest)
            } else if let Some(rest) = entry.strip_prefix("{group}.") {
                (DomainPattern::Group, rest)
            } else {
                (DomainPattern::Exact, entry)
            };
        let valid_label = |label: &str| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
        };
        if !name.split('.').all(valid_label) {
            return Err(format!(
                "invalid domain '{entry}': expected a host name, optionally starting with '*.', \
                 '{{user}}.' or '{{group}}.'; use domain_regex for other patterns"
            ));
        }
        Ok(vec![make(name.into())])
    }

    /// Tests the pattern against a canonical host. For an anonymous subject, `{user}` and
    /// `{group}` patterns only need the host to end in `.suffix` after at least one label.
    pub(super) fn matches(&self, host: &str, subject: &Subject<'_>) -> bool {
        match self {
            DomainPattern::Exact(name) => host == &**name,
            DomainPattern::Wildcard(suffix) => strip_label_suffix(host, suffix).is_some(),
            DomainPattern::User(suffix) => {
                let Some(prefix) = strip_label_suffix(host, suffix) else {
                    return false;
                };
                match subject {
                    Subject::Anonymous => true,
                    Subject::User { username, .. } => eq_ignore_case(prefix, username),
                }
            }
            DomainPattern::Group(suffix) => {
                let Some(prefix) = strip_label_suffix(host, suffix) else {
                    return false;
                };
                match subject {
                    Subject::Anonymous => true,
                    Subject::User { groups, .. } => {
                        !prefix.contains('.')
                            && groups.iter().any(|group| eq_ignore_case(prefix, group))
                    }
                }
            }
        }
    }

    fn index_key(&self) -> IndexKey<'_> {
        match self {
            DomainPattern::Exact(name) => IndexKey::Exact(name),
            DomainPattern::Wildcard(suffix)
            | DomainPattern::User(suffix)
            | DomainPattern::Group(suffix) => IndexKey::UnderSuffix(suffix),
        }
    }

    /// True for `{user}` and `{group}` patterns, whose match depends on the subject.
    pub(super) fn depends_on_subject(&self) -> bool {
        matches!(self, DomainPattern::User(_) | DomainPattern::Group(_))
    }
}

/// Returns the labels of `host` before `.suffix`, or `None` when the host does not end in
/// `.suffix` after at least one character.
fn strip_label_suffix<'h>(host: &'h str, suffix: &str) -> Option<&'h str> {
    host.strip_suffix(suffix)?
        .strip_suffix('.')
        .filter(|prefix| !prefix.is_empty())
}

enum IndexKey<'p> {
    Exact(&'p str),
    UnderSuffix(&'p str),
}

/// The maximum number of rule lists one decision merges. A canonical host has at most 127
/// labels, but a list is only taken for a suffix that some rule names, so real configurations
/// stay far below this. Beyond it, [`HostIndex::candidates`] returns every rule.
const MAX_CANDIDATE_LISTS: usize = 64;

/// Rule numbers grouped by the hosts their `domain` entries can match.
///
/// Each list contains rule numbers in increasing order without repeats, so merging the lists that
/// apply to a host yields the candidate rules in configuration order.
#[derive(Debug, Default)]
pub(super) struct HostIndex {
    /// Rules with a `domain` entry equal to the key.
    exact: HashMap<Box<str>, Vec<usize>>,
    /// Rules with a `*.`, `{user}.` or `{group}.` entry whose suffix is the key.
    under_suffix: HashMap<Box<str>, Vec<usize>>,
    /// Rules that can match any host: those with a `domain_regex`, and those with no host
    /// criterion at all.
    any_host: Vec<usize>,
    /// Every rule number, for a host that needs more lists than [`MAX_CANDIDATE_LISTS`].
    every_rule: Vec<usize>,
}

impl HostIndex {
    pub(super) fn build(rules: &[CompiledRule]) -> HostIndex {
        let mut index = HostIndex {
            every_rule: (0..rules.len()).collect(),
            ..HostIndex::default()
        };
        for (number, rule) in rules.iter().enumerate() {
            if !rule.domain_regexes.is_empty() || rule.domains.is_empty() {
                index.any_host.push(number);
                continue;
            }
            for pattern in &rule.domains {
                let list = match pattern.index_key() {
                    IndexKey::Exact(name) => index.exact.entry(name.into()).or_default(),
                    IndexKey::UnderSuffix(suffix) => {
                        index.under_suffix.entry(suffix.into()).or_default()
                    }
                };
                if list.last() != Some(&number) {
                    list.push(number);
                }
            }
        }
        index
    }

    /// Returns, in configuration order, the rules whose host criterion may match `host`. The
    /// cost is one hash lookup per label of the host plus the length of the lists found, and
    /// nothing is allocated.
    pub(super) fn candidates<'i>(&'i self, host: &str) -> Candidates<'i> {
        let mut merge = Candidates::empty();
        let mut complete = merge.push(&self.any_host);
        if let Some(list) = self.exact.get(host) {
            complete &= merge.push(list);
        }
        for (position, byte) in host.bytes().enumerate() {
            if byte == b'.' {
                if let Some(list) = self.under_suffix.get(&host[position + 1..]) {
                    complete &= merge.push(list);
                }
            }
        }
        if !complete {
            merge = Candidates::empty();
            merge.push(&self.every_rule);
        }
        merge
    }
}

/// Rule numbers to test for one host, in increasing order: a k-way merge of increasing lists in
/// a fixed buffer, in which a number found in several lists comes out once.
pub(super) struct Candidates<'i> {
    lists: [&'i [usize]; MAX_CANDIDATE_LISTS],
    len: usize,
}

impl<'i> Candidates<'i> {
    fn empty() -> Candidates<'i> {
        Candidates {
            lists: [&[]; MAX_CANDIDATE_LISTS],
            len: 0,
        }
    }

    /// Adds a list; returns false when the buffer is full and the list was dropped.
    fn push(&mut self, list: &'i [usize]) -> bool {
        if list.is_empty() {
            return true;
        }
        if self.len == MAX_CANDIDATE_LISTS {
            return false;
        }
        self.lists[self.len] = list;
        self.len += 1;
        true
    }
}

impl Iterator for Candidates<'_> {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        let lists = &mut self.lists[..self.len];
        let smallest = lists
            .iter()
            .filter_map(|list| list.first())
            .min()
            .copied()?;
        for list in lists.iter_mut() {
            if list.first() == Some(&smallest) {
                *list = &list[1..];
            }
        }
        Some(smallest)
    }
}
