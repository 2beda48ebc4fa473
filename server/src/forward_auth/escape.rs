//! The "unauthorized" response's pieces: the redirection URL, its HTML body and its status.
//!
//! The redirection URL is meant to match Authelia's byte for byte, because proxy snippets and
//! portal code written for Authelia parse it: values are escaped as Go's `url.QueryEscape` does
//! and parameters are sorted by key.

use std::collections::BTreeMap;

use http::{HeaderMap, HeaderName, StatusCode};
use url::Url;

use super::target::Implementation;

/// Escapes a query key or value as Go's `url.QueryEscape` does: `A`-`Z`, `a`-`z`, `0`-`9`, `-`,
/// `_`, `.` and `~` stay, a space becomes `+`, and every other byte becomes `%XX` in upper-case
/// hexadecimal.
pub fn query_escape(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    push_query_escaped(&mut escaped, value);
    escaped
}

/// Appends `value` to `output`, escaped as [`query_escape`] does.
fn push_query_escaped(output: &mut String, value: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &byte in value.as_bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                output.push(char::from(byte));
            }
            b' ' => output.push('+'),
            _ => {
                output.push('%');
                output.push(char::from(HEX[usize::from(byte >> 4)]));
                output.push(char::from(HEX[usize::from(byte & 0x0f)]));
            }
        }
    }
}

/// Escapes text for an HTML attribute or element body as Go's `html.EscapeString` does:
/// `&`, `<`, `>`, `"` and `'`.
pub fn html_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    push_html_escaped(&mut escaped, text);
    escaped
}

/// Appends `text` to `output`, escaped as [`html_escape`] does, copying the runs between the
/// escaped characters whole.
fn push_html_escaped(output: &mut String, text: &str) {
    let mut run_start = 0;
    for (index, byte) in text.bytes().enumerate() {
        let replacement = match byte {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&#34;",
            b'\'' => "&#39;",
            _ => continue,
        };
        output.push_str(&text[run_start..index]);
        output.push_str(replacement);
        run_start = index + 1;
    }
    output.push_str(&text[run_start..]);
}

/// Builds `<portal>?rd=<target>&rm=<method>`.
///
/// The portal's own query parameters are kept, `rd` (and `rm` when `method` is not empty)
/// replace any parameter of the same name, and all parameters are emitted sorted by key with
/// the values of one key in their original order. An empty `method` leaves out `rm`.
pub fn redirection_url(portal: &Url, target_rd: &str, method: &str) -> String {
    // The usual portal URL has no query or fragment, and then `rd` and `rm` are the only
    // parameters, already in key order: append them without parsing or re-serialising the URL.
    if portal.query().is_none() && portal.fragment().is_none() && !portal.path().is_empty() {
        let mut url = String::with_capacity(portal.as_str().len() + 3 * target_rd.len() + 16);
        url.push_str(portal.as_str());
        url.push_str("?rd=");
        push_query_escaped(&mut url, target_rd);
        if !method.is_empty() {
            url.push_str("&rm=");
            push_query_escaped(&mut url, method);
        }
        return url;
    }

    let mut parameters: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (key, value) in portal.query_pairs() {
        parameters
            .entry(key.into_owned())
            .or_default()
            .push(value.into_owned());
    }
    parameters.insert("rd".to_owned(), vec![target_rd.to_owned()]);
    if !method.is_empty() {
        parameters.insert("rm".to_owned(), vec![method.to_owned()]);
    }

    let mut query = String::new();
    for (key, values) in &parameters {
        for value in values {
            if !query.is_empty() {
                query.push('&');
            }
            query.push_str(&query_escape(key));
            query.push('=');
            query.push_str(&query_escape(value));
        }
    }

    let mut url = portal.clone();
    if url.path().is_empty() {
        url.set_path("/");
    }
    // The escaped query contains only characters that `set_query` leaves as they are.
    url.set_query(Some(&query));
    url.into()
}

/// Builds the HTML body of a redirect-style response: `<a href="…">302 Found</a>`, with the
/// status text matching `status`.
pub fn redirect_body(redirection_url: &str, status: StatusCode) -> String {
    let reason = status.canonical_reason().unwrap_or_default();
    let mut body = String::with_capacity(redirection_url.len() + reason.len() + 24);
    body.push_str("<a href=\"");
    push_html_escaped(&mut body, redirection_url);
    body.push_str("\">");
    body.push_str(status.as_str());
    body.push(' ');
    body.push_str(reason);
    body.push_str("</a>");
    body
}

/// Chooses the status of an "unauthorized" response that carries the redirection URL.
///
/// AuthRequest always gets 401, because NGINX cannot follow a redirect from `auth_request`.
/// Otherwise an XHR (`X-Requested-With: XMLHttpRequest`) or a client that does not take HTML gets
/// 401, and a browser gets 302 for GET, HEAD, OPTIONS or an empty method and 303 for any other
/// method. A client takes HTML when `Accept` lists `text/html` or its first entry is `*/*`, with
/// media-type parameters ignored. A missing `Accept` counts as not taking HTML.
pub fn unauthorized_status(
    headers: &HeaderMap,
    target_method: &str,
    implementation: Implementation,
) -> StatusCode {
    if implementation == Implementation::AuthRequest {
        return StatusCode::UNAUTHORIZED;
    }
    if is_xhr(headers) || !accepts_html(headers) {
        return StatusCode::UNAUTHORIZED;
    }
    match target_method {
        "GET" | "HEAD" | "OPTIONS" | "" => StatusCode::FOUND,
        _ => StatusCode::SEE_OTHER,
    }
}

static X_REQUESTED_WITH: HeaderName = HeaderName::from_static("x-requested-with");

fn is_xhr(headers: &HeaderMap) -> bool {
    headers
        .get_all(&X_REQUESTED_WITH)
        .iter()
        .flat_map(|value| value.as_bytes().split(|&byte| byte == b','))
        .any(|value| value.trim_ascii().eq_ignore_ascii_case(b"XMLHttpRequest"))
}

fn accepts_html(headers: &HeaderMap) -> bool {
    let mut media_types = headers
        .get_all(http::header::ACCEPT)
        .iter()
        .flat_map(|value| value.as_bytes().split(|&byte| byte == b','))
        .map(|entry| {
            let media_type = entry.split(|&byte| byte == b';').next().unwrap_or_default();
            media_type.trim_ascii().to_ascii_lowercase()
        })
        .peekable();

    let Some(first) = media_types.peek() else {
        return false;
    };
    if first.as_slice() == b"*/*" {
        return true;
    }
    media_types.any(|media_type| media_type == b"text/html")
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{HeaderName, HeaderValue};

    fn url(text: &str) -> Url {
        Url::parse(text).expect("test URL is valid")
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).expect("valid header name"),
                HeaderValue::from_str(value).expect("valid header value"),
            );
        }
        map
    }

    #[test]
    fn query_escape_table() {
        let rows = [
            ("", ""),
            ("AZaz09-_.~", "AZaz09-_.~"),
            ("a b", "a+b"),
            (":", "%3A"),
            ("/", "%2F"),
            ("?", "%3F"),
            ("=", "%3D"),
            ("&", "%26"),
            ("*", "%2A"),
            ("+", "%2B"),
            ("%", "%25"),
            ("#", "%23"),
            ("\\", "%5C"),
            ("'\"<>", "%27%22%3C%3E"),
            ("!$(),;@[]", "%21%24%28%29%2C%3B%40%5B%5D"),
            ("\u{0}\t\n\u{7f}", "%00%09%0A%7F"),
            ("\u{e9}", "%C3%A9"),
            ("\u{1f600}", "%F0%9F%98%80"),
            (
                "https://app.example.com/dashboard?tab=1",
                "https%3A%2F%2Fapp.example.com%2Fdashboard%3Ftab%3D1",
            ),
        ];
        for (input, expected) in rows {
            assert_eq!(query_escape(input), expected, "input {input:?}");
        }
    }

    #[test]
    fn html_escape_table() {
        let rows = [
            ("plain", "plain"),
            ("a&b", "a&amp;b"),
            ("<script>", "&lt;script&gt;"),
            ("\"x\"", "&#34;x&#34;"),
            ("'x'", "&#39;x&#39;"),
            ("&amp;", "&amp;amp;"),
            ("\u{e9}", "\u{e9}"),
        ];
        for (input, expected) in rows {
            assert_eq!(html_escape(input), expected, "input {input:?}");
        }
    }

    #[test]
    fn redirection_url_table() {
        let rows = [
            (
                "https://auth.example.com",
                "https://app.example.com/dashboard?tab=1",
                "GET",
                "https://auth.example.com/?rd=https%3A%2F%2Fapp.example.com%2Fdashboard%3Ftab%3D1&rm=GET",
            ),
            (
                "https://auth.example.com/",
                "https://app.example.com/dashboard?tab=1",
                "POST",
                "https://auth.example.com/?rd=https%3A%2F%2Fapp.example.com%2Fdashboard%3Ftab%3D1&rm=POST",
            ),
            (
                "https://auth.example.com/",
                "https://app.example.com/dashboard",
                "GET",
                "https://auth.example.com/?rd=https%3A%2F%2Fapp.example.com%2Fdashboard&rm=GET",
            ),
            (
                "https://auth.example.com/",
                "https://app.example.com/",
                "GET",
                "https://auth.example.com/?rd=https%3A%2F%2Fapp.example.com%2F&rm=GET",
            ),
            (
                "https://auth.example.com/",
                "https://admin.example.com/x?y=1",
                "GET",
                "https://auth.example.com/?rd=https%3A%2F%2Fadmin.example.com%2Fx%3Fy%3D1&rm=GET",
            ),
            (
                "https://auth.example.com/",
                "https://admin.example.com:8443/",
                "GET",
                "https://auth.example.com/?rd=https%3A%2F%2Fadmin.example.com%3A8443%2F&rm=GET",
            ),
            (
                "https://auth.example.com/",
                "https://app.example.com/",
                "",
                "https://auth.example.com/?rd=https%3A%2F%2Fapp.example.com%2F",
            ),
            (
                "https://auth.example.com/portal/?z=1&lang=en",
                "https://app.example.com/",
                "GET",
                "https://auth.example.com/portal/?lang=en&rd=https%3A%2F%2Fapp.example.com%2F&rm=GET&z=1",
            ),
            (
                "https://auth.example.com/?a=2&a=1&B=3",
                "https://app.example.com/",
                "GET",
                "https://auth.example.com/?B=3&a=2&a=1&rd=https%3A%2F%2Fapp.example.com%2F&rm=GET",
            ),
            (
                "https://auth.example.com/?rd=https%3A%2F%2Fevil.example.net%2F&rm=PUT",
                "https://app.example.com/",
                "GET",
                "https://auth.example.com/?rd=https%3A%2F%2Fapp.example.com%2F&rm=GET",
            ),
            (
                "https://auth.example.com/?rm=PUT",
                "https://app.example.com/",
                "",
                "https://auth.example.com/?rd=https%3A%2F%2Fapp.example.com%2F&rm=PUT",
            ),
            (
                "https://auth.example.com/?b%20c=d+e&flag",
                "https://app.example.com/",
                "GET",
                "https://auth.example.com/?b+c=d+e&flag=&rd=https%3A%2F%2Fapp.example.com%2F&rm=GET",
            ),
            (
                "https://auth.example.com:8443/#top",
                "https://app.example.com/a b",
                "GET",
                "https://auth.example.com:8443/?rd=https%3A%2F%2Fapp.example.com%2Fa+b&rm=GET#top",
            ),
        ];
        for (portal, target, method, expected) in rows {
            let actual = redirection_url(&url(portal), target, method);
            assert_eq!(
                actual, expected,
                "portal {portal} target {target} method {method:?}"
            );
        }
    }

    #[test]
    fn redirect_body_matches_example() {
        let location = "https://auth.example.com/?rd=https%3A%2F%2Fapp.example.com%2Fdashboard%3Ftab%3D1&rm=GET";
        assert_eq!(
            redirect_body(location, StatusCode::FOUND),
            "<a href=\"https://auth.example.com/?rd=https%3A%2F%2Fapp.example.com%2Fdashboard%3Ftab%3D1&amp;rm=GET\">302 Found</a>"
        );
        assert_eq!(
            redirect_body("https://auth.example.com/?rd=x", StatusCode::SEE_OTHER),
            "<a href=\"https://auth.example.com/?rd=x\">303 See Other</a>"
        );
        assert_eq!(
            redirect_body("https://auth.example.com/?rd=x", StatusCode::UNAUTHORIZED),
            "<a href=\"https://auth.example.com/?rd=x\">401 Unauthorized</a>"
        );
        assert_eq!(
            redirect_body("\"><script>", StatusCode::FOUND),
            "<a href=\"&#34;&gt;&lt;script&gt;\">302 Found</a>"
        );
    }

    #[test]
    fn unauthorized_status_table() {
        use Implementation::*;

        /// Request headers, target method, endpoint implementation and expected status.
        type Row = (
            &'static [(&'static str, &'static str)],
            &'static str,
            Implementation,
            u16,
        );

        const BROWSER: &str = "text/html,application/xhtml+xml,*/*;q=0.8";
        let rows: &[Row] = &[
            (&[("Accept", BROWSER)], "GET", ForwardAuth, 302),
            (&[("Accept", BROWSER)], "HEAD", ForwardAuth, 302),
            (&[("Accept", BROWSER)], "OPTIONS", ForwardAuth, 302),
            (&[("Accept", BROWSER)], "", ForwardAuth, 302),
            (&[("Accept", BROWSER)], "POST", ForwardAuth, 303),
            (&[("Accept", BROWSER)], "PUT", ForwardAuth, 303),
            (&[("Accept", BROWSER)], "PATCH", ExtAuthz, 303),
            (&[("Accept", BROWSER)], "DELETE", Legacy, 303),
            (&[("Accept", BROWSER)], "GET", ExtAuthz, 302),
            (&[("Accept", BROWSER)], "GET", Legacy, 302),
            (&[("Accept", BROWSER)], "GET", AuthRequest, 401),
            (&[("Accept", BROWSER)], "POST", AuthRequest, 401),
            (&[], "GET", AuthRequest, 401),
            (&[("Accept", "text/html")], "GET", ForwardAuth, 302),
            (&[("Accept", "TEXT/HTML")], "GET", ForwardAuth, 302),
            (&[("Accept", "text/html;q=0.9")], "GET", ForwardAuth, 302),
            (
                &[("Accept", "text/html ; charset=utf-8")],
                "GET",
                ForwardAuth,
                302,
            ),
            (
                &[("Accept", "application/json, text/html")],
                "GET",
                ForwardAuth,
                302,
            ),
            (&[("Accept", "*/*")], "GET", ForwardAuth, 302),
            (&[("Accept", "*/*;q=0.1")], "GET", ForwardAuth, 302),
            (
                &[("Accept", " */* , application/json")],
                "GET",
                ForwardAuth,
                302,
            ),
            (
                &[("Accept", "application/json"), ("Accept", "text/html")],
                "GET",
                ForwardAuth,
                302,
            ),
            (&[("Accept", "application/json")], "GET", ForwardAuth, 401),
            (
                &[("Accept", "application/json, text/plain, */*")],
                "GET",
                ForwardAuth,
                401,
            ),
            (&[("Accept", "application/json")], "POST", ForwardAuth, 401),
            (&[("Accept", "text/*")], "GET", ForwardAuth, 401),
            (&[("Accept", "text/htmlx")], "GET", ForwardAuth, 401),
            (&[("Accept", "")], "GET", ForwardAuth, 401),
            (&[], "GET", ForwardAuth, 401),
            (&[], "GET", Legacy, 401),
            (
                &[("Accept", BROWSER), ("X-Requested-With", "XMLHttpRequest")],
                "GET",
                ForwardAuth,
                401,
            ),
            (
                &[("Accept", BROWSER), ("X-Requested-With", "xmlhttprequest")],
                "GET",
                ForwardAuth,
                401,
            ),
            (
                &[
                    ("Accept", BROWSER),
                    ("X-Requested-With", " XMLHttpRequest "),
                ],
                "POST",
                ExtAuthz,
                401,
            ),
            (
                &[
                    ("Accept", BROWSER),
                    ("X-Requested-With", "Fetch, XMLHttpRequest"),
                ],
                "GET",
                ForwardAuth,
                401,
            ),
            (
                &[("Accept", BROWSER), ("X-Requested-With", "com.example.app")],
                "GET",
                ForwardAuth,
                302,
            ),
        ];
        for (pairs, method, implementation, expected) in rows {
            let actual = unauthorized_status(&headers(pairs), method, *implementation);
            assert_eq!(
                actual.as_u16(),
                *expected,
                "{implementation:?} {method:?} {pairs:?}"
            );
        }
    }

    #[test]
    fn random_values_escape_safely() {
        let mut state: u64 = 0xda94_2042_e4dd_58b5;
        for _ in 0..2_000 {
            let mut bytes = Vec::new();
            for _ in 0..(state % 32) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                bytes.push((state >> 24) as u8);
            }
            let text = String::from_utf8_lossy(&bytes);
            let escaped = query_escape(&text);
            let allowed = |byte: u8| byte.is_ascii_alphanumeric() || b"-_.~+%".contains(&byte);
            assert!(escaped.bytes().all(allowed), "escaped {escaped:?}");

            let decoded: String = url::form_urlencoded::parse(format!("k={escaped}").as_bytes())
                .map(|(_, value)| value.into_owned())
                .collect();
            assert_eq!(decoded, text);

            let location = redirection_url(&url("https://auth.example.com/"), &text, "GET");
            let parsed = url(&location);
            let rd = parsed
                .query_pairs()
                .find(|(key, _)| key == "rd")
                .map(|(_, value)| value.into_owned());
            assert_eq!(rd.as_deref(), Some(text.as_ref()));
        }
    }
}
