//! TOTP enrolment, for an elevated session: `GET/PUT/POST/DELETE /api/secondfactor/totp/register`
//! and `DELETE /api/secondfactor/totp`.
//!
//! `PUT` draws a secret of `totp.secret_size` bytes and keeps it pending, encrypted, in the
//! database, bound to the session and expiring after [`PENDING_LIFETIME_MILLIS`]. The response
//! shows it once (base32, `otpauth://` URI and an SVG QR code). Only `POST` with a valid code for
//! that secret stores the device, replacing any earlier one, and the confirming code's time step
//! counts as used, so the same code cannot then pass as a second factor.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::config::TotpAlgorithm;
use crate::storage::{NewTotpConfiguration, TotpConfiguration};

use super::account::{audit, elevated, json_body, storage_failure};
use super::request::admit;
use super::response::{ko, ok};
use super::totp::matching_step;
use super::PortalState;

/// The `kind` of a pending TOTP enrolment in the ceremony store.
const CEREMONY: &str = "totp_register";

/// How long a drawn secret waits for its confirming code: time to scan the QR code and type one
/// code, with room for a retry.
const PENDING_LIFETIME_MILLIS: i64 = 10 * 60 * 1000;

/// The pending secret and its parameters, as stored (encrypted) between `PUT` and `POST`.
#[derive(Serialize, Deserialize)]
struct PendingTotp {
    algorithm: String,
    digits: u32,
    period: u32,
    secret: Vec<u8>,
}

#[derive(Deserialize)]
struct StartBody {
    algorithm: String,
    length: u32,
    period: u32,
}

#[derive(Deserialize)]
struct ConfirmBody {
    token: String,
}

fn disabled() -> Response {
    ko(
        StatusCode::FORBIDDEN,
        "TOTP is disabled by the configuration.",
    )
}

/// `GET /api/secondfactor/totp/register`: the parameters a user may choose, with the defaults.
pub(super) async fn options(
    State(state): State<Arc<PortalState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let portal = match admit(&state, peer, &headers, false) {
        Ok(portal) => portal,
        Err(response) => return response,
    };
    if let Err(response) = elevated(&state, &portal, &headers).await {
        return response;
    }
    if state.config.totp.disable {
        return disabled();
    }
    let totp = &state.config.totp;
    let algorithms: Vec<&str> = totp.allowed_algorithms.iter().map(|a| a.as_str()).collect();
    ok(Some(json!({
        "algorithm": totp.algorithm.as_str(),
        "algorithms": algorithms,
        "length": totp.digits,
        "lengths": totp.allowed_digits,
        "period": totp.period,
        "periods": totp.allowed_periods,
    })))
}

/// `PUT /api/secondfactor/totp/register`: draws a secret with the chosen parameters and keeps it
/// pending; returns `{base32_secret, otpauth_url, qr_svg}`.
pub(super) async fn start(
    State(state): State<Arc<PortalState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let portal = match admit(&state, peer, &headers, true) {
        Ok(portal) => portal,
        Err(response) => return response,
    };
    let session = match elevated(&state, &portal, &headers).await {
        Ok(session) => session,
        Err(response) => return response,
    };
    if state.config.totp.disable {
        return disabled();
    }
    let body: StartBody = match json_body(
        &body,
        "The body must be a JSON object with algorithm (string), length and period (numbers).",
    ) {
        Ok(body) => body,
        Err(response) => return response,
    };
    let totp = &state.config.totp;
    let algorithm = totp
        .allowed_algorithms
        .iter()
        .copied()
        .find(|allowed| allowed.as_str().eq_ignore_ascii_case(body.algorithm.trim()));
    let Some(algorithm) = algorithm else {
        return ko(
            StatusCode::BAD_REQUEST,
            "The algorithm is not one of the allowed algorithms.",
        );
    };
    if !totp.allowed_digits.contains(&body.length) {
        return ko(
            StatusCode::BAD_REQUEST,
            "The length is not one of the allowed lengths.",
        );
    }
    if !totp.allowed_periods.contains(&body.period) {
        return ko(
            StatusCode::BAD_REQUEST,
            "The period is not one of the allowed periods.",
        );
    }

    let mut secret = vec![0u8; totp.secret_size as usize];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    let pending = PendingTotp {
        algorithm: algorithm.as_str().to_owned(),
        digits: body.length,
        period: body.period,
        secret,
    };
    let username = session.username();
    let now = state.clock.now_millis();
    let sealed = serde_json::to_vec(&pending).expect("the pending enrolment serializes");
    if let Err(error) = state
        .db
        .put_ceremony(
            &session.id_hash,
            CEREMONY,
            Some(username),
            &sealed,
            now,
            now + PENDING_LIFETIME_MILLIS,
        )
        .await
    {
        return storage_failure(&error, username, "store the pending TOTP secret");
    }

    let base32_secret = data_encoding::BASE32_NOPAD.encode(&pending.secret);
    let url = otpauth_url(&totp.issuer, username, &base32_secret, algorithm, &pending);
    let Some(svg) = qr_svg(&url) else {
        tracing::error!(username, "rendering the TOTP QR code failed");
        return super::response::internal_error();
    };
    tracing::info!(username, "TOTP enrolment started");
    ok(Some(json!({
        "base32_secret": base32_secret,
        "otpauth_url": url,
        "qr_svg": svg,
    })))
}

/// `POST /api/secondfactor/totp/register {token}`: stores the pending device when `token` is a
/// valid code for it (400 otherwise, and the pending secret stays for another try).
pub(super) async fn confirm(
    State(state): State<Arc<PortalState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let portal = match admit(&state, peer, &headers, true) {
        Ok(portal) => portal,
        Err(response) => return response,
    };
    let session = match elevated(&state, &portal, &headers).await {
        Ok(session) => session,
        Err(response) => return response,
    };
    if state.config.totp.disable {
        return disabled();
    }
    let body: ConfirmBody =
        match json_body(&body, "The body must be a JSON object with a token string.") {
            Ok(body) => body,
            Err(response) => return response,
        };
    let username = session.username();
    let now = state.clock.now_millis();

    let pending =
        match state.db.get_ceremony(&session.id_hash, CEREMONY, now).await {
            Ok(Some(ceremony)) => ceremony,
            Ok(None) => return ko(
                StatusCode::BAD_REQUEST,
                "No TOTP enrolment is in progress for this session, or it expired; start again.",
            ),
            Err(error) => return storage_failure(&error, username, "read the pending TOTP secret"),
        };
    let Ok(pending) = serde_json::from_slice::<PendingTotp>(&pending.state) else {
        tracing::error!(username, "a pending TOTP enrolment has an unreadable state");
        return super::response::internal_error();
    };
    let device = TotpConfiguration {
        username: username.to_owned(),
        issuer: state.config.totp.issuer.clone(),
        algorithm: pending.algorithm.clone(),
        digits: pending.digits,
        period: pending.period,
        secret: pending.secret.clone(),
        last_used_step: None,
        created_at: now,
        last_used_at: None,
    };
    let Some(step) = matching_step(
        &device,
        body.token.trim(),
        state.clock.now_secs(),
        state.config.totp.skew,
    ) else {
        tracing::info!(username, "TOTP enrolment not confirmed: wrong code");
        return ko(
            StatusCode::BAD_REQUEST,
            "The code does not match the new secret. Check the authenticator app and try again.",
        );
    };

    let new_device = NewTotpConfiguration {
        username: device.username,
        issuer: device.issuer,
        algorithm: device.algorithm,
        digits: device.digits,
        period: device.period,
        secret: device.secret,
    };
    if let Err(error) = state.db.upsert_totp_configuration(&new_device, now).await {
        return storage_failure(&error, username, "store the TOTP device");
    }
    if let Err(error) = state.db.accept_totp_step(username, step, now).await {
        return storage_failure(&error, username, "mark the confirming code as used");
    }
    if let Err(error) = state.db.delete_ceremony(&session.id_hash, CEREMONY).await {
        return storage_failure(&error, username, "delete the pending TOTP secret");
    }
    tracing::info!(username, "TOTP device registered");
    let details = json!({ "algorithm": new_device.algorithm, "digits": new_device.digits, "period": new_device.period });
    audit(&state, &portal, username, "totp.registered", details).await;
    ok(None)
}

/// `DELETE /api/secondfactor/totp/register`: cancels a pending enrolment. Succeeds when none is
/// pending too.
pub(super) async fn cancel(
    State(state): State<Arc<PortalState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let portal = match admit(&state, peer, &headers, true) {
        Ok(portal) => portal,
        Err(response) => return response,
    };
    let session = match elevated(&state, &portal, &headers).await {
        Ok(session) => session,
        Err(response) => return response,
    };
    if let Err(error) = state.db.delete_ceremony(&session.id_hash, CEREMONY).await {
        return storage_failure(&error, session.username(), "cancel the TOTP enrolment");
    }
    ok(None)
}

/// `DELETE /api/secondfactor/totp`: removes the user's TOTP device; 404 when there is none.
pub(super) async fn remove(
    State(state): State<Arc<PortalState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let portal = match admit(&state, peer, &headers, true) {
        Ok(portal) => portal,
        Err(response) => return response,
    };
    let session = match elevated(&state, &portal, &headers).await {
        Ok(session) => session,
        Err(response) => return response,
    };
    let username = session.username();
    match state.db.delete_totp_configuration(username).await {
        Ok(true) => {
            tracing::info!(username, "TOTP device removed");
            audit(&state, &portal, username, "totp.removed", json!({})).await;
            ok(None)
        }
        Ok(false) => ko(StatusCode::NOT_FOUND, "No TOTP device is registered."),
        Err(error) => storage_failure(&error, username, "remove the TOTP device"),
    }
}

/// Builds `otpauth://totp/<issuer>:<user>?secret=…&issuer=…&algorithm=…&digits=…&period=…`.
fn otpauth_url(
    issuer: &str,
    username: &str,
    base32_secret: &str,
    algorithm: TotpAlgorithm,
    pending: &PendingTotp,
) -> String {
    format!(
        "otpauth://totp/{label_issuer}:{label_user}?secret={base32_secret}&issuer={label_issuer}\
         &algorithm={algorithm}&digits={digits}&period={period}",
        label_issuer = percent_encode(issuer),
        label_user = percent_encode(username),
        algorithm = algorithm.as_str(),
        digits = pending.digits,
        period = pending.period,
    )
}

/// Percent-encodes every byte but the unreserved characters of RFC 3986.
fn percent_encode(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// Renders `text` as an SVG QR code; `None` when it is too long for a QR code.
fn qr_svg(text: &str) -> Option<String> {
    let code = qrcode::QrCode::with_error_correction_level(text, qrcode::EcLevel::M).ok()?;
    Some(
        code.render::<qrcode::render::svg::Color<'_>>()
            .min_dimensions(200, 200)
            .build(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn otpauth_url_encodes_the_label() {
        let pending = PendingTotp {
            algorithm: "SHA256".to_owned(),
            digits: 8,
            period: 60,
            secret: vec![],
        };
        let url = otpauth_url("My Corp", "j.doe@x", "ABC", TotpAlgorithm::Sha256, &pending);
        assert_eq!(
            url,
            "otpauth://totp/My%20Corp:j.doe%40x?secret=ABC&issuer=My%20Corp&algorithm=SHA256\
             &digits=8&period=60"
        );
    }

    #[test]
    fn qr_svg_is_an_svg_document() {
        let svg = qr_svg("otpauth://totp/Gatehouse:alice?secret=ABC").unwrap();
        assert!(svg.contains("<svg"));
        assert!(svg.contains("</svg>"));
    }
}
