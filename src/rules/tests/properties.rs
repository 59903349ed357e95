//! The compiled matcher against a small reference evaluator written here from the README's
//! semantics, on generated events and generated `where` trees (see [`crate::properties`]); and
//! the event-type index against a plain scan of every rule in file order.
//!
//! The reference: a path gives the values it reaches (none when it is missing; every element
//! for `[*]`); a positive operator holds when some value passes it; `ne`, `not_in` and
//! `exists: false` are the positive test negated over all values; no coercion (a string is
//! never a number; `2` equals `2.0`); numbers compare as numbers and strings in order;
//! `any_of` looks into an array value's elements, `contains` for a piece of a string or an
//! element of an array, and `regex` is the standard `regex` crate's answer.

use proptest::prelude::*;
use serde_json::{Map, Value, json};

use crate::rules::{Rule, RuleSet, RuleSpec};

/// The paths generated conditions use, over the shapes generated events have.
const PATHS: &[&str] = &[
    "data.a",
    "data.b",
    "data.list[*]",
    "data.obj.c",
    "data.missing",
];

/// A value an event may hold, and an operand may name.
fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-3i64..4).prop_map(Value::from),
        prop::sample::select(vec![2.0f64, 0.5, -1.5]).prop_map(Value::from),
        prop::sample::select(vec!["2", "x", "b", "", "2026-11-22T10:00:00Z"])
            .prop_map(|s| Value::String(s.to_string())),
    ]
}

/// An event with `data.a`, `data.b`, `data.list`, `data.obj.c` each present or not, of any
/// kind (a list where a scalar is expected, an object where a list is).
pub(crate) fn event() -> impl Strategy<Value = Value> {
    let field = prop::option::of(prop_oneof![
        4 => scalar(),
        1 => prop::collection::vec(scalar(), 0..4).prop_map(Value::Array),
    ]);
    let list = prop::option::of(prop_oneof![
        4 => prop::collection::vec(scalar(), 0..5).prop_map(Value::Array),
        1 => scalar(),
    ]);
    let obj = prop::option::of(prop_oneof![
        3 => prop::option::of(scalar()).prop_map(|c| {
            let mut m = Map::new();
            if let Some(c) = c {
                m.insert("c".into(), c);
            }
            Value::Object(m)
        }),
        1 => scalar(),
    ]);
    (
        prop::sample::select(vec!["AUDIT_EXPIRED", "CORRECTIVE_ACTION_REJECTED"]),
        field.clone(),
        field,
        list,
        obj,
    )
        .prop_map(|(kind, a, b, list, obj)| {
            let mut data = Map::new();
            for (k, v) in [("a", a), ("b", b), ("list", list), ("obj", obj)] {
                if let Some(v) = v {
                    data.insert(k.into(), v);
                }
            }
            json!({ "event": kind, "data": data, "company": { "name": "Northwind" } })
        })
}

/// One operator with a valid operand.
fn operator() -> impl Strategy<Value = (String, Value)> {
    // `in` and `not_in` take at least one value (`check` refuses an empty list).
    let list = prop::collection::vec(scalar(), 1..4).prop_map(Value::Array);
    let ordered = prop_oneof![
        (-3i64..4).prop_map(Value::from),
        Just(Value::from(0.5)),
        prop::sample::select(vec!["2", "b", "2026-11-22T10:00:00Z"])
            .prop_map(|s| Value::String(s.to_string())),
    ];
    prop_oneof![
        (prop::sample::select(vec!["eq", "ne"]), scalar()).prop_map(|(op, v)| (op.to_string(), v)),
        (prop::sample::select(vec!["in", "not_in"]), list).prop_map(|(op, v)| (op.to_string(), v)),
        (
            prop::sample::select(vec!["gt", "gte", "lt", "lte"]),
            ordered
        )
            .prop_map(|(op, v)| (op.to_string(), v)),
        any::<bool>().prop_map(|b| ("exists".to_string(), Value::Bool(b))),
        prop::collection::vec(scalar(), 1..4).prop_map(|l| ("any_of".to_string(), Value::Array(l))),
        scalar().prop_map(|v| ("contains".to_string(), v)),
        prop::sample::select(PATTERNS.to_vec())
            .prop_map(|p| ("regex".to_string(), Value::String(p.to_string()))),
    ]
}

/// The patterns generated `regex:` conditions use (against the strings `scalar` makes).
const PATTERNS: &[&str] = &["^2", "b", "(?i)X", "^$", "0", "^2026-11-2[0-9]T", "x|b"];

/// A condition on one path: a plain scalar (equality) or a map of one or two operators.
fn condition() -> impl Strategy<Value = Value> {
    prop_oneof![
        1 => scalar().prop_filter("a plain value, not a map", |v| !v.is_object()),
        3 => prop::collection::vec(operator(), 1..3)
            .prop_map(|ops| Value::Object(ops.into_iter().collect())),
    ]
}

/// A `where` map: conditions on paths, and sometimes `any:` and `not:` of smaller maps.
pub(crate) fn where_map(depth: u32) -> BoxedStrategy<Value> {
    // At least one condition: an empty map in `any:` or `not:` is refused by `check`.
    let leaves = prop::collection::vec((prop::sample::select(PATHS.to_vec()), condition()), 1..3);
    if depth == 0 {
        return leaves
            .prop_map(|pairs| Value::Object(to_map(pairs)))
            .boxed();
    }
    (
        leaves,
        prop::option::of(prop::collection::vec(where_map(depth - 1), 1..3)),
        prop::option::of(where_map(depth - 1)),
    )
        .prop_map(|(pairs, any, not)| {
            let mut m = to_map(pairs);
            if let Some(any) = any {
                m.insert("any".into(), Value::Array(any));
            }
            if let Some(not) = not {
                m.insert("not".into(), not);
            }
            Value::Object(m)
        })
        .boxed()
}

fn to_map(pairs: Vec<(&str, Value)>) -> Map<String, Value> {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

// ----- the reference -----

/// The values `path` reaches in `event`.
fn values<'a>(event: &'a Value, path: &str) -> Vec<&'a Value> {
    let data = &event["data"];
    match path {
        "data.list[*]" => match data.get("list") {
            Some(Value::Array(items)) => items.iter().collect(),
            _ => Vec::new(),
        },
        "data.obj.c" => data
            .get("obj")
            .and_then(|o| o.as_object())
            .and_then(|o| o.get("c"))
            .into_iter()
            .collect(),
        _ => {
            let key = path.trim_start_matches("data.");
            data.get(key).into_iter().collect()
        }
    }
}

fn equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| equal(a, b))
        }
        _ => a == b,
    }
}

fn order(a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64()?.partial_cmp(&y.as_f64()?),
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

fn operator_holds(op: &str, operand: &Value, vals: &[&Value]) -> bool {
    let some = |test: &dyn Fn(&Value) -> bool| vals.iter().any(|v| test(v));
    let in_list = |v: &Value| operand.as_array().unwrap().iter().any(|x| equal(v, x));
    let compare = |accept: fn(std::cmp::Ordering) -> bool| {
        some(&|v: &Value| order(v, operand).is_some_and(accept))
    };
    match op {
        "eq" => some(&|v| equal(v, operand)),
        "ne" => !some(&|v| equal(v, operand)),
        "in" => some(&in_list),
        "not_in" => !some(&in_list),
        "gt" => compare(|o| o.is_gt()),
        "gte" => compare(|o| o.is_ge()),
        "lt" => compare(|o| o.is_lt()),
        "lte" => compare(|o| o.is_le()),
        "exists" => {
            let reached = !vals.is_empty();
            operand.as_bool().unwrap() == reached
        }
        // An array value: some element in the list; any other value: itself in the list.
        "any_of" => some(&|v| match v {
            Value::Array(items) => items.iter().any(in_list),
            other => in_list(other),
        }),
        // A string holds the operand as a piece; an array holds it as an element.
        "contains" => some(&|v| match (v, operand) {
            (Value::String(s), Value::String(piece)) => s.contains(piece.as_str()),
            (Value::Array(items), x) => items.iter().any(|i| equal(i, x)),
            _ => false,
        }),
        // The standard `regex` crate as the reference for the relay's own compiled automata.
        "regex" => {
            let re = regex::Regex::new(operand.as_str().unwrap()).unwrap();
            some(&|v| v.as_str().is_some_and(|s| re.is_match(s)))
        }
        other => panic!("the reference does not know {other}"),
    }
}

fn condition_holds(condition: &Value, vals: &[&Value]) -> bool {
    match condition {
        Value::Object(ops) => ops
            .iter()
            .all(|(op, operand)| operator_holds(op, operand, vals)),
        plain => operator_holds("eq", plain, vals),
    }
}

fn where_holds(map: &Value, event: &Value) -> bool {
    map.as_object()
        .unwrap()
        .iter()
        .all(|(key, cond)| match key.as_str() {
            "any" => cond
                .as_array()
                .unwrap()
                .iter()
                .any(|m| where_holds(m, event)),
            "not" => !where_holds(cond, event),
            path => condition_holds(cond, &values(event, path)),
        })
}

fn rule(name: &str, events: Vec<String>, where_: Value, stop: bool) -> Rule {
    let spec = RuleSpec {
        name: name.to_string(),
        events,
        where_: Some(where_),
        notify: vec!["t".into()],
        stop,
        ..RuleSpec::default()
    };
    match Rule::compile(spec) {
        Ok(rule) => rule,
        Err(errors) => panic!("a generated rule does not compile: {errors:?}"),
    }
}

fn events_spec() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(
        prop::sample::select(vec![
            "AUDIT_EXPIRED",
            "CORRECTIVE_ACTION_REJECTED",
            "TEMPLATE_CREATED",
            "AUDIT_*",
            "CORRECTIVE_ACTION_?EJECTED",
            "*",
            "*_EXPIRED",
        ])
        .prop_map(str::to_string),
        1..3,
    )
}

proptest! {
    #![proptest_config(crate::properties::config(500))]

    #[test]
    fn the_compiled_matcher_agrees_with_the_reference(where_ in where_map(2), event in event()) {
        let compiled = rule("r", vec!["*".into()], where_.clone(), false);
        prop_assert_eq!(
            compiled.matches(&event),
            where_holds(&where_, &event),
            "where {} on {}",
            where_,
            event
        );
    }

    #[test]
    fn the_event_type_index_never_changes_a_result(
        rules in prop::collection::vec((events_spec(), where_map(1), prop::bool::weighted(0.2)), 1..12),
        event in event(),
    ) {
        let rules: Vec<Rule> = rules
            .into_iter()
            .enumerate()
            .map(|(i, (events, where_, stop))| rule(&format!("r{i}"), events, where_, stop))
            .collect();
        // The plain scan: every rule in file order, up to the first matching one that stops.
        let mut scanned = Vec::new();
        for r in &rules {
            if r.matches(&event) {
                scanned.push(r.name.clone());
                if r.stop {
                    break;
                }
            }
        }
        let set = RuleSet::new(rules);
        let indexed: Vec<String> = set.evaluate(&event).iter().map(|m| m.rule.to_string()).collect();
        prop_assert_eq!(&indexed, &scanned);
        // What `explain` leaves out is exactly what matched.
        let explained: Vec<String> = set.explain(&event).into_iter().map(|e| e.rule).collect();
        let unexplained: Vec<String> = set
            .rules()
            .iter()
            .map(|r| r.name.clone())
            .filter(|n| !explained.contains(n))
            .collect();
        prop_assert_eq!(unexplained, scanned);
    }
}
