//! Reads, each on a connection of the pool: the unrouted events for the router (leased to it,
//! the one write here), one event's story, the lanes' heads and counts. What operators list
//! is in `views`.
//! The SQLite engine's queries in PostgreSQL's dialect, decoded into the same rows.

use deadpool_postgres::Client;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::{big, classify};
use crate::store::rows::{StoredEventRow, count, rules_of, to_u16};
use crate::store::{
    AttemptRecord, DeliveryRecord, DeliveryState, EventDetails, StoreCounts, StoreError,
    StoredEvent,
};

pub(super) type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

/// Runs `sql` (prepared once per connection) and returns its rows.
pub(super) async fn rows(
    conn: &Client,
    sql: &str,
    params: Params<'_>,
) -> Result<Vec<Row>, StoreError> {
    let stmt = conn.prepare_cached(sql).await.map_err(classify)?;
    conn.query(&stmt, params).await.map_err(classify)
}

pub(super) async fn row(
    conn: &Client,
    sql: &str,
    params: Params<'_>,
) -> Result<Option<Row>, StoreError> {
    Ok(rows(conn, sql, params).await?.into_iter().next())
}

pub(super) const DELIVERY_COLUMNS: &str = "id, event_id, rule, target, template, state, attempts,
     next_attempt_at, created_at, updated_at, finished_at, last_status, last_error, replay_of,
     object_key";

/// A dead letter that is still to be dealt with: dead, not dropped, not replayed.
pub(super) const OPEN_DEAD: &str = "state = 'dead' AND dropped_at IS NULL
     AND NOT EXISTS (SELECT 1 FROM deliveries r WHERE r.replay_of = deliveries.id)";

pub(super) fn limit(n: usize) -> i64 {
    big(n.max(1))
}

fn event_row(r: &Row) -> StoredEventRow {
    StoredEventRow {
        id: r.get(0),
        received_at: r.get(1),
        body: r.get(2),
        enrichment: r.get(3),
    }
}

/// How long a relay's router holds the unrouted events it took: their lookups and routing
/// take seconds; a relay that dies leaves its events to the others after this.
pub(super) const ROUTING_LEASE_MS: i64 = 60_000;

/// The key of the advisory lock a router's claim holds (any constant; "mqa-rout" in ASCII).
const ROUTER_CLAIM_LOCK: i64 = 0x6d71_612d_726f_7574;

/// The claim of [`claim_unrouted`]. The ids are picked into an array: the pick runs once, so
/// its limit holds (a subquery in `IN` may be run again by the plan, taking more rows than
/// asked for).
const CLAIM_UNROUTED: &str = "UPDATE events SET routing_owner = $1, routing_until = $2
         WHERE id = ANY (ARRAY(
                 SELECT id FROM events e
                 WHERE routed_at IS NULL
                   AND (routing_until IS NULL OR routing_until <= $3 OR routing_owner = $1)
                   AND NOT EXISTS (
                       SELECT 1 FROM events o
                       WHERE o.object_key = e.object_key
                         AND o.received_at <= e.received_at
                         AND (o.received_at < e.received_at OR o.id < e.id)
                         AND o.routed_at IS NULL
                         AND o.routing_owner <> $1 AND o.routing_until > $3)
                 ORDER BY received_at, id LIMIT $4
                 FOR UPDATE SKIP LOCKED))
         RETURNING id, received_at, body, enrichment";

/// Up to `n` unrouted events, oldest first, that no other relay's router holds, leased to `me`
/// for [`ROUTING_LEASE_MS`] (its own earlier leases included, so a batch that failed is taken
/// again): of several relays, one looks each event up and routes it. The claims of all relays
/// go one at a time, and locked rows are skipped. An event whose object has an earlier
/// event another relay's router holds waits for it: the router compares an update with the
/// earlier events as routed (with their lookups), and routes an object's events in order.
/// Marking an event routed stays once-only by itself (`routed_at IS NULL`), whoever holds its
/// lease.
pub(super) async fn claim_unrouted(
    conn: &mut Client,
    me: &str,
    n: usize,
    now_ms: i64,
) -> Result<Vec<StoredEvent>, StoreError> {
    let until = now_ms.saturating_add(ROUTING_LEASE_MS);
    // One router's claim at a time, each after the last one committed: the check for an
    // earlier event held by another relay reads the statement's snapshot, which would not
    // see leases another claim is taking at the same moment.
    let tx = conn.transaction().await.map_err(classify)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&ROUTER_CLAIM_LOCK])
        .await
        .map_err(classify)?;
    let stmt = tx.prepare_cached(CLAIM_UNROUTED).await.map_err(classify)?;
    let found = tx
        .query(&stmt, &[&me, &until, &now_ms, &big(n)])
        .await
        .map_err(classify)?;
    tx.commit().await.map_err(classify)?;
    let mut events = found
        .iter()
        .map(|r| event_row(r).decode())
        .collect::<Result<Vec<_>, _>>()?;
    // RETURNING gives no order.
    events.sort_by(|a, b| (a.received_at, &a.id).cmp(&(b.received_at, &b.id)));
    Ok(events)
}

/// Extends `me`'s leases on those of `ids` it still holds and has not routed, by
/// [`ROUTING_LEASE_MS`] from now (a batch whose lookups take long).
pub(super) async fn renew_unrouted(
    conn: &Client,
    me: &str,
    ids: &[String],
    now_ms: i64,
) -> Result<(), StoreError> {
    if ids.is_empty() {
        return Ok(());
    }
    let until = now_ms.saturating_add(ROUTING_LEASE_MS);
    conn.execute(
        "UPDATE events SET routing_until = $3
         WHERE id = ANY ($2) AND routing_owner = $1 AND routed_at IS NULL",
        &[&me, &ids, &until],
    )
    .await
    .map_err(classify)?;
    Ok(())
}

/// Gives back the leases of `me`'s router on events it did not route (a relay stopping): the
/// other relays take them at once instead of after [`ROUTING_LEASE_MS`].
pub(super) async fn release_unrouted(conn: &Client, me: &str) -> Result<u64, StoreError> {
    conn.execute(
        "UPDATE events SET routing_owner = NULL, routing_until = NULL
         WHERE routing_owner = $1 AND routed_at IS NULL",
        &[&me],
    )
    .await
    .map_err(classify)
}

/// Up to `n` events about `object` received before `(received_at, id)`, newest first.
pub(super) async fn earlier_events(
    conn: &Client,
    object: &str,
    before: (i64, &str),
    n: usize,
) -> Result<Vec<StoredEvent>, StoreError> {
    let found = rows(
        conn,
        "SELECT id, received_at, body, enrichment FROM events
         WHERE object_key = $1 AND received_at <= $2 AND (received_at < $2 OR id < $3)
         ORDER BY received_at DESC, id DESC LIMIT $4",
        &[&object, &before.0, &before.1, &big(n)],
    )
    .await?;
    found.iter().map(|r| event_row(r).decode()).collect()
}

pub(super) async fn stored_event(conn: &Client, id: &str) -> Result<StoredEvent, StoreError> {
    let found = row(
        conn,
        "SELECT id, received_at, body, enrichment FROM events WHERE id = $1",
        &[&id],
    )
    .await?;
    match found {
        Some(r) => event_row(&r).decode(),
        None => Err(StoreError::Other(format!("no event with id {id}"))),
    }
}

pub(super) async fn event(conn: &Client, id: &str) -> Result<Option<EventDetails>, StoreError> {
    let found = row(
        conn,
        "SELECT id, received_at, body, enrichment, routed_at, matched_rules
         FROM events WHERE id = $1",
        &[&id],
    )
    .await?;
    let Some(r) = found else {
        return Ok(None);
    };
    let matched: Option<String> = r.get(5);
    let matched_rules = rules_of(id, matched.as_deref())?;
    let sql = format!("SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE event_id = $1 ORDER BY id");
    let mut deliveries = Vec::new();
    for d in rows(conn, &sql, &[&id]).await? {
        let delivery = delivery_record(&d)?;
        let attempts = attempts_of(conn, delivery.id).await?;
        deliveries.push((delivery, attempts));
    }
    Ok(Some(EventDetails {
        event: event_row(&r).decode()?,
        routed_at: r.get(4),
        matched_rules,
        deliveries,
    }))
}

pub(super) async fn deliveries_by_state(
    conn: &Client,
    state: DeliveryState,
    n: usize,
) -> Result<Vec<DeliveryRecord>, StoreError> {
    let sql =
        format!("SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE state = $1 ORDER BY id LIMIT $2");
    let found = rows(conn, &sql, &[&state.as_str(), &big(n)]).await?;
    found.iter().map(delivery_record).collect()
}

/// A `DELIVERY_COLUMNS` row. An unknown state is an error.
pub(super) fn delivery_record(r: &Row) -> Result<DeliveryRecord, StoreError> {
    let state: String = r.get(5);
    let Some(state) = DeliveryState::parse(&state) else {
        return Err(StoreError::Other(format!(
            "unknown delivery state {state:?}"
        )));
    };
    let attempts: i64 = r.get(6);
    Ok(DeliveryRecord {
        id: r.get(0),
        event_id: r.get(1),
        rule: r.get(2),
        target: r.get(3),
        template: r.get(4),
        state,
        attempts: u32::try_from(attempts).unwrap_or(0),
        next_attempt_at: r.get(7),
        created_at: r.get(8),
        updated_at: r.get(9),
        finished_at: r.get(10),
        last_status: to_u16(r.get(11)),
        last_error: r.get(12),
        replay_of: r.get(13),
        object_key: r.get(14),
    })
}

pub(super) async fn attempts_of(
    conn: &Client,
    delivery_id: i64,
) -> Result<Vec<AttemptRecord>, StoreError> {
    let found = rows(
        conn,
        "SELECT attempt, started_at, finished_at, outcome, status, error, provider_id, action
         FROM attempts WHERE delivery_id = $1 ORDER BY attempt",
        &[&delivery_id],
    )
    .await?;
    Ok(found
        .iter()
        .map(|r| AttemptRecord {
            attempt: u32::try_from(r.get::<_, i64>(0)).unwrap_or(0),
            started_at: r.get(1),
            finished_at: r.get(2),
            outcome: r.get(3),
            status: to_u16(r.get(4)),
            error: r.get(5),
            provider_id: r.get(6),
            action: r.get(7),
        })
        .collect())
}

/// One round trip on a pooled connection (readiness).
pub(super) async fn ping(conn: &Client) -> Result<(), StoreError> {
    conn.simple_query("SELECT 1").await.map_err(classify)?;
    Ok(())
}

pub(super) async fn counts(conn: &Client) -> Result<StoreCounts, StoreError> {
    let totals = row(
        conn,
        "SELECT COUNT(*), COUNT(*) FILTER (WHERE routed_at IS NULL) FROM events",
        &[],
    )
    .await?;
    let mut counts = StoreCounts::default();
    if let Some(r) = totals {
        counts.events = count(r.get(0));
        counts.unrouted = count(r.get(1));
    }
    let by_state = rows(
        conn,
        "SELECT state, COUNT(*) FROM deliveries GROUP BY state",
        &[],
    )
    .await?;
    for r in by_state {
        let state: String = r.get(0);
        counts.add_deliveries(&state, count(r.get(1)));
    }
    Ok(counts)
}

/// When the head of `target`'s lane becomes claimable (pending: its next attempt; in flight:
/// its lease's end; never before a pause ends, nor while another of its deliveries is in
/// flight, as `CLAIM_HEAD` waits for that), or `None` for an empty lane.
pub(super) async fn next_due_at(conn: &Client, target: &str) -> Result<Option<i64>, StoreError> {
    let found = row(
        conn,
        "SELECT GREATEST(CASE d.state WHEN 'sending' THEN COALESCE(d.lease_until, 0)
                                      ELSE d.next_attempt_at END,
                         COALESCE(t.blocked_until, 0),
                         COALESCE((SELECT MAX(s.lease_until) FROM deliveries s
                                   WHERE s.target = $1 AND s.state = 'sending'), 0))
         FROM deliveries d LEFT JOIN targets t ON t.name = d.target
         WHERE d.id = (SELECT id FROM deliveries
                       WHERE target = $1 AND state IN ('pending', 'sending')
                       ORDER BY id LIMIT 1)",
        &[&target],
    )
    .await?;
    Ok(found.map(|r| r.get(0)))
}

/// The earliest moment any unfinished delivery of `target` becomes claimable, or `None`.
pub(super) async fn next_ready_at(conn: &Client, target: &str) -> Result<Option<i64>, StoreError> {
    let found = row(
        conn,
        // A delivery held by an earlier one of its conversation is not counted: it becomes
        // claimable after that one, whose own moment is.
        concat!(
            "SELECT GREATEST(MIN(CASE d.state WHEN 'sending' THEN COALESCE(d.lease_until, 0)
                                              ELSE d.next_attempt_at END),
                             COALESCE((SELECT blocked_until FROM targets WHERE name = $1), 0))
             FROM deliveries d WHERE d.target = $1 AND d.state IN ('pending', 'sending') AND ",
            super::write::object_free!(),
            "
             HAVING COUNT(*) > 0"
        ),
        &[&target],
    )
    .await?;
    Ok(found.map(|r| r.get(0)))
}

/// Targets that have unfinished deliveries, by name (a skip scan of the lane index).
pub(super) async fn targets_with_work(conn: &Client) -> Result<Vec<String>, StoreError> {
    let found = rows(
        conn,
        "WITH RECURSIVE lanes(target) AS (
             SELECT (SELECT MIN(target) FROM deliveries WHERE state IN ('pending', 'sending'))
             UNION ALL
             SELECT (SELECT MIN(target) FROM deliveries
                     WHERE state IN ('pending', 'sending') AND target > lanes.target)
             FROM lanes WHERE lanes.target IS NOT NULL
         )
         SELECT target FROM lanes WHERE target IS NOT NULL",
        &[],
    )
    .await?;
    Ok(found.iter().map(|r| r.get(0)).collect())
}
