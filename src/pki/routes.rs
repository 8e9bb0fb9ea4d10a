//! The CA's public routes: the root certificate, its CRL, and the RFC 3161 timestamp service.
//! They answer plain HTTP (not the essbasic envelope): their clients are PKI tools.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::time::timeout;

use crate::api::AppState;

/// The largest timestamp request read: a SHA-512 request with a nonce and a policy is ~100
/// bytes; anything near this is not a TimeStampReq.
pub const MAX_TSA_REQUEST_BYTES: usize = 16 * 1024;
/// How long a timestamp request's body may take to arrive.
const TSA_BODY_TIMEOUT: Duration = Duration::from_secs(10);

pub fn routes() -> Router<Arc<AppState>> {
    Router::new().route("/pki/ca.pem", get(ca_pem)).route("/pki/crl", get(crl)).route("/tsa", post(timestamp))
}

async fn ca_pem(State(state): State<Arc<AppState>>) -> Response {
    ([(header::CONTENT_TYPE, "application/x-pem-file")], state.pki.root_pem().to_owned()).into_response()
}

async fn crl(State(state): State<Arc<AppState>>) -> Response {
    match state.pki.crl() {
        Ok(crl) => ([(header::CONTENT_TYPE, "application/pkix-crl")], Bytes::from((*crl).clone())).into_response(),
        Err(e) => {
            tracing::error!("signing the CRL: {e:#}");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

async fn timestamp(State(state): State<Arc<AppState>>, headers: HeaderMap, body: Body) -> Response {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if !content_type.split(';').next().is_some_and(|t| t.trim().eq_ignore_ascii_case("application/timestamp-query")) {
        return (StatusCode::UNSUPPORTED_MEDIA_TYPE, "send Content-Type: application/timestamp-query\n")
            .into_response();
    }
    let request = match timeout(TSA_BODY_TIMEOUT, axum::body::to_bytes(body, MAX_TSA_REQUEST_BYTES)).await {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(_)) => {
            let message = format!("a timestamp request is at most {MAX_TSA_REQUEST_BYTES} bytes\n");
            return (StatusCode::PAYLOAD_TOO_LARGE, message).into_response();
        }
        Err(_) => return (StatusCode::REQUEST_TIMEOUT, "the request body did not arrive in time\n").into_response(),
    };
    let pki = state.pki.clone();
    match crate::untrusted::parse(move || Ok(pki.tsa().respond(&request))).await {
        Ok(response) => ([(header::CONTENT_TYPE, "application/timestamp-reply")], response).into_response(),
        Err(e) => {
            tracing::error!("answering a timestamp request: {e:#}");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}
