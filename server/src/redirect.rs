//! Redirect safety: the one check that every redirect target taken from a request passes.
//!
//! A target is parsed with the WHATWG URL rules that browsers use (the `url` crate implements
//! them), so that the check and the browser agree on the host. Under those rules `\` counts as `/`
//! in `https:` URLs, tabs and newlines are removed, and `https:/\host` or `https:host` name
//! `host`. Only the parsed scheme, userinfo and host decide, because checks on the raw string can
//! always be beaten.

use std::net::IpAddr;

use url::{Host, Url};

use crate::domain::{canonicalize_host, is_same_or_subdomain, CanonicalHost};
use crate::forward_auth::target::BadRequest;

/// Returns the parsed URL when `candidate` is a safe redirect target, and `None` otherwise.
///
/// A safe target is an absolute URL with scheme `https` or `wss` (`http` only for `localhost` and
/// names under `.localhost`), no userinfo, and a host that equals or is under one of
/// `cookie_domains` on a label boundary. Relative values such as `/dashboard` are never safe,
/// because `/\host` and `//host` lead browsers to another site.
///
/// Redirect with the returned URL's serialization, never with `candidate` itself: the
/// serialization is the form whose host was checked.
pub fn is_safe_redirect(candidate: &str, cookie_domains: &[CanonicalHost]) -> Option<Url> {
    let url = Url::parse(candidate).ok()?;
    let host = canonical_url_host(&url)?;
    if !scheme_allowed(url.scheme(), &host, &["https", "wss"]) || has_userinfo(&url) {
        return None;
    }

    let under_cookie_domain = cookie_domains
        .iter()
        .any(|domain| is_same_or_subdomain(&host, domain));
    under_cookie_domain.then_some(url)
}

/// Checks a portal URL override (`authelia_url` query argument, `X-Authelia-URL`, or `rd` on the
/// legacy endpoint) against the matched cookie domain.
///
/// The override must be an absolute `https` URL (`http` only for a localhost host, as for the
/// configured portal URL), without userinfo, whose host equals `cookie_domain` or is under it.
/// A proxy that forwards client headers lets the client choose `X-Authelia-URL`, so this check
/// is what keeps the portal redirect on the protected domain.
pub fn check_portal_override(
    candidate: &str,
    cookie_domain: &CanonicalHost,
) -> Result<Url, BadRequest> {
    // The URL parser would strip or encode whitespace and control characters, which hides a
    // joined list such as `https://a/, https://b/`: such a value is refused outright.
    if candidate
        .bytes()
        .any(|byte| byte.is_ascii_whitespace() || byte.is_ascii_control())
    {
        return Err(BadRequest::PortalOverrideNotHttps);
    }
    let url = Url::parse(candidate).map_err(|_| BadRequest::PortalOverrideNotHttps)?;
    if url.fragment().is_some() {
        return Err(BadRequest::PortalOverrideNotHttps);
    }
    let host = canonical_url_host(&url).ok_or(BadRequest::PortalOverrideNotHttps)?;
    if !scheme_allowed(url.scheme(), &host, &["https"]) {
        return Err(BadRequest::PortalOverrideNotHttps);
    }
    if has_userinfo(&url) {
        return Err(BadRequest::PortalOverrideUserinfo);
    }
    if !is_same_or_subdomain(&host, cookie_domain) {
        return Err(BadRequest::PortalOverrideOutsideDomain);
    }
    Ok(url)
}

/// Returns the URL's host in canonical form, or `None` when it has none or it is not valid.
/// The `url` crate has already lower-cased the name and converted it to punycode.
fn canonical_url_host(url: &Url) -> Option<CanonicalHost> {
    match url.host()? {
        Host::Domain(name) => canonicalize_host(name).ok(),
        Host::Ipv4(address) => Some(CanonicalHost::from(IpAddr::V4(address))),
        Host::Ipv6(address) => Some(CanonicalHost::from(IpAddr::V6(address))),
    }
}

/// Checks that the scheme is one of `secure`, or `http` with a localhost host, which browsers treat
/// as a secure context.
fn scheme_allowed(scheme: &str, host: &CanonicalHost, secure: &[&str]) -> bool {
    secure.contains(&scheme) || (scheme == "http" && host.is_localhost())
}

fn has_userinfo(url: &Url) -> bool {
    !url.username().is_empty() || url.password().is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn domains(names: &[&str]) -> Vec<CanonicalHost> {
        names
            .iter()
            .map(|name| canonicalize_host(name).expect("test domain is valid"))
            .collect()
    }

    fn safe(candidate: &str, cookie_domains: &[CanonicalHost]) -> Option<String> {
        is_safe_redirect(candidate, cookie_domains).map(String::from)
    }

    #[test]
    fn safe_redirect_accepts() {
        let example = domains(&["example.com"]);
        let rows = [
            (
                "https://app.example.com/dashboard",
                "https://app.example.com/dashboard",
            ),
            ("https://example.com/", "https://example.com/"),
            (
                "https://a.b.example.com/x?y=1#z",
                "https://a.b.example.com/x?y=1#z",
            ),
            (
                "https://app.example.com:8443/",
                "https://app.example.com:8443/",
            ),
            (
                "wss://app.example.com/socket",
                "wss://app.example.com/socket",
            ),
            ("HTTPS://APP.EXAMPLE.COM./x", "https://app.example.com./x"),
            (
                "https://app.example.com\\dashboard",
                "https://app.example.com/dashboard",
            ),
            ("https:app.example.com/x", "https://app.example.com/x"),
            ("https:/\\app.example.com/x", "https://app.example.com/x"),
            ("https://app.exa\tmple.com/", "https://app.example.com/"),
            (" https://app.example.com/ ", "https://app.example.com/"),
            ("https://%61pp.example.com/", "https://app.example.com/"),
            (
                "https://app\u{3002}example.com/",
                "https://app.example.com/",
            ),
            ("https://@app.example.com/", "https://app.example.com/"),
            ("https:///app.example.com", "https://app.example.com/"),
            (
                "https://app.example.com/@evil.example.net",
                "https://app.example.com/@evil.example.net",
            ),
            (
                "https://app.example.com//evil.example.net/",
                "https://app.example.com//evil.example.net/",
            ),
        ];
        for (candidate, expected) in rows {
            assert_eq!(
                safe(candidate, &example),
                Some(expected.to_owned()),
                "candidate {candidate:?}"
            );
        }
    }

    #[test]
    fn safe_redirect_rejects() {
        let example = domains(&["example.com"]);
        let rows = [
            // Relative values are never followed.
            "/dashboard",
            "/\\evil.example.net/",
            "\\\\evil.example.net/",
            "//evil.example.net/",
            "\n//evil.example.net/",
            "dashboard",
            "",
            // Parser differences: the WHATWG host is evil.example.net in each.
            "https:/\\evil.example.net/",
            "https:\\\\evil.example.net/",
            "https:evil.example.net/",
            "https://evil.example.net\\@app.example.com/",
            "https://evil.example.net#@app.example.com/",
            "https://evil.example.net?@app.example.com/",
            "https://ev\nil.example.net/",
            "https://evil.example.net\t/",
            "HTTPS://EVIL.EXAMPLE.NET/",
            // Userinfo, even when the host itself is allowed.
            "https://app.example.com@evil.example.net/",
            "https://app.example.com%2F@evil.example.net/",
            "https://evil.example.net\t@app.example.com/",
            "https://user@app.example.com/",
            "https://user:pass@app.example.com/",
            "https://:pass@app.example.com/",
            // Schemes.
            "http://app.example.com/",
            "ws://app.example.com/",
            "ftp://app.example.com/",
            "javascript:alert(1)",
            "java\tscript:alert(1)",
            "JavaScript://app.example.com/%0Aalert(1)",
            "data:text/html,<script>alert(1)</script>",
            "file:///etc/passwd",
            // Hosts that are neither the cookie domain nor under it on a label boundary.
            "https://evil.example.net/",
            "https://app.example.community/",
            "https://evilexample.com/",
            "https://example.com.evil.net/",
            "https://com/",
            "https://app.example.com../",
            "https://0x7f000001/",
            "https://[::1]/",
            "https://",
        ];
        for candidate in rows {
            assert_eq!(safe(candidate, &example), None, "candidate {candidate:?}");
        }
    }

    #[test]
    fn safe_redirect_domain_lists() {
        let localhost = domains(&["gatehouse.localhost"]);
        assert!(safe("http://gatehouse.localhost/", &localhost).is_some());
        assert!(safe("http://app.gatehouse.localhost:8080/x", &localhost).is_some());
        assert!(safe("https://gatehouse.localhost/", &localhost).is_some());
        assert!(safe("http://localhost/", &localhost).is_none());
        assert!(safe("http://evil.localhost/", &localhost).is_none());

        let addresses = domains(&["192.0.2.10", "[2001:db8::10]"]);
        assert!(safe("https://192.0.2.10/", &addresses).is_some());
        assert!(safe("https://[2001:DB8::10]/", &addresses).is_some());
        assert!(safe("https://3221225994/", &addresses).is_some());
        assert!(safe("http://192.0.2.10/", &addresses).is_none());
        assert!(safe("https://192.0.2.11/", &addresses).is_none());

        let two = domains(&["example.com", "example.org"]);
        assert!(safe("https://app.example.org/", &two).is_some());
        assert!(safe("https://app.example.com/", &two).is_some());
        assert!(safe("https://app.example.net/", &two).is_none());

        assert!(safe("https://app.example.com/", &[]).is_none());
    }

    #[test]
    fn portal_override_table() {
        let example = canonicalize_host("example.com").unwrap();
        let rows: &[(&str, Result<&str, BadRequest>)] = &[
            ("https://auth.example.com/", Ok("https://auth.example.com/")),
            ("https://auth.example.com", Ok("https://auth.example.com/")),
            ("https://example.com/auth/", Ok("https://example.com/auth/")),
            (
                "https://AUTH.example.com./?lang=en",
                Ok("https://auth.example.com./?lang=en"),
            ),
            (
                "http://auth.example.com/",
                Err(BadRequest::PortalOverrideNotHttps),
            ),
            (
                "wss://auth.example.com/",
                Err(BadRequest::PortalOverrideNotHttps),
            ),
            (
                "javascript:alert(1)",
                Err(BadRequest::PortalOverrideNotHttps),
            ),
            ("/auth", Err(BadRequest::PortalOverrideNotHttps)),
            (
                "//auth.example.com/",
                Err(BadRequest::PortalOverrideNotHttps),
            ),
            ("", Err(BadRequest::PortalOverrideNotHttps)),
            (
                "https://app.example.com../",
                Err(BadRequest::PortalOverrideNotHttps),
            ),
            (
                "https://user@auth.example.com/",
                Err(BadRequest::PortalOverrideUserinfo),
            ),
            (
                "https://auth.example.com@evil.example.net/",
                Err(BadRequest::PortalOverrideUserinfo),
            ),
            (
                "https://evil.example.net/",
                Err(BadRequest::PortalOverrideOutsideDomain),
            ),
            (
                "https://auth.example.com.evil.net/",
                Err(BadRequest::PortalOverrideOutsideDomain),
            ),
            (
                "https://authexample.com/",
                Err(BadRequest::PortalOverrideOutsideDomain),
            ),
            (
                "https://evil.example.net\\@auth.example.com/",
                Err(BadRequest::PortalOverrideOutsideDomain),
            ),
            (
                "https://192.0.2.1/",
                Err(BadRequest::PortalOverrideOutsideDomain),
            ),
        ];
        for (candidate, expected) in rows {
            let actual = check_portal_override(candidate, &example).map(String::from);
            assert_eq!(
                actual,
                expected.map(str::to_owned),
                "candidate {candidate:?}"
            );
        }

        let localhost = canonicalize_host("gatehouse.localhost").unwrap();
        assert!(check_portal_override("http://auth.gatehouse.localhost/", &localhost).is_ok());
        assert_eq!(
            check_portal_override("http://auth.example.com/", &example),
            Err(BadRequest::PortalOverrideNotHttps)
        );
    }

    #[test]
    fn random_candidates_stay_safe() {
        let example = domains(&["example.com"]);
        let pieces = [
            "https:", "http:", "wss:", "//", "/", "\\", "@", ":", "?", "#", "%2F", "%40", "\t",
            "\n", " ", ".", "..", "app", "example", "com", "evil", "net", "[::1]", "8443", "user",
        ];
        let mut state: u64 = 0x6a09_e667_f3bc_c909;
        for _ in 0..5_000 {
            let mut candidate = String::new();
            for _ in 0..(state % 12) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                candidate.push_str(pieces[(state >> 20) as usize % pieces.len()]);
            }
            let Some(url) = is_safe_redirect(&candidate, &example) else {
                continue;
            };

            // Whatever was accepted parses back to an allowed scheme and host, with no userinfo.
            let reparsed = Url::parse(url.as_str()).expect("serialization parses");
            assert!(
                matches!(reparsed.scheme(), "https" | "wss"),
                "{candidate:?}"
            );
            assert!(!has_userinfo(&reparsed), "{candidate:?}");
            let host = canonical_url_host(&reparsed).expect("accepted URL has a host");
            assert!(is_same_or_subdomain(&host, &example[0]), "{candidate:?}");
        }
    }
}
