//! Engine tests: identical events within one group commit, a schema migration of a file made
//! by an older version, the write-ahead log under readers that never let go, and failures that
//! need the writer's own connection: a full disk, simulated with `PRAGMA max_page_count` on it
//! (tests run as root, where a read-only file mode does not stop writes).

use rusqlite::Connection;
use serde_json::json;

use crate::event::Event;
use crate::store::{Store, StoreConfig, StoreError};

async fn open(dir: &std::path::Path) -> Store {
    Store::open(&StoreConfig::embedded(dir)).await.unwrap()
}

/// A plain connection to the file, as another program would open it.
fn raw(dir: &std::path::Path) -> Connection {
    Connection::open(dir.join("relay.db")).unwrap()
}

/// An event large enough (about 64 KiB) to need new pages.
fn big_event(n: u64) -> Event {
    let mut e = Event::parse(br#"{"event":"AUDIT_COMPLETED","data":{},"company":{}}"#).unwrap();
    e.data.insert("sequence".into(), json!(n));
    e.data.insert("notes".into(), json!("x".repeat(64 * 1024)));
    e
}

/// The embedded engine behind `store`.
fn sqlite(store: &Store) -> &crate::store::sqlite::Sqlite {
    let crate::store::engine::Backend::Sqlite(sqlite) = store.backend() else {
        panic!("an embedded store");
    };
    sqlite
}

/// Caps the file at its current size, or lifts the cap, on the writer's connection.
async fn cap_file(store: &Store, capped: bool) {
    sqlite(store)
        .writer
        .admin(move |conn| {
            let pages: i64 = conn.query_row("PRAGMA page_count", [], |r| r.get(0))?;
            let limit = if capped { pages } else { 1 << 30 };
            let set = format!("PRAGMA max_page_count = {limit}");
            conn.query_row(&set, [], |r| r.get::<_, i64>(0))
        })
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_acknowledges_nothing_and_the_writer_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    store.ingest(&big_event(0)).await.unwrap();

    for event in [big_event(1), big_event(2), big_event(3)] {
        // The cap is a setting of the connection, and a failed write replaces the connection.
        cap_file(&store, true).await;
        let result = store.ingest(&event).await;
        assert!(
            matches!(result, Err(StoreError::Unavailable(_))),
            "{result:?}"
        );
    }
    assert_eq!(store.counts().await.unwrap().events, 1);

    cap_file(&store, false).await;
    let stored = store.ingest(&big_event(1)).await.unwrap();
    assert!(!stored.duplicate, "a failed event must not count as seen");
    assert_eq!(store.counts().await.unwrap().events, 2);
    assert!(store.event(&stored.id).await.unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identical_events_in_one_group_commit_are_stored_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    // A slow write holds the writer until all 40 ingests are queued behind it, so that they
    // share the next batch however fast or loaded the machine is.
    let held = hold_writer(&store).await;
    let handles: Vec<_> = (0..40u64)
        .map(|n| {
            let store = store.clone();
            // Events 0, 2, 4… are one and the same; the odd ones are all distinct.
            let e = big_event(if n % 2 == 0 { 0 } else { n });
            tokio::spawn(async move { store.ingest(&e).await.unwrap() })
        })
        .collect();
    held.release_once_queued(40).await;
    let mut answers = Vec::new();
    for handle in handles {
        answers.push(handle.await.unwrap());
    }

    let same: Vec<_> = answers.iter().step_by(2).collect();
    assert!(same.iter().all(|a| a.id == same[0].id));
    assert_eq!(same.iter().filter(|a| !a.duplicate).count(), 1);
    assert!(answers.iter().skip(1).step_by(2).all(|a| !a.duplicate));
    assert_eq!(store.counts().await.unwrap().events, 21);
    assert_eq!(
        store.writer_stats().largest_batch,
        40,
        "the 40 ingests did not share one batch"
    );
}

/// A write in progress that keeps the writer thread busy until released.
struct HeldWriter {
    store: Store,
    release: std::sync::mpsc::Sender<()>,
    done: tokio::task::JoinHandle<()>,
}

/// Starts a write that blocks the writer until [`HeldWriter::release_once_queued`].
async fn hold_writer(store: &Store) -> HeldWriter {
    let (release, wait) = std::sync::mpsc::channel::<()>();
    let (started, running) = tokio::sync::oneshot::channel::<()>();
    let held = store.clone();
    let done = tokio::spawn(async move {
        sqlite(&held)
            .writer
            .admin(move |_| {
                let _ = started.send(());
                let _ = wait.recv_timeout(std::time::Duration::from_secs(30));
                Ok(())
            })
            .await
            .unwrap();
    });
    running.await.expect("the slow write started");
    HeldWriter {
        store: store.clone(),
        release,
        done,
    }
}

impl HeldWriter {
    /// Waits (bounded) until `count` writes wait in the writer's queue, then lets it go on.
    async fn release_once_queued(self, count: usize) {
        let sender = &sqlite(&self.store).writer.sender;
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        while sender.max_capacity() - sender.capacity() < count {
            assert!(
                tokio::time::Instant::now() < deadline,
                "only {} of {count} writes were queued",
                sender.max_capacity() - sender.capacity()
            );
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        self.release.send(()).unwrap();
        self.done.await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_2_store_keeps_its_events_and_dedup_keys_through_the_migration() {
    let dir = tempfile::tempdir().unwrap();
    let event = big_event(7);
    let (body, dedup_key) = event.canonical_json_and_dedup_key();
    let now = crate::store::rows::now_ms();
    {
        let old = raw(dir.path());
        for sql in &super::schema::MIGRATIONS[..2] {
            old.execute_batch(sql).unwrap();
        }
        old.execute_batch(
            "PRAGMA user_version = 2;
             INSERT INTO dedup (dedup_key, event_id, received_at) VALUES ('k', 'e-old', 1);",
        )
        .unwrap();
        old.execute(
            "INSERT INTO events (id, received_at, kind, body, dedup_key) VALUES ('e-1', ?1, ?2, ?3, ?4)",
            rusqlite::params![now, event.kind, body, dedup_key],
        )
        .unwrap();
        old.execute(
            "INSERT INTO dedup (dedup_key, event_id, received_at) VALUES (?1, 'e-1', ?2)",
            rusqlite::params![dedup_key, now],
        )
        .unwrap();
    }

    let store = open(dir.path()).await;
    let check = raw(dir.path());
    let version: i64 = check
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, super::schema::current_version());
    let again = store.ingest(&event).await.unwrap();
    assert!(again.duplicate, "the migrated dedup key was lost");
    assert_eq!(again.id, "e-1");
    let keys: i64 = check
        .query_row("SELECT COUNT(*) FROM dedup", [], |r| r.get(0))
        .unwrap();
    assert_eq!(keys, 2);
    assert!(store.event("e-1").await.unwrap().is_some());
}

/// Two readers that take turns so that one of them always holds a snapshot (the next one is
/// taken before the last one is let go): SQLite's own passive checkpoint never finds the log
/// unused, so without the writer's restarts the log grows by every page written.
fn overlapping_readers(dir: std::path::PathBuf, stop: std::sync::Arc<AtomicBool>) {
    let snapshot = |conn: &Connection| {
        conn.execute_batch("BEGIN").unwrap();
        conn.query_row("SELECT COUNT(*) FROM events", [], |r| r.get::<_, i64>(0))
            .unwrap();
    };
    let mut conns = [raw(&dir), raw(&dir)];
    snapshot(&conns[0]);
    // Bounded: at most 20 000 turns (about a minute); the caller stops it much earlier.
    for _ in 0..20_000 {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
        // conns[0] holds a snapshot: take one on conns[1], then let conns[0]'s go.
        snapshot(&conns[1]);
        conns[0].execute_batch("COMMIT").unwrap();
        conns.swap(0, 1);
    }
}

use std::sync::atomic::{AtomicBool, Ordering};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_write_ahead_log_starts_over_while_readers_always_hold_a_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let (path, stopper) = (dir.path().to_path_buf(), stop.clone());
    let readers = std::thread::spawn(move || overlapping_readers(path, stopper));

    // About 1 600 commits of a 64 KiB event: some 110 MiB through the log.
    let writers: Vec<_> = (0..4u64)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                for n in 0..400u64 {
                    store.ingest(&big_event(w * 1000 + n)).await.unwrap();
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    readers.join().unwrap();

    let stats = store.writer_stats();
    assert!(stats.wal_restarts > 0, "never restarted: {stats:?}");
    let wal = std::fs::metadata(dir.path().join("relay.db-wal"))
        .unwrap()
        .len();
    assert!(
        wal <= 64 * 1024 * 1024,
        "the log's file is {} MiB",
        wal / (1024 * 1024)
    );
}
