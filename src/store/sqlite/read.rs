//! Reads: the unrouted events for the router, one event's story for the CLI and admin, the
//! lanes' heads and counts. Each runs on tokio's blocking threads with a read connection of
//! its own (kept for the next read), so a read never blocks the writer or the async workers.

use std::path::PathBuf;
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::{classify, connect};
use crate::store::rows::{StoredEventRow, count, rules_of, to_u16};
use crate::store::{
    AttemptRecord, DeliveryRecord, DeliveryState, EventDetails, StoreCounts, StoreError,
    StoredEvent,
};

/// Idle read connections kept for the next read.
const IDLE_CONNECTIONS: usize = 4;

/// The read connections.
pub(in crate::store) struct Reads {
    file: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl Reads {
    pub(in crate::store) fn new(file: PathBuf) -> Reads {
        Reads {
            file,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// Runs `read` with a read connection, off the async workers.
    pub(in crate::store) async fn run<T: Send + 'static>(
        &self,
        read: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let conn = match self.take() {
            Some(conn) => conn,
            None => {
                let file = self.file.clone();
                spawn(move || connect(&file, false).map_err(classify)).await??
            }
        };
        let (conn, result) = spawn(move || {
            let result = read(&conn);
            (conn, result)
        })
        .await?;
        self.give_back(conn);
        result
    }

    fn take(&self) -> Option<Connection> {
        self.idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .pop()
    }

    fn give_back(&self, conn: Connection) {
        let mut idle = self
            .idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if idle.len() < IDLE_CONNECTIONS {
            idle.push(conn);
        }
    }
}

async fn spawn<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::Other(format!("a store read did not complete: {e}")))
}

pub(in crate::store) const DELIVERY_COLUMNS: &str =
    "id, event_id, rule, target, template, state, attempts,
     next_attempt_at, created_at, updated_at, finished_at, last_status, last_error, replay_of,
     object_key";

pub(in crate::store) fn unrouted(
    conn: &Connection,
    limit: usize,
) -> Result<Vec<StoredEvent>, StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT id, received_at, body, enrichment FROM events WHERE routed_at IS NULL
             ORDER BY received_at, id LIMIT ?1",
        )
        .map_err(classify)?;
    let rows = stmt
        .query_map([i64::try_from(limit).unwrap_or(i64::MAX)], event_row)
        .map_err(classify)?;
    rows.map(|row| row.map_err(classify)?.decode()).collect()
}

/// Up to `limit` events about `object` received before `(received_at, id)`, newest first.
pub(in crate::store) fn earlier_events(
    conn: &Connection,
    object: &str,
    before: (i64, &str),
    limit: usize,
) -> Result<Vec<StoredEvent>, StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT id, received_at, body, enrichment FROM events
             WHERE object_key = ?1 AND received_at <= ?2 AND (received_at < ?2 OR id < ?3)
             ORDER BY received_at DESC, id DESC LIMIT ?4",
        )
        .map_err(classify)?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = stmt
        .query_map(params![object, before.0, before.1, limit], event_row)
        .map_err(classify)?;
    rows.map(|row| row.map_err(classify)?.decode()).collect()
}

/// `id, received_at, body, enrichment` as a row to decode.
pub(in crate::store) fn event_row(r: &Row<'_>) -> Result<StoredEventRow, rusqlite::Error> {
    Ok(StoredEventRow {
        id: r.get(0)?,
        received_at: r.get(1)?,
        body: r.get(2)?,
        enrichment: r.get(3)?,
    })
}

pub(in crate::store) fn stored_event(
    conn: &Connection,
    id: &str,
) -> Result<StoredEvent, StoreError> {
    conn.prepare_cached("SELECT id, received_at, body, enrichment FROM events WHERE id = ?1")
        .and_then(|mut stmt| stmt.query_row([id], event_row))
        .map_err(classify)?
        .decode()
}

pub(in crate::store) fn event(
    conn: &Connection,
    id: &str,
) -> Result<Option<EventDetails>, StoreError> {
    let row = conn
        .prepare_cached(
            "SELECT id, received_at, body, enrichment, routed_at, matched_rules
             FROM events WHERE id = ?1",
        )
        .and_then(|mut stmt| {
            stmt.query_row([id], |r| {
                Ok((
                    event_row(r)?,
                    r.get::<_, Option<i64>>(4)?,
                    r.get::<_, Option<String>>(5)?,
                ))
            })
            .optional()
        })
        .map_err(classify)?;
    let Some((event_row, routed_at, matched)) = row else {
        return Ok(None);
    };
    let matched_rules = rules_of(id, matched.as_deref())?;
    let mut deliveries = Vec::new();
    for delivery in deliveries_where(conn, "event_id = ?1", params![id])? {
        let attempts = attempts_of(conn, delivery.id)?;
        deliveries.push((delivery, attempts));
    }
    Ok(Some(EventDetails {
        event: event_row.decode()?,
        routed_at,
        matched_rules,
        deliveries,
    }))
}

/// Deliveries matching `filter` (our own SQL, values bound), in id order.
pub(in crate::store) fn deliveries_where(
    conn: &Connection,
    filter: &str,
    values: impl rusqlite::Params,
) -> Result<Vec<DeliveryRecord>, StoreError> {
    let sql = format!("SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE {filter} ORDER BY id");
    let mut stmt = conn.prepare_cached(&sql).map_err(classify)?;
    let rows = stmt.query_map(values, delivery_record).map_err(classify)?;
    rows.map(|row| row.map_err(classify).and_then(|r| r))
        .collect()
}

pub(in crate::store) fn deliveries_by_state(
    conn: &Connection,
    state: DeliveryState,
    limit: usize,
) -> Result<Vec<DeliveryRecord>, StoreError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let sql =
        format!("SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE state = ?1 ORDER BY id LIMIT ?2");
    let mut stmt = conn.prepare_cached(&sql).map_err(classify)?;
    let rows = stmt
        .query_map(params![state.as_str(), limit], delivery_record)
        .map_err(classify)?;
    rows.map(|row| row.map_err(classify).and_then(|r| r))
        .collect()
}

/// A `DELIVERY_COLUMNS` row. An unknown state is a conversion error.
pub(in crate::store) fn delivery_record(
    r: &Row<'_>,
) -> Result<Result<DeliveryRecord, StoreError>, rusqlite::Error> {
    let state: String = r.get(5)?;
    let Some(state) = DeliveryState::parse(&state) else {
        return Ok(Err(StoreError::Other(format!(
            "unknown delivery state {state:?}"
        ))));
    };
    let attempts: i64 = r.get(6)?;
    Ok(Ok(DeliveryRecord {
        id: r.get(0)?,
        event_id: r.get(1)?,
        rule: r.get(2)?,
        target: r.get(3)?,
        template: r.get(4)?,
        state,
        attempts: u32::try_from(attempts).unwrap_or(0),
        next_attempt_at: r.get(7)?,
        created_at: r.get(8)?,
        updated_at: r.get(9)?,
        finished_at: r.get(10)?,
        last_status: to_u16(r.get(11)?),
        last_error: r.get(12)?,
        replay_of: r.get(13)?,
        object_key: r.get(14)?,
    }))
}

pub(in crate::store) fn attempts_of(
    conn: &Connection,
    delivery_id: i64,
) -> Result<Vec<AttemptRecord>, StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT attempt, started_at, finished_at, outcome, status, error, provider_id,
                    action
             FROM attempts WHERE delivery_id = ?1 ORDER BY attempt",
        )
        .map_err(classify)?;
    let rows = stmt
        .query_map([delivery_id], |r| {
            let attempt: i64 = r.get(0)?;
            Ok(AttemptRecord {
                attempt: u32::try_from(attempt).unwrap_or(0),
                started_at: r.get(1)?,
                finished_at: r.get(2)?,
                outcome: r.get(3)?,
                status: to_u16(r.get(4)?),
                error: r.get(5)?,
                provider_id: r.get(6)?,
                action: r.get(7)?,
            })
        })
        .map_err(classify)?;
    rows.collect::<Result<_, _>>().map_err(classify)
}

pub(in crate::store) fn counts(conn: &Connection) -> Result<StoreCounts, StoreError> {
    let (events, unrouted): (i64, i64) = conn
        .query_row(
            "SELECT COUNT(*), COALESCE(SUM(CASE WHEN routed_at IS NULL THEN 1 ELSE 0 END), 0)
             FROM events",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .map_err(classify)?;
    let mut counts = StoreCounts {
        events: count(events),
        unrouted: count(unrouted),
        ..StoreCounts::default()
    };
    let mut stmt = conn
        .prepare_cached("SELECT state, COUNT(*) FROM deliveries GROUP BY state")
        .map_err(classify)?;
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
        .map_err(classify)?;
    for row in rows {
        let (state, n) = row.map_err(classify)?;
        counts.add_deliveries(&state, count(n));
    }
    Ok(counts)
}

/// When the head of `target`'s lane becomes claimable (pending: its next attempt; in flight:
/// its lease's end; never before a pause ends), or `None` for an empty lane.
pub(in crate::store) fn next_due_at(
    conn: &Connection,
    target: &str,
) -> Result<Option<i64>, StoreError> {
    conn.prepare_cached(
        "SELECT CASE d.state WHEN 'sending' THEN COALESCE(d.lease_until, 0)
                             ELSE d.next_attempt_at END,
                COALESCE(t.blocked_until, 0)
         FROM deliveries d LEFT JOIN targets t ON t.name = d.target
         WHERE d.id = (SELECT id FROM deliveries
                       WHERE target = ?1 AND state IN ('pending', 'sending')
                       ORDER BY id LIMIT 1)",
    )
    .and_then(|mut stmt| {
        stmt.query_row([target], |r| {
            Ok(r.get::<_, i64>(0)?.max(r.get::<_, i64>(1)?))
        })
        .optional()
    })
    .map_err(classify)
}

/// The earliest moment any unfinished delivery of `target` becomes claimable (a lane that is
/// not ordered does not wait for its head), or `None`.
pub(in crate::store) fn next_ready_at(
    conn: &Connection,
    target: &str,
) -> Result<Option<i64>, StoreError> {
    // A delivery held by an earlier one of its conversation is not counted: it becomes
    // claimable after that one, whose own moment is.
    conn.prepare_cached(concat!(
        "SELECT MAX(MIN(CASE d.state WHEN 'sending' THEN COALESCE(d.lease_until, 0)
                                     ELSE d.next_attempt_at END),
                    COALESCE((SELECT blocked_until FROM targets WHERE name = ?1), 0))
         FROM deliveries d WHERE d.target = ?1 AND d.state IN ('pending', 'sending') AND ",
        super::write::object_free!()
    ))
    .and_then(|mut stmt| stmt.query_row([target], |r| r.get::<_, Option<i64>>(0)))
    .map_err(classify)
}

/// Targets that have unfinished deliveries, by name.
pub(in crate::store) fn targets_with_work(conn: &Connection) -> Result<Vec<String>, StoreError> {
    // A skip scan of the lane index: one look-up per target with work, instead of reading
    // every unfinished delivery (a backlog of 100 000 rows, with a temporary B-tree for the
    // DISTINCT).
    let mut stmt = conn
        .prepare_cached(
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
        .map_err(classify)?;
    let rows = stmt.query_map([], |r| r.get(0)).map_err(classify)?;
    rows.collect::<Result<_, _>>().map_err(classify)
}
