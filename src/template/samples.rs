//! The sample events of every MonitorQA event type (`examples/events/*.json`), embedded in the
//! binary so `check` and `send` work without the repository.

use serde_json::Value;

macro_rules! samples {
    ($($name:literal),* $(,)?) => {
        [$(($name, include_str!(concat!("../../examples/events/", $name, ".json")))),*]
    };
}

const SAMPLES: [(&str, &str); 15] = samples![
    "audit_assigned",
    "audit_completed",
    "audit_deleted",
    "audit_expired",
    "audit_rescheduled",
    "corrective_action_created",
    "corrective_action_assigned",
    "corrective_action_submitted",
    "corrective_action_approved",
    "corrective_action_rejected",
    "corrective_action_deleted",
    "corrective_action_expired",
    "corrective_action_updated",
    "template_created",
    "template_deleted",
];

/// `(file stem, event)` for every sample, e.g. `("audit_expired", {"event": "AUDIT_EXPIRED", …})`.
/// The stem is also the name of the event type's default template.
pub fn sample_events() -> Vec<(String, Value)> {
    SAMPLES
        .iter()
        .filter_map(|(name, json)| Some((name.to_string(), serde_json::from_str(json).ok()?)))
        .collect()
}

/// The sample of one event type (`AUDIT_EXPIRED`), if there is one.
pub fn sample_event(event_kind: &str) -> Option<Value> {
    sample_events()
        .into_iter()
        .map(|(_, v)| v)
        .find(|v| v.get("event").and_then(Value::as_str) == Some(event_kind))
}
