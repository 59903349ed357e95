//! The render budget through the public API: templates that would hang or exhaust memory on
//! a large event fail that render with a clear reason, and `check` warns about them at load.

use serde_json::json;

use std::time::Duration;

use super::load_ok;
use crate::template::budget::{Breach, LIMITS, Limits};
use crate::template::{Markup, Mode, Templates};

/// The relay's limits with all the time in the world: these tests are about output and loops,
/// and a debug build on a busy machine must not run out of time first.
const UNTIMED: Limits = Limits {
    time: Duration::from_secs(600),
    ..LIMITS
};

fn load_untimed(files: &[(&str, &str)]) -> Templates {
    load_ok(files).with_limits(UNTIMED)
}

const NESTED: &str =
    "title: x\ntext: |-\n  {{#each data.a}}\n  {{#each ../data.b}}{{this}}{{/each}}\n  {{/each}}\n";

#[test]
fn a_loop_inside_a_loop_over_event_data_is_a_warning_with_its_line() {
    let templates = load_ok(&[("nested.yaml", NESTED)]);
    let warnings: Vec<String> = templates.warnings().iter().map(|w| w.to_string()).collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("nested.yaml:4:"), "{}", warnings[0]);
    assert!(
        warnings[0].contains("inside another `{{#each}}`"),
        "{}",
        warnings[0]
    );
}

#[test]
fn single_loops_and_the_built_in_templates_give_no_warning() {
    let flat = "title: x\ntext: '{{#each data.a}}{{this}}{{else}}{{#each data.b}}{{this}}{{/each}}{{/each}}'\n";
    let templates = load_ok(&[("flat.yaml", flat)]);
    assert!(
        templates.warnings().is_empty(),
        "{:?}",
        templates.warnings()
    );
}

#[test]
fn a_nested_loop_over_a_large_event_fails_with_the_iteration_budget() {
    let templates = load_untimed(&[("nested.yaml", NESTED)]);
    let list: Vec<u32> = (0..2000).collect();
    let event = json!({"event": "X", "data": {"a": list, "b": list}});
    let err = templates
        .render_in(Mode::Lenient, "nested", Markup::Slack, &event)
        .unwrap_err();
    assert_eq!(err.budget, Some(Breach::Iterations));
    assert!(!err.is_transient());
    let text = err.to_string();
    assert!(
        text.contains("nested.yaml") && text.contains("200000 iterations"),
        "{text}"
    );
}

#[test]
fn a_template_that_repeats_a_large_value_fails_with_the_output_budget() {
    let amplify = "title: x\ntext: '{{#each data.arr}}{{../data.s}}{{/each}}'\n";
    let templates = load_untimed(&[("amp.yaml", amplify)]);
    let event = json!({"data": {"arr": vec![0; 50_000], "s": "x".repeat(400 * 1024)}});
    let err = templates
        .render_in(Mode::Lenient, "amp", Markup::Html, &event)
        .unwrap_err();
    assert_eq!(err.budget, Some(Breach::Output));
    assert!(err.to_string().contains("32 MiB"), "{err}");
}

#[test]
fn a_render_that_runs_out_of_time_is_worth_another_attempt() {
    let no_time = Limits {
        time: Duration::ZERO,
        ..LIMITS
    };
    let templates = load_ok(&[("nested.yaml", NESTED)]).with_limits(no_time);
    let event = json!({"data": {"a": [1], "b": [2]}});
    let err = templates
        .render_in(Mode::Lenient, "nested", Markup::Plain, &event)
        .unwrap_err();
    assert_eq!(err.budget, Some(Breach::Time));
    assert!(err.is_transient(), "{err}");
}

#[test]
fn a_payload_template_is_held_to_the_same_budget() {
    let dir_files = [(
        "amp.webhook.hbs",
        "{\"x\": \"{{#each data.arr}}{{../data.s}}{{/each}}\"}",
    )];
    let templates = load_untimed(&dir_files);
    let event = json!({"data": {"arr": vec![0; 50_000], "s": "y".repeat(400 * 1024)}});
    let err = templates
        .render_payload_in(Mode::Lenient, "amp", "webhook", &event)
        .unwrap_err();
    assert_eq!(err.budget, Some(Breach::Output));
}

#[test]
fn every_built_in_template_renders_every_sample_well_within_the_budget() {
    let templates = Templates::builtin().with_limits(UNTIMED);
    for (name, event) in crate::template::sample_events() {
        let template = Templates::default_name(event["event"].as_str().unwrap_or_default());
        for markup in Markup::ALL {
            let rendered = templates.render_in(Mode::Lenient, &template, markup, &event);
            assert!(rendered.is_ok(), "{name} {markup:?}: {rendered:?}");
        }
    }
}
