//! The seam between [`Store`](super::Store) and the engines behind it: [`Engine`] is every
//! operation an engine implements, in the shared row types, and [`Backend`] the engines a store
//! can be opened on. `Store` does the engine-independent part of each call (building rows,
//! splitting retention into rounds, the event cache) and hands the rest to its backend; it names
//! no engine. A new engine implements [`Engine`], joins [`Backend`] and runs the store's
//! conformance tests (`Store`'s public API, engine by engine).

use super::StoreError;
use super::commit::{LaneDone, LaneWrite, RouteRow};
use super::postgres::Postgres;
use super::rows::EventRow;
use super::sqlite::Sqlite;
use super::types::{
    Claim, Conversation, ConversationFilter, DeadFilter, DeadLetterError, DeliveryDetails,
    DeliveryRecord, DeliveryState, EventDetails, EventFilter, EventSummary, Ingested, NewDelivery,
    Nudge, QueueStat, RerouteError, StoreCounts, StoredEvent, TargetHealth,
};

/// What an engine does. Writes that sit on the hot path (`ingest`, `route`, `lane`, `probe`)
/// go through the engine's group commit: many callers' writes in one transaction, each caller
/// answered once its write is durable. Times are milliseconds since the Unix epoch, chosen by
/// the caller.
pub(super) trait Engine {
    /// Stores one event (with its deliveries when routed); a retry within the dedup window
    /// answers the first event's id and writes nothing.
    async fn ingest(&self, row: EventRow) -> Result<Ingested, StoreError>;
    /// Routes events: their deliveries and the routed mark, in one commit, in order.
    async fn route(&self, rows: Vec<RouteRow>) -> Result<(), StoreError>;
    /// One lane's round: a pause, outcomes, then a claim, in one commit.
    async fn lane(&self, write: LaneWrite) -> Result<LaneDone, StoreError>;
    /// Gives back a claim that was never sent; false when stale.
    async fn release(&self, claim: Claim) -> Result<bool, StoreError>;
    /// Pauses a lane until `until_ms`, never shortening a pause.
    async fn block_target(&self, target: String, until_ms: i64) -> Result<(), StoreError>;
    /// Keeps a lookup's result with its event.
    async fn save_enrichment(&self, event_id: String, json: String) -> Result<(), StoreError>;
    /// One round of retention; returns how many events it deleted and whether a full round
    /// was taken (more may be left).
    async fn prune_round(&self, before_ms: i64) -> Result<(u64, bool), StoreError>;
    /// Replays an open dead letter as a new delivery at the tail of its lane.
    async fn replay(
        &self,
        id: i64,
        now_ms: i64,
    ) -> Result<Result<i64, DeadLetterError>, StoreError>;
    /// Routes a routed event again: `deliveries` at the tails of their lanes, as routing adds
    /// them, and their rules added to the event's. Returns the new deliveries' ids, in order.
    async fn reroute(
        &self,
        event_id: String,
        deliveries: Vec<NewDelivery>,
        now_ms: i64,
    ) -> Result<Result<Vec<i64>, RerouteError>, StoreError>;
    /// Drops an open dead letter.
    async fn drop_dead(
        &self,
        id: i64,
        now_ms: i64,
    ) -> Result<Result<(), DeadLetterError>, StoreError>;
    /// A write that needs the disk as an event does.
    async fn probe(&self) -> Result<(), StoreError>;
    /// A round trip to the database server: `Ok` while it answers (always, for a file).
    async fn reachable(&self) -> Result<(), StoreError>;

    /// The router's next events (see [`crate::store::Store::unrouted`]).
    async fn unrouted(&self, limit: usize) -> Result<Vec<StoredEvent>, StoreError>;
    /// Extends this store's routing leases (see [`crate::store::Store::renew_unrouted`]).
    async fn renew_unrouted(&self, ids: Vec<String>) -> Result<(), StoreError>;
    async fn earlier_events(
        &self,
        object: String,
        before: (i64, String),
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StoreError>;
    async fn next_due_at(&self, target: String) -> Result<Option<i64>, StoreError>;
    async fn next_ready_at(&self, target: String) -> Result<Option<i64>, StoreError>;
    async fn targets_with_work(&self) -> Result<Vec<String>, StoreError>;
    async fn event(&self, id: String) -> Result<Option<EventDetails>, StoreError>;
    async fn deliveries_by_state(
        &self,
        state: DeliveryState,
        limit: usize,
    ) -> Result<Vec<DeliveryRecord>, StoreError>;
    async fn counts(&self) -> Result<StoreCounts, StoreError>;
    async fn list_events(&self, filter: EventFilter) -> Result<Vec<EventSummary>, StoreError>;
    async fn dead_letters(&self, filter: DeadFilter) -> Result<Vec<DeliveryRecord>, StoreError>;
    async fn delivery(&self, id: i64) -> Result<Option<DeliveryDetails>, StoreError>;
    async fn queue_stats(&self) -> Result<(Vec<QueueStat>, u64), StoreError>;
    /// Every lane's health at `now_ms` (a pause while it lasts, in this relay's clock), with
    /// the deliveries delivered since `delivered_since`.
    async fn target_health(
        &self,
        now_ms: i64,
        delivered_since: i64,
    ) -> Result<Vec<TargetHealth>, StoreError>;

    /// The conversations `filter` asks for, most recently updated first.
    async fn conversations(
        &self,
        filter: &ConversationFilter,
    ) -> Result<Vec<Conversation>, StoreError>;

    /// `Err` ([`StoreError::Lost`]) once the store's database is no longer the one opened.
    fn check_file(&self) -> Result<(), StoreError>;
    /// What other relays on the same store did, as it happens; `None` when no other relay
    /// can share the store.
    fn nudges(&self) -> Option<tokio::sync::broadcast::Receiver<Nudge>>;
    /// Commits what is queued and stops; later calls answer `Unavailable`.
    async fn close(&self);
}

/// The engines a store can be opened on.
pub(super) enum Backend {
    Sqlite(Sqlite),
    Postgres(Postgres),
}

/// Runs `$body` with `$engine` bound to the backend's engine, whichever it is.
macro_rules! with_engine {
    ($backend:expr, $engine:ident => $body:expr) => {
        match $backend {
            $crate::store::engine::Backend::Sqlite($engine) => $body,
            $crate::store::engine::Backend::Postgres($engine) => $body,
        }
    };
}
pub(super) use with_engine;
