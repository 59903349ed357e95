//! The load generator: `connections` keep-alive connections sending event bodies, either as
//! fast as answers come back (closed loop) or on a fixed schedule (open loop, latency counted
//! from the intended send time so a stalled server cannot hide its backlog).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use crate::client::Connection;
use crate::clock;
use crate::events::EventStream;

#[derive(Debug, Clone, Copy)]
pub enum Schedule {
    /// Send the next event as soon as the previous answer is in, until the duration ends.
    Closed,
    /// `rate` events per second for the duration.
    Open { rate: u64 },
}

#[derive(Debug, Clone)]
pub struct Plan {
    /// The servers; connection `i` goes to `addrs[i % addrs.len()]` (a round-robin balancer).
    pub addrs: Vec<SocketAddr>,
    pub path: String,
    pub connections: usize,
    pub duration: Duration,
    pub schedule: Schedule,
    /// A hard bound on the number of events, whatever the duration.
    pub max_events: u64,
}

/// What one run of the generator saw.
pub struct LoadResult {
    /// Acknowledgement time (ns since the harness epoch) per event number; 0 if not acknowledged.
    pub acked_ns: Vec<u64>,
    /// Acknowledgement latencies, ns.
    pub latencies: Vec<u64>,
    pub sent: u64,
    pub errors: u64,
    /// The first error seen, in words.
    pub first_error: Option<String>,
    pub start_ns: u64,
    pub end_ns: u64,
}

impl LoadResult {
    pub fn acked(&self) -> u64 {
        self.latencies.len() as u64
    }

    pub fn seconds(&self) -> f64 {
        (self.end_ns - self.start_ns) as f64 / 1e9
    }
}

struct Shared {
    plan: Plan,
    events: Arc<EventStream>,
    next: AtomicU64,
    acked_ns: Vec<AtomicU64>,
    start: Instant,
}

struct WorkerResult {
    latencies: Vec<u64>,
    sent: u64,
    errors: u64,
    first_error: Option<String>,
}

pub async fn run(plan: Plan, events: Arc<EventStream>) -> LoadResult {
    let capacity = plan.max_events as usize;
    let start_ns = clock::now_ns();
    let shared = Arc::new(Shared {
        plan: plan.clone(),
        events,
        next: AtomicU64::new(0),
        acked_ns: (0..capacity).map(|_| AtomicU64::new(0)).collect(),
        start: Instant::now(),
    });
    let workers: Vec<_> = (0..plan.connections)
        .map(|i| tokio::spawn(worker(shared.clone(), i)))
        .collect();
    let mut result = LoadResult {
        acked_ns: Vec::new(),
        latencies: Vec::new(),
        sent: 0,
        errors: 0,
        first_error: None,
        start_ns,
        end_ns: 0,
    };
    for worker in workers {
        // A worker task panicking would be a bug in this harness; count it as an error.
        match worker.await {
            Ok(w) => {
                result.latencies.extend(w.latencies);
                result.sent += w.sent;
                result.errors += w.errors;
                result.first_error = result.first_error.or(w.first_error);
            }
            Err(e) => {
                result.errors += 1;
                result.first_error.get_or_insert_with(|| e.to_string());
            }
        }
    }
    result.end_ns = clock::now_ns();
    result.acked_ns = shared
        .acked_ns
        .iter()
        .map(|a| a.load(Ordering::Relaxed))
        .collect();
    result
}

async fn worker(shared: Arc<Shared>, index: usize) -> WorkerResult {
    let plan = &shared.plan;
    let mut conn = Connection::new(plan.addrs[index % plan.addrs.len()]);
    let mut out = WorkerResult {
        latencies: Vec::new(),
        sent: 0,
        errors: 0,
        first_error: None,
    };
    let end = shared.start + plan.duration;
    loop {
        let seq = shared.next.fetch_add(1, Ordering::Relaxed);
        if seq >= plan.max_events {
            break;
        }
        let intended = match plan.schedule {
            Schedule::Closed => Instant::now(),
            Schedule::Open { rate } => {
                shared.start + Duration::from_nanos(seq.saturating_mul(1_000_000_000) / rate)
            }
        };
        if intended >= end {
            break;
        }
        tokio::time::sleep_until(intended).await;
        let body = shared.events.body(seq);
        out.sent += 1;
        match conn.post(&plan.path, &body).await {
            Ok(status) if (200..300).contains(&status) => {
                shared.acked_ns[seq as usize].store(clock::now_ns(), Ordering::Relaxed);
                out.latencies.push(intended.elapsed().as_nanos() as u64);
            }
            Ok(status) => note_error(&mut out, format!("HTTP {status}")),
            Err(e) => note_error(&mut out, e.to_string()),
        }
    }
    out
}

fn note_error(out: &mut WorkerResult, message: String) {
    out.errors += 1;
    out.first_error.get_or_insert(message);
}
