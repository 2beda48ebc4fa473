//! User names, display names, e-mail addresses and group names: normalisation and validation.
//!
//! Each of these values ends up in a response header (`Remote-User`, `Remote-Name`,
//! `Remote-Email`, `Remote-Groups`), so they are checked where they enter Gatehouse. Control
//! characters could split a header, and a comma in a group name would make the comma-separated
//! `Remote-Groups` ambiguous. Non-ASCII text is allowed and sent as UTF-8.

use std::fmt;

use unicode_normalization::UnicodeNormalization;

/// Maximum length of a username in characters.
pub const MAX_USERNAME_CHARS: usize = 100;

/// The maximum length of a display name, in characters. It is sent as `Remote-Name`, and proxies
/// refuse an upstream header of more than a few KiB (nginx's default buffer is 4 or 8 KiB), which
/// would break every request of that user.
pub const MAX_DISPLAY_NAME_CHARS: usize = 200;

/// The maximum length of a group name, in characters, for the same reason: all of a user's groups
/// are joined into one `Remote-Groups` header.
pub const MAX_GROUP_NAME_CHARS: usize = 100;

/// Maximum length of an e-mail address in bytes, the limit of an SMTP forward path (RFC 5321,
/// section 4.5.3.1.3) without its angle brackets.
pub const MAX_EMAIL_BYTES: usize = 254;

/// Maximum length of the local part of an e-mail address in bytes (RFC 5321, section 4.5.3.1.1).
const MAX_EMAIL_LOCAL_PART_BYTES: usize = 64;

/// Returns the form in which the database backend stores and compares usernames: Unicode NFC,
/// then lower-cased.
///
/// The result is NFC-normalised again, because lower-casing can leave a string that NFC would
/// still change, and applying the function twice must return the same string as applying it once.
pub fn normalize_username(username: &str) -> String {
    let lowered = username.nfc().collect::<String>().to_lowercase();
    lowered.nfc().collect()
}

/// A value that failed validation, with the field it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct InvalidValue {
    /// The field name as the users file spells it: `username`, `displayname`, `email` or
    /// `groups`.
    pub field: &'static str,
    /// The problem with the value.
    pub problem: ValueProblem,
}

/// Problem found in a name, address or group.
///
/// The messages never quote the value, because the value may contain the very characters that
/// make it unsafe to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueProblem {
    /// The value is empty.
    Empty,
    /// The value is longer than the field allows.
    TooLong {
        /// The limit.
        max: usize,
        /// The unit of the limit: `characters` or `bytes`.
        unit: &'static str,
    },
    /// The value contains a control character (Unicode category Cc: C0, DEL or C1).
    ControlCharacter,
    /// The value starts or ends with whitespace.
    SurroundingWhitespace,
    /// A username contains `:`.
    Colon,
    /// A username or group name contains `,`.
    Comma,
    /// An e-mail address is not one `local-part@domain` address.
    NotAnEmailAddress(&'static str),
}

impl fmt::Display for ValueProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ValueProblem::Empty => f.write_str("must not be empty"),
            ValueProblem::TooLong { max, unit } => write!(f, "is longer than {max} {unit}"),
            ValueProblem::ControlCharacter => f.write_str(
                "contains a control character (such as CR, LF, NUL, TAB or DEL), which could \
                 split or corrupt a response header",
            ),
            ValueProblem::SurroundingWhitespace => f.write_str(
                "starts or ends with whitespace, which proxies may strip from a header value",
            ),
            ValueProblem::Colon => f.write_str(
                "contains ':', which Basic credentials use to separate the username from the \
                 password",
            ),
            ValueProblem::Comma => f.write_str(
                "contains ',', which would make the comma-separated Remote-Groups header or a \
                 header list ambiguous",
            ),
            ValueProblem::NotAnEmailAddress(reason) => {
                write!(
                    f,
                    "is not a single e-mail address of the form local-part@domain: {reason}"
                )
            }
        }
    }
}

/// Checks a username: non-empty, at most [`MAX_USERNAME_CHARS`] characters, no control
/// characters, no `:` or `,`, and no whitespace at either end.
pub fn validate_username(username: &str) -> Result<(), InvalidValue> {
    check_username(username).map_err(|problem| InvalidValue {
        field: "username",
        problem,
    })
}

/// Checks a display name: non-empty and without control characters. Any other Unicode text is
/// allowed, for example `Zoë Ålvarez-Nuñez`.
pub fn validate_display_name(display_name: &str) -> Result<(), InvalidValue> {
    check_display_name(display_name).map_err(|problem| InvalidValue {
        field: "displayname",
        problem,
    })
}

/// Checks that a value is exactly one e-mail address, `local-part@domain`, without whitespace,
/// control characters or display-name syntax.
pub fn validate_email(email: &str) -> Result<(), InvalidValue> {
    check_email(email).map_err(|problem| InvalidValue {
        field: "email",
        problem,
    })
}

/// Checks a group name: non-empty, no control characters, no `,`, and no whitespace at either
/// end. Spaces inside are allowed, for example `ops team`.
pub fn validate_group_name(group: &str) -> Result<(), InvalidValue> {
    check_group_name(group).map_err(|problem| InvalidValue {
        field: "groups",
        problem,
    })
}

pub(crate) fn check_username(username: &str) -> Result<(), ValueProblem> {
    check_text(username)?;
    if username.chars().count() > MAX_USERNAME_CHARS {
        return Err(ValueProblem::TooLong {
            max: MAX_USERNAME_CHARS,
            unit: "characters",
        });
    }
    if username.contains(':') {
        return Err(ValueProblem::Colon);
    }
    if username.contains(',') {
        return Err(ValueProblem::Comma);
    }
    Ok(())
}

pub(crate) fn check_display_name(display_name: &str) -> Result<(), ValueProblem> {
    if display_name.is_empty() {
        return Err(ValueProblem::Empty);
    }
    if display_name.chars().any(char::is_control) {
        return Err(ValueProblem::ControlCharacter);
    }
    if display_name.chars().count() > MAX_DISPLAY_NAME_CHARS {
        return Err(ValueProblem::TooLong {
            max: MAX_DISPLAY_NAME_CHARS,
            unit: "characters",
        });
    }
    Ok(())
}

pub(crate) fn check_group_name(group: &str) -> Result<(), ValueProblem> {
    check_text(group)?;
    if group.contains(',') {
        return Err(ValueProblem::Comma);
    }
    if group.chars().count() > MAX_GROUP_NAME_CHARS {
        return Err(ValueProblem::TooLong {
            max: MAX_GROUP_NAME_CHARS,
            unit: "characters",
        });
    }
    Ok(())
}

/// Checks the rules shared by usernames and group names.
fn check_text(value: &str) -> Result<(), ValueProblem> {
    if value.is_empty() {
        return Err(ValueProblem::Empty);
    }
    if value.chars().any(char::is_control) {
        return Err(ValueProblem::ControlCharacter);
    }
    if value.starts_with(char::is_whitespace) || value.ends_with(char::is_whitespace) {
        return Err(ValueProblem::SurroundingWhitespace);
    }
    Ok(())
}

pub(crate) fn check_email(email: &str) -> Result<(), ValueProblem> {
    if email.is_empty() {
        return Err(ValueProblem::Empty);
    }
    if email.chars().any(char::is_control) {
        return Err(ValueProblem::ControlCharacter);
    }
    let not_an_address = ValueProblem::NotAnEmailAddress;
    if email.chars().any(char::is_whitespace) {
        return Err(not_an_address("it contains whitespace"));
    }
    if email.len() > MAX_EMAIL_BYTES {
        return Err(ValueProblem::TooLong {
            max: MAX_EMAIL_BYTES,
            unit: "bytes",
        });
    }

    let Some((local_part, domain)) = email.split_once('@') else {
        return Err(not_an_address("it has no '@'"));
    };
    if domain.contains('@') {
        return Err(not_an_address("it has more than one '@'"));
    }
    check_email_local_part(local_part).map_err(not_an_address)?;
    check_email_domain(domain).map_err(not_an_address)?;
    Ok(())
}

/// Checks a dot-atom local part (RFC 5322 section 3.2.3), with non-ASCII letters allowed as
/// RFC 6531 allows them.
///
/// NOTE: quoted local parts such as `"john doe"@example.com` are valid RFC 5322 but rejected
/// here; they are rare and hard to place safely in a header.
fn check_email_local_part(local_part: &str) -> Result<(), &'static str> {
    const ATEXT_SYMBOLS: &str = "!#$%&'*+-/=?^_`{|}~";

    if local_part.is_empty() {
        return Err("the part before '@' is empty");
    }
    if local_part.len() > MAX_EMAIL_LOCAL_PART_BYTES {
        return Err("the part before '@' is longer than 64 bytes");
    }
    if local_part.starts_with('.') || local_part.ends_with('.') || local_part.contains("..") {
        return Err("the part before '@' has a leading, trailing or doubled '.'");
    }
    let allowed = |c: char| {
        c.is_ascii_alphanumeric() || c == '.' || ATEXT_SYMBOLS.contains(c) || !c.is_ascii()
    };
    if !local_part.chars().all(allowed) {
        return Err(
            "the part before '@' contains a character that needs quoting, such as \
                    '\"', ',', ';', '<', '>', '(', ')', '[', ']' or '\\'",
        );
    }
    Ok(())
}

/// Checks a domain: dot-separated labels of letters, digits and inner hyphens (non-ASCII
/// letters allowed), or an address literal in brackets such as `[192.0.2.1]`.
fn check_email_domain(domain: &str) -> Result<(), &'static str> {
    if domain.is_empty() {
        return Err("the domain after '@' is empty");
    }
    if let Some(literal) = domain
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
    {
        let is_address = literal.parse::<std::net::Ipv4Addr>().is_ok()
            || literal
                .strip_prefix("IPv6:")
                .is_some_and(|address| address.parse::<std::net::Ipv6Addr>().is_ok());
        return if is_address {
            Ok(())
        } else {
            Err("the address literal after '@' is invalid")
        };
    }
    for label in domain.split('.') {
        if label.is_empty() {
            return Err("the domain after '@' has an empty label");
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err("a domain label starts or ends with '-'");
        }
        if !label.chars().all(|c| c.is_alphanumeric() || c == '-') {
            return Err(
                "the domain after '@' contains a character other than letters, digits, \
                        '-' and '.'",
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_username_lowercases() {
        assert_eq!(normalize_username("Alice"), "alice");
        assert_eq!(normalize_username("ÉLODIE"), "élodie");
        assert_eq!(normalize_username("STRASSE"), "strasse");
    }

    #[test]
    fn normalize_username_composes() {
        // "e" followed by U+0301 COMBINING ACUTE ACCENT becomes U+00E9.
        let decomposed = "Jose\u{301}";

        assert_eq!(normalize_username(decomposed), "jos\u{e9}");
        assert_eq!(normalize_username(decomposed), normalize_username("JOSÉ"));
    }

    #[test]
    fn normalize_username_is_idempotent() {
        let mut changed = Vec::new();
        for c in (0..=0x10FFFF_u32).filter_map(char::from_u32) {
            let text = c.to_string();
            let once = normalize_username(&text);
            if normalize_username(&once) != once {
                changed.push(c);
            }
        }

        assert!(changed.is_empty(), "not idempotent for {changed:?}");
    }

    #[test]
    fn username_accepts_ordinary_names() {
        for name in [
            "john",
            "john.doe",
            "j_doe-2",
            "zoë",
            "admin@example.com",
            "Ålvarez",
        ] {
            assert_eq!(validate_username(name), Ok(()), "{name}");
        }
    }

    #[test]
    fn username_rejects_unsafe_names() {
        let cases = [
            ("", ValueProblem::Empty),
            ("mal\nlory", ValueProblem::ControlCharacter),
            ("mal\rlory", ValueProblem::ControlCharacter),
            ("mal\0lory", ValueProblem::ControlCharacter),
            ("mal\tlory", ValueProblem::ControlCharacter),
            ("mal\u{7f}lory", ValueProblem::ControlCharacter),
            ("mal\u{85}lory", ValueProblem::ControlCharacter),
            ("alice:admin", ValueProblem::Colon),
            ("alice,bob", ValueProblem::Comma),
            (" alice", ValueProblem::SurroundingWhitespace),
            ("alice ", ValueProblem::SurroundingWhitespace),
            ("alice\u{a0}", ValueProblem::SurroundingWhitespace),
        ];

        for (name, problem) in cases {
            let expected = Err(InvalidValue {
                field: "username",
                problem,
            });
            assert_eq!(validate_username(name), expected, "{name:?}");
        }
    }

    #[test]
    fn username_length_limit() {
        let longest = "ä".repeat(MAX_USERNAME_CHARS);
        let too_long = "ä".repeat(MAX_USERNAME_CHARS + 1);

        assert_eq!(validate_username(&longest), Ok(()));
        assert_eq!(
            validate_username(&too_long).map_err(|error| error.problem),
            Err(ValueProblem::TooLong {
                max: MAX_USERNAME_CHARS,
                unit: "characters"
            })
        );
    }

    #[test]
    fn display_name_accepts_unicode() {
        for name in [
            "Zoë Ålvarez-Nuñez",
            "John Doe",
            "李小龍",
            "O'Brien, Pat",
            " padded ",
        ] {
            assert_eq!(validate_display_name(name), Ok(()), "{name}");
        }
    }

    #[test]
    fn display_name_and_group_length_limits() {
        let longest = "é".repeat(MAX_DISPLAY_NAME_CHARS);
        assert_eq!(validate_display_name(&longest), Ok(()));
        assert_eq!(
            validate_display_name(&format!("{longest}x")),
            Err(InvalidValue {
                field: "displayname",
                problem: ValueProblem::TooLong {
                    max: MAX_DISPLAY_NAME_CHARS,
                    unit: "characters"
                },
            })
        );
        let longest = "g".repeat(MAX_GROUP_NAME_CHARS);
        assert_eq!(validate_group_name(&longest), Ok(()));
        assert_eq!(
            validate_group_name(&format!("{longest}g")),
            Err(InvalidValue {
                field: "groups",
                problem: ValueProblem::TooLong {
                    max: MAX_GROUP_NAME_CHARS,
                    unit: "characters"
                },
            })
        );
    }

    #[test]
    fn display_name_rejects_control_characters() {
        for name in [
            "Mallory\r\nRemote-Groups: admins",
            "a\nb",
            "a\0b",
            "a\u{1b}[31m",
            "a\u{7f}",
        ] {
            let expected = Err(InvalidValue {
                field: "displayname",
                problem: ValueProblem::ControlCharacter,
            });
            assert_eq!(validate_display_name(name), expected, "{name:?}");
        }
    }

    #[test]
    fn display_name_rejects_empty() {
        assert_eq!(
            validate_display_name(""),
            Err(InvalidValue {
                field: "displayname",
                problem: ValueProblem::Empty
            })
        );
    }

    #[test]
    fn email_accepts_addresses() {
        let cases = [
            "john@example.com",
            "john.doe+tag@mail.example.co.uk",
            "o'brien@example.com",
            "root@localhost",
            "zoë@exämple.com",
            "user@[192.0.2.1]",
            "user@[IPv6:2001:db8::1]",
        ];

        for email in cases {
            assert_eq!(validate_email(email), Ok(()), "{email}");
        }
    }

    #[test]
    fn email_rejects_non_addresses() {
        let cases = [
            "",
            "john",
            "john@",
            "@example.com",
            "john@@example.com",
            "john@example@com",
            "john doe@example.com",
            "john@example.com\r\nBcc: eve@example.com",
            "John <john@example.com>",
            "john@example.com,eve@example.com",
            "john@example.com;eve@example.com",
            ".john@example.com",
            "john.@example.com",
            "jo..hn@example.com",
            "john@example..com",
            "john@.example.com",
            "john@-example.com",
            "john@exa_mple.com",
            "\"john doe\"@example.com",
            "john@[not-an-address]",
        ];

        for email in cases {
            let result = validate_email(email);
            assert!(
                matches!(&result, Err(InvalidValue { field: "email", .. })),
                "{email:?} gave {result:?}"
            );
        }
    }

    #[test]
    fn email_length_limits() {
        let local_too_long = format!("{}@example.com", "a".repeat(65));
        let total_too_long = format!("{}@{}.com", "a".repeat(64), "b".repeat(190));

        assert!(validate_email(&local_too_long).is_err());
        assert_eq!(
            validate_email(&total_too_long).map_err(|error| error.problem),
            Err(ValueProblem::TooLong {
                max: MAX_EMAIL_BYTES,
                unit: "bytes"
            })
        );
    }

    #[test]
    fn group_name_accepts_spaces_inside() {
        for group in ["dev", "ops team", "ÉQUIPE", "a-b_c.d"] {
            assert_eq!(validate_group_name(group), Ok(()), "{group}");
        }
    }

    #[test]
    fn group_name_rejects_unsafe_names() {
        let cases = [
            ("", ValueProblem::Empty),
            ("dev,admins", ValueProblem::Comma),
            ("dev\nadmins", ValueProblem::ControlCharacter),
            (" dev", ValueProblem::SurroundingWhitespace),
        ];

        for (group, problem) in cases {
            let expected = Err(InvalidValue {
                field: "groups",
                problem,
            });
            assert_eq!(validate_group_name(group), expected, "{group:?}");
        }
    }

    #[test]
    fn invalid_value_names_field() {
        let error = validate_display_name("a\nb").unwrap_err();

        let message = error.to_string();

        assert!(
            message.starts_with("displayname: contains a control character"),
            "{message}"
        );
    }
}
