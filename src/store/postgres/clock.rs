//! The database's clock, for every time relays compare with each other's: when a delivery is
//! due, when a lease runs out, when a Retry-After pause or a router's lease ends. Each relay
//! keeps the offset of the database's clock from its own ([`DbClock::observe`], at open and at
//! every claim, which reads the database's clock anyway) and writes those times moved by it,
//! and reads them back moved the other way. A relay whose clock runs ahead or behind then
//! still times its leases, retries and pauses as the others do. Times that are only shown or
//! kept (received, finished, the dedup window, retention) stay in the relay's own clock.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

/// How far a new observation of the offset must be from the one in use to replace it. Each
/// observation is off by up to a round trip and a millisecond's rounding; a jittering offset
/// would move a time written a moment ago (a lease's end) by a few milliseconds when read back.
const NOISE_MS: i64 = 250;

/// The longest round trip an observation may take to count: a slower one (a stalled writer, a
/// busy machine) says little about when the database read its clock.
const MAX_ROUND_TRIP_MS: i64 = 50;

/// The offset of the database's clock from this relay's.
#[derive(Debug)]
pub(super) struct DbClock {
    /// This relay's clock (the system clock; a test may set it off).
    relay: fn() -> i64,
    /// Database time minus relay time, in milliseconds, as last observed.
    offset_ms: AtomicI64,
    /// Whether an observation was taken yet (the first is taken whatever it says).
    observed: AtomicBool,
}

impl DbClock {
    pub(super) fn new(relay: fn() -> i64) -> DbClock {
        DbClock {
            relay,
            offset_ms: AtomicI64::new(0),
            observed: AtomicBool::new(false),
        }
    }

    /// This relay's time now.
    pub(super) fn relay_now(&self) -> i64 {
        (self.relay)()
    }

    /// The database read its clock as `db_ms` in a statement sent at `sent` and answered at
    /// `answered` (this relay's clock): taken as the middle of that round trip, if it was short
    /// ([`MAX_ROUND_TRIP_MS`]). The first is taken; after it, the offset in use moves only
    /// when one is more than [`NOISE_MS`] away from it (a clock set right, or one that drifted).
    pub(super) fn observe(&self, db_ms: i64, sent: i64, answered: i64) {
        let trip = answered.saturating_sub(sent);
        if !(0..=MAX_ROUND_TRIP_MS).contains(&trip) {
            return;
        }
        let offset = db_ms.saturating_sub(sent.saturating_add(trip / 2));
        let current = self.offset_ms.load(Ordering::Relaxed);
        let first = !self.observed.swap(true, Ordering::Relaxed);
        if first || offset.abs_diff(current) > NOISE_MS.unsigned_abs() {
            self.offset_ms.store(offset, Ordering::Relaxed);
        }
    }

    /// A time of this relay's clock in the database's.
    pub(super) fn to_db(&self, relay_ms: i64) -> i64 {
        relay_ms.saturating_add(self.offset_ms.load(Ordering::Relaxed))
    }

    /// A time of the database's clock in this relay's.
    pub(super) fn to_relay(&self, db_ms: i64) -> i64 {
        db_ms.saturating_sub(self.offset_ms.load(Ordering::Relaxed))
    }
}

/// The database's clock in milliseconds, as SQL.
pub(super) const DB_NOW_MS: &str = "(extract(epoch FROM clock_timestamp()) * 1000)::BIGINT";

#[cfg(test)]
mod tests {
    use super::*;

    fn at_1000() -> i64 {
        1_000
    }

    #[test]
    fn times_move_by_the_observed_offset_both_ways() {
        let clock = DbClock::new(at_1000);
        assert_eq!(clock.to_db(5_000), 5_000, "no offset before one is seen");
        clock.observe(1_500, 990, 1_600);
        assert_eq!(clock.to_db(5_000), 5_000, "a slow round trip says nothing");
        clock.observe(1_003, 998, 1_002);
        assert_eq!(
            clock.to_db(5_000),
            5_003,
            "the first is taken, at the trip's middle"
        );
        clock.observe(1_010, 1_000, 1_000);
        assert_eq!(
            clock.to_db(5_000),
            5_003,
            "a few milliseconds more are noise"
        );
        clock.observe(121_000, 1_000, 1_000);
        assert_eq!(clock.to_db(5_000), 125_000, "a relay two minutes behind");
        assert_eq!(clock.to_relay(125_000), 5_000);
        clock.observe(120_900, 1_000, 1_000);
        assert_eq!(clock.to_db(5_000), 125_000, "kept while within the noise");
        clock.observe(400, 1_000, 1_000);
        assert_eq!(clock.to_db(1_000), 400, "a relay ahead of the database");
    }
}
