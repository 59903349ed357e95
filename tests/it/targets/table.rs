//! Answer tables: a provider's answers (status, body, headers) and the verdict each must get,
//! written one case a line and checked in one loop whose failure names the case.
//!
//! ```ignore
//! check(&target, now, &[
//!     answer(200, "ok").is(Verdict::Delivered { provider_id: None }),
//!     answer(404, "no_service").dead().saying("removed"),
//!     answer(429, "{}").header("Retry-After", "7").retried_in(RetryScope::Target).after(secs(7)),
//! ]);
//! ```

use std::time::{Duration, SystemTime};

use mqa_relay::targets::{HttpResponse, RetryScope, Target, Verdict};

/// One answer of a provider and what its verdict must be.
pub struct Case {
    status: u16,
    body: String,
    headers: Vec<(&'static str, &'static str)>,
    expect: Expect,
    /// Texts the verdict's reason must contain.
    says: Vec<&'static str>,
}

#[derive(Debug)]
enum Expect {
    /// Not delivered, whether retried or dead (the reason is what the case checks).
    Failed,
    Delivered,
    Dead,
    /// Retried, in `scope` when one is given, after a wait that `wait` accepts.
    Retry {
        scope: Option<RetryScope>,
        wait: Wait,
    },
    /// Exactly this verdict.
    Is(Verdict),
}

#[derive(Debug, Clone, Copy)]
enum Wait {
    Any,
    Exactly(Duration),
    AtLeast(Duration),
}

/// A provider's answer `status` with `body`; by default its verdict must be a failure, and the
/// methods of [`Case`] say which.
pub fn answer(status: u16, body: impl Into<String>) -> Case {
    Case {
        status,
        body: body.into(),
        headers: Vec::new(),
        expect: Expect::Failed,
        says: Vec::new(),
    }
}

/// A whole number of seconds, for waits.
pub fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

impl Case {
    pub fn header(mut self, name: &'static str, value: &'static str) -> Case {
        self.headers.push((name, value));
        self
    }

    pub fn is(self, verdict: Verdict) -> Case {
        self.expecting(Expect::Is(verdict))
    }

    pub fn delivered(self) -> Case {
        self.expecting(Expect::Delivered)
    }

    pub fn dead(self) -> Case {
        self.expecting(Expect::Dead)
    }

    /// Retried, in either scope.
    pub fn retried(self) -> Case {
        self.expecting(Expect::Retry {
            scope: None,
            wait: Wait::Any,
        })
    }

    pub fn retried_in(self, scope: RetryScope) -> Case {
        self.expecting(Expect::Retry {
            scope: Some(scope),
            wait: Wait::Any,
        })
    }

    /// A retry after exactly `wait`.
    pub fn after(self, wait: Duration) -> Case {
        self.waiting(Wait::Exactly(wait))
    }

    /// A retry after `wait` or longer.
    pub fn after_at_least(self, wait: Duration) -> Case {
        self.waiting(Wait::AtLeast(wait))
    }

    /// The reason contains `text`.
    pub fn saying(mut self, text: &'static str) -> Case {
        self.says.push(text);
        self
    }

    fn expecting(mut self, expect: Expect) -> Case {
        self.expect = expect;
        self
    }

    fn waiting(mut self, wait: Wait) -> Case {
        match &mut self.expect {
            Expect::Retry { wait: w, .. } => *w = wait,
            other => panic!("a wait is for a retry, not for {other:?}"),
        }
        self
    }

    fn response(&self) -> HttpResponse {
        let response = HttpResponse::new(self.status, self.body.clone());
        self.headers
            .iter()
            .fold(response, |r, (name, value)| r.with_header(name, value))
    }

    /// Whether `verdict` is what this case expects.
    fn accepts(&self, verdict: &Verdict) -> bool {
        let kind = match (&self.expect, verdict) {
            (Expect::Is(expected), v) => expected == v,
            (Expect::Failed, v) => v.reason().is_some(),
            (Expect::Delivered, Verdict::Delivered { .. }) => true,
            (Expect::Dead, Verdict::Dead { .. }) => true,
            (
                Expect::Retry { scope, wait },
                Verdict::Retry {
                    after, scope: s, ..
                },
            ) => scope.is_none_or(|scope| scope == *s) && wait.accepts(*after),
            _ => false,
        };
        let reason = verdict.reason().unwrap_or_default();
        kind && self.says.iter().all(|text| reason.contains(text))
    }
}

impl Wait {
    fn accepts(self, after: Option<Duration>) -> bool {
        match (self, after) {
            (Wait::Any, _) => true,
            (Wait::Exactly(wait), Some(after)) => after == wait,
            (Wait::AtLeast(wait), Some(after)) => after >= wait,
            (_, None) => false,
        }
    }
}

/// Classifies each case's answer with `target` at `now`; panics at the first case whose
/// verdict is not what it expects, naming the case.
pub fn check(target: &Target, now: SystemTime, cases: &[Case]) {
    for case in cases {
        let verdict = target.classify(&case.response(), now);
        assert!(
            case.accepts(&verdict),
            "answer {} {:?} {:?}: expected {:?} saying {:?}, got {verdict:?}",
            case.status,
            case.body,
            case.headers,
            case.expect,
            case.says
        );
    }
}
