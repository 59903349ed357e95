//! No secret (webhook URL, API key, token, header value) appears in a verdict reason, a build
//! error, a transport error or any Debug output, even when a provider echoes it back.

use std::time::{Duration, SystemTime};

use mqa_relay::targets::{Content, HttpResponse, Target, execute, http};
use serde_json::json;

use super::{content_for, sample};
use crate::support::config::{quoted, refused, target};
use crate::support::providers::{closed_port_url, echoed_forms};

const HOOK: &str = "https://hooks.slack.com/services/T0SECRET/B0SECRET/hookSecretValue42";
const TOKEN: &str = "xoxb-token-secret-value-42";
const TEAMS: &str = "https://x.environment.api.powerplatform.com/powerautomate/automations/direct/workflows/wf/triggers/manual/paths/invoke?sig=teamsSigSecret42";
const KEY: &str = "api-key-secret-value-42";
const HEADER: &str = "header-secret-value-42";
const SECRETS: [&str; 6] = [
    "hookSecretValue42",
    TOKEN,
    "teamsSigSecret42",
    KEY,
    HEADER,
    "T0SECRET",
];

const WEBHOOK: &str = "https://erp.internal/hook/pathSecret?token=hookSecretValue42";

fn all_targets() -> Vec<Target> {
    all_targets_with_secrets()
        .into_iter()
        .map(|(t, _)| t)
        .collect()
}

/// Every kind of target, with the secret values it is configured with (for URLs: the whole
/// URL and its token part alone).
fn all_targets_with_secrets() -> Vec<(Target, Vec<&'static str>)> {
    let mut targets = vec![
        (
            target(&format!("{{ kind: slack, url: {} }}", quoted(HOOK))),
            vec![HOOK, "hookSecretValue42"],
        ),
        (
            target(&format!("{{ kind: slack, token: {TOKEN}, channel: C1 }}")),
            vec![TOKEN],
        ),
        (
            target(&format!("{{ kind: teams, url: {} }}", quoted(TEAMS))),
            vec![TEAMS, "teamsSigSecret42"],
        ),
        (
            target(&format!(
                "{{ kind: webhook, url: {}, headers: {{ Authorization: {HEADER} }} }}",
                quoted(WEBHOOK)
            )),
            vec![WEBHOOK, "hookSecretValue42", HEADER],
        ),
    ];
    for provider in ["sendgrid", "mailgun", "postmark", "resend"] {
        let mailgun = if provider == "mailgun" {
            ", domain: mg.northwind.example, region: eu"
        } else {
            ""
        };
        let email = target(&format!(
            "{{ kind: email, provider: {provider}, api_key: {KEY}, \
             from: alerts@northwind.example, to: qa@northwind.example{mailgun} }}"
        ));
        targets.push((email, vec![KEY]));
    }
    targets
}

fn assert_clean(text: &str) {
    for s in SECRETS {
        assert!(!text.contains(s), "{s:?} leaked in {text:?}");
    }
}

#[test]
fn reasons_never_contain_a_secret_even_when_the_provider_echoes_it() {
    for (t, secrets) in all_targets_with_secrets() {
        let echo = format!("bad credentials {}", secrets.join(" "));
        assert_no_secret_in_any_reason(&t, &echo);
    }
}

/// The shapes in which the providers' answers carry an error text.
fn bodies(echo: &str) -> [String; 6] {
    [
        echo.to_string(),
        json!({"ok": false, "error": echo}).to_string(),
        json!({"error": {"code": "X", "message": echo}}).to_string(),
        json!({"errors": [{"message": echo}]}).to_string(),
        json!({"message": echo, "name": "validation_error"}).to_string(),
        json!({"ErrorCode": 300, "Message": echo}).to_string(),
    ]
}

fn assert_no_secret_in_any_reason(t: &Target, echo: &str) {
    let bodies = bodies(echo);
    for status in [200, 400, 401, 403, 404, 422, 429, 500] {
        for body in &bodies {
            let v = t.classify(&HttpResponse::new(status, body.clone()), SystemTime::now());
            if let Some(reason) = v.reason() {
                assert_clean(reason);
            }
            assert_clean(&format!("{v:?}"));
        }
    }
}

#[test]
fn reasons_contain_no_encoding_of_a_secret_the_provider_echoed() {
    for (t, secrets) in all_targets_with_secrets() {
        let mut forms: Vec<String> = secrets.iter().flat_map(|s| echoed_forms(s)).collect();
        if t.kind_name() == "email" {
            // Mailgun sends the key as HTTP Basic credentials `api:<key>`, in base64.
            forms.extend(echoed_forms(&format!("api:{KEY}")));
        }
        for form in forms {
            let echo = format!("bad credentials {form} rejected");
            assert_no_form_in_any_reason(&t, &echo, &form);
        }
    }
}

fn assert_no_form_in_any_reason(t: &Target, echo: &str, form: &str) {
    for status in [200, 400, 401, 403, 404, 422, 429, 500] {
        for body in bodies(echo) {
            let v = t.classify(&HttpResponse::new(status, body.clone()), SystemTime::now());
            let shown = format!("{:?} {v:?}", v.reason());
            assert!(!shown.contains(form), "{form:?} leaked in {shown}");
        }
    }
    assert!(!t.scrub(echo).contains(form), "{form:?} leaked by scrub");
}

#[test]
fn a_mailgun_key_echoed_as_basic_credentials_is_scrubbed_whole() {
    let mailgun = all_targets()
        .into_iter()
        .find(|t| {
            t.build(&content_for(t, sample), "k").is_ok_and(|r| {
                r.header("authorization")
                    .is_some_and(|a| a.starts_with("Basic "))
            })
        })
        .expect("the mailgun target");
    let sent = mailgun.build(&content_for(&mailgun, sample), "k").unwrap();
    let basic = sent.header("authorization").unwrap();
    let echo = format!("{{\"message\":\"Forbidden: got Authorization: {basic}\"}}");
    let verdict = mailgun.classify(&HttpResponse::new(401, echo), SystemTime::now());
    let shown = super::reason(&verdict);
    assert!(shown.contains("Authorization: Basic <redacted>"), "{shown}");
}

#[test]
fn a_provider_id_that_echoes_a_secret_is_scrubbed() {
    for (t, secrets) in all_targets_with_secrets() {
        let id = format!("id-{}", secrets[0].to_ascii_lowercase());
        let bodies = [
            json!({"id": id, "ok": true, "channel": id, "ts": "1"}).to_string(),
            json!({"MessageID": id, "ErrorCode": 0}).to_string(),
        ];
        for body in bodies {
            let answer = HttpResponse::new(200, body).with_header("x-message-id", &id);
            let v = t.classify(&answer, SystemTime::now());
            let shown = format!("{v:?}");
            assert!(
                !shown
                    .to_ascii_lowercase()
                    .contains(&secrets[0].to_ascii_lowercase()),
                "{shown}"
            );
        }
    }
}

#[test]
fn debug_of_targets_and_requests_shows_no_secret() {
    for t in all_targets() {
        assert_clean(&format!("{t:?}"));
        if let Ok(req) = t.build(&content_for(&t, sample), "k") {
            assert_clean(&format!("{req:?}"));
        }
        if let Ok(req) = t.build(&Content::Event(json!({})), "k") {
            assert_clean(&format!("{req:?}"));
        }
    }
}

#[test]
fn build_errors_show_no_secret() {
    for t in all_targets() {
        for content in [
            Content::Payload(json!({})),
            Content::Event(json!({})),
            content_for(&t, sample),
        ] {
            if let Err(e) = t.build(&content, "k") {
                assert_clean(&e.to_string());
                assert_clean(&format!("{e:?}"));
            }
        }
    }
}

#[tokio::test]
async fn transport_errors_show_no_secret() {
    let url = closed_port_url().await;
    let secret_url = format!("{url}/hookSecretValue42?token={TOKEN}");
    let t = target(&format!(
        "{{ kind: webhook, url: {}, headers: {{ Authorization: {HEADER} }} }}",
        quoted(&secret_url)
    ));
    let req = t.build(&Content::Event(json!({})), "k").unwrap();
    let err = execute(&http::client().unwrap(), &req, Duration::from_secs(5))
        .await
        .unwrap_err();
    assert_clean(&err.to_string());
    assert_clean(&format!("{err:?}"));
    // A URL that is not one is refused before anything is sent, without repeating it.
    let refusal = refused("{ kind: webhook, url: \"not a url hookSecretValue42\" }");
    assert!(refusal.contains("url"), "{refusal}");
    assert_clean(&refusal);
}

#[tokio::test]
async fn hostile_values_survive_as_json_in_every_kind() {
    use crate::support::providers::{SlackWebhook, TeamsWorkflow};
    let hostile = "He said \"hi\" \\ back\nslash </script> {{x}} \u{2028} 🙂 \u{0}";
    let render = |m| mqa_relay::template::Message {
        title: hostile.to_string(),
        text: hostile.to_string(),
        fields: vec![(hostile.to_string(), hostile.to_string())],
        ..sample(m)
    };
    let slack = SlackWebhook::start().await;
    let t = target(&format!("{{ kind: slack, url: {} }}", quoted(&slack.url())));
    let (_, v) = super::deliver(&t, &content_for(&t, render)).await;
    assert!(
        matches!(v, mqa_relay::targets::Verdict::Delivered { .. }),
        "{v:?}"
    );
    let got = slack.received()[0].json();
    assert_eq!(got["text"], hostile);
    assert_eq!(got["blocks"][1]["text"]["text"], hostile);

    let teams = TeamsWorkflow::start().await;
    let t = target(&format!("{{ kind: teams, url: {} }}", quoted(&teams.url())));
    super::deliver(&t, &content_for(&t, render)).await;
    let got = teams.received()[0].json();
    // Adaptive Card text is Markdown: each line break becomes a paragraph break.
    let paragraphs = hostile.replace('\n', "\n\n");
    assert_eq!(
        got["attachments"][0]["content"]["body"][1]["text"],
        paragraphs
    );
    assert_eq!(
        got["attachments"][0]["content"]["body"][2]["facts"][0]["title"],
        hostile
    );
}

#[test]
fn a_bearer_token_echoed_on_its_own_is_scrubbed_too() {
    let t = target(&format!(
        "{{ kind: webhook, url: \"https://erp.example/hook\", \
         headers: {{ Authorization: \"Bearer {HEADER}\" }} }}"
    ));
    let echo = HttpResponse::new(401, format!("{{\"error\":\"token {HEADER} revoked\"}}"));
    let verdict = t.classify(&echo, SystemTime::now());
    let shown = super::reason(&verdict);
    assert!(shown.contains("revoked"), "{shown}");
    assert!(!shown.contains(HEADER), "{shown}");
    assert!(!t.scrub(&echo.body).contains(HEADER));
}
