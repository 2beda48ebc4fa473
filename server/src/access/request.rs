//! Inputs and output of a decision: the request's target, the subject, and the decision.

use std::net::IpAddr;

use crate::config::Policy;

/// The target of a request in canonical form, as the caller derived it from the proxy's headers.
///
/// The engine does not canonicalise again. It matches a host in capitals or a path with `..`
/// segments as given, so the caller must produce the canonical forms described on each field.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// Host name, lower-case, without a trailing dot and without a port. An IPv6 literal is in
    /// the form `Ipv6Addr`'s `Display` writes, with or without brackets.
    pub host: &'a str,
    /// The target's method, in upper-case letters only.
    pub method: &'a str,
    /// Methods named by override headers or a `_method` query parameter, empty when there are
    /// none. A `methods` criterion matches only if the method and every override are listed.
    pub method_overrides: &'a [String],
    /// Canonical path: percent-decoded once, dot segments resolved, repeated slashes collapsed.
    pub path: &'a str,
    /// Text that `resources` patterns match: the canonical path, then `?` and the raw query
    /// when the target has a query.
    pub resource: &'a str,
    /// Decoded query parameters in the order received. A key given twice is compared by its
    /// first value.
    pub query: &'a [(String, String)],
    /// The client's address, or `None` when it is unknown. An unknown address never matches a
    /// `networks` criterion.
    pub client_ip: Option<IpAddr>,
}

/// The originator of a request, as identification found it.
#[derive(Debug, Clone, Copy)]
pub enum Subject<'a> {
    /// No user is identified yet. Every subject-dependent criterion counts as matching, so the
    /// first rule that a logged-in user could satisfy decides what login is needed.
    Anonymous,
    /// An identified user. User names compare ignoring case. `group:` subjects compare groups
    /// exactly, while `{group}` domains and `Group` regex captures ignore case.
    User {
        username: &'a str,
        groups: &'a [String],
    },
}

/// The outcome of [`AccessControl::decide`](super::AccessControl::decide).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// The policy the request needs.
    pub policy: Policy,
    /// The 0-based index into `access_control.rules` of the rule that decided, or `None` when
    /// no rule matched and the default policy applies.
    pub rule: Option<usize>,
    /// True when the deciding rule has subject criteria (`subject`, `{user}` or `{group}`
    /// domains, or `User`/`Group` named groups). For an anonymous request such a rule means
    /// "log in first", even with policy `deny`.
    pub subject_rule: bool,
}
