//! End-to-end delivery: a whole relay started in-process (store, router, sender lanes, HTTP
//! server) on 127.0.0.1, MonitorQA events posted to its webhook, and local mocks of Slack,
//! Teams, the email providers and a generic receiver answering as the real services do.
//!
//! Each test reads as a sentence about what reaches a provider, and checks the store's record
//! of it. Every wait is a poll with a deadline.

mod changes;
mod conversations;
mod escaping;
mod lanes;
mod requests;
mod retries;
mod secrets;

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::wait::sample;

/// The rejected corrective action sample, renamed so that events `n` differ (and so are not
/// one event to the dedup).
pub fn numbered_action(n: usize) -> Value {
    let mut event = sample("corrective_action_rejected");
    event["data"]["correctiveAction"]["name"] = Value::String(format!("Repair number {n}"));
    event
}

/// The number given to [`numbered_action`], read from a webhook body (the event as JSON).
pub fn action_number(body: &Value) -> usize {
    body["data"]["correctiveAction"]["name"]
        .as_str()
        .and_then(|name| name.strip_prefix("Repair number "))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("not a numbered action: {body}"))
}

/// The gaps between consecutive arrival times.
pub fn gaps(times: &[Instant]) -> Vec<Duration> {
    times.windows(2).map(|w| w[1] - w[0]).collect()
}

/// A rules file body: `targets` as `(name, flow mapping)` pairs, and one rule sending events
/// of `events` (a name, a glob or `*`) to all of them.
pub fn config(targets: &[(&str, String)], events: &str) -> String {
    let mut out = String::from("targets:\n");
    for (name, body) in targets {
        out.push_str(&format!("  {name}: {body}\n"));
    }
    let names: Vec<&str> = targets.iter().map(|(n, _)| *n).collect();
    out.push_str(&format!(
        "rules:\n  - name: all to {names}\n    events: \"{events}\"\n    notify: [{names}]\n",
        names = names.join(", ")
    ));
    out
}
