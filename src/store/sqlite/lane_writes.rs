//! The lanes' writes as the group-commit writer makes them, inside its batch's transaction:
//! routing an event, an outcome, a claim of a lane's head.
//!
//! Each function returns `Err(sqlx::Error)` for a database failure, which aborts the whole
//! batch, and `Ok(Err(StoreError))` for its own caller's refusal (no such event), after which
//! the other callers' writes are still committed.

use std::collections::{BTreeSet, HashSet};
use std::time::Duration;

use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection};

use super::millis;
use super::read::StoredEventRow;
use crate::store::{Claim, NewDelivery, Outcome, StoreError};

/// Routing of one event, as the writer makes it inside its batch.
pub(super) struct RouteRow {
    event_id: String,
    /// The matched rules' names, as JSON.
    rules: String,
    deliveries: Vec<NewDelivery>,
}

impl RouteRow {
    pub(super) fn new(
        event_id: &str,
        matched_rules: &[String],
        deliveries: Vec<NewDelivery>,
    ) -> Result<RouteRow, StoreError> {
        let rules = serde_json::to_string(matched_rules)
            .map_err(|e| StoreError::Other(format!("cannot encode matched rules: {e}")))?;
        Ok(RouteRow {
            event_id: event_id.to_owned(),
            rules,
            deliveries,
        })
    }
}

/// A lane's writes for one group commit, in this order: the outcome of its current claim, then
/// a claim of its head (in one transaction, so a delivery costs one commit, not two).
pub(super) struct LaneWrite {
    pub(super) finish: Option<FinishRow>,
    pub(super) claim: Option<ClaimRow>,
}

pub(super) struct LaneDone {
    /// The outcome was recorded (false: no outcome asked for, or the claim was stale).
    pub(super) finished: bool,
    pub(super) claim: Option<Claim>,
}

/// An outcome, with everything the writer needs from the claim.
pub(super) struct FinishRow {
    delivery_id: i64,
    lease_seq: i64,
    attempt: i64,
    claimed_at: i64,
    now_ms: i64,
    state: &'static str,
    retry_at: Option<i64>,
    finished_at: Option<i64>,
    outcome: &'static str,
    status: Option<i64>,
    error: Option<String>,
    provider_id: Option<String>,
}

impl FinishRow {
    pub(super) fn new(claim: &Claim, outcome: &Outcome, now_ms: i64) -> FinishRow {
        let (state, retry_at, finished_at) = match outcome {
            Outcome::Delivered { .. } => ("delivered", None, Some(now_ms)),
            Outcome::Retry { at_ms, .. } => ("pending", Some(*at_ms), None),
            Outcome::Dead { .. } => ("dead", None, Some(now_ms)),
        };
        let provider_id = match outcome {
            Outcome::Delivered { provider_id, .. } => provider_id.clone(),
            _ => None,
        };
        FinishRow {
            delivery_id: claim.delivery_id,
            lease_seq: claim.lease_seq,
            attempt: i64::from(claim.attempt),
            claimed_at: claim.claimed_at,
            now_ms,
            state,
            retry_at,
            finished_at,
            outcome: outcome.as_str(),
            status: outcome.status().map(i64::from),
            error: outcome.error().map(str::to_owned),
            provider_id,
        }
    }
}

pub(super) struct ClaimRow {
    target: String,
    now_ms: i64,
    lease_until: i64,
    owner: String,
}

impl ClaimRow {
    pub(super) fn new(target: &str, now_ms: i64, lease: Duration, owner: &str) -> ClaimRow {
        ClaimRow {
            target: target.to_owned(),
            now_ms,
            lease_until: now_ms.saturating_add(millis(lease)),
            owner: owner.to_owned(),
        }
    }
}

/// Inside the writer's transaction: every event of `rows` that exists and is not routed yet is
/// marked routed, and gets one pending delivery (due now) per `NewDelivery`, in the order of
/// `rows`. Routing an event again does nothing. A few multi-row statements for the lot (per
/// statement the connection's worker thread is woken and answers). The outer error aborts the
/// batch; the inner one names an event that does not exist (nothing was written for it, the
/// others are routed).
pub(super) async fn route_all(
    conn: &mut SqliteConnection,
    rows: &[RouteRow],
    now: i64,
) -> Result<Result<(), StoreError>, sqlx::Error> {
    let mut marked = HashSet::new();
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        marked.extend(mark_routed(conn, chunk, now).await?);
    }
    // An event named twice is routed once, by its first row.
    let mut fresh = marked.clone();
    let routed: Vec<&RouteRow> = rows
        .iter()
        .filter(|row| fresh.remove(&row.event_id))
        .collect();
    insert_deliveries(conn, &routed, now).await?;
    let unmarked: Vec<&RouteRow> = rows
        .iter()
        .filter(|row| !marked.contains(&row.event_id))
        .collect();
    for row in unmarked {
        // Already routed (nothing to do), or no such event.
        let exists: Option<String> = sqlx::query_scalar("SELECT id FROM events WHERE id = $1")
            .bind(&row.event_id)
            .fetch_optional(&mut *conn)
            .await?;
        if exists.is_none() {
            let missing = format!("no event with id {}", row.event_id);
            return Ok(Err(StoreError::Other(missing)));
        }
    }
    Ok(Ok(()))
}

/// Rows per multi-row statement: well under SQLite's limit of bound values.
const ROWS_PER_STATEMENT: usize = 128;

/// Marks the events of `rows` that are not routed yet; returns their ids.
async fn mark_routed(
    conn: &mut SqliteConnection,
    rows: &[RouteRow],
    now: i64,
) -> Result<Vec<String>, sqlx::Error> {
    let mut update = QueryBuilder::<Sqlite>::new("UPDATE events SET routed_at = ");
    update.push_bind(now).push(", matched_rules = CASE id");
    for row in rows {
        update
            .push(" WHEN ")
            .push_bind(row.event_id.clone())
            .push(" THEN ")
            .push_bind(row.rules.clone());
    }
    update.push(" END WHERE routed_at IS NULL AND id IN (");
    let mut ids = update.separated(", ");
    for row in rows {
        ids.push_bind(row.event_id.clone());
    }
    update.push(") RETURNING id");
    update
        .build_query_scalar::<String>()
        .persistent(false)
        .fetch_all(&mut *conn)
        .await
}

/// The lanes' rows (one per target named), then the deliveries, in order.
async fn insert_deliveries(
    conn: &mut SqliteConnection,
    routed: &[&RouteRow],
    now: i64,
) -> Result<(), sqlx::Error> {
    let deliveries: Vec<(&str, &NewDelivery)> = routed
        .iter()
        .flat_map(|row| row.deliveries.iter().map(|d| (row.event_id.as_str(), d)))
        .collect();
    if deliveries.is_empty() {
        return Ok(());
    }
    let targets: BTreeSet<&str> = deliveries.iter().map(|(_, d)| d.target.as_str()).collect();
    let targets: Vec<&str> = targets.into_iter().collect();
    for chunk in targets.chunks(ROWS_PER_STATEMENT) {
        let mut insert = QueryBuilder::<Sqlite>::new("INSERT INTO targets (name) ");
        insert.push_values(chunk, |mut values, target| {
            values.push_bind(target.to_string());
        });
        insert.push(" ON CONFLICT (name) DO NOTHING");
        insert.build().persistent(false).execute(&mut *conn).await?;
    }
    for chunk in deliveries.chunks(ROWS_PER_STATEMENT) {
        let mut insert = QueryBuilder::<Sqlite>::new(
            "INSERT INTO deliveries
                 (event_id, rule, target, template, state, next_attempt_at, created_at, updated_at) ",
        );
        insert.push_values(chunk, |mut values, (event_id, d)| {
            values
                .push_bind(event_id.to_string())
                .push_bind(d.rule.clone())
                .push_bind(d.target.clone())
                .push_bind(d.template.clone())
                .push_bind("pending")
                .push_bind(now)
                .push_bind(now)
                .push_bind(now);
        });
        insert.build().persistent(false).execute(&mut *conn).await?;
    }
    Ok(())
}

/// The outcome: the delivery's new state, only if the claim's lease is still the current one.
const FINISH: &str = "UPDATE deliveries
     SET state = $1, next_attempt_at = COALESCE($2, next_attempt_at),
         lease_owner = NULL, lease_until = NULL, updated_at = $3, finished_at = $4,
         last_status = $5, last_error = $6
     WHERE id = $7 AND lease_seq = $8 AND state = 'sending';";

/// The outcome's attempt row, written only when `FINISH` changed the delivery (a stale claim
/// changes nothing); its returned row tells the caller the outcome was recorded.
const ATTEMPT: &str = "INSERT INTO attempts
         (delivery_id, attempt, started_at, finished_at, outcome, status, error, provider_id)
     SELECT $7, $9, $10, $3, $11, $5, $6, $12 WHERE changes() = 1
     RETURNING 'finished' AS kind;";

/// Leases the head of the lane if it is ready, and returns it with its event. SQLite has one
/// writer, so one statement inside the writer's transaction is the whole claim. PostgreSQL:
/// lock the lane first (SELECT .. FROM targets WHERE name = $16 FOR UPDATE), then the same
/// UPDATE; SKIP LOCKED on the head itself would break FIFO.
const CLAIM: &str = "UPDATE deliveries
     SET state = 'sending', lease_owner = $13, lease_until = $14,
         lease_seq = lease_seq + 1, attempts = attempts + 1, updated_at = $15
     WHERE id = (SELECT id FROM deliveries
                 WHERE target = $16 AND state IN ('pending', 'sending')
                 ORDER BY id LIMIT 1)
       AND ((state = 'pending' AND next_attempt_at <= $15)
            OR (state = 'sending' AND lease_until <= $15))
       AND NOT EXISTS (SELECT 1 FROM targets WHERE name = $16 AND blocked_until > $15)
     RETURNING 'claim' AS kind, id, lease_seq, attempts, rule, target, template, event_id,
         created_at,
         (SELECT received_at FROM events WHERE events.id = event_id) AS event_received_at,
         (SELECT body FROM events WHERE events.id = event_id) AS event_body,
         (SELECT enrichment FROM events WHERE events.id = event_id) AS event_enrichment;";

/// Inside the writer's transaction: the outcome (if any), then the claim (if any), sent to the
/// connection as one command (parameters `$1`-`$12` are the outcome's, `$13`-`$16` the
/// claim's): every statement is a round trip to the connection's worker thread, and a lane
/// waits for its write before it sends again.
pub(super) async fn lane_write(
    conn: &mut SqliteConnection,
    write: &LaneWrite,
) -> Result<Result<LaneDone, StoreError>, sqlx::Error> {
    let mut sql = String::new();
    if write.finish.is_some() {
        sql.push_str(FINISH);
        sql.push_str(ATTEMPT);
    }
    if write.claim.is_some() {
        sql.push_str(CLAIM);
    }
    if sql.is_empty() {
        return Ok(Ok(LaneDone {
            finished: false,
            claim: None,
        }));
    }
    let query = bind_claim(
        bind_finish(sqlx::query(sqlx::AssertSqlSafe(sql)), write.finish.as_ref()),
        write.claim.as_ref(),
    );
    let rows = query.fetch_all(&mut *conn).await?;
    let mut done = LaneDone {
        finished: false,
        claim: None,
    };
    for row in &rows {
        let kind: String = row.try_get("kind")?;
        if kind == "finished" {
            done.finished = true;
        } else if let Some(claim_row) = &write.claim {
            done.claim = match claimed(row, claim_row)? {
                Ok(claim) => Some(claim),
                // The outcome is committed with this batch whatever the claim found: say so,
                // and leave the head to the lane's next claim (which reports the error).
                Err(e) if done.finished => {
                    tracing::warn!(target_name = %claim_row.target, "cannot claim the next delivery: {e}");
                    None
                }
                Err(e) => return Ok(Err(e)),
            };
        }
    }
    Ok(Ok(done))
}

/// The event's columns of a claim row; a missing or unreadable one is the claim's error, not
/// the batch's.
fn event_columns(
    row: &sqlx::sqlite::SqliteRow,
    event_id: String,
) -> Result<StoredEventRow, StoreError> {
    let unreadable = |e: sqlx::Error| StoreError::Other(format!("event {event_id}: {e}"));
    let Some(body) = row
        .try_get::<Option<String>, _>("event_body")
        .map_err(unreadable)?
    else {
        return Err(StoreError::Other(format!(
            "delivery of missing event {event_id}"
        )));
    };
    Ok(StoredEventRow {
        received_at: row.try_get("event_received_at").map_err(unreadable)?,
        enrichment: row.try_get("event_enrichment").map_err(unreadable)?,
        body,
        id: event_id,
    })
}

type Query<'q> = sqlx::query::Query<'q, Sqlite, sqlx::sqlite::SqliteArguments>;

/// Binds `$1`-`$12` (nulls when there is no outcome: the statements are not in the command).
fn bind_finish<'q>(query: Query<'q>, row: Option<&FinishRow>) -> Query<'q> {
    let Some(row) = row else {
        return (0..12).fold(query, |q, _| q.bind(None::<i64>));
    };
    query
        .bind(row.state)
        .bind(row.retry_at)
        .bind(row.now_ms)
        .bind(row.finished_at)
        .bind(row.status)
        .bind(row.error.clone())
        .bind(row.delivery_id)
        .bind(row.lease_seq)
        .bind(row.attempt)
        .bind(row.claimed_at)
        .bind(row.outcome)
        .bind(row.provider_id.clone())
}

/// Binds `$13`-`$16`.
fn bind_claim<'q>(query: Query<'q>, row: Option<&ClaimRow>) -> Query<'q> {
    let Some(row) = row else {
        return query;
    };
    query
        .bind(row.owner.clone())
        .bind(row.lease_until)
        .bind(row.now_ms)
        .bind(row.target.clone())
}

/// The claim a `CLAIM` row holds. The foreign key keeps the event while a delivery points at
/// it; an unreadable one (a corrupt body) is this claim's error, and its lease runs out like a
/// crashed sender's.
fn claimed(
    row: &sqlx::sqlite::SqliteRow,
    claim: &ClaimRow,
) -> Result<Result<Claim, StoreError>, sqlx::Error> {
    let event_id: String = row.try_get("event_id")?;
    let event = match event_columns(row, event_id).and_then(StoredEventRow::decode) {
        Ok(event) => event,
        Err(e) => return Ok(Err(e)),
    };
    let attempts: i64 = row.try_get("attempts")?;
    Ok(Ok(Claim {
        delivery_id: row.try_get("id")?,
        lease_seq: row.try_get("lease_seq")?,
        attempt: u32::try_from(attempts).unwrap_or(u32::MAX),
        rule: row.try_get("rule")?,
        target: row.try_get("target")?,
        template: row.try_get("template")?,
        event,
        created_at: row.try_get("created_at")?,
        claimed_at: claim.now_ms,
    }))
}
