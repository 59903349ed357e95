//! Enrichment: looks up what an id-only event refers to in the MonitorQA API, so rules can
//! route on it and templates can show it.
//!
//! Which events are looked up ([`plan`]) and where the answer goes in the context ([`apply`])
//! are pure functions; [`Enricher::enrich`] does the I/O (through a small cache) and never
//! fails: when the API cannot answer, the event is routed without enrichment and the
//! [`LookupOutcome`] says why. It does not change the event, match rules or retry later.
//!
//! Successful answers are cached (default 60 s, 10 000 entries); a 404 is not, since a new audit
//! may not be visible to the API yet. 429 (honouring `Retry-After`, capped), 500/502/503/504,
//! timeouts and connection errors get two retries within a total time budget; 401, 403 and 404
//! are final.
//!
//! | event | lookup | context key |
//! |---|---|---|
//! | `AUDIT_ASSIGNED`, `AUDIT_EXPIRED`, `AUDIT_DELETED`, `AUDIT_RESCHEDULED` | `GET /audit/{data.auditId}` | `audit` |
//! | `CORRECTIVE_ACTION_*` with `data.correctiveAction` null or missing, except `_DELETED` | `GET /corrective-actions/{data.correctiveActionId}` | `action` |
//! | everything else (`AUDIT_COMPLETED` carries its details already; a deleted action has nothing left to look up) | none | |

mod cache;
mod client;
mod plan;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::config::MonitorqaConfig;
use crate::event::Event;
use cache::Cache;
use client::{Answer, ApiClient};
pub use plan::{Plan, apply, is_valid_id, plan};

/// What is looked up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LookupKind {
    Audit,
    CorrectiveAction,
}

impl LookupKind {
    /// A stable name for log lines and metrics.
    pub fn label(self) -> &'static str {
        match self {
            LookupKind::Audit => "audit",
            LookupKind::CorrectiveAction => "corrective_action",
        }
    }

    fn path_segment(self) -> &'static str {
        match self {
            LookupKind::Audit => "audit",
            LookupKind::CorrectiveAction => "corrective-actions",
        }
    }
}

/// How a lookup went. Callers count these by [`LookupOutcome::label`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LookupOutcome {
    /// The event carries everything, or there is nothing to look up.
    NotNeeded,
    /// The API answered.
    Found,
    /// Answered from the cache, no request.
    Cached,
    /// 404: the id is unknown (or was deleted).
    NotFound,
    /// 401: the API key is wrong.
    Unauthorized,
    /// 403: the key may not read this object.
    Forbidden,
    /// Anything else, with a short reason in our own words (never response text or the key).
    Failed(String),
}

impl LookupOutcome {
    /// A stable label for metrics.
    pub fn label(&self) -> &'static str {
        match self {
            LookupOutcome::NotNeeded => "not_needed",
            LookupOutcome::Found => "found",
            LookupOutcome::Cached => "cached",
            LookupOutcome::NotFound => "not_found",
            LookupOutcome::Unauthorized => "unauthorized",
            LookupOutcome::Forbidden => "forbidden",
            LookupOutcome::Failed(_) => "failed",
        }
    }

    /// Whether a lookup was needed and gave nothing.
    pub fn is_failure(&self) -> bool {
        !matches!(
            self,
            LookupOutcome::NotNeeded | LookupOutcome::Found | LookupOutcome::Cached
        )
    }
}

/// The looked-up objects for one event; both `None` unless the outcome is `Found` or `Cached`.
#[derive(Debug, Clone, PartialEq)]
pub struct Enrichment {
    /// The audit, for `AUDIT_*` events; goes into the context as `audit`.
    pub audit: Option<Value>,
    /// The corrective action, for `CORRECTIVE_ACTION_*` events without one; goes in as `action`.
    pub action: Option<Value>,
    pub outcome: LookupOutcome,
}

impl Enrichment {
    fn without(outcome: LookupOutcome) -> Enrichment {
        Enrichment {
            audit: None,
            action: None,
            outcome,
        }
    }

    fn with(kind: LookupKind, value: Value, outcome: LookupOutcome) -> Enrichment {
        let mut e = Enrichment::without(outcome);
        match kind {
            LookupKind::Audit => e.audit = Some(value),
            LookupKind::CorrectiveAction => e.action = Some(value),
        }
        e
    }
}

/// Tuning for the client and the cache. `Default` is what production uses.
#[derive(Debug, Clone)]
pub struct EnrichOptions {
    /// How long a successful answer is reused (default 60 s).
    pub cache_ttl: Duration,
    /// Most answers kept; the oldest goes first (default 10 000; 0 turns the cache off).
    pub cache_capacity: usize,
    /// Retries after the first attempt on 429, 500, 502, 503, 504, timeouts and connection
    /// errors (default 2).
    pub max_retries: u32,
    /// First backoff; each further one twice as long, half of it random, as for deliveries
    /// (default 200 ms: 100–200 ms, then 200–400 ms).
    pub backoff_base: Duration,
    /// Cap on a server's `Retry-After` and on the backoff (default 5 s); a `Retry-After`
    /// shorter than the backoff is not a shortcut.
    pub max_retry_after: Duration,
    /// All attempts and waits of one lookup together stay within this (default 10 s).
    pub total_budget: Duration,
    /// Largest answer body read (default 2 MiB).
    pub max_body_bytes: usize,
}

impl Default for EnrichOptions {
    fn default() -> Self {
        EnrichOptions {
            cache_ttl: Duration::from_secs(60),
            cache_capacity: 10_000,
            max_retries: 2,
            backoff_base: Duration::from_millis(200),
            max_retry_after: Duration::from_secs(5),
            total_budget: Duration::from_secs(10),
            max_body_bytes: 2 * 1024 * 1024,
        }
    }
}

/// Looks up id-only events in the MonitorQA API. Cheap to clone: clones share the HTTP
/// client and the cache.
#[derive(Clone)]
pub struct Enricher {
    inner: Arc<Inner>,
}

struct Inner {
    /// `Err` when the configuration cannot be used (a key that is not a valid header value,
    /// a base URL that is not http(s)); every lookup then fails with that reason.
    client: Result<ApiClient, client::ClientError>,
    cache: Mutex<Cache>,
}

impl std::fmt::Debug for Enricher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Enricher")
            .field("usable", &self.inner.client.is_ok())
            .finish_non_exhaustive()
    }
}

impl Enricher {
    /// An enricher with the default cache and retry settings and the configured timeout
    /// (3 s when the configuration says zero).
    pub fn new(cfg: &MonitorqaConfig) -> Enricher {
        Enricher::with_options(cfg, EnrichOptions::default())
    }

    /// An enricher with explicit settings. Never fails: an unusable configuration is logged
    /// once here and makes every lookup end as `Failed`, so events still flow.
    pub fn with_options(cfg: &MonitorqaConfig, opts: EnrichOptions) -> Enricher {
        let cache = Cache::new(opts.cache_ttl, opts.cache_capacity);
        let client = ApiClient::new(cfg, opts);
        if let Err(err) = &client {
            tracing::error!(error = %err, "MonitorQA lookups are disabled");
        }
        Enricher {
            inner: Arc::new(Inner {
                client,
                cache: Mutex::new(cache),
            }),
        }
    }

    /// Looks up what `event` refers to, if it needs it. Never fails and never panics: on any
    /// problem it returns no objects and an outcome that says why, after one `warn` line.
    pub async fn enrich(&self, event: &Event) -> Enrichment {
        let (kind, id) = match plan(event) {
            Plan::NotNeeded => return Enrichment::without(LookupOutcome::NotNeeded),
            Plan::Invalid(reason) => {
                let outcome = LookupOutcome::Failed(reason.into());
                warn_failure(event, None, &outcome);
                return Enrichment::without(outcome);
            }
            Plan::Lookup { kind, id } => (kind, id),
        };
        // An event compared with the object's last one needs the object as it is now, not
        // as a lookup for an earlier event found it.
        let cached = !crate::changes::compared(&event.kind);
        if let Some(value) = cached
            .then(|| self.cache().get(kind, &id, Instant::now()))
            .flatten()
        {
            return Enrichment::with(kind, value, LookupOutcome::Cached);
        }
        let answer = match &self.inner.client {
            Ok(client) => client.fetch(kind, &id).await,
            Err(err) => Answer::Failed(err.to_string()),
        };
        let outcome = match answer {
            Answer::Found(value) => {
                self.cache()
                    .insert(kind, &id, value.clone(), Instant::now());
                return Enrichment::with(kind, value, LookupOutcome::Found);
            }
            Answer::NotFound => LookupOutcome::NotFound,
            Answer::Unauthorized => LookupOutcome::Unauthorized,
            Answer::Forbidden => LookupOutcome::Forbidden,
            Answer::Failed(reason) => LookupOutcome::Failed(reason),
        };
        warn_failure(event, Some((kind, &id)), &outcome);
        Enrichment::without(outcome)
    }

    fn cache(&self) -> MutexGuard<'_, Cache> {
        // A panic while holding the lock cannot leave the map half-updated in a way that
        // matters (worst case one entry too many), so a poisoned lock is still usable.
        self.inner
            .cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn warn_failure(event: &Event, lookup: Option<(LookupKind, &str)>, outcome: &LookupOutcome) {
    let reason = match outcome {
        LookupOutcome::Failed(reason) => Some(reason.as_str()),
        _ => None,
    };
    tracing::warn!(
        event = ?event.kind,
        lookup = lookup.map(|(kind, _)| kind.label()),
        id = lookup.map(|(_, id)| id),
        outcome = outcome.label(),
        reason,
        "MonitorQA lookup failed; routing the event without it"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_stable() {
        let labels: Vec<_> = [
            LookupOutcome::NotNeeded,
            LookupOutcome::Found,
            LookupOutcome::Cached,
            LookupOutcome::NotFound,
            LookupOutcome::Unauthorized,
            LookupOutcome::Forbidden,
            LookupOutcome::Failed("x".into()),
        ]
        .iter()
        .map(LookupOutcome::label)
        .collect();
        assert_eq!(
            labels,
            [
                "not_needed",
                "found",
                "cached",
                "not_found",
                "unauthorized",
                "forbidden",
                "failed"
            ]
        );
    }
}
