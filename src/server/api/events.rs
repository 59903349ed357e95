//! The events and targets routes of the admin API: the event listing with its filters and
//! page cursor, one event's story, an event routed again, and every target's lane.

use serde_json::json;
use warp::http::StatusCode;
use warp::reply::Response;

use super::{limit, param, store_error, time_param, views};
use crate::app::Relay;
use crate::clock::{now_ms, rfc3339};
use crate::pipeline::router;
use crate::server::reply::{ApiError, json_response};
use crate::store::{EventFilter, EventOutcome, RerouteError};

fn outcome(query: &str) -> Result<Option<EventOutcome>, ApiError> {
    let Some(word) = param(query, "outcome") else {
        return Ok(None);
    };
    EventOutcome::parse(&word).map(Some).ok_or_else(|| {
        let words: Vec<&str> = EventOutcome::ALL.iter().map(|o| o.as_str()).collect();
        ApiError::bad_request(
            "invalid_outcome",
            format!("outcome is one of {}", words.join(", ")),
        )
    })
}

fn before(query: &str) -> Result<Option<(i64, String)>, ApiError> {
    let Some(text) = param(query, "before") else {
        return Ok(None);
    };
    crate::store::parse_cursor(&text).map(Some).ok_or_else(|| {
        ApiError::bad_request(
            "invalid_before",
            "before is the `next` of a page of events: <received_at ms>.<event id>",
        )
    })
}

pub(super) async fn list_events(relay: &Relay, query: &str) -> Result<Response, ApiError> {
    let now = now_ms();
    let filter = EventFilter {
        limit: limit(query)?,
        kind: param(query, "event"),
        company: param(query, "company"),
        rule: param(query, "rule"),
        target: param(query, "target"),
        outcome: outcome(query)?,
        since_ms: time_param(query, "since", "invalid_since", now)?,
        until_ms: time_param(query, "until", "invalid_until", now)?,
        before: before(query)?,
    };
    let events = relay
        .store
        .list_events(&filter)
        .await
        .map_err(store_error)?;
    // A full page may have a next one; a shorter page is the last.
    let next = match events.last() {
        Some(last) if events.len() >= filter.limit => Some(last.cursor()),
        _ => None,
    };
    let events: Vec<_> = events
        .iter()
        .map(|e| {
            let mut v = serde_json::to_value(e).unwrap_or_default();
            v["received_at"] = json!(rfc3339(e.received_at));
            v["routed_at"] = json!(e.routed_at.map(rfc3339));
            v
        })
        .collect();
    Ok(json_response(
        StatusCode::OK,
        &json!({ "events": events, "next": next }),
    ))
}

pub(super) async fn show_event(relay: &Relay, id: &str) -> Result<Response, ApiError> {
    match relay.store.event(id).await.map_err(store_error)? {
        Some(details) => Ok(json_response(StatusCode::OK, &views::event_json(&details))),
        None => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no event with that id",
        )),
    }
}

fn reroute_error(e: RerouteError) -> ApiError {
    match e {
        RerouteError::NotFound(_) => {
            ApiError::new(StatusCode::NOT_FOUND, "not_found", "no event with that id")
        }
        RerouteError::Unrouted(_) => {
            ApiError::new(StatusCode::CONFLICT, "not_routed", e.to_string())
        }
    }
}

/// Matches the stored event (with what enrichment added) against the rules in force and
/// gives it one new delivery per (rule, target) they name now.
pub(super) async fn reroute(relay: &Relay, id: &str) -> Result<Response, ApiError> {
    let Some(details) = relay.store.event(id).await.map_err(store_error)? else {
        return Err(reroute_error(RerouteError::NotFound(id.to_owned())));
    };
    let app = relay.app();
    let deliveries = router::deliveries_for(&app.config, &details.event.context());
    let ids = relay
        .store
        .reroute(id, &deliveries, now_ms())
        .await
        .map_err(store_error)?
        .map_err(reroute_error)?;
    tracing::info!(
        event_id = id,
        deliveries = ids.len(),
        "event routed again over HTTP"
    );
    relay.wake_senders();
    let created: Vec<_> = ids
        .iter()
        .zip(&deliveries)
        .map(|(id, d)| json!({ "id": id, "rule": d.rule, "target": d.target }))
        .collect();
    Ok(json_response(
        StatusCode::OK,
        &json!({ "event_id": id, "deliveries": created }),
    ))
}

pub(super) async fn list_targets(relay: &Relay) -> Result<Response, ApiError> {
    let health = relay
        .store
        .target_health(now_ms())
        .await
        .map_err(store_error)?;
    let app = relay.app();
    Ok(json_response(
        StatusCode::OK,
        &views::targets_json(&app, &health),
    ))
}
