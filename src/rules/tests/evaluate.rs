//! Evaluating a rule set: event globs, company, order, `stop`, and the index by event type.

use serde_json::{Value, json};

use super::{all_samples, compile, matching, sample, spec};
use crate::rules::{Match, RuleSet, RuleSpec};

const NORTHWIND_ID: &str = "5f0c2a8e-9b1d-4c3e-8a7f-1d2e3f4a5b6c";

fn set(specs: Vec<RuleSpec>) -> RuleSet {
    RuleSet::new(specs.into_iter().map(compile).collect())
}

fn for_company(name: &str, company: &[&str]) -> RuleSpec {
    RuleSpec {
        company: company.iter().map(|c| (*c).to_owned()).collect(),
        ..spec(name, &["*"], Value::Null)
    }
}

fn stopping(name: &str, events: &[&str]) -> RuleSpec {
    RuleSpec {
        stop: true,
        ..spec(name, events, Value::Null)
    }
}

/// How many sample events a rule with these `events` matches.
fn samples_matched(events: &[&str]) -> usize {
    let rules = set(vec![spec("r", events, Value::Null)]);
    all_samples()
        .iter()
        .filter(|e| !rules.evaluate(e).is_empty())
        .count()
}

#[test]
fn a_star_matches_every_sample_event() {
    assert_eq!(samples_matched(&["*"]), 15);
}

#[test]
fn globs_match_event_families() {
    assert_eq!(samples_matched(&["CORRECTIVE_ACTION_*"]), 8);
    assert_eq!(samples_matched(&["AUDIT_*"]), 5);
    assert_eq!(samples_matched(&["TEMPLATE_*", "AUDIT_EXPIRED"]), 3);
    assert_eq!(samples_matched(&["*_DELETED"]), 3);
    assert_eq!(samples_matched(&["AUDIT_*ED"]), 5);
}

#[test]
fn a_question_mark_matches_exactly_one_character() {
    assert_eq!(samples_matched(&["AUDIT_EXPIRE?"]), 1);
    assert_eq!(samples_matched(&["AUDIT_EXPIRED?"]), 0);
    assert_eq!(samples_matched(&["AUDIT_EXPIR?"]), 0);
}

#[test]
fn event_names_and_globs_are_case_sensitive() {
    assert_eq!(samples_matched(&["audit_expired"]), 0);
    assert_eq!(samples_matched(&["corrective_action_*"]), 0);
    assert_eq!(samples_matched(&["AUDIT_EXPIRED"]), 1);
}

#[test]
fn unknown_event_types_match_by_name_and_by_star() {
    let rules = set(vec![
        spec("exact", &["SOMETHING_NEW"], Value::Null),
        spec("all", &["*"], Value::Null),
    ]);
    let e = json!({"event": "SOMETHING_NEW", "data": {}, "company": {}});
    assert_eq!(matching(&rules, &e), ["exact", "all"]);
}

#[test]
fn an_event_without_a_type_matches_nothing() {
    let rules = set(vec![spec("all", &["*"], Value::Null)]);
    assert!(rules.evaluate(&json!({"data": {}})).is_empty());
    assert!(rules.evaluate(&json!({"event": 5})).is_empty());
}

#[test]
fn company_matches_by_name_or_by_id() {
    let e = sample("audit_expired");
    let rules = set(vec![
        for_company("by name", &["Northwind Foods"]),
        for_company("by id", &[NORTHWIND_ID]),
        for_company("one of several", &["Acme", "Northwind Foods"]),
        for_company("other", &["Acme"]),
        for_company("case differs", &["northwind foods"]),
        for_company("any company", &[]),
    ]);
    assert_eq!(
        matching(&rules, &e),
        ["by name", "by id", "one of several", "any company"]
    );
}

#[test]
fn a_company_filter_never_matches_an_event_without_a_company() {
    let e = json!({"event": "AUDIT_EXPIRED", "data": {}});
    let rules = set(vec![
        for_company("named", &["Northwind Foods"]),
        for_company("any", &[]),
    ]);
    assert_eq!(matching(&rules, &e), ["any"]);
}

#[test]
fn every_matching_rule_fires_in_file_order_until_one_with_stop() {
    let rules = set(vec![
        spec("first", &["AUDIT_*"], Value::Null),
        spec("not this type", &["TEMPLATE_CREATED"], Value::Null),
        spec("exact", &["AUDIT_EXPIRED"], Value::Null),
        stopping("stops", &["*"]),
        spec("after stop", &["AUDIT_EXPIRED"], Value::Null),
    ]);
    let e = sample("audit_expired");
    assert_eq!(matching(&rules, &e), ["first", "exact", "stops"]);
}

#[test]
fn a_stop_rule_that_does_not_match_stops_nothing() {
    let rules = set(vec![
        stopping("stops other types", &["TEMPLATE_*"]),
        RuleSpec {
            stop: true,
            ..spec(
                "stops when priority is high",
                &["*"],
                json!({"data.correctiveAction.priority": {"gte": 3}}),
            )
        },
        spec("later", &["CORRECTIVE_ACTION_REJECTED"], Value::Null),
    ]);
    let e = sample("corrective_action_rejected");
    assert_eq!(matching(&rules, &e), ["later"]);
}

#[test]
fn a_match_carries_the_rules_targets_and_template() {
    let rules = set(vec![RuleSpec {
        notify: vec!["quality-teams".into(), "managers-mail".into()],
        template: Some("urgent-action".into()),
        ..spec("rejected", &["CORRECTIVE_ACTION_REJECTED"], Value::Null)
    }]);
    let e = sample("corrective_action_rejected");
    let targets = ["quality-teams".to_owned(), "managers-mail".to_owned()];
    assert_eq!(
        rules.evaluate(&e),
        [Match {
            rule: "rejected",
            targets: &targets,
            template: Some("urgent-action")
        }]
    );
}

#[test]
fn the_design_examples_rules_route_the_rejected_sample() {
    let rules = set(vec![
        RuleSpec {
            company: vec!["Northwind Foods".into()],
            ..spec(
                "expired audits to the kitchen channel",
                &["AUDIT_EXPIRED", "AUDIT_RESCHEDULED"],
                Value::Null,
            )
        },
        RuleSpec {
            stop: true,
            ..spec(
                "rejected high-priority actions",
                &["CORRECTIVE_ACTION_REJECTED"],
                json!({
                    "data.correctiveAction.priority": {"gte": 2},
                    "data.correctiveAction.tags[*].name": {"any_of": ["Cold chain", "Fire safety"]},
                    "data.correctiveAction.auditObject.name": {"regex": "(?i)kitchen"}
                }),
            )
        },
        spec("everything", &["*"], Value::Null),
    ]);
    assert_eq!(
        matching(&rules, &sample("corrective_action_rejected")),
        ["rejected high-priority actions"]
    );
    assert_eq!(
        matching(&rules, &sample("audit_expired")),
        ["expired audits to the kitchen channel", "everything"]
    );
    assert_eq!(
        matching(&rules, &sample("template_created")),
        ["everything"]
    );
}

#[test]
fn the_index_finds_the_right_rules_among_ten_thousand_for_other_types() {
    let mut specs: Vec<RuleSpec> = (0..10_000)
        .map(|i| {
            spec(
                &format!("other {i}"),
                &[&format!("OTHER_EVENT_{i}")],
                Value::Null,
            )
        })
        .collect();
    specs.insert(5_000, spec("audit glob", &["AUDIT_*"], Value::Null));
    specs.insert(
        7_000,
        spec(
            "named twice",
            &["AUDIT_EXPIRED", "AUDIT_EXPIRED", "AUDIT_E*"],
            Value::Null,
        ),
    );
    specs.push(spec("expired", &["AUDIT_EXPIRED"], Value::Null));
    specs.push(spec(
        "expired, but not this company",
        &["AUDIT_EXPIRED"],
        json!({"company.name": "Acme"}),
    ));
    let rules = set(specs);

    assert_eq!(
        matching(&rules, &sample("audit_expired")),
        ["audit glob", "named twice", "expired"]
    );
    assert_eq!(matching(&rules, &sample("audit_completed")), ["audit glob"]);
    let other = json!({"event": "OTHER_EVENT_1234", "data": {}, "company": {}});
    assert_eq!(matching(&rules, &other), ["other 1234"]);
    assert!(rules.evaluate(&sample("template_deleted")).is_empty());
}

#[test]
fn rules_keeps_file_order() {
    let rules = set(vec![
        spec("b", &["X"], Value::Null),
        spec("a", &["*"], Value::Null),
    ]);
    let names: Vec<&str> = rules.rules().iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["b", "a"]);
}
