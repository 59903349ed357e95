//! MonitorQA retries: the same event posted again within the dedup window is acknowledged
//! with the first id and reaches its target once.

use mqa_relay::store::DeliveryState;

use crate::support::providers::WebhookReceiver;
use crate::support::relay::{Spec, numbered, seq_of, spawn_relay, wait_deliveries, webhook_target};

#[tokio::test]
async fn the_same_event_posted_five_times_reaches_its_target_once_and_counts_four_duplicates() {
    let erp = WebhookReceiver::start().await;
    let relay = spawn_relay(Spec::new(&format!(
        "targets:\n  erp: {}\nrules:\n  - name: all\n    events: \"*\"\n    notify: [erp]\n",
        webhook_target(&erp.url(), "")
    )))
    .await;
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(relay.ack(&numbered(7)).await);
    }
    assert!(
        ids.iter().all(|id| *id == ids[0]),
        "every retry is answered with the first id: {ids:?}"
    );
    let deliveries = wait_deliveries(relay.store(), &ids[0], 1, DeliveryState::Delivered).await;
    assert_eq!(deliveries[0].attempts, 1);

    // A different event behind it in the same lane: once it is delivered, anything the
    // duplicates could have queued before it would have been sent too.
    let next = relay.ack(&numbered(8)).await;
    wait_deliveries(relay.store(), &next, 1, DeliveryState::Delivered).await;
    let seqs: Vec<u64> = erp.received().iter().map(|r| seq_of(&r.json())).collect();
    assert_eq!(seqs, [7, 8]);
    assert_eq!(relay.counts().await.events, 2);

    let (_, metrics) = relay.get_text("/metrics").await;
    assert!(
        metrics.contains("mqa_relay_events_deduplicated_total 4\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("mqa_relay_events_received_total{event=\"AUDIT_EXPIRED\"} 2\n"),
        "{metrics}"
    );
}
