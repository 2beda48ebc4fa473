//! Reading the session cookie from `Cookie` request headers and writing the `Set-Cookie` values
//! that set or clear it.
//!
//! Both are written here rather than with the `cookie` crate because the rules are narrow. The
//! lookup must notice a name that appears twice and read header bytes that need not be UTF-8
//! (`cookie::Cookie::split_parse` takes a `&str`). The attributes are fixed by the cookie
//! domain's configuration.

use http::header::COOKIE;
use http::{HeaderMap, HeaderValue};

use crate::config::{CookieDomain, SameSite};

/// The result of looking up one cookie name in a request.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum CookieLookup<'a> {
    /// No cookie of that name.
    Absent,
    /// Exactly one cookie of that name, with surrounding double quotes removed.
    Single(&'a [u8]),
    /// The name appears more than once, so it is unclear which session is meant.
    Repeated,
}

/// Looks up `name` in every `Cookie` header of the request. Several `Cookie` lines are read as
/// if joined with `"; "`. Names compare case-sensitively, as RFC 6265 defines them. A pair
/// without `=` is skipped.
pub(crate) fn find_cookie<'a>(headers: &'a HeaderMap, name: &str) -> CookieLookup<'a> {
    let mut found = None;
    for line in headers.get_all(COOKIE) {
        for pair in line.as_bytes().split(|byte| *byte == b';') {
            let Some(equals) = pair.iter().position(|byte| *byte == b'=') else {
                continue;
            };
            if trim(&pair[..equals]) != name.as_bytes() {
                continue;
            }
            if found.is_some() {
                return CookieLookup::Repeated;
            }
            found = Some(unquote(trim(&pair[equals + 1..])));
        }
    }
    match found {
        Some(value) => CookieLookup::Single(value),
        None => CookieLookup::Absent,
    }
}

/// Builds the `Set-Cookie` value that stores a session id. `max_age_secs` is `Some` only for a
/// remembered session; without it the cookie ends with the browser session.
pub(crate) fn session_cookie(
    domain: &CookieDomain,
    id: &str,
    max_age_secs: Option<i64>,
) -> HeaderValue {
    let mut text = format!("{}={id}{}", domain.name, attributes(domain));
    if let Some(seconds) = max_age_secs {
        text.push_str(&format!("; Max-Age={seconds}"));
    }
    to_header_value(text)
}

/// Builds the `Set-Cookie` value that makes the browser drop the session cookie of `domain`.
pub(crate) fn clearing_cookie(domain: &CookieDomain) -> HeaderValue {
    to_header_value(format!("{}={}; Max-Age=0", domain.name, attributes(domain)))
}

/// Returns the attributes both cookies share, each preceded by `"; "`. `Secure` is left out
/// only for a localhost domain, which browsers treat as a secure context over plain HTTP.
fn attributes(domain: &CookieDomain) -> String {
    let same_site = match domain.same_site {
        SameSite::Lax => "Lax",
        SameSite::Strict => "Strict",
        SameSite::None => "None",
    };
    // NOTE: browsers reject `SameSite=None` without `Secure`, so a localhost domain configured
    // with `same_site: none` gets a cookie the browser drops.
    let secure = if domain.is_localhost() {
        ""
    } else {
        "; Secure"
    };
    format!(
        "; Domain={}; Path=/; HttpOnly{secure}; SameSite={same_site}",
        domain.domain
    )
}

fn to_header_value(text: String) -> HeaderValue {
    // Cookie names and domains are checked for visible ASCII when the configuration is loaded,
    // and session ids are base64, so the text is always a valid header value.
    HeaderValue::try_from(text).expect("cookie names and domains are visible ASCII")
}

/// Removes spaces and tabs at both ends.
fn trim(bytes: &[u8]) -> &[u8] {
    let is_blank = |byte: &u8| *byte == b' ' || *byte == b'\t';
    let start = bytes.iter().position(|byte| !is_blank(byte));
    let end = bytes.iter().rposition(|byte| !is_blank(byte));
    match (start, end) {
        (Some(start), Some(end)) => &bytes[start..=end],
        _ => &[],
    }
}

/// Removes one pair of surrounding double quotes, which RFC 6265 allows around a cookie value.
fn unquote(value: &[u8]) -> &[u8] {
    match value {
        [b'"', inner @ .., b'"'] => inner,
        _ => value,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn headers(lines: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for line in lines {
            headers.append(COOKIE, HeaderValue::from_str(line).unwrap());
        }
        headers
    }

    fn domain(name: &str, domain: &str, same_site: SameSite) -> CookieDomain {
        CookieDomain {
            domain: domain.to_owned(),
            authelia_url: None,
            default_redirection_url: None,
            name: name.to_owned(),
            same_site,
            expiration: Duration::from_secs(3600),
            inactivity: Duration::from_secs(300),
            remember_me: Some(Duration::from_secs(2_592_000)),
        }
    }

    #[test]
    fn lookup_reads_one_line() {
        let request = headers(&["theme=dark; gatehouse_session=abc; lang=en"]);
        assert_eq!(
            find_cookie(&request, "gatehouse_session"),
            CookieLookup::Single(b"abc")
        );
    }

    #[test]
    fn lookup_reads_joined_lines() {
        let request = headers(&["theme=dark", "gatehouse_session=abc", "lang=en"]);
        assert_eq!(
            find_cookie(&request, "gatehouse_session"),
            CookieLookup::Single(b"abc")
        );
        assert_eq!(find_cookie(&request, "lang"), CookieLookup::Single(b"en"));
    }

    #[test]
    fn lookup_without_the_name_is_absent() {
        assert_eq!(
            find_cookie(&HeaderMap::new(), "gatehouse_session"),
            CookieLookup::Absent
        );
        let request = headers(&["theme=dark; other_session=abc"]);
        assert_eq!(
            find_cookie(&request, "gatehouse_session"),
            CookieLookup::Absent
        );
    }

    #[test]
    fn lookup_compares_names_exactly() {
        let request = headers(&["Gatehouse_Session=abc; gatehouse_session_old=def"]);
        assert_eq!(
            find_cookie(&request, "gatehouse_session"),
            CookieLookup::Absent
        );
    }

    #[test]
    fn lookup_trims_blanks() {
        let request = headers(&[" theme=dark ;\tgatehouse_session = abc\t; lang=en"]);
        assert_eq!(
            find_cookie(&request, "gatehouse_session"),
            CookieLookup::Single(b"abc")
        );
    }

    #[test]
    fn lookup_removes_quotes() {
        let request = headers(&["gatehouse_session=\"abc\""]);
        assert_eq!(
            find_cookie(&request, "gatehouse_session"),
            CookieLookup::Single(b"abc")
        );
        let lone_quote = headers(&["gatehouse_session=\"abc"]);
        assert_eq!(
            find_cookie(&lone_quote, "gatehouse_session"),
            CookieLookup::Single(b"\"abc")
        );
    }

    #[test]
    fn lookup_keeps_equals_signs_in_the_value() {
        let request = headers(&["gatehouse_session=a=b"]);
        assert_eq!(
            find_cookie(&request, "gatehouse_session"),
            CookieLookup::Single(b"a=b")
        );
    }

    #[test]
    fn lookup_skips_pairs_without_equals() {
        let request = headers(&["gatehouse_session; ; gatehouse_session=abc;"]);
        assert_eq!(
            find_cookie(&request, "gatehouse_session"),
            CookieLookup::Single(b"abc")
        );
    }

    #[test]
    fn lookup_reports_a_repeated_name() {
        let same_line = headers(&["gatehouse_session=abc; gatehouse_session=def"]);
        assert_eq!(
            find_cookie(&same_line, "gatehouse_session"),
            CookieLookup::Repeated
        );
        let two_lines = headers(&["gatehouse_session=abc", "lang=en; gatehouse_session=abc"]);
        assert_eq!(
            find_cookie(&two_lines, "gatehouse_session"),
            CookieLookup::Repeated,
            "a repeat with the same value is still a repeat"
        );
        let empty_repeat = headers(&["gatehouse_session=abc; gatehouse_session="]);
        assert_eq!(
            find_cookie(&empty_repeat, "gatehouse_session"),
            CookieLookup::Repeated
        );
    }

    #[test]
    fn lookup_reads_non_utf8_values_as_bytes() {
        let mut request = HeaderMap::new();
        request.append(
            COOKIE,
            HeaderValue::from_bytes(b"gatehouse_session=\xc3\xa9t\xc3\xa9").unwrap(),
        );
        assert_eq!(
            find_cookie(&request, "gatehouse_session"),
            CookieLookup::Single(b"\xc3\xa9t\xc3\xa9")
        );
    }

    #[test]
    fn session_cookie_has_every_attribute() {
        let example = domain("gatehouse_session", "example.com", SameSite::Lax);
        assert_eq!(
            session_cookie(&example, "ID", None),
            "gatehouse_session=ID; Domain=example.com; Path=/; HttpOnly; Secure; SameSite=Lax"
        );
        assert_eq!(
            session_cookie(&example, "ID", Some(2_592_000)),
            "gatehouse_session=ID; Domain=example.com; Path=/; HttpOnly; Secure; SameSite=Lax; \
             Max-Age=2592000"
        );
    }

    #[test]
    fn session_cookie_follows_same_site() {
        let strict = domain("s", "example.com", SameSite::Strict);
        assert!(session_cookie(&strict, "ID", None)
            .to_str()
            .unwrap()
            .ends_with("; SameSite=Strict"));
        let none = domain("s", "example.com", SameSite::None);
        assert!(session_cookie(&none, "ID", None)
            .to_str()
            .unwrap()
            .ends_with("; Secure; SameSite=None"));
    }

    #[test]
    fn localhost_cookie_is_not_secure() {
        let local = domain("s", "gatehouse.localhost", SameSite::Lax);
        assert_eq!(
            session_cookie(&local, "ID", None),
            "s=ID; Domain=gatehouse.localhost; Path=/; HttpOnly; SameSite=Lax"
        );
    }

    #[test]
    fn clearing_cookie_expires_at_once() {
        let example = domain("gatehouse_session", "example.com", SameSite::Lax);
        assert_eq!(
            clearing_cookie(&example),
            "gatehouse_session=; Domain=example.com; Path=/; HttpOnly; Secure; SameSite=Lax; \
             Max-Age=0"
        );
    }
}
