//! The form token that every portal form carries, against cross-site request forgery.
//!
//! A browser gets a random `gatehouse_csrf` cookie (HttpOnly, SameSite=Strict, host-only) on its
//! first page. The token in a page's forms is an HMAC, keyed by a key derived from
//! `session.secret`, of that cookie and of the session cookie's value when there is a session. A
//! form is accepted only when its token matches the cookies it arrives with, so a token is bound
//! to one browser and one session (a login, which issues a new session id, makes older forms
//! invalid), and another site can neither read the token nor set the cookie.

use axum::http::{HeaderMap, HeaderValue};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::config::CookieDomain;
use crate::session::cookie::{find_cookie, CookieLookup};

/// The cookie that binds form tokens to one browser.
pub(super) const CSRF_COOKIE: &str = "gatehouse_csrf";

/// The key of the form tokens.
#[derive(Clone)]
pub(super) struct FormKey([u8; 32]);

impl FormKey {
    /// Derives the key from `session.secret`, so that it survives restarts and is the same on
    /// every instance, but differs from every other use of that secret.
    pub(super) fn derive(session_secret: &str) -> FormKey {
        let mut mac = Hmac::<Sha256>::new_from_slice(session_secret.as_bytes())
            .expect("HMAC accepts a key of any length");
        mac.update(b"gatehouse portal form token key");
        FormKey(mac.finalize().into_bytes().into())
    }

    /// Computes the token for a browser cookie and a session cookie (empty without a session).
    pub(super) fn token(&self, browser: &[u8], session: &[u8]) -> String {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC accepts a key of any length");
        mac.update(&(browser.len() as u64).to_be_bytes());
        mac.update(browser);
        mac.update(session);
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    /// Checks a submitted token against the request's cookies, in constant time.
    pub(super) fn verify(
        &self,
        headers: &HeaderMap,
        domain: &CookieDomain,
        submitted: &str,
    ) -> bool {
        let CookieLookup::Single(browser) = find_cookie(headers, CSRF_COOKIE) else {
            return false;
        };
        if browser.is_empty() {
            return false;
        }
        let Some(session) = session_cookie(headers, domain) else {
            return false;
        };
        let expected = self.token(browser, session);
        bool::from(expected.as_bytes().ct_eq(submitted.as_bytes()))
    }
}

/// Returns the session cookie's raw value, empty when there is none, and `None` when it appears
/// twice (such a request is anonymous, and its forms are refused).
pub(super) fn session_cookie<'a>(
    headers: &'a HeaderMap,
    domain: &CookieDomain,
) -> Option<&'a [u8]> {
    match find_cookie(headers, &domain.name) {
        CookieLookup::Absent => Some(b""),
        CookieLookup::Single(value) => Some(value),
        CookieLookup::Repeated => None,
    }
}

/// Returns the browser cookie of the request, or makes a new one with the `Set-Cookie` that
/// stores it.
pub(super) fn browser_cookie(
    headers: &HeaderMap,
    localhost: bool,
) -> (Vec<u8>, Option<HeaderValue>) {
    if let CookieLookup::Single(value) = find_cookie(headers, CSRF_COOKIE) {
        if !value.is_empty() {
            return (value.to_vec(), None);
        }
    }
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let value = URL_SAFE_NO_PAD.encode(bytes);
    let secure = if localhost { "" } else { "; Secure" };
    let header = format!("{CSRF_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict{secure}");
    let header = HeaderValue::from_str(&header).expect("base64 and fixed attributes are valid");
    (value.into_bytes(), Some(header))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_depends_on_both_cookies() {
        let key = FormKey::derive("a-session-secret-of-enough-length-0123456789");
        let base = key.token(b"browser", b"");
        assert_ne!(base, key.token(b"browser", b"session"));
        assert_ne!(base, key.token(b"other", b""));
        assert_eq!(base, key.token(b"browser", b""));
    }

    #[test]
    fn keys_differ_by_secret() {
        let one = FormKey::derive("first-secret-0123456789abcdefghijklmnop");
        let two = FormKey::derive("second-secret-0123456789abcdefghijklmno");
        assert_ne!(one.token(b"b", b""), two.token(b"b", b""));
    }
}
