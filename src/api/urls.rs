//! Short-lived download links that qianshu serves itself: `BASE/files/ID?expires=T&signature=S`,
//! S being HMAC-SHA256 over the path and T under a key every node shares (kept in the
//! database). A link with a bad or expired signature is refused and reveals nothing.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// "有效期5分钟": how long a handed-out link works.
pub const LIFETIME_SECONDS: i64 = 300;

pub struct UrlSigner {
    key: Vec<u8>,
    base: String,
}

impl UrlSigner {
    pub fn new(key: &[u8], base: &str) -> UrlSigner {
        UrlSigner { key: key.to_vec(), base: base.trim_end_matches('/').to_owned() }
    }

    fn mac(&self, path: &str, expires: i64) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes keys of any length");
        mac.update(path.as_bytes());
        mac.update(b"\n");
        mac.update(expires.to_string().as_bytes());
        mac
    }

    /// A link to `path` (such as `files/ID`) that works until `now + LIFETIME_SECONDS`.
    pub fn sign(&self, path: &str, now: i64) -> String {
        let expires = now + LIFETIME_SECONDS;
        let signature = hex::encode(self.mac(path, expires).finalize().into_bytes());
        format!("{}/{path}?expires={expires}&signature={signature}", self.base)
    }

    pub fn verify(&self, path: &str, expires: i64, signature: &str, now: i64) -> bool {
        let Ok(signature) = hex::decode(signature) else { return false };
        now <= expires && self.mac(path, expires).verify_slice(&signature).is_ok()
    }
}

/// The path of a link to uploaded file `file_id` of application `app`: the link names the
/// application so that serving it looks the file up by both, as every lookup does.
pub fn file_path(app: &str, file_id: &str) -> String {
    let app: String = form_urlencoded::byte_serialize(app.as_bytes()).collect();
    format!("files/{app}/{file_id}")
}

/// The path of a link to blob `sha256` under `name` (which the browser saves it as); `view`
/// asks browsers to show it rather than download it.
pub fn blob_path(sha256: &str, name: &str, view: bool) -> String {
    let name: String = form_urlencoded::byte_serialize(name.as_bytes()).collect();
    format!("{}/{sha256}/{name}", if view { "view" } else { "blobs" })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(url: &str) -> (i64, String) {
        let query = url.split_once('?').unwrap().1;
        let mut expires = 0;
        let mut signature = String::new();
        for (k, v) in form_urlencoded::parse(query.as_bytes()) {
            match &*k {
                "expires" => expires = v.parse().unwrap(),
                "signature" => signature = v.into_owned(),
                _ => {}
            }
        }
        (expires, signature)
    }

    #[test]
    fn a_link_works_for_five_minutes_and_only_for_its_path() {
        let signer = UrlSigner::new(b"k", "http://127.0.0.1:8080/");
        let url = signer.sign("files/abc", 1_000);
        assert!(url.starts_with("http://127.0.0.1:8080/files/abc?expires=1300&signature="));
        let (expires, signature) = parts(&url);
        assert!(signer.verify("files/abc", expires, &signature, 1_300));
        assert!(!signer.verify("files/abc", expires, &signature, 1_301), "expired");
        assert!(!signer.verify("files/abd", expires, &signature, 1_000), "another path");
        assert!(!signer.verify("files/abc", expires + 1, &signature, 1_000), "another expiry");
        assert!(!signer.verify("files/abc", expires, "zz", 1_000), "not hex");
        assert!(!UrlSigner::new(b"other", "http://x").verify("files/abc", expires, &signature, 1_000), "another key");
    }
}
