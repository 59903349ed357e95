//! The writes of people and housekeeping, inside the writer's batch: replaying and dropping
//! dead letters, an event routed again, pauses and releases of lanes, the saved enrichment of
//! an event, and retention. What operators read is in `views`.
//!
//! A dead letter is "open" while it is dead, not dropped and not replayed. A replay is a new
//! pending row at the tail of its target's lane, pointing at the original (`replay_of`).

use rusqlite::types::Type;
use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::store::rows::{OPEN_CONVERSATION_KEEP_MS, merged_rules, rules_json, rules_of};
use crate::store::{Claim, DeadLetterError, NewDelivery, RerouteError};

/// Events pruned per transaction, so pruning never holds the writer for long.
pub(in crate::store) const PRUNE_BATCH: i64 = 500;

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
                                     next_attempt_at, created_at, updated_at, replay_of,
                                     object_key, step)
             SELECT event_id, rule, target, template, 'pending', 0, ?2, ?2, ?2, id,
                    object_key, step
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
    // Conversations closed before the cutoff, and open ones silent for a year past it.
    let idle = before_ms.saturating_sub(OPEN_CONVERSATION_KEEP_MS);
    tx.prepare_cached(
        "DELETE FROM conversations
         WHERE (closed_at IS NOT NULL AND closed_at < ?1) OR updated_at < ?2",
    )?
    .execute([before_ms, idle])?;
    Ok(ids.len() as u64)
}
