//! The store's intake side: group commit and dedup on each engine; durability, the dedup window,
//! close and the schema version against real SQLite files.

use std::path::Path;
use std::time::{Duration, Instant};

use mqa_relay::store::{Store, StoreConfig, StoreError, StoreOptions};

use super::event;

async fn open(dir: &Path) -> Store {
    Store::open(&StoreConfig::embedded(dir)).await.unwrap()
}

/// Rows in `events`, counted on a connection of its own (not the store's).
async fn rows_seen_from_outside(dir: &Path) -> i64 {
    let conn = rusqlite::Connection::open(dir.join("relay.db")).unwrap();
    conn.query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0))
        .unwrap()
}

#[tokio::test]
async fn an_acknowledged_event_is_visible_to_another_connection_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    for n in 1..=3 {
        let ingested = store.ingest(&event(n)).await.unwrap();
        assert!(!ingested.duplicate);
        assert_eq!(rows_seen_from_outside(dir.path()).await, n as i64);
    }
}

async fn two_hundred_concurrent_ingests_are_all_stored_in_shared_commits(store: &Store) {
    let tasks: Vec<_> = (0..200)
        .map(|n| {
            let store = store.clone();
            tokio::spawn(async move { store.ingest(&event(n)).await })
        })
        .collect();
    let mut ids = std::collections::HashSet::new();
    for task in tasks {
        let ingested = task.await.unwrap().unwrap();
        assert!(!ingested.duplicate);
        ids.insert(ingested.id);
    }
    assert_eq!(ids.len(), 200);
    assert_eq!(store.counts().await.unwrap().events, 200);
    for id in &ids {
        assert!(store.event(id).await.unwrap().is_some(), "{id} missing");
    }
    let stats = store.writer_stats();
    assert_eq!(stats.events, 200);
    assert!(
        stats.largest_batch > 1,
        "no commit held two events: {stats:?}"
    );
    assert!(
        stats.batches < 200,
        "every event had its own commit: {stats:?}"
    );
}

#[tokio::test]
async fn a_reopened_store_finds_every_acknowledged_event() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let mut ids = Vec::new();
    for n in 0..50 {
        ids.push(store.ingest(&event(n)).await.unwrap().id);
    }
    drop(store);

    let store = open(dir.path()).await;
    for (n, id) in ids.iter().enumerate() {
        let details = store
            .event(id)
            .await
            .unwrap()
            .expect("acknowledged event lost");
        assert_eq!(details.event.event, event(n as u64));
    }
    let unrouted = store.unrouted(100).await.unwrap();
    let order: Vec<&String> = unrouted.iter().map(|e| &e.id).collect();
    assert_eq!(order, ids.iter().collect::<Vec<_>>(), "oldest first");
}

async fn identical_events_in_a_row_are_stored_once_under_the_first_id(store: &Store) {
    let first = store.ingest(&event(7)).await.unwrap();
    assert!(!first.duplicate);
    for _ in 0..4 {
        let again = store.ingest(&event(7)).await.unwrap();
        assert!(again.duplicate);
        assert_eq!(again.id, first.id);
    }
    assert_eq!(store.counts().await.unwrap().events, 1);
}

async fn identical_events_at_the_same_time_are_stored_once(store: &Store) {
    let tasks: Vec<_> = (0..5)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.ingest(&event(9)).await.unwrap() })
        })
        .collect();
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap());
    }
    assert_eq!(answers.iter().filter(|a| !a.duplicate).count(), 1);
    assert!(answers.iter().all(|a| a.id == answers[0].id));
    assert_eq!(store.counts().await.unwrap().events, 1);
}

#[tokio::test]
async fn an_identical_event_after_the_window_is_a_new_event() {
    let dir = tempfile::tempdir().unwrap();
    let opts = StoreOptions {
        dedup_window: Duration::from_millis(20),
        ..StoreOptions::default()
    };
    let store = Store::open(&StoreConfig {
        options: opts,
        ..StoreConfig::embedded(dir.path())
    })
    .await
    .unwrap();
    let first = store.ingest(&event(1)).await.unwrap();
    // Let the window pass (not a timing assertion: the wait only has to be long enough).
    tokio::time::sleep(Duration::from_millis(60)).await;
    let later = store.ingest(&event(1)).await.unwrap();
    assert!(!later.duplicate);
    assert_ne!(later.id, first.id);
    assert!(store.event(&first.id).await.unwrap().is_some());
    assert_eq!(store.counts().await.unwrap().events, 2);
}

#[tokio::test]
async fn a_closed_store_refuses_events_as_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let id = store.ingest(&event(1)).await.unwrap().id;
    store.close().await;
    assert!(matches!(
        store.ingest(&event(2)).await,
        Err(StoreError::Unavailable(_))
    ));
    let store = open(dir.path()).await;
    assert!(store.event(&id).await.unwrap().is_some());
    assert_eq!(store.counts().await.unwrap().events, 1);
}

/// Not an assertion: prints the group-commit rate on this machine (`--nocapture`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_ingest_throughput_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let total = 5_000u64;
    let started = Instant::now();
    let tasks: Vec<_> = (0..total)
        .map(|n| {
            let store = store.clone();
            tokio::spawn(async move { store.ingest(&event(n)).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let elapsed = started.elapsed();
    let stats = store.writer_stats();
    println!(
        "{total} concurrent ingests in {elapsed:?}: {:.0} events/s, {} commits, largest {}",
        total as f64 / elapsed.as_secs_f64(),
        stats.batches,
        stats.largest_batch
    );
    assert_eq!(store.counts().await.unwrap().events, total);
}

#[tokio::test]
async fn a_database_from_a_newer_version_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    store.ingest(&event(1)).await.unwrap();
    store.close().await;
    rusqlite::Connection::open(dir.path().join("relay.db"))
        .unwrap()
        .execute_batch("PRAGMA user_version = 99")
        .unwrap();

    let refused = Store::open(&StoreConfig::embedded(dir.path())).await;
    assert!(matches!(refused, Err(StoreError::Other(m)) if m.contains("99")));
}

super::on_each_engine!(
    two_hundred_concurrent_ingests_are_all_stored_in_shared_commits,
    identical_events_in_a_row_are_stored_once_under_the_first_id,
    identical_events_at_the_same_time_are_stored_once,
);
