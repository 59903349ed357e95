//! Compile errors: every problem of a rule at once, each at the exact path of its key.

use serde_json::{Value, json};

use super::{compile_errors, spec};
use crate::rules::{RuleError, RuleSpec};

fn where_errors(where_: Value) -> Vec<RuleError> {
    compile_errors(spec("r", &["*"], where_))
}

/// The single error of a rule with this `where`.
fn one_error(where_: Value) -> RuleError {
    let mut errors = where_errors(where_);
    assert_eq!(errors.len(), 1, "{errors:?}");
    errors.remove(0)
}

fn path(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|p| (*p).to_owned()).collect()
}

#[test]
fn a_bad_regex_is_reported_with_the_regex_crates_message() {
    let e = one_error(json!({"data.x": {"regex": "(unclosed"}}));
    assert_eq!(e.path, path(&["where", "data.x", "regex"]));
    assert!(e.message.starts_with("invalid regex: "), "{}", e.message);
    assert!(e.message.contains("unclosed group"), "{}", e.message);
}

#[test]
fn a_long_bad_regex_is_not_quoted_in_full() {
    let pattern = format!("({}", "a".repeat(300));
    let e = one_error(json!({"data.x": {"regex": pattern}}));
    assert_eq!(e.message, "invalid regex: error: unclosed group");
}

#[test]
fn an_empty_events_list_is_an_error() {
    let errors = compile_errors(spec("r", &[], Value::Null));
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].path, path(&["events"]));
}

#[test]
fn bad_event_patterns_are_reported_by_position() {
    let errors = compile_errors(spec(
        "r",
        &["AUDIT_EXPIRED", "CA_[AB]", "", "A B", "{X,Y}"],
        Value::Null,
    ));
    let paths: Vec<Vec<String>> = errors.iter().map(|e| e.path.clone()).collect();
    assert_eq!(
        paths,
        vec![
            path(&["events", "1"]),
            path(&["events", "2"]),
            path(&["events", "3"]),
            path(&["events", "4"])
        ]
    );
    assert!(
        errors[0].message.contains("`[` is not supported"),
        "{}",
        errors[0].message
    );
}

#[test]
fn an_empty_company_entry_is_an_error() {
    let spec = RuleSpec {
        company: vec!["Northwind Foods".into(), " ".into()],
        ..spec("r", &["*"], Value::Null)
    };
    let errors = compile_errors(spec);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].path, path(&["company", "1"]));
}

#[test]
fn comparisons_take_only_a_number_or_a_string() {
    for (operand, kind) in [
        (json!(true), "a boolean"),
        (json!([1]), "a list"),
        (json!({"a": 1}), "a map"),
        (json!(null), "null"),
    ] {
        let e = one_error(json!({"data.x": {"gt": operand}}));
        assert_eq!(e.path, path(&["where", "data.x", "gt"]));
        assert_eq!(
            e.message,
            format!("operator gt takes a number or a string, got {kind}")
        );
    }
}

#[test]
fn each_operator_checks_the_type_of_its_operand() {
    let cases = [
        (
            json!({"eq": [1]}),
            "eq",
            "operator eq takes a single value (a string, number, boolean or null), got a list",
        ),
        (
            json!({"ne": {"a": 1}}),
            "ne",
            "operator ne takes a single value (a string, number, boolean or null), got a map",
        ),
        (
            json!({"in": "open"}),
            "in",
            "operator in takes a list of values, got a string",
        ),
        (
            json!({"not_in": []}),
            "not_in",
            "operator not_in takes a list of at least one value",
        ),
        (
            json!({"any_of": 3}),
            "any_of",
            "operator any_of takes a list of values, got a number",
        ),
        (
            json!({"regex": 5}),
            "regex",
            "operator regex takes a string, got a number",
        ),
        (
            json!({"exists": "yes"}),
            "exists",
            "operator exists takes true or false, got a string",
        ),
        (
            json!({"contains": ["a"]}),
            "contains",
            "operator contains takes a single value (a string, number, boolean or null), got a list",
        ),
    ];
    for (ops, op, message) in cases {
        let e = one_error(json!({"data.x": ops}));
        assert_eq!(e.path, path(&["where", "data.x", op]));
        assert_eq!(e.message, message);
    }
}

#[test]
fn a_bad_list_element_is_reported_at_its_index() {
    let e = one_error(json!({"data.x": {"in": [1, "two", [3]]}}));
    assert_eq!(e.path, path(&["where", "data.x", "in", "2"]));
    assert_eq!(
        e.message,
        "the values of in must be strings, numbers, booleans or null, got a list"
    );
}

#[test]
fn an_unknown_operator_lists_the_known_ones() {
    let e = one_error(json!({"data.correctiveAction.priority": {"gte": 1, "greater": 2}}));
    assert_eq!(
        e.path,
        path(&["where", "data.correctiveAction.priority", "greater"])
    );
    assert_eq!(
        e.message,
        "unknown operator `greater`; known operators: eq, ne, in, not_in, any_of, regex, exists, \
         gt, gte, lt, lte, contains"
    );
}

#[test]
fn an_empty_operator_map_is_an_error() {
    let e = one_error(json!({"data.x": {}}));
    assert_eq!(e.path, path(&["where", "data.x"]));
    assert!(e.message.starts_with("no operator given"), "{}", e.message);
}

#[test]
fn a_list_without_an_operator_suggests_in_or_any_of() {
    let e = one_error(json!({"data.x": ["a", "b"]}));
    assert_eq!(e.path, path(&["where", "data.x"]));
    assert!(
        e.message.contains("`in: [...]`") && e.message.contains("`any_of: [...]`"),
        "{}",
        e.message
    );
}

#[test]
fn a_bad_path_is_reported_at_its_key() {
    for bad in ["data..x", "data.x[", "data.x[one]", "data.]", ".data"] {
        let e = one_error(json!({bad: 1}));
        assert_eq!(e.path, path(&["where", bad]));
        assert!(e.message.starts_with("invalid path: "), "{}", e.message);
    }
}

#[test]
fn a_bad_path_and_its_bad_operator_are_both_reported() {
    let errors = where_errors(json!({"data..x": {"gt": true}}));
    let paths: Vec<Vec<String>> = errors.into_iter().map(|e| e.path).collect();
    assert_eq!(
        paths,
        vec![
            path(&["where", "data..x"]),
            path(&["where", "data..x", "gt"])
        ]
    );
}

#[test]
fn any_must_be_a_non_empty_list_of_non_empty_maps() {
    assert_eq!(one_error(json!({"any": []})).path, path(&["where", "any"]));
    assert_eq!(
        one_error(json!({"any": {"data.x": 1}})).path,
        path(&["where", "any"])
    );
    assert_eq!(
        one_error(json!({"any": [{"data.x": 1}, {}]})).path,
        path(&["where", "any", "1"])
    );
    assert_eq!(
        one_error(json!({"any": [{"data.x": 1}, "x"]})).path,
        path(&["where", "any", "1"])
    );
}

#[test]
fn errors_inside_any_and_not_carry_the_full_path() {
    let e = one_error(json!({"any": [{"data.x": {"regex": "["}}]}));
    assert_eq!(e.path, path(&["where", "any", "0", "data.x", "regex"]));
    let e = one_error(json!({"not": {"company.name": ["Acme"]}}));
    assert_eq!(e.path, path(&["where", "not", "company.name"]));
    let e = one_error(json!({"not": {"any": [{"data.y": {"lte": false}}]}}));
    assert_eq!(e.path, path(&["where", "not", "any", "0", "data.y", "lte"]));
}

#[test]
fn not_must_be_a_non_empty_map() {
    assert_eq!(one_error(json!({"not": {}})).path, path(&["where", "not"]));
    assert_eq!(
        one_error(json!({"not": [{"data.x": 1}]})).path,
        path(&["where", "not"])
    );
}

#[test]
fn where_must_be_a_map() {
    let e = one_error(json!(["data.x"]));
    assert_eq!(e.path, path(&["where"]));
    assert_eq!(
        e.message,
        "where takes a map of paths to conditions, got a list"
    );
}

#[test]
fn every_problem_of_a_rule_is_reported_at_once_in_key_order() {
    let spec = RuleSpec {
        company: vec![String::new()],
        ..spec(
            "r",
            &["A[", "B"],
            json!({"data.a": {"regex": "("}, "data.b": [1], "any": [], "data.c": {"gt": true}}),
        )
    };
    let paths: Vec<Vec<String>> = compile_errors(spec).into_iter().map(|e| e.path).collect();
    assert_eq!(
        paths,
        vec![
            path(&["events", "0"]),
            path(&["company", "0"]),
            path(&["where", "data.a", "regex"]),
            path(&["where", "data.b"]),
            path(&["where", "any"]),
            path(&["where", "data.c", "gt"]),
        ]
    );
}

#[test]
fn messages_quote_only_a_short_excerpt_of_long_values() {
    let long = "X".repeat(500);
    let e = one_error(json!({"data.x": {long.clone(): 1}}));
    assert!(e.message.len() < 250, "{}", e.message);
    let errors = compile_errors(spec("r", &[&format!("{long} ")], Value::Null));
    assert!(errors[0].message.len() < 150, "{}", errors[0].message);
}

#[test]
fn a_null_or_empty_where_always_holds() {
    use super::{compile, event};
    use crate::rules::RuleSet;
    for where_ in [Value::Null, json!({})] {
        let spec = RuleSpec {
            where_: Some(where_),
            ..spec("r", &["*"], Value::Null)
        };
        let set = RuleSet::new(vec![compile(spec)]);
        assert_eq!(set.evaluate(&event(json!({}))).len(), 1);
    }
}
