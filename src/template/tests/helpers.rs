use super::*;
use crate::template::helpers;
use crate::template::time::{duration, local_time};

fn plain(expr: &str, ctx: &Value) -> String {
    render_title(expr, Markup::Plain, ctx).unwrap_or_else(|e| panic!("{expr}: {e}"))
}

fn ca() -> Value {
    sample("corrective_action_rejected")
}

#[test]
fn status_and_priority_codes_read_as_words() {
    let ctx = json!({"s": [0, 1, 2, 3, 4, 9], "p": [0, 1, 2, "2"], "n": null});
    let out = plain("{{#each s}}{{status_name this}},{{/each}}", &ctx);
    assert_eq!(out, "Open,Approved,Rejected,Submitted,Expired,Status 9,");
    let out = plain("{{#each p}}{{priority_name this}},{{/each}}", &ctx);
    assert_eq!(out, "Low,Medium,High,High,");
    assert_eq!(plain("[{{status_name n}}{{priority_name n}}]", &ctx), "[]");
}

#[test]
fn local_time_reads_in_the_audits_zone() {
    let expr =
        "{{local_time data.correctiveAction.dueDateUtc data.correctiveAction.audit.ianaTimeZone}}";
    assert_eq!(plain(expr, &ca()), "Sun 22 Nov 2026, 23:59 WET");
    let summer = local_time("2026-07-01T12:00:00Z", Some("Europe/Lisbon"), None);
    assert_eq!(summer.unwrap(), "Wed 1 Jul 2026, 13:00 WEST");
    let custom = local_time(
        "2026-11-20T13:00:00.000Z",
        Some("America/New_York"),
        Some("%Y-%m-%d %H:%M %Z"),
    );
    assert_eq!(custom.unwrap(), "2026-11-20 08:00 EST");
}

#[test]
fn local_time_falls_back_to_utc_and_says_so() {
    assert_eq!(
        local_time("2026-11-22T23:59:59Z", None, None).unwrap(),
        "Sun 22 Nov 2026, 23:59 UTC"
    );
    assert_eq!(
        local_time("2026-11-22T23:59:59Z", Some(" "), None).unwrap(),
        "Sun 22 Nov 2026, 23:59 UTC"
    );
    assert_eq!(
        local_time("2026-11-22T23:59:59Z", Some("Mars/Olympus"), None).unwrap(),
        "Sun 22 Nov 2026, 23:59 UTC (unknown time zone Mars/Olympus)"
    );
    // a zone path the event lacks is the same as no zone
    let out = plain(
        "{{local_time data.correctiveAction.dueDateUtc data.nowhere}}",
        &ca(),
    );
    assert_eq!(out, "Sun 22 Nov 2026, 23:59 UTC");
}

#[test]
fn local_time_shows_an_unparsable_time_as_given() {
    assert_eq!(
        local_time("next Tuesday", Some("Europe/Lisbon"), None).unwrap(),
        "next Tuesday"
    );
    assert_eq!(
        local_time("2026-11-20T05:00:00", None, None).unwrap(),
        "Fri 20 Nov 2026, 05:00 UTC"
    );
    let ctx = json!({"t": null, "z": "Europe/Lisbon"});
    assert_eq!(plain("[{{local_time t z}}]", &ctx), "[]");
}

#[test]
fn local_time_with_a_bad_format_is_a_render_error() {
    let ctx = json!({"t": "2026-11-20T05:00:00Z"});
    let err = render_title("{{local_time t \"UTC\" \"%J\"}}", Markup::Plain, &ctx).unwrap_err();
    assert!(err.message.contains("bad format"), "{err}");
}

#[test]
fn deep_links_point_into_the_monitorqa_app() {
    let ctx = json!({"id": "a1-b2", "evil": "../x?y=<1>"});
    assert_eq!(
        plain("{{audit_link id}}", &ctx),
        "https://app.monitorqa.com/audits/pending/a1-b2"
    );
    assert_eq!(
        plain("{{audit_report_link id}}", &ctx),
        "https://app.monitorqa.com/audits/archive/a1-b2"
    );
    assert_eq!(
        plain("{{action_link id}}", &ctx),
        "https://app.monitorqa.com/actions/pending/a1-b2"
    );
    assert_eq!(
        plain("{{actions_link}}", &ctx),
        "https://app.monitorqa.com/actions/pending"
    );
    assert_eq!(
        plain("{{action_link evil}}", &ctx),
        "https://app.monitorqa.com/actions/pending/..%2Fx%3Fy%3D%3C1%3E"
    );
}

#[test]
fn join_takes_a_field_of_each_element() {
    let ctx = json!({
        "users": [{"name": "Tomás Ortega"}, {"name": "Priya Natarajan"}, {"id": "no name"}],
        "tags": ["Cold chain", "Fire safety"],
        "none": null,
        "text": "x",
    });
    assert_eq!(
        plain("{{join users \"name\"}}", &ctx),
        "Tomás Ortega, Priya Natarajan"
    );
    assert_eq!(
        plain("{{join users \"name\" \" / \"}}", &ctx),
        "Tomás Ortega / Priya Natarajan"
    );
    assert_eq!(plain("{{join tags}}", &ctx), "Cold chain, Fire safety");
    assert_eq!(plain("[{{join none \"name\"}}]", &ctx), "[]");
    assert!(render_title("{{join text \"name\"}}", Markup::Plain, &ctx).is_err());
}

#[test]
fn default_replaces_absent_null_and_empty_but_keeps_zero_and_false() {
    let ctx = json!({"null": null, "empty": " ", "list": [], "zero": 0, "no": false, "s": "v"});
    for path in ["missing", "null", "empty", "list", "a.b.c"] {
        assert_eq!(
            plain(&format!("{{{{default {path} \"fb\"}}}}"), &ctx),
            "fb",
            "{path}"
        );
    }
    assert_eq!(
        plain(
            "{{default zero 5}}|{{default no true}}|{{default s \"fb\"}}",
            &ctx
        ),
        "0|false|v"
    );
    assert_eq!(plain("[{{default missing other}}]", &ctx), "[]");
}

#[test]
fn truncate_cuts_long_values_and_marks_the_cut() {
    let ctx = json!({"s": "Call the refrigeration contractor", "short": "abc", "n": 12345});
    assert_eq!(plain("{{truncate s 20}}", &ctx), "Call the refrigerati…");
    assert_eq!(plain("{{truncate s 9}}", &ctx), "Call the…");
    assert_eq!(plain("{{truncate short 3}}", &ctx), "abc");
    assert_eq!(plain("{{truncate n 3}}", &ctx), "123…");
    assert!(render_title("{{truncate s \"x\"}}", Markup::Plain, &ctx).is_err());
}

#[test]
fn small_text_helpers_do_what_they_say() {
    let ctx = json!({"s": "Ça va", "id": "d6f4b0a5-7e8c-4b1d", "secs": 2201, "obj": {"a": [1, 2]}});
    assert_eq!(plain("{{upper s}} {{lower s}}", &ctx), "ÇA VA ça va");
    assert_eq!(plain("{{short_id id}}", &ctx), "d6f4b0a5");
    assert_eq!(plain("{{duration secs}}", &ctx), "36 min");
    assert_eq!(
        plain("{{compact obj}} {{compact s}}", &ctx),
        "{\"a\":[1,2]} Ça va"
    );
    assert_eq!(plain("{{compact obj 5}}", &ctx), "{\"a\":…");
    assert_eq!(duration(45), "45 s");
    assert_eq!(duration(5400), "1 h 30 min");
    assert_eq!(duration(7200), "2 h");
    assert_eq!(duration(183_600), "2 d 3 h");
}

#[test]
fn handlebars_comparison_helpers_work_inside_if() {
    let expr = "{{#if (and (gte data.correctiveAction.priority 2) (eq data.correctiveAction.status 2))}}urgent{{/if}}\
                {{#if (or (lt data.correctiveAction.priority 1) (not data.correctiveAction.name))}}calm{{/if}}\
                {{#if (ne data.correctiveAction.status 0)}}!{{/if}}";
    assert_eq!(plain(expr, &ca()), "urgent!");
    for own in helpers::names() {
        let builtin = [
            "eq", "ne", "gt", "gte", "lt", "lte", "and", "or", "not", "len", "lookup",
        ];
        assert!(
            !builtin.contains(&own),
            "{own} duplicates a Handlebars helper"
        );
    }
}

#[test]
fn a_helper_given_a_field_the_event_lacks_is_an_error_in_strict_mode() {
    for expr in [
        "{{priority_name data.correctiveAction.priorty}}",
        "{{local_time data.nope \"UTC\"}}",
        "{{join data.nope \"name\"}}",
        "{{upper data.nope}}",
    ] {
        let err = render_title(expr, Markup::Plain, &ca()).unwrap_err();
        assert!(err.message.contains("is not in the event"), "{expr}: {err}");
    }
    assert_eq!(
        plain("{{#if data.nope.deeper}}x{{else}}absent{{/if}}", &ca()),
        "absent"
    );
}

#[test]
fn the_helper_examples_in_the_module_doc_hold() {
    let ctx = ca();
    let completed = sample("audit_completed");
    let cases = [
        (
            "{{status_name data.correctiveAction.status}}",
            &ctx,
            "Rejected",
        ),
        (
            "{{priority_name data.correctiveAction.priority}}",
            &ctx,
            "High",
        ),
        (
            "{{local_time data.endDate \"America/New_York\" \"%Y-%m-%d %H:%M %Z\"}}",
            &completed,
            "2026-11-20 08:00 EST",
        ),
        ("{{duration data.completionTime}}", &completed, "36 min"),
        (
            "{{join data.correctiveAction.assignedUsers \"name\"}}",
            &ctx,
            "Tomás Ortega",
        ),
        (
            "{{truncate data.correctiveAction.description 20}}",
            &ctx,
            "Call the refrigerati…",
        ),
        (
            "{{upper data.correctiveAction.number}}",
            &ctx,
            "CA-2026-0147",
        ),
        ("{{default audit.number \"unknown\"}}", &ctx, "unknown"),
    ];
    for (expr, ctx, expected) in cases {
        assert_eq!(plain(expr, ctx), expected, "{expr}");
    }
}
