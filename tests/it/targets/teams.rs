//! Teams Workflows against the mock, the card budget, and the answer table.

use std::time::{Duration, SystemTime};

use mqa_relay::targets::{BuildError, Content, RetryScope, Target, Verdict};
use mqa_relay::template::{Markup, Message};
use serde_json::json;

use super::table::{answer, check};
use super::{content_for, deliver, json_body, reason, sample};
use crate::support::config::{quoted, target};
use crate::support::mock::Answer;
use crate::support::providers::TeamsWorkflow;

fn teams(url: &str) -> Target {
    target(&format!("{{ kind: teams, url: {} }}", quoted(url)))
}

#[tokio::test]
async fn teams_gets_a_full_width_adaptive_card_without_authorization_and_202_is_delivered() {
    let mock = TeamsWorkflow::start().await;
    let t = teams(&mock.url());
    let (req, verdict) = deliver(&t, &content_for(&t, sample)).await;

    assert_eq!(verdict, Verdict::Delivered { provider_id: None });
    assert!(req.headers.is_empty());
    let body = json_body(&req);
    assert_eq!(body["type"], "message");
    let attachment = &body["attachments"][0];
    assert_eq!(
        attachment["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    assert!(attachment["contentUrl"].is_null());
    let card = &attachment["content"];
    assert_eq!(card["type"], "AdaptiveCard");
    assert_eq!(card["version"], "1.2");
    assert_eq!(card["msteams"], json!({"width": "Full"}));
    assert_eq!(
        card["body"][0],
        json!({"type": "Container", "style": "attention", "bleed": true, "items": [
            {"type": "TextBlock", "text": "Corrective action rejected: Fridge 3 temperature log",
             "size": "Large", "weight": "Bolder", "wrap": true}]})
    );
    assert_eq!(card["body"][1]["wrap"], true);
    assert_eq!(card["body"][2]["type"], "FactSet");
    assert_eq!(
        card["body"][2]["facts"][0],
        json!({"title": "Where", "value": "Main kitchen"})
    );
    assert_eq!(
        card["actions"][0],
        json!({"type": "Action.OpenUrl", "title": "Open in MonitorQA",
               "url": "https://app.monitorqa.com/corrective-actions/ca-7f3e?tab=history&x=1"})
    );

    let got = mock.received();
    assert!(got[0].header("authorization").is_none());
    assert_eq!(
        got[0].query_param("sig").as_deref(),
        Some(TeamsWorkflow::SIG)
    );
    let runs = mock.with(|p| p.runs.clone());
    assert!(runs[0].posted, "{:?}", runs[0].failure);
}

#[tokio::test]
async fn a_huge_teams_card_is_cut_under_24_kb_and_the_flow_posts_it() {
    let mock = TeamsWorkflow::start().await;
    let t = teams(&mock.url());
    let huge = |m: Markup| Message {
        text: "Temperature \"above\" limit\n".repeat(4000),
        fields: (0..50)
            .map(|i| (format!("Check {i}"), "y".repeat(3000)))
            .collect(),
        ..sample(m)
    };
    let (req, verdict) = deliver(&t, &content_for(&t, huge)).await;
    assert_eq!(verdict, Verdict::Delivered { provider_id: None });
    let size = serde_json::to_vec(json_body(&req)).unwrap().len();
    assert!(size <= 24 * 1024, "{size} bytes");
    let text = json_body(&req)["attachments"][0]["content"]["body"][1]["text"]
        .as_str()
        .unwrap();
    assert!(text.ends_with('…'));
    let runs = mock.with(|p| p.runs.clone());
    assert!(runs[0].posted, "{:?}", runs[0].failure);
}

#[test]
fn an_oversized_raw_payload_is_not_sent_since_the_flow_would_answer_202_and_drop_it() {
    let t = teams("https://x.environment.api.powerplatform.com/powerautomate/p?sig=x");
    let payload = json!({"type": "message", "attachments": [{
        "contentType": "application/vnd.microsoft.card.adaptive",
        "content": {"type": "AdaptiveCard", "body": [{"type": "TextBlock", "text": "z".repeat(40_000)}]}}]});
    let Err(BuildError::Config(reason)) = t.build(&Content::Payload(payload), "k") else {
        panic!("a 40 KB payload was built");
    };
    assert!(
        reason.contains("Teams drops a message over 28672 bytes"),
        "{reason}"
    );
}

#[tokio::test]
async fn a_teams_url_without_its_sig_is_dead_and_says_why() {
    let mock = TeamsWorkflow::start().await;
    let url = mock.url();
    let without_sig = &url[..url.find("&sig=").unwrap()];
    let t = teams(without_sig);
    let (_, verdict) = deliver(&t, &content_for(&t, sample)).await;
    assert!(matches!(verdict, Verdict::Dead { .. }));
    assert!(reason(&verdict).starts_with("Teams answered 401 DirectApiAuthorizationRequired"));
    assert!(reason(&verdict).contains("lacks its sig parameter"));
}

#[tokio::test]
async fn teams_throttling_pauses_the_target_for_retry_after() {
    let mock = TeamsWorkflow::start().await;
    mock.script([Answer::retry_after(429, 3)]);
    let t = teams(&mock.url());
    let (_, verdict) = deliver(&t, &content_for(&t, sample)).await;
    let Verdict::Retry {
        after,
        scope,
        reason,
    } = verdict
    else {
        panic!("{verdict:?}")
    };
    assert_eq!(
        (after, scope),
        (Some(Duration::from_secs(3)), RetryScope::Target)
    );
    assert!(reason.contains("TooManyRequests"));
}

#[test]
fn teams_answers_are_classified_by_the_table() {
    let t = teams(
        "https://x.environment.api.powerplatform.com/powerautomate/automations/direct/workflows/1/triggers/manual/paths/invoke?sig=abc123",
    );
    // The error's code is in the reason.
    let e = |status, code: &'static str| {
        let body = format!("{{\"error\":{{\"code\":\"{code}\",\"message\":\"m\"}}}}");
        answer(status, body).saying(code)
    };
    let cases = [
        answer(202, "").is(Verdict::Delivered { provider_id: None }),
        answer(200, "anything").is(Verdict::Delivered { provider_id: None }),
        e(400, "DirectApiRequestHasMoreThanOneAuthorization").dead(),
        e(400, "TriggerInputSchemaMismatch").dead(),
        e(401, "DirectApiAuthorizationRequired").dead(),
        e(403, "Forbidden").dead(),
        e(404, "WorkflowNotFound").dead(),
        e(409, "WorkflowTriggerIsNotEnabled")
            .dead()
            .saying("turned off"),
        e(429, "TooManyRequests").retried_in(RetryScope::Target),
        answer(500, "").retried_in(RetryScope::Delivery),
        answer(504, "gateway").retried(),
    ];
    check(&t, SystemTime::UNIX_EPOCH, &cases);
}
