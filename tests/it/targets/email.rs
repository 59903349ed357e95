//! Email providers against their mocks: the exact request, the answer, and the tables.

use std::time::{Duration, SystemTime};

use mqa_relay::targets::{BuildError, Content, RequestBody, RetryScope, Target, Verdict};
use serde_json::json;

use super::table::{answer, check, secs};
use super::{content_for, deliver, json_body, reason, sample};
use crate::support::config::{quoted, refused, target};
use crate::support::mail_providers::{Mailgun, Postmark, Resend, SendGrid};
use crate::support::mock::Answer;

const FROM: &str = "MonitorQA alerts <alerts@northwind.example>";
const TO: [&str; 2] = [
    "qa-managers@northwind.example",
    "Kitchen lead <kitchen@northwind.example>",
];

/// An email target of `provider` (`sendgrid`, `mailgun`, …) with `key`, sending to `base_url`
/// (the provider's own API when `None`).
fn email(provider: &str, key: &str, base_url: Option<String>) -> Target {
    let base_url = base_url.map_or(String::new(), |url| format!(", base_url: {}", quoted(&url)));
    let domain = if provider == "mailgun" {
        format!(", domain: {}", Mailgun::DOMAIN)
    } else {
        String::new()
    };
    let to: Vec<String> = TO.iter().map(|a| quoted(a)).collect();
    target(&format!(
        "{{ kind: email, provider: {provider}, api_key: {}, from: {}, to: [{}]{domain}{base_url} }}",
        quoted(key),
        quoted(FROM),
        to.join(", "),
    ))
}

/// When the answers of the tables arrive (a rate-limit reset is counted from it).
fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

#[tokio::test]
async fn sendgrid_gets_personalizations_with_plain_text_before_html_and_202_is_delivered() {
    let mock = SendGrid::start().await;
    let t = email("sendgrid", SendGrid::API_KEY, Some(mock.base_url()));
    let (req, verdict) = deliver(&t, &content_for(&t, sample)).await;

    assert_eq!(
        verdict,
        Verdict::Delivered {
            provider_id: Some("mockSendGridMsg0001".to_string())
        }
    );
    let body = json_body(&req);
    assert_eq!(
        body["personalizations"],
        json!([{"to": [{"email": "qa-managers@northwind.example"},
                       {"email": "kitchen@northwind.example", "name": "Kitchen lead"}]}])
    );
    assert_eq!(
        body["from"],
        json!({"email": "alerts@northwind.example", "name": "MonitorQA alerts"})
    );
    assert_eq!(
        body["subject"],
        "Corrective action rejected: Fridge 3 temperature log"
    );
    assert_eq!(body["content"][0]["type"], "text/plain");
    assert!(
        body["content"][0]["value"]
            .as_str()
            .unwrap()
            .contains("Where: Main kitchen\n")
    );
    assert_eq!(body["content"][1]["type"], "text/html");
    let html = body["content"][1]["value"].as_str().unwrap();
    assert!(html.contains("&amp; the log was not signed &lt;again&gt;"));
    assert!(html.contains(
        "href=\"https://app.monitorqa.com/corrective-actions/ca-7f3e?tab=history&amp;x=1\""
    ));
    assert_eq!(body["custom_args"]["mqa_delivery"], "delivery-0001");
    let got = mock.received();
    assert_eq!(got[0].path, "/v3/mail/send");
    assert_eq!(
        got[0].header("authorization"),
        Some(format!("Bearer {}", SendGrid::API_KEY).as_str())
    );
}

#[tokio::test]
async fn sendgrid_rate_limit_waits_until_the_reset_header() {
    let mock = SendGrid::start().await;
    mock.script([Answer::retry_after(429, 40)]);
    let t = email("sendgrid", SendGrid::API_KEY, Some(mock.base_url()));
    let (_, verdict) = deliver(&t, &content_for(&t, sample)).await;
    let Verdict::Retry {
        after: Some(after),
        scope: RetryScope::Target,
        reason,
    } = verdict
    else {
        panic!("{verdict:?}")
    };
    assert!(
        after > Duration::from_secs(35) && after <= Duration::from_secs(41),
        "{after:?}"
    );
    assert!(reason.contains("too many requests"));
}

#[tokio::test]
async fn sendgrid_with_a_wrong_key_is_dead_and_the_key_is_not_in_the_reason() {
    let mock = SendGrid::start().await;
    let t = email("sendgrid", "SG.wrong.key-value", Some(mock.base_url()));
    let (_, verdict) = deliver(&t, &content_for(&t, sample)).await;
    assert!(matches!(verdict, Verdict::Dead { .. }));
    assert!(reason(&verdict).starts_with("SendGrid answered 401 The provided authorization grant"));
    assert!(reason(&verdict).contains("API key is wrong"));
    assert!(!reason(&verdict).contains("SG.wrong.key-value"));
}

#[tokio::test]
async fn mailgun_gets_multipart_fields_with_basic_auth_and_queues_the_mail() {
    let mock = Mailgun::start().await;
    let t = email("mailgun", Mailgun::API_KEY, Some(mock.base_url()));
    let (req, verdict) = deliver(&t, &content_for(&t, sample)).await;

    assert_eq!(
        verdict,
        Verdict::Delivered {
            provider_id: Some("<20260830100000.1.mock@mg.northwind.example>".to_string())
        }
    );
    assert!(matches!(req.body, RequestBody::Multipart(_)));
    let got = &mock.received()[0];
    assert_eq!(got.path, "/v3/mg.northwind.example/messages");
    assert_eq!(got.form_values("from"), vec![FROM.to_string()]);
    assert_eq!(
        got.form_values("to"),
        TO.iter().map(|s| s.to_string()).collect::<Vec<_>>()
    );
    assert_eq!(
        got.form_values("subject"),
        vec!["Corrective action rejected: Fridge 3 temperature log"]
    );
    assert!(got.form_values("text")[0].starts_with("Corrective action rejected"));
    assert!(got.form_values("html")[0].starts_with("<!DOCTYPE html>"));
    assert_eq!(got.form_values("v:mqa-delivery"), vec!["delivery-0001"]);
}

#[tokio::test]
async fn mailgun_with_an_unknown_domain_is_dead_with_a_region_hint() {
    let mock = Mailgun::start().await;
    mock.with(|p| p.domains = vec!["other.example".to_string()]);
    let t = email("mailgun", Mailgun::API_KEY, Some(mock.base_url()));
    let (_, verdict) = deliver(&t, &content_for(&t, sample)).await;
    assert_eq!(
        reason(&verdict),
        "Mailgun answered 404 Domain not found: mg.northwind.example: check the target's `domain` and `region`"
    );
}

#[tokio::test]
async fn mailgun_rate_limit_waits_until_the_date_in_its_message() {
    let mock = Mailgun::start().await;
    mock.script([Answer::retry_after(429, 120)]);
    let t = email("mailgun", Mailgun::API_KEY, Some(mock.base_url()));
    let (_, verdict) = deliver(&t, &content_for(&t, sample)).await;
    let Verdict::Retry {
        after: Some(after),
        scope: RetryScope::Target,
        ..
    } = verdict
    else {
        panic!("{verdict:?}")
    };
    assert!(
        after > Duration::from_secs(100) && after <= Duration::from_secs(121),
        "{after:?}"
    );
}

#[test]
fn mailgun_eu_domains_go_to_the_eu_host() {
    let t = target(&format!(
        "{{ kind: email, provider: mailgun, api_key: key-x, from: {}, to: a@northwind.example, \
         domain: mg.northwind.example, region: eu }}",
        quoted(FROM)
    ));
    let req = t.build(&content_for(&t, sample), "k").unwrap();
    assert_eq!(
        req.url.expose(),
        "https://api.eu.mailgun.net/v3/mg.northwind.example/messages"
    );
    assert_eq!(req.header("authorization"), Some("Basic YXBpOmtleS14"));
}

#[tokio::test]
async fn postmark_gets_pascal_case_json_with_the_server_token_and_keeps_the_message_id() {
    let mock = Postmark::start().await;
    let t = email("postmark", Postmark::TOKEN, Some(mock.base_url()));
    let (req, verdict) = deliver(&t, &content_for(&t, sample)).await;

    assert_eq!(
        verdict,
        Verdict::Delivered {
            provider_id: Some("0a1b2c3d-0000-4000-8000-000000000001".to_string())
        }
    );
    let body = json_body(&req);
    assert_eq!(body["From"], FROM);
    assert_eq!(
        body["To"],
        "qa-managers@northwind.example, Kitchen lead <kitchen@northwind.example>"
    );
    assert_eq!(
        body["Subject"],
        "Corrective action rejected: Fridge 3 temperature log"
    );
    assert_eq!(body["MessageStream"], "outbound");
    assert!(body["HtmlBody"].as_str().unwrap().contains("Main kitchen"));
    assert!(
        body["TextBody"]
            .as_str()
            .unwrap()
            .contains("Open in MonitorQA: https://")
    );
    let got = &mock.received()[0];
    assert_eq!(got.header("x-postmark-server-token"), Some(Postmark::TOKEN));
    assert_eq!(got.header("accept"), Some("application/json"));
}

#[tokio::test]
async fn postmark_inactive_recipient_is_dead_with_postmarks_explanation() {
    let mock = Postmark::start().await;
    mock.with(|p| p.inactive = vec!["kitchen@northwind.example".to_string()]);
    let t = email("postmark", Postmark::TOKEN, Some(mock.base_url()));
    let (_, verdict) = deliver(&t, &content_for(&t, sample)).await;
    assert!(matches!(verdict, Verdict::Dead { .. }));
    let r = reason(&verdict);
    assert!(
        r.starts_with("Postmark answered 422 (ErrorCode 406) You tried to send"),
        "{r}"
    );
    assert!(r.contains("kitchen@northwind.example"));
}

#[test]
fn postmark_answers_are_classified_by_the_table() {
    let t = email("postmark", "pm-token-value", None);
    let code = |c: i64| format!("{{\"ErrorCode\":{c},\"Message\":\"m\"}}");
    let cases = [
        answer(200, code(0)).delivered(),
        answer(401, code(10)).dead(),
        answer(422, code(300)).dead(),
        answer(422, code(400)).dead(),
        answer(422, code(401)).dead(),
        answer(422, code(402)).dead(),
        answer(422, code(406)).dead(),
        answer(422, code(409)).dead(),
        answer(422, code(410)).dead(),
        answer(422, code(411)).dead(),
        answer(422, code(412)).dead(),
        answer(422, code(413)).dead(),
        answer(422, code(405))
            .retried_in(RetryScope::Target)
            .after_at_least(secs(3600)),
        answer(429, code(429)).retried_in(RetryScope::Target),
        answer(500, "oops").retried_in(RetryScope::Delivery),
        answer(413, "").dead(),
    ];
    check(&t, now(), &cases);
}

#[tokio::test]
async fn resend_gets_the_delivery_key_as_idempotency_key_and_a_replay_sends_once() {
    let mock = Resend::start().await;
    let t = email("resend", Resend::API_KEY, Some(mock.base_url()));
    let content = content_for(&t, sample);
    let (req, first) = deliver(&t, &content).await;
    let (_, second) = deliver(&t, &content).await;

    assert_eq!(
        first,
        Verdict::Delivered {
            provider_id: Some("49a3999c-0ce1-4ea6-ab68-000000000001".to_string())
        }
    );
    assert_eq!(second, first);
    assert_eq!(mock.with(|p| p.sent.len()), 1);
    let body = json_body(&req);
    assert_eq!(body["from"], FROM);
    assert_eq!(body["to"], json!(TO));
    assert!(body["html"].is_string() && body["text"].is_string());
    let got = mock.received();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].header("idempotency-key"), Some("delivery-0001"));
    assert_eq!(
        got[0].header("authorization"),
        Some(format!("Bearer {}", Resend::API_KEY).as_str())
    );
}

#[tokio::test]
async fn resend_reusing_a_key_for_another_message_is_dead() {
    let mock = Resend::start().await;
    let t = email("resend", Resend::API_KEY, Some(mock.base_url()));
    deliver(&t, &content_for(&t, sample)).await;
    let other = content_for(&t, |m| mqa_relay::template::Message {
        title: "Another".to_string(),
        ..sample(m)
    });
    let (_, verdict) = deliver(&t, &other).await;
    assert!(matches!(verdict, Verdict::Dead { .. }));
    assert!(reason(&verdict).starts_with("Resend answered 409 invalid_idempotent_request"));
}

#[tokio::test]
async fn resend_concurrent_request_and_rate_limit_are_retried_and_quota_waits_long() {
    let mock = Resend::start().await;
    mock.script([
        Answer::error(409, "concurrent_idempotent_requests"),
        Answer::retry_after(429, 2),
        Answer::error(429, "daily_quota_exceeded"),
    ]);
    let t = email("resend", Resend::API_KEY, Some(mock.base_url()));
    let content = content_for(&t, sample);
    let (_, concurrent) = deliver(&t, &content).await;
    assert!(
        matches!(
            concurrent,
            Verdict::Retry {
                scope: RetryScope::Delivery,
                ..
            }
        ),
        "{concurrent:?}"
    );
    let (_, limited) = deliver(&t, &content).await;
    assert!(
        matches!(
            limited,
            Verdict::Retry { scope: RetryScope::Target, after: Some(a), .. } if a == Duration::from_secs(2)
        ),
        "{limited:?}"
    );
    let (_, quota) = deliver(&t, &content).await;
    assert!(
        matches!(
            quota,
            Verdict::Retry { scope: RetryScope::Target, after: Some(a), .. } if a >= Duration::from_secs(3600)
        ),
        "{quota:?}"
    );
    assert!(reason(&quota).contains("quota"));
}

#[test]
fn resend_answers_are_classified_by_the_table() {
    let t = email("resend", "re_table_key", None);
    let e = |status: u16, name: &str| {
        let body = format!("{{\"statusCode\":{status},\"message\":\"m\",\"name\":\"{name}\"}}");
        answer(status, body)
    };
    let cases = [
        e(400, "validation_error").dead(),
        e(400, "invalid_idempotency_key").dead(),
        e(401, "missing_api_key").dead(),
        e(403, "invalid_api_key").dead(),
        e(404, "not_found").dead(),
        e(405, "method_not_allowed").dead(),
        e(409, "invalid_idempotent_request").dead(),
        e(422, "missing_required_field").dead(),
        e(409, "resource_locked").retried(),
        e(429, "monthly_quota_exceeded").retried_in(RetryScope::Target),
        e(500, "application_error").retried(),
        e(503, "service_unavailable").retried(),
        answer(429, "{\"name\":\"rate_limit_exceeded\"}")
            .header("ratelimit-reset", "4")
            .retried()
            .after(secs(4)),
        answer(502, "<html>bad gateway</html>").retried(),
    ];
    check(&t, now(), &cases);
}

#[test]
fn sendgrid_answers_are_classified_by_the_table() {
    let t = email("sendgrid", "SG.table", None);
    let e = |status| {
        answer(
            status,
            "{\"errors\":[{\"message\":\"m\",\"field\":\"from.email\"}]}",
        )
    };
    let cases = [
        e(400).dead().saying("m (from.email)"),
        e(401).dead(),
        e(403).dead(),
        e(404).dead(),
        e(405).dead(),
        e(413).dead(),
        e(500).retried(),
        e(503).retried(),
        // 1_700_000_000 + 90 seconds.
        answer(429, "{}")
            .header("X-RateLimit-Reset", "1700000090")
            .retried_in(RetryScope::Target)
            .after(secs(90)),
    ];
    check(&t, now(), &cases);
}

#[test]
fn mailgun_answers_are_classified_by_the_table() {
    let t = email("mailgun", "key-table", None);
    let m = |status, msg: &str| answer(status, format!("{{\"message\":\"{msg}\"}}"));
    let cases = [
        m(200, "Queued. Thank you.").delivered(),
        m(400, "x").dead(),
        m(402, "x").dead(),
        m(403, "x").dead(),
        m(404, "x").dead(),
        m(413, "x").dead(),
        answer(401, "Forbidden").saying("other region"),
        m(500, "x").retried(),
        m(429, "x")
            .header("Retry-After", "9")
            .retried()
            .after(secs(9)),
    ];
    check(&t, now(), &cases);
}

#[test]
fn email_cannot_send_a_raw_payload_or_the_event() {
    let t = email("postmark", "pm", None);
    let err = t
        .build(&Content::Payload(json!({"a": 1})), "k")
        .unwrap_err();
    assert_eq!(
        err,
        BuildError::Unsupported {
            kind: "email",
            content: "a raw payload"
        }
    );
    assert!(t.build(&Content::Event(json!({})), "k").is_err());
}

#[test]
fn mailgun_without_a_domain_is_refused_by_the_configuration() {
    let err = refused(&format!(
        "{{ kind: email, provider: mailgun, api_key: key-x, from: {}, to: a@northwind.example }}",
        quoted(FROM)
    ));
    assert!(err.contains("domain"), "{err}");
}

/// The sample message with a 10 MB text and a 10 MB field, as an event under
/// `server.max_body` can make it.
fn ten_megabytes(markup: mqa_relay::template::Markup) -> mqa_relay::template::Message {
    let mut m = sample(markup);
    m.text = super::escape(markup, "Fridge 3 & freezer 2 were warm. ").repeat(300_000);
    m.fields[0].1 = "x".repeat(10_000_000);
    m
}

#[tokio::test]
async fn a_ten_megabyte_field_reaches_every_provider_as_a_short_mail_that_says_it_was_shortened() {
    let link = "https://app.monitorqa.com/corrective-actions/ca-7f3e?tab=history";
    let sendgrid = SendGrid::start().await;
    let mailgun = Mailgun::start().await;
    let postmark = Postmark::start().await;
    let resend = Resend::start().await;
    let providers = [
        ("sendgrid", SendGrid::API_KEY, sendgrid.base_url()),
        ("mailgun", Mailgun::API_KEY, mailgun.base_url()),
        ("postmark", Postmark::TOKEN, postmark.base_url()),
        ("resend", Resend::API_KEY, resend.base_url()),
    ];
    for (provider, key, base_url) in providers {
        let t = email(provider, key, Some(base_url));
        let (_, verdict) = deliver(&t, &content_for(&t, ten_megabytes)).await;
        assert!(
            matches!(verdict, Verdict::Delivered { .. }),
            "{provider:?}: {verdict:?}"
        );
    }
    let received = [
        sendgrid.received(),
        mailgun.received(),
        postmark.received(),
        resend.received(),
    ];
    for got in received.iter().map(|r| &r[0]) {
        // Both parts together, with the provider's envelope around them.
        assert!(
            got.body.len() < 160 * 1024,
            "{}: {} bytes",
            got.path,
            got.body.len()
        );
        let text = got.text();
        assert_eq!(
            text.matches("This message was shortened").count(),
            2,
            "{}",
            got.path
        );
        assert!(text.contains(link), "{}", got.path);
    }
}
