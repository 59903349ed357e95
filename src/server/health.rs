//! Health: `GET /healthz` (the process is up) and `GET /readyz` (it takes events: not
//! draining, and the store can write).

use std::sync::Arc;

use serde_json::json;
use warp::Filter;
use warp::http::StatusCode;
use warp::reject::Rejection;
use warp::reply::Response;

use super::at;
use super::reply::{ApiError, json_response, respond};
use crate::app::Relay;

/// `GET /healthz`: 200 while the process serves requests at all.
pub(super) fn healthz() -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    at("/healthz")
        .and(warp::get())
        .map(|| json_response(StatusCode::OK, &json!({ "status": "ok" })))
}

/// `GET /readyz`: 200 when a configuration is loaded, the store takes writes and the relay is
/// not draining, else 503 with the reason.
pub(super) fn readyz(
    relay: Arc<Relay>,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    at("/readyz").and(warp::get()).then(move || {
        let relay = relay.clone();
        async move { respond(readiness(&relay).await) }
    })
}

/// How long readiness waits for the database's answer, and for a write probe of a store whose
/// last commit failed.
const PROBE_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

async fn readiness(relay: &Relay) -> Result<Response, ApiError> {
    // A `Relay` always holds a loaded, validated configuration; draining, a database file
    // removed or replaced, or a store whose last group commit failed (disk full, read-only)
    // are the reasons not to be ready.
    if relay.is_draining() {
        return Err(ApiError::unavailable(
            "draining",
            "the relay is shutting down",
        ));
    }
    // Removed or replaced: no write can help, only a restart.
    if let Err(lost) = relay.store.check_file() {
        return Err(ApiError::unavailable("store_file_lost", lost.to_string()));
    }
    // A database server that went away is noticed here, not only by the next write.
    if let Err(why) = reachable(relay).await {
        return Err(ApiError::unavailable(
            "store_unreachable",
            format!("the database does not answer ({why}); events are refused with 503"),
        ));
    }
    // After a failed commit, try a write: a load balancer that stops sending while we are
    // not ready would otherwise leave no event to find out that the disk has room again.
    if relay.store.writer_stats().failing && !probe_write(relay).await {
        return Err(ApiError::unavailable(
            "store_unwritable",
            "the store's last write failed (disk full or read-only?); events are refused with 503",
        ));
    }
    Ok(json_response(StatusCode::OK, &json!({ "status": "ready" })))
}

async fn reachable(relay: &Relay) -> Result<(), String> {
    match tokio::time::timeout(PROBE_WAIT, relay.store.reachable()).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {PROBE_WAIT:?}")),
    }
}

async fn probe_write(relay: &Relay) -> bool {
    match tokio::time::timeout(PROBE_WAIT, relay.store.probe_write()).await {
        Ok(Ok(())) => true,
        Ok(Err(e)) => {
            tracing::debug!("readiness write probe failed: {e}");
            false
        }
        Err(_) => false,
    }
}
