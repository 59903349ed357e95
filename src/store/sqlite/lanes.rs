//! The delivery queue: routing writes, leased claims per target lane, outcomes, lane pauses.
//!
//! A target's lane is FIFO in order of acknowledgement: only its oldest unfinished delivery can
//! be claimed, so a head that is not due holds the lane. A claim is a lease (`lease_owner`,
//! `lease_until`, `lease_seq`); an outcome applies only to the lease that is current, so a
//! stale sender changes nothing, and an expired lease makes the row claimable again.

use std::time::Duration;

use sqlx::Row;

use super::read::event_by_id;
use super::{SqliteStore, classify, millis, now_ms};
use crate::store::{Claim, NewDelivery, Outcome, StoreError};

impl SqliteStore {
    pub(in crate::store) async fn mark_routed(
        &self,
        event_id: &str,
        matched_rules: &[String],
        deliveries: &[NewDelivery],
    ) -> Result<(), StoreError> {
        let rules = serde_json::to_string(matched_rules)
            .map_err(|e| StoreError::Other(format!("cannot encode matched rules: {e}")))?;
        let now = now_ms();
        let mut tx = self.write.begin().await.map_err(classify)?;
        let marked = sqlx::query(
            "UPDATE events SET routed_at = $1, matched_rules = $2
             WHERE id = $3 AND routed_at IS NULL",
        )
        .bind(now)
        .bind(&rules)
        .bind(event_id)
        .execute(&mut *tx)
        .await
        .map_err(classify)?;
        if marked.rows_affected() == 0 {
            // Already routed (nothing to do), or no such event.
            let exists: Option<String> = sqlx::query_scalar("SELECT id FROM events WHERE id = $1")
                .bind(event_id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(classify)?;
            return match exists {
                Some(_) => Ok(()),
                None => Err(StoreError::Other(format!("no event with id {event_id}"))),
            };
        }
        for delivery in deliveries {
            insert_delivery(&mut tx, event_id, delivery, now)
                .await
                .map_err(classify)?;
        }
        tx.commit().await.map_err(classify)
    }

    pub(in crate::store) async fn claim_next(
        &self,
        target: &str,
        now_ms: i64,
        lease: Duration,
        owner: &str,
    ) -> Result<Option<Claim>, StoreError> {
        // SQLite has one writer, so one statement on the write connection is the whole claim.
        // PostgreSQL: lock the lane first (SELECT .. FROM targets WHERE name = $4 FOR UPDATE),
        // then the same UPDATE; SKIP LOCKED on the head itself would break FIFO.
        let mut tx = self.write.begin().await.map_err(classify)?;
        let claimed = sqlx::query(
            "UPDATE deliveries
             SET state = 'sending', lease_owner = $1, lease_until = $2,
                 lease_seq = lease_seq + 1, attempts = attempts + 1, updated_at = $3
             WHERE id = (SELECT id FROM deliveries
                         WHERE target = $4 AND state IN ('pending', 'sending')
                         ORDER BY id LIMIT 1)
               AND ((state = 'pending' AND next_attempt_at <= $3)
                    OR (state = 'sending' AND lease_until <= $3))
               AND NOT EXISTS (SELECT 1 FROM targets WHERE name = $4 AND blocked_until > $3)
             RETURNING id, lease_seq, attempts, rule, target, template, event_id, created_at",
        )
        .bind(owner)
        .bind(now_ms.saturating_add(millis(lease)))
        .bind(now_ms)
        .bind(target)
        .fetch_optional(&mut *tx)
        .await
        .map_err(classify)?;
        let Some(row) = claimed else {
            return Ok(None);
        };
        let event_id: String = row.try_get("event_id").map_err(classify)?;
        let event = event_by_id(&mut *tx, &event_id)
            .await?
            .ok_or_else(|| StoreError::Other(format!("delivery of missing event {event_id}")))?;
        let attempts: i64 = row.try_get("attempts").map_err(classify)?;
        let claim = Claim {
            delivery_id: row.try_get("id").map_err(classify)?,
            lease_seq: row.try_get("lease_seq").map_err(classify)?,
            attempt: u32::try_from(attempts).unwrap_or(u32::MAX),
            rule: row.try_get("rule").map_err(classify)?,
            target: row.try_get("target").map_err(classify)?,
            template: row.try_get("template").map_err(classify)?,
            event,
            created_at: row.try_get("created_at").map_err(classify)?,
            claimed_at: now_ms,
        };
        tx.commit().await.map_err(classify)?;
        Ok(Some(claim))
    }

    pub(in crate::store) async fn finish(
        &self,
        claim: &Claim,
        outcome: &Outcome,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let (state, retry_at, finished_at) = match outcome {
            Outcome::Delivered { .. } => ("delivered", None, Some(now_ms)),
            Outcome::Retry { at_ms, .. } => ("pending", Some(*at_ms), None),
            Outcome::Dead { .. } => ("dead", None, Some(now_ms)),
        };
        let status = outcome.status().map(i64::from);
        let mut tx = self.write.begin().await.map_err(classify)?;
        let updated = sqlx::query(
            "UPDATE deliveries
             SET state = $1, next_attempt_at = COALESCE($2, next_attempt_at),
                 lease_owner = NULL, lease_until = NULL, updated_at = $3, finished_at = $4,
                 last_status = $5, last_error = $6
             WHERE id = $7 AND lease_seq = $8 AND state = 'sending'",
        )
        .bind(state)
        .bind(retry_at)
        .bind(now_ms)
        .bind(finished_at)
        .bind(status)
        .bind(outcome.error())
        .bind(claim.delivery_id)
        .bind(claim.lease_seq)
        .execute(&mut *tx)
        .await
        .map_err(classify)?;
        if updated.rows_affected() == 0 {
            return Ok(false);
        }
        let provider_id = match outcome {
            Outcome::Delivered { provider_id, .. } => provider_id.as_deref(),
            _ => None,
        };
        sqlx::query(
            "INSERT INTO attempts
                 (delivery_id, attempt, started_at, finished_at, outcome, status, error, provider_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(claim.delivery_id)
        .bind(i64::from(claim.attempt))
        .bind(claim.claimed_at)
        .bind(now_ms)
        .bind(outcome.as_str())
        .bind(status)
        .bind(outcome.error())
        .bind(provider_id)
        .execute(&mut *tx)
        .await
        .map_err(classify)?;
        tx.commit().await.map_err(classify)?;
        Ok(true)
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
        sqlx::query_scalar(
            "SELECT DISTINCT target FROM deliveries
             WHERE state IN ('pending', 'sending') ORDER BY target",
        )
        .fetch_all(&self.read)
        .await
        .map_err(classify)
    }
}

async fn insert_delivery(
    tx: &mut sqlx::Transaction<'static, sqlx::Sqlite>,
    event_id: &str,
    delivery: &NewDelivery,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO targets (name) VALUES ($1) ON CONFLICT (name) DO NOTHING")
        .bind(&delivery.target)
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "INSERT INTO deliveries
             (event_id, rule, target, template, state, next_attempt_at, created_at, updated_at)
         VALUES ($1, $2, $3, $4, 'pending', $5, $5, $5)",
    )
    .bind(event_id)
    .bind(&delivery.rule)
    .bind(&delivery.target)
    .bind(&delivery.template)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
