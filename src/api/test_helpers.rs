//! Test helpers, LocalStack's `/_aws/…` way: endpoints under `/_qianshu/` that let a test do
//! what a person would (read the code a signer received by SMS) or wait for (time passing), on
//! this node. They are served only with `--test-helpers`; without it every `/_qianshu/` path is
//! a bare 404. They are not essbasic calls: no signature, plain JSON, HTTP status codes.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::HeaderMap;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::AppState;
use crate::domain::evidence::Door;
use crate::domain::signing::FieldValue;
use crate::error::{Code, Failure};
use crate::signing::{Proof, Request, SignatureInput};

/// The largest body a helper reads.
const BODY_LIMIT: usize = 4096;

/// The helpers `state` allows, to merge into the edge's router. Each helper is one route.
pub fn routes(state: &AppState) -> Router<Arc<AppState>> {
    let off = Router::new().route("/_qianshu/{*rest}", any(|| async { super::not_found() }));
    if !state.test_helpers {
        return off;
    }
    off.route("/_qianshu/sms", get(sms))
        .route("/_qianshu/clock", post(clock))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .route("/_qianshu/sign", post(sign).layer(DefaultBodyLimit::max(SIGN_BODY_LIMIT)))
}

/// A signing's values are larger than the other helpers' bodies.
const SIGN_BODY_LIMIT: usize = 1 << 20;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct SignRequest {
    sign_url: String,
    #[serde(default)]
    reject: bool,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    signature_text: String,
    #[serde(default)]
    form_fields: Vec<FormField>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct FormField {
    component_name: String,
    component_value: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Signed {
    flow_ids: Vec<String>,
}

/// `POST /_qianshu/sign`: what the page's 全部签署 (or 拒签) does for the link's signer, through
/// the same code, without the one-time code.
async fn sign(
    State(state): State<Arc<AppState>>,
    peer: Option<axum::Extension<axum::extract::ConnectInfo<std::net::SocketAddr>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let req: SignRequest = match serde_json::from_slice(&body) {
        Ok(req) => req,
        Err(e) => {
            let message = e.to_string();
            let code =
                if message.starts_with("unknown field") { Code::UnknownParameter } else { Code::InvalidParameter };
            return error(code, format!("The body is not a sign request: {message}."));
        }
    };
    let token = req.sign_url.rsplit_once("/s/").map_or(req.sign_url.as_str(), |(_, token)| token);
    let origin = crate::page::origin(Door::TestHelper, &headers, peer.map(|p| p.0.0), &state.trusted_proxies);
    let signed = async {
        let opened = state.signing.open(token).await?.map_err(|p| p.error())?;
        crate::page::signable(&opened)?;
        let is_signer = opened.is_signer();
        let (app, target) = (&opened.link.app_id, &opened.link.target);
        if req.reject {
            let reason = crate::page::reason(&req.reason, "Reason")?;
            state.signing.reject(app, target, &is_signer, &reason, &origin, Proof::Trusted).await
        } else {
            let fields = req
                .form_fields
                .into_iter()
                .map(|f| FieldValue { component_name: f.component_name, value: f.component_value })
                .collect();
            let signature = Some(req.signature_text).filter(|t| !t.trim().is_empty()).map(SignatureInput::Typed);
            let request = Request { fields, signature, origin: origin.clone() };
            state.signing.sign(app, target, &is_signer, &request, Proof::Trusted).await
        }
    };
    match signed.await {
        Ok(ids) => json(StatusCode::OK, &Signed { flow_ids: ids.iter().map(|id| id.as_str().to_owned()).collect() }),
        Err(Failure::Client(e)) => error(e.code, e.message),
        Err(Failure::Internal(e)) => {
            tracing::error!("/_qianshu/sign: {e:#}");
            json(
                StatusCode::INTERNAL_SERVER_ERROR,
                &ErrorAnswer {
                    error: ErrorDetail { code: Code::InternalError.as_str(), message: "internal error".into() },
                },
            )
        }
    }
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
    let now = state.store.clock().advance(seconds);
    // Deadlines the move passed expire now rather than at the next sweep.
    state.expiry.wake();
    json(StatusCode::OK, &Now { now })
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
