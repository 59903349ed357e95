//! Operations for people: event listings, the dead-letter list with replay and drop, queue
//! statistics for metrics, the saved enrichment of an event, and retention (pruning).
//!
//! A dead letter is "open" while it is dead, not dropped and not replayed. A replay is a new
//! pending row at the tail of its target's lane, pointing at the original (`replay_of`).

use sqlx::Row;

use super::read::{DELIVERY_COLUMNS, delivery_record, stored_event};
use super::{SqliteStore, classify};
use crate::store::{
    DeadFilter, DeadLetterError, DeliveryDetails, DeliveryRecord, EventFilter, EventSummary,
    QueueStat, StoreError,
};

/// Rows of a dead letter that is still to be dealt with.
const OPEN_DEAD: &str = "state = 'dead' AND dropped_at IS NULL
     AND NOT EXISTS (SELECT 1 FROM deliveries r WHERE r.replay_of = deliveries.id)";

/// Events pruned per transaction, so pruning never holds the writer for long.
const PRUNE_BATCH: i64 = 500;

fn limit(n: usize) -> i64 {
    i64::try_from(n.max(1)).unwrap_or(i64::MAX)
}

impl SqliteStore {
    pub(in crate::store) async fn list_events(
        &self,
        filter: &EventFilter,
    ) -> Result<Vec<EventSummary>, StoreError> {
        let rows = sqlx::query(
            "SELECT e.id, e.received_at, e.kind, e.company_id, e.company_name, e.routed_at,
                    COUNT(d.id) AS deliveries,
                    COALESCE(SUM(d.state = 'delivered'), 0) AS delivered,
                    COALESCE(SUM(d.state IN ('pending', 'sending')), 0) AS waiting,
                    COALESCE(SUM(d.state = 'dead'), 0) AS dead
             FROM events e LEFT JOIN deliveries d ON d.event_id = e.id
             WHERE ($1 IS NULL OR e.kind = $1)
               AND ($2 IS NULL OR e.company_name = $2 OR e.company_id = $2)
             GROUP BY e.id ORDER BY e.received_at DESC, e.id DESC LIMIT $3",
        )
        .bind(filter.kind.as_deref())
        .bind(filter.company.as_deref())
        .bind(limit(filter.limit))
        .fetch_all(&self.read)
        .await
        .map_err(classify)?;
        rows.iter()
            .map(|r| {
                let count = |c: &str| r.try_get::<i64, _>(c).map(|n| n.max(0) as u64);
                Ok(EventSummary {
                    id: r.try_get("id")?,
                    received_at: r.try_get("received_at")?,
                    kind: r.try_get("kind")?,
                    company_id: r.try_get("company_id")?,
                    company_name: r.try_get("company_name")?,
                    routed_at: r.try_get("routed_at")?,
                    deliveries: count("deliveries")?,
                    delivered: count("delivered")?,
                    waiting: count("waiting")?,
                    dead: count("dead")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(classify)
    }

    pub(in crate::store) async fn dead_letters(
        &self,
        filter: &DeadFilter,
    ) -> Result<Vec<DeliveryRecord>, StoreError> {
        let sql = format!(
            "SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE {OPEN_DEAD}
               AND ($1 IS NULL OR target = $1) AND ($2 IS NULL OR finished_at >= $2)
             ORDER BY id LIMIT $3"
        );
        // Only our own constants are formatted in; values are bound.
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(filter.target.as_deref())
            .bind(filter.since_ms)
            .bind(limit(filter.limit))
            .fetch_all(&self.read)
            .await
            .map_err(classify)?;
        rows.iter().map(delivery_record).collect()
    }

    pub(in crate::store) async fn delivery(
        &self,
        id: i64,
    ) -> Result<Option<DeliveryDetails>, StoreError> {
        let sql = format!(
            "SELECT {DELIVERY_COLUMNS}, dropped_at,
                    (SELECT MIN(r.id) FROM deliveries r WHERE r.replay_of = deliveries.id)
                        AS replayed_by
             FROM deliveries WHERE id = $1"
        );
        let Some(row) = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.read)
            .await
            .map_err(classify)?
        else {
            return Ok(None);
        };
        let delivery = delivery_record(&row)?;
        let event_row =
            sqlx::query("SELECT id, received_at, body, enrichment FROM events WHERE id = $1")
                .bind(&delivery.event_id)
                .fetch_one(&self.read)
                .await
                .map_err(classify)?;
        Ok(Some(DeliveryDetails {
            attempts: self.attempts_of(id).await?,
            event: stored_event(&event_row)?,
            replayed_by: row.try_get("replayed_by").map_err(classify)?,
            dropped_at: row.try_get("dropped_at").map_err(classify)?,
            delivery,
        }))
    }

    /// Checks that `id` is an open dead letter, inside the caller's transaction.
    async fn open_dead_letter(
        tx: &mut sqlx::SqliteConnection,
        id: i64,
    ) -> Result<Result<(), DeadLetterError>, StoreError> {
        let row = sqlx::query(
            "SELECT state, dropped_at,
                    (SELECT MIN(r.id) FROM deliveries r WHERE r.replay_of = d.id) AS replayed_by
             FROM deliveries d WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(classify)?;
        let Some(row) = row else {
            return Ok(Err(DeadLetterError::NotFound(id)));
        };
        let state: String = row.try_get("state").map_err(classify)?;
        let dropped: Option<i64> = row.try_get("dropped_at").map_err(classify)?;
        let replayed: Option<i64> = row.try_get("replayed_by").map_err(classify)?;
        Ok(match (state.as_str(), dropped, replayed) {
            ("dead", None, None) => Ok(()),
            ("dead", Some(_), _) => Err(DeadLetterError::Dropped(id)),
            ("dead", None, Some(by)) => Err(DeadLetterError::AlreadyReplayed(id, by)),
            _ => Err(DeadLetterError::NotDead(id)),
        })
    }

    pub(in crate::store) async fn replay(
        &self,
        id: i64,
        now_ms: i64,
    ) -> Result<Result<i64, DeadLetterError>, StoreError> {
        let mut tx = self.write.begin().await.map_err(classify)?;
        if let Err(e) = Self::open_dead_letter(&mut tx, id).await? {
            return Ok(Err(e));
        }
        let new_id: i64 = sqlx::query_scalar(
            "INSERT INTO deliveries (event_id, rule, target, template, state, attempts,
                                     next_attempt_at, created_at, updated_at, replay_of)
             SELECT event_id, rule, target, template, 'pending', 0, $2, $2, $2, id
             FROM deliveries WHERE id = $1
             RETURNING id",
        )
        .bind(id)
        .bind(now_ms)
        .fetch_one(&mut *tx)
        .await
        .map_err(classify)?;
        tx.commit().await.map_err(classify)?;
        Ok(Ok(new_id))
    }

    pub(in crate::store) async fn drop_dead(
        &self,
        id: i64,
        now_ms: i64,
    ) -> Result<Result<(), DeadLetterError>, StoreError> {
        let mut tx = self.write.begin().await.map_err(classify)?;
        if let Err(e) = Self::open_dead_letter(&mut tx, id).await? {
            return Ok(Err(e));
        }
        sqlx::query("UPDATE deliveries SET dropped_at = $2, updated_at = $2 WHERE id = $1")
            .bind(id)
            .bind(now_ms)
            .execute(&mut *tx)
            .await
            .map_err(classify)?;
        tx.commit().await.map_err(classify)?;
        Ok(Ok(()))
    }

    pub(in crate::store) async fn queue_stats(&self) -> Result<(Vec<QueueStat>, u64), StoreError> {
        let rows = sqlx::query(
            "SELECT target, COUNT(*) AS depth, MIN(created_at) AS oldest FROM deliveries
             WHERE state IN ('pending', 'sending') GROUP BY target ORDER BY target",
        )
        .fetch_all(&self.read)
        .await
        .map_err(classify)?;
        let stats = rows
            .iter()
            .map(|r| {
                Ok(QueueStat {
                    target: r.try_get("target")?,
                    depth: r.try_get::<i64, _>("depth")?.max(0) as u64,
                    oldest_created_at: r.try_get("oldest")?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()
            .map_err(classify)?;
        let sql = format!("SELECT COUNT(*) FROM deliveries WHERE {OPEN_DEAD}");
        let dead: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_one(&self.read)
            .await
            .map_err(classify)?;
        Ok((stats, dead.max(0) as u64))
    }

    pub(in crate::store) async fn save_enrichment(
        &self,
        event_id: &str,
        enrichment: &serde_json::Value,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE events SET enrichment = $2 WHERE id = $1")
            .bind(event_id)
            .bind(enrichment.to_string())
            .execute(&self.write)
            .await
            .map_err(classify)?;
        Ok(())
    }

    /// Deletes events received before `before_ms` whose every delivery is finished and needs
    /// nobody (delivered, dropped, or dead and replayed), with their deliveries and attempts;
    /// and dedup keys older than that. Returns how many events went.
    pub(in crate::store) async fn prune(&self, before_ms: i64) -> Result<u64, StoreError> {
        let mut total = 0;
        loop {
            let mut tx = self.write.begin().await.map_err(classify)?;
            let ids: Vec<String> = sqlx::query_scalar(
                "SELECT e.id FROM events e
                 WHERE e.received_at < $1 AND e.routed_at IS NOT NULL
                   AND NOT EXISTS (
                     SELECT 1 FROM deliveries d WHERE d.event_id = e.id
                       AND (d.state IN ('pending', 'sending')
                            OR (d.state = 'dead' AND d.dropped_at IS NULL
                                AND NOT EXISTS (SELECT 1 FROM deliveries r
                                                WHERE r.replay_of = d.id))))
                 ORDER BY e.received_at LIMIT $2",
            )
            .bind(before_ms)
            .bind(PRUNE_BATCH)
            .fetch_all(&mut *tx)
            .await
            .map_err(classify)?;
            for id in &ids {
                for sql in [
                    "DELETE FROM attempts WHERE delivery_id IN
                       (SELECT id FROM deliveries WHERE event_id = $1)",
                    // Replays point at their originals: children first.
                    "DELETE FROM deliveries WHERE event_id = $1 AND replay_of IS NOT NULL",
                    "DELETE FROM deliveries WHERE event_id = $1",
                    "DELETE FROM events WHERE id = $1",
                ] {
                    sqlx::query(sql)
                        .bind(id)
                        .execute(&mut *tx)
                        .await
                        .map_err(classify)?;
                }
            }
            sqlx::query("DELETE FROM dedup WHERE received_at < $1")
                .bind(before_ms)
                .execute(&mut *tx)
                .await
                .map_err(classify)?;
            tx.commit().await.map_err(classify)?;
            total += ids.len() as u64;
            if (ids.len() as i64) < PRUNE_BATCH {
                return Ok(total);
            }
        }
    }
}
