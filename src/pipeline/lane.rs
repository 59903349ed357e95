//! One target's lane: a step ([`Lane::step`]) that records what finished and claims what may
//! start, and a loop ([`Lane::run`]) that waits between steps.
//!
//! A lane keeps up to the target's `max_in_flight` sends in flight. Each step makes one write
//! ([`crate::store::Store::lane_write`]): a 429's pause, the outcomes of the sends that
//! finished, then a claim of as many deliveries as there are free slots and the rate limit
//! allows. The store's group commit shares that write's fsync with other lanes and with
//! intake, so a lane pays one commit per round, not per delivery, and an outcome is durable
//! before the claim that follows it. With `max_in_flight: 1` (the default for chat and
//! webhooks) that is strict order: one send, its outcome with the next claim, the next send.
//! After a crash, at most `max_in_flight` sends of a lane were cut off, and those are sent
//! again: the duplicates a crash can cause.
//!
//! Time comes from a [`Clock`], so tests drive the steps and move time instead of sleeping.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::attempt::{self, Sent};
use super::pace::Pace;
use crate::app::{App, Relay};
use crate::clock::Clock;
use crate::store::{ClaimSpec, Finish, LaneDone, Outcome, StoreError};
use crate::targets::{ConfiguredTarget, RateLimit};

/// The longest a lane waits without looking at its queue (a reload, a lease that ran out, a
/// replay made by another process are noticed within this).
const LOOK_AGAIN: Duration = Duration::from_secs(5);
/// The pauses after a lane write failed, one per failure in a row; the last one repeats while
/// the store stays unavailable (a full disk): the lane holds and sends nothing meanwhile.
const WRITE_PAUSES: [Duration; 4] = [
    Duration::from_millis(100),
    Duration::from_millis(400),
    Duration::from_millis(1500),
    Duration::from_secs(1),
];

/// What a step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// It wrote: step again at once.
    Worked,
    /// Nothing to do until this time (ms since the epoch), a wake-up, or a send finishing;
    /// `None`: until a wake-up or a send finishing (but not longer than `LOOK_AGAIN`, 5 s).
    Idle(Option<i64>),
}

/// The lane of one target.
pub struct Lane {
    relay: Arc<Relay>,
    target: String,
    client: reqwest::Client,
    owner: String,
    clock: Arc<dyn Clock>,
    pace: Pace,
    pace_limit: Option<RateLimit>,
    /// Until when the pace the store keeps for every relay on it allows no send (ms).
    shared_pace_until: Option<i64>,
    sends: JoinSet<Sent>,
    /// Sends that finished and whose outcomes are not written yet.
    finished: Vec<Sent>,
    /// The queue may hold claimable deliveries (false once a claim came back short).
    ready: bool,
    write_failures: usize,
}

impl Lane {
    pub fn new(
        relay: Arc<Relay>,
        target: String,
        client: reqwest::Client,
        clock: Arc<dyn Clock>,
    ) -> Lane {
        let owner = format!("{}:{}", std::process::id(), uuid::Uuid::now_v7());
        Lane {
            relay,
            target,
            client,
            owner,
            clock,
            pace: Pace::new(None),
            pace_limit: None,
            shared_pace_until: None,
            sends: JoinSet::new(),
            finished: Vec::new(),
            ready: true,
            write_failures: 0,
        }
    }

    /// Sends in flight now.
    pub fn in_flight(&self) -> usize {
        self.sends.len()
    }

    /// Waits for the next send in flight to finish (immediately `false` when none is).
    pub async fn next_finished(&mut self) -> bool {
        match self.sends.join_next().await {
            Some(joined) => {
                self.take(joined);
                true
            }
            None => false,
        }
    }

    /// Records what finished and claims what may start, in one write; or says how long there
    /// is nothing to do.
    pub async fn step(&mut self) -> Step {
        while let Some(joined) = self.sends.try_join_next() {
            self.take(joined);
        }
        let app = self.relay.app();
        let cfg = app.target(&self.target);
        self.follow_pace(cfg);
        let now = self.clock.now_ms();
        let free = self.free_slots(cfg);
        let shared_wait = self.shared_pace_until.filter(|until| *until > now);
        let allowed = match shared_wait {
            Some(_) => 0,
            None => self.pace.allowed(now, free),
        };
        if !self.finished.is_empty() || allowed > 0 {
            return self.write(&app, cfg, allowed, now).await;
        }
        if free > 0
            && let Some(at) = shared_wait.or_else(|| self.pace.next_at(now))
        {
            return Step::Idle(Some(at));
        }
        if !self.sends.is_empty() {
            return Step::Idle(None);
        }
        Step::Idle(self.next_due(cfg).await)
    }

    /// Steps until `shutdown`, waiting between them; then lets the sends in flight finish and
    /// records them.
    pub async fn run(mut self, shutdown: CancellationToken) {
        let wake = self.relay.lane_wake(&self.target);
        let mut all = self.relay.new_deliveries.subscribe();
        while !shutdown.is_cancelled() {
            let at = match self.step().await {
                Step::Worked => continue,
                Step::Idle(at) => at,
            };
            let wait = at.map_or(LOOK_AGAIN, |at| {
                let ms = at.saturating_sub(self.clock.now_ms()).max(0);
                Duration::from_millis(u64::try_from(ms).unwrap_or(0)).min(LOOK_AGAIN)
            });
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = wake.notified() => self.ready = true,
                _ = all.changed() => self.ready = true,
                joined = self.sends.join_next(), if !self.sends.is_empty() => {
                    if let Some(joined) = joined {
                        self.take(joined);
                    }
                }
                _ = tokio::time::sleep(wait) => self.ready = true,
            }
        }
        self.drain().await;
    }

    /// Stopping: no more claims; the sends in flight finish (each within its timeout) and
    /// their outcomes are written.
    async fn drain(&mut self) {
        while self.next_finished().await {}
        if self.finished.is_empty() {
            return;
        }
        let app = self.relay.app();
        let cfg = app.target(&self.target);
        let now = self.clock.now_ms();
        if let Step::Idle(_) = self.write(&app, cfg, 0, now).await {
            tracing::error!(
                target_name = %self.target,
                deliveries = self.finished.len(),
                "stopping without recording these outcomes; the deliveries are sent again \
                 after the restart"
            );
        }
    }

    fn take(&mut self, joined: Result<Sent, tokio::task::JoinError>) {
        match joined {
            Ok(sent) => self.finished.push(sent),
            // A send that panicked (a bug): its lease runs out and it is sent again.
            Err(e) => tracing::error!(target_name = %self.target, "a send ended abnormally: {e}"),
        }
    }

    /// A reload may change the target's rate limit: the lane follows it.
    fn follow_pace(&mut self, cfg: Option<&ConfiguredTarget>) {
        let limit = cfg.and_then(ConfiguredTarget::pace);
        if limit != self.pace_limit {
            self.pace = Pace::new(limit);
            self.pace_limit = limit;
        }
    }

    /// How many more sends may start: none while the queue is known empty, and none while
    /// outcomes wait for the store to take them. A failed write that held only a claim leaves
    /// nothing to hold for: the next step claims again (after the write's pause), so the lane
    /// cannot stay closed once the store is back.
    fn free_slots(&self, cfg: Option<&ConfiguredTarget>) -> usize {
        let holding = self.write_failures > 0 && !self.finished.is_empty();
        if !self.ready || holding {
            return 0;
        }
        // A target gone from the configuration: its queue is ended one delivery at a time.
        let max = cfg.map_or(1, |c| c.max_in_flight);
        max.saturating_sub(self.sends.len())
    }

    /// When the queue's next delivery becomes claimable, if it has one.
    async fn next_due(&self, cfg: Option<&ConfiguredTarget>) -> Option<i64> {
        let ordered = cfg.is_none_or(ConfiguredTarget::ordered);
        let due = match ordered {
            true => self.relay.store.next_due_at(&self.target).await,
            false => self.relay.store.next_ready_at(&self.target).await,
        };
        due.unwrap_or_else(|e| {
            tracing::warn!(target_name = %self.target, "cannot read the lane's queue: {e}");
            None
        })
    }

    /// One write: the pause, the outcomes, the claim. The claimed deliveries start at once.
    async fn write(
        &mut self,
        app: &Arc<App>,
        cfg: Option<&ConfiguredTarget>,
        allowed: usize,
        now: i64,
    ) -> Step {
        let block_until = self.finished.iter().filter_map(|s| s.block_until).max();
        let finishes: Vec<Finish<'_>> = self
            .finished
            .iter()
            .filter_map(|s| {
                s.outcome.as_ref().map(|outcome| Finish {
                    claim: &s.claim,
                    outcome,
                    thread: s.thread.as_ref(),
                })
            })
            .collect();
        let claim = (allowed > 0).then(|| ClaimSpec {
            target: self.target.clone(),
            max: allowed,
            ordered: cfg.is_none_or(ConfiguredTarget::ordered),
            now_ms: now,
            lease: lease(cfg),
            owner: self.owner.clone(),
            pace_interval_us: self.pace.interval_us(),
        });
        let written = self
            .relay
            .store
            .lane_finish(&self.target, block_until, &finishes, claim, now)
            .await;
        match written {
            Ok(done) => {
                self.written(app, done, allowed, now).await;
                Step::Worked
            }
            Err(e) => self.write_failed(e, now),
        }
    }

    async fn written(&mut self, app: &Arc<App>, done: LaneDone, allowed: usize, now: i64) {
        if self.write_failures > 0 {
            tracing::info!(target_name = %self.target, "the store takes the lane's writes again");
            self.write_failures = 0;
        }
        let finished = std::mem::take(&mut self.finished);
        let mut applied = done.finished.iter();
        for sent in finished {
            match &sent.outcome {
                Some(outcome) => {
                    let applied = applied.next().copied().unwrap_or(false);
                    self.report(&sent, outcome, applied);
                }
                None => self.release(&sent).await,
            }
        }
        self.pace.started(now, done.claims.len());
        // Other relays on the store used the pace: wait for it, the queue is not empty.
        self.shared_pace_until = done.paced_for_ms.map(|ms| now.saturating_add(ms));
        if done.claims.len() < allowed && done.paced_for_ms.is_none() {
            self.ready = false;
        }
        for claim in done.claims {
            let (app, client, clock) = (app.clone(), self.client.clone(), self.clock.clone());
            self.sends
                .spawn(attempt::attempt(app, client, claim, move || clock.now_ms()));
        }
    }

    /// The write failed: the outcomes stay and are written again after a pause, as long as the
    /// store is unavailable (a full disk): the lane holds and sends nothing, so nothing is sent
    /// twice. Another error (a bug) is given up after a few tries, and so is everything when
    /// the relay stops: those deliveries are sent again after their leases.
    fn write_failed(&mut self, error: StoreError, now: i64) -> Step {
        self.write_failures += 1;
        let unavailable = matches!(error, StoreError::Unavailable(_) | StoreError::Lost(_));
        let tries = self.write_failures;
        if (!unavailable && tries >= WRITE_PAUSES.len()) || self.relay.is_draining() {
            tracing::error!(
                target_name = %self.target,
                deliveries = self.finished.len(),
                "cannot record the outcomes ({error}); the deliveries will be tried again after \
                 their leases expire, which repeats any that were delivered"
            );
            self.finished.clear();
            self.write_failures = 0;
            return Step::Worked;
        }
        if tries == 1 {
            tracing::warn!(
                target_name = %self.target,
                "cannot record the outcome yet ({error}); trying again until the store \
                 takes them, and the lane waits meanwhile (a delivered message is not sent again)"
            );
        }
        let pause = WRITE_PAUSES[(tries - 1).min(WRITE_PAUSES.len() - 1)];
        Step::Idle(Some(now.saturating_add(crate::clock::millis(pause))))
    }

    async fn release(&self, sent: &Sent) {
        if let Err(e) = self.relay.store.release(&sent.claim).await {
            // Its lease runs out instead: it is sent later, not lost.
            tracing::warn!(
                delivery_id = sent.claim.delivery_id,
                "cannot release a claim: {e}"
            );
        }
    }

    /// Logs and counts one recorded outcome.
    fn report(&self, sent: &Sent, outcome: &Outcome, applied: bool) {
        let now = self.clock.now_ms();
        super::report::log_attempt(sent, outcome, applied, now);
        if !applied {
            return;
        }
        let metrics = &self.relay.metrics;
        metrics.attempt(&self.target, super::report::outcome_label(outcome));
        // Once per delivered message: not again for the edit of a conversation's parent.
        if matches!(outcome, Outcome::Delivered { .. }) && sent.claim.step == 0 {
            let secs = (now - sent.claim.event.received_at).max(0) as f64 / 1000.0;
            metrics.delivered_after(&self.target, secs);
        }
    }
}

/// A claim outlasts the send's timeout (and a render's budget); a target gone from the
/// configuration gets a fixed one.
fn lease(cfg: Option<&ConfiguredTarget>) -> Duration {
    const MARGIN: Duration = Duration::from_secs(30);
    cfg.map_or(MARGIN, |cfg| cfg.timeout + MARGIN)
}
