//! Reloads in the middle of a stream of events (SIGHUP to the real binary, `POST /-/reload`
//! in-process): no event is lost or doubled. Both rule files send everything to the same
//! target under different rule names, so each delivery tells which rules routed it. And a
//! target removed by a reload: its queued deliveries end visibly dead, never silently.

use std::collections::BTreeMap;
use std::time::Duration;

use mqa_relay::store::{DeliveryState, Store};

use crate::support::mock::Answer;
use crate::support::process::{RelayProcess, open_store};
use crate::support::providers::WebhookReceiver;
use crate::support::relay::{
    Spec, TOKEN, deliveries_of, numbered, seq_of, spawn_relay, wait_deliveries, wait_settled,
    webhook_target, write_file,
};

const RULE_A: &str = "everything to the ERP (file A)";
const RULE_B: &str = "everything to the ERP (file B)";
/// Reloads during the stream: B, A, B, A, B (so the last rules in force are B's).
const RELOADS: usize = 5;

/// Targets and rules: one rule named `rule` sending every event to `url`.
fn rules_body(url: &str, rule: &str) -> String {
    format!(
        "targets:\n  erp: {}\nrules:\n  - name: {rule}\n    events: \"*\"\n    notify: [erp]\n",
        webhook_target(url, "")
    )
}

/// The rule file to load at reload number `n` (0-based): B first, then alternating.
fn rule_at(n: usize) -> &'static str {
    if n.is_multiple_of(2) { RULE_B } else { RULE_A }
}

#[tokio::test]
async fn events_streamed_across_sighup_reloads_are_each_delivered_exactly_once() {
    let erp = WebhookReceiver::start().await;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let rules_path = dir.path().join("rules.yaml");
    let write = |rule: &str| {
        let text = format!(
            "server:\n  token: {TOKEN}\n{}",
            rules_body(&erp.url(), rule)
        );
        write_file(&rules_path, &text);
    };
    write(RULE_A);
    let relay = RelayProcess::start(dir.path(), 1, TOKEN).await;
    let store = open_store(&dir.path().join("data")).await;

    let mut acked = BTreeMap::new();
    for seq in 0..5 {
        acked.insert(seq, relay.ack(&numbered(seq)).await);
    }
    wait_settled(&store, Duration::from_secs(20)).await;
    let poster = async {
        let mut acked = BTreeMap::new();
        for seq in 5..35 {
            acked.insert(seq, relay.ack(&numbered(seq)).await);
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        acked
    };
    let reloader = async {
        for n in 0..RELOADS {
            write(rule_at(n));
            relay.signal("HUP");
            relay.wait_log("configuration reloaded", n + 1).await;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    let (during, ()) = tokio::join!(poster, reloader);
    acked.extend(during);
    for seq in 35..40 {
        acked.insert(seq, relay.ack(&numbered(seq)).await);
    }

    let seqs: Vec<u64> = settle_and_read(&store, &erp).await;
    check_exactly_once(&store, &acked, &seqs).await;
    store.close().await;
}

#[tokio::test]
async fn events_streamed_across_http_reloads_are_each_delivered_exactly_once() {
    let erp = WebhookReceiver::start().await;
    let relay = spawn_relay(Spec::new(&rules_body(&erp.url(), RULE_A))).await;

    let mut acked = BTreeMap::new();
    for seq in 0..5 {
        acked.insert(seq, relay.ack(&numbered(seq)).await);
    }
    relay.wait_settled().await;
    let poster = async {
        let mut acked = BTreeMap::new();
        for seq in 5..35 {
            acked.insert(seq, relay.ack(&numbered(seq)).await);
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        acked
    };
    let reloader = async {
        for n in 0..RELOADS {
            relay.rewrite_rules(&rules_body(&erp.url(), rule_at(n)));
            let answer = relay.admin("POST", "/-/reload").await;
            assert_eq!(answer.status, 200, "reload {n}: {answer:?}");
            assert_eq!(answer.body["status"], "reloaded");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    let (during, ()) = tokio::join!(poster, reloader);
    acked.extend(during);
    for seq in 35..40 {
        acked.insert(seq, relay.ack(&numbered(seq)).await);
    }

    let seqs = settle_and_read(relay.store(), &erp).await;
    check_exactly_once(relay.store(), &acked, &seqs).await;
}

/// Waits until the relay has finished everything; returns the numbers of the events the
/// target received, in order of arrival.
async fn settle_and_read(
    store: &Store,
    erp: &crate::support::mock::Mock<WebhookReceiver>,
) -> Vec<u64> {
    wait_settled(store, Duration::from_secs(30)).await;
    erp.received().iter().map(|r| seq_of(&r.json())).collect()
}

/// Every acknowledged event arrived exactly once, has one delivered delivery, and was routed by
/// the rules in force at the time: A before the first reload, B after the last, and the
/// routing rule changes no more often than the rules did.
async fn check_exactly_once(store: &Store, acked: &BTreeMap<u64, String>, seqs: &[u64]) {
    let expected: Vec<u64> = acked.keys().copied().collect();
    assert_eq!(
        seqs, expected,
        "each event once, in order of acknowledgement"
    );
    let mut rules = Vec::new();
    for (seq, id) in acked {
        let deliveries = deliveries_of(store, id).await;
        assert_eq!(deliveries.len(), 1, "event {seq}: {deliveries:?}");
        assert_eq!(deliveries[0].state, DeliveryState::Delivered);
        rules.push(deliveries[0].rule.clone());
    }
    assert!(rules[..5].iter().all(|r| r == RULE_A), "{rules:?}");
    assert!(
        rules[rules.len() - 5..].iter().all(|r| r == RULE_B),
        "{rules:?}"
    );
    let changes = rules.windows(2).filter(|w| w[0] != w[1]).count();
    assert!(
        changes <= RELOADS,
        "each batch is routed under one configuration: {rules:?}"
    );
}

#[tokio::test]
async fn deliveries_queued_for_a_target_a_reload_removed_end_dead_with_the_reason() {
    let erp = WebhookReceiver::start().await;
    erp.always(Answer::status(503));
    let archive = WebhookReceiver::start().await;
    let relay = spawn_relay(Spec::new(&format!(
        "targets:\n  erp: {}\n  archive: {}\nrules:\n  - name: all\n    events: \"*\"\n    notify: [erp]\n",
        webhook_target(&erp.url(), ""),
        webhook_target(&archive.url(), "")
    )))
    .await;
    let id = relay.ack(&numbered(1)).await;
    erp.wait_for(1, Duration::from_secs(20)).await;

    relay.rewrite_rules(&format!(
        "targets:\n  archive: {}\nrules:\n  - name: all\n    events: \"*\"\n    notify: [archive]\n",
        webhook_target(&archive.url(), "")
    ));
    let reloaded = relay.relay().clone();
    tokio::task::spawn_blocking(move || reloaded.reload())
        .await
        .unwrap()
        .expect("the new rules load");

    let dead = wait_deliveries(relay.store(), &id, 1, DeliveryState::Dead).await;
    let error = dead[0].last_error.clone().unwrap_or_default();
    assert!(error.contains("no longer in the configuration"), "{error}");
    assert!(
        archive.received().is_empty(),
        "nothing is re-routed silently"
    );
}

#[tokio::test]
async fn a_reload_that_changes_a_start_only_setting_says_it_waits_for_a_restart() {
    let erp = WebhookReceiver::start().await;
    let relay = spawn_relay(Spec::new(&rules_body(&erp.url(), RULE_A))).await;

    relay.rewrite_with_server(&rules_body(&erp.url(), RULE_B), "  dedup_window: 30m\n");
    let answer = relay.admin("POST", "/-/reload").await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(
        answer.body["restart_needed"],
        serde_json::json!(["server.dedup_window (10m → 30m)"])
    );

    relay.rewrite_rules(&rules_body(&erp.url(), RULE_A));
    let answer = relay.admin("POST", "/-/reload").await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.body["restart_needed"], serde_json::json!([]));
}
