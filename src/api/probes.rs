//! What load balancers, orchestrators and Prometheus ask: `/healthz`, `/readyz`, `/metrics`.
//! None is behind TC3, the rate limit or the bound on requests in flight: a node that is
//! saturated must still say so rather than look dead, and each probe bounds its own work
//! (the database and blob store checks have `CHECK_TIMEOUT` each).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::time::timeout;
use tracing::warn;

use super::AppState;

/// How long `/readyz` waits for each of the database and the blob store.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

pub fn routes() -> Router<Arc<AppState>> {
    Router::new().route("/healthz", get(healthz)).route("/readyz", get(readyz)).route("/metrics", get(metrics))
}

/// The process is up and answering HTTP.
async fn healthz() -> Response {
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], "ok").into_response()
}

/// Whether this node can serve: the database answers a query and the blob store a read, each
/// within `CHECK_TIMEOUT`. 503 names the one that did not.
async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    let (database, blobs) =
        tokio::join!(check("database", state.store.ping()), check("blob store", state.blobs.ping()));
    let status = if database && blobs { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let word = |ok: bool| if ok { "ok" } else { "unavailable" };
    let body = serde_json::json!({ "database": word(database), "blobs": word(blobs) });
    (status, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

async fn check<E: std::fmt::Display>(what: &str, probe: impl Future<Output = Result<(), E>>) -> bool {
    match timeout(CHECK_TIMEOUT, probe).await {
        Ok(Ok(())) => true,
        Ok(Err(e)) => {
            warn!("readiness: the {what} is unavailable: {e:#}");
            false
        }
        Err(_) => {
            warn!("readiness: the {what} did not answer within {} ms", CHECK_TIMEOUT.as_millis());
            false
        }
    }
}

async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    match timeout(CHECK_TIMEOUT, state.store.queue_depths()).await {
        Ok(Ok(depths)) => {
            ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], state.metrics.render(&depths))
                .into_response()
        }
        Ok(Err(e)) => {
            warn!("metrics: reading the queues: {e:?}");
            (StatusCode::SERVICE_UNAVAILABLE, "the database did not answer").into_response()
        }
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "the database did not answer in time").into_response(),
    }
}
