//! `totp` and `webauthn`: the second-factor methods and passkey login.

use std::time::Duration;

use crate::config::read::{Reader, Section};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TotpConfig {
    pub disable: bool,
    pub issuer: String,
    pub algorithm: TotpAlgorithm,
    pub digits: u32,
    /// Length of one time step in seconds.
    pub period: u32,
    /// Time steps accepted on each side of the current one.
    pub skew: u32,
    /// Length of generated secrets in bytes; at least 20.
    pub secret_size: u32,
    /// Choices offered at enrolment; the defaults above are always included.
    pub allowed_algorithms: Vec<TotpAlgorithm>,
    pub allowed_digits: Vec<u32>,
    pub allowed_periods: Vec<u32>,
    pub disable_reuse_security_policy: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TotpAlgorithm {
    Sha1,
    Sha256,
    Sha512,
}

impl TotpAlgorithm {
    /// Returns the name used in `otpauth://` URIs.
    pub fn as_str(self) -> &'static str {
        match self {
            TotpAlgorithm::Sha1 => "SHA1",
            TotpAlgorithm::Sha256 => "SHA256",
            TotpAlgorithm::Sha512 => "SHA512",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_uppercase().replace('-', "").as_str() {
            "SHA1" => Some(TotpAlgorithm::Sha1),
            "SHA256" => Some(TotpAlgorithm::Sha256),
            "SHA512" => Some(TotpAlgorithm::Sha512),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebAuthnConfig {
    pub disable: bool,
    /// Lets a discoverable credential (passkey) log a user in at one factor.
    pub enable_passkey_login: bool,
    /// Lets a user-verified passkey login count as two factors.
    pub experimental_enable_passkey_uv_two_factors: bool,
    pub display_name: String,
    pub attestation_conveyance_preference: AttestationConveyance,
    pub timeout: Duration,
    pub selection_criteria: SelectionCriteria,
    pub filtering: Filtering,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttestationConveyance {
    None,
    Indirect,
    Direct,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectionCriteria {
    /// `None` lets the browser offer any authenticator.
    pub attachment: Option<Attachment>,
    pub discoverability: Preference,
    pub user_verification: Preference,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attachment {
    Platform,
    CrossPlatform,
}

/// WebAuthn's discouraged / preferred / required scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preference {
    Discouraged,
    Preferred,
    Required,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filtering {
    pub prohibit_backup_eligibility: bool,
    /// Lower-case AAGUIDs; at most one of the two lists is non-empty.
    pub permitted_aaguids: Vec<String>,
    pub prohibited_aaguids: Vec<String>,
}

pub(crate) fn read_totp(reader: &mut Reader, mut section: Section<'_>) -> TotpConfig {
    let disable = section.bool(reader, "disable", false);
    let issuer = section.string_or(reader, "issuer", "Gatehouse");

    let algorithm_path = section.key_path("algorithm");
    let algorithm = match section.string(reader, "algorithm") {
        None => TotpAlgorithm::Sha1,
        Some(text) => {
            parse_algorithm(reader, &algorithm_path, &text).unwrap_or(TotpAlgorithm::Sha1)
        }
    };
    let digits_path = section.key_path("digits");
    let digits = section.uint(reader, "digits", 8).unwrap_or(6) as u32;
    check_digits(reader, &digits_path, digits);
    let period_path = section.key_path("period");
    let period = section.uint(reader, "period", 3600).unwrap_or(30) as u32;
    check_period(reader, &period_path, period);
    let skew = section.uint(reader, "skew", 10).unwrap_or(1) as u32;
    let secret_size_path = section.key_path("secret_size");
    let secret_size = section.uint(reader, "secret_size", 1024).unwrap_or(32) as u32;
    if secret_size < 20 {
        reader.error(
            &secret_size_path,
            format!("must be at least 20 bytes (160 bits), found {secret_size}"),
        );
    }

    let mut allowed_algorithms = vec![algorithm];
    for (path, text) in section
        .string_list(reader, "allowed_algorithms")
        .unwrap_or_default()
    {
        if let Some(parsed) = parse_algorithm(reader, &path, &text) {
            if !allowed_algorithms.contains(&parsed) {
                allowed_algorithms.push(parsed);
            }
        }
    }
    let mut allowed_digits = vec![digits];
    for (path, text) in section
        .string_list(reader, "allowed_digits")
        .unwrap_or_default()
    {
        match text.trim().parse::<u32>() {
            Ok(value) if check_digits(reader, &path, value) => {
                if !allowed_digits.contains(&value) {
                    allowed_digits.push(value);
                }
            }
            Ok(_) => {}
            Err(_) => reader.error(&path, format!("expected 6 or 8, found '{text}'")),
        }
    }
    let mut allowed_periods = vec![period];
    for (path, text) in section
        .string_list(reader, "allowed_periods")
        .unwrap_or_default()
    {
        match text.trim().parse::<u32>() {
            Ok(value) if check_period(reader, &path, value) => {
                if !allowed_periods.contains(&value) {
                    allowed_periods.push(value);
                }
            }
            Ok(_) => {}
            Err(_) => reader.error(
                &path,
                format!("expected a number of seconds, found '{text}'"),
            ),
        }
    }
    let disable_reuse_security_policy =
        section.bool(reader, "disable_reuse_security_policy", false);
    section.finish(reader);

    TotpConfig {
        disable,
        issuer,
        algorithm,
        digits,
        period,
        skew,
        secret_size,
        allowed_algorithms,
        allowed_digits,
        allowed_periods,
        disable_reuse_security_policy,
    }
}

fn parse_algorithm(reader: &mut Reader, path: &str, text: &str) -> Option<TotpAlgorithm> {
    let parsed = TotpAlgorithm::parse(text);
    if parsed.is_none() {
        reader.error(
            path,
            format!("unknown algorithm '{text}': expected SHA1, SHA256 or SHA512"),
        );
    }
    parsed
}

fn check_digits(reader: &mut Reader, path: &str, digits: u32) -> bool {
    let valid = digits == 6 || digits == 8;
    if !valid {
        reader.error(path, format!("must be 6 or 8, found {digits}"));
    }
    valid
}

fn check_period(reader: &mut Reader, path: &str, period: u32) -> bool {
    let valid = period > 0;
    if !valid {
        reader.error(path, "must be at least 1 second");
    }
    valid
}

pub(crate) fn read_webauthn(reader: &mut Reader, mut section: Section<'_>) -> WebAuthnConfig {
    let disable = section.bool(reader, "disable", false);
    let enable_passkey_login = section.bool(reader, "enable_passkey_login", false);
    let experimental_enable_passkey_uv_two_factors =
        section.bool(reader, "experimental_enable_passkey_uv_two_factors", false);
    let display_name = section.string_or(reader, "display_name", "Gatehouse");

    let conveyance_path = section.key_path("attestation_conveyance_preference");
    let attestation_conveyance_preference = match section
        .string(reader, "attestation_conveyance_preference")
        .as_deref()
    {
        None | Some("indirect") => AttestationConveyance::Indirect,
        Some("none") => AttestationConveyance::None,
        Some("direct") => AttestationConveyance::Direct,
        Some(other) => {
            reader.error(
                &conveyance_path,
                format!("unknown value '{other}': expected none, indirect or direct"),
            );
            AttestationConveyance::Indirect
        }
    };
    let timeout_path = section.key_path("timeout");
    let timeout = section.duration_or(reader, "timeout", Duration::from_secs(60));
    if timeout.is_zero() {
        reader.error(&timeout_path, "must be longer than zero");
    }

    let mut criteria = section.section(reader, "selection_criteria");
    let attachment_path = criteria.key_path("attachment");
    let attachment = match criteria.string(reader, "attachment").as_deref() {
        None | Some("") => None,
        Some("platform") => Some(Attachment::Platform),
        Some("cross-platform") => Some(Attachment::CrossPlatform),
        Some(other) => {
            reader.error(
                &attachment_path,
                format!("unknown value '{other}': expected platform, cross-platform or ''"),
            );
            None
        }
    };
    let discoverability = read_preference(reader, &mut criteria, "discoverability");
    let user_verification = read_preference(reader, &mut criteria, "user_verification");
    criteria.finish(reader);

    let mut filtering_section = section.section(reader, "filtering");
    let prohibit_backup_eligibility =
        filtering_section.bool(reader, "prohibit_backup_eligibility", false);
    let permitted_aaguids = read_aaguids(reader, &mut filtering_section, "permitted_aaguids");
    let prohibited_aaguids = read_aaguids(reader, &mut filtering_section, "prohibited_aaguids");
    if !permitted_aaguids.is_empty() && !prohibited_aaguids.is_empty() {
        reader.error(
            &filtering_section.key_path("prohibited_aaguids"),
            "set either permitted_aaguids or prohibited_aaguids, not both",
        );
    }
    filtering_section.finish(reader);
    section.finish(reader);

    WebAuthnConfig {
        disable,
        enable_passkey_login,
        experimental_enable_passkey_uv_two_factors,
        display_name,
        attestation_conveyance_preference,
        timeout,
        selection_criteria: SelectionCriteria {
            attachment,
            discoverability,
            user_verification,
        },
        filtering: Filtering {
            prohibit_backup_eligibility,
            permitted_aaguids,
            prohibited_aaguids,
        },
    }
}

fn read_preference(reader: &mut Reader, section: &mut Section<'_>, key: &str) -> Preference {
    let path = section.key_path(key);
    match section.string(reader, key).as_deref() {
        None | Some("preferred") => Preference::Preferred,
        Some("discouraged") => Preference::Discouraged,
        Some("required") => Preference::Required,
        Some(other) => {
            reader.error(
                &path,
                format!("unknown value '{other}': expected discouraged, preferred or required"),
            );
            Preference::Preferred
        }
    }
}

fn read_aaguids(reader: &mut Reader, section: &mut Section<'_>, key: &str) -> Vec<String> {
    let mut aaguids = Vec::new();
    for (path, text) in section.string_list(reader, key).unwrap_or_default() {
        let aaguid = text.trim().to_ascii_lowercase();
        if is_uuid(&aaguid) {
            aaguids.push(aaguid);
        } else {
            reader.error(&path, format!("'{text}' is not an AAGUID (a UUID such as 01234567-89ab-cdef-0123-456789abcdef)"));
        }
    }
    aaguids
}

fn is_uuid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    let lengths = [8, 4, 4, 4, 12];
    groups.len() == lengths.len()
        && groups.iter().zip(lengths).all(|(group, length)| {
            group.len() == length && group.bytes().all(|b| b.is_ascii_hexdigit())
        })
}
