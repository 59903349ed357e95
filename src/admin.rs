//! What operators see and do, shared by the admin HTTP API (`/api/…`) and the `dlq` command:
//! events and deliveries as JSON, dead-letter replay and drop, and the metrics scrape.
//!
//! Nothing here contains a secret: payloads are request bodies, never URLs or headers.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::app::{App, Relay};
use crate::cli::payload::body_json;
use crate::pipeline::compose;
use crate::store::{
    AttemptRecord, DeadFilter, DeadLetterError, DeliveryDetails, DeliveryRecord, EventDetails,
    Store, StoreError,
};

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// A point in time as RFC 3339 UTC, for people and JSON.
pub fn time(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.to_string())
        .unwrap_or_else(|_| ms.to_string())
}

pub fn attempt_json(a: &AttemptRecord) -> Value {
    json!({
        "attempt": a.attempt,
        "started_at": time(a.started_at),
        "finished_at": time(a.finished_at),
        "outcome": a.outcome,
        "status": a.status,
        "error": a.error,
        "provider_id": a.provider_id,
    })
}

pub fn delivery_json(d: &DeliveryRecord, attempts: &[AttemptRecord]) -> Value {
    json!({
        "id": d.id,
        "event_id": d.event_id,
        "rule": d.rule,
        "target": d.target,
        "template": d.template,
        "state": d.state.as_str(),
        "attempts": d.attempts,
        "next_attempt_at": time(d.next_attempt_at),
        "created_at": time(d.created_at),
        "finished_at": d.finished_at.map(time),
        "last_status": d.last_status,
        "last_error": d.last_error,
        "replay_of": d.replay_of,
        "history": attempts.iter().map(attempt_json).collect::<Vec<_>>(),
    })
}

/// One event: the envelope as received, what enrichment added, the rules it matched, and each
/// delivery with its attempts.
pub fn event_json(e: &EventDetails) -> Value {
    json!({
        "id": e.event.id,
        "received_at": time(e.event.received_at),
        "event": e.event.event.to_value(),
        "enrichment": e.event.enrichment,
        "routed_at": e.routed_at.map(time),
        "matched_rules": e.matched_rules,
        "deliveries": e.deliveries.iter().map(|(d, a)| delivery_json(d, a)).collect::<Vec<_>>(),
    })
}

/// One delivery, with the body it would carry if sent now (rendered with the current
/// templates: what a replay will send).
pub fn delivery_details_json(app: &App, d: &DeliveryDetails) -> Value {
    let mut value = delivery_json(&d.delivery, &d.attempts);
    let info = compose::DeliveryInfo {
        event_id: &d.event.id,
        received_at: d.event.received_at,
        delivery_id: d.delivery.id,
        rule: &d.delivery.rule,
        target: &d.delivery.target,
    };
    let ctx = compose::context(&d.event.context(), &info);
    let key = compose::delivery_key(&d.event.id, d.delivery.id);
    let payload = compose::request_for(
        app,
        &d.delivery.target,
        d.delivery.template.as_deref(),
        &ctx,
        &key,
    )
    .map(|req| body_json(&req));
    if let Value::Object(map) = &mut value {
        map.insert("event".into(), d.event.event.to_value());
        map.insert("replayed_by".into(), json!(d.replayed_by));
        map.insert("dropped_at".into(), json!(d.dropped_at.map(time)));
        match payload {
            Ok(p) => map.insert("payload".into(), p),
            Err(e) => map.insert("payload_error".into(), Value::String(e.to_string())),
        };
    }
    value
}

/// Replays every open dead letter (of one target, if given) as the list stood when called:
/// replays that die again meanwhile are not replayed again. Returns `(original, replay)` ids.
pub async fn replay_all(
    store: &Store,
    target: Option<&str>,
) -> Result<Vec<(i64, i64)>, StoreError> {
    let filter = DeadFilter {
        limit: usize::MAX,
        target: target.map(str::to_string),
        since_ms: None,
    };
    let snapshot = store.dead_letters(&filter).await?;
    let mut replayed = Vec::with_capacity(snapshot.len());
    for d in snapshot {
        match store.replay(d.id, now_ms()).await? {
            Ok(new_id) => replayed.push((d.id, new_id)),
            // Replayed or dropped meanwhile by someone else: nothing to do.
            Err(DeadLetterError::AlreadyReplayed(..) | DeadLetterError::Dropped(_)) => {}
            Err(e) => return Err(StoreError::Other(e.to_string())),
        }
    }
    Ok(replayed)
}

/// The Prometheus exposition, with the queue gauges read from the store just now.
pub async fn metrics_text(relay: &Relay) -> String {
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

/// Retention, run by `serve` once an hour: deletes events older than `keep` that need nobody.
pub async fn prune_loop(
    relay: std::sync::Arc<Relay>,
    keep: Duration,
    shutdown: tokio_util::sync::CancellationToken,
) {
    // At least a second apart, so `retention: 0s` cannot spin.
    let every = Duration::from_secs(3600)
        .min(keep)
        .max(Duration::from_secs(1));
    loop {
        let before = now_ms() - i64::try_from(keep.as_millis()).unwrap_or(i64::MAX);
        match relay.store.prune(before).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(events = n, "pruned events older than the retention"),
            Err(e) => tracing::warn!("pruning failed; will try again: {e}"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}
