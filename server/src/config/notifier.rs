//! `notifier`: how Gatehouse sends e-mail (reset links, one-time codes).

use std::path::PathBuf;
use std::time::Duration;

use crate::config::read::{Reader, Section};
use crate::config::secret::Secret;
use crate::config::session::check_hostname;
use crate::config::tls::{read_tls, TlsConfig};

#[derive(Debug, Clone)]
pub struct NotifierConfig {
    /// Skips the connection check at start.
    pub disable_startup_check: bool,
    pub transport: NotifierTransport,
}

#[derive(Debug, Clone)]
pub enum NotifierTransport {
    Smtp(SmtpConfig),
    /// `notifier.filesystem.filename`: messages are appended to this file.
    Filesystem {
        filename: PathBuf,
    },
}

#[derive(Debug, Clone)]
pub struct SmtpConfig {
    pub scheme: SmtpScheme,
    pub host: String,
    pub port: u16,
    pub username: Option<String>,
    pub password: Option<Secret>,
    /// `From` address, e.g. `Gatehouse <auth@example.com>`.
    pub sender: String,
    /// Name sent in `EHLO`.
    pub identifier: String,
    /// Subject template; `{title}` is replaced by the message's title.
    pub subject: String,
    /// Recipient used by the start-up check.
    pub startup_check_address: String,
    /// Allows sending without TLS when the server offers no STARTTLS.
    pub disable_require_tls: bool,
    pub disable_starttls: bool,
    pub timeout: Duration,
    pub tls: TlsConfig,
}

/// Protection of the SMTP connection, from the scheme of `notifier.smtp.address`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpScheme {
    /// `smtp://`: plain connection upgraded with STARTTLS (port 25 by default).
    Smtp,
    /// `submission://`: STARTTLS on the submission port (587 by default).
    Submission,
    /// `smtps://` or `submissions://`: TLS from the first byte (465 by default).
    Smtps,
}

impl SmtpScheme {
    fn default_port(self) -> u16 {
        match self {
            SmtpScheme::Smtp => 25,
            SmtpScheme::Submission => 587,
            SmtpScheme::Smtps => 465,
        }
    }
}

pub(crate) fn read_notifier(reader: &mut Reader, mut section: Section<'_>) -> NotifierConfig {
    let disable_startup_check = section.bool(reader, "disable_startup_check", false);
    let smtp = section
        .optional_section(reader, "smtp")
        .map(|smtp| read_smtp(reader, smtp));
    let filesystem = section
        .optional_section(reader, "filesystem")
        .map(|mut filesystem| {
            let path = filesystem.key_path("filename");
            let filename = filesystem.string(reader, "filename").unwrap_or_default();
            filesystem.finish(reader);
            if filename.is_empty() && !reader.recording() {
                reader.error(&path, "missing: the file that messages are appended to");
            }
            PathBuf::from(filename)
        });
    let transport = match (smtp, filesystem) {
        (Some(smtp), None) => NotifierTransport::Smtp(smtp),
        (None, Some(filename)) => NotifierTransport::Filesystem { filename },
        (Some(smtp), Some(_)) => {
            if !reader.recording() {
                reader.error(
                    section.path(),
                    "configure either notifier.smtp or notifier.filesystem, not both",
                );
            }
            NotifierTransport::Smtp(smtp)
        }
        (None, None) => {
            reader.error(
                section.path(),
                "missing: configure notifier.smtp or notifier.filesystem",
            );
            NotifierTransport::Filesystem {
                filename: PathBuf::new(),
            }
        }
    };
    section.finish(reader);
    NotifierConfig {
        disable_startup_check,
        transport,
    }
}

fn read_smtp(reader: &mut Reader, mut section: Section<'_>) -> SmtpConfig {
    let address_path = section.key_path("address");
    let (scheme, host, port) = match section.string(reader, "address") {
        None => {
            if !reader.recording() {
                reader.error(
                    &address_path,
                    "missing: the mail server, e.g. submission://smtp.example.com:587",
                );
            }
            (SmtpScheme::Submission, String::new(), 587)
        }
        Some(text) => parse_smtp_address(&text).unwrap_or_else(|message| {
            reader.error(&address_path, message);
            (SmtpScheme::Submission, String::new(), 587)
        }),
    };
    let username = section
        .string(reader, "username")
        .filter(|name| !name.is_empty());
    let password_path = section.key_path("password");
    let password = section
        .secret(reader, "password")
        .filter(|password| !password.expose().is_empty());
    let sender_path = section.key_path("sender");
    let sender = section.string(reader, "sender").unwrap_or_default();
    if sender.trim().is_empty() && !reader.recording() {
        reader.error(
            &sender_path,
            "missing: the From address, e.g. 'Gatehouse <auth@example.com>'",
        );
    } else if !sender.is_empty() && !sender.contains('@') {
        reader.error(&sender_path, format!("'{sender}' is not an e-mail address"));
    }
    let identifier = section.string_or(reader, "identifier", "localhost");
    let subject = section.string_or(reader, "subject", "[Gatehouse] {title}");
    let startup_check_address =
        section.string_or(reader, "startup_check_address", "test@example.com");
    let disable_require_tls_path = section.key_path("disable_require_tls");
    let disable_require_tls = section.bool(reader, "disable_require_tls", false);
    let disable_starttls = section.bool(reader, "disable_starttls", false);
    let timeout = section.duration_or(reader, "timeout", Duration::from_secs(5));
    let tls = section
        .optional_section(reader, "tls")
        .map(|tls| read_tls(reader, tls))
        .unwrap_or_default();
    section.finish(reader);

    let plaintext_possible =
        scheme != SmtpScheme::Smtps && (disable_require_tls || disable_starttls);
    if plaintext_possible && password.is_some() {
        reader.warn(
            &password_path,
            "the SMTP password may be sent without encryption because STARTTLS is not required; use smtps:// or remove disable_require_tls and disable_starttls",
        );
    } else if plaintext_possible {
        reader.warn(
            &disable_require_tls_path,
            "e-mail with reset links may be sent without encryption",
        );
    }
    if username.is_some() != password.is_some() {
        reader.error(&password_path, "username and password must be set together");
    }

    SmtpConfig {
        scheme,
        host,
        port,
        username,
        password,
        sender,
        identifier,
        subject,
        startup_check_address,
        disable_require_tls,
        disable_starttls,
        timeout,
        tls,
    }
}

/// Parses `scheme://host[:port]`; a bare `host[:port]` means `smtp://`.
fn parse_smtp_address(text: &str) -> Result<(SmtpScheme, String, u16), String> {
    let text = text.trim();
    let (scheme, rest) = match text.split_once("://") {
        None => (SmtpScheme::Smtp, text),
        Some(("smtp", rest)) => (SmtpScheme::Smtp, rest),
        Some(("submission", rest)) => (SmtpScheme::Submission, rest),
        Some(("smtps" | "submissions", rest)) => (SmtpScheme::Smtps, rest),
        Some((other, _)) => {
            return Err(format!(
                "unknown scheme '{other}': expected smtp://, submission:// or smtps://"
            ));
        }
    };
    let rest = rest.trim_end_matches('/');
    let (host, port) = match rest.rsplit_once(':') {
        Some((host, port)) => {
            let port = port
                .parse::<u16>()
                .map_err(|_| format!("invalid port '{port}'"))?;
            (host, port)
        }
        None => (rest, scheme.default_port()),
    };
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    if host.is_empty() {
        return Err("missing host".to_owned());
    }
    if host.parse::<std::net::IpAddr>().is_err() {
        check_hostname(&host)?;
    }
    Ok((scheme, host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_address_forms() {
        assert_eq!(
            parse_smtp_address("submission://smtp.example.com:587").unwrap(),
            (SmtpScheme::Submission, "smtp.example.com".to_owned(), 587)
        );
        assert_eq!(
            parse_smtp_address("smtps://smtp.example.com").unwrap(),
            (SmtpScheme::Smtps, "smtp.example.com".to_owned(), 465)
        );
        assert_eq!(
            parse_smtp_address("smtp://mail:25").unwrap(),
            (SmtpScheme::Smtp, "mail".to_owned(), 25)
        );
        assert!(parse_smtp_address("http://smtp.example.com").is_err());
        assert!(parse_smtp_address("smtp://:25").is_err());
    }
}
