//! A software WebAuthn authenticator for the tests: one P-256 (ES256) credential, "none"
//! attestation, and knobs to send a wrong origin, a wrong RP ID or a stale signature counter.
//! Written from the WebAuthn Level 2 data layouts (authenticator data, attested credential
//! data, COSE_Key), independently of the server's library.

#![allow(dead_code)]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ciborium::Value as Cbor;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const FLAG_USER_PRESENT: u8 = 0x01;
const FLAG_USER_VERIFIED: u8 = 0x04;
const FLAG_ATTESTED_DATA: u8 = 0x40;

pub struct SoftAuthenticator {
    key: SigningKey,
    pub credential_id: Vec<u8>,
    pub counter: u32,
    /// The user handle stored with the credential at registration.
    pub user_handle: Vec<u8>,
    /// Whether the authenticator reports user verification (PIN or biometric).
    pub user_verification: bool,
    /// The origin put in the client data; the portal's origin unless a test changes it.
    pub origin: String,
    /// Overrides the RP ID whose hash goes into the authenticator data.
    pub rp_id_override: Option<String>,
    pub aaguid: [u8; 16],
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn unb64(text: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(text).expect("base64url")
}

impl SoftAuthenticator {
    pub fn new(origin: &str) -> SoftAuthenticator {
        SoftAuthenticator {
            key: SigningKey::random(&mut rand::rngs::OsRng),
            credential_id: rand::random::<[u8; 16]>().to_vec(),
            counter: 0,
            user_handle: Vec::new(),
            user_verification: true,
            origin: origin.to_owned(),
            rp_id_override: None,
            aaguid: [0x5a; 16],
        }
    }

    pub fn credential_id_text(&self) -> String {
        b64(&self.credential_id)
    }

    fn client_data(&self, kind: &str, challenge: &str) -> Vec<u8> {
        json!({ "type": kind, "challenge": challenge, "origin": self.origin, "crossOrigin": false })
            .to_string()
            .into_bytes()
    }

    fn rp_id_hash(&self, rp_id: &str) -> Vec<u8> {
        let rp_id = self.rp_id_override.as_deref().unwrap_or(rp_id);
        Sha256::digest(rp_id.as_bytes()).to_vec()
    }

    fn flags(&self) -> u8 {
        let mut flags = FLAG_USER_PRESENT;
        if self.user_verification {
            flags |= FLAG_USER_VERIFIED;
        }
        flags
    }

    fn cose_key(&self) -> Vec<u8> {
        let point = self.key.verifying_key().to_encoded_point(false);
        let map = Cbor::Map(vec![
            (Cbor::Integer(1.into()), Cbor::Integer(2.into())),
            (Cbor::Integer(3.into()), Cbor::Integer((-7).into())),
            (Cbor::Integer((-1).into()), Cbor::Integer(1.into())),
            (
                Cbor::Integer((-2).into()),
                Cbor::Bytes(point.x().expect("x").to_vec()),
            ),
            (
                Cbor::Integer((-3).into()),
                Cbor::Bytes(point.y().expect("y").to_vec()),
            ),
        ]);
        let mut bytes = Vec::new();
        ciborium::into_writer(&map, &mut bytes).expect("CBOR");
        bytes
    }

    /// Responds to `navigator.credentials.create()` for the options the server sent (the `data` of
    /// its response), as the browser would serialize the credential.
    pub fn register(&mut self, options: &Value) -> Value {
        let public_key = &options["publicKey"];
        let challenge = public_key["challenge"].as_str().expect("a challenge");
        let rp_id = public_key["rp"]["id"].as_str().expect("an RP ID");
        self.user_handle = unb64(public_key["user"]["id"].as_str().expect("a user id"));

        let mut auth_data = self.rp_id_hash(rp_id);
        auth_data.push(self.flags() | FLAG_ATTESTED_DATA);
        auth_data.extend_from_slice(&self.counter.to_be_bytes());
        auth_data.extend_from_slice(&self.aaguid);
        auth_data.extend_from_slice(&(self.credential_id.len() as u16).to_be_bytes());
        auth_data.extend_from_slice(&self.credential_id);
        auth_data.extend_from_slice(&self.cose_key());
        let attestation = Cbor::Map(vec![
            (Cbor::Text("fmt".into()), Cbor::Text("none".into())),
            (Cbor::Text("attStmt".into()), Cbor::Map(vec![])),
            (Cbor::Text("authData".into()), Cbor::Bytes(auth_data)),
        ]);
        let mut attestation_object = Vec::new();
        ciborium::into_writer(&attestation, &mut attestation_object).expect("CBOR");

        json!({
            "id": b64(&self.credential_id),
            "rawId": b64(&self.credential_id),
            "type": "public-key",
            "response": {
                "attestationObject": b64(&attestation_object),
                "clientDataJSON": b64(&self.client_data("webauthn.create", challenge)),
                "transports": ["usb"],
            },
            "extensions": { "credProps": { "rk": true } },
        })
    }

    /// Responds to `navigator.credentials.get()` for the options the server sent, counting one use.
    pub fn assert(&mut self, options: &Value) -> Value {
        self.counter += 1;
        self.assert_with_counter(options, self.counter)
    }

    /// Responds to `navigator.credentials.get()` with the signature counter `counter`.
    pub fn assert_with_counter(&self, options: &Value, counter: u32) -> Value {
        let public_key = &options["publicKey"];
        let challenge = public_key["challenge"].as_str().expect("a challenge");
        let rp_id = public_key["rpId"].as_str().expect("an RP ID");
        let mut auth_data = self.rp_id_hash(rp_id);
        auth_data.push(self.flags());
        auth_data.extend_from_slice(&counter.to_be_bytes());
        let client_data = self.client_data("webauthn.get", challenge);
        let mut signed = auth_data.clone();
        signed.extend_from_slice(&Sha256::digest(&client_data));
        let signature: Signature = self.key.sign(&signed);
        json!({
            "id": b64(&self.credential_id),
            "rawId": b64(&self.credential_id),
            "type": "public-key",
            "response": {
                "authenticatorData": b64(&auth_data),
                "clientDataJSON": b64(&client_data),
                "signature": b64(signature.to_der().as_bytes()),
                "userHandle": b64(&self.user_handle),
            },
            "extensions": {},
        })
    }
}
