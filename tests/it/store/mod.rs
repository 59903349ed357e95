//! The store against real SQLite files: intake ([`ingest`]), the delivery queue ([`lanes`]) and
//! the router over it ([`router`]).

mod ingest;
mod lanes;
mod router;

use mqa_relay::event::Event;
use serde_json::json;

/// A distinct audit event per `n` (sample events carry no id: content is the identity).
fn event(n: u64) -> Event {
    let sample = include_bytes!("../../../examples/events/audit_expired.json");
    let mut e = Event::parse(sample).expect("the sample is an event");
    e.data.insert("sequence".into(), json!(n));
    e
}
