//! The durable store: events, deliveries, attempts and the target lanes.
//!
//! One type, [`Store`], over one seam with an engine behind it (`engine`: the operations every
//! engine implements, and the engines a store can be opened on): the embedded SQLite file today
//! (`sqlite`), PostgreSQL for several replicas next. What every engine shares lives here:
//! the row types (`types`), the rows an engine writes and their decoding (`rows`), group
//! commit (`commit`: many writes per transaction and fsync, each caller answered only once its
//! write is durable), and the in-memory hand-off of new events to the senders (`cache`).
//! Deliveries are leased, not locked, for the length of a send; a target row is the lane
//! (per-target order, Retry-After pauses).
//!
//! The data directory's lock and the database file's identity (`data_dir`) do not depend on
//! the engine either.
//!
//! The store knows nothing of target kinds, rules or retry policy: callers decide, it records.

mod cache;
mod commit;
pub mod copy;
mod data_dir;
mod engine;
mod postgres;
mod rows;
mod sqlite;
mod types;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::event::Event;

pub use commit::LaneDone;
pub use data_dir::{DirLock, FileIdentity, LOCK_FILE};
pub use postgres::DatabaseUrl;
pub use rows::{ClaimSpec, Routed};
pub use sqlite::backup::{Backup, backup as backup_embedded};
pub use types::{
    AttemptRecord, Claim, Conversation, ConversationFilter, DeadFilter, DeadLetterError,
    DeliveryDetails, DeliveryRecord, DeliveryState, EventDetails, EventFilter, EventOutcome,
    EventSummary, Finish, Ingested, NewDelivery, Nudge, Outcome, QueueStat, RerouteError,
    StoreCounts, StoredEvent, TargetHealth, ThreadDone, WriterStats, parse_cursor,
};

use cache::EventCache;
use commit::{Counters, LaneWrite, RouteRow};
use engine::{Backend, Engine, with_engine};
use rows::{EventRow, FinishRow};

/// The window of [`TargetHealth::delivered_last_hour`].
const HOUR_MS: i64 = 3_600_000;

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
    /// The most writes one group commit takes.
    pub max_batch: usize,
    /// This relay's clock (milliseconds since the Unix epoch): the system clock. A test may
    /// give a store one that runs ahead or behind, as a badly set machine's would. Only the
    /// PostgreSQL engine reads it (to keep its offset from the database's clock); the embedded
    /// store has one relay and one clock.
    pub clock: fn() -> i64,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            dedup_window: Duration::from_secs(600),
            max_batch: 512,
            clock: crate::clock::now_ms,
        }
    }
}

/// Where the store lives and how it behaves.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// The embedded store's directory (`relay.db` inside).
    pub data_dir: PathBuf,
    pub options: StoreOptions,
    /// Opened by the running relay: the data directory's lock ([`DirLock`]) is taken first and
    /// held until [`Store::close`], so a second relay fails with [`StoreError::InUse`] before it
    /// touches the database. `dlq` and tests open a running relay's store without it.
    pub exclusive: bool,
    /// A PostgreSQL database instead of the embedded file (`server.store`); `data_dir` is
    /// then not used, and several relays may share the database.
    pub database: Option<DatabaseUrl>,
}

impl StoreConfig {
    /// The embedded store in `data_dir`, with the default options, without the lock.
    pub fn embedded(data_dir: impl Into<PathBuf>) -> StoreConfig {
        StoreConfig {
            data_dir: data_dir.into(),
            options: StoreOptions::default(),
            exclusive: false,
            database: None,
        }
    }

    /// The store in the PostgreSQL database at `url`, with the default options.
    pub fn postgres(url: DatabaseUrl) -> StoreConfig {
        StoreConfig {
            database: Some(url),
            ..StoreConfig::embedded(PathBuf::new())
        }
    }

    /// The same store, opened as the running relay's (see [`StoreConfig::exclusive`]).
    pub fn exclusive(mut self) -> StoreConfig {
        self.exclusive = true;
        self
    }

    /// How a person would name this store in a message: never a secret.
    pub fn describe(&self) -> String {
        match &self.database {
            Some(url) => url.to_string(),
            None => sqlite::database_file(&self.data_dir).display().to_string(),
        }
    }
}

/// The routing of one event by the router: the rules that matched and one delivery per
/// (rule, target), and what the router added to the event (the lookup's answer, the
/// comparison with the object's last event), stored in the same commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routing {
    pub event_id: String,
    pub matched_rules: Vec<String>,
    pub deliveries: Vec<NewDelivery>,
    /// Replaces the event's stored enrichment when set.
    pub enrichment: Option<serde_json::Value>,
}

/// The durable store. Cheap to clone: every clone shares one engine.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    backend: Backend,
    counters: Arc<Counters>,
    cache: Arc<EventCache>,
    /// The data directory's lock, when opened exclusively; released by [`Store::close`].
    lock: std::sync::Mutex<Option<DirLock>>,
}

impl Store {
    /// Opens the store `config` names (creating and migrating it as needed).
    pub async fn open(config: &StoreConfig) -> Result<Store, StoreError> {
        let cache = Arc::new(EventCache::default());
        let counters = Arc::new(Counters::default());
        if let Some(url) = &config.database {
            let engine =
                postgres::Postgres::open(url, &config.options, cache.clone(), counters.clone())
                    .await?;
            return Ok(Store::with(
                Backend::Postgres(engine),
                counters,
                cache,
                None,
            ));
        }
        let lock = match config.exclusive {
            true => Some(DirLock::acquire(&config.data_dir)?),
            false => None,
        };
        let (dir, options, owner) = (
            config.data_dir.clone(),
            config.options.clone(),
            config.exclusive,
        );
        let (engine_cache, engine_counters) = (cache.clone(), counters.clone());
        let sqlite = tokio::task::spawn_blocking(move || {
            sqlite::Sqlite::open(&dir, &options, owner, engine_cache, engine_counters)
        })
        .await
        .map_err(|e| StoreError::Other(format!("opening the store did not complete: {e}")))??;
        Ok(Store::with(Backend::Sqlite(sqlite), counters, cache, lock))
    }

    fn with(
        backend: Backend,
        counters: Arc<Counters>,
        cache: Arc<EventCache>,
        lock: Option<DirLock>,
    ) -> Store {
        Store {
            inner: Arc::new(Inner {
                backend,
                counters,
                cache,
                lock: std::sync::Mutex::new(lock),
            }),
        }
    }

    fn backend(&self) -> &Backend {
        &self.inner.backend
    }

    /// Stores one event durably (group commit), not yet routed: the router routes it. Returns
    /// only once the event is committed; an identical event within the dedup window yields the
    /// first one's id.
    pub async fn ingest(&self, event: &Event) -> Result<Ingested, StoreError> {
        self.ingest_routed(event.clone(), None).await
    }

    /// Stores one event durably and, when `routed` is given, its deliveries in the same commit
    /// (the event is then routed: an event that needs no lookup is routed at intake). A MonitorQA
    /// retry of an event stored within the window writes nothing and answers the first one's id.
    pub async fn ingest_routed(
        &self,
        event: Event,
        routed: Option<Routed>,
    ) -> Result<Ingested, StoreError> {
        let row = EventRow::new(event, routed);
        with_engine!(self.backend(), e => e.ingest(row).await)
    }

    /// Up to `limit` events not yet routed, oldest first, for this relay's router. On a database
    /// several relays share, they are leased to this store for a minute, so another relay's
    /// router does not take them too (an event whose relay died is taken after that).
    pub async fn unrouted(&self, limit: usize) -> Result<Vec<StoredEvent>, StoreError> {
        with_engine!(self.backend(), e => e.unrouted(limit).await)
    }

    /// Extends this store's leases on events of [`Store::unrouted`] it has not routed yet, for
    /// another minute: a router whose lookups take long keeps its batch. Nothing on the
    /// embedded store, which no other relay shares.
    pub async fn renew_unrouted(&self, ids: Vec<String>) -> Result<(), StoreError> {
        with_engine!(self.backend(), e => e.renew_unrouted(ids).await)
    }

    /// Up to `limit` events about the same object as `event` (see [`crate::event::Event::object_key`])
    /// received before it, newest first; none for an event about no object.
    pub async fn earlier_events(
        &self,
        event: &StoredEvent,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let Some(object) = event.event.object_key() else {
            return Ok(Vec::new());
        };
        let before = (event.received_at, event.id.clone());
        with_engine!(self.backend(), e => e.earlier_events(object, before, limit).await)
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
        let routing = Routing {
            event_id: event_id.to_owned(),
            matched_rules: matched_rules.to_vec(),
            deliveries: deliveries.to_vec(),
            enrichment: None,
        };
        self.mark_routed_all(std::slice::from_ref(&routing)).await
    }

    /// [`Store::mark_routed`] for several events in ONE write (one commit), in the given order
    /// (so their deliveries join their lanes in that order). An event that does not exist is an
    /// error naming it; every other event of the call is routed.
    pub async fn mark_routed_all(&self, routings: &[Routing]) -> Result<(), StoreError> {
        if routings.is_empty() {
            return Ok(());
        }
        for r in routings.iter().filter(|r| r.enrichment.is_some()) {
            // Senders must read the event as routed, with what the router added.
            self.inner.cache.forget(&r.event_id);
        }
        let rows = routings
            .iter()
            .map(|r| RouteRow {
                event_id: r.event_id.clone(),
                rules: rows::rules_json(&r.matched_rules),
                deliveries: r.deliveries.clone(),
                enrichment: r.enrichment.as_ref().map(ToString::to_string),
            })
            .collect();
        with_engine!(self.backend(), e => e.route(rows).await)
    }

    /// In ONE transaction (one commit) for the lane of `target`: a pause until `block_until`
    /// (a 429's Retry-After; never shortens one), the outcomes of `finishes` in order, then the
    /// claim `claim` asks for. A lane that keeps its sends in flight pays one commit per round,
    /// an outcome is durable before the claim that follows it, and a pause holds that claim.
    pub async fn lane_write(
        &self,
        target: &str,
        block_until: Option<i64>,
        finishes: &[(&Claim, &Outcome)],
        claim: Option<ClaimSpec>,
        now_ms: i64,
    ) -> Result<LaneDone, StoreError> {
        let finishes: Vec<Finish<'_>> = finishes
            .iter()
            .map(|(claim, outcome)| Finish {
                claim,
                outcome,
                thread: None,
            })
            .collect();
        self.lane_finish(target, block_until, &finishes, claim, now_ms)
            .await
    }

    /// [`Store::lane_write`] with what each attempt did in its conversation: the
    /// conversation's new row and the delivery's next step are written with the outcome, under
    /// the same lease.
    pub async fn lane_finish(
        &self,
        target: &str,
        block_until: Option<i64>,
        finishes: &[Finish<'_>],
        claim: Option<ClaimSpec>,
        now_ms: i64,
    ) -> Result<LaneDone, StoreError> {
        let write = LaneWrite {
            target: target.to_owned(),
            block_until,
            finishes: finishes
                .iter()
                .map(|f| FinishRow::new(f.claim, f.outcome, f.thread, now_ms))
                .collect(),
            claim,
        };
        with_engine!(self.backend(), e => e.lane(write).await)
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
        let spec = ordered_claim(target, now_ms, lease, owner);
        let done = self
            .lane_write(target, None, &[], Some(spec), now_ms)
            .await?;
        Ok(done.claims.into_iter().next())
    }

    /// Writes a claim's outcome and its attempt row. Returns false, changing nothing, when the
    /// claim is stale (the lease was taken over, or the delivery is no longer sending).
    pub async fn finish(
        &self,
        claim: &Claim,
        outcome: &Outcome,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let done = self
            .lane_write(&claim.target, None, &[(claim, outcome)], None, now_ms)
            .await?;
        Ok(done.finished.first().copied().unwrap_or(false))
    }

    /// In ONE transaction: the outcome of `claim` as [`Store::finish`] writes it, then a claim
    /// of the head of the same lane as [`Store::claim_next`] makes it.
    pub async fn finish_and_claim_next(
        &self,
        claim: &Claim,
        outcome: &Outcome,
        now_ms: i64,
        lease: Duration,
        owner: &str,
    ) -> Result<(bool, Option<Claim>), StoreError> {
        let spec = ordered_claim(&claim.target, now_ms, lease, owner);
        let done = self
            .lane_write(&claim.target, None, &[(claim, outcome)], Some(spec), now_ms)
            .await?;
        let finished = done.finished.first().copied().unwrap_or(false);
        Ok((finished, done.claims.into_iter().next()))
    }

    /// Gives back a claim that was never sent (a lane stopping): the delivery is pending again
    /// at once, with the attempt not counted. False, changing nothing, when the claim is stale.
    pub async fn release(&self, claim: &Claim) -> Result<bool, StoreError> {
        with_engine!(self.backend(), e => e.release(claim.clone()).await)
    }

    /// Pauses the whole lane of `target` until `until_ms` (a 429's Retry-After). A block never
    /// shortens an existing one.
    pub async fn block_target(&self, target: &str, until_ms: i64) -> Result<(), StoreError> {
        let target = target.to_owned();
        with_engine!(self.backend(), e => e.block_target(target, until_ms).await)
    }

    /// When the head of `target`'s lane becomes claimable (may be in the past: claim now), or
    /// `None` when the lane is empty.
    pub async fn next_due_at(&self, target: &str) -> Result<Option<i64>, StoreError> {
        let target = target.to_owned();
        with_engine!(self.backend(), e => e.next_due_at(target).await)
    }

    /// When any unfinished delivery of `target` becomes claimable (for lanes that are not
    /// ordered), or `None` when the lane is empty.
    pub async fn next_ready_at(&self, target: &str) -> Result<Option<i64>, StoreError> {
        let target = target.to_owned();
        with_engine!(self.backend(), e => e.next_ready_at(target).await)
    }

    /// Targets that have unfinished deliveries, by name.
    pub async fn targets_with_work(&self) -> Result<Vec<String>, StoreError> {
        with_engine!(self.backend(), e => e.targets_with_work().await)
    }

    /// One event with its matched rules, deliveries and their attempts.
    pub async fn event(&self, id: &str) -> Result<Option<EventDetails>, StoreError> {
        let id = id.to_owned();
        with_engine!(self.backend(), e => e.event(id).await)
    }

    /// Up to `limit` deliveries in `state`, oldest first (the dead-letter list, admin views).
    pub async fn deliveries_by_state(
        &self,
        state: DeliveryState,
        limit: usize,
    ) -> Result<Vec<DeliveryRecord>, StoreError> {
        with_engine!(self.backend(), e => e.deliveries_by_state(state, limit).await)
    }

    /// How many events and deliveries are in each state.
    pub async fn counts(&self) -> Result<StoreCounts, StoreError> {
        with_engine!(self.backend(), e => e.counts().await)
    }

    /// Events, newest first, with how their deliveries stand.
    pub async fn list_events(&self, filter: &EventFilter) -> Result<Vec<EventSummary>, StoreError> {
        let filter = filter.clone();
        with_engine!(self.backend(), e => e.list_events(filter).await)
    }

    /// The open dead letters (dead, not dropped, not replayed), oldest first.
    pub async fn dead_letters(
        &self,
        filter: &DeadFilter,
    ) -> Result<Vec<DeliveryRecord>, StoreError> {
        let filter = filter.clone();
        with_engine!(self.backend(), e => e.dead_letters(filter).await)
    }

    /// One delivery with its attempts and its event.
    pub async fn delivery(&self, id: i64) -> Result<Option<DeliveryDetails>, StoreError> {
        with_engine!(self.backend(), e => e.delivery(id).await)
    }

    /// Replays an open dead letter: a new pending delivery, due now, at the tail of its
    /// target's lane, pointing at the original. Returns the new delivery's id.
    pub async fn replay(
        &self,
        id: i64,
        now_ms: i64,
    ) -> Result<Result<i64, DeadLetterError>, StoreError> {
        with_engine!(self.backend(), e => e.replay(id, now_ms).await)
    }

    /// Replays every open dead letter `filter` names (its target and time; not its limit: all
    /// of them) as the list stood when called: replays that die again meanwhile are not
    /// replayed again. Returns `(original, replay)` ids.
    pub async fn replay_all(
        &self,
        filter: &DeadFilter,
        now_ms: i64,
    ) -> Result<Vec<(i64, i64)>, StoreError> {
        let filter = DeadFilter {
            limit: usize::MAX,
            ..filter.clone()
        };
        let snapshot = self.dead_letters(&filter).await?;
        let mut replayed = Vec::with_capacity(snapshot.len());
        for d in snapshot {
            match self.replay(d.id, now_ms).await? {
                Ok(new_id) => replayed.push((d.id, new_id)),
                // Replayed or dropped meanwhile by someone else: nothing to do.
                Err(DeadLetterError::AlreadyReplayed(..) | DeadLetterError::Dropped(_)) => {}
                Err(e) => return Err(StoreError::Other(e.to_string())),
            }
        }
        Ok(replayed)
    }

    /// Routes again an event the router already routed, as if `deliveries` had been among its
    /// first: one pending delivery (due now) per entry at the tail of its target's lane, and
    /// their rules added to the event's matched rules (each once, after those it had). An event
    /// not routed yet is refused: the router routes it, by the rules then in force. Returns the
    /// new deliveries' ids, in the order given.
    pub async fn reroute(
        &self,
        event_id: &str,
        deliveries: &[NewDelivery],
        now_ms: i64,
    ) -> Result<Result<Vec<i64>, RerouteError>, StoreError> {
        let (id, deliveries) = (event_id.to_owned(), deliveries.to_vec());
        with_engine!(self.backend(), e => e.reroute(id, deliveries, now_ms).await)
    }

    /// Drops an open dead letter: it leaves the list and may be pruned.
    pub async fn drop_dead(
        &self,
        id: i64,
        now_ms: i64,
    ) -> Result<Result<(), DeadLetterError>, StoreError> {
        with_engine!(self.backend(), e => e.drop_dead(id, now_ms).await)
    }

    /// Unfinished deliveries per target, and the number of open dead letters.
    pub async fn queue_stats(&self) -> Result<(Vec<QueueStat>, u64), StoreError> {
        with_engine!(self.backend(), e => e.queue_stats().await)
    }

    /// How every target's lane stands at `now_ms`: its queue, open dead letters, its latest
    /// attempts, a pause while it lasts, and what it delivered in the hour before. One row per
    /// target the store has a lane for (every target a delivery was ever made for), by name.
    /// The conversations `filter` asks for (by object, by target), most recently updated
    /// first.
    pub async fn conversations(
        &self,
        filter: &ConversationFilter,
    ) -> Result<Vec<Conversation>, StoreError> {
        with_engine!(self.backend(), e => e.conversations(filter).await)
    }

    pub async fn target_health(&self, now_ms: i64) -> Result<Vec<TargetHealth>, StoreError> {
        let hour_ago = now_ms.saturating_sub(HOUR_MS);
        let mut health =
            with_engine!(self.backend(), e => e.target_health(now_ms, hour_ago).await)?;
        // By name as bytes, the same on every engine whatever a database's collation.
        health.sort_by(|a, b| a.target.cmp(&b.target));
        Ok(health)
    }

    /// Keeps what the MonitorQA API lookup found for an event, for its deliveries' templates.
    pub async fn save_enrichment(
        &self,
        event_id: &str,
        enrichment: &serde_json::Value,
    ) -> Result<(), StoreError> {
        let (id, json) = (event_id.to_owned(), enrichment.to_string());
        self.inner.cache.forget(&id);
        with_engine!(self.backend(), e => e.save_enrichment(id, json).await)
    }

    /// Retention: deletes events received before `before_ms` that need nobody any more (every
    /// delivery delivered, dropped, or dead and replayed). Open dead letters are kept until
    /// dropped. Returns how many events were deleted; a round at a time, so the writer is never
    /// held for long.
    pub async fn prune(&self, before_ms: i64) -> Result<u64, StoreError> {
        let mut total = 0;
        loop {
            let (pruned, more) = with_engine!(self.backend(), e => e.prune_round(before_ms).await)?;
            total += pruned;
            if !more {
                return Ok(total);
            }
        }
    }

    /// A write through the group commit that needs the disk as an event does: `Ok` once the
    /// store can take events again.
    pub async fn probe_write(&self) -> Result<(), StoreError> {
        with_engine!(self.backend(), e => e.probe().await)
    }

    /// A round trip to the database server (PostgreSQL; always `Ok` on the embedded store), so
    /// that readiness notices a database that went away before a write fails on it.
    pub async fn reachable(&self) -> Result<(), StoreError> {
        with_engine!(self.backend(), e => e.reachable().await)
    }

    /// `Err` ([`StoreError::Lost`]) once the database file was removed or replaced under the
    /// open store: nothing written now could be read after a restart. Cheap (one `stat`); the
    /// writer also checks after every commit, before it answers anyone.
    pub fn check_file(&self) -> Result<(), StoreError> {
        with_engine!(self.backend(), e => e.check_file())
    }

    /// What other relays on the same database did that this relay's loops should look at
    /// now (new work in a lane); `None` on the embedded store, which no other relay shares.
    /// Only hints: the loops still look at their queues periodically.
    pub fn nudges(&self) -> Option<tokio::sync::broadcast::Receiver<Nudge>> {
        with_engine!(self.backend(), e => e.nudges())
    }

    /// How many group commits the writer made and how many events they held.
    pub fn writer_stats(&self) -> WriterStats {
        self.inner.counters.stats()
    }

    /// Clean shutdown: the writer commits what is queued and stops. Later calls answer
    /// `Unavailable`. Only then may another relay take the data directory.
    pub async fn close(&self) {
        with_engine!(self.backend(), e => e.close().await);
        let lock = self
            .inner
            .lock
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        drop(lock);
    }
}

fn ordered_claim(target: &str, now_ms: i64, lease: Duration, owner: &str) -> ClaimSpec {
    ClaimSpec {
        target: target.to_owned(),
        max: 1,
        ordered: true,
        now_ms,
        lease,
        owner: owner.to_owned(),
        pace_interval_us: None,
    }
}

/// The directory an embedded store lives in, as a path (for tools that read it directly).
pub fn database_file(data_dir: &Path) -> PathBuf {
    sqlite::database_file(data_dir)
}

#[cfg(test)]
mod lane_tests;
