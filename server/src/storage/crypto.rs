//! Encryption of secrets at rest (TOTP seeds) with `storage.encryption_key`.
//!
//! AES-256-GCM with the key derived as SHA-256 of the configured string, so a key of any length
//! works. Each value is stored as a random 96-bit nonce followed by the ciphertext and its tag.
//! A context string (such as the row's owner) is bound as associated data, so a ciphertext copied
//! into another row does not decrypt.

use std::fmt;

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use rand::RngCore;
use sha2::{Digest, Sha256};

const NONCE_LENGTH: usize = 12;

/// The AES-256-GCM cipher for secrets stored in the database.
#[derive(Clone)]
pub struct Cipher {
    aead: Aes256Gcm,
}

/// Decryption failed: the key is wrong, or the value or its context was changed.
#[derive(Debug, thiserror::Error)]
#[error("decryption failed: wrong storage.encryption_key or a damaged value")]
pub struct DecryptError;

impl Cipher {
    /// Derives the AES-256 key from the configured `storage.encryption_key`.
    pub fn new(encryption_key: &str) -> Cipher {
        let key = Sha256::digest(encryption_key.as_bytes());
        Cipher {
            aead: Aes256Gcm::new(&key),
        }
    }

    /// Encrypts `plaintext` bound to `context`; returns nonce followed by ciphertext and tag.
    pub fn encrypt(&self, plaintext: &[u8], context: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LENGTH];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let ciphertext = self
            .aead
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: context,
                },
            )
            // aes-gcm 0.10 returns an error only for a message longer than 2^36 - 32 bytes
            // (64 GiB), far beyond any secret stored here.
            .expect("AES-GCM encryption of a short secret cannot fail");
        let mut sealed = Vec::with_capacity(NONCE_LENGTH + ciphertext.len());
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        sealed
    }

    /// Decrypts a value made by [`Cipher::encrypt`] with the same key and context.
    pub fn decrypt(&self, sealed: &[u8], context: &[u8]) -> Result<Vec<u8>, DecryptError> {
        if sealed.len() < NONCE_LENGTH {
            return Err(DecryptError);
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LENGTH);
        self.aead
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: context,
                },
            )
            .map_err(|_| DecryptError)
    }
}

impl fmt::Debug for Cipher {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("Cipher(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let cipher = Cipher::new("a configured key of some length");
        let sealed = cipher.encrypt(b"seed bytes", b"totp:alice");
        assert_ne!(&sealed[NONCE_LENGTH..], b"seed bytes");
        assert_eq!(
            cipher.decrypt(&sealed, b"totp:alice").unwrap(),
            b"seed bytes"
        );
    }

    #[test]
    fn nonce_differs_per_call() {
        let cipher = Cipher::new("key");
        assert_ne!(cipher.encrypt(b"x", b""), cipher.encrypt(b"x", b""));
    }

    #[test]
    fn wrong_key_fails() {
        let sealed = Cipher::new("right key").encrypt(b"seed", b"ctx");
        assert!(Cipher::new("wrong key").decrypt(&sealed, b"ctx").is_err());
    }

    #[test]
    fn wrong_context_fails() {
        let cipher = Cipher::new("key");
        let sealed = cipher.encrypt(b"seed", b"totp:alice");
        assert!(cipher.decrypt(&sealed, b"totp:mallory").is_err());
    }

    #[test]
    fn short_input_fails() {
        assert!(Cipher::new("key").decrypt(&[1, 2, 3], b"").is_err());
    }

    #[test]
    fn debug_hides_key() {
        assert_eq!(format!("{:?}", Cipher::new("secret")), "Cipher(<redacted>)");
    }
}
