//! What operators see: events, deliveries, attempts and dead letters as JSON, shared by the
//! admin API (`/api/…`) and the `dlq` command. Nothing here contains a secret: payloads are
//! request bodies, never URLs or headers.

use serde_json::{Value, json};

use crate::app::App;
use crate::clock::rfc3339;
use crate::compose::{self, ComposeError};
use crate::store::{AttemptRecord, DeliveryDetails, DeliveryRecord, EventDetails};

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
