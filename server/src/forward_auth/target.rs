//! The target: the request the end user made to the protected site, as the proxy describes it.
//!
//! Each authz implementation names the target with its own headers. The constructors here read
//! exactly those headers, reject anything ambiguous or malformed with a [`BadRequest`], and put
//! the result in canonical form once, so that rules never see a raw header.

use std::fmt;

use http::header::{HeaderMap, HeaderName, HeaderValue};
use url::form_urlencoded;

use crate::domain::{canonicalize_authority, parse_port, CanonicalHost, HostError};

/// The four ways a proxy can ask Gatehouse about a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Implementation {
    /// `/api/authz/forward-auth`: Traefik, Caddy, Skipper, HAProxy's Lua script.
    ForwardAuth,
    /// `/api/authz/auth-request`: NGINX `auth_request`.
    AuthRequest,
    /// `/api/authz/ext-authz`: Envoy's `ext_authz` HTTP service.
    ExtAuthz,
    /// `/api/verify`: the legacy endpoint, which accepts either header set.
    Legacy,
}

/// A target scheme that passed the scheme check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    /// Plain HTTP, allowed only for `localhost` and names under `.localhost`.
    Http,
    Https,
    Wss,
}

impl Scheme {
    /// Returns the lower-case scheme name.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
            Scheme::Wss => "wss",
        }
    }

    /// Returns the port that is implied when the URL names none.
    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https | Scheme::Wss => 443,
        }
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The reason an authz request does not describe a destination that Gatehouse can evaluate.
///
/// Each message is fixed text for the logs: it may name a header but never repeats a header
/// value, because values can carry tokens or credentials.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BadRequest {
    #[error("header {0} is missing")]
    MissingHeader(&'static str),
    #[error("header {0} must appear once with a single value")]
    RepeatedHeader(&'static str),
    #[error("target method must consist of the letters A-Z only")]
    InvalidMethod,
    #[error("target scheme must be https or wss (http only for localhost)")]
    UnsupportedScheme,
    #[error("target URL must be an absolute URL of the form scheme://host/path")]
    NotAbsoluteUrl,
    #[error("invalid target host: {0}")]
    InvalidHost(HostError),
    #[error("header X-Forwarded-Port must be a number from 0 to 65535")]
    InvalidForwardedPort,
    #[error("target URL must not contain a fragment ('#')")]
    Fragment,
    #[error("target URL contains a space, a control character or DEL")]
    InvalidCharacter,
    #[error("target path must start with '/'")]
    RelativePath,
    #[error("ExtAuthz sub-path must be empty or start with '/', and contain no '?'")]
    InvalidSubPath,
    #[error("target path contains '%' not followed by two hexadecimal digits")]
    InvalidPercentEncoding,
    #[error("target path decodes to a control character")]
    DecodedControlCharacter,
    #[error("target path does not decode to valid UTF-8")]
    PathNotUtf8,
    #[error("portal URL override is not an absolute https URL")]
    PortalOverrideNotHttps,
    #[error("portal URL override must not contain user information")]
    PortalOverrideUserinfo,
    #[error("portal URL override is not the cookie domain or under it")]
    PortalOverrideOutsideDomain,
    #[error("a portal URL query parameter (authelia_url or rd) appears more than once")]
    RepeatedQueryParameter,
    #[error("the peer is not a trusted proxy, so its forwarded headers are not used")]
    UntrustedPeer,
    #[error("target host is not under any configured cookie domain")]
    HostOutsideCookieDomains,
    #[error("no portal URL: the cookie domain has no authelia_url and the request no override")]
    NoPortalUrl,
}

impl From<HostError> for BadRequest {
    fn from(error: HostError) -> Self {
        BadRequest::InvalidHost(error)
    }
}

/// The destination of the user's request in canonical form.
///
/// Construct it only with the constructor for the endpoint's [`Implementation`]. `Debug` shows the
/// path and query, which may contain tokens: log the fields that are needed instead.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    method: String,
    scheme: Scheme,
    host: CanonicalHost,
    port: Option<u16>,
    path_raw: String,
    query_raw: Option<String>,
    canonical_path: String,
    query_pairs: Vec<(String, String)>,
    method_overrides: Vec<String>,
}

impl Target {
    /// Reads the target of a ForwardAuth request: `X-Forwarded-Method`, `-Proto`, `-Host`,
    /// `-Port` (used only when the host names no port) and `-URI` (missing or empty means `/`).
    pub fn from_forward_auth(headers: &HeaderMap) -> Result<Target, BadRequest> {
        let destination = check_destination_headers(headers)?;
        let method = parse_method(destination.required(&X_FORWARDED_METHOD)?)?;
        let url = forwarded_url(&destination)?;
        Target::assemble(method, url, headers)
    }

    /// Reads the target of an AuthRequest (NGINX) request: `X-Original-Method` and the absolute
    /// `X-Original-URL`, with no fallback to any other header.
    pub fn from_auth_request(headers: &HeaderMap) -> Result<Target, BadRequest> {
        let destination = check_destination_headers(headers)?;
        let method = parse_method(destination.required(&X_ORIGINAL_METHOD)?)?;
        let url = parse_absolute_url(destination.required(&X_ORIGINAL_URL)?)?;
        Target::assemble(method, url, headers)
    }

    /// Reads the target of an ExtAuthz (Envoy) request. The method is the authz request's own,
    /// the host comes from `Host`, the scheme from `X-Forwarded-Proto`, the path from `sub_path`
    /// (the rest of the authz request's raw path after `/api/authz/ext-authz`) and the query from
    /// the authz request's raw query.
    ///
    /// NOTE: over HTTP/2 the authority arrives as `:authority`, which is not in `headers`. The
    /// handler must copy it into `Host` first, or every HTTP/2 request is rejected.
    pub fn from_ext_authz(
        method: &str,
        sub_path: &str,
        query: Option<&str>,
        headers: &HeaderMap,
    ) -> Result<Target, BadRequest> {
        let destination = check_destination_headers(headers)?;
        let method = parse_method(method.as_bytes())?;
        let scheme = parse_scheme(destination.required(&X_FORWARDED_PROTO)?)?;
        let (host, port) = parse_authority(required(headers, &HOST_HEADER)?)?;

        // Envoy's `path_prefix` ends in `/`, so the remainder may start with one or more
        // slashes; it is normalised to start with exactly one.
        if sub_path.contains('?') || !(sub_path.is_empty() || sub_path.starts_with('/')) {
            return Err(BadRequest::InvalidSubPath);
        }
        let path_raw = check_path(format!("/{}", sub_path.trim_start_matches('/')).as_bytes())?;
        let query_raw = query
            .map(|query| check_query(query.as_bytes()))
            .transpose()?;

        let url = UrlParts {
            scheme,
            host,
            port,
            path_raw,
            query_raw,
        };
        Target::assemble(method, url, headers)
    }

    /// Reads the target of a Legacy (`/api/verify`) request.
    ///
    /// The method is the first present of `X-Original-Method` and `X-Forwarded-Method`, else
    /// `own_method` (old NGINX snippets send neither, and their subrequest is a GET). The URL is
    /// `X-Original-URL` when that header is present, else the ForwardAuth header set. `Host` is
    /// never a fallback for `X-Forwarded-Host`, because it names Gatehouse, not the target.
    pub fn from_legacy(own_method: &str, headers: &HeaderMap) -> Result<Target, BadRequest> {
        let destination = check_destination_headers(headers)?;
        let method = if let Some(value) = destination.get(&X_ORIGINAL_METHOD) {
            parse_method(value)?
        } else if let Some(value) = destination.get(&X_FORWARDED_METHOD) {
            parse_method(value)?
        } else {
            parse_method(own_method.as_bytes())?
        };

        let url = match destination.get(&X_ORIGINAL_URL) {
            Some(value) => parse_absolute_url(value)?,
            None => forwarded_url(&destination)?,
        };
        Target::assemble(method, url, headers)
    }

    /// Applies the scheme check, drops the default port and derives the canonical fields.
    fn assemble(method: String, url: UrlParts, headers: &HeaderMap) -> Result<Target, BadRequest> {
        if url.scheme == Scheme::Http && !url.host.is_localhost() {
            return Err(BadRequest::UnsupportedScheme);
        }
        let port = url.port.filter(|&port| port != url.scheme.default_port());

        let canonical_path = canonicalize_path(&url.path_raw)?;
        let query_pairs: Vec<(String, String)> = match &url.query_raw {
            Some(query) => form_urlencoded::parse(query.as_bytes())
                .map(|(key, value)| (key.into_owned(), value.into_owned()))
                .collect(),
            None => Vec::new(),
        };
        let method_overrides = collect_method_overrides(headers, &query_pairs);

        Ok(Target {
            method,
            scheme: url.scheme,
            host: url.host,
            port,
            path_raw: url.path_raw,
            query_raw: url.query_raw,
            canonical_path,
            query_pairs,
            method_overrides,
        })
    }

    /// Returns the method (upper-case letters only).
    pub fn method(&self) -> &str {
        &self.method
    }

    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    pub fn host(&self) -> &CanonicalHost {
        &self.host
    }

    /// Returns the port when it is not the scheme's default.
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// Returns the path as received (non-ASCII bytes percent-encoded), starting with `/`.
    pub fn path_raw(&self) -> &str {
        &self.path_raw
    }

    /// Returns the query as received without the `?`; `Some("")` when the URL ends in `?`.
    pub fn query_raw(&self) -> Option<&str> {
        self.query_raw.as_deref()
    }

    /// Returns the path that rules match: decoded once, dot segments resolved, repeated slashes
    /// collapsed, trailing slash kept.
    pub fn canonical_path(&self) -> &str {
        &self.canonical_path
    }

    /// Returns the decoded query pairs in order (`+` decodes to a space, as in forms).
    pub fn query_pairs(&self) -> &[(String, String)] {
        &self.query_pairs
    }

    /// Returns the upper-cased methods named by `X-HTTP-Method-Override`, `X-HTTP-Method`,
    /// `X-Method-Override` and `_method` query parameters. A `methods` criterion holds only if
    /// the target method and every one of these are in the rule's list.
    pub fn method_overrides(&self) -> &[String] {
        &self.method_overrides
    }

    /// Rebuilds the target URL for `rd`: `scheme://canonical-host[:non-default-port]` followed by
    /// the path and query as received.
    pub fn rd_url(&self) -> String {
        let mut url = format!("{}://{}", self.scheme, self.host);
        if let Some(port) = self.port {
            url.push(':');
            url.push_str(&port.to_string());
        }
        url.push_str(&self.path_raw);
        if let Some(query) = &self.query_raw {
            url.push('?');
            url.push_str(query);
        }
        url
    }

    /// Returns the text that `resources` patterns match: the canonical path, then `?` and the raw
    /// query when the query is not empty.
    ///
    /// An empty query (`/admin?`) is left out so that `^/admin$` still matches a request that
    /// the backend serves as `/admin`.
    pub fn resource_string(&self) -> String {
        match self.query_raw.as_deref() {
            Some(query) if !query.is_empty() => format!("{}?{query}", self.canonical_path),
            _ => self.canonical_path.clone(),
        }
    }
}

/// Reads `X-Authelia-URL`, the portal URL override of the ExtAuthz and Legacy endpoints, which must
/// appear at most once. The caller checks the value with `redirect::check_portal_override`.
pub fn portal_override_header(headers: &HeaderMap) -> Result<Option<&str>, BadRequest> {
    match optional(headers, &X_AUTHELIA_URL)? {
        Some(value) => std::str::from_utf8(value)
            .map(Some)
            .map_err(|_| BadRequest::PortalOverrideNotHttps),
        None => Ok(None),
    }
}

/// A header that names the destination, with its name as written in messages.
struct DestinationHeader {
    /// The header name. A `HeaderName` rather than text, because looking a header up by text
    /// parses the name again on every request.
    name: HeaderName,
    label: &'static str,
    /// Whether a comma can occur inside one value. A comma in a URL is data, not a list
    /// separator, so URL headers cannot be checked for joined values. A joined pair of URLs
    /// contains a space (`a, b`), which the URL check rejects.
    comma_is_data: bool,
}

static X_FORWARDED_METHOD: DestinationHeader = DestinationHeader {
    name: HeaderName::from_static("x-forwarded-method"),
    label: "X-Forwarded-Method",
    comma_is_data: false,
};
static X_FORWARDED_PROTO: DestinationHeader = DestinationHeader {
    name: HeaderName::from_static("x-forwarded-proto"),
    label: "X-Forwarded-Proto",
    comma_is_data: false,
};
static X_FORWARDED_HOST: DestinationHeader = DestinationHeader {
    name: HeaderName::from_static("x-forwarded-host"),
    label: "X-Forwarded-Host",
    comma_is_data: false,
};
static X_FORWARDED_PORT: DestinationHeader = DestinationHeader {
    name: HeaderName::from_static("x-forwarded-port"),
    label: "X-Forwarded-Port",
    comma_is_data: false,
};
static X_FORWARDED_URI: DestinationHeader = DestinationHeader {
    name: HeaderName::from_static("x-forwarded-uri"),
    label: "X-Forwarded-URI",
    comma_is_data: true,
};
static X_ORIGINAL_METHOD: DestinationHeader = DestinationHeader {
    name: HeaderName::from_static("x-original-method"),
    label: "X-Original-Method",
    comma_is_data: false,
};
static X_ORIGINAL_URL: DestinationHeader = DestinationHeader {
    name: HeaderName::from_static("x-original-url"),
    label: "X-Original-URL",
    comma_is_data: true,
};
static X_AUTHELIA_URL: DestinationHeader = DestinationHeader {
    name: HeaderName::from_static("x-authelia-url"),
    label: "X-Authelia-URL",
    comma_is_data: true,
};
/// `Host` names the target only on the ExtAuthz endpoint.
static HOST_HEADER: DestinationHeader = DestinationHeader {
    name: HeaderName::from_static("host"),
    label: "Host",
    comma_is_data: false,
};

/// The headers that name the destination. Every constructor checks all of them, including the
/// ones its implementation does not read, so that no endpoint silently picks one of two values.
static DESTINATION_HEADERS: [&DestinationHeader; 8] = [
    &X_FORWARDED_METHOD,
    &X_FORWARDED_PROTO,
    &X_FORWARDED_HOST,
    &X_FORWARDED_URI,
    &X_FORWARDED_PORT,
    &X_ORIGINAL_URL,
    &X_ORIGINAL_METHOD,
    &X_AUTHELIA_URL,
];

/// Headers that backends read as a replacement for the request method.
static METHOD_OVERRIDE_HEADERS: [HeaderName; 3] = [
    HeaderName::from_static("x-http-method-override"),
    HeaderName::from_static("x-http-method"),
    HeaderName::from_static("x-method-override"),
];

/// The query parameter that form-based frameworks (Rails, Laravel, Symfony) read as the method.
const METHOD_OVERRIDE_PARAMETER: &str = "_method";

/// The URL of the target before the scheme check and canonical form.
struct UrlParts {
    scheme: Scheme,
    host: CanonicalHost,
    /// The port as written, including a default port.
    port: Option<u16>,
    path_raw: String,
    query_raw: Option<String>,
}

fn check_destination_headers(headers: &HeaderMap) -> Result<Destination<'_>, BadRequest> {
    // One pass over the request's header lines instead of one lookup per destination header:
    // every destination header starts with `x-`, so most lines are passed over at the first
    // byte. Faults are then reported in the order of `DESTINATION_HEADERS`, as one lookup per
    // header would.
    let mut destination = Destination {
        values: [None; DESTINATION_HEADERS.len()],
    };
    let mut lines = [0u8; DESTINATION_HEADERS.len()];
    let mut comma = [false; DESTINATION_HEADERS.len()];
    for (name, value) in headers {
        if !name.as_str().starts_with("x-") {
            continue;
        }
        if let Some(slot) = DESTINATION_HEADERS
            .iter()
            .position(|header| header.name == name)
        {
            lines[slot] = lines[slot].saturating_add(1);
            comma[slot] |= value.as_bytes().contains(&b',');
            destination.values[slot].get_or_insert(value.as_bytes());
        }
    }
    for (slot, header) in DESTINATION_HEADERS.iter().enumerate() {
        if lines[slot] > 1 || (comma[slot] && !header.comma_is_data) {
            return Err(BadRequest::RepeatedHeader(header.label));
        }
    }
    Ok(destination)
}

/// The destination headers of one request after [`check_destination_headers`]: each appears at
/// most once, so its one value can be read without looking it up again.
struct Destination<'a> {
    /// The value of each header of `DESTINATION_HEADERS`, in its order.
    values: [Option<&'a [u8]>; DESTINATION_HEADERS.len()],
}

impl<'a> Destination<'a> {
    /// Returns the value of `header`, one of `DESTINATION_HEADERS`.
    fn get(&self, header: &DestinationHeader) -> Option<&'a [u8]> {
        let slot = DESTINATION_HEADERS
            .iter()
            .position(|listed| std::ptr::eq(*listed, header));
        debug_assert!(
            slot.is_some(),
            "{} is not a destination header",
            header.label
        );
        slot.and_then(|slot| self.values[slot])
    }

    /// Returns the value of `header`, which must be present.
    fn required(&self, header: &DestinationHeader) -> Result<&'a [u8], BadRequest> {
        self.get(header)
            .ok_or(BadRequest::MissingHeader(header.label))
    }
}

/// Returns the value of a header that must appear at most once: one that appears on more than
/// one line, or whose one line joins several values with commas, is refused.
fn optional<'a>(
    headers: &'a HeaderMap,
    header: &DestinationHeader,
) -> Result<Option<&'a [u8]>, BadRequest> {
    let mut values = headers.get_all(&header.name).iter();
    let first = values.next().map(HeaderValue::as_bytes);
    if values.next().is_some() {
        return Err(BadRequest::RepeatedHeader(header.label));
    }
    if !header.comma_is_data && first.is_some_and(|value| value.contains(&b',')) {
        return Err(BadRequest::RepeatedHeader(header.label));
    }
    Ok(first)
}

/// Returns the value of a header that must appear exactly once.
fn required<'a>(
    headers: &'a HeaderMap,
    header: &DestinationHeader,
) -> Result<&'a [u8], BadRequest> {
    optional(headers, header)?.ok_or(BadRequest::MissingHeader(header.label))
}

/// Accepts a method of one or more letters `A`-`Z`: `get`, `GE T` and `M-SEARCH` are rejected, so
/// that no spelling is matched more leniently than the upper-case one.
fn parse_method(value: &[u8]) -> Result<String, BadRequest> {
    if value.is_empty() || !value.iter().all(u8::is_ascii_uppercase) {
        return Err(BadRequest::InvalidMethod);
    }
    String::from_utf8(value.to_vec()).map_err(|_| BadRequest::InvalidMethod)
}

/// Parses a scheme case-insensitively. `http` is accepted here and checked against the host later.
fn parse_scheme(value: &[u8]) -> Result<Scheme, BadRequest> {
    match value.to_ascii_lowercase().as_slice() {
        b"https" => Ok(Scheme::Https),
        b"wss" => Ok(Scheme::Wss),
        b"http" => Ok(Scheme::Http),
        _ => Err(BadRequest::UnsupportedScheme),
    }
}

fn parse_authority(value: &[u8]) -> Result<(CanonicalHost, Option<u16>), BadRequest> {
    let text = std::str::from_utf8(value).map_err(|_| HostError::NonAscii)?;
    Ok(canonicalize_authority(text)?)
}

/// Builds the URL from the ForwardAuth header set.
fn forwarded_url(destination: &Destination<'_>) -> Result<UrlParts, BadRequest> {
    let scheme = parse_scheme(destination.required(&X_FORWARDED_PROTO)?)?;
    let (host, host_port) = parse_authority(destination.required(&X_FORWARDED_HOST)?)?;

    // `X-Forwarded-Port` is validated whenever it is present, even when the host already names
    // a port and the header is not used.
    let header_port = match destination.get(&X_FORWARDED_PORT) {
        Some(value) => {
            let text = std::str::from_utf8(value).map_err(|_| BadRequest::InvalidForwardedPort)?;
            Some(parse_port(text).map_err(|_| BadRequest::InvalidForwardedPort)?)
        }
        None => None,
    };

    let uri = destination.get(&X_FORWARDED_URI).unwrap_or_default();
    check_url_bytes(uri)?;
    if !uri.is_empty() && uri[0] != b'/' {
        return Err(BadRequest::RelativePath);
    }
    let (path, query) = split_query(uri);
    let path_raw = if path.is_empty() {
        "/".to_owned()
    } else {
        check_path(path)?
    };
    let query_raw = query.map(check_query).transpose()?;

    Ok(UrlParts {
        scheme,
        host,
        port: host_port.or(header_port),
        path_raw,
        query_raw,
    })
}

/// Parses an absolute `scheme://authority[/path][?query]` URL. A WHATWG parser is deliberately
/// not used: it would resolve dot segments, encode spaces and accept `https:host`, so the path
/// could no longer be checked and forwarded as received.
fn parse_absolute_url(value: &[u8]) -> Result<UrlParts, BadRequest> {
    check_url_bytes(value)?;

    let separator = find(value, b"://").ok_or(BadRequest::NotAbsoluteUrl)?;
    let (scheme, rest) = (&value[..separator], &value[separator + 3..]);
    let scheme_is_valid = scheme.first().is_some_and(u8::is_ascii_alphabetic)
        && scheme
            .iter()
            .all(|&byte| byte.is_ascii_alphanumeric() || matches!(byte, b'+' | b'-' | b'.'));
    if !scheme_is_valid {
        return Err(BadRequest::NotAbsoluteUrl);
    }
    let scheme = parse_scheme(scheme)?;

    let authority_end = rest
        .iter()
        .position(|&byte| byte == b'/' || byte == b'?')
        .unwrap_or(rest.len());
    let (host, port) = parse_authority(&rest[..authority_end])?;

    let (path, query) = split_query(&rest[authority_end..]);
    let path_raw = if path.is_empty() {
        "/".to_owned()
    } else {
        check_path(path)?
    };
    let query_raw = query.map(check_query).transpose()?;

    Ok(UrlParts {
        scheme,
        host,
        port,
        path_raw,
        query_raw,
    })
}

/// Rejects a fragment, raw spaces, control characters and DEL anywhere in a URL or URI.
/// A browser never sends a fragment or a raw space.
fn check_url_bytes(value: &[u8]) -> Result<(), BadRequest> {
    for &byte in value {
        if byte == b'#' {
            return Err(BadRequest::Fragment);
        }
        if byte <= b' ' || byte == 0x7f {
            return Err(BadRequest::InvalidCharacter);
        }
    }
    Ok(())
}

/// Splits at the first `?` into the path and the query without its `?`.
fn split_query(value: &[u8]) -> (&[u8], Option<&[u8]>) {
    match value.iter().position(|&byte| byte == b'?') {
        Some(index) => (&value[..index], Some(&value[index + 1..])),
        None => (value, None),
    }
}

/// Checks a non-empty raw path and returns it with non-ASCII bytes percent-encoded, as a browser
/// would have sent them. Every `%` must start a two-digit hexadecimal escape.
fn check_path(path: &[u8]) -> Result<String, BadRequest> {
    check_url_bytes(path)?;
    if path.first() != Some(&b'/') {
        return Err(BadRequest::RelativePath);
    }
    for (index, &byte) in path.iter().enumerate() {
        if byte == b'%' && decode_escape(path, index).is_none() {
            return Err(BadRequest::InvalidPercentEncoding);
        }
    }
    Ok(encode_non_ascii(path))
}

/// Checks a raw query and returns it with non-ASCII bytes percent-encoded.
///
/// A stray `%` is accepted in the query, because browsers send `?q=100%` unchanged; the form
/// decoder keeps such a `%` as it is.
fn check_query(query: &[u8]) -> Result<String, BadRequest> {
    check_url_bytes(query)?;
    Ok(encode_non_ascii(query))
}

fn encode_non_ascii(value: &[u8]) -> String {
    let mut encoded = String::with_capacity(value.len());
    for &byte in value {
        if byte.is_ascii() {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// Returns the byte that the escape starting with the `%` at `index` encodes, if it is valid.
fn decode_escape(value: &[u8], index: usize) -> Option<u8> {
    let high = hex_value(*value.get(index + 1)?)?;
    let low = hex_value(*value.get(index + 2)?)?;
    Some(high * 16 + low)
}

fn hex_value(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

/// Computes the path that rules match from a checked raw path.
///
/// Every escape is decoded exactly once, so `%252e` becomes the text `%2e`, not a dot. A `\`
/// counts as `/`, as browsers and some backends read it. Dot segments are resolved without
/// climbing above the root, repeated slashes are collapsed and a trailing slash is kept.
fn canonicalize_path(path_raw: &str) -> Result<String, BadRequest> {
    let raw = path_raw.as_bytes();
    let mut decoded = Vec::with_capacity(raw.len());
    let mut index = 0;
    while index < raw.len() {
        let mut byte = raw[index];
        if byte == b'%' {
            byte = decode_escape(raw, index).ok_or(BadRequest::InvalidPercentEncoding)?;
            index += 3;
        } else {
            index += 1;
        }
        if byte < b' ' || byte == 0x7f {
            return Err(BadRequest::DecodedControlCharacter);
        }
        decoded.push(if byte == b'\\' { b'/' } else { byte });
    }
    // NOTE: a path whose escapes decode to bytes that are not UTF-8 (a Latin-1 `%E9`) is
    // rejected rather than matched lossily, so such sites get 400 behind Gatehouse.
    let decoded = String::from_utf8(decoded).map_err(|_| BadRequest::PathNotUtf8)?;

    let mut segments: Vec<&str> = Vec::new();
    let mut trailing_slash = false;
    for segment in decoded.split('/') {
        // Servlet containers (Tomcat, Jetty) drop `;parameters` from a segment before reading
        // it, so `..;x` climbs like `..` and `/admin;.css` serves `/admin` there. Rules see the
        // segment without its parameters, which can only make matching stricter.
        let name = segment.split(';').next().unwrap_or_default();
        match name {
            "." => trailing_slash = true,
            ".." => {
                segments.pop();
                trailing_slash = true;
            }
            "" => trailing_slash = true,
            _ => {
                segments.push(name);
                trailing_slash = false;
            }
        }
    }

    let mut canonical = String::with_capacity(decoded.len());
    for segment in &segments {
        canonical.push('/');
        canonical.push_str(segment);
    }
    if trailing_slash || segments.is_empty() {
        canonical.push('/');
    }
    Ok(canonical)
}

/// Collects the upper-cased override methods from the override headers (comma-separated values
/// included) and from `_method` query parameters. Empty values are kept: they can only make a
/// `methods` criterion fail.
fn collect_method_overrides(headers: &HeaderMap, query_pairs: &[(String, String)]) -> Vec<String> {
    let mut overrides = Vec::new();
    for name in &METHOD_OVERRIDE_HEADERS {
        for value in headers.get_all(name) {
            for part in value.as_bytes().split(|&byte| byte == b',') {
                overrides.push(String::from_utf8_lossy(part).trim().to_ascii_uppercase());
            }
        }
    }
    for (key, value) in query_pairs {
        if key == METHOD_OVERRIDE_PARAMETER {
            overrides.push(value.trim().to_ascii_uppercase());
        }
    }
    overrides
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{HeaderName, HeaderValue};

    /// Builds a header map, appending so that a repeated name becomes a second line.
    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            let name = HeaderName::from_bytes(name.as_bytes()).expect("valid header name");
            let value = HeaderValue::from_str(value).expect("valid header value");
            map.append(name, value);
        }
        map
    }

    /// Builds the ForwardAuth headers of a browser GET, with `extra` appended.
    fn forward_auth(host: &str, uri: &str, extra: &[(&str, &str)]) -> HeaderMap {
        let mut pairs = vec![
            ("X-Forwarded-Method", "GET"),
            ("X-Forwarded-Proto", "https"),
            ("X-Forwarded-Host", host),
            ("X-Forwarded-URI", uri),
        ];
        pairs.extend_from_slice(extra);
        headers(&pairs)
    }

    fn rd(result: Result<Target, BadRequest>) -> Result<String, BadRequest> {
        result.map(|target| target.rd_url())
    }

    #[test]
    fn forward_auth_url_table() {
        type Row = (
            &'static str,
            &'static str,
            &'static [(&'static str, &'static str)],
            Result<&'static str, BadRequest>,
        );
        let rows: &[Row] = &[
            (
                "app.example.com",
                "/dashboard?tab=1",
                &[],
                Ok("https://app.example.com/dashboard?tab=1"),
            ),
            (
                "ADMIN.Example.COM.:443",
                "/x?y=1",
                &[],
                Ok("https://admin.example.com/x?y=1"),
            ),
            (
                "ADMIN.Example.COM",
                "/",
                &[],
                Ok("https://admin.example.com/"),
            ),
            (
                "admin.example.com.",
                "/",
                &[],
                Ok("https://admin.example.com/"),
            ),
            (
                "admin.example.com:443",
                "/",
                &[],
                Ok("https://admin.example.com/"),
            ),
            (
                "admin.example.com:8443",
                "/",
                &[],
                Ok("https://admin.example.com:8443/"),
            ),
            (
                "app.example.com",
                "/",
                &[("X-Forwarded-Port", "8443")],
                Ok("https://app.example.com:8443/"),
            ),
            (
                "app.example.com",
                "/",
                &[("X-Forwarded-Port", "443")],
                Ok("https://app.example.com/"),
            ),
            (
                "app.example.com:8443",
                "/",
                &[("X-Forwarded-Port", "443")],
                Ok("https://app.example.com:8443/"),
            ),
            (
                "[2001:db8::1]:8443",
                "/",
                &[],
                Ok("https://[2001:db8::1]:8443/"),
            ),
            ("app.example.com", "", &[], Ok("https://app.example.com/")),
            (
                "app.example.com",
                "/a,b?x=1,2",
                &[],
                Ok("https://app.example.com/a,b?x=1,2"),
            ),
            (
                "app.example.com",
                "//evil.example.net/x",
                &[],
                Ok("https://app.example.com//evil.example.net/x"),
            ),
            (
                "app.example.com",
                "/%2e%2e/admin",
                &[],
                Ok("https://app.example.com/%2e%2e/admin"),
            ),
            (
                "app.example.com",
                "/admin?",
                &[],
                Ok("https://app.example.com/admin?"),
            ),
            (
                "app.example.com",
                "/",
                &[("X-Forwarded-Port", "abc")],
                Err(BadRequest::InvalidForwardedPort),
            ),
            (
                "app.example.com",
                "/",
                &[("X-Forwarded-Port", "99999")],
                Err(BadRequest::InvalidForwardedPort),
            ),
            (
                "app.example.com",
                "/",
                &[("X-Forwarded-Port", "")],
                Err(BadRequest::InvalidForwardedPort),
            ),
            (
                "app.example.com:8443",
                "/",
                &[("X-Forwarded-Port", "abc")],
                Err(BadRequest::InvalidForwardedPort),
            ),
            (
                "app.example.com",
                "/",
                &[("X-Forwarded-Port", "443, 80")],
                Err(BadRequest::RepeatedHeader("X-Forwarded-Port")),
            ),
            ("", "/", &[], Err(BadRequest::InvalidHost(HostError::Empty))),
            (
                "app.example.com:abc",
                "/",
                &[],
                Err(BadRequest::InvalidHost(HostError::InvalidPort)),
            ),
            (
                "app.example.com:99999",
                "/",
                &[],
                Err(BadRequest::InvalidHost(HostError::InvalidPort)),
            ),
            (
                "admin.example.com..",
                "/",
                &[],
                Err(BadRequest::InvalidHost(HostError::EmptyLabel)),
            ),
            (
                "2001:db8::1",
                "/",
                &[],
                Err(BadRequest::InvalidHost(HostError::UnbracketedIpv6)),
            ),
            (
                "a.example.com, b.example.com",
                "/",
                &[],
                Err(BadRequest::RepeatedHeader("X-Forwarded-Host")),
            ),
            (
                "a.example.com,b.example.com",
                "/",
                &[],
                Err(BadRequest::RepeatedHeader("X-Forwarded-Host")),
            ),
            (
                "app.example.com",
                "/",
                &[("X-Forwarded-Host", "b.example.com")],
                Err(BadRequest::RepeatedHeader("X-Forwarded-Host")),
            ),
            (
                "app.example.com",
                "/",
                &[("X-Forwarded-URI", "/")],
                Err(BadRequest::RepeatedHeader("X-Forwarded-URI")),
            ),
            (
                "app.example.com",
                "/",
                &[("X-Forwarded-Proto", "https")],
                Err(BadRequest::RepeatedHeader("X-Forwarded-Proto")),
            ),
            (
                "app.example.com",
                "/",
                &[("X-Forwarded-Method", "GET")],
                Err(BadRequest::RepeatedHeader("X-Forwarded-Method")),
            ),
            (
                "app.example.com",
                "/",
                &[("X-Forwarded-Port", "1"), ("X-Forwarded-Port", "1")],
                Err(BadRequest::RepeatedHeader("X-Forwarded-Port")),
            ),
            (
                "app.example.com",
                "/",
                &[
                    ("X-Original-URL", "https://a.example.com/"),
                    ("X-Original-URL", "https://a.example.com/"),
                ],
                Err(BadRequest::RepeatedHeader("X-Original-URL")),
            ),
            (
                "app.example.com",
                "/",
                &[("X-Original-Method", "GET, POST")],
                Err(BadRequest::RepeatedHeader("X-Original-Method")),
            ),
            (
                "app.example.com",
                "/",
                &[
                    ("X-Authelia-URL", "https://auth.example.com/"),
                    ("X-Authelia-URL", "https://auth.example.com/"),
                ],
                Err(BadRequest::RepeatedHeader("X-Authelia-URL")),
            ),
            ("app.example.com", "x", &[], Err(BadRequest::RelativePath)),
            (
                "app.example.com",
                "?x=1",
                &[],
                Err(BadRequest::RelativePath),
            ),
            (
                "app.example.com",
                "https://evil.example.net/",
                &[],
                Err(BadRequest::RelativePath),
            ),
            (
                "app.example.com",
                "/%zz",
                &[],
                Err(BadRequest::InvalidPercentEncoding),
            ),
            (
                "app.example.com",
                "/%2",
                &[],
                Err(BadRequest::InvalidPercentEncoding),
            ),
            (
                "app.example.com",
                "/%",
                &[],
                Err(BadRequest::InvalidPercentEncoding),
            ),
            (
                "app.example.com",
                "/a b",
                &[],
                Err(BadRequest::InvalidCharacter),
            ),
            (
                "app.example.com",
                "/a\tb",
                &[],
                Err(BadRequest::InvalidCharacter),
            ),
            (
                "app.example.com",
                "/a?b c",
                &[],
                Err(BadRequest::InvalidCharacter),
            ),
            ("app.example.com", "/a#b", &[], Err(BadRequest::Fragment)),
            ("app.example.com", "/a?b#c", &[], Err(BadRequest::Fragment)),
            (
                "app.example.com",
                "/x, /y",
                &[],
                Err(BadRequest::InvalidCharacter),
            ),
        ];

        for (host, uri, extra, expected) in rows {
            let actual = rd(Target::from_forward_auth(&forward_auth(host, uri, extra)));
            assert_eq!(
                actual,
                expected.map(str::to_owned),
                "host {host:?} uri {uri:?} extra {extra:?}"
            );
        }
    }

    #[test]
    fn forward_auth_missing_headers() {
        let full = [
            ("X-Forwarded-Method", "GET"),
            ("X-Forwarded-Proto", "https"),
            ("X-Forwarded-Host", "app.example.com"),
            ("X-Forwarded-URI", "/"),
        ];
        let expected = [
            BadRequest::MissingHeader("X-Forwarded-Method"),
            BadRequest::MissingHeader("X-Forwarded-Proto"),
            BadRequest::MissingHeader("X-Forwarded-Host"),
        ];
        for (index, error) in expected.into_iter().enumerate() {
            let mut pairs = full.to_vec();
            pairs.remove(index);
            let result = Target::from_forward_auth(&headers(&pairs));
            assert_eq!(result, Err(error), "without {}", full[index].0);
        }

        // `Host` is never used in place of `X-Forwarded-Host`.
        let with_host = headers(&[
            ("Host", "app.example.com"),
            ("X-Forwarded-Method", "GET"),
            ("X-Forwarded-Proto", "https"),
        ]);
        assert_eq!(
            Target::from_forward_auth(&with_host),
            Err(BadRequest::MissingHeader("X-Forwarded-Host"))
        );
    }

    #[test]
    fn method_table() {
        let rows: &[(&str, Result<&str, BadRequest>)] = &[
            ("GET", Ok("GET")),
            ("HEAD", Ok("HEAD")),
            ("OPTIONS", Ok("OPTIONS")),
            ("POST", Ok("POST")),
            ("PROPFIND", Ok("PROPFIND")),
            ("get", Err(BadRequest::InvalidMethod)),
            ("post", Err(BadRequest::InvalidMethod)),
            ("Get", Err(BadRequest::InvalidMethod)),
            ("GE T", Err(BadRequest::InvalidMethod)),
            ("M-SEARCH", Err(BadRequest::InvalidMethod)),
            ("GET1", Err(BadRequest::InvalidMethod)),
            ("", Err(BadRequest::InvalidMethod)),
            (" GET", Err(BadRequest::InvalidMethod)),
            (
                "GET, POST",
                Err(BadRequest::RepeatedHeader("X-Forwarded-Method")),
            ),
        ];
        for (method, expected) in rows {
            let map = headers(&[
                ("X-Forwarded-Method", method),
                ("X-Forwarded-Proto", "https"),
                ("X-Forwarded-Host", "app.example.com"),
            ]);
            let actual = Target::from_forward_auth(&map);
            let actual = actual.as_ref().map(Target::method);
            assert_eq!(
                actual,
                expected.as_ref().map(|method| *method),
                "method {method:?}"
            );
        }
    }

    #[test]
    fn scheme_table() {
        let rows: &[(&str, &str, Result<&str, BadRequest>)] = &[
            ("https", "app.example.com", Ok("https://app.example.com/")),
            ("HTTPS", "app.example.com", Ok("https://app.example.com/")),
            ("wss", "app.example.com", Ok("wss://app.example.com/")),
            ("wss", "app.example.com:443", Ok("wss://app.example.com/")),
            ("http", "localhost:8080", Ok("http://localhost:8080/")),
            ("http", "localhost:80", Ok("http://localhost/")),
            ("http", "app.localhost", Ok("http://app.localhost/")),
            ("http", "app.localhost:443", Ok("http://app.localhost:443/")),
            ("https", "app.localhost:80", Ok("https://app.localhost:80/")),
            (
                "http",
                "app.example.com",
                Err(BadRequest::UnsupportedScheme),
            ),
            ("http", "127.0.0.1", Err(BadRequest::UnsupportedScheme)),
            ("http", "[::1]", Err(BadRequest::UnsupportedScheme)),
            (
                "http",
                "localhost.example.com",
                Err(BadRequest::UnsupportedScheme),
            ),
            ("ws", "localhost", Err(BadRequest::UnsupportedScheme)),
            ("ws", "app.example.com", Err(BadRequest::UnsupportedScheme)),
            ("ftp", "app.example.com", Err(BadRequest::UnsupportedScheme)),
            ("", "app.example.com", Err(BadRequest::UnsupportedScheme)),
            (
                "https ",
                "app.example.com",
                Err(BadRequest::UnsupportedScheme),
            ),
            (
                "https, http",
                "app.example.com",
                Err(BadRequest::RepeatedHeader("X-Forwarded-Proto")),
            ),
        ];
        for (proto, host, expected) in rows {
            let map = headers(&[
                ("X-Forwarded-Method", "GET"),
                ("X-Forwarded-Proto", proto),
                ("X-Forwarded-Host", host),
            ]);
            let actual = rd(Target::from_forward_auth(&map));
            assert_eq!(
                actual,
                expected.map(str::to_owned),
                "proto {proto:?} host {host:?}"
            );
        }
    }

    #[test]
    fn canonical_path_table() {
        let rows: &[(&str, &str)] = &[
            ("/", "/"),
            ("/admin", "/admin"),
            ("/admin/", "/admin/"),
            ("//admin", "/admin"),
            ("///admin/users", "/admin/users"),
            ("/./admin", "/admin"),
            ("/x/../admin", "/admin"),
            ("/admin/.", "/admin/"),
            ("/admin/..", "/"),
            ("/admin//", "/admin/"),
            ("/admin//users", "/admin/users"),
            ("/public/../admin/users", "/admin/users"),
            ("/public/./../secret", "/secret"),
            ("/%61dmin/%2e%2e/secret", "/secret"),
            ("/%2E%2E/admin", "/admin"),
            ("/.%2e/admin", "/admin"),
            ("/a/../../b", "/b"),
            ("/..", "/"),
            ("/../..", "/"),
            ("/.", "/"),
            ("/%252e", "/%2e"),
            ("/%252e%252e/admin", "/%2e%2e/admin"),
            ("/%25", "/%"),
            ("/%2F", "/"),
            ("/public%2F..%2Fadmin", "/admin"),
            ("/%5Cadmin", "/admin"),
            ("/\\admin", "/admin"),
            ("/public\\..\\admin", "/admin"),
            ("/public/..;/admin", "/admin"),
            ("/public/..;jsessionid=x/admin", "/admin"),
            ("/public/.;/admin", "/public/admin"),
            ("/admin;x=1", "/admin"),
            ("/admin;.css", "/admin"),
            ("/;x/admin", "/admin"),
            ("/...", "/..."),
            ("/.../admin", "/.../admin"),
            ("/a.b/c..d", "/a.b/c..d"),
            ("/%C3%A9t%C3%A9", "/\u{e9}t\u{e9}"),
            ("/a%20b", "/a b"),
            ("/a+b", "/a+b"),
            ("/admin?x=/../y", "/admin"),
        ];
        for (uri, expected) in rows {
            let target = Target::from_forward_auth(&forward_auth("app.example.com", uri, &[]))
                .unwrap_or_else(|error| panic!("uri {uri:?} rejected: {error}"));
            assert_eq!(target.canonical_path(), *expected, "uri {uri:?}");
        }
    }

    #[test]
    fn decoded_path_rejects() {
        let rows: &[(&str, BadRequest)] = &[
            ("/%00", BadRequest::DecodedControlCharacter),
            ("/admin%00.css", BadRequest::DecodedControlCharacter),
            ("/%0a", BadRequest::DecodedControlCharacter),
            ("/%0D%0A", BadRequest::DecodedControlCharacter),
            ("/%09", BadRequest::DecodedControlCharacter),
            ("/%1f", BadRequest::DecodedControlCharacter),
            ("/%7F", BadRequest::DecodedControlCharacter),
            ("/%E9", BadRequest::PathNotUtf8),
            ("/%C3", BadRequest::PathNotUtf8),
            ("/%zz/../admin", BadRequest::InvalidPercentEncoding),
            ("/%g0", BadRequest::InvalidPercentEncoding),
            ("/%0g", BadRequest::InvalidPercentEncoding),
        ];
        for (uri, expected) in rows {
            let result = Target::from_forward_auth(&forward_auth("app.example.com", uri, &[]));
            assert_eq!(result, Err(*expected), "uri {uri:?}");
        }
    }

    #[test]
    fn raw_bytes_in_uri() {
        let mut map = forward_auth("app.example.com", "/", &[]);
        let uri =
            HeaderValue::from_bytes("/caf\u{e9}?q=\u{e9}".as_bytes()).expect("obs-text is allowed");
        map.insert(X_FORWARDED_URI.name.clone(), uri);
        let target = Target::from_forward_auth(&map).expect("non-ASCII path is encoded");
        assert_eq!(target.path_raw(), "/caf%C3%A9");
        assert_eq!(target.query_raw(), Some("q=%C3%A9"));
        assert_eq!(target.canonical_path(), "/caf\u{e9}");
        assert_eq!(
            target.rd_url(),
            "https://app.example.com/caf%C3%A9?q=%C3%A9"
        );
        assert_eq!(
            target.query_pairs(),
            &[("q".to_owned(), "\u{e9}".to_owned())]
        );

        let mut map = forward_auth("app.example.com", "/", &[]);
        map.insert(
            X_FORWARDED_HOST.name.clone(),
            HeaderValue::from_bytes("b\u{fc}cher.example.com".as_bytes()).unwrap(),
        );
        assert_eq!(
            Target::from_forward_auth(&map),
            Err(BadRequest::InvalidHost(HostError::NonAscii))
        );

        let mut map = forward_auth("app.example.com", "/", &[]);
        map.insert(
            X_FORWARDED_HOST.name.clone(),
            HeaderValue::from_bytes(b"app\xffexample.com").unwrap(),
        );
        assert_eq!(
            Target::from_forward_auth(&map),
            Err(BadRequest::InvalidHost(HostError::NonAscii))
        );

        // The HTTP layer rejects DEL and NUL in header values, and the URL check rejects them too.
        assert_eq!(
            check_url_bytes(b"/a\x7f"),
            Err(BadRequest::InvalidCharacter)
        );
        assert_eq!(
            check_url_bytes(b"/a\x00"),
            Err(BadRequest::InvalidCharacter)
        );
        assert_eq!(
            check_url_bytes(b"/a\r\n"),
            Err(BadRequest::InvalidCharacter)
        );
        assert_eq!(check_url_bytes(b"/a\xff"), Ok(()));
    }

    #[test]
    fn query_and_resource_string() {
        let target = Target::from_forward_auth(&forward_auth(
            "app.example.com",
            "/x/../api?a=1&b=two+words&c=%2Fslash&a=2&flag&d=%zz",
            &[],
        ))
        .expect("valid target");
        assert_eq!(
            target.query_raw(),
            Some("a=1&b=two+words&c=%2Fslash&a=2&flag&d=%zz")
        );
        assert_eq!(
            target.resource_string(),
            "/api?a=1&b=two+words&c=%2Fslash&a=2&flag&d=%zz"
        );
        let expected: Vec<(String, String)> = [
            ("a", "1"),
            ("b", "two words"),
            ("c", "/slash"),
            ("a", "2"),
            ("flag", ""),
            ("d", "%zz"),
        ]
        .iter()
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect();
        assert_eq!(target.query_pairs(), expected.as_slice());

        let no_query =
            Target::from_forward_auth(&forward_auth("app.example.com", "/admin", &[])).unwrap();
        assert_eq!(no_query.query_raw(), None);
        assert!(no_query.query_pairs().is_empty());
        assert_eq!(no_query.resource_string(), "/admin");

        let empty_query =
            Target::from_forward_auth(&forward_auth("app.example.com", "/admin?", &[])).unwrap();
        assert_eq!(empty_query.query_raw(), Some(""));
        assert_eq!(empty_query.resource_string(), "/admin");
        assert_eq!(empty_query.rd_url(), "https://app.example.com/admin?");
    }

    #[test]
    fn target_accessors() {
        let target =
            Target::from_forward_auth(&forward_auth("ADMIN.Example.COM.:8443", "/a/./b?x=1", &[]))
                .unwrap();
        assert_eq!(target.method(), "GET");
        assert_eq!(target.scheme(), Scheme::Https);
        assert_eq!(target.host().as_str(), "admin.example.com");
        assert_eq!(target.port(), Some(8443));
        assert_eq!(target.path_raw(), "/a/./b");
        assert_eq!(target.canonical_path(), "/a/b");
        assert_eq!(target.rd_url(), "https://admin.example.com:8443/a/./b?x=1");
        assert!(target.method_overrides().is_empty());
        assert_eq!(Scheme::Wss.to_string(), "wss");
        assert_eq!(Scheme::Http.default_port(), 80);
    }

    #[test]
    fn method_override_table() {
        /// Extra request headers, `X-Forwarded-URI` and the expected overrides.
        type Row = (
            &'static [(&'static str, &'static str)],
            &'static str,
            &'static [&'static str],
        );

        let rows: &[Row] = &[
            (&[], "/", &[]),
            (&[("X-HTTP-Method-Override", "DELETE")], "/", &["DELETE"]),
            (&[("X-HTTP-Method-Override", "delete")], "/", &["DELETE"]),
            (&[("X-HTTP-Method", "put")], "/", &["PUT"]),
            (&[("X-Method-Override", "Patch")], "/", &["PATCH"]),
            (
                &[("X-HTTP-Method-Override", "DELETE, PUT")],
                "/",
                &["DELETE", "PUT"],
            ),
            (
                &[
                    ("X-HTTP-Method-Override", "DELETE"),
                    ("X-HTTP-Method-Override", "PUT"),
                ],
                "/",
                &["DELETE", "PUT"],
            ),
            (&[("X-HTTP-Method-Override", "")], "/", &[""]),
            (&[], "/items?_method=delete", &["DELETE"]),
            (&[], "/items?_method=%20put%20", &["PUT"]),
            (
                &[],
                "/items?_method=DELETE&_method=PATCH",
                &["DELETE", "PATCH"],
            ),
            (&[], "/items?_METHOD=delete", &[]),
            (&[], "/items?x_method=delete", &[]),
            (
                &[
                    ("X-HTTP-Method-Override", "PUT"),
                    ("X-HTTP-Method", "PATCH"),
                    ("X-Method-Override", "DELETE"),
                ],
                "/items?_method=POST",
                &["PUT", "PATCH", "DELETE", "POST"],
            ),
        ];
        for (extra, uri, expected) in rows {
            let target =
                Target::from_forward_auth(&forward_auth("app.example.com", uri, extra)).unwrap();
            assert_eq!(
                target.method_overrides(),
                *expected,
                "extra {extra:?} uri {uri:?}"
            );
        }
    }

    #[test]
    fn upgrade_headers_are_ignored() {
        let plain =
            Target::from_forward_auth(&forward_auth("secure.example.com", "/socket", &[])).unwrap();
        let upgrade = Target::from_forward_auth(&forward_auth(
            "secure.example.com",
            "/socket",
            &[
                ("Connection", "Upgrade"),
                ("Upgrade", "websocket"),
                ("Sec-WebSocket-Version", "13"),
                ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
                ("Sec-WebSocket-Protocol", "chat, superchat"),
                ("Protocol", "websocket"),
                ("Transfer-Encoding", "chunked"),
                ("Keep-Alive", "timeout=5"),
                ("TE", "trailers"),
            ],
        ))
        .unwrap();
        assert_eq!(upgrade, plain);
    }

    #[test]
    fn auth_request_table() {
        let rows: &[(&str, Result<&str, BadRequest>)] = &[
            (
                "https://app.example.com/dashboard",
                Ok("https://app.example.com/dashboard"),
            ),
            (
                "https://ADMIN.example.com/",
                Ok("https://admin.example.com/"),
            ),
            (
                "HTTPS://admin.example.com./",
                Ok("https://admin.example.com/"),
            ),
            (
                "https://admin.example.com.:443/x?y=1",
                Ok("https://admin.example.com/x?y=1"),
            ),
            (
                "https://admin.example.com:8443/",
                Ok("https://admin.example.com:8443/"),
            ),
            ("https://app.example.com", Ok("https://app.example.com/")),
            (
                "https://app.example.com?x=1",
                Ok("https://app.example.com/?x=1"),
            ),
            (
                "https://app.example.com/a,b",
                Ok("https://app.example.com/a,b"),
            ),
            (
                "https://[2001:db8::1]:8443/",
                Ok("https://[2001:db8::1]:8443/"),
            ),
            (
                "wss://app.example.com/socket",
                Ok("wss://app.example.com/socket"),
            ),
            ("http://localhost:9091/", Ok("http://localhost:9091/")),
            (
                "https://app.example.com/%zz/../admin",
                Err(BadRequest::InvalidPercentEncoding),
            ),
            (
                "https://app.example.com:99999/",
                Err(BadRequest::InvalidHost(HostError::InvalidPort)),
            ),
            (
                "https://app.example.com/a b",
                Err(BadRequest::InvalidCharacter),
            ),
            ("://app.example.com/", Err(BadRequest::NotAbsoluteUrl)),
            ("", Err(BadRequest::NotAbsoluteUrl)),
            ("/dashboard", Err(BadRequest::NotAbsoluteUrl)),
            ("app.example.com/", Err(BadRequest::NotAbsoluteUrl)),
            ("https:app.example.com/", Err(BadRequest::NotAbsoluteUrl)),
            ("https:/app.example.com/", Err(BadRequest::NotAbsoluteUrl)),
            ("1https://app.example.com/", Err(BadRequest::NotAbsoluteUrl)),
            (
                "/x?next=https://app.example.com/",
                Err(BadRequest::NotAbsoluteUrl),
            ),
            ("ftp://app.example.com/", Err(BadRequest::UnsupportedScheme)),
            (
                "http://app.example.com/",
                Err(BadRequest::UnsupportedScheme),
            ),
            (
                "https:///admin",
                Err(BadRequest::InvalidHost(HostError::Empty)),
            ),
            (
                "https://user@app.example.com/",
                Err(BadRequest::InvalidHost(HostError::InvalidCharacter)),
            ),
            (
                "https://evil.example.net\\@app.example.com/",
                Err(BadRequest::InvalidHost(HostError::InvalidCharacter)),
            ),
            (
                "https://2001:db8::1/",
                Err(BadRequest::InvalidHost(HostError::UnbracketedIpv6)),
            ),
            (
                "https://app.example.com../",
                Err(BadRequest::InvalidHost(HostError::EmptyLabel)),
            ),
            ("https://app.example.com/#top", Err(BadRequest::Fragment)),
            ("https://app.example.com#top", Err(BadRequest::Fragment)),
            (
                "https://app.example.com/\tx",
                Err(BadRequest::InvalidCharacter),
            ),
            (
                "https://app.example.com/a, https://b.example.com/",
                Err(BadRequest::InvalidCharacter),
            ),
        ];
        for (url, expected) in rows {
            let map = headers(&[("X-Original-Method", "GET"), ("X-Original-URL", url)]);
            let actual = rd(Target::from_auth_request(&map));
            assert_eq!(actual, expected.map(str::to_owned), "url {url:?}");
        }
    }

    #[test]
    fn auth_request_needs_its_headers() {
        let forwarded = [
            ("X-Forwarded-Method", "GET"),
            ("X-Forwarded-Proto", "https"),
            ("X-Forwarded-Host", "app.example.com"),
            ("X-Forwarded-URI", "/"),
        ];
        let mut pairs = forwarded.to_vec();
        pairs.push(("X-Original-Method", "GET"));
        assert_eq!(
            Target::from_auth_request(&headers(&pairs)),
            Err(BadRequest::MissingHeader("X-Original-URL"))
        );

        let mut pairs = forwarded.to_vec();
        pairs.push(("X-Original-URL", "https://app.example.com/"));
        assert_eq!(
            Target::from_auth_request(&headers(&pairs)),
            Err(BadRequest::MissingHeader("X-Original-Method"))
        );

        let map = headers(&[
            ("X-Original-Method", "post"),
            ("X-Original-URL", "https://app.example.com/"),
        ]);
        assert_eq!(
            Target::from_auth_request(&map),
            Err(BadRequest::InvalidMethod)
        );

        let map = headers(&[
            ("X-Original-Method", "OPTIONS"),
            ("X-Original-URL", "https://api.example.com/v1/items"),
        ]);
        assert_eq!(Target::from_auth_request(&map).unwrap().method(), "OPTIONS");

        let map = headers(&[
            ("X-Original-Method", "GET"),
            ("X-Original-URL", "https://app.example.com/"),
            ("X-Original-URL", "https://evil.example.net/"),
        ]);
        assert_eq!(
            Target::from_auth_request(&map),
            Err(BadRequest::RepeatedHeader("X-Original-URL"))
        );
    }

    #[test]
    fn ext_authz_table() {
        type Row = (
            &'static str,
            &'static str,
            Option<&'static str>,
            &'static [(&'static str, &'static str)],
            Result<&'static str, BadRequest>,
        );
        let base: &[(&str, &str)] = &[("Host", "app.example.com"), ("X-Forwarded-Proto", "https")];
        let rows: &[Row] = &[
            (
                "GET",
                "/app/x",
                Some("q=1"),
                base,
                Ok("https://app.example.com/app/x?q=1"),
            ),
            (
                "GET",
                "//app/x",
                None,
                base,
                Ok("https://app.example.com/app/x"),
            ),
            (
                "GET",
                "///app/x",
                None,
                base,
                Ok("https://app.example.com/app/x"),
            ),
            ("GET", "", None, base, Ok("https://app.example.com/")),
            ("GET", "/", None, base, Ok("https://app.example.com/")),
            ("GET", "/", Some(""), base, Ok("https://app.example.com/?")),
            (
                "POST",
                "/form",
                None,
                base,
                Ok("https://app.example.com/form"),
            ),
            (
                "GET",
                "/",
                None,
                &[
                    ("Host", "APP.example.com:8443"),
                    ("X-Forwarded-Proto", "https"),
                ],
                Ok("https://app.example.com:8443/"),
            ),
            ("GET", "app", None, base, Err(BadRequest::InvalidSubPath)),
            ("GET", "/a?b", None, base, Err(BadRequest::InvalidSubPath)),
            (
                "GET",
                "/%zz",
                None,
                base,
                Err(BadRequest::InvalidPercentEncoding),
            ),
            ("GET", "/a b", None, base, Err(BadRequest::InvalidCharacter)),
            (
                "GET",
                "/",
                Some("a b"),
                base,
                Err(BadRequest::InvalidCharacter),
            ),
            ("GET", "/", Some("a#b"), base, Err(BadRequest::Fragment)),
            ("get", "/", None, base, Err(BadRequest::InvalidMethod)),
            ("", "/", None, base, Err(BadRequest::InvalidMethod)),
            (
                "GET",
                "/",
                None,
                &[("X-Forwarded-Proto", "https")],
                Err(BadRequest::MissingHeader("Host")),
            ),
            (
                "GET",
                "/",
                None,
                &[("Host", "app.example.com")],
                Err(BadRequest::MissingHeader("X-Forwarded-Proto")),
            ),
            (
                "GET",
                "/",
                None,
                &[
                    ("Host", "app.example.com"),
                    ("Host", "evil.example.net"),
                    ("X-Forwarded-Proto", "https"),
                ],
                Err(BadRequest::RepeatedHeader("Host")),
            ),
            (
                "GET",
                "/",
                None,
                &[
                    ("Host", "app.example.com, evil.example.net"),
                    ("X-Forwarded-Proto", "https"),
                ],
                Err(BadRequest::RepeatedHeader("Host")),
            ),
            (
                "GET",
                "/",
                None,
                &[("Host", "app.example.com"), ("X-Forwarded-Proto", "http")],
                Err(BadRequest::UnsupportedScheme),
            ),
        ];
        for (method, sub_path, query, pairs, expected) in rows {
            let actual = rd(Target::from_ext_authz(
                method,
                sub_path,
                *query,
                &headers(pairs),
            ));
            assert_eq!(
                actual,
                expected.map(str::to_owned),
                "{method} {sub_path:?} {query:?} {pairs:?}"
            );
        }

        let target =
            Target::from_ext_authz("DELETE", "/items", Some("_method=put"), &headers(base))
                .unwrap();
        assert_eq!(target.method(), "DELETE");
        assert_eq!(target.method_overrides(), &["PUT".to_owned()]);
    }

    #[test]
    fn legacy_table() {
        type Row = (
            &'static str,
            &'static [(&'static str, &'static str)],
            Result<(&'static str, &'static str), BadRequest>,
        );
        let rows: &[Row] = &[
            (
                "GET",
                &[
                    ("X-Original-Method", "POST"),
                    ("X-Original-URL", "https://app.example.com/a"),
                ],
                Ok(("POST", "https://app.example.com/a")),
            ),
            (
                "GET",
                &[
                    ("X-Forwarded-Method", "PUT"),
                    ("X-Original-URL", "https://app.example.com/a"),
                ],
                Ok(("PUT", "https://app.example.com/a")),
            ),
            (
                "GET",
                &[
                    ("X-Original-Method", "POST"),
                    ("X-Forwarded-Method", "GET"),
                    ("X-Original-URL", "https://app.example.com/"),
                ],
                Ok(("POST", "https://app.example.com/")),
            ),
            (
                "GET",
                &[("X-Original-URL", "https://app.example.com/a")],
                Ok(("GET", "https://app.example.com/a")),
            ),
            (
                "HEAD",
                &[("X-Original-URL", "https://app.example.com/a")],
                Ok(("HEAD", "https://app.example.com/a")),
            ),
            (
                "GET",
                &[
                    ("X-Forwarded-Method", "GET"),
                    ("X-Forwarded-Proto", "https"),
                    ("X-Forwarded-Host", "app.example.com"),
                    ("X-Forwarded-URI", "/x"),
                ],
                Ok(("GET", "https://app.example.com/x")),
            ),
            (
                "GET",
                &[
                    ("X-Forwarded-Proto", "https"),
                    ("X-Forwarded-Host", "app.example.com"),
                ],
                Ok(("GET", "https://app.example.com/")),
            ),
            (
                "GET",
                &[
                    ("X-Original-URL", "https://app.example.com/original"),
                    ("X-Forwarded-Proto", "https"),
                    ("X-Forwarded-Host", "other.example.com"),
                ],
                Ok(("GET", "https://app.example.com/original")),
            ),
            (
                "get",
                &[("X-Original-URL", "https://app.example.com/")],
                Err(BadRequest::InvalidMethod),
            ),
            (
                "GET",
                &[
                    ("X-Original-Method", ""),
                    ("X-Original-URL", "https://app.example.com/"),
                ],
                Err(BadRequest::InvalidMethod),
            ),
            (
                "GET",
                &[
                    ("X-Forwarded-Method", "post"),
                    ("X-Original-URL", "https://app.example.com/"),
                ],
                Err(BadRequest::InvalidMethod),
            ),
            (
                "GET",
                &[
                    ("X-Original-URL", "https://app.example.com/%zz/../admin"),
                    ("X-Forwarded-Proto", "https"),
                    ("X-Forwarded-Host", "app.example.com"),
                ],
                Err(BadRequest::InvalidPercentEncoding),
            ),
            (
                "GET",
                &[("X-Original-URL", "")],
                Err(BadRequest::NotAbsoluteUrl),
            ),
            (
                "GET",
                &[("X-Original-URL", "https://app.example.com:99999/")],
                Err(BadRequest::InvalidHost(HostError::InvalidPort)),
            ),
            (
                "GET",
                &[("Host", "app.example.com"), ("X-Forwarded-Proto", "https")],
                Err(BadRequest::MissingHeader("X-Forwarded-Host")),
            ),
            (
                "GET",
                &[("X-Forwarded-Host", "app.example.com")],
                Err(BadRequest::MissingHeader("X-Forwarded-Proto")),
            ),
            (
                "GET",
                &[],
                Err(BadRequest::MissingHeader("X-Forwarded-Proto")),
            ),
            (
                "GET",
                &[
                    ("X-Original-URL", "https://app.example.com/"),
                    ("X-Forwarded-Host", "a.example.com, b.example.com"),
                ],
                Err(BadRequest::RepeatedHeader("X-Forwarded-Host")),
            ),
        ];
        for (own_method, pairs, expected) in rows {
            let actual = Target::from_legacy(own_method, &headers(pairs));
            let actual = actual.map(|target| (target.method().to_owned(), target.rd_url()));
            let expected = expected.map(|(method, url)| (method.to_owned(), url.to_owned()));
            assert_eq!(
                actual, expected,
                "own method {own_method} headers {pairs:?}"
            );
        }
    }

    #[test]
    fn portal_override_header_table() {
        assert_eq!(portal_override_header(&headers(&[])), Ok(None));
        assert_eq!(
            portal_override_header(&headers(&[("X-Authelia-URL", "https://auth.example.com/")])),
            Ok(Some("https://auth.example.com/"))
        );
        assert_eq!(
            portal_override_header(&headers(&[
                ("X-Authelia-URL", "https://auth.example.com/"),
                ("X-Authelia-URL", "https://auth.example.com/"),
            ])),
            Err(BadRequest::RepeatedHeader("X-Authelia-URL"))
        );
        let mut map = HeaderMap::new();
        map.insert(
            X_AUTHELIA_URL.name.clone(),
            HeaderValue::from_bytes(b"https://a\xff.example.com/").unwrap(),
        );
        assert_eq!(
            portal_override_header(&map),
            Err(BadRequest::PortalOverrideNotHttps)
        );
    }

    #[test]
    fn messages_do_not_echo_values() {
        let secret = "token-9f86d081884c7d65";
        let inputs = [
            forward_auth(&format!("{secret}.example.com:abc"), "/", &[]),
            forward_auth("app.example.com", &format!("/%zz{secret}"), &[]),
            forward_auth("app.example.com", &format!("/{secret} x"), &[]),
            forward_auth("app.example.com", "/", &[("X-Forwarded-Method", secret)]),
        ];
        for map in inputs {
            let error = Target::from_forward_auth(&map).expect_err("input is invalid");
            assert!(!error.to_string().contains(secret), "message {error}");
        }
    }

    /// A small xorshift generator, so that the fuzz test needs no extra crate and is repeatable.
    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        /// Returns a short byte string biased towards the characters that parsers treat specially.
        fn bytes(&mut self) -> Vec<u8> {
            const SPECIAL: &[u8] = b"/\\.%:@[]?#;,*_-aZ09 \t\x00\x7f\xff\xc3\xa9fF2eE";
            let length = (self.next() % 40) as usize;
            (0..length)
                .map(|_| {
                    let roll = self.next();
                    if roll.is_multiple_of(3) {
                        (roll >> 8) as u8
                    } else {
                        SPECIAL[(roll >> 8) as usize % SPECIAL.len()]
                    }
                })
                .collect()
        }
    }

    #[test]
    fn parsers_survive_random_input() {
        let mut random = XorShift(0x9e37_79b9_7f4a_7c15);
        for _ in 0..5_000 {
            let bytes = random.bytes();
            let text = String::from_utf8_lossy(&bytes);

            let _ = crate::domain::canonicalize_authority(&text);
            let _ = crate::domain::canonicalize_host(&text);
            let _ = crate::domain::WildcardDomain::parse(&text);
            if bytes.first() == Some(&b'/') && check_path(&bytes).is_ok() {
                let _ = canonicalize_path(&encode_non_ascii(&bytes));
            }
            let _ = parse_absolute_url(&bytes);

            let Ok(value) = HeaderValue::from_bytes(&bytes) else {
                continue;
            };
            let slot = (random.next() % 6) as usize;
            let mut map = forward_auth("app.example.com", "/", &[]);
            let names = [
                "x-forwarded-method",
                "x-forwarded-proto",
                "x-forwarded-host",
                "x-forwarded-uri",
                "x-forwarded-port",
                "x-original-url",
            ];
            map.insert(HeaderName::from_static(names[slot]), value.clone());
            if let Ok(target) = Target::from_forward_auth(&map) {
                let _ = target.rd_url();
                let _ = target.resource_string();
            }
            let _ = Target::from_legacy("GET", &map);
            let mut map = headers(&[("X-Original-Method", "GET")]);
            map.insert(HeaderName::from_static("x-original-url"), value.clone());
            let _ = Target::from_auth_request(&map);
            let _ = Target::from_ext_authz(
                "GET",
                &text,
                Some(&text),
                &headers(&[("Host", "app.example.com"), ("X-Forwarded-Proto", "https")]),
            );
        }
    }

    #[test]
    fn accepted_targets_are_canonical() {
        // Every accepted target's rd URL, fed back in, yields the same target: canonical form is
        // applied once and is stable.
        let mut random = XorShift(0x2545_f491_4f6c_dd1d);
        let mut accepted = 0;
        for _ in 0..5_000 {
            let bytes = random.bytes();
            let mut uri = b"/".to_vec();
            uri.extend_from_slice(&bytes);
            let Ok(value) = HeaderValue::from_bytes(&uri) else {
                continue;
            };
            let mut map = forward_auth("App.Example.com.:443", "/", &[]);
            map.insert(X_FORWARDED_URI.name.clone(), value);
            let Ok(target) = Target::from_forward_auth(&map) else {
                continue;
            };
            accepted += 1;
            let again = headers(&[
                ("X-Original-Method", "GET"),
                ("X-Original-URL", &target.rd_url()),
            ]);
            let again = Target::from_auth_request(&again).expect("rd URL is accepted");
            assert_eq!(again, target);
            assert!(target.canonical_path().starts_with('/'));
            assert!(!target.canonical_path().contains("//"));
        }
        assert!(accepted > 100, "only {accepted} random paths were accepted");
    }
}
