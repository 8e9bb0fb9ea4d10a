//! Test helpers, LocalStack's `/_aws/…` way: endpoints under `/_qianshu/` that let a test do
//! what a person would (read the code a signer received by SMS) or wait for (time passing), on
//! this node. They are served only with `--test-helpers`; without it every `/_qianshu/` path is
//! a bare 404. They are not essbasic calls: no signature, plain JSON, HTTP status codes.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use serde::Serialize;
use serde_json::Value;

use super::AppState;
use crate::error::Code;

/// The largest body a helper reads.
const BODY_LIMIT: usize = 4096;

/// The helpers `state` allows, to merge into the edge's router. Each helper is one route.
pub fn routes(state: &AppState) -> Router<Arc<AppState>> {
    let off = Router::new().route("/_qianshu/{*rest}", any(|| async { super::not_found() }));
    if !state.test_helpers {
        return off;
    }
    off.route("/_qianshu/sms", get(sms)).route("/_qianshu/clock", post(clock)).layer(DefaultBodyLimit::max(BODY_LIMIT))
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct SmsList {
    messages: Vec<SmsMessage>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct SmsMessage {
    mobile: String,
    text: String,
    code: Option<String>,
    sent_at: i64,
}

/// `GET /_qianshu/sms`: the messages this node sent, oldest first.
async fn sms(State(state): State<Arc<AppState>>) -> Response {
    let messages = state
        .sms
        .outbox()
        .into_iter()
        .map(|m| SmsMessage { mobile: m.mobile, text: m.text, code: m.code, sent_at: m.sent_at })
        .collect();
    json(StatusCode::OK, &SmsList { messages })
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Now {
    now: i64,
}

/// `POST /_qianshu/clock` with `{"AdvanceSeconds": N}`: moves this node's business clock N
/// seconds forward and answers the new time.
async fn clock(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    let Some(seconds) = advance_seconds(&body) else {
        return error(
            Code::InvalidParameter,
            format!("The body must be {{\"AdvanceSeconds\": N}}, N a whole number of seconds from 0 to {}.", u32::MAX),
        );
    };
    json(StatusCode::OK, &Now { now: state.store.clock().advance(seconds) })
}

fn advance_seconds(body: &[u8]) -> Option<u32> {
    let Ok(Value::Object(fields)) = serde_json::from_slice(body) else { return None };
    if fields.len() != 1 {
        return None;
    }
    u32::try_from(fields.get("AdvanceSeconds")?.as_u64()?).ok()
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ErrorAnswer {
    error: ErrorDetail,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ErrorDetail {
    code: &'static str,
    message: String,
}

fn error(code: Code, message: String) -> Response {
    json(StatusCode::BAD_REQUEST, &ErrorAnswer { error: ErrorDetail { code: code.as_str(), message } })
}

fn json(status: StatusCode, value: &impl Serialize) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => (status, [(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(e) => {
            tracing::error!("serializing a test helper's answer: {e}");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}
