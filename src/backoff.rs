//! The one backoff of the relay, and the retry policy it serves: exponential waits with
//! "equal jitter", and how a server's `Retry-After` is weighed against them. Deliveries ([`crate::pipeline::retry`]) and the
//! MonitorQA lookups ([`crate::enrich`]) both wait with it. Pure: the jitter is an argument.

use std::time::Duration;

/// Exponential backoff: `initial · 2^(n-1)` for attempt `n` (1 for the first), capped at `max`;
/// a server's wait is honoured up to `longest_server_wait`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
    pub longest_server_wait: Duration,
}

impl Backoff {
    /// The wait after attempt `attempt`, with half of it fixed and half random (`jitter` in
    /// `[0, 1)`), so that many failures at once do not come back at once.
    pub fn delay(&self, attempt: u32, jitter: f64) -> Duration {
        let exp = attempt.saturating_sub(1).min(31);
        let base = self.initial.saturating_mul(1u32 << exp).min(self.max);
        let half = base / 2;
        half + half.mul_f64(jitter.clamp(0.0, 1.0))
    }

    /// The wait after attempt `attempt` when the server asked for `server_wait`. The server's
    /// wait is a lower bound, never a shortcut: one shorter than this attempt's floor (the
    /// delay without jitter; a `Retry-After: 0`, a date in the past) gets the backoff, or a
    /// 429 loop would burn every attempt in seconds. A longer one is honoured up to
    /// `longest_server_wait`: a broken or hostile `Retry-After: 80000` parks nothing for a day.
    pub fn wait(&self, server_wait: Option<Duration>, attempt: u32, jitter: f64) -> Duration {
        let floor = self.delay(attempt, 0.0);
        match server_wait {
            Some(wait) if wait > floor => wait.min(self.longest_server_wait),
            _ => self.delay(attempt, jitter),
        }
    }
}

/// When to give up on a delivery, and how long to wait between attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub initial: Duration,
    pub max: Duration,
    pub max_age: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            // Enough that `max_age` is the limit: at the 10-minute cap, 24 h is ~150 tries. A
            // target down for an hour must get patient retries, not a full dead-letter list.
            max_attempts: 200,
            initial: Duration::from_secs(2),
            max: Duration::from_secs(600),
            max_age: Duration::from_secs(24 * 3600),
        }
    }
}

impl Backoff {
    /// A delivery's backoff: its policy's `initial` and `max`, a server's wait honoured up to
    /// `longest_server_wait`.
    pub fn of(policy: &RetryPolicy, longest_server_wait: Duration) -> Backoff {
        Backoff {
            initial: policy.initial,
            max: policy.max,
            longest_server_wait,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const B: Backoff = Backoff {
        initial: Duration::from_secs(2),
        max: Duration::from_secs(60),
        longest_server_wait: Duration::from_secs(3600),
    };

    #[test]
    fn the_delay_doubles_up_to_the_cap_with_half_of_it_random() {
        assert_eq!(B.delay(1, 0.0), Duration::from_secs(1));
        assert_eq!(B.delay(1, 0.5), Duration::from_millis(1500));
        assert_eq!(B.delay(3, 0.0), Duration::from_secs(4));
        assert_eq!(B.delay(30, 0.0), Duration::from_secs(30));
        assert_eq!(B.delay(u32::MAX, 0.5), Duration::from_secs(45));
    }

    #[test]
    fn a_servers_wait_is_a_lower_bound_up_to_the_longest() {
        assert_eq!(B.wait(Some(Duration::ZERO), 3, 0.5), B.delay(3, 0.5));
        assert_eq!(
            B.wait(Some(Duration::from_secs(30)), 3, 0.5),
            Duration::from_secs(30)
        );
        assert_eq!(
            B.wait(Some(Duration::from_secs(80_000)), 1, 0.0),
            Duration::from_secs(3600)
        );
        assert_eq!(B.wait(None, 2, 0.0), Duration::from_secs(2));
    }
}
