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

/// One webhook event as MonitorQA sent it. Unknown event types are valid. (`Default` is an
/// empty placeholder, left behind where an event was moved out.)
#[derive(Debug, Clone, Default, PartialEq)]
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

    /// The object the event is about, as `<kind>:<id>`: `corrective-action:` and the
    /// `correctiveActionId`, `audit:` and the `auditId`, `template:` and the `id`, when that
    /// is a string. The store keeps it with the event, so the events of one object can be
    /// found again.
    pub fn object_key(&self) -> Option<String> {
        if !self.kind.starts_with("TEMPLATE_") {
            return crate::conversation::key(&self.kind, &self.data);
        }
        let id = self.data.get("id").and_then(Value::as_str)?;
        Some(format!("template:{id}"))
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
        let mut out = Vec::with_capacity(512);
        self.write_canonical(&mut out);
        canonical_string(out)
    }

    /// The dedup key: SHA-256 of the canonical JSON, hex. MonitorQA's events carry no id, so a
    /// retry of the same event is recognised by its content. Written from the event's own
    /// fields: no copy of the event is made.
    pub fn dedup_key(&self) -> String {
        let mut out = Vec::with_capacity(512);
        self.write_canonical(&mut out);
        hex::encode(Sha256::digest(&out))
    }

    /// Both [`Event::canonical_json`] and [`Event::dedup_key`], canonicalising once.
    pub fn canonical_json_and_dedup_key(&self) -> (String, String) {
        let mut out = Vec::with_capacity(512);
        self.write_canonical(&mut out);
        let key = hex::encode(Sha256::digest(&out));
        (canonical_string(out), key)
    }

    /// The canonical form of [`Event::to_value`], from borrowed fields.
    fn write_canonical(&self, out: &mut Vec<u8>) {
        let mut top: Vec<(&str, Top<'_>)> = Vec::with_capacity(3 + self.extra.len());
        top.push(("event", Top::Kind(&self.kind)));
        top.push(("data", Top::Object(&self.data)));
        top.push(("company", Top::Object(&self.company)));
        for (k, v) in &self.extra {
            // As in `to_value`, an extra field of the same name replaces the envelope's.
            match top.iter_mut().find(|(name, _)| *name == k.as_str()) {
                Some(slot) => slot.1 = Top::Value(v),
                None => top.push((k, Top::Value(v))),
            }
        }
        top.sort_unstable_by(|a, b| a.0.cmp(b.0));
        out.push(b'{');
        for (i, (k, v)) in top.into_iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_string(k, out);
            out.push(b':');
            match v {
                Top::Kind(s) => write_string(s, out),
                Top::Object(m) => write_object(m, out),
                Top::Value(v) => write_canonical(v, out),
            }
        }
        out.push(b'}');
    }
}

/// A top-level field of the envelope, borrowed.
enum Top<'a> {
    Kind(&'a str),
    Object(&'a Map<String, Value>),
    Value(&'a Value),
}

/// The canonical bytes are JSON written by serde_json from strings: always UTF-8.
fn canonical_string(out: Vec<u8>) -> String {
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
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

fn write_canonical(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Object(m) => write_object(m, out),
        Value::Array(a) => {
            out.push(b'[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(x, out);
            }
            out.push(b']');
        }
        Value::String(s) => write_string(s, out),
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        // Exactly as serde_json writes a number (what `Value::to_string` does).
        Value::Number(n) => {
            let _ = serde_json::to_writer(&mut *out, n);
        }
    }
}

fn write_object(m: &Map<String, Value>, out: &mut Vec<u8>) {
    let mut entries: Vec<(&String, &Value)> = m.iter().collect();
    entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
    out.push(b'{');
    for (i, (k, v)) in entries.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_string(k, out);
        out.push(b':');
        write_canonical(v, out);
    }
    out.push(b'}');
}

/// A JSON string literal, escaped exactly as serde_json escapes it.
fn write_string(s: &str, out: &mut Vec<u8>) {
    // Writing into a Vec cannot fail, and a str always serialises.
    let _ = serde_json::to_writer(&mut *out, s);
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
    fn canonical_json_sorts_every_level_and_keeps_json_escapes() {
        let e = parse(
            r#"{"zeta":true,"event":"X","data":{"b":1.5,"a":"q\"\u00e9\n","c":[{"y":null,"x":-2}]},"company":{"name":"N"}}"#,
        )
        .unwrap();
        let expected = r#"{"company":{"name":"N"},"data":{"a":"q\"é\n","b":1.5,"c":[{"x":-2,"y":null}]},"event":"X","zeta":true}"#;
        assert_eq!(e.canonical_json(), expected);
        let (body, key) = e.canonical_json_and_dedup_key();
        assert_eq!(body, expected);
        assert_eq!(key, e.dedup_key());
        assert_eq!(key, hex::encode(Sha256::digest(expected.as_bytes())));
    }

    /// Numbers a double cannot hold: too small, too large, too precise, and spellings a
    /// double would normalise (`1.0`, `-0`).
    const NUMBERS: &str = r#"{"event":"X","data":{"tiny":1e-400,"big":18446744073709551617,"tenth":0.1,"one":1.0,"zero":-0,"pi":3.14159265358979323846264338327950288}}"#;

    #[test]
    fn canonical_json_keeps_every_number_as_it_was_written() {
        let canonical = parse(NUMBERS).unwrap().canonical_json();
        for number in [
            r#""tiny":1e-400"#,
            r#""big":18446744073709551617"#,
            r#""tenth":0.1"#,
            r#""one":1.0"#,
            r#""zero":-0"#,
            r#""pi":3.14159265358979323846264338327950288"#,
        ] {
            assert!(canonical.contains(number), "{number} in {canonical}");
        }
        // What the store keeps reads back as the same event.
        assert_eq!(parse(&canonical).unwrap().canonical_json(), canonical);
    }

    #[test]
    fn dedup_key_tells_apart_numbers_a_double_would_merge() {
        let key = |n: &str| parse(&format!(r#"{{"event":"X","data":{{"n":{n}}}}}"#)).unwrap();
        assert_ne!(
            key("18446744073709551616").dedup_key(),
            key("18446744073709551617").dedup_key()
        );
        assert_ne!(key("1e-400").dedup_key(), key("0.0").dedup_key());
    }

    /// Keys sorted by rebuilding every object in key order, then serde_json's own writer.
    fn sorted(v: &Value) -> Value {
        match v {
            Value::Object(m) => {
                let mut entries: Vec<_> = m.iter().collect();
                entries.sort_by(|a, b| a.0.cmp(b.0));
                Value::Object(
                    entries
                        .into_iter()
                        .map(|(k, v)| (k.clone(), sorted(v)))
                        .collect(),
                )
            }
            Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }

    #[test]
    fn canonical_json_of_every_sample_is_the_sorted_serde_json_form() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/events");
        for entry in std::fs::read_dir(dir).unwrap() {
            let e = Event::parse(&std::fs::read(entry.unwrap().path()).unwrap()).unwrap();
            assert_eq!(e.canonical_json(), sorted(&e.to_value()).to_string());
        }
    }

    #[test]
    fn to_value_round_trips() {
        let body = include_str!("../examples/events/audit_completed.json");
        let e = parse(body).unwrap();
        assert_eq!(Event::from_value(e.to_value()).unwrap(), e);
    }
}

/// Properties of the envelope and the dedup key, on generated JSON (see [`crate::properties`]).
#[cfg(test)]
mod properties {
    use proptest::prelude::*;
    use serde_json::{Map, Value};

    use super::*;

    /// Any JSON value, a few levels deep, with keys that often collide with the envelope's.
    fn json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Value::from),
            ".{0,12}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::vec((key(), inner), 0..6)
                    .prop_map(|pairs| Value::Object(pairs.into_iter().collect())),
            ]
        })
    }

    fn key() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("event".to_string()),
            Just("data".to_string()),
            Just("company".to_string()),
            "[a-z]{1,6}",
            ".{0,6}",
        ]
    }

    /// An envelope-like object: each of the three fields present or not, of any type.
    fn envelope() -> impl Strategy<Value = Value> {
        (
            prop::option::of(prop_oneof![json(), ".{0,20}".prop_map(Value::String)]),
            prop::option::of(prop_oneof![json(), object()]),
            prop::option::of(prop_oneof![json(), object()]),
            prop::collection::vec(("[a-z]{1,6}", json()), 0..3),
        )
            .prop_map(|(event, data, company, extra)| {
                let mut obj = Map::new();
                for (name, value) in [("event", event), ("data", data), ("company", company)] {
                    if let Some(value) = value {
                        obj.insert(name.into(), value);
                    }
                }
                for (k, v) in extra {
                    obj.entry(k).or_insert(v);
                }
                Value::Object(obj)
            })
    }

    /// An envelope MonitorQA could send: a named event with `data` and `company` objects.
    fn valid_envelope() -> impl Strategy<Value = Value> {
        (
            "[A-Z_]{1,24}",
            object(),
            object(),
            prop::collection::vec(("[a-z]{1,6}", json()), 0..3),
        )
            .prop_map(|(event, data, company, extra)| {
                let mut obj = Map::new();
                obj.insert("event".into(), Value::String(event));
                obj.insert("data".into(), data);
                obj.insert("company".into(), company);
                for (k, v) in extra {
                    obj.entry(k).or_insert(v);
                }
                Value::Object(obj)
            })
    }

    fn object() -> impl Strategy<Value = Value> {
        prop::collection::vec((key(), json()), 0..6)
            .prop_map(|pairs| Value::Object(pairs.into_iter().collect()))
    }

    /// The envelope rules, written out plainly: an object whose `event` is a non-blank string
    /// and whose `data` and `company`, when present, are objects.
    fn acceptable(value: &Value) -> bool {
        let Value::Object(obj) = value else {
            return false;
        };
        let event_ok = matches!(obj.get("event"), Some(Value::String(s)) if !s.trim().is_empty());
        let object_or_absent = |k: &str| matches!(obj.get(k), None | Some(Value::Object(_)));
        event_ok && object_or_absent("data") && object_or_absent("company")
    }

    /// `value` with every object's keys in reverse order.
    fn reversed(value: &Value) -> Value {
        match value {
            Value::Object(m) => Value::Object(
                m.iter()
                    .rev()
                    .map(|(k, v)| (k.clone(), reversed(v)))
                    .collect(),
            ),
            Value::Array(a) => Value::Array(a.iter().map(reversed).collect()),
            other => other.clone(),
        }
    }

    /// Every path to a leaf of `value`, as a list of object keys and array indexes.
    fn leaves(value: &Value, path: &mut Vec<Value>, out: &mut Vec<Vec<Value>>) {
        match value {
            Value::Object(m) if !m.is_empty() => {
                for (k, v) in m {
                    path.push(Value::String(k.clone()));
                    leaves(v, path, out);
                    path.pop();
                }
            }
            Value::Array(a) if !a.is_empty() => {
                for (i, v) in a.iter().enumerate() {
                    path.push(Value::from(i));
                    leaves(v, path, out);
                    path.pop();
                }
            }
            _ => out.push(path.clone()),
        }
    }

    fn leaf_mut<'a>(value: &'a mut Value, path: &[Value]) -> &'a mut Value {
        path.iter().fold(value, |v, step| match step {
            Value::String(k) => &mut v[k.as_str()],
            _ => &mut v[step.as_u64().unwrap_or(0) as usize],
        })
    }

    proptest! {
        #![proptest_config(crate::properties::config(400))]

        #[test]
        fn any_bytes_give_an_event_or_an_error(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
            let _ = Event::parse(&bytes);
        }

        #[test]
        fn any_json_gives_an_event_exactly_when_the_envelope_rules_hold(
            value in prop_oneof![json(), envelope()]
        ) {
            let body = serde_json::to_vec(&value).unwrap();
            match Event::parse(&body) {
                Ok(event) => {
                    prop_assert!(acceptable(&value), "accepted {value}");
                    // What is kept is the event as sent.
                    let mut sent = value.clone();
                    let obj = sent.as_object_mut().unwrap();
                    obj.entry("data").or_insert(Value::Object(Map::new()));
                    obj.entry("company").or_insert(Value::Object(Map::new()));
                    prop_assert_eq!(event.to_value(), sent);
                }
                Err(e) => {
                    prop_assert!(!acceptable(&value), "refused {value}: {e}");
                    prop_assert!(!e.to_string().is_empty());
                }
            }
        }

        #[test]
        fn the_dedup_key_ignores_key_order_and_spacing(value in valid_envelope()) {
            let compact = Event::parse(&serde_json::to_vec(&value).unwrap()).unwrap();
            let spaced = serde_json::to_vec_pretty(&reversed(&value)).unwrap();
            let other = Event::parse(&spaced).unwrap();
            prop_assert_eq!(compact.dedup_key(), other.dedup_key());
            prop_assert_eq!(compact.canonical_json(), other.canonical_json());
        }

        #[test]
        fn the_dedup_key_changes_with_any_value(
            value in valid_envelope(),
            pick in any::<prop::sample::Index>()
        ) {
            let key = Event::parse(&serde_json::to_vec(&value).unwrap()).unwrap().dedup_key();
            let mut paths = Vec::new();
            leaves(&value, &mut Vec::new(), &mut paths);
            let path = &paths[pick.index(paths.len())];
            let mut changed = value.clone();
            let leaf = leaf_mut(&mut changed, path);
            *leaf = match leaf {
                Value::String(s) if !s.is_empty() => Value::String(format!("{s}x")),
                Value::String(_) => Value::String("x".into()),
                Value::Null => Value::Bool(false),
                _ => Value::Null,
            };
            // Replacing an empty `data` or `company` object by `null` makes no event at all.
            prop_assume!(acceptable(&changed));
            let other = Event::parse(&serde_json::to_vec(&changed).unwrap()).unwrap();
            prop_assert_ne!(key, other.dedup_key(), "changed {:?}", path);
        }
    }
}
