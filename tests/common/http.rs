//! The HTTP edge in process: the real `api::router` over a fresh SQLite store loaded with
//! `tests/fixtures/tenants.json`, driven with `oneshot` and requests signed with TC3 the way the
//! official Python SDK signs them (the canonical request is written out here, not borrowed from
//! the verifier, so a verifier bug cannot sign its own requests).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response, StatusCode, header};
use qianshu::api::{self, AppState, tc3};
use qianshu::blobs::BlobStore;
use qianshu::config::{ServeFlags, ServeSettings, StoreFlags};
use qianshu::store::Store;
use serde_json::Value;
use tower::ServiceExt;

use super::TestDb;

pub const APP_A: &str = "qianshuTestAppA00000000000000000";
pub const KEY_A: (&str, &str) = ("AKIDtestA", "testSecretKeyA0000000000000000000");
pub const HOST: &str = "qianshu.test";
pub const PUBLIC_URL: &str = "http://qianshu.test";

/// `Agent` acting for the fixture's verified organisation and operator of application A.
pub fn agent_a() -> Value {
    serde_json::json!({
        "AppId": APP_A,
        "ProxyOrganizationOpenId": "kev_open_organization_8",
        "ProxyOperator": {"OpenId": "kev_8"},
    })
}

pub struct Edge {
    pub router: Router,
    pub state: Arc<AppState>,
    pub db: TestDb,
}

impl Edge {
    pub async fn start() -> Edge {
        Edge::with(ServeFlags::default()).await
    }

    /// The fixture tenants with these settings (flags as `qianshu serve` reads them).
    pub async fn with(flags: ServeFlags) -> Edge {
        Edge::with_tenants(&fixture("tenants.json"), flags).await
    }

    pub async fn with_tenants(tenants: &Path, flags: ServeFlags) -> Edge {
        let db = TestDb::sqlite().await;
        let store_flags = StoreFlags {
            config: None,
            data_dir: Some(db.dir.path().to_owned()),
            database_url: Some(db.url.expose().to_owned()),
            blob_store: Some(db.dir.path().join("blobs").display().to_string()),
            master_key: None,
        };
        let settings = ServeSettings::load(&store_flags, &flags).unwrap();
        let store = Store::connect(&settings.store.database_url, super::master_key()).await.unwrap();
        let blobs = BlobStore::open(&settings.store.blob_store).unwrap();
        let loaded = qianshu::tenants::load(tenants, &blobs, &store).await.unwrap();
        store.apply_tenants(&loaded).await.unwrap();
        let store = store.with_cache(settings.cache_ttl);
        let state = qianshu::server::state(&settings, store, blobs, PUBLIC_URL).await.unwrap();
        Edge { router: api::router(state.clone()), state, db }
    }

    pub async fn send(&self, request: Request<Body>) -> Response<Body> {
        self.router.clone().oneshot(request).await.unwrap()
    }

    /// Sends an API request and checks what every API answer must be: HTTP 200,
    /// `Content-Type: application/json` exactly, `{"Response": {…, "RequestId"}}` with the
    /// RequestId last; returns the inside of `Response`.
    pub async fn api(&self, request: Request<Body>) -> Value {
        let answer = self.send(request).await;
        assert_eq!(answer.status(), StatusCode::OK);
        assert_eq!(answer.headers()[header::CONTENT_TYPE], "application/json");
        let body = axum::body::to_bytes(answer.into_body(), usize::MAX).await.unwrap();
        let json: Value = serde_json::from_slice(&body).unwrap();
        let response = json["Response"].as_object().unwrap_or_else(|| panic!("no Response in {json}"));
        assert_eq!(response.keys().next_back().map(String::as_str), Some("RequestId"), "{json}");
        json["Response"].clone()
    }

    /// The `(Code, Message)` of an answer that must be an error.
    pub async fn error(&self, request: Request<Body>) -> (String, String) {
        let response = self.api(request).await;
        let error = response["Error"].as_object().unwrap_or_else(|| panic!("not an error: {response}"));
        assert_eq!(error.keys().collect::<Vec<_>>(), ["Code", "Message"]);
        (error["Code"].as_str().unwrap().to_owned(), error["Message"].as_str().unwrap().to_owned())
    }

    /// The answer to a call that must succeed.
    pub async fn ok(&self, action: &str, params: Value) -> Value {
        let response = self.api(post(action, &params)).await;
        assert!(response.get("Error").is_none(), "{action}: {response}");
        response
    }
}

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

pub fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

/// A POST of `params` as JSON, signed now with application A's key.
pub fn post(action: &str, params: &Value) -> Request<Body> {
    let body = serde_json::to_vec(params).unwrap();
    signed(action, "application/json", &body, KEY_A, now()).body(Body::from(body)).unwrap()
}

/// The headers of a request signed as the Python SDK signs a POST (`SignedHeaders=content-type;host`),
/// over `body`; the body itself is the caller's to attach.
pub fn signed(
    action: &str,
    content_type: &str,
    body: &[u8],
    (secret_id, secret_key): (&str, &str),
    timestamp: i64,
) -> axum::http::request::Builder {
    let date = tc3::scope_date(timestamp).unwrap_or_else(|| "1970-01-01".to_owned());
    // TC3 lowercases header values in the canonical request.
    let canonical = format!(
        "POST\n/\n\ncontent-type:{}\nhost:{HOST}\n\ncontent-type;host\n{}",
        content_type.to_ascii_lowercase(),
        tc3::sha256_hex(body)
    );
    let to_sign =
        format!("TC3-HMAC-SHA256\n{timestamp}\n{date}/essbasic/tc3_request\n{}", tc3::sha256_hex(canonical.as_bytes()));
    let signature = tc3::signature(secret_key, &date, "essbasic", &to_sign);
    unsigned(action, content_type, timestamp).header(
        header::AUTHORIZATION,
        format!(
            "TC3-HMAC-SHA256 Credential={secret_id}/{date}/essbasic/tc3_request, SignedHeaders=content-type;host, Signature={signature}"
        ),
    )
}

/// Everything the SDK sends but the `Authorization` header.
pub fn unsigned(action: &str, content_type: &str, timestamp: i64) -> axum::http::request::Builder {
    Request::post("/")
        .header(header::HOST, HOST)
        .header(header::CONTENT_TYPE, content_type)
        .header("X-TC-Action", action)
        .header("X-TC-Version", api::VERSION)
        .header("X-TC-Timestamp", timestamp.to_string())
}
