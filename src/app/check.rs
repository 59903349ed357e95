//! Strict mode: every template a configuration uses is rendered against the sample events of
//! every event type it can meet, and every target's request is built from the result, so a
//! typo is an error at load (`check`, start-up, reload), never a broken message at 3 a.m.

use std::collections::BTreeSet;

use serde_json::Value;

use super::App;
use crate::compose::{self, ComposeError, DeliveryInfo};
use crate::config::{ConfigError, ConfigErrors, Location};
use crate::rules::Rule;
use crate::template::{TemplateError, sample_events};

/// Template load errors as configuration errors.
pub fn template_errors(errors: Vec<TemplateError>) -> ConfigErrors {
    ConfigErrors {
        errors: errors.into_iter().map(|e| from_template(e, None)).collect(),
    }
}

fn from_template(e: TemplateError, context: Option<String>) -> ConfigError {
    let location = e.line.map(|line| Location {
        file: e.file.clone(),
        line,
        column: e.column.unwrap_or(1),
    });
    let message = if location.is_some() {
        e.message
    } else {
        format!("{}: {}", e.file.display(), e.message)
    };
    ConfigError {
        location,
        context,
        message,
    }
}

/// Things that are valid but probably wrong: a `where` path that no event of the rule's types
/// has, or an operand that can never match its field (see [`crate::rules::shapes`]), a
/// template that loops inside a loop over event data (see
/// [`crate::template::Templates::warnings`]), an exact event type MonitorQA does not document
/// (a typo like `AUDIT_EXPIRD` would never match). MonitorQA can add fields and event types,
/// so these are warnings that `check` prints (`check --strict` refuses the file for them),
/// not errors.
pub fn warnings(app: &App) -> Vec<String> {
    let known = crate::event::EVENT_TYPES;
    let mut out: Vec<String> = app
        .config
        .warnings
        .iter()
        .map(ToString::to_string)
        .collect();
    out.extend(app.templates.warnings().iter().map(ToString::to_string));
    for rule in app.config.rules.rules() {
        for event in rule.exact_events() {
            if !known.contains(&event.as_str()) {
                let hint = crate::config::did_you_mean(event, known);
                out.push(format!(
                    "rule {:?}: event type `{event}` is not one MonitorQA documents, so the rule \
                     matches only if MonitorQA starts sending it{hint}",
                    rule.name
                ));
            }
        }
    }
    out
}

/// Renders and builds every (rule, target, sample event) the configuration can produce.
pub fn strict(app: &App) -> Result<(), ConfigErrors> {
    let mut errors: Vec<ConfigError> = app
        .templates
        .check_default_templates()
        .into_iter()
        .map(|e| from_template(e, None))
        .collect();
    let samples = sample_events();
    let mut seen = BTreeSet::new();
    for rule in app.config.rules.rules() {
        errors.extend(check_rule(app, rule, &samples, &mut seen));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ConfigErrors { errors })
    }
}

fn check_rule(
    app: &App,
    rule: &Rule,
    samples: &[(String, Value)],
    seen: &mut BTreeSet<String>,
) -> Vec<ConfigError> {
    let context = || Some(format!("rule {:?}", rule.name));
    if let Some(name) = &rule.template
        && !app.templates.contains(name)
    {
        let known: Vec<&str> = app.templates.names().collect();
        let message = format!(
            "template `{name}` does not exist: add templates/{name}.yaml (known: {})",
            known.join(", ")
        );
        return vec![ConfigError {
            location: None,
            context: context(),
            message,
        }];
    }
    let mut errors = Vec::new();
    let relevant = samples.iter().filter(|(_, ev)| handles(rule, ev));
    for (sample_name, event) in relevant {
        for target in &rule.notify {
            // The same (template, target, sample) needs checking once.
            let key = format!("{:?}/{target}/{sample_name}", rule.template);
            if !seen.insert(key) {
                continue;
            }
            let with = format!("with sample event {sample_name}, target `{target}`");
            match build(app, rule, target, event) {
                Ok(()) => {}
                // The template's own file and line, so `check` points at the mistake.
                Err(ComposeError::Render(e)) => {
                    errors.push(from_template(e.to_template_error(&with), context()))
                }
                Err(other) => errors.push(ConfigError {
                    location: None,
                    context: context(),
                    message: format!("{with}: {other}"),
                }),
            }
        }
    }
    errors
}

fn handles(rule: &Rule, event: &Value) -> bool {
    event
        .get("event")
        .and_then(Value::as_str)
        .is_some_and(|t| rule.handles(t))
}

fn build(app: &App, rule: &Rule, target: &str, event: &Value) -> Result<(), ComposeError> {
    let info = DeliveryInfo {
        event_id: "check",
        rule: &rule.name,
        target,
        ..Default::default()
    };
    let ctx = compose::context(event, &info);
    let mode = crate::template::Mode::Strict;
    let Some(configured) = app.target(target) else {
        return Err(ComposeError::UnknownTarget(target.to_owned()));
    };
    let template = rule.template.as_deref();
    compose::request_in(mode, &app.templates, configured, template, &ctx, "check").map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &std::path::Path, name: &str, text: &str) {
        std::fs::create_dir_all(dir.join("templates")).unwrap();
        std::fs::write(dir.join(name), text).unwrap();
    }

    const TARGETS: &str =
        "targets:\n  hook:\n    kind: slack\n    url: https://hooks.slack.com/services/T/B/X\n";

    #[test]
    fn a_rule_naming_a_missing_template_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let rules = format!(
            "{TARGETS}rules:\n  - name: r\n    events: AUDIT_EXPIRED\n    notify: hook\n    template: nope\n"
        );
        write(dir.path(), "rules.yaml", &rules);
        let err = App::load(&dir.path().join("rules.yaml"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("rule \"r\": template `nope` does not exist"),
            "{err}"
        );
    }

    #[test]
    fn a_template_with_a_typo_fails_at_load_with_its_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let rules = format!(
            "{TARGETS}rules:\n  - name: r\n    events: CORRECTIVE_ACTION_*\n    notify: hook\n    template: mine\n"
        );
        write(dir.path(), "rules.yaml", &rules);
        write(
            dir.path(),
            "templates/mine.yaml",
            "title: \"{{data.correctiveAction.nmae}}\"\ntext: hi\n",
        );
        let err = App::load(&dir.path().join("rules.yaml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("rule \"r\""), "{err}");
        assert!(err.contains("nmae"), "{err}");
        assert!(
            err.contains("mine.yaml:1:"),
            "names the template's file and line: {err}"
        );
        assert!(
            err.contains("corrective_action_"),
            "names the sample event: {err}"
        );
    }

    #[test]
    fn an_event_type_monitorqa_does_not_send_is_a_warning_with_a_suggestion() {
        let dir = tempfile::tempdir().unwrap();
        let rules = format!(
            "{TARGETS}rules:\n  - name: r\n    events: [AUDIT_EXPIRD, \"TEMPLATE_*\"]\n    notify: hook\n"
        );
        write(dir.path(), "rules.yaml", &rules);
        let app = App::load(&dir.path().join("rules.yaml")).unwrap();
        assert_eq!(
            app.warnings(),
            vec![
                "rule \"r\": event type `AUDIT_EXPIRD` is not one MonitorQA documents, so the \
                 rule matches only if MonitorQA starts sending it; did you mean `AUDIT_EXPIRED`?"
                    .to_string()
            ]
        );
    }

    #[test]
    fn the_example_configuration_passes_strict_mode() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules.example.yaml");
        let app = App::load(&path);
        assert!(
            app.is_ok(),
            "{}",
            app.err().map(|e| e.to_string()).unwrap_or_default()
        );
    }
}
