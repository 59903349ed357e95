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

/// The stems of the corrective-action and audit event types: the ones a target with
/// `threads: true` puts in a conversation.
fn threaded_stems() -> Vec<String> {
    let stems: Vec<String> = EVENT_KINDS
        .iter()
        .filter(|k| k.starts_with("CORRECTIVE_ACTION_") || k.starts_with("AUDIT_"))
        .map(|k| k.to_ascii_lowercase())
        .collect();
    assert_eq!(stems.len(), 13);
    stems
}

/// The sample of a threaded event type as the relay renders it: an id-only audit event with
/// the looked-up `audit`.
fn full(stem: &str) -> Value {
    if stem.starts_with("audit_") && stem != "audit_completed" {
        with_audit(stem)
    } else {
        sample(stem)
    }
}

fn strict(name: &str, markup: Markup, ctx: &Value) -> Message {
    Templates::builtin()
        .render_in(crate::template::Mode::Strict, name, markup, ctx)
        .unwrap_or_else(|e| panic!("{e}"))
}

/// In a conversation: the object (`topic`), where it stands after the event (`status`) and
/// what the thread's reply says (`reply`), for the full sample of every threaded event type
/// and for the same event carrying only its id.
#[test]
fn every_thread_key_says_what_where_it_stands_and_what_happened() {
    const ACTION: &str = "Corrective action CA-2026-0147: Repair walk-in freezer";
    const AUDIT: &str =
        "Audit AUD-2026-0311: Food Safety Daily Check at Kitchen — Store #12 Riverside";
    let expected = [
        (
            "corrective_action_created",
            ACTION,
            "Open → waiting for Tomás Ortega, due Sun 22 Nov, 23:59 WET",
            "Raised by Priya Natarajan. Tomás Ortega must act by Sun 22 Nov, 23:59 WET.\n\
             Call the refrigeration contractor and move stock to the backup freezer",
        ),
        (
            "corrective_action_assigned",
            ACTION,
            "Assigned to Tomás Ortega, due Sun 22 Nov, 23:59 WET",
            "Assigned. Tomás Ortega must act by Sun 22 Nov, 23:59 WET.\n\
             Call the refrigeration contractor and move stock to the backup freezer",
        ),
        (
            "corrective_action_submitted",
            ACTION,
            "Submitted by Tomás Ortega → waiting for approval",
            "Submitted for review by Tomás Ortega:\n\
             Contractor replaced the compressor relay; freezer back at -20 °C",
        ),
        (
            "corrective_action_approved",
            ACTION,
            "Approved ✓",
            "Approved by Helen O'Brien on Sat 21 Nov, 17:30 WET; nothing is left to do.",
        ),
        (
            "corrective_action_rejected",
            ACTION,
            "Rejected → waiting for Tomás Ortega, due Sun 22 Nov, 23:59 WET",
            "Rejected. Tomás Ortega must act again by Sun 22 Nov, 23:59 WET.\n\
             Submitted: Moved stock only; freezer still at -12 °C",
        ),
        (
            "corrective_action_deleted",
            "Corrective action 7b8c9d0e",
            "Deleted",
            "Deleted in MonitorQA.",
        ),
        (
            "corrective_action_expired",
            ACTION,
            "Expired ✗ — was due Sun 22 Nov, 23:59 WET",
            "Expired: not done by Sun 22 Nov, 23:59 WET.",
        ),
        (
            "corrective_action_updated",
            ACTION,
            "Updated — waiting for Tomás Ortega, due Tue 24 Nov, 23:59 WET",
            "Updated.",
        ),
        (
            "audit_assigned",
            AUDIT,
            "Assigned to Priya Natarajan, Tomás Ortega, due Fri 20 Nov, 13:00 UTC",
            "Assigned. Priya Natarajan, Tomás Ortega must carry it out by Fri 20 Nov, 13:00 UTC.",
        ),
        (
            "audit_rescheduled",
            AUDIT,
            "Reopened → waiting for Priya Natarajan, Tomás Ortega, due Fri 20 Nov, 13:00 UTC",
            "Reopened. Priya Natarajan, Tomás Ortega must carry it out again by Fri 20 Nov, 13:00 UTC.",
        ),
        (
            "audit_completed",
            AUDIT,
            "Failed ✗, score 62 % (Needs improvement)",
            "Failed, score 62 % (Needs improvement).\n\
             Completed by Priya Natarajan on Fri 20 Nov, 06:41 UTC, in 36 min.",
        ),
        (
            "audit_expired",
            AUDIT,
            "Expired ✗ — was due Fri 20 Nov, 13:00 UTC",
            "Expired: not carried out by Fri 20 Nov, 13:00 UTC.",
        ),
        ("audit_deleted", AUDIT, "Deleted", "Deleted in MonitorQA."),
    ];
    // With only the id: no dangling "by", ", due" or "→ waiting for".
    let id_only = [
        ("corrective_action_created", "Open", "Raised."),
        ("corrective_action_assigned", "Assigned", "Assigned."),
        (
            "corrective_action_submitted",
            "Submitted → waiting for approval",
            "Submitted for review.",
        ),
        (
            "corrective_action_approved",
            "Approved ✓",
            "Approved; nothing is left to do.",
        ),
        ("corrective_action_rejected", "Rejected", "Rejected."),
        (
            "corrective_action_deleted",
            "Deleted",
            "Deleted in MonitorQA.",
        ),
        (
            "corrective_action_expired",
            "Expired ✗",
            "Expired: not done in time.",
        ),
        ("corrective_action_updated", "Updated", "Updated."),
        ("audit_assigned", "Assigned", "Assigned."),
        ("audit_rescheduled", "Reopened", "Reopened."),
        ("audit_completed", "Completed ✓", "Completed."),
        (
            "audit_expired",
            "Expired ✗",
            "Expired: not carried out in time.",
        ),
        ("audit_deleted", "Deleted", "Deleted in MonitorQA."),
    ];
    let stems: Vec<&str> = expected.iter().map(|(s, ..)| *s).collect();
    assert_eq!(stems.len(), threaded_stems().len());
    assert!(threaded_stems().iter().all(|s| stems.contains(&s.as_str())));
    for (stem, topic, status, reply) in expected {
        let m = strict(stem, Markup::Plain, &full(stem));
        assert_eq!(
            (m.topic.as_str(), m.status.as_str(), m.reply.as_str()),
            (topic, status, reply),
            "{stem}"
        );
    }
    for (stem, status, reply) in id_only {
        let event = minimal(stem);
        let id = event["data"]
            .as_object()
            .and_then(|d| d.values().next())
            .and_then(Value::as_str)
            .unwrap();
        let m = strict(stem, Markup::Plain, &event);
        let object = if stem.starts_with("audit_") {
            "Audit"
        } else {
            "Corrective action"
        };
        let topic = format!("{object} {}", &id[..8]);
        assert_eq!(
            (m.topic.as_str(), m.status.as_str(), m.reply.as_str()),
            (topic.as_str(), status, reply),
            "{stem}, id only"
        );
    }

    // What the relay adds: the changes since its last event, a passed audit, a score of 0.
    let mut updated = sample("corrective_action_updated");
    updated["changes"] = json!({"known": true, "fields": [
        {"label": "Due", "old": "Sun 22 Nov 2026, 23:59 WET", "new": "Tue 24 Nov 2026, 23:59 WET"},
        {"label": "Priority", "old": "Medium", "new": "High"},
    ]});
    let m = strict("corrective_action_updated", Markup::Plain, &updated);
    assert_eq!(
        m.status,
        "Updated (Due, Priority) — waiting for Tomás Ortega, due Tue 24 Nov, 23:59 WET"
    );
    assert_eq!(
        m.reply,
        "Updated:\n• Due: Sun 22 Nov 2026, 23:59 WET → Tue 24 Nov 2026, 23:59 WET\n• Priority: Medium → High"
    );
    updated["data"]["correctiveAction"]["status"] = json!(3);
    let m = strict("corrective_action_updated", Markup::Plain, &updated);
    assert_eq!(m.status, "Updated (Due, Priority) — waiting for approval");
    updated["changes"] = json!({"known": false, "reason": "no_earlier_event", "fields": []});
    let m = strict("corrective_action_updated", Markup::Plain, &updated);
    assert_eq!(m.status, "Updated — waiting for approval");
    assert_eq!(
        m.reply,
        "Updated. What changed is not known: no earlier event about it is stored here."
    );

    let mut reopened = with_audit("audit_rescheduled");
    reopened["changes"] = json!({"known": true, "fields": [
        {"label": "Due", "old": "Thu 19 Nov 2026, 13:00 UTC", "new": "Fri 20 Nov 2026, 13:00 UTC"},
    ]});
    let m = strict("audit_rescheduled", Markup::Plain, &reopened);
    assert_eq!(
        m.reply,
        "Reopened. Priya Natarajan, Tomás Ortega must carry it out again by Fri 20 Nov, 13:00 UTC.\n\
         • Due: Thu 19 Nov 2026, 13:00 UTC → Fri 20 Nov 2026, 13:00 UTC"
    );

    let mut passed = sample("audit_completed");
    passed["data"]["isFailed"] = json!(false);
    passed["data"]["score"] = json!(0);
    passed["data"]["scoreLabel"] = json!(null);
    let m = strict("audit_completed", Markup::Plain, &passed);
    assert_eq!(m.status, "Completed ✓, score 0 %");
    assert!(
        m.reply.starts_with("Passed, score 0 %.\nCompleted by "),
        "{}",
        m.reply
    );

    // Every markup: one line of topic and status, a reply, no markup syntax of the template's own.
    for stem in threaded_stems() {
        for ctx in [full(&stem), minimal(&stem)] {
            for markup in Markup::ALL {
                let m = strict(&stem, markup, &ctx);
                for (key, value) in [
                    ("topic", &m.topic),
                    ("status", &m.status),
                    ("reply", &m.reply),
                ] {
                    assert!(!value.is_empty(), "{stem} / {markup:?}: no {key}");
                    assert!(!value.contains('*'), "{stem} / {markup:?}: {key} {value:?}");
                }
                assert!(
                    !m.topic.contains('\n') && !m.status.contains('\n'),
                    "{stem}"
                );
            }
        }
    }
}

/// The topic is the Slack parent's header and the email thread's subject: every event of one
/// corrective action (or audit) must give the same one, whichever its type.
#[test]
fn every_event_of_one_object_has_the_same_topic() {
    let stems = threaded_stems();
    let (actions, audits): (Vec<&String>, Vec<&String>) = stems
        .iter()
        .partition(|s| s.starts_with("corrective_action_"));

    // The corrective-action samples are all about one action; all but the deletion (whose
    // `correctiveAction` is null) carry its details, and give the same topic.
    let id = sample("corrective_action_created")["data"]["correctiveActionId"].clone();
    let mut topics = std::collections::BTreeSet::new();
    for stem in &actions {
        let event = sample(stem);
        assert_eq!(event["data"]["correctiveActionId"], id, "{stem}");
        if !event["data"]["correctiveAction"].is_null() {
            topics.insert(strict(stem, Markup::Plain, &event).topic);
        }
    }
    assert_eq!(
        topics.into_iter().collect::<Vec<_>>(),
        ["Corrective action CA-2026-0147: Repair walk-in freezer"]
    );

    // One context per object rendered with every type's template: with the details, with the
    // id only, and (audits) with the details in `data` as AUDIT_COMPLETED has them or in the
    // looked-up `audit` as the other audit events have them.
    let shared: [(&Vec<&String>, Vec<Value>); 2] = [
        (
            &actions,
            vec![
                sample("corrective_action_updated"),
                minimal("corrective_action_created"),
            ],
        ),
        (
            &audits,
            vec![
                with_audit("audit_expired"),
                sample("audit_completed"),
                minimal("audit_expired"),
            ],
        ),
    ];
    for (stems, contexts) in shared {
        for ctx in &contexts {
            for markup in [Markup::Plain, Markup::Slack, Markup::Html] {
                let topics: std::collections::BTreeSet<String> = stems
                    .iter()
                    .map(|stem| strict(stem, markup, ctx).topic)
                    .collect();
                assert_eq!(topics.len(), 1, "{markup:?} / {}: {topics:?}", ctx["event"]);
            }
        }
    }
    let action = strict(
        "corrective_action_created",
        Markup::Plain,
        &sample("corrective_action_updated"),
    );
    let audit = strict(
        "audit_assigned",
        Markup::Plain,
        &with_audit("audit_expired"),
    );
    assert_eq!(
        audit.topic,
        "Audit AUD-2026-0311: Food Safety Daily Check at Kitchen — Store #12 Riverside"
    );

    // A type this relay does not know yet, of an object it threads, stays in the same thread
    // under the same topic.
    let mut new_kind = sample("corrective_action_updated");
    new_kind["event"] = json!("CORRECTIVE_ACTION_REOPENED");
    assert_eq!(
        Templates::default_name("CORRECTIVE_ACTION_REOPENED"),
        UNKNOWN_EVENT
    );
    let m = strict(UNKNOWN_EVENT, Markup::Plain, &new_kind);
    assert_eq!(m.topic, action.topic);
    assert_eq!(m.status, "MonitorQA event CORRECTIVE_ACTION_REOPENED");
    let mut new_kind = with_audit("audit_expired");
    new_kind["event"] = json!("AUDIT_ARCHIVED");
    assert_eq!(
        strict(UNKNOWN_EVENT, Markup::Plain, &new_kind).topic,
        audit.topic
    );
    let m = strict(UNKNOWN_EVENT, Markup::Plain, &sample("template_created"));
    assert_eq!(m.topic, "MonitorQA event TEMPLATE_CREATED");
}

/// The thread's parent already shows the object, its place and its fields: a reply says what
/// the event adds, without the action's or audit's name, number or place.
#[test]
fn a_reply_does_not_repeat_the_object_the_parent_shows() {
    for stem in threaded_stems() {
        let m = strict(&stem, Markup::Plain, &full(&stem));
        // "Corrective action CA-…: <name>", "Audit AUD-…: <template> at <place>"
        let name = m
            .topic
            .split_once(": ")
            .map(|(_, rest)| rest.split(" at ").next().unwrap_or(rest));
        let mut shown: Vec<&str> = name.into_iter().collect();
        shown.extend(
            ["Where", "Action", "Audit"]
                .iter()
                .filter_map(|l| field(&m, l)),
        );
        // The name and the place at least (a deleted action is known by its id alone).
        if stem != "corrective_action_deleted" {
            assert!(shown.len() >= 2, "{stem}: {shown:?}");
        }
        for s in shown {
            assert!(
                !m.reply.contains(s),
                "{stem}: the reply repeats {s:?}: {:?}",
                m.reply
            );
        }
    }
}
