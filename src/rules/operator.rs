//! The operators of a `where` condition: checking and compiling the operand, and testing one
//! value of the event against it. No coercion: a string never equals a number.

use std::cmp::Ordering;

use serde_json::{Number, Value};

use super::explain::{cap, display_list, display_value};
use super::regex_cache::Regex;

/// Every operator a condition may use, in the order error messages list them.
pub(crate) const KNOWN: &[&str] = &[
    "eq", "ne", "in", "not_in", "any_of", "regex", "exists", "gt", "gte", "lt", "lte", "contains",
];

/// What one event value is tested for. Negative operators (`ne`, `not_in`, `exists: false`)
/// are the positive test negated over all values; see [`Operator::negated`].
#[derive(Debug, Clone)]
enum Test {
    Equals(Value),
    OneOf(Vec<Value>),
    AnyOf(Vec<Value>),
    Regex(Regex),
    Compare(Comparison, Value),
    Contains(Value),
    Exists,
}

#[derive(Debug, Clone, Copy)]
enum Comparison {
    Gt,
    Gte,
    Lt,
    Lte,
}

impl Comparison {
    fn accepts(self, order: Ordering) -> bool {
        match self {
            Comparison::Gt => order == Ordering::Greater,
            Comparison::Gte => order != Ordering::Less,
            Comparison::Lt => order == Ordering::Less,
            Comparison::Lte => order != Ordering::Greater,
        }
    }
}

/// One compiled operator with its operand, e.g. `gte: 2`.
#[derive(Debug, Clone)]
pub(crate) struct Operator {
    name: &'static str,
    operand: String,
    test: Test,
    negated: bool,
}

/// Why an operand is not acceptable; `item` is the index of the offending list element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OperandError {
    pub(crate) item: Option<usize>,
    pub(crate) message: String,
}

impl OperandError {
    fn new(message: String) -> OperandError {
        OperandError {
            item: None,
            message,
        }
    }
}

impl Operator {
    /// The equality a plain scalar value in `where` stands for.
    pub(crate) fn equals(value: &Value) -> Result<Operator, OperandError> {
        Operator::compile("eq", value)
    }

    /// Compiles `name: operand`. An unknown name is the caller's to report (it has the list).
    pub(crate) fn compile(name: &str, operand: &Value) -> Result<Operator, OperandError> {
        let name = KNOWN
            .iter()
            .copied()
            .find(|k| *k == name)
            .ok_or_else(|| OperandError::new(format!("unknown operator `{name}`")))?;
        let (test, negated) = match name {
            "eq" => (Test::Equals(scalar(name, operand)?), false),
            "ne" => (Test::Equals(scalar(name, operand)?), true),
            "in" => (Test::OneOf(scalar_list(name, operand)?), false),
            "not_in" => (Test::OneOf(scalar_list(name, operand)?), true),
            "any_of" => (Test::AnyOf(scalar_list(name, operand)?), false),
            "regex" => (Test::Regex(regex(operand)?), false),
            "exists" => (Test::Exists, !boolean(operand)?),
            "contains" => (Test::Contains(scalar(name, operand)?), false),
            _ => (
                Test::Compare(comparison(name), bound(name, operand)?),
                false,
            ),
        };
        Ok(Operator {
            name,
            operand: display_operand(operand),
            test,
            negated,
        })
    }

    /// The operator as written (`gte`).
    pub(crate) fn name(&self) -> &'static str {
        self.name
    }

    /// The operand as explanations show it (`2`, `[Cold chain, Fire safety]`).
    pub(crate) fn operand(&self) -> &str {
        &self.operand
    }

    /// True for `ne`, `not_in` and `exists: false`: the condition holds when NO value passes
    /// [`Operator::passes`].
    pub(crate) fn negated(&self) -> bool {
        self.negated
    }

    /// The positive test on one value: equal (`eq`, `ne`), one of (`in`, `not_in`), matches,
    /// compares, contains, or simply present (`exists`).
    pub(crate) fn passes(&self, value: &Value) -> bool {
        match &self.test {
            Test::Equals(x) => same(value, x),
            Test::OneOf(xs) => xs.iter().any(|x| same(value, x)),
            Test::AnyOf(xs) => match value {
                Value::Array(items) => items.iter().any(|v| xs.iter().any(|x| same(v, x))),
                _ => xs.iter().any(|x| same(value, x)),
            },
            Test::Regex(re) => value.as_str().is_some_and(|s| re.is_match(s)),
            Test::Compare(c, bound) => order(value, bound).is_some_and(|o| c.accepts(o)),
            Test::Contains(x) => match value {
                Value::String(s) => x.as_str().is_some_and(|needle| s.contains(needle)),
                Value::Array(items) => items.iter().any(|v| same(v, x)),
                _ => false,
            },
            Test::Exists => true,
        }
    }

    /// Whether this is `exists` (explanations word it differently).
    pub(crate) fn is_exists(&self) -> bool {
        matches!(self.test, Test::Exists)
    }
}

/// Scalar equality: numbers numerically (`2 == 2.0`), strings, booleans and null exactly; a
/// string never equals a number, and an array or object equals no scalar.
fn same(value: &Value, scalar: &Value) -> bool {
    match (value, scalar) {
        (Value::Number(a), Value::Number(b)) => compare_numbers(a, b) == Some(Ordering::Equal),
        (Value::String(a), Value::String(b)) => a == b,
        (Value::Bool(a), Value::Bool(b)) => a == b,
        (Value::Null, Value::Null) => true,
        _ => false,
    }
}

/// Numbers compare numerically, strings lexicographically (so ISO-8601 UTC times compare in
/// time order); anything else does not compare.
fn order(value: &Value, bound: &Value) -> Option<Ordering> {
    match (value, bound) {
        (Value::Number(a), Value::Number(b)) => compare_numbers(a, b),
        (Value::String(a), Value::String(b)) => Some(a.as_str().cmp(b.as_str())),
        _ => None,
    }
}

fn compare_numbers(a: &Number, b: &Number) -> Option<Ordering> {
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
        return Some(x.cmp(&y));
    }
    if let (Some(x), Some(y)) = (a.as_u64(), b.as_u64()) {
        return Some(x.cmp(&y));
    }
    a.as_f64()?.partial_cmp(&b.as_f64()?)
}

fn comparison(name: &str) -> Comparison {
    match name {
        "gt" => Comparison::Gt,
        "gte" => Comparison::Gte,
        "lt" => Comparison::Lt,
        _ => Comparison::Lte,
    }
}

fn scalar(name: &str, operand: &Value) -> Result<Value, OperandError> {
    match operand {
        Value::Array(_) | Value::Object(_) => Err(OperandError::new(format!(
            "operator {name} takes a single value (a string, number, boolean or null), got {}",
            kind(operand)
        ))),
        _ => Ok(operand.clone()),
    }
}

fn scalar_list(name: &str, operand: &Value) -> Result<Vec<Value>, OperandError> {
    let Value::Array(items) = operand else {
        return Err(OperandError::new(format!(
            "operator {name} takes a list of values, got {}",
            kind(operand)
        )));
    };
    if items.is_empty() {
        return Err(OperandError::new(format!(
            "operator {name} takes a list of at least one value"
        )));
    }
    if let Some(i) = items.iter().position(|v| v.is_array() || v.is_object()) {
        return Err(OperandError {
            item: Some(i),
            message: format!(
                "the values of {name} must be strings, numbers, booleans or null, got {}",
                kind(&items[i])
            ),
        });
    }
    Ok(items.clone())
}

fn regex(operand: &Value) -> Result<Regex, OperandError> {
    let Value::String(pattern) = operand else {
        return Err(OperandError::new(format!(
            "operator regex takes a string, got {}",
            kind(operand)
        )));
    };
    super::regex_cache::compile(pattern)
        .map_err(|e| OperandError::new(format!("invalid regex: {}", regex_error(pattern, e))))
}

/// The regex engine's message, which quotes the pattern with a caret under the problem; for a
/// long pattern only its `error:` line, so the message stays short.
fn regex_error(pattern: &str, message: String) -> String {
    if pattern.chars().count() <= 60 {
        return message;
    }
    let summary: Vec<&str> = message
        .lines()
        .filter(|l| l.starts_with("error:"))
        .collect();
    match summary.is_empty() {
        true => cap(&message),
        false => summary.join("; "),
    }
}

fn boolean(operand: &Value) -> Result<bool, OperandError> {
    operand.as_bool().ok_or_else(|| {
        OperandError::new(format!(
            "operator exists takes true or false, got {}",
            kind(operand)
        ))
    })
}

fn bound(name: &str, operand: &Value) -> Result<Value, OperandError> {
    match operand {
        Value::Number(_) | Value::String(_) => Ok(operand.clone()),
        _ => Err(OperandError::new(format!(
            "operator {name} takes a number or a string, got {}",
            kind(operand)
        ))),
    }
}

fn display_operand(operand: &Value) -> String {
    match operand {
        Value::Array(items) => display_list(items),
        _ => display_value(operand),
    }
}

/// The YAML word for a value's type, for error messages.
pub(crate) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}
