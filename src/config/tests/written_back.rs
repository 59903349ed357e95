//! A file that the loader accepts, written back, is accepted with the same meaning (see
//! [`crate::properties`]).
//!
//! A generated configuration (server keys, default retry, targets of every kind with their
//! options, rules with event globs, companies, `where` trees from the matcher's property,
//! `notify` lists and `stop`) is written as YAML in a style chosen per node: block or flow
//! collections; plain, single- or double-quoted strings; some values behind `${VAR}`. Then:
//!
//! - what the loader read is exactly what was written: the document it parsed, as JSON, is the
//!   generated one with the variables expanded (no `"2"` read as a number, no `yes` as a
//!   boolean, no key or item lost);
//! - that document written back (as JSON, which is YAML in flow style) loads to the same
//!   configuration: the same hash, server, defaults and targets, and every generated event and
//!   every sample routed to the same rules, targets and templates.

use proptest::prelude::*;
use serde_json::{Map, Value, json};

use super::{Config, parse_with};
use crate::rules::tests::properties::{event, where_map};
use crate::template::sample_events;
use crate::yaml::report::Report;
use crate::yaml::tree;

/// The variables generated files may name.
const VARS: &[(&str, &str)] = &[
    ("HOOK", "https://hooks.slack.com/services/T0/B0/s3cret"),
    ("KEY", "key-0123456789"),
];

fn target() -> impl Strategy<Value = Value> {
    let retry = prop::option::of((1u32..50, prop::sample::select(vec!["1s", "250ms", "2m"])));
    let common = (
        retry,
        prop::option::of(prop::sample::select(vec!["1/s", "30/min", "100/h"])),
        prop::option::of(1u32..8),
        prop::option::of(prop::sample::select(vec!["5s", "30s"])),
    );
    let kind = prop_oneof![
        prop::bool::ANY.prop_map(|var| json!({
            "kind": "slack",
            "url": if var { "${HOOK}" } else { "https://hooks.slack.com/services/T1/B1/x" },
        })),
        Just(json!({"kind": "slack", "token": "xoxb-1-2", "channel": "#food-safety"})),
        Just(json!({
            "kind": "teams",
            "url": "https://x.environment.api.powerplatform.com/p/invoke?sig=s",
        })),
        prop::collection::btree_map("X-[A-Z][a-z]{1,6}", "[ -#%-~]{1,12}", 0..3).prop_map(
            |h| json!({
                "kind": "webhook",
                "url": "https://erp.northwind.example/hook",
                "headers": h,
            })
        ),
        (
            prop::sample::select(vec!["sendgrid", "postmark", "resend"]),
            prop::collection::vec("[a-z]{1,8}@northwind\\.example", 1..3),
            prop::bool::ANY,
        )
            .prop_map(|(provider, to, var)| json!({
                "kind": "email",
                "provider": provider,
                "api_key": if var { "${KEY}" } else { "k-1" },
                "from": "MonitorQA alerts <alerts@northwind.example>",
                "to": to,
            })),
    ];
    (kind, common).prop_map(|(mut t, (retry, rate, in_flight, timeout))| {
        let map = t.as_object_mut().expect("a target is a map");
        if let Some((attempts, initial)) = retry {
            map.insert(
                "retry".into(),
                json!({"max_attempts": attempts, "initial": initial}),
            );
        }
        if let Some(rate) = rate {
            map.insert("rate_limit".into(), json!(rate));
        }
        if let Some(n) = in_flight {
            map.insert("max_in_flight".into(), json!(n));
        }
        if let Some(timeout) = timeout {
            map.insert("timeout".into(), json!(timeout));
        }
        t
    })
}

/// A configuration the loader accepts (targets `t0`…, rules naming them).
fn document() -> impl Strategy<Value = Value> {
    let events = prop_oneof![
        prop::sample::select(vec!["*", "AUDIT_EXPIRED", "CORRECTIVE_ACTION_*"])
            .prop_map(Value::from),
        prop::collection::vec(
            prop::sample::select(vec![
                "AUDIT_EXPIRED",
                "CORRECTIVE_ACTION_REJECTED",
                "*_EXPIRED"
            ]),
            1..3
        )
        .prop_map(|e| json!(e)),
    ];
    let company = prop::option::of(prop_oneof![
        Just(json!("Northwind Foods")),
        Just(json!(["5f0c2a8e-9b1d-4c3e-8a7f-1d2e3f4a5b6c", "yes"])),
    ]);
    let rule = (
        events,
        company,
        prop::option::of(where_map(1)),
        prop::collection::vec(any::<prop::sample::Index>(), 1..3),
        prop::bool::weighted(0.2),
    );
    (
        prop::collection::vec(target(), 1..4),
        prop::collection::vec(rule, 1..5),
        prop::option::of(prop::sample::select(vec!["10m", "30s"])),
        prop::option::of(2u32..300),
    )
        .prop_map(|(targets, rules, dedup, attempts)| {
            let names: Vec<String> = (0..targets.len()).map(|i| format!("t{i}")).collect();
            let targets: Map<String, Value> = names.iter().cloned().zip(targets).collect();
            let rules: Vec<Value> = rules
                .into_iter()
                .enumerate()
                .map(|(i, (events, company, where_, notify, stop))| {
                    let mut notify: Vec<&str> =
                        notify.iter().map(|n| n.get(&names).as_str()).collect();
                    notify.dedup();
                    let mut rule = json!({"name": format!("rule {i}"), "events": events});
                    let map = rule.as_object_mut().expect("a rule is a map");
                    if let Some(company) = company {
                        map.insert("company".into(), company);
                    }
                    if let Some(where_) = where_ {
                        map.insert("where".into(), where_);
                    }
                    map.insert("notify".into(), json!(notify));
                    if stop {
                        map.insert("stop".into(), json!(true));
                    }
                    rule
                })
                .collect();
            let mut doc = json!({"targets": targets, "rules": rules});
            if let Some(dedup) = dedup {
                doc["server"] = json!({"token": "t-0123", "dedup_window": dedup});
            }
            if let Some(attempts) = attempts {
                doc["defaults"] = json!({"retry": {"max_attempts": attempts}});
            }
            doc
        })
}

/// `value` as YAML, each collection and string in a style `styles` chooses (cycled).
fn write_yaml(value: &Value, styles: &[u8]) -> String {
    let mut writer = Writer { styles, next: 0 };
    let mut out = String::new();
    writer.block(value, 0, &mut out);
    out
}

struct Writer<'a> {
    styles: &'a [u8],
    next: usize,
}

impl Writer<'_> {
    fn style(&mut self) -> u8 {
        let style = self.styles[self.next % self.styles.len()];
        self.next += 1;
        style
    }

    /// A value on its own lines, `indent` spaces in (collections in block style, mostly).
    fn block(&mut self, value: &Value, indent: usize, out: &mut String) {
        let pad = " ".repeat(indent);
        match value {
            Value::Object(map) if !map.is_empty() && !self.style().is_multiple_of(4) => {
                for (k, v) in map {
                    out.push_str(&format!("{pad}{}:", self.scalar(&Value::from(k.as_str()))));
                    self.after_key(v, indent, out);
                }
            }
            Value::Array(items) if !items.is_empty() && !self.style().is_multiple_of(4) => {
                for item in items {
                    out.push_str(&format!("{pad}-"));
                    self.after_key(item, indent, out);
                }
            }
            other => out.push_str(&format!("{pad}{}\n", self.flow(other))),
        }
    }

    fn after_key(&mut self, value: &Value, indent: usize, out: &mut String) {
        let nested = matches!(value, Value::Object(m) if !m.is_empty())
            || matches!(value, Value::Array(a) if !a.is_empty());
        if nested {
            out.push('\n');
            self.block(value, indent + 2, out);
        } else {
            out.push_str(&format!(" {}\n", self.flow(value)));
        }
    }

    /// A value on one line: flow collections and scalars.
    fn flow(&mut self, value: &Value) -> String {
        match value {
            Value::Object(map) => {
                let entries: Vec<String> = map
                    .iter()
                    .map(|(k, v)| {
                        format!(
                            "{}: {}",
                            self.scalar(&Value::from(k.as_str())),
                            self.flow(v)
                        )
                    })
                    .collect();
                format!("{{{}}}", entries.join(", "))
            }
            Value::Array(items) => {
                let items: Vec<String> = items.iter().map(|v| self.flow(v)).collect();
                format!("[{}]", items.join(", "))
            }
            scalar => self.scalar(scalar),
        }
    }

    /// A scalar: a string plain (when YAML would read it back as that string), single- or
    /// double-quoted; anything else as JSON writes it.
    fn scalar(&mut self, value: &Value) -> String {
        let Value::String(s) = value else {
            return value.to_string();
        };
        match self.style() % 3 {
            0 if plain_is_safe(s) => s.clone(),
            1 if !s.contains(['\n', '\r', '\t']) => format!("'{}'", s.replace('\'', "''")),
            _ => value.to_string(),
        }
    }
}

/// Whether a plain scalar reads back as the string `s` (in block and in flow context):
/// letters first, no indicator a flow collection or a comment would take, no word YAML reads as
/// a boolean or null.
fn plain_is_safe(s: &str) -> bool {
    let reserved = [
        "true", "false", "null", "yes", "no", "on", "off", "y", "n", "~",
    ];
    s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || " _-.@/".contains(c))
        && !s.ends_with(' ')
        && !reserved.contains(&s.to_ascii_lowercase().as_str())
}

/// The document the loader reads from `text`, as JSON, with the variables expanded.
fn read_document(text: &str) -> Value {
    let mut root = tree::parse(text)
        .expect("the text parses")
        .expect("the text has a document");
    let mut report = Report::new(std::path::Path::new("rules.yaml"));
    let env = |name: &str| {
        VARS.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    };
    super::super::interpolate::expand_document(&mut root, &env, &mut report);
    root.to_json()
}

/// The generated document with the variables expanded, as the loader should read it.
fn expanded(value: &Value) -> Value {
    match value {
        Value::String(s) => {
            let mut s = s.clone();
            for (name, v) in VARS {
                s = s.replace(&format!("${{{name}}}"), v);
            }
            Value::String(s)
        }
        Value::Array(items) => Value::Array(items.iter().map(expanded).collect()),
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), expanded(v))).collect())
        }
        other => other.clone(),
    }
}

/// What a configuration does with an event: each matching rule, its targets and template.
fn routing(config: &Config, event: &Value) -> Vec<(String, Vec<String>, Option<String>)> {
    config
        .rules
        .evaluate(event)
        .iter()
        .map(|m| {
            (
                m.rule.to_string(),
                m.targets.to_vec(),
                m.template.map(str::to_string),
            )
        })
        .collect()
}

proptest! {
    #![proptest_config(crate::properties::config(150))]

    #[test]
    fn an_accepted_file_written_back_is_accepted_with_the_same_meaning(
        doc in document(),
        styles in prop::collection::vec(any::<u8>(), 1..16),
        events in prop::collection::vec(event(), 1..6),
    ) {
        let text = write_yaml(&doc, &styles);
        let first = parse_with(&text, VARS);
        prop_assert!(first.is_ok(), "refused:\n{}\n{}", text, first.err().unwrap());
        let first = first.unwrap();
        let read = read_document(&text);
        prop_assert_eq!(&read, &expanded(&doc), "read back differently:\n{}", text);

        let written_back = serde_json::to_string_pretty(&read).unwrap();
        let second = parse_with(&written_back, VARS);
        prop_assert!(second.is_ok(), "written back, refused:\n{}", written_back);
        let second = second.unwrap();
        prop_assert_eq!(&first.hash, &second.hash);
        prop_assert_eq!(format!("{:?}", first.server), format!("{:?}", second.server));
        prop_assert_eq!(format!("{:?}", first.defaults), format!("{:?}", second.defaults));
        prop_assert_eq!(format!("{:?}", first.targets), format!("{:?}", second.targets));
        let samples = sample_events().into_iter().map(|(_, e)| e);
        for event in events.into_iter().chain(samples) {
            prop_assert_eq!(routing(&first, &event), routing(&second, &event), "{}", event);
        }
    }
}
