//! The delivery queue, on each engine (a real SQLite file, a schema of the machine's
//! PostgreSQL): routing writes, per-target FIFO claims, lane pauses, leases, outcomes and their
//! attempt records.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mqa_relay::store::{
    AttemptRecord, Claim, DeliveryState, NewDelivery, Outcome, Store, StoredEvent,
};

use super::event;

const LEASE: Duration = Duration::from_secs(30);
const MINUTE: i64 = 60_000;

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn to(target: &str) -> NewDelivery {
    NewDelivery {
        rule: "expired audits".into(),
        target: target.into(),
        template: None,
        object: None,
    }
}

/// Stores event `n` and routes it to `targets`; returns its id.
async fn routed_event(store: &Store, n: u64, targets: &[&str]) -> String {
    let id = store.ingest(&event(n)).await.unwrap().id;
    let deliveries: Vec<NewDelivery> = targets.iter().map(|t| to(t)).collect();
    store
        .mark_routed(&id, &["expired audits".into()], &deliveries)
        .await
        .unwrap();
    id
}

async fn claim(store: &Store, target: &str, at: i64) -> Option<Claim> {
    store
        .claim_next(target, at, LEASE, "sender-1")
        .await
        .unwrap()
}

fn delivered() -> Outcome {
    Outcome::Delivered {
        status: Some(200),
        provider_id: None,
    }
}

async fn routing_creates_one_pending_delivery_per_target_once(store: &Store) {
    let id = store.ingest(&event(1)).await.unwrap().id;
    let rules = vec!["expired audits".to_owned()];
    let deliveries = [to("kitchen-slack"), to("quality-teams")];
    store.mark_routed(&id, &rules, &deliveries).await.unwrap();
    store.mark_routed(&id, &rules, &deliveries).await.unwrap();

    let details = store.event(&id).await.unwrap().unwrap();
    assert_eq!(details.matched_rules, rules);
    assert!(details.routed_at.is_some());
    let targets: Vec<&str> = details
        .deliveries
        .iter()
        .map(|(d, _)| d.target.as_str())
        .collect();
    assert_eq!(targets, ["kitchen-slack", "quality-teams"]);
    assert!(
        details
            .deliveries
            .iter()
            .all(|(d, _)| d.state == DeliveryState::Pending)
    );
    let counts = store.counts().await.unwrap();
    assert_eq!((counts.events, counts.unrouted, counts.pending), (1, 0, 2));
    assert!(store.unrouted(10).await.unwrap().is_empty());
    assert_eq!(
        store.targets_with_work().await.unwrap(),
        ["kitchen-slack", "quality-teams"]
    );
}

async fn routing_an_unknown_event_is_an_error(store: &Store) {
    let result = store.mark_routed("no-such-event", &[], &[to("erp")]).await;
    assert!(result.is_err());
    assert_eq!(store.counts().await.unwrap().pending, 0);
}

async fn a_claim_takes_the_oldest_delivery_of_its_target_with_its_event(store: &Store) {
    let first = routed_event(store, 1, &["kitchen-slack"]).await;
    routed_event(store, 2, &["kitchen-slack"]).await;

    let claim = claim(store, "kitchen-slack", now()).await.unwrap();
    assert_eq!(claim.event.id, first);
    assert_eq!(claim.event.event, event(1));
    assert_eq!((claim.attempt, claim.lease_seq), (1, 1));
    assert_eq!(claim.target, "kitchen-slack");
    assert_eq!(claim.rule, "expired audits");
    assert_eq!(store.counts().await.unwrap().sending, 1);
}

async fn a_head_that_is_not_due_holds_its_lane_but_not_other_lanes(store: &Store) {
    routed_event(store, 1, &["kitchen-slack", "erp"]).await;
    routed_event(store, 2, &["kitchen-slack"]).await;
    let t = now();

    let head = claim(store, "kitchen-slack", t).await.unwrap();
    let retry_at = t + MINUTE;
    let retry = Outcome::Retry {
        at_ms: retry_at,
        status: Some(503),
        error: "service unavailable".into(),
    };
    assert!(store.finish(&head, &retry, t).await.unwrap());

    assert!(claim(store, "kitchen-slack", t + 1).await.is_none());
    assert_eq!(
        store.next_due_at("kitchen-slack").await.unwrap(),
        Some(retry_at)
    );
    let other = claim(store, "erp", t + 1).await.unwrap();
    assert_eq!(other.event.id, head.event.id);

    let again = claim(store, "kitchen-slack", retry_at).await.unwrap();
    assert_eq!(again.delivery_id, head.delivery_id);
    assert_eq!(again.attempt, 2);
}

async fn a_blocked_target_gives_nothing_until_the_block_ends(store: &Store) {
    routed_event(store, 1, &["kitchen-slack", "erp"]).await;
    let t = now();
    let until = t + MINUTE;
    store.block_target("kitchen-slack", until).await.unwrap();
    // A shorter block never shortens the longer one.
    store.block_target("kitchen-slack", t + 10).await.unwrap();

    assert!(claim(store, "kitchen-slack", t).await.is_none());
    assert!(claim(store, "kitchen-slack", until - 1).await.is_none());
    assert_eq!(
        store.next_due_at("kitchen-slack").await.unwrap(),
        Some(until)
    );
    assert!(claim(store, "erp", t).await.is_some());
    assert!(claim(store, "kitchen-slack", until).await.is_some());
}

async fn an_expired_lease_makes_the_delivery_claimable_and_the_old_claim_stale(store: &Store) {
    routed_event(store, 1, &["erp"]).await;
    let t = now();
    let lease = Duration::from_secs(1);

    let stale = store
        .claim_next("erp", t, lease, "sender-1")
        .await
        .unwrap()
        .unwrap();
    let held = store.claim_next("erp", t + 999, lease, "sender-2").await;
    assert!(held.unwrap().is_none(), "lease still held");
    assert_eq!(store.next_due_at("erp").await.unwrap(), Some(t + 1000));

    let fresh = store
        .claim_next("erp", t + 1000, lease, "sender-2")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(fresh.delivery_id, stale.delivery_id);
    assert_eq!((fresh.lease_seq, fresh.attempt), (2, 2));

    assert!(!store.finish(&stale, &delivered(), t + 1001).await.unwrap());
    let counts = store.counts().await.unwrap();
    assert_eq!((counts.sending, counts.delivered), (1, 0));
    let details = store.event(&fresh.event.id).await.unwrap().unwrap();
    assert!(details.deliveries[0].1.is_empty(), "stale finish recorded");

    assert!(store.finish(&fresh, &delivered(), t + 1002).await.unwrap());
    assert_eq!(store.counts().await.unwrap().delivered, 1);
}

async fn every_finished_attempt_is_recorded_with_its_outcome(store: &Store) {
    let id = routed_event(store, 1, &["managers-mail"]).await;
    let t = now();

    let first = claim(store, "managers-mail", t).await.unwrap();
    let retry = Outcome::Retry {
        at_ms: t + 10,
        status: Some(429),
        error: "rate limited".into(),
    };
    store.finish(&first, &retry, t + 5).await.unwrap();
    let second = claim(store, "managers-mail", t + 10).await.unwrap();
    let ok = Outcome::Delivered {
        status: Some(200),
        provider_id: Some("msg-0001".into()),
    };
    store.finish(&second, &ok, t + 20).await.unwrap();

    let details = store.event(&id).await.unwrap().unwrap();
    let (delivery, attempts) = &details.deliveries[0];
    assert_eq!(delivery.state, DeliveryState::Delivered);
    assert_eq!(delivery.attempts, 2);
    assert_eq!(delivery.finished_at, Some(t + 20));
    assert_eq!(delivery.last_status, Some(200));
    assert_eq!(delivery.last_error, None);
    let expected = [
        AttemptRecord {
            attempt: 1,
            started_at: t,
            finished_at: t + 5,
            outcome: "retry".into(),
            status: Some(429),
            error: Some("rate limited".into()),
            provider_id: None,
            action: None,
        },
        AttemptRecord {
            attempt: 2,
            started_at: t + 10,
            finished_at: t + 20,
            outcome: "delivered".into(),
            status: Some(200),
            error: None,
            provider_id: Some("msg-0001".into()),
            action: None,
        },
    ];
    assert_eq!(attempts, &expected);
    assert_eq!(store.next_due_at("managers-mail").await.unwrap(), None);
    assert!(store.targets_with_work().await.unwrap().is_empty());
}

async fn a_dead_delivery_is_final_and_frees_its_lane(store: &Store) {
    routed_event(store, 1, &["quality-teams"]).await;
    let second = routed_event(store, 2, &["quality-teams"]).await;
    let t = now();

    let head = claim(store, "quality-teams", t).await.unwrap();
    let dead = Outcome::Dead {
        status: Some(404),
        error: "webhook not found".into(),
    };
    assert!(store.finish(&head, &dead, t).await.unwrap());
    assert!(!store.finish(&head, &delivered(), t).await.unwrap());

    let next = claim(store, "quality-teams", t + LEASE.as_millis() as i64 * 2)
        .await
        .unwrap();
    assert_eq!(
        next.event.id, second,
        "the dead head is never claimed again"
    );
    let dead_letters = store
        .deliveries_by_state(DeliveryState::Dead, 10)
        .await
        .unwrap();
    assert_eq!(dead_letters.len(), 1);
    assert_eq!(dead_letters[0].id, head.delivery_id);
    assert_eq!(dead_letters[0].last_status, Some(404));
    assert_eq!(
        dead_letters[0].last_error.as_deref(),
        Some("webhook not found")
    );
}

async fn unrouted_events_come_oldest_first_and_leave_once_routed(store: &Store) {
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(store.ingest(&event(n)).await.unwrap().id);
    }
    let pending: Vec<StoredEvent> = store.unrouted(3).await.unwrap();
    let got: Vec<&str> = pending.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(got, ids[..3].iter().map(String::as_str).collect::<Vec<_>>());

    store.mark_routed(&ids[0], &[], &[]).await.unwrap();
    let next = store.unrouted(10).await.unwrap();
    assert_eq!(next.len(), 4);
    assert_eq!(next[0].id, ids[1]);
}

super::on_each_engine!(
    routing_creates_one_pending_delivery_per_target_once,
    routing_an_unknown_event_is_an_error,
    a_claim_takes_the_oldest_delivery_of_its_target_with_its_event,
    a_head_that_is_not_due_holds_its_lane_but_not_other_lanes,
    a_blocked_target_gives_nothing_until_the_block_ends,
    an_expired_lease_makes_the_delivery_claimable_and_the_old_claim_stale,
    every_finished_attempt_is_recorded_with_its_outcome,
    a_dead_delivery_is_final_and_frees_its_lane,
    unrouted_events_come_oldest_first_and_leave_once_routed,
);
