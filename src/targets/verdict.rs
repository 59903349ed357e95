//! What an answer means: [`Verdict`], and the reading of the headers and bodies that every
//! kind's table shares (`Retry-After`, reset headers, error excerpts).
//!
//! A verdict says what happened and, for a retry, the earliest moment the provider asked for.
//! It never decides *when* to retry: that is the sender loop's job.

use std::time::{Duration, SystemTime};

use reqwest::header::HeaderMap;

use super::scrub::Scrubber;

/// The outcome of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The provider accepted the message; `provider_id` is its id for it, when it gives one.
    Delivered { provider_id: Option<String> },
    /// A transient failure. `after` is the wait the provider asked for, if any: a lower
    /// bound, which the sender loop lengthens to its backoff when it is shorter.
    Retry {
        after: Option<Duration>,
        scope: RetryScope,
        reason: String,
    },
    /// A permanent failure: the same request will not succeed. `reason` is for the operator.
    Dead { reason: String },
}

/// What a retry wait applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryScope {
    /// Only this delivery waits.
    Delivery,
    /// The whole target waits (a rate limit or quota: every message to it would be refused).
    Target,
}

impl Verdict {
    /// A retry of this delivery only, after the provider's wait if it named one.
    pub fn retry(after: Option<Duration>, reason: impl Into<String>) -> Verdict {
        Verdict::Retry {
            after,
            scope: RetryScope::Delivery,
            reason: reason.into(),
        }
    }

    /// A pause of the whole target (rate limit, quota).
    pub fn pause_target(after: Option<Duration>, reason: impl Into<String>) -> Verdict {
        Verdict::Retry {
            after,
            scope: RetryScope::Target,
            reason: reason.into(),
        }
    }

    pub fn dead(reason: impl Into<String>) -> Verdict {
        Verdict::Dead {
            reason: reason.into(),
        }
    }

    pub fn delivered(provider_id: Option<String>) -> Verdict {
        Verdict::Delivered { provider_id }
    }

    /// The reason of a failure; `None` for a delivery.
    pub fn reason(&self) -> Option<&str> {
        match self {
            Verdict::Delivered { .. } => None,
            Verdict::Retry { reason, .. } | Verdict::Dead { reason } => Some(reason),
        }
    }

    /// The same verdict with every secret `scrubber` knows removed from what a provider said:
    /// the reason, and the message id (an echoing provider can put anything there).
    pub(crate) fn scrubbed(self, scrubber: &Scrubber) -> Verdict {
        match self {
            Verdict::Retry {
                after,
                scope,
                reason,
            } => Verdict::Retry {
                after,
                scope,
                reason: scrubber.scrub(&reason),
            },
            Verdict::Dead { reason } => Verdict::Dead {
                reason: scrubber.scrub(&reason),
            },
            Verdict::Delivered { provider_id } => Verdict::Delivered {
                provider_id: provider_id.map(|id| scrubber.scrub(&id)),
            },
        }
    }
}

/// A status that says "not now" rather than "never": timeout, rate limit, server error.
pub(crate) fn is_transient(status: u16) -> bool {
    status == 408 || status == 429 || (500..=599).contains(&status)
}

/// The generic verdict for a status no table row matched: 2xx delivered, 429 pauses the
/// target, 408/5xx retry, anything else is permanent.
pub(crate) fn by_status(
    provider: &str,
    status: u16,
    detail: &str,
    headers: &HeaderMap,
    now: SystemTime,
) -> Verdict {
    let reason = answered(provider, status, detail);
    match status {
        200..=299 => Verdict::delivered(None),
        429 => Verdict::pause_target(retry_after(headers, now), reason),
        s if is_transient(s) => Verdict::retry(retry_after(headers, now), reason),
        _ => Verdict::dead(reason),
    }
}

/// `"<Provider> answered <status>: <detail>"`, or without the detail when it is empty.
pub(crate) fn answered(provider: &str, status: u16, detail: &str) -> String {
    if detail.is_empty() {
        format!("{provider} answered {status}")
    } else {
        format!("{provider} answered {status} {detail}")
    }
}

/// The `Retry-After` header, in seconds or as an HTTP date (relative to `now`).
pub fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = header_str(headers, "retry-after")?;
    parse_retry_after(value, now)
}

/// `Retry-After` syntax: delta-seconds or an HTTP date. A date in the past means "now".
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    if let Ok(secs) = value.parse::<f64>()
        && secs.is_finite()
        && secs >= 0.0
    {
        return Some(Duration::from_secs_f64(secs.min(1e9)));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// A reset header holding epoch seconds (SendGrid's `X-RateLimit-Reset`) as a wait from `now`.
pub(crate) fn epoch_reset(headers: &HeaderMap, name: &str, now: SystemTime) -> Option<Duration> {
    let secs: u64 = header_str(headers, name)?.trim().parse().ok()?;
    // A hostile or broken header (u64::MAX) must not overflow the clock: ignore it.
    let at = SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(secs))?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// A header holding a number of seconds (Resend's `ratelimit-reset`).
pub(crate) fn seconds_header(headers: &HeaderMap, name: &str) -> Option<Duration> {
    let secs: u64 = header_str(headers, name)?.trim().parse().ok()?;
    Some(Duration::from_secs(secs))
}

pub(crate) fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name)?.to_str().ok()
}

/// The start of a provider's body, on one line, for a reason: at most 300 characters.
pub(crate) fn excerpt(body: &str) -> String {
    let one_line: String = body
        .trim()
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    crate::targets::limits::truncate_chars(&one_line, 300)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn an_absurd_reset_header_is_ignored_not_a_panic() {
        let mut headers = HeaderMap::new();
        headers.insert("x-ratelimit-reset", "18446744073709551615".parse().unwrap());
        assert_eq!(epoch_reset(&headers, "x-ratelimit-reset", at(1_000)), None);
    }

    #[test]
    fn retry_after_in_seconds_is_read_as_is() {
        assert_eq!(
            parse_retry_after("30", at(0)),
            Some(Duration::from_secs(30))
        );
    }

    #[test]
    fn retry_after_as_an_http_date_is_a_wait_from_now() {
        // 1_700_000_000 is Tue, 14 Nov 2023 22:13:20 GMT.
        let wait = parse_retry_after("Tue, 14 Nov 2023 22:13:50 GMT", at(1_700_000_000));
        assert_eq!(wait, Some(Duration::from_secs(30)));
    }

    #[test]
    fn retry_after_in_the_past_means_now() {
        let wait = parse_retry_after("Tue, 14 Nov 2023 22:13:20 GMT", at(1_700_000_100));
        assert_eq!(wait, Some(Duration::ZERO));
    }

    #[test]
    fn retry_after_that_is_garbage_is_ignored() {
        assert_eq!(parse_retry_after("soon", at(0)), None);
        assert_eq!(parse_retry_after("-5", at(0)), None);
    }

    #[test]
    fn excerpt_is_one_bounded_line() {
        let long = format!("a\nb{}", "x".repeat(1000));
        let e = excerpt(&long);
        assert!(!e.contains('\n'));
        assert!(e.chars().count() <= 300);
        assert!(e.ends_with('…'));
    }
}
