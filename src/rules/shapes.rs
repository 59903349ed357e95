//! What MonitorQA sends, event type by event type, as a skeleton of field types; and the
//! check that uses it to find the two silent mistakes of a `where` condition: a path that no
//! event of the rule's types can have (`priorty` for `priority`), and an operand whose type can
//! never match the field's (`gte: "2"` against a number).
//!
//! The skeletons follow MonitorQA's documented payloads (the envelope, the corrective-action
//! details, the complete audit details) and the API answers the enrichment adds (`audit` for
//! the audit events that carry only an id, `action` for a corrective-action event without its
//! details). Every field may also be `null`. MonitorQA may add fields at any time, so what this
//! finds is a warning (`check --strict` makes it an error), never a refusal at load.
//!
//! Pure: no I/O.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use serde_json::{Value, json};

use super::path::{Path, Segment};
use crate::event::EVENT_TYPES;
use crate::yaml::report::did_you_mean;

/// The type of a field, as far as a condition can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Text,
    /// An ISO-8601 UTC time: a string that orders as a time.
    Time,
    Id,
    Number,
    Bool,
    Object,
    List,
    /// A field that is there but always `null` (a deleted action's details).
    Null,
}

impl Kind {
    fn of_leaf(name: &str) -> Kind {
        match name {
            "time" => Kind::Time,
            "id" => Kind::Id,
            "number" => Kind::Number,
            "bool" => Kind::Bool,
            "null" => Kind::Null,
            _ => Kind::Text,
        }
    }

    fn is_string(self) -> bool {
        matches!(self, Kind::Text | Kind::Time | Kind::Id)
    }

    fn words(self) -> &'static str {
        match self {
            Kind::Text => "a string",
            Kind::Time => "a time (an ISO-8601 string)",
            Kind::Id => "an id (a string)",
            Kind::Number => "a number",
            Kind::Bool => "true or false",
            Kind::Object => "an object",
            Kind::List => "a list",
            Kind::Null => "always null",
        }
    }
}

fn person() -> Value {
    json!({"id": "id", "name": "text"})
}

fn file() -> Value {
    json!({"id": "id", "name": "text", "contentType": "text", "updatedAt": "time"})
}

/// `data.correctiveAction`, and what `GET /corrective-actions/{id}` answers.
fn corrective_action() -> Value {
    json!({
        "id": "id", "number": "text", "name": "text", "description": "text", "question": "text",
        "answer": {"name": "text", "points": "number", "text": "text", "number": "number",
                   "isFailed": "bool"},
        "priority": "number", "status": "number",
        "assignedUsers": [person()],
        "audit": {"id": "id", "name": "text", "ianaTimeZone": "text"},
        "auditItemId": "id",
        "auditObject": {"id": "id", "name": "text"},
        "createdAtUtc": "time", "createdBy": person(),
        "dueDateUtc": "time",
        "approvedAtUtc": "time", "approvedBy": person(),
        "expiredAtUtc": "time", "expiredBy": person(),
        "information": {"text": "text", "photosIds": ["id"], "files": [file()]},
        "tags": [person()],
        "files": [file()],
    })
}

/// What `GET /audit/{id}` answers: the audit details without report and signatures.
fn audit() -> Value {
    json!({
        "id": "id", "number": "text", "companyId": "id", "auditorHint": "text",
        "auditObject": {"id": "id", "name": "text", "notes": "text"},
        "template": {"id": "id", "name": "text"}, "templateId": "id",
        "assignees": [person()],
        "startedBy": person(), "completedBy": person(),
        "isStarted": "bool", "isCompleted": "bool", "isFailed": "bool", "isExpired": "bool",
        "isReopened": "bool",
        "startedAt": "time", "completeDate": "time", "startDate": "time", "endDate": "time",
        "score": "number", "scoreLabel": "text", "scoreColor": "text", "completionTime": "number",
    })
}

/// The complete audit details (AUDIT_COMPLETED carries them beside `auditId`).
fn complete_audit() -> Value {
    let mut audit = audit();
    let signature = json!({"photoId": "id", "createdBy": person()});
    let map = audit.as_object_mut().expect("an audit is an object");
    map.insert("reportUrl".into(), json!("text"));
    map.insert("auditorSignature".into(), signature.clone());
    map.insert("auditeeSignature".into(), signature);
    map.insert("auditId".into(), json!("id"));
    audit
}

/// The context of an event of `kind` as rules see it; with `enriched`, what the lookup adds.
fn shape(kind: &str, enriched: bool) -> Value {
    let (data, lookup) = match kind {
        "AUDIT_COMPLETED" => (complete_audit(), None),
        k if k.starts_with("AUDIT_") => (json!({"auditId": "id"}), Some(("audit", audit()))),
        // The details of a deleted action are `null`.
        "CORRECTIVE_ACTION_DELETED" => (
            json!({"correctiveActionId": "id", "correctiveAction": "null"}),
            None,
        ),
        k if k.starts_with("CORRECTIVE_ACTION_") => (
            json!({"correctiveActionId": "id", "correctiveAction": corrective_action()}),
            Some(("action", corrective_action())),
        ),
        _ => (json!({"id": "id", "name": "text"}), None),
    };
    let mut context =
        json!({"event": "text", "data": data, "company": {"id": "id", "name": "text"}});
    if let (true, Some((key, looked_up))) = (enriched, lookup) {
        context[key] = looked_up;
    }
    // What the relay adds when it compares the event with the object's last one.
    if crate::changes::compared(kind) {
        context["changes"] = json!({
            "known": "bool", "reason": "text", "since": "text", "at": "time",
            "fields": [{"label": "text", "old": "text", "new": "text"}],
        });
    }
    context
}

/// Every documented event type's shape, without and with enrichment.
static SHAPES: LazyLock<[Vec<(&'static str, Value)>; 2]> = LazyLock::new(|| {
    [false, true].map(|enriched| {
        EVENT_TYPES
            .iter()
            .map(|kind| (*kind, shape(kind, enriched)))
            .collect()
    })
});

/// A problem with one condition: where it is (as the rule compiler names places, for
/// `config::locate`) and what is wrong, in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub path: Vec<String>,
    pub message: String,
}

/// The problems of a rule's `where` against the shapes of the documented event types it
/// handles (`handles`); `enriched` when the MonitorQA lookup is configured. A rule that
/// handles no documented type is not checked (its events are unknown).
pub fn check_where(where_: &Value, handles: impl Fn(&str) -> bool, enriched: bool) -> Vec<Finding> {
    let shapes: Vec<&(&str, Value)> = SHAPES[usize::from(enriched)]
        .iter()
        .filter(|(kind, _)| handles(kind))
        .collect();
    if shapes.is_empty() {
        return Vec::new();
    }
    let checker = Checker { shapes, enriched };
    let mut findings = Vec::new();
    checker.where_map(where_, vec!["where".to_string()], &mut findings);
    findings
}

struct Checker<'a> {
    shapes: Vec<&'a (&'static str, Value)>,
    enriched: bool,
}

impl Checker<'_> {
    fn where_map(&self, map: &Value, at: Vec<String>, out: &mut Vec<Finding>) {
        let Value::Object(entries) = map else { return };
        for (key, condition) in entries {
            let mut here = at.clone();
            here.push(key.clone());
            match (key.as_str(), condition) {
                ("any", Value::Array(items)) => {
                    for (i, item) in items.iter().enumerate() {
                        let mut inner = here.clone();
                        inner.push(i.to_string());
                        self.where_map(item, inner, out);
                    }
                }
                ("not", inner) => self.where_map(inner, here, out),
                (path, condition) => self.condition(path, condition, here, out),
            }
        }
    }

    fn condition(&self, text: &str, condition: &Value, at: Vec<String>, out: &mut Vec<Finding>) {
        let Ok(path) = Path::parse(text) else { return };
        let kinds: BTreeSet<Kind> = self
            .shapes
            .iter()
            .filter_map(|(_, shape)| resolve(shape, path.segments()))
            .collect();
        if kinds.is_empty() {
            out.push(Finding {
                path: at,
                message: self.missing(text),
            });
            return;
        }
        let operators: Vec<(Option<&str>, &Value)> = match condition {
            Value::Object(ops) => ops.iter().map(|(op, v)| (Some(op.as_str()), v)).collect(),
            scalar => vec![(None, scalar)],
        };
        let element_kinds = self.element_kinds(&path);
        for (op, operand) in operators {
            let problem = mismatch(op.unwrap_or("eq"), operand, &kinds, &element_kinds);
            if let Some(why) = problem {
                let mut here = at.clone();
                here.extend(op.map(str::to_string));
                let shown = match op {
                    Some(op) => format!("`{op}`"),
                    None => "the value".to_string(),
                };
                out.push(Finding {
                    path: here,
                    message: format!("{text}: {shown} {why}"),
                });
            }
        }
    }

    /// What the elements of a list field are (for `any_of` and `contains`).
    fn element_kinds(&self, path: &Path) -> BTreeSet<Kind> {
        let mut segments = path.segments().to_vec();
        segments.push(Segment::Each);
        self.shapes
            .iter()
            .filter_map(|(_, shape)| resolve(shape, &segments))
            .collect()
    }

    fn missing(&self, text: &str) -> String {
        let mut candidates = BTreeSet::new();
        for (_, shape) in &self.shapes {
            paths(shape, String::new(), &mut candidates);
        }
        let hint = did_you_mean(text, candidates.iter().map(String::as_str));
        let whose = match self.shapes.as_slice() {
            [(kind, _)] => format!("a {kind} event"),
            _ => "any event type this rule handles".to_string(),
        };
        let lookup =
            if !self.enriched && (text.starts_with("audit.") || text.starts_with("action.")) {
                "; `audit` and `action` are filled by the MonitorQA lookup, which needs a \
             `monitorqa:` section"
            } else {
                ""
            };
        format!(
            "{text}: no such field in {whose} as MonitorQA documents it, so this condition \
             never sees a value{lookup}{hint}"
        )
    }
}

/// Where `segments` lead in a shape: the kind of field they reach, if any.
fn resolve(shape: &Value, segments: &[Segment]) -> Option<Kind> {
    let mut node = shape;
    for segment in segments {
        node = match (segment, node) {
            (Segment::Key(key), Value::Object(map)) => map.get(key)?,
            (Segment::Index(_) | Segment::Each, Value::Array(items)) => items.first()?,
            _ => return None,
        };
    }
    Some(match node {
        Value::Object(_) => Kind::Object,
        Value::Array(_) => Kind::List,
        Value::String(leaf) => Kind::of_leaf(leaf),
        _ => Kind::Text,
    })
}

/// Every path a shape has, as a rule writes it (`[*]` for a list's elements).
fn paths(shape: &Value, at: String, out: &mut BTreeSet<String>) {
    match shape {
        Value::Object(map) => {
            for (key, inner) in map {
                let path = if at.is_empty() {
                    key.clone()
                } else {
                    format!("{at}.{key}")
                };
                out.insert(path.clone());
                paths(inner, path, out);
            }
        }
        Value::Array(items) => {
            if let Some(item) = items.first() {
                let path = format!("{at}[*]");
                out.insert(path.clone());
                paths(item, path, out);
            }
        }
        _ => {}
    }
}

/// Why `op: operand` can never behave as meant on a field of `kinds` (elements
/// `element_kinds` when it is a list), or `None` when it can.
fn mismatch(
    op: &str,
    operand: &Value,
    kinds: &BTreeSet<Kind>,
    element_kinds: &BTreeSet<Kind>,
) -> Option<String> {
    let field = describe(kinds);
    let outcome = if matches!(op, "ne" | "not_in") {
        "always holds"
    } else {
        "never matches"
    };
    let container = |kind: Kind| matches!(kind, Kind::Object | Kind::List);
    if kinds.iter().all(|k| container(*k)) && !matches!(op, "exists" | "any_of" | "contains") {
        let how = if kinds.contains(&Kind::List) {
            "add `[*]` to the path to test its elements"
        } else {
            "name one of its fields in the path"
        };
        return Some(format!("{outcome}: the field is {field}; {how}"));
    }
    // `what` the operand is, `why` that cannot work, `hint` what was probably meant.
    let never = |what: String, why: &str, hint: String| {
        Some(format!(
            "{outcome}: {what}, but the field is {field} in MonitorQA's events ({why}){hint}"
        ))
    };
    match op {
        "eq" | "ne" | "in" | "not_in" => {
            let values = operand
                .as_array()
                .map_or(vec![operand], |l| l.iter().collect());
            let bad = values.iter().find(|v| !equal_possible(v, kinds))?;
            let what = format!("its value is {}", value_words(bad));
            never(
                what,
                "no value equals one of another type",
                suggestion(bad, kinds),
            )
        }
        "any_of" => {
            let targets = if kinds.contains(&Kind::List) {
                element_kinds
            } else {
                kinds
            };
            let values = operand.as_array()?;
            let bad = values.iter().find(|v| !equal_possible(v, targets))?;
            Some(format!(
                "never matches an entry that is {}, but the field holds {} in MonitorQA's \
                 events{}",
                value_words(bad),
                describe(targets),
                suggestion(bad, targets)
            ))
        }
        "gt" | "gte" | "lt" | "lte" => {
            let fits = match operand {
                Value::Number(_) => kinds.contains(&Kind::Number),
                Value::String(_) => kinds.iter().any(|k| k.is_string()),
                _ => false,
            };
            if fits {
                return None;
            }
            let what = format!("its value is {}", value_words(operand));
            let why = "a comparison needs a value of the field's own type";
            never(what, why, suggestion(operand, kinds))
        }
        "regex" => (!kinds.iter().any(|k| k.is_string())).then(|| {
            format!("never matches: a pattern matches only strings, and the field is {field}")
        }),
        "contains" => {
            let in_list = kinds.contains(&Kind::List) && equal_possible(operand, element_kinds);
            let in_string = kinds.iter().any(|k| k.is_string()) && operand.is_string();
            (!(in_list || in_string)).then(|| {
                format!(
                    "never matches: `contains` looks for a piece of a string or an element of a \
                     list, and the field is {field}"
                )
            })
        }
        _ => None,
    }
}

/// Whether a value of some kind in `kinds` can equal `operand`.
fn equal_possible(operand: &Value, kinds: &BTreeSet<Kind>) -> bool {
    match operand {
        Value::Null => true,
        Value::String(_) => kinds.iter().any(|k| k.is_string()),
        Value::Number(_) => kinds.contains(&Kind::Number),
        Value::Bool(_) => kinds.contains(&Kind::Bool),
        _ => kinds.contains(&Kind::Object) || kinds.contains(&Kind::List),
    }
}

fn value_words(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "a string",
        Value::Number(_) => "a number",
        Value::Bool(_) => "a boolean",
        Value::Null => "null",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

/// "; write the number without quotes" when that is what was meant. The operand itself is
/// never quoted: it may have come from a `${VAR}` holding a secret.
fn suggestion(operand: &Value, kinds: &BTreeSet<Kind>) -> String {
    match operand {
        Value::String(s) if kinds.contains(&Kind::Number) && s.trim().parse::<f64>().is_ok() => {
            "; write the number without quotes".to_string()
        }
        Value::String(s)
            if kinds.contains(&Kind::Bool) && matches!(s.as_str(), "true" | "false") =>
        {
            "; write true or false without quotes".to_string()
        }
        Value::Number(_) if kinds.iter().any(|k| k.is_string()) => {
            "; write it in quotes".to_string()
        }
        _ => String::new(),
    }
}

fn describe(kinds: &BTreeSet<Kind>) -> String {
    let words: Vec<&str> = kinds.iter().map(|k| k.words()).collect();
    words.join(" or ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::sample_events;

    fn all(_: &str) -> bool {
        true
    }

    fn only(kind: &'static str) -> impl Fn(&str) -> bool {
        move |k| k == kind
    }

    fn messages(where_: Value, handles: impl Fn(&str) -> bool, enriched: bool) -> Vec<String> {
        check_where(&where_, handles, enriched)
            .into_iter()
            .map(|f| f.message)
            .collect()
    }

    /// Every field of every sample event is in the shape of its type, with its type: the
    /// samples follow the documentation, and so must the shapes.
    #[test]
    fn every_sample_field_is_in_its_event_types_shape() {
        fn walk(v: &Value, at: &mut Vec<Segment>, out: &mut Vec<(Vec<Segment>, Value)>) {
            match v {
                Value::Object(map) => {
                    for (k, inner) in map {
                        at.push(Segment::Key(k.clone()));
                        walk(inner, at, out);
                        at.pop();
                    }
                }
                Value::Array(items) => {
                    for item in items {
                        at.push(Segment::Each);
                        walk(item, at, out);
                        at.pop();
                    }
                }
                leaf => out.push((at.clone(), leaf.clone())),
            }
        }
        for (stem, event) in sample_events() {
            let kind = event["event"].as_str().unwrap();
            let shape = shape(kind, false);
            let mut leaves = Vec::new();
            walk(&event, &mut Vec::new(), &mut leaves);
            for (segments, value) in leaves {
                let found = resolve(&shape, &segments);
                let fits = match (&value, found) {
                    (Value::Null, Some(_)) => true,
                    (Value::String(_), Some(k)) => k.is_string(),
                    (Value::Number(_), Some(k)) => k == Kind::Number,
                    (Value::Bool(_), Some(k)) => k == Kind::Bool,
                    _ => false,
                };
                assert!(fits, "{stem}: {segments:?} = {value} against {found:?}");
            }
        }
    }

    #[test]
    fn a_misspelt_path_is_found_with_the_path_meant() {
        let found = messages(
            json!({"data.correctiveAction.priorty": {"gte": 2}}),
            only("CORRECTIVE_ACTION_REJECTED"),
            false,
        );
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].contains("no such field in a CORRECTIVE_ACTION_REJECTED event"),
            "{}",
            found[0]
        );
        assert!(
            found[0].ends_with("did you mean `data.correctiveAction.priority`?"),
            "{}",
            found[0]
        );
        // A list's elements are reached with `[*]`.
        let found = messages(
            json!({"data.correctiveAction.tags.name": "Cold chain"}),
            all,
            false,
        );
        assert!(
            found[0].contains("did you mean `data.correctiveAction.tags[*].name`?"),
            "{found:?}"
        );
    }

    #[test]
    fn a_string_against_a_number_field_is_found_with_the_number_meant() {
        let found = messages(
            json!({"data.correctiveAction.priority": {"gte": "2"}}),
            all,
            false,
        );
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].starts_with(
                "data.correctiveAction.priority: `gte` never matches: its value is a string"
            ),
            "{}",
            found[0]
        );
        assert!(
            found[0].ends_with("; write the number without quotes"),
            "{}",
            found[0]
        );
        // The operand is never quoted: it may have come from a `${VAR}` holding a secret.
        let secret = messages(
            json!({"data.correctiveAction.priority": {"eq": "s3cr3t-value"}}),
            all,
            false,
        );
        assert!(!secret[0].contains("s3cr3t"), "{}", secret[0]);
        let found = check_where(
            &json!({"data.correctiveAction.status": {"not_in": ["3"]}}),
            all,
            false,
        );
        assert_eq!(
            found[0].path,
            ["where", "data.correctiveAction.status", "not_in"]
        );
        assert!(
            found[0].message.contains("always holds"),
            "{}",
            found[0].message
        );
        let found = messages(
            json!({"data.isFailed": "true"}),
            only("AUDIT_COMPLETED"),
            false,
        );
        assert!(
            found[0].ends_with("write true or false without quotes"),
            "{found:?}"
        );
    }

    #[test]
    fn conditions_that_can_match_pass() {
        let fine = json!({
            "data.correctiveAction.priority": {"gte": 2, "in": [1, 2], "ne": null},
            "data.correctiveAction.dueDateUtc": {"lt": "2026-12-01T00:00:00Z"},
            "data.correctiveAction.tags[*].name": {"any_of": ["Cold chain"], "regex": "(?i)cold"},
            "data.correctiveAction.tags": {"exists": true},
            "data.correctiveAction.assignedUsers[0].name": {"contains": "Tom"},
            "company.name": "Northwind Foods",
            "any": [{"data.auditId": {"exists": true}}, {"data.id": {"exists": true}}],
            "not": {"event": "AUDIT_DELETED"},
        });
        assert_eq!(messages(fine, all, false), Vec::<String>::new());
        // What the relay adds to an update: `changes`.
        let changed = json!({"changes.fields[*].label": {"any_of": ["Due"]}});
        assert_eq!(
            messages(changed, only("CORRECTIVE_ACTION_UPDATED"), false),
            Vec::<String>::new()
        );
        // Lookup fields are there when the lookup is.
        let looked_up = json!({"audit.template.name": {"contains": "Food"}});
        assert_eq!(
            messages(looked_up.clone(), only("AUDIT_EXPIRED"), true),
            Vec::<String>::new()
        );
        let found = messages(looked_up, only("AUDIT_EXPIRED"), false);
        assert!(
            found[0].contains("needs a `monitorqa:` section"),
            "{found:?}"
        );
    }

    #[test]
    fn operators_that_cannot_apply_are_found() {
        let cases = [
            (
                json!({"data.correctiveAction.priority": {"regex": "2"}}),
                "a pattern matches only strings",
            ),
            (
                json!({"data.correctiveAction.tags": {"eq": "Cold chain"}}),
                "add `[*]` to the path",
            ),
            (
                json!({"data.correctiveAction.answer": "x"}),
                "name one of its fields",
            ),
            (
                json!({"data.correctiveAction.tags": {"any_of": ["Cold chain"]}}),
                "never matches an entry that is a string",
            ),
            (
                json!({"data.correctiveAction.tags": {"ne": "Cold chain"}}),
                "always holds: the field is a list",
            ),
            (
                json!({"data.correctiveAction.dueDateUtc": {"gt": 5}}),
                "a comparison needs a value of the field's own type",
            ),
            (
                json!({"data.correctiveAction.priority": {"contains": 2}}),
                "`contains` looks for",
            ),
            (
                json!({"any": [{"not": {"data.correctiveAction.priorty": 2}}]}),
                "did you mean",
            ),
        ];
        for (where_, expected) in cases {
            let found = messages(where_.clone(), all, false);
            assert_eq!(found.len(), 1, "{where_}: {found:?}");
            assert!(found[0].contains(expected), "{where_}: {}", found[0]);
        }
    }

    #[test]
    fn a_rule_for_unknown_event_types_only_is_not_checked() {
        let found = messages(json!({"data.whatever": 1}), only("SOMETHING_NEW"), false);
        assert!(found.is_empty());
    }
}
