use std::path::{Path, PathBuf};

use super::*;
use crate::template::Mode;
use crate::template::{Link, TemplateError};

fn repo_templates() -> Templates {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
    Templates::load_dir(&dir).unwrap_or_else(|e| panic!("{}", errors_text(&e)))
}

fn file_name(e: &TemplateError) -> String {
    e.file.file_name().unwrap().to_string_lossy().into_owned()
}

#[test]
fn a_file_overrides_the_builtin_of_the_same_name_and_adds_new_ones() {
    let t = load_ok(&[
        ("audit_expired.yaml", "title: 'Missed: {{company.name}}'\n"),
        ("night-shift.yml", "title: 'Night shift'\n"),
        ("README.md", "# not a template {{\n"),
        (".hidden.yaml", "not: [valid"),
    ]);
    let m = t
        .render("audit_expired", Markup::Plain, &sample("audit_expired"))
        .unwrap();
    assert_eq!(
        m,
        Message {
            preview: String::new(),
            title: "Missed: Northwind Foods".into(),
            ..Message::default()
        }
    );
    assert!(t.contains("night-shift") && t.contains("audit_completed"));
    assert_eq!(t.names().count(), 17);
}

#[test]
fn a_missing_directory_gives_the_builtins() {
    let t = Templates::load_dir(Path::new("/nonexistent/templates")).unwrap();
    assert_eq!(t.names().count(), Templates::builtin().names().count());
}

#[test]
fn the_example_templates_in_the_repository_load_and_render() {
    let t = repo_templates();
    let event = sample("corrective_action_rejected");
    let m = t.render("urgent-action", Markup::Teams, &event).unwrap();
    assert_eq!(
        m.title,
        "Urgent: Repair walk-in freezer at Kitchen — Store #12 Riverside"
    );
    assert!(
        m.text
            .starts_with("Tomás Ortega must fix this by Sun 22 Nov 2026, 23:59 WET.")
    );
    assert_eq!(m.color.as_deref(), Some("danger"));
    assert!(
        t.check_against_samples("urgent-action", &[event.clone(), with_audit_action()])
            .is_empty()
    );
    let body = t.render_payload("erp-payload", "webhook", &event).unwrap();
    assert_eq!(body["action"]["priorityName"], "High");
    assert_eq!(body["action"]["assignees"][0]["name"], "Tomás Ortega");
    assert!(
        t.contains_payload("erp-payload", "webhook") && !t.contains_payload("erp-payload", "slack")
    );
    assert!(t.check_default_templates().is_empty());
}

fn with_audit_action() -> Value {
    let mut event = sample("corrective_action_submitted");
    event["audit"] = sample("audit_completed")["data"].clone();
    event
}

#[test]
fn a_handlebars_syntax_error_names_the_file_line_and_column() {
    let yaml = "title: ok\ntext: |-\n  first line\n  second {{#if data.x}} unclosed\nfields:\n  Due: 'a {{b'\n";
    let errors = load(&[("broken.yaml", yaml)]).unwrap_err();
    assert_eq!(errors.len(), 2, "{}", errors_text(&errors));
    assert_eq!(file_name(&errors[0]), "broken.yaml");
    assert!(errors[0].message.starts_with("text:"), "{}", errors[0]);
    assert!(matches!(errors[0].line, Some(3..=4)), "{}", errors[0]);
    assert_eq!(errors[1].line, Some(6), "{}", errors[1]);
    assert!(
        errors[1].message.starts_with("field \"Due\":"),
        "{}",
        errors[1]
    );
    let shown = errors[1].to_string();
    assert!(shown.contains("broken.yaml:6:"), "{shown}");
}

#[test]
fn yaml_mistakes_are_reported_with_their_line_for_every_file() {
    let errors = load(&[
        ("a.yaml", "title: x\ntitel: y\n"),
        ("b.yaml", "title: x\ntitle: y\n"),
        ("c.yaml", "text: no title\n"),
        ("d.yaml", "title: [unclosed\n"),
    ])
    .unwrap_err();
    let files: Vec<String> = errors.iter().map(file_name).collect();
    assert_eq!(
        files,
        ["a.yaml", "b.yaml", "c.yaml", "d.yaml"],
        "{}",
        errors_text(&errors)
    );
    assert_eq!(errors[0].line, Some(2), "{}", errors[0]);
    assert_eq!(errors[1].line, Some(2), "{}", errors[1]);
}

#[test]
fn unescaped_expressions_and_partials_are_refused_at_load() {
    for title in [
        "'{{{company.name}}}'",
        "'{{&company.name}}'",
        "'{{#if x}}{{{y}}}{{/if}}'",
        "'{{> other}}'",
    ] {
        let errors = load(&[("t.yaml", &format!("title: {title}\n"))]).unwrap_err();
        assert!(
            errors[0].message.contains("not allowed"),
            "{title}: {}",
            errors[0]
        );
        assert_eq!(errors[0].line, Some(1));
    }
    let errors = load(&[("raw.webhook.hbs", "{\"a\": \"{{{data.x}}}\"}")]).unwrap_err();
    assert!(errors[0].message.contains("not allowed"), "{}", errors[0]);
}

#[test]
fn a_missing_field_is_a_render_error_with_template_part_and_line() {
    let yaml = "title: fine\nfields:\n  Where: 'at {{data.correctiveAction.auditObjekt.name}}'\n";
    let t = load_ok(&[("typo.yaml", yaml)]);
    let err = t
        .render_in(
            Mode::Strict,
            "typo",
            Markup::Slack,
            &sample("corrective_action_rejected"),
        )
        .unwrap_err();
    assert_eq!(&*err.template, "typo");
    assert_eq!(err.part, "field \"Where\"");
    assert_eq!((err.line, err.column), (Some(3), Some(14)), "{err}");
    assert!(
        err.message
            .contains("data.correctiveAction.auditObjekt.name"),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("typo.yaml:3:14: template `typo`, field \"Where\""),
        "{err}"
    );

    let errors = t.check_against_samples("typo", &[sample("corrective_action_rejected")]);
    assert_eq!(errors.len(), 1, "{}", errors_text(&errors));
    assert_eq!((errors[0].line, errors[0].column), (Some(3), Some(14)));
    assert!(
        errors[0]
            .to_string()
            .contains("typo.yaml:3:14: with sample CORRECTIVE_ACTION_REJECTED"),
        "{}",
        errors[0]
    );
}

#[test]
fn an_unknown_helper_and_an_unknown_template_are_render_errors() {
    let t = load_ok(&[("h.yaml", "title: '{{shout company.name}}'\n")]);
    let err = t
        .render("h", Markup::Plain, &sample("audit_expired"))
        .unwrap_err();
    assert!(err.message.contains("shout"), "{err}");
    let err = t
        .render("nope", Markup::Plain, &sample("audit_expired"))
        .unwrap_err();
    assert_eq!(&*err.template, "nope");
    assert!(!t.check_against_samples("nope", &[]).is_empty());
}

#[test]
fn a_link_must_be_an_http_url_and_an_empty_one_is_dropped() {
    let yaml = |url: &str| format!("title: t\nlink:\n  url: '{url}'\n");
    let ctx = json!({"data": {"u": "javascript:alert(1)", "e": ""}});
    let t = load_ok(&[
        ("a.yaml", &yaml("{{data.u}}")),
        ("b.yaml", &yaml("{{data.e}}")),
        ("c.yaml", &yaml("https://x.example/a b")),
    ]);
    let err = t.render("a", Markup::Html, &ctx).unwrap_err();
    assert_eq!(
        (err.part.as_str(), err.line),
        ("link.url", Some(3)),
        "{err}"
    );
    assert_eq!(t.render("b", Markup::Html, &ctx).unwrap().link, None);
    assert!(t.render("c", Markup::Html, &ctx).is_err());
}

#[test]
fn the_link_url_is_not_escaped_for_the_markup_but_its_label_is() {
    let yaml = "title: t\nlink:\n  url: 'https://x.example/?a=1&b={{data.q}}'\n  label: 'Open {{data.l}}'\n";
    let ctx = json!({"data": {"q": "2", "l": "<b>"}});
    let link = load_ok(&[("l.yaml", yaml)])
        .render("l", Markup::Html, &ctx)
        .unwrap()
        .link
        .unwrap();
    assert_eq!(
        link,
        Link {
            url: "https://x.example/?a=1&b=2".into(),
            label: "Open &lt;b&gt;".into()
        }
    );
}

#[test]
fn a_colour_must_be_a_known_name_or_hex() {
    let t = load_ok(&[
        (
            "a.yaml",
            "title: t\ncolor: '{{#if data.bad}}danger{{else}}#00AA11{{/if}}'\n",
        ),
        ("b.yaml", "title: t\ncolor: 'red; font-size: 90px'\n"),
    ]);
    let ctx = json!({"data": {"bad": false}});
    assert_eq!(
        t.render("a", Markup::Slack, &ctx).unwrap().color.as_deref(),
        Some("#00aa11")
    );
    let err = t.render("b", Markup::Slack, &ctx).unwrap_err();
    assert_eq!((err.part.as_str(), err.line), ("color", Some(2)), "{err}");
}

#[test]
fn a_payload_template_renders_json_with_escaped_values() {
    let hbs = "{\"name\": \"{{company.name}}\", \"n\": {{data.n}}, \"users\": {{json data.users}}, \"p\": \"{{priority_name data.n}}\"}";
    let t = load_ok(&[("hook.slack.hbs", hbs)]);
    let name = "Quote \" back\\slash\nnewline </script> {{x}}";
    let ctx = json!({"company": {"name": name}, "data": {"n": 2, "users": [{"name": "A \"B\""}]}});
    let body = t.render_payload("hook", "slack", &ctx).unwrap();
    assert_eq!(
        body,
        json!({"name": name, "n": 2, "users": [{"name": "A \"B\""}], "p": "High"})
    );
}

#[test]
fn a_payload_that_is_not_json_is_an_error_naming_the_template() {
    let t = load_ok(&[("bad.teams.hbs", "{\"n\": {{data.s}} }")]);
    let err = t
        .render_payload("bad", "teams", &json!({"data": {"s": "1, \"x\": 2"}}))
        .unwrap_err();
    assert_eq!(
        (&*err.template, err.part.as_str()),
        ("bad", "payload (teams)")
    );
    assert!(err.message.contains("not valid JSON"), "{err}");
    assert!(err.file.unwrap().ends_with("bad.teams.hbs"));
    let err = t
        .render_payload_in(Mode::Strict, "bad", "teams", &json!({"data": {}}))
        .unwrap_err();
    assert_eq!(err.line, Some(1), "{err}");
}

#[test]
fn delivery_renders_a_missing_optional_field_as_nothing_while_check_rejects_it() {
    let yaml = "title: 'Action {{data.correctiveAction.name}}'
fields:
  Tags: '{{join data.correctiveAction.tags \"name\"}}'
  Priority: '{{priority_name data.correctiveAction.priority}}'
";
    let t = load_ok(&[("a.yaml", yaml)]);
    let event = json!({"event": "CORRECTIVE_ACTION_REJECTED", "data": {"correctiveAction": {"name": "Fix it"}}});
    for markup in Markup::ALL {
        let m = t.render("a", markup, &event).unwrap();
        assert_eq!(m.title, "Action Fix it");
        assert!(m.fields.is_empty(), "{:?}", m.fields);
        assert!(t.render_in(Mode::Strict, "a", markup, &event).is_err());
    }
}

#[test]
fn payload_file_names_must_name_a_known_kind() {
    let errors = load(&[
        ("erp.sms.hbs", "{}"),
        ("nokind.hbs", "{}"),
        ("bad name.webhook.hbs", "{}"),
    ])
    .unwrap_err();
    assert_eq!(errors.len(), 3, "{}", errors_text(&errors));
    assert!(
        errors
            .iter()
            .any(|e| e.message.contains("unknown payload kind `sms`"))
    );
}

#[test]
fn template_error_displays_as_file_line_column_message() {
    let e = TemplateError {
        file: PathBuf::from("templates/x.yaml"),
        line: Some(4),
        column: Some(9),
        message: "boom".into(),
    };
    assert_eq!(e.to_string(), "templates/x.yaml:4:9: boom");
    let e = TemplateError {
        line: None,
        column: None,
        ..e
    };
    assert_eq!(e.to_string(), "templates/x.yaml: boom");
}

#[test]
fn every_sample_event_is_embedded() {
    let samples = sample_events();
    assert_eq!(samples.len(), 15);
    for kind in crate::template::EVENT_KINDS {
        assert!(crate::template::sample_event(kind).is_some(), "{kind}");
    }
}

#[test]
fn templates_can_be_shared_between_threads() {
    fn shareable<T: Send + Sync>() {}
    shareable::<Templates>();
}

#[test]
fn a_template_that_is_a_fifo_or_over_the_size_cap_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("audit_expired.yaml");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let Err(errors) = Templates::load_dir(dir.path()) else {
        panic!("a FIFO is refused");
    };
    assert_eq!(file_name(&errors[0]), "audit_expired.yaml");
    assert!(errors[0].to_string().contains("a FIFO"), "{}", errors[0]);

    std::fs::remove_file(&fifo).unwrap();
    let big = vec![b'#'; crate::config::MAX_FILE_BYTES as usize + 1];
    std::fs::write(dir.path().join("big.yaml"), big).unwrap();
    let Err(errors) = Templates::load_dir(dir.path()) else {
        panic!("a huge file is refused");
    };
    assert_eq!(file_name(&errors[0]), "big.yaml");
    assert!(
        errors[0].to_string().contains("larger than 4 MiB"),
        "{}",
        errors[0]
    );
}
