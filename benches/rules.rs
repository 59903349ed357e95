//! Micro-benchmarks of rule matching with 10, 1 000 and 10 000 rules.
//!
//! The rule sets are a realistic mix for one relay serving many companies: most rules name one
//! or two other event types and another company; a quarter carry `where` conditions
//! (priority, tags), one in ten a regex, a few an `any:`. Three rules concern the benchmarked
//! event (a rejected corrective action): one that matches with a full `where`, one for another
//! company, and one `CORRECTIVE_ACTION_*` glob. Their number stays the same whatever the size,
//! so the type index should make 10 000 rules cost what 10 cost (target: within 2x).
//!
//! `uniform_types` is the adversarial case for a type index: the same number of rules spread
//! evenly over all 15 event types, so about one in 15 names the benchmarked type and must be
//! looked at (and rejected by company).

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use mqa_relay::event::{EVENT_TYPES, Event};
use mqa_relay::rules::{Rule, RuleSet, RuleSpec};
use serde_json::{Value, json};

const SAMPLE: &str = include_str!("../examples/events/corrective_action_rejected.json");
const SAMPLE_TYPE: &str = "CORRECTIVE_ACTION_REJECTED";
const SIZES: [usize; 3] = [10, 1_000, 10_000];

/// The 14 event types other than the sample's.
fn other_types() -> Vec<&'static str> {
    EVENT_TYPES
        .iter()
        .copied()
        .filter(|t| *t != SAMPLE_TYPE)
        .collect()
}

fn spec(name: String, events: &[&str], company: &[&str], where_: Option<Value>) -> RuleSpec {
    RuleSpec {
        name,
        events: events.iter().map(|e| (*e).to_owned()).collect(),
        company: company.iter().map(|c| (*c).to_owned()).collect(),
        where_,
        notify: vec!["bench-target".to_owned()],
        template: None,
        stop: false,
    }
}

/// A background rule: a company of its own, every fourth with conditions, every tenth with a
/// regex, every 25th with an `any:`.
fn background_rule(i: usize, event_types: &[&str]) -> RuleSpec {
    let kind = event_types[i % event_types.len()];
    let second = event_types[(i + 5) % event_types.len()];
    let events: Vec<&str> = if i.is_multiple_of(3) {
        vec![kind, second]
    } else {
        vec![kind]
    };
    let company = format!("Company {:04}", i % 997);
    let where_ = match i {
        _ if i % 25 == 7 => Some(json!({"any": [
            {"data.correctiveAction.priority": {"gte": 3}},
            {"data.correctiveAction.tags[*].name": {"any_of": ["Fire safety"]}},
        ]})),
        _ if i % 10 == 3 => Some(json!({
            "data.correctiveAction.auditObject.name": {"regex": format!("(?i)store #{}\\b", i % 50)},
        })),
        _ if i % 4 == 1 => Some(json!({
            "data.correctiveAction.priority": {"gte": 2},
            "data.correctiveAction.tags[*].name": {"any_of": ["Cold chain", "Hygiene"]},
        })),
        _ => None,
    };
    spec(format!("background {i}"), &events, &[&company], where_)
}

/// The three rules that concern the sample event, whatever the size of the set.
fn sample_rules() -> [RuleSpec; 3] {
    [
        spec(
            "rejected high-priority cold-chain actions in kitchens".to_owned(),
            &[SAMPLE_TYPE],
            &["Northwind Foods"],
            Some(json!({
                "data.correctiveAction.priority": {"gte": 2},
                "data.correctiveAction.tags[*].name": {"any_of": ["Cold chain", "Fire safety"]},
                "data.correctiveAction.auditObject.name": {"regex": "(?i)kitchen"},
            })),
        ),
        spec(
            "rejected actions of another company".to_owned(),
            &[SAMPLE_TYPE, "CORRECTIVE_ACTION_EXPIRED"],
            &["Contoso Dining"],
            None,
        ),
        spec(
            "every corrective action not yet approved".to_owned(),
            &["CORRECTIVE_ACTION_*"],
            &["Northwind Foods"],
            Some(json!({"not": {"data.correctiveAction.status": 3}})),
        ),
    ]
}

/// `size` rules: the three sample rules at the start, the middle and the end, the rest
/// background rules over `background_types`.
fn rule_set(size: usize, background_types: &[&str]) -> RuleSet {
    let [first, middle, last] = sample_rules();
    let mut specs: Vec<RuleSpec> = (0..size - 3)
        .map(|i| background_rule(i, background_types))
        .collect();
    specs.insert(0, first);
    specs.insert(specs.len() / 2, middle);
    specs.push(last);
    let rules = specs
        .into_iter()
        .map(|s| Rule::compile(s).expect("the benchmark rules are valid"))
        .collect();
    RuleSet::new(rules)
}

fn all_types() -> Vec<&'static str> {
    let mut types = other_types();
    types.push(SAMPLE_TYPE);
    types
}

fn sample_event() -> Value {
    Event::parse(SAMPLE.as_bytes())
        .expect("the sample event is valid")
        .to_value()
}

fn evaluate(c: &mut Criterion) {
    let event = sample_event();
    let uniform = all_types();
    let others = other_types();
    for (group_name, types) in [
        ("rules/evaluate/few_candidates", &others[..]),
        ("rules/evaluate/uniform_types", &uniform[..]),
    ] {
        let mut group = c.benchmark_group(group_name);
        for size in SIZES {
            let rules = rule_set(size, types);
            assert_eq!(rules.evaluate(&event).len(), 2, "two sample rules match");
            group.bench_with_input(BenchmarkId::from_parameter(size), &rules, |b, rules| {
                b.iter(|| rules.evaluate(black_box(&event)).len())
            });
        }
        group.finish();
    }
}

/// What a reload pays for the rules: compiling every rule and building the index.
fn compile(c: &mut Criterion) {
    let mut group = c.benchmark_group("rules/compile");
    group.sample_size(10);
    let others = other_types();
    for size in SIZES {
        group.bench_with_input(BenchmarkId::from_parameter(size), &size, |b, &size| {
            b.iter(|| rule_set(size, &others).rules().len())
        });
    }
    group.finish();
}

criterion_group!(benches, evaluate, compile);
criterion_main!(benches);
