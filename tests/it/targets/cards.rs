//! Every default Teams card, for every sample event, the same event carrying only its id, and
//! a hostile one, checked by Microsoft's own Adaptive Cards parser at the version the card
//! declares (`tests/tools/adaptivecards/check-cards.js`, one `node` process for all cards).
//! The test installs the package itself, with `tests/tools/install.sh` (`npm ci` from the
//! lock file, integrity-checked; nothing when the install is current); without Node.js, or
//! when the install fails, this test fails and says why.

use std::process::Command;

use mqa_relay::compose::request_for;
use mqa_relay::targets::RequestBody;
use mqa_relay::template::{Templates, sample_events};
use serde_json::{Value, json};

use super::json_body;
use crate::support::config::configured;

/// Markup, a mention, a Markdown link and image, a heading, a card-side `{{DATE()}}`, bidi
/// overrides, control characters, an emoji, a line break and a long run: what a hostile
/// MonitorQA user can type into a name or a description.
const HOSTILE: &str = "# Acme *\"Foods\"* <at>all</at> <script>x</script> [x](http://evil.example) \
     ![i](http://evil.example/i.png) {{DATE(2017-02-14T06:08:39Z,SHORT)}} &amp; \u{202E}gnp.exe \
     \u{0}\u{1b}[31m 😀\n- second line | a | b |\n1. third";

/// The same event carrying only its id (and its company), as MonitorQA may send it.
pub fn minimal(event: &Value) -> Value {
    let data = &event["data"];
    let id = ["correctiveActionId", "auditId", "id"]
        .into_iter()
        .find(|k| data.get(*k).is_some())
        .expect("every sample carries an id");
    json!({"event": event["event"], "data": {id: data[id]}, "company": event["company"]})
}

/// The event with every text value (not ids, times or zones) replaced by [`HOSTILE`].
pub fn hostile(event: &Value) -> Value {
    fn walk(key: &str, v: &mut Value) {
        match v {
            Value::String(s) if is_text(key) => *s = format!("{HOSTILE} {}", "y".repeat(3000)),
            Value::Array(items) => items.iter_mut().for_each(|i| walk(key, i)),
            Value::Object(map) => map.iter_mut().for_each(|(k, v)| walk(k, v)),
            _ => {}
        }
    }
    fn is_text(key: &str) -> bool {
        let lower = key.to_ascii_lowercase();
        !(lower == "id"
            || lower == "event"
            || key.ends_with("Id")
            || key.ends_with("Ids")
            || lower.contains("date")
            || lower.contains("utc")
            || lower.ends_with("at")
            || lower.contains("timezone")
            || lower.contains("url"))
    }
    let mut event = event.clone();
    walk("", &mut event);
    event
}

/// The sample events, each also carrying only its id and made hostile, plus an unknown type.
fn events() -> Vec<(String, Value)> {
    let mut events = Vec::new();
    for (stem, event) in sample_events() {
        events.push((format!("{stem}.minimal"), minimal(&event)));
        events.push((format!("{stem}.hostile"), hostile(&event)));
        events.push((stem, event));
    }
    events.push((
        "unknown.hostile".into(),
        hostile(&json!({"event": "SOMETHING_NEW", "data": {"x": "y"}, "company": {"name": "n"}})),
    ));
    events
}

/// What Microsoft's parser says about each card: `(name, version, problems, problems one
/// version lower)`.
fn parse_with_adaptivecards(cards: &[(String, Value)]) -> Vec<Value> {
    crate::support::tools::install_npm_packages();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("cards.json");
    let list: Vec<Value> = cards
        .iter()
        .map(|(name, card)| json!({"name": name, "card": card}))
        .collect();
    std::fs::write(&input, serde_json::to_vec(&list).unwrap()).unwrap();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/tools/adaptivecards/check-cards.js"
    );
    let out = Command::new("node")
        .arg(script)
        .arg(&input)
        .output()
        .unwrap_or_else(|e| panic!("cannot run node ({e}): the card check needs Node.js"));
    assert!(
        out.status.success(),
        "the card check failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the card check prints JSON")
}

#[test]
fn every_default_card_is_valid_at_the_version_it_declares_by_microsofts_parser() {
    let templates = Templates::builtin();
    let target = configured(
        r#"{ kind: teams, url: "https://x.environment.api.powerplatform.com/p?sig=s" }"#,
    );
    let mut cards = Vec::new();
    for (name, event) in events() {
        let template = Templates::default_name(event["event"].as_str().unwrap_or(""));
        for rendered in [None, Some(template.as_str())] {
            let req = request_for(&templates, &target, rendered, &event, "k")
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            let card = json_body(&req)["attachments"][0]["content"].clone();
            assert_eq!(card["type"], "AdaptiveCard", "{name}");
            cards.push((name.clone(), card));
        }
    }
    // Every default template against every event kind too: a rule may send any template.
    let samples = sample_events();
    for template in templates.names() {
        for (stem, event) in &samples {
            let req = request_for(&templates, &target, Some(template), &minimal(event), "k")
                .unwrap_or_else(|e| panic!("{template} / {stem}: {e}"));
            cards.push((
                format!("{template} for {stem}.minimal"),
                json_body(&req)["attachments"][0]["content"].clone(),
            ));
        }
    }

    let results = parse_with_adaptivecards(&cards);
    assert_eq!(results.len(), cards.len());
    let invalid: Vec<String> = results
        .iter()
        .filter(|r| !r["problems"].as_array().unwrap().is_empty())
        .map(|r| {
            format!(
                "{} (version {}): {}",
                r["name"], r["version"], r["problems"]
            )
        })
        .collect();
    assert!(invalid.is_empty(), "{}", invalid.join("\n"));

    // One version: the lowest that has everything the cards use (some card needs it).
    let versions: std::collections::BTreeSet<&str> = results
        .iter()
        .map(|r| r["version"].as_str().unwrap())
        .collect();
    assert_eq!(versions.len(), 1, "{versions:?}");
    assert!(
        results
            .iter()
            .any(|r| !r["problems_one_below"].as_array().unwrap().is_empty()),
        "every card is also valid one version lower: declare that one"
    );
}

/// What a request carries, as sent: a JSON body (which escapes none of the bidi controls), or
/// every part of a form.
fn body_text(req: &mqa_relay::targets::HttpRequest) -> String {
    match &req.body {
        RequestBody::Json(v) => serde_json::to_string(v).unwrap(),
        RequestBody::Multipart(parts) => parts
            .iter()
            .map(|(name, value)| format!("{name}={value}\n"))
            .collect(),
    }
}

#[test]
fn bidi_controls_in_values_reach_no_target_and_no_subject() {
    let templates = Templates::builtin();
    let targets = [
        r#"{ kind: slack, url: "https://hooks.slack.com/services/T/B/x" }"#,
        r#"{ kind: teams, url: "https://x.environment.api.powerplatform.com/p?sig=s" }"#,
        r#"{ kind: email, provider: postmark, api_key: k, from: a@northwind.example, to: [b@northwind.example] }"#,
        r#"{ kind: email, provider: mailgun, api_key: k, domain: mg.northwind.example, from: a@northwind.example, to: [b@northwind.example] }"#,
    ];
    let mut event = sample_events()
        .into_iter()
        .find(|(stem, _)| stem == "corrective_action_rejected")
        .unwrap()
        .1;
    let spoof = "Store 12 \u{202E}gnp.exe\u{202C} \u{2067}x\u{2069}\u{200E}\u{200F}\u{061C}";
    event["company"]["name"] = json!(spoof);
    event["data"]["correctiveAction"]["name"] = json!(spoof);
    event["data"]["correctiveAction"]["auditObject"]["name"] = json!(spoof);
    event["data"]["correctiveAction"]["information"]["text"] = json!(spoof);
    for body in targets {
        let target = configured(body);
        let req = request_for(&templates, &target, None, &event, "k").unwrap();
        let text = body_text(&req);
        let bidi = |c: char| matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}');
        assert!(!text.contains(bidi), "{body}: {text}");
        assert!(text.contains("Store 12 gnp.exe"), "{body}: {text}");
    }
}
