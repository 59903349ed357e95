//! Turning what the generator, the sink and /proc saw into the figures the report prints:
//! rates, latency percentiles, end-to-end times, exactly-once counts (with where the relay's
//! store left the events that did not arrive), CPU per event, memory.

use crate::load::LoadResult;
use crate::process::Usage;
use crate::servers::Arrivals;
use crate::store_check::{Stored, StoredEvents};

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
    /// Targets each event goes to (1, or 10 for fan-out); the counts below are of messages,
    /// one per event and target.
    pub targets: usize,
    /// Distinct messages that arrived.
    pub delivered: u64,
    pub delivered_rate: f64,
    pub e2e_p50_ms: f64,
    pub e2e_p99_ms: f64,
    /// Acknowledged events that had not arrived when the server was stopped (after the drain
    /// deadline); `accounting` says where they are.
    pub undelivered: u64,
    /// Extra arrivals of an event that had already arrived.
    pub duplicates: u64,
    /// Arrivals of events the generator saw fail (stored before the answer was lost).
    pub arrived_unacked: u64,
    /// Arrivals the sink could not attribute to an event.
    pub unknown: u64,
    /// Events that arrived before their acknowledgement was read (end-to-end counted as 0).
    pub arrived_before_ack: u64,
    /// Where the `undelivered` events are, by the server's store.
    pub accounting: Accounting,
}

/// What the server's store says about the acknowledged events that did not arrive.
#[derive(Debug, Clone, Default)]
pub enum Accounting {
    /// No store to look into (Alertmanager keeps alerts in memory).
    #[default]
    NoStore,
    /// The store could not be read: why.
    Unreadable(String),
    /// Read once the relay had exited.
    Counted(Unarrived),
}

/// The acknowledged events that did not arrive, by what the relay's store holds for them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Unarrived {
    /// Unrouted, or a delivery pending or sending: durably queued, not lost.
    pub queued: u64,
    /// A delivery gave up (a dead letter).
    pub dead: u64,
    /// Marked delivered in the store, yet never seen at the sink.
    pub marked_delivered: u64,
    /// Not in the store at all, or routed to no delivery (the bench's rule matches every event).
    pub lost: u64,
}

impl Delivery {
    /// Every acknowledged event arrived, none twice, nothing unattributable.
    pub fn exactly_once(&self) -> bool {
        self.undelivered == 0 && self.duplicates == 0 && self.unknown == 0
    }

    /// Acknowledged events that neither arrived nor are durably queued (lost, dead, or marked
    /// delivered without arriving); `None` when unknown (some did not arrive and no store was
    /// read).
    pub fn missing(&self) -> Option<u64> {
        match &self.accounting {
            _ if self.undelivered == 0 => Some(0),
            Accounting::Counted(u) => Some(u.lost + u.dead + u.marked_delivered),
            Accounting::NoStore | Accounting::Unreadable(_) => None,
        }
    }

    /// Every acknowledged event arrived or is durably queued in the relay's store.
    pub fn nothing_lost(&self) -> bool {
        self.missing() == Some(0)
    }

    /// Acknowledged events still durably queued when the relay stopped.
    pub fn queued(&self) -> u64 {
        match &self.accounting {
            Accounting::Counted(u) => u.queued,
            Accounting::NoStore | Accounting::Unreadable(_) => 0,
        }
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
        targets: arrivals.targets(),
        unknown: arrivals.unknown.load(std::sync::atomic::Ordering::Relaxed),
        ..Delivery::default()
    };
    let mut e2e = Vec::new();
    let mut last_arrival = load.start_ns;
    let messages = load
        .acked_ns
        .iter()
        .enumerate()
        .flat_map(|(seq, acked)| (0..arrivals.targets()).map(move |t| (seq, t, *acked)));
    for (seq, target, acked_ns) in messages {
        let count = u64::from(arrivals.count(seq, target));
        out.duplicates += count.saturating_sub(1);
        if count == 0 {
            out.undelivered += u64::from(acked_ns != 0);
            continue;
        }
        out.delivered += 1;
        let arrived = arrivals.first_ns(seq, target);
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

/// Sorts every message of an acknowledged event that never arrived at its target by what
/// `stored` holds for it.
pub fn unarrived(load: &LoadResult, arrivals: &Arrivals, stored: &StoredEvents) -> Unarrived {
    let mut out = Unarrived::default();
    for (seq, &acked_ns) in load.acked_ns.iter().enumerate() {
        for target in 0..arrivals.targets() {
            if acked_ns != 0 && arrivals.count(seq, target) == 0 {
                out.count(stored.get(seq as u64, target));
            }
        }
    }
    out
}

impl Unarrived {
    fn count(&mut self, stored: Option<Stored>) {
        let out = self;
        match stored {
            Some(Stored::Queued) => out.queued += 1,
            Some(Stored::Dead) => out.dead += 1,
            Some(Stored::Delivered) => out.marked_delivered += 1,
            Some(Stored::NoDelivery) | None => out.lost += 1,
        }
    }
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

    /// Events 0..5 acknowledged except 4; 0 and 4 arrived.
    fn run() -> (LoadResult, Arrivals) {
        let load = LoadResult {
            acked_ns: vec![1, 1, 1, 1, 0, 1],
            latencies: vec![1; 5],
            sent: 6,
            errors: 1,
            first_error: None,
            start_ns: 0,
            end_ns: 1_000_000_000,
        };
        let arrivals = Arrivals::new(6, 1);
        arrivals.record(0, br#"{"benchSeq":0}"#);
        arrivals.record(0, br#"{"benchSeq":4}"#);
        (load, arrivals)
    }

    #[test]
    fn each_acknowledged_event_that_did_not_arrive_is_counted_by_its_stored_state() {
        let (load, arrivals) = run();
        let stored: StoredEvents = [
            ((0, Some(0)), Stored::Delivered),
            ((1, Some(0)), Stored::Queued),
            ((2, Some(0)), Stored::Dead),
            ((3, Some(0)), Stored::Delivered),
        ]
        .into_iter()
        .collect();
        let counts = unarrived(&load, &arrivals, &stored);
        let expected = Unarrived {
            queued: 1,
            dead: 1,
            marked_delivered: 1,
            lost: 1,
        };
        assert_eq!(counts, expected);
    }

    #[test]
    fn nothing_is_lost_only_when_every_missing_event_is_durably_queued() {
        let (load, arrivals) = run();
        let mut d = delivery(&load, &arrivals);
        assert_eq!(d.undelivered, 4);
        assert_eq!(d.missing(), None);
        let queued = Unarrived {
            queued: 4,
            ..Unarrived::default()
        };
        d.accounting = Accounting::Counted(queued);
        assert!(d.nothing_lost() && !d.exactly_once());
        d.accounting = Accounting::Counted(Unarrived {
            queued: 3,
            lost: 1,
            ..queued
        });
        assert_eq!(d.missing(), Some(1));
        assert!(!d.nothing_lost());
    }

    #[test]
    fn quantiles_use_the_nearest_rank() {
        let ns: Vec<u64> = (1..=100).map(|i| i * 1_000_000).collect();
        assert_eq!(quantile_ms(&ns, 0.50), 50.0);
        assert_eq!(quantile_ms(&ns, 0.99), 99.0);
        assert!(quantile_ms(&[], 0.5).is_nan());
    }
}
