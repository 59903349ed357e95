//! Operations for people and housekeeping: event listings, the dead-letter list with replay and
//! drop, an event routed again, queue statistics for metrics and the lanes' health, pauses and
//! releases of lanes, the saved enrichment of an event, and retention. Reads take a read
//! connection; writes run inside the writer's batch.
//!
//! A dead letter is "open" while it is dead, not dropped and not replayed. A replay is a new
//! pending row at the tail of its target's lane, pointing at the original (`replay_of`).

use rusqlite::types::Type;
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::classify;
use super::read::{DELIVERY_COLUMNS, attempts_of, delivery_record, stored_event};
use crate::store::rows::{count, merged_rules, rules_json, rules_of, to_u16};
use crate::store::{
    Claim, DeadFilter, DeadLetterError, DeliveryDetails, DeliveryRecord, EventFilter, EventOutcome,
    EventSummary, NewDelivery, QueueStat, RerouteError, StoreError, TargetHealth,
};

/// Rows of a dead letter that is still to be dealt with.
const OPEN_DEAD: &str = "state = 'dead' AND dropped_at IS NULL
     AND NOT EXISTS (SELECT 1 FROM deliveries r WHERE r.replay_of = deliveries.id)";

/// Events pruned per transaction, so pruning never holds the writer for long.
pub(in crate::store) const PRUNE_BATCH: i64 = 500;

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
                    r.get::<_, Option<i64>>(14)?,
                    r.get::<_, Option<i64>>(15)?,
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

/// Whether `id` is an open dead letter, read inside the writer's transaction.
fn open_dead_letter(
    tx: &Connection,
    id: i64,
) -> Result<Result<(), DeadLetterError>, rusqlite::Error> {
    let row = tx
        .prepare_cached(
            "SELECT state, dropped_at,
                    (SELECT MIN(r.id) FROM deliveries r WHERE r.replay_of = d.id)
             FROM deliveries d WHERE id = ?1",
        )?
        .query_row([id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Option<i64>>(1)?,
                r.get::<_, Option<i64>>(2)?,
            ))
        })
        .optional()?;
    let Some((state, dropped, replayed)) = row else {
        return Ok(Err(DeadLetterError::NotFound(id)));
    };
    Ok(match (state.as_str(), dropped, replayed) {
        ("dead", None, None) => Ok(()),
        ("dead", Some(_), _) => Err(DeadLetterError::Dropped(id)),
        ("dead", None, Some(by)) => Err(DeadLetterError::AlreadyReplayed(id, by)),
        _ => Err(DeadLetterError::NotDead(id)),
    })
}

pub(in crate::store) fn replay(
    tx: &Connection,
    id: i64,
    now_ms: i64,
) -> Result<Result<i64, DeadLetterError>, rusqlite::Error> {
    if let Err(e) = open_dead_letter(tx, id)? {
        return Ok(Err(e));
    }
    let new_id = tx
        .prepare_cached(
            "INSERT INTO deliveries (event_id, rule, target, template, state, attempts,
                                     next_attempt_at, created_at, updated_at, replay_of)
             SELECT event_id, rule, target, template, 'pending', 0, ?2, ?2, ?2, id
             FROM deliveries WHERE id = ?1
             RETURNING id",
        )?
        .query_row(params![id, now_ms], |r| r.get(0))?;
    Ok(Ok(new_id))
}

pub(in crate::store) fn drop_dead(
    tx: &Connection,
    id: i64,
    now_ms: i64,
) -> Result<Result<(), DeadLetterError>, rusqlite::Error> {
    if let Err(e) = open_dead_letter(tx, id)? {
        return Ok(Err(e));
    }
    tx.prepare_cached("UPDATE deliveries SET dropped_at = ?2, updated_at = ?2 WHERE id = ?1")?
        .execute(params![id, now_ms])?;
    Ok(Ok(()))
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

/// The `matched_rules` column of a row read inside the writer's transaction (unreadable JSON
/// is the column's conversion error).
fn stored_rules(
    r: &Row<'_>,
    column: usize,
    event_id: &str,
) -> Result<Vec<String>, rusqlite::Error> {
    let json: Option<String> = r.get(column)?;
    rules_of(event_id, json.as_deref())
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(column, Type::Text, Box::new(e)))
}

/// Routes a routed event again: `deliveries` join their lanes' tails as routing adds them, and
/// their rules join the event's matched rules. Returns the new deliveries' ids, in order.
pub(in crate::store) fn reroute(
    tx: &Connection,
    event_id: &str,
    deliveries: &[NewDelivery],
    now_ms: i64,
) -> Result<Result<Vec<i64>, RerouteError>, rusqlite::Error> {
    let row = tx
        .prepare_cached("SELECT routed_at, matched_rules FROM events WHERE id = ?1")?
        .query_row([event_id], |r| {
            Ok((r.get::<_, Option<i64>>(0)?, stored_rules(r, 1, event_id)?))
        })
        .optional()?;
    let rules = match row {
        None => return Ok(Err(RerouteError::NotFound(event_id.to_owned()))),
        Some((None, _)) => return Ok(Err(RerouteError::Unrouted(event_id.to_owned()))),
        Some((Some(_), rules)) => merged_rules(rules, deliveries),
    };
    tx.prepare_cached("UPDATE events SET matched_rules = ?2 WHERE id = ?1")?
        .execute(params![event_id, rules_json(&rules)])?;
    let (_, ids) = super::write::insert_deliveries(tx, event_id, deliveries, now_ms)?;
    Ok(Ok(ids))
}

pub(in crate::store) fn save_enrichment(
    tx: &Connection,
    event_id: &str,
    enrichment: &str,
) -> Result<(), rusqlite::Error> {
    tx.prepare_cached("UPDATE events SET enrichment = ?2 WHERE id = ?1")?
        .execute(params![event_id, enrichment])?;
    Ok(())
}

pub(in crate::store) fn block_target(
    tx: &Connection,
    target: &str,
    until_ms: i64,
) -> Result<(), rusqlite::Error> {
    tx.prepare_cached(
        "INSERT INTO targets (name, blocked_until) VALUES (?1, ?2)
         ON CONFLICT (name) DO UPDATE
             SET blocked_until = MAX(targets.blocked_until, excluded.blocked_until)",
    )?
    .execute(params![target, until_ms])?;
    Ok(())
}

/// A claim given back unsent: pending again at once, the attempt not counted.
pub(in crate::store) fn release(tx: &Connection, claim: &Claim) -> Result<bool, rusqlite::Error> {
    let released = tx
        .prepare_cached(
            "UPDATE deliveries
             SET state = 'pending', lease_owner = NULL, lease_until = NULL,
                 attempts = attempts - 1
             WHERE id = ?1 AND lease_seq = ?2 AND state = 'sending'",
        )?
        .execute(params![claim.delivery_id, claim.lease_seq])?;
    Ok(released == 1)
}

/// One round of retention: up to [`PRUNE_BATCH`] events received before `before_ms` whose every
/// delivery is finished and needs nobody (delivered, dropped, or dead and replayed), with their
/// deliveries and attempts; and dedup keys older than that. Returns how many events went.
pub(in crate::store) fn prune_batch(
    tx: &Connection,
    before_ms: i64,
) -> Result<u64, rusqlite::Error> {
    let ids: Vec<String> = tx
        .prepare_cached(
            "SELECT e.id FROM events e
             WHERE e.received_at < ?1 AND e.routed_at IS NOT NULL
               AND NOT EXISTS (
                 SELECT 1 FROM deliveries d WHERE d.event_id = e.id
                   AND (d.state IN ('pending', 'sending')
                        OR (d.state = 'dead' AND d.dropped_at IS NULL
                            AND NOT EXISTS (SELECT 1 FROM deliveries r
                                            WHERE r.replay_of = d.id))))
             ORDER BY e.received_at LIMIT ?2",
        )?
        .query_map(params![before_ms, PRUNE_BATCH], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for id in &ids {
        for sql in [
            "DELETE FROM attempts WHERE delivery_id IN
               (SELECT id FROM deliveries WHERE event_id = ?1)",
            // Replays point at their originals: children first.
            "DELETE FROM deliveries WHERE event_id = ?1 AND replay_of IS NOT NULL",
            "DELETE FROM deliveries WHERE event_id = ?1",
            "DELETE FROM events WHERE id = ?1",
        ] {
            tx.prepare_cached(sql)?.execute([id])?;
        }
    }
    tx.prepare_cached("DELETE FROM dedup WHERE received_at < ?1")?
        .execute([before_ms])?;
    Ok(ids.len() as u64)
}
