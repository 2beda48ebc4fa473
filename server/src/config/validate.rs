//! Checks that involve more than one section, run after every section has been read.

use crate::config::read::Reader;
use crate::config::secret::GENERATE_SECRET_HINT;
use crate::config::Config;

/// Minimum length in characters of `session.secret` and the reset-password secret.
const MIN_SECRET_CHARS: usize = 32;

pub(crate) fn check_config(reader: &mut Reader, config: &Config) {
    check_secret_length(
        reader,
        "session.secret",
        config.session.secret.char_count(),
        !config.session.secret.expose().is_empty(),
    );

    let reset = &config.authentication_backend.password_reset;
    let reset_in_gatehouse = !reset.disable && reset.custom_url.is_none();
    let jwt_path = "identity_validation.reset_password.jwt_secret";
    match &config.identity_validation.reset_password.jwt_secret {
        Some(secret) => check_secret_length(reader, jwt_path, secret.char_count(), true),
        None if reset_in_gatehouse => reader.error(
            jwt_path,
            format!("missing: password reset is enabled (set authentication_backend.password_reset.disable: true to turn it off); {GENERATE_SECRET_HINT}"),
        ),
        None => {}
    }

    if config.totp.disable && config.webauthn.disable {
        let uses_two_factor = config.access_control.default_policy
            == crate::config::Policy::TwoFactor
            || config
                .access_control
                .rules
                .iter()
                .any(|rule| rule.policy == crate::config::Policy::TwoFactor);
        if uses_two_factor {
            reader.error(
                "access_control",
                "a two_factor policy is used but both totp and webauthn are disabled, so nobody could reach two factors",
            );
        }
    }
}

/// Reports a secret shorter than the minimum. Only the length is ever shown.
fn check_secret_length(reader: &mut Reader, path: &str, chars: usize, present: bool) {
    if present && chars < MIN_SECRET_CHARS {
        reader.error(
            path,
            format!("must be at least {MIN_SECRET_CHARS} characters, found {chars}; {GENERATE_SECRET_HINT}"),
        );
    }
}
