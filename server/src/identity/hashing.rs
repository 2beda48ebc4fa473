//! Password hashing with Argon2 and verification of every hash format a users file may hold.
//!
//! Gatehouse writes only Argon2 hashes in the PHC string format. It verifies Argon2 (id, i, d)
//! and the older formats in [`crate::identity::legacy`], and reports through
//! [`Verified::needs_rehash`] when a stored hash should be replaced.
//!
//! Errors never contain the password or any part of the stored hash. A malformed hash is
//! reported by its format name and the problem only.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::rngs::OsRng;
use rand::RngCore;

use crate::identity::legacy::LegacyHash;

/// Maximum password length in bytes accepted for hashing and verification.
///
/// SHA-crypt and PBKDF2 cost grows with the password length, so an unbounded password would let
/// one request buy an arbitrary amount of hashing work.
pub const MAX_PASSWORD_BYTES: usize = 4096;

/// Maximum memory one hash computation may use: 4 GiB, twice the 2 GiB of RFC 9106's first
/// recommended Argon2 setting.
///
/// Without a limit, a typo such as `m=4294967295` in a stored hash would make each login of that
/// user try to allocate terabytes.
pub const MAX_HASH_MEMORY_BYTES: u64 = 4 << 30;

const ARGON2_MIN_SALT_BYTES: usize = 8;
// The PHC string encoding used by the `argon2` crate limits the salt to 64 base64 characters.
const ARGON2_MAX_SALT_BYTES: usize = 48;
const ARGON2_MIN_KEY_BYTES: usize = 16;
// The PHC string encoding used by the `argon2` crate limits the output to 64 bytes.
const ARGON2_MAX_KEY_BYTES: usize = 64;

/// Error from hashing or verifying a password.
///
/// No variant carries the password or the stored hash, so the message is safe to log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HashError {
    /// The password is empty; empty passwords are never hashed or accepted.
    #[error("the password is empty")]
    EmptyPassword,
    /// The password exceeds [`MAX_PASSWORD_BYTES`].
    #[error("the password is longer than {max} bytes")]
    PasswordTooLong {
        /// The limit in bytes.
        max: usize,
    },
    /// The stored hash uses a format Gatehouse cannot verify.
    #[error("unsupported password hash format: {reason}")]
    UnsupportedFormat {
        /// Explanation naming the recognised format, or why none was recognised.
        reason: &'static str,
    },
    /// The stored hash names a supported format but does not follow it.
    #[error("malformed {format} password hash: {problem}")]
    Malformed {
        /// The format named by the hash's prefix, for example `argon2id` or `pbkdf2-sha512`.
        format: &'static str,
        /// Description of the problem.
        problem: &'static str,
    },
    /// The configured Argon2 parameters are outside the supported range.
    #[error("invalid Argon2 parameters: {0}")]
    InvalidParams(String),
    /// The hashing itself failed, for example because the system random number generator did.
    #[error("password hashing failed: {0}")]
    Failed(&'static str),
}

/// Result of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    /// True when the password matches the hash.
    pub matches: bool,
    /// True when the hash is not Argon2 with the current parameters and should be replaced by a
    /// fresh hash of the password after a successful check.
    pub needs_rehash: bool,
}

/// The Argon2 variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Argon2Variant {
    /// Argon2id, the hybrid variant recommended by RFC 9106.
    #[default]
    Argon2id,
    /// Argon2i, data-independent memory access.
    Argon2i,
    /// Argon2d, data-dependent memory access.
    Argon2d,
}

impl Argon2Variant {
    /// Returns the identifier used in the PHC string, for example `argon2id`.
    pub fn as_str(self) -> &'static str {
        match self {
            Argon2Variant::Argon2id => "argon2id",
            Argon2Variant::Argon2i => "argon2i",
            Argon2Variant::Argon2d => "argon2d",
        }
    }

    fn algorithm(self) -> Algorithm {
        match self {
            Argon2Variant::Argon2id => Algorithm::Argon2id,
            Argon2Variant::Argon2i => Algorithm::Argon2i,
            Argon2Variant::Argon2d => Algorithm::Argon2d,
        }
    }
}

/// Parameters for new Argon2 hashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Argon2Params {
    /// Argon2 variant.
    pub variant: Argon2Variant,
    /// Number of passes over memory (`t`).
    pub iterations: u32,
    /// Memory size in KiB (`m`).
    pub memory_kib: u32,
    /// Number of lanes (`p`).
    pub parallelism: u32,
    /// Length of the derived key in bytes.
    pub key_length: usize,
    /// Length of the random salt in bytes.
    pub salt_length: usize,
}

impl Default for Argon2Params {
    /// Returns argon2id with t=3, m=65536 KiB, p=4, a 32-byte key and a 16-byte salt, which is
    /// also Authelia's default.
    fn default() -> Self {
        Argon2Params {
            variant: Argon2Variant::Argon2id,
            iterations: 3,
            memory_kib: 65536,
            parallelism: 4,
            key_length: 32,
            salt_length: 16,
        }
    }
}

impl Argon2Params {
    /// Checks that the parameters can produce a hash, naming the first parameter that cannot.
    pub fn validate(&self) -> Result<(), HashError> {
        self.hasher().map(|_| ())
    }

    fn hasher(&self) -> Result<Argon2<'static>, HashError> {
        if !(ARGON2_MIN_SALT_BYTES..=ARGON2_MAX_SALT_BYTES).contains(&self.salt_length) {
            return Err(HashError::InvalidParams(format!(
                "salt_length is {}, but must be between {ARGON2_MIN_SALT_BYTES} and \
                 {ARGON2_MAX_SALT_BYTES} bytes",
                self.salt_length
            )));
        }
        if !(ARGON2_MIN_KEY_BYTES..=ARGON2_MAX_KEY_BYTES).contains(&self.key_length) {
            return Err(HashError::InvalidParams(format!(
                "key_length is {}, but must be between {ARGON2_MIN_KEY_BYTES} and \
                 {ARGON2_MAX_KEY_BYTES} bytes",
                self.key_length
            )));
        }

        if u64::from(self.memory_kib) * 1024 > MAX_HASH_MEMORY_BYTES {
            return Err(HashError::InvalidParams(format!(
                "memory is {} KiB, but must be at most {} KiB (4 GiB)",
                self.memory_kib,
                MAX_HASH_MEMORY_BYTES / 1024
            )));
        }

        let params = Params::new(
            self.memory_kib,
            self.iterations,
            self.parallelism,
            Some(self.key_length),
        )
        .map_err(|error| {
            HashError::InvalidParams(format!(
                "memory {} KiB, iterations {}, parallelism {}: {error} (memory must be at least \
                 8 KiB per lane, iterations at least 1)",
                self.memory_kib, self.iterations, self.parallelism
            ))
        })?;

        Ok(Argon2::new(
            self.variant.algorithm(),
            Version::V0x13,
            params,
        ))
    }
}

/// Hashes a password into an Argon2 PHC string such as `$argon2id$v=19$m=65536,t=3,p=4$…$…`.
///
/// The salt comes from the operating system's random number generator. This is slow by design,
/// so async callers go through [`crate::identity::pool::HashingPool`].
pub fn hash_password(password: &str, params: &Argon2Params) -> Result<String, HashError> {
    check_password_length(password)?;
    let hasher = params.hasher()?;

    let mut salt = vec![0_u8; params.salt_length];
    OsRng
        .try_fill_bytes(&mut salt)
        .map_err(|_| HashError::Failed("the system random number generator failed"))?;
    let salt = SaltString::encode_b64(&salt)
        .map_err(|_| HashError::Failed("the salt could not be encoded"))?;

    let hash = hasher
        .hash_password(password.as_bytes(), &salt)
        .map_err(|_| HashError::Failed("Argon2 rejected the parameters or the password"))?;
    Ok(hash.to_string())
}

/// Verifies a password against a stored hash, judging `needs_rehash` against the default
/// [`Argon2Params`].
pub fn verify_password(password: &str, encoded: &str) -> Result<Verified, HashError> {
    verify_password_with_params(password, encoded, &Argon2Params::default())
}

/// Verifies a password against a stored hash of any supported format.
///
/// The derived key is compared with the stored one in constant time. `needs_rehash` is false
/// only for a hash made with exactly `current` (variant, version 19, m, t, p, key and salt
/// length). An empty or over-long password is an error, checked before any hashing work.
pub fn verify_password_with_params(
    password: &str,
    encoded: &str,
    current: &Argon2Params,
) -> Result<Verified, HashError> {
    check_password_length(password)?;

    match parse_hash(encoded)? {
        ParsedHash::Argon2(hash) => {
            let matches = verify_argon2(password, &hash)?;
            let needs_rehash = !argon2_matches_params(&hash, current);
            Ok(Verified {
                matches,
                needs_rehash,
            })
        }
        ParsedHash::Legacy(hash) => {
            let matches = hash.verify(password)?;
            Ok(Verified {
                matches,
                needs_rehash: true,
            })
        }
    }
}

/// Format of a stored password hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashFormat {
    /// Argon2 in the PHC string format.
    Argon2(Argon2Variant),
    /// SHA-512-crypt, `$6$`.
    Sha512Crypt,
    /// SHA-256-crypt, `$5$`.
    Sha256Crypt,
    /// PBKDF2 in passlib's modular crypt format, `$pbkdf2-sha512$`.
    Pbkdf2(Pbkdf2Digest),
    /// bcrypt, `$2a$`, `$2b$` or `$2y$`.
    Bcrypt,
    /// passlib's bcrypt over an HMAC-SHA-256 or SHA-256 of the password, `$bcrypt-sha256$`.
    BcryptSha256,
    /// scrypt in passlib's format, `$scrypt$ln=…,r=…,p=…$`.
    Scrypt,
}

/// Hash function inside PBKDF2-HMAC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pbkdf2Digest {
    /// SHA-1, written `$pbkdf2$` or `$pbkdf2-sha1$`.
    Sha1,
    /// SHA-224.
    Sha224,
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

/// Checks that a stored hash is well formed and supported, without doing any hashing work.
///
/// Loading a users file uses this so that a broken hash is reported at load, not at login.
pub fn check_hash_format(encoded: &str) -> Result<HashFormat, HashError> {
    match parse_hash(encoded)? {
        ParsedHash::Argon2(hash) => Ok(HashFormat::Argon2(argon2_variant(&hash)?)),
        ParsedHash::Legacy(hash) => Ok(hash.format()),
    }
}

fn check_password_length(password: &str) -> Result<(), HashError> {
    if password.is_empty() {
        return Err(HashError::EmptyPassword);
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(HashError::PasswordTooLong {
            max: MAX_PASSWORD_BYTES,
        });
    }
    Ok(())
}

enum ParsedHash<'a> {
    Argon2(PasswordHash<'a>),
    Legacy(LegacyHash),
}

fn parse_hash(encoded: &str) -> Result<ParsedHash<'_>, HashError> {
    if !encoded.starts_with('$') {
        return Err(HashError::UnsupportedFormat {
            reason: "a password hash starts with '$' followed by its format name",
        });
    }
    if encoded.starts_with("$argon2") {
        return parse_argon2(encoded).map(ParsedHash::Argon2);
    }
    LegacyHash::parse(encoded).map(ParsedHash::Legacy)
}

fn parse_argon2(encoded: &str) -> Result<PasswordHash<'_>, HashError> {
    let format = argon2_format_name(encoded);
    let malformed = |problem| HashError::Malformed { format, problem };

    // The `password_hash` errors are replaced by fixed text because some of them quote a
    // character of the input.
    let not_phc = "it is not a valid PHC string ($id$v=…$m=…,t=…,p=…$salt$hash)";
    let hash = PasswordHash::new(encoded).map_err(|_| malformed(not_phc))?;

    argon2_variant(&hash)?;
    match hash.version {
        Some(19 | 16) => {}
        Some(_) => return Err(malformed("the version must be v=19 or v=16")),
        None => return Err(malformed("the version field v=19 is missing")),
    }
    // The `argon2` crate fills in a default for a missing m, t or p, but the PHC format for
    // Argon2 requires all three.
    let has_costs = ["m", "t", "p"]
        .into_iter()
        .all(|name| hash.params.get_decimal(name).is_some());
    if !has_costs {
        return Err(malformed("m, t and p are all required"));
    }
    let params = Params::try_from(&hash).map_err(|_| malformed("m, t or p is out of range"))?;
    if u64::from(params.m_cost()) * 1024 > MAX_HASH_MEMORY_BYTES {
        return Err(malformed("m asks for more than 4 GiB of memory"));
    }
    if hash.salt.is_none() {
        return Err(malformed("the salt is missing"));
    }
    if hash.hash.is_none() {
        return Err(malformed("the hash is missing"));
    }
    Ok(hash)
}

fn argon2_format_name(encoded: &str) -> &'static str {
    if encoded.starts_with("$argon2id$") {
        "argon2id"
    } else if encoded.starts_with("$argon2i$") {
        "argon2i"
    } else if encoded.starts_with("$argon2d$") {
        "argon2d"
    } else {
        "argon2"
    }
}

fn argon2_variant(hash: &PasswordHash<'_>) -> Result<Argon2Variant, HashError> {
    match hash.algorithm.as_str() {
        "argon2id" => Ok(Argon2Variant::Argon2id),
        "argon2i" => Ok(Argon2Variant::Argon2i),
        "argon2d" => Ok(Argon2Variant::Argon2d),
        _ => Err(HashError::UnsupportedFormat {
            reason: "the Argon2 variant must be argon2id, argon2i or argon2d",
        }),
    }
}

fn verify_argon2(password: &str, hash: &PasswordHash<'_>) -> Result<bool, HashError> {
    // `verify_password` takes the variant, version and parameters from the hash itself, and
    // compares the outputs in constant time.
    match Argon2::default().verify_password(password.as_bytes(), hash) {
        Ok(()) => Ok(true),
        Err(argon2::password_hash::Error::Password) => Ok(false),
        Err(_) => Err(HashError::Malformed {
            format: argon2_variant(hash).map_or("argon2", Argon2Variant::as_str),
            problem: "its parameters, salt or hash length are out of range",
        }),
    }
}

fn argon2_matches_params(hash: &PasswordHash<'_>, current: &Argon2Params) -> bool {
    let Ok(variant) = argon2_variant(hash) else {
        return false;
    };
    let Ok(params) = Params::try_from(hash) else {
        return false;
    };
    let Some(output) = hash.hash else {
        return false;
    };
    let Some(salt) = hash.salt else {
        return false;
    };
    let mut salt_buffer = [0_u8; 64];
    let Ok(salt_bytes) = salt.decode_b64(&mut salt_buffer) else {
        return false;
    };

    variant == current.variant
        && hash.version == Some(19)
        && params.m_cost() == current.memory_kib
        && params.t_cost() == current.iterations
        && params.p_cost() == current.parallelism
        && output.len() == current.key_length
        && salt_bytes.len() == current.salt_length
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::test_vectors::*;

    /// Parameters cheap enough for debug-build tests.
    fn cheap_params() -> Argon2Params {
        Argon2Params {
            variant: Argon2Variant::Argon2id,
            iterations: 1,
            memory_kib: 64,
            parallelism: 1,
            key_length: 32,
            salt_length: 16,
        }
    }

    #[test]
    fn hash_password_writes_phc_string() {
        let hash = hash_password(PASSWORD, &cheap_params()).unwrap();

        assert!(hash.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{hash}");
        assert_eq!(hash.split('$').count(), 6, "{hash}");
    }

    #[test]
    fn hash_password_round_trips() {
        let params = cheap_params();
        let hash = hash_password(PASSWORD, &params).unwrap();

        let right = verify_password_with_params(PASSWORD, &hash, &params).unwrap();
        let wrong = verify_password_with_params(WRONG_PASSWORD, &hash, &params).unwrap();

        assert_eq!(
            right,
            Verified {
                matches: true,
                needs_rehash: false
            }
        );
        assert_eq!(
            wrong,
            Verified {
                matches: false,
                needs_rehash: false
            }
        );
    }

    #[test]
    fn hash_password_uses_fresh_salt() {
        let params = cheap_params();

        let first = hash_password(PASSWORD, &params).unwrap();
        let second = hash_password(PASSWORD, &params).unwrap();

        assert_ne!(first, second);
    }

    #[test]
    fn hash_password_honours_every_parameter() {
        let params = Argon2Params {
            variant: Argon2Variant::Argon2i,
            iterations: 2,
            memory_kib: 128,
            parallelism: 2,
            key_length: 48,
            salt_length: 24,
        };

        let hash = hash_password(PASSWORD, &params).unwrap();
        let parsed = PasswordHash::new(&hash).unwrap();

        assert_eq!(parsed.algorithm.as_str(), "argon2i");
        assert_eq!(parsed.version, Some(19));
        assert_eq!(parsed.params.get_decimal("m"), Some(128));
        assert_eq!(parsed.params.get_decimal("t"), Some(2));
        assert_eq!(parsed.params.get_decimal("p"), Some(2));
        assert_eq!(parsed.hash.unwrap().len(), 48);
        assert!(argon2_matches_params(&parsed, &params));
    }

    #[test]
    fn hash_password_rejects_empty_password() {
        assert_eq!(
            hash_password("", &cheap_params()),
            Err(HashError::EmptyPassword)
        );
    }

    #[test]
    fn hash_password_rejects_long_password() {
        let long = "a".repeat(MAX_PASSWORD_BYTES + 1);

        let result = hash_password(&long, &cheap_params());

        assert_eq!(
            result,
            Err(HashError::PasswordTooLong {
                max: MAX_PASSWORD_BYTES
            })
        );
    }

    #[test]
    fn hash_password_rejects_invalid_params() {
        let cases = [
            Argon2Params {
                salt_length: 4,
                ..cheap_params()
            },
            Argon2Params {
                salt_length: 49,
                ..cheap_params()
            },
            Argon2Params {
                key_length: 8,
                ..cheap_params()
            },
            Argon2Params {
                key_length: 65,
                ..cheap_params()
            },
            Argon2Params {
                iterations: 0,
                ..cheap_params()
            },
            Argon2Params {
                parallelism: 0,
                ..cheap_params()
            },
            Argon2Params {
                memory_kib: 8,
                parallelism: 2,
                ..cheap_params()
            },
        ];

        for params in cases {
            let result = hash_password(PASSWORD, &params);
            assert!(
                matches!(result, Err(HashError::InvalidParams(_))),
                "{params:?} gave {result:?}"
            );
        }
    }

    /// The one test that runs the default cost, so it is slow in a debug build.
    #[test]
    fn default_params_hash_and_verify() {
        let params = Argon2Params::default();
        assert_eq!(params.variant, Argon2Variant::Argon2id);
        assert_eq!(
            (params.iterations, params.memory_kib, params.parallelism),
            (3, 65536, 4)
        );
        assert_eq!((params.key_length, params.salt_length), (32, 16));

        let hash = hash_password(PASSWORD, &params).unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=65536,t=3,p=4$"),
            "{hash}"
        );

        let ours = verify_password(PASSWORD, &hash).unwrap();
        assert_eq!(
            ours,
            Verified {
                matches: true,
                needs_rehash: false
            }
        );

        // The same parameters from another implementation (argon2-cffi) verify and need no
        // rehash.
        let foreign = verify_password(PASSWORD, ARGON2ID_DEFAULT).unwrap();
        assert_eq!(
            foreign,
            Verified {
                matches: true,
                needs_rehash: false
            }
        );
    }

    #[test]
    fn verify_argon2_vectors() {
        let cases = [
            (ARGON2ID, PASSWORD),
            (ARGON2I, PASSWORD),
            (ARGON2D, PASSWORD),
            (ARGON2ID_UNICODE, UNICODE_PASSWORD),
        ];

        for (hash, password) in cases {
            let right = verify_password(password, hash).unwrap();
            let wrong = verify_password(WRONG_PASSWORD, hash).unwrap();

            assert!(right.matches, "right password rejected by {hash}");
            assert!(!wrong.matches, "wrong password accepted by {hash}");
            assert!(right.needs_rehash, "{hash} differs from the defaults");
        }
    }

    #[test]
    fn verify_needs_rehash_for_other_params() {
        let current = cheap_params();
        let cases = [
            Argon2Params {
                iterations: 2,
                ..cheap_params()
            },
            Argon2Params {
                memory_kib: 128,
                ..cheap_params()
            },
            Argon2Params {
                parallelism: 2,
                ..cheap_params()
            },
            Argon2Params {
                key_length: 16,
                ..cheap_params()
            },
            Argon2Params {
                salt_length: 8,
                ..cheap_params()
            },
            Argon2Params {
                variant: Argon2Variant::Argon2i,
                ..cheap_params()
            },
        ];

        for params in cases {
            let hash = hash_password(PASSWORD, &params).unwrap();

            let verified = verify_password_with_params(PASSWORD, &hash, &current).unwrap();

            assert!(verified.matches, "{params:?}");
            assert!(verified.needs_rehash, "{params:?}");
        }
    }

    #[test]
    fn verify_rejects_empty_password() {
        assert_eq!(verify_password("", ARGON2ID), Err(HashError::EmptyPassword));
    }

    #[test]
    fn verify_rejects_malformed_argon2() {
        let cases = [
            "$argon2id$v=19$m=256,t=2,p=1$MrDDXlJacjkyKWl3J3qjTw",
            "$argon2id$v=19$m=256,t=2$MrDDXlJacjkyKWl3J3qjTw$f8hZBmeUafjsLKSo7VF5JUUmzAPd3y0fUfbwMZocHuA",
            "$argon2id$v=18$m=256,t=2,p=1$MrDDXlJacjkyKWl3J3qjTw$f8hZBmeUafjsLKSo7VF5JUUmzAPd3y0fUfbwMZocHuA",
            "$argon2id$m=256,t=2,p=1$MrDDXlJacjkyKWl3J3qjTw$f8hZBmeUafjsLKSo7VF5JUUmzAPd3y0fUfbwMZocHuA",
            "$argon2id$v=19$m=256,t=2,p=1$Mr!DXlJacjkyKWl3J3qjTw$f8hZBmeUafjsLKSo7VF5JUUmzAPd3y0fUfbwMZocHuA",
            "$argon2id$v=19$m=1,t=2,p=1$MrDDXlJacjkyKWl3J3qjTw$f8hZBmeUafjsLKSo7VF5JUUmzAPd3y0fUfbwMZocHuA",
        ];

        for hash in cases {
            let result = verify_password(PASSWORD, hash);
            assert!(
                matches!(
                    result,
                    Err(HashError::Malformed {
                        format: "argon2id",
                        ..
                    })
                ),
                "{hash} gave {result:?}"
            );
        }
    }

    #[test]
    fn verify_rejects_unknown_formats() {
        let cases = [
            "",
            "plaintext-password",
            "$argon2x$v=19$m=256,t=2,p=1$MrDDXlJacjkyKWl3J3qjTw$f8hZBmeUafjsLKSo7VF5JUUmzAPd3y0fUfbwMZocHuA",
            "$1$saltsalt$2oq5ZGVYfLFQrCZQrtdZJ/",
            "$md5$whatever",
        ];

        for hash in cases {
            let result = verify_password(PASSWORD, hash);
            assert!(
                matches!(result, Err(HashError::UnsupportedFormat { .. })),
                "{hash:?} gave {result:?}"
            );
        }
    }

    #[test]
    fn errors_never_quote_the_hash() {
        let secret_looking = "$argon2id$v=19$m=256,t=2,p=1$SECRETSALT!$SECRETHASH";
        let unknown = "$hunter2$SECRETHASH";

        for hash in [secret_looking, unknown] {
            let message = verify_password(PASSWORD, hash).unwrap_err().to_string();
            assert!(!message.contains("SECRET"), "{message}");
            assert!(!message.contains("hunter2"), "{message}");
            assert!(!message.contains(PASSWORD), "{message}");
        }
    }

    #[test]
    fn check_hash_format_names_every_format() {
        let cases = [
            (ARGON2ID, HashFormat::Argon2(Argon2Variant::Argon2id)),
            (ARGON2I, HashFormat::Argon2(Argon2Variant::Argon2i)),
            (ARGON2D, HashFormat::Argon2(Argon2Variant::Argon2d)),
            (SHA512_CRYPT_ROUNDS, HashFormat::Sha512Crypt),
            (SHA256_CRYPT_IMPLICIT, HashFormat::Sha256Crypt),
            (PBKDF2_SHA1, HashFormat::Pbkdf2(Pbkdf2Digest::Sha1)),
            (PBKDF2_SHA224, HashFormat::Pbkdf2(Pbkdf2Digest::Sha224)),
            (PBKDF2_SHA256, HashFormat::Pbkdf2(Pbkdf2Digest::Sha256)),
            (PBKDF2_SHA384, HashFormat::Pbkdf2(Pbkdf2Digest::Sha384)),
            (PBKDF2_SHA512, HashFormat::Pbkdf2(Pbkdf2Digest::Sha512)),
            (BCRYPT_2B, HashFormat::Bcrypt),
            (BCRYPT_SHA256_V2, HashFormat::BcryptSha256),
            (SCRYPT, HashFormat::Scrypt),
        ];

        for (hash, format) in cases {
            assert_eq!(check_hash_format(hash), Ok(format), "{hash}");
        }
    }
}
