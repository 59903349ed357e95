//! Enrichment end to end: a whole relay started in-process with `monitorqa.api_key` and
//! `monitorqa.base_url` pointing at a local stand-in of the MonitorQA API, events posted to
//! its webhook, and a local Slack webhook recording the messages.
//!
//! Each test reads as a sentence about how a lookup went (found, 401, 404, 429, 500, slow),
//! which rule the event then matched, and what the Slack message says. Every wait is a poll
//! with a deadline.

use std::process::Command;
use std::time::Duration;

use mqa_relay::event::Event;
use mqa_relay::store::{Store, StoreConfig};
use serde_json::{Value, json};

use crate::support::logs::logs;
use crate::support::mock::{Answer, Mock};
use crate::support::monitorqa::MonitorqaApi;
use crate::support::providers::SlackWebhook;
use crate::support::relay::{Spec, TestRelay, spawn_relay};
use crate::support::wait::{DEADLINE, eventually, sample};

/// The API key the local MonitorQA API accepts.
const KEY: &str = "mqa-api-key-R7d2Kq9wXz";
/// The rule that routes on a looked-up field.
const FOOD_SAFETY: &str = "food safety checks";
/// The rule for audit events the relay could not look up.
const UNENRICHED: &str = "audits without details";

/// What the `monitorqa` section says.
struct Api<'a> {
    base_url: &'a str,
    key: &'a str,
    /// `monitorqa.timeout`, e.g. `"300ms"`; `None` keeps the default (3 s).
    timeout: Option<&'a str>,
}

/// The rules file: the API, a Slack target at `slack_url`, and the two rules.
fn rules(api: &Api<'_>, slack_url: &str) -> String {
    let timeout = api
        .timeout
        .map(|t| format!("  timeout: {t}\n"))
        .unwrap_or_default();
    format!(
        r#"monitorqa:
  api_key: "{key}"
  base_url: "{base}"
{timeout}targets:
  slack: {{ kind: slack, url: "{slack_url}", rate_limit: 1000/s }}
rules:
  - name: {FOOD_SAFETY}
    events: "AUDIT_*"
    where: {{ audit.template.name: Food Safety Daily Check }}
    notify: [slack]
  - name: {UNENRICHED}
    events: "AUDIT_*"
    where: {{ audit: {{ exists: false }} }}
    notify: [slack]
  - name: actions that matter
    events: "CORRECTIVE_ACTION_*"
    where: {{ action.priority: 2 }}
    notify: [slack]
"#,
        key = api.key,
        base = api.base_url,
    )
}

/// The sample `name` (an id-only audit event) about the audit `id`.
fn about(name: &str, id: &str) -> Value {
    let mut event = sample(name);
    event["data"]["auditId"] = Value::String(id.into());
    event
}

/// The API's answer for audit `id`: the AUDIT_COMPLETED sample's audit under that id, not yet
/// carried out, as `GET /audit/{id}` gives it (no report link, no signatures).
fn audit_body(id: &str) -> Value {
    let mut data = sample("audit_completed")["data"].clone();
    let map = data
        .as_object_mut()
        .expect("the sample's data is an object");
    for key in [
        "auditId",
        "reportUrl",
        "auditorSignature",
        "auditeeSignature",
    ] {
        map.remove(key);
    }
    map.insert("id".into(), Value::String(id.into()));
    // Not done yet: what the API says about an audit that is assigned, expired or reopened.
    for (key, value) in [
        ("isStarted", false),
        ("isCompleted", false),
        ("isFailed", false),
    ] {
        map.insert(key.into(), Value::Bool(value));
    }
    for key in [
        "startedAt",
        "startedBy",
        "completeDate",
        "completedBy",
        "score",
        "scoreLabel",
        "scoreColor",
        "completionTime",
    ] {
        map.insert(key.into(), Value::Null);
    }
    data
}

/// Every string in a JSON value, in document order, one per line: what a person can read
/// in a Slack message.
fn words(value: &Value) -> String {
    fn walk(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::String(s) => out.push(s.clone()),
            Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
            Value::Object(map) => map.values().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(value, &mut out);
    out.join("\n")
}

/// The audit the local API knows.
const AUDIT_ID: &str = "d6f4b0a5-7e8c-4b1d-8f3a-4c5d6e7f8091";

/// The local API knowing [`AUDIT_ID`], a Slack webhook, and a relay using both with `key`.
async fn setup(
    key: &str,
    timeout: Option<&str>,
) -> (Mock<MonitorqaApi>, Mock<SlackWebhook>, TestRelay) {
    let api = MonitorqaApi::start(KEY).await;
    api.with(|a| a.add_audit(AUDIT_ID, audit_body(AUDIT_ID)));
    let slack = SlackWebhook::start().await;
    let api_cfg = Api {
        base_url: &api.base_url(),
        key,
        timeout,
    };
    let relay = spawn_relay(Spec::new(&rules(&api_cfg, &slack.url()))).await;
    (api, slack, relay)
}

/// The words of the one Slack message the relay sent.
async fn slack_message(slack: &Mock<SlackWebhook>) -> String {
    let received = slack.wait_for(1, DEADLINE).await;
    assert_eq!(received.len(), 1, "one message");
    words(&received[0].json())
}

/// `mqa_relay_enrichment_lookups_total{reason="<reason>"}`, 0 when never counted.
fn lookups(relay: &TestRelay, reason: &str) -> u64 {
    let text = relay.relay().metrics.encode();
    let prefix = format!("mqa_relay_enrichment_lookups_total{{reason=\"{reason}\"}} ");
    text.lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .map(|n| n.trim().parse().expect("a counter value"))
        .unwrap_or(0)
}

/// How many requests the API got about `id`.
fn requests_about(api: &Mock<MonitorqaApi>, id: &str) -> usize {
    api.received()
        .iter()
        .filter(|r| r.path.ends_with(id))
        .count()
}

/// What a message without the audit's details must still say, and must not show.
fn assert_reads_well_without_details(text: &str, says: &str) {
    assert!(text.contains(says), "{text}");
    assert!(text.contains("Northwind Foods"), "{text}");
    for broken in ["{{", ": —", " at .", " by .", "()", "null"] {
        assert!(!text.contains(broken), "{broken:?} in {text}");
    }
}

#[tokio::test]
async fn an_expired_audit_is_routed_on_its_looked_up_template_and_slack_shows_its_details() {
    let (api, slack, relay) = setup(KEY, None).await;
    let event = about("audit_expired", AUDIT_ID);

    let id = relay.ack(&event).await;
    let routed = relay.routed(&id).await;

    assert_eq!(routed.matched_rules, [FOOD_SAFETY]);
    let text = slack_message(&slack).await;
    for detail in [
        "AUD-2026-0311",
        "Kitchen — Store #12 Riverside",
        "Food Safety Daily Check",
        "Priya Natarajan, Tomás Ortega",
    ] {
        assert!(text.contains(detail), "{detail:?} in {text}");
    }
    let stored = &routed.event;
    let original = Event::from_value(event).expect("a valid event");
    assert_eq!(stored.event, original, "the raw event stays as it was");
    let saved = stored.enrichment.as_ref().expect("the enrichment is saved");
    assert_eq!(saved["audit"]["number"], "AUD-2026-0311");
    let requests = api.received();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].path, format!("/audit/{AUDIT_ID}"));
    assert_eq!(requests[0].header("x-api-key"), Some(KEY));
    assert_eq!(lookups(&relay, "found"), 1);
}

#[tokio::test]
async fn the_due_window_is_in_utc_and_says_so_unless_the_audit_names_its_zone() {
    let (api, slack, relay) = setup(KEY, None).await;
    let zoned = "e7a5c1b6-8f9d-4c2e-9a4b-5d6e7f8091a2";
    let mut body = audit_body(zoned);
    body["ianaTimeZone"] = json!("America/New_York");
    api.with(|a| a.add_audit(zoned, body));

    relay.ack(&about("audit_assigned", AUDIT_ID)).await;
    relay.ack(&about("audit_assigned", zoned)).await;

    let received = slack.wait_for(2, DEADLINE).await;
    let text: Vec<String> = received.iter().map(|r| words(&r.json())).collect();
    let text = text.join("\n");
    assert!(text.contains("Fri 20 Nov 2026, 05:00–13:00 UTC"), "{text}");
    assert!(text.contains("by Fri 20 Nov 2026, 13:00 UTC."), "{text}");
    assert!(text.contains("Fri 20 Nov 2026, 00:00–08:00 EST"), "{text}");
    assert!(text.contains("by Fri 20 Nov 2026, 08:00 EST."), "{text}");
}

#[tokio::test]
async fn an_audit_the_api_answers_404_for_does_not_match_the_enriched_rule_and_still_reads_well() {
    let (api, slack, relay) = setup(KEY, None).await;
    let gone = "c5e3a9f4-6d7b-4a0c-9e2f-3b4c5d6e7f80";

    let id = relay.ack(&about("audit_expired", gone)).await;
    let routed = relay.routed(&id).await;

    assert_eq!(routed.matched_rules, [UNENRICHED]);
    assert_eq!(routed.event.enrichment, None);
    let text = slack_message(&slack).await;
    assert_reads_well_without_details(&text, "Audit c5e3a9f4 was not completed in time.");
    assert_eq!(requests_about(&api, gone), 1, "a 404 is final");
    assert_eq!(lookups(&relay, "not_found"), 1);
}

#[tokio::test]
async fn a_deleted_audit_the_api_no_longer_knows_still_makes_a_readable_message() {
    let (_api, slack, relay) = setup(KEY, None).await;

    let id = relay.ack(&sample("audit_deleted")).await;
    let routed = relay.routed(&id).await;

    assert_eq!(routed.matched_rules, [UNENRICHED]);
    let text = slack_message(&slack).await;
    assert_reads_well_without_details(&text, "Audit c5e3a9f4 was deleted.");
    assert!(
        !text.contains("https://app.monitorqa.com/audits/"),
        "no link to a deleted audit: {text}"
    );
    assert_eq!(lookups(&relay, "not_found"), 1);
}

#[tokio::test]
async fn a_wrong_api_key_routes_the_event_without_enrichment_and_the_message_still_reads_well() {
    let logs = logs();
    let wrong = "mqa-api-key-WRONG-5hT1";
    let (api, slack, relay) = setup(wrong, None).await;

    let id = relay.ack(&about("audit_expired", AUDIT_ID)).await;
    let routed = relay.routed(&id).await;

    assert_eq!(routed.matched_rules, [UNENRICHED]);
    let text = slack_message(&slack).await;
    assert_reads_well_without_details(&text, "Audit d6f4b0a5 was not completed in time.");
    assert!(
        text.contains("https://app.monitorqa.com/audits/pending/"),
        "{text}"
    );
    assert_eq!(requests_about(&api, AUDIT_ID), 1, "a 401 is final");
    assert_eq!(lookups(&relay, "unauthorized"), 1);
    assert!(!logs.text().contains(wrong), "the wrong key is not logged");
}

#[tokio::test]
async fn a_429_then_a_200_is_retried_and_the_event_is_enriched() {
    let (api, slack, relay) = setup(KEY, None).await;
    api.script([Answer::status(429)]);

    let id = relay.ack(&about("audit_assigned", AUDIT_ID)).await;
    let routed = relay.routed(&id).await;

    assert_eq!(routed.matched_rules, [FOOD_SAFETY]);
    assert_eq!(requests_about(&api, AUDIT_ID), 2);
    let text = slack_message(&slack).await;
    assert!(text.contains("AUD-2026-0311"), "{text}");
    assert_eq!(lookups(&relay, "found"), 1);
}

#[tokio::test]
async fn a_500_forever_routes_the_event_without_enrichment_after_three_attempts() {
    let (api, slack, relay) = setup(KEY, None).await;
    api.script(vec![Answer::status(500); 10]);

    let id = relay.ack(&about("audit_rescheduled", AUDIT_ID)).await;
    let routed = relay.routed(&id).await;

    assert_eq!(routed.matched_rules, [UNENRICHED]);
    assert_eq!(
        requests_about(&api, AUDIT_ID),
        3,
        "the first try and two retries"
    );
    let text = slack_message(&slack).await;
    assert_reads_well_without_details(&text, "Audit d6f4b0a5 was reopened");
    assert_eq!(lookups(&relay, "failed"), 1);
    assert_eq!(requests_about(&api, AUDIT_ID), 3, "nothing is tried later");
}

#[tokio::test]
async fn a_slow_api_times_out_and_the_event_is_routed_without_enrichment() {
    let (api, slack, relay) = setup(KEY, Some("200ms")).await;
    api.script(vec![Answer::slow(Duration::from_secs(5)); 3]);

    let id = relay.ack(&about("audit_expired", AUDIT_ID)).await;
    let routed = relay.routed(&id).await;

    assert_eq!(routed.matched_rules, [UNENRICHED]);
    assert_eq!(routed.event.enrichment, None);
    assert_eq!(requests_about(&api, AUDIT_ID), 3);
    let text = slack_message(&slack).await;
    assert_reads_well_without_details(&text, "Audit d6f4b0a5 was not completed in time.");
    assert_eq!(lookups(&relay, "failed"), 1);
}

#[tokio::test]
async fn intake_acknowledges_events_while_a_lookup_is_blocked() {
    let (api, _slack, relay) = setup(KEY, Some("60s")).await;
    api.script([Answer::slow(Duration::from_secs(120))]);
    let first = relay.ack(&about("audit_expired", AUDIT_ID)).await;
    eventually("the lookup to reach the API", async || {
        (requests_about(&api, AUDIT_ID) == 1).then_some(())
    })
    .await;

    let second = relay
        .ack(&about(
            "audit_assigned",
            "e7a5c1b6-8f9d-4c2e-9a4b-5d6e7f8091a2",
        ))
        .await;

    assert!(
        relay
            .event(&first)
            .await
            .expect("stored")
            .routed_at
            .is_none(),
        "the first event is still waiting for its lookup"
    );
    assert!(
        relay
            .event(&second)
            .await
            .expect("stored")
            .routed_at
            .is_none()
    );
    // Not stopped: a drain would wait for the blocked lookup. The runtime ends with the test.
}

#[tokio::test]
async fn lookups_are_counted_by_outcome_and_a_second_event_about_the_same_audit_is_cached() {
    let (api, slack, relay) = setup(KEY, None).await;

    let expired = relay.ack(&about("audit_expired", AUDIT_ID)).await;
    relay.routed(&expired).await;
    let assigned = relay.ack(&about("audit_assigned", AUDIT_ID)).await;
    let routed = relay.routed(&assigned).await;
    let unknown = relay.ack(&sample("audit_deleted")).await;
    relay.routed(&unknown).await;
    let completed = relay.ack(&sample("audit_completed")).await;
    relay.routed(&completed).await;

    assert_eq!(
        routed.matched_rules,
        [FOOD_SAFETY],
        "the cached audit routes"
    );
    assert_eq!(requests_about(&api, AUDIT_ID), 1);
    let counts: Vec<u64> = ["found", "cached", "not_found", "failed", "not_needed"]
        .iter()
        .map(|reason| lookups(&relay, reason))
        .collect();
    assert_eq!(counts, [1, 1, 1, 0, 0], "AUDIT_COMPLETED is not looked up");
    slack.wait_for(4, DEADLINE).await;
}

#[tokio::test]
async fn a_corrective_action_event_without_its_action_is_routed_on_the_looked_up_action() {
    let (api, _slack, relay) = setup(KEY, None).await;
    let action = sample("corrective_action_rejected")["data"]["correctiveAction"].clone();
    let action_id = action["id"].as_str().expect("the action's id").to_string();
    api.with(|a| a.add_action(&action_id, action));
    let mut event = sample("corrective_action_updated");
    event["data"]["correctiveAction"] = Value::Null;

    let id = relay.ack(&event).await;
    let routed = relay.routed(&id).await;

    assert_eq!(routed.matched_rules, ["actions that matter"]);
    let saved = routed.event.enrichment.expect("the action is saved");
    assert_eq!(saved["action"]["priority"], 2);
    assert_eq!(routed.event.event.data["correctiveAction"], Value::Null);
    assert_eq!(
        api.received()[0].path,
        format!("/corrective-actions/{action_id}")
    );
}

#[tokio::test]
async fn the_api_key_never_reaches_the_logs_or_the_store() {
    let logs = logs();
    let (api, slack, mut relay) = setup(KEY, None).await;
    api.script(vec![Answer::status(503); 3]);
    let failed = relay.ack(&about("audit_expired", AUDIT_ID)).await;
    relay.routed(&failed).await;
    let found = relay.ack(&about("audit_assigned", AUDIT_ID)).await;
    relay.routed(&found).await;
    let unknown = relay.ack(&sample("audit_deleted")).await;
    relay.routed(&unknown).await;
    slack.wait_for(3, DEADLINE).await;
    relay.stop().await;

    let logged = logs.text();
    assert!(
        logged.contains("MonitorQA lookup failed"),
        "logs are captured"
    );
    assert!(
        logged.contains("retrying MonitorQA lookup"),
        "debug lines too"
    );
    assert!(!logged.contains(KEY), "the key is in no log line");
    for entry in std::fs::read_dir(relay.data_dir()).expect("the data directory") {
        let path = entry.expect("a directory entry").path();
        let bytes = std::fs::read(&path).expect("a store file");
        let holds_key = bytes.windows(KEY.len()).any(|w| w == KEY.as_bytes());
        assert!(!holds_key, "the key is in {}", path.display());
    }
}

#[tokio::test]
async fn a_restart_after_the_lookup_routes_on_the_saved_enrichment_without_asking_again() {
    let api = MonitorqaApi::start(KEY).await; // knows no audit: a new lookup would 404
    let slack = SlackWebhook::start().await;
    let data = tempfile::tempdir().expect("a temporary directory");
    let event = Event::from_value(about("audit_expired", AUDIT_ID)).expect("a valid event");
    let store = Store::open(&StoreConfig::embedded(data.path()))
        .await
        .expect("the store opens");
    let id = store.ingest(&event).await.expect("ingested").id;
    let saved = json!({ "audit": audit_body(AUDIT_ID) });
    store.save_enrichment(&id, &saved).await.expect("saved");
    store.close().await;

    let api_cfg = Api {
        base_url: &api.base_url(),
        key: KEY,
        timeout: None,
    };
    let rules = rules(&api_cfg, &slack.url());
    let relay = spawn_relay(Spec {
        data_dir: Some(data.path().to_path_buf()),
        ..Spec::new(&rules)
    })
    .await;
    let routed = relay.routed(&id).await;

    assert_eq!(routed.matched_rules, [FOOD_SAFETY]);
    assert_eq!(api.received().len(), 0);
    let text = slack_message(&slack).await;
    assert!(text.contains("AUD-2026-0311"), "{text}");
}

#[tokio::test]
async fn test_enrich_prints_the_payload_with_the_looked_up_audit() {
    let api = MonitorqaApi::start(KEY).await;
    api.with(|a| a.add_audit(AUDIT_ID, audit_body(AUDIT_ID)));
    let dir = tempfile::tempdir().expect("a temporary directory");
    let api_cfg = Api {
        base_url: &api.base_url(),
        key: KEY,
        timeout: None,
    };
    let rules_path = dir.path().join("rules.yaml");
    let slack_url = "https://hooks.slack.com/services/T000/B000/XXXX";
    std::fs::write(&rules_path, rules(&api_cfg, slack_url)).expect("write rules.yaml");
    let event_path = dir.path().join("audit_expired.json");
    let event = about("audit_expired", AUDIT_ID).to_string();
    std::fs::write(&event_path, event).expect("write the event");

    let output = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_mqa-relay"))
            .arg("test")
            .arg("--rules")
            .arg(&rules_path)
            .args(["--enrich", "--json"])
            .arg(&event_path)
            .output()
            .expect("mqa-relay runs")
    })
    .await
    .expect("the command finishes");

    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(stderr.contains("MonitorQA lookup: found"), "{stderr}");
    let report: Value = serde_json::from_str(stdout.trim()).expect("one JSON report");
    assert_eq!(report["matches"][0]["rule"], FOOD_SAFETY);
    let payload = &report["matches"][0]["targets"][0]["payload"];
    assert!(words(payload).contains("AUD-2026-0311"), "{payload}");
    assert!(!stdout.contains(KEY) && !stderr.contains(KEY));
    assert_eq!(api.received().len(), 1);
}
