//! `${VAR}` and `${VAR:-default}` inside parsed string values; `$${` is a literal `${`.
//!
//! Expansion happens after parsing, value by value, so a secret containing `:` or `#` cannot
//! change the YAML structure and never shows up in a YAML syntax error. Keys are not expanded.

use crate::yaml::report::{Report, rule_context, target_context};
use crate::yaml::tree::{Node, Value};

/// Looks up an environment variable.
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Why a `${…}` could not be expanded. Carries only the variable name, never a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Problem {
    Unset(String),
    Unterminated,
    BadName,
}

impl Problem {
    pub fn message(&self) -> String {
        match self {
            Problem::Unset(name) => format!(
                "environment variable `{name}` is not set (set it, or give a default: `${{{name}:-default}}`)"
            ),
            Problem::Unterminated => {
                "unterminated `${` (write `$${` for a literal `${`)".to_string()
            }
            Problem::BadName => "`${…}` must name an environment variable (letters, digits and \
                                 `_`, optionally followed by `:-default`)"
                .to_string(),
        }
    }
}

/// Expands one string. Every unset variable is reported, not just the first.
pub(crate) fn expand(text: &str, env: Env<'_>) -> Result<String, Vec<Problem>> {
    let mut out = String::with_capacity(text.len());
    let mut problems = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        if let Some(after) = tail.strip_prefix("$${") {
            out.push_str("${");
            rest = after;
        } else if let Some(after) = tail.strip_prefix("${") {
            let Some(end) = after.find('}') else {
                problems.push(Problem::Unterminated);
                break;
            };
            match resolve(&after[..end], env) {
                Ok(value) => out.push_str(&value),
                Err(problem) => problems.push(problem),
            }
            rest = &after[end + 1..];
        } else {
            out.push('$');
            rest = &tail[1..];
        }
    }
    if problems.is_empty() {
        out.push_str(rest);
        Ok(out)
    } else {
        Err(problems)
    }
}

/// The value of `NAME` or `NAME:-default` (the default also replaces an empty value).
fn resolve(inner: &str, env: Env<'_>) -> Result<String, Problem> {
    let (name, default) = match inner.split_once(":-") {
        Some((name, default)) => (name, Some(default)),
        None => (inner, None),
    };
    if !is_variable_name(name) {
        return Err(Problem::BadName);
    }
    match (env(name), default) {
        (Some(value), Some(default)) if value.is_empty() => Ok(default.to_string()),
        (Some(value), _) => Ok(value),
        (None, Some(default)) => Ok(default.to_string()),
        (None, None) => Err(Problem::Unset(name.to_string())),
    }
}

fn is_variable_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Expands every string value in the document. A value that cannot be expanded is reported
/// (with the target or rule it is in) and becomes [`Value::Invalid`].
pub(crate) fn expand_document(root: &mut Node, env: Env<'_>, report: &mut Report) {
    let Value::Map(entries) = &mut root.value else {
        return expand_node(root, None, env, report);
    };
    for entry in entries {
        match (entry.key.as_str(), &mut entry.value.value) {
            ("targets", Value::Map(targets)) => {
                for target in targets {
                    let context = target_context(&target.key);
                    expand_node(&mut target.value, Some(&context), env, report);
                }
            }
            ("rules", Value::Seq(rules)) => {
                for (index, rule) in rules.iter_mut().enumerate() {
                    let context = rule_context(index, raw_name(rule));
                    expand_node(rule, Some(&context), env, report);
                }
            }
            _ => expand_node(&mut entry.value, None, env, report),
        }
    }
}

/// The `name:` of a rule as written (before expansion), for messages.
fn raw_name(rule: &Node) -> Option<&str> {
    let Value::Map(entries) = &rule.value else {
        return None;
    };
    entries
        .iter()
        .find_map(|e| match (&*e.key, &e.value.value) {
            ("name", Value::Str(name)) => Some(name.as_str()),
            _ => None,
        })
}

fn expand_node(node: &mut Node, context: Option<&str>, env: Env<'_>, report: &mut Report) {
    match &mut node.value {
        Value::Str(text) if text.contains('$') => match expand(text, env) {
            Ok(expanded) => *text = expanded,
            Err(problems) => {
                for problem in problems {
                    report.error(node.pos, context, problem.message());
                }
                node.value = Value::Invalid;
            }
        },
        Value::Seq(items) => {
            for item in items {
                expand_node(item, context, env, report);
            }
        }
        Value::Map(entries) => {
            for entry in entries {
                expand_node(&mut entry.value, context, env, report);
            }
        }
        _ => {}
    }
}

/// The variables `root` names only as the whole value of a field read as a secret (a value
/// that starts at one of `secrets` and is exactly `${NAME}`): see [`super::parse_draft`].
pub(crate) fn secret_only_names(
    root: &Node,
    secrets: &[crate::yaml::tree::Pos],
) -> std::collections::BTreeSet<String> {
    let mut secret_uses = std::collections::BTreeSet::new();
    let mut other_uses = std::collections::BTreeSet::new();
    walk_strings(root, &mut |node, text| {
        let named = std::cell::RefCell::new(Vec::new());
        let record = |name: &str| {
            named.borrow_mut().push(name.to_string());
            Some(String::new())
        };
        let _ = expand(text, &record);
        let whole = secrets.contains(&node.pos) && crate::yaml::show::is_reference(text);
        let uses = if whole {
            &mut secret_uses
        } else {
            &mut other_uses
        };
        uses.extend(named.into_inner());
    });
    secret_uses.retain(|name| !other_uses.contains(name));
    secret_uses
}

fn walk_strings(node: &Node, f: &mut dyn FnMut(&Node, &str)) {
    match &node.value {
        Value::Str(s) => f(node, s),
        Value::Seq(items) => items.iter().for_each(|n| walk_strings(n, f)),
        Value::Map(entries) => entries.iter().for_each(|e| walk_strings(&e.value, f)),
        _ => {}
    }
}
