//! The lanes' combined writes through the group commit, on each engine: an outcome and the next
//! claim in one transaction, releasing a claim, outcomes of many lanes sharing commits, and a
//! batch of routings in order.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::json;

use mqa_relay::event::Event;
use mqa_relay::store::{Claim, DeliveryState, NewDelivery, Outcome, Routing, Store};

const LEASE: Duration = Duration::from_secs(30);

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Stores event `n` and routes it to `target`; returns its id.
async fn routed(store: &Store, n: u64, target: &str) -> String {
    let mut e = Event::parse(include_bytes!(
        "../../../examples/events/audit_expired.json"
    ))
    .unwrap();
    e.data.insert("sequence".into(), json!(n));
    let id = store.ingest(&e).await.unwrap().id;
    let delivery = NewDelivery {
        rule: "expired audits".into(),
        target: target.into(),
        template: None,
        object: None,
    };
    store
        .mark_routed(&id, &["expired audits".into()], &[delivery])
        .await
        .unwrap();
    id
}

async fn claim(store: &Store, target: &str, at: i64, owner: &str) -> Option<Claim> {
    store.claim_next(target, at, LEASE, owner).await.unwrap()
}

fn delivered() -> Outcome {
    Outcome::Delivered {
        status: Some(200),
        provider_id: None,
    }
}

async fn an_outcome_and_the_next_claim_are_written_together_in_lane_order(store: &Store) {
    let first = routed(store, 1, "erp").await;
    let second = routed(store, 2, "erp").await;
    let t = now();
    let head = claim(store, "erp", t, "lane").await.unwrap();
    assert_eq!(head.event.id, first);

    let (applied, next) = store
        .finish_and_claim_next(&head, &delivered(), t + 1, LEASE, "lane")
        .await
        .unwrap();
    assert!(applied);
    let next = next.expect("the next head is claimed with the outcome");
    assert_eq!(next.event.id, second);
    assert_eq!(next.attempt, 1);
    assert_eq!(next.claimed_at, t + 1);

    let done = store.event(&first).await.unwrap().unwrap();
    assert_eq!(done.deliveries[0].0.state, DeliveryState::Delivered);
    assert_eq!(done.deliveries[0].1.len(), 1, "the attempt is recorded");
    let sending = store.event(&second).await.unwrap().unwrap();
    assert_eq!(sending.deliveries[0].0.state, DeliveryState::Sending);
}

async fn a_retry_keeps_its_head_so_the_combined_claim_takes_nothing(store: &Store) {
    let first = routed(store, 1, "erp").await;
    routed(store, 2, "erp").await;
    let t = now();
    let head = claim(store, "erp", t, "lane").await.unwrap();
    let retry = Outcome::Retry {
        at_ms: t + 60_000,
        status: Some(503),
        error: "unavailable".into(),
    };

    let (applied, next) = store
        .finish_and_claim_next(&head, &retry, t + 1, LEASE, "lane")
        .await
        .unwrap();
    assert!(applied);
    assert_eq!(next, None, "nothing overtakes a head that is not due");
    let again = claim(store, "erp", t + 60_000, "lane").await.unwrap();
    assert_eq!(again.event.id, first);
    assert_eq!(again.attempt, 2);
}

async fn a_stale_outcome_with_a_claim_changes_nothing_and_claims_nothing(store: &Store) {
    let id = routed(store, 1, "erp").await;
    routed(store, 2, "erp").await;
    let t = now();
    let lease = Duration::from_millis(1000);
    let stale = store
        .claim_next("erp", t, lease, "sender-1")
        .await
        .unwrap()
        .unwrap();
    let fresh = claim(store, "erp", t + 1000, "sender-2").await.unwrap();

    let (applied, next) = store
        .finish_and_claim_next(&stale, &delivered(), t + 1001, LEASE, "sender-1")
        .await
        .unwrap();
    assert!(!applied);
    assert_eq!(next, None, "the head is leased to the other sender");
    let details = store.event(&id).await.unwrap().unwrap();
    assert_eq!(details.deliveries[0].0.state, DeliveryState::Sending);
    assert!(details.deliveries[0].1.is_empty(), "stale outcome recorded");
    assert!(store.finish(&fresh, &delivered(), t + 1002).await.unwrap());
    let details = store.event(&id).await.unwrap().unwrap();
    assert_eq!(details.deliveries[0].0.state, DeliveryState::Delivered);
    assert_eq!(
        details.deliveries[0].1.len(),
        1,
        "one attempt, the current claim's"
    );
}

async fn a_released_claim_is_claimable_at_once_without_counting_an_attempt(store: &Store) {
    let id = routed(store, 1, "erp").await;
    let t = now();
    let held = claim(store, "erp", t, "lane").await.unwrap();

    assert!(store.release(&held).await.unwrap());
    assert!(!store.release(&held).await.unwrap(), "released twice");
    let again = claim(store, "erp", t + 1, "other").await.unwrap();
    assert_eq!(again.event.id, id);
    assert_eq!(again.attempt, 1);
    assert!(!store.finish(&held, &delivered(), t + 2).await.unwrap());
}

async fn outcomes_of_many_lanes_share_group_commits(store: &Store) {
    const LANES: usize = 40;
    let targets: Vec<String> = (0..LANES).map(|i| format!("target-{i}")).collect();
    for (i, target) in targets.iter().enumerate() {
        routed(store, i as u64, target).await;
    }
    let t = now();
    let mut claims = Vec::new();
    for target in &targets {
        claims.push(claim(store, target, t, "lane").await.unwrap());
    }
    let before = store.writer_stats().batches;

    let handles: Vec<_> = claims
        .into_iter()
        .map(|c| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .finish_and_claim_next(&c, &delivered(), t + 1, LEASE, "lane")
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut results = Vec::new();
    for handle in handles {
        results.push(handle.await.unwrap());
    }
    assert!(
        results
            .iter()
            .all(|(applied, next)| *applied && next.is_none())
    );
    let commits = store.writer_stats().batches - before;
    assert!(
        commits < LANES as u64,
        "{commits} commits for {LANES} outcomes"
    );
    let counts = store.counts().await.unwrap();
    assert_eq!(counts.delivered, LANES as u64);
}

async fn a_batch_of_routings_queues_deliveries_in_event_order_and_names_a_missing_event(
    store: &Store,
) {
    let mut ids = Vec::new();
    for n in 0..3 {
        let mut e = Event::parse(include_bytes!(
            "../../../examples/events/audit_expired.json"
        ))
        .unwrap();
        e.data.insert("sequence".into(), json!(n));
        ids.push(store.ingest(&e).await.unwrap().id);
    }
    let routing = |id: &str| Routing {
        event_id: id.to_owned(),
        matched_rules: vec!["expired audits".into()],
        deliveries: vec![NewDelivery {
            rule: "expired audits".into(),
            target: "erp".into(),
            template: None,
            object: None,
        }],
        enrichment: None,
    };

    let batch = [routing(&ids[1]), routing(&ids[0]), routing(&ids[1])];
    store.mark_routed_all(&batch).await.unwrap();
    let refused = store
        .mark_routed_all(&[routing(&ids[1]), routing("no-such-event"), routing(&ids[2])])
        .await;
    assert!(
        format!("{refused:?}").contains("no-such-event"),
        "{refused:?}"
    );

    let t = now();
    let first = claim(store, "erp", t, "lane").await.unwrap();
    assert_eq!(
        first.event.id, ids[1],
        "the batch's order is the lane's order"
    );
    let (_, second) = store
        .finish_and_claim_next(&first, &delivered(), t, LEASE, "lane")
        .await
        .unwrap();
    assert_eq!(second.unwrap().event.id, ids[0]);
    let third = store.event(&ids[2]).await.unwrap().unwrap();
    assert!(third.routed_at.is_some(), "the existing event is routed");
    let twice = store.event(&ids[1]).await.unwrap().unwrap();
    assert_eq!(
        twice.deliveries.len(),
        1,
        "an event named twice is routed once"
    );
}

super::on_each_engine!(
    an_outcome_and_the_next_claim_are_written_together_in_lane_order,
    a_retry_keeps_its_head_so_the_combined_claim_takes_nothing,
    a_stale_outcome_with_a_claim_changes_nothing_and_claims_nothing,
    a_released_claim_is_claimable_at_once_without_counting_an_attempt,
    outcomes_of_many_lanes_share_group_commits,
    a_batch_of_routings_queues_deliveries_in_event_order_and_names_a_missing_event,
);
