//! TC3-HMAC-SHA256, the API 3.0 request signature, as pure functions. The canonical headers are
//! built from the `SignedHeaders` the request itself names, not from a fixed list.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::{ApiError, Code};

pub const ALGORITHM: &str = "TC3-HMAC-SHA256";
/// The service the Python and Go SDKs put in the credential scope. The Node SDK puts the first
/// label of its endpoint there instead ("127" for 127.0.0.1), so the scope's own service is used.
pub const SERVICE: &str = "essbasic";
pub const TERMINATOR: &str = "tc3_request";
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
/// How far `X-TC-Timestamp` may be from the server's clock, either way.
pub const MAX_SKEW_SECONDS: i64 = 300;

type HmacSha256 = Hmac<Sha256>;

/// The parts of an HTTP request the signature covers.
pub struct SignedParts<'a, 'h> {
    pub method: &'a str,
    /// The query string exactly as sent (GET carries the parameters there).
    pub query: &'a str,
    /// Looks a header up by its lowercase name.
    pub header: &'a (dyn Fn(&str) -> Option<&'h str> + Sync),
    pub body: &'a [u8],
}

/// The parsed `Authorization` header.
#[derive(Debug, PartialEq, Eq)]
pub struct Authorization {
    pub secret_id: String,
    pub date: String,
    pub service: String,
    pub signed_headers: Vec<String>,
    pub signature: String,
}

impl Authorization {
    pub fn parse(header: &str) -> Result<Authorization, ApiError> {
        let invalid = |why: &str| {
            ApiError::new(
                Code::AuthFailure_InvalidAuthorization,
                format!("Authorization in the request header is invalid: {why}."),
            )
        };
        let rest = header
            .strip_prefix(ALGORITHM)
            .and_then(|r| r.strip_prefix(' '))
            .ok_or_else(|| invalid("it must start with `TC3-HMAC-SHA256 `"))?;
        let (mut credential, mut signed, mut signature) = (None, None, None);
        for part in rest.split(',') {
            let (k, v) = part.trim().split_once('=').ok_or_else(|| invalid("expected `Key=Value` parts"))?;
            match k {
                "Credential" => credential = Some(v),
                "SignedHeaders" => signed = Some(v),
                "Signature" => signature = Some(v),
                _ => return Err(invalid("unexpected part")),
            }
        }
        let credential = credential.ok_or_else(|| invalid("Credential is missing"))?;
        let signed = signed.ok_or_else(|| invalid("SignedHeaders is missing"))?;
        let signature = signature.ok_or_else(|| invalid("Signature is missing"))?;
        let scope: Vec<&str> = credential.split('/').collect();
        let [secret_id, date, service, terminator] = scope[..] else {
            return Err(invalid("Credential must be SecretId/Date/Service/tc3_request"));
        };
        if secret_id.is_empty() || terminator != TERMINATOR {
            return Err(invalid("Credential must be SecretId/Date/Service/tc3_request"));
        }
        let signed_headers: Vec<String> = signed.split(';').map(str::to_owned).collect();
        if signed_headers.iter().any(|h| h.is_empty() || h.chars().any(|c| c.is_ascii_uppercase())) {
            return Err(invalid("SignedHeaders must be lowercase names separated by `;`"));
        }
        if signature.len() != 64 || !signature.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(invalid("Signature must be 64 hex digits"));
        }
        Ok(Authorization {
            secret_id: secret_id.to_owned(),
            date: date.to_owned(),
            service: service.to_owned(),
            signed_headers,
            signature: signature.to_ascii_lowercase(),
        })
    }
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn hmac(key: &[u8], msg: &[u8]) -> Vec<u8> {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(msg);
    mac.finalize().into_bytes().to_vec()
}

/// How the `host` header enters the canonical request. The Node SDK sends `Host: ip:port` but
/// signs the host name alone, so a port is also tried without (for Tencent's own endpoints, on
/// port 443, the two never differ).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostForm {
    AsSent,
    WithoutPort,
}

pub fn canonical_request(
    parts: &SignedParts<'_, '_>,
    signed_headers: &[String],
    host: HostForm,
) -> Result<String, ApiError> {
    let mut headers = String::new();
    for name in signed_headers {
        let value = (parts.header)(name).ok_or_else(|| {
            ApiError::new(
                Code::AuthFailure_InvalidAuthorization,
                format!(
                    "Authorization in the request header is invalid: signed header `{name}` is not in the request."
                ),
            )
        })?;
        let value = match (name.as_str(), host) {
            ("host", HostForm::WithoutPort) => value.rsplit_once(':').map_or(value, |(h, _)| h),
            _ => value,
        };
        headers.push_str(name);
        headers.push(':');
        headers.push_str(&value.trim().to_ascii_lowercase());
        headers.push('\n');
    }
    let payload: &[u8] = match (parts.header)("x-tc-content-sha256") {
        Some(UNSIGNED_PAYLOAD) => UNSIGNED_PAYLOAD.as_bytes(),
        _ if parts.method == "GET" => b"",
        _ => parts.body,
    };
    let query = if parts.method == "GET" { parts.query } else { "" };
    Ok(format!("{}\n/\n{}\n{}\n{}\n{}", parts.method, query, headers, signed_headers.join(";"), sha256_hex(payload)))
}

pub fn string_to_sign(timestamp: &str, date: &str, service: &str, canonical_request: &str) -> String {
    format!("{ALGORITHM}\n{timestamp}\n{date}/{service}/{TERMINATOR}\n{}", sha256_hex(canonical_request.as_bytes()))
}

pub fn signing_key(secret_key: &str, date: &str, service: &str) -> Vec<u8> {
    let k_date = hmac(format!("TC3{secret_key}").as_bytes(), date.as_bytes());
    let k_service = hmac(&k_date, service.as_bytes());
    hmac(&k_service, TERMINATOR.as_bytes())
}

pub fn signature(secret_key: &str, date: &str, service: &str, string_to_sign: &str) -> String {
    hex::encode(hmac(&signing_key(secret_key, date, service), string_to_sign.as_bytes()))
}

/// The UTC calendar date (`YYYY-MM-DD`) of a Unix timestamp, as the credential scope carries it.
pub fn scope_date(timestamp: i64) -> Option<String> {
    let t = time::OffsetDateTime::from_unix_timestamp(timestamp).ok()?;
    t.format(time::macros::format_description!("[year]-[month]-[day]")).ok()
}

/// Checks the timestamp window; the signature itself is checked by [`verify_signature`] once the
/// SecretKey is known.
pub fn check_timestamp(timestamp: &str, now: i64) -> Result<i64, ApiError> {
    let ts: i64 = timestamp.parse().map_err(|_| {
        ApiError::new(Code::InvalidParameter, "The value of header `X-TC-Timestamp` must be a Unix time in seconds.")
    })?;
    if now.abs_diff(ts) > MAX_SKEW_SECONDS.unsigned_abs() {
        return Err(ApiError::new(
            Code::AuthFailure_SignatureExpire,
            format!(
                "Signature expired: X-TC-Timestamp {ts} and server time {now} differ by more than {MAX_SKEW_SECONDS} seconds."
            ),
        ));
    }
    Ok(ts)
}

pub fn verify_signature(
    parts: &SignedParts<'_, '_>,
    auth: &Authorization,
    timestamp: i64,
    secret_key: &str,
) -> Result<(), ApiError> {
    let failure = |why: &str| {
        ApiError::new(
            Code::AuthFailure_SignatureFailure,
            format!("The provided credentials could not be validated: {why}."),
        )
    };
    if scope_date(timestamp).as_deref() != Some(auth.date.as_str()) {
        return Err(failure("the credential date is not the UTC date of X-TC-Timestamp"));
    }
    for host in [HostForm::AsSent, HostForm::WithoutPort] {
        let canonical = canonical_request(parts, &auth.signed_headers, host)?;
        let to_sign = string_to_sign(&timestamp.to_string(), &auth.date, &auth.service, &canonical);
        let expected = signature(secret_key, &auth.date, &auth.service, &to_sign);
        if bool::from(expected.as_bytes().ct_eq(auth.signature.as_bytes())) {
            return Ok(());
        }
    }
    // The usual cause is a key that is not this SecretId's, and the second a proxy that rewrites
    // what was signed; the clock is judged before (SignatureExpire), so it is not the reason here.
    Err(failure(&format!(
        "the signature does not match. Check that the client signs with the SecretKey issued with \
         SecretId `{}`, and that nothing between it and qianshu rewrites the body, the query or the Host header",
        auth.secret_id
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_timestamp_the_fuzzer_found_is_refused_without_a_panic() {
        // scripts/fuzz.sh keeps what `authorization` found: lines of Authorization, then
        // X-TC-Timestamp, …; an i64::MIN timestamp overflowed the window's subtraction.
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fuzz/authorization");
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            let timestamp = text.lines().nth(1).unwrap_or_default();
            let e = check_timestamp(timestamp, 1_800_000_000).expect_err("refused");
            assert_eq!(e.code, Code::AuthFailure_SignatureExpire, "{}", path.display());
        }
    }

    // Captured from tencentcloud-sdk-python-essbasic 3.1.193 by tools/tc3_vectors.py.
    const SECRET_ID: &str = "AKIDqianshuTEST";
    const SECRET_KEY: &str = "secretKEYqianshu";
    const HOST: &str = "127.0.0.1:37863";
    const POST_BODY: &str =
        r#"{"Agent": {"AppId": "app1", "ProxyOperator": {"OpenId": "\u5f20\u4e09"}}, "Limit": 5, "WithPdfUrl": true}"#;
    const POST_AUTH: &str = "TC3-HMAC-SHA256 Credential=AKIDqianshuTEST/2023-11-14/essbasic/tc3_request, SignedHeaders=content-type;host, Signature=fd425e856630ced3605af18e8b6f39be5a1462e893c2d10977d3dcec495bd004";
    const GET_QUERY: &str = "Agent.AppId=app1&Agent.ProxyOperator.OpenId=%E5%BC%A0%E4%B8%89&Limit=5&WithPdfUrl=True";
    const GET_AUTH: &str = "TC3-HMAC-SHA256 Credential=AKIDqianshuTEST/2023-11-14/essbasic/tc3_request, SignedHeaders=content-type;host, Signature=a68ed7a1f9f21becf329b925da439fc3ec4b14ce0f9a6c7429cefee51cbcea99";
    const TIMESTAMP: i64 = 1_700_000_000;

    fn headers(content_type: &'static str) -> impl Fn(&str) -> Option<&'static str> {
        move |name| match name {
            "content-type" => Some(content_type),
            "host" => Some(HOST),
            _ => None,
        }
    }

    fn check(
        method: &str,
        query: &str,
        content_type: &'static str,
        body: &[u8],
        auth: &str,
        key: &str,
    ) -> Result<(), ApiError> {
        let h = headers(content_type);
        let parts = SignedParts { method, query, header: &h, body };
        verify_signature(&parts, &Authorization::parse(auth)?, TIMESTAMP, key)
    }

    #[test]
    fn the_sdks_post_signature_verifies() {
        check("POST", "", "application/json", POST_BODY.as_bytes(), POST_AUTH, SECRET_KEY).unwrap();
    }

    #[test]
    fn the_sdks_get_signature_verifies() {
        check("GET", GET_QUERY, "application/x-www-form-urlencoded", b"", GET_AUTH, SECRET_KEY).unwrap();
    }

    #[test]
    fn a_changed_body_byte_or_key_fails_with_signature_failure() {
        let tampered = POST_BODY.replace("\"Limit\": 5", "\"Limit\": 6");
        let e = check("POST", "", "application/json", tampered.as_bytes(), POST_AUTH, SECRET_KEY).unwrap_err();
        assert_eq!(e.code, Code::AuthFailure_SignatureFailure);
        let e = check("POST", "", "application/json", POST_BODY.as_bytes(), POST_AUTH, "otherKEY").unwrap_err();
        assert_eq!(e.code, Code::AuthFailure_SignatureFailure);
        assert_eq!(
            e.message,
            "The provided credentials could not be validated: the signature does not match. Check that the client \
             signs with the SecretKey issued with SecretId `AKIDqianshuTEST`, and that nothing between it and qianshu \
             rewrites the body, the query or the Host header."
        );
        let e = check("GET", "Limit=6", "application/x-www-form-urlencoded", b"", GET_AUTH, SECRET_KEY).unwrap_err();
        assert_eq!(e.code, Code::AuthFailure_SignatureFailure);
    }

    #[test]
    fn the_signed_header_list_comes_from_the_request() {
        let extra = |name: &str| match name {
            "content-type" => Some("application/json"),
            "host" => Some(HOST),
            "x-tc-action" => Some("DescribeTemplates"),
            _ => None,
        };
        let parts = SignedParts { method: "POST", query: "", header: &extra, body: POST_BODY.as_bytes() };
        let signed = vec!["content-type".to_owned(), "host".to_owned(), "x-tc-action".to_owned()];
        let canonical = canonical_request(&parts, &signed, HostForm::AsSent).unwrap();
        assert!(
            canonical
                .contains("host:127.0.0.1:37863\nx-tc-action:describetemplates\n\ncontent-type;host;x-tc-action\n")
        );
        let date = scope_date(TIMESTAMP).unwrap();
        let sig =
            signature(SECRET_KEY, &date, SERVICE, &string_to_sign(&TIMESTAMP.to_string(), &date, SERVICE, &canonical));
        let auth = format!(
            "TC3-HMAC-SHA256 Credential={SECRET_ID}/{date}/essbasic/tc3_request, SignedHeaders=content-type;host;x-tc-action, Signature={sig}"
        );
        verify_signature(&parts, &Authorization::parse(&auth).unwrap(), TIMESTAMP, SECRET_KEY).unwrap();
        let missing = Authorization::parse(&auth.replace("x-tc-action", "x-tc-region")).unwrap();
        let e = verify_signature(&parts, &missing, TIMESTAMP, SECRET_KEY).unwrap_err();
        assert_eq!(e.code, Code::AuthFailure_InvalidAuthorization);
    }

    #[test]
    fn a_node_sdk_scope_names_its_endpoints_first_label_as_service() {
        let h = headers("application/json");
        let parts = SignedParts { method: "POST", query: "", header: &h, body: POST_BODY.as_bytes() };
        let canonical =
            canonical_request(&parts, &["content-type".to_owned(), "host".to_owned()], HostForm::WithoutPort).unwrap();
        assert!(canonical.contains("\nhost:127.0.0.1\n"));
        let date = scope_date(TIMESTAMP).unwrap();
        let sig =
            signature(SECRET_KEY, &date, "127", &string_to_sign(&TIMESTAMP.to_string(), &date, "127", &canonical));
        let auth = format!(
            "TC3-HMAC-SHA256 Credential={SECRET_ID}/{date}/127/tc3_request, SignedHeaders=content-type;host, Signature={sig}"
        );
        verify_signature(&parts, &Authorization::parse(&auth).unwrap(), TIMESTAMP, SECRET_KEY).unwrap();
        let swapped = Authorization::parse(&auth.replace("/127/", "/essbasic/")).unwrap();
        let e = verify_signature(&parts, &swapped, TIMESTAMP, SECRET_KEY).unwrap_err();
        assert_eq!(e.code, Code::AuthFailure_SignatureFailure);
    }

    #[test]
    fn the_authorization_header_parses_into_its_parts() {
        let a = Authorization::parse(POST_AUTH).unwrap();
        assert_eq!(a.secret_id, SECRET_ID);
        assert_eq!(a.date, "2023-11-14");
        assert_eq!(a.service, "essbasic");
        assert_eq!(a.signed_headers, ["content-type", "host"]);
    }

    #[test]
    fn a_malformed_authorization_is_invalid_authorization() {
        for bad in [
            "",
            "Bearer abc",
            "TC3-HMAC-SHA256 Credential=AKID/2023-11-14/essbasic/tc3_request, SignedHeaders=content-type;host",
            "TC3-HMAC-SHA256 Credential=AKID/2023-11-14/tc3_request, SignedHeaders=host, Signature=fd425e856630ced3605af18e8b6f39be5a1462e893c2d10977d3dcec495bd004",
            "TC3-HMAC-SHA256 Credential=AKID/2023-11-14/essbasic/tc3_request, SignedHeaders=host, Signature=xyz",
        ] {
            assert_eq!(Authorization::parse(bad).unwrap_err().code, Code::AuthFailure_InvalidAuthorization, "{bad}");
        }
    }

    #[test]
    fn a_timestamp_more_than_300_seconds_off_is_expired() {
        assert_eq!(check_timestamp("1700000000", TIMESTAMP + 300), Ok(TIMESTAMP));
        assert_eq!(check_timestamp("1700000000", TIMESTAMP - 300), Ok(TIMESTAMP));
        assert_eq!(check_timestamp("1700000000", TIMESTAMP + 301).unwrap_err().code, Code::AuthFailure_SignatureExpire);
        assert_eq!(check_timestamp("1700000000", TIMESTAMP - 301).unwrap_err().code, Code::AuthFailure_SignatureExpire);
        assert_eq!(check_timestamp("soon", TIMESTAMP).unwrap_err().code, Code::InvalidParameter);
        for extreme in [i64::MIN, i64::MAX] {
            let e = check_timestamp(&extreme.to_string(), TIMESTAMP).unwrap_err();
            assert_eq!(e.code, Code::AuthFailure_SignatureExpire);
        }
        let e = check_timestamp("0", i64::MIN).unwrap_err();
        assert_eq!(e.code, Code::AuthFailure_SignatureExpire);
    }

    #[test]
    fn the_credential_date_must_be_the_timestamps_utc_date() {
        let other_day = POST_AUTH.replace("2023-11-14", "2023-11-15");
        let e = check("POST", "", "application/json", POST_BODY.as_bytes(), &other_day, SECRET_KEY).unwrap_err();
        assert_eq!(e.code, Code::AuthFailure_SignatureFailure);
    }
}
