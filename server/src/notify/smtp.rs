//! The SMTP notifier, through lettre on tokio with rustls.
//!
//! `notifier.smtp.address` picks the protection: `smtps://` (or `submissions://`) speaks TLS
//! from the first byte, `smtp://` and `submission://` upgrade with STARTTLS. STARTTLS is
//! required unless `disable_require_tls` allows a server that does not offer it, and
//! `disable_starttls` never upgrades. Certificates are checked against Mozilla's roots unless
//! `tls.skip_verify` is set.

use lettre::message::{header::ContentType, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters, TlsVersion};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::{SmtpConfig, SmtpScheme, TlsVersion as ConfiguredTlsVersion};

use super::{Email, NotifyError, Recipient};

pub struct SmtpNotifier {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    sender: Mailbox,
    subject_template: String,
    /// `host:port`, for error messages.
    server: String,
}

impl SmtpNotifier {
    pub(super) fn new(config: &SmtpConfig) -> Result<SmtpNotifier, NotifyError> {
        let server = format!("{}:{}", config.host, config.port);
        let sender: Mailbox =
            config
                .sender
                .parse()
                .map_err(
                    |error: lettre::address::AddressError| NotifyError::InvalidAddress {
                        address: config.sender.clone(),
                        reason: error.to_string(),
                    },
                )?;
        let setup_error = |reason: String| NotifyError::Setup {
            server: server.clone(),
            reason,
        };

        let server_name = config
            .tls
            .server_name
            .clone()
            .unwrap_or_else(|| config.host.clone());
        let min_version = match config.tls.minimum_version {
            ConfiguredTlsVersion::Tls12 => TlsVersion::Tlsv12,
            ConfiguredTlsVersion::Tls13 => TlsVersion::Tlsv13,
        };
        let parameters = TlsParameters::builder(server_name)
            .dangerous_accept_invalid_certs(config.tls.skip_verify)
            .set_min_tls_version(min_version)
            .build_rustls()
            .map_err(|error| setup_error(error.to_string()))?;
        let tls = match config.scheme {
            SmtpScheme::Smtps => Tls::Wrapper(parameters),
            _ if config.disable_starttls => Tls::None,
            _ if config.disable_require_tls => Tls::Opportunistic(parameters),
            _ => Tls::Required(parameters),
        };

        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&config.host)
            .port(config.port)
            .tls(tls)
            .hello_name(ClientId::Domain(config.identifier.clone()))
            .timeout(Some(config.timeout));
        if let (Some(username), Some(password)) = (&config.username, &config.password) {
            builder = builder.credentials(Credentials::new(
                username.clone(),
                password.expose().to_owned(),
            ));
        }
        Ok(SmtpNotifier {
            transport: builder.build(),
            sender,
            subject_template: config.subject.clone(),
            server,
        })
    }

    pub(super) async fn send(
        &self,
        recipient: &Recipient<'_>,
        email: &Email,
    ) -> Result<(), NotifyError> {
        let address =
            recipient
                .address
                .parse()
                .map_err(
                    |error: lettre::address::AddressError| NotifyError::InvalidAddress {
                        address: recipient.address.to_owned(),
                        reason: error.to_string(),
                    },
                )?;
        let name = Some(recipient.display_name.to_owned()).filter(|name| !name.is_empty());
        let to = Mailbox::new(name, address);
        let subject = self.subject_template.replace("{title}", &email.title);
        let body = MultiPart::alternative()
            .singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_PLAIN)
                    .body(email.plain.clone()),
            )
            .singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_HTML)
                    .body(email.html.clone()),
            );
        let message = Message::builder()
            .from(self.sender.clone())
            .to(to)
            .subject(subject)
            .multipart(body)
            .map_err(|error| NotifyError::Build(error.to_string()))?;
        self.transport
            .send(message)
            .await
            .map_err(|error| NotifyError::Smtp {
                server: self.server.clone(),
                reason: error.to_string(),
            })?;
        Ok(())
    }
}
