//! The signature headers: the input's lines are `Authorization`, `X-TC-Timestamp`, then the
//! signed headers' values and the body, verified as `qianshu::api` does for a request.
#![no_main]

use libfuzzer_sys::fuzz_target;
use qianshu::api::tc3::{Authorization, SignedParts, check_timestamp, verify_signature};

/// 2023-11-14T22:13:20Z: any fixed "now" will do, the window around it is what is checked.
const NOW: i64 = 1_700_000_000;

fuzz_target!(|input: &[u8]| {
    let Ok(input) = std::str::from_utf8(input) else { return };
    let mut lines = input.splitn(5, '\n');
    let (Some(authorization), Some(timestamp)) = (lines.next(), lines.next()) else { return };
    let (host, content_type, body) =
        (lines.next().unwrap_or(""), lines.next().unwrap_or(""), lines.next().unwrap_or(""));
    let parsed = Authorization::parse(authorization);
    let checked = check_timestamp(timestamp, NOW);
    let (Ok(authorization), Ok(timestamp)) = (parsed, checked) else { return };
    let header = |name: &str| match name {
        "host" => Some(host),
        "content-type" => Some(content_type),
        "x-tc-content-sha256" => Some(body),
        _ => None,
    };
    for method in ["POST", "GET"] {
        let parts = SignedParts { method, query: body, header: &header, body: body.as_bytes() };
        let _ = verify_signature(&parts, &authorization, timestamp, "secretKEYqianshu");
    }
});
