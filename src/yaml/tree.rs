//! The one place that parses YAML: text → a tree of [`Node`]s that keeps the line and column of
//! every key and value, so later checks can point at `file:line:col`.
//!
//! serde-saphyr does the parsing (limits against alias bombs, YAML 1.2 booleans only). Repeated
//! keys are passed through to the tree so that [`duplicate_keys`] can report every one of them,
//! with both places, alongside all other problems.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::{DuplicateKeyPolicy, MessageFormatter, Spanned, UserMessageFormatter};

use super::report::Report;

/// A 1-based position in the file; line 0 means "unknown".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Pos {
    pub line: usize,
    pub column: usize,
}

/// A YAML value and where it starts.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub pos: Pos,
    pub value: Value,
}

/// A mapping entry: the key (with its own position) and the value.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub key: String,
    pub key_pos: Pos,
    pub value: Node,
}

#[derive(Debug, Clone)]
pub(crate) enum Value {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<Entry>),
    /// A value whose problem was already reported (an unset variable): checks skip it quietly.
    Invalid,
}

impl Node {
    pub fn is_scalar(&self) -> bool {
        !matches!(self.value, Value::Seq(_) | Value::Map(_))
    }

    /// What kind of value this is, for "expected X, found Y" messages (never the value itself).
    pub fn kind_name(&self) -> &'static str {
        match self.value {
            Value::Null => "nothing",
            Value::Bool(_) => "true/false",
            Value::Number(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
            Value::Invalid => "an invalid value",
        }
    }

    /// The value as JSON, mapping keys in file order (last repeated key wins).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Null | Value::Invalid => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Number(n) => J::Number(n.clone()),
            Value::Str(s) => J::String(s.clone()),
            Value::Seq(items) => J::Array(items.iter().map(Node::to_json).collect()),
            Value::Map(entries) => J::Object(
                entries
                    .iter()
                    .map(|e| (e.key.clone(), e.value.to_json()))
                    .collect(),
            ),
        }
    }
}

/// Parses one YAML document. `Ok(None)` for an empty file (or one with only comments).
/// A syntax error is returned as its position and a message that quotes no value.
pub(crate) fn parse(text: &str) -> Result<Option<Node>, (Pos, String)> {
    let options = serde_saphyr::options! {
        strict_booleans: true,
        duplicate_keys: DuplicateKeyPolicy::PassThrough,
        with_snippet: false,
        leading_zero_numbers_as_strings: true,
        null_as_string: true,
    };
    match serde_saphyr::from_str_with_options::<Option<Spanned<Value>>>(text, options) {
        Ok(root) => Ok(root.map(node_from)),
        Err(err) => {
            let err = err.without_snippet();
            let pos = err.location().map(pos_from).unwrap_or_default();
            let message = UserMessageFormatter.format_message(err);
            // Keep the message on one line whatever the parser put in it.
            let message: String = message.chars().filter(|c| !c.is_control()).collect();
            Err((pos, format!("invalid YAML: {message}")))
        }
    }
}

/// Reports every key that appears twice in `entries`, pointing at the second one.
pub(crate) fn duplicate_keys(entries: &[Entry], context: Option<&str>, report: &mut Report) {
    for (i, entry) in entries.iter().enumerate() {
        if let Some(first) = entries[..i].iter().find(|e| e.key == entry.key) {
            report.error(
                entry.key_pos,
                context,
                format!(
                    "duplicate key `{}` (first at line {}, column {})",
                    entry.key, first.key_pos.line, first.key_pos.column
                ),
            );
        }
    }
}

fn pos_from(location: serde_saphyr::Location) -> Pos {
    Pos {
        line: usize::try_from(location.line()).unwrap_or(usize::MAX),
        column: usize::try_from(location.column()).unwrap_or(usize::MAX),
    }
}

fn node_from(spanned: Spanned<Value>) -> Node {
    Node {
        pos: pos_from(spanned.referenced),
        value: spanned.value,
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        serde_json::Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("numbers must be finite"))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Str(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::Str(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<Value>>()? {
            items.push(node_from(item));
        }
        Ok(Value::Seq(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Spanned<String>>()? {
            let value = map.next_value::<Spanned<Value>>()?;
            entries.push(Entry {
                key: key.value,
                key_pos: pos_from(key.referenced),
                value: node_from(value),
            });
        }
        Ok(Value::Map(entries))
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}
