//! Integration tests of the delivery targets: each target builds its request for a sample
//! message, sends it with `execute` to a local mock of its provider, and classifies the answer.

mod cards;
mod email;
mod escaping;
mod secrets;
mod slack;
mod table;
mod teams;
mod time_zone;
mod transport;
mod webhook;

use std::time::{Duration, SystemTime};

use mqa_relay::targets::{Content, HttpRequest, Rendered, Target, Verdict, execute, http};
use mqa_relay::template::{Link, Markup, Message};

/// What the templates would render for a rejected corrective action, escaped per markup as
/// the template engine does for event values.
pub fn sample(markup: Markup) -> Message {
    let esc = |s: &str| escape(markup, s);
    Message {
        preview: String::new(),
        title: esc("Corrective action rejected: Fridge 3 temperature log"),
        text: esc("Temperatures above 5 °C were logged twice & the log was not signed <again>."),
        fields: vec![
            ("Where".to_string(), esc("Main kitchen")),
            ("Priority".to_string(), esc("High")),
            (
                "Due".to_string(),
                esc("1 Sep 2026, 14:00 (Europe/Amsterdam)"),
            ),
        ],
        link: Some(Link {
            url: "https://app.monitorqa.com/corrective-actions/ca-7f3e?tab=history&x=1".to_string(),
            label: "Open in MonitorQA".to_string(),
        }),
        color: Some("danger".to_string()),
        ..Message::default()
    }
}

/// The escaping the template engine applies to event values for each markup.
pub fn escape(markup: Markup, s: &str) -> String {
    match markup {
        Markup::Plain | Markup::Teams => s.to_string(),
        Markup::Slack => s
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;"),
        Markup::Html => s
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;"),
    }
}

/// A message content with every rendering `target` asks for, made by `render`.
pub fn content_for(target: &Target, render: impl Fn(Markup) -> Message) -> Content {
    let messages = target.markups().iter().map(|m| (*m, render(*m))).collect();
    Content::Message(Rendered::new(messages))
}

/// Builds, sends and classifies one delivery.
pub async fn deliver(target: &Target, content: &Content) -> (HttpRequest, Verdict) {
    let req = target
        .build(content, "delivery-0001")
        .expect("the request builds");
    let client = http::client().expect("a client");
    let resp = execute(&client, &req, Duration::from_secs(5))
        .await
        .expect("the mock answers");
    let verdict = target.classify(&resp, SystemTime::now());
    (req, verdict)
}

/// The JSON body of a built request.
pub fn json_body(req: &HttpRequest) -> &serde_json::Value {
    match &req.body {
        mqa_relay::targets::RequestBody::Json(v) => v,
        other => panic!("expected a JSON body, got {other:?}"),
    }
}

/// The reason of a failed verdict.
pub fn reason(v: &Verdict) -> &str {
    v.reason()
        .unwrap_or_else(|| panic!("expected a failure, got {v:?}"))
}
