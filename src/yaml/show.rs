//! A loaded file written back for people to read (the operator page's rules view): the
//! document as written, before `${VAR}` expansion, with every value the loader read as a
//! secret hidden. Comments are not kept (one may hold an old token), so what is shown is what
//! was parsed, never the raw text.
//!
//! A secret written as a whole `${NAME}` reference shows as that reference (a name is not a
//! secret); any other secret shows as `<secret>`, or for a URL as its scheme and host
//! followed by `/<secret>`.

use std::collections::BTreeSet;
use std::fmt::Write;

use super::tree::{Node, Pos, Value};

/// `original` written as block YAML, hiding the values that start at `secrets`; `expanded` is
/// the same document after expansion (what a hidden URL's host is read from).
pub(crate) fn redacted(original: &Node, expanded: &Node, secrets: &[Pos]) -> String {
    let secrets: BTreeSet<Pos> = secrets.iter().copied().collect();
    let mut out = String::new();
    let writer = Writer { secrets: &secrets };
    writer.node(original, Some(expanded), 0, &mut out);
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

struct Writer<'s> {
    secrets: &'s BTreeSet<Pos>,
}

impl Writer<'_> {
    /// Writes `node` at `indent`; a collection starts on a new line, a scalar on this one.
    fn node(&self, node: &Node, expanded: Option<&Node>, indent: usize, out: &mut String) {
        match &node.value {
            Value::Map(entries) if !entries.is_empty() => {
                for (i, entry) in entries.iter().enumerate() {
                    let twin = expanded.and_then(|e| entry_of(e, i));
                    pad(out, indent);
                    let _ = write!(out, "{}:", scalar_text(&entry.key));
                    self.value_after_key(&entry.value, twin, indent, out);
                }
            }
            Value::Seq(items) if !items.is_empty() => {
                for (i, item) in items.iter().enumerate() {
                    let twin = expanded.and_then(|e| item_of(e, i));
                    pad(out, indent);
                    out.push('-');
                    self.value_after_key(item, twin, indent, out);
                }
            }
            _ => {
                out.push_str(&self.scalar(node, expanded));
                out.push('\n');
            }
        }
    }

    /// After `key:` or `-`: a scalar on the same line, a collection indented below.
    fn value_after_key(
        &self,
        node: &Node,
        expanded: Option<&Node>,
        indent: usize,
        out: &mut String,
    ) {
        if is_collection(node) {
            out.push('\n');
            self.node(node, expanded, indent + 2, out);
        } else {
            out.push(' ');
            self.node(node, expanded, indent, out);
        }
    }

    fn scalar(&self, node: &Node, expanded: Option<&Node>) -> String {
        if self.secrets.contains(&node.pos) {
            return hidden(node, expanded);
        }
        match &node.value {
            Value::Null | Value::Invalid => "null".into(),
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => n.to_string(),
            Value::Str(s) => scalar_text(s),
            Value::Map(_) => "{}".into(),
            Value::Seq(_) => "[]".into(),
        }
    }
}

/// A hidden secret: its `${NAME}` reference, a URL's scheme and host, or `<secret>`.
fn hidden(node: &Node, expanded: Option<&Node>) -> String {
    if let Value::Str(s) = &node.value
        && is_reference(s)
    {
        return s.clone();
    }
    let text = match expanded.map(|e| &e.value) {
        Some(Value::Str(s)) => s.as_str(),
        _ => "",
    };
    match (url::Url::parse(text), crate::secret::host(text)) {
        (Ok(url), Some(host)) => format!("\"{}://{host}/<secret>\"", url.scheme()),
        _ => "\"<secret>\"".into(),
    }
}

/// `${NAME}` and nothing else (a default after `:-` may itself be a secret).
pub(crate) fn is_reference(s: &str) -> bool {
    s.strip_prefix("${")
        .and_then(|rest| rest.strip_suffix('}'))
        .is_some_and(|name| {
            !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
}

fn is_collection(node: &Node) -> bool {
    match &node.value {
        Value::Map(entries) => !entries.is_empty(),
        Value::Seq(items) => !items.is_empty(),
        _ => false,
    }
}

fn entry_of(node: &Node, i: usize) -> Option<&Node> {
    match &node.value {
        Value::Map(entries) => entries.get(i).map(|e| &e.value),
        _ => None,
    }
}

fn item_of(node: &Node, i: usize) -> Option<&Node> {
    match &node.value {
        Value::Seq(items) => items.get(i),
        _ => None,
    }
}

fn pad(out: &mut String, indent: usize) {
    out.extend(std::iter::repeat_n(' ', indent));
}

/// A string plain when YAML reads it back as the same string, else double-quoted (JSON
/// escapes are valid YAML double-quoted escapes).
fn scalar_text(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_alphanumeric() || " _-./@*$(){}+".contains(c))
        && !s.starts_with([' ', '-', '*', '@', '{'])
        && !s.ends_with(' ')
        && !matches!(
            s.to_ascii_lowercase().as_str(),
            "null" | "true" | "false" | "yes" | "no" | "on" | "off" | "~"
        )
        && s.parse::<f64>().is_err();
    if plain {
        s.to_string()
    } else {
        serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::tree;

    fn show(text: &str, secrets: &[(usize, usize)], expanded: &str) -> String {
        let original = tree::parse(text).unwrap().unwrap();
        let expanded = tree::parse(expanded).unwrap().unwrap();
        let secrets: Vec<Pos> = secrets
            .iter()
            .map(|&(line, column)| Pos { line, column })
            .collect();
        redacted(&original, &expanded, &secrets)
    }

    #[test]
    fn a_literal_secret_is_hidden_and_a_url_keeps_its_host() {
        let text = "server:\n  admin_token: hunter22\ntargets:\n  a:\n    url: https://hooks.slack.com/services/T/B/x\n";
        let shown = show(text, &[(2, 16), (5, 10)], text);
        assert!(!shown.contains("hunter22"), "{shown}");
        assert!(!shown.contains("services"), "{shown}");
        assert!(shown.contains("admin_token: \"<secret>\""), "{shown}");
        assert!(
            shown.contains("url: \"https://hooks.slack.com/<secret>\""),
            "{shown}"
        );
    }

    #[test]
    fn a_reference_shows_its_name_and_a_default_is_hidden() {
        let text = "a: ${TOKEN}\nb: ${OTHER:-s3cret}\nc: plain\n";
        let expanded = "a: x\nb: s3cret\nc: plain\n";
        let shown = show(text, &[(1, 4), (2, 4)], expanded);
        assert_eq!(shown, "a: ${TOKEN}\nb: \"<secret>\"\nc: plain\n");
    }

    #[test]
    fn written_back_it_reads_as_the_same_document() {
        let text = "rules:\n  - name: \"x: y\"\n    events: [AUDIT_*]\n    where: {score: {lt: 80}, on: 'yes'}\n    notify: []\n  - name: \"\"\n";
        let shown = show(text, &[], text);
        let again = tree::parse(&shown).unwrap().unwrap();
        let first = tree::parse(text).unwrap().unwrap();
        assert_eq!(again.to_json(), first.to_json(), "{shown}");
    }
}
