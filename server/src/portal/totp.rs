//! TOTP code checks by RFC 6238 (HOTP of RFC 4226 over time steps), with the algorithm, digits
//! and period of the user's stored device.

use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Sha256, Sha512};
use subtle::ConstantTimeEq;

use crate::storage::TotpConfiguration;

/// Returns the newest time step in `current - skew ..= current + skew` whose code equals
/// `token`, where `current` is the step of `now_secs`. Every step in the window is computed and
/// compared in constant time, so the time taken does not tell which step matched.
pub(super) fn matching_step(
    device: &TotpConfiguration,
    token: &str,
    now_secs: i64,
    skew: u32,
) -> Option<i64> {
    let period = i64::from(device.period.max(1));
    let digits = device.digits;
    if token.len() != digits as usize || !token.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    let current = now_secs.div_euclid(period);
    let skew = i64::from(skew);
    let mut matched = None;
    for step in (current - skew)..=(current + skew) {
        if step < 0 {
            continue;
        }
        let code = code_at(device, step)?;
        if bool::from(code.as_bytes().ct_eq(token.as_bytes())) {
            matched = Some(step);
        }
    }
    matched
}

/// Computes the code of time step `step`. Returns `None` for an algorithm or digit count this
/// module does not implement.
pub(super) fn code_at(device: &TotpConfiguration, step: i64) -> Option<String> {
    let counter = (step as u64).to_be_bytes();
    let digest = match device.algorithm.to_ascii_uppercase().as_str() {
        "SHA1" => hmac_digest::<Hmac<Sha1>>(&device.secret, &counter),
        "SHA256" => hmac_digest::<Hmac<Sha256>>(&device.secret, &counter),
        "SHA512" => hmac_digest::<Hmac<Sha512>>(&device.secret, &counter),
        other => {
            tracing::error!(algorithm = other, username = %device.username, "TOTP device has an unknown algorithm");
            return None;
        }
    };
    if !(6..=10).contains(&device.digits) {
        tracing::error!(digits = device.digits, username = %device.username, "TOTP device has an unsupported digit count");
        return None;
    }
    // Dynamic truncation, RFC 4226 section 5.3.
    let offset = usize::from(digest[digest.len() - 1] & 0x0f);
    let binary = u32::from_be_bytes([
        digest[offset] & 0x7f,
        digest[offset + 1],
        digest[offset + 2],
        digest[offset + 3],
    ]);
    let modulus = 10u64.pow(device.digits);
    let value = u64::from(binary) % modulus;
    Some(format!("{value:0width$}", width = device.digits as usize))
}

fn hmac_digest<M: Mac + hmac::digest::KeyInit>(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut mac = <M as hmac::digest::KeyInit>::new_from_slice(key)
        .expect("HMAC accepts a key of any length");
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device(algorithm: &str, secret: &[u8]) -> TotpConfiguration {
        TotpConfiguration {
            username: "alice".to_owned(),
            issuer: "Gatehouse".to_owned(),
            algorithm: algorithm.to_owned(),
            digits: 8,
            period: 30,
            secret: secret.to_vec(),
            last_used_step: None,
            created_at: 0,
            last_used_at: None,
        }
    }

    /// The test vectors of RFC 6238 appendix B, at T = 59 and T = 1111111109.
    #[test]
    fn rfc_6238_vectors() {
        let sha1 = device("SHA1", b"12345678901234567890");
        let sha256 = device("SHA256", b"12345678901234567890123456789012");
        let sha512 = device(
            "SHA512",
            b"1234567890123456789012345678901234567890123456789012345678901234",
        );
        assert_eq!(code_at(&sha1, 59 / 30).as_deref(), Some("94287082"));
        assert_eq!(code_at(&sha256, 59 / 30).as_deref(), Some("46119246"));
        assert_eq!(code_at(&sha512, 59 / 30).as_deref(), Some("90693936"));
        assert_eq!(code_at(&sha1, 1111111109 / 30).as_deref(), Some("07081804"));
        assert_eq!(
            code_at(&sha256, 1111111109 / 30).as_deref(),
            Some("68084774")
        );
        assert_eq!(
            code_at(&sha512, 1111111109 / 30).as_deref(),
            Some("25091201")
        );
    }

    #[test]
    fn window_and_format() {
        let sha1 = device("SHA1", b"12345678901234567890");
        assert_eq!(matching_step(&sha1, "94287082", 59, 1), Some(1));
        assert_eq!(matching_step(&sha1, "94287082", 89, 1), Some(1));
        assert_eq!(matching_step(&sha1, "94287082", 120, 1), None);
        assert_eq!(matching_step(&sha1, "9428708", 59, 1), None);
        assert_eq!(matching_step(&sha1, "9428708a", 59, 1), None);
    }
}
