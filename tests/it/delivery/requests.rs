//! The exact request each target kind sends for a sample event, end to end: posted to the
//! relay, routed, rendered by the default template, sent to the mock provider, and recorded
//! in the store as delivered after one attempt.

use mqa_relay::store::{AttemptRecord, DeliveryState};
use serde_json::Value;

use super::config;
use crate::support::mail_providers::{Mailgun, Postmark, Resend, SendGrid};
use crate::support::mock::{Mock, Provider, Recorded, base64_decode};
use crate::support::providers::{SlackApi, SlackWebhook, TeamsWorkflow, WebhookReceiver};
use crate::support::relay::{Spec, TestRelay, spawn_relay};
use crate::support::wait::sample;

const TITLE: &str = "Corrective action rejected: Repair walk-in freezer";
/// The one line a phone's notification shows: what, where, by when (in the audit's zone).
const PREVIEW: &str = "Rejected, to do again: Repair walk-in freezer at Kitchen — Store #12 Riverside, due Sun 22 Nov, 23:59 WET";
const WHERE: &str = "Kitchen — Store #12 Riverside";
const ACTION_LINK: &str =
    "https://app.monitorqa.com/actions/pending/7b8c9d0e-8888-4bbb-9ccc-7d8e9fa0b1c2";
const LINK_LABEL: &str = "Open corrective action";
const SUBMITTED: &str = "Submitted: Moved stock only; freezer still at -12 °C";

/// Posts the rejected-action sample to a relay sending it to one target, waits until it is
/// delivered, and returns the one request the mock received and the attempt.
async fn deliver_sample<P: Provider>(
    mock: &Mock<P>,
    target: String,
    templates: &[(&str, &str)],
) -> (Recorded, AttemptRecord, TestRelay) {
    let rules = config(&[("out", target)], "CORRECTIVE_ACTION_REJECTED");
    let relay = spawn_relay(Spec {
        templates,
        ..Spec::new(&rules)
    })
    .await;
    let id = relay.ack(&sample("corrective_action_rejected")).await;
    let (delivery, mut attempts) = relay.wait_state(&id, DeliveryState::Delivered).await;
    assert_eq!(delivery.attempts, 1, "{delivery:?}");
    assert_eq!(attempts.len(), 1, "{attempts:?}");
    let received = mock.received();
    assert_eq!(received.len(), 1, "one request reached the provider");
    let request = received.into_iter().next().expect("one request");
    assert_eq!(request.method, "POST");
    (request, attempts.remove(0), relay)
}

fn is_json(req: &Recorded) -> bool {
    req.header("content-type")
        .is_some_and(|ct| ct.starts_with("application/json"))
}

/// The Block Kit layout both Slack destinations get.
fn assert_slack_message(body: &Value) {
    assert_eq!(
        body["text"], PREVIEW,
        "the notification text is the preview"
    );
    assert_eq!(body["unfurl_links"], false);
    let blocks = body["blocks"].as_array().expect("blocks");
    assert_eq!(blocks[0]["type"], "header");
    assert_eq!(blocks[0]["text"]["type"], "plain_text");
    assert_eq!(blocks[0]["text"]["text"], TITLE);
    let section = blocks
        .iter()
        .find(|b| b["type"] == "section" && b["text"]["type"] == "mrkdwn")
        .expect("a mrkdwn section");
    let text = section["text"]["text"].as_str().expect("section text");
    assert!(
        text.starts_with("The submitted fix was rejected."),
        "{text}"
    );
    assert!(text.contains(SUBMITTED), "{text}");
    let fields: Vec<&str> = blocks
        .iter()
        .filter_map(|b| b["fields"].as_array())
        .flatten()
        .map(|f| {
            assert_eq!(f["type"], "mrkdwn");
            f["text"].as_str().expect("field text")
        })
        .collect();
    assert!(fields.contains(&"*Action*\nCA-2026-0147"), "{fields:?}");
    assert!(fields.contains(&format!("*Where*\n{WHERE}").as_str()));
    assert!(fields.contains(&"*Priority*\nHigh"), "{fields:?}");
    assert!(fields.contains(&"*Company*\nNorthwind Foods"), "{fields:?}");
    let actions = blocks.last().expect("a last block");
    assert_eq!(actions["type"], "actions");
    let button = &actions["elements"][0];
    assert_eq!(button["type"], "button");
    assert_eq!(button["text"]["text"], LINK_LABEL);
    assert_eq!(button["url"], ACTION_LINK);
}

#[tokio::test]
async fn a_slack_webhook_gets_a_block_kit_message_with_header_text_fields_and_button() {
    let slack = SlackWebhook::start().await;
    let target = format!("{{ kind: slack, url: \"{}\" }}", slack.url());
    let (req, attempt, _relay) = deliver_sample(&slack, target, &[]).await;
    assert_eq!(req.path, slack.with(|p| p.hook_path.clone()));
    assert!(is_json(&req));
    assert_eq!(req.header("authorization"), None);
    assert_slack_message(&req.json());
    assert_eq!(attempt.status, Some(200));
}

#[tokio::test]
async fn slack_chat_post_message_gets_the_bot_token_and_the_channel() {
    let slack = SlackApi::start().await;
    let target = format!(
        "{{ kind: slack, token: {}, channel: {}, base_url: \"{}\" }}",
        SlackApi::TOKEN,
        SlackApi::CHANNEL,
        slack.base_url()
    );
    let (req, attempt, _relay) = deliver_sample(&slack, target, &[]).await;
    assert_eq!(req.path, "/chat.postMessage");
    assert_eq!(
        req.header("authorization"),
        Some(format!("Bearer {}", SlackApi::TOKEN).as_str())
    );
    assert!(is_json(&req));
    let body = req.json();
    assert_eq!(body["channel"], SlackApi::CHANNEL);
    assert_slack_message(&body);
    assert_eq!(
        attempt.provider_id.as_deref(),
        Some("C0KITCHEN1/1767225600.000001"),
        "the message's channel/ts is kept"
    );
}

#[tokio::test]
async fn teams_gets_an_adaptive_card_in_a_message_and_no_authorization_header() {
    let teams = TeamsWorkflow::start().await;
    let target = format!("{{ kind: teams, url: \"{}\" }}", teams.url());
    let (req, attempt, _relay) = deliver_sample(&teams, target, &[]).await;
    assert_eq!(attempt.status, Some(202));
    assert_eq!(req.query_param("sig").as_deref(), Some(TeamsWorkflow::SIG));
    assert_eq!(req.header("authorization"), None);
    assert!(is_json(&req));
    let body = req.json();
    assert_eq!(body["type"], "message");
    let attachment = &body["attachments"][0];
    assert_eq!(
        attachment["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    let card = &attachment["content"];
    assert_eq!(card["type"], "AdaptiveCard");
    assert_eq!(card["version"], "1.2");
    assert_eq!(card["body"][0]["type"], "Container");
    assert_eq!(card["body"][0]["style"], "attention");
    assert_eq!(card["body"][0]["items"][0]["type"], "TextBlock");
    assert_eq!(card["body"][0]["items"][0]["text"], TITLE);
    let blocks = card["body"].as_array().expect("card body");
    let text = blocks
        .iter()
        .filter(|b| b["type"] == "TextBlock")
        .filter_map(|b| b["text"].as_str())
        .find(|t| t.contains(SUBMITTED));
    assert!(text.is_some(), "the text is a TextBlock: {card}");
    let facts = blocks
        .iter()
        .find(|b| b["type"] == "FactSet")
        .and_then(|b| b["facts"].as_array())
        .expect("a FactSet");
    assert!(
        facts
            .iter()
            .any(|f| f["title"] == "Where" && f["value"] == WHERE),
        "{facts:?}"
    );
    assert!(
        facts
            .iter()
            .any(|f| f["title"] == "Priority" && f["value"] == "High")
    );
    let action = &card["actions"][0];
    assert_eq!(action["type"], "Action.OpenUrl");
    assert_eq!(action["title"], LINK_LABEL);
    assert_eq!(action["url"], ACTION_LINK);
    let runs = teams.with(|t| t.runs.clone());
    assert!(runs[0].posted, "the flow posts the card: {:?}", runs[0]);
}

/// The HTML and text parts every email provider gets.
fn assert_mail_parts(html: &str, text: &str) {
    assert!(html.starts_with("<!DOCTYPE html>"), "{html}");
    assert!(html.contains(&format!(">{TITLE}</h1>")), "{html}");
    assert!(html.contains(WHERE), "{html}");
    assert!(html.contains(&format!("href=\"{ACTION_LINK}\"")), "{html}");
    assert!(html.contains(&format!(">{LINK_LABEL}</a>")), "{html}");
    assert!(text.starts_with(TITLE), "{text}");
    assert!(text.contains(SUBMITTED), "{text}");
    assert!(
        text.contains(&format!("{LINK_LABEL}: {ACTION_LINK}")),
        "{text}"
    );
}

const FROM: &str = "MonitorQA alerts <alerts@northwind.example>";
const TO: &str = "qa-managers@northwind.example";

fn email_target(provider: &str, key: &str, base_url: &str, extra: &str) -> String {
    format!(
        "{{ kind: email, provider: {provider}, api_key: \"{key}\", base_url: \"{base_url}\", \
         from: \"{FROM}\", to: [{TO}]{extra} }}"
    )
}

#[tokio::test]
async fn sendgrid_gets_a_bearer_key_personalizations_subject_text_and_html() {
    let mock = SendGrid::start().await;
    let target = email_target("sendgrid", SendGrid::API_KEY, &mock.base_url(), "");
    let (req, attempt, _relay) = deliver_sample(&mock, target, &[]).await;
    assert_eq!(req.path, "/v3/mail/send");
    let bearer = format!("Bearer {}", SendGrid::API_KEY);
    assert_eq!(req.header("authorization"), Some(bearer.as_str()));
    let body = req.json();
    assert_eq!(body["personalizations"][0]["to"][0]["email"], TO);
    assert_eq!(body["from"]["email"], "alerts@northwind.example");
    assert_eq!(body["from"]["name"], "MonitorQA alerts");
    assert_eq!(body["subject"], PREVIEW);
    assert_eq!(body["content"][0]["type"], "text/plain");
    assert_eq!(body["content"][1]["type"], "text/html");
    assert_mail_parts(
        body["content"][1]["value"].as_str().unwrap_or_default(),
        body["content"][0]["value"].as_str().unwrap_or_default(),
    );
    assert_eq!(attempt.status, Some(202));
    assert_eq!(attempt.provider_id.as_deref(), Some("mockSendGridMsg0001"));
}

#[tokio::test]
async fn mailgun_gets_basic_auth_and_a_multipart_form_on_the_domain() {
    let mock = Mailgun::start().await;
    let extra = format!(", domain: {}", Mailgun::DOMAIN);
    let target = email_target("mailgun", Mailgun::API_KEY, &mock.base_url(), &extra);
    let (req, attempt, _relay) = deliver_sample(&mock, target, &[]).await;
    assert_eq!(req.path, format!("/v3/{}/messages", Mailgun::DOMAIN));
    let credentials = req
        .header("authorization")
        .and_then(|a| a.strip_prefix("Basic "))
        .and_then(base64_decode)
        .expect("HTTP Basic credentials");
    assert_eq!(
        credentials,
        format!("api:{}", Mailgun::API_KEY).into_bytes()
    );
    assert_eq!(req.form_values("from"), [FROM]);
    assert_eq!(req.form_values("to"), [TO]);
    assert_eq!(req.form_values("subject"), [PREVIEW]);
    assert_mail_parts(&req.form_values("html")[0], &req.form_values("text")[0]);
    assert!(
        attempt
            .provider_id
            .as_deref()
            .is_some_and(|id| id.ends_with("@mg.northwind.example>")),
        "{attempt:?}"
    );
}

#[tokio::test]
async fn postmark_gets_its_server_token_header_and_a_pascal_case_body() {
    let mock = Postmark::start().await;
    let target = email_target("postmark", Postmark::TOKEN, &mock.base_url(), "");
    let (req, attempt, _relay) = deliver_sample(&mock, target, &[]).await;
    assert_eq!(req.path, "/email");
    assert_eq!(req.header("x-postmark-server-token"), Some(Postmark::TOKEN));
    assert_eq!(req.header("authorization"), None);
    let body = req.json();
    assert_eq!(body["From"], FROM);
    assert_eq!(body["To"], TO);
    assert_eq!(body["Subject"], PREVIEW);
    assert_mail_parts(
        body["HtmlBody"].as_str().unwrap_or_default(),
        body["TextBody"].as_str().unwrap_or_default(),
    );
    assert_eq!(
        attempt.provider_id.as_deref(),
        Some("0a1b2c3d-0000-4000-8000-000000000001")
    );
}

#[tokio::test]
async fn resend_gets_a_bearer_key_and_an_idempotency_key_of_the_delivery() {
    let mock = Resend::start().await;
    let target = email_target("resend", Resend::API_KEY, &mock.base_url(), "");
    let (req, attempt, relay) = deliver_sample(&mock, target, &[]).await;
    assert_eq!(req.path, "/emails");
    let bearer = format!("Bearer {}", Resend::API_KEY);
    assert_eq!(req.header("authorization"), Some(bearer.as_str()));
    let key = req.header("idempotency-key").unwrap_or_default();
    assert!(!key.is_empty() && key.len() <= 256, "{key:?}");
    let delivered = relay.deliveries_in(DeliveryState::Delivered).await;
    assert!(key.contains(&delivered[0].event_id), "{key:?}");
    let body = req.json();
    assert_eq!(body["from"], FROM);
    assert_eq!(body["to"][0], TO);
    assert_eq!(body["subject"], PREVIEW);
    assert_mail_parts(
        body["html"].as_str().unwrap_or_default(),
        body["text"].as_str().unwrap_or_default(),
    );
    assert_eq!(mock.with(|r| r.sent.len()), 1);
    assert!(attempt.provider_id.is_some(), "{attempt:?}");
}

#[tokio::test]
async fn a_webhook_target_gets_the_event_itself_as_json_with_its_headers() {
    let mock = WebhookReceiver::start().await;
    let target = format!(
        "{{ kind: webhook, url: \"{}\", headers: {{ X-Erp-Key: erp-key-0042 }} }}",
        mock.url()
    );
    let (req, attempt, _relay) = deliver_sample(&mock, target, &[]).await;
    assert_eq!(req.path, "/hooks/monitorqa");
    assert!(is_json(&req));
    assert_eq!(req.header("x-erp-key"), Some("erp-key-0042"));
    assert_eq!(req.json(), sample("corrective_action_rejected"));
    assert_eq!(attempt.status, Some(200));
}

const ERP_PAYLOAD: &str = r#"{
  "type": "{{event}}",
  "action": "{{data.correctiveAction.number}}",
  "title": "{{data.correctiveAction.name}}",
  "priority": {{data.correctiveAction.priority}},
  "tags": {{json data.correctiveAction.tags}},
  "relay_event": "{{relay.event_id}}"
}"#;

#[tokio::test]
async fn a_webhook_target_with_a_payload_template_gets_the_rendered_json() {
    let mock = WebhookReceiver::start().await;
    let target = format!(
        "{{ kind: webhook, url: \"{}\", payload_template: erp }}",
        mock.url()
    );
    let templates = [("erp.webhook.hbs", ERP_PAYLOAD)];
    let (req, _, relay) = deliver_sample(&mock, target, &templates).await;
    let event_id = relay.deliveries_in(DeliveryState::Delivered).await[0]
        .event_id
        .clone();
    let expected = serde_json::json!({
        "type": "CORRECTIVE_ACTION_REJECTED",
        "action": "CA-2026-0147",
        "title": "Repair walk-in freezer",
        "priority": 2,
        "tags": [{"id": "8c9d0e1f-9999-4ccc-8ddd-8e9fa0b1c2d3", "name": "Cold chain"}],
        "relay_event": event_id,
    });
    assert_eq!(req.json(), expected);
}

#[tokio::test]
async fn resend_gets_the_same_idempotency_key_on_every_attempt_of_a_delivery() {
    let mock = Resend::start().await;
    mock.script([crate::support::mock::Answer::status(503)]);
    let target = email_target(
        "resend",
        Resend::API_KEY,
        &mock.base_url(),
        ", retry: { initial: 100ms }",
    );
    let relay = spawn_relay(Spec::new(&config(&[("out", target)], "*"))).await;
    let id = relay.ack(&sample("audit_expired")).await;
    relay.wait_state(&id, DeliveryState::Delivered).await;
    let keys: Vec<String> = mock
        .received()
        .iter()
        .filter_map(|r| r.header("idempotency-key").map(str::to_string))
        .collect();
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0], keys[1], "a retry is the same request to Resend");
}

#[tokio::test]
async fn two_relays_sharing_a_resend_account_each_get_their_mail_sent() {
    let mock = Resend::start().await;
    let target = email_target("resend", Resend::API_KEY, &mock.base_url(), "");
    let rules = config(&[("out", target)], "*");
    // Two installations (or one whose data directory was replaced): each store numbers its
    // deliveries from 1.
    let first = spawn_relay(Spec::new(&rules)).await;
    let second = spawn_relay(Spec::new(&rules)).await;
    let a = first.ack(&sample("audit_expired")).await;
    first.wait_state(&a, DeliveryState::Delivered).await;
    let b = second.ack(&sample("audit_deleted")).await;
    let (delivery, _) = second.wait_state(&b, DeliveryState::Delivered).await;
    assert_eq!(delivery.attempts, 1);
    assert_eq!(mock.with(|r| r.sent.len()), 2, "Resend sent both mails");
    let keys: Vec<String> = mock
        .received()
        .iter()
        .filter_map(|r| r.header("idempotency-key").map(str::to_string))
        .collect();
    assert_ne!(keys[0], keys[1]);
}
