//! A message as it goes on the wire, exactly as Tencent's callback kits decrypt and verify it
//! (the Go and Java kits, and the partner documentation): with a CallbackKey the body is
//! `{"encrypt": base64(AES-256-CBC(key, IV = the key's first 16 bytes, PKCS#7))}`; with a
//! CallbackToken the header `Content-Signature: sha256=<lowercase hex HMAC-SHA256(token, body)>`
//! signs the body as sent (the encrypted one when both are set). Pure functions, no I/O.

use aes::cipher::{BlockModeEncrypt, KeyIvInit, block_padding::Pkcs7};
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;

pub const SIGNATURE_HEADER: &str = "Content-Signature";

#[derive(Serialize)]
struct Encrypted {
    encrypt: String,
}

/// A body ready to send, and its `Content-Signature` if the application has a token.
#[derive(Debug, PartialEq, Eq)]
pub struct Encoded {
    pub body: Vec<u8>,
    pub signature: Option<String>,
}

/// `key` must be 32 bytes (the tenants file checks it); a key of another length is an error.
pub fn encode(payload: &str, key: Option<&[u8]>, token: Option<&[u8]>) -> anyhow::Result<Encoded> {
    let body = match key {
        None => payload.as_bytes().to_vec(),
        Some(key) => {
            let encrypt = base64::engine::general_purpose::STANDARD.encode(encrypt(key, payload.as_bytes())?);
            serde_json::to_vec(&Encrypted { encrypt })?
        }
    };
    let signature = token.map(|t| sign(t, &body));
    Ok(Encoded { body, signature })
}

fn encrypt(key: &[u8], plaintext: &[u8]) -> anyhow::Result<Vec<u8>> {
    let key: &[u8; 32] =
        key.try_into().map_err(|_| anyhow::anyhow!("the CallbackKey is {} bytes, not 32", key.len()))?;
    let iv: &[u8; 16] = key[..16].try_into().expect("16 of 32 bytes");
    Ok(cbc::Encryptor::<aes::Aes256>::new(key.into(), iv.into()).encrypt_padded_vec::<Pkcs7>(plaintext))
}

/// `sha256=` and the HMAC-SHA256 of `body` under `token`, in lowercase hex.
fn sign(token: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(token).expect("HMAC takes any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}
