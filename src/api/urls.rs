//! Short-lived download links that qianshu serves itself: `BASE/files/ID?expires=T&signature=S`,
//! S being HMAC-SHA256 over the path and T under a key every node shares (kept in the
//! database). A link with a bad or expired signature is refused and reveals nothing.

use hmac::{Hmac, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
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

    /// `path` under the public URL, unsigned: for links whose secret is in the path itself.
    pub fn absolute(&self, path: &str) -> String {
        format!("{}/{path}", self.base)
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

/// The path of sign link `token`: its 43 characters are URL-safe as they are.
pub fn sign_path(token: &crate::domain::link::LinkToken) -> String {
    format!("s/{}", token.as_str())
}

/// Everything but RFC 3986's unreserved characters is escaped in a link's name, so the router
/// decodes exactly the name that was signed and the verifier encodes it back to the same path.
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// RFC 5987's `attr-char`: what `filename*=` may carry unescaped.
const ATTR_CHAR: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'!')
    .remove(b'#')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b'-')
    .remove(b'.')
    .remove(b'^')
    .remove(b'_')
    .remove(b'`')
    .remove(b'|')
    .remove(b'~');

/// The path of a link to blob `sha256` under `name` (which the browser saves it as); `view`
/// asks browsers to show it rather than download it. A `/` in the name becomes `_`, as browsers
/// would save it anyway: an escaped slash (`%2F`) is refused or decoded by common reverse
/// proxies. A name that is empty or a dot segment (which URL parsers resolve away) is `file`.
pub fn blob_path(sha256: &str, name: &str, view: bool) -> String {
    let name = match name.replace('/', "_") {
        n if n.is_empty() || n == "." || n == ".." => "file".to_owned(),
        n => n,
    };
    format!("{}/{sha256}/{}", if view { "view" } else { "blobs" }, utf8_percent_encode(&name, PATH_SEGMENT))
}

/// `Content-Disposition` for a download named `file_name`, shown (`inline`) or saved: RFC 6266's
/// `filename*` in UTF-8 (RFC 5987), which browsers prefer, after a plain ASCII `filename` for
/// clients that do not read it (anything but printable ASCII there, and `"`, `\` and `%`, which
/// some clients unescape, become `_`).
pub fn content_disposition(file_name: &str, inline: bool) -> String {
    let fallback: String = file_name
        .chars()
        .map(|c| if (c == ' ' || c.is_ascii_graphic()) && !matches!(c, '"' | '\\' | '%') { c } else { '_' })
        .collect();
    format!(
        "{}; filename=\"{fallback}\"; filename*=UTF-8''{}",
        if inline { "inline" } else { "attachment" },
        utf8_percent_encode(file_name, ATTR_CHAR)
    )
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

    #[test]
    fn a_link_name_is_percent_encoded_with_slashes_and_dot_segments_replaced() {
        assert_eq!(blob_path("h", "my photo+1 100%.png", false), "blobs/h/my%20photo%2B1%20100%25.png");
        assert_eq!(blob_path("h", "合同 \"v2\".pdf", true), "view/h/%E5%90%88%E5%90%8C%20%22v2%22.pdf");
        assert_eq!(blob_path("h", "a/b.pdf", false), "blobs/h/a_b.pdf");
        for dots in ["", ".", ".."] {
            assert_eq!(blob_path("h", dots, false), "blobs/h/file");
        }
        assert_eq!(blob_path("h", "...", false), "blobs/h/...");
    }

    #[test]
    fn a_content_disposition_carries_the_exact_name_and_an_ascii_fallback() {
        assert_eq!(
            content_disposition("my photo.png", false),
            "attachment; filename=\"my photo.png\"; filename*=UTF-8''my%20photo.png"
        );
        assert_eq!(
            content_disposition("合同 \"A+B\" 100%\\x.pdf", true),
            "inline; filename=\"__ _A+B_ 100__x.pdf\"; filename*=UTF-8''%E5%90%88%E5%90%8C%20%22A+B%22%20100%25%5Cx.pdf"
        );
    }
}
