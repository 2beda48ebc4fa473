//! The browser side of the WebAuthn ceremonies, compiled only with the `hydrate` feature.
//!
//! The server's JSON routes send options in the `{"publicKey": …}` form where every binary field
//! (`challenge`, `user.id`, the `id` of `excludeCredentials` and `allowCredentials`) is a
//! base64url string without padding. These functions turn those strings into `ArrayBuffer`s, call
//! `navigator.credentials.create()` or `get()`, and serialize the resulting credential back to
//! JSON with every binary field as base64url, which is what the server's POST routes take as
//! their `response` member:
//!
//! - `PUT /api/secondfactor/webauthn/credential/register` → [`create_credential`] →
//!   `POST …/credential/register` with `{"response": <credential>}`;
//! - `GET /api/secondfactor/webauthn` → [`get_assertion`] → `POST /api/secondfactor/webauthn`
//!   with `{"response": <credential>, "targetURL": …}`;
//! - `GET /api/firstfactor/passkey` → [`get_assertion`] → `POST /api/firstfactor/passkey` with
//!   `{"response": <credential>, "keepMeLoggedIn": …, "targetURL": …, "requestMethod": …}`.
//!
//! Each function takes the `data` member of the GET or PUT response as JSON text and returns the
//! credential as JSON text.

use std::fmt;

use js_sys::{Array, ArrayBuffer, Function, Object, Reflect, Uint8Array, JSON};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{CredentialCreationOptions, CredentialRequestOptions};

use crate::base64url::{base64url_decode, base64url_encode};

/// The reason a ceremony did not produce a credential.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CeremonyError {
    /// The browser has no WebAuthn (`navigator.credentials` or `PublicKeyCredential` missing).
    NotSupported,
    /// The user cancelled, the ceremony timed out, or no authenticator matched
    /// (`NotAllowedError`); the page may offer to try again.
    NotAllowed,
    /// The authenticator is already registered for this account (`InvalidStateError`).
    AlreadyRegistered,
    /// The options from the server are not the expected JSON.
    InvalidOptions(&'static str),
    /// Any other browser error, with its name.
    Browser(String),
}

impl fmt::Display for CeremonyError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CeremonyError::NotSupported => {
                formatter.write_str("this browser does not support WebAuthn")
            }
            CeremonyError::NotAllowed => formatter
                .write_str("the request was cancelled, timed out or matched no security key"),
            CeremonyError::AlreadyRegistered => {
                formatter.write_str("this security key is already registered")
            }
            CeremonyError::InvalidOptions(what) => {
                write!(formatter, "invalid options from the server: {what}")
            }
            CeremonyError::Browser(name) => write!(formatter, "the browser reported {name}"),
        }
    }
}

impl std::error::Error for CeremonyError {}

/// Registers a new credential: runs `navigator.credentials.create()` with the options of
/// `PUT /api/secondfactor/webauthn/credential/register` and returns the credential as JSON text.
pub async fn create_credential(options_json: &str) -> Result<String, CeremonyError> {
    let public_key = public_key_options(options_json)?;
    decode_field(&public_key, "challenge")?;
    let user = get(&public_key, "user").ok_or(CeremonyError::InvalidOptions("user is missing"))?;
    decode_field(&user, "id")?;
    decode_list_ids(&public_key, "excludeCredentials")?;

    let options = CredentialCreationOptions::new();
    set(&options, "publicKey", &public_key);
    let promise = credentials()?
        .create_with_options(&options)
        .map_err(browser_error)?;
    let credential = JsFuture::from(promise).await.map_err(browser_error)?;
    let response =
        get(&credential, "response").ok_or(CeremonyError::Browser("no response".into()))?;

    let serialized = Object::new();
    copy_common(&credential, &serialized)?;
    let response_json = Object::new();
    set(
        &response_json,
        "attestationObject",
        &encode_field(&response, "attestationObject")?,
    );
    set(
        &response_json,
        "clientDataJSON",
        &encode_field(&response, "clientDataJSON")?,
    );
    if let Ok(transports) = call_method(&response, "getTransports") {
        if Array::is_array(&transports) {
            set(&response_json, "transports", &transports);
        }
    }
    set(&serialized, "response", &response_json);
    stringify(&serialized)
}

/// Signs a challenge: runs `navigator.credentials.get()` with the options of
/// `GET /api/secondfactor/webauthn` or `GET /api/firstfactor/passkey` and returns the credential
/// as JSON text. A `mediation` member next to `publicKey` is passed on.
pub async fn get_assertion(options_json: &str) -> Result<String, CeremonyError> {
    let root = parse(options_json)?;
    let public_key =
        get(&root, "publicKey").ok_or(CeremonyError::InvalidOptions("publicKey is missing"))?;
    decode_field(&public_key, "challenge")?;
    decode_list_ids(&public_key, "allowCredentials")?;

    let options = CredentialRequestOptions::new();
    set(&options, "publicKey", &public_key);
    if let Some(mediation) = get(&root, "mediation") {
        set(&options, "mediation", &mediation);
    }
    let promise = credentials()?
        .get_with_options(&options)
        .map_err(browser_error)?;
    let credential = JsFuture::from(promise).await.map_err(browser_error)?;
    let response =
        get(&credential, "response").ok_or(CeremonyError::Browser("no response".into()))?;

    let serialized = Object::new();
    copy_common(&credential, &serialized)?;
    let response_json = Object::new();
    for field in ["authenticatorData", "clientDataJSON", "signature"] {
        set(&response_json, field, &encode_field(&response, field)?);
    }
    let user_handle = match get(&response, "userHandle") {
        Some(handle) => JsValue::from_str(&base64url_encode(&Uint8Array::new(&handle).to_vec())),
        None => JsValue::NULL,
    };
    set(&response_json, "userHandle", &user_handle);
    set(&serialized, "response", &response_json);
    stringify(&serialized)
}

/// Copies `id`, `rawId` (base64url), `type` and the client extension results.
fn copy_common(credential: &JsValue, serialized: &Object) -> Result<(), CeremonyError> {
    let id = get(credential, "id").ok_or(CeremonyError::Browser("no credential id".into()))?;
    set(serialized, "id", &id);
    set(serialized, "rawId", &encode_field(credential, "rawId")?);
    set(
        serialized,
        "type",
        &get(credential, "type").unwrap_or_else(|| JsValue::from_str("public-key")),
    );
    let extensions = call_method(credential, "getClientExtensionResults")
        .unwrap_or_else(|_| Object::new().into());
    set(serialized, "extensions", &extensions);
    Ok(())
}

fn parse(options_json: &str) -> Result<JsValue, CeremonyError> {
    JSON::parse(options_json).map_err(|_| CeremonyError::InvalidOptions("not JSON"))
}

fn public_key_options(options_json: &str) -> Result<JsValue, CeremonyError> {
    let root = parse(options_json)?;
    get(&root, "publicKey").ok_or(CeremonyError::InvalidOptions("publicKey is missing"))
}

fn credentials() -> Result<web_sys::CredentialsContainer, CeremonyError> {
    let window = web_sys::window().ok_or(CeremonyError::NotSupported)?;
    let navigator = window.navigator();
    let container = Reflect::get(&navigator, &JsValue::from_str("credentials"))
        .map_err(|_| CeremonyError::NotSupported)?;
    if container.is_undefined() || container.is_null() {
        return Err(CeremonyError::NotSupported);
    }
    Ok(container.unchecked_into())
}

/// Returns `target[name]` unless it is missing, `undefined` or `null`.
fn get(target: &JsValue, name: &str) -> Option<JsValue> {
    Reflect::get(target, &JsValue::from_str(name))
        .ok()
        .filter(|value| !value.is_undefined() && !value.is_null())
}

fn set(target: &JsValue, name: &str, value: &JsValue) {
    // Reflect.set fails only on a frozen or non-extensible target; these are plain objects.
    let _ = Reflect::set(target, &JsValue::from_str(name), value);
}

fn call_method(target: &JsValue, name: &str) -> Result<JsValue, JsValue> {
    let method: Function = Reflect::get(target, &JsValue::from_str(name))?.dyn_into()?;
    method.call0(target)
}

/// Replaces the base64url string `target[name]` by an `ArrayBuffer` of its bytes.
fn decode_field(target: &JsValue, name: &'static str) -> Result<(), CeremonyError> {
    let text = get(target, name)
        .and_then(|value| value.as_string())
        .ok_or(CeremonyError::InvalidOptions(name))?;
    let bytes = base64url_decode(&text).ok_or(CeremonyError::InvalidOptions(name))?;
    set(target, name, &Uint8Array::from(bytes.as_slice()).buffer());
    Ok(())
}

/// Decodes the `id` of each entry of the list `target[name]`, when the list is present.
fn decode_list_ids(target: &JsValue, name: &'static str) -> Result<(), CeremonyError> {
    let Some(list) = get(target, name) else {
        return Ok(());
    };
    for entry in Array::from(&list).iter() {
        decode_field(&entry, "id").map_err(|_| CeremonyError::InvalidOptions(name))?;
    }
    Ok(())
}

/// Reads the `ArrayBuffer` `source[name]` as base64url text.
fn encode_field(source: &JsValue, name: &str) -> Result<JsValue, CeremonyError> {
    let buffer: ArrayBuffer = get(source, name)
        .and_then(|value| value.dyn_into().ok())
        .ok_or_else(|| CeremonyError::Browser(format!("{name} is missing")))?;
    Ok(JsValue::from_str(&base64url_encode(
        &Uint8Array::new(&buffer).to_vec(),
    )))
}

fn stringify(value: &Object) -> Result<String, CeremonyError> {
    JSON::stringify(value)
        .ok()
        .and_then(|text| text.as_string())
        .ok_or_else(|| CeremonyError::Browser("the credential cannot be serialized".into()))
}

/// Maps a rejected promise to the error the page shows.
fn browser_error(error: JsValue) -> CeremonyError {
    let name = get(&error, "name")
        .and_then(|name| name.as_string())
        .unwrap_or_default();
    match name.as_str() {
        "NotAllowedError" | "AbortError" => CeremonyError::NotAllowed,
        "InvalidStateError" => CeremonyError::AlreadyRegistered,
        "NotSupportedError" => CeremonyError::NotSupported,
        "" => CeremonyError::Browser("an unknown error".into()),
        _ => CeremonyError::Browser(name),
    }
}
