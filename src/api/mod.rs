//! The essbasic edge: the only module that knows HTTP, JSON and the wire names. A request goes
//! through header checks, TC3 verification, the rate limit and the schema, then one `match`
//! dispatches it to a handler that converts wire types into domain types.

pub mod action;
pub mod connections;
pub mod envelope;
mod handlers;
mod probes;
pub mod schema;
pub mod tc3;
mod test_helpers;
pub mod urls;
pub mod wire;

pub use handlers::parse_as_every_request;

use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::extract::{Path, RawQuery};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::response::Response;
use axum::routing::{any, get};
use secrecy::ExposeSecret;
use serde_json::{Map, Value};
use tokio::sync::{Semaphore, SemaphorePermit};
use tokio::time::{Instant, timeout};
use tower_http::catch_panic::CatchPanicLayer;
use tracing::{debug, error, info};

use crate::blobs::BlobStore;
use crate::config::{EdgeLimits, ServeSettings};
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
    /// Signs and refuses contracts, whatever the door; auto-signs in the background.
    pub signing: Arc<crate::signing::Signing>,
    /// Moves contracts past their deadline to `DEADLINE` in the background.
    pub expiry: Arc<crate::lifecycle::Expiry>,
    pub limits: RateLimits,
    pub edge: EdgeLimits,
    /// Sends text messages (signing codes) and keeps those sent for the test helpers.
    pub sms: crate::sms::Sms,
    /// qianshu's certificate authority and timestamp authority.
    pub pki: Arc<crate::pki::Pki>,
    /// Whether `/_qianshu/` serves the test helpers (`--test-helpers`).
    pub test_helpers: bool,
    /// Proxies whose `X-Forwarded-For` names a signer's address (`--trusted-proxies`).
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Room for request bodies held at once, in KiB (`--max-buffered-body-bytes`).
    body_room: Semaphore,
    /// Places for requests handled at once (`--max-concurrent-requests`).
    in_flight: Semaphore,
    /// Counts API calls for `/metrics`.
    pub metrics: crate::metrics::Metrics,
}

impl AppState {
    /// The edge over an opened store, as `settings` ask: what `serve` runs and what the HTTP
    /// tests drive, so both are configured by the same code.
    pub async fn new(
        store: Store,
        blobs: BlobStore,
        synthesis: Arc<crate::synthesis::Synthesis>,
        public_url: &str,
        settings: &ServeSettings,
    ) -> anyhow::Result<AppState> {
        let url_key = hex::decode(store.server_secret("url-signing").await?.expose_secret())
            .context("the stored URL-signing key")?;
        let pki = Arc::new(crate::pki::Pki::load(&store, &settings.pki, public_url).await?);
        Ok(AppState {
            urls: urls::UrlSigner::new(&url_key, public_url),
            groups: GroupWriter::spawn(store.clone()),
            signing: crate::signing::Signing::new(store.clone(), synthesis.clone(), pki.clone()),
            expiry: crate::lifecycle::Expiry::new(store.clone()),
            sms: crate::sms::Sms::new(&settings.sms_sender, store.clock().clone())?,
            test_helpers: settings.test_helpers,
            trusted_proxies: settings.trusted_proxies.clone(),
            pki,
            store,
            blobs,
            synthesis,
            limits: match &settings.redis {
                Some(redis) => RateLimits::shared(settings.rate_limit, &settings.rate_limits, redis)?,
                None => RateLimits::new(settings.rate_limit, &settings.rate_limits),
            },
            edge: settings.edge,
            body_room: Semaphore::new(kib(settings.edge.max_buffered_body_bytes) as usize),
            in_flight: Semaphore::new(settings.edge.max_concurrent_requests),
            metrics: crate::metrics::Metrics::new(),
        })
    }
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
        .merge(probes::routes())
        .merge(test_helpers::routes(&state))
        .merge(crate::page::assets::router())
        .merge(crate::page::routes())
        .merge(crate::pki::routes::routes())
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
    bounded_link(&state, download_file(&state, app_id, file_id, query)).await
}

async fn download_file(state: &AppState, app_id: String, file_id: String, query: Option<String>) -> Response {
    let Some((expires, signature)) = link_query(query) else { return not_found() };
    if !state.urls.verify(&urls::file_path(&app_id, &file_id), expires, &signature, state.store.now()) {
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
    blob_response(state, &file.sha256, file.kind.content_type(), &file.file_name, false).await
}

async fn blob_attachment(
    State(state): State<Arc<AppState>>,
    path: Path<(String, String)>,
    query: RawQuery,
) -> Response {
    bounded_link(&state, blob(&state, path, query, false)).await
}

async fn blob_inline(State(state): State<Arc<AppState>>, path: Path<(String, String)>, query: RawQuery) -> Response {
    bounded_link(&state, blob(&state, path, query, true)).await
}

/// A download counts among the requests in flight and has the request timeout, like an API
/// call; it is not one, so a busy server answers a bare 503, not an envelope.
async fn bounded_link(state: &AppState, answer: impl Future<Output = Response>) -> Response {
    let unavailable = || (StatusCode::SERVICE_UNAVAILABLE, [(header::RETRY_AFTER, "1")], "busy").into_response();
    let Ok(_in_flight) = state.in_flight.try_acquire() else { return unavailable() };
    timeout(state.edge.request_timeout, answer).await.unwrap_or_else(|_| unavailable())
}

/// Serves a content-addressed document (a contract, a template, an image) to whoever holds a
/// valid, unexpired link; anything else is a bare 404, as for uploaded files.
async fn blob(
    state: &AppState,
    Path((sha256, name)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    view: bool,
) -> Response {
    let Some((expires, signature)) = link_query(query) else { return not_found() };
    if !state.urls.verify(&urls::blob_path(&sha256, &name, view), expires, &signature, state.store.now()) {
        return not_found();
    }
    let kind = name
        .rsplit_once('.')
        .and_then(|(_, ext)| crate::domain::file::FileKind::parse(&ext.to_ascii_lowercase()))
        .map_or("application/octet-stream", |k| k.content_type());
    blob_response(state, &sha256, kind, &name, view).await
}

/// Blob `sha256` as a file named `file_name`, to download or (`inline`) to show; a blob that
/// cannot be read is logged and answers the same bare 404 as a bad link.
async fn blob_response(state: &AppState, sha256: &str, content_type: &str, file_name: &str, inline: bool) -> Response {
    match state.blobs.get(sha256).await {
        Ok(bytes) => (
            [
                (header::CONTENT_TYPE, content_type.to_owned()),
                (header::CONTENT_DISPOSITION, urls::content_disposition(file_name, inline)),
                // Uploaded files are served from the API's own origin: never let a browser
                // guess them into something it would run.
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
            ],
            bytes,
        )
            .into_response(),
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

/// What the request log line and the metrics say of a call, learnt as it is handled.
#[derive(Default)]
struct Facts {
    action: Option<Action>,
    app_id: Option<ExternalId>,
}

async fn entry(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let started = Instant::now();
    let request_id = uuid::Uuid::new_v4().to_string();
    let mut facts = Facts::default();
    let outcome = match state.in_flight.try_acquire() {
        Err(_) => Err(ApiError::new(
            Code::RequestLimitExceeded,
            format!(
                "The server is handling {} requests, as many as it takes at once; retry later.",
                state.edge.max_concurrent_requests
            ),
        )
        .into()),
        Ok(_in_flight) => {
            let (parts, body) = request.into_parts();
            timeout(state.edge.request_timeout, handle(&state, &parts, body, &mut facts)).await.unwrap_or_else(|_| {
                Err(Failure::Internal(anyhow::anyhow!(
                    "no answer within the request timeout ({} ms)",
                    state.edge.request_timeout.as_millis()
                )))
            })
        }
    };
    let (bytes, code) = match outcome {
        Ok(body) => (envelope::success(&request_id, body), "Ok"),
        Err(Failure::Client(e)) => {
            debug!(request_id = %request_id, code = %e.code, message = %e.message, "refused");
            (envelope::error(&request_id, &e), e.code.as_str())
        }
        Err(Failure::Internal(e)) => {
            error!(request_id = %request_id, "internal error: {e:#}");
            let internal = envelope::internal();
            (envelope::error(&request_id, &internal), internal.code.as_str())
        }
    };
    let took = started.elapsed();
    let action = facts.action.map_or(crate::metrics::UNKNOWN_ACTION, |a| a.as_str());
    state.metrics.request(action, code, took);
    info!(
        action,
        app_id = facts.app_id.as_ref().map_or("", |a| a.as_str()),
        code,
        ms = u64::try_from(took.as_millis()).unwrap_or(u64::MAX),
        request_id = %request_id,
        "request"
    );
    envelope::http(bytes)
}

/// KiB, rounded up: the unit of the body room.
fn kib(bytes: usize) -> u32 {
    u32::try_from(bytes.div_ceil(1024)).unwrap_or(u32::MAX)
}

/// The body of a request that passed every check that does not need it. It is read only if the
/// bytes it declares (the largest body, when it declares none) fit in the room all requests
/// share, else refused at once like a request over the concurrency bound (the SDKs retry
/// `RequestLimitExceeded`), and must arrive within the body timeout; the permit holds the room
/// until the request is answered.
async fn read_body(state: &AppState, body: Body) -> Result<(Bytes, SemaphorePermit<'_>), ApiError> {
    let max = state.edge.max_body_bytes;
    let too_large =
        || ApiError::new(Code::RequestSizeLimitExceeded, format!("The request body is larger than {max} bytes."));
    let declared = body.size_hint().exact();
    if declared.is_some_and(|n| n > max as u64) {
        return Err(too_large());
    }
    let room = declared.map_or(max, |n| n as usize);
    let room = state.body_room.try_acquire_many(kib(room)).map_err(|_| {
        ApiError::new(
            Code::RequestLimitExceeded,
            format!(
                "The server holds as many request bodies as it takes at once ({} bytes); retry later.",
                state.edge.max_buffered_body_bytes
            ),
        )
    })?;
    let bytes = timeout(state.edge.body_timeout, axum::body::to_bytes(body, max))
        .await
        .map_err(|_| {
            ApiError::new(
                Code::InvalidRequest,
                format!("The request body did not arrive within {} ms.", state.edge.body_timeout.as_millis()),
            )
        })?
        .map_err(|_| too_large())?;
    Ok((bytes, room))
}

/// `application/json`, with or without parameters (`; charset=utf-8`), in any case.
fn is_json(content_type: &str) -> bool {
    content_type.parse::<mime::Mime>().is_ok_and(|m| m.essence_str() == "application/json")
}

fn missing_header(name: &str) -> ApiError {
    ApiError::new(
        Code::MissingParameter,
        format!("The request is missing the required parameter `{name}` (header X-TC-{name})."),
    )
}

async fn handle(state: &AppState, parts: &Parts, body: Body, facts: &mut Facts) -> Result<Map<String, Value>, Failure> {
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
    facts.action = Some(action);
    if method == "POST" && !header("content-type").is_some_and(is_json) {
        return Err(ApiError::new(
            Code::UnsupportedProtocol,
            "POST requests must be application/json signed with TC3-HMAC-SHA256.",
        )
        .into());
    }

    let authorization = header("authorization")
        .ok_or_else(|| ApiError::new(Code::AuthFailure_InvalidAuthorization, "The Authorization header is missing."))?;
    let authorization = tc3::Authorization::parse(authorization)?;
    // The wall clock, not the store's business clock: the SDKs sign with real time.
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
    facts.app_id = Some(app_id.clone());
    // Everything above needs no body: a caller without a valid timestamp and a known SecretId
    // never makes the server hold a byte of it.
    let (body, _body_room) = read_body(state, body).await?;
    let query = parts.uri.query().unwrap_or("");
    let signed = tc3::SignedParts { method, query, header: &header, body: &body };
    tc3::verify_signature(&signed, &authorization, timestamp, secret_key.expose_secret())?;

    if !state.limits.allow(action, app_id.as_str()).await {
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
