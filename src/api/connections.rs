//! Accepting connections. `axum::serve` gives hyper no timer, so a connection that never
//! finishes its headers (slowloris) or sits idle is held for ever; here each HTTP/1 connection
//! has `--header-timeout-ms` to send a request's headers, counted also while it idles between
//! requests, and is closed after.

use std::future::Future;
use std::time::Duration;

use axum::Router;
use hyper::Request;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tracing::{debug, warn};

/// Serves `router` on `listener` until `shutdown` completes, then waits for the requests in
/// progress (each bounded by the request timeout) to be answered.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    header_timeout: Duration,
    shutdown: impl Future<Output = ()>,
) {
    let connections = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, mostly: pause rather than spin on the error.
                    warn!("accepting a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let connection = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(header_timeout)
            .serve_connection(TokioIo::new(stream), TowerToHyperService::new(with_peer(router.clone(), peer)));
        let connection = connections.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                debug!("connection closed: {e}");
            }
        });
    }
    connections.shutdown().await;
}

/// The router for one connection, which tells each request who is at the other end (the
/// signing page keeps it as evidence): a closure per connection, where layering the router
/// would rebuild every route for each connection.
fn with_peer(
    router: Router,
    peer: std::net::SocketAddr,
) -> tower::util::MapRequest<Router, impl FnMut(Request<Incoming>) -> Request<Incoming> + Clone> {
    tower::ServiceExt::map_request(router, move |mut request: Request<Incoming>| {
        request.extensions_mut().insert(axum::extract::ConnectInfo(peer));
        request
    })
}
