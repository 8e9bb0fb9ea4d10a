//! The one renderer of responses: always HTTP 200 with `Content-Type: application/json` (no
//! charset: the Python SDK reads anything else as a success), `{"Response": {…, "RequestId"}}`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::{ApiError, Code};

#[derive(Serialize)]
struct ErrorBody<'a> {
    #[serde(rename = "Code")]
    code: &'a str,
    #[serde(rename = "Message")]
    message: &'a str,
}

/// `{"Response": {<fields of body>, "RequestId": id}}`; `body` must serialize to an object.
pub fn success(request_id: &str, body: Map<String, Value>) -> Vec<u8> {
    let mut inner = body;
    inner.insert("RequestId".into(), Value::String(request_id.to_owned()));
    wrap(inner)
}

pub fn error(request_id: &str, e: &ApiError) -> Vec<u8> {
    let mut inner = Map::new();
    let err = ErrorBody { code: e.code.as_str(), message: &e.message };
    inner.insert("Error".into(), serde_json::to_value(err).expect("strings serialize"));
    inner.insert("RequestId".into(), Value::String(request_id.to_owned()));
    wrap(inner)
}

fn wrap(inner: Map<String, Value>) -> Vec<u8> {
    let mut outer = Map::new();
    outer.insert("Response".into(), Value::Object(inner));
    serde_json::to_vec(&outer).expect("JSON values serialize")
}

pub fn http(bytes: Vec<u8>) -> Response {
    let mut r = (StatusCode::OK, bytes).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

/// A serialized response struct as an object, for [`success`].
pub fn to_object<T: Serialize>(value: &T) -> Result<Map<String, Value>, anyhow::Error> {
    match serde_json::to_value(value)? {
        Value::Object(m) => Ok(m),
        other => Err(anyhow::anyhow!("response serialized to {other}, not an object")),
    }
}

/// The message clients get for any internal failure; the cause is logged under the RequestId.
pub fn internal() -> ApiError {
    ApiError::new(Code::InternalError, "An internal error occurred; quote the RequestId when reporting it.")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::wire::{SyncFailReason, SyncProxyOrganizationOperatorsResponse};

    #[test]
    fn an_error_envelope_is_byte_exact() {
        let e = ApiError::new(Code::InvalidParameter_Mobile, "手机号 `Mobile`");
        assert_eq!(
            String::from_utf8(error("req-1", &e)).unwrap(),
            r#"{"Response":{"Error":{"Code":"InvalidParameter.Mobile","Message":"手机号 `Mobile`"},"RequestId":"req-1"}}"#
        );
    }

    #[test]
    fn a_success_envelope_keeps_field_order_and_ends_with_the_request_id() {
        let body = SyncProxyOrganizationOperatorsResponse {
            status: 2,
            failed_list: vec![SyncFailReason { id: "op1".into(), message: "m".into() }],
        };
        assert_eq!(
            String::from_utf8(success("r", to_object(&body).unwrap())).unwrap(),
            r#"{"Response":{"Status":2,"FailedList":[{"Id":"op1","Message":"m"}],"RequestId":"r"}}"#
        );
    }

    #[test]
    fn the_content_type_is_exactly_application_json() {
        let r = http(b"{}".to_vec());
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()[header::CONTENT_TYPE], "application/json");
    }
}
