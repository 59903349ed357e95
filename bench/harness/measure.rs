//! Turning what the generator, the sink and /proc saw into the figures the report prints:
//! rates, latency percentiles, end-to-end times, exactly-once counts, CPU per event, memory.

use crate::load::LoadResult;
use crate::process::Usage;
use crate::servers::Arrivals;

/// The figures of one scenario.
#[derive(Debug, Clone, Default)]
pub struct Figures {
    pub scenario: String,
    pub server: String,
    pub offered: String,
    pub seconds: f64,
    pub sent: u64,
    pub acked: u64,
    pub errors: u64,
    pub first_error: Option<String>,
    pub ack_rate: f64,
    pub ack_p50_ms: f64,
    pub ack_p99_ms: f64,
    pub delivery: Option<Delivery>,
    pub cpu_ms_per_event: f64,
    pub peak_rss_mib: f64,
    pub final_rss_mib: f64,
}

/// What reached the sink.
#[derive(Debug, Clone, Default)]
pub struct Delivery {
    /// Distinct events that arrived.
    pub delivered: u64,
    pub delivered_rate: f64,
    pub e2e_p50_ms: f64,
    pub e2e_p99_ms: f64,
    /// Acknowledged events that had not arrived when the drain deadline passed (still in the
    /// relay's durable queue, or lost: a longer drain tells which).
    pub undelivered: u64,
    /// Extra arrivals of an event that had already arrived.
    pub duplicates: u64,
    /// Arrivals of events the generator saw fail (stored before the answer was lost).
    pub arrived_unacked: u64,
    /// Arrivals the sink could not attribute to an event.
    pub unknown: u64,
    /// Events that arrived before their acknowledgement was read (end-to-end counted as 0).
    pub arrived_before_ack: u64,
}

impl Delivery {
    pub fn exactly_once(&self) -> bool {
        self.undelivered == 0 && self.duplicates == 0 && self.unknown == 0
    }
}

pub fn figures(
    scenario: &str,
    server: &str,
    offered: &str,
    load: &LoadResult,
    before: Usage,
    after: Usage,
) -> Figures {
    let mut latencies = load.latencies.clone();
    latencies.sort_unstable();
    let acked = load.acked();
    Figures {
        scenario: scenario.to_owned(),
        server: server.to_owned(),
        offered: offered.to_owned(),
        seconds: load.seconds(),
        sent: load.sent,
        acked,
        errors: load.errors,
        first_error: load.first_error.clone(),
        ack_rate: acked as f64 / load.seconds(),
        ack_p50_ms: quantile_ms(&latencies, 0.50),
        ack_p99_ms: quantile_ms(&latencies, 0.99),
        delivery: None,
        cpu_ms_per_event: (after.cpu_ms - before.cpu_ms) / acked.max(1) as f64,
        peak_rss_mib: after.peak_rss_kib as f64 / 1024.0,
        final_rss_mib: after.rss_kib as f64 / 1024.0,
    }
}

pub fn delivery(load: &LoadResult, arrivals: &Arrivals) -> Delivery {
    let mut out = Delivery {
        unknown: arrivals.unknown.load(std::sync::atomic::Ordering::Relaxed),
        ..Delivery::default()
    };
    let mut e2e = Vec::new();
    let mut last_arrival = load.start_ns;
    for (seq, &acked_ns) in load.acked_ns.iter().enumerate() {
        let count = u64::from(arrivals.count(seq));
        out.duplicates += count.saturating_sub(1);
        if count == 0 {
            out.undelivered += u64::from(acked_ns != 0);
            continue;
        }
        out.delivered += 1;
        let arrived = arrivals.first_ns(seq);
        last_arrival = last_arrival.max(arrived);
        if acked_ns == 0 {
            out.arrived_unacked += 1;
            continue;
        }
        if arrived < acked_ns {
            out.arrived_before_ack += 1;
        }
        e2e.push(arrived.saturating_sub(acked_ns));
    }
    e2e.sort_unstable();
    out.delivered_rate = out.delivered as f64 / ((last_arrival - load.start_ns) as f64 / 1e9);
    out.e2e_p50_ms = quantile_ms(&e2e, 0.50);
    out.e2e_p99_ms = quantile_ms(&e2e, 0.99);
    out
}

/// The `q` quantile of sorted nanoseconds, in milliseconds (nearest rank).
pub fn quantile_ms(sorted_ns: &[u64], q: f64) -> f64 {
    if sorted_ns.is_empty() {
        return f64::NAN;
    }
    let rank = ((sorted_ns.len() as f64 * q).ceil() as usize).clamp(1, sorted_ns.len());
    sorted_ns[rank - 1] as f64 / 1e6
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_use_the_nearest_rank() {
        let ns: Vec<u64> = (1..=100).map(|i| i * 1_000_000).collect();
        assert_eq!(quantile_ms(&ns, 0.50), 50.0);
        assert_eq!(quantile_ms(&ns, 0.99), 99.0);
        assert!(quantile_ms(&[], 0.5).is_nan());
    }
}
