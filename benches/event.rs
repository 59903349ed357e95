//! Micro-benchmarks of the intake's pure work on one event: parsing the envelope, computing the
//! dedup key, and building the JSON object that rules and templates see.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use mqa_relay::event::Event;

/// The largest sample (a corrective action with nested objects) and the smallest (an id only).
const SAMPLES: [(&str, &str); 2] = [
    (
        "corrective_action_rejected",
        include_str!("../examples/events/corrective_action_rejected.json"),
    ),
    (
        "audit_expired",
        include_str!("../examples/events/audit_expired.json"),
    ),
];

fn parse_and_dedup(c: &mut Criterion) {
    let mut group = c.benchmark_group("event");
    for (name, body) in SAMPLES {
        let body = body.as_bytes();
        group.bench_function(format!("parse/{name}"), |b| {
            b.iter(|| Event::parse(black_box(body)))
        });
        group.bench_function(format!("parse+dedup_key/{name}"), |b| {
            b.iter(|| Event::parse(black_box(body)).map(|event| event.dedup_key()))
        });
        let event = Event::parse(body).expect("the sample events are valid");
        group.bench_function(format!("to_value/{name}"), |b| {
            b.iter(|| black_box(&event).to_value())
        });
    }
    group.finish();
}

criterion_group!(benches, parse_and_dedup);
criterion_main!(benches);
