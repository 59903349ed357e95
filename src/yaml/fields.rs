//! Typed reading of one YAML mapping (a section, a target, a rule): unknown and repeated keys,
//! missing required keys and wrong types are reported with their position, and reading goes on.
//! Messages name keys and kinds of values, never the values themselves.

use std::time::Duration;

use super::report::{Report, did_you_mean};
use super::tree::{Entry, Node, Pos, Value, duplicate_keys};
use super::values;
use crate::secret::Secret;

/// One mapping being read. `what` names it in messages ("rule", "target", "`server`").
pub(crate) struct Fields<'a> {
    entries: &'a [Entry],
    at: Pos,
    what: &'a str,
    context: Option<&'a str>,
    allowed: &'a [&'a str],
}

impl<'a> Fields<'a> {
    /// Opens `node` as a mapping (nothing at all reads as an empty one) and reports repeated
    /// keys. `at` is where "missing key" problems point.
    pub fn open(
        node: &'a Node,
        at: Pos,
        what: &'a str,
        context: Option<&'a str>,
        report: &mut Report,
    ) -> Option<Self> {
        let entries: &[Entry] = match &node.value {
            Value::Map(entries) => entries,
            Value::Null => &[],
            Value::Invalid => return None,
            _ => {
                let found = node.kind_name();
                report.error(
                    node.pos,
                    context,
                    format!("{what} must be a mapping, found {found}"),
                );
                return None;
            }
        };
        duplicate_keys(entries, context, report);
        Some(Fields {
            entries,
            at,
            what,
            context,
            allowed: &[],
        })
    }

    /// Reports every key not in `allowed`, with the closest allowed one and the whole list.
    pub fn allow(&mut self, allowed: &'a [&'a str], report: &mut Report) {
        self.allowed = allowed;
        for entry in self.entries {
            if !allowed.contains(&entry.key.as_str()) {
                let hint = did_you_mean(&entry.key, allowed.iter().copied());
                let message = format!(
                    "unknown key `{}` in {}{hint} (allowed: {})",
                    entry.key,
                    self.what,
                    allowed.join(", ")
                );
                report.error(entry.key_pos, self.context, message);
            }
        }
    }

    pub fn context(&self) -> Option<&'a str> {
        self.context
    }

    pub fn at(&self) -> Pos {
        self.at
    }

    pub fn entries(&self) -> &'a [Entry] {
        self.entries
    }

    /// The value of `key`; `None` if absent or written with no value.
    pub fn get(&self, key: &str) -> Option<&'a Node> {
        self.entries
            .iter()
            .find(|e| e.key == key)
            .map(|e| &e.value)
            .filter(|node| !matches!(node.value, Value::Null))
    }

    pub fn key_pos(&self, key: &str) -> Pos {
        self.entries
            .iter()
            .find(|e| e.key == key)
            .map_or(self.at, |e| e.key_pos)
    }

    pub fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Reports that `key` is required; `hint` (may be empty) says what it is for. Nothing is
    /// reported when an unknown key is a misspelling of it: that key's error says it already.
    pub fn missing(&self, key: &str, hint: &str, report: &mut Report) {
        let misspelt = self.entries.iter().any(|e| {
            !self.allowed.contains(&e.key.as_str()) && !did_you_mean(&e.key, [key]).is_empty()
        });
        if misspelt {
            return;
        }
        let message = format!("{} needs `{key}`{hint}", self.what);
        report.error(self.at, self.context, message);
    }

    /// Reports a problem with the value of `key` (at the value).
    pub fn problem(&self, node: &Node, message: impl Into<String>, report: &mut Report) {
        report.error(node.pos, self.context, message);
    }

    /// A string (a number is read as its text), with its position.
    pub fn text(&self, key: &str, report: &mut Report) -> Option<(String, Pos)> {
        let node = self.get(key)?;
        let text = scalar_text(node).or_else(|| self.wrong_type(key, node, "a string", report))?;
        Some((text, node.pos))
    }

    pub fn required_text(&self, key: &str, report: &mut Report) -> Option<(String, Pos)> {
        if !self.has(key) {
            self.missing(key, "", report);
        }
        let (text, pos) = self.text(key, report)?;
        if text.trim().is_empty() {
            report.error(pos, self.context, format!("`{key}` is empty"));
            return None;
        }
        Some((text, pos))
    }

    /// A secret: like [`Fields::required_text`] when `required`, never quoted in a message.
    pub fn secret(&self, key: &str, required: bool, report: &mut Report) -> Option<Secret> {
        if required && !self.has(key) {
            self.missing(key, "", report);
        }
        let (text, pos) = self.text(key, report)?;
        report.secret_at(pos);
        if text.is_empty() {
            report.error(pos, self.context, format!("`{key}` is empty"));
            return None;
        }
        Some(Secret::new(text))
    }

    pub fn boolean(&self, key: &str, report: &mut Report) -> Option<bool> {
        let node = self.get(key)?;
        match &node.value {
            Value::Bool(b) => Some(*b),
            Value::Str(s) if s == "true" || s == "false" => Some(s == "true"),
            Value::Invalid => None,
            _ => self.wrong_type(key, node, "true or false", report),
        }
    }

    pub fn duration(&self, key: &str, report: &mut Report) -> Option<Duration> {
        let node = self.get(key)?;
        match &node.value {
            Value::Str(s) => match values::duration(s) {
                Ok(d) => Some(d),
                Err(message) => {
                    report.error(node.pos, self.context, format!("`{key}`: {message}"));
                    None
                }
            },
            Value::Invalid => None,
            _ => self.wrong_type(key, node, "a duration like \"10s\"", report),
        }
    }

    /// A whole number (or a string holding one, as `${VAR}` gives).
    pub fn number(&self, key: &str, report: &mut Report) -> Option<u64> {
        let node = self.get(key)?;
        let parsed = match &node.value {
            Value::Number(n) => n.as_u64(),
            Value::Str(s) => s.trim().parse().ok(),
            Value::Invalid => return None,
            _ => None,
        };
        parsed.or_else(|| self.wrong_type(key, node, "a whole number", report))
    }

    /// A string or a list of strings, each with its position.
    pub fn text_list(&self, key: &str, report: &mut Report) -> Option<Vec<(String, Pos)>> {
        let node = self.get(key)?;
        let items = match &node.value {
            Value::Seq(items) => items.as_slice(),
            Value::Invalid => return Some(Vec::new()),
            _ => std::slice::from_ref(node),
        };
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            match scalar_text(item) {
                Some(text) => out.push((text, item.pos)),
                None if matches!(item.value, Value::Invalid) => {}
                None => {
                    let message = format!(
                        "each entry of `{key}` must be a string, found {}",
                        item.kind_name()
                    );
                    report.error(item.pos, self.context, message);
                }
            }
        }
        Some(out)
    }

    fn wrong_type<T>(
        &self,
        key: &str,
        node: &Node,
        expected: &str,
        report: &mut Report,
    ) -> Option<T> {
        if !matches!(node.value, Value::Invalid) {
            let message = format!("`{key}` must be {expected}, found {}", node.kind_name());
            report.error(node.pos, self.context, message);
        }
        None
    }
}

/// The text of a string or number scalar.
pub(crate) fn scalar_text(node: &Node) -> Option<String> {
    match &node.value {
        Value::Str(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A duration that must be more than zero.
pub(crate) fn positive_duration(f: &Fields, key: &str, report: &mut Report) -> Option<Duration> {
    let duration = f.duration(key, report)?;
    if duration.is_zero() {
        let node = f.get(key)?;
        f.problem(node, format!("`{key}` must be longer than 0s"), report);
        return None;
    }
    Some(duration)
}

/// An optional http(s) URL that is not a secret (an API base URL).
pub(crate) fn http_url(f: &Fields, key: &str, report: &mut Report) -> Option<String> {
    let (text, pos) = f.text(key, report)?;
    match values::http_host(&text) {
        Ok(_) => Some(text.trim_end_matches('/').to_string()),
        Err(problem) => {
            report.error(pos, f.context(), problem.message(key));
            None
        }
    }
}

impl Fields<'_> {
    /// A template name: a plain file name stem, so it cannot reach outside `templates/`.
    pub(crate) fn template_name(&self, key: &str, report: &mut Report) -> Option<String> {
        let (name, pos) = self.text(key, report)?;
        let plain = !name.is_empty() && !name.contains(['/', '\\']) && !name.starts_with('.');
        if !plain {
            let message =
                format!("`{key}` must be a template name (no `/`, not starting with `.`)");
            report.error(pos, self.context(), message);
            return None;
        }
        Some(name)
    }
}
