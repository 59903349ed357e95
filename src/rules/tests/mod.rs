//! Tests of the rule engine, on hand-made events and on the sample events in
//! `examples/events/`.

mod compile_errors;
mod evaluate;
mod explain;
mod operators;
pub(crate) mod properties;

use serde_json::{Value, json};

use super::{Rule, RuleError, RuleSet, RuleSpec};

/// Every sample event, by file name.
const SAMPLES: &[(&str, &str)] = &[
    (
        "audit_assigned",
        include_str!("../../../examples/events/audit_assigned.json"),
    ),
    (
        "audit_completed",
        include_str!("../../../examples/events/audit_completed.json"),
    ),
    (
        "audit_deleted",
        include_str!("../../../examples/events/audit_deleted.json"),
    ),
    (
        "audit_expired",
        include_str!("../../../examples/events/audit_expired.json"),
    ),
    (
        "audit_rescheduled",
        include_str!("../../../examples/events/audit_rescheduled.json"),
    ),
    (
        "corrective_action_approved",
        include_str!("../../../examples/events/corrective_action_approved.json"),
    ),
    (
        "corrective_action_assigned",
        include_str!("../../../examples/events/corrective_action_assigned.json"),
    ),
    (
        "corrective_action_created",
        include_str!("../../../examples/events/corrective_action_created.json"),
    ),
    (
        "corrective_action_deleted",
        include_str!("../../../examples/events/corrective_action_deleted.json"),
    ),
    (
        "corrective_action_expired",
        include_str!("../../../examples/events/corrective_action_expired.json"),
    ),
    (
        "corrective_action_rejected",
        include_str!("../../../examples/events/corrective_action_rejected.json"),
    ),
    (
        "corrective_action_submitted",
        include_str!("../../../examples/events/corrective_action_submitted.json"),
    ),
    (
        "corrective_action_updated",
        include_str!("../../../examples/events/corrective_action_updated.json"),
    ),
    (
        "template_created",
        include_str!("../../../examples/events/template_created.json"),
    ),
    (
        "template_deleted",
        include_str!("../../../examples/events/template_deleted.json"),
    ),
];

/// A sample event by file name (without `.json`).
fn sample(name: &str) -> Value {
    let (_, body) = SAMPLES
        .iter()
        .find(|(n, _)| *n == name)
        .expect("a known sample");
    serde_json::from_str(body).expect("samples are valid JSON")
}

fn all_samples() -> Vec<Value> {
    SAMPLES.iter().map(|(n, _)| sample(n)).collect()
}

/// A hand-made event of type `TEST_EVENT` with the given `data`.
fn event(data: Value) -> Value {
    json!({
        "event": "TEST_EVENT",
        "data": data,
        "company": {"id": "c-1", "name": "Northwind Foods"}
    })
}

fn spec(name: &str, events: &[&str], where_: Value) -> RuleSpec {
    RuleSpec {
        name: name.into(),
        events: events.iter().map(|e| (*e).to_owned()).collect(),
        where_: (!where_.is_null()).then_some(where_),
        notify: vec![format!("{name}-target")],
        ..RuleSpec::default()
    }
}

fn compile(spec: RuleSpec) -> Rule {
    match Rule::compile(spec) {
        Ok(rule) => rule,
        Err(errors) => panic!("the rule should compile: {errors:?}"),
    }
}

fn compile_errors(spec: RuleSpec) -> Vec<RuleError> {
    match Rule::compile(spec) {
        Ok(_) => panic!("the rule should not compile"),
        Err(errors) => errors,
    }
}

/// Whether `where_` holds for `event`, checked through the public API; also checks that
/// `explain` agrees (no explanation exactly when the rule matches).
fn holds(where_: Value, event: &Value) -> bool {
    let set = RuleSet::new(vec![compile(spec("r", &["*"], where_))]);
    let matched = set.evaluate(event).len() == 1;
    let explained = set.explain(event);
    assert_eq!(
        matched,
        explained.is_empty(),
        "explain disagrees: {explained:?}"
    );
    matched
}

/// The one explanation for a single rule that must not match.
fn reason(spec: RuleSpec, event: &Value) -> String {
    let set = RuleSet::new(vec![compile(spec)]);
    let mut explained = set.explain(event);
    assert_eq!(explained.len(), 1, "the rule should not match");
    explained.remove(0).reason
}

/// The names of the rules that match, in order.
fn matching(set: &RuleSet, event: &Value) -> Vec<String> {
    set.evaluate(event)
        .iter()
        .map(|m| m.rule.to_owned())
        .collect()
}
