//! The hardened accept loop: warp's routes served by hyper-util with a header-read timeout, a
//! bounded number of connections, a graceful drain bounded by a deadline, and one access-log
//! line per request.
//!
//! warp 0.4's own server has neither a header-read timeout (slowloris) nor a drain deadline
//! (a client stalled mid-body keeps the process alive), hence this loop. It speaks HTTP/1 only:
//! the auto builder's version sniffing and HTTP/2 have no header timeout of their own, and
//! MonitorQA posts HTTP/1.1. How many connections it holds, and which it lets go first, is
//! [`slots`]; how it waits out accept errors, [`backoff`].

mod backoff;
mod slots;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
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
use backoff::AcceptErrors;
use slots::{Slot, Slots};

/// A connection asked to close that has no request in flight this long after (a client
/// sending its headers slowly, or not reading its answer) is dropped.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

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
    let slots = new_slots(&relay, opts.max_connections);
    let mut errors = AcceptErrors::default();
    let mut connections = JoinSet::new();
    loop {
        // The slot first: beyond the cap, clients wait in the kernel's backlog.
        let slot = tokio::select! {
            () = shutdown.cancelled() => break,
            slot = slots.take() => match slot {
                Some(slot) => slot,
                None => break,
            },
        };
        let accepted = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => {
                if let Some(failures) = errors.accepted() {
                    tracing::info!(failures, "accepting connections again");
                }
                let conn = serve_connection(
                    builder.clone(),
                    slot,
                    stream,
                    peer,
                    routes.clone(),
                    relay.clone(),
                );
                connections.spawn(conn);
            }
            Err(e) => {
                drop(slot);
                on_accept_error(&e, &mut errors, &slots).await;
            }
        }
        // Reap finished connections so the set does not grow with every client.
        while connections.try_join_next().is_some() {}
    }
    drop(listener);
    slots.close_all();
    drain(&mut connections, opts.drain_deadline).await;
    Ok(())
}

/// The slots for this server, their cap taken from the open-file limit now.
fn new_slots(relay: &Relay, configured: Option<usize>) -> Arc<Slots> {
    let fd_limit = slots::fd_soft_limit();
    let cap = slots::connection_cap(configured, fd_limit);
    tracing::info!(cap, fd_limit, "holding at most {cap} connections");
    Slots::new(cap, relay.metrics.connections(cap))
}

fn connection_builder(opts: &ServerOptions) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new()).http1_only();
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(opts.header_read_timeout);
    builder
}

async fn on_accept_error(e: &std::io::Error, errors: &mut AcceptErrors, slots: &Slots) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    // These concern one client that went away before it was accepted.
    if matches!(
        e.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        tracing::debug!(error = %e, "accept failed for one connection");
        return;
    }
    // Out of descriptors despite the cap (files, outgoing requests): free a few.
    slots.make_room();
    let step = errors.failed(Instant::now());
    if let Some(failures) = step.report {
        tracing::warn!(
            error = %e,
            failures,
            pause_ms = step.pause.as_millis() as u64,
            "accept failed; at most one such line every {}s",
            backoff::REPORT_EVERY.as_secs(),
        );
    }
    tokio::time::sleep(step.pause).await;
}

/// Lets in-flight requests finish, but not past `deadline`; then aborts what is left. Every
/// connection has already been asked to close.
async fn drain(connections: &mut JoinSet<()>, deadline: Duration) {
    let all_done = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(deadline, all_done).await.is_ok() {
        tracing::debug!("all connections drained");
        return;
    }
    tracing::warn!(
        open = connections.len(),
        deadline_ms = deadline.as_millis() as u64,
        "drain deadline passed; closing the remaining connections",
    );
    connections.shutdown().await;
}

/// Serves one connection with the access log around the warp service, until it ends or the
/// server asks it to close (shutdown, or to make room for another).
async fn serve_connection<F>(
    builder: Arc<auto::Builder<TokioExecutor>>,
    slot: Slot,
    stream: TcpStream,
    peer: SocketAddr,
    routes: F,
    relay: Arc<Relay>,
) where
    F: Filter<Extract = (Response,), Error = Infallible> + Clone + Send + Sync + 'static,
{
    let in_flight = Arc::new(AtomicUsize::new(0));
    let service = logged_service(routes, relay, peer, in_flight.clone());
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    // The connection is polled first, so a request already sent is read before a close
    // request can count the connection as idle.
    let ended = tokio::select! {
        biased;
        ended = conn.as_mut() => ended,
        () = slot.close_requested() => {
            // Idle: closes now. A request in flight: answered, then closed.
            conn.as_mut().graceful_shutdown();
            close(conn, &in_flight).await
        }
    };
    if let Err(e) = ended {
        // Header timeouts, resets, malformed requests: the client's problem, not ours.
        tracing::debug!(error = %e, remote = %peer, "connection ended with an error");
    }
    drop(slot);
}

type ConnResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// Waits for a connection asked to close; drops it once it has had [`CLOSE_GRACE`] with no
/// request in flight (half a request's headers, or an answer the client does not read).
async fn close(
    mut conn: std::pin::Pin<&mut impl std::future::Future<Output = ConnResult>>,
    in_flight: &AtomicUsize,
) -> ConnResult {
    loop {
        tokio::select! {
            ended = conn.as_mut() => return ended,
            () = tokio::time::sleep(CLOSE_GRACE) => {
                if in_flight.load(Ordering::Acquire) == 0 {
                    return Ok(());
                }
            }
        }
    }
}

/// The warp service with one access-log line per request, counting requests in flight.
fn logged_service<F>(
    routes: F,
    relay: Arc<Relay>,
    peer: SocketAddr,
    in_flight: Arc<AtomicUsize>,
) -> impl hyper::service::Service<
    Request<Incoming>,
    Response = Response,
    Error = Infallible,
    Future = impl std::future::Future<Output = Result<Response, Infallible>> + Send,
> + Clone
where
    F: Filter<Extract = (Response,), Error = Infallible> + Clone + Send + Sync + 'static,
{
    let inner = TowerToHyperService::new(warp::service(routes));
    service_fn(move |mut request: Request<Incoming>| {
        request.extensions_mut().insert(super::auth::Peer(peer));
        let method = request.method().clone();
        let target = redact_target(request.uri(), &secrets_of(&relay));
        let forwarded_for = forwarded_for(request.headers());
        let started = Instant::now();
        let in_flight = InFlight::enter(in_flight.clone());
        let response = hyper::service::Service::call(&inner, request);
        async move {
            let response = response.await;
            drop(in_flight);
            if let Ok(r) = &response {
                tracing::info!(
                    target: "mqa_relay::access",
                    method = %method,
                    path = %target,
                    status = r.status().as_u16(),
                    duration_ms = started.elapsed().as_millis() as u64,
                    remote = %peer,
                    forwarded_for = forwarded_for.as_deref(),
                    "request",
                );
            }
            response
        }
    })
}

/// The client addresses a reverse proxy names in `X-Forwarded-For`, for the access log beside
/// the connection's own peer (which is the proxy). Whoever connects can write this header, so
/// it is only logged, never trusted: a value that is not a list of addresses is logged as
/// `<unreadable>`, and a list is cut at 200 bytes, so it cannot forge or flood a log line.
fn forwarded_for(headers: &warp::http::HeaderMap) -> Option<String> {
    let value = headers.get("x-forwarded-for")?;
    let address_char =
        |c: char| c.is_ascii_hexdigit() || matches!(c, '.' | ':' | ',' | ' ' | '[' | ']');
    let text = value.to_str().ok().map(str::trim).filter(|t| !t.is_empty());
    match text {
        Some(text) if text.chars().all(address_char) => Some(text.chars().take(200).collect()),
        _ => Some("<unreadable>".to_string()),
    }
}

/// One request in flight on a connection, for as long as its handler runs.
struct InFlight(Arc<AtomicUsize>);

impl InFlight {
    fn enter(count: Arc<AtomicUsize>) -> InFlight {
        count.fetch_add(1, Ordering::AcqRel);
        InFlight(count)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
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
    fn a_forwarded_for_header_is_logged_as_addresses_only() {
        let headers = |value: &str| {
            let mut h = warp::http::HeaderMap::new();
            h.insert("x-forwarded-for", value.parse().unwrap());
            h
        };
        assert_eq!(
            forwarded_for(&headers("203.0.113.7, 10.0.0.2")).as_deref(),
            Some("203.0.113.7, 10.0.0.2")
        );
        assert_eq!(
            forwarded_for(&headers("[2001:db8::1]")).as_deref(),
            Some("[2001:db8::1]")
        );
        assert_eq!(
            forwarded_for(&headers("1.2.3.4 level=ERROR msg=forged")).as_deref(),
            Some("<unreadable>")
        );
        assert_eq!(forwarded_for(&warp::http::HeaderMap::new()), None);
        assert_eq!(forwarded_for(&headers("")).as_deref(), Some("<unreadable>"));
        let long = "1".repeat(500);
        assert_eq!(forwarded_for(&headers(&long)).map(|v| v.len()), Some(200));
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
