//! `explain`: the first failing condition of every rule that did not match, in words.

use serde_json::{Value, json};

use super::{compile, event, reason, sample, spec};
use crate::rules::{Explanation, RuleSet, RuleSpec};

fn rejected() -> Value {
    sample("corrective_action_rejected")
}

fn on_rejected(where_: Value) -> String {
    reason(spec("r", &["*"], where_), &rejected())
}

#[test]
fn a_wrong_event_type_names_the_wanted_ones() {
    let why = reason(
        spec("r", &["CORRECTIVE_ACTION_REJECTED"], Value::Null),
        &sample("audit_expired"),
    );
    assert_eq!(
        why,
        "event type AUDIT_EXPIRED is not one of CORRECTIVE_ACTION_REJECTED"
    );
    let why = reason(
        spec("r", &["TEMPLATE_*", "AUDIT_COMPLETED"], Value::Null),
        &sample("audit_expired"),
    );
    assert_eq!(
        why,
        "event type AUDIT_EXPIRED is not one of TEMPLATE_*, AUDIT_COMPLETED"
    );
}

#[test]
fn a_wrong_company_shows_its_name_and_id() {
    let rule = RuleSpec {
        company: vec!["Acme".into()],
        ..spec("r", &["*"], Value::Null)
    };
    assert_eq!(
        reason(rule, &rejected()),
        "company Northwind Foods (5f0c2a8e-9b1d-4c3e-8a7f-1d2e3f4a5b6c) is not one of Acme"
    );
}

#[test]
fn a_failed_comparison_shows_the_value_and_what_was_needed() {
    let mut e = rejected();
    e["data"]["correctiveAction"]["priority"] = json!(1);
    let rule = spec(
        "r",
        &["*"],
        json!({"data.correctiveAction.priority": {"gte": 2}}),
    );
    assert_eq!(
        reason(rule, &e),
        "data.correctiveAction.priority is 1, needs gte 2"
    );
}

#[test]
fn a_wildcard_path_with_no_fitting_element_lists_the_elements() {
    assert_eq!(
        on_rejected(json!({"data.correctiveAction.tags[*].name": {"in": ["Fire safety"]}})),
        "data.correctiveAction.tags[*].name has no element in [Fire safety] (elements: Cold chain)"
    );
    assert_eq!(
        on_rejected(json!({"data.correctiveAction.information.photosIds[*]": {"exists": true}})),
        "data.correctiveAction.information.photosIds[*] has no elements"
    );
}

#[test]
fn a_negative_operator_on_a_wildcard_path_names_the_offending_element() {
    assert_eq!(
        on_rejected(
            json!({"data.correctiveAction.tags[*].name": {"not_in": ["Cold chain", "Pests"]}})
        ),
        "data.correctiveAction.tags[*].name has an element Cold chain, needs not_in [Cold chain, Pests]"
    );
}

#[test]
fn a_missing_path_says_so() {
    assert_eq!(
        on_rejected(json!({"data.x": {"gte": 2}})),
        "data.x is missing"
    );
    assert_eq!(
        on_rejected(json!({"audit.template.name": "Daily"})),
        "audit.template.name is missing"
    );
}

#[test]
fn strings_that_read_as_another_type_are_quoted() {
    let e = event(json!({"n": "2", "t": "true", "empty": "", "word": "open", "nothing": null}));
    let why = |w| reason(spec("r", &["*"], w), &e);
    assert_eq!(
        why(json!({"data.n": {"gte": 2}})),
        r#"data.n is "2", needs gte 2"#
    );
    assert_eq!(
        why(json!({"data.t": true})),
        r#"data.t is "true", needs eq true"#
    );
    assert_eq!(
        why(json!({"data.empty": {"regex": "."}})),
        r#"data.empty is "", needs regex ."#
    );
    assert_eq!(
        why(json!({"data.word": {"in": ["closed", "2"]}})),
        r#"data.word is open, needs in [closed, "2"]"#
    );
    assert_eq!(
        why(json!({"data.nothing": {"exists": false}})),
        "data.nothing is null, needs exists false"
    );
}

#[test]
fn long_values_are_cut_short() {
    let e = event(json!({"text": "x".repeat(500)}));
    let why = reason(spec("r", &["*"], json!({"data.text": "y"})), &e);
    assert!(why.chars().count() < 100, "{why}");
    assert!(why.contains('…'), "{why}");
}

#[test]
fn the_first_failing_condition_in_file_order_is_reported() {
    let why = on_rejected(json!({
        "data.correctiveAction.priority": {"gte": 1, "lte": 1},
        "data.correctiveAction.name": {"regex": "^Nope"}
    }));
    assert_eq!(why, "data.correctiveAction.priority is 2, needs lte 1");
}

#[test]
fn any_reports_how_many_alternatives_failed_and_the_first_reason() {
    let why = on_rejected(json!({"any": [{"data.x": 1}, {"company.name": "Acme"}]}));
    assert_eq!(
        why,
        "any: none of 2 alternatives held (first: data.x is missing)"
    );
}

#[test]
fn not_reports_what_held() {
    assert_eq!(
        on_rejected(json!({"not": {"company.name": "Northwind Foods"}})),
        "not: the condition held (company.name is Northwind Foods)"
    );
    assert_eq!(
        on_rejected(
            json!({"not": {"data.correctiveAction.priority": {"gte": 2}, "data.nope": {"exists": false}}})
        ),
        "not: the condition held (data.correctiveAction.priority is 2 (gte 2); data.nope is missing (exists false))"
    );
    assert_eq!(
        on_rejected(
            json!({"not": {"data.correctiveAction.tags[*].name": {"any_of": ["Cold chain"]}}})
        ),
        "not: the condition held (data.correctiveAction.tags[*].name has an element Cold chain (any_of [Cold chain]))"
    );
    assert_eq!(
        on_rejected(json!({"not": {"any": [{"data.x": 1}, {"not": {"event": "AUDIT_EXPIRED"}}]}})),
        "not: the condition held (not (event is CORRECTIVE_ACTION_REJECTED, needs eq AUDIT_EXPIRED))"
    );
}

#[test]
fn rules_after_a_matching_stop_rule_are_reported_as_not_evaluated() {
    let rules = RuleSet::new(
        vec![
            spec("other type", &["AUDIT_*"], Value::Null),
            RuleSpec {
                stop: true,
                ..spec("rejected", &["CORRECTIVE_ACTION_REJECTED"], Value::Null)
            },
            spec("everything", &["*"], Value::Null),
        ]
        .into_iter()
        .map(compile)
        .collect(),
    );
    assert_eq!(
        rules.explain(&rejected()),
        [
            Explanation {
                rule: "other type".into(),
                reason: "event type CORRECTIVE_ACTION_REJECTED is not one of AUDIT_*".into(),
            },
            Explanation {
                rule: "everything".into(),
                reason: r#"not evaluated: rule "rejected" matched first and has stop: true"#.into(),
            },
        ]
    );
}

#[test]
fn matching_rules_are_not_explained() {
    let rules = RuleSet::new(vec![compile(spec("all", &["*"], Value::Null))]);
    assert!(rules.explain(&rejected()).is_empty());
}
