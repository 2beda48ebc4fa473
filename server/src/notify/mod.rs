//! Sending e-mail: reset links and one-time codes.
//!
//! Two transports, chosen by `notifier`: SMTP through lettre (STARTTLS or TLS from the first
//! byte, rustls, optional authentication), and a file that each message is appended to as plain
//! text, for development and tests. Every message has a plain-text and an HTML part. Errors name
//! the transport and the reason, never the message body, which contains the token or code.

mod file;
mod smtp;
pub mod templates;

use std::fmt;
use std::path::PathBuf;

use crate::config::{NotifierConfig, NotifierTransport};

pub use templates::Email;

/// The configured way of sending e-mail.
pub enum Notifier {
    Smtp(Box<smtp::SmtpNotifier>),
    Filesystem(file::FileNotifier),
}

/// A message that could not be sent, with the reason.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// An address (sender or recipient) is not a valid mailbox.
    #[error("invalid e-mail address {address:?}: {reason}")]
    InvalidAddress { address: String, reason: String },
    /// The message could not be assembled.
    #[error("building the e-mail failed: {0}")]
    Build(String),
    /// The SMTP client could not be set up (for example the TLS settings).
    #[error("setting up the SMTP client for {server} failed: {reason}")]
    Setup { server: String, reason: String },
    /// The mail server refused the message or could not be reached.
    #[error("sending through the SMTP server {server} failed: {reason}")]
    Smtp { server: String, reason: String },
    /// The notifications file could not be written.
    #[error("appending to the notifications file {path} failed: {source}")]
    File {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl Notifier {
    /// Builds the transport `config` names. An SMTP transport opens no connection here.
    // NOTE: `notifier.disable_startup_check` and `startup_check_address` are accepted, but no
    // connection check runs at start, so a wrong SMTP setting shows only at the first message.
    pub fn new(config: &NotifierConfig) -> Result<Notifier, NotifyError> {
        match &config.transport {
            NotifierTransport::Smtp(smtp) => {
                Ok(Notifier::Smtp(Box::new(smtp::SmtpNotifier::new(smtp)?)))
            }
            NotifierTransport::Filesystem { filename } => Ok(Notifier::Filesystem(
                file::FileNotifier::new(filename.clone()),
            )),
        }
    }

    /// Sends `email` to `recipient` (`"Name" <address>` is built from both).
    pub async fn send(&self, recipient: &Recipient<'_>, email: &Email) -> Result<(), NotifyError> {
        match self {
            Notifier::Smtp(notifier) => notifier.send(recipient, email).await,
            Notifier::Filesystem(notifier) => notifier.send(recipient, email).await,
        }
    }
}

impl fmt::Debug for Notifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Notifier::Smtp(_) => f.write_str("Notifier::Smtp"),
            Notifier::Filesystem(_) => f.write_str("Notifier::Filesystem"),
        }
    }
}

/// The person a message goes to.
#[derive(Clone, Copy, Debug)]
pub struct Recipient<'a> {
    pub display_name: &'a str,
    pub address: &'a str,
}
