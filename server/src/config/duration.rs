//! Durations as Authelia writes them: integer seconds, unit strings such as `90s`, `1h30m` or
//! `1M`, and long forms such as `5 minutes`.
//!
//! A month is 30 days and a year 365 days. Calendar months and leap years would make a lifetime
//! depend on the date it starts, and every setting here is a fixed span.

use std::fmt;
use std::time::Duration;

const SECOND_MS: u64 = 1_000;
const MINUTE_MS: u64 = 60 * SECOND_MS;
const HOUR_MS: u64 = 60 * MINUTE_MS;
const DAY_MS: u64 = 24 * HOUR_MS;
const WEEK_MS: u64 = 7 * DAY_MS;
const MONTH_MS: u64 = 30 * DAY_MS;
const YEAR_MS: u64 = 365 * DAY_MS;

/// Reason a duration string was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DurationError(String);

impl fmt::Display for DurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DurationError {}

/// Parses a non-negative duration.
///
/// Accepted forms: a bare integer (seconds), one or more `<integer><unit>` groups (`1h30m`,
/// `1h 30m`), and long unit names (`5 minutes`, `1 hour`). Units: `ms`, `s`, `m`, `h`, `d`, `w`,
/// `M` (30 days), `y` (365 days). `m` is minutes and `M` is months, as in Authelia.
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(DurationError("empty duration".to_owned()));
    }
    if let Ok(seconds) = trimmed.parse::<u64>() {
        return seconds
            .checked_mul(SECOND_MS)
            .map(Duration::from_millis)
            .ok_or_else(|| too_long(trimmed));
    }

    let mut total_ms: u64 = 0;
    let mut rest = trimmed;
    while !rest.is_empty() {
        let digits_end = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits_end == 0 {
            return Err(invalid(trimmed));
        }
        let amount: u64 = rest[..digits_end].parse().map_err(|_| too_long(trimmed))?;
        rest = rest[digits_end..].trim_start();

        let unit_end = rest
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(rest.len());
        if unit_end == 0 {
            return Err(invalid(trimmed));
        }
        let unit_ms = unit_in_ms(&rest[..unit_end]).ok_or_else(|| invalid(trimmed))?;
        rest = rest[unit_end..].trim_start();

        let part = amount
            .checked_mul(unit_ms)
            .ok_or_else(|| too_long(trimmed))?;
        total_ms = total_ms
            .checked_add(part)
            .ok_or_else(|| too_long(trimmed))?;
    }
    Ok(Duration::from_millis(total_ms))
}

/// Formats a duration in the largest whole units, for messages (`1h30m`, `0s`).
pub fn format_duration(duration: Duration) -> String {
    let mut ms = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
    if ms == 0 {
        return "0s".to_owned();
    }
    let mut out = String::new();
    for (unit, unit_ms) in [
        ("d", DAY_MS),
        ("h", HOUR_MS),
        ("m", MINUTE_MS),
        ("s", SECOND_MS),
    ] {
        if ms >= unit_ms {
            out.push_str(&format!("{}{unit}", ms / unit_ms));
            ms %= unit_ms;
        }
    }
    if ms > 0 {
        out.push_str(&format!("{ms}ms"));
    }
    out
}

fn unit_in_ms(unit: &str) -> Option<u64> {
    // The one-letter units are case-sensitive because `m` and `M` differ; long names are not.
    let by_symbol = match unit {
        "ms" => Some(1),
        "s" => Some(SECOND_MS),
        "m" => Some(MINUTE_MS),
        "h" => Some(HOUR_MS),
        "d" => Some(DAY_MS),
        "w" => Some(WEEK_MS),
        "M" => Some(MONTH_MS),
        "y" => Some(YEAR_MS),
        _ => None,
    };
    if by_symbol.is_some() {
        return by_symbol;
    }
    match unit.to_ascii_lowercase().as_str() {
        "millisecond" | "milliseconds" => Some(1),
        "sec" | "secs" | "second" | "seconds" => Some(SECOND_MS),
        "min" | "mins" | "minute" | "minutes" => Some(MINUTE_MS),
        "hour" | "hours" => Some(HOUR_MS),
        "day" | "days" => Some(DAY_MS),
        "week" | "weeks" => Some(WEEK_MS),
        "month" | "months" => Some(MONTH_MS),
        "year" | "years" => Some(YEAR_MS),
        _ => None,
    }
}

fn invalid(text: &str) -> DurationError {
    DurationError(format!(
        "invalid duration '{text}': expected seconds or forms such as 90s, 5m, 1h30m, 1d, 1w, 1M, 1y, '5 minutes'"
    ))
}

fn too_long(text: &str) -> DurationError {
    DurationError(format!("duration '{text}' is too long"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn parse_duration_table() {
        let cases = [
            ("0", secs(0)),
            ("90", secs(90)),
            ("90s", secs(90)),
            ("5m", secs(300)),
            ("1h", secs(3600)),
            ("1d", secs(86_400)),
            ("1w", secs(7 * 86_400)),
            ("1M", secs(30 * 86_400)),
            ("1y", secs(365 * 86_400)),
            ("1h30m", secs(5400)),
            ("1h 30m", secs(5400)),
            ("2d12h", secs(2 * 86_400 + 12 * 3600)),
            ("500ms", Duration::from_millis(500)),
            ("5 minutes", secs(300)),
            ("1 hour", secs(3600)),
            ("2 days", secs(2 * 86_400)),
            ("1 month", secs(30 * 86_400)),
            ("3 weeks", secs(21 * 86_400)),
            ("1 year", secs(365 * 86_400)),
            ("10 seconds", secs(10)),
            ("  15m  ", secs(900)),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_duration(text), Ok(expected), "input {text:?}");
        }
    }

    #[test]
    fn parse_duration_rejects_garbage() {
        for text in [
            "",
            "m",
            "5x",
            "-1",
            "1.5h",
            "h1",
            "5 fortnights",
            "99999999999999999999",
        ] {
            assert!(parse_duration(text).is_err(), "input {text:?} was accepted");
        }
    }

    #[test]
    fn parse_duration_rejects_overflow() {
        assert!(parse_duration("99999999999999999y").is_err());
    }

    #[test]
    fn format_duration_uses_largest_units() {
        assert_eq!(format_duration(secs(5400)), "1h30m");
        assert_eq!(format_duration(secs(0)), "0s");
        assert_eq!(format_duration(secs(30 * 86_400)), "30d");
    }
}
