//! The HTTP server: warp routes with thin handlers, one rejection handler that answers JSON
//! errors, and the hardened accept loop that serves them.
//!
//! | route | answers |
//! |---|---|
//! | `POST /webhook/<token>` (or `/webhook` + `?token=` / Bearer) | 202 `{"id"}`, 400, 401, 408, 413, 415, 503 |
//! | `GET /healthz` | 200 `{"status":"ok"}` |
//! | `GET /readyz` | 200, or 503 while draining or while the store cannot take events |
//! | `POST /-/reload` (Bearer admin token) | 200 `{"status":"reloaded","config_hash"}`, 400, 401, 403, 503 (another reload runs, or this one outlasted its wait) |
//! | `GET /metrics` | Prometheus text |
//! | `/api/…` (Bearer admin token) | events, deliveries, dead letters: see `server::api` |
//! | `/ui/…` (admin token: sign-in or Bearer) | the operator page: see `server::ui` |
//!
//! Unknown paths answer 404 and wrong methods 405, both as JSON errors. The server matches no
//! rules and renders nothing: it hands bodies to [`crate::pipeline::intake`].

mod accept;
pub mod api;

mod auth;
mod health;
mod reload;
pub mod reply;
mod ui;
mod webhook;

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use warp::Filter;
use warp::reply::Response;

use crate::app::Relay;

/// Time and connection limits of the server. The defaults keep a whole webhook answer under
/// MonitorQA's 10 s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerOptions {
    /// A client must send its request headers within this time, or the connection is closed.
    pub header_read_timeout: Duration,
    /// The webhook body must arrive within this time, or the answer is 408.
    pub request_timeout: Duration,
    /// After shutdown, in-flight requests get this long to finish before their connections close.
    pub drain_deadline: Duration,
    /// The most connections held at once (default 4096). Whatever is asked, the server keeps
    /// under the process's open-file limit with room for the store, outgoing requests and
    /// files; when all are taken, the oldest idle connections are closed to make room.
    pub max_connections: Option<usize>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            header_read_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(8),
            drain_deadline: Duration::from_secs(10),
            max_connections: None,
        }
    }
}

/// Serves the routes on `listener` until `shutdown` is cancelled, then stops accepting, lets
/// in-flight requests finish for at most `opts.drain_deadline`, and returns.
///
/// The caller decides when intake refuses new events ([`Relay::start_draining`]); a typical
/// shutdown drains first (readyz turns 503, webhooks answer 503), then cancels `shutdown`.
pub async fn serve(
    listener: TcpListener,
    relay: Arc<Relay>,
    shutdown: CancellationToken,
    opts: ServerOptions,
) -> std::io::Result<()> {
    let routes = routes_with(relay.clone(), opts);
    accept::run(listener, routes, relay, shutdown, opts).await
}

/// All routes with the default [`ServerOptions`] (for `warp::test`).
pub fn routes(
    relay: Arc<Relay>,
) -> impl Filter<Extract = (Response,), Error = Infallible> + Clone + Send + Sync + 'static {
    routes_with(relay, ServerOptions::default())
}

/// All routes, with the webhook body read bounded by `opts.request_timeout`.
pub fn routes_with(
    relay: Arc<Relay>,
    opts: ServerOptions,
) -> impl Filter<Extract = (Response,), Error = Infallible> + Clone + Send + Sync + 'static {
    // Each route matches its path before its method, so an unknown path is a 404 and a known
    // path with the wrong method a 405. One guard counts wrong admin tokens on every route
    // that takes one.
    let guard = Arc::new(auth::Guard::default());
    webhook::route(relay.clone(), opts.request_timeout)
        .or(health::healthz())
        .unify()
        .or(health::readyz(relay.clone()))
        .unify()
        .or(reload::reload(relay.clone(), guard.clone()))
        .unify()
        .or(api::metrics(relay.clone()))
        .unify()
        .or(ui::routes(
            relay.clone(),
            guard.clone(),
            opts.request_timeout,
        ))
        .unify()
        .or(api::api(relay, guard))
        .unify()
        .recover(reply::recover)
        .unify()
}

/// Matches `prefix` and every path below it (`/ui`, `/ui/…`), and extracts the whole path;
/// matched on the full path for the reason [`at`] gives.
fn under(
    prefix: &'static str,
) -> impl Filter<Extract = (String,), Error = warp::Rejection> + Clone {
    warp::path::full().and_then(move |full: warp::path::FullPath| async move {
        let path = full.as_str();
        let below = path
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'));
        if below {
            Ok(path.to_string())
        } else {
            Err(warp::reject::not_found())
        }
    })
}

/// Matches exactly `path`. Used instead of warp's segment filters, which trace-log every
/// segment they compare, so a token sent to any path would reach the logs.
fn at(path: &'static str) -> impl Filter<Extract = (), Error = warp::Rejection> + Clone {
    warp::path::full()
        .and_then(move |full: warp::path::FullPath| async move {
            if full.as_str() == path {
                Ok(())
            } else {
                Err(warp::reject::not_found())
            }
        })
        .untuple_one()
}
