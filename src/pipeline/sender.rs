//! Senders: one lane per target that claims the oldest due delivery, renders it, sends it,
//! classifies the answer and writes the outcome back.
//!
//! Per target, deliveries leave in the order their events were acknowledged: the lane works
//! on its head and nothing overtakes it (a head that keeps failing ends dead at its retry
//! limit, so it cannot block the lane for ever). Lanes are independent: a slow or dead target
//! never delays another. Rate limits are paced here, in one place; backoff is decided by
//! [`super::retry`]. Everything a lane knows between attempts is in the store, so retries
//! survive a restart.
//!
//! A lane that sends back to back writes each outcome and the claim of its next head in one
//! transaction ([`crate::store::Store::finish_and_claim_next`]), and the store's group commit
//! shares that transaction's fsync with other lanes and with intake: one commit per delivery,
//! and the outcome is durable before the next send begins.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::compose;
use super::offload::{self, OffloadError};
use super::retry::{self, Attempt};
use crate::app::{App, Relay};
use crate::clock::now_ms;
use crate::config::{RateLimit, TargetConfig};
use crate::store::{Claim, Outcome, StoreError};
use crate::targets::{self, HttpRequest, Target, Verdict};

/// Runs one lane per target until `shutdown`; lanes appear for targets added by a reload and
/// for targets that still have queued deliveries.
pub async fn run(relay: Arc<Relay>, shutdown: CancellationToken) {
    let client = http_client();
    let mut lanes: HashMap<String, JoinHandle<()>> = HashMap::new();
    let mut wake = relay.new_deliveries.subscribe();
    loop {
        for name in lane_names(&relay).await {
            let finished = lanes.get(&name).is_none_or(|h| h.is_finished());
            if finished && lanes.contains_key(&name) {
                // Lanes run until shutdown: one that ended hit a bug. Its claim's lease runs
                // out and the delivery is tried again; say so, then start a new lane.
                tracing::error!(target_name = %name, "a sender lane stopped unexpectedly; restarting it");
            }
            if finished {
                let lane = Lane::new(relay.clone(), name.clone(), client.clone());
                lanes.insert(name, tokio::spawn(lane.run(shutdown.clone())));
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = wake.changed() => {}
            _ = tokio::time::sleep(Duration::from_secs(2)) => {}
        }
    }
    for (_, handle) in lanes {
        if let Err(e) = handle.await {
            tracing::error!("a sender lane ended abnormally: {e}");
        }
    }
}

fn http_client() -> reqwest::Client {
    targets::http::client().unwrap_or_default()
}

/// Targets of the current configuration, plus any with queued work (a target removed by a
/// reload still needs its queue dealt with).
async fn lane_names(relay: &Relay) -> Vec<String> {
    let mut names: Vec<String> = relay.app().config.targets.keys().cloned().collect();
    match relay.store.targets_with_work().await {
        Ok(queued) => names.extend(queued),
        Err(e) => tracing::warn!("cannot list targets with queued deliveries: {e}"),
    }
    names.sort();
    names.dedup();
    names
}

struct Lane {
    relay: Arc<Relay>,
    target: String,
    client: reqwest::Client,
    owner: String,
    next_send: Option<Instant>,
    /// The next head, claimed together with the last outcome; sent by the next step.
    held: Option<Claim>,
}

/// What [`Lane::prepare`] made of a claim.
enum Prepared {
    Send(HttpRequest),
    /// Nothing to send: the verdict says why (dead, or a render that ran out of time).
    Failed(Verdict),
    Stopping,
}

enum Step {
    /// An attempt was made; look again at once.
    Worked,
    /// Nothing claimable; wait this long at most.
    Idle(Duration),
}

impl Lane {
    fn new(relay: Arc<Relay>, target: String, client: reqwest::Client) -> Lane {
        let owner = format!("{}:{}", std::process::id(), uuid::Uuid::now_v7());
        Lane {
            relay,
            target,
            client,
            owner,
            next_send: None,
            held: None,
        }
    }

    async fn run(mut self, shutdown: CancellationToken) {
        let mut wake = self.relay.new_deliveries.subscribe();
        while !shutdown.is_cancelled() {
            if let Some(at) = self.next_send {
                // Pacing for the target's rate limit.
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tokio::time::sleep_until(at.into()) => {}
                }
            }
            let wait = match self.step().await {
                Step::Worked => continue,
                Step::Idle(wait) => wait,
            };
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = wake.changed() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
        self.release_held().await;
    }

    /// Stopping with a claim that was never sent: give it back, so that the next start sends
    /// it at once instead of after its lease.
    async fn release_held(&mut self) {
        let Some(claim) = self.held.take() else {
            return;
        };
        if let Err(e) = self.relay.store.release(&claim).await {
            // Its lease runs out instead: it is sent later, not lost.
            tracing::warn!(
                delivery_id = claim.delivery_id,
                "cannot release a claim: {e}"
            );
        }
    }

    /// Takes the head of the lane (claimed with the last outcome, or claimed now) if it is
    /// due, and makes one attempt.
    async fn step(&mut self) -> Step {
        let app = self.relay.app();
        let cfg = app.config.targets.get(&self.target);
        let claim = match self.held.take() {
            Some(claim) => claim,
            None => match self
                .relay
                .store
                .claim_next(&self.target, now_ms(), lease(cfg), &self.owner)
                .await
            {
                Ok(Some(claim)) => claim,
                Ok(None) => return Step::Idle(self.idle_wait().await),
                Err(e) => {
                    tracing::warn!(target_name = %self.target, "cannot claim a delivery: {e}");
                    return Step::Idle(Duration::from_secs(1));
                }
            },
        };
        match cfg {
            Some(cfg) => {
                self.attempt(&app, cfg, claim).await;
                self.next_send = pace(effective_rate_limit(cfg));
            }
            None => self.retire(claim).await,
        }
        Step::Worked
    }

    /// How long until the head becomes due (capped, so a reload or a lease expiry is noticed).
    async fn idle_wait(&self) -> Duration {
        let cap = Duration::from_secs(5);
        match self.relay.store.next_due_at(&self.target).await {
            Ok(Some(at)) => {
                Duration::from_millis(u64::try_from(at - now_ms()).unwrap_or(0)).min(cap)
            }
            _ => cap,
        }
    }

    /// The target is gone from the configuration: its queued deliveries end visibly as dead.
    async fn retire(&mut self, claim: Claim) {
        let error = format!(
            "target {:?} is no longer in the configuration; replay it once the target is back",
            self.target
        );
        let outcome = Outcome::Dead {
            status: None,
            error,
        };
        self.finish(claim, outcome, None, 0).await;
    }

    async fn attempt(&mut self, app: &Arc<App>, cfg: &TargetConfig, claim: Claim) {
        let started = Instant::now();
        let (verdict, status) = match self.prepare(app, cfg, &claim).await {
            Prepared::Send(request) => match app.targets.get(&self.target) {
                Some(target) => self.send(target, cfg, &request).await,
                None => (Verdict::dead(unknown_target(&self.target)), None),
            },
            Prepared::Failed(verdict) => (verdict, None),
            Prepared::Stopping => {
                // The relay stops while the render waited: give the claim back, unsent.
                self.held = Some(claim);
                return;
            }
        };
        let at = Attempt {
            number: claim.attempt,
            // A replay is a new delivery: its age counts from when it was queued.
            acknowledged_at_ms: claim.created_at,
            now_ms: now_ms(),
            status,
        };
        let decision = retry::decide(&cfg.retry, verdict, at, fastrand::f64());
        if let Some(until) = decision.block_target_until
            && let Err(e) = self.relay.store.block_target(&self.target, until).await
        {
            tracing::warn!(target_name = %self.target, "cannot pause the target: {e}");
        }
        let elapsed = started.elapsed().as_millis() as u64;
        self.finish(claim, decision.outcome, status, elapsed).await;
    }

    /// The request for a claim, rendered off the async workers. The claim already counts as an
    /// attempt (the store counts it when claiming), and the attempt limit is checked before
    /// rendering: a delivery whose render brings the relay down is claimed again after its
    /// lease with one attempt more, and ends dead at `max_attempts` instead of crashing the
    /// relay for ever.
    async fn prepare(&self, app: &Arc<App>, cfg: &TargetConfig, claim: &Claim) -> Prepared {
        if claim.attempt > cfg.retry.max_attempts {
            let reason = format!(
                "gave up: attempt {} exceeds max_attempts {}; earlier attempts were cut off \
                 (the relay stopped while rendering or sending)",
                claim.attempt, cfg.retry.max_attempts
            );
            return Prepared::Failed(Verdict::dead(reason));
        }
        let ctx = compose::claim_context(claim);
        let key = compose::delivery_key(&claim.event.id, claim.delivery_id);
        let (app, target, template) = (app.clone(), self.target.clone(), claim.template.clone());
        let rendered = offload::run(move || {
            compose::request_for(&app, &target, template.as_deref(), &ctx, &key)
        })
        .await;
        match rendered {
            Ok(Ok(request)) => Prepared::Send(request),
            Ok(Err(e)) if e.is_transient() => Prepared::Failed(Verdict::retry(None, e.to_string())),
            Ok(Err(e)) => Prepared::Failed(Verdict::dead(e.to_string())),
            Err(OffloadError::Stopping) => Prepared::Stopping,
            Err(e @ OffloadError::Panicked(_)) => Prepared::Failed(Verdict::dead(e.to_string())),
        }
    }

    async fn send(
        &self,
        target: &Target,
        cfg: &TargetConfig,
        request: &HttpRequest,
    ) -> (Verdict, Option<u16>) {
        match targets::execute(&self.client, request, cfg.timeout).await {
            Ok(response) => (
                target.classify(&response, SystemTime::now()),
                Some(response.status),
            ),
            Err(err) => (targets::classify_transport(&err), None),
        }
    }

    /// Writes an outcome (and, when `claim_next` gives a lease, claims the next head in the
    /// same transaction). A send that happened must not be repeated because the store could
    /// not take its outcome for a while (a brief hiccup, a full disk): while the store is
    /// unavailable the write is tried again, every second after the first few tries, for as
    /// long as it takes. The lane holds meanwhile and sends nothing else, and its claim stays
    /// valid: an outcome applies to its lease however late (`lease_seq`, not the time, decides),
    /// and no one else in this process claims the lane's head. Gives up on an error that is not
    /// the store being unavailable (a bug) after the first few tries, and when the relay stops.
    async fn record(
        &self,
        claim: &Claim,
        outcome: &Outcome,
        claim_next: Option<Duration>,
    ) -> Result<(bool, Option<Claim>), StoreError> {
        let mut quick = QUICK_PAUSES.iter();
        let mut waiting_since = None;
        loop {
            let error = match self.write_outcome(claim, outcome, claim_next).await {
                Ok(written) => {
                    if let Some(since) = waiting_since {
                        log_recorded_late(claim, since);
                    }
                    return Ok(written);
                }
                Err(e) => e,
            };
            if let Some(pause) = quick.next() {
                tokio::time::sleep(*pause).await;
                continue;
            }
            let unavailable = matches!(error, StoreError::Unavailable(_) | StoreError::Lost(_));
            if !unavailable || self.relay.is_draining() {
                return Err(error);
            }
            if waiting_since.is_none() {
                waiting_since = Some(Instant::now());
                tracing::warn!(
                    delivery_id = claim.delivery_id,
                    target_name = %claim.target,
                    "cannot record the outcome yet ({error}); trying again every {}s until the \
                     store takes it, and the lane waits meanwhile (a delivered message is not \
                     sent again)",
                    RECORD_PATIENCE.as_secs()
                );
            }
            tokio::time::sleep(RECORD_PATIENCE).await;
        }
    }

    async fn write_outcome(
        &self,
        claim: &Claim,
        outcome: &Outcome,
        claim_next: Option<Duration>,
    ) -> Result<(bool, Option<Claim>), StoreError> {
        let store = &self.relay.store;
        match claim_next {
            Some(lease) => {
                store
                    .finish_and_claim_next(claim, outcome, now_ms(), lease, &self.owner)
                    .await
            }
            None => store
                .finish(claim, outcome, now_ms())
                .await
                .map(|applied| (applied, None)),
        }
    }

    /// Writes the outcome back (only if our lease still holds), then logs and counts it. When
    /// the lane may send again at once (no pacing), the next head is claimed in the same
    /// transaction and held for the next step.
    async fn finish(&mut self, claim: Claim, outcome: Outcome, status: Option<u16>, ms: u64) {
        let app = self.relay.app();
        let cfg = app.config.targets.get(&self.target);
        let paced = cfg.is_some_and(|cfg| effective_rate_limit(cfg).is_some());
        let claim_next = (!paced).then(|| lease(cfg));
        let applied = match self.record(&claim, &outcome, claim_next).await {
            Ok((applied, next)) => {
                self.held = next;
                applied
            }
            Err(e) => {
                // A bug, or the relay stopping while the store refuses writes: the lease
                // expires and the delivery is claimed again (after a restart), at least once,
                // not lost; but a delivered message is then sent twice: say so.
                tracing::error!(
                    delivery_id = claim.delivery_id,
                    "cannot record the outcome ({e}); the delivery will be tried again after \
                     its lease expires, which repeats it if it was delivered"
                );
                return;
            }
        };
        log_attempt(&claim, &outcome, status, ms, applied);
        if !applied {
            return;
        }
        let metrics = &self.relay.metrics;
        metrics.attempt(&self.target, outcome_label(&outcome));
        if matches!(outcome, Outcome::Delivered { .. }) {
            let secs = (now_ms() - claim.event.received_at).max(0) as f64 / 1000.0;
            metrics.delivered_after(&self.target, secs);
        }
    }
}

fn unknown_target(name: &str) -> String {
    format!("target {name:?} is not in the configuration")
}

/// The pauses between the first tries of an outcome write (the first try waits for nothing:
/// tokio rounds even a zero sleep up to its next millisecond tick, which would cost every
/// delivery up to a millisecond).
const QUICK_PAUSES: [Duration; 3] = [
    Duration::from_millis(100),
    Duration::from_millis(400),
    Duration::from_millis(1500),
];

/// The pause between later tries, while the store stays unavailable.
const RECORD_PATIENCE: Duration = Duration::from_secs(1);

fn log_recorded_late(claim: &Claim, since: Instant) {
    tracing::info!(
        delivery_id = claim.delivery_id,
        target_name = %claim.target,
        "recorded the outcome after waiting {}s for the store; the lane goes on",
        since.elapsed().as_secs()
    );
}

/// A claim outlasts the send's timeout; a target gone from the configuration gets a fixed one.
fn lease(cfg: Option<&TargetConfig>) -> Duration {
    const MARGIN: Duration = Duration::from_secs(30);
    cfg.map_or(MARGIN, |cfg| cfg.timeout + MARGIN)
}

fn outcome_label(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Delivered { .. } => "delivered",
        Outcome::Retry { .. } => "retry",
        Outcome::Dead { .. } => "dead",
    }
}

fn log_attempt(claim: &Claim, outcome: &Outcome, status: Option<u16>, ms: u64, applied: bool) {
    let (label, detail) = match outcome {
        Outcome::Delivered { .. } => ("delivered", String::new()),
        Outcome::Retry { at_ms, error, .. } => {
            let wait = Duration::from_millis(u64::try_from(at_ms - now_ms()).unwrap_or(0));
            (
                "retry",
                format!(
                    "{error}; next try in {}",
                    humantime::format_duration(round_s(wait))
                ),
            )
        }
        Outcome::Dead { error, .. } => ("dead", error.clone()),
    };
    let detail = one_line(&detail);
    tracing::info!(
        event_id = %claim.event.id,
        delivery_id = claim.delivery_id,
        rule = %claim.rule,
        target_name = %claim.target,
        attempt = claim.attempt,
        outcome = label,
        status = status.map(i64::from).unwrap_or(0),
        duration_ms = ms,
        stale = !applied,
        "delivery {label}{}{detail}",
        if detail.is_empty() { "" } else { ": " },
    );
}

/// A reason fit for the message of a text log line: its control characters (a line break, the
/// ESC of a terminal sequence) written escaped, so that what a provider or an event said
/// cannot forge a line or colour the terminal.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            c if c.is_control() => c.escape_default().to_string(),
            c => c.to_string(),
        })
        .collect()
}

fn round_s(d: Duration) -> Duration {
    Duration::from_secs(d.as_secs())
}

/// The configured rate limit, or the provider's documented pace (Slack and Teams: about one
/// message per second per webhook).
fn effective_rate_limit(cfg: &TargetConfig) -> Option<RateLimit> {
    cfg.rate_limit.or(match cfg.kind.name() {
        "slack" | "teams" => Some(RateLimit {
            count: 1,
            per: Duration::from_secs(1),
        }),
        _ => None,
    })
}

/// The earliest next send under `limit`: requests are spaced evenly (`per / count`).
fn pace(limit: Option<RateLimit>) -> Option<Instant> {
    let limit = limit?;
    let gap = limit.per / limit.count.max(1);
    Some(Instant::now() + gap)
}
