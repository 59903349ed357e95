//! Explanations in words: why a condition failed (or, under `not:`, why it held), and how
//! values and lists are shown. Only `mqa-relay test --explain` pays for this; matching never
//! builds a string.

use serde_json::Value;

use super::condition::{Condition, Test};

/// Longest value or name quoted in a message, in characters.
const MAX_CHARS: usize = 60;
/// Most list elements shown before "and N more".
const MAX_ITEMS: usize = 8;

impl Condition {
    /// The first failing part, in words; `None` if the condition holds.
    pub(crate) fn failure(&self, event: &Value) -> Option<String> {
        match self {
            Condition::All(parts) => parts.iter().find_map(|c| c.failure(event)),
            Condition::Any(alternatives) => {
                if alternatives.iter().any(|c| c.holds(event)) {
                    return None;
                }
                let first = alternatives.first().and_then(|c| c.failure(event));
                let n = alternatives.len();
                let noun = if n == 1 {
                    "alternative"
                } else {
                    "alternatives"
                };
                let first = first.unwrap_or_default();
                Some(format!("any: none of {n} {noun} held (first: {first})"))
            }
            Condition::Not(inner) => inner
                .success(event)
                .map(|held| format!("not: the condition held ({held})")),
            Condition::Test(test) => test.failure(event),
        }
    }

    /// Why the condition holds, in words; `None` if it does not.
    pub(crate) fn success(&self, event: &Value) -> Option<String> {
        match self {
            Condition::All(parts) => {
                let held: Option<Vec<String>> = parts.iter().map(|c| c.success(event)).collect();
                held.map(|h| {
                    if h.is_empty() {
                        "an empty condition".into()
                    } else {
                        h.join("; ")
                    }
                })
            }
            Condition::Any(alternatives) => alternatives.iter().find_map(|c| c.success(event)),
            Condition::Not(inner) => inner.failure(event).map(|f| format!("not ({f})")),
            Condition::Test(test) => test.success(event),
        }
    }
}

impl Test {
    fn failure(&self, event: &Value) -> Option<String> {
        if self.holds(event) {
            return None;
        }
        let path = self.path.text();
        let needs = self.needs();
        if !self.path.is_multi() {
            return Some(match self.path.first(event) {
                Some(v) => format!("{path} is {}, {needs}", display_value(v)),
                None => format!("{path} is missing"),
            });
        }
        let op = &self.operator;
        if op.negated() {
            let witness = self.witness(event).map(display_value).unwrap_or_default();
            return Some(format!("{path} has an element {witness}, {needs}"));
        }
        match self.elements(event) {
            None => Some(format!("{path} has no elements")),
            Some(elements) => Some(format!(
                "{path} has no element {} {} (elements: {elements})",
                op.name(),
                op.operand(),
            )),
        }
    }

    fn success(&self, event: &Value) -> Option<String> {
        if !self.holds(event) {
            return None;
        }
        let path = self.path.text();
        let op = &self.operator;
        let how = if op.name() == "eq" {
            String::new()
        } else {
            format!(" ({} {})", op.name(), op.operand())
        };
        if !self.path.is_multi() {
            return Some(match self.path.first(event) {
                Some(v) => format!("{path} is {}{how}", display_value(v)),
                None => format!("{path} is missing{how}"),
            });
        }
        if op.negated() {
            return Some(match op.is_exists() {
                true => format!("{path} has no elements"),
                false => format!("{path} has no element {}", self.positive_wording()),
            });
        }
        let witness = self.witness(event).map(display_value).unwrap_or_default();
        Some(format!("{path} has an element {witness}{how}"))
    }

    /// `needs gte 2`, `needs exists false`.
    fn needs(&self) -> String {
        format!("needs {} {}", self.operator.name(), self.operator.operand())
    }

    /// The positive test a negated operator negates: `ne X` → `eq X`, `not_in L` → `in L`.
    fn positive_wording(&self) -> String {
        let positive = match self.operator.name() {
            "ne" => "eq",
            "not_in" => "in",
            other => other,
        };
        format!("{positive} {}", self.operator.operand())
    }

    /// The first value that passes the positive test.
    fn witness<'v>(&self, event: &'v Value) -> Option<&'v Value> {
        let mut found = None;
        self.path.visit(event, &mut |v| {
            let passes = self.operator.passes(v);
            if passes {
                found = Some(v);
            }
            passes
        });
        found
    }

    /// The values the path reaches, as `a, b, and N more`; `None` if there are none.
    fn elements(&self, event: &Value) -> Option<String> {
        let mut shown = Vec::new();
        let mut count = 0;
        self.path.visit(event, &mut |v| {
            if count < MAX_ITEMS {
                shown.push(display_value(v));
            }
            count += 1;
            false
        });
        match count {
            0 => None,
            n if n > MAX_ITEMS => Some(format!("{}, and {} more", shown.join(", "), n - MAX_ITEMS)),
            _ => Some(shown.join(", ")),
        }
    }
}

/// A value as a person reads it: strings bare unless they would read as another type (`"2"`,
/// `"true"`, `""`), other values as JSON; at most [`MAX_CHARS`] characters.
pub(crate) fn display_value(value: &Value) -> String {
    match value {
        Value::String(s) if reads_as_string(s) => cap(s),
        other => cap(&other.to_string()),
    }
}

fn reads_as_string(s: &str) -> bool {
    !s.is_empty()
        && s.trim() == s
        && !matches!(s, "true" | "false" | "null")
        && !s.starts_with(['[', '{', '"'])
        && s.parse::<f64>().is_err()
}

/// A list as `[a, b, c]`.
pub(crate) fn display_list(items: &[Value]) -> String {
    let shown: Vec<String> = items.iter().map(display_value).collect();
    format!("[{}]", join_some(&shown))
}

/// Names (event types, companies, shown values) as `a, b, c`.
pub(crate) fn display_names(names: &[String]) -> String {
    let shown: Vec<String> = names.iter().map(|n| cap(n)).collect();
    join_some(&shown)
}

fn join_some(items: &[String]) -> String {
    if items.len() <= MAX_ITEMS {
        return items.join(", ");
    }
    format!(
        "{}, and {} more",
        items[..MAX_ITEMS].join(", "),
        items.len() - MAX_ITEMS
    )
}

/// Cuts `s` to at most [`MAX_CHARS`] characters, marking the cut with `…`.
pub(crate) fn cap(s: &str) -> String {
    if s.chars().count() <= MAX_CHARS {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(MAX_CHARS - 1).collect();
    out.push('…');
    out
}
