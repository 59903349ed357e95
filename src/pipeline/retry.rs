//! When to try again: the one place that turns a target's verdict into the next state of a
//! delivery. Pure: the clock and the jitter are arguments, so every branch is a unit test.

use std::time::Duration;

use crate::backoff::Backoff;
use crate::config::RetryPolicy;
use crate::store::Outcome;
use crate::targets::{RetryScope, Verdict};

/// The longest `Retry-After` honoured as given (unless `retry.max` is longer).
pub const LONGEST_PROVIDER_WAIT: Duration = Duration::from_secs(3600);

/// What the sender writes back after one attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub outcome: Outcome,
    /// A 429 that pauses the whole target (Slack means it that way): no claims before this.
    pub block_target_until: Option<i64>,
}

impl Decision {
    /// Try again now, whatever the backoff: the attempt changed what the next one sends (a
    /// conversation whose first message is gone starts again).
    pub fn at_once(now_ms: i64, status: Option<u16>, error: String) -> Decision {
        Decision {
            outcome: Outcome::Retry {
                at_ms: now_ms,
                status,
                error,
            },
            block_target_until: None,
        }
    }
}

/// One attempt's facts.
#[derive(Debug, Clone, Copy)]
pub struct Attempt {
    /// 1 for the first attempt.
    pub number: u32,
    /// When the delivery was queued (ms since the epoch): at routing, right after the event
    /// was acknowledged, or when a dead letter was replayed. `max_age` counts from here.
    pub acknowledged_at_ms: i64,
    pub now_ms: i64,
    /// The HTTP status, when there was an answer.
    pub status: Option<u16>,
}

/// A delivery's backoff ([`crate::backoff`]): its policy's `initial` and `max`; a provider's
/// `Retry-After` is honoured up to an hour (or `max`, if longer).
pub fn backoff_of(policy: &RetryPolicy) -> Backoff {
    Backoff {
        initial: policy.initial,
        max: policy.max,
        longest_server_wait: policy.max.max(LONGEST_PROVIDER_WAIT),
    }
}

/// The wait after attempt `attempt` with no word from the provider.
pub fn backoff(policy: &RetryPolicy, attempt: u32, jitter: f64) -> Duration {
    backoff_of(policy).delay(attempt, jitter)
}

/// Turns a verdict into the delivery's next state under `policy`.
pub fn decide(policy: &RetryPolicy, verdict: Verdict, at: Attempt, jitter: f64) -> Decision {
    let status = at.status;
    match verdict {
        Verdict::Delivered { provider_id } => Decision {
            outcome: Outcome::Delivered {
                status,
                provider_id,
            },
            block_target_until: None,
        },
        Verdict::Dead { reason } => Decision {
            outcome: Outcome::Dead {
                status,
                error: reason,
            },
            block_target_until: None,
        },
        Verdict::Retry {
            after,
            scope,
            reason,
        } => retry(policy, after, scope, reason, at, jitter),
    }
}

fn retry(
    policy: &RetryPolicy,
    after: Option<Duration>,
    scope: RetryScope,
    reason: String,
    at: Attempt,
    jitter: f64,
) -> Decision {
    let status = at.status;
    let wait = backoff_of(policy).wait(after, at.number, jitter);
    let next_ms = at.now_ms.saturating_add(duration_ms(wait));
    // A 429 pauses the whole target even when this delivery gives up, so the ones queued
    // behind it are not sent straight into the same limit.
    let block = matches!(scope, RetryScope::Target).then_some(next_ms);
    let dead = |error: String| Decision {
        outcome: Outcome::Dead { status, error },
        block_target_until: block,
    };
    if at.number >= policy.max_attempts {
        return dead(format!(
            "gave up after {} attempts; last error: {reason}",
            at.number
        ));
    }
    let deadline = at
        .acknowledged_at_ms
        .saturating_add(duration_ms(policy.max_age));
    if next_ms > deadline {
        let age = humantime::format_duration(policy.max_age);
        return dead(format!(
            "gave up after {} attempts: the next try would be more than {age} after the \
             delivery was queued; last error: {reason}",
            at.number
        ));
    }
    Decision {
        outcome: Outcome::Retry {
            at_ms: next_ms,
            status,
            error: reason,
        },
        block_target_until: block,
    }
}

fn duration_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 5,
            initial: Duration::from_secs(2),
            max: Duration::from_secs(60),
            max_age: Duration::from_secs(3600),
        }
    }

    fn attempt(number: u32) -> Attempt {
        Attempt {
            number,
            acknowledged_at_ms: 1_000_000,
            now_ms: 1_000_000,
            status: Some(503),
        }
    }

    fn retry_verdict(after: Option<Duration>, scope: RetryScope) -> Verdict {
        Verdict::Retry {
            after,
            scope,
            reason: "Slack answered 503".into(),
        }
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let p = policy();
        assert_eq!(backoff(&p, 1, 1.0), Duration::from_secs(2));
        assert_eq!(backoff(&p, 2, 1.0), Duration::from_secs(4));
        assert_eq!(backoff(&p, 3, 1.0), Duration::from_secs(8));
        assert_eq!(backoff(&p, 10, 1.0), Duration::from_secs(60));
        assert_eq!(backoff(&p, 200, 1.0), Duration::from_secs(60));
    }

    #[test]
    fn jitter_keeps_at_least_half_of_the_backoff() {
        let p = policy();
        assert_eq!(backoff(&p, 3, 0.0), Duration::from_secs(4));
        let mid = backoff(&p, 3, 0.5);
        assert!(mid > Duration::from_secs(4) && mid < Duration::from_secs(8));
    }

    #[test]
    fn a_retry_is_scheduled_after_the_backoff() {
        let d = decide(
            &policy(),
            retry_verdict(None, RetryScope::Delivery),
            attempt(2),
            1.0,
        );
        assert_eq!(
            d.outcome,
            Outcome::Retry {
                at_ms: 1_004_000,
                status: Some(503),
                error: "Slack answered 503".into()
            }
        );
        assert_eq!(d.block_target_until, None);
    }

    #[test]
    fn retry_after_from_the_provider_wins_over_backoff_and_pauses_the_target() {
        let v = retry_verdict(Some(Duration::from_secs(30)), RetryScope::Target);
        let d = decide(&policy(), v, attempt(1), 0.0);
        assert!(matches!(
            d.outcome,
            Outcome::Retry {
                at_ms: 1_030_000,
                ..
            }
        ));
        assert_eq!(d.block_target_until, Some(1_030_000));
    }

    /// When attempt `number` is retried, given the provider's wait and full jitter.
    fn retried_after(after: Option<Duration>, number: u32) -> Duration {
        let v = retry_verdict(after, RetryScope::Target);
        let d = decide(&policy(), v, attempt(number), 1.0);
        let Outcome::Retry { at_ms, .. } = d.outcome else {
            panic!("{d:?}")
        };
        assert_eq!(d.block_target_until, Some(at_ms), "the target pause agrees");
        Duration::from_millis(u64::try_from(at_ms - 1_000_000).unwrap())
    }

    #[test]
    fn a_retry_after_of_zero_gets_the_backoff_not_an_immediate_retry() {
        let zero = Some(Duration::ZERO);
        assert_eq!(retried_after(zero, 1), Duration::from_secs(2));
        assert_eq!(retried_after(zero, 3), Duration::from_secs(8));
    }

    #[test]
    fn a_retry_after_date_in_the_past_gets_the_backoff() {
        let past = crate::targets::verdict::parse_retry_after(
            "Tue, 14 Nov 2023 22:13:20 GMT",
            std::time::SystemTime::now(),
        );
        assert_eq!(past, Some(Duration::ZERO));
        assert_eq!(retried_after(past, 2), Duration::from_secs(4));
    }

    #[test]
    fn a_retry_after_shorter_than_the_backoff_floor_gets_the_backoff() {
        // Attempt 4: backoff 16 s with full jitter, never less than 8 s.
        let tiny = Some(Duration::from_millis(5));
        assert_eq!(retried_after(tiny, 4), Duration::from_secs(16));
        assert_eq!(
            retried_after(Some(Duration::from_secs(8)), 4),
            Duration::from_secs(16)
        );
    }

    #[test]
    fn a_retry_after_longer_than_the_backoff_floor_is_honoured_as_given() {
        assert_eq!(
            retried_after(Some(Duration::from_secs(9)), 4),
            Duration::from_secs(9)
        );
        assert_eq!(
            retried_after(Some(Duration::from_secs(30)), 1),
            Duration::from_secs(30)
        );
    }

    #[test]
    fn a_huge_retry_after_is_capped_at_an_hour() {
        let mut p = policy();
        p.max_age = Duration::from_secs(48 * 3600);
        let v = retry_verdict(Some(Duration::from_secs(80_000)), RetryScope::Delivery);
        let d = decide(&p, v, attempt(1), 0.0);
        let Outcome::Retry { at_ms, .. } = d.outcome else {
            panic!("{d:?}")
        };
        assert_eq!(at_ms, 1_000_000 + 3_600_000);
    }

    #[test]
    fn a_retry_after_longer_than_the_backoff_cap_is_still_honoured() {
        let v = retry_verdict(Some(Duration::from_secs(120)), RetryScope::Delivery);
        let d = decide(&policy(), v, attempt(1), 0.0);
        let Outcome::Retry { at_ms, .. } = d.outcome else {
            panic!("{d:?}")
        };
        assert_eq!(at_ms, 1_120_000);
    }

    #[test]
    fn a_429_that_ends_a_delivery_still_pauses_the_target() {
        let v = retry_verdict(Some(Duration::from_secs(30)), RetryScope::Target);
        let d = decide(&policy(), v, attempt(5), 0.0);
        assert!(matches!(d.outcome, Outcome::Dead { .. }), "{d:?}");
        assert_eq!(d.block_target_until, Some(1_030_000));
    }

    #[test]
    fn the_last_attempt_goes_dead_with_the_last_error() {
        let d = decide(
            &policy(),
            retry_verdict(None, RetryScope::Delivery),
            attempt(5),
            0.5,
        );
        let Outcome::Dead { error, status } = d.outcome else {
            panic!("expected dead")
        };
        assert_eq!(status, Some(503));
        assert!(error.contains("gave up after 5 attempts"), "{error}");
        assert!(error.contains("Slack answered 503"), "{error}");
    }

    #[test]
    fn a_retry_beyond_max_age_goes_dead() {
        let mut a = attempt(2);
        a.now_ms = a.acknowledged_at_ms + 3_599_000;
        let d = decide(&policy(), retry_verdict(None, RetryScope::Delivery), a, 0.0);
        assert!(matches!(d.outcome, Outcome::Dead { .. }), "{d:?}");
    }

    #[test]
    fn delivered_and_dead_pass_through() {
        let d = decide(
            &policy(),
            Verdict::Delivered {
                provider_id: Some("m-1".into()),
            },
            attempt(1),
            0.0,
        );
        assert_eq!(
            d.outcome,
            Outcome::Delivered {
                status: Some(503),
                provider_id: Some("m-1".into())
            }
        );
        let d = decide(
            &policy(),
            Verdict::Dead {
                reason: "404 no_service".into(),
            },
            attempt(1),
            0.0,
        );
        assert!(matches!(d.outcome, Outcome::Dead { ref error, .. } if error == "404 no_service"));
    }
}

/// Properties of the retry decisions over whole delivery lives: generated policies, answers
/// (with and without `Retry-After`, for the delivery or the whole target), send durations and
/// jitter (see [`crate::properties`]).
#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    /// One provider answer as the target's table reads it.
    #[derive(Debug, Clone)]
    enum Answer {
        Delivered,
        Dead,
        Retry {
            after_ms: Option<u64>,
            whole_target: bool,
        },
    }

    fn answer() -> impl Strategy<Value = Answer> {
        prop_oneof![
            1 => Just(Answer::Delivered),
            1 => Just(Answer::Dead),
            12 => (
                prop::option::of(prop_oneof![0..5_000u64, 0..20_000_000u64]),
                any::<bool>()
            )
                .prop_map(|(after_ms, whole_target)| Answer::Retry { after_ms, whole_target }),
        ]
    }

    fn verdict(answer: &Answer) -> Verdict {
        match answer {
            Answer::Delivered => Verdict::delivered(None),
            Answer::Dead => Verdict::dead("refused"),
            Answer::Retry {
                after_ms,
                whole_target,
            } => {
                let after = after_ms.map(Duration::from_millis);
                if *whole_target {
                    Verdict::pause_target(after, "429")
                } else {
                    Verdict::retry(after, "503")
                }
            }
        }
    }

    fn policy() -> impl Strategy<Value = RetryPolicy> {
        (
            1u32..40,
            1u64..10_000,
            0u64..3_600_000,
            1_000u64..172_800_000,
        )
            .prop_map(|(max_attempts, initial, extra, max_age)| RetryPolicy {
                max_attempts,
                initial: Duration::from_millis(initial),
                max: Duration::from_millis(initial + extra),
                max_age: Duration::from_millis(max_age),
            })
    }

    /// How a delivery's life ended.
    #[derive(Debug, PartialEq)]
    enum End {
        Delivered,
        Dead,
    }

    proptest! {
        #![proptest_config(crate::properties::config(400))]

        #[test]
        fn every_delivery_ends_delivered_or_dead_on_a_schedule_within_its_policy(
            policy in policy(),
            answers in prop::collection::vec(answer(), 1..40),
            sends_ms in prop::collection::vec(0i64..30_000, 1..40),
            jitters in prop::collection::vec(0.0f64..1.0, 1..40),
            queued_at in 0i64..4_000_000_000_000,
        ) {
            let backoff = backoff_of(&policy);
            let deadline = queued_at + duration_ms(policy.max_age);
            let mut now = queued_at;
            let mut end = None;
            for number in 1..=policy.max_attempts {
                let answer = &answers[(number as usize - 1) % answers.len()];
                let at = Attempt {
                    number,
                    acknowledged_at_ms: queued_at,
                    now_ms: now,
                    status: Some(500),
                };
                let jitter = jitters[(number as usize - 1) % jitters.len()];
                let decision = decide(&policy, verdict(answer), at, jitter);
                let target_pause = matches!(answer, Answer::Retry { whole_target: true, .. });
                prop_assert_eq!(decision.block_target_until.is_some(), target_pause);
                match decision.outcome {
                    Outcome::Delivered { .. } => {
                        prop_assert!(matches!(answer, Answer::Delivered));
                        end = Some(End::Delivered);
                    }
                    Outcome::Dead { error, .. } => {
                        // Dead only for a reason: the answer said so, or a limit was reached.
                        let refused = matches!(answer, Answer::Dead);
                        let limit = number == policy.max_attempts || error.contains("more than");
                        prop_assert!(refused || limit, "dead without a reason: {error}");
                        end = Some(End::Dead);
                    }
                    Outcome::Retry { at_ms, .. } => {
                        let floor = duration_ms(backoff.delay(number, 0.0));
                        let longest = duration_ms(backoff.longest_server_wait.max(policy.max));
                        prop_assert!(at_ms >= now + floor, "sooner than the backoff's floor");
                        prop_assert!(at_ms <= now + longest, "parked past the longest wait");
                        prop_assert!(at_ms <= deadline, "a try past max_age");
                        prop_assert!(number < policy.max_attempts, "a try past max_attempts");
                        if let Some(until) = decision.block_target_until {
                            prop_assert_eq!(until, at_ms);
                        }
                        now = at_ms + sends_ms[(number as usize - 1) % sends_ms.len()];
                    }
                }
                if end.is_some() {
                    break;
                }
            }
            prop_assert!(end.is_some(), "still retrying after max_attempts");
        }
    }
}
