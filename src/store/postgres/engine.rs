//! The PostgreSQL engine's side of the seam: hot writes through the writer task's group
//! commit, everything else on a connection of the pool.

use super::{Postgres, admin, read, views};
use crate::store::StoreError;
use crate::store::commit::{LaneDone, LaneWrite, RouteRow};
use crate::store::engine::Engine;
use crate::store::rows::EventRow;
use crate::store::types::{
    Claim, Conversation, ConversationFilter, DeadFilter, DeadLetterError, DeliveryDetails,
    DeliveryRecord, DeliveryState, EventDetails, EventFilter, EventSummary, Ingested, NewDelivery,
    Nudge, QueueStat, RerouteError, StoreCounts, StoredEvent, TargetHealth,
};

impl Engine for Postgres {
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
        admin::release(&mut self.conn().await?, &self.me, &claim).await
    }

    async fn block_target(&self, target: String, until_ms: i64) -> Result<(), StoreError> {
        let until = self.clock.to_db(until_ms);
        admin::block_target(&mut self.conn().await?, &target, until).await
    }

    async fn save_enrichment(&self, event_id: String, json: String) -> Result<(), StoreError> {
        admin::save_enrichment(&mut self.conn().await?, &event_id, &json).await
    }

    async fn prune_round(&self, before_ms: i64) -> Result<(u64, bool), StoreError> {
        let pruned = admin::prune_round(&mut self.conn().await?, before_ms).await?;
        Ok((pruned, pruned >= admin::PRUNE_BATCH as u64))
    }

    async fn replay(
        &self,
        id: i64,
        now_ms: i64,
    ) -> Result<Result<i64, DeadLetterError>, StoreError> {
        let due = self.clock.to_db(now_ms);
        admin::replay(&mut self.conn().await?, &self.me, id, now_ms, due).await
    }

    async fn reroute(
        &self,
        event_id: String,
        deliveries: Vec<NewDelivery>,
        now_ms: i64,
    ) -> Result<Result<Vec<i64>, RerouteError>, StoreError> {
        // Due now by the database's clock, which every relay claims by.
        let due = self.clock.to_db(now_ms);
        let mut conn = self.conn().await?;
        admin::reroute(&mut conn, &self.me, &event_id, &deliveries, now_ms, due).await
    }

    async fn drop_dead(
        &self,
        id: i64,
        now_ms: i64,
    ) -> Result<Result<(), DeadLetterError>, StoreError> {
        admin::drop_dead(&mut self.conn().await?, id, now_ms).await
    }

    async fn probe(&self) -> Result<(), StoreError> {
        self.writer.probe().await
    }

    async fn reachable(&self) -> Result<(), StoreError> {
        read::ping(&self.conn().await?).await
    }

    async fn unrouted(&self, limit: usize) -> Result<Vec<StoredEvent>, StoreError> {
        let now = self.clock.to_db(self.clock.relay_now());
        read::claim_unrouted(&mut self.conn().await?, &self.me, limit, now).await
    }

    async fn renew_unrouted(&self, ids: Vec<String>) -> Result<(), StoreError> {
        let now = self.clock.to_db(self.clock.relay_now());
        read::renew_unrouted(&self.conn().await?, &self.me, &ids, now).await
    }

    async fn earlier_events(
        &self,
        object: String,
        before: (i64, String),
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let conn = self.conn().await?;
        read::earlier_events(&conn, &object, (before.0, &before.1), limit).await
    }

    async fn next_due_at(&self, target: String) -> Result<Option<i64>, StoreError> {
        let due = read::next_due_at(&self.conn().await?, &target).await?;
        Ok(due.map(|at| self.clock.to_relay(at)))
    }

    async fn next_ready_at(&self, target: String) -> Result<Option<i64>, StoreError> {
        let ready = read::next_ready_at(&self.conn().await?, &target).await?;
        Ok(ready.map(|at| self.clock.to_relay(at)))
    }

    async fn targets_with_work(&self) -> Result<Vec<String>, StoreError> {
        read::targets_with_work(&self.conn().await?).await
    }

    async fn event(&self, id: String) -> Result<Option<EventDetails>, StoreError> {
        let mut found = read::event(&self.conn().await?, &id).await?;
        for (d, _) in found.iter_mut().flat_map(|e| e.deliveries.iter_mut()) {
            self.shown(d);
        }
        Ok(found)
    }

    async fn deliveries_by_state(
        &self,
        state: DeliveryState,
        limit: usize,
    ) -> Result<Vec<DeliveryRecord>, StoreError> {
        let mut found = read::deliveries_by_state(&self.conn().await?, state, limit).await?;
        found.iter_mut().for_each(|d| self.shown(d));
        Ok(found)
    }

    async fn counts(&self) -> Result<StoreCounts, StoreError> {
        read::counts(&self.conn().await?).await
    }

    async fn list_events(&self, filter: EventFilter) -> Result<Vec<EventSummary>, StoreError> {
        views::list_events(&self.conn().await?, &filter).await
    }

    async fn dead_letters(&self, filter: DeadFilter) -> Result<Vec<DeliveryRecord>, StoreError> {
        let mut found = views::dead_letters(&self.conn().await?, &filter).await?;
        found.iter_mut().for_each(|d| self.shown(d));
        Ok(found)
    }

    async fn delivery(&self, id: i64) -> Result<Option<DeliveryDetails>, StoreError> {
        let mut found = views::delivery(&self.conn().await?, id).await?;
        if let Some(details) = &mut found {
            self.shown(&mut details.delivery);
        }
        Ok(found)
    }

    async fn queue_stats(&self) -> Result<(Vec<QueueStat>, u64), StoreError> {
        views::queue_stats(&self.conn().await?).await
    }

    async fn conversations(
        &self,
        filter: &ConversationFilter,
    ) -> Result<Vec<Conversation>, StoreError> {
        views::conversations(&self.conn().await?, filter).await
    }

    async fn target_health(
        &self,
        now_ms: i64,
        delivered_since: i64,
    ) -> Result<Vec<TargetHealth>, StoreError> {
        let now = self.clock.to_db(now_ms);
        let mut found = views::target_health(&self.conn().await?, now, delivered_since).await?;
        for t in &mut found {
            // Kept in the database's clock, shown in the relay's.
            t.paused_until = t.paused_until.map(|at| self.clock.to_relay(at));
        }
        Ok(found)
    }

    /// A database server has no file to lose under the relay.
    fn check_file(&self) -> Result<(), StoreError> {
        Ok(())
    }

    fn nudges(&self) -> Option<tokio::sync::broadcast::Receiver<Nudge>> {
        Some(self.listen_to_others())
    }

    async fn close(&self) {
        self.stop_listening();
        self.writer.close().await;
        // Best effort: the leases run out by themselves when the database cannot be reached.
        if let Ok(conn) = self.conn().await
            && let Err(e) = read::release_unrouted(&conn, &self.me).await
        {
            tracing::warn!(error = %e, "could not give back the router's leases");
        }
        self.pool.close();
    }
}

impl Postgres {
    /// A delivery as the CLI and the API show it: its next attempt in this relay's clock, as
    /// every other time it shows.
    fn shown(&self, delivery: &mut DeliveryRecord) {
        delivery.next_attempt_at = self.clock.to_relay(delivery.next_attempt_at);
    }
}
