//! Security headers on every page response, with a fresh Content-Security-Policy nonce per
//! response for the scripts Leptos writes into the page.

use axum::extract::Request;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
    X_FRAME_OPTIONS,
};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine;
use rand::RngCore;

/// The nonce of one response's Content-Security-Policy: 128 random bits in URL-safe base64.
#[derive(Clone, Debug)]
pub struct CspNonce(pub String);

impl CspNonce {
    fn generate() -> CspNonce {
        let mut bytes = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        CspNonce(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
    }
}

/// Builds the policy for one response. Scripts run only from the portal's own origin or with the
/// nonce. `'wasm-unsafe-eval'` lets the hydration code compile its WebAssembly, and neither
/// `'unsafe-inline'` nor `'unsafe-eval'` is granted. `form_action` lists where a form may lead,
/// redirects after a post included (the portal and the cookie domains).
pub(super) fn content_security_policy(nonce: &str, form_action: &str) -> String {
    format!(
        "default-src 'none'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; \
         manifest-src 'self'; base-uri 'none'; object-src 'none'; frame-ancestors 'none'; \
         form-action {form_action}"
    )
}

/// Adds the security headers to a page response and puts the response's nonce into the request
/// for Leptos to stamp its scripts with. Files under `/pkg/` and the icon may be cached; every
/// other response is `no-store`, because pages carry a form token and often the user's data.
pub(super) async fn security_headers(
    form_action: &str,
    mut request: Request,
    next: Next,
) -> Response {
    let nonce = CspNonce::generate();
    let path = request.uri().path();
    let cacheable = path.starts_with("/pkg/") || path == "/favicon.svg";
    // The e-mailed links carry a token or id in their query, which no Referer may repeat.
    // `strict-origin` sends only the origin. `no-referrer` would make Chromium send
    // `Origin: null` with the page's form posts, which the JSON API's cross-site check rejects.
    let referrer = if path == "/reset-password/step2" || path.starts_with("/revoke/") {
        "strict-origin"
    } else {
        "same-origin"
    };
    request.extensions_mut().insert(nonce.clone());

    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let policy = content_security_policy(&nonce.0, form_action);
    if let Ok(value) = HeaderValue::from_str(&policy) {
        headers.insert(CONTENT_SECURITY_POLICY, value);
    }
    headers.insert(REFERRER_POLICY, HeaderValue::from_static(referrer));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !cacheable {
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// Builds the `form-action` sources: the portal's own origin and every cookie domain with its
/// subdomains, on any port (`http` too for a localhost domain).
pub(super) fn form_action_sources(domains: &[(String, bool)]) -> String {
    let mut sources = vec!["'self'".to_owned()];
    for (domain, localhost) in domains {
        let schemes: &[&str] = if *localhost {
            &["https", "http"]
        } else {
            &["https"]
        };
        for scheme in schemes {
            sources.push(format!("{scheme}://{domain}:*"));
            sources.push(format!("{scheme}://*.{domain}:*"));
        }
    }
    sources.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_has_nonce_and_no_unsafe_sources() {
        let policy = content_security_policy("abc", "'self'");
        assert!(policy.contains("script-src 'self' 'nonce-abc' 'wasm-unsafe-eval'"));
        assert!(policy.contains("frame-ancestors 'none'"));
        assert!(!policy.contains("unsafe-inline"));
        assert!(!policy.contains("'unsafe-eval'"));
    }

    #[test]
    fn form_action_covers_cookie_domains() {
        let sources = form_action_sources(&[("example.com".to_owned(), false)]);
        assert_eq!(
            sources,
            "'self' https://example.com:* https://*.example.com:*"
        );
    }

    #[test]
    fn nonces_differ() {
        assert_ne!(CspNonce::generate().0, CspNonce::generate().0);
    }
}
