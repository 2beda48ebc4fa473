//! Micro-benchmark of the access-control engine: the cost of one decision as the number of
//! rules for other hosts grows.

/// The time of one decision with a given number of rules.
#[derive(Debug, Clone)]
pub struct RuleTiming {
    /// Rules whose domain cannot match the request's host, before the one that matches.
    pub other_host_rules: usize,
    pub nanoseconds_per_decision: f64,
}

/// Times `decide` over `iterations` decisions for each rule-set size.
///
/// TODO: the access-control engine (`gatehouse::access`) is not in this branch yet; until it
/// is, this returns the reason the measurement is skipped.
pub fn run(_iterations: u64) -> Result<Vec<RuleTiming>, String> {
    Err(
        "skipped: the access-control engine (gatehouse::access) is not in this build yet"
            .to_owned(),
    )
}
