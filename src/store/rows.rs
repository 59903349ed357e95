//! What every engine writes and reads, before any SQL: an event prepared for storing, the
//! columns an outcome sets (the delivery's state machine), a claim request, and the decoding
//! of a stored event. Pure; each engine's dialect binds these to its own statements.

use std::sync::Arc;
use std::time::Duration;

pub(crate) use crate::clock::{millis, now_ms};
use crate::event::Event;
use crate::store::{
    Claim, Conversation, NewDelivery, Outcome, StoreError, StoredEvent, ThreadDone,
};

/// An event ready for the writer: the canonical body and dedup key are computed by the
/// caller (off the writer's thread), the event itself kept for the in-memory hand-off.
pub(crate) struct EventRow {
    pub(crate) event: Event,
    pub(crate) body: String,
    pub(crate) dedup_key: String,
    /// Routed at intake: the event is stored routed, with its deliveries, in one write.
    pub(crate) routed: Option<Routed>,
}

impl EventRow {
    pub(crate) fn new(event: Event, routed: Option<Routed>) -> EventRow {
        let (body, dedup_key) = event.canonical_json_and_dedup_key();
        EventRow {
            event,
            body,
            dedup_key,
            routed,
        }
    }

    /// The matched rules as stored (a JSON array), when routed.
    pub(crate) fn matched_rules_json(&self) -> Option<String> {
        self.routed.as_ref().map(|r| rules_json(&r.matched_rules))
    }
}

/// The routing of one event, decided in memory before it is written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Routed {
    pub matched_rules: Vec<String>,
    pub deliveries: Vec<NewDelivery>,
}

/// The matched rules as the `matched_rules` column holds them.
pub(crate) fn rules_json(rules: &[String]) -> String {
    // A list of strings always serialises.
    serde_json::to_string(rules).unwrap_or_else(|_| "[]".to_owned())
}

/// The `matched_rules` column of event `id` read back (none while it is unrouted).
pub(crate) fn rules_of(id: &str, json: Option<&str>) -> Result<Vec<String>, StoreError> {
    match json {
        Some(json) => serde_json::from_str(json)
            .map_err(|e| StoreError::Other(format!("event {id}: unreadable rules: {e}"))),
        None => Ok(Vec::new()),
    }
}

/// The rules an event matched with those of `deliveries` added after them: each once, in the
/// order first seen.
pub(crate) fn merged_rules(mut rules: Vec<String>, deliveries: &[NewDelivery]) -> Vec<String> {
    for d in deliveries {
        if !rules.contains(&d.rule) {
            rules.push(d.rule.clone());
        }
    }
    rules
}

/// The columns an outcome writes: where the delivery goes next in its state machine
/// (`sending` → `delivered` | `pending` (retry at a time) | `dead`), fenced by the claim's lease.
pub(crate) struct FinishRow {
    pub(crate) delivery_id: i64,
    pub(crate) lease_seq: i64,
    pub(crate) attempt: i64,
    pub(crate) claimed_at: i64,
    pub(crate) now_ms: i64,
    pub(crate) state: &'static str,
    pub(crate) retry_at: Option<i64>,
    pub(crate) finished_at: Option<i64>,
    pub(crate) outcome: &'static str,
    pub(crate) status: Option<i64>,
    pub(crate) error: Option<String>,
    pub(crate) provider_id: Option<String>,
    /// The delivery's step from now on (its step in its conversation).
    pub(crate) step: i64,
    /// What the attempt did in its conversation (`start`, `reply`, `update`, `skipped`).
    pub(crate) action: Option<&'static str>,
    /// The conversation's new row, written only when the outcome is.
    pub(crate) conversation: Option<Conversation>,
}

impl FinishRow {
    pub(crate) fn new(
        claim: &Claim,
        outcome: &Outcome,
        thread: Option<&ThreadDone>,
        now_ms: i64,
    ) -> FinishRow {
        let next_step = thread.and_then(|t| t.next_step);
        let editing = claim.step == crate::conversation::UPDATE_STEP;
        let (state, retry_at, finished_at) = match (outcome, next_step) {
            // The message is posted and the delivery goes on with its next step, at once.
            (Outcome::Delivered { .. }, Some(_)) => ("pending", Some(now_ms), None),
            (Outcome::Delivered { .. }, None) => ("delivered", None, Some(now_ms)),
            (Outcome::Retry { at_ms, .. }, _) => ("pending", Some(*at_ms), None),
            // An edit of the first message that cannot be made: the message itself was
            // delivered (its reply), which is what the delivery says; the attempt row keeps
            // the edit's failure. Not a dead letter: replaying it would post the reply again.
            (Outcome::Dead { .. }, _) if editing => ("delivered", None, Some(now_ms)),
            (Outcome::Dead { .. }, _) => ("dead", None, Some(now_ms)),
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
            step: i64::from(next_step.unwrap_or(claim.step)),
            action: thread.map(|t| t.action),
            conversation: thread.and_then(|t| t.conversation.clone()),
        }
    }
}

/// A claim of up to `max` deliveries of one lane.
#[derive(Debug, Clone)]
pub struct ClaimSpec {
    pub target: String,
    /// How many to lease at most (the lane's free send slots).
    pub max: usize,
    /// FIFO lane: only its head can be claimed, and a head that is not due holds the lane.
    /// Otherwise the oldest due deliveries are claimed, and one waiting for its retry does not
    /// hold the others.
    pub ordered: bool,
    pub now_ms: i64,
    pub lease: Duration,
    pub owner: String,
    /// The target's pace: microseconds between two sends (`None`: no limit). A lane keeps it in
    /// memory; an engine that several relays share also keeps it in the lane's row, on the
    /// database's clock, so that the relays together keep it (the embedded engine, one
    /// process, leaves it to the lane).
    pub pace_interval_us: Option<i64>,
}

impl ClaimSpec {
    pub(crate) fn lease_until(&self) -> i64 {
        self.now_ms.saturating_add(millis(self.lease))
    }
}

/// A claimed row before its event is attached.
pub(crate) struct ClaimedRow {
    pub(crate) delivery_id: i64,
    pub(crate) lease_seq: i64,
    pub(crate) attempts: i64,
    pub(crate) rule: String,
    pub(crate) target: String,
    pub(crate) template: Option<String>,
    pub(crate) event_id: String,
    pub(crate) created_at: i64,
    pub(crate) object_key: Option<String>,
    pub(crate) step: i64,
}

impl ClaimedRow {
    /// The claim, with its event and its conversation as stored.
    pub(crate) fn into_claim(
        self,
        event: Arc<StoredEvent>,
        conversation: Option<Conversation>,
        claimed_at: i64,
    ) -> Claim {
        Claim {
            delivery_id: self.delivery_id,
            lease_seq: self.lease_seq,
            attempt: u32::try_from(self.attempts).unwrap_or(u32::MAX),
            rule: self.rule,
            target: self.target,
            template: self.template,
            event,
            created_at: self.created_at,
            claimed_at,
            object: self.object_key,
            step: u8::try_from(self.step).unwrap_or(0),
            conversation,
        }
    }
}

/// An event's stored columns, before its body and enrichment are parsed.
pub(crate) struct StoredEventRow {
    pub(crate) id: String,
    pub(crate) received_at: i64,
    pub(crate) body: String,
    pub(crate) enrichment: Option<String>,
}

impl StoredEventRow {
    /// The event; an unreadable body (corruption) is an error naming the event.
    pub(crate) fn decode(self) -> Result<StoredEvent, StoreError> {
        let id = self.id;
        let unreadable = |e: String| StoreError::Other(format!("event {id}: unreadable body: {e}"));
        let value = serde_json::from_str(&self.body).map_err(|e| unreadable(e.to_string()))?;
        let event = Event::from_value(value).map_err(|e| unreadable(e.to_string()))?;
        let enrichment = match self.enrichment {
            Some(json) => Some(serde_json::from_str(&json).map_err(|e| unreadable(e.to_string()))?),
            None => None,
        };
        Ok(StoredEvent {
            received_at: self.received_at,
            id,
            event,
            enrichment,
        })
    }
}

/// The columns of a conversation row, in the order both engines select and write them.
pub(crate) const CONVERSATION_COLUMNS: &str = "target, object_key, channel, thread_id, topic, \
     state, first_event_id, last_event_id, last_kind, messages, restarts, opened_at, \
     updated_at, closed_at, gone_at, last_received_at, provisional";

/// How long an open conversation is kept after its last message (a closed one goes with the
/// retention of events): an object nobody followed up for a year is not coming back.
pub(crate) const OPEN_CONVERSATION_KEEP_MS: i64 = 365 * 24 * 3600 * 1000;

/// A count as an integer column.
pub(crate) fn count_column(n: u32) -> i64 {
    i64::from(n)
}

/// An HTTP status as stored (an integer column) back to its type; out of range is absent.
pub(crate) fn to_u16(status: Option<i64>) -> Option<u16> {
    status.and_then(|s| u16::try_from(s).ok())
}

/// A count column as a count.
pub(crate) fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}
