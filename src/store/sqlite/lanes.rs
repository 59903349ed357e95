//! The delivery queue: routing writes, leased claims per target lane, outcomes, lane pauses.
//!
//! A target's lane is FIFO in order of acknowledgement: only its oldest unfinished delivery can
//! be claimed, so a head that is not due holds the lane. A claim is a lease (`lease_owner`,
//! `lease_until`, `lease_seq`); an outcome applies only to the lease that is current, so a
//! stale sender changes nothing, and an expired lease makes the row claimable again.

use std::time::Duration;

use sqlx::Row;

use super::SqliteStore;
use super::classify;
use super::lane_writes::{ClaimRow, FinishRow, LaneWrite, RouteRow};
use crate::store::{Claim, NewDelivery, Outcome, Routing, StoreError};

impl SqliteStore {
    pub(in crate::store) async fn mark_routed(
        &self,
        event_id: &str,
        matched_rules: &[String],
        deliveries: &[NewDelivery],
    ) -> Result<(), StoreError> {
        let row = RouteRow::new(event_id, matched_rules, deliveries.to_vec())?;
        self.writer.route(vec![row]).await
    }

    pub(in crate::store) async fn mark_routed_all(
        &self,
        routings: &[Routing],
    ) -> Result<(), StoreError> {
        if routings.is_empty() {
            return Ok(());
        }
        let rows = routings
            .iter()
            .map(|r| RouteRow::new(&r.event_id, &r.matched_rules, r.deliveries.clone()))
            .collect::<Result<Vec<_>, _>>()?;
        self.writer.route(rows).await
    }

    pub(in crate::store) async fn claim_next(
        &self,
        target: &str,
        now_ms: i64,
        lease: Duration,
        owner: &str,
    ) -> Result<Option<Claim>, StoreError> {
        let write = LaneWrite {
            finish: None,
            claim: Some(ClaimRow::new(target, now_ms, lease, owner)),
        };
        Ok(self.writer.lane(write).await?.claim)
    }

    pub(in crate::store) async fn finish(
        &self,
        claim: &Claim,
        outcome: &Outcome,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let write = LaneWrite {
            finish: Some(FinishRow::new(claim, outcome, now_ms)),
            claim: None,
        };
        Ok(self.writer.lane(write).await?.finished)
    }

    pub(in crate::store) async fn finish_and_claim_next(
        &self,
        claim: &Claim,
        outcome: &Outcome,
        now_ms: i64,
        lease: Duration,
        owner: &str,
    ) -> Result<(bool, Option<Claim>), StoreError> {
        let write = LaneWrite {
            finish: Some(FinishRow::new(claim, outcome, now_ms)),
            claim: Some(ClaimRow::new(&claim.target, now_ms, lease, owner)),
        };
        let done = self.writer.lane(write).await?;
        Ok((done.finished, done.claim))
    }

    pub(in crate::store) async fn release(&self, claim: &Claim) -> Result<bool, StoreError> {
        let released = sqlx::query(
            "UPDATE deliveries
             SET state = 'pending', lease_owner = NULL, lease_until = NULL,
                 attempts = attempts - 1
             WHERE id = $1 AND lease_seq = $2 AND state = 'sending'",
        )
        .bind(claim.delivery_id)
        .bind(claim.lease_seq)
        .execute(&self.write)
        .await
        .map_err(classify)?;
        Ok(released.rows_affected() == 1)
    }

    pub(in crate::store) async fn block_target(
        &self,
        target: &str,
        until_ms: i64,
    ) -> Result<(), StoreError> {
        // PostgreSQL: GREATEST instead of the two-argument MAX.
        sqlx::query(
            "INSERT INTO targets (name, blocked_until) VALUES ($1, $2)
             ON CONFLICT (name) DO UPDATE
                 SET blocked_until = MAX(targets.blocked_until, excluded.blocked_until)",
        )
        .bind(target)
        .bind(until_ms)
        .execute(&self.write)
        .await
        .map_err(classify)?;
        Ok(())
    }

    pub(in crate::store) async fn next_due_at(
        &self,
        target: &str,
    ) -> Result<Option<i64>, StoreError> {
        let head = sqlx::query(
            "SELECT d.state, d.next_attempt_at, d.lease_until,
                    COALESCE(t.blocked_until, 0) AS blocked_until
             FROM deliveries d LEFT JOIN targets t ON t.name = d.target
             WHERE d.id = (SELECT id FROM deliveries
                           WHERE target = $1 AND state IN ('pending', 'sending')
                           ORDER BY id LIMIT 1)",
        )
        .bind(target)
        .fetch_optional(&self.read)
        .await
        .map_err(classify)?;
        let Some(head) = head else {
            return Ok(None);
        };
        let state: String = head.try_get("state").map_err(classify)?;
        let ready_at: i64 = if state == "sending" {
            let lease_until: Option<i64> = head.try_get("lease_until").map_err(classify)?;
            lease_until.unwrap_or(0)
        } else {
            head.try_get("next_attempt_at").map_err(classify)?
        };
        let blocked_until: i64 = head.try_get("blocked_until").map_err(classify)?;
        Ok(Some(ready_at.max(blocked_until)))
    }

    pub(in crate::store) async fn targets_with_work(&self) -> Result<Vec<String>, StoreError> {
        // A skip scan of the lane index: one look-up per target with work, instead of reading
        // every unfinished delivery (a backlog of 100 000 rows, every 2 s, with a temporary
        // B-tree for the DISTINCT). PostgreSQL: the same recursive query, without INDEXED BY.
        sqlx::query_scalar(
            "WITH RECURSIVE lanes(target) AS (
                 SELECT (SELECT MIN(target) FROM deliveries INDEXED BY deliveries_lane
                         WHERE state IN ('pending', 'sending'))
                 UNION ALL
                 SELECT (SELECT MIN(target) FROM deliveries INDEXED BY deliveries_lane
                         WHERE state IN ('pending', 'sending') AND target > lanes.target)
                 FROM lanes WHERE lanes.target IS NOT NULL
             )
             SELECT target FROM lanes WHERE target IS NOT NULL",
        )
        .fetch_all(&self.read)
        .await
        .map_err(classify)
    }
}
