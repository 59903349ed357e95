//! What operators read, each on a connection of the pool: the event listing with its filters
//! and page cursor, the dead letters, one delivery's story, every lane's health, and the
//! queue gauges of the metrics. The SQLite engine's queries in PostgreSQL's dialect.

use deadpool_postgres::Client;

use super::read::{
    DELIVERY_COLUMNS, OPEN_DEAD, Params, attempts_of, delivery_record, limit, row, rows,
    stored_event,
};
use crate::store::rows::{CONVERSATION_COLUMNS, count, rules_of, to_u16};
use crate::store::{
    Conversation, ConversationFilter, DeadFilter, DeliveryDetails, DeliveryRecord, EventFilter,
    EventOutcome, EventSummary, QueueStat, StoreError, TargetHealth,
};

/// The page of events `filter` asks for, chosen first (by the events' own index), then with
/// their deliveries counted: a page reads the deliveries of its own events only.
const LIST_EVENTS: &str = "WITH page AS (
         SELECT e.id, e.received_at, e.kind, e.company_id, e.company_name, e.routed_at,
                e.matched_rules
         FROM events e
         WHERE ($1::TEXT IS NULL OR e.kind = $1)
           AND ($2::TEXT IS NULL OR e.company_name = $2 OR e.company_id = $2)
           AND ($3::TEXT IS NULL OR EXISTS (SELECT 1 FROM deliveries r
                                            WHERE r.event_id = e.id AND r.rule = $3))
           AND ($4::TEXT IS NULL OR EXISTS (SELECT 1 FROM deliveries t
                                            WHERE t.event_id = e.id AND t.target = $4))
           AND ($5::BIGINT IS NULL OR e.received_at >= $5)
           AND ($6::BIGINT IS NULL OR e.received_at < $6)
           AND ($7::BIGINT IS NULL OR e.received_at < $7
                OR (e.received_at = $7 AND e.id < $8::TEXT))
           AND CASE $9::TEXT
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
                           WHERE x.event_id = e.id AND x.state = 'dead'
                             AND x.dropped_at IS NULL
                             AND NOT EXISTS (SELECT 1 FROM deliveries r WHERE r.replay_of = x.id))
               WHEN 'none' THEN
                   e.routed_at IS NOT NULL
                   AND NOT EXISTS (SELECT 1 FROM deliveries x WHERE x.event_id = e.id)
               WHEN 'unrouted' THEN e.routed_at IS NULL
               ELSE true END
         ORDER BY e.received_at DESC, e.id DESC LIMIT $10)
     SELECT p.id, p.received_at, p.kind, p.company_id, p.company_name, p.routed_at,
            COUNT(d.id),
            COUNT(d.id) FILTER (WHERE d.state = 'delivered'),
            COUNT(d.id) FILTER (WHERE d.state IN ('pending', 'sending')),
            COUNT(d.id) FILTER (WHERE d.state = 'dead' AND d.dropped_at IS NULL
                AND NOT EXISTS (SELECT 1 FROM deliveries r WHERE r.replay_of = d.id)),
            p.matched_rules,
            COALESCE(array_agg(DISTINCT d.target) FILTER (WHERE d.target IS NOT NULL), '{}')
     FROM page p LEFT JOIN deliveries d ON d.event_id = p.id
     GROUP BY p.id, p.received_at, p.kind, p.company_id, p.company_name, p.routed_at,
              p.matched_rules
     ORDER BY p.received_at DESC, p.id DESC";

pub(super) async fn list_events(
    conn: &Client,
    filter: &EventFilter,
) -> Result<Vec<EventSummary>, StoreError> {
    let (before_at, before_id) = match &filter.before {
        Some((at, id)) => (Some(*at), Some(id.as_str())),
        None => (None, None),
    };
    let params: Params<'_> = &[
        &filter.kind,
        &filter.company,
        &filter.rule,
        &filter.target,
        &filter.since_ms,
        &filter.until_ms,
        &before_at,
        &before_id,
        &filter.outcome.map(EventOutcome::as_str),
        &limit(filter.limit),
    ];
    let found = rows(conn, LIST_EVENTS, params).await?;
    found
        .iter()
        .map(|r| {
            let id: String = r.get(0);
            let rules: Option<String> = r.get(10);
            let mut targets: Vec<String> = r.get(11);
            // Sorted as the embedded store sorts them, whatever the database's collation.
            targets.sort_unstable();
            Ok(EventSummary {
                rules: rules_of(&id, rules.as_deref())?,
                targets,
                id,
                received_at: r.get(1),
                kind: r.get(2),
                company_id: r.get(3),
                company_name: r.get(4),
                routed_at: r.get(5),
                deliveries: count(r.get(6)),
                delivered: count(r.get(7)),
                waiting: count(r.get(8)),
                dead: count(r.get(9)),
            })
        })
        .collect()
}

pub(super) async fn dead_letters(
    conn: &Client,
    filter: &DeadFilter,
) -> Result<Vec<DeliveryRecord>, StoreError> {
    let sql = format!(
        "SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE {OPEN_DEAD}
           AND ($1::TEXT IS NULL OR target = $1) AND ($2::BIGINT IS NULL OR finished_at >= $2)
         ORDER BY id LIMIT $3"
    );
    let params: Params<'_> = &[&filter.target, &filter.since_ms, &limit(filter.limit)];
    let found = rows(conn, &sql, params).await?;
    found.iter().map(delivery_record).collect()
}

pub(super) async fn delivery(
    conn: &Client,
    id: i64,
) -> Result<Option<DeliveryDetails>, StoreError> {
    let sql = format!(
        "SELECT {DELIVERY_COLUMNS}, dropped_at,
                (SELECT MIN(r.id) FROM deliveries r WHERE r.replay_of = deliveries.id)
         FROM deliveries WHERE id = $1"
    );
    let Some(r) = row(conn, &sql, &[&id]).await? else {
        return Ok(None);
    };
    let delivery = delivery_record(&r)?;
    Ok(Some(DeliveryDetails {
        attempts: attempts_of(conn, id).await?,
        event: stored_event(conn, &delivery.event_id).await?,
        replayed_by: r.get(16),
        dropped_at: r.get(15),
        delivery,
    }))
}

/// Every lane's health at `now` (the database's clock, as the lanes' pauses are kept), counting
/// the deliveries delivered since `delivered_since` (the relay's, as finished times are kept).
///
/// One row per target row: every target a delivery names has one (the writes that add
/// deliveries add it first, and nothing deletes it). A delivered attempt is the last of its
/// delivery and ends at the delivery's `finished_at`, so what was delivered is read from the
/// index of finished deliveries rather than from every attempt; the latest attempt is that of
/// the lane's latest delivered or dead delivery, or of one still in the lane. The pause comes
/// in the database's clock.
pub(super) async fn target_health(
    conn: &Client,
    now: i64,
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
             WHERE state = 'delivered' AND finished_at >= $1 GROUP BY target)
         SELECT t.name, COALESCE(l.depth, 0), l.oldest, COALESCE(dl.n, 0),
                (SELECT finished_at FROM deliveries WHERE state = 'delivered' AND target = t.name
                 ORDER BY finished_at DESC LIMIT 1),
                a.finished_at, a.outcome, a.status, a.error,
                CASE WHEN t.blocked_until > $2 THEN t.blocked_until END, COALESCE(rc.n, 0)
         FROM targets t
         LEFT JOIN lanes l ON l.target = t.name
         LEFT JOIN dead dl ON dl.target = t.name
         LEFT JOIN recent rc ON rc.target = t.name
         LEFT JOIN LATERAL (
             SELECT x.finished_at, x.outcome, x.status, x.error FROM attempts x
             WHERE x.delivery_id IN (
                 (SELECT id FROM deliveries WHERE state = 'delivered' AND target = t.name
                  ORDER BY finished_at DESC LIMIT 1)
                 UNION ALL
                 (SELECT id FROM deliveries WHERE state = 'dead' AND target = t.name
                  ORDER BY finished_at DESC LIMIT 1)
                 UNION ALL
                 SELECT id FROM deliveries
                 WHERE target = t.name AND state IN ('pending', 'sending'))
             ORDER BY x.finished_at DESC LIMIT 1) a ON true"
    );
    let found = rows(conn, &sql, &[&delivered_since, &now]).await?;
    Ok(found
        .iter()
        .map(|r| TargetHealth {
            target: r.get(0),
            depth: count(r.get(1)),
            oldest_created_at: r.get(2),
            dead: count(r.get(3)),
            last_delivered_at: r.get(4),
            last_attempt_at: r.get(5),
            last_outcome: r.get(6),
            last_status: to_u16(r.get(7)),
            last_error: r.get(8),
            paused_until: r.get(9),
            delivered_last_hour: count(r.get(10)),
        })
        .collect())
}

pub(super) async fn queue_stats(conn: &Client) -> Result<(Vec<QueueStat>, u64), StoreError> {
    let found = rows(
        conn,
        "SELECT target, COUNT(*), MIN(created_at) FROM deliveries
         WHERE state IN ('pending', 'sending') GROUP BY target ORDER BY target",
        &[],
    )
    .await?;
    let stats = found
        .iter()
        .map(|r| QueueStat {
            target: r.get(0),
            depth: count(r.get(1)),
            oldest_created_at: r.get(2),
        })
        .collect();
    let sql = format!("SELECT COUNT(*) FROM deliveries WHERE {OPEN_DEAD}");
    let dead = row(conn, &sql, &[]).await?.map_or(0, |r| count(r.get(0)));
    Ok((stats, dead))
}

/// The conversations `filter` asks for, most recently updated first.
pub(super) async fn conversations(
    conn: &Client,
    filter: &ConversationFilter,
) -> Result<Vec<Conversation>, StoreError> {
    let sql = format!(
        "SELECT {CONVERSATION_COLUMNS} FROM conversations
         WHERE ($1::TEXT IS NULL OR object_key = $1
                OR object_key IN ('corrective-action:' || $1, 'audit:' || $1))
           AND ($2::TEXT IS NULL OR target = $2)
         ORDER BY updated_at DESC, target, object_key LIMIT $3"
    );
    let limit = i64::try_from(filter.limit).unwrap_or(i64::MAX);
    let found = rows(conn, &sql, &[&filter.object, &filter.target, &limit]).await?;
    Ok(found.iter().map(super::write::conversation_row).collect())
}
