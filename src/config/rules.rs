//! The `rules:` list: each entry becomes a [`RuleSpec`], checked here (names, notify targets,
//! shapes) and compiled by the rules engine, whose problems are mapped back to `file:line:col`;
//! then its `where` is held against MonitorQA's event shapes ([`shapes`]), whose findings are
//! warnings at the place of the condition.

use std::collections::HashMap;

use super::locate::locate;
use crate::rules::{Rule, RuleError, RuleSpec, shapes};
use crate::yaml::fields::{Fields, scalar_text};
use crate::yaml::report::{Report, did_you_mean, rule_context};
use crate::yaml::tree::{Node, Pos, Value};

const RULE_KEYS: &[&str] = &[
    "name", "events", "company", "where", "notify", "template", "stop",
];

/// Checks and compiles every rule; `targets` are the names of all targets in the file.
/// The rules of the `rules` section; `enriched` when the MonitorQA lookup is configured (its
/// fields are then there for `where` paths).
pub(crate) fn build(
    section: Option<&Node>,
    targets: &[String],
    enriched: bool,
    report: &mut Report,
) -> Vec<Rule> {
    let items = match section.map(|node| (node, &node.value)) {
        None | Some((_, Value::Null | Value::Invalid)) => return Vec::new(),
        Some((_, Value::Seq(items))) => items,
        Some((node, _)) => {
            let message = format!(
                "`rules` must be a list of rules, found {}",
                node.kind_name()
            );
            report.error(node.pos, None, message);
            return Vec::new();
        }
    };
    // By name, where each was first used: a lookup per rule, so 15 000 rules are not
    // compared pairwise.
    let mut names: HashMap<String, Pos> = HashMap::new();
    let mut rules = Vec::new();
    for (index, node) in items.iter().enumerate() {
        if let Some(rule) = rule(index, node, targets, &mut names, enriched, report) {
            rules.push(rule);
        }
    }
    rules
}

fn rule(
    index: usize,
    node: &Node,
    targets: &[String],
    names: &mut HashMap<String, Pos>,
    enriched: bool,
    report: &mut Report,
) -> Option<Rule> {
    let raw_name = match &node.value {
        Value::Map(entries) => entries
            .iter()
            .find(|e| e.key == "name")
            .and_then(|e| scalar_text(&e.value)),
        _ => None,
    };
    let context = rule_context(index, raw_name.as_deref());
    let mut f = Fields::open(node, node.pos, "rule", Some(&context), report)?;
    f.allow(RULE_KEYS, report);
    let name = unique_name(&f, names, report);
    let events = required_list(
        &f,
        "events",
        " (event types, globs like CORRECTIVE_ACTION_*, or \"*\")",
        report,
    );
    let company = f.text_list("company", report).unwrap_or_default();
    let where_ = where_map(&f, report);
    let notify = notify(&f, targets, report);
    let template = f.template_name("template", report);
    let stop = f.boolean("stop", report).unwrap_or(false);
    // An absent or empty `events` was reported above; the engine would say it again.
    let events_reported = events.is_empty();
    let spec = RuleSpec {
        name: name.unwrap_or_default(),
        events: events.into_iter().map(|(event, _)| event).collect(),
        company: company.into_iter().map(|(company, _)| company).collect(),
        where_: where_.clone(),
        notify,
        template,
        stop,
    };
    match Rule::compile(spec) {
        Ok(rule) => {
            if let Some(where_) = &where_ {
                let handles = |kind: &str| rule.handles(kind);
                for finding in shapes::check_where(where_, handles, enriched) {
                    report.warn(locate(node, &finding.path), Some(&context), finding.message);
                }
            }
            Some(rule)
        }
        Err(errors) => {
            let already =
                |e: &RuleError| events_reported && e.path.first().is_some_and(|p| p == "events");
            for error in errors.into_iter().filter(|e| !already(e)) {
                report.error(locate(node, &error.path), Some(&context), error.message);
            }
            None
        }
    }
}

fn unique_name(
    f: &Fields,
    names: &mut HashMap<String, Pos>,
    report: &mut Report,
) -> Option<String> {
    let (name, pos) = f.required_text("name", report)?;
    if let Some(first) = names.get(&name) {
        let message = format!(
            "duplicate rule name (first used at line {}, column {})",
            first.line, first.column
        );
        report.error(pos, f.context(), message);
    } else {
        names.insert(name.clone(), pos);
    }
    Some(name)
}

/// A string or list that must be present and not empty, each entry not blank.
fn required_list(f: &Fields, key: &str, hint: &str, report: &mut Report) -> Vec<(String, Pos)> {
    if !f.has(key) {
        f.missing(key, hint, report);
        return Vec::new();
    }
    let items = f.text_list(key, report).unwrap_or_default();
    if let Some(
        node @ Node {
            value: Value::Seq(list),
            ..
        },
    ) = f.get(key)
        && list.is_empty()
    {
        f.problem(node, format!("`{key}` is empty{hint}"), report);
    }
    for (item, pos) in &items {
        if item.trim().is_empty() {
            report.error(*pos, f.context(), format!("an entry of `{key}` is empty"));
        }
    }
    items
}

fn notify(f: &Fields, targets: &[String], report: &mut Report) -> Vec<String> {
    let hint = ": name at least one target";
    let notify = required_list(f, "notify", hint, report);
    for (i, (name, pos)) in notify.iter().enumerate() {
        if let Some((_, first)) = notify[..i].iter().find(|(earlier, _)| earlier == name) {
            // One delivery per (rule, target): a repeat would send the same message twice.
            let message = format!(
                "`notify` names target `{name}` twice (first at line {}, column {}); it would \
                 get every message twice",
                first.line, first.column
            );
            report.error(*pos, f.context(), message);
            continue;
        }
        if !name.trim().is_empty() && !targets.contains(name) {
            let suggestion = did_you_mean(name, targets.iter().map(String::as_str));
            let known = if targets.is_empty() {
                " (no targets are defined)".to_string()
            } else {
                format!(" (defined: {})", targets.join(", "))
            };
            let message = format!("`notify` names unknown target `{name}`{suggestion}{known}");
            report.error(*pos, f.context(), message);
        }
    }
    notify.into_iter().map(|(name, _)| name).collect()
}

/// The `where:` mapping as JSON (keys in file order); repeated keys inside it are reported.
fn where_map(f: &Fields, report: &mut Report) -> Option<serde_json::Value> {
    let node = f.get("where")?;
    match &node.value {
        Value::Map(_) => {
            report_duplicates(node, f.context(), report);
            Some(node.to_json())
        }
        Value::Invalid => None,
        _ => {
            let message = format!(
                "`where` must be a mapping of path to condition, found {}",
                node.kind_name()
            );
            f.problem(node, message, report);
            None
        }
    }
}

fn report_duplicates(node: &Node, context: Option<&str>, report: &mut Report) {
    match &node.value {
        Value::Map(entries) => {
            crate::yaml::tree::duplicate_keys(entries, context, report);
            for entry in entries {
                report_duplicates(&entry.value, context, report);
            }
        }
        Value::Seq(items) => {
            for item in items {
                report_duplicates(item, context, report);
            }
        }
        _ => {}
    }
}
