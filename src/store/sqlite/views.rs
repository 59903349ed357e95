//! What operators read, each on a read connection: the event listing with its filters and
//! page cursor, the dead letters, one delivery's story, every lane's health, and the queue
//! gauges of the metrics.
//!
//! A dead letter is "open" while it is dead, not dropped and not replayed.

use rusqlite::{Connection, OptionalExtension, params};

use super::classify;
use super::read::{DELIVERY_COLUMNS, attempts_of, delivery_record, stored_event};
use crate::store::rows::{CONVERSATION_COLUMNS, count, rules_of, to_u16};
use crate::store::{
    Conversation, ConversationFilter, DeadFilter, DeliveryDetails, DeliveryRecord, EventFilter,
    EventOutcome, EventSummary, QueueStat, StoreError, TargetHealth,
};

/// Rows of a dead letter that is still to be dealt with.
const OPEN_DEAD: &str = "state = 'dead' AND dropped_at IS NULL
     AND NOT EXISTS (SELECT 1 FROM deliveries r WHERE r.replay_of = deliveries.id)";

fn limit(n: usize) -> i64 {
    i64::try_from(n.max(1)).unwrap_or(i64::MAX)
}

/// The page of events `filter` asks for, chosen first (by the events' own index), then with
/// their deliveries counted: a page reads the deliveries of its own events only. (`+x.state`:
/// an event's deliveries are found by the event, never by walking every dead delivery.)
const LIST_EVENTS: &str = "WITH page AS (
         SELECT e.id, e.received_at, e.kind, e.company_id, e.company_name, e.routed_at,
                e.matched_rules
         FROM events e
         WHERE (?1 IS NULL OR e.kind = ?1)
           AND (?2 IS NULL OR e.company_name = ?2 OR e.company_id = ?2)
           AND (?3 IS NULL OR EXISTS (SELECT 1 FROM deliveries r
                                      WHERE r.event_id = e.id AND r.rule = ?3))
           AND (?4 IS NULL OR EXISTS (SELECT 1 FROM deliveries t
                                      WHERE t.event_id = e.id AND t.target = ?4))
           AND (?5 IS NULL OR e.received_at >= ?5)
           AND (?6 IS NULL OR e.received_at < ?6)
           AND (?7 IS NULL OR e.received_at < ?7 OR (e.received_at = ?7 AND e.id < ?8))
           AND CASE ?9
               WHEN 'delivered' THEN
                   EXISTS (SELECT 1 FROM deliveries x
                           WHERE x.event_id = e.id AND x.state = 'delivered')
                   AND NOT EXISTS (SELECT 1 FROM deliveries x
                                   WHERE x.event_id = e.id
                                     AND (x.state IN ('pending', 'sending')
                                          OR (x.state = 'dead' AND x.dropped_at IS NULL
                                              AND NOT EXISTS (SELECT 1 FROM deliveries r
                                                              WHERE r.replay_of = x.id))))
               WHEN 'waiting' THEN
                   EXISTS (SELECT 1 FROM deliveries x
                           WHERE x.event_id = e.id AND x.state IN ('pending', 'sending'))
               WHEN 'dead' THEN
                   EXISTS (SELECT 1 FROM deliveries x
                           WHERE x.event_id = e.id AND +x.state = 'dead'
                             AND x.dropped_at IS NULL
                             AND NOT EXISTS (SELECT 1 FROM deliveries r WHERE r.replay_of = x.id))
               WHEN 'none' THEN
                   e.routed_at IS NOT NULL
                   AND NOT EXISTS (SELECT 1 FROM deliveries x WHERE x.event_id = e.id)
               WHEN 'unrouted' THEN e.routed_at IS NULL
               ELSE 1 END
         ORDER BY e.received_at DESC, e.id DESC LIMIT ?10)
     SELECT p.id, p.received_at, p.kind, p.company_id, p.company_name, p.routed_at,
            COUNT(d.id),
            COALESCE(SUM(d.state = 'delivered'), 0),
            COALESCE(SUM(d.state IN ('pending', 'sending')), 0),
            COALESCE(SUM(d.state = 'dead' AND d.dropped_at IS NULL
                         AND NOT EXISTS (SELECT 1 FROM deliveries r WHERE r.replay_of = d.id)), 0),
            p.matched_rules,
            json_group_array(DISTINCT d.target) FILTER (WHERE d.target IS NOT NULL)
     FROM page p LEFT JOIN deliveries d ON d.event_id = p.id
     GROUP BY p.id ORDER BY p.received_at DESC, p.id DESC";

pub(in crate::store) fn list_events(
    conn: &Connection,
    filter: &EventFilter,
) -> Result<Vec<EventSummary>, StoreError> {
    let (before_at, before_id) = match &filter.before {
        Some((at, id)) => (Some(*at), Some(id.as_str())),
        None => (None, None),
    };
    let mut stmt = conn.prepare_cached(LIST_EVENTS).map_err(classify)?;
    let rows = stmt
        .query_map(
            params![
                filter.kind,
                filter.company,
                filter.rule,
                filter.target,
                filter.since_ms,
                filter.until_ms,
                before_at,
                before_id,
                filter.outcome.map(EventOutcome::as_str),
                limit(filter.limit),
            ],
            |r| {
                let summary = EventSummary {
                    id: r.get(0)?,
                    received_at: r.get(1)?,
                    kind: r.get(2)?,
                    company_id: r.get(3)?,
                    company_name: r.get(4)?,
                    routed_at: r.get(5)?,
                    deliveries: count(r.get(6)?),
                    delivered: count(r.get(7)?),
                    waiting: count(r.get(8)?),
                    dead: count(r.get(9)?),
                    rules: Vec::new(),
                    targets: Vec::new(),
                };
                let rules: Option<String> = r.get(10)?;
                let targets: String = r.get(11)?;
                Ok((summary, rules, targets))
            },
        )
        .map_err(classify)?;
    rows.map(|row| {
        let (mut summary, rules, targets) = row.map_err(classify)?;
        summary.rules = rules_of(&summary.id, rules.as_deref())?;
        summary.targets = targets_of(&summary.id, &targets)?;
        Ok(summary)
    })
    .collect()
}

/// The targets of an event's deliveries, from the JSON array the listing gathers, sorted.
fn targets_of(id: &str, json: &str) -> Result<Vec<String>, StoreError> {
    let mut targets: Vec<String> = serde_json::from_str(json)
        .map_err(|e| StoreError::Other(format!("event {id}: unreadable targets: {e}")))?;
    targets.sort_unstable();
    Ok(targets)
}

pub(in crate::store) fn dead_letters(
    conn: &Connection,
    filter: &DeadFilter,
) -> Result<Vec<DeliveryRecord>, StoreError> {
    let sql = format!(
        "SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE {OPEN_DEAD}
           AND (?1 IS NULL OR target = ?1) AND (?2 IS NULL OR finished_at >= ?2)
         ORDER BY id LIMIT ?3"
    );
    let mut stmt = conn.prepare_cached(&sql).map_err(classify)?;
    let rows = stmt
        .query_map(
            params![filter.target, filter.since_ms, limit(filter.limit)],
            delivery_record,
        )
        .map_err(classify)?;
    rows.map(|row| row.map_err(classify).and_then(|r| r))
        .collect()
}

pub(in crate::store) fn delivery(
    conn: &Connection,
    id: i64,
) -> Result<Option<DeliveryDetails>, StoreError> {
    let sql = format!(
        "SELECT {DELIVERY_COLUMNS}, dropped_at,
                (SELECT MIN(r.id) FROM deliveries r WHERE r.replay_of = deliveries.id)
         FROM deliveries WHERE id = ?1"
    );
    let row = conn
        .prepare_cached(&sql)
        .and_then(|mut stmt| {
            stmt.query_row([id], |r| {
                Ok((
                    delivery_record(r)?,
                    r.get::<_, Option<i64>>(15)?,
                    r.get::<_, Option<i64>>(16)?,
                ))
            })
            .optional()
        })
        .map_err(classify)?;
    let Some((delivery, dropped_at, replayed_by)) = row else {
        return Ok(None);
    };
    let delivery = delivery?;
    Ok(Some(DeliveryDetails {
        attempts: attempts_of(conn, id)?,
        event: stored_event(conn, &delivery.event_id)?,
        replayed_by,
        dropped_at,
        delivery,
    }))
}

pub(in crate::store) fn queue_stats(
    conn: &Connection,
) -> Result<(Vec<QueueStat>, u64), StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT target, COUNT(*), MIN(created_at) FROM deliveries
             WHERE state IN ('pending', 'sending') GROUP BY target ORDER BY target",
        )
        .map_err(classify)?;
    let stats = stmt
        .query_map([], |r| {
            Ok(QueueStat {
                target: r.get(0)?,
                depth: count(r.get(1)?),
                oldest_created_at: r.get(2)?,
            })
        })
        .map_err(classify)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(classify)?;
    let sql = format!("SELECT COUNT(*) FROM deliveries WHERE {OPEN_DEAD}");
    let dead: i64 = conn.query_row(&sql, [], |r| r.get(0)).map_err(classify)?;
    Ok((stats, count(dead)))
}

/// Every lane's health at `now_ms`, counting the deliveries delivered since `delivered_since`.
///
/// One row per target row: every target a delivery names has one (the writes that add
/// deliveries add it first, and nothing deletes it). A delivered attempt is the last of its
/// delivery and ends at the delivery's `finished_at`, so what was delivered is read from the
/// index of finished deliveries rather than from every attempt; the latest attempt is that of
/// the lane's latest delivered or dead delivery, or of one still in the lane.
pub(in crate::store) fn target_health(
    conn: &Connection,
    now_ms: i64,
    delivered_since: i64,
) -> Result<Vec<TargetHealth>, StoreError> {
    let sql = format!(
        "WITH lanes AS (
             SELECT target, COUNT(*) AS depth, MIN(created_at) AS oldest FROM deliveries
             WHERE state IN ('pending', 'sending') GROUP BY target),
         dead AS (
             SELECT target, COUNT(*) AS n FROM deliveries WHERE {OPEN_DEAD} GROUP BY target),
         recent AS (
             SELECT target, COUNT(*) AS n FROM deliveries
             WHERE state = 'delivered' AND finished_at >= ?1 GROUP BY target)
         SELECT t.name, COALESCE(l.depth, 0), l.oldest, COALESCE(dl.n, 0),
                (SELECT finished_at FROM deliveries WHERE state = 'delivered' AND target = t.name
                 ORDER BY finished_at DESC LIMIT 1),
                a.finished_at, a.outcome, a.status, a.error,
                CASE WHEN t.blocked_until > ?2 THEN t.blocked_until END, COALESCE(rc.n, 0)
         FROM targets t
         LEFT JOIN lanes l ON l.target = t.name
         LEFT JOIN dead dl ON dl.target = t.name
         LEFT JOIN recent rc ON rc.target = t.name
         LEFT JOIN attempts a ON a.rowid = (
             SELECT x.rowid FROM attempts x
             WHERE x.delivery_id IN (
                 SELECT id FROM (SELECT id FROM deliveries
                                 WHERE state = 'delivered' AND target = t.name
                                 ORDER BY finished_at DESC LIMIT 1)
                 UNION ALL
                 SELECT id FROM (SELECT id FROM deliveries
                                 WHERE state = 'dead' AND target = t.name
                                 ORDER BY finished_at DESC LIMIT 1)
                 UNION ALL
                 SELECT id FROM deliveries
                 WHERE target = t.name AND state IN ('pending', 'sending'))
             ORDER BY x.finished_at DESC LIMIT 1)"
    );
    let mut stmt = conn.prepare_cached(&sql).map_err(classify)?;
    let rows = stmt
        .query_map([delivered_since, now_ms], |r| {
            Ok(TargetHealth {
                target: r.get(0)?,
                depth: count(r.get(1)?),
                oldest_created_at: r.get(2)?,
                dead: count(r.get(3)?),
                last_delivered_at: r.get(4)?,
                last_attempt_at: r.get(5)?,
                last_outcome: r.get(6)?,
                last_status: to_u16(r.get(7)?),
                last_error: r.get(8)?,
                paused_until: r.get(9)?,
                delivered_last_hour: count(r.get(10)?),
            })
        })
        .map_err(classify)?;
    rows.collect::<Result<_, _>>().map_err(classify)
}

/// The conversations `filter` asks for, most recently updated first.
pub(in crate::store) fn conversations(
    conn: &Connection,
    filter: &ConversationFilter,
) -> Result<Vec<Conversation>, StoreError> {
    let sql = format!(
        "SELECT {CONVERSATION_COLUMNS} FROM conversations
         WHERE (?1 IS NULL OR object_key = ?1
                OR object_key IN ('corrective-action:' || ?1, 'audit:' || ?1))
           AND (?2 IS NULL OR target = ?2)
         ORDER BY updated_at DESC, target, object_key LIMIT ?3"
    );
    let limit = i64::try_from(filter.limit).unwrap_or(i64::MAX);
    let mut stmt = conn.prepare_cached(&sql).map_err(classify)?;
    let rows = stmt
        .query_map(
            params![filter.object, filter.target, limit],
            super::write::conversation_row,
        )
        .map_err(classify)?;
    rows.collect::<Result<_, _>>().map_err(classify)
}
