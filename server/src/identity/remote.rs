//! The identity a forward-auth response carries: the user name and groups the rules read, and the
//! `Remote-*` header values, encoded once per identity rather than once per request.

use http::{HeaderName, HeaderValue};

use crate::identity::directory::UserProfile;

/// The identity headers, in the order they are written.
pub const REMOTE_USER: HeaderName = HeaderName::from_static("remote-user");
pub const REMOTE_GROUPS: HeaderName = HeaderName::from_static("remote-groups");
pub const REMOTE_NAME: HeaderName = HeaderName::from_static("remote-name");
pub const REMOTE_EMAIL: HeaderName = HeaderName::from_static("remote-email");

/// A user as the authz endpoints see them. Cloning the header values shares their bytes.
pub struct RemoteIdentity {
    username: String,
    groups: Vec<String>,
    /// `Remote-User`, `Remote-Groups`, `Remote-Name` and `Remote-Email`, or `None` when a value
    /// contains a control character and so cannot be sent.
    headers: Option<[HeaderValue; 4]>,
}

impl RemoteIdentity {
    /// Builds the identity. Only the first e-mail address is sent; no address sends an empty
    /// `Remote-Email`, and no group an empty `Remote-Groups`.
    pub fn new(
        username: &str,
        display_name: &str,
        emails: &[String],
        groups: &[String],
    ) -> RemoteIdentity {
        let email = emails.first().map_or("", String::as_str);
        // Values are validated where they enter; this is the last line of defence against a
        // control character splitting a header. Non-ASCII text is sent as UTF-8 bytes.
        let encode = |text: &str| HeaderValue::from_bytes(text.as_bytes()).ok();
        let headers = (|| {
            Some([
                encode(username)?,
                encode(&groups.join(","))?,
                encode(display_name)?,
                encode(email)?,
            ])
        })();
        RemoteIdentity {
            username: username.to_owned(),
            groups: groups.to_vec(),
            headers,
        }
    }

    /// Builds the identity of a user read from the directory.
    pub fn from_profile(profile: &UserProfile) -> RemoteIdentity {
        RemoteIdentity::new(
            &profile.username,
            &profile.display_name,
            &profile.emails,
            &profile.groups,
        )
    }

    /// Returns the canonical user name.
    pub fn username(&self) -> &str {
        &self.username
    }

    /// Returns the groups, in the directory's order.
    pub fn groups(&self) -> &[String] {
        &self.groups
    }

    /// Returns the four headers with their names, or `None` when one of them cannot be sent.
    pub fn headers(&self) -> Option<[(HeaderName, HeaderValue); 4]> {
        let [user, groups, name, email] = self.headers.clone()?;
        Some([
            (REMOTE_USER, user),
            (REMOTE_GROUPS, groups),
            (REMOTE_NAME, name),
            (REMOTE_EMAIL, email),
        ])
    }
}

impl std::fmt::Debug for RemoteIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteIdentity")
            .field("username", &self.username)
            .field("groups", &self.groups)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(identity: &RemoteIdentity) -> Vec<(String, Vec<u8>)> {
        identity
            .headers()
            .expect("sendable")
            .into_iter()
            .map(|(name, value)| (name.to_string(), value.as_bytes().to_vec()))
            .collect()
    }

    #[test]
    fn headers_carry_first_email_and_joined_groups() {
        let identity = RemoteIdentity::new(
            "john",
            "John Doe",
            &["john@example.com".to_owned(), "j@example.org".to_owned()],
            &["admins".to_owned(), "dev".to_owned()],
        );
        assert_eq!(
            values(&identity),
            [
                ("remote-user".to_owned(), b"john".to_vec()),
                ("remote-groups".to_owned(), b"admins,dev".to_vec()),
                ("remote-name".to_owned(), b"John Doe".to_vec()),
                ("remote-email".to_owned(), b"john@example.com".to_vec()),
            ]
        );
    }

    #[test]
    fn missing_email_and_groups_are_empty_values() {
        let identity = RemoteIdentity::new("solo", "Zoë Ålvarez-Nuñez", &[], &[]);
        let sent = values(&identity);
        assert_eq!(sent[1].1, b"");
        assert_eq!(sent[2].1, "Zoë Ålvarez-Nuñez".as_bytes());
        assert_eq!(sent[3].1, b"");
    }

    #[test]
    fn control_character_makes_identity_unsendable() {
        for (name, display, group) in [("a\r\nb", "A", "g"), ("a", "A\nB", "g"), ("a", "A", "g\0")]
        {
            let identity = RemoteIdentity::new(name, display, &[], &[group.to_owned()]);
            assert!(
                identity.headers().is_none(),
                "{name:?} {display:?} {group:?}"
            );
        }
    }
}
