//! The MonitorQA envelope `{event, data, company}`.
//!
//! Owns parsing (with an error that says exactly what is wrong), the dedup key that recognises a
//! MonitorQA retry of the same event, and the template/rule context. Knows nothing of rules,
//! HTTP or the store.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// The 15 event types MonitorQA documents. Others may appear at any time and are valid.
pub const EVENT_TYPES: [&str; 15] = [
    "AUDIT_ASSIGNED",
    "AUDIT_COMPLETED",
    "AUDIT_DELETED",
    "AUDIT_EXPIRED",
    "AUDIT_RESCHEDULED",
    "CORRECTIVE_ACTION_CREATED",
    "CORRECTIVE_ACTION_ASSIGNED",
    "CORRECTIVE_ACTION_SUBMITTED",
    "CORRECTIVE_ACTION_APPROVED",
    "CORRECTIVE_ACTION_REJECTED",
    "CORRECTIVE_ACTION_DELETED",
    "CORRECTIVE_ACTION_EXPIRED",
    "CORRECTIVE_ACTION_UPDATED",
    "TEMPLATE_CREATED",
    "TEMPLATE_DELETED",
];

/// One webhook event as MonitorQA sent it. Unknown event types are valid.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// The `event` field, e.g. `AUDIT_EXPIRED`.
    pub kind: String,
    /// The `data` object.
    pub data: Map<String, Value>,
    /// The `company` object (`id`, `name`).
    pub company: Map<String, Value>,
    /// Any other top-level fields MonitorQA may add later; kept so nothing is lost.
    pub extra: Map<String, Value>,
}

/// Why a body is not a MonitorQA event. Each variant maps to a 400 answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    #[error("the body is not valid JSON: {0}")]
    Malformed(String),
    #[error("the body must be a JSON object, got {0}")]
    NotAnObject(&'static str),
    #[error("`event` is missing")]
    EventMissing,
    #[error("`event` must be a string, got {0}")]
    EventNotString(&'static str),
    #[error("`event` must not be empty")]
    EventEmpty,
    #[error("`data` must be an object, got {0}")]
    DataNotObject(&'static str),
    #[error("`company` must be an object, got {0}")]
    CompanyNotObject(&'static str),
}

impl EnvelopeError {
    /// A stable machine-readable code for the JSON error answer and the rejection metric.
    pub fn code(&self) -> &'static str {
        match self {
            EnvelopeError::Malformed(_) => "malformed_json",
            EnvelopeError::NotAnObject(_) => "not_an_object",
            EnvelopeError::EventMissing | EnvelopeError::EventNotString(_) => "invalid_event",
            EnvelopeError::EventEmpty => "invalid_event",
            EnvelopeError::DataNotObject(_) => "invalid_data",
            EnvelopeError::CompanyNotObject(_) => "invalid_company",
        }
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl Event {
    /// Parses a request body. `data` and `company` may be absent (treated as empty objects:
    /// MonitorQA documents both, but an event without them can still be routed by type); when
    /// present they must be objects.
    pub fn parse(body: &[u8]) -> Result<Event, EnvelopeError> {
        let value: Value =
            serde_json::from_slice(body).map_err(|e| EnvelopeError::Malformed(e.to_string()))?;
        Event::from_value(value)
    }

    /// Builds an event from an already parsed JSON value (a stored row, a sample file).
    pub fn from_value(value: Value) -> Result<Event, EnvelopeError> {
        let Value::Object(mut obj) = value else {
            return Err(EnvelopeError::NotAnObject(type_name(&value)));
        };
        let kind = match obj.remove("event") {
            None => return Err(EnvelopeError::EventMissing),
            Some(Value::String(s)) if s.trim().is_empty() => return Err(EnvelopeError::EventEmpty),
            Some(Value::String(s)) => s,
            Some(other) => return Err(EnvelopeError::EventNotString(type_name(&other))),
        };
        let data = object_field(&mut obj, "data", EnvelopeError::DataNotObject)?;
        let company = object_field(&mut obj, "company", EnvelopeError::CompanyNotObject)?;
        Ok(Event {
            kind,
            data,
            company,
            extra: obj,
        })
    }

    /// `company.id`, if it is a string.
    pub fn company_id(&self) -> Option<&str> {
        self.company.get("id").and_then(Value::as_str)
    }

    /// `company.name`, if it is a string.
    pub fn company_name(&self) -> Option<&str> {
        self.company.get("name").and_then(Value::as_str)
    }

    /// The event as one JSON object, the shape rules' `where` paths and templates see:
    /// `{"event": …, "data": {…}, "company": {…}}`.
    pub fn to_value(&self) -> Value {
        let mut obj = Map::with_capacity(3 + self.extra.len());
        obj.insert("event".into(), Value::String(self.kind.clone()));
        obj.insert("data".into(), Value::Object(self.data.clone()));
        obj.insert("company".into(), Value::Object(self.company.clone()));
        for (k, v) in &self.extra {
            obj.insert(k.clone(), v.clone());
        }
        Value::Object(obj)
    }

    /// Canonical JSON: keys sorted at every level, no insignificant white space. Two bodies that
    /// differ only in key order or spacing have the same canonical form.
    pub fn canonical_json(&self) -> String {
        let mut out = String::new();
        write_canonical(&self.to_value(), &mut out);
        out
    }

    /// The dedup key: SHA-256 of the canonical JSON, hex. MonitorQA's events carry no id, so a
    /// retry of the same event is recognised by its content.
    pub fn dedup_key(&self) -> String {
        hex::encode(Sha256::digest(self.canonical_json().as_bytes()))
    }
}

fn object_field(
    obj: &mut Map<String, Value>,
    key: &str,
    err: fn(&'static str) -> EnvelopeError,
) -> Result<Map<String, Value>, EnvelopeError> {
    match obj.remove(key) {
        None => Ok(Map::new()),
        Some(Value::Object(m)) => Ok(m),
        Some(other) => Err(err(type_name(&other))),
    }
}

fn write_canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                write_canonical(&m[k], out);
            }
            out.push('}');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(x, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Event, EnvelopeError> {
        Event::parse(s.as_bytes())
    }

    #[test]
    fn parses_a_sample_event() {
        let body = include_str!("../examples/events/corrective_action_rejected.json");
        let e = parse(body).unwrap();
        assert_eq!(e.kind, "CORRECTIVE_ACTION_REJECTED");
        assert_eq!(e.company_name(), Some("Northwind Foods"));
        assert!(e.data.contains_key("correctiveAction"));
    }

    #[test]
    fn every_sample_event_parses() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/events");
        let mut n = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let body = std::fs::read(entry.unwrap().path()).unwrap();
            parse(std::str::from_utf8(&body).unwrap()).unwrap();
            n += 1;
        }
        assert_eq!(n, 15);
    }

    #[test]
    fn unknown_event_types_are_valid() {
        let e = parse(r#"{"event":"SOMETHING_NEW","data":{},"company":{}}"#).unwrap();
        assert_eq!(e.kind, "SOMETHING_NEW");
    }

    #[test]
    fn each_envelope_mistake_has_its_own_error() {
        assert!(matches!(parse("{"), Err(EnvelopeError::Malformed(_))));
        assert_eq!(parse("[1]"), Err(EnvelopeError::NotAnObject("an array")));
        assert_eq!(parse(r#"{"data":{}}"#), Err(EnvelopeError::EventMissing));
        assert_eq!(
            parse(r#"{"event":3}"#),
            Err(EnvelopeError::EventNotString("a number"))
        );
        assert_eq!(parse(r#"{"event":" "}"#), Err(EnvelopeError::EventEmpty));
        assert_eq!(
            parse(r#"{"event":"X","data":"d"}"#),
            Err(EnvelopeError::DataNotObject("a string"))
        );
        assert_eq!(
            parse(r#"{"event":"X","company":null}"#),
            Err(EnvelopeError::CompanyNotObject("null"))
        );
    }

    #[test]
    fn dedup_key_ignores_key_order_and_spacing() {
        let a = parse(r#"{"event":"X","data":{"a":1,"b":[1,2]},"company":{"id":"c"}}"#).unwrap();
        let b =
            parse(r#"{ "company":{"id":"c"}, "data":{"b":[1, 2],"a":1}, "event":"X" }"#).unwrap();
        assert_eq!(a.dedup_key(), b.dedup_key());
    }

    #[test]
    fn dedup_key_differs_when_content_differs() {
        let a = parse(r#"{"event":"X","data":{"a":1}}"#).unwrap();
        let b = parse(r#"{"event":"X","data":{"a":2}}"#).unwrap();
        assert_ne!(a.dedup_key(), b.dedup_key());
    }

    #[test]
    fn to_value_round_trips() {
        let body = include_str!("../examples/events/audit_completed.json");
        let e = parse(body).unwrap();
        assert_eq!(Event::from_value(e.to_value()).unwrap(), e);
    }
}
