//! Session ids: 256 random bits from the operating system, sent as URL-safe base64 without
//! padding and stored only as the SHA-256 hex of that text.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::rngs::OsRng;
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};

/// Random bytes in a session id.
const ID_BYTES: usize = 32;

/// Length of the encoded id: 32 bytes in unpadded base64.
const ENCODED_LENGTH: usize = 43;

/// A session id as the cookie carries it. `Debug` does not print it.
pub(crate) struct SessionId(String);

impl SessionId {
    /// Generates a fresh id from the operating system's random number generator.
    pub(crate) fn generate() -> SessionId {
        let mut bytes = [0u8; ID_BYTES];
        OsRng.fill_bytes(&mut bytes);
        SessionId(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// Parses a cookie value. Returns `None` unless the value is the canonical encoding of 32
    /// bytes: 43 characters of the URL-safe alphabet, with the unused low bits of the last one
    /// zero.
    pub(crate) fn parse(value: &[u8]) -> Option<SessionId> {
        if value.len() != ENCODED_LENGTH {
            return None;
        }
        let alphabet_only = value
            .iter()
            .all(|byte| byte.is_ascii_alphanumeric() || *byte == b'-' || *byte == b'_');
        if !alphabet_only {
            return None;
        }
        // The base64 engine rejects a last character whose unused bits are set, so every id has
        // one spelling and one hash.
        let decoded = URL_SAFE_NO_PAD.decode(value).ok()?;
        if decoded.len() != ID_BYTES {
            return None;
        }
        let text = String::from_utf8(value.to_vec()).ok()?;
        Some(SessionId(text))
    }

    /// Returns the id as sent in the cookie.
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }

    /// Returns the key the store keeps the session under: SHA-256 of the id text, lower-case hex.
    pub(crate) fn hash(&self) -> String {
        hex::encode(self.digest())
    }

    /// Returns the SHA-256 of the id text, whose hex form is [`SessionId::hash`].
    pub(crate) fn digest(&self) -> [u8; 32] {
        Sha256::digest(self.0.as_bytes()).into()
    }
}

impl std::fmt::Debug for SessionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionId(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_id_has_canonical_shape() {
        let id = SessionId::generate();
        assert_eq!(id.as_str().len(), ENCODED_LENGTH);
        let parsed = SessionId::parse(id.as_str().as_bytes()).expect("a generated id parses");
        assert_eq!(parsed.as_str(), id.as_str());
        assert_eq!(parsed.hash(), id.hash());
    }

    #[test]
    fn generated_ids_differ() {
        let first = SessionId::generate();
        let second = SessionId::generate();
        assert_ne!(first.as_str(), second.as_str());
    }

    #[test]
    fn hash_is_sha256_hex_of_the_text() {
        let id = SessionId::parse(b"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").unwrap();
        assert_eq!(
            id.hash(),
            hex::encode(Sha256::digest(
                b"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
            ))
        );
        assert_eq!(id.hash().len(), 64);
        assert_eq!(hex::encode(id.digest()), id.hash());
    }

    #[test]
    fn parse_rejects_other_shapes() {
        let valid = SessionId::generate();
        let valid = valid.as_str();
        let cases: Vec<Vec<u8>> = vec![
            b"attacker-chosen-0001".to_vec(),
            Vec::new(),
            valid.as_bytes()[..42].to_vec(),
            format!("{valid}A").into_bytes(),
            format!("{valid}=").into_bytes(),
            format!("{}+", &valid[..42]).into_bytes(),
            format!("{}/", &valid[..42]).into_bytes(),
            format!("{}.", &valid[..42]).into_bytes(),
            format!(" {}", &valid[..42]).into_bytes(),
            // The last character carries two unused bits; `B` sets one of them.
            b"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB".to_vec(),
            {
                let mut bytes = valid.as_bytes().to_vec();
                bytes[0] = 0xc3;
                bytes
            },
        ];
        for case in cases {
            assert!(
                SessionId::parse(&case).is_none(),
                "{:?} must not parse",
                String::from_utf8_lossy(&case)
            );
        }
    }

    #[test]
    fn debug_hides_the_id() {
        let id = SessionId::generate();
        let printed = format!("{id:?}");
        assert!(!printed.contains(id.as_str()));
    }
}
