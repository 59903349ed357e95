//! The events of one object (a corrective action, an audit): each event is stored with the id
//! of the object it is about, and the earlier events of an object are found newest first, on
//! each engine; a store made before that column existed gets it for its old events when it is
//! opened.

use mqa_relay::event::Event;
use mqa_relay::store::{Store, StoredEvent};
use serde_json::json;

use super::Fresh;

const ACTION: &str = "7b8c9d0e-8888-4bbb-9ccc-7d8e9fa0b1c2";
const OTHER: &str = "7b8c9d0e-9999-4bbb-9ccc-7d8e9fa0b1c2";

fn action_event(kind: &str, id: &str, due: &str) -> Event {
    Event::from_value(json!({
        "event": kind,
        "data": {"correctiveActionId": id, "correctiveAction": {"id": id, "dueDateUtc": due}},
        "company": {"id": "c-1", "name": "Northwind Foods"},
    }))
    .expect("an event")
}

/// Stores the events in order; returns them as stored.
async fn store_all(store: &Store, events: &[Event]) -> Vec<StoredEvent> {
    let mut ids = Vec::new();
    for event in events {
        ids.push(store.ingest(event).await.expect("stored").id);
    }
    let stored = store.unrouted(100).await.expect("the store answers");
    ids.iter()
        .map(|id| stored.iter().find(|s| &s.id == id).expect("stored").clone())
        .collect()
}

fn history() -> Vec<Event> {
    vec![
        action_event("CORRECTIVE_ACTION_ASSIGNED", ACTION, "2026-11-22T23:59:59Z"),
        action_event("CORRECTIVE_ACTION_ASSIGNED", OTHER, "2026-11-22T23:59:59Z"),
        action_event("CORRECTIVE_ACTION_UPDATED", ACTION, "2026-11-24T23:59:59Z"),
        Event::from_value(
            json!({"event": "AUDIT_EXPIRED", "data": {"auditId": ACTION}, "company": {}}),
        )
        .expect("an event"),
        action_event("CORRECTIVE_ACTION_UPDATED", ACTION, "2026-11-26T23:59:59Z"),
        // A NUL in a value: stored as `\u0000`, which PostgreSQL's jsonb refuses to read.
        action_event(
            "CORRECTIVE_ACTION_UPDATED",
            OTHER,
            "2026-11-27T23:59:59Z\u{0}",
        ),
    ]
}

/// The ids of up to `n` earlier events of `event`'s object, newest first.
async fn earlier(store: &Store, event: &StoredEvent, n: usize) -> Vec<String> {
    let found = store
        .earlier_events(event, n)
        .await
        .expect("the store answers");
    found.into_iter().map(|e| e.id).collect()
}

/// What [`history`] gives for its two updates: the action's earlier events, and the other
/// action's one.
async fn assert_history_found(store: &Store, stored: &[StoredEvent]) {
    assert_eq!(
        earlier(store, &stored[4], 10).await,
        [stored[2].id.as_str(), &stored[0].id]
    );
    assert_eq!(
        earlier(store, &stored[5], 10).await,
        [stored[1].id.as_str()]
    );
}

async fn the_earlier_events_of_an_object_are_found_newest_first(store: &Store) {
    let stored = store_all(store, &history()).await;
    // The audit with the same id is another object.
    assert_history_found(store, &stored).await;
    let found = store.earlier_events(&stored[4], 10).await.unwrap();
    assert_eq!(found[0].event, history()[2]);
    assert_eq!(earlier(store, &stored[4], 1).await, [stored[2].id.as_str()]);
    for first in [&stored[0], &stored[1], &stored[3]] {
        assert!(earlier(store, first, 10).await.is_empty());
    }
    // An event about no object has no earlier events.
    let unknown = Event::from_value(json!({"event": "SOMETHING_NEW", "data": {}, "company": {}}));
    let unknown = store_all(store, &[unknown.unwrap()]).await;
    assert!(earlier(store, &unknown[0], 10).await.is_empty());
}

super::on_each_engine!(the_earlier_events_of_an_object_are_found_newest_first);

#[tokio::test]
async fn an_embedded_store_from_before_objects_gets_them_for_its_old_events() {
    let fresh = Fresh::sqlite().await;
    let stored = store_all(&fresh.store, &history()).await;
    fresh.store.close().await;
    rusqlite::Connection::open(fresh.config.data_dir.join("relay.db"))
        .unwrap()
        .execute_batch(
            "DROP TABLE conversations; DROP INDEX deliveries_object; \
             ALTER TABLE deliveries DROP COLUMN object_key; ALTER TABLE deliveries DROP COLUMN step; \
             ALTER TABLE attempts DROP COLUMN action; \
             DROP INDEX events_object; ALTER TABLE events DROP COLUMN object_key; \
             PRAGMA user_version = 4;",
        )
        .unwrap();
    let store = Store::open(&fresh.config).await.expect("the store opens");
    assert_history_found(&store, &stored).await;
    store.close().await;
}

#[tokio::test]
async fn a_postgresql_store_from_before_objects_gets_them_for_its_old_events() {
    let fresh = Fresh::postgres().await;
    let stored = store_all(&fresh.store, &history()).await;
    fresh.store.close().await;
    fresh
        .schema()
        .execute(
            // Version 3: without what versions 4 to 9 added.
            "DROP TABLE conversations; DROP INDEX deliveries_object; \
             ALTER TABLE deliveries DROP COLUMN object_key, DROP COLUMN step; \
             ALTER TABLE attempts DROP COLUMN action; \
             DROP INDEX events_object; ALTER TABLE events DROP COLUMN object_key; \
             ALTER TABLE events DROP COLUMN routing_owner, DROP COLUMN routing_until; \
             ALTER TABLE deliveries RESET (autovacuum_vacuum_scale_factor); \
             DROP INDEX deliveries_sending; \
             UPDATE schema_version SET version = 3;",
        )
        .await;
    let store = Store::open(&fresh.config).await.expect("the store opens");
    assert_history_found(&store, &stored).await;
    store.close().await;
}
