//! The hot writes as the writer thread makes them inside its batch's transaction: an event (with
//! its deliveries when it was routed at intake), the router's routings, a lane's outcomes and
//! claims, and the readiness probe. Every statement is prepared once per connection.
//!
//! Each function returns `Err` for a database failure and puts its caller's answer (including a
//! refusal of its own, such as "no such event") in the job.

use std::collections::BTreeSet;
use std::sync::Arc;

use rusqlite::{Connection, OptionalExtension, params};
use uuid::Uuid;

use crate::store::cache::EventCache;
use crate::store::commit::{LaneDone, LaneWrite, Pending, RouteRow};
use crate::store::rows::{
    CONVERSATION_COLUMNS, ClaimSpec, ClaimedRow, EventRow, FinishRow, StoredEventRow, count_column,
};
use crate::store::{Claim, Conversation, Ingested, NewDelivery, StoreError, StoredEvent};

/// Claims the dedup key when no event with it was stored since the window's start (nor earlier
/// in this batch); returns the key's event id only when this event got it.
const CLAIM_KEY: &str = "INSERT INTO dedup (dedup_key, event_id, received_at) VALUES (?1, ?2, ?3)
     ON CONFLICT (dedup_key) DO UPDATE
     SET event_id = excluded.event_id, received_at = excluded.received_at
     WHERE dedup.received_at <= ?4
     RETURNING event_id";

const INSERT_EVENT: &str = "INSERT INTO events
     (id, received_at, kind, company_id, company_name, body, dedup_key, routed_at, matched_rules,
      object_key)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";

/// Stores one event, or answers with the id of the identical event stored within the window.
/// A routed event gets its deliveries in the same write.
pub(super) fn ingest(
    tx: &Connection,
    p: &mut Pending<EventRow, Ingested>,
    now: i64,
    window_start: i64,
) -> Result<(), rusqlite::Error> {
    let row = &p.work;
    let id = Uuid::now_v7().to_string();
    let claimed: Option<String> = tx
        .prepare_cached(CLAIM_KEY)?
        .query_row(params![row.dedup_key, id, now, window_start], |r| r.get(0))
        .optional()?;
    if claimed.as_deref() != Some(id.as_str()) {
        let first: String = tx
            .prepare_cached("SELECT event_id FROM dedup WHERE dedup_key = ?1")?
            .query_row([&row.dedup_key], |r| r.get(0))?;
        p.answer = Some(Ok(Ingested::duplicate_of(first)));
        return Ok(());
    }
    let routed_at = row.routed.as_ref().map(|_| now);
    tx.prepare_cached(INSERT_EVENT)?.execute(params![
        id,
        now,
        row.event.kind,
        row.event.company_id(),
        row.event.company_name(),
        row.body,
        row.dedup_key,
        routed_at,
        row.matched_rules_json(),
        row.event.object_key(),
    ])?;
    let deliveries = row.routed.as_ref().map_or(&[][..], |r| &r.deliveries[..]);
    let (targets, _) = insert_deliveries(tx, &id, deliveries, now)?;
    p.answer = Some(Ok(Ingested {
        id,
        duplicate: false,
        received_at: now,
        event: None,
        targets,
    }));
    Ok(())
}

/// The lanes' rows (one per target named), then one pending delivery (due now) per entry, in
/// order, each at the tail of its lane. Returns the targets, sorted, and the new deliveries'
/// ids in the order given.
pub(super) fn insert_deliveries(
    tx: &Connection,
    event_id: &str,
    deliveries: &[NewDelivery],
    now: i64,
) -> Result<(Vec<String>, Vec<i64>), rusqlite::Error> {
    let targets: BTreeSet<&str> = deliveries.iter().map(|d| d.target.as_str()).collect();
    let mut lane =
        tx.prepare_cached("INSERT INTO targets (name) VALUES (?1) ON CONFLICT (name) DO NOTHING")?;
    for target in &targets {
        lane.execute([target])?;
    }
    let mut insert = tx.prepare_cached(
        "INSERT INTO deliveries
             (event_id, rule, target, template, state, next_attempt_at, created_at, updated_at,
              object_key)
         VALUES (?1, ?2, ?3, ?4, 'pending', ?5, ?5, ?5, ?6)",
    )?;
    let mut ids = Vec::with_capacity(deliveries.len());
    for d in deliveries {
        insert.execute(params![
            event_id, d.rule, d.target, d.template, now, d.object
        ])?;
        ids.push(tx.last_insert_rowid());
    }
    Ok((targets.into_iter().map(str::to_owned).collect(), ids))
}

/// Routes each event of `rows` that exists and is not routed yet, in order; routing an event
/// again does nothing. An event that does not exist is the caller's error (nothing is written
/// for it; the others are routed).
pub(super) fn route(
    tx: &Connection,
    p: &mut Pending<Vec<RouteRow>, ()>,
    now: i64,
) -> Result<(), rusqlite::Error> {
    let mut missing = None;
    for row in &p.work {
        let marked = tx
            .prepare_cached(
                "UPDATE events SET routed_at = ?1, matched_rules = ?2,
                     enrichment = COALESCE(?4, enrichment)
                 WHERE id = ?3 AND routed_at IS NULL",
            )?
            .execute(params![now, row.rules, row.event_id, row.enrichment])?;
        if marked == 1 {
            insert_deliveries(tx, &row.event_id, &row.deliveries, now)?;
            continue;
        }
        let exists = tx
            .prepare_cached("SELECT 1 FROM events WHERE id = ?1")?
            .exists([&row.event_id])?;
        if !exists && missing.is_none() {
            missing = Some(row.event_id.clone());
        }
    }
    p.answer = Some(match missing {
        None => Ok(()),
        Some(id) => Err(StoreError::Other(format!("no event with id {id}"))),
    });
    Ok(())
}

/// The outcome: the delivery's new state, only if the claim's lease is still the current one.
const FINISH: &str = "UPDATE deliveries
     SET state = ?1, next_attempt_at = COALESCE(?2, next_attempt_at),
         lease_owner = NULL, lease_until = NULL, updated_at = ?3, finished_at = ?4,
         last_status = ?5, last_error = ?6, step = ?9
     WHERE id = ?7 AND lease_seq = ?8 AND state = 'sending'";

const ATTEMPT: &str = "INSERT INTO attempts
     (delivery_id, attempt, started_at, finished_at, outcome, status, error, provider_id, action)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";

/// A conversation's row as an attempt left it (one writer per conversation at a time: its
/// object's deliveries are claimed in order).
const SAVE_CONVERSATION: &str = "INSERT OR REPLACE INTO conversations
     (target, object_key, channel, thread_id, topic, state, first_event_id, last_event_id,
      last_kind, messages, restarts, opened_at, updated_at, closed_at, gone_at,
      last_received_at, provisional)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)";

/// The unfinished delivery is not held by an earlier one of the same conversation (the
/// deliveries of one object go in order; others do not wait for them).
macro_rules! object_free {
    () => {
        "(d.object_key IS NULL OR NOT EXISTS (
             SELECT 1 FROM deliveries o INDEXED BY deliveries_object
             WHERE o.target = d.target AND o.object_key = d.object_key
               AND o.state IN ('pending', 'sending') AND o.id < d.id))"
    };
}
pub(super) use object_free;

/// A FIFO lane's head, if it is ready: the oldest unfinished delivery, pending and due or with
/// its lease run out, while the target is not paused.
const CLAIM_HEAD: &str = "UPDATE deliveries
     SET state = 'sending', lease_owner = ?1, lease_until = ?2,
         lease_seq = lease_seq + 1, attempts = attempts + 1, updated_at = ?3
     WHERE id = (SELECT id FROM deliveries
                 WHERE target = ?4 AND state IN ('pending', 'sending')
                 ORDER BY id LIMIT 1)
       AND ((state = 'pending' AND next_attempt_at <= ?3)
            OR (state = 'sending' AND lease_until <= ?3))
       AND NOT EXISTS (SELECT 1 FROM targets WHERE name = ?4 AND blocked_until > ?3)
     RETURNING id, lease_seq, attempts, rule, target, template, event_id, created_at,
               object_key, step";

/// The oldest `?5` ready deliveries of a lane that is not ordered, each after the earlier
/// unfinished ones of its conversation.
const CLAIM_DUE: &str = concat!(
    "UPDATE deliveries
     SET state = 'sending', lease_owner = ?1, lease_until = ?2,
         lease_seq = lease_seq + 1, attempts = attempts + 1, updated_at = ?3
     WHERE id IN (SELECT d.id FROM deliveries d
                  WHERE d.target = ?4 AND d.state IN ('pending', 'sending')
                    AND ((d.state = 'pending' AND d.next_attempt_at <= ?3)
                         OR (d.state = 'sending' AND d.lease_until <= ?3))
                    AND ",
    object_free!(),
    "
                  ORDER BY d.id LIMIT ?5)
       AND NOT EXISTS (SELECT 1 FROM targets WHERE name = ?4 AND blocked_until > ?3)
     RETURNING id, lease_seq, attempts, rule, target, template, event_id, created_at,
               object_key, step"
);

/// A lane's outcomes, then its claim, answered with what each did.
pub(super) fn lane(
    tx: &Connection,
    p: &mut Pending<LaneWrite, LaneDone>,
    cache: &EventCache,
) -> Result<(), rusqlite::Error> {
    let mut done = LaneDone::default();
    if let Some(until) = p.work.block_until {
        super::admin::block_target(tx, &p.work.target, until)?;
    }
    for row in &p.work.finishes {
        done.finished.push(finish(tx, row)?);
    }
    if let Some(spec) = &p.work.claim {
        done.claims = claim(tx, spec, cache)?;
    }
    p.answer = Some(Ok(done));
    Ok(())
}

/// Writes one outcome and its attempt row; false, changing nothing, for a stale claim.
fn finish(tx: &Connection, row: &FinishRow) -> Result<bool, rusqlite::Error> {
    let changed = tx.prepare_cached(FINISH)?.execute(params![
        row.state,
        row.retry_at,
        row.now_ms,
        row.finished_at,
        row.status,
        row.error,
        row.delivery_id,
        row.lease_seq,
        row.step,
    ])?;
    if changed != 1 {
        return Ok(false);
    }
    tx.prepare_cached(ATTEMPT)?.execute(params![
        row.delivery_id,
        row.attempt,
        row.claimed_at,
        row.now_ms,
        row.outcome,
        row.status,
        row.error,
        row.provider_id,
        row.action,
    ])?;
    if let Some(c) = &row.conversation {
        save_conversation(tx, c)?;
    }
    Ok(true)
}

fn save_conversation(tx: &Connection, c: &Conversation) -> Result<(), rusqlite::Error> {
    tx.prepare_cached(SAVE_CONVERSATION)?.execute(params![
        c.target,
        c.object_key,
        c.channel,
        c.thread_id,
        c.topic,
        c.state,
        c.first_event_id,
        c.last_event_id,
        c.last_kind,
        count_column(c.messages),
        count_column(c.restarts),
        c.opened_at,
        c.updated_at,
        c.closed_at,
        c.gone_at,
        c.last_received_at,
        c.provisional,
    ])?;
    Ok(())
}

/// The conversation of a claimed delivery, as stored.
fn conversation_of(
    tx: &Connection,
    target: &str,
    object: Option<&str>,
) -> Result<Option<Conversation>, rusqlite::Error> {
    let Some(object) = object else {
        return Ok(None);
    };
    tx.prepare_cached(&format!(
        "SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE target = ?1 AND object_key = ?2"
    ))?
    .query_row([target, object], conversation_row)
    .optional()
}

/// A conversation row, its columns as [`CONVERSATION_COLUMNS`] lists them.
pub(super) fn conversation_row(r: &rusqlite::Row<'_>) -> Result<Conversation, rusqlite::Error> {
    let number = |i: usize| -> Result<u32, rusqlite::Error> {
        Ok(u32::try_from(r.get::<_, i64>(i)?).unwrap_or(0))
    };
    Ok(Conversation {
        target: r.get(0)?,
        object_key: r.get(1)?,
        channel: r.get(2)?,
        thread_id: r.get(3)?,
        topic: r.get(4)?,
        state: r.get(5)?,
        first_event_id: r.get(6)?,
        last_event_id: r.get(7)?,
        last_kind: r.get(8)?,
        messages: number(9)?,
        restarts: number(10)?,
        opened_at: r.get(11)?,
        updated_at: r.get(12)?,
        closed_at: r.get(13)?,
        gone_at: r.get(14)?,
        last_received_at: r.get(15)?,
        provisional: r.get(16)?,
    })
}

/// Leases what `spec` asks for and attaches each claim's event: from the in-memory hand-off, or
/// read here. A delivery whose event cannot be read (a corrupt body) ends dead with the reason
/// instead of being claimed again and again.
fn claim(
    tx: &Connection,
    spec: &ClaimSpec,
    cache: &EventCache,
) -> Result<Vec<Claim>, rusqlite::Error> {
    if spec.max == 0 {
        return Ok(Vec::new());
    }
    let lease_until = spec.lease_until();
    let mut rows = if spec.ordered {
        let mut stmt = tx.prepare_cached(CLAIM_HEAD)?;
        let rows = stmt.query_map(
            params![spec.owner, lease_until, spec.now_ms, spec.target],
            claimed_row,
        )?;
        rows.collect::<Result<Vec<_>, _>>()?
    } else {
        let mut stmt = tx.prepare_cached(CLAIM_DUE)?;
        let max = i64::try_from(spec.max).unwrap_or(i64::MAX);
        let rows = stmt.query_map(
            params![spec.owner, lease_until, spec.now_ms, spec.target, max],
            claimed_row,
        )?;
        rows.collect::<Result<Vec<_>, _>>()?
    };
    // RETURNING gives no order: a lane sends oldest first.
    rows.sort_by_key(|r| r.delivery_id);
    let mut claims = Vec::with_capacity(rows.len());
    for row in rows {
        match event_of(tx, &row.event_id, cache)? {
            Ok(event) => {
                let conversation = conversation_of(tx, &row.target, row.object_key.as_deref())?;
                claims.push(row.into_claim(event, conversation, spec.now_ms));
            }
            Err(e) => bury(tx, &row, spec.now_ms, &e)?,
        }
    }
    Ok(claims)
}

fn claimed_row(r: &rusqlite::Row<'_>) -> Result<ClaimedRow, rusqlite::Error> {
    Ok(ClaimedRow {
        delivery_id: r.get(0)?,
        lease_seq: r.get(1)?,
        attempts: r.get(2)?,
        rule: r.get(3)?,
        target: r.get(4)?,
        template: r.get(5)?,
        event_id: r.get(6)?,
        created_at: r.get(7)?,
        object_key: r.get(8)?,
        step: r.get(9)?,
    })
}

/// The event of a claim: handed over in memory, or read and parsed.
fn event_of(
    tx: &Connection,
    id: &str,
    cache: &EventCache,
) -> Result<Result<Arc<StoredEvent>, StoreError>, rusqlite::Error> {
    if let Some(event) = cache.get(id) {
        return Ok(Ok(event));
    }
    let row = tx
        .prepare_cached("SELECT received_at, body, enrichment FROM events WHERE id = ?1")?
        .query_row([id], |r| {
            Ok(StoredEventRow {
                id: id.to_owned(),
                received_at: r.get(0)?,
                body: r.get(1)?,
                enrichment: r.get(2)?,
            })
        })
        .optional()?;
    Ok(match row {
        Some(row) => row.decode().map(Arc::new),
        None => Err(StoreError::Other(format!("delivery of missing event {id}"))),
    })
}

/// A claimed delivery that can never be sent: dead, with the reason, at once.
fn bury(
    tx: &Connection,
    row: &ClaimedRow,
    now: i64,
    why: &StoreError,
) -> Result<(), rusqlite::Error> {
    tracing::error!(delivery_id = row.delivery_id, error = %why, "a delivery cannot be sent: its event is unreadable");
    let error = format!("cannot be sent: {why}");
    tx.prepare_cached(FINISH)?.execute(params![
        "dead",
        None::<i64>,
        now,
        now,
        None::<i64>,
        error,
        row.delivery_id,
        row.lease_seq,
        row.step,
    ])?;
    Ok(())
}

/// The readiness probe: its row rewritten with fresh random bytes (see
/// [`super::schema::PROBE_BYTES`]), so the commit needs room on the disk like a few events.
pub(super) fn probe(
    tx: &Connection,
    p: &mut Pending<(), ()>,
    now: i64,
) -> Result<(), rusqlite::Error> {
    tx.prepare_cached(
        "INSERT INTO probe (id, written_at, filler) VALUES (1, ?1, randomblob(?2))
         ON CONFLICT (id) DO UPDATE SET written_at = excluded.written_at, filler = excluded.filler",
    )?
    .execute(params![now, super::schema::PROBE_BYTES as i64])?;
    p.answer = Some(Ok(()));
    Ok(())
}
