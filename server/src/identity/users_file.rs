//! The Authelia-format users file: parsing, validation and writing back.
//!
//! ```yaml
//! users:
//!   john:
//!     disabled: false
//!     displayname: 'John Doe'
//!     password: '$argon2id$v=19$m=65536,t=3,p=4$…$…'
//!     email: john@example.com
//!     groups: [admins, dev]
//! ```
//!
//! `password` and `displayname` are required. Every value that reaches a response header is
//! validated (see [`crate::identity::names`]), and every password hash must be in a format
//! Gatehouse can verify. One bad user rejects the whole file, and the error names the user and
//! the field but never contains a password hash. Optional attributes such as `given_name`,
//! `address` or `extra`, and keys Gatehouse does not know, are kept unchanged for writing back.

use std::fmt;

use serde_norway::{Mapping, Value};

use crate::identity::hashing::{check_hash_format, HashError};
use crate::identity::names::{
    check_display_name, check_email, check_group_name, check_username, ValueProblem,
};
use crate::identity::secret::EncodedHash;

/// Optional user attributes that Authelia 4.38 defines; Gatehouse keeps them but does not use
/// them.
pub const OPTIONAL_ATTRIBUTES: &[&str] = &[
    "given_name",
    "family_name",
    "middle_name",
    "nickname",
    "gender",
    "birthdate",
    "website",
    "profile",
    "picture",
    "zoneinfo",
    "locale",
    "phone_number",
    "phone_extension",
    "address",
    "extra",
];

/// Error from reading or writing a users file.
///
/// Messages name the user and the field (`users.mallory.displayname: …`) and never quote a
/// password hash or the value of a field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsersFileError {
    /// The text is not valid YAML.
    #[error("the users file is not valid YAML: {message}")]
    Yaml {
        /// The 1-based line of the error, when the parser reports one.
        line: Option<usize>,
        /// The 1-based column of the error, when the parser reports one.
        column: Option<usize>,
        /// The parser's message, which includes the position.
        message: String,
    },
    /// The file has no top-level `users` key.
    #[error(
        "the users file has no top-level `users` key; it must contain `users:` followed by one \
         entry per user"
    )]
    MissingUsers,
    /// A value has the wrong YAML type.
    #[error("{path}: must be {expected}")]
    WrongType {
        /// Location of the value, for example `users.john.groups`.
        path: String,
        /// Description of the expected type.
        expected: &'static str,
    },
    /// A required field is missing.
    #[error("{path}: missing; every user needs `displayname` and `password`")]
    MissingField {
        /// The missing field, for example `users.john.password`.
        path: String,
    },
    /// A value breaks the rules for names, e-mail addresses or groups.
    #[error("{path}: {problem}")]
    InvalidValue {
        /// Location of the value, for example `users.mallory.displayname`.
        path: String,
        /// The problem with the value.
        problem: ValueProblem,
    },
    /// A password hash is malformed or in a format Gatehouse cannot verify.
    #[error("{path}: {source}")]
    InvalidPasswordHash {
        /// The field, for example `users.john.password`.
        path: String,
        /// The problem with the hash.
        source: HashError,
    },
    /// Two users have the same name.
    #[error("users.{username}: the username appears more than once")]
    DuplicateUser {
        /// The name, quoted and escaped if it contains unusual characters.
        username: String,
    },
    /// The users could not be written as YAML.
    #[error("failed to write the users file as YAML: {0}")]
    Serialize(String),
}

/// One user of the users file.
///
/// `Debug` is safe to log, because [`EncodedHash`] redacts the password hash.
#[derive(Debug, Clone, PartialEq)]
pub struct FileUser {
    /// The name the user logs in with, exactly as written in the file.
    pub username: String,
    /// Disabled users cannot log in, and their sessions end at the next profile refresh.
    pub disabled: bool,
    /// The `displayname` field, sent as `Remote-Name`.
    pub display_name: String,
    /// The encoded password hash.
    pub password: EncodedHash,
    /// The `email` field, sent as `Remote-Email`; an empty string in the file is read as none.
    pub email: Option<String>,
    /// Group names in file order, sent as `Remote-Groups`.
    pub groups: Vec<String>,
    /// Optional attributes and unknown keys, in file order, kept unchanged.
    pub attributes: Mapping,
}

/// A parsed and validated users file.
#[derive(Debug, Clone, PartialEq)]
pub struct UsersFile {
    users: Vec<FileUser>,
    /// Top-level keys other than `users`, kept so that writing the file back does not lose them.
    other_keys: Mapping,
}

impl UsersFile {
    /// Parses and validates the text of a users file.
    pub fn parse(text: &str) -> Result<UsersFile, UsersFileError> {
        let document: Value = serde_norway::from_str(text).map_err(|error| yaml_error(&error))?;
        let Value::Mapping(mut root) = document else {
            return match document {
                Value::Null => Err(UsersFileError::MissingUsers),
                _ => Err(wrong_type(
                    "(top level)".to_owned(),
                    "a mapping with a `users` key",
                )),
            };
        };

        let users_value = root.remove("users").ok_or(UsersFileError::MissingUsers)?;
        let users_mapping = match users_value {
            Value::Mapping(mapping) => mapping,
            Value::Null => Mapping::new(),
            _ => {
                return Err(wrong_type(
                    "users".to_owned(),
                    "a mapping of usernames to users",
                ))
            }
        };

        let mut users = Vec::with_capacity(users_mapping.len());
        for (key, value) in users_mapping {
            let Value::String(username) = key else {
                return Err(wrong_type(
                    "users".to_owned(),
                    "a mapping whose keys (usernames) are strings; quote numeric names",
                ));
            };
            let user = parse_user(username, value)?;
            validate_user(&user)?;
            users.push(user);
        }

        Ok(UsersFile {
            users,
            other_keys: root,
        })
    }

    /// Returns the users in file order.
    pub fn users(&self) -> &[FileUser] {
        &self.users
    }

    /// Returns the users for changing. [`UsersFile::to_yaml`] validates them again.
    pub fn users_mut(&mut self) -> &mut Vec<FileUser> {
        &mut self.users
    }

    /// Returns the user with exactly this name.
    pub fn user(&self, username: &str) -> Option<&FileUser> {
        self.users.iter().find(|user| user.username == username)
    }

    /// Validates every user again and writes the file as YAML, keeping user order, optional
    /// attributes and unknown keys.
    pub fn to_yaml(&self) -> Result<String, UsersFileError> {
        let mut users = Mapping::new();
        for user in &self.users {
            validate_user(user)?;
            let key = Value::String(user.username.clone());
            if users.contains_key(&key) {
                return Err(UsersFileError::DuplicateUser {
                    username: UserPath(&user.username).to_string(),
                });
            }
            users.insert(key, user_to_value(user));
        }

        let mut root = Mapping::new();
        root.insert(Value::from("users"), Value::Mapping(users));
        for (key, value) in &self.other_keys {
            root.insert(key.clone(), value.clone());
        }
        serde_norway::to_string(&Value::Mapping(root))
            .map_err(|error| UsersFileError::Serialize(error.to_string()))
    }
}

fn yaml_error(error: &serde_norway::Error) -> UsersFileError {
    let location = error.location();
    UsersFileError::Yaml {
        line: location.as_ref().map(serde_norway::Location::line),
        column: location.as_ref().map(serde_norway::Location::column),
        message: error.to_string(),
    }
}

fn wrong_type(path: String, expected: &'static str) -> UsersFileError {
    UsersFileError::WrongType { path, expected }
}

/// A username as it appears in error paths: bare when it is plain, otherwise quoted with control
/// characters escaped, so that an error message stays on one line.
struct UserPath<'a>(&'a str);

impl fmt::Display for UserPath<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let needs_quotes = self.0.is_empty()
            || self.0.chars().any(|c| {
                c.is_control() || c.is_whitespace() || matches!(c, '"' | '\\' | ':' | ',')
            });
        if needs_quotes {
            write!(f, "\"{}\"", self.0.escape_debug())
        } else {
            f.write_str(self.0)
        }
    }
}

fn field_path(username: &str, field: &str) -> String {
    format!("users.{}.{field}", UserPath(username))
}

fn parse_user(username: String, value: Value) -> Result<FileUser, UsersFileError> {
    let Value::Mapping(entries) = value else {
        return Err(wrong_type(
            format!("users.{}", UserPath(&username)),
            "a mapping with at least `displayname` and `password`",
        ));
    };

    let mut disabled = false;
    let mut display_name = None;
    let mut password = None;
    let mut email = None;
    let mut groups = Vec::new();
    let mut attributes = Mapping::new();

    for (key, value) in entries {
        let Value::String(field) = key else {
            return Err(wrong_type(
                format!("users.{}", UserPath(&username)),
                "a mapping whose keys are field names",
            ));
        };
        match field.as_str() {
            "disabled" => {
                disabled = match value {
                    Value::Bool(disabled) => disabled,
                    Value::Null => false,
                    _ => {
                        return Err(wrong_type(
                            field_path(&username, "disabled"),
                            "true or false",
                        ))
                    }
                };
            }
            "displayname" => {
                display_name = match value {
                    Value::String(text) => Some(text),
                    Value::Null => None,
                    _ => {
                        return Err(wrong_type(
                            field_path(&username, "displayname"),
                            "a string (put numbers in quotes)",
                        ))
                    }
                };
            }
            "password" => {
                // The value is never quoted in an error, because it may be a password typed
                // here by mistake.
                password = match value {
                    Value::String(text) => Some(text),
                    Value::Null => None,
                    _ => {
                        return Err(wrong_type(
                            field_path(&username, "password"),
                            "a string holding a password hash",
                        ))
                    }
                };
            }
            "email" => {
                email = match value {
                    Value::String(text) if text.is_empty() => None,
                    Value::String(text) => Some(text),
                    Value::Null => None,
                    _ => {
                        return Err(wrong_type(
                            field_path(&username, "email"),
                            "one e-mail address",
                        ))
                    }
                };
            }
            "groups" => groups = parse_groups(&username, value)?,
            _ => {
                if !OPTIONAL_ATTRIBUTES.contains(&field.as_str()) {
                    tracing::warn!(
                        user = %UserPath(&username),
                        attribute = %field.escape_debug(),
                        "users file: unknown user attribute kept but not used"
                    );
                }
                attributes.insert(Value::String(field), value);
            }
        }
    }

    let display_name = display_name.ok_or_else(|| UsersFileError::MissingField {
        path: field_path(&username, "displayname"),
    })?;
    let password = password.ok_or_else(|| UsersFileError::MissingField {
        path: field_path(&username, "password"),
    })?;

    Ok(FileUser {
        username,
        disabled,
        display_name,
        password: EncodedHash::new(password),
        email,
        groups,
        attributes,
    })
}

fn parse_groups(username: &str, value: Value) -> Result<Vec<String>, UsersFileError> {
    let items = match value {
        Value::Sequence(items) => items,
        Value::Null => return Ok(Vec::new()),
        _ => {
            return Err(wrong_type(
                field_path(username, "groups"),
                "a list of group names",
            ))
        }
    };

    let mut groups = Vec::with_capacity(items.len());
    for (index, item) in items.into_iter().enumerate() {
        let Value::String(group) = item else {
            return Err(wrong_type(
                field_path(username, &format!("groups[{index}]")),
                "a string (put numbers in quotes)",
            ));
        };
        groups.push(group);
    }
    Ok(groups)
}

/// Checks the values of one user, whether read from the file or changed in memory.
fn validate_user(user: &FileUser) -> Result<(), UsersFileError> {
    let invalid = |path: String, problem| UsersFileError::InvalidValue { path, problem };
    let username = &user.username;

    check_username(username).map_err(|problem| {
        invalid(
            format!("users.{} (the username)", UserPath(username)),
            problem,
        )
    })?;
    check_display_name(&user.display_name)
        .map_err(|problem| invalid(field_path(username, "displayname"), problem))?;
    if let Some(email) = &user.email {
        check_email(email).map_err(|problem| invalid(field_path(username, "email"), problem))?;
    }
    for (index, group) in user.groups.iter().enumerate() {
        check_group_name(group).map_err(|problem| {
            invalid(field_path(username, &format!("groups[{index}]")), problem)
        })?;
    }
    check_hash_format(user.password.expose()).map_err(|source| {
        UsersFileError::InvalidPasswordHash {
            path: field_path(username, "password"),
            source,
        }
    })?;
    Ok(())
}

fn user_to_value(user: &FileUser) -> Value {
    let mut entry = Mapping::new();
    entry.insert(Value::from("disabled"), Value::Bool(user.disabled));
    entry.insert(
        Value::from("displayname"),
        Value::from(user.display_name.as_str()),
    );
    entry.insert(Value::from("password"), Value::from(user.password.expose()));
    if let Some(email) = &user.email {
        entry.insert(Value::from("email"), Value::from(email.as_str()));
    }
    let groups = user
        .groups
        .iter()
        .map(|group| Value::from(group.as_str()))
        .collect();
    entry.insert(Value::from("groups"), Value::Sequence(groups));
    for (key, value) in &user.attributes {
        entry.insert(key.clone(), value.clone());
    }
    Value::Mapping(entry)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::hashing::verify_password;
    use crate::identity::test_vectors::*;

    fn user_yaml(name: &str, display_name: &str, hash: &str, groups: &str) -> String {
        format!(
            "  {name}:\n    displayname: {display_name}\n    password: '{hash}'\n    \
             email: '{name}@example.com'\n    groups: {groups}\n"
        )
    }

    #[test]
    fn parse_reads_every_field() {
        let text = format!(
            "users:\n  john:\n    disabled: true\n    displayname: 'John Doe'\n    \
             password: '{ARGON2ID}'\n    email: john@example.com\n    groups: [admins, dev]\n"
        );

        let file = UsersFile::parse(&text).unwrap();

        let john = file.user("john").unwrap();
        assert_eq!(john.username, "john");
        assert!(john.disabled);
        assert_eq!(john.display_name, "John Doe");
        assert_eq!(john.password.expose(), ARGON2ID);
        assert_eq!(john.email.as_deref(), Some("john@example.com"));
        assert_eq!(john.groups, ["admins", "dev"]);
        assert!(john.attributes.is_empty());
    }

    #[test]
    fn parse_defaults_optional_fields() {
        let text = format!("users:\n  ann:\n    displayname: Ann\n    password: '{ARGON2ID}'\n");

        let file = UsersFile::parse(&text).unwrap();

        let ann = file.user("ann").unwrap();
        assert!(!ann.disabled);
        assert_eq!(ann.email, None);
        assert!(ann.groups.is_empty());
    }

    #[test]
    fn mallory_display_name_rejected() {
        let text = format!(
            "users:\n{}{}",
            user_yaml(
                "zoe",
                "'Zoë Ålvarez-Nuñez'",
                ARGON2ID,
                "['dev', 'ops team']"
            ),
            user_yaml(
                "mallory",
                "\"Mallory\\r\\nRemote-Groups: admins\"",
                ARGON2ID,
                "['dev']"
            ),
        );

        let error = UsersFile::parse(&text).unwrap_err();

        assert_eq!(
            error,
            UsersFileError::InvalidValue {
                path: "users.mallory.displayname".to_owned(),
                problem: ValueProblem::ControlCharacter,
            }
        );
        let message = error.to_string();
        assert!(message.starts_with("users.mallory.displayname: contains a control character"));
        assert!(!message.contains('\n'), "{message}");
        assert!(!message.contains("$argon2"), "{message}");
    }

    #[test]
    fn zoe_unicode_and_spaced_group_accepted() {
        let text = format!(
            "users:\n{}",
            user_yaml(
                "zoe",
                "'Zoë Ålvarez-Nuñez'",
                ARGON2ID,
                "['dev', 'ops team']"
            )
        );

        let file = UsersFile::parse(&text).unwrap();

        let zoe = file.user("zoe").unwrap();
        assert_eq!(zoe.display_name, "Zoë Ålvarez-Nuñez");
        assert_eq!(zoe.email.as_deref(), Some("zoe@example.com"));
        assert_eq!(zoe.groups, ["dev", "ops team"]);
    }

    #[test]
    fn comma_in_group_rejected() {
        let text = format!(
            "users:\n{}",
            user_yaml("bob", "Bob", ARGON2ID, "['dev', 'dev,admins']")
        );

        let error = UsersFile::parse(&text).unwrap_err();

        assert_eq!(
            error,
            UsersFileError::InvalidValue {
                path: "users.bob.groups[1]".to_owned(),
                problem: ValueProblem::Comma,
            }
        );
    }

    #[test]
    fn control_character_in_group_rejected() {
        let text = format!(
            "users:\n{}",
            user_yaml("bob", "Bob", ARGON2ID, "[\"dev\\nadmins\"]")
        );

        let error = UsersFile::parse(&text).unwrap_err();

        assert_eq!(
            error,
            UsersFileError::InvalidValue {
                path: "users.bob.groups[0]".to_owned(),
                problem: ValueProblem::ControlCharacter,
            }
        );
    }

    #[test]
    fn invalid_email_rejected() {
        let text = format!(
            "users:\n  bob:\n    displayname: Bob\n    password: '{ARGON2ID}'\n    \
             email: 'bob@example.com, eve@example.com'\n"
        );

        let error = UsersFile::parse(&text).unwrap_err();

        assert!(
            matches!(&error, UsersFileError::InvalidValue { path, .. } if path == "users.bob.email"),
            "{error}"
        );
    }

    #[test]
    fn invalid_username_rejected_and_escaped() {
        let text =
            format!("users:\n  \"mal\\nlory\":\n    displayname: M\n    password: '{ARGON2ID}'\n");

        let error = UsersFile::parse(&text).unwrap_err();

        let message = error.to_string();
        assert!(
            message.starts_with("users.\"mal\\nlory\" (the username): contains a control"),
            "{message}"
        );
        assert!(!message.contains('\n'), "{message}");
    }

    #[test]
    fn username_with_colon_rejected() {
        let text =
            format!("users:\n  'alice:admin':\n    displayname: A\n    password: '{ARGON2ID}'\n");

        let error = UsersFile::parse(&text).unwrap_err();

        assert!(
            matches!(
                error,
                UsersFileError::InvalidValue {
                    problem: ValueProblem::Colon,
                    ..
                }
            ),
            "{error}"
        );
    }

    #[test]
    fn missing_required_fields_named() {
        let no_password = "users:\n  ann:\n    displayname: Ann\n";
        let no_display_name = format!("users:\n  ann:\n    password: '{ARGON2ID}'\n");

        assert_eq!(
            UsersFile::parse(no_password),
            Err(UsersFileError::MissingField {
                path: "users.ann.password".to_owned()
            })
        );
        assert_eq!(
            UsersFile::parse(&no_display_name),
            Err(UsersFileError::MissingField {
                path: "users.ann.displayname".to_owned()
            })
        );
    }

    #[test]
    fn wrong_types_named() {
        let cases = [
            ("users:\n  ann: just-a-string\n", "users.ann"),
            (
                "users:\n  ann:\n    displayname: Ann\n    password: 12345\n",
                "users.ann.password",
            ),
            (
                "users:\n  ann:\n    displayname: [Ann]\n    password: x\n",
                "users.ann.displayname",
            ),
            (
                "users:\n  ann:\n    displayname: Ann\n    password: x\n    disabled: maybe\n",
                "users.ann.disabled",
            ),
            (
                "users:\n  ann:\n    displayname: Ann\n    password: x\n    groups: dev\n",
                "users.ann.groups",
            ),
            (
                "users:\n  ann:\n    displayname: Ann\n    password: x\n    groups: [1]\n",
                "users.ann.groups[0]",
            ),
            ("users: [ann]\n", "users"),
        ];

        for (text, expected_path) in cases {
            let error = UsersFile::parse(text).unwrap_err();
            assert!(
                matches!(&error, UsersFileError::WrongType { path, .. } if path == expected_path),
                "{text:?} gave {error}"
            );
        }
    }

    #[test]
    fn wrong_type_password_not_quoted() {
        let text = "users:\n  ann:\n    displayname: Ann\n    password: 1234567\n";

        let message = UsersFile::parse(text).unwrap_err().to_string();

        assert!(!message.contains("1234567"), "{message}");
    }

    #[test]
    fn invalid_hash_named_without_hash() {
        let text = "users:\n  ann:\n    displayname: Ann\n    password: 'hunter2'\n";
        let malformed =
            "users:\n  ann:\n    displayname: Ann\n    password: '$pbkdf2-sha512$1000$SECRET$'\n";

        for text in [text, malformed] {
            let error = UsersFile::parse(text).unwrap_err();
            let message = error.to_string();
            assert!(
                matches!(&error, UsersFileError::InvalidPasswordHash { path, .. } if path == "users.ann.password"),
                "{message}"
            );
            assert!(!message.contains("hunter2"), "{message}");
            assert!(!message.contains("SECRET"), "{message}");
        }
    }

    #[test]
    fn every_hash_format_loads() {
        let vectors = [
            (ARGON2ID, PASSWORD),
            (ARGON2I, PASSWORD),
            (ARGON2D, PASSWORD),
            (SHA512_CRYPT_ROUNDS, PASSWORD),
            (SHA512_CRYPT_IMPLICIT, PASSWORD),
            (SHA256_CRYPT_ROUNDS, UNICODE_PASSWORD),
            (SHA256_CRYPT_IMPLICIT, PASSWORD),
            (PBKDF2_SHA1, PASSWORD),
            (PBKDF2_SHA224, PASSWORD),
            (PBKDF2_SHA256, UNICODE_PASSWORD),
            (PBKDF2_SHA384, PASSWORD),
            (PBKDF2_SHA512, PASSWORD),
            (BCRYPT_2A, PASSWORD),
            (BCRYPT_2B, PASSWORD),
            (BCRYPT_2Y, PASSWORD),
            (BCRYPT_SHA256_V2, PASSWORD),
            (BCRYPT_SHA256_V1, PASSWORD),
            (SCRYPT, PASSWORD),
        ];
        let mut text = String::from("users:\n");
        for (index, (hash, _)) in vectors.iter().enumerate() {
            text.push_str(&user_yaml(&format!("user{index}"), "User", hash, "[]"));
        }

        let file = UsersFile::parse(&text).unwrap();

        assert_eq!(file.users().len(), vectors.len());
        for (user, (hash, password)) in file.users().iter().zip(vectors) {
            assert_eq!(user.password.expose(), hash);
            let verified = verify_password(password, user.password.expose()).unwrap();
            assert!(verified.matches, "{hash}");
        }
    }

    #[test]
    fn optional_attributes_preserved() {
        let text = format!(
            "users:\n  john:\n    displayname: John\n    password: '{ARGON2ID}'\n    \
             given_name: John\n    family_name: Doe\n    phone_number: '+1 555 0100'\n    \
             address:\n      street_address: 1 Main St\n      locality: Springfield\n    \
             extra:\n      employee_id: 42\n      badges: [a, b]\n    \
             something_else: kept\n"
        );

        let file = UsersFile::parse(&text).unwrap();
        let reparsed = UsersFile::parse(&file.to_yaml().unwrap()).unwrap();

        let john = reparsed.user("john").unwrap();
        let keys: Vec<&str> = john.attributes.keys().filter_map(Value::as_str).collect();
        assert_eq!(
            keys,
            [
                "given_name",
                "family_name",
                "phone_number",
                "address",
                "extra",
                "something_else"
            ]
        );
        assert_eq!(
            john.attributes["address"]["locality"],
            Value::from("Springfield")
        );
        assert_eq!(john.attributes["extra"]["employee_id"], Value::from(42));
        assert_eq!(reparsed, file);
    }

    #[test]
    fn to_yaml_round_trips() {
        let text = format!(
            "users:\n{}{}  carol:\n    disabled: true\n    displayname: Carol\n    password: '{BCRYPT_2B}'\n\
             other_top_level: 1\n",
            user_yaml("zoe", "'Zoë Ålvarez-Nuñez'", ARGON2ID, "['dev', 'ops team']"),
            user_yaml("bob", "'Bob: the \"builder\"'", SHA512_CRYPT_ROUNDS, "[]"),
        );
        let file = UsersFile::parse(&text).unwrap();

        let yaml = file.to_yaml().unwrap();
        let reparsed = UsersFile::parse(&yaml).unwrap();

        assert_eq!(reparsed, file);
        let names: Vec<&str> = reparsed
            .users()
            .iter()
            .map(|user| user.username.as_str())
            .collect();
        assert_eq!(names, ["zoe", "bob", "carol"]);
        assert!(yaml.contains("other_top_level: 1"), "{yaml}");
    }

    #[test]
    fn to_yaml_revalidates_changes() {
        let text = format!("users:\n{}", user_yaml("bob", "Bob", ARGON2ID, "[]"));
        let mut file = UsersFile::parse(&text).unwrap();

        file.users_mut()[0].display_name = "x\nRemote-User: bob".to_owned();
        let error = file.to_yaml().unwrap_err();

        assert_eq!(
            error,
            UsersFileError::InvalidValue {
                path: "users.bob.displayname".to_owned(),
                problem: ValueProblem::ControlCharacter,
            }
        );
    }

    #[test]
    fn to_yaml_rejects_duplicate_users() {
        let text = format!("users:\n{}", user_yaml("bob", "Bob", ARGON2ID, "[]"));
        let mut file = UsersFile::parse(&text).unwrap();

        let copy = file.users()[0].clone();
        file.users_mut().push(copy);

        assert_eq!(
            file.to_yaml(),
            Err(UsersFileError::DuplicateUser {
                username: "bob".to_owned()
            })
        );
    }

    #[test]
    fn missing_users_key_rejected() {
        for text in ["", "# only a comment\n", "people:\n  john: {}\n"] {
            assert_eq!(
                UsersFile::parse(text),
                Err(UsersFileError::MissingUsers),
                "{text:?}"
            );
        }
    }

    #[test]
    fn empty_users_accepted() {
        for text in ["users:\n", "users: {}\n"] {
            let file = UsersFile::parse(text).unwrap();
            assert!(file.users().is_empty(), "{text:?}");
        }
    }

    #[test]
    fn malformed_yaml_reports_line() {
        let text = "users:\n  john:\n    displayname: 'John\n    password: x\n";

        let error = UsersFile::parse(text).unwrap_err();

        let UsersFileError::Yaml { line, message, .. } = &error else {
            panic!("expected a YAML error, got {error:?}");
        };
        assert!(line.is_some(), "{error:?}");
        assert!(message.contains("line"), "{message}");
    }

    #[test]
    fn duplicate_user_in_yaml_rejected() {
        let text = format!(
            "users:\n{}{}",
            user_yaml("bob", "Bob", ARGON2ID, "[]"),
            user_yaml("bob", "Bobby", ARGON2ID, "[]")
        );

        let error = UsersFile::parse(&text).unwrap_err();

        assert!(
            matches!(&error, UsersFileError::Yaml { message, .. } if message.contains("duplicate")),
            "{error}"
        );
    }

    #[test]
    fn top_level_sequence_rejected() {
        let error = UsersFile::parse("- john\n").unwrap_err();

        assert!(matches!(error, UsersFileError::WrongType { .. }), "{error}");
    }

    #[test]
    fn debug_redacts_hashes() {
        let text = format!("users:\n{}", user_yaml("bob", "Bob", ARGON2ID, "[]"));
        let file = UsersFile::parse(&text).unwrap();

        let debug = format!("{file:?}");

        assert!(!debug.contains("$argon2"), "{debug}");
        assert!(debug.contains("Bob"), "{debug}");
    }
}
