//! The password policy that new passwords (reset and change, not login) must meet.
//!
//! `standard` checks the length in bytes and the character classes: uppercase `A-Z`, lowercase
//! `a-z`, digit `0-9`, and special, which is any character outside those three. `zxcvbn`
//! requires a minimum strength score from 1 to 4. With neither, any non-empty password passes.

use serde_json::{json, Value};

use crate::config::PasswordPolicyConfig;

/// The message every policy failure gets, as Authelia words it.
pub const POLICY_FAILED: &str =
    "Your supplied password does not meet the password policy requirements.";

/// The number of leading characters zxcvbn rates. Its matching grows faster than linearly with
/// the length, and a password this long already scores 4 unless it repeats a pattern.
const ZXCVBN_MAX_CHARS: usize = 128;

/// The rule a password broke. Logged at debug level, never sent to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyViolation {
    Empty,
    TooShort,
    TooLong,
    MissingUppercase,
    MissingLowercase,
    MissingNumber,
    MissingSpecial,
    /// The zxcvbn score is below the minimum.
    TooWeak {
        score: u8,
    },
}

/// Checks `password` against the policy. `user_inputs` (user name, display name, e-mail
/// addresses) count as known words for zxcvbn, so a password built from them scores lower.
pub fn check_password(
    policy: &PasswordPolicyConfig,
    password: &str,
    user_inputs: &[&str],
) -> Result<(), PolicyViolation> {
    if password.is_empty() {
        return Err(PolicyViolation::Empty);
    }
    match policy {
        PasswordPolicyConfig::Disabled => Ok(()),
        PasswordPolicyConfig::Standard(standard) => {
            let length = password.len();
            if length < standard.min_length as usize {
                return Err(PolicyViolation::TooShort);
            }
            if standard.max_length > 0 && length > standard.max_length as usize {
                return Err(PolicyViolation::TooLong);
            }
            let has = |test: fn(&char) -> bool| password.chars().any(|c| test(&c));
            if standard.require_uppercase && !has(char::is_ascii_uppercase) {
                return Err(PolicyViolation::MissingUppercase);
            }
            if standard.require_lowercase && !has(char::is_ascii_lowercase) {
                return Err(PolicyViolation::MissingLowercase);
            }
            if standard.require_number && !has(char::is_ascii_digit) {
                return Err(PolicyViolation::MissingNumber);
            }
            if standard.require_special && !has(|c| !c.is_ascii_alphanumeric()) {
                return Err(PolicyViolation::MissingSpecial);
            }
            Ok(())
        }
        PasswordPolicyConfig::Zxcvbn { min_score } => {
            let rated: String = password.chars().take(ZXCVBN_MAX_CHARS).collect();
            let score = u8::from(zxcvbn::zxcvbn(&rated, user_inputs).score());
            if score < *min_score {
                return Err(PolicyViolation::TooWeak { score });
            }
            Ok(())
        }
    }
}

/// Builds the `data` of `GET /api/configuration/password-policy`: the mode (`disabled`,
/// `standard` or `zxcvbn`) and every parameter, zero or false where the mode has none.
pub fn describe_policy(policy: &PasswordPolicyConfig) -> Value {
    let mut data = json!({
        "mode": "disabled",
        "min_length": 0,
        "max_length": 0,
        "min_score": 0,
        "require_uppercase": false,
        "require_lowercase": false,
        "require_number": false,
        "require_special": false,
    });
    match policy {
        PasswordPolicyConfig::Disabled => {}
        PasswordPolicyConfig::Standard(standard) => {
            data["mode"] = json!("standard");
            data["min_length"] = json!(standard.min_length);
            data["max_length"] = json!(standard.max_length);
            data["require_uppercase"] = json!(standard.require_uppercase);
            data["require_lowercase"] = json!(standard.require_lowercase);
            data["require_number"] = json!(standard.require_number);
            data["require_special"] = json!(standard.require_special);
        }
        PasswordPolicyConfig::Zxcvbn { min_score } => {
            data["mode"] = json!("zxcvbn");
            data["min_score"] = json!(min_score);
        }
    }
    data
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::StandardPolicy;

    fn standard(min_length: u32, max_length: u32) -> PasswordPolicyConfig {
        PasswordPolicyConfig::Standard(StandardPolicy {
            min_length,
            max_length,
            require_uppercase: true,
            require_lowercase: true,
            require_number: true,
            require_special: true,
        })
    }

    #[test]
    fn standard_policy_rules() {
        let policy = standard(8, 16);
        let cases = [
            ("", Err(PolicyViolation::Empty)),
            ("Ab1!", Err(PolicyViolation::TooShort)),
            ("Ab1!Ab1!Ab1!Ab1!x", Err(PolicyViolation::TooLong)),
            ("abcdefg1!", Err(PolicyViolation::MissingUppercase)),
            ("ABCDEFG1!", Err(PolicyViolation::MissingLowercase)),
            ("Abcdefgh!", Err(PolicyViolation::MissingNumber)),
            ("Abcdefgh1", Err(PolicyViolation::MissingSpecial)),
            ("Abcdefg1!", Ok(())),
            ("Abcdefg1 ", Ok(())),
            ("Abcdéfg1", Ok(())),
        ];
        for (password, expected) in cases {
            assert_eq!(
                check_password(&policy, password, &[]),
                expected,
                "{password:?}"
            );
        }
    }

    #[test]
    fn length_counts_bytes() {
        let policy = PasswordPolicyConfig::Standard(StandardPolicy {
            min_length: 8,
            max_length: 0,
            require_uppercase: false,
            require_lowercase: false,
            require_number: false,
            require_special: false,
        });
        // Four characters of two bytes each.
        assert_eq!(check_password(&policy, "éééé", &[]), Ok(()));
        assert_eq!(
            check_password(&policy, "ééé", &[]),
            Err(PolicyViolation::TooShort)
        );
        assert_eq!(check_password(&policy, &"x".repeat(10_000), &[]), Ok(()));
    }

    #[test]
    fn zxcvbn_policy_scores() {
        let policy = PasswordPolicyConfig::Zxcvbn { min_score: 3 };
        assert!(matches!(
            check_password(&policy, "password1", &[]),
            Err(PolicyViolation::TooWeak { .. })
        ));
        assert!(matches!(
            check_password(&policy, "alicexample", &["alicexample"]),
            Err(PolicyViolation::TooWeak { .. })
        ));
        assert_eq!(
            check_password(&policy, "ocean-Lantern-74-quietly-Mango", &[]),
            Ok(())
        );
    }

    #[test]
    fn disabled_policy_needs_only_a_character() {
        let policy = PasswordPolicyConfig::Disabled;
        assert_eq!(check_password(&policy, "a", &[]), Ok(()));
        assert_eq!(
            check_password(&policy, "", &[]),
            Err(PolicyViolation::Empty)
        );
    }

    #[test]
    fn description_names_the_mode() {
        assert_eq!(
            describe_policy(&PasswordPolicyConfig::Disabled)["mode"],
            "disabled"
        );
        let described = describe_policy(&standard(10, 0));
        assert_eq!(described["mode"], "standard");
        assert_eq!(described["min_length"], 10);
        assert_eq!(described["require_special"], true);
        let described = describe_policy(&PasswordPolicyConfig::Zxcvbn { min_score: 4 });
        assert_eq!(described["mode"], "zxcvbn");
        assert_eq!(described["min_score"], 4);
    }
}
