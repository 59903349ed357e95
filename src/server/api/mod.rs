//! The admin API under `/api/` (Bearer `server.admin_token`; off until one is set) and
//! `GET /metrics` (Prometheus text, open like any scrape endpoint; it holds no secret).
//!
//! | route | answers |
//! |---|---|
//! | `GET /api/config` | the serving rules file: path, hash, load time, counts, recent reloads |
//! | `GET /api/events?limit=&event=&company=` | recent events, newest first, with delivery counts |
//! | `GET /api/events/<id>` | the event, enrichment, matched rules, deliveries and attempts |
//! | `GET /api/dlq?target=&since=&limit=` | open dead letters, oldest first |
//! | `GET /api/dlq/<id>` | one delivery: attempts, errors, and the payload a replay would send |
//! | `POST /api/dlq/<id>/replay` | replays it (a new delivery at the tail of its lane) |
//! | `POST /api/dlq/replay?target=` | replays every open dead letter (of one target) |
//! | `DELETE /api/dlq/<id>` | drops it from the list |

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
use crate::store::{DeadFilter, DeadLetterError, EventFilter, StoreError};

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
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path::full()
        .and_then(|full: warp::path::FullPath| async move {
            let path = full.as_str();
            if path.starts_with("/api/") {
                Ok(path.to_string())
            } else {
                Err(warp::reject::not_found())
            }
        })
        .and(warp::method())
        .and(warp::header::headers_cloned())
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .then(
            move |path: String, method: Method, headers: HeaderMap, query: String| {
                let relay = relay.clone();
                async move { respond(handle(&relay, &method, &path, &query, &headers).await) }
            },
        )
}

async fn handle(
    relay: &Relay,
    method: &Method,
    path: &str,
    query: &str,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    authorize(relay, headers)?;
    let parts: Vec<&str> = path.trim_start_matches("/api/").split('/').collect();
    match (method, parts.as_slice()) {
        (&Method::GET, ["config"]) => Ok(json_response(StatusCode::OK, &views::config_json(relay))),
        (&Method::GET, ["events"]) => list_events(relay, query).await,
        (&Method::GET, ["events", id]) => show_event(relay, id).await,
        (&Method::GET, ["dlq"]) => list_dead(relay, query).await,
        (&Method::POST, ["dlq", "replay"]) => replay_all(relay, query).await,
        (&Method::GET, ["dlq", id]) => show_delivery(relay, parse_id(id)?).await,
        (&Method::POST, ["dlq", id, "replay"]) => replay(relay, parse_id(id)?).await,
        (&Method::DELETE, ["dlq", id]) => drop_dead(relay, parse_id(id)?).await,
        (
            _,
            ["config"] | ["events"] | ["events", _] | ["dlq"] | ["dlq", _] | ["dlq", _, "replay"],
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

fn authorize(relay: &Relay, headers: &HeaderMap) -> Result<(), ApiError> {
    let admin_token = relay.app().config.server.admin_token.clone();
    let Some(admin_token) = admin_token.filter(|t| !t.is_empty()) else {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "admin_disabled",
            "the admin API is off until server.admin_token is set",
        ));
    };
    auth::check(
        Some(&admin_token),
        Credential::bearer(headers).as_ref(),
        ADMIN_AUTH,
    )
}

fn parse_id(id: &str) -> Result<i64, ApiError> {
    id.parse()
        .map_err(|_| ApiError::bad_request("invalid_id", "a delivery id is a number"))
}

fn store_error(e: StoreError) -> ApiError {
    tracing::warn!("admin API: {e}");
    ApiError::unavailable("store_unavailable", "the store cannot answer now")
}

fn param(query: &str, name: &str) -> Option<String> {
    auth::query_param(query, name)
        .and_then(|v| String::from_utf8(v).ok())
        .filter(|v| !v.is_empty())
}

fn limit(query: &str) -> Result<usize, ApiError> {
    match param(query, "limit") {
        None => Ok(50),
        Some(v) => v.parse::<usize>().map(|n| n.clamp(1, 1000)).map_err(|_| {
            ApiError::bad_request("invalid_limit", "limit is a number from 1 to 1000")
        }),
    }
}

async fn list_events(relay: &Relay, query: &str) -> Result<Response, ApiError> {
    let filter = EventFilter {
        limit: limit(query)?,
        kind: param(query, "event"),
        company: param(query, "company"),
        ..EventFilter::default()
    };
    let events = relay
        .store
        .list_events(&filter)
        .await
        .map_err(store_error)?;
    let events: Vec<_> = events
        .iter()
        .map(|e| {
            let mut v = serde_json::to_value(e).unwrap_or_default();
            v["received_at"] = json!(rfc3339(e.received_at));
            v["routed_at"] = json!(e.routed_at.map(rfc3339));
            v
        })
        .collect();
    Ok(json_response(StatusCode::OK, &json!({ "events": events })))
}

async fn show_event(relay: &Relay, id: &str) -> Result<Response, ApiError> {
    match relay.store.event(id).await.map_err(store_error)? {
        Some(details) => Ok(json_response(StatusCode::OK, &views::event_json(&details))),
        None => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no event with that id",
        )),
    }
}

async fn list_dead(relay: &Relay, query: &str) -> Result<Response, ApiError> {
    let since_ms = match param(query, "since") {
        None => None,
        Some(v) => Some(
            parse_since(&v, now_ms())
                .map_err(|e| ApiError::bad_request("invalid_since", e.to_string()))?,
        ),
    };
    let filter = DeadFilter {
        limit: limit(query)?,
        target: param(query, "target"),
        since_ms,
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
    let target = param(query, "target");
    let filter = DeadFilter {
        target: target.clone(),
        ..DeadFilter::default()
    };
    let done = relay
        .store
        .replay_all(&filter, now_ms())
        .await
        .map_err(store_error)?;
    tracing::info!(
        count = done.len(),
        target = target.as_deref().unwrap_or("*"),
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
