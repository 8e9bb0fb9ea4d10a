//! What the fuzz targets share: the request edge after the parameters are JSON, as
//! `qianshu::api` runs it for a POST body or a GET query.

use qianshu::api::schema::Schema;
use serde_json::Value;

/// Checks `params` against every action's schema, then reads them as the wire request of every
/// implemented action. Any answer is fine; a panic or a hang is the finding.
pub fn into_every_request(params: &Value) {
    for action in Schema::get().action_names() {
        let _ = Schema::get().check(action, params);
    }
    qianshu::api::parse_as_every_request(params);
}
