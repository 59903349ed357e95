//! Hostile event values end to end: a company and action name full of markup, a mention, a
//! script tag, a Markdown link, quotes, an emoji and a newline reach every target kind as
//! literal text, in a body that is still valid JSON.

use mqa_relay::store::DeliveryState;
use serde_json::Value;

use super::config;
use crate::support::mail_providers::Postmark;
use crate::support::mock::{Mock, Provider, Recorded};
use crate::support::providers::{SlackWebhook, TeamsWorkflow, WebhookReceiver};
use crate::support::relay::{Spec, spawn_relay};
use crate::support::wait::sample;

const HOSTILE: &str = "Acme \"Foods\" <!channel> <script>alert(1)</script> \
                       [x](http://evil.example) 😀\nsecond line";

fn hostile_event() -> Value {
    let mut event = sample("corrective_action_rejected");
    event["company"]["name"] = Value::String(HOSTILE.to_string());
    event["data"]["correctiveAction"]["name"] = Value::String(HOSTILE.to_string());
    event["data"]["correctiveAction"]["information"]["text"] = Value::String(HOSTILE.to_string());
    event
}

const PAYLOAD: &str =
    r#"{"company": "{{company.name}}", "action": "{{data.correctiveAction.name}}"}"#;

/// The one request `mock` received, whose body must parse as JSON.
fn only_json<P: Provider>(mock: &Mock<P>) -> (Recorded, Value) {
    let received = mock.received();
    assert_eq!(received.len(), 1);
    let req = received.into_iter().next().expect("one request");
    let body: Value = match serde_json::from_slice(&req.body) {
        Ok(v) => v,
        Err(e) => panic!("the body is not valid JSON ({e}): {}", req.text()),
    };
    (req, body)
}

/// Every string in `v`, at any depth.
fn strings(v: &Value) -> Vec<&str> {
    match v {
        Value::String(s) => vec![s.as_str()],
        Value::Array(items) => items.iter().flat_map(strings).collect(),
        Value::Object(map) => map.values().flat_map(strings).collect(),
        _ => Vec::new(),
    }
}

#[tokio::test]
async fn hostile_names_arrive_as_literal_text_in_valid_json_for_every_kind() {
    let slack = SlackWebhook::start().await;
    let teams = TeamsWorkflow::start().await;
    let mail = Postmark::start().await;
    let erp = WebhookReceiver::start().await;
    let targets = [
        (
            "slack",
            format!("{{ kind: slack, url: \"{}\" }}", slack.url()),
        ),
        (
            "teams",
            format!("{{ kind: teams, url: \"{}\" }}", teams.url()),
        ),
        (
            "mail",
            format!(
                "{{ kind: email, provider: postmark, api_key: {}, base_url: \"{}\", \
                 from: alerts@northwind.example, to: qa@northwind.example }}",
                Postmark::TOKEN,
                mail.base_url()
            ),
        ),
        (
            "erp",
            format!(
                "{{ kind: webhook, url: \"{}\", payload_template: erp }}",
                erp.url()
            ),
        ),
    ];
    let rules = config(&targets, "CORRECTIVE_ACTION_REJECTED");
    let relay = spawn_relay(Spec {
        templates: &[("erp.webhook.hbs", PAYLOAD)],
        ..Spec::new(&rules)
    })
    .await;
    let id = relay.ack(&hostile_event()).await;
    relay.wait_states(&id, DeliveryState::Delivered, 4).await;

    check_slack(&only_json(&slack).1);
    check_teams(&only_json(&teams).1);
    assert!(teams.with(|t| t.runs[0].posted));
    check_email(&only_json(&mail).1);
    let (_, payload) = only_json(&erp);
    assert_eq!(
        payload["company"], HOSTILE,
        "the payload round-trips the value"
    );
    assert_eq!(payload["action"], HOSTILE);
}

/// No live mention anywhere Slack parses mrkdwn: the top-level text, sections and fields.
fn check_slack(body: &Value) {
    let text = body["text"].as_str().expect("a fallback text");
    assert!(text.contains("&lt;!channel&gt;"), "fallback text: {text}");
    let mut mrkdwn = vec![text];
    for block in body["blocks"].as_array().expect("blocks") {
        if block["text"]["type"] == "mrkdwn" {
            mrkdwn.push(block["text"]["text"].as_str().unwrap_or_default());
        }
        for field in block["fields"].as_array().into_iter().flatten() {
            mrkdwn.push(field["text"].as_str().unwrap_or_default());
        }
    }
    let company = mrkdwn
        .iter()
        .find(|t| t.starts_with("*Company*"))
        .expect("a Company field");
    assert!(company.contains("&lt;!channel&gt;"), "{company}");
    assert!(company.contains("😀"), "the emoji is intact: {company}");
    assert!(company.contains("\"Foods\""), "{company}");
    for t in &mrkdwn {
        assert!(!t.contains("<!channel>"), "a live mention: {t}");
        assert!(!t.contains("<script>"), "{t}");
    }
}

/// No live Markdown link in any card text or fact.
fn check_teams(body: &Value) {
    let card = &body["attachments"][0]["content"];
    let texts = strings(&card["body"]);
    assert!(
        texts
            .iter()
            .any(|t| t.contains(r"\[x\](http://evil.example)")),
        "the link is escaped somewhere: {card}"
    );
    assert!(texts.iter().any(|t| t.contains("😀")), "{card}");
    for t in texts {
        assert!(!t.contains("[x](http"), "a live Markdown link: {t}");
    }
    let actions = card["actions"].as_array().expect("card actions");
    assert_eq!(
        actions.len(),
        1,
        "no action comes from the event: {actions:?}"
    );
}

/// The HTML part has the script as text; the text part keeps the value as it was.
fn check_email(body: &Value) {
    let html = body["HtmlBody"].as_str().expect("an HTML part");
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{html}"
    );
    assert!(html.contains("&lt;!channel&gt;"), "{html}");
    assert!(!html.contains("<script"), "{html}");
    assert!(
        !html.contains("evil.example\""),
        "no attribute from the event"
    );
    assert!(html.contains("😀"));
    let subject = body["Subject"].as_str().expect("a subject");
    assert!(
        !subject.contains('\n'),
        "the subject is one line: {subject:?}"
    );
    assert!(subject.contains("😀"));
    let text = body["TextBody"].as_str().expect("a text part");
    assert!(text.contains(HOSTILE), "{text}");
}
