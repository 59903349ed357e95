//! Retention: events whose deliveries are all finished are pruned once old enough; open dead
//! letters and their events stay until an operator deals with them; dropped and replayed
//! ones go.

use std::time::Duration;

use mqa_relay::store::{DeadFilter, DeliveryState};
use serde_json::Value;

use crate::support::mock::Answer;
use crate::support::providers::WebhookReceiver;
use crate::support::relay::{
    Spec, deliveries_of, numbered, spawn_relay, wait_deliveries, webhook_target,
};
use crate::support::wait::{eventually, eventually_within, sample};

/// The rejected corrective action sample, named "Repair number `n`".
fn action(n: u64) -> Value {
    let mut event = sample("corrective_action_rejected");
    event["data"]["correctiveAction"]["name"] = Value::from(format!("Repair number {n}"));
    event
}

fn now_ms() -> i64 {
    mqa_relay::clock::now_ms()
}

#[tokio::test]
async fn pruning_keeps_open_dead_letters_and_unfinished_work_and_removes_the_rest() {
    let erp = WebhookReceiver::start().await;
    let kitchen = WebhookReceiver::start().await;
    kitchen.script([
        Answer::status(404),
        Answer::status(404),
        Answer::status(404),
    ]);
    let later = WebhookReceiver::start().await;
    later.script([Answer::retry_after(429, 60)]);
    let body = format!(
        "targets:\n  erp: {}\n  kitchen: {}\n  later: {}\n\
         rules:\n  - name: audits\n    events: AUDIT_EXPIRED\n    notify: [erp]\n\
         \x20 - name: actions\n    events: CORRECTIVE_ACTION_REJECTED\n    notify: [kitchen]\n\
         \x20 - name: templates\n    events: TEMPLATE_CREATED\n    notify: [later]\n",
        webhook_target(&erp.url(), ""),
        webhook_target(&kitchen.url(), ""),
        webhook_target(&later.url(), ""),
    );
    let relay = spawn_relay(Spec::new(&body)).await;
    let store = relay.store();
    let delivered = relay.ack(&numbered(1)).await;
    let open_dead = relay.ack(&action(1)).await;
    let dropped = relay.ack(&action(2)).await;
    let replayed = relay.ack(&action(3)).await;
    let waiting = relay.ack(&sample("template_created")).await;
    wait_deliveries(store, &delivered, 1, DeliveryState::Delivered).await;
    let mut dead = Vec::new();
    for id in [&open_dead, &dropped, &replayed] {
        dead.push(wait_deliveries(store, id, 1, DeliveryState::Dead).await[0].id);
    }
    let now = now_ms();
    store
        .drop_dead(dead[1], now)
        .await
        .expect("store")
        .expect("drop");
    store
        .replay(dead[2], now)
        .await
        .expect("store")
        .expect("replay");
    relay.relay().wake_senders();
    eventually("the replay to be delivered", async || {
        let d = deliveries_of(store, &replayed).await;
        (d.len() == 2 && d[1].state == DeliveryState::Delivered).then_some(())
    })
    .await;
    eventually("the paused target's first attempt", async || {
        (later.received().len() == 1).then_some(())
    })
    .await;

    // Everything is older than a cut-off one minute from now.
    let pruned = store.prune(now_ms() + 60_000).await.expect("prune");
    assert_eq!(
        pruned, 3,
        "the delivered, the dropped and the replayed event go"
    );
    for (id, kept) in [
        (&delivered, false),
        (&dropped, false),
        (&replayed, false),
        (&open_dead, true),
        (&waiting, true),
    ] {
        let found = store.event(id).await.expect("store").is_some();
        assert_eq!(found, kept, "event {id}");
    }
    let open = store
        .dead_letters(&DeadFilter {
            limit: 10,
            ..DeadFilter::default()
        })
        .await
        .expect("store");
    assert_eq!(open.iter().map(|d| d.id).collect::<Vec<_>>(), [dead[0]]);
    let shown = relay.admin("GET", &format!("/api/dlq/{}", dead[0])).await;
    assert_eq!(shown.status, 200, "{shown:?}");
    assert_eq!(shown.body["history"][0]["status"], 404);
    assert_eq!(shown.body["event"]["event"], "CORRECTIVE_ACTION_REJECTED");
    let waiting_deliveries = deliveries_of(store, &waiting).await;
    assert_eq!(waiting_deliveries[0].state, DeliveryState::Pending);
}

#[tokio::test]
async fn the_running_relay_prunes_by_the_configured_retention() {
    let erp = WebhookReceiver::start().await;
    let kitchen = WebhookReceiver::start().await;
    kitchen.always(Answer::status(404));
    let body = format!(
        "targets:\n  erp: {}\n  kitchen: {}\n\
         rules:\n  - name: audits\n    events: AUDIT_EXPIRED\n    notify: [erp]\n\
         \x20 - name: actions\n    events: CORRECTIVE_ACTION_REJECTED\n    notify: [kitchen]\n",
        webhook_target(&erp.url(), ""),
        webhook_target(&kitchen.url(), ""),
    );
    let relay = spawn_relay(Spec {
        server: "  retention: 1s\n",
        body: &body,
        ..Spec::default()
    })
    .await;
    let open_dead = relay.ack(&action(1)).await;
    let delivered = relay.ack(&numbered(1)).await;
    wait_deliveries(relay.store(), &open_dead, 1, DeliveryState::Dead).await;
    wait_deliveries(relay.store(), &delivered, 1, DeliveryState::Delivered).await;
    eventually_within(
        "the delivered event to be pruned",
        Duration::from_secs(20),
        async || {
            relay
                .store()
                .event(&delivered)
                .await
                .ok()?
                .is_none()
                .then_some(())
        },
    )
    .await;
    assert!(
        relay
            .store()
            .event(&open_dead)
            .await
            .expect("store")
            .is_some(),
        "an open dead letter older than the retention was pruned"
    );
}
