//! `where` conditions: compiling a `where` map (paths, operators, `any:`, `not:`) into a tree,
//! reporting every problem with its exact path, and deciding whether an event satisfies it.

use serde_json::{Map, Value};

use super::RuleError;
use super::operator::{KNOWN, Operator, kind};
use super::path::Path;

/// A compiled `where` map or part of one.
#[derive(Debug, Clone)]
pub(crate) enum Condition {
    /// A `where` map: every entry holds. Empty holds always.
    All(Vec<Condition>),
    /// `any:`: at least one alternative holds.
    Any(Vec<Condition>),
    /// `not:`: the inner map does not hold.
    Not(Box<Condition>),
    /// One operator on one path.
    Test(Box<Test>),
}

/// One operator applied to the values a path reaches.
#[derive(Debug, Clone)]
pub(crate) struct Test {
    pub(crate) path: Path,
    pub(crate) operator: Operator,
}

impl Test {
    /// Positive operators hold if SOME value passes; negative ones (`ne`, `not_in`,
    /// `exists: false`) hold if NO value passes the positive test.
    pub(crate) fn holds(&self, event: &Value) -> bool {
        let some_passes = self.path.visit(event, &mut |v| self.operator.passes(v));
        some_passes != self.operator.negated()
    }
}

impl Condition {
    pub(crate) fn always() -> Condition {
        Condition::All(Vec::new())
    }

    pub(crate) fn holds(&self, event: &Value) -> bool {
        match self {
            Condition::All(parts) => parts.iter().all(|c| c.holds(event)),
            Condition::Any(alternatives) => alternatives.iter().any(|c| c.holds(event)),
            Condition::Not(inner) => !inner.holds(event),
            Condition::Test(test) => test.holds(event),
        }
    }

    /// Compiles the rule's `where:` value (absent or null: always holds). Problems are pushed
    /// to `errors`; the returned tree is only meaningful when none were.
    pub(crate) fn compile(where_: Option<&Value>, errors: &mut Vec<RuleError>) -> Condition {
        let at = vec!["where".to_owned()];
        match where_ {
            None | Some(Value::Null) => Condition::always(),
            Some(Value::Object(map)) => compile_map(map, &at, errors),
            Some(other) => {
                errors.push(error(
                    &at,
                    &[],
                    format!(
                        "where takes a map of paths to conditions, got {}",
                        kind(other)
                    ),
                ));
                Condition::always()
            }
        }
    }
}

fn compile_map(map: &Map<String, Value>, at: &[String], errors: &mut Vec<RuleError>) -> Condition {
    let mut parts = Vec::with_capacity(map.len());
    for (key, value) in map {
        match key.as_str() {
            "any" => parts.push(compile_any(value, &extend(at, "any"), errors)),
            "not" => parts.push(compile_not(value, &extend(at, "not"), errors)),
            _ => compile_entry(key, value, &extend(at, key), &mut parts, errors),
        }
    }
    Condition::All(parts)
}

fn compile_any(value: &Value, at: &[String], errors: &mut Vec<RuleError>) -> Condition {
    let Value::Array(items) = value else {
        let message = format!("any takes a list of where maps, got {}", kind(value));
        errors.push(error(at, &[], message));
        return Condition::always();
    };
    if items.is_empty() {
        let message = "any needs at least one alternative (an empty list can never hold)";
        errors.push(error(at, &[], message.into()));
    }
    let alternatives = items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            compile_nested(
                item,
                "an alternative of any",
                &extend(at, &i.to_string()),
                errors,
            )
        })
        .collect();
    Condition::Any(alternatives)
}

fn compile_not(value: &Value, at: &[String], errors: &mut Vec<RuleError>) -> Condition {
    Condition::Not(Box::new(compile_nested(value, "not", at, errors)))
}

/// A where map inside `any:` or `not:`; an empty one is a mistake (it would always hold).
fn compile_nested(
    value: &Value,
    what: &str,
    at: &[String],
    errors: &mut Vec<RuleError>,
) -> Condition {
    match value {
        Value::Object(map) if !map.is_empty() => compile_map(map, at, errors),
        Value::Object(_) => {
            errors.push(error(at, &[], format!("{what} must not be an empty map")));
            Condition::always()
        }
        other => {
            let message = format!("{what} takes a where map, got {}", kind(other));
            errors.push(error(at, &[], message));
            Condition::always()
        }
    }
}

/// `path: value`: a scalar means equals, a map is operators, a list is a mistake.
fn compile_entry(
    key: &str,
    value: &Value,
    at: &[String],
    parts: &mut Vec<Condition>,
    errors: &mut Vec<RuleError>,
) {
    let path = Path::parse(key)
        .map_err(|reason| errors.push(error(at, &[], format!("invalid path: {reason}"))))
        .ok();
    let operators = match value {
        Value::Array(_) => {
            let message = "a list is not a condition: use `in: [...]` for \"one of these values\", \
                           or `any_of: [...]` for \"an element of this array is one of these\"";
            errors.push(error(at, &[], message.into()));
            return;
        }
        Value::Object(ops) => compile_operators(ops, at, errors),
        scalar => match Operator::equals(scalar) {
            Ok(op) => vec![op],
            Err(e) => {
                errors.push(error(at, &[], e.message));
                return;
            }
        },
    };
    if let Some(path) = path {
        parts.extend(operators.into_iter().map(|operator| {
            Condition::Test(Box::new(Test {
                path: path.clone(),
                operator,
            }))
        }));
    }
}

fn compile_operators(
    ops: &Map<String, Value>,
    at: &[String],
    errors: &mut Vec<RuleError>,
) -> Vec<Operator> {
    if ops.is_empty() {
        errors.push(error(
            at,
            &[],
            format!("no operator given; known operators: {}", KNOWN.join(", ")),
        ));
    }
    let mut compiled = Vec::with_capacity(ops.len());
    for (name, operand) in ops {
        if !KNOWN.contains(&name.as_str()) {
            let message = format!(
                "unknown operator `{}`; known operators: {}",
                super::explain::cap(name),
                KNOWN.join(", ")
            );
            errors.push(error(at, &[name], message));
            continue;
        }
        match Operator::compile(name, operand) {
            Ok(op) => compiled.push(op),
            Err(e) => {
                let item = e.item.map(|i| i.to_string());
                let mut tail = vec![name.as_str()];
                tail.extend(item.as_deref());
                errors.push(error(at, &tail, e.message));
            }
        }
    }
    compiled
}

fn extend(at: &[String], key: &str) -> Vec<String> {
    let mut path = at.to_vec();
    path.push(key.to_owned());
    path
}

fn error(at: &[String], tail: &[&str], message: String) -> RuleError {
    let mut path = at.to_vec();
    path.extend(tail.iter().map(|s| (*s).to_owned()));
    RuleError { path, message }
}
