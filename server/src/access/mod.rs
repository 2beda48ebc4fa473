//! Access control: compiles `access_control` once and decides which policy a request needs.
//!
//! The module is pure. It reads only configuration types and the [`Request`] and [`Subject`]
//! the caller fills in, and it performs no I/O. The HTTP layer combines the [`Decision`] with
//! what identification found.
//!
//! Rules are tested top to bottom and the first rule whose criteria all match decides. A host
//! index narrows the rules tested to those whose `domain` can match the host, plus the rules
//! with a `domain_regex` or without a host criterion. So a decision costs about the same however
//! many rules name other hosts. Deciding allocates nothing, except that a `User` or `Group`
//! named group fills a pooled capture buffer, which is allocated only while the pool is empty.

mod host;
mod request;
mod rule;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

use crate::config::{AccessControlConfig, Policy};

use host::HostIndex;
use rule::CompiledRule;

pub use request::{Decision, Request, Subject};

/// A rule set compiled for deciding. Build it once per configuration with
/// [`AccessControl::compile`], then call [`AccessControl::decide`] for each request.
#[derive(Debug)]
pub struct AccessControl {
    default_policy: Policy,
    rules: Vec<CompiledRule>,
    index: HostIndex,
}

/// A rule that cannot be compiled, named by its key path such as
/// `access_control.rules[2].domain_regex[0]`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct CompileError {
    pub path: String,
    pub message: String,
}

impl CompileError {
    fn new(path: String, message: impl Into<String>) -> CompileError {
        CompileError {
            path,
            message: message.into(),
        }
    }
}

impl AccessControl {
    /// Compiles every rule's patterns and builds the host index.
    ///
    /// Loading the configuration already checked these patterns, so an error here means the
    /// configuration was built without that check.
    pub fn compile(config: &AccessControlConfig) -> Result<AccessControl, CompileError> {
        let rules = config
            .rules
            .iter()
            .enumerate()
            .map(|(number, rule)| CompiledRule::compile(number, rule))
            .collect::<Result<Vec<_>, _>>()?;
        let index = HostIndex::build(&rules);
        Ok(AccessControl {
            default_policy: config.default_policy,
            rules,
            index,
        })
    }

    /// Decides the policy `request` needs: the first rule whose criteria all match, or the
    /// default policy when none does.
    ///
    /// For [`Subject::Anonymous`], every subject-dependent criterion counts as matching, so a
    /// rule that some user could satisfy stops the search and the caller asks for a login.
    pub fn decide(&self, request: &Request<'_>, subject: &Subject<'_>) -> Decision {
        for number in self.index.candidates(request.host) {
            let rule = &self.rules[number];
            if rule.matches(request, subject) {
                return Decision {
                    policy: rule.policy,
                    rule: Some(number),
                    subject_rule: rule.has_subject_criteria,
                };
            }
        }
        Decision {
            policy: self.default_policy,
            rule: None,
            subject_rule: false,
        }
    }

    /// True when a second factor can be required: the default policy or any rule is
    /// `two_factor`. The portal uses this after the first factor; decisions do not.
    pub fn is_two_factor_in_use(&self) -> bool {
        self.default_policy == Policy::TwoFactor
            || self
                .rules
                .iter()
                .any(|rule| rule.policy == Policy::TwoFactor)
    }

    /// Returns the policy that applies when no rule matches.
    pub fn default_policy(&self) -> Policy {
        self.default_policy
    }

    /// Returns the number of rules, the same as in `access_control.rules`.
    pub fn rule_count(&self) -> usize {
        self.rules.len()
    }
}
