//! The hardened accept loop: warp's routes served by hyper-util with a header-read timeout,
//! a graceful drain bounded by a deadline, and one access-log line per request.
//!
//! warp 0.4's own server has neither a header-read timeout (slowloris) nor a drain deadline
//! (a client stalled mid-body keeps the process alive), hence this loop. It speaks HTTP/1 only:
//! the auto builder's version sniffing and HTTP/2 have no header timeout of their own, and
//! MonitorQA posts HTTP/1.1.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use warp::Filter;
use warp::http::{Request, Uri};
use warp::reply::Response;

use super::ServerOptions;
use super::auth::percent_decode;
use crate::app::Relay;

/// Pause after an accept error that is not about one connection (e.g. out of file
/// descriptors), so the loop does not spin.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// Serves `routes` on `listener` until `shutdown`, then drains for at most
/// `opts.drain_deadline` and closes whatever is still open.
pub(super) async fn run<F>(
    listener: TcpListener,
    routes: F,
    relay: Arc<Relay>,
    shutdown: CancellationToken,
    opts: ServerOptions,
) -> std::io::Result<()>
where
    F: Filter<Extract = (Response,), Error = Infallible> + Clone + Send + Sync + 'static,
{
    let builder = Arc::new(connection_builder(&opts));
    let graceful = GracefulShutdown::new();
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let watcher = graceful.watcher();
                    let conn = serve_connection(builder.clone(), watcher, stream, peer, routes.clone(), relay.clone());
                    connections.spawn(conn);
                }
                Err(e) => on_accept_error(&e).await,
            },
        }
        // Reap finished connections so the set does not grow with every client.
        while connections.try_join_next().is_some() {}
    }
    drop(listener);
    drain(graceful, &mut connections, opts.drain_deadline).await;
    Ok(())
}

fn connection_builder(opts: &ServerOptions) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new()).http1_only();
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(opts.header_read_timeout);
    builder
}

async fn on_accept_error(e: &std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    // These concern one client that went away before it was accepted.
    if matches!(
        e.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        tracing::debug!(error = %e, "accept failed for one connection");
        return;
    }
    tracing::warn!(error = %e, "accept failed");
    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
}

/// Lets in-flight requests finish, but not past `deadline`; then aborts what is left.
async fn drain(graceful: GracefulShutdown, connections: &mut JoinSet<()>, deadline: Duration) {
    tokio::select! {
        () = graceful.shutdown() => tracing::debug!("all connections drained"),
        () = tokio::time::sleep(deadline) => tracing::warn!(
            open = connections.len(),
            deadline_ms = deadline.as_millis() as u64,
            "drain deadline passed; closing the remaining connections",
        ),
    }
    connections.shutdown().await;
}

/// Serves one connection with the access log around the warp service.
async fn serve_connection<F>(
    builder: Arc<auto::Builder<TokioExecutor>>,
    watcher: Watcher,
    stream: TcpStream,
    peer: SocketAddr,
    routes: F,
    relay: Arc<Relay>,
) where
    F: Filter<Extract = (Response,), Error = Infallible> + Clone + Send + Sync + 'static,
{
    let inner = TowerToHyperService::new(warp::service(routes));
    let service = service_fn(move |request: Request<Incoming>| {
        let method = request.method().clone();
        let target = redact_target(request.uri(), &secrets_of(&relay));
        let started = Instant::now();
        let response = hyper::service::Service::call(&inner, request);
        async move {
            let response = response.await;
            if let Ok(r) = &response {
                tracing::info!(
                    target: "mqa_relay::access",
                    method = %method,
                    path = %target,
                    status = r.status().as_u16(),
                    duration_ms = started.elapsed().as_millis() as u64,
                    remote = %peer,
                    "request",
                );
            }
            response
        }
    });
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    if let Err(e) = watcher.watch(conn).await {
        // Header timeouts, resets, malformed requests: the client's problem, not ours.
        tracing::debug!(error = %e, remote = %peer, "connection ended with an error");
    }
}

/// The configured tokens now, to scrub from logged paths whatever the route.
fn secrets_of(relay: &Relay) -> Vec<String> {
    let app = relay.app();
    let server = &app.config.server;
    [&server.token, &server.admin_token]
        .into_iter()
        .flatten()
        .map(|s| s.expose().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// The request target as logged: the segment after `/webhook/` and every `token` query value
/// become `<redacted>`, and any configured token found elsewhere is scrubbed as well.
pub(super) fn redact_target(uri: &Uri, secrets: &[String]) -> String {
    let path = uri.path();
    let mut out = match path.strip_prefix("/webhook/") {
        Some(_) => "/webhook/<redacted>".to_string(),
        None => path.to_string(),
    };
    if let Some(query) = uri.query() {
        out.push('?');
        out.push_str(&redact_query(query));
    }
    for secret in secrets {
        out = out.replace(secret.as_str(), "<redacted>");
    }
    out
}

fn redact_query(query: &str) -> String {
    let pairs = query.split('&').map(|pair| {
        let key = pair.split_once('=').map_or(pair, |(k, _)| k);
        if percent_decode(key.as_bytes(), true) == b"token" {
            format!("{key}=<redacted>")
        } else {
            pair.to_string()
        }
    });
    pairs.collect::<Vec<_>>().join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn logged(target: &str, secrets: &[&str]) -> String {
        let uri: Uri = target.parse().expect("test URIs are valid");
        let secrets: Vec<String> = secrets.iter().map(ToString::to_string).collect();
        redact_target(&uri, &secrets)
    }

    #[test]
    fn the_webhook_path_segment_is_redacted() {
        assert_eq!(logged("/webhook/abc/def", &[]), "/webhook/<redacted>");
    }

    #[test]
    fn a_token_query_value_is_redacted_and_other_pairs_are_kept() {
        assert_eq!(
            logged("/webhook?a=1&token=abc&%74oken=xyz", &[]),
            "/webhook?a=1&token=<redacted>&%74oken=<redacted>"
        );
    }

    #[test]
    fn a_configured_token_in_an_unknown_path_is_scrubbed() {
        assert_eq!(
            logged("/webhooks/s3cret", &["s3cret"]),
            "/webhooks/<redacted>"
        );
    }

    #[test]
    fn other_paths_are_logged_as_they_are() {
        assert_eq!(logged("/healthz", &["s3cret"]), "/healthz");
    }
}
