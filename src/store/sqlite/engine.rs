//! The SQLite engine's side of the seam: hot writes through the writer thread's group commit,
//! occasional writes as their own jobs on the same thread, reads on the read connections.

use super::{Sqlite, admin, read, views};
use crate::store::StoreError;
use crate::store::commit::{LaneDone, LaneWrite, RouteRow};
use crate::store::engine::Engine;
use crate::store::rows::EventRow;
use crate::store::types::{
    Claim, Conversation, ConversationFilter, DeadFilter, DeadLetterError, DeliveryDetails,
    DeliveryRecord, DeliveryState, EventDetails, EventFilter, EventSummary, Ingested, NewDelivery,
    QueueStat, RerouteError, StoreCounts, StoredEvent, TargetHealth,
};

impl Engine for Sqlite {
    async fn ingest(&self, row: EventRow) -> Result<Ingested, StoreError> {
        self.writer.ingest(row).await
    }

    async fn route(&self, rows: Vec<RouteRow>) -> Result<(), StoreError> {
        self.writer.route(rows).await
    }

    async fn lane(&self, write: LaneWrite) -> Result<LaneDone, StoreError> {
        self.writer.lane(write).await
    }

    async fn release(&self, claim: Claim) -> Result<bool, StoreError> {
        self.writer
            .admin(move |tx| admin::release(tx, &claim))
            .await
    }

    async fn block_target(&self, target: String, until_ms: i64) -> Result<(), StoreError> {
        self.writer
            .admin(move |tx| admin::block_target(tx, &target, until_ms))
            .await
    }

    async fn save_enrichment(&self, event_id: String, json: String) -> Result<(), StoreError> {
        self.writer
            .admin(move |tx| admin::save_enrichment(tx, &event_id, &json))
            .await
    }

    async fn prune_round(&self, before_ms: i64) -> Result<(u64, bool), StoreError> {
        let pruned = self
            .writer
            .admin(move |tx| admin::prune_batch(tx, before_ms))
            .await?;
        Ok((pruned, pruned >= admin::PRUNE_BATCH as u64))
    }

    async fn replay(
        &self,
        id: i64,
        now_ms: i64,
    ) -> Result<Result<i64, DeadLetterError>, StoreError> {
        self.writer
            .admin(move |tx| admin::replay(tx, id, now_ms))
            .await
    }

    async fn reroute(
        &self,
        event_id: String,
        deliveries: Vec<NewDelivery>,
        now_ms: i64,
    ) -> Result<Result<Vec<i64>, RerouteError>, StoreError> {
        self.writer
            .admin(move |tx| admin::reroute(tx, &event_id, &deliveries, now_ms))
            .await
    }

    async fn drop_dead(
        &self,
        id: i64,
        now_ms: i64,
    ) -> Result<Result<(), DeadLetterError>, StoreError> {
        self.writer
            .admin(move |tx| admin::drop_dead(tx, id, now_ms))
            .await
    }

    async fn probe(&self) -> Result<(), StoreError> {
        self.writer.probe().await
    }

    async fn reachable(&self) -> Result<(), StoreError> {
        // A file has no server to lose; its own failures show in `check_file` and the writer.
        Ok(())
    }

    async fn unrouted(&self, limit: usize) -> Result<Vec<StoredEvent>, StoreError> {
        self.reads.run(move |c| read::unrouted(c, limit)).await
    }

    async fn renew_unrouted(&self, _ids: Vec<String>) -> Result<(), StoreError> {
        // One relay per file: nobody else routes its events, so there is no lease.
        Ok(())
    }

    async fn earlier_events(
        &self,
        object: String,
        before: (i64, String),
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        self.reads
            .run(move |c| read::earlier_events(c, &object, (before.0, &before.1), limit))
            .await
    }

    async fn next_due_at(&self, target: String) -> Result<Option<i64>, StoreError> {
        self.reads.run(move |c| read::next_due_at(c, &target)).await
    }

    async fn next_ready_at(&self, target: String) -> Result<Option<i64>, StoreError> {
        self.reads
            .run(move |c| read::next_ready_at(c, &target))
            .await
    }

    async fn targets_with_work(&self) -> Result<Vec<String>, StoreError> {
        self.reads.run(read::targets_with_work).await
    }

    async fn event(&self, id: String) -> Result<Option<EventDetails>, StoreError> {
        self.reads.run(move |c| read::event(c, &id)).await
    }

    async fn deliveries_by_state(
        &self,
        state: DeliveryState,
        limit: usize,
    ) -> Result<Vec<DeliveryRecord>, StoreError> {
        self.reads
            .run(move |c| read::deliveries_by_state(c, state, limit))
            .await
    }

    async fn counts(&self) -> Result<StoreCounts, StoreError> {
        self.reads.run(read::counts).await
    }

    async fn list_events(&self, filter: EventFilter) -> Result<Vec<EventSummary>, StoreError> {
        self.reads
            .run(move |c| views::list_events(c, &filter))
            .await
    }

    async fn dead_letters(&self, filter: DeadFilter) -> Result<Vec<DeliveryRecord>, StoreError> {
        self.reads
            .run(move |c| views::dead_letters(c, &filter))
            .await
    }

    async fn delivery(&self, id: i64) -> Result<Option<DeliveryDetails>, StoreError> {
        self.reads.run(move |c| views::delivery(c, id)).await
    }

    async fn queue_stats(&self) -> Result<(Vec<QueueStat>, u64), StoreError> {
        self.reads.run(views::queue_stats).await
    }

    async fn conversations(
        &self,
        filter: &ConversationFilter,
    ) -> Result<Vec<Conversation>, StoreError> {
        let filter = filter.clone();
        self.reads
            .run(move |c| views::conversations(c, &filter))
            .await
    }

    async fn target_health(
        &self,
        now_ms: i64,
        delivered_since: i64,
    ) -> Result<Vec<TargetHealth>, StoreError> {
        self.reads
            .run(move |c| views::target_health(c, now_ms, delivered_since))
            .await
    }

    fn check_file(&self) -> Result<(), StoreError> {
        self.file.check()
    }

    /// The data directory is one relay's alone.
    fn nudges(&self) -> Option<tokio::sync::broadcast::Receiver<crate::store::Nudge>> {
        None
    }

    async fn close(&self) {
        self.writer.close().await;
    }
}
