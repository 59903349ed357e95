//! Accept errors that are not about one client (no file descriptor left, say): the loop pauses
//! longer each time, and says so in the log at most once per [`REPORT_EVERY`], with a count,
//! instead of a line every few milliseconds.

use std::time::{Duration, Instant};

/// The first pause after an error; it doubles with each error in a row.
const FIRST_PAUSE: Duration = Duration::from_millis(50);
const MAX_PAUSE: Duration = Duration::from_secs(1);
/// At most one log line per this long.
pub(super) const REPORT_EVERY: Duration = Duration::from_secs(10);

/// What to do about one error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Step {
    /// How long to wait before accepting again.
    pub(super) pause: Duration,
    /// Log now: the errors since the last line, this one included.
    pub(super) report: Option<u64>,
}

/// The state of a run of accept errors.
#[derive(Debug, Default)]
pub(super) struct AcceptErrors {
    in_a_row: u32,
    last_report: Option<Instant>,
    unreported: u64,
}

impl AcceptErrors {
    /// One more error at `now`.
    pub(super) fn failed(&mut self, now: Instant) -> Step {
        self.unreported += 1;
        let pause = FIRST_PAUSE
            .saturating_mul(2u32.saturating_pow(self.in_a_row))
            .min(MAX_PAUSE);
        self.in_a_row = self.in_a_row.saturating_add(1);
        let due = self
            .last_report
            .is_none_or(|at| now.saturating_duration_since(at) >= REPORT_EVERY);
        let report = due.then(|| {
            self.last_report = Some(now);
            std::mem::take(&mut self.unreported)
        });
        Step { pause, report }
    }

    /// A connection was accepted: the pause starts small again. Returns the errors not yet
    /// reported, if any, so the recovery can say how many there were.
    pub(super) fn accepted(&mut self) -> Option<u64> {
        self.in_a_row = 0;
        (self.unreported > 0).then(|| std::mem::take(&mut self.unreported))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_in_a_row_pause_longer_up_to_a_second() {
        let mut errors = AcceptErrors::default();
        let now = Instant::now();
        let pauses: Vec<u128> = (0..8)
            .map(|_| errors.failed(now).pause.as_millis())
            .collect();
        assert_eq!(pauses, [50, 100, 200, 400, 800, 1000, 1000, 1000]);
        errors.accepted();
        assert_eq!(errors.failed(now).pause, FIRST_PAUSE);
    }

    #[test]
    fn a_burst_of_errors_is_logged_once_then_counted() {
        let mut errors = AcceptErrors::default();
        let start = Instant::now();
        assert_eq!(errors.failed(start).report, Some(1));
        let quiet: Vec<Option<u64>> = (1..100)
            .map(|ms| errors.failed(start + Duration::from_millis(ms)).report)
            .collect();
        assert!(quiet.iter().all(Option::is_none));
        assert_eq!(errors.failed(start + REPORT_EVERY).report, Some(100));
    }

    #[test]
    fn recovery_reports_the_errors_not_yet_logged() {
        let mut errors = AcceptErrors::default();
        let start = Instant::now();
        errors.failed(start);
        errors.failed(start + Duration::from_millis(5));
        errors.failed(start + Duration::from_millis(9));
        assert_eq!(errors.accepted(), Some(2));
        assert_eq!(errors.accepted(), None);
    }
}
