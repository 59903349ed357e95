//! What changed since the relay's last event about the same object: for
//! `CORRECTIVE_ACTION_UPDATED` (the action changed, but not its status or assignees, and the
//! event does not say what) and `AUDIT_RESCHEDULED` (the dates the lookup shows), the fields
//! that differ, old → new, in words a person reads (due dates in the action's time zone,
//! priorities and statuses by name).
//!
//! The router computes it once, from the events the store keeps ([`crate::store::Store::earlier_events`]),
//! and stores it with the event beside what the MonitorQA lookup found, so every delivery and
//! every retry shows the same comparison. Templates read it as `changes`:
//!
//! - `changes.known`: whether an earlier event with the object's details was found; when not,
//!   `changes.reason` says why: `no_details` (this event carries none and no lookup found
//!   them) or `no_earlier_event` (none with details is stored);
//! - `changes.since`: that event's type (`CORRECTIVE_ACTION_ASSIGNED`) and `changes.at` when
//!   the relay received it;
//! - `changes.fields`: `[{label, old, new}]`, in a fixed order; empty when nothing the relay
//!   compares differs.
//!
//! Pure: no I/O, no clock.

use serde_json::{Map, Value, json};

use crate::template::{local_time, priority_words, status_words, value_text};

/// Earlier events the router reads to find one with the object's details.
pub const LOOK_BACK: usize = 8;

/// Whether an event of `kind` is compared with the earlier events of its object.
pub fn compared(kind: &str) -> bool {
    matches!(kind, "CORRECTIVE_ACTION_UPDATED" | "AUDIT_RESCHEDULED")
}

/// How a compared field is read and shown.
#[derive(Clone, Copy)]
enum Show {
    Text,
    /// A UTC time, in the object's zone.
    Time,
    Priority,
    Status,
    /// A list of `{name}` objects, joined.
    Names,
}

/// The fields compared for a corrective action: (label, path in its details, how shown).
const ACTION_FIELDS: &[(&str, &str, Show)] = &[
    ("Title", "name", Show::Text),
    ("Description", "description", Show::Text),
    ("Due", "dueDateUtc", Show::Time),
    ("Priority", "priority", Show::Priority),
    ("Status", "status", Show::Status),
    ("Assigned to", "assignedUsers", Show::Names),
    ("Where", "auditObject.name", Show::Text),
    ("Question", "question", Show::Text),
    ("Tags", "tags", Show::Names),
];

/// The fields compared for an audit.
const AUDIT_FIELDS: &[(&str, &str, Show)] = &[
    ("Window opens", "startDate", Show::Time),
    ("Due", "endDate", Show::Time),
    ("Assigned to", "assignees", Show::Names),
    ("Where", "auditObject.name", Show::Text),
    ("Checklist", "template.name", Show::Text),
    ("Auditor note", "auditorHint", Show::Text),
];

/// One earlier event of the object: its context (event and enrichment), type and receipt time.
pub struct Earlier<'a> {
    pub context: &'a Value,
    pub received_at: i64,
}

/// The `changes` of an event (its context, enrichment included) against the earlier events
/// of its object, newest first; `None` for an event that is not [`compared`].
pub fn changes(context: &Value, earlier: &[Earlier<'_>]) -> Option<Value> {
    let kind = context.get("event").and_then(Value::as_str)?;
    if !compared(kind) {
        return None;
    }
    let fields = if kind.starts_with("AUDIT_") {
        AUDIT_FIELDS
    } else {
        ACTION_FIELDS
    };
    let unknown = |reason: &str| Some(json!({"known": false, "reason": reason, "fields": []}));
    let Some(now) = details(context) else {
        return unknown("no_details");
    };
    let Some((before, then)) = earlier
        .iter()
        .find_map(|e| details(e.context).map(|d| (d, e)))
    else {
        return unknown("no_earlier_event");
    };
    let zone = zone(now).or_else(|| zone(before));
    let changed: Vec<Value> = fields
        .iter()
        .filter_map(|(label, path, show)| {
            let old = shown(at(before, path), *show, zone);
            let new = shown(at(now, path), *show, zone);
            (old != new).then(|| json!({"label": label, "old": old, "new": new}))
        })
        .collect();
    Some(json!({
        "known": true,
        "since": then.context.get("event").cloned().unwrap_or(Value::Null),
        "at": crate::clock::rfc3339(then.received_at),
        "fields": changed,
    }))
}

/// Whether the comparison of the event of `context` reads earlier events at all: it is
/// compared, and carries its object's details (or the lookup found them); without them it is
/// `no_details` whatever came before.
pub fn needs_earlier(context: &Value) -> bool {
    let kind = context.get("event").and_then(Value::as_str);
    kind.is_some_and(compared) && details(context).is_some()
}

/// Whether an earlier event's context carries its object's details (the comparison is with the
/// newest that does).
pub fn has_details(context: &Value) -> bool {
    details(context).is_some()
}

/// The object's details in a context: a corrective action's (`data.correctiveAction`, or
/// what the lookup found as `action`) or an audit's (the lookup's `audit`, or the details an
/// AUDIT_COMPLETED carries in `data`).
fn details(context: &Value) -> Option<&Map<String, Value>> {
    let kind = context.get("event")?.as_str()?;
    let data = context.get("data");
    let candidates = if kind.starts_with("CORRECTIVE_ACTION_") {
        [
            data.and_then(|d| d.get("correctiveAction")),
            context.get("action"),
        ]
    } else if kind == "AUDIT_COMPLETED" {
        [data, context.get("audit")]
    } else {
        [context.get("audit"), None]
    };
    candidates
        .into_iter()
        .flatten()
        .find_map(Value::as_object)
        .filter(|m| !m.is_empty())
}

/// The time zone the object's times are read in: a corrective action's audit's, an audit's own.
fn zone(details: &Map<String, Value>) -> Option<&str> {
    let zone = details
        .get("audit")
        .and_then(|a| a.get("ianaTimeZone"))
        .or_else(|| details.get("ianaTimeZone"))?;
    zone.as_str().filter(|z| !z.trim().is_empty())
}

fn at<'a>(details: &'a Map<String, Value>, path: &str) -> &'a Value {
    let mut parts = path.split('.');
    let first = parts.next().and_then(|k| details.get(k));
    parts
        .try_fold(first, |v, k| Some(v?.get(k)))
        .flatten()
        .unwrap_or(&Value::Null)
}

/// A value as a person reads it; "none" for nothing.
fn shown(value: &Value, show: Show, zone: Option<&str>) -> String {
    let text = match (value, show) {
        (Value::Null, _) => String::new(),
        (Value::String(s), Show::Time) => local_time(s, zone, None).unwrap_or_else(|_| s.clone()),
        (v, Show::Priority) => priority_words(v),
        (v, Show::Status) => status_words(v),
        (Value::Array(items), Show::Names) => items
            .iter()
            .map(|i| match i.get("name") {
                Some(Value::String(name)) => name.clone(),
                _ => value_text(i),
            })
            .collect::<Vec<_>>()
            .join(", "),
        (v, _) => value_text(v),
    };
    let text = text.trim();
    if text.is_empty() {
        "none".to_string()
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::sample_event;

    fn updated() -> Value {
        sample_event("CORRECTIVE_ACTION_UPDATED").expect("the sample")
    }

    #[test]
    fn only_a_compared_event_with_its_details_needs_earlier_events() {
        let with_details = updated();
        assert!(needs_earlier(&with_details));
        let mut id_only = updated();
        id_only["data"]
            .as_object_mut()
            .unwrap()
            .remove("correctiveAction");
        assert!(!needs_earlier(&id_only));
        assert_eq!(
            changes(&id_only, &[]).unwrap()["reason"],
            "no_details",
            "what it says without reading any"
        );
        let rescheduled = sample_event("AUDIT_RESCHEDULED").unwrap();
        assert!(
            !needs_earlier(&rescheduled),
            "an audit's details come from the lookup"
        );
        let assigned = sample_event("CORRECTIVE_ACTION_ASSIGNED").unwrap();
        assert!(!needs_earlier(&assigned), "not compared");
        assert!(has_details(&assigned));
    }

    /// The same action as it was when assigned: due on the 22nd, another description.
    fn assigned() -> Value {
        let mut event = updated();
        event["event"] = json!("CORRECTIVE_ACTION_ASSIGNED");
        let action = &mut event["data"]["correctiveAction"];
        action["dueDateUtc"] = json!("2026-11-22T23:59:59.000Z");
        action["description"] = json!("Call the refrigeration contractor");
        event
    }

    #[test]
    fn an_update_says_which_fields_changed_from_what_to_what() {
        let before = assigned();
        let earlier = [Earlier {
            context: &before,
            received_at: 1_763_800_000_000,
        }];
        let changes = changes(&updated(), &earlier).expect("compared");
        assert_eq!(changes["known"], true);
        assert_eq!(changes["since"], "CORRECTIVE_ACTION_ASSIGNED");
        assert_eq!(
            changes["fields"],
            json!([
                {"label": "Description", "old": "Call the refrigeration contractor",
                 "new": "Call the refrigeration contractor (ticket #5521) and move stock to the backup freezer"},
                // In the audit's zone (Europe/Lisbon).
                {"label": "Due", "old": "Sun 22 Nov 2026, 23:59 WET", "new": "Tue 24 Nov 2026, 23:59 WET"},
            ])
        );
    }

    #[test]
    fn an_update_with_nothing_earlier_says_so() {
        let none = changes(&updated(), &[]).expect("compared");
        assert_eq!(
            none,
            json!({"known": false, "reason": "no_earlier_event", "fields": []})
        );
        // An earlier event without details (an id-only one) is no comparison either.
        let mut id_only = assigned();
        id_only["data"]["correctiveAction"] = Value::Null;
        let earlier = [Earlier {
            context: &id_only,
            received_at: 1,
        }];
        assert_eq!(changes(&updated(), &earlier).unwrap()["known"], false);
        // ... but the details a lookup found for it are.
        id_only["action"] = assigned()["data"]["correctiveAction"].clone();
        let earlier = [Earlier {
            context: &id_only,
            received_at: 1,
        }];
        assert_eq!(changes(&updated(), &earlier).unwrap()["known"], true);
    }

    #[test]
    fn codes_and_names_are_compared_in_words() {
        let mut before = assigned();
        before["data"]["correctiveAction"]["priority"] = json!(0);
        before["data"]["correctiveAction"]["tags"] = json!([]);
        let earlier = [Earlier {
            context: &before,
            received_at: 1,
        }];
        let fields = changes(&updated(), &earlier).unwrap()["fields"].clone();
        assert!(
            fields
                .as_array()
                .unwrap()
                .contains(&json!({"label": "Priority", "old": "Low", "new": "High"}))
        );
        assert!(
            fields
                .as_array()
                .unwrap()
                .contains(&json!({"label": "Tags", "old": "none", "new": "Cold chain"}))
        );
    }

    #[test]
    fn a_rescheduled_audit_compares_the_dates_the_lookup_found() {
        let audit = |end: &str| {
            json!({"event": "AUDIT_RESCHEDULED", "data": {"auditId": "a-1"}, "company": {},
                   "audit": {"startDate": "2026-11-20T05:00:00Z", "endDate": end}})
        };
        let before = audit("2026-11-20T13:00:00Z");
        let earlier = [Earlier {
            context: &before,
            received_at: 1,
        }];
        let changes = changes(&audit("2026-11-27T13:00:00Z"), &earlier).unwrap();
        assert_eq!(
            changes["fields"],
            json!([{"label": "Due", "old": "Fri 20 Nov 2026, 13:00 UTC", "new": "Fri 27 Nov 2026, 13:00 UTC"}])
        );
        // Without the lookup there is nothing to compare.
        let bare = json!({"event": "AUDIT_RESCHEDULED", "data": {"auditId": "a-1"}, "company": {}});
        let unknown = super::changes(&bare, &earlier).unwrap();
        assert_eq!(
            (&unknown["known"], &unknown["reason"]),
            (&json!(false), &json!("no_details"))
        );
    }

    #[test]
    fn other_events_are_not_compared() {
        assert_eq!(changes(&assigned(), &[]), None);
    }
}
