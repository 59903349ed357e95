//! What hostile input leaves in the logs, the store and the admin API: no secret, even from
//! providers that reject (and echo back, in any encoding) their credentials, and no forged log
//! line from an event or an answer full of line breaks and terminal escapes. Every log line of
//! the relay is captured at DEBUG/TRACE level.

use mqa_relay::store::DeliveryState;

use super::config;
use crate::support::logs::logs;
use crate::support::mail_providers::{Mailgun, Postmark, SendGrid};
use crate::support::mock::{Answer, Reply};
use crate::support::providers::{
    Echo, Echoing, SlackApi, SlackWebhook, TeamsWorkflow, closed_port_url, echoed_forms,
};
use crate::support::relay::{Spec, TestRelay, spawn_relay};
use crate::support::wait::sample;

const HOOK_SECRET: &str = "slackHookSecret7Q3xZ9";
const BOT_TOKEN: &str = "xoxb-distinct-bot-token-4R8kP2";
const TEAMS_SIG: &str = "teamsSigSecret9W2vL5";
const SENDGRID_KEY: &str = "SG.distinctKeyId.distinctKeySecret6T1mN4";
const POSTMARK_TOKEN: &str = "postmark-distinct-token-2H7cV3";
const MAILGUN_KEY: &str = "key-mailgun-distinct-secret-5B9xQ1";
const PATH_SECRET: &str = "webhookPathSecret3J8dH1";
const QUERY_SECRET: &str = "webhookQuerySecret5F2sA6";
const HEADER_SECRET: &str = "webhookHeaderSecret8K4qP7";

#[tokio::test]
async fn failed_deliveries_leave_no_secret_in_the_logs_or_the_store() {
    let logs = logs();
    let slack = SlackWebhook::start().await;
    let hook_path = format!("/services/T0MQA0001/B0MQA0001/{HOOK_SECRET}");
    slack.with(|s| s.hook_path = hook_path.clone());
    // Slack echoes the whole hook path back in its error.
    slack.script([Answer::raw(Reply::text(
        404,
        "text/html",
        &format!("no_active_hooks for {hook_path}"),
    ))]);
    let slack_api = SlackApi::start().await;
    let teams = TeamsWorkflow::start().await;
    let teams_url = teams.url().replace(TeamsWorkflow::SIG, TEAMS_SIG);
    let sendgrid = SendGrid::start().await;
    // SendGrid echoes the key it was given.
    let echo = serde_json::json!({"errors": [{"message": format!("invalid key {SENDGRID_KEY}")}]});
    sendgrid.script([Answer::raw(Reply::json(401, &echo))]);
    let postmark = Postmark::start().await;
    let mailgun = Mailgun::start().await;
    let closed = closed_port_url().await;
    let webhook_url = format!("{closed}/{PATH_SECRET}?key={QUERY_SECRET}");

    let mail = |provider: &str, key: &str, base: String, extra: &str| {
        format!(
            "{{ kind: email, provider: {provider}, api_key: \"{key}\", base_url: \"{base}\", \
             from: alerts@northwind.example, to: qa@northwind.example{extra} }}"
        )
    };
    let retry = "retry: { max_attempts: 2, initial: 100ms }";
    let targets = [
        (
            "hook",
            format!(
                "{{ kind: slack, url: \"{}{hook_path}\" }}",
                slack.base_url()
            ),
        ),
        (
            "bot",
            format!(
                "{{ kind: slack, token: \"{BOT_TOKEN}\", channel: {}, base_url: \"{}\" }}",
                SlackApi::CHANNEL,
                slack_api.base_url()
            ),
        ),
        ("teams", format!("{{ kind: teams, url: \"{teams_url}\" }}")),
        (
            "sendgrid",
            mail("sendgrid", SENDGRID_KEY, sendgrid.base_url(), ""),
        ),
        (
            "postmark",
            mail("postmark", POSTMARK_TOKEN, postmark.base_url(), ""),
        ),
        (
            "mailgun",
            mail(
                "mailgun",
                MAILGUN_KEY,
                mailgun.base_url(),
                ", domain: mg.northwind.example",
            ),
        ),
        (
            "erp",
            format!(
                "{{ kind: webhook, url: \"{webhook_url}\", {retry}, \
                 headers: {{ Authorization: \"Bearer {HEADER_SECRET}\" }} }}"
            ),
        ),
    ];
    let relay = spawn_relay(Spec::new(&config(&targets, "*"))).await;
    let id = relay.ack(&sample("corrective_action_rejected")).await;
    let deliveries = relay
        .wait_states(&id, DeliveryState::Dead, targets.len())
        .await;

    let mailgun_basic = mqa_relay::targets::http::base64(format!("api:{MAILGUN_KEY}").as_bytes());
    let secrets = [
        HOOK_SECRET,
        BOT_TOKEN,
        TEAMS_SIG,
        SENDGRID_KEY,
        POSTMARK_TOKEN,
        MAILGUN_KEY,
        &mailgun_basic,
        PATH_SECRET,
        QUERY_SECRET,
        HEADER_SECRET,
    ];
    let mut stored = Vec::new();
    for (delivery, attempts) in &deliveries {
        stored.push(delivery.last_error.clone().unwrap_or_default());
        stored.extend(attempts.iter().filter_map(|a| a.error.clone()));
    }
    assert_eq!(stored.len(), targets.len() + 8, "{stored:#?}");
    let text = logs.text();
    assert!(
        text.contains(&format!("event_id={id}")) && text.contains("delivery dead"),
        "the log capture sees the deliveries"
    );
    for secret in secrets {
        assert!(!text.contains(secret), "a log line shows {secret}");
        for error in &stored {
            assert!(
                !error.contains(secret),
                "a stored error shows {secret}: {error}"
            );
        }
    }
    // The errors still say what went wrong.
    let error_of = |target: &str| {
        deliveries
            .iter()
            .find(|(d, _)| d.target == target)
            .and_then(|(d, _)| d.last_error.clone())
            .unwrap_or_default()
    };
    assert!(error_of("hook").contains("no_active_hooks"));
    assert!(error_of("bot").contains("invalid_auth"));
    assert!(error_of("teams").contains("401"));
    assert!(error_of("sendgrid").contains("invalid key"));
    assert!(error_of("postmark").contains("401"));
    assert!(error_of("mailgun").contains("401"));
    assert!(error_of("erp").contains("could not connect"));
}

mod echoed {
    pub const SLACK_HOOK: &str = "echoedSlackHook4M7pW2";
    pub const BOT_TOKEN: &str = "xoxb-echoed-bot-token-9T3kD6";
    pub const TEAMS_SIG: &str = "echoedTeamsSig/8Rz+Qm1";
    pub const SENDGRID_KEY: &str = "SG.echoedKeyId.echoedKeySecret2W6yH8";
    pub const POSTMARK_TOKEN: &str = "echoed-postmark-token-5N1gF4";
    pub const MAILGUN_KEY: &str = "key-echoed-mailgun-secret-7C2vB9";
    pub const URL_PASSWORD: &str = "echoedUrlPass3X8mK5";
    pub const PATH_SECRET: &str = "echoedPathSecret6L4tR2";
    pub const QUERY_SECRET: &str = "echoedQuerySecret1P9wS7";
    pub const HEADER_SECRET: &str = "echoedHeaderSecret4J2nV8";
}

#[tokio::test]
async fn providers_that_echo_the_whole_request_in_any_encoding_leave_no_secret_anywhere() {
    use echoed::*;
    let logs = logs();
    let status = 401;
    let slack = Echoing::start(
        status,
        Echo::LowerCase,
        &format!("/services/T0E/B0E/{SLACK_HOOK}"),
    )
    .await;
    let bot = Echoing::start(status, Echo::UpperCase, "").await;
    let teams_path = format!(
        "/powerautomate/automations/direct/workflows/wf/triggers/manual/paths/invoke\
         ?api-version=1&sig={}",
        TEAMS_SIG.replace('/', "%2F").replace('+', "%2B")
    );
    let teams = Echoing::start(status, Echo::JsonEscaped, &teams_path).await;
    let sendgrid = Echoing::start(status, Echo::Base64, "").await;
    let postmark = Echoing::start(status, Echo::PercentEncoded, "").await;
    let mailgun = Echoing::start(status, Echo::AsIs, "").await;
    let erp = Echoing::start(status, Echo::PercentEncoded, "").await;
    let erp_url = erp
        .base_url()
        .replacen("http://", &format!("http://erp:{URL_PASSWORD}@"), 1);
    let mail = |provider: &str, key: &str, base: String| {
        let domain = if provider == "mailgun" {
            ", domain: mg.northwind.example"
        } else {
            ""
        };
        format!(
            "{{ kind: email, provider: {provider}, api_key: \"{key}\", base_url: \"{base}\", \
             from: alerts@northwind.example, to: qa@northwind.example{domain} }}"
        )
    };
    let targets = [
        (
            "hook",
            format!("{{ kind: slack, url: \"{}\" }}", slack.url()),
        ),
        (
            "bot",
            format!(
                "{{ kind: slack, token: \"{BOT_TOKEN}\", channel: C0ECHO, base_url: \"{}\" }}",
                bot.base_url()
            ),
        ),
        (
            "teams",
            format!("{{ kind: teams, url: \"{}\" }}", teams.url()),
        ),
        (
            "sendgrid",
            mail("sendgrid", SENDGRID_KEY, sendgrid.base_url()),
        ),
        (
            "postmark",
            mail("postmark", POSTMARK_TOKEN, postmark.base_url()),
        ),
        ("mailgun", mail("mailgun", MAILGUN_KEY, mailgun.base_url())),
        (
            "erp",
            format!(
                "{{ kind: webhook, url: \"{erp_url}/hook/{PATH_SECRET}?key={QUERY_SECRET}\", \
                 headers: {{ X-Api-Key: \"{HEADER_SECRET}\" }} }}"
            ),
        ),
    ];
    let relay = spawn_relay(Spec::new(&config(&targets, "*"))).await;
    let id = relay.ack(&sample("corrective_action_rejected")).await;
    let deliveries = relay
        .wait_states(&id, DeliveryState::Dead, targets.len())
        .await;

    let mut shown = vec![("the log".to_string(), logs.text())];
    for (delivery, attempts) in &deliveries {
        let error = delivery.last_error.clone().unwrap_or_default();
        // The echo reached the reason, and what was secret in it is gone.
        assert!(error.contains("<redacted>"), "{}: {error}", delivery.target);
        let stored = attempts.iter().filter_map(|a| a.error.clone());
        shown.extend(stored.map(|e| (format!("a stored attempt of {}", delivery.target), e)));
        shown.push((format!("the last error of {}", delivery.target), error));
        shown.push((
            format!("GET /api/dlq/{} ({})", delivery.id, delivery.target),
            dead_letter_answer(&relay, delivery.id).await,
        ));
    }
    let mut secrets: Vec<String> = [
        SLACK_HOOK,
        BOT_TOKEN,
        TEAMS_SIG,
        SENDGRID_KEY,
        POSTMARK_TOKEN,
        MAILGUN_KEY,
        URL_PASSWORD,
        PATH_SECRET,
        QUERY_SECRET,
        HEADER_SECRET,
    ]
    .map(String::from)
    .to_vec();
    // What the Basic credentials of Mailgun and of the URL's userinfo are made from.
    secrets.push(format!("api:{MAILGUN_KEY}"));
    secrets.push(format!("erp:{URL_PASSWORD}"));
    for secret in &secrets {
        for form in echoed_forms(secret) {
            for (place, text) in &shown {
                assert!(
                    !text.contains(&form),
                    "{place} shows {form:?} (from {secret:?}):\n{text}"
                );
            }
        }
    }
}

/// The admin API's view of one dead letter, checked to be there.
async fn dead_letter_answer(relay: &TestRelay, id: i64) -> String {
    let answer = relay.admin("GET", &format!("/api/dlq/{id}")).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert!(answer.text.contains("<redacted>"), "{}", answer.text);
    answer.text
}

/// A whole log line in the text format, as an attacker would write it.
const FORGED: &str = "2026-01-01T00:00:00.000000Z  INFO mqa_relay::pipeline::sender: forged-line";

/// A template that fails on an event whose `data.list` is not a list, quoting the value.
const JOIN_TEMPLATE: &str =
    "title: 'On the list: {{join (default data.list null) \"name\"}}'\ntext: x\n";

#[tokio::test]
async fn an_event_type_a_render_error_and_a_provider_error_full_of_line_breaks_forge_no_log_line() {
    let logs = logs();
    let slack = SlackApi::start().await;
    let hostile = |who: &str| format!("{who}\n{FORGED} by the {who}\x1b[31m\r\n{FORGED}\x1b[0m");
    let answer = serde_json::json!({"ok": false, "error": hostile("provider")});
    slack.always(Answer::raw(Reply::json(200, &answer)));
    let target = format!(
        "{{ kind: slack, token: xoxb-log-test-token-7Y2, channel: {}, base_url: \"{}\" }}",
        SlackApi::CHANNEL,
        slack.base_url()
    );
    let templates = [("audit_expired.yaml", JOIN_TEMPLATE)];
    let relay = spawn_relay(Spec {
        templates: &templates,
        ..Spec::new(&config(&[("bot", target)], "*"))
    })
    .await;
    let mut event = sample("audit_expired");
    event["event"] = serde_json::Value::String(hostile("AUDIT_EXPIRED"));
    let id = relay.ack(&event).await;
    relay.wait_state(&id, DeliveryState::Dead).await;
    let mut event = sample("audit_expired");
    event["data"]["list"] = serde_json::Value::String(hostile("template"));
    let unrenderable = relay.ack(&event).await;
    let (delivery, _) = relay.wait_state(&unrenderable, DeliveryState::Dead).await;
    let error = delivery.last_error.unwrap_or_default();
    assert!(
        error.contains("by the template"),
        "the render error quotes the value: {error}"
    );

    let text = logs.text();
    let forged: Vec<&str> = text.lines().filter(|l| l.starts_with(FORGED)).collect();
    assert!(forged.is_empty(), "forged lines: {forged:#?}");
    assert!(!text.contains('\x1b'), "a raw ESC reached the log");
    let ours: Vec<&str> = text.lines().filter(|l| l.contains(&id)).collect();
    assert!(
        ours.iter()
            .any(|l| l.contains("event received") && l.contains("by the AUDIT_EXPIRED")),
        "the event type is in its intake line: {ours:#?}"
    );
    assert!(
        ours.iter()
            .any(|l| l.contains("delivery dead") && l.contains("by the provider")),
        "the provider's error is in the attempt line: {ours:#?}"
    );
    let line = text
        .lines()
        .find(|l| l.contains(&unrenderable) && l.contains("delivery dead"));
    assert!(
        line.is_some_and(|l| l.contains("by the template")),
        "the render error is in the attempt line: {line:?}"
    );
}
