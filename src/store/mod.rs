//! The durable store: events, deliveries and delivery attempts.
//!
//! One type, [`Store`], over the embedded SQLite file (today) and PostgreSQL (later, for several
//! replicas). Intake's events, routing, claims and outcomes go through one group-commit writer:
//! many writes per transaction and fsync, each caller answered only once its write is durable.
//! Deliveries are leased, not locked, for the length of a send; a target row is the lane
//! (per-target FIFO, Retry-After pauses).
//! The store knows nothing of target kinds, rules or retry policy: callers decide, it records.
//! The data directory's lock and the database file's identity (`data_dir`) do not depend on
//! the engine.

mod data_dir;
mod schema;
mod sqlite;
mod types;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use data_dir::{DirLock, FileIdentity, LOCK_FILE};

use crate::event::Event;

pub use types::{
    AttemptRecord, Claim, DeadFilter, DeadLetterError, DeliveryDetails, DeliveryRecord,
    DeliveryState, EventDetails, EventFilter, EventSummary, Ingested, NewDelivery, Outcome,
    QueueStat, StoreCounts, StoredEvent, WriterStats,
};

/// Why a store call failed. Callers branch on it: `Unavailable` means "try again later" (intake
/// answers 503 so MonitorQA retries), `Lost` "not before a restart", `InUse` "not while the
/// other relay runs"; anything else is a bug or corruption.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
    /// The database file was removed or replaced while open (see [`FileIdentity`]).
    #[error("{0}")]
    Lost(String),
    /// Another relay holds the data directory (see [`DirLock`]).
    #[error("{0}")]
    InUse(String),
    #[error("store error: {0}")]
    Other(String),
}

#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Identical events within this window are acknowledged with the first one's id.
    pub dedup_window: Duration,
    /// The most events one group commit writes.
    pub max_batch: usize,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            dedup_window: Duration::from_secs(600),
            max_batch: 512,
        }
    }
}

/// The routing of one event: the rules that matched and one delivery per (rule, target).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routing {
    pub event_id: String,
    pub matched_rules: Vec<String>,
    pub deliveries: Vec<NewDelivery>,
}

/// The durable store. Cheap to clone: every clone shares one backend.
#[derive(Clone)]
pub struct Store {
    backend: Arc<Backend>,
    /// The data directory's lock, when this store was opened as the running relay's; released
    /// by [`Store::close`].
    lock: Arc<Mutex<Option<DirLock>>>,
}

/// The databases a store can live in. PostgreSQL (several replicas, `FOR UPDATE SKIP LOCKED`
/// claims) joins as a second variant over the same tables.
enum Backend {
    Sqlite(sqlite::SqliteStore),
}

impl Store {
    /// Opens (creating if needed) `<data_dir>/relay.db`: WAL, `synchronous=FULL`, schema migrated
    /// to the version this binary knows.
    /// Takes no lock: `dlq`, and tests, open the store of a running relay this way.
    pub async fn open_sqlite(data_dir: &Path, opts: StoreOptions) -> Result<Store, StoreError> {
        Store::open_with(data_dir, opts, None).await
    }

    /// [`Store::open_sqlite`] for the running relay: first takes the data directory's lock
    /// ([`DirLock`]), held until [`Store::close`], so a second relay on the directory fails
    /// here with [`StoreError::InUse`] before it touches the database.
    pub async fn open_sqlite_exclusive(
        data_dir: &Path,
        opts: StoreOptions,
    ) -> Result<Store, StoreError> {
        let lock = DirLock::acquire(data_dir)?;
        Store::open_with(data_dir, opts, Some(lock)).await
    }

    async fn open_with(
        data_dir: &Path,
        opts: StoreOptions,
        lock: Option<DirLock>,
    ) -> Result<Store, StoreError> {
        let backend = Backend::Sqlite(sqlite::SqliteStore::open(data_dir, opts).await?);
        Ok(Store {
            backend: Arc::new(backend),
            lock: Arc::new(Mutex::new(lock)),
        })
    }

    /// Stores one event durably (group commit) and returns its id. Returns only once the event
    /// is committed; an identical event within the dedup window yields the first one's id.
    pub async fn ingest(&self, event: &Event) -> Result<Ingested, StoreError> {
        match &*self.backend {
            Backend::Sqlite(s) => s.ingest(event).await,
        }
    }

    /// Up to `limit` events not yet routed, oldest first.
    pub async fn unrouted(&self, limit: usize) -> Result<Vec<StoredEvent>, StoreError> {
        match &*self.backend {
            Backend::Sqlite(s) => s.unrouted(limit).await,
        }
    }

    /// In one transaction: one pending delivery (due now) per `NewDelivery`, and the event marked
    /// routed with the names of the rules that matched. A second call for the same event does
    /// nothing.
    pub async fn mark_routed(
        &self,
        event_id: &str,
        matched_rules: &[String],
        deliveries: &[NewDelivery],
    ) -> Result<(), StoreError> {
        match &*self.backend {
            Backend::Sqlite(s) => s.mark_routed(event_id, matched_rules, deliveries).await,
        }
    }

    /// [`Store::mark_routed`] for several events in ONE write (one commit), in the given order
    /// (so their deliveries join their lanes in that order). An event that does not exist is an
    /// error naming it; every other event of the call is routed.
    pub async fn mark_routed_all(&self, routings: &[Routing]) -> Result<(), StoreError> {
        match &*self.backend {
            Backend::Sqlite(s) => s.mark_routed_all(routings).await,
        }
    }

    /// Claims the head of `target`'s lane if it is ready: the oldest unfinished delivery, when
    /// it is pending and due or its lease expired, and the target is not blocked. `None`
    /// otherwise (a head that is not ready holds the whole lane: per-target FIFO).
    pub async fn claim_next(
        &self,
        target: &str,
        now_ms: i64,
        lease: Duration,
        owner: &str,
    ) -> Result<Option<Claim>, StoreError> {
        match &*self.backend {
            Backend::Sqlite(s) => s.claim_next(target, now_ms, lease, owner).await,
        }
    }

    /// Writes a claim's outcome and its attempt row. Returns false, changing nothing, when the
    /// claim is stale (the lease was taken over, or the delivery is no longer sending).
    pub async fn finish(
        &self,
        claim: &Claim,
        outcome: &Outcome,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        match &*self.backend {
            Backend::Sqlite(s) => s.finish(claim, outcome, now_ms).await,
        }
    }

    /// In ONE transaction (one commit): the outcome of `claim` as [`Store::finish`] writes it,
    /// then a claim of the head of the same lane as [`Store::claim_next`] makes it. Returns
    /// whether the outcome applied, and the new claim. A lane that sends back to back pays one
    /// commit per delivery instead of two; the outcome is durable before the next claim exists.
    pub async fn finish_and_claim_next(
        &self,
        claim: &Claim,
        outcome: &Outcome,
        now_ms: i64,
        lease: Duration,
        owner: &str,
    ) -> Result<(bool, Option<Claim>), StoreError> {
        match &*self.backend {
            Backend::Sqlite(s) => {
                s.finish_and_claim_next(claim, outcome, now_ms, lease, owner)
                    .await
            }
        }
    }

    /// Gives back a claim that was never sent (a lane stopping): the delivery is pending again
    /// at once, with the attempt not counted. False, changing nothing, when the claim is stale.
    pub async fn release(&self, claim: &Claim) -> Result<bool, StoreError> {
        match &*self.backend {
            Backend::Sqlite(s) => s.release(claim).await,
        }
    }

    /// Pauses the whole lane of `target` until `until_ms` (a 429's Retry-After). A block never
    /// shortens an existing one.
    pub async fn block_target(&self, target: &str, until_ms: i64) -> Result<(), StoreError> {
        match &*self.backend {
            Backend::Sqlite(s) => s.block_target(target, until_ms).await,
        }
    }

    /// When the head of `target`'s lane becomes claimable (may be in the past: claim now), or
    /// `None` when the lane is empty.
    pub async fn next_due_at(&self, target: &str) -> Result<Option<i64>, StoreError> {
        match &*self.backend {
            Backend::Sqlite(s) => s.next_due_at(target).await,
        }
    }

    /// Targets that have unfinished deliveries, by name.
    pub async fn targets_with_work(&self) -> Result<Vec<String>, StoreError> {
        match &*self.backend {
            Backend::Sqlite(s) => s.targets_with_work().await,
        }
    }

    /// One event with its matched rules, deliveries and their attempts.
    pub async fn event(&self, id: &str) -> Result<Option<EventDetails>, StoreError> {
        match &*self.backend {
            Backend::Sqlite(s) => s.event(id).await,
        }
    }

    /// Up to `limit` deliveries in `state`, oldest first (the dead-letter list, admin views).
    pub async fn deliveries_by_state(
        &self,
        state: DeliveryState,
        limit: usize,
    ) -> Result<Vec<DeliveryRecord>, StoreError> {
        match &*self.backend {
            Backend::Sqlite(s) => s.deliveries_by_state(state, limit).await,
        }
    }

    /// How many events and deliveries are in each state.
    pub async fn counts(&self) -> Result<StoreCounts, StoreError> {
        match &*self.backend {
            Backend::Sqlite(s) => s.counts().await,
        }
    }

    /// Events, newest first, with how their deliveries stand.
    pub async fn list_events(&self, filter: &EventFilter) -> Result<Vec<EventSummary>, StoreError> {
        match &*self.backend {
            Backend::Sqlite(s) => s.list_events(filter).await,
        }
    }

    /// The open dead letters (dead, not dropped, not replayed), oldest first.
    pub async fn dead_letters(
        &self,
        filter: &DeadFilter,
    ) -> Result<Vec<DeliveryRecord>, StoreError> {
        match &*self.backend {
            Backend::Sqlite(s) => s.dead_letters(filter).await,
        }
    }

    /// One delivery with its attempts and its event.
    pub async fn delivery(&self, id: i64) -> Result<Option<DeliveryDetails>, StoreError> {
        match &*self.backend {
            Backend::Sqlite(s) => s.delivery(id).await,
        }
    }

    /// Replays an open dead letter: a new pending delivery, due now, at the tail of its
    /// target's lane, pointing at the original. Returns the new delivery's id.
    pub async fn replay(
        &self,
        id: i64,
        now_ms: i64,
    ) -> Result<Result<i64, DeadLetterError>, StoreError> {
        match &*self.backend {
            Backend::Sqlite(s) => s.replay(id, now_ms).await,
        }
    }

    /// Drops an open dead letter: it leaves the list and may be pruned.
    pub async fn drop_dead(
        &self,
        id: i64,
        now_ms: i64,
    ) -> Result<Result<(), DeadLetterError>, StoreError> {
        match &*self.backend {
            Backend::Sqlite(s) => s.drop_dead(id, now_ms).await,
        }
    }

    /// Unfinished deliveries per target, and the number of open dead letters.
    pub async fn queue_stats(&self) -> Result<(Vec<QueueStat>, u64), StoreError> {
        match &*self.backend {
            Backend::Sqlite(s) => s.queue_stats().await,
        }
    }

    /// Keeps what the MonitorQA API lookup found for an event, for its deliveries' templates.
    pub async fn save_enrichment(
        &self,
        event_id: &str,
        enrichment: &serde_json::Value,
    ) -> Result<(), StoreError> {
        match &*self.backend {
            Backend::Sqlite(s) => s.save_enrichment(event_id, enrichment).await,
        }
    }

    /// Retention: deletes events received before `before_ms` that need nobody any more (every
    /// delivery delivered, dropped, or dead and replayed). Open dead letters are kept until
    /// dropped. Returns how many events were deleted.
    pub async fn prune(&self, before_ms: i64) -> Result<u64, StoreError> {
        match &*self.backend {
            Backend::Sqlite(s) => s.prune(before_ms).await,
        }
    }

    /// A write through the group commit that needs as much room on the disk as a burst of
    /// events (one row rewritten with fresh random bytes): `Ok` once the store can take events
    /// again.
    pub async fn probe_write(&self) -> Result<(), StoreError> {
        match &*self.backend {
            Backend::Sqlite(s) => s.probe_write().await,
        }
    }

    /// `Err` ([`StoreError::Lost`]) once the database file was removed or replaced under the
    /// open store: nothing written now could be read after a restart. Cheap (one `stat`); the
    /// writer also checks after every commit, before it answers anyone.
    pub fn check_file(&self) -> Result<(), StoreError> {
        match &*self.backend {
            Backend::Sqlite(s) => s.file().check(),
        }
    }

    /// How many group commits the writer made and how many events they held.
    pub fn writer_stats(&self) -> WriterStats {
        match &*self.backend {
            Backend::Sqlite(s) => s.writer_stats(),
        }
    }

    /// Clean shutdown: the writer commits what is queued, stops, and the connections close.
    /// Later calls answer `Unavailable`.
    pub async fn close(&self) {
        match &*self.backend {
            Backend::Sqlite(s) => s.close().await,
        }
        // Only now may another relay open the directory.
        let lock = self.lock.lock().unwrap_or_else(|p| p.into_inner()).take();
        drop(lock);
    }
}
