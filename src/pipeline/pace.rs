//! A target's rate limit, as a lane keeps it: the "theoretical arrival time" of the next send
//! (GCRA). A send may start when that time has come; each send moves it on by `per / count`.
//! Pure: the time is an argument.
//!
//! Sends may start up to [`TOLERANCE_US`] early, so a lane never waits for less than a timer
//! tick: at 5 000 sends/s (one every 200 µs) a lane starts the sends of a millisecond together
//! instead of sleeping to the next millisecond before each, and a 1/s limit lets a send leave
//! at most a millisecond early.

use crate::targets::RateLimit;

/// How early a send may start (µs): tokio's timers tick by the millisecond.
pub const TOLERANCE_US: i64 = 1_000;

/// The pacing state of one lane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pace {
    /// Microseconds between two sends; `None`: no limit.
    interval_us: Option<i64>,
    /// When the next send may start (µs since the epoch).
    next_us: i64,
}

impl Pace {
    pub fn new(limit: Option<RateLimit>) -> Pace {
        let interval_us = limit.map(|l| {
            let per_us = i64::try_from(l.per.as_micros()).unwrap_or(i64::MAX);
            (per_us / i64::from(l.count.max(1))).max(1)
        });
        Pace {
            interval_us,
            next_us: 0,
        }
    }

    /// How many of `want` sends may start at `now_ms`.
    pub fn allowed(&self, now_ms: i64, want: usize) -> usize {
        let Some(interval) = self.interval_us else {
            return want;
        };
        let horizon = now_ms.saturating_mul(1_000).saturating_add(TOLERANCE_US);
        let start = self.next_us.max(now_ms.saturating_mul(1_000));
        if start > horizon {
            return 0;
        }
        let fit = (horizon - start) / interval + 1;
        usize::try_from(fit).unwrap_or(usize::MAX).min(want)
    }

    /// Records `n` sends started at `now_ms`.
    pub fn started(&mut self, now_ms: i64, n: usize) {
        let Some(interval) = self.interval_us else {
            return;
        };
        let n = i64::try_from(n).unwrap_or(i64::MAX);
        let start = self.next_us.max(now_ms.saturating_mul(1_000));
        self.next_us = start.saturating_add(interval.saturating_mul(n));
    }

    /// Microseconds between two sends, `None` without a limit.
    pub fn interval_us(&self) -> Option<i64> {
        self.interval_us
    }

    /// When the next send may start (ms), or `None` when it may start now.
    pub fn next_at(&self, now_ms: i64) -> Option<i64> {
        (self.allowed(now_ms, 1) == 0).then(|| (self.next_us - TOLERANCE_US + 999) / 1_000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn limit(count: u32, per: Duration) -> Option<RateLimit> {
        Some(RateLimit { count, per })
    }

    #[test]
    fn without_a_limit_every_send_may_start() {
        let pace = Pace::new(None);
        assert_eq!(pace.allowed(0, 64), 64);
        assert_eq!(pace.next_at(0), None);
    }

    #[test]
    fn one_a_second_spaces_sends_by_a_second_less_the_tolerance() {
        let mut pace = Pace::new(limit(1, Duration::from_secs(1)));
        assert_eq!(pace.allowed(10_000, 5), 1);
        pace.started(10_000, 1);
        assert_eq!(pace.allowed(10_500, 5), 0);
        assert_eq!(pace.next_at(10_500), Some(10_999));
        assert_eq!(pace.allowed(10_999, 5), 1);
    }

    #[test]
    fn a_fast_limit_starts_a_milliseconds_worth_of_sends_together() {
        let mut pace = Pace::new(limit(5_000, Duration::from_secs(1)));
        // 200 µs apart: now and the next 1 000 µs hold six starts.
        assert_eq!(pace.allowed(0, 64), 6);
        pace.started(0, 6);
        assert_eq!(pace.allowed(0, 64), 0);
        assert_eq!(pace.allowed(1, 64), 5);
        // Over a second, no more than the limit (plus the tolerance's worth).
        let mut sent = 6;
        for ms in 1..1_000 {
            let n = pace.allowed(ms, 64);
            pace.started(ms, n);
            sent += n;
        }
        assert!((5_000..=5_006).contains(&sent), "{sent}");
    }

    #[test]
    fn an_idle_lane_does_not_save_up_sends() {
        let mut pace = Pace::new(limit(1, Duration::from_secs(1)));
        pace.started(0, 1);
        assert_eq!(
            pace.allowed(60_000, 10),
            1,
            "a minute idle is one send, not sixty"
        );
    }
}
