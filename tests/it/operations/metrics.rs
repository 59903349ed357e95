//! `/metrics` after a small run: every family an operator alerts on, in Prometheus text, with
//! the values the run must have produced.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::support::mock::Answer;
use crate::support::providers::{SlackWebhook, WebhookReceiver};
use crate::support::relay::{Spec, numbered, spawn_relay, webhook_target};
use crate::support::wait::{eventually, sample};

/// The samples of an exposition: `name{labels}` → value. Panics on a line that is neither a
/// comment nor a sample.
fn parse(text: &str) -> BTreeMap<String, f64> {
    let mut samples = BTreeMap::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let (key, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("not a sample line: {line:?}"));
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("not a number in {line:?}"));
        assert!(
            key.starts_with("mqa_relay_") && key.matches('{').count() == key.matches('}').count(),
            "not a sample line: {line:?}"
        );
        samples.insert(key.to_string(), value);
    }
    samples
}

fn value(samples: &BTreeMap<String, f64>, key: &str) -> f64 {
    *samples
        .get(key)
        .unwrap_or_else(|| panic!("no sample {key} in {samples:#?}"))
}

/// The rejected corrective action sample, named "Repair number `n`".
fn action(n: u64) -> Value {
    let mut event = sample("corrective_action_rejected");
    event["data"]["correctiveAction"]["name"] = Value::from(format!("Repair number {n}"));
    event
}

#[tokio::test]
async fn metrics_count_events_deliveries_attempts_latency_queues_dead_letters_and_reloads() {
    let erp = WebhookReceiver::start().await;
    let later = WebhookReceiver::start().await;
    later.script([Answer::retry_after(429, 60)]);
    let slack = SlackWebhook::start().await;
    slack.script([Answer::status(404)]);
    let body = format!(
        "targets:\n  erp: {erp}\n  later: {later}\n  kitchen: {{ kind: slack, url: \"{slack}\", \
         rate_limit: 1000/s, retry: {{ initial: 100ms }} }}\n\
         rules:\n  - name: audits\n    events: \"AUDIT_*\"\n    notify: [erp, later]\n\
         \x20 - name: actions\n    events: CORRECTIVE_ACTION_REJECTED\n    notify: [kitchen]\n",
        erp = webhook_target(&erp.url(), ""),
        later = webhook_target(&later.url(), ""),
        slack = slack.url(),
    );
    let relay = spawn_relay(Spec::new(&body)).await;
    relay.ack(&numbered(1)).await;
    relay.ack(&numbered(2)).await;
    relay.ack(&numbered(1)).await;
    relay.ack(&action(1)).await;
    relay.ack(&action(2)).await;
    let refused = relay.post(&Value::from("not an event")).await;
    assert_eq!(refused.status, 400, "{refused:?}");
    let reason = refused.body["error"]["code"]
        .as_str()
        .expect("an error code")
        .to_string();

    // Settled: the ERP has both audits, the kitchen one dead and one delivered, and the paused
    // target's head has had its one attempt (429, Retry-After: 60).
    eventually("the run to settle", async || {
        let c = relay.counts().await;
        let paused = later.received().len() == 1;
        (c.delivered == 3 && c.dead == 1 && c.pending == 2 && c.sending == 0 && paused)
            .then_some(())
    })
    .await;
    let samples = eventually("the paused target's attempt to be counted", async || {
        let (status, text) = relay.get_text("/metrics").await;
        assert_eq!(status, 200);
        assert!(text.ends_with("# EOF\n"), "not OpenMetrics text: {text}");
        let samples = parse(&text);
        samples
            .contains_key("mqa_relay_delivery_attempts_total{target=\"later\"}")
            .then_some(samples)
    })
    .await;

    let v = |key: &str| value(&samples, key);
    assert_eq!(
        v("mqa_relay_events_received_total{event=\"AUDIT_EXPIRED\"}"),
        2.0
    );
    assert_eq!(
        v("mqa_relay_events_received_total{event=\"CORRECTIVE_ACTION_REJECTED\"}"),
        2.0
    );
    assert_eq!(v("mqa_relay_events_deduplicated_total"), 1.0);
    assert_eq!(
        v(&format!(
            "mqa_relay_events_rejected_total{{reason=\"{reason}\"}}"
        )),
        1.0
    );
    assert_eq!(
        v("mqa_relay_deliveries_total{target=\"erp\",outcome=\"delivered\"}"),
        2.0
    );
    assert_eq!(
        v("mqa_relay_deliveries_total{target=\"kitchen\",outcome=\"delivered\"}"),
        1.0
    );
    assert_eq!(
        v("mqa_relay_deliveries_total{target=\"kitchen\",outcome=\"dead\"}"),
        1.0
    );
    assert_eq!(
        v("mqa_relay_deliveries_total{target=\"later\",outcome=\"retry\"}"),
        1.0
    );
    assert_eq!(v("mqa_relay_delivery_attempts_total{target=\"erp\"}"), 2.0);
    assert_eq!(
        v("mqa_relay_delivery_attempts_total{target=\"kitchen\"}"),
        2.0
    );
    assert_eq!(
        v("mqa_relay_delivery_attempts_total{target=\"later\"}"),
        1.0
    );
    assert_eq!(
        v("mqa_relay_delivery_latency_seconds_count{target=\"erp\"}"),
        2.0
    );
    assert_eq!(
        v("mqa_relay_delivery_latency_seconds_count{target=\"kitchen\"}"),
        1.0
    );
    assert!(v("mqa_relay_delivery_latency_seconds_sum{target=\"erp\"}") > 0.0);
    let inf_bucket = samples
        .iter()
        .find(|(k, _)| {
            k.starts_with("mqa_relay_delivery_latency_seconds_bucket")
                && k.contains("le=\"+Inf\"")
                && k.contains("target=\"erp\"")
        })
        .map(|(_, v)| *v);
    assert_eq!(inf_bucket, Some(2.0));
    assert_eq!(v("mqa_relay_queue_depth{target=\"later\"}"), 2.0);
    assert!(v("mqa_relay_oldest_due_age_seconds{target=\"later\"}") > 0.0);
    assert!(
        !samples.contains_key("mqa_relay_queue_depth{target=\"erp\"}")
            || v("mqa_relay_queue_depth{target=\"erp\"}") == 0.0
    );
    assert_eq!(v("mqa_relay_dead_deliveries"), 1.0);
    // Five events acknowledged (one of them a duplicate), each answered by a group commit;
    // routing and the lanes' outcomes and claims are writes of their own.
    assert_eq!(v("mqa_relay_store_commit_events_total"), 5.0);
    let commits = v("mqa_relay_store_commits_total");
    assert!(
        (1.0..=v("mqa_relay_store_commit_writes_total")).contains(&commits),
        "{commits} commits"
    );
    assert!(v("mqa_relay_store_commit_writes_total") > 5.0);
    assert!(samples.contains_key("mqa_relay_store_wal_frames"));
    assert_eq!(v("mqa_relay_store_wal_restarts_total"), 0.0);
    assert_eq!(v("mqa_relay_config_reload_success"), 1.0);
    let hash = relay.relay().app().config.hash.clone();
    assert_eq!(v(&format!("mqa_relay_config_info{{hash=\"{hash}\"}}")), 1.0);
    assert!(v("mqa_relay_config_reload_timestamp_seconds") > 0.0);

    // A reload that fails is visible; the hash in use stays.
    relay.rewrite_rules("rules:\n  - name: [broken\n");
    assert_eq!(relay.admin("POST", "/-/reload").await.status, 400);
    let (_, text) = relay.get_text("/metrics").await;
    let samples = parse(&text);
    assert_eq!(value(&samples, "mqa_relay_config_reload_success"), 0.0);
    assert_eq!(
        value(
            &samples,
            &format!("mqa_relay_config_info{{hash=\"{hash}\"}}")
        ),
        1.0
    );
}
