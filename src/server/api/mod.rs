//! The admin API under `/api/` (Bearer `server.admin_token`; off until one is set) and
//! `GET /metrics` (Prometheus text, open like any scrape endpoint; it holds no secret).
//!
//! | route | answers |
//! |---|---|
//! | `GET /api/config` | the serving rules file: path, hash, load time, counts, recent reloads |
//! | `GET /api/events?limit=&event=&company=&rule=&target=&outcome=&since=&until=&before=` | recent events, newest first, with delivery counts, rules and targets; `next` is the `before` of the next page |
//! | `GET /api/events/<id>` | the event, enrichment, matched rules, deliveries and attempts |
//! | `POST /api/events/<id>/reroute` | routes a routed event again by the rules in force (new deliveries at the tails of their lanes) |
//! | `GET /api/targets` | every target: kind, host, rate limit, queue, dead letters, last attempt, pause |
//! | `GET /api/conversations?object=&target=&limit=` | conversations (`threads: true`): the thread's ids, where the object stands, its messages |
//! | `GET /api/dlq?target=&since=&limit=` | open dead letters, oldest first |
//! | `GET /api/dlq/<id>` | one delivery: attempts, errors, and the payload a replay would send |
//! | `POST /api/dlq/<id>/replay` | replays it (a new delivery at the tail of its lane) |
//! | `POST /api/dlq/replay?target=&since=` | replays every open dead letter (of one target, dead since a time) |
//! | `DELETE /api/dlq/<id>` | drops it from the list |
//!
//! An event listing's `outcome` is `delivered` (every delivery delivered), `waiting` (one
//! pending or being sent), `dead` (one dead), `none` (no rule matched) or `unrouted`; `since`
//! and `until` are RFC 3339 times or durations back from now (`2h`); `before` is the `next`
//! of the page before, `<received_at ms>.<event id>`.

use std::sync::Arc;

use serde_json::json;
use warp::Filter;
use warp::http::{HeaderMap, Method, StatusCode, header};
use warp::reject::Rejection;
use warp::reply::Response;

use super::auth::{self, Credential};
use super::reply::{ApiError, json_response, respond};
use crate::app::Relay;
use crate::clock::{now_ms, parse_since, rfc3339};
use crate::pipeline::offload;
use crate::store::{DeadFilter, DeadLetterError, StoreError};

mod conversations;
mod events;
pub mod views;

const ADMIN_AUTH: auth::Messages = auth::Messages {
    not_configured: "server.admin_token is not set",
    missing: "missing admin token: send Authorization: Bearer <admin_token>",
    wrong: "wrong admin token",
};

/// `GET /metrics`.
pub(super) fn metrics(
    relay: Arc<Relay>,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    super::at("/metrics").and(warp::get()).then(move || {
        let relay = relay.clone();
        async move {
            let text = scrape(&relay).await;
            let mut response = Response::new(text.into());
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                header::HeaderValue::from_static(
                    "application/openmetrics-text; version=1.0.0; charset=utf-8",
                ),
            );
            response
        }
    })
}

/// The Prometheus exposition, with the queue gauges read from the store just now.
async fn scrape(relay: &Relay) -> String {
    match relay.store.queue_stats().await {
        Ok((stats, dead)) => {
            let now = now_ms();
            let per_target: Vec<(String, i64, f64)> = stats
                .iter()
                .map(|q| {
                    let age = q
                        .oldest_created_at
                        .map(|t| (now - t).max(0) as f64 / 1000.0);
                    (q.target.clone(), q.depth as i64, age.unwrap_or(0.0))
                })
                .collect();
            relay.metrics.set_queues(&per_target, dead as i64);
        }
        Err(e) => tracing::warn!("metrics: cannot read the queues: {e}"),
    }
    relay.metrics.set_store_writer(&relay.store.writer_stats());
    relay.metrics.encode()
}

/// Everything under `/api/`: one filter, dispatched on method and path by [`handle`].
pub(super) fn api(
    relay: Arc<Relay>,
    guard: Arc<auth::Guard>,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    super::under("/api")
        .and(warp::method())
        .and(warp::header::headers_cloned())
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .and(warp::ext::optional::<auth::Peer>())
        .then(
            move |path: String, method: Method, headers: HeaderMap, query: String, peer| {
                let relay = relay.clone();
                let guard = guard.clone();
                async move {
                    let request = Call {
                        method: &method,
                        path: &path,
                        query: &query,
                        headers: &headers,
                    };
                    respond(handle(&relay, &guard, peer, request).await)
                }
            },
        )
}

/// One call of the admin API.
struct Call<'a> {
    method: &'a Method,
    path: &'a str,
    query: &'a str,
    headers: &'a HeaderMap,
}

async fn handle(
    relay: &Relay,
    guard: &auth::Guard,
    peer: Option<auth::Peer>,
    call: Call<'_>,
) -> Result<Response, ApiError> {
    let Call {
        method,
        path,
        query,
        headers,
    } = call;
    authorize(relay, guard, peer, headers)?;
    let parts: Vec<&str> = path.trim_start_matches("/api/").split('/').collect();
    match (method, parts.as_slice()) {
        (&Method::GET, ["config"]) => Ok(json_response(StatusCode::OK, &views::config_json(relay))),
        (&Method::GET, ["events"]) => events::list_events(relay, query).await,
        (&Method::GET, ["events", id]) => events::show_event(relay, id).await,
        (&Method::POST, ["events", id, "reroute"]) => events::reroute(relay, id).await,
        (&Method::GET, ["targets"]) => events::list_targets(relay).await,
        (&Method::GET, ["conversations"]) => conversations::list(relay, query).await,
        (&Method::GET, ["dlq"]) => list_dead(relay, query).await,
        (&Method::POST, ["dlq", "replay"]) => replay_all(relay, query).await,
        (&Method::GET, ["dlq", id]) => show_delivery(relay, parse_id(id)?).await,
        (&Method::POST, ["dlq", id, "replay"]) => replay(relay, parse_id(id)?).await,
        (&Method::DELETE, ["dlq", id]) => drop_dead(relay, parse_id(id)?).await,
        (
            _,
            ["config"]
            | ["events"]
            | ["events", _]
            | ["events", _, "reroute"]
            | ["targets"]
            | ["conversations"]
            | ["dlq"]
            | ["dlq", _]
            | ["dlq", _, "replay"],
        ) => Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "method not allowed",
        )),
        _ => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such admin route",
        )),
    }
}

fn authorize(
    relay: &Relay,
    guard: &auth::Guard,
    peer: Option<auth::Peer>,
    headers: &HeaderMap,
) -> Result<(), ApiError> {
    let Some(admin_token) = auth::admin_token(relay) else {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "admin_disabled",
            "the admin API is off until server.admin_token is set",
        ));
    };
    let presented = Credential::bearer(headers);
    auth::check_admin(
        guard,
        peer,
        &admin_token,
        presented.as_ref(),
        ADMIN_AUTH,
        "admin API",
    )
}

fn parse_id(id: &str) -> Result<i64, ApiError> {
    id.parse()
        .map_err(|_| ApiError::bad_request("invalid_id", "a delivery id is a number"))
}

pub(super) fn store_error(e: StoreError) -> ApiError {
    tracing::warn!("admin API: {e}");
    ApiError::unavailable("store_unavailable", "the store cannot answer now")
}

pub(super) fn param(query: &str, name: &str) -> Option<String> {
    auth::query_param(query, name)
        .and_then(|v| String::from_utf8(v).ok())
        .filter(|v| !v.is_empty())
}

pub(super) fn limit(query: &str) -> Result<usize, ApiError> {
    match param(query, "limit") {
        None => Ok(50),
        Some(v) => v.parse::<usize>().map(|n| n.clamp(1, 1000)).map_err(|_| {
            ApiError::bad_request("invalid_limit", "limit is a number from 1 to 1000")
        }),
    }
}

/// A time filter (`since`, `until`): an RFC 3339 time or a duration back from `now`.
pub(super) fn time_param(
    query: &str,
    name: &str,
    code: &'static str,
    now: i64,
) -> Result<Option<i64>, ApiError> {
    param(query, name)
        .map(|v| parse_since(&v, now).map_err(|e| ApiError::bad_request(code, e.message_for(name))))
        .transpose()
}

async fn list_dead(relay: &Relay, query: &str) -> Result<Response, ApiError> {
    let filter = DeadFilter {
        limit: limit(query)?,
        target: param(query, "target"),
        since_ms: time_param(query, "since", "invalid_since", now_ms())?,
    };
    let dead = relay
        .store
        .dead_letters(&filter)
        .await
        .map_err(store_error)?;
    let dead: Vec<_> = dead.iter().map(|d| views::delivery_json(d, &[])).collect();
    Ok(json_response(StatusCode::OK, &json!({ "dead": dead })))
}

async fn show_delivery(relay: &Relay, id: i64) -> Result<Response, ApiError> {
    match relay.store.delivery(id).await.map_err(store_error)? {
        Some(d) => {
            // The view renders the payload: off the threads that answer webhooks, as a send.
            let app = relay.app();
            let view = offload::run(move || views::delivery_details_json(&app, &d))
                .await
                .map_err(|e| ApiError::internal(e.to_string()))?;
            Ok(json_response(StatusCode::OK, &view))
        }
        None => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no delivery with that id",
        )),
    }
}

fn dead_letter_error(e: DeadLetterError) -> ApiError {
    let status = match e {
        DeadLetterError::NotFound(_) => StatusCode::NOT_FOUND,
        _ => StatusCode::CONFLICT,
    };
    ApiError::new(status, "not_an_open_dead_letter", e.to_string())
}

async fn replay(relay: &Relay, id: i64) -> Result<Response, ApiError> {
    let new_id = relay
        .store
        .replay(id, now_ms())
        .await
        .map_err(store_error)?;
    let new_id = new_id.map_err(dead_letter_error)?;
    tracing::info!(
        delivery_id = id,
        replay_id = new_id,
        "dead letter replayed over HTTP"
    );
    relay.wake_senders();
    Ok(json_response(
        StatusCode::OK,
        &json!({ "replayed": id, "delivery_id": new_id }),
    ))
}

async fn replay_all(relay: &Relay, query: &str) -> Result<Response, ApiError> {
    let now = now_ms();
    let filter = DeadFilter {
        target: param(query, "target"),
        since_ms: time_param(query, "since", "invalid_since", now)?,
        ..DeadFilter::default()
    };
    let done = relay
        .store
        .replay_all(&filter, now)
        .await
        .map_err(store_error)?;
    tracing::info!(
        count = done.len(),
        target = filter.target.as_deref().unwrap_or("*"),
        since = filter.since_ms.map(rfc3339),
        "dead letters replayed over HTTP"
    );
    relay.wake_senders();
    let pairs: Vec<_> = done
        .iter()
        .map(|(old, new)| json!({"replayed": old, "delivery_id": new}))
        .collect();
    Ok(json_response(
        StatusCode::OK,
        &json!({ "count": pairs.len(), "replays": pairs }),
    ))
}

async fn drop_dead(relay: &Relay, id: i64) -> Result<Response, ApiError> {
    relay
        .store
        .drop_dead(id, now_ms())
        .await
        .map_err(store_error)?
        .map_err(dead_letter_error)?;
    tracing::info!(delivery_id = id, "dead letter dropped over HTTP");
    Ok(json_response(StatusCode::OK, &json!({ "dropped": id })))
}
