//! The essbasic edge: the only module that knows HTTP, JSON and the wire names. A request goes
//! through header checks, TC3 verification, the rate limit and the schema, then one `match`
//! dispatches it to a handler that converts wire types into domain types.

pub mod action;
pub mod envelope;
mod handlers;
pub mod schema;
pub mod tc3;
pub mod urls;
pub mod wire;

pub use handlers::request;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::extract::{Path, RawQuery};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::response::Response;
use axum::routing::{any, get};
use secrecy::ExposeSecret;
use serde_json::{Map, Value};
use tower_http::catch_panic::CatchPanicLayer;
use tracing::{debug, error};

use crate::blobs::BlobStore;
use crate::domain::ExternalId;
use crate::domain::id::FileId;
use crate::error::{ApiError, Code, Failure};
use crate::ratelimit::RateLimits;
use crate::store::{GroupWriter, Store};
use action::Action;
use schema::Schema;

pub const VERSION: &str = "2021-05-26";

pub struct AppState {
    pub store: Store,
    pub blobs: BlobStore,
    /// Signs the download links handed out (and checks them when they come back).
    pub urls: urls::UrlSigner,
    /// Writes contract groups in batches (group commit).
    pub groups: GroupWriter,
    /// Makes contract documents (and the fonts that measure text at creation).
    pub synthesis: Arc<crate::synthesis::Synthesis>,
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
        .route("/files/{app_id}/{file_id}", get(download))
        .route("/blobs/{sha256}/{name}", get(blob_attachment))
        .route("/view/{sha256}/{name}", get(blob_inline))
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

/// Serves an uploaded file to whoever holds a valid, unexpired link. Anything else is a bare
/// 404, so a link that does not work says nothing about what exists.
async fn download(
    State(state): State<Arc<AppState>>,
    Path((app_id, file_id)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Response {
    let Some((expires, signature)) = link_query(query) else { return not_found() };
    if !state.urls.verify(&urls::file_path(&app_id, &file_id), expires, &signature, crate::store::now()) {
        return not_found();
    }
    let (Ok(app), Ok(id)) = (ExternalId::parse(Some(&app_id), "app_id"), FileId::parse(Some(&file_id), "file_id"))
    else {
        return not_found();
    };
    let file = match state.store.file(&app, &id).await {
        Ok(Some(f)) => f,
        Ok(None) => return not_found(),
        Err(e) => {
            error!("reading file {file_id}: {e:#}");
            return not_found();
        }
    };
    blob_response(&state, &file.sha256, file.kind.content_type(), &file.file_name, false).await
}

async fn blob_attachment(state: State<Arc<AppState>>, path: Path<(String, String)>, query: RawQuery) -> Response {
    blob(state, path, query, false).await
}

async fn blob_inline(state: State<Arc<AppState>>, path: Path<(String, String)>, query: RawQuery) -> Response {
    blob(state, path, query, true).await
}

/// Serves a content-addressed document (a contract, a template, an image) to whoever holds a
/// valid, unexpired link; anything else is a bare 404, as for uploaded files.
async fn blob(
    State(state): State<Arc<AppState>>,
    Path((sha256, name)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    view: bool,
) -> Response {
    let Some((expires, signature)) = link_query(query) else { return not_found() };
    if !state.urls.verify(&urls::blob_path(&sha256, &name, view), expires, &signature, crate::store::now()) {
        return not_found();
    }
    let kind = name
        .rsplit_once('.')
        .and_then(|(_, ext)| crate::domain::file::FileKind::parse(&ext.to_ascii_lowercase()))
        .map_or("application/octet-stream", |k| k.content_type());
    blob_response(&state, &sha256, kind, &name, view).await
}

/// Blob `sha256` as a file named `file_name`, to download or (`inline`) to show; a blob that
/// cannot be read is logged and answers the same bare 404 as a bad link.
async fn blob_response(state: &AppState, sha256: &str, content_type: &str, file_name: &str, inline: bool) -> Response {
    match state.blobs.get(sha256).await {
        Ok(bytes) => {
            let encoded: String = form_urlencoded::byte_serialize(file_name.as_bytes()).collect();
            let disposition = if inline { "inline" } else { "attachment" };
            (
                [
                    (header::CONTENT_TYPE, content_type.to_owned()),
                    (header::CONTENT_DISPOSITION, format!("{disposition}; filename*=UTF-8''{encoded}")),
                ],
                bytes,
            )
                .into_response()
        }
        Err(e) => {
            error!("reading blob {sha256}: {e:#}");
            not_found()
        }
    }
}

/// What every download link that does not work answers, whatever the reason.
fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "not found").into_response()
}

/// `expires` and `signature` of a download link.
fn link_query(query: Option<String>) -> Option<(i64, String)> {
    let (mut expires, mut signature) = (None, None);
    for (k, v) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        match &*k {
            "expires" => expires = v.parse::<i64>().ok(),
            "signature" => signature = Some(v.into_owned()),
            _ => {}
        }
    }
    Some((expires?, signature?))
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
