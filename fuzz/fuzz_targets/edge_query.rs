//! A GET query: bytes → decoded pairs → every action's `unflatten` → every implemented action's
//! wire request.
#![no_main]

use libfuzzer_sys::fuzz_target;
use qianshu::api::schema::Schema;

fuzz_target!(|query: &[u8]| {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(query).into_owned().collect();
    for action in Schema::get().action_names() {
        if let Ok(params) = Schema::get().unflatten(action, &pairs) {
            qianshu_fuzz::into_every_request(&params);
        }
    }
});
