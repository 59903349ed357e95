//! Targets that fail for a while, or hang: everything still arrives, in order, with the
//! provider's Retry-After honoured; and a hanging target delays nobody else.

use std::time::Duration;

use mqa_relay::store::DeliveryState;

use crate::support::mock::Answer;
use crate::support::providers::WebhookReceiver;
use crate::support::relay::{Spec, numbered, seq_of, spawn_relay, wait_deliveries, webhook_target};
use crate::support::wait::eventually;

#[tokio::test]
async fn a_target_down_then_rate_limiting_gets_everything_in_order_after_its_retry_after() {
    let erp = WebhookReceiver::start().await;
    erp.script([
        Answer::status(503),
        Answer::status(503),
        Answer::status(503),
        Answer::retry_after(429, 2),
    ]);
    let relay = spawn_relay(Spec::new(&format!(
        "targets:\n  erp: {}\nrules:\n  - name: all\n    events: \"*\"\n    notify: [erp]\n",
        webhook_target(&erp.url(), "")
    )))
    .await;
    let mut ids = Vec::new();
    for seq in 0..6 {
        ids.push(relay.ack(&numbered(seq)).await);
    }
    for id in &ids {
        wait_deliveries(relay.store(), id, 1, DeliveryState::Delivered).await;
    }

    let received = erp.received();
    let seqs: Vec<u64> = received.iter().map(|r| seq_of(&r.json())).collect();
    assert_eq!(
        seqs,
        [0, 0, 0, 0, 0, 1, 2, 3, 4, 5],
        "the head is retried until it passes, then the rest follow in order of acknowledgement"
    );
    let after_429 = received[4].at - received[3].at;
    assert!(
        after_429 >= Duration::from_millis(1900),
        "the request after `429 Retry-After: 2` came {after_429:?} later"
    );
    let head = relay.deliveries(&ids[0]).await;
    assert_eq!(head[0].attempts, 5);
    assert_eq!(relay.counts().await.dead, 0);
}

#[tokio::test]
async fn a_hanging_target_times_out_while_another_target_gets_all_its_messages() {
    let stuck = WebhookReceiver::start().await;
    stuck.always(Answer::hang());
    let healthy = WebhookReceiver::start().await;
    let relay = spawn_relay(Spec::new(&format!(
        "targets:\n  stuck: {}\n  healthy: {}\n\
         rules:\n  - name: all\n    events: \"*\"\n    notify: [stuck, healthy]\n",
        webhook_target(&stuck.url(), ", timeout: 3s"),
        webhook_target(&healthy.url(), ""),
    )))
    .await;
    let mut ids = Vec::new();
    for seq in 0..5 {
        ids.push(relay.ack(&numbered(seq)).await);
    }

    let received = healthy.wait_for(5, Duration::from_secs(20)).await;
    let seqs: Vec<u64> = received.iter().map(|r| seq_of(&r.json())).collect();
    assert_eq!(seqs, [0, 1, 2, 3, 4]);
    assert_eq!(
        stuck.received().len(),
        1,
        "the hanging target's lane still waits on its first request"
    );

    let first = ids[0].clone();
    let error = eventually("the hanging request's timeout to be recorded", async || {
        let details = relay.store().event(&first).await.ok()??;
        let (_, attempts) = details
            .deliveries
            .iter()
            .find(|(d, _)| d.target == "stuck")?;
        attempts.first()?.error.clone()
    })
    .await;
    assert!(error.contains("timeout"), "the attempt's error: {error}");
    for id in &ids {
        let healthy = relay.deliveries(id).await;
        let healthy = healthy
            .iter()
            .find(|d| d.target == "healthy")
            .expect("a delivery");
        assert_eq!(healthy.state, DeliveryState::Delivered);
    }
}
