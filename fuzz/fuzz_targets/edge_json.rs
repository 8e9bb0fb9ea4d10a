//! A POST body: bytes → JSON → every action's schema → every implemented action's wire request.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    if let Ok(params) = serde_json::from_slice(body) {
        qianshu_fuzz::into_every_request(&params);
    }
});
