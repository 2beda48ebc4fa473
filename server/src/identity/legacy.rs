//! Verification of the older hash formats an Authelia users file may hold.
//!
//! Gatehouse never writes these formats. It verifies them so that an existing users file keeps
//! working, and callers re-hash with Argon2 after a successful login where they may.
//!
//! The string layouts follow passlib 1.7 (which Authelia's hashes are compatible with):
//! - SHA-crypt: `$6$[rounds=N$]salt$checksum` and `$5$…`, as glibc's crypt(3) writes them.
//! - PBKDF2: `$pbkdf2-sha512$iterations$salt$key`, salt and key in passlib's "adapted base64"
//!   (standard base64 with `.` in place of `+` and no padding). `$pbkdf2$` is PBKDF2-HMAC-SHA1.
//! - bcrypt: `$2a$`, `$2b$`, `$2y$` followed by a two-digit cost and 53 characters.
//! - bcrypt-sha256: `$bcrypt-sha256$v=2,t=2b,r=12$salt$checksum`. Version 2 runs bcrypt over
//!   the standard base64 of HMAC-SHA-256(key = the 22-character salt, message = password).
//!   Version 1 (`$bcrypt-sha256$2b,12$…`) uses a plain SHA-256 of the password instead.
//! - scrypt: `$scrypt$ln=…,r=…,p=…$salt$key`, salt and key in base64 without padding.

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha224, Sha256, Sha384, Sha512};
use subtle::ConstantTimeEq;

use crate::identity::hashing::{HashError, HashFormat, Pbkdf2Digest, MAX_HASH_MEMORY_BYTES};

/// Standard base64 that accepts passlib's `.` for `+`, with or without padding.
const ADAPTED_BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

const CRYPT_ALPHABET: &[u8] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const BCRYPT_ALPHABET: &[u8] = b"./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

const SHA_CRYPT_MAX_SALT_BYTES: usize = 16;
const PBKDF2_MAX_KEY_BYTES: usize = 1024;
const SCRYPT_MAX_KEY_BYTES: usize = 1024;
const BCRYPT_SALT_CHARS: usize = 22;
const BCRYPT_CHECKSUM_CHARS: usize = 31;

const SUPPORTED_FORMATS: &str = "unrecognised format name; Gatehouse verifies argon2id, argon2i, \
     argon2d, $6$ and $5$ SHA-crypt, pbkdf2 (sha1, sha224, sha256, sha384, sha512), bcrypt \
     ($2a$, $2b$, $2y$), bcrypt-sha256 and scrypt";

/// A parsed hash in one of the formats this module verifies.
pub(crate) enum LegacyHash {
    ShaCrypt {
        variant: ShaCryptVariant,
        rounds: usize,
        salt: String,
        checksum: String,
    },
    Pbkdf2 {
        digest: Pbkdf2Digest,
        iterations: u32,
        salt: Vec<u8>,
        key: Vec<u8>,
    },
    /// A bcrypt hash whose layout has been checked, kept whole for the `bcrypt` crate.
    Bcrypt { encoded: String },
    BcryptSha256 {
        version: BcryptSha256Version,
        cost: u32,
        salt: String,
        checksum: String,
    },
    Scrypt {
        params: scrypt::Params,
        salt: Vec<u8>,
        key: Vec<u8>,
    },
}

#[derive(Clone, Copy)]
pub(crate) enum ShaCryptVariant {
    Sha512,
    Sha256,
}

#[derive(Clone, Copy)]
pub(crate) enum BcryptSha256Version {
    /// bcrypt over base64(SHA-256(password)).
    V1,
    /// bcrypt over base64(HMAC-SHA-256(salt, password)).
    V2,
}

impl LegacyHash {
    /// Parses and checks a hash in one of the older formats, without hashing anything.
    pub(crate) fn parse(encoded: &str) -> Result<LegacyHash, HashError> {
        let without_dollar = encoded.strip_prefix('$').unwrap_or(encoded);
        let (identifier, rest) = without_dollar
            .split_once('$')
            .unwrap_or((without_dollar, ""));

        match identifier {
            "6" => parse_sha_crypt(ShaCryptVariant::Sha512, rest),
            "5" => parse_sha_crypt(ShaCryptVariant::Sha256, rest),
            "pbkdf2" | "pbkdf2-sha1" => parse_pbkdf2(Pbkdf2Digest::Sha1, rest),
            "pbkdf2-sha224" => parse_pbkdf2(Pbkdf2Digest::Sha224, rest),
            "pbkdf2-sha256" => parse_pbkdf2(Pbkdf2Digest::Sha256, rest),
            "pbkdf2-sha384" => parse_pbkdf2(Pbkdf2Digest::Sha384, rest),
            "pbkdf2-sha512" => parse_pbkdf2(Pbkdf2Digest::Sha512, rest),
            "2a" | "2b" | "2y" => parse_bcrypt(encoded, rest),
            "bcrypt-sha256" => parse_bcrypt_sha256(rest),
            "scrypt" => parse_scrypt(rest),
            "2" | "2x" => Err(unsupported(
                "bcrypt $2$ and $2x$ hashes are not supported because implementations disagree \
                 on them; set a new password",
            )),
            "y" | "gy" | "7" => Err(unsupported(
                "yescrypt ($y$, $gy$) and $7$ scrypt hashes are not supported; set a new password",
            )),
            "1" => Err(unsupported(
                "MD5-crypt ($1$) is not supported; set a new password",
            )),
            _ => Err(unsupported(SUPPORTED_FORMATS)),
        }
    }

    /// Returns the format of this hash.
    pub(crate) fn format(&self) -> HashFormat {
        match self {
            LegacyHash::ShaCrypt {
                variant: ShaCryptVariant::Sha512,
                ..
            } => HashFormat::Sha512Crypt,
            LegacyHash::ShaCrypt {
                variant: ShaCryptVariant::Sha256,
                ..
            } => HashFormat::Sha256Crypt,
            LegacyHash::Pbkdf2 { digest, .. } => HashFormat::Pbkdf2(*digest),
            LegacyHash::Bcrypt { .. } => HashFormat::Bcrypt,
            LegacyHash::BcryptSha256 { .. } => HashFormat::BcryptSha256,
            LegacyHash::Scrypt { .. } => HashFormat::Scrypt,
        }
    }

    /// Computes the hash of `password` with this hash's parameters and compares the result with
    /// the stored value in constant time.
    pub(crate) fn verify(&self, password: &str) -> Result<bool, HashError> {
        match self {
            LegacyHash::ShaCrypt {
                variant,
                rounds,
                salt,
                checksum,
            } => verify_sha_crypt(*variant, *rounds, salt, checksum, password),
            LegacyHash::Pbkdf2 {
                digest,
                iterations,
                salt,
                key,
            } => Ok(verify_pbkdf2(*digest, *iterations, salt, key, password)),
            LegacyHash::Bcrypt { encoded } => verify_bcrypt(password.as_bytes(), encoded, "bcrypt"),
            LegacyHash::BcryptSha256 {
                version,
                cost,
                salt,
                checksum,
            } => verify_bcrypt_sha256(*version, *cost, salt, checksum, password),
            LegacyHash::Scrypt { params, salt, key } => verify_scrypt(params, salt, key, password),
        }
    }
}

fn unsupported(reason: &'static str) -> HashError {
    HashError::UnsupportedFormat { reason }
}

fn malformed(format: &'static str, problem: &'static str) -> HashError {
    HashError::Malformed { format, problem }
}

fn sha_crypt_name(variant: ShaCryptVariant) -> &'static str {
    match variant {
        ShaCryptVariant::Sha512 => "sha512-crypt ($6$)",
        ShaCryptVariant::Sha256 => "sha256-crypt ($5$)",
    }
}

fn pbkdf2_name(digest: Pbkdf2Digest) -> &'static str {
    match digest {
        Pbkdf2Digest::Sha1 => "pbkdf2-sha1",
        Pbkdf2Digest::Sha224 => "pbkdf2-sha224",
        Pbkdf2Digest::Sha256 => "pbkdf2-sha256",
        Pbkdf2Digest::Sha384 => "pbkdf2-sha384",
        Pbkdf2Digest::Sha512 => "pbkdf2-sha512",
    }
}

fn is_in_alphabet(text: &str, alphabet: &[u8]) -> bool {
    text.bytes().all(|byte| alphabet.contains(&byte))
}

/// Checks that a bcrypt salt (22 characters) and checksum (31 characters) use only bcrypt's
/// base64 alphabet and leave the unused low bits of their last character zero.
///
/// The `bcrypt` crate rejects other encodings when verifying, so they are rejected at parse
/// time as well, which is when a users file is loaded.
fn is_canonical_bcrypt_base64(salt: &str, checksum: &str) -> bool {
    let last_index = |text: &str| {
        let last = *text.as_bytes().last()?;
        BCRYPT_ALPHABET.iter().position(|&byte| byte == last)
    };
    salt.len() == BCRYPT_SALT_CHARS
        && checksum.len() == BCRYPT_CHECKSUM_CHARS
        && is_in_alphabet(salt, BCRYPT_ALPHABET)
        && is_in_alphabet(checksum, BCRYPT_ALPHABET)
        // 22 characters carry 132 bits for a 128-bit salt, so the last 4 bits are unused.
        && last_index(salt).is_some_and(|index| index % 16 == 0)
        // 31 characters carry 186 bits for a 184-bit checksum, so the last 2 bits are unused.
        && last_index(checksum).is_some_and(|index| index % 4 == 0)
}

/// Parses a positive decimal without sign or leading zeros.
fn parse_positive_decimal(text: &str) -> Option<u64> {
    let canonical = !text.is_empty()
        && text.bytes().all(|byte| byte.is_ascii_digit())
        && !text.starts_with('0');
    if canonical {
        text.parse().ok()
    } else {
        None
    }
}

fn parse_sha_crypt(variant: ShaCryptVariant, rest: &str) -> Result<LegacyHash, HashError> {
    let format = sha_crypt_name(variant);
    let mut fields: Vec<&str> = rest.split('$').collect();

    let mut rounds = sha_crypt::ROUNDS_DEFAULT;
    if let Some(rounds_text) = fields
        .first()
        .and_then(|field| field.strip_prefix("rounds="))
    {
        if rounds_text.is_empty() || !rounds_text.bytes().all(|byte| byte.is_ascii_digit()) {
            return Err(malformed(
                format,
                "rounds= must be followed by a decimal number",
            ));
        }
        // glibc's crypt(3) clamps the round count into its allowed range instead of failing,
        // and a number too large for u64 is clamped to the maximum the same way.
        let requested = rounds_text.parse::<u64>().unwrap_or(u64::MAX);
        let requested = usize::try_from(requested).unwrap_or(usize::MAX);
        rounds = requested.clamp(sha_crypt::ROUNDS_MIN, sha_crypt::ROUNDS_MAX);
        fields.remove(0);
    }

    let [salt, checksum] = fields[..] else {
        return Err(malformed(
            format,
            "expected [rounds=N$]salt$checksum after the prefix",
        ));
    };
    let salt_is_valid = salt.len() <= SHA_CRYPT_MAX_SALT_BYTES
        && !salt
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || c == ':');
    if !salt_is_valid {
        return Err(malformed(
            format,
            "the salt must be at most 16 characters without ':', whitespace or control characters",
        ));
    }

    let checksum_length = match variant {
        ShaCryptVariant::Sha512 => 86,
        ShaCryptVariant::Sha256 => 43,
    };
    if checksum.len() != checksum_length || !is_in_alphabet(checksum, CRYPT_ALPHABET) {
        return Err(malformed(
            format,
            "the checksum has the wrong length or characters",
        ));
    }

    Ok(LegacyHash::ShaCrypt {
        variant,
        rounds,
        salt: salt.to_owned(),
        checksum: checksum.to_owned(),
    })
}

fn verify_sha_crypt(
    variant: ShaCryptVariant,
    rounds: usize,
    salt: &str,
    checksum: &str,
    password: &str,
) -> Result<bool, HashError> {
    let failed = |_| malformed(sha_crypt_name(variant), "the round count is out of range");

    // The `*_b64` functions return the checksum in crypt's own encoding, so the comparison is
    // between two strings of the same fixed length.
    let computed = match variant {
        ShaCryptVariant::Sha512 => {
            let params = sha_crypt::Sha512Params::new(rounds).map_err(failed)?;
            sha_crypt::sha512_crypt_b64(password.as_bytes(), salt.as_bytes(), &params)
        }
        ShaCryptVariant::Sha256 => {
            let params = sha_crypt::Sha256Params::new(rounds).map_err(failed)?;
            sha_crypt::sha256_crypt_b64(password.as_bytes(), salt.as_bytes(), &params)
        }
    }
    .map_err(|_| HashError::Failed("SHA-crypt computation failed"))?;

    Ok(computed.as_bytes().ct_eq(checksum.as_bytes()).into())
}

fn parse_pbkdf2(digest: Pbkdf2Digest, rest: &str) -> Result<LegacyHash, HashError> {
    let format = pbkdf2_name(digest);
    let fields: Vec<&str> = rest.split('$').collect();
    let [iterations, salt, key] = fields[..] else {
        return Err(malformed(
            format,
            "expected iterations$salt$key after the prefix",
        ));
    };

    let iterations = parse_positive_decimal(iterations)
        .and_then(|value| u32::try_from(value).ok())
        .ok_or_else(|| malformed(format, "the iteration count must be a positive decimal"))?;
    let salt = ADAPTED_BASE64
        .decode(salt.replace('.', "+"))
        .map_err(|_| malformed(format, "the salt is not valid adapted base64"))?;
    let key = ADAPTED_BASE64
        .decode(key.replace('.', "+"))
        .map_err(|_| malformed(format, "the key is not valid adapted base64"))?;
    if key.is_empty() || key.len() > PBKDF2_MAX_KEY_BYTES {
        return Err(malformed(
            format,
            "the key must be between 1 and 1024 bytes",
        ));
    }

    Ok(LegacyHash::Pbkdf2 {
        digest,
        iterations,
        salt,
        key,
    })
}

fn verify_pbkdf2(
    digest: Pbkdf2Digest,
    iterations: u32,
    salt: &[u8],
    key: &[u8],
    password: &str,
) -> bool {
    let mut computed = zeroize::Zeroizing::new(vec![0_u8; key.len()]);
    let password = password.as_bytes();
    match digest {
        Pbkdf2Digest::Sha1 => {
            pbkdf2::pbkdf2_hmac::<sha1::Sha1>(password, salt, iterations, &mut computed);
        }
        Pbkdf2Digest::Sha224 => {
            pbkdf2::pbkdf2_hmac::<Sha224>(password, salt, iterations, &mut computed)
        }
        Pbkdf2Digest::Sha256 => {
            pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, iterations, &mut computed)
        }
        Pbkdf2Digest::Sha384 => {
            pbkdf2::pbkdf2_hmac::<Sha384>(password, salt, iterations, &mut computed)
        }
        Pbkdf2Digest::Sha512 => {
            pbkdf2::pbkdf2_hmac::<Sha512>(password, salt, iterations, &mut computed)
        }
    }
    computed.ct_eq(key).into()
}

/// Parses a bcrypt cost: two decimal digits between 04 and 31.
fn parse_bcrypt_cost(text: &str) -> Option<u32> {
    if text.is_empty() || !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    let cost = text.parse::<u32>().ok()?;
    (4..=31).contains(&cost).then_some(cost)
}

fn parse_bcrypt(encoded: &str, rest: &str) -> Result<LegacyHash, HashError> {
    let Some((cost, salt_and_checksum)) = rest.split_once('$') else {
        return Err(malformed(
            "bcrypt",
            "expected a cost and 53 characters after the prefix",
        ));
    };
    if cost.len() != 2 || parse_bcrypt_cost(cost).is_none() {
        return Err(malformed(
            "bcrypt",
            "the cost must be two digits between 04 and 31",
        ));
    }
    let is_canonical = salt_and_checksum.is_char_boundary(BCRYPT_SALT_CHARS) && {
        let (salt, checksum) = salt_and_checksum.split_at(BCRYPT_SALT_CHARS);
        is_canonical_bcrypt_base64(salt, checksum)
    };
    if !is_canonical {
        return Err(malformed(
            "bcrypt",
            "the salt and checksum must be 53 characters of canonical bcrypt base64",
        ));
    }
    Ok(LegacyHash::Bcrypt {
        encoded: encoded.to_owned(),
    })
}

fn verify_bcrypt(password: &[u8], encoded: &str, format: &'static str) -> Result<bool, HashError> {
    // NOTE: bcrypt reads only the first 72 bytes of the password, so a longer password matches
    // any password that shares those bytes. passlib and Authelia's bcrypt truncate the same way,
    // and rejecting long passwords here would lock out users whose hashes were made that way.
    bcrypt::verify(password, encoded)
        .map_err(|_| malformed(format, "the salt or checksum does not decode"))
}

fn parse_bcrypt_sha256(rest: &str) -> Result<LegacyHash, HashError> {
    const FORMAT: &str = "bcrypt-sha256";
    let fields: Vec<&str> = rest.split('$').collect();
    let [settings, salt, checksum] = fields[..] else {
        return Err(malformed(
            FORMAT,
            "expected settings$salt$checksum after the prefix",
        ));
    };

    let setting_fields: Vec<&str> = settings.split(',').collect();
    let (version, ident, cost) = match setting_fields[..] {
        ["v=2", ident, cost] => (
            BcryptSha256Version::V2,
            ident.strip_prefix("t="),
            cost.strip_prefix("r="),
        ),
        [ident, cost] => (BcryptSha256Version::V1, Some(ident), Some(cost)),
        _ => {
            return Err(malformed(
                FORMAT,
                "the settings must be v=2,t=2b,r=COST or 2b,COST",
            ))
        }
    };
    if !matches!(ident, Some("2a" | "2b")) {
        return Err(malformed(FORMAT, "the bcrypt variant must be 2a or 2b"));
    }
    let cost = cost
        .and_then(parse_bcrypt_cost)
        .ok_or_else(|| malformed(FORMAT, "the cost must be a number between 4 and 31"))?;

    if !is_canonical_bcrypt_base64(salt, checksum) {
        return Err(malformed(
            FORMAT,
            "the salt and checksum must be 22 and 31 characters of canonical bcrypt base64",
        ));
    }

    Ok(LegacyHash::BcryptSha256 {
        version,
        cost,
        salt: salt.to_owned(),
        checksum: checksum.to_owned(),
    })
}

fn verify_bcrypt_sha256(
    version: BcryptSha256Version,
    cost: u32,
    salt: &str,
    checksum: &str,
    password: &str,
) -> Result<bool, HashError> {
    let digest = match version {
        BcryptSha256Version::V1 => Sha256::digest(password.as_bytes()),
        BcryptSha256Version::V2 => {
            // passlib keys the HMAC with the salt as written (22 ASCII characters), not with
            // the decoded salt bytes.
            let mut mac = Hmac::<Sha256>::new_from_slice(salt.as_bytes())
                .map_err(|_| HashError::Failed("HMAC-SHA-256 rejected the key"))?;
            mac.update(password.as_bytes());
            mac.finalize().into_bytes()
        }
    };
    let bcrypt_input = zeroize::Zeroizing::new(STANDARD.encode(digest));
    let bcrypt_hash = format!("$2b${cost:02}${salt}{checksum}");
    verify_bcrypt(bcrypt_input.as_bytes(), &bcrypt_hash, "bcrypt-sha256")
}

fn parse_scrypt(rest: &str) -> Result<LegacyHash, HashError> {
    const FORMAT: &str = "scrypt";
    let fields: Vec<&str> = rest.split('$').collect();
    let [settings, salt, key] = fields[..] else {
        return Err(malformed(
            FORMAT,
            "expected ln=…,r=…,p=…$salt$key after the prefix",
        ));
    };

    let setting_fields: Vec<&str> = settings.split(',').collect();
    let [log_n, block_size, parallelism] = setting_fields[..] else {
        return Err(malformed(FORMAT, "the settings must be ln=N,r=R,p=P"));
    };
    let number = |field: &str, name: &str| {
        field
            .strip_prefix(name)
            .and_then(parse_positive_decimal)
            .and_then(|value| u32::try_from(value).ok())
    };
    let (Some(log_n), Some(block_size), Some(parallelism)) = (
        number(log_n, "ln="),
        number(block_size, "r="),
        number(parallelism, "p="),
    ) else {
        return Err(malformed(
            FORMAT,
            "the settings must be ln=N,r=R,p=P with positive numbers",
        ));
    };

    let log_n = u8::try_from(log_n).map_err(|_| malformed(FORMAT, "ln is out of range"))?;
    // The output length in `Params` is only used by the crate's PHC hasher, which this module
    // does not call. The key length comes from the stored key.
    let params = scrypt::Params::new(
        log_n,
        block_size,
        parallelism,
        scrypt::Params::RECOMMENDED_LEN,
    )
    .map_err(|_| malformed(FORMAT, "ln, r and p are out of range for scrypt"))?;
    let memory_bytes =
        128_u64 * u64::from(block_size) * ((1_u64 << log_n) + u64::from(parallelism));
    if memory_bytes > MAX_HASH_MEMORY_BYTES {
        return Err(malformed(
            FORMAT,
            "ln, r and p need more than 4 GiB of memory",
        ));
    }

    let salt = ADAPTED_BASE64
        .decode(salt.replace('.', "+"))
        .map_err(|_| malformed(FORMAT, "the salt is not valid base64"))?;
    let key = ADAPTED_BASE64
        .decode(key.replace('.', "+"))
        .map_err(|_| malformed(FORMAT, "the key is not valid base64"))?;
    if key.is_empty() || key.len() > SCRYPT_MAX_KEY_BYTES {
        return Err(malformed(
            FORMAT,
            "the key must be between 1 and 1024 bytes",
        ));
    }

    Ok(LegacyHash::Scrypt { params, salt, key })
}

fn verify_scrypt(
    params: &scrypt::Params,
    salt: &[u8],
    key: &[u8],
    password: &str,
) -> Result<bool, HashError> {
    let mut computed = zeroize::Zeroizing::new(vec![0_u8; key.len()]);
    scrypt::scrypt(password.as_bytes(), salt, params, &mut computed)
        .map_err(|_| malformed("scrypt", "the key length is out of range"))?;
    Ok(computed.ct_eq(key).into())
}

#[cfg(test)]
mod tests {
    use crate::identity::hashing::{verify_password, HashError, Verified};
    use crate::identity::test_vectors::*;

    fn assert_verifies(hash: &str, password: &str) {
        let right = verify_password(password, hash);
        let wrong = verify_password(WRONG_PASSWORD, hash);

        assert_eq!(
            right,
            Ok(Verified {
                matches: true,
                needs_rehash: true
            }),
            "{hash}"
        );
        assert_eq!(
            wrong,
            Ok(Verified {
                matches: false,
                needs_rehash: true
            }),
            "{hash}"
        );
    }

    fn assert_malformed(hash: &str, expected_format: &str) {
        let result = verify_password(PASSWORD, hash);
        match result {
            Err(HashError::Malformed { format, .. }) => {
                assert_eq!(format, expected_format, "{hash}")
            }
            other => panic!("{hash} gave {other:?}, expected a malformed {expected_format} error"),
        }
    }

    #[test]
    fn sha512_crypt_with_rounds() {
        assert_verifies(SHA512_CRYPT_ROUNDS, PASSWORD);
    }

    #[test]
    fn sha512_crypt_without_rounds() {
        assert_verifies(SHA512_CRYPT_IMPLICIT, PASSWORD);
    }

    #[test]
    fn sha256_crypt_with_rounds() {
        assert_verifies(SHA256_CRYPT_ROUNDS, UNICODE_PASSWORD);
    }

    #[test]
    fn sha256_crypt_without_rounds() {
        assert_verifies(SHA256_CRYPT_IMPLICIT, PASSWORD);
    }

    #[test]
    fn sha_crypt_clamps_low_rounds() {
        // glibc computes rounds=10 as rounds=1000, so the checksum made with 1000 rounds matches.
        let low = SHA512_CRYPT_ROUNDS.replace("rounds=1000", "rounds=10");

        assert_verifies(&low, PASSWORD);
    }

    #[test]
    fn sha_crypt_rejects_malformed() {
        let sha512 = "sha512-crypt ($6$)";
        let sha256 = "sha256-crypt ($5$)";
        let cases = [
            (
                SHA512_CRYPT_IMPLICIT.replace("$6$QjfvXn20hrMCWUSF$", "$6$"),
                sha512,
            ),
            (format!("{SHA512_CRYPT_IMPLICIT}x"), sha512),
            (format!("{SHA512_CRYPT_IMPLICIT}$extra"), sha512),
            (
                SHA512_CRYPT_ROUNDS.replace("rounds=1000", "rounds=abc"),
                sha512,
            ),
            (
                SHA512_CRYPT_ROUNDS.replace("rounds=1000", "rounds="),
                sha512,
            ),
            (
                SHA512_CRYPT_IMPLICIT.replace("QjfvXn20hrMCWUSF", "QjfvXn20hrMCWUSFX"),
                sha512,
            ),
            (
                SHA256_CRYPT_IMPLICIT.replace(".PqvljepfVS6YJ", "!PqvljepfVS6YJ"),
                sha256,
            ),
            (
                SHA256_CRYPT_IMPLICIT[..SHA256_CRYPT_IMPLICIT.len() - 1].to_owned(),
                sha256,
            ),
        ];

        for (hash, format) in &cases {
            assert_malformed(hash, format);
        }
    }

    #[test]
    fn pbkdf2_every_digest() {
        assert_verifies(PBKDF2_SHA1, PASSWORD);
        assert_verifies(PBKDF2_SHA224, PASSWORD);
        assert_verifies(PBKDF2_SHA256, UNICODE_PASSWORD);
        assert_verifies(PBKDF2_SHA384, PASSWORD);
        assert_verifies(PBKDF2_SHA512, PASSWORD);
    }

    #[test]
    fn pbkdf2_sha1_with_explicit_digest() {
        let explicit = PBKDF2_SHA1.replace("$pbkdf2$", "$pbkdf2-sha1$");

        assert_verifies(&explicit, PASSWORD);
    }

    #[test]
    fn pbkdf2_accepts_standard_base64() {
        // passlib reads `+` as well as its own `.`; the SHA-384 vector has a `.` in its salt.
        assert!(PBKDF2_SHA384.contains('.'));
        let standard = PBKDF2_SHA384.replace('.', "+");

        assert_verifies(&standard, PASSWORD);
    }

    #[test]
    fn pbkdf2_rejects_malformed() {
        let cases = [
            "$pbkdf2-sha512$0$z1mrlRLifO/933uPEYIwRg$jCwd5/PKGJUjLE4P",
            "$pbkdf2-sha512$01000$z1mrlRLifO/933uPEYIwRg$jCwd5/PKGJUjLE4P",
            "$pbkdf2-sha512$-5$z1mrlRLifO/933uPEYIwRg$jCwd5/PKGJUjLE4P",
            "$pbkdf2-sha512$1000$z1mrlRLifO/933uPEYIwRg",
            "$pbkdf2-sha512$1000$z1mr!RLifO/933uPEYIwRg$jCwd5/PKGJUjLE4P",
            "$pbkdf2-sha512$1000$z1mrlRLifO/933uPEYIwRg$",
            "$pbkdf2-sha512$1000$z1mrlRLifO/933uPEYIwRg$jCwd5/PKGJUjLE4P$x",
        ];

        for hash in cases {
            assert_malformed(hash, "pbkdf2-sha512");
        }
    }

    #[test]
    fn bcrypt_every_prefix() {
        assert_verifies(BCRYPT_2A, PASSWORD);
        assert_verifies(BCRYPT_2B, PASSWORD);
        assert_verifies(BCRYPT_2Y, PASSWORD);
        assert_verifies(BCRYPT_UNICODE, UNICODE_PASSWORD);
    }

    #[test]
    fn bcrypt_rejects_malformed() {
        let cases = [
            BCRYPT_2B.replace("$04$", "$4$"),
            BCRYPT_2B.replace("$04$", "$03$"),
            BCRYPT_2B.replace("$04$", "$32$"),
            BCRYPT_2B[..BCRYPT_2B.len() - 1].to_owned(),
            format!("{BCRYPT_2B}A"),
            BCRYPT_2B.replace("GJc/s0f9", "GJc+s0f9"),
            // The salt ends in "u"; "v" sets one of the unused low bits.
            BCRYPT_2B.replace("OALajIuv4", "OALajIvv4"),
            // The checksum ends in "e"; "f" sets one of the unused low bits.
            BCRYPT_2B.replace("YjExge", "YjExgf"),
        ];

        for hash in &cases {
            assert_malformed(hash, "bcrypt");
        }
    }

    #[test]
    fn bcrypt_rejects_2x() {
        let hash = BCRYPT_2B.replace("$2b$", "$2x$");

        let result = verify_password(PASSWORD, &hash);

        assert!(
            matches!(result, Err(HashError::UnsupportedFormat { .. })),
            "{result:?}"
        );
    }

    #[test]
    fn bcrypt_sha256_versions() {
        assert_verifies(BCRYPT_SHA256_V2, PASSWORD);
        assert_verifies(BCRYPT_SHA256_V2_UNICODE, UNICODE_PASSWORD);
        assert_verifies(BCRYPT_SHA256_V1, PASSWORD);
    }

    #[test]
    fn bcrypt_sha256_rejects_malformed() {
        let cases = [
            BCRYPT_SHA256_V2.replace("v=2,", "v=3,"),
            BCRYPT_SHA256_V2.replace("t=2b", "t=2y"),
            BCRYPT_SHA256_V2.replace("r=4", "r=3"),
            BCRYPT_SHA256_V2.replace("r=4", "r=x"),
            BCRYPT_SHA256_V2.replace("$oUZD6FVzQM0rIqMMMnZXHe$", "$oUZD6FVzQM0rIqMMMnZXH$"),
            BCRYPT_SHA256_V2[..BCRYPT_SHA256_V2.len() - 1].to_owned(),
            BCRYPT_SHA256_V2.replace("MnZXHe$", "MnZXHf$"),
        ];

        for hash in &cases {
            assert_malformed(hash, "bcrypt-sha256");
        }
    }

    #[test]
    fn scrypt_vectors() {
        assert_verifies(SCRYPT, PASSWORD);
        assert_verifies(SCRYPT_UNICODE, UNICODE_PASSWORD);
    }

    #[test]
    fn scrypt_rejects_malformed() {
        let cases = [
            SCRYPT.replace("ln=4,r=8,p=1", "ln=4,r=8"),
            SCRYPT.replace("ln=4,r=8,p=1", "r=8,ln=4,p=1"),
            SCRYPT.replace("ln=4,r=8,p=1", "ln=4,r=0,p=1"),
            SCRYPT.replace("ln=4,r=8,p=1", "ln=300,r=8,p=1"),
            SCRYPT.replace("ln=4,r=8,p=1", "ln=30,r=8,p=1"),
            SCRYPT.replace("$REiptdZ6b00JgTBGqLVWig$", "$RE!ptdZ6b00JgTBGqLVWig$"),
            format!("{SCRYPT}$x"),
        ];

        for hash in &cases {
            assert_malformed(hash, "scrypt");
        }
    }

    #[test]
    fn yescrypt_is_unsupported() {
        let hash = "$y$j9T$F5Jx5fExrKuPp53xLKQ..1$X3DX6M94c7o.9agCG9G317fhZg9SqC.5i5rd.RhAtQ7";

        let result = verify_password(PASSWORD, hash);

        assert!(
            matches!(result, Err(HashError::UnsupportedFormat { .. })),
            "{result:?}"
        );
    }
}
