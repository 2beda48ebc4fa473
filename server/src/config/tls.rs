//! TLS client settings shared by `notifier.smtp.tls` and `storage.postgres.tls`.

use crate::config::read::{Reader, Section};

/// TLS client settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConfig {
    /// Name expected in the server's certificate; the connection's host name when `None`.
    pub server_name: Option<String>,
    /// Turns certificate verification off. Only for tests.
    pub skip_verify: bool,
    pub minimum_version: TlsVersion,
}

impl Default for TlsConfig {
    fn default() -> Self {
        Self {
            server_name: None,
            skip_verify: false,
            minimum_version: TlsVersion::Tls12,
        }
    }
}

/// TLS protocol versions Gatehouse can speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TlsVersion {
    Tls12,
    Tls13,
}

pub(crate) fn read_tls(reader: &mut Reader, mut section: Section<'_>) -> TlsConfig {
    let server_name = section
        .string(reader, "server_name")
        .filter(|name| !name.is_empty());
    let skip_verify_path = section.key_path("skip_verify");
    let skip_verify = section.bool(reader, "skip_verify", false);
    if skip_verify {
        reader.warn(&skip_verify_path, "certificate verification is off: anyone on the network path can read and change this connection");
    }
    let version_path = section.key_path("minimum_version");
    let minimum_version = match section.string(reader, "minimum_version") {
        None => TlsVersion::Tls12,
        Some(text) => match text.to_ascii_uppercase().replace(' ', "").as_str() {
            "TLS1.3" => TlsVersion::Tls13,
            "TLS1.2" => TlsVersion::Tls12,
            "TLS1.0" | "TLS1.1" | "SSL3.0" => {
                reader.warn(
                    &version_path,
                    format!("'{text}' is raised to TLS1.2, the oldest version Gatehouse speaks"),
                );
                TlsVersion::Tls12
            }
            _ => {
                reader.error(
                    &version_path,
                    format!("unknown TLS version '{text}': expected TLS1.2 or TLS1.3"),
                );
                TlsVersion::Tls12
            }
        },
    };
    section.finish(reader);
    TlsConfig {
        server_name,
        skip_verify,
        minimum_version,
    }
}
