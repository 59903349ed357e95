//! The SQLite tables, embedded in the binary, and their migrations.
//!
//! Each entry of [`MIGRATIONS`] moves the schema one version up; SQLite records the version in
//! `PRAGMA user_version`. Migrations are forward only and run at open; a file of a newer version
//! is refused. Times are `BIGINT` milliseconds since the Unix epoch and JSON is `TEXT`.

/// Version 1: events, the dedup index, target lanes, deliveries and attempts.
const V1: &str = r#"
-- One row per acknowledged event. `body` is the canonical JSON of the envelope
-- (PostgreSQL: JSONB). `matched_rules` is a JSON array, set together with `routed_at`.
CREATE TABLE events (
    id            TEXT PRIMARY KEY,           -- UUID v7: time-ordered
    received_at   BIGINT NOT NULL,            -- ms since the Unix epoch
    kind          TEXT NOT NULL,
    company_id    TEXT,
    company_name  TEXT,
    body          TEXT NOT NULL,
    dedup_key     TEXT NOT NULL,
    routed_at     BIGINT,
    matched_rules TEXT
);
CREATE INDEX events_unrouted ON events (received_at, id) WHERE routed_at IS NULL;
CREATE INDEX events_received_at ON events (received_at);
CREATE INDEX events_dedup_key ON events (dedup_key);

-- The dedup index: the last stored event per content key. A new event claims the key with
-- INSERT .. ON CONFLICT DO UPDATE .. WHERE the old one is outside the window, so two writers
-- (PostgreSQL replicas) cannot both store the same event.
CREATE TABLE dedup (
    dedup_key   TEXT PRIMARY KEY,
    event_id    TEXT NOT NULL,
    received_at BIGINT NOT NULL
);
CREATE INDEX dedup_received_at ON dedup (received_at);

-- A target's lane: the Retry-After pause (`blocked_until`) and rate-limit state
-- (`next_allowed_at`). PostgreSQL claims lock this row (FOR UPDATE) to keep the lane FIFO.
CREATE TABLE targets (
    name            TEXT PRIMARY KEY,
    blocked_until   BIGINT NOT NULL DEFAULT 0,
    next_allowed_at BIGINT NOT NULL DEFAULT 0
);

-- One row per (event, rule, target). PostgreSQL: id BIGINT GENERATED ALWAYS AS IDENTITY.
CREATE TABLE deliveries (
    id              INTEGER PRIMARY KEY,
    event_id        TEXT NOT NULL REFERENCES events (id),
    rule            TEXT NOT NULL,
    target          TEXT NOT NULL,
    template        TEXT,
    state           TEXT NOT NULL
                    CHECK (state IN ('pending', 'sending', 'delivered', 'dead')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    lease_owner     TEXT,
    lease_until     BIGINT,
    lease_seq       BIGINT NOT NULL DEFAULT 0,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    finished_at     BIGINT,
    last_status     INTEGER,
    last_error      TEXT,
    replay_of       BIGINT REFERENCES deliveries (id)
);
-- The claim: the head of each lane among unfinished rows.
CREATE INDEX deliveries_lane ON deliveries (target, id) WHERE state IN ('pending', 'sending');
CREATE INDEX deliveries_event ON deliveries (event_id);
-- The dead-letter list and pruning of finished rows.
CREATE INDEX deliveries_finished ON deliveries (state, finished_at);

CREATE TABLE attempts (
    delivery_id BIGINT NOT NULL REFERENCES deliveries (id),
    attempt     INTEGER NOT NULL,
    started_at  BIGINT NOT NULL,
    finished_at BIGINT NOT NULL,
    outcome     TEXT NOT NULL CHECK (outcome IN ('delivered', 'retry', 'dead')),
    status      INTEGER,
    error       TEXT,
    provider_id TEXT,
    PRIMARY KEY (delivery_id, attempt)
);
"#;

/// Version 2: what the MonitorQA API lookup found for an event (kept so that every delivery
/// renders what routing saw), and dead letters an operator dropped (kept until pruned, so a
/// replay's pointer to its original stays valid).
const V2: &str = r#"
ALTER TABLE events ADD COLUMN enrichment TEXT;
ALTER TABLE deliveries ADD COLUMN dropped_at BIGINT;
CREATE INDEX deliveries_replay_of ON deliveries (replay_of) WHERE replay_of IS NOT NULL;
"#;

/// Version 3: less to write per event. `events_dedup_key` was never read (the `dedup` table
/// answers every look-up by key): dropping it saves one randomly placed page per new event,
/// since a content hash scatters the keys. `dedup` keeps its rows in its key's B-tree instead
/// of a rowid table plus an index on the key (one B-tree to update instead of two).
/// PostgreSQL: no `WITHOUT ROWID`; the primary key is enough.
const V3: &str = r#"
DROP INDEX events_dedup_key;
CREATE TABLE dedup_v3 (
    dedup_key   TEXT PRIMARY KEY,
    event_id    TEXT NOT NULL,
    received_at BIGINT NOT NULL
) WITHOUT ROWID;
INSERT INTO dedup_v3 (dedup_key, event_id, received_at)
    SELECT dedup_key, event_id, received_at FROM dedup ORDER BY dedup_key;
DROP TABLE dedup;
ALTER TABLE dedup_v3 RENAME TO dedup;
CREATE INDEX dedup_received_at ON dedup (received_at);
"#;

/// Version 4: the row readiness rewrites while the store is failing, with fresh random bytes
/// (see [`PROBE_BYTES`]): a write that needs room on the disk as a burst of events does, where
/// rewriting a setting to the value it has fits in space a failed write left behind.
const V4: &str = r#"
CREATE TABLE probe (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    written_at BIGINT NOT NULL,
    filler     BLOB NOT NULL
);
"#;

/// Version 5: the object an event is about (`Event::object_key`: the corrective action, audit
/// or template id), so that the earlier events of one object are found by an index, not a
/// scan (`corrective-action:<id>`, `audit:<id>`, `template:<id>`). Existing rows get it from
/// their bodies, as the relay computes it.
const V5: &str = r#"
ALTER TABLE events ADD COLUMN object_key TEXT;
UPDATE events SET object_key = CASE
    WHEN kind GLOB 'CORRECTIVE_ACTION_*' AND json_type(body, '$.data.correctiveActionId') = 'text'
        THEN 'corrective-action:' || json_extract(body, '$.data.correctiveActionId')
    WHEN kind GLOB 'AUDIT_*' AND json_type(body, '$.data.auditId') = 'text'
        THEN 'audit:' || json_extract(body, '$.data.auditId')
    WHEN kind GLOB 'TEMPLATE_*' AND json_type(body, '$.data.id') = 'text'
        THEN 'template:' || json_extract(body, '$.data.id')
END
WHERE kind GLOB 'CORRECTIVE_ACTION_*' OR kind GLOB 'AUDIT_*' OR kind GLOB 'TEMPLATE_*';
CREATE INDEX events_object ON events (object_key, received_at) WHERE object_key IS NOT NULL;
"#;

/// Version 6: conversations (one thread per target and audit or corrective action, see
/// [`crate::conversation`]). A delivery to a target with `threads: true` names its object
/// (`object_key`) and its step (0: post, 1: edit the parent after a reply); a lane claims the
/// deliveries of one object in order (`deliveries_object`: the unfinished ones per object,
/// only for such deliveries). An attempt says what it did in its conversation (`action`:
/// `start`, `reply`, `update`, `skipped`). Existing rows are messages of their own.
const V6: &str = r#"
ALTER TABLE deliveries ADD COLUMN object_key TEXT;
ALTER TABLE deliveries ADD COLUMN step INTEGER NOT NULL DEFAULT 0;
ALTER TABLE attempts ADD COLUMN action TEXT;
CREATE INDEX deliveries_object ON deliveries (target, object_key, id)
    WHERE object_key IS NOT NULL AND state IN ('pending', 'sending');
CREATE TABLE conversations (
    target         TEXT NOT NULL,
    object_key     TEXT NOT NULL,
    channel        TEXT,                -- Slack: the parent's channel id; email: NULL
    thread_id      TEXT NOT NULL,       -- Slack: the parent's ts; email: the first Message-ID
    topic          TEXT NOT NULL,
    state          TEXT NOT NULL,       -- where the object stands, as the parent shows it
    first_event_id TEXT NOT NULL,
    last_event_id  TEXT NOT NULL,
    last_kind      TEXT NOT NULL,
    messages       INTEGER NOT NULL,
    restarts       INTEGER NOT NULL DEFAULT 0,
    opened_at      BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    closed_at      BIGINT,
    gone_at        BIGINT,
    last_received_at BIGINT NOT NULL DEFAULT 0, -- of the latest event: older ones only add
    provisional    INTEGER NOT NULL DEFAULT 0,  -- 1: its topic came from another object
    PRIMARY KEY (target, object_key)
) WITHOUT ROWID;
CREATE INDEX conversations_object ON conversations (object_key);
CREATE INDEX conversations_updated ON conversations (updated_at);
"#;

/// Every migration in order; the schema version after applying `MIGRATIONS[i]` is `i + 1`.
pub(super) const MIGRATIONS: &[&str] = &[V1, V2, V3, V4, V5, V6];

/// The size of the readiness probe's write. An event, its routing and its delivery's first
/// outcome write about a dozen pages of 4 KiB to the log (the rows, the dedup key, their
/// indexes); a write that fails part-way on a full disk leaves the space it got behind, less
/// than it needed, for the next write to reuse. The probe (64 pages) is larger than a few
/// events, so it succeeds only when the disk has room for them again.
pub(super) const PROBE_BYTES: usize = 256 * 1024;

/// The schema version this binary writes.
pub(super) fn current_version() -> i64 {
    // The list is a short constant: its length fits in an i64.
    MIGRATIONS.len() as i64
}
