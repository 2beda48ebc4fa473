//! The filesystem notifier: each message is appended to one file as plain text.
//!
//! The format of one message: a `To:` line, a `Subject:` line, a blank line, then the plain-text
//! body (every link on a line of its own), then a blank line that separates it from the next.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::Mutex;

use super::{Email, NotifyError, Recipient};

/// The subject line of file messages; `{title}` is the message's title.
const SUBJECT_TEMPLATE: &str = "[Gatehouse] {title}";

pub struct FileNotifier {
    path: PathBuf,
    /// Serializes appends, so two messages never interleave.
    lock: Arc<Mutex<()>>,
}

impl FileNotifier {
    pub(super) fn new(path: PathBuf) -> FileNotifier {
        FileNotifier {
            path,
            lock: Arc::new(Mutex::new(())),
        }
    }

    pub(super) async fn send(
        &self,
        recipient: &Recipient<'_>,
        email: &Email,
    ) -> Result<(), NotifyError> {
        let text = format_message(recipient, email);
        let path = self.path.clone();
        let _guard = self.lock.lock().await;
        let written = tokio::task::spawn_blocking(move || append(&path, text.as_bytes())).await;
        let result = match written {
            Ok(result) => result,
            Err(join_error) => Err(std::io::Error::other(join_error.to_string())),
        };
        result.map_err(|source| NotifyError::File {
            path: self.path.clone(),
            source,
        })
    }
}

/// Formats one message as the file stores it.
fn format_message(recipient: &Recipient<'_>, email: &Email) -> String {
    let subject = SUBJECT_TEMPLATE.replace("{title}", &email.title);
    let to = if recipient.display_name.is_empty() {
        recipient.address.to_owned()
    } else {
        format!("{} <{}>", recipient.display_name, recipient.address)
    };
    let body = email.plain.trim_end_matches('\n');
    format!("To: {to}\nSubject: {subject}\n\n{body}\n\n")
}

/// Appends `bytes` to the file, creating it with mode 0600 because messages contain tokens.
fn append(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn messages_append_in_format() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("notifications.txt");
        let notifier = FileNotifier::new(path.clone());
        let recipient = Recipient {
            display_name: "Alice Example",
            address: "alice@example.com",
        };
        let email = Email {
            title: "Reset your password".to_owned(),
            plain: "Hello,\n\nhttps://auth.example.com/x\n".to_owned(),
            html: "<p>Hello</p>".to_owned(),
        };
        notifier.send(&recipient, &email).await.unwrap();
        notifier.send(&recipient, &email).await.unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let one = "To: Alice Example <alice@example.com>\n\
                   Subject: [Gatehouse] Reset your password\n\
                   \n\
                   Hello,\n\
                   \n\
                   https://auth.example.com/x\n\
                   \n";
        assert_eq!(text, format!("{one}{one}"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[tokio::test]
    async fn unwritable_file_is_an_error() {
        let directory = tempfile::tempdir().unwrap();
        let notifier = FileNotifier::new(directory.path().join("missing").join("file.txt"));
        let recipient = Recipient {
            display_name: "",
            address: "alice@example.com",
        };
        let email = Email {
            title: "t".to_owned(),
            plain: "secret-token".to_owned(),
            html: String::new(),
        };
        let error = notifier.send(&recipient, &email).await.unwrap_err();
        let message = error.to_string();
        assert!(message.contains("notifications file"), "{message}");
        assert!(!message.contains("secret-token"), "{message}");
    }
}
