//! The PostgreSQL tables and their migrations.
//!
//! The columns are the SQLite engine's (text ids, `BIGINT` milliseconds since the Unix epoch,
//! JSON as text), so both engines share the row types and their decoding; every integer is a
//! `BIGINT`. The version is a row of `schema_version`; migrations are forward only and run at
//! open, one transaction for all, under a transaction-level advisory lock, so that several
//! relays starting at once migrate once. A database of a newer version is refused.

/// The key of the advisory lock migrations hold (any constant; "mqa-relay" in ASCII).
pub(super) const MIGRATION_LOCK: i64 = 0x6d71_612d_7265_6c61;

/// Version 1: everything the SQLite engine has at its version 4.
const V1: &str = r#"
CREATE TABLE events (
    id            TEXT PRIMARY KEY,
    received_at   BIGINT NOT NULL,
    kind          TEXT NOT NULL,
    company_id    TEXT,
    company_name  TEXT,
    body          TEXT NOT NULL,
    dedup_key     TEXT NOT NULL,
    routed_at     BIGINT,
    matched_rules TEXT,
    enrichment    TEXT
);
CREATE INDEX events_unrouted ON events (received_at, id) WHERE routed_at IS NULL;
CREATE INDEX events_received_at ON events (received_at);

-- The last stored event per content key; a new event claims its key with INSERT .. ON CONFLICT
-- DO UPDATE .. WHERE the old one is outside the window, so two relays cannot both store it.
CREATE TABLE dedup (
    dedup_key   TEXT PRIMARY KEY,
    event_id    TEXT NOT NULL,
    received_at BIGINT NOT NULL
);
CREATE INDEX dedup_received_at ON dedup (received_at);

-- A target's lane: its Retry-After pause. A claim locks this row (FOR UPDATE SKIP LOCKED), so
-- one relay at a time claims in a lane.
CREATE TABLE targets (
    name            TEXT PRIMARY KEY,
    blocked_until   BIGINT NOT NULL DEFAULT 0,
    next_allowed_at BIGINT NOT NULL DEFAULT 0
) WITH (fillfactor = 50);

CREATE TABLE deliveries (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id        TEXT NOT NULL REFERENCES events (id),
    rule            TEXT NOT NULL,
    target          TEXT NOT NULL,
    template        TEXT,
    state           TEXT NOT NULL
                    CHECK (state IN ('pending', 'sending', 'delivered', 'dead')),
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    lease_owner     TEXT,
    lease_until     BIGINT,
    lease_seq       BIGINT NOT NULL DEFAULT 0,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    finished_at     BIGINT,
    last_status     BIGINT,
    last_error      TEXT,
    replay_of       BIGINT REFERENCES deliveries (id),
    dropped_at      BIGINT
) WITH (fillfactor = 80);
CREATE INDEX deliveries_lane ON deliveries (target, id) WHERE state IN ('pending', 'sending');
CREATE INDEX deliveries_event ON deliveries (event_id);
CREATE INDEX deliveries_finished ON deliveries (state, finished_at);
-- Without it every prune's delete of a delivery scans the table for replays pointing at it.
CREATE INDEX deliveries_replay_of ON deliveries (replay_of) WHERE replay_of IS NOT NULL;

CREATE TABLE attempts (
    delivery_id BIGINT NOT NULL REFERENCES deliveries (id),
    attempt     BIGINT NOT NULL,
    started_at  BIGINT NOT NULL,
    finished_at BIGINT NOT NULL,
    outcome     TEXT NOT NULL CHECK (outcome IN ('delivered', 'retry', 'dead')),
    status      BIGINT,
    error       TEXT,
    provider_id TEXT,
    PRIMARY KEY (delivery_id, attempt)
);

-- Readiness writes this row through the group commit while the store is failing.
CREATE TABLE probe (
    id         BIGINT PRIMARY KEY CHECK (id = 1),
    written_at BIGINT NOT NULL
);
"#;

/// Version 2: the lane's pace, kept for every relay: the theoretical arrival time of the
/// target's next send (GCRA), in microseconds on the database's clock.
const V2: &str = r#"
ALTER TABLE targets ADD COLUMN next_send_us BIGINT NOT NULL DEFAULT 0;
"#;

/// Version 3: a delivery is replayed at most once, whatever two operators do at the same time
/// (the replay locks its dead letter first; this is the backstop).
const V3: &str = r#"
DROP INDEX deliveries_replay_of;
CREATE UNIQUE INDEX deliveries_replay_of ON deliveries (replay_of) WHERE replay_of IS NOT NULL;
"#;

/// Version 4: the object an event is about (`Event::object_key`: `corrective-action:<id>`,
/// `audit:<id>`, `template:<id>`), so that the earlier events of one object are found by an
/// index, not a scan. The events stored before it get theirs from [`super::backfill_object_keys`],
/// in Rust as intake computes it: PostgreSQL's JSON types refuse the `\u0000` a stored body
/// may hold.
const V4: &str = r#"
ALTER TABLE events ADD COLUMN object_key TEXT;
CREATE INDEX events_object ON events (object_key, received_at) WHERE object_key IS NOT NULL;
"#;

/// Version 5: autovacuum tuned for a queue. Every delivery's row is rewritten three or four
/// times in its first seconds (claimed, finished) and its index entries go stale as often; at
/// PostgreSQL's default thresholds (a fifth of the table) a busy relay's lane index fills with
/// dead entries that every claim steps over, and the planner's statistics lag behind the
/// backlog. These settings vacuum and analyze after a few hundred changes instead, as
/// PostgreSQL job queues advise for their tables.
const V5: &str = r#"
ALTER TABLE deliveries SET (autovacuum_vacuum_scale_factor = 0.02,
                            autovacuum_vacuum_threshold = 500,
                            autovacuum_analyze_scale_factor = 0.02,
                            autovacuum_analyze_threshold = 500,
                            autovacuum_vacuum_cost_delay = 1);
ALTER TABLE targets SET (autovacuum_vacuum_scale_factor = 0.0,
                         autovacuum_vacuum_threshold = 1000);
ALTER TABLE dedup SET (autovacuum_vacuum_scale_factor = 0.02,
                       autovacuum_vacuum_threshold = 1000);
"#;

/// Version 6: the router's lease on an unrouted event, so that of several relays one looks it
/// up and routes it (see [`super::read::claim_unrouted`]).
const V6: &str = r#"
ALTER TABLE events ADD COLUMN routing_owner TEXT;
ALTER TABLE events ADD COLUMN routing_until BIGINT;
"#;

/// Version 7: the sends in flight per lane, so that a FIFO lane's claim can tell one is in
/// flight without walking the lane (see `CLAIM_HEAD`).
const V7: &str = r#"
CREATE INDEX deliveries_sending ON deliveries (target, lease_until) WHERE state = 'sending';
"#;

/// Version 8: the unrouted events of each object, so that a router's claim can tell whether
/// an earlier event of the same object is held by another relay without walking the object's
/// whole history (see `claim_unrouted`).
const V8: &str = r#"
CREATE INDEX events_unrouted_object ON events (object_key, received_at)
    WHERE routed_at IS NULL AND object_key IS NOT NULL;
"#;

/// Version 9: conversations, as the embedded engine's version 6 describes them
/// (`crate::store::sqlite::schema`): the object and step of a delivery, the action of an
/// attempt, the index that keeps one object's deliveries in order, and the conversations.
const V9: &str = r#"
ALTER TABLE deliveries ADD COLUMN object_key TEXT;
ALTER TABLE deliveries ADD COLUMN step BIGINT NOT NULL DEFAULT 0;
ALTER TABLE attempts ADD COLUMN action TEXT;
CREATE INDEX deliveries_object ON deliveries (target, object_key, id)
    WHERE object_key IS NOT NULL AND state IN ('pending', 'sending');
CREATE TABLE conversations (
    target         TEXT NOT NULL,
    object_key     TEXT NOT NULL,
    channel        TEXT,
    thread_id      TEXT NOT NULL,
    topic          TEXT NOT NULL,
    state          TEXT NOT NULL,
    first_event_id TEXT NOT NULL,
    last_event_id  TEXT NOT NULL,
    last_kind      TEXT NOT NULL,
    messages       BIGINT NOT NULL,
    restarts       BIGINT NOT NULL DEFAULT 0,
    opened_at      BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    closed_at      BIGINT,
    gone_at        BIGINT,
    last_received_at BIGINT NOT NULL DEFAULT 0,
    provisional    BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (target, object_key)
);
CREATE INDEX conversations_object ON conversations (object_key);
CREATE INDEX conversations_updated ON conversations (updated_at);
"#;

/// The version whose migration is followed by [`super::backfill_object_keys`].
pub(super) const OBJECT_KEY_VERSION: usize = 4;

/// Every migration in order; the schema version after applying `MIGRATIONS[i]` is `i + 1`.
pub(super) const MIGRATIONS: &[&str] = &[V1, V2, V3, V4, V5, V6, V7, V8, V9];

/// The schema version this binary writes.
pub(super) fn current_version() -> i64 {
    // The list is a short constant: its length fits in an i64.
    MIGRATIONS.len() as i64
}
