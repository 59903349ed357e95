//! The values the store takes and returns: events as stored, deliveries, claims and outcomes.
//!
//! Plain data, independent of the backend. Times are milliseconds since the Unix epoch.

use std::sync::Arc;

pub use crate::conversation::Conversation;
use crate::event::Event;

/// What intake learns when it stores an event.
#[derive(Debug, Clone, PartialEq)]
pub struct Ingested {
    pub id: String,
    /// True when this is a MonitorQA retry of an event already stored within the window.
    pub duplicate: bool,
    /// When it was stored (the first one's time is not looked up for a duplicate: 0).
    pub received_at: i64,
    /// The stored event, for the senders (`None` for a duplicate).
    pub event: Option<Arc<StoredEvent>>,
    /// The targets that got deliveries in the same commit (routed at intake), sorted.
    pub targets: Vec<String>,
}

impl Ingested {
    /// A MonitorQA retry of the event stored as `first`.
    pub fn duplicate_of(first: String) -> Ingested {
        Ingested {
            id: first,
            duplicate: true,
            received_at: 0,
            event: None,
            targets: Vec::new(),
        }
    }
}

/// An event as stored: its id (UUID v7), when it was acknowledged, and the envelope.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    pub id: String,
    pub received_at: i64,
    pub event: Event,
    /// What the MonitorQA API lookup added at routing (`{"audit": …}` / `{"action": …}`).
    pub enrichment: Option<serde_json::Value>,
}

impl StoredEvent {
    /// The event as rules and templates see it: the envelope plus what enrichment added.
    pub fn context(&self) -> serde_json::Value {
        let mut value = self.event.to_value();
        if let (serde_json::Value::Object(map), Some(serde_json::Value::Object(extra))) =
            (&mut value, &self.enrichment)
        {
            for (k, v) in extra {
                map.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        value
    }
}

/// Which events `list_events` returns, newest first (by `received_at`, then id). Every filter
/// set must hold.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub limit: usize,
    /// Only this event type.
    pub kind: Option<String>,
    /// Only this company, by name or id.
    pub company: Option<String>,
    /// Only events with a delivery for this rule.
    pub rule: Option<String>,
    /// Only events with a delivery to this target.
    pub target: Option<String>,
    /// Only events whose deliveries stand so (see [`EventOutcome`]).
    pub outcome: Option<EventOutcome>,
    /// Only events received at or after this time (ms).
    pub since_ms: Option<i64>,
    /// Only events received before this time (ms).
    pub until_ms: Option<i64>,
    /// Only events after this one in the listing's order, given as its `(received_at, id)`:
    /// the last event of one page asks for the next page.
    pub before: Option<(i64, String)>,
}

/// How an event's deliveries stand, as a filter of `list_events`. An event may stand in more
/// than one way (a delivery waiting and another dead).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventOutcome {
    /// At least one delivery delivered, none waiting and no open dead letter (a dead letter
    /// replayed or dropped is dealt with).
    Delivered,
    /// A delivery pending or being sent.
    Waiting,
    /// An open dead letter: a dead delivery nobody has replayed or dropped yet.
    Dead,
    /// Routed, and no rule matched: no delivery at all.
    NoDeliveries,
    /// Not routed yet.
    Unrouted,
}

impl EventOutcome {
    /// Every outcome, in the order they are listed to people.
    pub const ALL: [EventOutcome; 5] = [
        EventOutcome::Delivered,
        EventOutcome::Waiting,
        EventOutcome::Dead,
        EventOutcome::NoDeliveries,
        EventOutcome::Unrouted,
    ];

    /// The word for it in a query (`delivered`, `waiting`, `dead`, `none`, `unrouted`).
    pub fn as_str(self) -> &'static str {
        match self {
            EventOutcome::Delivered => "delivered",
            EventOutcome::Waiting => "waiting",
            EventOutcome::Dead => "dead",
            EventOutcome::NoDeliveries => "none",
            EventOutcome::Unrouted => "unrouted",
        }
    }

    /// The outcome a word of [`EventOutcome::as_str`] names.
    pub fn parse(s: &str) -> Option<EventOutcome> {
        EventOutcome::ALL.into_iter().find(|o| o.as_str() == s)
    }
}

/// One event in a listing: what it was and how its deliveries stand.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct EventSummary {
    pub id: String,
    pub received_at: i64,
    pub kind: String,
    pub company_id: Option<String>,
    pub company_name: Option<String>,
    pub routed_at: Option<i64>,
    pub deliveries: u64,
    pub delivered: u64,
    pub waiting: u64,
    /// Open dead letters: dead deliveries not replayed and not dropped (a replayed one is
    /// counted by its replay).
    pub dead: u64,
    /// The rules it matched, as stored when it was routed (none while unrouted).
    pub rules: Vec<String>,
    /// The targets of its deliveries, each once, sorted.
    pub targets: Vec<String>,
}

impl EventSummary {
    /// Where a page of events ends: `<received_at ms>.<id>` of its last event, which the next
    /// page takes as [`EventFilter::before`] (read back with [`parse_cursor`]).
    pub fn cursor(&self) -> String {
        format!("{}.{}", self.received_at, self.id)
    }
}

/// An [`EventSummary::cursor`] read back.
pub fn parse_cursor(text: &str) -> Option<(i64, String)> {
    let (at, id) = text.split_once('.')?;
    let at = at.parse().ok()?;
    (!id.is_empty()).then(|| (at, id.to_owned()))
}

/// Which dead letters `dead_letters` returns, oldest first.
#[derive(Debug, Clone, Default)]
pub struct DeadFilter {
    pub limit: usize,
    pub target: Option<String>,
    /// Only those that died at or after this time (ms).
    pub since_ms: Option<i64>,
}

/// One delivery with its attempts and its event.
#[derive(Debug, Clone)]
pub struct DeliveryDetails {
    pub delivery: DeliveryRecord,
    pub attempts: Vec<AttemptRecord>,
    pub event: StoredEvent,
    /// The delivery that replayed this one, if any.
    pub replayed_by: Option<i64>,
    pub dropped_at: Option<i64>,
}

/// Why a dead letter could not be replayed or dropped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeadLetterError {
    #[error("no delivery {0}")]
    NotFound(i64),
    #[error("delivery {0} is not dead (only dead deliveries can be replayed or dropped)")]
    NotDead(i64),
    #[error("delivery {0} was already replayed as delivery {1}")]
    AlreadyReplayed(i64, i64),
    #[error("delivery {0} was dropped")]
    Dropped(i64),
}

/// Why an event could not be routed again.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RerouteError {
    #[error("no event with id {0}")]
    NotFound(String),
    /// The router has not routed it yet: it routes it by the rules then in force.
    #[error("event {0} is not routed yet (the router routes it)")]
    Unrouted(String),
}

/// How one target's lane stands, for the operator: its queue, its dead letters, how its last
/// sends went and whether it is paused.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetHealth {
    pub target: String,
    /// Pending and sending deliveries.
    pub depth: u64,
    /// When the oldest of them was created (ms), if any.
    pub oldest_created_at: Option<i64>,
    /// Open dead letters (dead, not dropped, not replayed).
    pub dead: u64,
    /// When an attempt last delivered (ms).
    pub last_delivered_at: Option<i64>,
    /// When the latest attempt finished (ms), and how it ended.
    pub last_attempt_at: Option<i64>,
    /// `delivered`, `retry` or `dead`.
    pub last_outcome: Option<String>,
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    /// When the lane's pause (a Retry-After) ends, while it lasts.
    pub paused_until: Option<i64>,
    /// Attempts delivered in the last hour.
    pub delivered_last_hour: u64,
}

/// The queue of one target, for metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueStat {
    pub target: String,
    /// Pending and sending deliveries.
    pub depth: u64,
    /// When the oldest of them was created (ms), if any.
    pub oldest_created_at: Option<i64>,
}

/// One delivery the router asks for: a matched rule sends the event to one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDelivery {
    pub rule: String,
    pub target: String,
    pub template: Option<String>,
    /// The conversation the delivery posts in ([`crate::conversation::key`]), when its target
    /// has `threads: true`: the lane sends the deliveries of one object in order.
    pub object: Option<String>,
}

/// Where a delivery is in its life. `Delivered` and `Dead` are final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeliveryState {
    Pending,
    Sending,
    Delivered,
    Dead,
}

impl DeliveryState {
    /// The word stored in the `state` column.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Sending => "sending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Dead => "dead",
        }
    }

    pub fn parse(s: &str) -> Option<DeliveryState> {
        match s {
            "pending" => Some(DeliveryState::Pending),
            "sending" => Some(DeliveryState::Sending),
            "delivered" => Some(DeliveryState::Delivered),
            "dead" => Some(DeliveryState::Dead),
            _ => None,
        }
    }
}

/// A leased delivery, ready to send. Its outcome is written back with [`super::Store::finish`],
/// which checks `delivery_id` and `lease_seq`.
#[derive(Debug, Clone, PartialEq)]
pub struct Claim {
    pub delivery_id: i64,
    pub lease_seq: i64,
    /// 1 for the first attempt.
    pub attempt: u32,
    pub rule: String,
    pub target: String,
    pub template: Option<String>,
    /// Shared with the other deliveries of the event (the in-memory hand-off).
    pub event: Arc<StoredEvent>,
    /// When the delivery row was created (for a maximum age).
    pub created_at: i64,
    /// When this claim was made (the attempt's start).
    pub claimed_at: i64,
    /// The conversation's object, for a target with `threads: true`.
    pub object: Option<String>,
    /// The delivery's step in its conversation (see [`crate::conversation::post`]).
    pub step: u8,
    /// The conversation as stored when this was claimed (none yet: `None`).
    pub conversation: Option<Conversation>,
}

/// What one attempt did in its conversation, written with its outcome under the same lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadDone {
    /// What the attempt row keeps: `start`, `reply`, `update` or `skipped`.
    pub action: &'static str,
    /// The step the delivery goes on with, pending at once (`None`: as the outcome says).
    pub next_step: Option<u8>,
    /// The conversation's new row (`None`: unchanged).
    pub conversation: Option<Conversation>,
}

/// One outcome for [`super::Store::lane_finish`]: the claim, how its attempt ended, and what it
/// did in its conversation.
#[derive(Debug, Clone, Copy)]
pub struct Finish<'a> {
    pub claim: &'a Claim,
    pub outcome: &'a Outcome,
    pub thread: Option<&'a ThreadDone>,
}

/// Which conversations `conversations` returns, most recently updated first.
#[derive(Debug, Clone, Default)]
pub struct ConversationFilter {
    pub limit: usize,
    /// Only this object (`corrective-action:<id>`, `audit:<id>`), or its bare id.
    pub object: Option<String>,
    pub target: Option<String>,
}

/// How one attempt ended, as the sender decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Delivered {
        status: Option<u16>,
        provider_id: Option<String>,
    },
    /// Try again at `at_ms` (backoff, or the server's Retry-After).
    Retry {
        at_ms: i64,
        status: Option<u16>,
        error: String,
    },
    /// Give up: a permanent error, or attempts/age exhausted.
    Dead { status: Option<u16>, error: String },
}

impl Outcome {
    /// The word stored in the attempt's `outcome` column.
    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::Delivered { .. } => "delivered",
            Outcome::Retry { .. } => "retry",
            Outcome::Dead { .. } => "dead",
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            Outcome::Delivered { status, .. }
            | Outcome::Retry { status, .. }
            | Outcome::Dead { status, .. } => *status,
        }
    }

    pub fn error(&self) -> Option<&str> {
        match self {
            Outcome::Delivered { .. } => None,
            Outcome::Retry { error, .. } | Outcome::Dead { error, .. } => Some(error),
        }
    }
}

/// One recorded attempt of a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRecord {
    pub attempt: u32,
    pub started_at: i64,
    pub finished_at: i64,
    /// `delivered`, `retry` or `dead`.
    pub outcome: String,
    pub status: Option<u16>,
    pub error: Option<String>,
    pub provider_id: Option<String>,
    /// In a conversation: `start`, `reply`, `update` or `skipped`.
    pub action: Option<String>,
}

/// A delivery row as the CLI and admin show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRecord {
    pub id: i64,
    pub event_id: String,
    pub rule: String,
    pub target: String,
    pub template: Option<String>,
    pub state: DeliveryState,
    pub attempts: u32,
    pub next_attempt_at: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub finished_at: Option<i64>,
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    /// The dead delivery this one replays.
    pub replay_of: Option<i64>,
    /// The conversation's object, for a target with `threads: true`.
    pub object_key: Option<String>,
}

/// Everything known about one event.
#[derive(Debug, Clone, PartialEq)]
pub struct EventDetails {
    pub event: StoredEvent,
    pub routed_at: Option<i64>,
    pub matched_rules: Vec<String>,
    /// Each delivery with its attempts, in creation order.
    pub deliveries: Vec<(DeliveryRecord, Vec<AttemptRecord>)>,
}

/// Row counts for tests, metrics and `dlq`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreCounts {
    pub events: u64,
    pub unrouted: u64,
    pub pending: u64,
    pub sending: u64,
    pub delivered: u64,
    pub dead: u64,
}

impl StoreCounts {
    /// Counts `n` deliveries in the state a row names (an unknown state counts nowhere).
    pub(crate) fn add_deliveries(&mut self, state: &str, n: u64) {
        let slot = match DeliveryState::parse(state) {
            Some(DeliveryState::Pending) => &mut self.pending,
            Some(DeliveryState::Sending) => &mut self.sending,
            Some(DeliveryState::Delivered) => &mut self.delivered,
            Some(DeliveryState::Dead) => &mut self.dead,
            None => return,
        };
        *slot += n;
    }
}

/// What the group-commit writer has done since open.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriterStats {
    /// Transactions committed.
    pub batches: u64,
    /// Events answered by committed transactions (duplicates included).
    pub events: u64,
    /// Writes of any kind (an event, a batch of routings, a lane's outcome or claim, a
    /// readiness probe) committed.
    pub writes: u64,
    /// The most events one committed transaction held.
    pub largest_batch: u64,
    /// Pages (4 KiB) in the write-ahead log when the writer last looked.
    pub wal_frames: u64,
    /// Times the writer started an overlong write-ahead log over.
    pub wal_restarts: u64,
    /// The last group commit failed: the store cannot take events now.
    pub failing: bool,
}

/// What another relay on the same database did that this one's loops should look at now
/// rather than at their next periodic look (see [`crate::store::Store::nudges`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Nudge {
    /// The lane of this target has new or released deliveries.
    Lane(String),
    /// Anything may have changed (the nudges were interrupted, or came faster than they were
    /// read): every loop should look.
    Everything,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_cursor_reads_back_as_the_next_page_s_before() {
        let last = EventSummary {
            id: "0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b".into(),
            received_at: 1_795_161_600_000,
            kind: "AUDIT_EXPIRED".into(),
            company_id: None,
            company_name: None,
            routed_at: None,
            deliveries: 0,
            delivered: 0,
            waiting: 0,
            dead: 0,
            rules: Vec::new(),
            targets: Vec::new(),
        };
        let text = last.cursor();
        assert_eq!(text, "1795161600000.0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b");
        assert_eq!(parse_cursor(&text), Some((last.received_at, last.id)));
        for malformed in ["", "1795161600000", "1795161600000.", "soon.abc", ".abc"] {
            assert_eq!(parse_cursor(malformed), None, "{malformed:?}");
        }
    }
}
