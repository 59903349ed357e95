//! The two servers the harness runs besides the relay: the do-nothing 202 server (the physical
//! limit of the HTTP stack, run as its own process like the relay) and the sink that answers
//! like a Slack incoming webhook and records when each event arrived at each target (the
//! path's last segment: `/sink/3` is target 3, fan-out runs have ten).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use anyhow::Result;
use bytes::Bytes;
use tokio::net::TcpListener;
use warp::Filter;

use crate::clock;
use crate::events::find_seq;

/// `mqa-bench null-server`: answers every request with 202 `{}` and does nothing else. Prints
/// its address on stdout, then serves until killed.
pub async fn run_null_server() -> Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    println!("listening on {}", listener.local_addr()?);
    let route = warp::body::bytes().map(|_body: Bytes| {
        warp::reply::with_status(String::from("{}"), warp::http::StatusCode::ACCEPTED)
    });
    warp::serve(route).incoming(listener).run().await;
    Ok(())
}

/// Arrivals per event number and target: first arrival time (ns since the harness epoch) and
/// count.
pub struct Arrivals {
    targets: usize,
    first_ns: Vec<AtomicU64>,
    count: Vec<AtomicU32>,
    /// Bodies without a recognisable `benchSeq` (or out of range).
    pub unknown: AtomicU64,
}

impl Arrivals {
    /// Room for events `0..events`, each sent to `targets` targets.
    pub fn new(events: usize, targets: usize) -> Arrivals {
        let slots = events * targets;
        Arrivals {
            targets,
            first_ns: (0..slots).map(|_| AtomicU64::new(0)).collect(),
            count: (0..slots).map(|_| AtomicU32::new(0)).collect(),
            unknown: AtomicU64::new(0),
        }
    }

    /// How many targets each event goes to.
    pub fn targets(&self) -> usize {
        self.targets
    }

    /// Records one arrival of `body` at `target` now.
    pub fn record(&self, target: usize, body: &[u8]) {
        let now = clock::now_ns();
        let slot = find_seq(body)
            .map(|s| s as usize * self.targets + target)
            .filter(|_| target < self.targets);
        match slot {
            Some(slot) if slot < self.count.len() => {
                if self.count[slot].fetch_add(1, Ordering::Relaxed) == 0 {
                    self.first_ns[slot].store(now, Ordering::Relaxed);
                }
            }
            _ => {
                self.unknown.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Arrivals of event `seq` at `target`.
    pub fn count(&self, seq: usize, target: usize) -> u32 {
        self.count[seq * self.targets + target].load(Ordering::Relaxed)
    }

    pub fn first_ns(&self, seq: usize, target: usize) -> u64 {
        self.first_ns[seq * self.targets + target].load(Ordering::Relaxed)
    }

    /// Total arrivals so far, duplicates included.
    pub fn total(&self) -> u64 {
        self.count
            .iter()
            .map(|c| u64::from(c.load(Ordering::Relaxed)))
            .sum()
    }
}

/// Starts the sink on 127.0.0.1 (any port): every POST is recorded and answered 200 `ok`, as
/// a Slack incoming webhook does. The path's last segment, when a number, is the target.
pub async fn start_sink(arrivals: Arc<Arrivals>) -> Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let route = warp::post()
        .and(warp::path::full())
        .and(warp::body::bytes())
        .map(move |path: warp::path::FullPath, body: Bytes| {
            arrivals.record(target_of(path.as_str()), &body);
            String::from("ok")
        });
    tokio::spawn(warp::serve(route).incoming(listener).run());
    Ok(addr)
}

/// The target a sink path names: its last segment as a number, else 0.
fn target_of(path: &str) -> usize {
    path.rsplit('/')
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}
