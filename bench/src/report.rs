//! The printed results: one table for the load runs, then the timing series, memory and the
//! rule engine, each with its target.

use std::time::Duration;

use crate::load::RunResult;
use crate::rules::{DomainForm, RuleTiming};
use crate::scenarios::{Scenario, Target};
use crate::timing::TimingResult;

/// Idle resident memory Gatehouse should stay under, in bytes (20 MB).
pub const IDLE_MEMORY_TARGET_BYTES: u64 = 20_000_000;

/// Gatehouse's and the bare handler's run of one scenario.
pub struct ScenarioResult {
    pub scenario: Scenario,
    pub gatehouse: RunResult,
    pub bare: RunResult,
}

impl ScenarioResult {
    fn rps_ratio(&self) -> f64 {
        self.gatehouse.requests_per_second() / self.bare.requests_per_second()
    }

    fn p99_ratio(&self) -> f64 {
        self.gatehouse.p99.as_secs_f64() / self.bare.p99.as_secs_f64()
    }

    /// Returns whether the scenario met its target, or `None` when it has none.
    pub fn meets_target(&self) -> Option<bool> {
        let target = self.scenario.target?;
        let rps_met = self.rps_ratio() >= target.min_rps_ratio;
        let p99_met = target
            .max_p99_ratio
            .is_none_or(|maximum| self.p99_ratio() <= maximum);
        Some(rps_met && p99_met)
    }
}

/// Prints the load table: two rows per scenario, Gatehouse's with the ratios and the target.
pub fn print_load_table(results: &[ScenarioResult]) {
    println!(
        "{:<19} {:<10} {:>9} {:>9} {:>9} {:>7} {:>11} {:>10}  target",
        "scenario", "server", "req/s", "p50 µs", "p99 µs", "errors", "req/s÷bare", "p99÷bare"
    );
    for result in results {
        let target = match (result.scenario.target, result.meets_target()) {
            (Some(target), Some(met)) => format!("{} ({})", describe_target(target), verdict(met)),
            _ => "none".to_owned(),
        };
        print_row(
            result.scenario.name,
            "gatehouse",
            &result.gatehouse,
            Some((result.rps_ratio(), result.p99_ratio())),
            &target,
        );
        print_row("", "bare", &result.bare, None, "");
    }
    for result in results {
        for (server, run) in [("gatehouse", &result.gatehouse), ("bare", &result.bare)] {
            if let Some(error) = &run.first_error {
                println!(
                    "{} on {server}: {} errors, the first: {error}",
                    result.scenario.name, run.errors
                );
            }
        }
    }
}

fn print_row(
    scenario: &str,
    server: &str,
    run: &RunResult,
    ratios: Option<(f64, f64)>,
    target: &str,
) {
    let (rps_ratio, p99_ratio) = match ratios {
        Some((rps, p99)) => (format!("{rps:.2}"), format!("{p99:.2}")),
        None => (String::new(), String::new()),
    };
    let row = format!(
        "{:<19} {:<10} {:>9.0} {:>9} {:>9} {:>7} {:>11} {:>10}  {}",
        scenario,
        server,
        run.requests_per_second(),
        micros(run.p50),
        micros(run.p99),
        run.errors,
        rps_ratio,
        p99_ratio,
        target
    );
    println!("{}", row.trim_end());
}

fn describe_target(target: Target) -> String {
    match target.max_p99_ratio {
        Some(p99) => format!(
            "req/s ≥ {:.1}× bare, p99 ≤ {p99:.1}× bare",
            target.min_rps_ratio
        ),
        None => format!("req/s ≥ {:.1}× bare", target.min_rps_ratio),
    }
}

/// Prints the medians of the failed-credential series and their difference.
pub fn print_timing(result: &TimingResult) {
    println!(
        "Failed Basic credentials, {} requests per series, one at a time:",
        result.requests_per_series
    );
    println!(
        "  wrong password for the real user  median {:>8.2} ms",
        millis(result.wrong_password_median)
    );
    println!(
        "  unknown user                      median {:>8.2} ms",
        millis(result.unknown_user_median)
    );
    println!(
        "  difference {:+.1} % (target: within 10 % or 5 ms, whichever is larger): {}",
        result.difference_percent(),
        verdict(result.meets_target())
    );
    println!(
        "  errors {}, pairs with differing responses {}",
        result.errors, result.differing_responses
    );
    if let Some(error) = &result.first_error {
        println!("  first error: {error}");
    }
}

/// Prints the idle resident memory in MB of 10^6 bytes, with its target.
pub fn print_idle_memory(idle_kib: u64, idle_for: Duration) {
    let idle_bytes = idle_kib * 1024;
    println!(
        "Idle memory: VmRSS {:.1} MB after {} s idle (target ≤ {} MB): {}",
        megabytes(idle_bytes),
        idle_for.as_secs(),
        IDLE_MEMORY_TARGET_BYTES / 1_000_000,
        verdict(idle_bytes <= IDLE_MEMORY_TARGET_BYTES)
    );
}

/// Prints the resident memory after the load runs, in MB of 10^6 bytes.
pub fn print_loaded_memory(loaded_kib: u64) {
    println!(
        "Memory after the load runs: VmRSS {:.1} MB",
        megabytes(loaded_kib * 1024)
    );
}

/// Prints the rule engine's decision times, or why they were not measured.
pub fn print_rules(result: &Result<Vec<RuleTiming>, String>, iterations: u64) {
    match result {
        Ok(timings) => {
            println!(
                "Rule engine, {iterations} decisions per rule set (the last rule matches; the others name other hosts):"
            );
            for timing in timings {
                let rule_set = format!(
                    "{:>5} {} rules",
                    timing.other_host_rules,
                    timing.form.label()
                );
                println!(
                    "  {rule_set:<21} {:>8.1} ns per decision",
                    timing.nanoseconds_per_decision
                );
            }
            for form in [DomainForm::Name, DomainForm::Wildcard] {
                let of_form: Vec<&RuleTiming> = timings
                    .iter()
                    .filter(|timing| timing.form == form)
                    .collect();
                if let (Some(first), Some(last)) = (of_form.first(), of_form.last()) {
                    println!(
                        "  {} {} rules take {:.2}× the time of {} (flat is about 1×)",
                        last.other_host_rules,
                        form.label(),
                        last.nanoseconds_per_decision / first.nanoseconds_per_decision,
                        first.other_host_rules
                    );
                }
            }
        }
        Err(reason) => println!("Rule engine measurement failed: {reason}"),
    }
}

fn verdict(met: bool) -> &'static str {
    if met {
        "met"
    } else {
        "missed"
    }
}

fn micros(duration: Duration) -> u128 {
    duration.as_micros()
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn megabytes(bytes: u64) -> f64 {
    bytes as f64 / 1_000_000.0
}
