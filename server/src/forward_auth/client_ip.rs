//! The client IP address, and whether a peer may describe a destination at all.
//!
//! One function decides the client address for every feature (network rules, regulation, rate
//! limits, elevation binding, logs). `X-Forwarded-For` is read only from a trusted peer, from the
//! right, and anything that cannot be read makes the client unknown. An unknown client is never
//! replaced by the proxy's own address.

use std::net::{IpAddr, Ipv6Addr};

use http::HeaderValue;
use ipnet::IpNet;

/// The address of the user's client, as far as the trusted proxies vouch for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientIp {
    /// An address; IPv4-mapped IPv6 addresses are given as IPv4.
    Known(IpAddr),
    /// No trustworthy address. It meets no `networks` criterion.
    Unknown,
}

impl ClientIp {
    /// Returns the address when it is known.
    pub fn known(self) -> Option<IpAddr> {
        match self {
            ClientIp::Known(address) => Some(address),
            ClientIp::Unknown => None,
        }
    }
}

/// Checks whether `peer`, the TCP peer of the request, may set forwarded headers.
///
/// With `trusted` set (`server.trusted_proxies`), the peer must be inside one of its networks.
/// Unset, only loopback, private and unique-local peers are trusted: 127.0.0.0/8, ::1,
/// 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16 and fc00::/7. An IPv4-mapped IPv6 peer is compared
/// as IPv4.
pub fn trusted_peer(peer: IpAddr, trusted: Option<&[IpNet]>) -> bool {
    match trusted {
        Some(networks) => in_networks(peer, networks),
        None => in_default_ranges(peer.to_canonical()),
    }
}

/// Determines the client address from the TCP peer and the `X-Forwarded-For` header lines.
///
/// Several lines are joined in order with `,`, and entries are trimmed. An entry with a port,
/// brackets or a zone index is invalid. A peer that is not trusted is the client itself, and
/// its `X-Forwarded-For` is ignored. From a trusted peer:
///
/// - `trusted` set: entries are walked from the right, skipping those inside `trusted`. The first
///   other entry is the client. An invalid entry met on the way, an absent or empty header, or a
///   header of trusted entries only gives [`ClientIp::Unknown`].
/// - `trusted` unset: one trusted hop, so the right-most entry is the client if it is valid, and
///   unknown otherwise. Without the header the client is the peer.
pub fn client_ip<'a, I>(peer: IpAddr, xff_lines: I, trusted: Option<&[IpNet]>) -> ClientIp
where
    I: IntoIterator<Item = &'a HeaderValue>,
{
    let peer = peer.to_canonical();
    if !trusted_peer(peer, trusted) {
        return ClientIp::Known(peer);
    }

    let mut lines = xff_lines.into_iter().peekable();
    if lines.peek().is_none() {
        return match trusted {
            Some(_) => ClientIp::Unknown,
            None => ClientIp::Known(peer),
        };
    }

    let mut joined: Vec<u8> = Vec::new();
    for (index, line) in lines.enumerate() {
        if index > 0 {
            joined.push(b',');
        }
        joined.extend_from_slice(line.as_bytes());
    }
    let mut entries = joined.split(|&byte| byte == b',').rev();

    let Some(networks) = trusted else {
        return match entries.next().and_then(parse_entry) {
            Some(address) => ClientIp::Known(address),
            None => ClientIp::Unknown,
        };
    };

    for entry in entries {
        match parse_entry(entry) {
            None => return ClientIp::Unknown,
            Some(address) if in_networks(address, networks) => continue,
            Some(address) => return ClientIp::Known(address),
        }
    }
    ClientIp::Unknown
}

/// Parses one trimmed `X-Forwarded-For` entry as a bare IPv4 or IPv6 address.
fn parse_entry(entry: &[u8]) -> Option<IpAddr> {
    let text = std::str::from_utf8(entry.trim_ascii()).ok()?;
    let address: IpAddr = text.parse().ok()?;
    Some(address.to_canonical())
}

/// Checks membership with IPv4-mapped IPv6 addresses compared as IPv4, while a network written
/// in IPv6 form still matches the address as given.
fn in_networks(address: IpAddr, networks: &[IpNet]) -> bool {
    let canonical = address.to_canonical();
    networks
        .iter()
        .any(|network| network.contains(&canonical) || network.contains(&address))
}

fn in_default_ranges(address: IpAddr) -> bool {
    match address {
        IpAddr::V4(v4) => v4.is_loopback() || v4.is_private(),
        IpAddr::V6(v6) => v6 == Ipv6Addr::LOCALHOST || is_unique_local(v6),
    }
}

/// Checks for fc00::/7 (RFC 4193).
fn is_unique_local(address: Ipv6Addr) -> bool {
    address.segments()[0] & 0xfe00 == 0xfc00
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("test address is valid")
    }

    fn networks(entries: &[&str]) -> Vec<IpNet> {
        entries
            .iter()
            .map(|entry| entry.parse().expect("test network is valid"))
            .collect()
    }

    fn lines(values: &[&str]) -> Vec<HeaderValue> {
        values
            .iter()
            .map(|value| HeaderValue::from_str(value).expect("valid header value"))
            .collect()
    }

    /// The expected client: `Some(address)` for a known client, `None` for unknown.
    type Expected = Option<&'static str>;

    fn client_for(peer: &str, xff: &[&str], trusted: Option<&[IpNet]>) -> ClientIp {
        client_ip(ip(peer), &lines(xff), trusted)
    }

    fn expected(value: Expected) -> ClientIp {
        match value {
            Some(address) => ClientIp::Known(ip(address)),
            None => ClientIp::Unknown,
        }
    }

    #[test]
    fn trusted_list_table() {
        let trusted = networks(&["10.0.0.2/32"]);
        let rows: &[(&str, &[&str], Expected)] = &[
            // A malformed or missing address makes the client unknown, never the proxy.
            ("10.0.0.2", &["a"], None),
            ("10.0.0.2", &[""], None),
            ("10.0.0.2", &["  "], None),
            ("10.0.0.2", &["999.1.1.1"], None),
            ("10.0.0.2", &["10.0.0.1.evil"], None),
            ("10.0.0.2", &["10.0.0.1, a"], None),
            ("10.0.0.2", &["unknown"], None),
            ("10.0.0.2", &["198.51.100.7:443"], None),
            ("10.0.0.2", &["[2001:db8::1]"], None),
            ("10.0.0.2", &["[2001:db8::1]:443"], None),
            ("10.0.0.2", &["fe80::1%eth0"], None),
            ("10.0.0.2", &["010.0.0.7"], None),
            ("10.0.0.2", &["198.51.100.7,"], None),
            ("10.0.0.2", &[], None),
            ("10.0.0.2", &["10.0.0.2"], None),
            ("10.0.0.2", &["10.0.0.2, 10.0.0.2"], None),
            ("10.0.0.2", &["198.51.100.7, a, 10.0.0.2"], None),
            // Several lines are joined in order, then walked from the right.
            (
                "10.0.0.2",
                &["10.0.0.7", "203.0.113.9"],
                Some("203.0.113.9"),
            ),
            ("10.0.0.2", &["203.0.113.9", "10.0.0.7"], Some("10.0.0.7")),
            (
                "10.0.0.2",
                &["198.51.100.7", "10.0.0.2"],
                Some("198.51.100.7"),
            ),
            ("10.0.0.2", &["198.51.100.7", ""], None),
            ("10.0.0.2", &["10.0.0.7"], Some("10.0.0.7")),
            // Entries left of the client were written by the client and are never used.
            (
                "10.0.0.2",
                &["10.0.0.7, 198.51.100.7"],
                Some("198.51.100.7"),
            ),
            (
                "10.0.0.2",
                &["203.0.113.1, 198.51.100.7"],
                Some("198.51.100.7"),
            ),
            ("10.0.0.2", &["a, 198.51.100.7"], Some("198.51.100.7")),
            (
                "10.0.0.2",
                &["198.51.100.7, 10.0.0.2"],
                Some("198.51.100.7"),
            ),
            ("10.0.0.2", &[" \t198.51.100.7\t "], Some("198.51.100.7")),
            ("10.0.0.2", &["2001:db8::7"], Some("2001:db8::7")),
            ("10.0.0.2", &["::ffff:198.51.100.7"], Some("198.51.100.7")),
            (
                "10.0.0.2",
                &["198.51.100.7, ::ffff:10.0.0.2"],
                Some("198.51.100.7"),
            ),
            ("::ffff:10.0.0.2", &["198.51.100.7"], Some("198.51.100.7")),
            // A peer outside the list is the client, and its header is ignored.
            ("198.51.100.7", &["10.0.0.7"], Some("198.51.100.7")),
            ("10.0.0.3", &["10.0.0.7"], Some("10.0.0.3")),
            ("127.0.0.1", &["10.0.0.7"], Some("127.0.0.1")),
        ];
        for (peer, xff, want) in rows {
            let actual = client_for(peer, xff, Some(&trusted));
            assert_eq!(
                actual,
                expected(*want),
                "peer {peer} X-Forwarded-For {xff:?}"
            );
        }
    }

    #[test]
    fn trusted_cidr_skips_every_proxy() {
        let trusted = networks(&["10.0.0.0/24", "2001:db8:1::/48"]);
        let rows: &[(&str, &[&str], Expected)] = &[
            (
                "10.0.0.2",
                &["198.51.100.7, 10.0.0.3, 10.0.0.9"],
                Some("198.51.100.7"),
            ),
            (
                "10.0.0.2",
                &["198.51.100.7, 2001:db8:1::5"],
                Some("198.51.100.7"),
            ),
            ("10.0.0.2", &["10.0.1.7, 10.0.0.3"], Some("10.0.1.7")),
            ("10.0.0.2", &["10.0.0.4, 10.0.0.3"], None),
            ("2001:db8:1::2", &["198.51.100.7"], Some("198.51.100.7")),
            ("2001:db8:2::2", &["198.51.100.7"], Some("2001:db8:2::2")),
        ];
        for (peer, xff, want) in rows {
            let actual = client_for(peer, xff, Some(&trusted));
            assert_eq!(
                actual,
                expected(*want),
                "peer {peer} X-Forwarded-For {xff:?}"
            );
        }
    }

    #[test]
    fn unset_list_table() {
        let rows: &[(&str, &[&str], Expected)] = &[
            ("127.0.0.1", &[], Some("127.0.0.1")),
            ("::1", &[], Some("::1")),
            ("10.1.2.3", &["203.0.113.7"], Some("203.0.113.7")),
            // One trusted hop: the right-most entry, even when it is a private address.
            ("10.1.2.3", &["203.0.113.7, 10.0.0.5"], Some("10.0.0.5")),
            ("10.1.2.3", &["203.0.113.7", "10.0.0.5"], Some("10.0.0.5")),
            ("10.1.2.3", &["a, 203.0.113.7"], Some("203.0.113.7")),
            ("192.168.1.1", &["a"], None),
            ("192.168.1.1", &[""], None),
            ("192.168.1.1", &["203.0.113.7, "], None),
            ("192.168.1.1", &["203.0.113.7:80"], None),
            ("192.168.1.1", &["::ffff:203.0.113.7"], Some("203.0.113.7")),
            ("fd00::1", &["2001:db8::7"], Some("2001:db8::7")),
            // A public peer is the client, and its X-Forwarded-For is ignored.
            ("203.0.113.50", &["10.0.0.7"], Some("203.0.113.50")),
            ("203.0.113.50", &[], Some("203.0.113.50")),
            ("::ffff:203.0.113.50", &["10.0.0.7"], Some("203.0.113.50")),
        ];
        for (peer, xff, want) in rows {
            let actual = client_for(peer, xff, None);
            assert_eq!(
                actual,
                expected(*want),
                "peer {peer} X-Forwarded-For {xff:?}"
            );
        }
    }

    #[test]
    fn default_trusted_ranges() {
        let rows = [
            ("127.0.0.1", true),
            ("127.255.255.254", true),
            ("::1", true),
            ("::ffff:127.0.0.1", true),
            ("10.0.0.1", true),
            ("10.255.255.255", true),
            ("172.16.0.1", true),
            ("172.31.255.255", true),
            ("172.15.255.255", false),
            ("172.32.0.0", false),
            ("192.168.0.1", true),
            ("192.169.0.1", false),
            ("::ffff:10.0.0.2", true),
            ("fc00::1", true),
            ("fd12:3456::1", true),
            ("fe00::1", false),
            ("fe80::1", false),
            ("169.254.1.1", false),
            ("100.64.0.1", false),
            ("0.0.0.0", false),
            ("::", false),
            ("203.0.113.7", false),
            ("2001:db8::1", false),
        ];
        for (peer, expected) in rows {
            assert_eq!(trusted_peer(ip(peer), None), expected, "peer {peer}");
        }
    }

    #[test]
    fn configured_trusted_peers() {
        let trusted = networks(&["10.0.0.2/32", "2001:db8::/32"]);
        let rows = [
            ("10.0.0.2", true),
            ("::ffff:10.0.0.2", true),
            ("10.0.0.3", false),
            ("127.0.0.1", false),
            ("2001:db8::5", true),
            ("2001:db9::5", false),
            ("198.51.100.7", false),
        ];
        for (peer, expected) in rows {
            assert_eq!(
                trusted_peer(ip(peer), Some(&trusted)),
                expected,
                "peer {peer}"
            );
        }

        // An empty list trusts no peer, not even loopback.
        assert!(!trusted_peer(ip("127.0.0.1"), Some(&[])));
        assert_eq!(
            client_for("127.0.0.1", &["10.0.0.7"], Some(&[])),
            ClientIp::Known(ip("127.0.0.1"))
        );
    }

    #[test]
    fn known_accessor() {
        assert_eq!(
            ClientIp::Known(ip("10.0.0.7")).known(),
            Some(ip("10.0.0.7"))
        );
        assert_eq!(ClientIp::Unknown.known(), None);
    }

    #[test]
    fn random_headers_do_not_panic() {
        let trusted = networks(&["10.0.0.0/8", "::1/128"]);
        let mut state: u64 = 0x853c_49e6_748f_ea9b;
        let alphabet = b"0123456789abcdef.:,[] %\t\xff";
        for _ in 0..3_000 {
            let mut bytes = Vec::new();
            for _ in 0..(state % 48) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                bytes.push(alphabet[(state >> 11) as usize % alphabet.len()]);
            }
            let Ok(value) = HeaderValue::from_bytes(&bytes) else {
                continue;
            };
            let lines = [value.clone(), value];
            for peer in ["10.0.0.2", "203.0.113.7", "::1"] {
                // A trusted proxy is never reported as the client.
                if let ClientIp::Known(address) = client_ip(ip(peer), &lines, Some(&trusted)) {
                    assert!(
                        !in_networks(address, &trusted),
                        "peer {peer} lines {lines:?}"
                    );
                }
                let _ = client_ip(ip(peer), &lines, None);
            }
        }
    }
}
