//! What hostile input leaves in the logs, the store and the admin API: no secret, even from
//! providers that reject (and echo back, in any encoding) their credentials, and no forged log
//! line from an event or an answer full of line breaks and terminal escapes. Every log line of
//! the relay is captured at DEBUG/TRACE level.

use mqa_relay::store::DeliveryState;

use super::config;
use crate::support::config::quoted;
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

/// The secrets of one run of [`echoed_everywhere`]: one per place a target keeps one.
#[derive(Debug, Clone)]
struct Secrets {
    slack_hook: String,
    bot_token: String,
    /// May hold `/` and `+`: it is percent-encoded in the URL.
    teams_sig: String,
    sendgrid_key: String,
    postmark_token: String,
    mailgun_key: String,
    url_password: String,
    path_secret: String,
    query_secret: String,
    header_secret: String,
}

impl Secrets {
    fn fixed() -> Secrets {
        Secrets {
            slack_hook: "echoedSlackHook4M7pW2".into(),
            bot_token: "xoxb-echoed-bot-token-9T3kD6".into(),
            teams_sig: "echoedTeamsSig/8Rz+Qm1".into(),
            sendgrid_key: "SG.echoedKeyId.echoedKeySecret2W6yH8".into(),
            postmark_token: "echoed-postmark-token-5N1gF4".into(),
            mailgun_key: "key-echoed-mailgun-secret-7C2vB9".into(),
            url_password: "echoedUrlPass3X8mK5".into(),
            path_secret: "echoedPathSecret6L4tR2".into(),
            query_secret: "echoedQuerySecret1P9wS7".into(),
            header_secret: "echoedHeaderSecret4J2nV8".into(),
        }
    }

    /// Every secret, and what the Basic credentials of Mailgun and of the URL's userinfo
    /// are made from.
    fn all(&self) -> Vec<String> {
        let mut all = vec![
            self.slack_hook.clone(),
            self.bot_token.clone(),
            self.teams_sig.clone(),
            self.sendgrid_key.clone(),
            self.postmark_token.clone(),
            self.mailgun_key.clone(),
            self.url_password.clone(),
            self.path_secret.clone(),
            self.query_secret.clone(),
            self.header_secret.clone(),
        ];
        all.push(format!("api:{}", self.mailgun_key));
        all.push(format!("erp:{}", self.url_password));
        all
    }
}

#[tokio::test]
async fn providers_that_echo_the_whole_request_in_any_encoding_leave_no_secret_anywhere() {
    echoed_everywhere(&Secrets::fixed()).await;
}

/// Secrets drawn from generators (the properties' fixed seed, `support::properties`): any
/// characters a URL part may hold unencoded for the URL secrets, any printable ASCII for keys,
/// tokens and headers (`PROPTEST_CASES` sets instead of three). Each set runs
/// [`echoed_everywhere`] on a relay of its own. A failure prints the set; it is not shrunk
/// (each case is a whole relay).
#[tokio::test]
async fn generated_secrets_echoed_in_any_encoding_leave_no_trace_anywhere() {
    use proptest::strategy::{Strategy, ValueTree};
    use proptest::test_runner::TestRunner;
    let url_part = || "[A-Za-z0-9._~-]{12,40}";
    // Printable ASCII but `$` (`${VAR}` in the rules file) and space (trimmed by providers).
    let printable = || "[!-#%-~]{12,48}";
    let sig = "[A-Za-z0-9/+=._-]{12,40}";
    let strategy = (
        (url_part(), printable(), sig, printable(), printable()),
        (printable(), url_part(), url_part(), url_part(), printable()),
    )
        .prop_map(
            |((hook, bot, sig, sendgrid, postmark), (mailgun, pass, path, query, header))| {
                Secrets {
                    slack_hook: hook,
                    bot_token: bot,
                    teams_sig: sig,
                    sendgrid_key: sendgrid,
                    postmark_token: postmark,
                    mailgun_key: mailgun,
                    url_password: pass,
                    path_secret: path,
                    query_secret: query,
                    header_secret: header,
                }
            },
        );
    // Three sets in `cargo test`; `PROPTEST_CASES` asks for more.
    let mut runner = TestRunner::new(crate::support::properties::config(3));
    for _ in 0..runner.config().cases {
        let secrets = strategy.new_tree(&mut runner).unwrap().current();
        echoed_everywhere(&secrets).await;
    }
}

/// Every kind of target configured with `secrets`, each sending to a service that refuses
/// with 401 and echoes the whole request back in one encoding; then no encoding of any secret
/// is in the log, a stored error, the store's files, or any answer of the admin API and the
/// metrics.
async fn echoed_everywhere(secrets: &Secrets) {
    let logs = logs();
    let status = 401;
    let slack = Echoing::start(
        status,
        Echo::LowerCase,
        &format!("/services/T0E/B0E/{}", secrets.slack_hook),
    )
    .await;
    let bot = Echoing::start(status, Echo::UpperCase, "").await;
    let teams_path = format!(
        "/powerautomate/automations/direct/workflows/wf/triggers/manual/paths/invoke\
         ?api-version=1&sig={}",
        secrets
            .teams_sig
            .replace('/', "%2F")
            .replace('+', "%2B")
            .replace('=', "%3D")
    );
    let teams = Echoing::start(status, Echo::JsonEscaped, &teams_path).await;
    let sendgrid = Echoing::start(status, Echo::Base64, "").await;
    let postmark = Echoing::start(status, Echo::PercentEncoded, "").await;
    let mailgun = Echoing::start(status, Echo::AsIs, "").await;
    let erp = Echoing::start(status, Echo::PercentEncoded, "").await;
    let erp_url = erp.base_url().replacen(
        "http://",
        &format!("http://erp:{}@", secrets.url_password),
        1,
    );
    let mail = |provider: &str, key: &str, base: String| {
        let domain = if provider == "mailgun" {
            ", domain: mg.northwind.example"
        } else {
            ""
        };
        format!(
            "{{ kind: email, provider: {provider}, api_key: {}, base_url: \"{base}\", \
             from: alerts@northwind.example, to: qa@northwind.example{domain} }}",
            quoted(key)
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
                "{{ kind: slack, token: {}, channel: C0ECHO, base_url: \"{}\" }}",
                quoted(&secrets.bot_token),
                bot.base_url()
            ),
        ),
        (
            "teams",
            format!("{{ kind: teams, url: \"{}\" }}", teams.url()),
        ),
        (
            "sendgrid",
            mail("sendgrid", &secrets.sendgrid_key, sendgrid.base_url()),
        ),
        (
            "postmark",
            mail("postmark", &secrets.postmark_token, postmark.base_url()),
        ),
        (
            "mailgun",
            mail("mailgun", &secrets.mailgun_key, mailgun.base_url()),
        ),
        (
            "erp",
            format!(
                "{{ kind: webhook, url: \"{erp_url}/hook/{}?key={}\", \
                 headers: {{ X-Api-Key: {} }} }}",
                secrets.path_secret,
                secrets.query_secret,
                quoted(&secrets.header_secret)
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
    for path in [
        "/api/config",
        "/api/events",
        &format!("/api/events/{id}"),
        "/api/dlq",
    ] {
        let answer = relay.admin("GET", path).await;
        assert_eq!(answer.status, 200, "{path}: {}", answer.text);
        shown.push((format!("GET {path}"), answer.text));
    }
    let (status, metrics) = relay.get_text("/metrics").await;
    assert_eq!(status, 200);
    shown.push(("GET /metrics".into(), metrics));
    shown.extend(store_files(relay.data_dir()));
    for secret in secrets.all() {
        for form in echoed_forms(&secret) {
            for (place, text) in &shown {
                assert!(
                    !text.contains(&form),
                    "{place} shows {form:?} (from {secret:?} of {secrets:?}):\n{text}"
                );
            }
        }
    }
}

/// Every file of a data directory (the database, its write-ahead log), read as text: what
/// any row, index or freed page holds.
fn store_files(dir: &std::path::Path) -> Vec<(String, String)> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("the data directory is there") {
        let path = entry.unwrap().path();
        if path.is_file() {
            let bytes = std::fs::read(&path).unwrap();
            files.push((
                format!("the store file {}", path.display()),
                String::from_utf8_lossy(&bytes).into_owned(),
            ));
        }
    }
    assert!(!files.is_empty(), "no store file in {}", dir.display());
    files
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
