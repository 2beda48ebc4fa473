//! Wrappers that keep passwords and password hashes out of logs and error messages.

use std::fmt;

use zeroize::Zeroizing;

/// A plaintext password whose `Debug` output is redacted and whose memory is zeroed on drop.
///
/// It has no `Display` implementation, so it cannot end up in a formatted message by accident.
pub struct Password(Zeroizing<String>);

impl Password {
    /// Wraps a plaintext password.
    pub fn new(password: String) -> Self {
        Password(Zeroizing::new(password))
    }

    /// Returns the plaintext, for the code that hashes or verifies it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for Password {
    fn from(password: String) -> Self {
        Password::new(password)
    }
}

impl From<&str> for Password {
    fn from(password: &str) -> Self {
        Password::new(password.to_owned())
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password([redacted])")
    }
}

/// An encoded password hash (for example `$argon2id$v=19$…`) whose `Debug` output is redacted.
///
/// A hash is not a password, but it allows offline guessing, so it stays out of logs too.
#[derive(Clone, PartialEq, Eq)]
pub struct EncodedHash(String);

impl EncodedHash {
    /// Wraps an encoded hash without checking its format.
    pub fn new(encoded: String) -> Self {
        EncodedHash(encoded)
    }

    /// Returns the encoded hash, for verification and for writing the users file.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for EncodedHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EncodedHash([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_debug_is_redacted() {
        let password = Password::from("hunter2");

        let debug = format!("{password:?}");

        assert!(!debug.contains("hunter2"), "{debug}");
        assert_eq!(password.expose(), "hunter2");
    }

    #[test]
    fn encoded_hash_debug_is_redacted() {
        let hash = EncodedHash::new("$6$salt$checksum".to_owned());

        let debug = format!("{hash:?}");

        assert!(!debug.contains("salt"), "{debug}");
        assert!(!debug.contains("checksum"), "{debug}");
    }
}
