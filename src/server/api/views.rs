//! What operators see: events, deliveries, attempts, dead letters and the targets' lanes as
//! JSON, shared by the admin API (`/api/…`) and the `dlq` command. Nothing here contains a
//! secret: payloads are request bodies, never URLs or headers, and a target shows its host
//! alone.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::app::App;
use crate::clock::{millis, rfc3339};
use crate::compose::{self, ComposeError};
use crate::store::{
    AttemptRecord, Conversation, DeliveryDetails, DeliveryRecord, EventDetails, TargetHealth,
};
use crate::targets::RateLimit;

/// One attempt of a delivery.
pub fn attempt_json(a: &AttemptRecord) -> Value {
    json!({
        "attempt": a.attempt,
        "started_at": rfc3339(a.started_at),
        "finished_at": rfc3339(a.finished_at),
        "outcome": a.outcome,
        "status": a.status,
        "error": a.error,
        "provider_id": a.provider_id,
        "action": a.action,
    })
}

/// One conversation: its thread's ids, where its object stands, how many messages it holds.
pub fn conversation_json(c: &Conversation) -> Value {
    json!({
        "target": c.target,
        "object": c.object_key,
        "channel": c.channel,
        "thread_id": c.thread_id,
        "topic": c.topic,
        "state": c.state,
        "first_event_id": c.first_event_id,
        "last_event_id": c.last_event_id,
        "last_event": c.last_kind,
        "messages": c.messages,
        "restarts": c.restarts,
        "opened_at": rfc3339(c.opened_at),
        "updated_at": rfc3339(c.updated_at),
        "closed_at": c.closed_at.map(rfc3339),
        "gone_at": c.gone_at.map(rfc3339),
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
        "next_attempt_at": rfc3339(d.next_attempt_at),
        "created_at": rfc3339(d.created_at),
        "finished_at": d.finished_at.map(rfc3339),
        "object": d.object_key,
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
        "received_at": rfc3339(e.event.received_at),
        "event": e.event.event.to_value(),
        "enrichment": e.event.enrichment,
        "routed_at": e.routed_at.map(rfc3339),
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
    let payload = match app.target(&d.delivery.target) {
        Some(target) => compose::request_for(
            &app.templates,
            target,
            d.delivery.template.as_deref(),
            &ctx,
            &key,
        ),
        None => Err(ComposeError::UnknownTarget(d.delivery.target.clone())),
    }
    .map(|req| req.body_json());
    if let Value::Object(map) = &mut value {
        map.insert("event".into(), d.event.event.to_value());
        map.insert("replayed_by".into(), json!(d.replayed_by));
        map.insert("dropped_at".into(), json!(d.dropped_at.map(rfc3339)));
        match payload {
            Ok(p) => map.insert("payload".into(), p),
            Err(e) => map.insert("payload_error".into(), Value::String(e.to_string())),
        };
    }
    value
}

/// Every target's lane (`GET /api/targets`), by name: each target of the configuration (with
/// zeros while the store has no lane for it) and each lane of the store (one the configuration
/// no longer names shows no kind). Where a target sends shows as its host alone.
pub fn targets_json(app: &App, health: &[TargetHealth]) -> Value {
    let mut lanes: BTreeMap<&str, Option<&TargetHealth>> = app
        .config
        .targets
        .keys()
        .map(|name| (name.as_str(), None))
        .collect();
    for h in health {
        lanes.insert(&h.target, Some(h));
    }
    let idle = TargetHealth::default();
    let targets: Vec<Value> = lanes
        .into_iter()
        .map(|(name, h)| target_json(app, name, h.unwrap_or(&idle)))
        .collect();
    json!({ "targets": targets })
}

/// One target: what the configuration says of it and how its lane stands.
fn target_json(app: &App, name: &str, h: &TargetHealth) -> Value {
    let configured = app.target(name);
    json!({
        "target": name,
        "configured": configured.is_some(),
        "kind": configured.map(|t| t.target.kind_name()),
        "host": configured.and_then(|t| t.target.host()),
        "rate_limit": configured.and_then(|t| t.rate_limit).map(rate_limit_json),
        "depth": h.depth,
        "oldest_created_at": h.oldest_created_at.map(rfc3339),
        "dead": h.dead,
        "last_delivered_at": h.last_delivered_at.map(rfc3339),
        "last_attempt_at": h.last_attempt_at.map(rfc3339),
        "last_outcome": h.last_outcome,
        "last_status": h.last_status,
        "last_error": h.last_error,
        "paused_until": h.paused_until.map(rfc3339),
        "delivered_last_hour": h.delivered_last_hour,
    })
}

/// `rate_limit: 30/min` as `{"count": 30, "per_ms": 60000}`.
fn rate_limit_json(limit: RateLimit) -> Value {
    json!({ "count": limit.count, "per_ms": millis(limit.per) })
}

/// The configuration now serving and the last loads (`GET /api/config`).
pub fn config_json(relay: &crate::app::Relay) -> Value {
    let (app, loads) = relay.serving();
    let load_json = |load: &crate::app::loads::Load| {
        json!({
            "at": rfc3339(load.at_ms),
            "outcome": if load.ok() { "loaded" } else { "refused" },
            "hash": load.hash,
            "problems": load.problems,
        })
    };
    let c = &app.config;
    json!({
        "path": relay.rules_path().display().to_string(),
        "hash": c.hash,
        "loaded_at": rfc3339(loads.serving_since_ms()),
        "rules": c.rules.rules().len(),
        "targets": c.targets.len(),
        "target_names": c.targets.keys().collect::<Vec<_>>(),
        "restart_needed": relay.restart_needed(&app),
        "warnings": app.warnings(),
        "last_reload_error": loads.unresolved_failure().map(load_json),
        "loads": loads.recent().map(load_json).collect::<Vec<_>>(),
    })
}
