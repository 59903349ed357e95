//! What a lane says about each attempt: the log line and the metric labels.

use std::time::Duration;

use super::attempt::Sent;
use crate::store::Outcome;

pub(super) fn outcome_label(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Delivered { .. } => "delivered",
        Outcome::Retry { .. } => "retry",
        Outcome::Dead { .. } => "dead",
    }
}

/// One line per recorded attempt: event, delivery, rule, target, attempt, outcome, status,
/// duration, and the reason (escaped: it may quote what a provider or an event said).
pub(super) fn log_attempt(sent: &Sent, outcome: &Outcome, applied: bool, now_ms: i64) {
    let (claim, status, ms) = (&sent.claim, sent.status, sent.ms);
    let (label, detail) = match outcome {
        Outcome::Delivered { .. } => ("delivered", String::new()),
        Outcome::Retry { at_ms, error, .. } => {
            let wait = Duration::from_millis(u64::try_from(at_ms - now_ms).unwrap_or(0));
            (
                "retry",
                format!(
                    "{error}; next try in {}",
                    humantime::format_duration(round_s(wait))
                ),
            )
        }
        Outcome::Dead { error, .. } => ("dead", error.clone()),
    };
    let detail = one_line(&detail);
    tracing::info!(
        event_id = %claim.event.id,
        delivery_id = claim.delivery_id,
        rule = %claim.rule,
        target_name = %claim.target,
        attempt = claim.attempt,
        outcome = label,
        status = status.map(i64::from).unwrap_or(0),
        duration_ms = ms,
        stale = !applied,
        // In a conversation: its object, and what the attempt did in it.
        conversation = claim.object.as_deref().unwrap_or(""),
        action = sent.thread.as_ref().map_or("", |t| t.action),
        "delivery {label}{}{detail}",
        if detail.is_empty() { "" } else { ": " },
    );
}

/// A reason fit for the message of a text log line: its control characters (a line break, the
/// ESC of a terminal sequence) written escaped, so that what a provider or an event said
/// cannot forge a line or colour the terminal.
pub(crate) fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            c if c.is_control() => c.escape_default().to_string(),
            c => c.to_string(),
        })
        .collect()
}

fn round_s(d: Duration) -> Duration {
    Duration::from_secs(d.as_secs())
}
