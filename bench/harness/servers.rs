//! The two servers the harness runs besides the relay: the do-nothing 202 server (the physical
//! limit of the HTTP stack, run as its own process like the relay) and the sink that answers
//! like a Slack incoming webhook and records when each event arrived.

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

/// Arrivals per event number: first arrival time (ns since the harness epoch) and count.
pub struct Arrivals {
    first_ns: Vec<AtomicU64>,
    count: Vec<AtomicU32>,
    /// Bodies without a recognisable `benchSeq` (or out of range).
    pub unknown: AtomicU64,
}

impl Arrivals {
    pub fn new(capacity: usize) -> Arrivals {
        Arrivals {
            first_ns: (0..capacity).map(|_| AtomicU64::new(0)).collect(),
            count: (0..capacity).map(|_| AtomicU32::new(0)).collect(),
            unknown: AtomicU64::new(0),
        }
    }

    /// Records one arrival of `body` now.
    pub fn record(&self, body: &[u8]) {
        let now = clock::now_ns();
        match find_seq(body).map(|s| s as usize) {
            Some(seq) if seq < self.count.len() => {
                if self.count[seq].fetch_add(1, Ordering::Relaxed) == 0 {
                    self.first_ns[seq].store(now, Ordering::Relaxed);
                }
            }
            _ => {
                self.unknown.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    pub fn count(&self, seq: usize) -> u32 {
        self.count[seq].load(Ordering::Relaxed)
    }

    pub fn first_ns(&self, seq: usize) -> u64 {
        self.first_ns[seq].load(Ordering::Relaxed)
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
/// a Slack incoming webhook does.
pub async fn start_sink(arrivals: Arc<Arrivals>) -> Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let route = warp::post()
        .and(warp::body::bytes())
        .map(move |body: Bytes| {
            arrivals.record(&body);
            String::from("ok")
        });
    tokio::spawn(warp::serve(route).incoming(listener).run());
    Ok(addr)
}
