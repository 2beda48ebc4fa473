//! Canonical host names and label-boundary matching.
//!
//! Every comparison of a host against a rule, a cookie domain or a redirect target goes through
//! [`CanonicalHost`] and the matchers here, so that all three agree on what "under example.com"
//! means. A host is put in canonical form once, at the edge, and never again: lower-case ASCII, at
//! most one trailing dot removed, the port split off, each label checked.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Maximum length of a DNS label in octets (RFC 1035, section 2.3.4).
const MAX_LABEL_LEN: usize = 63;

/// Maximum length of a host name in its text form without the trailing dot (RFC 1035).
const MAX_NAME_LEN: usize = 253;

/// A host in canonical form: a lower-case DNS name without a trailing dot, a dotted-quad IPv4
/// address, or an IPv6 address in brackets in its RFC 5952 text form.
///
/// Two hosts are equal exactly when their canonical text is equal.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CanonicalHost {
    /// The canonical text, for example `app.example.com`, `192.0.2.1` or `[2001:db8::1]`.
    text: String,
    /// The address, when the host is an IP literal.
    ip: Option<IpAddr>,
}

impl CanonicalHost {
    /// Returns the canonical text (IPv6 addresses keep their brackets).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Returns the address when the host is an IPv4 or IPv6 literal.
    pub fn ip(&self) -> Option<IpAddr> {
        self.ip
    }

    /// Returns true for a DNS name, false for an IP literal.
    pub fn is_name(&self) -> bool {
        self.ip.is_none()
    }

    /// Returns true for `localhost` and any name under `.localhost`, which browsers treat as
    /// secure contexts even over plain `http`.
    pub fn is_localhost(&self) -> bool {
        self.is_name() && (self.text == "localhost" || self.text.ends_with(".localhost"))
    }
}

/// Wraps an address, for configuration entries that hold an IP (IPv6 written without brackets).
impl From<IpAddr> for CanonicalHost {
    fn from(address: IpAddr) -> Self {
        let text = match address {
            IpAddr::V4(v4) => v4.to_string(),
            IpAddr::V6(v6) => format!("[{v6}]"),
        };
        CanonicalHost {
            text,
            ip: Some(address),
        }
    }
}

impl fmt::Display for CanonicalHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// The reason a host or authority was rejected. The messages never repeat the input, because
/// header values can carry secrets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HostError {
    #[error("host is empty")]
    Empty,
    #[error("IPv6 address must be written in brackets")]
    UnbracketedIpv6,
    #[error("invalid IPv6 address in brackets")]
    InvalidIpv6,
    #[error("host ends in a number but is not a dotted-quad IPv4 address")]
    InvalidIpv4,
    #[error("port must be a number from 0 to 65535")]
    InvalidPort,
    #[error("a port is not allowed here")]
    UnexpectedPort,
    #[error("host contains a non-ASCII character (internationalised names must be punycode)")]
    NonAscii,
    #[error("host contains an empty label")]
    EmptyLabel,
    #[error("host contains a character other than a-z, 0-9, '-', '_' and '.'")]
    InvalidCharacter,
    #[error("host label is longer than 63 characters")]
    LabelTooLong,
    #[error("host name is longer than 253 characters")]
    NameTooLong,
    #[error("wildcard domain must be '*.' followed by a domain name")]
    InvalidWildcard,
}

/// Parses an authority (`name`, `name:port`, `[IPv6]` or `[IPv6]:port`) into a canonical host and
/// the port exactly as written (the caller drops the scheme's default port).
pub fn canonicalize_authority(authority: &str) -> Result<(CanonicalHost, Option<u16>), HostError> {
    let (host, port) = split_authority(authority)?;
    let port = port.map(parse_port).transpose()?;
    Ok((canonicalize_host(host)?, port))
}

/// Puts a host without a port (`name`, IPv4 literal or `[IPv6]`) in canonical form.
///
/// Used for target hosts after [`canonicalize_authority`] has split off the port, and for the
/// domains in the configuration (rules, cookie domains).
pub fn canonicalize_host(host: &str) -> Result<CanonicalHost, HostError> {
    if host.is_empty() {
        return Err(HostError::Empty);
    }

    if let Some(inner) = host.strip_prefix('[') {
        let inner = inner.strip_suffix(']').ok_or(HostError::InvalidIpv6)?;
        let address: Ipv6Addr = inner.parse().map_err(|_| HostError::InvalidIpv6)?;
        return Ok(CanonicalHost {
            text: format!("[{address}]"),
            ip: Some(IpAddr::V6(address)),
        });
    }

    match host.bytes().filter(|&byte| byte == b':').count() {
        0 => canonicalize_name(host),
        1 => Err(HostError::UnexpectedPort),
        _ => Err(HostError::UnbracketedIpv6),
    }
}

/// Returns true when `host` equals `domain` or is a subdomain of it on a label boundary
/// (`a.b.example.com` is under `example.com`; `badexample.com` is not). An IP literal matches
/// only itself.
pub fn is_same_or_subdomain(host: &CanonicalHost, domain: &CanonicalHost) -> bool {
    host == domain || is_strict_subdomain(host, domain)
}

/// Returns true when `host` is one or more labels followed by a dot and exactly `domain`.
/// Neither argument may be an IP literal for this to hold.
pub fn is_strict_subdomain(host: &CanonicalHost, domain: &CanonicalHost) -> bool {
    if !host.is_name() || !domain.is_name() {
        return false;
    }

    match host.text.strip_suffix(domain.text.as_str()) {
        Some(prefix) => prefix.len() > 1 && prefix.ends_with('.'),
        None => false,
    }
}

/// A domain pattern `*.example.com`: one or more labels, then exactly the suffix.
/// It does not match the bare suffix (`example.com`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WildcardDomain {
    suffix: CanonicalHost,
}

impl WildcardDomain {
    /// Parses `*.` followed by a DNS name; the name is put in canonical form.
    pub fn parse(pattern: &str) -> Result<Self, HostError> {
        let rest = pattern
            .strip_prefix("*.")
            .ok_or(HostError::InvalidWildcard)?;
        let suffix = canonicalize_host(rest).map_err(|_| HostError::InvalidWildcard)?;
        if !suffix.is_name() {
            return Err(HostError::InvalidWildcard);
        }
        Ok(Self { suffix })
    }

    /// Returns the canonical suffix after `*.`.
    pub fn suffix(&self) -> &CanonicalHost {
        &self.suffix
    }

    /// Returns true when `host` is a strict subdomain of the suffix, at any depth.
    pub fn matches(&self, host: &CanonicalHost) -> bool {
        is_strict_subdomain(host, &self.suffix)
    }
}

/// Splits an authority into the host text (brackets kept for IPv6) and the port text, if any.
fn split_authority(authority: &str) -> Result<(&str, Option<&str>), HostError> {
    if authority.is_empty() {
        return Err(HostError::Empty);
    }

    if authority.starts_with('[') {
        let close = authority.find(']').ok_or(HostError::InvalidIpv6)?;
        let (host, after) = authority.split_at(close + 1);
        if after.is_empty() {
            return Ok((host, None));
        }
        let port = after.strip_prefix(':').ok_or(HostError::InvalidIpv6)?;
        return Ok((host, Some(port)));
    }

    let mut parts = authority.splitn(3, ':');
    let host = parts.next().unwrap_or_default();
    match (parts.next(), parts.next()) {
        (None, _) => Ok((host, None)),
        (Some(port), None) => Ok((host, Some(port))),
        (Some(_), Some(_)) => Err(HostError::UnbracketedIpv6),
    }
}

/// Parses a port of ASCII digits whose value is at most 65535. Leading zeros are accepted, as
/// the value is what counts.
pub(crate) fn parse_port(text: &str) -> Result<u16, HostError> {
    if text.is_empty() {
        return Err(HostError::InvalidPort);
    }

    let mut value: u32 = 0;
    for byte in text.bytes() {
        if !byte.is_ascii_digit() {
            return Err(HostError::InvalidPort);
        }
        value = value * 10 + u32::from(byte - b'0');
        if value > u32::from(u16::MAX) {
            return Err(HostError::InvalidPort);
        }
    }
    u16::try_from(value).map_err(|_| HostError::InvalidPort)
}

/// Puts a DNS name or a dotted-quad IPv4 literal (no brackets, no port) in canonical form.
fn canonicalize_name(name: &str) -> Result<CanonicalHost, HostError> {
    if !name.is_ascii() {
        return Err(HostError::NonAscii);
    }

    let lower = name.to_ascii_lowercase();
    let trimmed = lower.strip_suffix('.').unwrap_or(&lower);
    if trimmed.is_empty() {
        return Err(HostError::EmptyLabel);
    }
    if trimmed.len() > MAX_NAME_LEN {
        return Err(HostError::NameTooLong);
    }

    for label in trimmed.split('.') {
        check_label(label)?;
    }

    // A browser parses a host whose last label is a number (`127.1`, `0x7f.1`, `1.2.3.4`) as an
    // IPv4 address in any of several legacy notations. Only the plain dotted-quad form is
    // accepted, so that no two spellings of one address exist.
    let last_label = trimmed.rsplit('.').next().unwrap_or_default();
    if is_numeric_label(last_label) {
        let address: Ipv4Addr = trimmed.parse().map_err(|_| HostError::InvalidIpv4)?;
        return Ok(CanonicalHost {
            text: address.to_string(),
            ip: Some(IpAddr::V4(address)),
        });
    }

    Ok(CanonicalHost {
        text: trimmed.to_owned(),
        ip: None,
    })
}

/// Checks one label: 1 to 63 characters of `a-z`, `0-9`, `-` or `_` (already lower-cased).
fn check_label(label: &str) -> Result<(), HostError> {
    if label.is_empty() {
        return Err(HostError::EmptyLabel);
    }
    if label.len() > MAX_LABEL_LEN {
        return Err(HostError::LabelTooLong);
    }
    let allowed = |byte: u8| {
        byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-' || byte == b'_'
    };
    if label.bytes().all(allowed) {
        Ok(())
    } else {
        Err(HostError::InvalidCharacter)
    }
}

/// Returns true for a label that the WHATWG host parser reads as an IPv4 number: decimal digits,
/// or `0x` followed by hexadecimal digits (possibly none).
fn is_numeric_label(label: &str) -> bool {
    if !label.is_empty() && label.bytes().all(|byte| byte.is_ascii_digit()) {
        return true;
    }
    match label.strip_prefix("0x") {
        Some(hex) => hex.bytes().all(|byte| byte.is_ascii_hexdigit()),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(text: &str) -> CanonicalHost {
        canonicalize_host(text).expect("test host is valid")
    }

    #[test]
    fn authority_table() {
        type Row = (&'static str, Result<(&'static str, Option<u16>), HostError>);
        let rows: &[Row] = &[
            ("app.example.com", Ok(("app.example.com", None))),
            ("ADMIN.Example.COM", Ok(("admin.example.com", None))),
            ("Admin.example.com", Ok(("admin.example.com", None))),
            ("admin.example.com.", Ok(("admin.example.com", None))),
            ("ADMIN.example.com.", Ok(("admin.example.com", None))),
            (
                "ADMIN.Example.COM.:443",
                Ok(("admin.example.com", Some(443))),
            ),
            (
                "admin.example.com.:443",
                Ok(("admin.example.com", Some(443))),
            ),
            (
                "admin.example.com:8443",
                Ok(("admin.example.com", Some(8443))),
            ),
            ("app.example.com:0", Ok(("app.example.com", Some(0)))),
            (
                "app.example.com:65535",
                Ok(("app.example.com", Some(65535))),
            ),
            ("app.example.com:0443", Ok(("app.example.com", Some(443)))),
            (
                "under_score.example.com",
                Ok(("under_score.example.com", None)),
            ),
            ("-dash-.example.com", Ok(("-dash-.example.com", None))),
            ("localhost", Ok(("localhost", None))),
            ("localhost:8080", Ok(("localhost", Some(8080)))),
            ("192.0.2.1", Ok(("192.0.2.1", None))),
            ("192.0.2.1:8443", Ok(("192.0.2.1", Some(8443)))),
            ("192.0.2.1.", Ok(("192.0.2.1", None))),
            ("[2001:db8::1]", Ok(("[2001:db8::1]", None))),
            (
                "[2001:DB8:0:0:0:0:0:1]:8443",
                Ok(("[2001:db8::1]", Some(8443))),
            ),
            ("[::ffff:192.0.2.1]", Ok(("[::ffff:192.0.2.1]", None))),
            ("", Err(HostError::Empty)),
            (":443", Err(HostError::Empty)),
            ("2001:db8::1", Err(HostError::UnbracketedIpv6)),
            ("::1", Err(HostError::UnbracketedIpv6)),
            ("app.example.com:1:2", Err(HostError::UnbracketedIpv6)),
            ("[2001:db8::1", Err(HostError::InvalidIpv6)),
            ("[2001:db8::1]8443", Err(HostError::InvalidIpv6)),
            ("[2001:db8::1]:", Err(HostError::InvalidPort)),
            ("[app.example.com]", Err(HostError::InvalidIpv6)),
            ("[fe80::1%25eth0]", Err(HostError::InvalidIpv6)),
            ("[]", Err(HostError::InvalidIpv6)),
            ("app.example.com:abc", Err(HostError::InvalidPort)),
            ("app.example.com:99999", Err(HostError::InvalidPort)),
            ("app.example.com:65536", Err(HostError::InvalidPort)),
            ("app.example.com:", Err(HostError::InvalidPort)),
            ("app.example.com:-1", Err(HostError::InvalidPort)),
            ("app.example.com:+1", Err(HostError::InvalidPort)),
            ("app.example.com: 443", Err(HostError::InvalidPort)),
            ("app.example.com:4294967739", Err(HostError::InvalidPort)),
            ("bücher.example.com", Err(HostError::NonAscii)),
            ("app.example.com..", Err(HostError::EmptyLabel)),
            ("admin.example.com..", Err(HostError::EmptyLabel)),
            (".example.com", Err(HostError::EmptyLabel)),
            ("a..b", Err(HostError::EmptyLabel)),
            (".", Err(HostError::EmptyLabel)),
            ("app.example.com/evil", Err(HostError::InvalidCharacter)),
            ("user@app.example.com", Err(HostError::InvalidCharacter)),
            ("app example.com", Err(HostError::InvalidCharacter)),
            ("app.example.com\\", Err(HostError::InvalidCharacter)),
            ("%61pp.example.com", Err(HostError::InvalidCharacter)),
            (
                "a.example.com,b.example.com",
                Err(HostError::InvalidCharacter),
            ),
            ("app*.example.com", Err(HostError::InvalidCharacter)),
            ("999.1.1.1", Err(HostError::InvalidIpv4)),
            ("127.1", Err(HostError::InvalidIpv4)),
            ("0x7f.0.0.1", Err(HostError::InvalidIpv4)),
            ("010.0.0.1", Err(HostError::InvalidIpv4)),
            ("1.2.3.4.5", Err(HostError::InvalidIpv4)),
            ("example.0x", Err(HostError::InvalidIpv4)),
            ("2130706433", Err(HostError::InvalidIpv4)),
        ];

        for (input, expected) in rows {
            let actual = canonicalize_authority(input).map(|(host, port)| (host.to_string(), port));
            let expected = expected.map(|(host, port)| (host.to_owned(), port));
            assert_eq!(actual, expected, "authority {input:?}");
        }
    }

    #[test]
    fn host_length_limits() {
        let label_63 = "a".repeat(63);
        let label_64 = "a".repeat(64);
        assert!(canonicalize_host(&format!("{label_63}.example.com")).is_ok());
        assert_eq!(
            canonicalize_host(&format!("{label_64}.example.com")),
            Err(HostError::LabelTooLong)
        );

        // 63 + 1 + 63 + 1 + 63 + 1 + 61 = 253 characters.
        let name_253 = format!("{label_63}.{label_63}.{label_63}.{}", "b".repeat(61));
        assert_eq!(name_253.len(), 253);
        assert!(canonicalize_host(&name_253).is_ok());
        assert!(canonicalize_host(&format!("{name_253}.")).is_ok());

        let name_254 = format!("{name_253}b");
        assert_eq!(canonicalize_host(&name_254), Err(HostError::NameTooLong));
    }

    #[test]
    fn host_rejects_port() {
        assert_eq!(
            canonicalize_host("app.example.com:443"),
            Err(HostError::UnexpectedPort)
        );
        assert_eq!(
            canonicalize_host("2001:db8::1"),
            Err(HostError::UnbracketedIpv6)
        );
        assert_eq!(
            canonicalize_host("[2001:db8::1]:443"),
            Err(HostError::InvalidIpv6)
        );
        assert_eq!(canonicalize_host(""), Err(HostError::Empty));
    }

    #[test]
    fn host_kind_accessors() {
        let name = host("App.Example.com");
        assert!(name.is_name());
        assert_eq!(name.ip(), None);
        assert_eq!(name.to_string(), "app.example.com");

        let v4 = host("192.0.2.1");
        assert!(!v4.is_name());
        assert_eq!(v4.ip(), Some("192.0.2.1".parse().unwrap()));

        let v6 = host("[2001:db8::1]");
        assert!(!v6.is_name());
        assert_eq!(v6.ip(), Some("2001:db8::1".parse().unwrap()));

        let from_v4 = CanonicalHost::from("192.0.2.1".parse::<IpAddr>().unwrap());
        assert_eq!(from_v4, v4);
        let from_v6 = CanonicalHost::from("2001:db8::1".parse::<IpAddr>().unwrap());
        assert_eq!(from_v6, v6);
        let from_mapped = CanonicalHost::from("::ffff:192.0.2.1".parse::<IpAddr>().unwrap());
        assert_eq!(from_mapped, host("[::ffff:192.0.2.1]"));
    }

    #[test]
    fn localhost_table() {
        let rows = [
            ("localhost", true),
            ("LOCALHOST.", true),
            ("app.localhost", true),
            ("a.b.localhost", true),
            ("gatehouse.localhost", true),
            ("localhost.example.com", false),
            ("notlocalhost", false),
            ("xlocalhost", false),
            ("127.0.0.1", false),
            ("[::1]", false),
        ];
        for (input, expected) in rows {
            assert_eq!(host(input).is_localhost(), expected, "host {input:?}");
        }
    }

    #[test]
    fn subdomain_table() {
        let rows = [
            ("example.com", "example.com", true),
            ("app.example.com", "example.com", true),
            ("a.b.example.com", "example.com", true),
            ("APP.Example.com.", "example.com", true),
            ("evilexample.com", "example.com", false),
            ("badexample.com", "example.com", false),
            ("xexample.com", "example.com", false),
            ("example.com.evil.net", "example.com", false),
            ("app.example.community", "example.com", false),
            ("com", "example.com", false),
            ("example.com", "app.example.com", false),
            ("192.0.2.1", "192.0.2.1", true),
            ("[2001:db8::1]", "[2001:db8::1]", true),
            ("[2001:db8::1]", "[2001:db8::2]", false),
        ];
        for (candidate, domain, expected) in rows {
            let actual = canonicalize_host(candidate)
                .map(|candidate| is_same_or_subdomain(&candidate, &host(domain)));
            assert_eq!(actual, Ok(expected), "{candidate:?} under {domain:?}");
        }
    }

    #[test]
    fn strict_subdomain_excludes_ips() {
        assert!(!is_strict_subdomain(&host("192.0.2.1"), &host("192.0.2.1")));
        assert!(!is_strict_subdomain(
            &host("[2001:db8::1]"),
            &host("example.com")
        ));
        assert!(!is_strict_subdomain(
            &host("example.com"),
            &host("[2001:db8::1]")
        ));
    }

    #[test]
    fn wildcard_table() {
        let wildcard = WildcardDomain::parse("*.Example.com").expect("valid pattern");
        assert_eq!(wildcard.suffix().as_str(), "example.com");

        let rows = [
            ("app.example.com", true),
            ("a.b.example.com", true),
            ("APP.EXAMPLE.COM.", true),
            ("example.com", false),
            ("evilexample.com", false),
            ("xexample.com", false),
            ("example.com.evil.net", false),
            ("app.example.community", false),
            ("192.0.2.1", false),
        ];
        for (candidate, expected) in rows {
            assert_eq!(
                wildcard.matches(&host(candidate)),
                expected,
                "host {candidate:?}"
            );
        }
    }

    #[test]
    fn wildcard_parse_rejects() {
        let rows = [
            "example.com",
            "*example.com",
            "*.",
            "*",
            "*.*.example.com",
            "a.*.example.com",
            "**.example.com",
            "*.192.0.2.1",
            "*.[2001:db8::1]",
            "*.example.com:443",
            "*..example.com",
        ];
        for pattern in rows {
            assert_eq!(
                WildcardDomain::parse(pattern),
                Err(HostError::InvalidWildcard),
                "pattern {pattern:?}"
            );
        }
        assert!(WildcardDomain::parse("*.example.com.").is_ok());
    }
}
