//! `identity_validation`: reset-password links and one-time codes for elevated sessions.

use std::time::Duration;

use crate::config::read::{Reader, Section};
use crate::config::secret::Secret;

#[derive(Debug, Clone)]
pub struct IdentityValidationConfig {
    pub reset_password: ResetPasswordConfig,
    pub elevated_session: ElevatedSessionConfig,
}

#[derive(Debug, Clone)]
pub struct ResetPasswordConfig {
    /// How long a reset link stays valid.
    pub jwt_lifespan: Duration,
    pub jwt_algorithm: JwtAlgorithm,
    /// Keys the reset token's HMAC; present whenever password reset is enabled.
    pub jwt_secret: Option<Secret>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwtAlgorithm {
    Hs256,
    Hs384,
    Hs512,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElevatedSessionConfig {
    pub code_lifespan: Duration,
    pub elevation_lifespan: Duration,
    /// Length of the one-time code.
    pub characters: u32,
    pub require_second_factor: bool,
    pub skip_second_factor: bool,
}

pub(crate) fn read_identity_validation(
    reader: &mut Reader,
    mut section: Section<'_>,
) -> IdentityValidationConfig {
    let mut reset = section.section(reader, "reset_password");
    let lifespan_path = reset.key_path("jwt_lifespan");
    let jwt_lifespan = reset.duration_or(reader, "jwt_lifespan", Duration::from_secs(5 * 60));
    if jwt_lifespan.is_zero() {
        reader.error(&lifespan_path, "must be longer than zero");
    }
    let algorithm_path = reset.key_path("jwt_algorithm");
    let jwt_algorithm = match reset
        .string(reader, "jwt_algorithm")
        .map(|text| text.to_ascii_uppercase())
        .as_deref()
    {
        None | Some("HS256") => JwtAlgorithm::Hs256,
        Some("HS384") => JwtAlgorithm::Hs384,
        Some("HS512") => JwtAlgorithm::Hs512,
        Some(other) => {
            reader.error(
                &algorithm_path,
                format!("unknown algorithm '{other}': expected HS256, HS384 or HS512"),
            );
            JwtAlgorithm::Hs256
        }
    };
    let jwt_secret = reset.secret(reader, "jwt_secret");
    reset.finish(reader);

    let mut elevated = section.section(reader, "elevated_session");
    let code_path = elevated.key_path("code_lifespan");
    let code_lifespan = elevated.duration_or(reader, "code_lifespan", Duration::from_secs(5 * 60));
    let elevation_path = elevated.key_path("elevation_lifespan");
    let elevation_lifespan =
        elevated.duration_or(reader, "elevation_lifespan", Duration::from_secs(10 * 60));
    for (path, lifespan) in [
        (&code_path, code_lifespan),
        (&elevation_path, elevation_lifespan),
    ] {
        if lifespan.is_zero() {
            reader.error(path, "must be longer than zero");
        }
    }
    let characters_path = elevated.key_path("characters");
    let characters = elevated
        .uint(reader, "characters", u64::from(u32::MAX))
        .unwrap_or(8) as u32;
    // NOTE: these bounds are Gatehouse's own choice, not taken from Authelia: a shorter code
    // is easier to guess, a longer one is tedious to type.
    if !(6..=20).contains(&characters) {
        reader.error(
            &characters_path,
            format!("must be between 6 and 20, found {characters}"),
        );
    }
    let require_second_factor = elevated.bool(reader, "require_second_factor", true);
    let skip_second_factor = elevated.bool(reader, "skip_second_factor", false);
    elevated.finish(reader);
    section.finish(reader);

    IdentityValidationConfig {
        reset_password: ResetPasswordConfig {
            jwt_lifespan,
            jwt_algorithm,
            jwt_secret,
        },
        elevated_session: ElevatedSessionConfig {
            code_lifespan,
            elevation_lifespan,
            characters,
            require_second_factor,
            skip_second_factor,
        },
    }
}
