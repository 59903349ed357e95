//! Generated templates (see [`crate::properties`]): any template the loader accepts, built
//! from value references, helpers, conditionals and loops nested three deep, renders every
//! sample event without touching its budget, and on an event built to be large either renders
//! or stops with a budget breach, within the time budget (plus a margin for a busy machine).

use std::time::{Duration, Instant};

use proptest::prelude::*;
use serde_json::{Value, json};

use super::load;
use crate::template::budget::LIMITS;
use crate::template::{Markup, Mode, sample_events};

/// A piece of template text, `depth` loops or conditionals deep at most.
fn piece(depth: u32) -> BoxedStrategy<String> {
    let leaf = prop_oneof![
        Just("text ".to_string()),
        Just("{{this}}".to_string()),
        Just("{{@index}}".to_string()),
        Just("{{data.name}}".to_string()),
        Just("{{../data.name}}".to_string()),
        Just("{{company.name}}".to_string()),
        Just("{{data.correctiveAction.auditObject.name}}".to_string()),
        Just("{{default data.missing \"none\"}}".to_string()),
        Just("{{join data.list \"name\"}}".to_string()),
        Just("{{short_id data.id}}".to_string()),
        Just("{{local_time data.dueDateUtc}}".to_string()),
        Just("{{priority_name data.correctiveAction.priority}}".to_string()),
        Just("{{duration data.completionTime}}".to_string()),
    ];
    if depth == 0 {
        return leaf.boxed();
    }
    let inner = || prop::collection::vec(piece(depth - 1), 0..4).prop_map(|p| p.concat());
    let list = prop::sample::select(vec!["data.list", "data.big", "../data.big", "this", "data"]);
    prop_oneof![
        3 => leaf,
        1 => (list, inner()).prop_map(|(l, body)| format!("{{{{#each {l}}}}}{body}{{{{/each}}}}")),
        1 => (inner(), inner()).prop_map(|(yes, no)| {
            format!("{{{{#if data.name}}}}{yes}{{{{else}}}}{no}{{{{/if}}}}")
        }),
    ]
    .boxed()
}

fn template() -> impl Strategy<Value = String> {
    prop::collection::vec(piece(3), 1..5).prop_map(|pieces| {
        let text = pieces.concat();
        format!("title: 'generated'\ntext: |-\n  {text}\n")
    })
}

/// An event whose lists and strings are as large as a webhook body allows.
fn large_event() -> Value {
    let big: Vec<Value> = (0..2000)
        .map(|i| json!({"name": format!("item {i}")}))
        .collect();
    json!({
        "event": "CORRECTIVE_ACTION_UPDATED",
        "data": {"name": "x".repeat(4096), "id": "7b8c9d0e-1111", "list": big.clone(), "big": big},
        "company": {"name": "Northwind"}
    })
}

proptest! {
    #![proptest_config(crate::properties::config(60))]

    #[test]
    fn an_accepted_template_renders_every_sample_within_its_budget(text in template()) {
        let loaded = load(&[("generated.yaml", text.as_str())]);
        // Refused at load (`check` says why): nothing to render. Mostly they load; were they
        // mostly refused, proptest would fail the test for too many rejected cases.
        prop_assume!(loaded.is_ok());
        let templates = loaded.unwrap();
        let margin = LIMITS.time * 2;
        for (stem, event) in sample_events() {
            let started = Instant::now();
            let rendered = templates.render_in(Mode::Lenient, "generated", Markup::Slack, &event);
            prop_assert!(started.elapsed() < margin, "{stem}: {:?}", started.elapsed());
            if let Err(e) = rendered {
                prop_assert!(e.budget.is_none(), "{stem} breached the budget: {e}\n{text}");
            }
        }
        let started = Instant::now();
        let _ = templates.render_in(Mode::Lenient, "generated", Markup::Html, &large_event());
        prop_assert!(
            started.elapsed() < margin + Duration::from_secs(1),
            "a large event took {:?}",
            started.elapsed()
        );
    }
}
