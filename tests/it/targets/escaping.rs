//! Escaping per target, for generated values: any string a MonitorQA user can type, put into
//! any text field of any sample event, reaches Slack, Teams and email as text and nothing
//! else, and every payload stays within its provider's limits.
//!
//! Each case renders the event's default message twice: once with the generated value and
//! once with a plain word (`Qqq`) in the same field, so whatever markup appears in the second
//! is the template's own. Then, read the way each client reads it:
//!
//! - **Slack** (every mrkdwn text and the top-level `text`): no more `<` than the template
//!   wrote (so no `<!channel>`, `<@U…>`, `<#C…>` or `<url|label>` from a value), and no more
//!   formatting characters that Slack would act on (`*_~` and `` ` `` at a word boundary,
//!   without the word joiner the escaping puts around a value's own);
//! - **email**: the HTML, parsed by an HTML5 parser (html5ever, through `scraper`), has the
//!   template's elements and attributes in the template's order, and no other (a value's line
//!   breaks become `<br>`, which the comparison leaves out); the subject is one line;
//! - **Teams** (every text of the card), parsed as CommonMark: no link, image, emphasis, code,
//!   heading, list, quote or HTML that the template did not write, and no live `{{` (the
//!   card's own DATE()/TIME() substitution).
//!
//! Long values (some cases carry 5 000 characters) check the limits, which hold in every
//! case: Slack's block count, header, section, field, button and text lengths (in UTF-16
//! units) and a valid button URL; a Teams message under the 28 KB a Workflows webhook takes;
//! an email HTML part under Gmail's ~102 KB clipping size. A shortened message adds its note,
//! so a long value's email is held to the elements the template uses in some render, not to
//! one order.
//!
//! The seed is fixed (`PROPTEST_CASES` / `PROPTEST_RNG_SEED` choose others), as for the
//! library's properties.

use std::collections::BTreeSet;

use mqa_relay::compose::request_for;
use mqa_relay::targets::{ConfiguredTarget, HttpRequest};
use mqa_relay::template::{Templates, sample_events};
use proptest::prelude::*;
use pulldown_cmark::{Event, Options, Parser, Tag};
use serde_json::Value;

use super::json_body;
use crate::support::config::configured;
use crate::support::properties::config;

/// Pieces that mean something to Slack, CommonMark, HTML or an Adaptive Card.
const FRAGMENTS: &[&str] = &[
    "<!channel>",
    "<!here|here>",
    "<@U024BE7LH>",
    "<#C024BE7LR>",
    "<https://evil.example|click>",
    "<mailto:a@evil.example>",
    "https://evil.example/x",
    "*",
    "_",
    "~",
    "`",
    "```",
    "*bold*",
    "_it_",
    "~gone~",
    "`code`",
    "&",
    "&amp;",
    "&lt;",
    "&#60;",
    "<",
    ">",
    "\"",
    "'",
    "|",
    "\\",
    "[x](https://evil.example)",
    "![i](https://evil.example/i.png)",
    "<https://evil.example>",
    "<b>",
    "</td>",
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "\" onmouseover=\"x",
    "<!--",
    "-->",
    "]]>",
    "\n",
    "\r\n",
    "\n\n",
    "# ",
    "- ",
    "1. ",
    "2) ",
    "> ",
    "===",
    "| a | b |",
    "{{DATE(2017-02-14T06:08:39Z,SHORT)}}",
    "{{",
    "}}",
    ":rotating_light:",
    "\u{202E}",
    "\u{2066}",
    "\u{2060}",
    "\u{0}",
    "\u{1b}[31m",
    "😀",
    "👩‍👩‍👧‍👦",
    " ",
    "\t",
];

/// A value as a user may type it: the fragments above, any characters and plain words.
fn short_value() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        4 => prop::sample::select(FRAGMENTS).prop_map(str::to_string),
        2 => any::<char>().prop_map(String::from),
        2 => "[a-zA-Z0-9]{1,8}",
    ];
    prop::collection::vec(piece, 1..14).prop_map(|pieces| pieces.concat())
}

/// A value, now and then thousands of characters long.
fn value() -> impl Strategy<Value = (String, bool)> {
    prop_oneof![
        9 => short_value().prop_map(|v| (v, false)),
        1 => (short_value(), 1000..6000usize).prop_map(|(v, n)| (v.repeat(n / v.len().max(1) + 1), true)),
    ]
}

/// The JSON pointers of every string in `v` (every text a template may show).
fn string_leaves(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::String(_) => out.push(at),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                string_leaves(item, format!("{at}/{i}"), out);
            }
        }
        Value::Object(map) => {
            for (k, item) in map {
                let key = k.replace('~', "~0").replace('/', "~1");
                string_leaves(item, format!("{at}/{key}"), out);
            }
        }
        _ => {}
    }
}

/// The samples, and what the relay adds to them: an id-only audit event with the details the
/// MonitorQA lookup found (`audit`), and an update with what changed (`changes`).
fn events() -> Vec<(String, Value)> {
    let samples = sample_events();
    let details = samples
        .iter()
        .find(|(_, e)| e["event"] == "AUDIT_COMPLETED")
        .map(|(_, e)| e["data"].clone())
        .expect("the completed audit sample");
    let mut events = samples.clone();
    for (stem, event) in &samples {
        let kind = event["event"].as_str().unwrap_or_default();
        if kind.starts_with("AUDIT_") && kind != "AUDIT_COMPLETED" {
            let mut looked_up = event.clone();
            looked_up["audit"] = details.clone();
            events.push((format!("{stem} looked up"), looked_up));
        }
        if matches!(kind, "CORRECTIVE_ACTION_UPDATED" | "AUDIT_RESCHEDULED") {
            let mut changed = event.clone();
            changed["changes"] = serde_json::json!({
                "known": true, "since": "CORRECTIVE_ACTION_ASSIGNED", "at": "2026-11-20T06:00:00Z",
                "fields": [{"label": "Due", "old": "a", "new": "b"},
                           {"label": "Description", "old": "c", "new": "d"}],
            });
            if kind == "AUDIT_RESCHEDULED" {
                changed["audit"] = details.clone();
            }
            events.push((format!("{stem} changed"), changed));
        }
    }
    events
}

/// Every (sample, pointer) a value can be put at, except the event type (that chooses the
/// template, and an unknown one has its own test).
fn places() -> Vec<(Value, String)> {
    let mut places = Vec::new();
    for (_, event) in events() {
        let mut leaves = Vec::new();
        string_leaves(&event, String::new(), &mut leaves);
        for leaf in leaves.into_iter().filter(|p| p != "/event") {
            places.push((event.clone(), leaf));
        }
    }
    places
}

fn with_value(event: &Value, pointer: &str, value: &str) -> Value {
    let mut event = event.clone();
    *event
        .pointer_mut(pointer)
        .expect("the pointer names a leaf") = Value::String(value.into());
    event
}

/// The word a control render puts where the generated value goes.
const PLAIN: &str = "Qqq";

struct Targets {
    templates: Templates,
    slack: ConfiguredTarget,
    teams: ConfiguredTarget,
    email: ConfiguredTarget,
}

impl Targets {
    fn new() -> Targets {
        Targets {
            templates: Templates::builtin(),
            slack: configured(r#"{ kind: slack, url: "https://hooks.slack.com/services/T/B/x" }"#),
            teams: configured(
                r#"{ kind: teams, url: "https://x.environment.api.powerplatform.com/p?sig=s" }"#,
            ),
            email: configured(
                r#"{ kind: email, provider: sendgrid, api_key: k, from: a@northwind.example, to: [b@northwind.example] }"#,
            ),
        }
    }

    fn request(&self, target: &ConfiguredTarget, event: &Value) -> HttpRequest {
        request_for(&self.templates, target, None, event, "k")
            .unwrap_or_else(|e| panic!("the default template renders: {e}"))
    }
}

// ---- Slack ----

const WORD_JOINER: char = '\u{2060}';

/// Every mrkdwn text of a Slack body, and its top-level `text` (Slack reads it as mrkdwn).
fn slack_texts(body: &Value) -> Vec<String> {
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(map) => {
                if map.get("type").and_then(Value::as_str) == Some("mrkdwn")
                    && let Some(text) = map.get("text").and_then(Value::as_str)
                {
                    out.push(text.to_string());
                }
                map.values().for_each(|v| walk(v, out));
            }
            Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut texts = vec![body["text"].as_str().unwrap_or_default().to_string()];
    walk(&body["blocks"], &mut texts);
    texts
}

/// What Slack would act on in a mrkdwn text: its `<` (every mention, channel link and link
/// starts with one) and its formatting characters at a word boundary, unless a word joiner
/// stands beside them.
fn slack_markup(text: &str) -> (usize, usize) {
    let chars: Vec<char> = text.chars().collect();
    let angles = chars.iter().filter(|c| **c == '<').count();
    let word = |c: Option<&char>| c.is_some_and(|c| c.is_alphanumeric());
    let joined = |c: Option<&char>| c == Some(&WORD_JOINER);
    let live = (0..chars.len())
        .filter(|&i| matches!(chars[i], '*' | '_' | '~' | '`'))
        .filter(|&i| {
            let before = i.checked_sub(1).and_then(|j| chars.get(j));
            let after = chars.get(i + 1);
            !(joined(before) || joined(after) || (word(before) && word(after)))
        })
        .count();
    (angles, live)
}

fn utf16(s: &str) -> usize {
    s.encode_utf16().count()
}

/// Slack's limits (its Block Kit reference), every length in UTF-16 units.
fn slack_within_limits(body: &Value) -> Result<(), String> {
    let blocks = body["blocks"].as_array().ok_or("no blocks")?;
    let text = body["text"].as_str().ok_or("no text")?;
    if text.trim().is_empty() || utf16(text) > 4000 {
        return Err(format!("top-level text of {} units", utf16(text)));
    }
    if blocks.len() > 50 {
        return Err(format!("{} blocks", blocks.len()));
    }
    for block in blocks {
        let kind = block["type"].as_str().unwrap_or_default();
        let text_len = block["text"]["text"].as_str().map_or(0, utf16);
        match kind {
            "header" if text_len > 150 => return Err(format!("header of {text_len}")),
            "section" if text_len > 3000 => return Err(format!("section of {text_len}")),
            _ => {}
        }
        if let Some(fields) = block["fields"].as_array() {
            if fields.len() > 10 {
                return Err(format!("{} fields in a section", fields.len()));
            }
            if let Some(long) = fields
                .iter()
                .find(|f| f["text"].as_str().map_or(0, utf16) > 2000)
            {
                return Err(format!(
                    "a field of {}",
                    utf16(long["text"].as_str().unwrap())
                ));
            }
        }
        for element in block["elements"].as_array().into_iter().flatten() {
            if let Some(url) = element["url"].as_str() {
                let parsed = url::Url::parse(url).map_err(|e| format!("button url {url}: {e}"))?;
                if !matches!(parsed.scheme(), "http" | "https") || utf16(url) > 3000 {
                    return Err(format!("button url {url}"));
                }
            }
            let label = element["text"]["text"].as_str().map_or(0, utf16);
            if element["type"] == "button" && label > 75 {
                return Err(format!("button label of {label}"));
            }
        }
    }
    Ok(())
}

// ---- email ----

/// The elements of an HTML document in order, each with its attribute names.
fn html_elements(html: &str) -> Vec<(String, Vec<String>)> {
    let document = scraper::Html::parse_document(html);
    document
        .tree
        .nodes()
        .filter_map(|node| node.value().as_element())
        .filter(|element| element.name() != "br")
        .map(|element| {
            let mut attributes: Vec<String> =
                element.attrs().map(|(name, _)| name.to_string()).collect();
            attributes.sort();
            (element.name().to_string(), attributes)
        })
        .collect()
}

/// The subject and the HTML part of a SendGrid body.
fn email_parts(body: &Value) -> (String, String) {
    let subject = body["subject"].as_str().unwrap_or_default().to_string();
    let html = body["content"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|part| part["type"] == "text/html")
        .and_then(|part| part["value"].as_str())
        .unwrap_or_default()
        .to_string();
    (subject, html)
}

// ---- Teams ----

/// Every text of an Adaptive Card that Teams renders as Markdown or shows as a label.
fn card_texts(card: &Value) -> Vec<String> {
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(map) => {
                for (k, v) in map {
                    match (k.as_str(), v) {
                        ("text" | "title" | "value", Value::String(s)) => out.push(s.clone()),
                        _ => walk(v, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(card, &mut out);
    out
}

/// How many of each kind of markup a CommonMark parser finds in `texts`, and the `{{` that
/// no backslash escapes.
fn markdown_markup(texts: &[String]) -> std::collections::BTreeMap<&'static str, usize> {
    let mut counts = std::collections::BTreeMap::new();
    let options = Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TABLES;
    for text in texts {
        for event in Parser::new_ext(text, options) {
            let kind = match event {
                Event::Start(Tag::Link { .. }) => "link",
                Event::Start(Tag::Image { .. }) => "image",
                Event::Start(Tag::Emphasis) => "emphasis",
                Event::Start(Tag::Strong) => "strong",
                Event::Start(Tag::Strikethrough) => "strikethrough",
                Event::Start(Tag::CodeBlock(_)) | Event::Code(_) => "code",
                Event::Start(Tag::Heading { .. }) => "heading",
                Event::Start(Tag::List(_)) => "list",
                Event::Start(Tag::BlockQuote(_)) => "quote",
                Event::Start(Tag::Table(_)) => "table",
                Event::Html(_) | Event::InlineHtml(_) => "html",
                _ => continue,
            };
            *counts.entry(kind).or_insert(0) += 1;
        }
        let live_braces = text
            .match_indices("{{")
            .filter(|(i, _)| text[..*i].chars().rev().take_while(|c| *c == '\\').count() % 2 == 0);
        *counts.entry("{{").or_insert(0) += live_braces.count();
    }
    counts
}

fn at_most(
    found: &std::collections::BTreeMap<&'static str, usize>,
    template: &std::collections::BTreeMap<&'static str, usize>,
) -> Result<(), String> {
    for (kind, n) in found {
        let allowed = template.get(kind).copied().unwrap_or(0);
        if *n > allowed {
            return Err(format!("{n} {kind} where the template has {allowed}"));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(200))]

    #[test]
    fn a_value_reaches_every_target_as_text_and_within_its_limits(
        place in prop::sample::select(places()),
        (value, long) in value(),
    ) {
        thread_local!(static TARGETS: Targets = Targets::new());
        let (event, pointer) = place;
        let hostile = with_value(&event, &pointer, &value);
        // What the template writes around a plain word, and (for a long value) around a
        // long one: the message is then shortened, and says so.
        let mut controls = vec![with_value(&event, &pointer, PLAIN)];
        if long {
            controls.push(with_value(&event, &pointer, &PLAIN.repeat(2000)));
        }
        let at = format!("{} at {pointer}", event["event"]);
        TARGETS.with(|t| -> Result<(), TestCaseError> {
            let bodies = |target: &ConfiguredTarget| -> (Value, Vec<Value>) {
                let body = json_body(&t.request(target, &hostile)).clone();
                let controls = controls.iter().map(|c| json_body(&t.request(target, c)).clone());
                (body, controls.collect())
            };

            // Slack.
            let (body, controls) = bodies(&t.slack);
            let (angles, live) = slack_markup(&slack_texts(&body).join("\n"));
            let (angles0, live0) = controls
                .iter()
                .map(|c| slack_markup(&slack_texts(c).join("\n")))
                .fold((0, 0), |(a, l), (a1, l1)| (a.max(a1), l.max(l1)));
            prop_assert!(angles <= angles0, "{at}: {angles} `<` against {angles0}: {body}");
            prop_assert!(live <= live0, "{at}: {live} formatting marks against {live0}: {body}");
            prop_assert_eq!(slack_within_limits(&body), Ok(()), "{}: {}", at, body);

            // Email.
            let (body, controls) = bodies(&t.email);
            let (subject, html) = email_parts(&body);
            prop_assert!(!subject.contains(['\r', '\n']), "{at}: subject {subject:?}");
            prop_assert!(html.len() <= 102 * 1024, "{at}: {} bytes of HTML", html.len());
            let elements = html_elements(&html);
            let templates: Vec<_> = controls.iter().map(|c| html_elements(&email_parts(c).1)).collect();
            if long {
                let allowed: BTreeSet<_> = templates.iter().flatten().collect();
                let extra: Vec<_> = elements.iter().filter(|e| !allowed.contains(e)).collect();
                prop_assert!(extra.is_empty(), "{at}: {extra:?}");
            } else {
                prop_assert_eq!(&elements, &templates[0], "{}: {}", at, html);
            }

            // Teams.
            let (body, controls) = bodies(&t.teams);
            let size = serde_json::to_vec(&body).unwrap().len();
            prop_assert!(size <= 28 * 1024, "{at}: a Teams message of {size} bytes");
            let card = &body["attachments"][0]["content"];
            let found = markdown_markup(&card_texts(card));
            let mut template = std::collections::BTreeMap::new();
            for control in &controls {
                for (kind, n) in markdown_markup(&card_texts(&control["attachments"][0]["content"])) {
                    let most = template.entry(kind).or_insert(0);
                    *most = n.max(*most);
                }
            }
            prop_assert_eq!(at_most(&found, &template), Ok(()), "{}: {}", at, card);
            Ok(())
        })?;
    }
}
