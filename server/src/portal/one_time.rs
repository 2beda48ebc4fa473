//! Reset tokens and one-time codes: how they are made and the hashes they are stored under.
//!
//! Only an HMAC-SHA256 of a token or code is stored, keyed by the reset secret, so a copy of the
//! database contains nothing that can be used. The purpose is part of the hashed text, so a token
//! made for one purpose never matches another.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::rngs::OsRng;
use rand::{Rng, RngCore};
use sha2::Sha256;

use crate::config::Config;

/// The purpose of a password-reset token.
pub(crate) const RESET_PASSWORD: &str = crate::storage::RESET_PASSWORD_PURPOSE;
/// The purpose of an elevation code.
pub(super) const ELEVATION_CODE: &str = "elevation";
/// The purpose of the id that revokes a user's pending elevation codes.
pub(super) const ELEVATION_REVOKE: &str = "elevation_revoke";

/// The characters of one-time codes: upper-case letters and digits without the ones that are
/// easy to confuse (`0`/`O`, `1`/`I`, `5`/`S`).
pub(super) const CODE_ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRTUVWYXZ2346789";

/// Makes a token of 256 random bits from the operating system, as 43 URL-safe characters.
pub(super) fn generate_token() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Makes a one-time code of `length` characters drawn uniformly from [`CODE_ALPHABET`].
pub(super) fn generate_code(length: u32) -> String {
    (0..length)
        .map(|_| char::from(CODE_ALPHABET[OsRng.gen_range(0..CODE_ALPHABET.len())]))
        .collect()
}

/// Returns the key of the token hashes: the reset secret, or without one (password reset
/// disabled) the session secret, which elevation codes need all the same.
pub(crate) fn token_key(config: &Config) -> Vec<u8> {
    match &config.identity_validation.reset_password.jwt_secret {
        Some(secret) => secret.expose().as_bytes().to_vec(),
        None => config.session.secret.expose().as_bytes().to_vec(),
    }
}

/// Returns the stored form of `value` for `purpose`: the lower-case hex HMAC-SHA256 of the
/// purpose and the value.
pub(crate) fn token_hash(key: &[u8], purpose: &str, value: &str) -> String {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC accepts a key of any length");
    mac.update(purpose.as_bytes());
    mac.update(&[0]);
    mac.update(value.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Checks that `token` has the shape [`generate_token`] makes, so other input is rejected before
/// any database read.
pub(super) fn is_token_shaped(token: &str) -> bool {
    token.len() == 43
        && token
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_url_safe_and_distinct() {
        let first = generate_token();
        let second = generate_token();
        assert!(is_token_shaped(&first), "{first}");
        assert_ne!(first, second);
        assert!(!is_token_shaped("short"));
        assert!(!is_token_shaped(&format!("{}=", &first[..42])));
    }

    #[test]
    fn codes_use_the_alphabet() {
        let code = generate_code(8);
        assert_eq!(code.len(), 8);
        assert!(
            code.bytes().all(|byte| CODE_ALPHABET.contains(&byte)),
            "{code}"
        );
    }

    #[test]
    fn hash_depends_on_purpose_and_key() {
        let hash = token_hash(b"key", RESET_PASSWORD, "abc");
        assert_eq!(hash.len(), 64);
        assert_eq!(hash, token_hash(b"key", RESET_PASSWORD, "abc"));
        assert_ne!(hash, token_hash(b"key", ELEVATION_CODE, "abc"));
        assert_ne!(hash, token_hash(b"other", RESET_PASSWORD, "abc"));
    }
}
