//! Reads: unrouted events for the router, one event's story for the CLI and admin, counts.
//!
//! All on the read pool (WAL readers never block the writer). [`StoredEventRow`] also decodes
//! the event a claim returns inside its write transaction.

use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use super::{SqliteStore, classify};
use crate::event::Event;
use crate::store::{
    AttemptRecord, DeliveryRecord, DeliveryState, EventDetails, StoreCounts, StoreError,
    StoredEvent,
};

pub(super) const DELIVERY_COLUMNS: &str = "id, event_id, rule, target, template, state, attempts,
     next_attempt_at, created_at, updated_at, finished_at, last_status, last_error, replay_of";

impl SqliteStore {
    pub(in crate::store) async fn unrouted(
        &self,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, received_at, body, enrichment FROM events WHERE routed_at IS NULL
             ORDER BY received_at, id LIMIT $1",
        )
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.read)
        .await
        .map_err(classify)?;
        rows.iter().map(stored_event).collect()
    }

    pub(in crate::store) async fn event(
        &self,
        id: &str,
    ) -> Result<Option<EventDetails>, StoreError> {
        let row = sqlx::query(
            "SELECT id, received_at, body, enrichment, routed_at, matched_rules FROM events WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.read)
        .await
        .map_err(classify)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let matched: Option<String> = row.try_get("matched_rules").map_err(classify)?;
        let matched_rules = match matched {
            Some(json) => serde_json::from_str(&json)
                .map_err(|e| StoreError::Other(format!("event {id}: unreadable rules: {e}")))?,
            None => Vec::new(),
        };
        let mut deliveries = Vec::new();
        for delivery in self.deliveries_of(id).await? {
            let attempts = self.attempts_of(delivery.id).await?;
            deliveries.push((delivery, attempts));
        }
        Ok(Some(EventDetails {
            event: stored_event(&row)?,
            routed_at: row.try_get("routed_at").map_err(classify)?,
            matched_rules,
            deliveries,
        }))
    }

    pub(in crate::store) async fn deliveries_by_state(
        &self,
        state: DeliveryState,
        limit: usize,
    ) -> Result<Vec<DeliveryRecord>, StoreError> {
        let sql = format!(
            "SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE state = $1 ORDER BY id LIMIT $2"
        );
        // The only variable part is our own column list; values are bound.
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(state.as_str())
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&self.read)
            .await
            .map_err(classify)?;
        rows.iter().map(delivery_record).collect()
    }

    pub(in crate::store) async fn counts(&self) -> Result<StoreCounts, StoreError> {
        let (events, unrouted): (i64, i64) = sqlx::query_as(
            "SELECT COUNT(*), COALESCE(SUM(CASE WHEN routed_at IS NULL THEN 1 ELSE 0 END), 0)
             FROM events",
        )
        .fetch_one(&self.read)
        .await
        .map_err(classify)?;
        let by_state: Vec<(String, i64)> =
            sqlx::query_as("SELECT state, COUNT(*) FROM deliveries GROUP BY state")
                .fetch_all(&self.read)
                .await
                .map_err(classify)?;
        let mut counts = StoreCounts {
            events: count(events),
            unrouted: count(unrouted),
            ..StoreCounts::default()
        };
        for (state, n) in by_state {
            let slot = match DeliveryState::parse(&state) {
                Some(DeliveryState::Pending) => &mut counts.pending,
                Some(DeliveryState::Sending) => &mut counts.sending,
                Some(DeliveryState::Delivered) => &mut counts.delivered,
                Some(DeliveryState::Dead) => &mut counts.dead,
                None => continue,
            };
            *slot = count(n);
        }
        Ok(counts)
    }

    async fn deliveries_of(&self, event_id: &str) -> Result<Vec<DeliveryRecord>, StoreError> {
        let sql =
            format!("SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE event_id = $1 ORDER BY id");
        // The only variable part is our own column list; values are bound.
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(event_id)
            .fetch_all(&self.read)
            .await
            .map_err(classify)?;
        rows.iter().map(delivery_record).collect()
    }

    pub(super) async fn attempts_of(
        &self,
        delivery_id: i64,
    ) -> Result<Vec<AttemptRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT attempt, started_at, finished_at, outcome, status, error, provider_id
             FROM attempts WHERE delivery_id = $1 ORDER BY attempt",
        )
        .bind(delivery_id)
        .fetch_all(&self.read)
        .await
        .map_err(classify)?;
        rows.iter().map(attempt_record).collect()
    }
}

pub(super) fn stored_event(row: &SqliteRow) -> Result<StoredEvent, StoreError> {
    StoredEventRow {
        id: row.try_get("id").map_err(classify)?,
        received_at: row.try_get("received_at").map_err(classify)?,
        body: row.try_get("body").map_err(classify)?,
        enrichment: row.try_get("enrichment").map_err(classify)?,
    }
    .decode()
}

/// An event's stored columns, before its body and enrichment are parsed.
pub(super) struct StoredEventRow {
    pub(super) id: String,
    pub(super) received_at: i64,
    pub(super) body: String,
    pub(super) enrichment: Option<String>,
}

impl StoredEventRow {
    pub(super) fn decode(self) -> Result<StoredEvent, StoreError> {
        let id = self.id;
        let unreadable = |e: String| StoreError::Other(format!("event {id}: unreadable body: {e}"));
        let value = serde_json::from_str(&self.body).map_err(|e| unreadable(e.to_string()))?;
        let event = Event::from_value(value).map_err(|e| unreadable(e.to_string()))?;
        let enrichment = match self.enrichment {
            Some(json) => Some(serde_json::from_str(&json).map_err(|e| unreadable(e.to_string()))?),
            None => None,
        };
        Ok(StoredEvent {
            received_at: self.received_at,
            id,
            event,
            enrichment,
        })
    }
}

pub(super) fn delivery_record(row: &SqliteRow) -> Result<DeliveryRecord, StoreError> {
    let state: String = row.try_get("state").map_err(classify)?;
    let attempts: i64 = row.try_get("attempts").map_err(classify)?;
    Ok(DeliveryRecord {
        id: row.try_get("id").map_err(classify)?,
        event_id: row.try_get("event_id").map_err(classify)?,
        rule: row.try_get("rule").map_err(classify)?,
        target: row.try_get("target").map_err(classify)?,
        template: row.try_get("template").map_err(classify)?,
        state: DeliveryState::parse(&state)
            .ok_or_else(|| StoreError::Other(format!("unknown delivery state {state:?}")))?,
        attempts: u32::try_from(attempts).unwrap_or(0),
        next_attempt_at: row.try_get("next_attempt_at").map_err(classify)?,
        created_at: row.try_get("created_at").map_err(classify)?,
        updated_at: row.try_get("updated_at").map_err(classify)?,
        finished_at: row.try_get("finished_at").map_err(classify)?,
        last_status: to_u16(row.try_get("last_status").map_err(classify)?),
        last_error: row.try_get("last_error").map_err(classify)?,
        replay_of: row.try_get("replay_of").map_err(classify)?,
    })
}

fn attempt_record(row: &SqliteRow) -> Result<AttemptRecord, StoreError> {
    let attempt: i64 = row.try_get("attempt").map_err(classify)?;
    Ok(AttemptRecord {
        attempt: u32::try_from(attempt).unwrap_or(0),
        started_at: row.try_get("started_at").map_err(classify)?,
        finished_at: row.try_get("finished_at").map_err(classify)?,
        outcome: row.try_get("outcome").map_err(classify)?,
        status: to_u16(row.try_get("status").map_err(classify)?),
        error: row.try_get("error").map_err(classify)?,
        provider_id: row.try_get("provider_id").map_err(classify)?,
    })
}

/// An HTTP status as stored (an integer column) back to its type; out of range is absent.
fn to_u16(status: Option<i64>) -> Option<u16> {
    status.and_then(|s| u16::try_from(s).ok())
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}
