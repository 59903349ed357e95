//! Slack: incoming webhook and chat.postMessage against the mocks, and the answer tables.

use std::time::{Duration, SystemTime};

use mqa_relay::targets::{RetryScope, Target, Verdict};
use mqa_relay::template::{Markup, Message};
use serde_json::json;

use super::table::{answer, check, secs};
use super::{content_for, deliver, json_body, reason, sample};
use crate::support::config::{quoted, refused, target};
use crate::support::mock::{Answer, Mock};
use crate::support::providers::{SlackApi, SlackWebhook};

fn webhook_target(url: &str) -> Target {
    target(&format!("{{ kind: slack, url: {} }}", quoted(url)))
}

fn api_target(mock: &Mock<SlackApi>, channel: &str) -> Target {
    target(&format!(
        "{{ kind: slack, token: {}, channel: {}, base_url: {} }}",
        quoted(SlackApi::TOKEN),
        quoted(channel),
        quoted(&mock.base_url())
    ))
}

#[tokio::test]
async fn slack_webhook_gets_a_header_text_fields_and_a_button_and_ok_is_delivered() {
    let slack = SlackWebhook::start().await;
    let t = webhook_target(&slack.url());
    let (req, verdict) = deliver(&t, &content_for(&t, sample)).await;

    assert_eq!(verdict, Verdict::Delivered { provider_id: None });
    let body = json_body(&req);
    assert_eq!(
        body["text"],
        "Corrective action rejected: Fridge 3 temperature log"
    );
    assert_eq!(body["unfurl_links"], false);
    let blocks = body["blocks"].as_array().unwrap();
    assert_eq!(
        blocks[0],
        json!({"type": "header", "text": {"type": "plain_text",
            "text": "Corrective action rejected: Fridge 3 temperature log", "emoji": true}})
    );
    assert_eq!(blocks[1]["type"], "section");
    assert_eq!(
        blocks[1]["text"],
        json!({"type": "mrkdwn", "text":
            "Temperatures above 5 °C were logged twice &amp; the log was not signed &lt;again&gt;.",
            "verbatim": true})
    );
    assert_eq!(
        blocks[2]["fields"][0],
        json!({"type": "mrkdwn", "text": "*Where*\nMain kitchen", "verbatim": true})
    );
    assert_eq!(blocks[2]["fields"].as_array().unwrap().len(), 3);
    assert_eq!(blocks[3]["type"], "actions");
    assert_eq!(
        blocks[3]["elements"][0]["url"],
        "https://app.monitorqa.com/corrective-actions/ca-7f3e?tab=history&x=1"
    );
    assert_eq!(
        blocks[3]["elements"][0]["text"]["text"],
        "Open in MonitorQA"
    );

    let got = slack.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].method, "POST");
    assert!(
        got[0]
            .header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
    assert!(got[0].header("authorization").is_none());
    assert_eq!(got[0].json(), *body);
}

#[tokio::test]
async fn slack_api_posts_to_the_channel_with_the_bot_token_and_keeps_channel_and_ts() {
    let slack = SlackApi::start().await;
    let t = api_target(&slack, SlackApi::CHANNEL);
    let (req, verdict) = deliver(&t, &content_for(&t, sample)).await;

    assert_eq!(
        verdict,
        Verdict::Delivered {
            provider_id: Some("C0KITCHEN1/1767225600.000001".to_string())
        }
    );
    assert_eq!(json_body(&req)["channel"], SlackApi::CHANNEL);
    let got = slack.received();
    assert_eq!(got[0].path, "/chat.postMessage");
    assert_eq!(
        got[0].header("authorization"),
        Some(format!("Bearer {}", SlackApi::TOKEN).as_str())
    );
}

#[tokio::test]
async fn slack_api_unknown_channel_is_dead_with_slacks_error_and_a_hint() {
    let slack = SlackApi::start().await;
    let t = api_target(&slack, "C0NOSUCH");
    let (_, verdict) = deliver(&t, &content_for(&t, sample)).await;
    assert_eq!(
        verdict,
        Verdict::Dead {
            reason: "Slack answered 200 channel_not_found: the channel does not exist or the \
                     bot cannot see it"
                .to_string()
        }
    );
}

#[tokio::test]
async fn slack_webhook_that_was_removed_is_dead_with_a_hint() {
    let slack = SlackWebhook::start().await;
    slack.script([Answer::error(404, "no_active_hooks")]);
    let t = webhook_target(&slack.url());
    let (_, verdict) = deliver(&t, &content_for(&t, sample)).await;
    assert_eq!(
        reason(&verdict),
        "Slack answered 404 no_active_hooks: the webhook was removed or its app uninstalled"
    );
    assert!(matches!(verdict, Verdict::Dead { .. }));
}

#[tokio::test]
async fn slack_webhook_rate_limit_pauses_the_whole_target_for_retry_after() {
    let slack = SlackWebhook::start().await;
    slack.script([Answer::retry_after(429, 2)]);
    let t = webhook_target(&slack.url());
    let (_, verdict) = deliver(&t, &content_for(&t, sample)).await;
    let Verdict::Retry { after, scope, .. } = verdict else {
        panic!("a 429 is retried, got {verdict:?}");
    };
    assert_eq!(after, Some(Duration::from_secs(2)));
    assert_eq!(scope, RetryScope::Target);
}

#[tokio::test]
async fn slack_webhook_disabled_after_repeated_rate_limits_is_dead() {
    let slack = SlackWebhook::start().await;
    slack.with(|p| p.disable_after_429s = Some(2));
    slack.script([Answer::retry_after(429, 1), Answer::retry_after(429, 1)]);
    let t = webhook_target(&slack.url());
    let content = content_for(&t, sample);
    for _ in 0..2 {
        let (_, v) = deliver(&t, &content).await;
        assert!(matches!(v, Verdict::Retry { .. }));
    }
    let (_, verdict) = deliver(&t, &content).await;
    assert!(matches!(verdict, Verdict::Dead { .. }), "{verdict:?}");
    assert!(reason(&verdict).contains("no_active_hooks"));
}

#[tokio::test]
async fn slack_api_retry_after_as_an_http_date_is_a_wait_from_now() {
    let slack = SlackApi::start().await;
    slack.script([Answer::retry_at(
        429,
        SystemTime::now() + Duration::from_secs(30),
    )]);
    let t = api_target(&slack, SlackApi::CHANNEL);
    let (_, verdict) = deliver(&t, &content_for(&t, sample)).await;
    let Verdict::Retry {
        after: Some(after),
        scope: RetryScope::Target,
        ..
    } = verdict
    else {
        panic!("a 429 pauses the target, got {verdict:?}");
    };
    assert!(
        after <= Duration::from_secs(30) && after >= Duration::from_secs(28),
        "{after:?}"
    );
}

fn huge(markup: Markup) -> Message {
    let mut m = sample(markup);
    m.title = "Fridge ".repeat(60);
    m.text = "Temperature above limit in the walk-in fridge. ".repeat(600);
    m.fields = (0..45)
        .map(|i| (format!("Check {i}"), "x".repeat(3000)))
        .collect();
    m
}

#[tokio::test]
async fn a_huge_message_is_cut_with_an_ellipsis_and_slack_accepts_it() {
    let slack = SlackWebhook::start().await;
    let t = webhook_target(&slack.url());
    let (req, verdict) = deliver(&t, &content_for(&t, huge)).await;
    assert_eq!(verdict, Verdict::Delivered { provider_id: None });

    let body = json_body(&req);
    let blocks = body["blocks"].as_array().unwrap();
    assert!(blocks.len() <= 50);
    let header = blocks[0]["text"]["text"].as_str().unwrap();
    assert_eq!(header.chars().count(), 150);
    assert!(header.ends_with('…'));
    let sections: Vec<&str> = blocks
        .iter()
        .filter_map(|b| b["text"]["text"].as_str())
        .collect();
    assert!(sections.iter().any(|s| s.ends_with('…')));
    assert!(body.to_string().contains("…and 25 more fields"));
}

#[tokio::test]
async fn a_huge_message_is_accepted_by_the_web_api_too() {
    let slack = SlackApi::start().await;
    let t = api_target(&slack, SlackApi::CHANNEL);
    let (_, verdict) = deliver(&t, &content_for(&t, huge)).await;
    assert!(
        matches!(
            verdict,
            Verdict::Delivered {
                provider_id: Some(_)
            }
        ),
        "{verdict:?}"
    );
}

#[tokio::test]
async fn an_empty_message_still_has_notification_text() {
    let slack = SlackWebhook::start().await;
    let t = webhook_target(&slack.url());
    let (req, verdict) = deliver(&t, &content_for(&t, |_| Message::default())).await;
    assert_eq!(verdict, Verdict::Delivered { provider_id: None });
    assert_eq!(json_body(&req)["text"], "Notification");
}

#[tokio::test]
async fn a_raw_payload_goes_as_is_and_the_web_api_gets_the_channel_added() {
    let slack = SlackApi::start().await;
    let t = api_target(&slack, SlackApi::CHANNEL);
    let payload = json!({"text": "custom", "blocks": [{"type": "divider"}]});
    let (req, verdict) = deliver(&t, &mqa_relay::targets::Content::Payload(payload)).await;
    assert!(matches!(verdict, Verdict::Delivered { .. }));
    assert_eq!(
        *json_body(&req),
        json!({"channel": SlackApi::CHANNEL, "text": "custom", "blocks": [{"type": "divider"}]})
    );
}

#[test]
fn slack_webhook_answers_are_classified_by_the_table() {
    let t = webhook_target("https://hooks.slack.com/services/T1/B1/s3cr3tpath");
    let cases = [
        answer(200, "ok").is(Verdict::Delivered { provider_id: None }),
        answer(400, "invalid_payload")
            .dead()
            .saying("could not read the message"),
        answer(400, "no_text").dead().saying("nothing to show"),
        answer(400, "user_not_found")
            .dead()
            .saying("wrong or was revoked"),
        answer(400, "too_many_attachments")
            .dead()
            .saying("100 attachments"),
        answer(403, "action_prohibited")
            .dead()
            .saying("admin restricted"),
        answer(403, "invalid_token")
            .dead()
            .saying("wrong or was revoked"),
        answer(403, "posting_to_general_channel_denied")
            .dead()
            .saying("#general"),
        answer(404, "channel_not_found")
            .dead()
            .saying("channel was deleted"),
        answer(404, "no_service").dead().saying("removed"),
        answer(404, "team_disabled").dead().saying("workspace"),
        answer(410, "channel_is_archived").is(Verdict::Dead {
            reason: "Slack answered 410 channel_is_archived: the channel is archived".to_string(),
        }),
        answer(429, "{\"ok\":false}").retried_in(RetryScope::Target),
        answer(500, "rollup_error").retried_in(RetryScope::Delivery),
        answer(503, "<html>down</html>").retried_in(RetryScope::Delivery),
        answer(408, "").retried_in(RetryScope::Delivery),
        answer(302, "").dead().saying("302"),
    ];
    check(&t, SystemTime::UNIX_EPOCH, &cases);
}

#[test]
fn slack_api_errors_in_200_answers_are_classified_by_the_table() {
    let t = target("{ kind: slack, token: xoxb-table-token, channel: C1 }");
    let err = |e: &str| answer(200, format!("{{\"ok\":false,\"error\":\"{e}\"}}"));
    let cases = [
        err("channel_not_found").dead(),
        err("not_in_channel").dead(),
        err("is_archived").dead(),
        err("restricted_action").dead(),
        err("invalid_auth").dead(),
        err("token_revoked").dead(),
        err("missing_scope").dead(),
        err("no_text").dead(),
        err("invalid_blocks").dead(),
        err("msg_blocks_too_long").dead(),
        err("some_new_error").dead(),
        err("internal_error").retried_in(RetryScope::Delivery),
        err("fatal_error")
            .retried_in(RetryScope::Delivery)
            .saying("may have partly succeeded"),
        err("service_unavailable").retried_in(RetryScope::Delivery),
        err("request_timeout").retried_in(RetryScope::Delivery),
        err("rate_limited").retried_in(RetryScope::Target),
        err("message_limit_exceeded")
            .retried_in(RetryScope::Target)
            .after_at_least(secs(3600)),
        answer(429, "{\"ok\":false,\"error\":\"ratelimited\"}")
            .header("Retry-After", "7")
            .is(Verdict::Retry {
                after: Some(secs(7)),
                scope: RetryScope::Target,
                reason: "Slack answered 429 ratelimited".to_string(),
            }),
        answer(502, "bad gateway").retried(),
        answer(200, "<html>").retried(),
    ];
    check(&t, SystemTime::UNIX_EPOCH, &cases);
}

#[test]
fn slack_without_url_or_token_is_refused_by_the_configuration() {
    let err = refused("{ kind: slack }");
    assert!(err.contains("needs either `url`"), "{err}");
}

#[test]
fn slack_needs_both_renderings() {
    let t = webhook_target("https://hooks.slack.com/services/T1/B1/x");
    let only_plain =
        mqa_relay::targets::Content::Message(mqa_relay::targets::Rendered::new(vec![(
            Markup::Plain,
            sample(Markup::Plain),
        )]));
    let err = t.build(&only_plain, "k").unwrap_err();
    assert_eq!(
        err,
        mqa_relay::targets::BuildError::MissingRendering(Markup::Slack)
    );
}

/// A message of emoji outside the Basic Multilingual Plane (two UTF-16 units each): a title of
/// exactly 150 code points, long text and long fields.
fn emoji_heavy(markup: Markup) -> Message {
    let mut m = sample(markup);
    m.title = "🧊".repeat(150);
    m.text = "🍕 ".repeat(5000);
    m.fields = (0..12)
        .map(|i| (format!("Check {i}"), "❄\u{fe0f}🥶".repeat(1500)))
        .collect();
    m
}

#[tokio::test]
async fn an_emoji_heavy_message_fits_every_limit_counted_in_utf16_units() {
    let slack = SlackWebhook::start().await;
    let t = webhook_target(&slack.url());
    let (req, verdict) = deliver(&t, &content_for(&t, emoji_heavy)).await;
    assert_eq!(verdict, Verdict::Delivered { provider_id: None });
    let body = json_body(&req);
    let header = body["blocks"][0]["text"]["text"].as_str().unwrap();
    assert!(
        header.encode_utf16().count() <= 150,
        "{}",
        header.encode_utf16().count()
    );
    assert!(header.ends_with('…'));
    assert!(body["text"].as_str().unwrap().encode_utf16().count() <= 3000);
}

#[tokio::test]
async fn user_values_are_text_in_slack_every_mrkdwn_object_is_verbatim() {
    let slack = SlackWebhook::start().await;
    let t = webhook_target(&slack.url());
    let (req, _) = deliver(&t, &content_for(&t, sample)).await;
    let body = json_body(&req);
    let mut mrkdwn = 0;
    for block in body["blocks"].as_array().unwrap() {
        let texts = [&block["text"]]
            .into_iter()
            .chain(block["fields"].as_array().into_iter().flatten())
            .chain(block["elements"].as_array().into_iter().flatten());
        for text in texts.filter(|t| t["type"] == "mrkdwn") {
            mrkdwn += 1;
            assert_eq!(text["verbatim"], true, "{text}");
        }
    }
    assert!(mrkdwn >= 4, "{body}");
}
