//! The occasional writes of operators and housekeeping, each in a transaction of its own on a
//! connection of the pool (the writer's group commit is for the hot path): releasing a claim,
//! pausing a lane, keeping an event's enrichment, replaying and dropping dead letters, routing
//! an event again, and retention. A dead letter being replayed or dropped is locked first, so
//! two operators (or two relays) cannot both replay it; an event routed again likewise, so
//! two reroutes of it both keep their rules.

use deadpool_postgres::{Client, Transaction};

use super::classify;
use super::listen::NOTIFY;
use super::write::{self, BLOCK, Statements};
use crate::store::rows::{OPEN_CONVERSATION_KEEP_MS, merged_rules, rules_json, rules_of};
use crate::store::{Claim, DeadLetterError, NewDelivery, RerouteError, StoreError};

/// Events pruned per transaction, so retention never holds locks for long.
pub(super) const PRUNE_BATCH: i64 = 500;

/// The key of the advisory lock a retention round holds, so one relay at a time prunes
/// ("mqa-prun" in ASCII).
const PRUNE_LOCK: i64 = 0x6d71_612d_7072_756e;

async fn execute(
    tx: &Transaction<'_>,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<u64, StoreError> {
    let stmt = tx.prepare_cached(sql).await.map_err(classify)?;
    tx.execute(&stmt, params).await.map_err(classify)
}

/// Tells the other relays that `target`'s lane has work, when `tx` commits.
async fn notify(tx: &Transaction<'_>, me: &str, target: &str) -> Result<(), StoreError> {
    let stmt = tx.prepare_cached(NOTIFY).await.map_err(classify)?;
    tx.query(&stmt, &[&me, &[target].as_slice()])
        .await
        .map_err(classify)?;
    Ok(())
}

/// Gives an unsent claim back (a relay shutting down): another relay may take it at once.
pub(super) async fn release(
    conn: &mut Client,
    me: &str,
    claim: &Claim,
) -> Result<bool, StoreError> {
    let tx = conn.transaction().await.map_err(classify)?;
    let released = execute(
        &tx,
        "UPDATE deliveries
         SET state = 'pending', lease_owner = NULL, lease_until = NULL, attempts = attempts - 1
         WHERE id = $1 AND lease_seq = $2 AND state = 'sending'",
        &[&claim.delivery_id, &claim.lease_seq],
    )
    .await?;
    if released == 1 {
        notify(&tx, me, &claim.target).await?;
    }
    tx.commit().await.map_err(classify)?;
    Ok(released == 1)
}

pub(super) async fn block_target(
    conn: &mut Client,
    target: &str,
    until_ms: i64,
) -> Result<(), StoreError> {
    let tx = conn.transaction().await.map_err(classify)?;
    execute(&tx, BLOCK, &[&target, &until_ms]).await?;
    tx.commit().await.map_err(classify)
}

pub(super) async fn save_enrichment(
    conn: &mut Client,
    event_id: &str,
    json: &str,
) -> Result<(), StoreError> {
    let tx = conn.transaction().await.map_err(classify)?;
    execute(
        &tx,
        "UPDATE events SET enrichment = $2 WHERE id = $1",
        &[&event_id, &json],
    )
    .await?;
    tx.commit().await.map_err(classify)
}

/// Whether `id` is an open dead letter, with its row locked for the rest of the transaction.
/// The lock is taken by a statement of its own: the read that follows then has a snapshot from
/// after the lock, and sees a replay that another operator (or relay) committed while this one
/// waited for it.
async fn open_dead_letter(
    tx: &Transaction<'_>,
    id: i64,
) -> Result<Result<(), DeadLetterError>, StoreError> {
    let lock = tx
        .prepare_cached("SELECT 1 FROM deliveries WHERE id = $1 FOR UPDATE")
        .await
        .map_err(classify)?;
    if tx
        .query_opt(&lock, &[&id])
        .await
        .map_err(classify)?
        .is_none()
    {
        return Ok(Err(DeadLetterError::NotFound(id)));
    }
    let stmt = tx
        .prepare_cached(
            "SELECT state, dropped_at,
                    (SELECT MIN(r.id) FROM deliveries r WHERE r.replay_of = d.id)
             FROM deliveries d WHERE id = $1",
        )
        .await
        .map_err(classify)?;
    let Some(row) = tx.query_opt(&stmt, &[&id]).await.map_err(classify)? else {
        return Ok(Err(DeadLetterError::NotFound(id)));
    };
    let state: String = row.get(0);
    let dropped: Option<i64> = row.get(1);
    let replayed: Option<i64> = row.get(2);
    Ok(match (state.as_str(), dropped, replayed) {
        ("dead", None, None) => Ok(()),
        ("dead", Some(_), _) => Err(DeadLetterError::Dropped(id)),
        ("dead", None, Some(by)) => Err(DeadLetterError::AlreadyReplayed(id, by)),
        _ => Err(DeadLetterError::NotDead(id)),
    })
}

/// `now_ms` by the relay's clock, `due` (now) by the database's.
pub(super) async fn replay(
    conn: &mut Client,
    me: &str,
    id: i64,
    now_ms: i64,
    due: i64,
) -> Result<Result<i64, DeadLetterError>, StoreError> {
    let tx = conn.transaction().await.map_err(classify)?;
    if let Err(e) = open_dead_letter(&tx, id).await? {
        return Ok(Err(e));
    }
    let stmt = tx
        .prepare_cached(
            "INSERT INTO deliveries (event_id, rule, target, template, state, attempts,
                                     next_attempt_at, created_at, updated_at, replay_of,
                                     object_key, step)
             SELECT event_id, rule, target, template, 'pending', 0, $3, $2, $2, id,
                    object_key, step
             FROM deliveries WHERE id = $1
             RETURNING id, target",
        )
        .await
        .map_err(classify)?;
    let row = tx
        .query_one(&stmt, &[&id, &now_ms, &due])
        .await
        .map_err(classify)?;
    let (new_id, target): (i64, String) = (row.get(0), row.get(1));
    notify(&tx, me, &target).await?;
    tx.commit().await.map_err(classify)?;
    Ok(Ok(new_id))
}

/// Routes a routed event again: `deliveries` at the tails of their lanes, exactly as routing
/// adds them (created at `now_ms` by the relay's clock, due at `due` by the database's), their
/// rules added to the event's, and the other relays told of the lanes' new work. Returns the
/// new deliveries' ids, in order.
pub(super) async fn reroute(
    conn: &mut Client,
    me: &str,
    event_id: &str,
    deliveries: &[NewDelivery],
    now_ms: i64,
    due: i64,
) -> Result<Result<Vec<i64>, RerouteError>, StoreError> {
    let tx = conn.transaction().await.map_err(classify)?;
    let stmt = tx
        .prepare_cached("SELECT routed_at, matched_rules FROM events WHERE id = $1 FOR UPDATE")
        .await
        .map_err(classify)?;
    let Some(row) = tx.query_opt(&stmt, &[&event_id]).await.map_err(classify)? else {
        return Ok(Err(RerouteError::NotFound(event_id.to_owned())));
    };
    if row.get::<_, Option<i64>>(0).is_none() {
        return Ok(Err(RerouteError::Unrouted(event_id.to_owned())));
    }
    let stored: Option<String> = row.get(1);
    let rules = merged_rules(rules_of(event_id, stored.as_deref())?, deliveries);
    execute(
        &tx,
        "UPDATE events SET matched_rules = $2 WHERE id = $1",
        &[&event_id, &rules_json(&rules)],
    )
    .await?;
    let mut stmts = Statements::default();
    let (targets, ids) =
        write::insert_deliveries(&tx, &mut stmts, event_id, deliveries, now_ms, due)
            .await
            .map_err(classify)?;
    let lanes: Vec<&str> = targets.iter().map(String::as_str).collect();
    write::notify(&tx, &mut stmts, me, &lanes)
        .await
        .map_err(classify)?;
    tx.commit().await.map_err(classify)?;
    Ok(Ok(ids))
}

pub(super) async fn drop_dead(
    conn: &mut Client,
    id: i64,
    now_ms: i64,
) -> Result<Result<(), DeadLetterError>, StoreError> {
    let tx = conn.transaction().await.map_err(classify)?;
    if let Err(e) = open_dead_letter(&tx, id).await? {
        return Ok(Err(e));
    }
    execute(
        &tx,
        "UPDATE deliveries SET dropped_at = $2, updated_at = $2 WHERE id = $1",
        &[&id, &now_ms],
    )
    .await?;
    tx.commit().await.map_err(classify)?;
    Ok(Ok(()))
}

/// Conversations closed before `$1`, and open ones with no message since `$2`.
const PRUNE_CONVERSATIONS: &str = "DELETE FROM conversations
     WHERE (closed_at IS NOT NULL AND closed_at < $1) OR updated_at < $2";

/// One round of retention: up to [`PRUNE_BATCH`] events received before `before_ms` whose every
/// delivery is finished and needs nobody (delivered, dropped, or dead and replayed), with their
/// deliveries and attempts; and dedup keys older than that. Returns how many events went. One
/// relay at a time: while another relay's round runs, this one prunes nothing (and says so by
/// returning 0, which ends its pass).
pub(super) async fn prune_round(conn: &mut Client, before_ms: i64) -> Result<u64, StoreError> {
    let tx = conn.transaction().await.map_err(classify)?;
    let ours: bool = tx
        .query_one("SELECT pg_try_advisory_xact_lock($1)", &[&PRUNE_LOCK])
        .await
        .map_err(classify)?
        .get(0);
    if !ours {
        return Ok(0);
    }
    let stmt = tx
        .prepare_cached(
            "SELECT e.id FROM events e
             WHERE e.received_at < $1 AND e.routed_at IS NOT NULL
               AND NOT EXISTS (
                 SELECT 1 FROM deliveries d WHERE d.event_id = e.id
                   AND (d.state IN ('pending', 'sending')
                        OR (d.state = 'dead' AND d.dropped_at IS NULL
                            AND NOT EXISTS (SELECT 1 FROM deliveries r
                                            WHERE r.replay_of = d.id))))
             ORDER BY e.received_at LIMIT $2
             FOR UPDATE OF e SKIP LOCKED",
        )
        .await
        .map_err(classify)?;
    let ids: Vec<String> = tx
        .query(&stmt, &[&before_ms, &PRUNE_BATCH])
        .await
        .map_err(classify)?
        .iter()
        .map(|r| r.get(0))
        .collect();
    for sql in [
        "DELETE FROM attempts WHERE delivery_id IN
           (SELECT id FROM deliveries WHERE event_id = ANY($1))",
        // Replays point at their originals: children first.
        "DELETE FROM deliveries WHERE event_id = ANY($1) AND replay_of IS NOT NULL",
        "DELETE FROM deliveries WHERE event_id = ANY($1)",
        "DELETE FROM events WHERE id = ANY($1)",
    ] {
        execute(&tx, sql, &[&ids]).await?;
    }
    execute(
        &tx,
        "DELETE FROM dedup WHERE received_at < $1",
        &[&before_ms],
    )
    .await?;
    let idle = before_ms.saturating_sub(OPEN_CONVERSATION_KEEP_MS);
    execute(&tx, PRUNE_CONVERSATIONS, &[&before_ms, &idle]).await?;
    tx.commit().await.map_err(classify)?;
    Ok(ids.len() as u64)
}
