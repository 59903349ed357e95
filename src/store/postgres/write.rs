//! The hot writes as the writer task makes them inside its batch's transaction: an event (with
//! its deliveries when it was routed at intake), the router's routings, a lane's outcomes and
//! claims, and the readiness probe. The same statements as the SQLite engine's, in
//! PostgreSQL's dialect; a claim first locks its lane's target row (`FOR UPDATE SKIP LOCKED`),
//! so that relays sharing the database take turns in a lane instead of racing for its head.
//!
//! Each function returns `Err` for a database failure and puts its caller's answer (including a
//! refusal of its own, such as "no such event") in the job.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use futures_util::future::try_join_all;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Row, Statement, Transaction};
use uuid::Uuid;

use super::big;
use super::clock::DbClock;
use crate::store::cache::EventCache;
use crate::store::commit::{LaneDone, LaneWrite, Pending, RouteRow};
use crate::store::rows::{
    ClaimSpec, ClaimedRow, EventRow, FinishRow, StoredEventRow, count_column,
};
use crate::store::{Claim, Conversation, Ingested, NewDelivery, StoreError, StoredEvent};

type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

/// The writer connection's prepared statements, by their SQL (a statement belongs to the
/// connection that prepared it: a new connection starts with none).
#[derive(Default)]
pub(super) struct Statements {
    by_sql: HashMap<&'static str, Statement>,
}

impl Statements {
    async fn get(
        &mut self,
        tx: &Transaction<'_>,
        sql: &'static str,
    ) -> Result<Statement, tokio_postgres::Error> {
        if let Some(stmt) = self.by_sql.get(sql) {
            return Ok(stmt.clone());
        }
        let stmt = tx.prepare(sql).await?;
        self.by_sql.insert(sql, stmt.clone());
        Ok(stmt)
    }

    async fn execute(
        &mut self,
        tx: &Transaction<'_>,
        sql: &'static str,
        params: Params<'_>,
    ) -> Result<u64, tokio_postgres::Error> {
        let stmt = self.get(tx, sql).await?;
        tx.execute(&stmt, params).await
    }

    async fn query(
        &mut self,
        tx: &Transaction<'_>,
        sql: &'static str,
        params: Params<'_>,
    ) -> Result<Vec<Row>, tokio_postgres::Error> {
        let stmt = self.get(tx, sql).await?;
        tx.query(&stmt, params).await
    }

    async fn query_opt(
        &mut self,
        tx: &Transaction<'_>,
        sql: &'static str,
        params: Params<'_>,
    ) -> Result<Option<Row>, tokio_postgres::Error> {
        let stmt = self.get(tx, sql).await?;
        tx.query_opt(&stmt, params).await
    }
}

/// Claims the dedup key when no event with it was stored since the window's start (nor earlier
/// in this batch); returns the key's event id only when this event got it. Two relays storing
/// the same event at once: the second waits on the key until the first commits, then finds it
/// inside the window.
const CLAIM_KEY: &str = "INSERT INTO dedup (dedup_key, event_id, received_at) VALUES ($1, $2, $3)
     ON CONFLICT (dedup_key) DO UPDATE
     SET event_id = excluded.event_id, received_at = excluded.received_at
     WHERE dedup.received_at <= $4
     RETURNING event_id";

const FIRST_OF_KEY: &str = "SELECT event_id FROM dedup WHERE dedup_key = $1";

const INSERT_EVENT: &str = "INSERT INTO events
     (id, received_at, kind, company_id, company_name, body, dedup_key, routed_at, matched_rules,
      object_key)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";

/// Stores the events of a batch, each unless an identical one was stored within the window
/// (then its answer is that one's id), in two pipelines of statements rather than a round trip
/// per statement: first every event's dedup key is claimed, in order (an identical event later
/// in the batch finds the key taken by the earlier one), then the events that got their keys
/// are inserted with their lanes and deliveries while the others' first events are looked up.
pub(super) async fn ingest_all(
    tx: &Transaction<'_>,
    stmts: &mut Statements,
    jobs: &mut [&mut Pending<EventRow, Ingested>],
    now: i64,
    window_start: i64,
    clock: &DbClock,
) -> Result<(), tokio_postgres::Error> {
    // New deliveries are due now by the database's clock, which every relay claims by.
    let due = clock.to_db(now);
    if jobs.is_empty() {
        return Ok(());
    }
    let ids: Vec<String> = jobs.iter().map(|_| Uuid::now_v7().to_string()).collect();
    let claim_key = stmts.get(tx, CLAIM_KEY).await?;
    let claims = try_join_all(jobs.iter().zip(&ids).map(|(p, id)| {
        let params: [&(dyn ToSql + Sync); 4] = [&p.work.dedup_key, id, &now, &window_start];
        let claim_key = &claim_key;
        async move { tx.query_opt(claim_key, &params).await }
    }))
    .await?;
    let stored: Vec<bool> = claims
        .iter()
        .zip(&ids)
        .map(|(row, id)| row.as_ref().map(|r| r.get::<_, &str>(0)) == Some(id.as_str()))
        .collect();

    let (insert_event, insert_lane, insert_delivery, first_of_key) = (
        stmts.get(tx, INSERT_EVENT).await?,
        stmts.get(tx, INSERT_LANE).await?,
        stmts.get(tx, INSERT_DELIVERY).await?,
        stmts.get(tx, FIRST_OF_KEY).await?,
    );
    let rows: Vec<EventParams<'_>> = jobs
        .iter()
        .zip(&ids)
        .map(|(p, id)| EventParams::of(&p.work, id, now))
        .collect();
    let new_rows = || {
        rows.iter()
            .zip(&stored)
            .filter(|(_, s)| **s)
            .map(|(r, _)| r)
    };
    let lanes: BTreeSet<&str> = new_rows()
        .flat_map(|r| r.deliveries.iter().map(|d| d.target.as_str()))
        .collect();
    let mut writes: Vec<(&Statement, Vec<&(dyn ToSql + Sync)>)> = Vec::new();
    for target in &lanes {
        writes.push((&insert_lane, vec![target]));
    }
    for r in new_rows() {
        writes.push((&insert_event, r.event_params()));
    }
    for r in new_rows() {
        for d in r.deliveries {
            let params: Vec<&(dyn ToSql + Sync)> = vec![
                &r.id,
                &d.rule,
                &d.target,
                &d.template,
                &r.received_at,
                &due,
                &d.object,
            ];
            writes.push((&insert_delivery, params));
        }
    }
    let earlier = rows.iter().zip(&stored).filter(|(_, s)| !**s);
    let (_, firsts) = tokio::try_join!(
        try_join_all(
            writes
                .iter()
                .map(|(stmt, params)| tx.execute(*stmt, params))
        ),
        try_join_all(earlier.map(|(r, _)| {
            let (first_of_key, key) = (&first_of_key, &r.row.dedup_key);
            async move { tx.query_opt(first_of_key, &[key]).await }
        })),
    )?;

    let mut firsts = firsts.into_iter();
    let mut answers = Vec::with_capacity(rows.len());
    for (row, was_stored) in rows.iter().zip(&stored) {
        let first = match was_stored {
            true => None,
            false => firsts.next().flatten(),
        };
        answers.push(match (was_stored, first) {
            (true, _) => Ok(Ingested {
                id: row.id.to_owned(),
                duplicate: false,
                received_at: now,
                event: None,
                targets: row.targets(),
            }),
            (false, Some(first)) => Ok(Ingested::duplicate_of(first.get(0))),
            (false, _) => Err(StoreError::Other(
                "the event's dedup key changed while it was stored; try again".into(),
            )),
        });
    }
    drop(writes);
    drop(rows);
    for (job, answer) in jobs.iter_mut().zip(answers) {
        job.answer = Some(answer);
    }
    Ok(())
}

/// What an event's rows are written with.
struct EventParams<'a> {
    row: &'a EventRow,
    id: &'a str,
    received_at: i64,
    company_id: Option<&'a str>,
    company_name: Option<&'a str>,
    object_key: Option<String>,
    routed_at: Option<i64>,
    rules: Option<String>,
    deliveries: &'a [NewDelivery],
}

impl<'a> EventParams<'a> {
    fn of(row: &'a EventRow, id: &'a str, now: i64) -> EventParams<'a> {
        EventParams {
            row,
            id,
            received_at: now,
            company_id: row.event.company_id(),
            company_name: row.event.company_name(),
            object_key: row.event.object_key(),
            routed_at: row.routed.as_ref().map(|_| now),
            rules: row.matched_rules_json(),
            deliveries: row.routed.as_ref().map_or(&[][..], |r| &r.deliveries[..]),
        }
    }

    /// The parameters of [`INSERT_EVENT`].
    fn event_params(&self) -> Vec<&(dyn ToSql + Sync)> {
        vec![
            &self.id,
            &self.received_at,
            &self.row.event.kind,
            &self.company_id,
            &self.company_name,
            &self.row.body,
            &self.row.dedup_key,
            &self.routed_at,
            &self.rules,
            &self.object_key,
        ]
    }

    /// The targets of its deliveries, sorted, each once.
    fn targets(&self) -> Vec<String> {
        let targets: BTreeSet<&str> = self.deliveries.iter().map(|d| d.target.as_str()).collect();
        targets.into_iter().map(str::to_owned).collect()
    }
}

const INSERT_LANE: &str = "INSERT INTO targets (name) VALUES ($1) ON CONFLICT (name) DO NOTHING";

/// A new delivery, due at `$6` (the database's clock), created at `$5` (the relay's).
const INSERT_DELIVERY: &str = "INSERT INTO deliveries
     (event_id, rule, target, template, state, next_attempt_at, created_at, updated_at,
      object_key)
     VALUES ($1, $2, $3, $4, 'pending', $6, $5, $5, $7)
     RETURNING id";

/// The lanes' rows (one per target named), then one pending delivery (due at `due`) per
/// entry, in order, each at the tail of its lane. Returns the targets, sorted, and the new
/// deliveries' ids in the order given.
pub(super) async fn insert_deliveries(
    tx: &Transaction<'_>,
    stmts: &mut Statements,
    event_id: &str,
    deliveries: &[NewDelivery],
    now: i64,
    due: i64,
) -> Result<(Vec<String>, Vec<i64>), tokio_postgres::Error> {
    let targets: BTreeSet<&str> = deliveries.iter().map(|d| d.target.as_str()).collect();
    for target in &targets {
        stmts.execute(tx, INSERT_LANE, &[target]).await?;
    }
    let mut ids = Vec::with_capacity(deliveries.len());
    for d in deliveries {
        let params: Params<'_> = &[
            &event_id,
            &d.rule,
            &d.target,
            &d.template,
            &now,
            &due,
            &d.object,
        ];
        let inserted = stmts.query(tx, INSERT_DELIVERY, params).await?;
        ids.extend(inserted.iter().map(|r| r.get::<_, i64>(0)));
    }
    Ok((targets.into_iter().map(str::to_owned).collect(), ids))
}

const MARK_ROUTED: &str = "UPDATE events SET routed_at = $1, matched_rules = $2,
         enrichment = COALESCE($4, enrichment)
     WHERE id = $3 AND routed_at IS NULL";

const EVENT_EXISTS: &str = "SELECT 1 FROM events WHERE id = $1";

/// Routes each event of `rows` that exists and is not routed yet, in order; routing an event
/// again does nothing. An event that does not exist is the caller's error (nothing is written
/// for it; the others are routed).
pub(super) async fn route(
    tx: &Transaction<'_>,
    stmts: &mut Statements,
    p: &mut Pending<Vec<RouteRow>, ()>,
    now: i64,
    clock: &DbClock,
) -> Result<(), tokio_postgres::Error> {
    let due = clock.to_db(now);
    let mut missing = None;
    for row in &p.work {
        let params: Params<'_> = &[&now, &row.rules, &row.event_id, &row.enrichment];
        if stmts.execute(tx, MARK_ROUTED, params).await? == 1 {
            insert_deliveries(tx, stmts, &row.event_id, &row.deliveries, now, due).await?;
            continue;
        }
        let exists = stmts.query_opt(tx, EVENT_EXISTS, &[&row.event_id]).await?;
        if exists.is_none() && missing.is_none() {
            missing = Some(row.event_id.clone());
        }
    }
    p.answer = Some(match missing {
        None => Ok(()),
        Some(id) => Err(StoreError::Other(format!("no event with id {id}"))),
    });
    Ok(())
}

/// Tells the other relays that `targets` have new deliveries (see [`super::listen`]).
pub(super) async fn notify(
    tx: &Transaction<'_>,
    stmts: &mut Statements,
    me: &str,
    targets: &[&str],
) -> Result<(), tokio_postgres::Error> {
    stmts
        .query(tx, super::listen::NOTIFY, &[&me, &targets])
        .await?;
    Ok(())
}

/// The outcome: the delivery's new state and its attempt row, only if the claim's lease is
/// still the current one (one row inserted), else nothing.
const FINISH: &str = "WITH done AS (
         UPDATE deliveries
         SET state = $1, next_attempt_at = COALESCE($2, next_attempt_at),
             lease_owner = NULL, lease_until = NULL, updated_at = $3, finished_at = $4,
             last_status = $5, last_error = $6, step = $13
         WHERE id = $7 AND lease_seq = $8 AND state = 'sending'
         RETURNING id)
     INSERT INTO attempts
         (delivery_id, attempt, started_at, finished_at, outcome, status, error, provider_id,
          action)
     SELECT id, $9, $10, $3, $11, $5, $6, $12, $14 FROM done";

/// A conversation's row as an attempt left it, written only when the attempt's outcome was.
/// One writer per conversation at a time: its object's deliveries are claimed in order.
const SAVE_CONVERSATION: &str = "INSERT INTO conversations
         (target, object_key, channel, thread_id, topic, state, first_event_id, last_event_id,
          last_kind, messages, restarts, opened_at, updated_at, closed_at, gone_at,
          last_received_at, provisional)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
     ON CONFLICT (target, object_key) DO UPDATE SET
         channel = excluded.channel, thread_id = excluded.thread_id, topic = excluded.topic,
         state = excluded.state, first_event_id = excluded.first_event_id,
         last_event_id = excluded.last_event_id, last_kind = excluded.last_kind,
         messages = excluded.messages, restarts = excluded.restarts,
         opened_at = excluded.opened_at, updated_at = excluded.updated_at,
         closed_at = excluded.closed_at, gone_at = excluded.gone_at,
         last_received_at = excluded.last_received_at, provisional = excluded.provisional";

/// The unfinished delivery `d` is not held by an earlier one of the same conversation (the
/// deliveries of one object go in order; others do not wait for them).
macro_rules! object_free {
    () => {
        "(d.object_key IS NULL OR NOT EXISTS (
             SELECT 1 FROM deliveries o
             WHERE o.target = d.target AND o.object_key = d.object_key
               AND o.object_key IS NOT NULL AND o.state IN ('pending', 'sending')
               AND o.id < d.id))"
    };
}
pub(super) use object_free;

/// A pause of a lane; never shortens one.
pub(super) const BLOCK: &str = "INSERT INTO targets (name, blocked_until) VALUES ($1, $2)
     ON CONFLICT (name) DO UPDATE
         SET blocked_until = GREATEST(targets.blocked_until, excluded.blocked_until)";

/// The lane's row, locked for this transaction unless another relay is claiming in it, with
/// the database's clock in microseconds.
const LOCK_LANE: &str = "SELECT blocked_until, next_send_us,
            (extract(epoch FROM clock_timestamp()) * 1000000)::BIGINT
     FROM targets WHERE name = $1 FOR UPDATE SKIP LOCKED";

/// The lane's pace moved on by the sends just claimed.
const PACED: &str = "UPDATE targets SET next_send_us = $2 WHERE name = $1";

/// How early a send may start (µs), as in the lanes' own pacing: timers tick by the millisecond.
const PACE_TOLERANCE_US: i64 = 1_000;

/// How long a lane waits when another relay holds its row (a claim takes milliseconds).
const LANE_TAKEN_MS: i64 = 10;

/// A claimed row is still ready when the update reaches it (another relay may have claimed it
/// since): pending and due at `$3`, or in flight with its lease run out. Written as a `CASE`
/// for the reason `CLAIM_HEAD` gives.
macro_rules! still_ready {
    () => {
        "(CASE state WHEN 'pending' THEN next_attempt_at <= $3
                     WHEN 'sending' THEN lease_until <= $3
                     ELSE false END)"
    };
}

/// A FIFO lane's head, if it is ready: the oldest unfinished delivery, pending and due or with
/// its lease run out, while no other delivery of the lane is being sent. (Two relays' commits
/// can land in the other order from their ids: a later delivery may already be in flight when
/// an earlier-numbered one appears; the lane still sends one at a time.)
///
/// The update's own check that a row is still ready (`still_ready!`) is a `CASE`, not
/// `state = 'pending' AND … OR state = 'sending' AND …`, in both claims: from
/// that form the planner can tell the lane's partial index applies, and on a table it has no
/// statistics of yet it chose to walk the whole lane through it (seen: 114 000 rows for 11
/// claims) instead of finding the claimed ids by the primary key. The `CASE` leaves it the
/// primary key only.
const CLAIM_HEAD: &str = concat!(
    "UPDATE deliveries
     SET state = 'sending', lease_owner = $1, lease_until = $2,
         lease_seq = lease_seq + 1, attempts = attempts + 1, updated_at = $3
     WHERE id = (SELECT id FROM deliveries
                 WHERE target = $4 AND state IN ('pending', 'sending')
                 ORDER BY id LIMIT 1)
       AND ",
    still_ready!(),
    "
       AND NOT EXISTS (SELECT 1 FROM deliveries s
                       WHERE s.target = $4 AND s.state = 'sending' AND s.lease_until > $3)
     RETURNING id, lease_seq, attempts, rule, target, template, event_id, created_at,
               object_key, step"
);

/// The oldest `$5` ready deliveries of a lane that is not ordered. The ids are picked first
/// (an array, so the limit is applied before the update and never folded into it) and the
/// update finds each row by its primary key. Joined to a list of ids instead, the planner chose
/// to walk the whole lane for the join (seen: 18 000 rows for 15 claims, 40 ms a claim, and one
/// relay at 5 000 events/s delivering 92 a second).
const CLAIM_DUE: &str = concat!(
    "UPDATE deliveries
     SET state = 'sending', lease_owner = $1, lease_until = $2,
         lease_seq = lease_seq + 1, attempts = attempts + 1, updated_at = $3
     WHERE id = ANY (ARRAY(
             SELECT d.id FROM deliveries d
             WHERE d.target = $4 AND d.state IN ('pending', 'sending')
               AND ((d.state = 'pending' AND d.next_attempt_at <= $3)
                    OR (d.state = 'sending' AND d.lease_until <= $3))
               AND ",
    object_free!(),
    "
             ORDER BY d.id LIMIT $5))
       AND ",
    still_ready!(),
    "
     RETURNING id, lease_seq, attempts, rule, target, template, event_id, created_at,
               object_key, step"
);

const EVENT_BODY: &str = "SELECT received_at, body, enrichment FROM events WHERE id = $1";

/// A lane's outcomes, then its claim, answered with what each did.
pub(super) async fn lane(
    tx: &Transaction<'_>,
    stmts: &mut Statements,
    p: &mut Pending<LaneWrite, LaneDone>,
    cache: &EventCache,
    clock: &DbClock,
) -> Result<(), tokio_postgres::Error> {
    let mut done = LaneDone::default();
    if let Some(until) = p.work.block_until {
        let until = clock.to_db(until);
        stmts.execute(tx, BLOCK, &[&p.work.target, &until]).await?;
    }
    done.finished = finish_all(tx, stmts, &p.work.finishes, clock).await?;
    if let Some(spec) = &p.work.claim {
        (done.claims, done.paced_for_ms) = claim(tx, stmts, spec, cache, clock).await?;
    }
    p.answer = Some(Ok(done));
    Ok(())
}

/// Writes the outcomes and their attempt rows, in one pipeline; false, changing nothing, for
/// each stale claim.
async fn finish_all(
    tx: &Transaction<'_>,
    stmts: &mut Statements,
    rows: &[FinishRow],
    clock: &DbClock,
) -> Result<Vec<bool>, tokio_postgres::Error> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let finish = stmts.get(tx, FINISH).await?;
    // A retry is due by the database's clock, which every relay claims by.
    let retries: Vec<Option<i64>> = rows
        .iter()
        .map(|r| r.retry_at.map(|at| clock.to_db(at)))
        .collect();
    let written = try_join_all(rows.iter().zip(&retries).map(|(row, retry_at)| {
        let finish = &finish;
        async move {
            let params: [&(dyn ToSql + Sync); 14] = [
                &row.state,
                retry_at,
                &row.now_ms,
                &row.finished_at,
                &row.status,
                &row.error,
                &row.delivery_id,
                &row.lease_seq,
                &row.attempt,
                &row.claimed_at,
                &row.outcome,
                &row.provider_id,
                &row.step,
                &row.action,
            ];
            tx.execute(finish, &params).await
        }
    }))
    .await?;
    let written: Vec<bool> = written.into_iter().map(|n| n == 1).collect();
    // With the outcomes that were written (a stale claim's changes nothing).
    for (row, _) in rows.iter().zip(&written).filter(|(_, w)| **w) {
        if let Some(c) = &row.conversation {
            save_conversation(tx, stmts, c).await?;
        }
    }
    Ok(written)
}

/// Leases what `spec` asks for and attaches each claim's event: from the in-memory hand-off, or
/// read here. Nothing when another relay is claiming in the lane or the lane is paused; no more
/// than the target's pace allows, kept in the lane's row for every relay (with how long until
/// the next send may start when that is none). A delivery whose event cannot be read (a corrupt
/// body) ends dead with the reason.
async fn claim(
    tx: &Transaction<'_>,
    stmts: &mut Statements,
    spec: &ClaimSpec,
    cache: &EventCache,
    clock: &DbClock,
) -> Result<(Vec<Claim>, Option<i64>), tokio_postgres::Error> {
    if spec.max == 0 {
        return Ok((Vec::new(), None));
    }
    let sent = clock.relay_now();
    let Some(lane) = stmts.query_opt(tx, LOCK_LANE, &[&spec.target]).await? else {
        // Another relay is claiming in this lane now: look again in a moment.
        return Ok((Vec::new(), Some(LANE_TAKEN_MS)));
    };
    let (blocked_until, next_send_us, now_us): (i64, i64, i64) =
        (lane.get(0), lane.get(1), lane.get(2));
    clock.observe(now_us / 1_000, sent, clock.relay_now());
    // The claim's moment, and the lease's end, by the database's clock: leases, retries and
    // pauses written by relays whose clocks differ are compared in one clock.
    let at = clock.to_db(spec.now_ms);
    if blocked_until > at {
        return Ok((Vec::new(), None));
    }
    let (max, start_us) = match spec.pace_interval_us {
        Some(interval) => {
            let start = next_send_us.max(now_us);
            let horizon = now_us.saturating_add(PACE_TOLERANCE_US);
            if start > horizon {
                let wait_ms = (start - horizon + 999) / 1_000;
                return Ok((Vec::new(), Some(wait_ms)));
            }
            let fit = (horizon - start) / interval.max(1) + 1;
            (big(spec.max).min(fit), Some(start))
        }
        None => (big(spec.max), None),
    };
    let lease_until = clock.to_db(spec.lease_until());
    let rows = if spec.ordered {
        let params: Params<'_> = &[&spec.owner, &lease_until, &at, &spec.target];
        stmts.query(tx, CLAIM_HEAD, params).await?
    } else {
        let params: Params<'_> = &[&spec.owner, &lease_until, &at, &spec.target, &max];
        stmts.query(tx, CLAIM_DUE, params).await?
    };
    if let (Some(start), Some(interval)) = (start_us, spec.pace_interval_us)
        && !rows.is_empty()
    {
        let next = start.saturating_add(interval.saturating_mul(rows.len() as i64));
        stmts.execute(tx, PACED, &[&spec.target, &next]).await?;
    }
    let mut rows: Vec<ClaimedRow> = rows.iter().map(claimed_row).collect();
    // RETURNING gives no order: a lane sends oldest first.
    rows.sort_by_key(|r| r.delivery_id);
    let mut claims = Vec::with_capacity(rows.len());
    for row in rows {
        match event_of(tx, stmts, &row.event_id, cache).await? {
            Ok(event) => {
                let object = row.object_key.as_deref();
                let conversation = conversation_of(tx, stmts, &row.target, object).await?;
                claims.push(row.into_claim(event, conversation, spec.now_ms));
            }
            Err(e) => bury(tx, stmts, &row, spec.now_ms, &e).await?,
        }
    }
    Ok((claims, None))
}

async fn save_conversation(
    tx: &Transaction<'_>,
    stmts: &mut Statements,
    c: &Conversation,
) -> Result<(), tokio_postgres::Error> {
    let (messages, restarts) = (count_column(c.messages), count_column(c.restarts));
    let provisional = i64::from(c.provisional);
    let params: Params<'_> = &[
        &c.target,
        &c.object_key,
        &c.channel,
        &c.thread_id,
        &c.topic,
        &c.state,
        &c.first_event_id,
        &c.last_event_id,
        &c.last_kind,
        &messages,
        &restarts,
        &c.opened_at,
        &c.updated_at,
        &c.closed_at,
        &c.gone_at,
        &c.last_received_at,
        &provisional,
    ];
    stmts.execute(tx, SAVE_CONVERSATION, params).await?;
    Ok(())
}

/// The conversation of a claimed delivery, as stored.
async fn conversation_of(
    tx: &Transaction<'_>,
    stmts: &mut Statements,
    target: &str,
    object: Option<&str>,
) -> Result<Option<Conversation>, tokio_postgres::Error> {
    let Some(object) = object else {
        return Ok(None);
    };
    let found = stmts
        .query_opt(tx, CONVERSATION, &[&target, &object])
        .await?;
    Ok(found.as_ref().map(conversation_row))
}

/// A conversation by its key, its columns as `CONVERSATION_COLUMNS` lists them (written out:
/// a prepared statement's text is a constant).
const CONVERSATION: &str = "SELECT target, object_key, channel, thread_id, topic, state,
         first_event_id, last_event_id, last_kind, messages, restarts, opened_at, updated_at,
         closed_at, gone_at, last_received_at, provisional
     FROM conversations WHERE target = $1 AND object_key = $2";

/// A conversation row, its columns as `CONVERSATION_COLUMNS` lists them.
pub(super) fn conversation_row(r: &Row) -> Conversation {
    let number = |i: usize| u32::try_from(r.get::<_, i64>(i)).unwrap_or(0);
    Conversation {
        target: r.get(0),
        object_key: r.get(1),
        channel: r.get(2),
        thread_id: r.get(3),
        topic: r.get(4),
        state: r.get(5),
        first_event_id: r.get(6),
        last_event_id: r.get(7),
        last_kind: r.get(8),
        messages: number(9),
        restarts: number(10),
        opened_at: r.get(11),
        updated_at: r.get(12),
        closed_at: r.get(13),
        gone_at: r.get(14),
        last_received_at: r.get(15),
        provisional: r.get::<_, i64>(16) != 0,
    }
}

fn claimed_row(r: &Row) -> ClaimedRow {
    ClaimedRow {
        delivery_id: r.get(0),
        lease_seq: r.get(1),
        attempts: r.get(2),
        rule: r.get(3),
        target: r.get(4),
        template: r.get(5),
        event_id: r.get(6),
        created_at: r.get(7),
        object_key: r.get(8),
        step: r.get(9),
    }
}

/// The event of a claim: handed over in memory, or read and parsed.
async fn event_of(
    tx: &Transaction<'_>,
    stmts: &mut Statements,
    id: &str,
    cache: &EventCache,
) -> Result<Result<Arc<StoredEvent>, StoreError>, tokio_postgres::Error> {
    if let Some(event) = cache.get(id) {
        return Ok(Ok(event));
    }
    let row = stmts.query_opt(tx, EVENT_BODY, &[&id]).await?;
    Ok(match row {
        Some(r) => StoredEventRow {
            id: id.to_owned(),
            received_at: r.get(0),
            body: r.get(1),
            enrichment: r.get(2),
        }
        .decode()
        .map(Arc::new),
        None => Err(StoreError::Other(format!("delivery of missing event {id}"))),
    })
}

/// A claimed delivery that can never be sent: dead, with the reason, at once.
async fn bury(
    tx: &Transaction<'_>,
    stmts: &mut Statements,
    row: &ClaimedRow,
    now: i64,
    why: &StoreError,
) -> Result<(), tokio_postgres::Error> {
    tracing::error!(delivery_id = row.delivery_id, error = %why, "a delivery cannot be sent: its event is unreadable");
    let error = format!("cannot be sent: {why}");
    // Its attempt row says why, as any other outcome's.
    let params: Params<'_> = &[
        &"dead",
        &None::<i64>,
        &now,
        &now,
        &None::<i64>,
        &error,
        &row.delivery_id,
        &row.lease_seq,
        &row.attempts,
        &now,
        &"dead",
        &None::<String>,
        &row.step,
        &None::<String>,
    ];
    stmts.execute(tx, FINISH, params).await?;
    Ok(())
}

const PROBE: &str = "INSERT INTO probe (id, written_at) VALUES (1, $1)
     ON CONFLICT (id) DO UPDATE SET written_at = excluded.written_at";

/// The readiness probe: a row rewritten through the group commit.
pub(super) async fn probe(
    tx: &Transaction<'_>,
    stmts: &mut Statements,
    p: &mut Pending<(), ()>,
    now: i64,
) -> Result<(), tokio_postgres::Error> {
    stmts.execute(tx, PROBE, &[&now]).await?;
    p.answer = Some(Ok(()));
    Ok(())
}
