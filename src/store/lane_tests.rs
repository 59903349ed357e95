//! The embedded engine's lanes across a restart: an unreadable event met by the next claim, and
//! the running relay taking back what a stopped one left in flight. (The lanes' conformance
//! tests, on every engine, are in `tests/it/store`.)

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::json;

use crate::event::Event;
use crate::store::{Claim, DeliveryState, NewDelivery, Outcome, Store, StoreConfig};

const LEASE: Duration = Duration::from_secs(30);

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

async fn open(dir: &tempfile::TempDir) -> Store {
    Store::open(&StoreConfig::embedded(dir.path()))
        .await
        .unwrap()
}

/// Stores event `n` and routes it to `target`; returns its id.
async fn routed(store: &Store, n: u64, target: &str) -> String {
    let mut e = Event::parse(include_bytes!("../../examples/events/audit_expired.json")).unwrap();
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

#[tokio::test]
async fn an_unreadable_next_event_keeps_the_outcome_and_ends_its_own_delivery_dead() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir).await;
    routed(&store, 1, "erp").await;
    let broken = routed(&store, 2, "erp").await;
    routed(&store, 3, "erp").await;
    let t = now();
    let head = claim(&store, "erp", t, "lane").await.unwrap();
    // A new store (as after a restart) has no event in memory: the claim reads the file.
    store.close().await;
    let store = open(&dir).await;
    rusqlite::Connection::open(dir.path().join("relay.db"))
        .unwrap()
        .execute(
            "UPDATE events SET body = 'not json' WHERE id = ?1",
            [&broken],
        )
        .unwrap();

    let (applied, next) = store
        .finish_and_claim_next(&head, &delivered(), t + 1, LEASE, "lane")
        .await
        .unwrap();
    assert!(applied, "the outcome was committed and must be reported so");
    assert_eq!(next, None, "the unreadable one is not handed out");
    let dead = store
        .deliveries_by_state(DeliveryState::Dead, 10)
        .await
        .unwrap();
    assert_eq!(dead.len(), 1);
    let error = dead[0].last_error.clone().unwrap_or_default();
    assert!(error.contains("unreadable body"), "{error}");
    // The lane goes on with the next one.
    let third = claim(&store, "erp", t + 2, "lane").await.unwrap();
    assert_eq!(third.event.event.data["sequence"], json!(3));
}

#[tokio::test]
async fn the_running_relay_takes_back_at_once_what_a_stopped_one_left_in_flight() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir).await;
    routed(&store, 1, "erp").await;
    let t = now();
    let in_flight = claim(&store, "erp", t, "a relay that was killed")
        .await
        .unwrap();
    store.close().await;

    // `dlq` and other tools open the store beside a running relay: they take nothing back.
    let tool = open(&dir).await;
    assert_eq!(claim(&tool, "erp", t + 1, "tool").await, None);
    tool.close().await;

    let config = StoreConfig::embedded(dir.path()).exclusive();
    let relay = Store::open(&config).await.unwrap();
    let again = claim(&relay, "erp", t + 2, "the new relay").await.unwrap();
    assert_eq!(again.delivery_id, in_flight.delivery_id);
    assert_eq!(again.attempt, 2, "the cut-off send counts as an attempt");
}
