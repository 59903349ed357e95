//! Which events need a lookup, and where its answer goes in the rule/template context.
//!
//! Pure: no I/O, no clock. An id goes into a URL path only after [`is_valid_id`] accepted it.

use serde_json::Value;

use super::{Enrichment, LookupKind};
use crate::event::Event;

/// What an event needs, decided from the event alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    NotNeeded,
    Lookup {
        kind: LookupKind,
        id: String,
    },
    /// The event needs a lookup but its id is missing or unusable in a URL.
    Invalid(&'static str),
}

/// Decides from the event alone whether and what to look up. Pure.
pub fn plan(event: &Event) -> Plan {
    match event.kind.as_str() {
        "AUDIT_ASSIGNED" | "AUDIT_EXPIRED" | "AUDIT_DELETED" | "AUDIT_RESCHEDULED" => {
            id_plan(event, "auditId", LookupKind::Audit)
        }
        // Deleted: `correctiveAction` is null by nature and the API would answer 404.
        "CORRECTIVE_ACTION_DELETED" => Plan::NotNeeded,
        kind if kind.starts_with("CORRECTIVE_ACTION_") && lacks_action(event) => {
            id_plan(event, "correctiveActionId", LookupKind::CorrectiveAction)
        }
        _ => Plan::NotNeeded,
    }
}

fn lacks_action(event: &Event) -> bool {
    matches!(event.data.get("correctiveAction"), None | Some(Value::Null))
}

fn id_plan(event: &Event, field: &str, kind: LookupKind) -> Plan {
    match event.data.get(field) {
        None | Some(Value::Null) => Plan::Invalid("missing id"),
        Some(Value::String(id)) if is_valid_id(id) => Plan::Lookup {
            kind,
            id: id.clone(),
        },
        Some(_) => Plan::Invalid("invalid id"),
    }
}

/// A MonitorQA id as it may appear in a URL path: hex digits and dashes, 1 to 64 characters,
/// at least one digit.
pub fn is_valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
        && id.bytes().any(|b| b.is_ascii_hexdigit())
}

/// Puts the looked-up objects into an event's context (`Event::to_value()`): `audit` and
/// `action` at the top level. A key that is already there is left alone, and a context that
/// is not an object is not touched.
pub fn apply(enrichment: &Enrichment, context: &mut Value) {
    let Value::Object(map) = context else {
        return;
    };
    for (key, value) in [("audit", &enrichment.audit), ("action", &enrichment.action)] {
        if let Some(value) = value {
            map.entry(key).or_insert_with(|| value.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::enrich::LookupOutcome;
    use serde_json::json;

    fn event(kind: &str, data: Value) -> Event {
        Event::from_value(json!({"event": kind, "data": data, "company": {}})).unwrap()
    }

    const ID: &str = "a3c1e7d2-4b5f-4e8a-9c0d-1f2e3d4c5b6a";

    #[test]
    fn id_only_audit_events_are_looked_up_by_audit_id() {
        for kind in [
            "AUDIT_ASSIGNED",
            "AUDIT_EXPIRED",
            "AUDIT_DELETED",
            "AUDIT_RESCHEDULED",
        ] {
            let plan = plan(&event(kind, json!({"auditId": ID})));
            let expected = Plan::Lookup {
                kind: LookupKind::Audit,
                id: ID.into(),
            };
            assert_eq!(plan, expected, "{kind}");
        }
    }

    #[test]
    fn events_that_carry_their_details_need_nothing() {
        let cases = [
            event("AUDIT_COMPLETED", json!({"auditId": ID, "score": 1})),
            event(
                "CORRECTIVE_ACTION_REJECTED",
                json!({"correctiveActionId": ID, "correctiveAction": {"id": ID}}),
            ),
            event(
                "CORRECTIVE_ACTION_DELETED",
                json!({"correctiveActionId": ID, "correctiveAction": null}),
            ),
            event("TEMPLATE_CREATED", json!({"id": ID, "name": "t"})),
            event("SOMETHING_NEW", json!({"auditId": ID})),
        ];
        for e in cases {
            assert_eq!(plan(&e), Plan::NotNeeded, "{}", e.kind);
        }
    }

    #[test]
    fn an_action_event_without_its_action_is_looked_up() {
        for data in [
            json!({"correctiveActionId": ID, "correctiveAction": null}),
            json!({"correctiveActionId": ID}),
        ] {
            let expected = Plan::Lookup {
                kind: LookupKind::CorrectiveAction,
                id: ID.into(),
            };
            assert_eq!(plan(&event("CORRECTIVE_ACTION_UPDATED", data)), expected);
        }
    }

    #[test]
    fn ids_that_could_change_the_url_are_refused() {
        for bad in [
            "../admin",
            "a1?x=1",
            "a1/b2",
            "",
            "----",
            "é1",
            &"a".repeat(65),
        ] {
            let e = event("AUDIT_EXPIRED", json!({ "auditId": bad }));
            assert_eq!(plan(&e), Plan::Invalid("invalid id"), "{bad:?}");
        }
        let e = event("AUDIT_EXPIRED", json!({"auditId": 12}));
        assert_eq!(plan(&e), Plan::Invalid("invalid id"));
        let e = event("AUDIT_EXPIRED", json!({}));
        assert_eq!(plan(&e), Plan::Invalid("missing id"));
    }

    #[test]
    fn apply_adds_keys_without_overwriting() {
        let enrichment = Enrichment {
            audit: Some(json!({"number": "AUD-1"})),
            action: Some(json!({"number": "CA-1"})),
            outcome: LookupOutcome::Found,
        };
        let mut context = json!({"event": "X", "data": {}, "company": {}, "action": "kept"});
        apply(&enrichment, &mut context);
        assert_eq!(context["audit"], json!({"number": "AUD-1"}));
        assert_eq!(context["action"], json!("kept"));
        let mut not_an_object = json!([1]);
        apply(&enrichment, &mut not_an_object);
        assert_eq!(not_an_object, json!([1]));
    }
}
