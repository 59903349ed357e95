//! Small pieces every screen shows the same way: a time (UTC, with how long ago), a
//! delivery's state in words and a symbol (never by colour alone), one delivery with its
//! attempts, a configuration's short hash, and the confirmation before messages are sent.

use serde_json::{Value, json};
use warp::http::StatusCode;
use warp::reply::Response;

use super::Page;

use crate::clock::rfc3339;
use crate::store::{AttemptRecord, Conversation, DeliveryRecord, DeliveryState};

/// A time for a page: `{iso, text, ago}`; `null` for `None`.
pub(super) fn when(ms: Option<i64>, now_ms: i64) -> Value {
    let Some(ms) = ms else {
        return Value::Null;
    };
    let text = jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.strftime("%a %-d %b %Y, %H:%M:%S UTC").to_string())
        .unwrap_or_else(|_| ms.to_string());
    json!({"iso": rfc3339(ms), "text": text, "ago": ago(now_ms - ms)})
}

/// `3 min ago`, `in 20 s`.
fn ago(delta_ms: i64) -> String {
    let secs = delta_ms.unsigned_abs() / 1000;
    let span = match secs {
        0..=59 => format!("{secs} s"),
        60..=3599 => format!("{} min", secs / 60),
        3600..=86_399 => format!("{} h", secs / 3600),
        _ => format!("{} d", secs / 86_400),
    };
    if delta_ms >= 0 {
        format!("{span} ago")
    } else {
        format!("in {span}")
    }
}

/// A state as the page shows it: a word, a symbol and a class (the class only colours it).
pub(super) fn state(state: DeliveryState) -> Value {
    let (symbol, word, class) = match state {
        DeliveryState::Pending => ("⟳", "waiting", "waiting"),
        DeliveryState::Sending => ("⟳", "sending", "waiting"),
        DeliveryState::Delivered => ("✓", "delivered", "ok"),
        DeliveryState::Dead => ("✗", "dead", "dead"),
    };
    json!({"symbol": symbol, "word": word, "class": class})
}

/// One delivery with its attempts, newest attempt first.
pub(super) fn delivery(d: &DeliveryRecord, attempts: &[AttemptRecord], now_ms: i64) -> Value {
    let waiting = matches!(d.state, DeliveryState::Pending | DeliveryState::Sending);
    let mut history: Vec<Value> = attempts.iter().map(|a| attempt(a, now_ms)).collect();
    history.reverse();
    json!({
        "id": d.id,
        "href": format!("/ui/deliveries/{}", d.id),
        "event_href": format!("/ui/events/{}", d.event_id),
        "event_id": d.event_id,
        "rule": d.rule,
        "target": d.target,
        "template": d.template,
        "state": state(d.state),
        "dead": d.state == DeliveryState::Dead,
        "attempts": d.attempts,
        "next_attempt": if waiting { when(Some(d.next_attempt_at), now_ms) } else { Value::Null },
        "created": when(Some(d.created_at), now_ms),
        "finished": when(d.finished_at, now_ms),
        "last_status": d.last_status,
        "last_error": d.last_error,
        "replay_of": d.replay_of,
        "history": history,
    })
}

fn attempt(a: &AttemptRecord, now_ms: i64) -> Value {
    let word = match a.outcome.as_str() {
        "delivered" => "✓ delivered",
        "retry" => "⟳ will retry",
        "dead" => "✗ gave up",
        other => other,
    };
    json!({
        "attempt": a.attempt,
        "started": when(Some(a.started_at), now_ms),
        "duration_ms": (a.finished_at - a.started_at).max(0),
        "outcome": word,
        "class": match a.outcome.as_str() { "delivered" => "ok", "dead" => "dead", _ => "waiting" },
        "status": a.status,
        "error": a.error,
        "provider_id": a.provider_id,
        "action": a.action.as_deref().map(action_word),
    })
}

/// What an attempt did in its conversation, in words.
fn action_word(action: &str) -> &str {
    match action {
        "start" => "first message",
        "reply" => "reply in the thread",
        "update" => "edit of the first message",
        "skipped" => "edit skipped: no longer wanted",
        other => other,
    }
}

/// One conversation, as the event page shows it.
pub(super) fn conversation(c: &Conversation, now_ms: i64) -> Value {
    json!({
        "target": c.target,
        "topic": c.topic,
        "state": c.state,
        "channel": c.channel,
        "thread_id": c.thread_id,
        "messages": c.messages,
        "restarts": c.restarts,
        "last_kind": c.last_kind,
        "opened": when(Some(c.opened_at), now_ms),
        "updated": when(Some(c.updated_at), now_ms),
        "closed": when(c.closed_at, now_ms),
        "gone": when(c.gone_at, now_ms),
    })
}

/// The first 12 characters of a configuration hash, as the page shows it.
pub(super) fn short_hash(hash: &str) -> String {
    hash.chars().take(12).collect()
}

/// The confirmation page: what will be sent, a warning, and the form that does it.
pub(super) fn confirm(
    page: &Page<'_>,
    action: &str,
    items: &[String],
    fields: &[(&str, String)],
    back: &str,
    warning: &str,
) -> Response {
    let count = items.len();
    let noun = if count == 1 { "message" } else { "messages" };
    let fields: Vec<Value> = fields
        .iter()
        .map(|(n, v)| json!({"name": n, "value": v}))
        .collect();
    let data = json!({
        "question": format!("Send {count} {noun}?"),
        "items": items.iter().take(200).collect::<Vec<_>>(),
        "more": count.saturating_sub(200),
        "warning": warning,
        "action": action,
        "fields": fields,
        "back": back,
        "button": format!("Send {count} {noun}"),
    });
    page.render(StatusCode::OK, "confirm", "", "Confirm", data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_say_how_long_ago() {
        assert_eq!(ago(5_000), "5 s ago");
        assert_eq!(ago(-120_000), "in 2 min");
        assert_eq!(ago(7_200_000), "2 h ago");
        let shown = when(Some(0), 1000);
        assert_eq!(shown["text"], "Thu 1 Jan 1970, 00:00:00 UTC");
        assert_eq!(when(None, 0), Value::Null);
    }
}
