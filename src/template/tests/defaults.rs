use super::*;
use crate::template::defaults::BUILTIN;
use crate::template::load::builtin_file;
use crate::template::source::parse_message;
use crate::template::{EVENT_KINDS, Link, UNKNOWN_EVENT};

fn render(name: &str, markup: Markup, ctx: &Value) -> Message {
    Templates::builtin()
        .render(name, markup, ctx)
        .unwrap_or_else(|e| panic!("{e}"))
}

fn field<'a>(m: &'a Message, label: &str) -> Option<&'a str> {
    m.fields
        .iter()
        .find(|(l, _)| l == label)
        .map(|(_, v)| v.as_str())
}

#[test]
fn every_builtin_template_parses() {
    for (name, yaml) in BUILTIN {
        if let Err(e) = parse_message(&builtin_file(name), yaml) {
            panic!("{}", errors_text(&e));
        }
    }
    assert_eq!(Templates::builtin().names().count(), 16);
}

#[test]
fn every_event_type_maps_to_its_own_default_template() {
    let templates = Templates::builtin();
    for kind in EVENT_KINDS {
        let name = Templates::default_name(kind);
        assert_eq!(name, kind.to_ascii_lowercase());
        assert!(templates.contains(&name), "{name}");
    }
    assert_eq!(Templates::default_name("SOMETHING_NEW"), UNKNOWN_EVENT);
    assert_eq!(Templates::default_name("audit_expired"), UNKNOWN_EVENT);
    assert!(templates.contains(UNKNOWN_EVENT));
}

#[test]
fn every_default_renders_in_every_markup_against_every_sample() {
    let templates = Templates::builtin();
    let mut events: Vec<Value> = sample_events().into_iter().map(|(_, v)| v).collect();
    for stem in [
        "audit_assigned",
        "audit_deleted",
        "audit_expired",
        "audit_rescheduled",
    ] {
        events.push(with_audit(stem));
    }
    events.push(json!({"event": "AUDIT_EXPIRED", "data": {}, "company": {}}));
    events.push(json!({"event": "CORRECTIVE_ACTION_REJECTED", "data": {"correctiveAction": null}}));
    events
        .push(json!({"event": "X", "data": {"correctiveAction": {"audit": null, "answer": null}}}));
    for name in templates.names() {
        for event in &events {
            for markup in Markup::ALL {
                if let Err(e) = templates.render(name, markup, event) {
                    panic!("{name} / {} / {markup:?}: {e}", event["event"]);
                }
            }
        }
    }
    assert!(templates.check_default_templates().is_empty());
}

#[test]
fn rejected_action_says_what_where_who_and_by_when() {
    let m = render(
        "corrective_action_rejected",
        Markup::Slack,
        &sample("corrective_action_rejected"),
    );
    assert_eq!(
        m.title,
        "Corrective action rejected: Repair walk-in freezer"
    );
    assert!(
        m.text
            .contains("Tomás Ortega must act again by Sun 22 Nov 2026, 23:59 WET"),
        "{}",
        m.text
    );
    assert!(
        m.text
            .contains("Submitted: Moved stock only; freezer still at -12 °C")
    );
    assert_eq!(field(&m, "Where"), Some("Kitchen — Store #12 Riverside"));
    assert_eq!(field(&m, "Priority"), Some("High"));
    assert_eq!(field(&m, "Assigned to"), Some("Tomás Ortega"));
    assert_eq!(field(&m, "Due"), Some("Sun 22 Nov 2026, 23:59 WET"));
    assert_eq!(field(&m, "Action"), Some("CA-2026-0147"));
    assert_eq!(
        field(&m, "Failed answer"),
        Some("Walk-in freezer at -9 °C, limit is -18 °C")
    );
    let link = m.link.unwrap();
    assert_eq!(
        link.url,
        "https://app.monitorqa.com/actions/pending/7b8c9d0e-8888-4bbb-9ccc-7d8e9fa0b1c2"
    );
    assert_eq!(m.color.as_deref(), Some("danger"));
}

#[test]
fn fields_keep_the_template_order() {
    let m = render(
        "corrective_action_rejected",
        Markup::Plain,
        &sample("corrective_action_rejected"),
    );
    let labels: Vec<&str> = m.fields.iter().map(|(l, _)| l.as_str()).collect();
    let expected = [
        "Action",
        "Where",
        "Priority",
        "Assigned to",
        "Due",
        "Failed answer",
        "Audit",
        "Company",
    ];
    assert_eq!(labels, expected);
}

#[test]
fn submitted_action_shows_what_was_submitted() {
    let m = render(
        "corrective_action_submitted",
        Markup::Plain,
        &sample("corrective_action_submitted"),
    );
    assert!(
        m.text
            .contains("Contractor replaced the compressor relay; freezer back at -20 °C")
    );
    assert!(m.text.contains("by Tomás Ortega"));
    assert_eq!(field(&m, "Files"), Some("contractor_invoice.pdf"));
    assert_eq!(field(&m, "Photos"), Some("1"));
}

#[test]
fn approved_action_says_who_approved_it_in_local_time() {
    let m = render(
        "corrective_action_approved",
        Markup::Plain,
        &sample("corrective_action_approved"),
    );
    assert_eq!(
        m.text,
        "Approved by Helen O'Brien on Sat 21 Nov 2026, 17:30 WET; nothing is left to do."
    );
    assert_eq!(m.color.as_deref(), Some("good"));
}

#[test]
fn deleted_action_reads_well_with_a_null_action() {
    let m = render(
        "corrective_action_deleted",
        Markup::Plain,
        &sample("corrective_action_deleted"),
    );
    assert_eq!(m.title, "Corrective action deleted — Northwind Foods");
    assert_eq!(m.text, "Corrective action 7b8c9d0e was deleted.");
    assert_eq!(
        m.link.unwrap().url,
        "https://app.monitorqa.com/actions/pending"
    );
}

#[test]
fn sparse_expired_audit_still_says_what_where_and_links_it() {
    let m = render("audit_expired", Markup::Plain, &sample("audit_expired"));
    assert_eq!(m.title, "Audit expired — Northwind Foods");
    assert_eq!(m.text, "Audit d6f4b0a5 was not completed in time.");
    assert_eq!(field(&m, "Audit"), Some("d6f4b0a5"));
    assert_eq!(field(&m, "Where"), None, "an empty field is dropped");
    let link = m.link.unwrap();
    assert_eq!(
        link,
        Link {
            url: "https://app.monitorqa.com/audits/pending/d6f4b0a5-7e8c-4b1d-8f3a-4c5d6e7f8091"
                .into(),
            label: "Open audit".into()
        }
    );
    assert_eq!(m.color.as_deref(), Some("danger"));
}

#[test]
fn audit_defaults_use_the_looked_up_audit_when_present() {
    let m = render("audit_expired", Markup::Plain, &with_audit("audit_expired"));
    assert_eq!(
        m.title,
        "Audit expired: Food Safety Daily Check — Northwind Foods"
    );
    assert!(m.text.contains(
        "at Kitchen — Store #12 Riverside was not completed by Fri 20 Nov 2026, 13:00 UTC"
    ));
    assert_eq!(field(&m, "Audit"), Some("AUD-2026-0311"));
    assert_eq!(
        field(&m, "Assigned to"),
        Some("Priya Natarajan, Tomás Ortega")
    );
    for stem in ["audit_assigned", "audit_rescheduled", "audit_deleted"] {
        let m = render(stem, Markup::Plain, &with_audit(stem));
        assert!(
            m.title.contains("Food Safety Daily Check"),
            "{stem}: {}",
            m.title
        );
        assert_eq!(
            field(&m, "Where"),
            Some("Kitchen — Store #12 Riverside"),
            "{stem}"
        );
    }
}

#[test]
fn completed_audit_shows_score_result_and_report_link() {
    let m = render("audit_completed", Markup::Plain, &sample("audit_completed"));
    assert_eq!(
        m.title,
        "Audit failed: Food Safety Daily Check — Northwind Foods"
    );
    assert_eq!(field(&m, "Score"), Some("62 (Needs improvement)"));
    assert_eq!(field(&m, "Result"), Some("Failed"));
    assert_eq!(field(&m, "Took"), Some("36 min"));
    assert_eq!(
        m.link.unwrap().url,
        "https://app.monitorqa.com/audits/archive/b4d2f8e3-5c6a-4f9b-8d1e-2a3b4c5d6e7f"
    );
    assert_eq!(m.color.as_deref(), Some("danger"));

    let mut passed = sample("audit_completed");
    passed["data"]["isFailed"] = json!(false);
    let m = render("audit_completed", Markup::Plain, &passed);
    assert_eq!(
        m.title,
        "Audit completed: Food Safety Daily Check — Northwind Foods"
    );
    assert_eq!(field(&m, "Result"), Some("Passed"));
    assert_eq!(m.color.as_deref(), Some("good"));
}

#[test]
fn assigned_action_is_danger_when_high_and_warning_otherwise() {
    let mut event = sample("corrective_action_assigned");
    let m = render("corrective_action_assigned", Markup::Plain, &event);
    assert_eq!(m.color.as_deref(), Some("danger"));
    event["data"]["correctiveAction"]["priority"] = json!(0);
    let m = render("corrective_action_assigned", Markup::Plain, &event);
    assert_eq!(m.color.as_deref(), Some("warning"));
    assert_eq!(field(&m, "Priority"), Some("Low"));
}

#[test]
fn template_events_name_the_template() {
    let m = render(
        "template_deleted",
        Markup::Plain,
        &sample("template_deleted"),
    );
    assert_eq!(m.title, "Audit template deleted: Food Safety Daily Check");
    assert_eq!(field(&m, "Company"), Some("Northwind Foods"));
}

#[test]
fn unknown_event_shows_type_company_and_top_level_data() {
    let event = json!({
        "event": "AUDIT_ARCHIVED",
        "data": {"auditId": "a1", "count": 3, "nested": {"k": "v"}},
        "company": {"name": "Northwind Foods"},
    });
    let m = render(UNKNOWN_EVENT, Markup::Plain, &event);
    assert_eq!(m.title, "MonitorQA event AUDIT_ARCHIVED — Northwind Foods");
    assert!(
        m.text
            .ends_with("auditId: a1\ncount: 3\nnested: {\"k\":\"v\"}"),
        "{}",
        m.text
    );
}

/// The sample event carrying only its id and company, as MonitorQA may send it.
fn minimal(stem: &str) -> Value {
    let event = sample(stem);
    let data = &event["data"];
    let id = ["correctiveActionId", "auditId", "id"]
        .into_iter()
        .find(|k| data.get(*k).is_some())
        .unwrap();
    json!({"event": event["event"], "data": {id: data[id]}, "company": event["company"]})
}

#[test]
fn every_default_reads_well_for_an_event_carrying_only_its_id() {
    for (stem, _) in sample_events() {
        let event = minimal(&stem);
        let name = Templates::default_name(event["event"].as_str().unwrap());
        for markup in Markup::ALL {
            let m = render(&name, markup, &event);
            let title = m.title.trim_end();
            assert!(!title.is_empty(), "{name} / {markup:?}: no title");
            assert!(
                !title.ends_with(':') && !title.ends_with('—') && !title.ends_with('-'),
                "{name} / {markup:?}: the title dangles: {title:?}"
            );
            assert!(!m.text.trim().is_empty(), "{name} / {markup:?}: no body");
        }
    }
}

#[test]
fn every_minimal_message_names_its_object_by_its_short_id() {
    let mut poor = Vec::new();
    for (stem, _) in sample_events() {
        let event = minimal(&stem);
        let data = event["data"].as_object().unwrap();
        let id = data.values().next().and_then(Value::as_str).unwrap();
        let name = Templates::default_name(event["event"].as_str().unwrap());
        let m = render(&name, Markup::Plain, &event);
        let all = format!("{}\n{}", m.title, m.text);
        if !all.contains(&id[..8])
            || all.contains("(unnamed)")
            || m.text.split_whitespace().count() <= 2
        {
            poor.push(format!("{name}: {all:?}"));
        }
    }
    assert!(
        poor.is_empty(),
        "messages that do not say which object, or say next to nothing:\n{}",
        poor.join("\n")
    );
}

#[test]
fn a_minimal_assigned_created_or_updated_action_names_its_id_and_links_to_it() {
    for stem in [
        "corrective_action_assigned",
        "corrective_action_created",
        "corrective_action_updated",
    ] {
        let event = minimal(stem);
        let id = event["data"]["correctiveActionId"].as_str().unwrap();
        let m = render(stem, Markup::Plain, &event);
        assert!(m.text.contains(&id[..8]), "{stem}: {:?}", m.text);
        let link = m.link.unwrap_or_else(|| panic!("{stem}: no link"));
        assert_eq!(
            link.url,
            format!("https://app.monitorqa.com/actions/pending/{id}")
        );
    }
}

/// The phone preview (Slack's notification text, the email subject) of every default: one
/// line saying what, where and by when for a full event, and no dangling word for an event
/// that carries only its id.
#[test]
fn every_preview_says_what_where_and_by_when_on_one_line() {
    let previews = [
        (
            "corrective_action_rejected",
            "Rejected, to do again: Repair walk-in freezer at Kitchen — Store #12 Riverside, due Sun 22 Nov, 23:59 WET",
        ),
        (
            "corrective_action_assigned",
            "Assigned to Tomás Ortega: Repair walk-in freezer at Kitchen — Store #12 Riverside, due Sun 22 Nov, 23:59 WET",
        ),
        (
            "corrective_action_updated",
            "Updated: Repair walk-in freezer at Kitchen — Store #12 Riverside, due Tue 24 Nov, 23:59 WET",
        ),
        (
            "corrective_action_approved",
            "Approved: Repair walk-in freezer at Kitchen — Store #12 Riverside",
        ),
    ];
    for (stem, expected) in previews {
        let m = render(stem, Markup::Plain, &sample(stem));
        assert_eq!(m.preview, expected, "{stem}");
    }
    let audit = render("audit_expired", Markup::Plain, &with_audit("audit_expired"));
    assert_eq!(
        audit.preview,
        "Audit missed: Food Safety Daily Check at Kitchen — Store #12 Riverside, was due Fri 20 Nov, 13:00 UTC"
    );
    let mut updated = sample("corrective_action_updated");
    updated["changes"] =
        json!({"known": true, "fields": [{"label": "Due"}, {"label": "Description"}]});
    let m = render("corrective_action_updated", Markup::Plain, &updated);
    assert!(
        m.preview.starts_with("Updated (Due, Description): Repair"),
        "{}",
        m.preview
    );

    for (stem, event) in sample_events() {
        let kind = event["event"].as_str().unwrap().to_string();
        let name = Templates::default_name(&kind);
        let data = &event["data"];
        let id = ["correctiveActionId", "auditId", "id"]
            .into_iter()
            .find(|k| data.get(*k).is_some())
            .unwrap();
        let minimal = json!({"event": kind, "data": {id: data[id]}, "company": event["company"]});
        for (what, ctx) in [("full", &event), ("id only", &minimal)] {
            for markup in [Markup::Plain, Markup::Slack, Markup::Html] {
                let m = render(&name, markup, ctx);
                let shown = if m.preview.is_empty() {
                    &m.title
                } else {
                    &m.preview
                };
                assert!(
                    !shown.is_empty() && !shown.contains('\n'),
                    "{stem} {what}: {shown:?}"
                );
                for dangling in [":", " at", ", due", " for", " to", "—"] {
                    assert!(!shown.ends_with(dangling), "{stem} {what}: {shown:?}");
                }
            }
        }
    }
}
