//! `regulation`: bans after repeated failed logins.

use std::time::Duration;

use crate::config::duration::format_duration;
use crate::config::read::{Reader, Section};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegulationConfig {
    /// Keys that failures are counted under: the account, the client IP, or both.
    pub modes: Vec<RegulationMode>,
    /// Failures within `find_time` that cause a ban; zero turns regulation off.
    pub max_retries: u32,
    pub find_time: Duration,
    pub ban_time: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegulationMode {
    User,
    Ip,
}

pub(crate) fn read_regulation(reader: &mut Reader, mut section: Section<'_>) -> RegulationConfig {
    let mut modes = Vec::new();
    match section.string_list(reader, "modes") {
        None => modes.push(RegulationMode::User),
        Some(items) => {
            for (path, text) in items {
                let mode = match text.trim().to_ascii_lowercase().as_str() {
                    "user" => RegulationMode::User,
                    "ip" => RegulationMode::Ip,
                    _ => {
                        reader.error(&path, format!("unknown mode '{text}': expected user or ip"));
                        continue;
                    }
                };
                if !modes.contains(&mode) {
                    modes.push(mode);
                }
            }
            if modes.is_empty() && !reader.recording() {
                reader.error(&section.key_path("modes"), "needs at least one of user, ip");
            }
        }
    }
    let max_retries = section
        .uint(reader, "max_retries", u64::from(u32::MAX))
        .unwrap_or(3);
    let find_time_path = section.key_path("find_time");
    let find_time = section.duration_or(reader, "find_time", Duration::from_secs(2 * 60));
    let ban_time = section.duration_or(reader, "ban_time", Duration::from_secs(5 * 60));
    section.finish(reader);

    if find_time > ban_time {
        reader.error(
            &find_time_path,
            format!(
                "find_time ({}) must not be longer than ban_time ({})",
                format_duration(find_time),
                format_duration(ban_time)
            ),
        );
    }
    RegulationConfig {
        modes,
        max_retries: u32::try_from(max_retries).unwrap_or(u32::MAX),
        find_time,
        ban_time,
    }
}
