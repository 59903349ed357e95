//! Paths into the event object (`data.a[0].b`, `data.tags[*].name`, `data."weird.key"`):
//! parsing them once at compile time, and walking an event without allocating.

use std::iter::Peekable;
use std::str::Chars;

use serde_json::Value;

/// One step of a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Segment {
    /// An object key.
    Key(String),
    /// `[N]`: one array element.
    Index(usize),
    /// `[*]`: every array element.
    Each,
}

/// A parsed path, kept with the text the rule wrote so explanations can quote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Path {
    text: String,
    segments: Vec<Segment>,
}

impl Path {
    /// Parses a path; the error says what is wrong with it, in words.
    pub(crate) fn parse(text: &str) -> Result<Path, String> {
        if text.is_empty() {
            return Err("the path is empty".into());
        }
        let mut chars = text.chars().peekable();
        let mut segments = Vec::new();
        loop {
            segments.push(Segment::Key(parse_key(&mut chars)?));
            while chars.next_if_eq(&'[').is_some() {
                segments.push(parse_bracket(&mut chars)?);
            }
            match chars.next() {
                None => break,
                Some('.') => continue,
                Some(c) => {
                    return Err(format!(
                        "unexpected `{c}`; expected `.`, `[` or the end of the path"
                    ));
                }
            }
        }
        Ok(Path {
            text: text.to_owned(),
            segments,
        })
    }

    /// The steps of the path, in order.
    pub(crate) fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// The path as the rule wrote it.
    pub(crate) fn text(&self) -> &str {
        &self.text
    }

    /// Whether the path has a `[*]` and so may yield several values.
    pub(crate) fn is_multi(&self) -> bool {
        self.segments.contains(&Segment::Each)
    }

    /// Calls `found` with each value the path reaches, in document order, until it returns
    /// true; returns whether it did. A missing key, an index out of range, or a step that does
    /// not fit the value (a key on an array, `[*]` on a string) reaches nothing.
    pub(crate) fn visit<'v>(
        &self,
        root: &'v Value,
        found: &mut dyn FnMut(&'v Value) -> bool,
    ) -> bool {
        walk(&self.segments, root, found)
    }

    /// The first value the path reaches.
    pub(crate) fn first<'v>(&self, root: &'v Value) -> Option<&'v Value> {
        let mut first = None;
        self.visit(root, &mut |v| {
            first = Some(v);
            true
        });
        first
    }
}

fn walk<'v>(
    segments: &[Segment],
    value: &'v Value,
    found: &mut dyn FnMut(&'v Value) -> bool,
) -> bool {
    let Some((step, rest)) = segments.split_first() else {
        return found(value);
    };
    match (step, value) {
        (Segment::Key(key), Value::Object(map)) => {
            map.get(key).is_some_and(|v| walk(rest, v, found))
        }
        (Segment::Index(i), Value::Array(items)) => {
            items.get(*i).is_some_and(|v| walk(rest, v, found))
        }
        (Segment::Each, Value::Array(items)) => items.iter().any(|v| walk(rest, v, found)),
        _ => false,
    }
}

fn parse_key(chars: &mut Peekable<Chars<'_>>) -> Result<String, String> {
    match chars.peek() {
        Some('"') => parse_quoted(chars),
        Some('[') => Err("expected a key before `[`".into()),
        Some('.') | None => {
            Err("empty key: two dots in a row, or a dot at the start or the end".into())
        }
        Some(_) => parse_bare(chars),
    }
}

fn parse_bare(chars: &mut Peekable<Chars<'_>>) -> Result<String, String> {
    let mut key = String::new();
    while let Some(&c) = chars.peek() {
        match c {
            '.' | '[' => break,
            ']' => return Err("`]` without a matching `[`".into()),
            '"' => return Err("a quote may only start a key, as in `data.\"a.b\"`".into()),
            _ => key.push(c),
        }
        chars.next();
    }
    Ok(key)
}

fn parse_quoted(chars: &mut Peekable<Chars<'_>>) -> Result<String, String> {
    chars.next(); // the opening quote
    let mut key = String::new();
    loop {
        match chars.next() {
            None => return Err("a quoted key is not closed with `\"`".into()),
            Some('"') => return Ok(key),
            Some('\\') => match chars.next() {
                Some(c @ ('"' | '\\')) => key.push(c),
                _ => return Err("in a quoted key, `\\` may only escape `\"` or `\\`".into()),
            },
            Some(c) => key.push(c),
        }
    }
}

fn parse_bracket(chars: &mut Peekable<Chars<'_>>) -> Result<Segment, String> {
    let mut inside = String::new();
    loop {
        match chars.next() {
            None => return Err("`[` is not closed with `]`".into()),
            Some(']') => break,
            Some(c) => inside.push(c),
        }
    }
    if inside == "*" {
        return Ok(Segment::Each);
    }
    if !inside.is_empty()
        && inside.bytes().all(|b| b.is_ascii_digit())
        && let Ok(i) = inside.parse()
    {
        return Ok(Segment::Index(i));
    }
    Err(format!(
        "`[{}]` is not an index: use `[N]` for one element or `[*]` for every element",
        super::explain::cap(&inside)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn keys(text: &str) -> Vec<Segment> {
        Path::parse(text).unwrap().segments
    }

    fn key(k: &str) -> Segment {
        Segment::Key(k.into())
    }

    #[test]
    fn dotted_keys_indexes_and_wildcards_parse_into_segments() {
        assert_eq!(
            keys("data.a[2].b[*][*].c"),
            vec![
                key("data"),
                key("a"),
                Segment::Index(2),
                key("b"),
                Segment::Each,
                Segment::Each,
                key("c")
            ]
        );
    }

    #[test]
    fn quoted_keys_may_hold_dots_brackets_and_escaped_quotes() {
        assert_eq!(
            keys(r#"data."a.b[0]".c"#),
            vec![key("data"), key("a.b[0]"), key("c")]
        );
        assert_eq!(
            keys(r#"data."say \"hi\"""#),
            vec![key("data"), key(r#"say "hi""#)]
        );
        assert_eq!(keys(r#"data."".x"#), vec![key("data"), key(""), key("x")]);
    }

    #[test]
    fn malformed_paths_are_rejected_with_a_reason() {
        for bad in [
            "",
            ".data",
            "data.",
            "data..x",
            "[0]",
            "data[",
            "data[x]",
            "data[]",
            "data[-1]",
            "data]",
            "data[0]x",
            r#"data."open"#,
            r#"da"ta"#,
            r#"data."a\n""#,
        ] {
            assert!(Path::parse(bad).is_err(), "{bad:?} should not parse");
        }
    }

    #[test]
    fn visit_reaches_every_element_under_nested_wildcards_in_order() {
        let event = json!({"data": {"a": [{"b": [1, 2]}, {"b": []}, {"b": [3]}, {"c": 9}]}});
        let path = Path::parse("data.a[*].b[*]").unwrap();
        let mut seen = Vec::new();
        path.visit(&event, &mut |v| {
            seen.push(v.clone());
            false
        });
        assert_eq!(seen, vec![json!(1), json!(2), json!(3)]);
    }

    #[test]
    fn steps_that_do_not_fit_the_value_reach_nothing() {
        let event = json!({"data": {"s": "text", "a": [1], "o": {"k": 1}}});
        for text in [
            "data.s[*]",
            "data.s[0]",
            "data.a[1]",
            "data.a.k",
            "data.o[0]",
            "nope.x",
        ] {
            assert_eq!(Path::parse(text).unwrap().first(&event), None, "{text}");
        }
        assert_eq!(
            Path::parse("data.a[0]").unwrap().first(&event),
            Some(&json!(1))
        );
    }
}
