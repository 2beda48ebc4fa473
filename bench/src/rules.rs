//! Micro-benchmark of the access-control engine: the cost of one decision as the number of
//! rules for other hosts grows. The engine indexes rules by host, so the cost should stay flat.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use gatehouse::access::{AccessControl, Request, Subject};
use gatehouse::config::{AccessControlConfig, Policy, Rule};

/// Numbers of rules for other hosts placed before the rule that matches.
const OTHER_HOST_RULE_COUNTS: [usize; 3] = [1, 100, 1000];
/// Timed repetitions per rule set, of which the median is reported.
const REPETITIONS: usize = 5;
/// The host every decision is for.
const HOST: &str = "app.example.com";

/// The form of the other-host rules' `domain`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DomainForm {
    /// A plain host name, such as `app-7.example.net`.
    Name,
    /// A wildcard, such as `*.zone-7.example.net`.
    Wildcard,
}

impl DomainForm {
    /// Returns the form's name for the report.
    pub fn label(self) -> &'static str {
        match self {
            DomainForm::Name => "host name",
            DomainForm::Wildcard => "wildcard",
        }
    }

    fn domain(self, number: usize) -> String {
        match self {
            DomainForm::Name => format!("app-{number}.example.net"),
            DomainForm::Wildcard => format!("*.zone-{number}.example.net"),
        }
    }
}

/// The time of one decision with a given number and form of rules.
#[derive(Debug, Clone)]
pub struct RuleTiming {
    pub form: DomainForm,
    /// Rules whose domain cannot match the request's host, before the one that matches.
    pub other_host_rules: usize,
    pub nanoseconds_per_decision: f64,
}

/// Times `decide` over `iterations` decisions for each domain form and rule-set size.
///
/// Returns an error message when a rule set does not compile or the last rule does not decide.
pub fn run(iterations: u64) -> Result<Vec<RuleTiming>, String> {
    let mut timings = Vec::new();
    for form in [DomainForm::Name, DomainForm::Wildcard] {
        for count in OTHER_HOST_RULE_COUNTS {
            timings.push(time_rule_set(form, count, iterations)?);
        }
    }
    Ok(timings)
}

fn time_rule_set(
    form: DomainForm,
    other_host_rules: usize,
    iterations: u64,
) -> Result<RuleTiming, String> {
    let engine = AccessControl::compile(&rule_set(form, other_host_rules))
        .map_err(|error| format!("compiling {other_host_rules} rules failed: {error}"))?;
    let groups = vec!["dev".to_owned()];
    let subject = Subject::User {
        username: "bench",
        groups: &groups,
    };
    let query = vec![("tab".to_owned(), "1".to_owned())];
    let request = Request {
        host: HOST,
        method: "GET",
        method_overrides: &[],
        path: "/dashboard",
        resource: "/dashboard?tab=1",
        query: &query,
        client_ip: Some(IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7))),
    };

    let decision = engine.decide(&request, &subject);
    if decision.rule != Some(other_host_rules) || decision.policy != Policy::OneFactor {
        return Err(format!(
            "with {other_host_rules} other-host rules the decision was {decision:?}, expected the last rule (number {other_host_rules}) with one_factor"
        ));
    }

    // One untimed pass warms the caches and the branch predictor.
    time_decisions(&engine, &request, &subject, iterations / 10 + 1);
    let mut samples: Vec<Duration> = (0..REPETITIONS)
        .map(|_| time_decisions(&engine, &request, &subject, iterations))
        .collect();
    samples.sort_unstable();
    let median = samples[REPETITIONS / 2];
    Ok(RuleTiming {
        form,
        other_host_rules,
        nanoseconds_per_decision: median.as_nanos() as f64 / iterations as f64,
    })
}

fn time_decisions(
    engine: &AccessControl,
    request: &Request<'_>,
    subject: &Subject<'_>,
    iterations: u64,
) -> Duration {
    let start = Instant::now();
    for _ in 0..iterations {
        black_box(engine.decide(black_box(request), black_box(subject)));
    }
    start.elapsed()
}

/// Builds `other_host_rules` rules of `form` for hosts under example.net, then one rule for
/// [`HOST`], with deny as the default policy.
fn rule_set(form: DomainForm, other_host_rules: usize) -> AccessControlConfig {
    let mut rules: Vec<Rule> = (0..other_host_rules)
        .map(|number| domain_rule(form.domain(number), Policy::TwoFactor))
        .collect();
    rules.push(domain_rule(HOST.to_owned(), Policy::OneFactor));
    AccessControlConfig {
        default_policy: Policy::Deny,
        rules,
    }
}

fn domain_rule(domain: String, policy: Policy) -> Rule {
    Rule {
        domain: vec![domain],
        domain_regex: Vec::new(),
        policy,
        subject: Vec::new(),
        networks: Vec::new(),
        resources: Vec::new(),
        query: Vec::new(),
        methods: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_times_every_rule_set() {
        let timings = run(1000).unwrap();
        let counts: Vec<usize> = timings
            .iter()
            .map(|timing| timing.other_host_rules)
            .collect();
        assert_eq!(counts, [1, 100, 1000, 1, 100, 1000]);
        let forms: Vec<DomainForm> = timings.iter().map(|timing| timing.form).collect();
        assert_eq!(forms[..3], [DomainForm::Name; 3]);
        assert_eq!(forms[3..], [DomainForm::Wildcard; 3]);
        for timing in &timings {
            assert!(timing.nanoseconds_per_decision > 0.0);
        }
    }
}
