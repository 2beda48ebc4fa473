//! `server`: the listening address, request limits, trusted proxies and the authz endpoints.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use ipnet::IpNet;

use crate::config::read::{read_string, Reader, Section};
use crate::config::tree::Value;

/// Default maximum size of a request's header section, in bytes (Authelia's is 4096).
pub const DEFAULT_READ_BUFFER: usize = 32_768;
/// Port used when `server.address` names none.
pub const DEFAULT_PORT: u16 = 9091;
const DEFAULT_BASIC_CACHE_LIFESPAN: Duration = Duration::from_secs(5 * 60);

/// Settings of the HTTP listener.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub address: ListenAddress,
    pub buffers: Buffers,
    /// Proxies allowed to describe the destination and the client; `None` when the key is
    /// unset, which trusts loopback and private peers for one hop.
    pub trusted_proxies: Option<Vec<IpNet>>,
    pub endpoints: Endpoints,
}

/// Address to listen on, from `tcp://[host]:port[/path]` or `host:port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenAddress {
    /// `None` means every interface.
    pub ip: Option<IpAddr>,
    pub port: u16,
    /// Path prefix the portal is served under; always starts and ends with `/`.
    pub path: String,
}

impl Default for ListenAddress {
    /// Authelia's default, `tcp://:9091/`: every interface, port 9091.
    fn default() -> Self {
        Self {
            ip: None,
            port: DEFAULT_PORT,
            path: "/".to_owned(),
        }
    }
}

/// Buffer sizes of the HTTP listener.
#[derive(Debug, Clone)]
pub struct Buffers {
    /// Maximum size of a request's header section in bytes; larger requests get 431.
    pub read: usize,
}

/// `server.endpoints`.
#[derive(Debug, Clone)]
pub struct Endpoints {
    /// Authz endpoints in configuration order; the four defaults when none are configured.
    pub authz: Vec<AuthzEndpoint>,
    pub rate_limits: RateLimits,
}

/// One authz endpoint, `server.endpoints.authz.<name>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthzEndpoint {
    pub name: String,
    pub implementation: Implementation,
    /// Strategies tried in order; the implementation's default list when none are configured.
    pub authn_strategies: Vec<AuthnStrategy>,
}

impl AuthzEndpoint {
    /// Returns the URL path the endpoint is served at: `/api/verify` for the name `legacy`,
    /// else `/api/authz/<name>`.
    pub fn path(&self) -> String {
        if self.name == "legacy" {
            "/api/verify".to_owned()
        } else {
            format!("/api/authz/{}", self.name)
        }
    }
}

/// Protocol an authz endpoint speaks, which decides where it reads the target from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Implementation {
    ForwardAuth,
    AuthRequest,
    ExtAuthz,
    Legacy,
}

impl Implementation {
    fn parse(text: &str) -> Option<Self> {
        match text {
            "ForwardAuth" => Some(Self::ForwardAuth),
            "AuthRequest" => Some(Self::AuthRequest),
            "ExtAuthz" => Some(Self::ExtAuthz),
            "Legacy" => Some(Self::Legacy),
            _ => None,
        }
    }

    /// Returns the identification order used when an endpoint configures none.
    pub fn default_strategies(self) -> Vec<AuthnStrategy> {
        let header = |name| AuthnStrategy {
            name,
            schemes: vec![AuthScheme::Basic],
            scheme_basic_cache_lifespan: DEFAULT_BASIC_CACHE_LIFESPAN,
        };
        let cookie = AuthnStrategy {
            name: StrategyName::CookieSession,
            schemes: Vec::new(),
            scheme_basic_cache_lifespan: Duration::ZERO,
        };
        match self {
            Self::ForwardAuth | Self::AuthRequest | Self::ExtAuthz => vec![
                header(StrategyName::HeaderAuthorization),
                header(StrategyName::HeaderAuthRequestProxyAuthorization),
                cookie,
            ],
            Self::Legacy => vec![header(StrategyName::HeaderLegacy), cookie],
        }
    }
}

/// One identification strategy of an authz endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthnStrategy {
    pub name: StrategyName,
    /// Authorization schemes a header strategy accepts; empty for `CookieSession`.
    pub schemes: Vec<AuthScheme>,
    /// How long a verified Basic credential is remembered; zero turns the cache off.
    pub scheme_basic_cache_lifespan: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StrategyName {
    CookieSession,
    HeaderAuthorization,
    HeaderProxyAuthorization,
    HeaderAuthRequestProxyAuthorization,
    HeaderLegacy,
}

impl StrategyName {
    fn parse(text: &str) -> Option<Self> {
        match text {
            "CookieSession" => Some(Self::CookieSession),
            "HeaderAuthorization" => Some(Self::HeaderAuthorization),
            "HeaderProxyAuthorization" => Some(Self::HeaderProxyAuthorization),
            "HeaderAuthRequestProxyAuthorization" => {
                Some(Self::HeaderAuthRequestProxyAuthorization)
            }
            "HeaderLegacy" => Some(Self::HeaderLegacy),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthScheme {
    Basic,
    Bearer,
}

/// Request limits per client IP, `server.endpoints.rate_limits`.
#[derive(Debug, Clone)]
pub struct RateLimits {
    pub reset_password_start: RateLimit,
    pub reset_password_finish: RateLimit,
    pub second_factor_totp: RateLimit,
    pub session_elevation_start: RateLimit,
    pub session_elevation_finish: RateLimit,
    /// Failed Basic credentials on the authz endpoints (a Gatehouse addition).
    pub authz_basic: RateLimit,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimit {
    pub enable: bool,
    /// Every bucket applies; exceeding any one of them limits the client.
    pub buckets: Vec<Bucket>,
}

/// At most `requests` requests per `period`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bucket {
    pub period: Duration,
    pub requests: u32,
}

/// Lifespans that the elevation rate limits are measured in.
pub(crate) struct ElevationLifespans {
    pub(crate) code: Duration,
    pub(crate) elevation: Duration,
}

pub(crate) fn read_server(
    reader: &mut Reader,
    mut section: Section<'_>,
    lifespans: &ElevationLifespans,
) -> ServerConfig {
    let address = match section.scalar(reader, "address") {
        None => ListenAddress::default(),
        Some(value) => {
            let path = section.key_path("address");
            read_string(reader, &path, value)
                .and_then(|text| match parse_listen_address(&text) {
                    Ok(address) => Some(address),
                    Err(message) => {
                        reader.error(&path, message);
                        None
                    }
                })
                .unwrap_or_default()
        }
    };
    if address.path != "/" {
        reader.warn(
            &section.key_path("address"),
            format!(
                "the path '{}' is ignored: Gatehouse serves the portal and the API at the root path",
                address.path
            ),
        );
    }

    let mut buffers_section = section.section(reader, "buffers");
    let read = buffers_section
        .uint(reader, "read", u64::from(u32::MAX))
        .unwrap_or(DEFAULT_READ_BUFFER as u64);
    let read = usize::try_from(read).unwrap_or(DEFAULT_READ_BUFFER);
    if read < 4096 {
        reader.error(
            &buffers_section.key_path("read"),
            format!("must be at least 4096 bytes, found {read}"),
        );
    } else if read < crate::serve::MIN_HEADER_LIMIT {
        // Authelia's default is 4096, but hyper's smallest read buffer is 8192 bytes.
        reader.warn(
            &buffers_section.key_path("read"),
            format!(
                "{read} bytes is below the smallest limit the HTTP server supports; {} bytes is used",
                crate::serve::MIN_HEADER_LIMIT
            ),
        );
    }
    buffers_section.finish(reader);

    let proxies_path = section.key_path("trusted_proxies");
    let trusted_proxies = section.string_list(reader, "trusted_proxies").map(|items| {
        items
            .into_iter()
            .filter_map(|(path, text)| match parse_network(&text) {
                Some(net) => Some(net),
                None => {
                    reader.error(
                        &path,
                        format!("'{text}' is not an IP address or CIDR network"),
                    );
                    None
                }
            })
            .collect()
    });

    if trusted_proxies.as_ref().is_some_and(Vec::is_empty) && !reader.recording() {
        reader.warn(
            &proxies_path,
            "an empty list trusts no proxy, so every authz request is rejected; remove the key to trust loopback and private peers",
        );
    }

    let mut endpoints_section = section.section(reader, "endpoints");
    let authz = read_authz_endpoints(reader, &mut endpoints_section);
    let mut limits_section = endpoints_section.section(reader, "rate_limits");
    let rate_limits = read_rate_limits(reader, &mut limits_section, lifespans);
    limits_section.finish(reader);
    endpoints_section.finish(reader);

    section.finish(reader);
    ServerConfig {
        address,
        buffers: Buffers { read },
        trusted_proxies,
        endpoints: Endpoints { authz, rate_limits },
    }
}

/// Parses an IP address (as a host network) or a CIDR network.
pub(crate) fn parse_network(text: &str) -> Option<IpNet> {
    let text = text.trim();
    if let Ok(net) = text.parse::<IpNet>() {
        return Some(net.trunc());
    }
    text.parse::<IpAddr>().ok().map(IpNet::from)
}

/// Parses `server.address` in the forms Authelia accepts for TCP listeners.
pub(crate) fn parse_listen_address(text: &str) -> Result<ListenAddress, String> {
    let text = text.trim();
    let (family, rest) = match text.split_once("://") {
        None => ("tcp", text),
        Some((scheme @ ("tcp" | "tcp4" | "tcp6"), rest)) => (scheme, rest),
        Some(("unix", _)) => {
            return Err("unix sockets are not supported; use tcp://host:port/".to_owned());
        }
        Some((scheme, _)) => {
            return Err(format!(
                "unsupported scheme '{scheme}'; use tcp://host:port/"
            ));
        }
    };
    let (authority, path) = match rest.find('/') {
        Some(index) => (&rest[..index], &rest[index..]),
        None => (rest, "/"),
    };
    let (host, port) = split_host_port(authority)?;
    let port = match port {
        None => DEFAULT_PORT,
        Some(port) => port
            .parse::<u16>()
            .map_err(|_| format!("invalid port '{port}'"))?,
    };

    let ip = match host {
        "" => match family {
            "tcp4" => Some(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
            "tcp6" => Some(IpAddr::V6(Ipv6Addr::UNSPECIFIED)),
            _ => None,
        },
        "localhost" => Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        host => Some(host.parse::<IpAddr>().map_err(|_| {
            format!("'{host}' is not an IP address; listen on an IP address or leave the host empty for every interface")
        })?),
    };
    match (family, ip) {
        ("tcp4", Some(IpAddr::V6(_))) => return Err("tcp4 needs an IPv4 address".to_owned()),
        ("tcp6", Some(IpAddr::V4(_))) => return Err("tcp6 needs an IPv6 address".to_owned()),
        _ => {}
    }

    let mut path = path.to_owned();
    if !path.ends_with('/') {
        path.push('/');
    }
    Ok(ListenAddress { ip, port, path })
}

/// Splits `host:port`, `[v6]:port`, `host` or `:port`.
fn split_host_port(authority: &str) -> Result<(&str, Option<&str>), String> {
    if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or("missing ']' after the IPv6 address")?;
        return match after {
            "" => Ok((host, None)),
            _ => match after.strip_prefix(':') {
                Some(port) => Ok((host, Some(port))),
                None => Err(format!("unexpected text '{after}' after the IPv6 address")),
            },
        };
    }
    match authority.matches(':').count() {
        0 => Ok((authority, None)),
        1 => {
            let (host, port) = authority.split_once(':').unwrap_or((authority, ""));
            Ok((host, Some(port)))
        }
        _ => Err("an IPv6 address must be written in brackets, e.g. tcp://[::1]:9091/".to_owned()),
    }
}

fn default_authz_endpoints() -> Vec<AuthzEndpoint> {
    [
        ("forward-auth", Implementation::ForwardAuth),
        ("auth-request", Implementation::AuthRequest),
        ("ext-authz", Implementation::ExtAuthz),
        ("legacy", Implementation::Legacy),
    ]
    .into_iter()
    .map(|(name, implementation)| AuthzEndpoint {
        name: name.to_owned(),
        implementation,
        authn_strategies: implementation.default_strategies(),
    })
    .collect()
}

fn read_authz_endpoints(reader: &mut Reader, endpoints: &mut Section<'_>) -> Vec<AuthzEndpoint> {
    let entries = endpoints.entries(reader, "authz");
    if entries.is_empty() {
        return default_authz_endpoints();
    }
    entries
        .into_iter()
        .filter_map(|(name, path, value)| read_authz_endpoint(reader, name, &path, value))
        .collect()
}

fn read_authz_endpoint(
    reader: &mut Reader,
    name: String,
    path: &str,
    value: &Value,
) -> Option<AuthzEndpoint> {
    let name_is_valid = valid_endpoint_name(&name);
    if !name_is_valid {
        reader.error(
            path,
            "invalid endpoint name: use letters, digits, '-', '_' and '/', starting and ending with a letter or digit",
        );
    }
    let mut section = Section::open(reader, path, Some(value));
    let implementation_path = section.key_path("implementation");
    let implementation = match section.string(reader, "implementation") {
        None => {
            reader.error(
                &implementation_path,
                "missing: one of ForwardAuth, AuthRequest, ExtAuthz, Legacy",
            );
            None
        }
        Some(text) => {
            let parsed = Implementation::parse(&text);
            if parsed.is_none() {
                reader.error(
                    &implementation_path,
                    format!("unknown implementation '{text}': expected one of ForwardAuth, AuthRequest, ExtAuthz, Legacy (case-sensitive)"),
                );
            }
            parsed
        }
    };
    if name == "legacy" && implementation.is_some_and(|i| i != Implementation::Legacy) {
        reader.error(&implementation_path, "the endpoint named 'legacy' is served at /api/verify and must use the Legacy implementation");
    }

    let mut strategies = Vec::new();
    for (strategy_path, item) in section.list(reader, "authn_strategies") {
        if let Some(strategy) = read_strategy(reader, &strategy_path, item, implementation) {
            if strategies
                .iter()
                .any(|s: &AuthnStrategy| s.name == strategy.name)
            {
                reader.error(
                    &join_name(&strategy_path),
                    "duplicate strategy: each strategy may appear once per endpoint",
                );
            } else {
                strategies.push(strategy);
            }
        }
    }
    section.finish(reader);

    let implementation = implementation?;
    if !name_is_valid {
        return None;
    }
    if strategies.is_empty() {
        strategies = implementation.default_strategies();
    }
    Some(AuthzEndpoint {
        name,
        implementation,
        authn_strategies: strategies,
    })
}

fn join_name(strategy_path: &str) -> String {
    format!("{strategy_path}.name")
}

fn read_strategy(
    reader: &mut Reader,
    path: &str,
    value: &Value,
    implementation: Option<Implementation>,
) -> Option<AuthnStrategy> {
    let mut section = Section::open(reader, path, Some(value));
    let name_path = section.key_path("name");
    let name = match section.string(reader, "name") {
        None => {
            reader.error(&name_path, "missing strategy name");
            None
        }
        Some(text) => {
            let parsed = StrategyName::parse(&text);
            if parsed.is_none() {
                reader.error(
                    &name_path,
                    format!("unknown strategy '{text}': expected one of CookieSession, HeaderAuthorization, HeaderProxyAuthorization, HeaderAuthRequestProxyAuthorization, HeaderLegacy (case-sensitive)"),
                );
            }
            parsed
        }
    };
    let is_cookie = name == Some(StrategyName::CookieSession);
    if name == Some(StrategyName::HeaderLegacy)
        && implementation.is_some_and(|i| i != Implementation::Legacy)
    {
        reader.error(
            &name_path,
            "HeaderLegacy can only be used by a Legacy endpoint",
        );
    }

    let schemes_path = section.key_path("schemes");
    let schemes = match section.string_list(reader, "schemes") {
        None => vec![AuthScheme::Basic],
        Some(items) => {
            if is_cookie {
                reader.error(&schemes_path, "CookieSession takes no schemes");
            }
            let mut schemes = Vec::new();
            for (item_path, text) in items {
                match text.to_ascii_lowercase().as_str() {
                    "basic" => schemes.push(AuthScheme::Basic),
                    "bearer" => {
                        reader.warn(&item_path, "Bearer tokens are not supported; a Bearer credential is treated as absent");
                        schemes.push(AuthScheme::Bearer);
                    }
                    _ => reader.error(
                        &item_path,
                        format!("unknown scheme '{text}': expected Basic or Bearer"),
                    ),
                }
            }
            if name == Some(StrategyName::HeaderLegacy) && schemes.contains(&AuthScheme::Bearer) {
                reader.error(&schemes_path, "HeaderLegacy accepts the Basic scheme only");
            }
            schemes
        }
    };
    let cache_path = section.key_path("scheme_basic_cache_lifespan");
    let cache = section.duration(reader, "scheme_basic_cache_lifespan");
    if is_cookie && cache.is_some() {
        reader.error(&cache_path, "CookieSession has no Basic credential cache");
    }
    section.finish(reader);

    let name = name?;
    if is_cookie {
        return Some(AuthnStrategy {
            name,
            schemes: Vec::new(),
            scheme_basic_cache_lifespan: Duration::ZERO,
        });
    }
    Some(AuthnStrategy {
        name,
        schemes,
        scheme_basic_cache_lifespan: cache.unwrap_or(DEFAULT_BASIC_CACHE_LIFESPAN),
    })
}

/// Checks an endpoint name: letters, digits, `-`, `_`, `/`, starting and ending alphanumeric.
fn valid_endpoint_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    let (Some(first), Some(last)) = (bytes.first(), bytes.last()) else {
        return false;
    };
    first.is_ascii_alphanumeric()
        && last.is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'/'))
}

fn buckets(pairs: &[(u64, u32)]) -> Vec<Bucket> {
    pairs
        .iter()
        .map(|&(seconds, requests)| Bucket {
            period: Duration::from_secs(seconds),
            requests,
        })
        .collect()
}

fn scaled_buckets(unit: Duration, pairs: &[(u32, u32)]) -> Vec<Bucket> {
    pairs
        .iter()
        .map(|&(multiple, requests)| Bucket {
            period: unit * multiple,
            requests,
        })
        .collect()
}

fn read_rate_limits(
    reader: &mut Reader,
    section: &mut Section<'_>,
    lifespans: &ElevationLifespans,
) -> RateLimits {
    let mut limit =
        |name: &str, default: Vec<Bucket>| read_rate_limit(reader, section, name, default);
    RateLimits {
        reset_password_start: limit(
            "reset_password_start",
            buckets(&[(600, 5), (900, 10), (1800, 15)]),
        ),
        reset_password_finish: limit("reset_password_finish", buckets(&[(60, 10), (120, 15)])),
        second_factor_totp: limit(
            "second_factor_totp",
            buckets(&[(60, 30), (120, 40), (600, 50)]),
        ),
        session_elevation_start: limit(
            "session_elevation_start",
            scaled_buckets(lifespans.code, &[(1, 3), (2, 5), (12, 15)]),
        ),
        session_elevation_finish: limit(
            "session_elevation_finish",
            scaled_buckets(lifespans.elevation, &[(1, 3), (2, 5), (6, 15)]),
        ),
        authz_basic: limit("authz_basic", buckets(&[(60, 10), (600, 30)])),
    }
}

fn read_rate_limit(
    reader: &mut Reader,
    parent: &mut Section<'_>,
    name: &str,
    default: Vec<Bucket>,
) -> RateLimit {
    let mut section = parent.section(reader, name);
    let enable = section.bool(reader, "enable", true);
    let configured = section.has("buckets");
    let mut buckets = Vec::new();
    for (path, item) in section.list(reader, "buckets") {
        let mut bucket = Section::open(reader, &path, Some(item));
        let period_path = bucket.key_path("period");
        let requests_path = bucket.key_path("requests");
        let has_period = bucket.has("period");
        let has_requests = bucket.has("requests");
        let period = bucket.duration(reader, "period");
        let requests = bucket.uint(reader, "requests", u64::from(u32::MAX));
        bucket.finish(reader);
        if !has_period {
            reader.error(&period_path, "missing period");
        }
        if !has_requests {
            reader.error(&requests_path, "missing number of requests");
        }
        let (Some(period), Some(requests)) = (period, requests) else {
            continue;
        };
        if period.is_zero() {
            reader.error(&period_path, "must be longer than zero");
        } else if requests == 0 {
            reader.error(&requests_path, "must be at least 1");
        } else {
            let requests = u32::try_from(requests).unwrap_or(u32::MAX);
            buckets.push(Bucket { period, requests });
        }
    }
    section.finish(reader);
    if !configured {
        buckets = default;
    } else if enable && buckets.is_empty() {
        reader.error(
            &parent.key_path(name),
            "an enabled rate limit needs at least one bucket",
        );
    }
    RateLimit { enable, buckets }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_address_forms() {
        let cases = [
            ("tcp://:9091/", None, 9091),
            ("tcp://127.0.0.1:9091", Some("127.0.0.1"), 9091),
            ("127.0.0.1:9091", Some("127.0.0.1"), 9091),
            (":8080", None, 8080),
            ("tcp://[::1]:9000/", Some("::1"), 9000),
            ("tcp4://:9091", Some("0.0.0.0"), 9091),
            ("tcp://127.0.0.1/", Some("127.0.0.1"), 9091),
            ("tcp://localhost:9091", Some("127.0.0.1"), 9091),
        ];
        for (text, ip, port) in cases {
            let address = parse_listen_address(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            let expected_ip = ip.map(|ip| ip.parse::<IpAddr>().unwrap());
            assert_eq!(address.ip, expected_ip, "{text}");
            assert_eq!(address.port, port, "{text}");
        }
    }

    #[test]
    fn listen_address_rejects_bad_forms() {
        for text in [
            "unix:///run/a.sock",
            "http://:9091",
            "tcp://host.example:9091",
            "::1:9091",
            "tcp://:99999",
            "tcp4://[::1]:1",
        ] {
            assert!(parse_listen_address(text).is_err(), "{text} was accepted");
        }
    }

    #[test]
    fn listen_address_keeps_path_with_slash() {
        let address = parse_listen_address("tcp://:9091/authelia").unwrap();
        assert_eq!(address.path, "/authelia/");
    }

    #[test]
    fn endpoint_name_rules() {
        for name in ["forward-auth", "a", "x/y_z", "legacy"] {
            assert!(valid_endpoint_name(name), "{name}");
        }
        for name in ["", "-a", "a-", "a b", "a.b", "/a"] {
            assert!(!valid_endpoint_name(name), "{name}");
        }
    }
}
