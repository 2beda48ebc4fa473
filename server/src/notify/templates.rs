//! The texts of the messages Gatehouse sends. Each has a plain-text part, with every link on a
//! line of its own, and an HTML part with the same content.

use std::time::Duration;

/// The product name that every message contains, so the recipient can tell who sent it.
const PRODUCT: &str = "Gatehouse";

/// A message ready for a transport: the subject's title and the two bodies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Email {
    /// The part of the subject the transport's subject template puts in place of `{title}`.
    pub title: String,
    pub plain: String,
    pub html: String,
}

/// Builds the password-reset message with the reset link and the link that revokes it.
pub fn reset_password(
    display_name: &str,
    username: &str,
    link: &str,
    revoke_link: &str,
    lifespan: Duration,
) -> Email {
    let expiry = describe_duration(lifespan);
    let plain = format!(
        "Hello {display_name},\n\
         \n\
         A password reset was requested for your {PRODUCT} account {username}. \
         To choose a new password, open this link:\n\
         \n\
         {link}\n\
         \n\
         The link works once and expires in {expiry}.\n\
         \n\
         If you did not request this, revoke the link here and your password stays as it is:\n\
         \n\
         {revoke_link}\n\
         \n\
         {PRODUCT}\n"
    );
    let html = format!(
        "<!DOCTYPE html>\n<html><body>\n\
         <p>Hello {name},</p>\n\
         <p>A password reset was requested for your {PRODUCT} account <strong>{user}</strong>. \
         To choose a new password, open this link:</p>\n\
         <p><a href=\"{link}\">Reset your password</a></p>\n\
         <p>The link works once and expires in {expiry}.</p>\n\
         <p>If you did not request this, <a href=\"{revoke}\">revoke the link</a> and your \
         password stays as it is.</p>\n\
         <p>{PRODUCT}</p>\n</body></html>\n",
        name = escape_html(display_name),
        user = escape_html(username),
        link = escape_html(link),
        revoke = escape_html(revoke_link),
    );
    Email {
        title: "Reset your password".to_owned(),
        plain,
        html,
    }
}

/// Builds the message with a one-time code that elevates the session for sensitive actions.
pub fn elevation_code(
    display_name: &str,
    code: &str,
    revoke_link: &str,
    lifespan: Duration,
) -> Email {
    let expiry = describe_duration(lifespan);
    let plain = format!(
        "Hello {display_name},\n\
         \n\
         A one-time code was requested to confirm your identity in {PRODUCT} before a change \
         to your account's security settings. Your code is:\n\
         \n\
         {code}\n\
         \n\
         It works once and expires in {expiry}.\n\
         \n\
         If you did not request this, revoke the code here and change your password:\n\
         \n\
         {revoke_link}\n\
         \n\
         {PRODUCT}\n"
    );
    let html = format!(
        "<!DOCTYPE html>\n<html><body>\n\
         <p>Hello {name},</p>\n\
         <p>A one-time code was requested to confirm your identity in {PRODUCT} before a change \
         to your account's security settings. Your code is:</p>\n\
         <p style=\"font-size: 1.5em; font-family: monospace\"><strong>{code}</strong></p>\n\
         <p>It works once and expires in {expiry}.</p>\n\
         <p>If you did not request this, <a href=\"{revoke}\">revoke the code</a> and change \
         your password.</p>\n\
         <p>{PRODUCT}</p>\n</body></html>\n",
        name = escape_html(display_name),
        code = escape_html(code),
        revoke = escape_html(revoke_link),
    );
    Email {
        title: "Confirm your identity".to_owned(),
        plain,
        html,
    }
}

/// Builds the notice that the account's password was changed or reset.
pub fn password_changed(display_name: &str, username: &str) -> Email {
    let plain = format!(
        "Hello {display_name},\n\
         \n\
         The password of your {PRODUCT} account {username} was changed, and your other \
         sessions were logged out.\n\
         \n\
         If you did not do this, contact your administrator at once.\n\
         \n\
         {PRODUCT}\n"
    );
    let html = format!(
        "<!DOCTYPE html>\n<html><body>\n\
         <p>Hello {name},</p>\n\
         <p>The password of your {PRODUCT} account <strong>{user}</strong> was changed, and \
         your other sessions were logged out.</p>\n\
         <p>If you did not do this, contact your administrator at once.</p>\n\
         <p>{PRODUCT}</p>\n</body></html>\n",
        name = escape_html(display_name),
        user = escape_html(username),
    );
    Email {
        title: "Your password was changed".to_owned(),
        plain,
        html,
    }
}

/// Writes a lifespan as people read it: "5 minutes", "1 hour", "90 seconds".
pub fn describe_duration(duration: Duration) -> String {
    let seconds = duration.as_secs();
    let (count, unit) = if seconds >= 3600 && seconds.is_multiple_of(3600) {
        (seconds / 3600, "hour")
    } else if seconds >= 60 && seconds.is_multiple_of(60) {
        (seconds / 60, "minute")
    } else {
        (seconds, "second")
    };
    let plural = if count == 1 { "" } else { "s" };
    format!("{count} {unit}{plural}")
}

/// Escapes text for an HTML element or a double-quoted attribute.
fn escape_html(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(describe_duration(Duration::from_secs(300)), "5 minutes");
        assert_eq!(describe_duration(Duration::from_secs(3600)), "1 hour");
        assert_eq!(describe_duration(Duration::from_secs(90)), "90 seconds");
        assert_eq!(describe_duration(Duration::from_secs(60)), "1 minute");
    }

    #[test]
    fn reset_links_on_own_lines() {
        let email = reset_password(
            "Alice <Example>",
            "alice",
            "https://auth.example.com/reset-password/step2?token=abc",
            "https://auth.example.com/revoke/reset-password?token=abc",
            Duration::from_secs(300),
        );
        let lines: Vec<&str> = email.plain.lines().collect();
        assert!(lines.contains(&"https://auth.example.com/reset-password/step2?token=abc"));
        assert!(lines.contains(&"https://auth.example.com/revoke/reset-password?token=abc"));
        assert!(email.plain.contains("Gatehouse"));
        assert!(email.plain.contains("expires in 5 minutes"));
        assert!(email.html.contains("Alice &lt;Example&gt;"));
        assert!(!email.html.contains("<Example>"));
    }
}
