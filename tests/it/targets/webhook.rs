//! The generic webhook target against a receiver, and its answer table.

use std::time::{Duration, SystemTime};

use mqa_relay::targets::{Content, RetryScope, Target, Verdict};
use serde_json::json;

use super::table::{answer, check};
use super::{content_for, deliver, json_body, sample};
use crate::support::config::{configured, quoted, target};
use crate::support::mock::Answer;
use crate::support::providers::WebhookReceiver;

fn webhook(url: &str) -> Target {
    target(&format!(
        "{{ kind: webhook, url: {}, headers: {{ X-Api-Key: erp-header-secret }} }}",
        quoted(url)
    ))
}

fn event() -> serde_json::Value {
    json!({"event": "AUDIT_EXPIRED", "data": {"auditId": "a3c1e7d2"},
           "company": {"id": "5f0c2a8e", "name": "Northwind Foods"}})
}

#[tokio::test]
async fn a_webhook_gets_the_event_as_json_with_its_headers_and_2xx_is_delivered() {
    let mock = WebhookReceiver::start().await;
    let t = webhook(&mock.url());
    assert!(t.markups().is_empty());
    let (req, verdict) = deliver(&t, &Content::Event(event())).await;
    assert_eq!(verdict, Verdict::Delivered { provider_id: None });
    assert_eq!(*json_body(&req), event());
    let got = &mock.received()[0];
    assert_eq!(got.path, "/hooks/monitorqa");
    assert_eq!(got.header("x-api-key"), Some("erp-header-secret"));
    assert_eq!(got.json(), event());
}

#[tokio::test]
async fn a_webhook_503_then_retry_after_date_then_ok_is_read_answer_by_answer() {
    let mock = WebhookReceiver::start().await;
    let at = SystemTime::now() + Duration::from_secs(60);
    mock.script([Answer::status(503), Answer::retry_at(503, at), Answer::ok()]);
    let t = webhook(&mock.url());
    let content = Content::Payload(json!({"custom": true}));
    let (_, first) = deliver(&t, &content).await;
    assert!(
        matches!(
            first,
            Verdict::Retry {
                after: None,
                scope: RetryScope::Delivery,
                ..
            }
        ),
        "{first:?}"
    );
    let (_, second) = deliver(&t, &content).await;
    assert!(
        matches!(
            second,
            Verdict::Retry { after: Some(a), scope: RetryScope::Delivery, .. }
                if a > Duration::from_secs(55) && a <= Duration::from_secs(60)
        ),
        "{second:?}"
    );
    let (_, third) = deliver(&t, &content).await;
    assert_eq!(third, Verdict::Delivered { provider_id: None });
}

#[test]
fn webhook_answers_are_classified_by_the_table() {
    let t = webhook("https://erp.internal/hooks/monitorqa");
    let c = |status| answer(status, "{\"error\":\"x\"}");
    let delivered = || Verdict::Delivered { provider_id: None };
    let cases = [
        c(200).is(delivered()),
        c(201).is(delivered()),
        c(202).is(delivered()),
        c(204).is(delivered()),
        c(408).retried_in(RetryScope::Delivery),
        c(500).retried_in(RetryScope::Delivery),
        c(502).retried_in(RetryScope::Delivery),
        c(503).retried_in(RetryScope::Delivery),
        c(504).retried_in(RetryScope::Delivery),
        c(429).retried_in(RetryScope::Target),
        c(301).dead(),
        c(400).dead(),
        c(401).dead(),
        c(403).dead(),
        c(404).is(Verdict::Dead {
            reason: "The webhook answered 404 {\"error\":\"x\"}".to_string(),
        }),
        c(410).dead(),
        c(422).dead(),
    ];
    check(&t, SystemTime::UNIX_EPOCH, &cases);
}

#[test]
fn a_webhook_does_not_take_a_rendered_message() {
    let t = webhook("https://erp.internal/hooks/monitorqa");
    assert!(t.build(&content_for(&t, sample), "k").is_err());
}

/// Numbers a double cannot hold, and spellings a double would change.
const NUMBERS: [(&str, &str); 6] = [
    ("tiny", "1e-400"),
    ("big", "18446744073709551617"),
    ("tenth", "0.1"),
    ("one", "1.0"),
    ("zero", "-0"),
    ("pi", "3.14159265358979323846264338327950288419716939937510"),
];

#[tokio::test]
async fn a_webhook_gets_every_number_of_the_event_as_monitorqa_wrote_it() {
    use mqa_relay::compose::{self, DeliveryInfo};
    use mqa_relay::event::Event;
    use mqa_relay::template::Templates;

    let fields: Vec<String> = NUMBERS
        .iter()
        .map(|(k, n)| format!("\"{k}\": {n}"))
        .collect();
    let body = format!(
        r#"{{"event": "AUDIT_COMPLETED", "data": {{{}}}, "company": {{"id": "5f0c2a8e"}}}}"#,
        fields.join(", ")
    );
    // As intake parses it, the store keeps it (canonical JSON) and the sender reads it back.
    let stored = Event::parse(body.as_bytes()).unwrap().canonical_json();
    let event = Event::parse(stored.as_bytes()).unwrap();
    let mock = WebhookReceiver::start().await;
    let erp = configured(&format!(
        "{{ kind: webhook, url: {} }}",
        quoted(&mock.url())
    ));
    let ctx = compose::context(&event.to_value(), &DeliveryInfo::default());
    let content = compose::content_for(&Templates::builtin(), &erp, None, &ctx).unwrap();
    let (_, verdict) = deliver(&erp.target, &content).await;
    assert_eq!(verdict, Verdict::Delivered { provider_id: None });
    let sent = mock.received()[0].text();
    for (key, number) in NUMBERS {
        let field = format!("\"{key}\":{number}");
        assert!(sent.contains(&field), "{field} in {sent}");
    }
    assert!(!sent.contains("relay"), "{sent}");
}
