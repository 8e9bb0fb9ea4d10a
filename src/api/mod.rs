//! The essbasic edge: the only module that knows HTTP, JSON and the wire names. A request goes
//! through header checks, TC3 verification, the rate limit and the schema, then one `match`
//! dispatches it to a handler that converts wire types into domain types.

pub mod action;
pub mod envelope;
mod handlers;
pub mod schema;
pub mod tc3;
pub mod wire;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::request::Parts;
use axum::response::Response;
use axum::routing::any;
use secrecy::ExposeSecret;
use serde_json::{Map, Value};
use tower_http::catch_panic::CatchPanicLayer;
use tracing::{debug, error};

use crate::domain::ExternalId;
use crate::error::{ApiError, Code, Failure};
use crate::ratelimit::RateLimits;
use crate::store::{GroupWriter, Store};
use action::Action;
use schema::Schema;

pub const VERSION: &str = "2021-05-26";

pub struct AppState {
    pub store: Store,
    /// Writes contract groups in batches (group commit).
    pub groups: GroupWriter,
    pub limits: RateLimits,
    pub max_body_bytes: usize,
}

/// Who is calling: the application that owns the verified SecretId.
pub struct Caller {
    pub app_id: ExternalId,
}

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/", any(entry))
        .fallback(unknown_path)
        .layer(DefaultBodyLimit::disable())
        .layer(CatchPanicLayer::custom(|_| {
            let id = uuid::Uuid::new_v4().to_string();
            error!(request_id = %id, "a request handler panicked");
            envelope::http(envelope::error(&id, &envelope::internal()))
        }))
        .with_state(state)
}

async fn unknown_path(request: Request) -> Response {
    let id = uuid::Uuid::new_v4().to_string();
    let e = ApiError::new(
        Code::ResourceNotFound_URL,
        format!("No resource at `{}`; essbasic is served at `/`.", request.uri().path()),
    );
    envelope::http(envelope::error(&id, &e))
}

async fn entry(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let (parts, body) = request.into_parts();
    let bytes = match handle(&state, &parts, body).await {
        Ok(body) => envelope::success(&request_id, body),
        Err(Failure::Client(e)) => {
            debug!(request_id = %request_id, code = %e.code, message = %e.message, "refused");
            envelope::error(&request_id, &e)
        }
        Err(Failure::Internal(e)) => {
            error!(request_id = %request_id, "internal error: {e:#}");
            envelope::error(&request_id, &envelope::internal())
        }
    };
    envelope::http(bytes)
}

fn missing_header(name: &str) -> ApiError {
    ApiError::new(
        Code::MissingParameter,
        format!("The request is missing the required parameter `{name}` (header X-TC-{name})."),
    )
}

async fn handle(state: &AppState, parts: &Parts, body: Body) -> Result<Map<String, Value>, Failure> {
    let method = parts.method.as_str();
    if method != "POST" && method != "GET" {
        return Err(ApiError::new(
            Code::UnsupportedProtocol,
            format!("HTTP method {method} is not supported; use POST or GET."),
        )
        .into());
    }
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
    let action_name = header("x-tc-action").ok_or_else(|| missing_header("Action"))?;
    let version = header("x-tc-version").ok_or_else(|| missing_header("Version"))?;
    if version != VERSION {
        return Err(ApiError::new(
            Code::NoSuchVersion,
            format!("The API version `{version}` does not exist; essbasic is {VERSION}."),
        )
        .into());
    }
    let action: Action = action_name.parse().map_err(|_| {
        ApiError::new(Code::InvalidAction, format!("The action `{action_name}` does not exist in essbasic {VERSION}."))
    })?;
    let body = axum::body::to_bytes(body, state.max_body_bytes).await.map_err(|_| {
        ApiError::new(
            Code::RequestSizeLimitExceeded,
            format!("The request body is larger than {} bytes.", state.max_body_bytes),
        )
    })?;
    if method == "POST" && !header("content-type").is_some_and(|ct| ct.starts_with("application/json")) {
        return Err(ApiError::new(
            Code::UnsupportedProtocol,
            "POST requests must be application/json signed with TC3-HMAC-SHA256.",
        )
        .into());
    }

    let authorization = header("authorization")
        .ok_or_else(|| ApiError::new(Code::AuthFailure_InvalidAuthorization, "The Authorization header is missing."))?;
    let authorization = tc3::Authorization::parse(authorization)?;
    let timestamp = tc3::check_timestamp(
        header("x-tc-timestamp").ok_or_else(|| missing_header("Timestamp"))?,
        crate::store::now(),
    )?;
    let (app_id, secret_key) = state.store.credential(&authorization.secret_id).await?.ok_or_else(|| {
        ApiError::new(
            Code::AuthFailure_SecretIdNotFound,
            format!("The SecretId `{}` does not exist.", authorization.secret_id),
        )
    })?;
    let query = parts.uri.query().unwrap_or("");
    let signed = tc3::SignedParts { method, query, header: &header, body: &body };
    tc3::verify_signature(&signed, &authorization, timestamp, secret_key.expose_secret())?;

    if !state.limits.allow(action, app_id.as_str()) {
        return Err(ApiError::new(
            Code::RequestLimitExceeded,
            format!("Too many calls of {action} from application {app_id}; slow down."),
        )
        .into());
    }

    let params = if method == "GET" {
        let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes()).into_owned().collect();
        Schema::get().unflatten(action.as_str(), &pairs)?
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::new(Code::InvalidParameter, format!("The request body is not valid JSON: {e}.")))?
    };
    handlers::dispatch(state, &Caller { app_id }, action, params).await
}
