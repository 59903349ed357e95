//! Time as the relay reads and shows it: milliseconds since the Unix epoch (what the store
//! keeps), and RFC 3339 for people and JSON. Loops that decide by the time take a [`Clock`], so
//! tests can move time on instead of waiting for it.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Where a loop reads the time.
pub trait Clock: Send + Sync + 'static {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64;
}

/// The system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        now_ms()
    }
}

/// A clock that moves only when told (tests).
#[derive(Debug, Default)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    /// A clock that reads `at_ms`.
    pub fn at(at_ms: i64) -> ManualClock {
        ManualClock(AtomicI64::new(at_ms))
    }

    /// Moves the clock on by `by`.
    pub fn advance(&self, by: Duration) {
        self.0.fetch_add(millis(by), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// Milliseconds since the Unix epoch (0 before it; saturating far after).
pub fn now_ms() -> i64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}

/// A duration in milliseconds, saturating.
pub fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// A point in time (ms since the epoch) as RFC 3339 UTC.
pub fn rfc3339(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.to_string())
        .unwrap_or_else(|_| ms.to_string())
}

/// Why a time filter could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.message_for("since"))]
pub struct SinceError(pub String);

impl SinceError {
    /// What is wrong, for the filter called `name` (`since`, `until`).
    pub fn message_for(&self, name: &str) -> String {
        format!(
            "`{name}` is a duration back from now (2h, 1d) or an RFC 3339 time, got {:?}",
            self.0
        )
    }
}

/// A `since` filter (a duration back from `now_ms`, or an RFC 3339 time) as ms since the epoch.
pub fn parse_since(value: &str, now_ms: i64) -> Result<i64, SinceError> {
    if let Ok(d) = humantime::parse_duration(value) {
        return Ok(now_ms.saturating_sub(millis(d)));
    }
    value
        .parse::<jiff::Timestamp>()
        .map(|t| t.as_millisecond())
        .map_err(|_| SinceError(value.chars().take(40).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_is_a_duration_back_or_a_time() {
        assert_eq!(parse_since("2h", 10_000_000), Ok(10_000_000 - 7_200_000));
        assert_eq!(
            parse_since("2026-11-20T08:00:00Z", 0),
            Ok(1_795_161_600_000)
        );
        assert!(parse_since("yesterday", 0).is_err());
    }

    #[test]
    fn a_time_that_cannot_be_read_is_named_by_its_filter() {
        let err = parse_since("yesterday", 0).expect_err("not a time");
        assert_eq!(
            err.to_string(),
            "`since` is a duration back from now (2h, 1d) or an RFC 3339 time, got \"yesterday\""
        );
        assert!(
            err.message_for("until")
                .starts_with("`until` is a duration")
        );
    }

    #[test]
    fn a_manual_clock_moves_only_when_told() {
        let clock = ManualClock::at(1_000);
        assert_eq!(clock.now_ms(), 1_000);
        clock.advance(Duration::from_secs(2));
        assert_eq!(clock.now_ms(), 3_000);
    }

    #[test]
    fn a_time_is_shown_as_rfc3339() {
        assert_eq!(rfc3339(1_795_161_600_000), "2026-11-20T08:00:00Z");
    }
}
