//! A configuration value that must never be printed.

use std::fmt;

use zeroize::Zeroize;

/// Command that operators can run to create a strong secret; error messages repeat it.
pub const GENERATE_SECRET_HINT: &str = "generate one with: openssl rand -base64 48";

/// Secret configuration text (a key, a password). `Debug` and `Display` print `***`, and the
/// memory is overwritten when the value is dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps `value`.
    pub fn new(value: String) -> Self {
        Self(value)
    }

    /// Returns the secret text. Callers must not log or echo it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Returns the length in characters, which is what the minimum-length rules count.
    pub fn char_count(&self) -> usize {
        self.0.chars().count()
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_prints_as_stars() {
        let secret = Secret::new("hunter2-hunter2".to_owned());
        assert_eq!(format!("{secret}"), "***");
        assert_eq!(format!("{secret:?}"), "***");
        assert_eq!(format!("{:?}", Some(&secret)), "Some(***)");
        assert_eq!(secret.expose(), "hunter2-hunter2");
    }
}
