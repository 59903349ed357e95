//! One attempt of one claimed delivery: the attempt limit, the render (off the async workers),
//! the send, the provider's answer read by the target's table, and the next state decided by
//! [`super::retry`]. It writes nothing: the lane records what it returns.

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use super::offload::{self, OffloadError};
use super::retry::{self, Attempt};
use crate::app::App;
use crate::compose::{self, ComposeError};
use crate::store::{Claim, Outcome};
use crate::targets::{self, ConfiguredTarget, HttpRequest, Verdict};

/// What one attempt came to.
#[derive(Debug)]
pub struct Sent {
    pub claim: Claim,
    /// `None`: not tried (the relay is stopping): the claim is given back.
    pub outcome: Option<Outcome>,
    pub status: Option<u16>,
    /// How long the attempt took.
    pub ms: u64,
    /// A 429 that pauses the whole target until then (ms).
    pub block_until: Option<i64>,
}

/// Makes the attempt of `claim` with the configuration `app` (its target gone from it: the
/// delivery ends dead, visibly) and the clock reading `now()`.
pub async fn attempt(
    app: Arc<App>,
    client: reqwest::Client,
    claim: Claim,
    now: impl Fn() -> i64 + Send,
) -> Sent {
    let started = Instant::now();
    let Some(cfg) = app.target(&claim.target) else {
        let error = format!(
            "target {:?} is no longer in the configuration; replay it once the target is back",
            claim.target
        );
        return sent(
            claim,
            Outcome::Dead {
                status: None,
                error,
            },
            None,
            started,
        );
    };
    let (verdict, status) = match prepare(&app, cfg, &claim).await {
        Prepared::Send(request) => send(&client, cfg, &request).await,
        Prepared::Failed(verdict) => (verdict, None),
        Prepared::Stopping => {
            return Sent {
                claim,
                outcome: None,
                status: None,
                ms: 0,
                block_until: None,
            };
        }
    };
    let at = Attempt {
        number: claim.attempt,
        // A replay is a new delivery: its age counts from when it was queued.
        acknowledged_at_ms: claim.created_at,
        now_ms: now(),
        status,
    };
    let decision = retry::decide(&cfg.retry, verdict, at, fastrand::f64());
    let mut done = sent(claim, decision.outcome, status, started);
    done.block_until = decision.block_target_until;
    done
}

fn sent(claim: Claim, outcome: Outcome, status: Option<u16>, started: Instant) -> Sent {
    Sent {
        claim,
        outcome: Some(outcome),
        status,
        ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        block_until: None,
    }
}

/// What [`prepare`] made of a claim.
enum Prepared {
    Send(HttpRequest),
    /// Nothing to send: the verdict says why (dead, or a render that ran out of time).
    Failed(Verdict),
    Stopping,
}

/// The request for a claim, rendered off the async workers. The claim already counts as an
/// attempt (the store counts it when claiming), and the attempt limit is checked before
/// rendering: a delivery whose render brings the relay down is claimed again with one attempt
/// more, and ends dead at `max_attempts` instead of crashing the relay for ever.
async fn prepare(app: &Arc<App>, cfg: &ConfiguredTarget, claim: &Claim) -> Prepared {
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
    let (app, target, template) = (app.clone(), cfg.name.clone(), claim.template.clone());
    let rendered = offload::run(move || match app.target(&target) {
        Some(cfg) => compose::request_for(&app.templates, cfg, template.as_deref(), &ctx, &key),
        None => Err(ComposeError::UnknownTarget(target)),
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
    client: &reqwest::Client,
    cfg: &ConfiguredTarget,
    request: &HttpRequest,
) -> (Verdict, Option<u16>) {
    match targets::execute(client, request, cfg.timeout).await {
        Ok(response) => (
            cfg.target.classify(&response, SystemTime::now()),
            Some(response.status),
        ),
        Err(err) => (targets::classify_transport(&err), None),
    }
}
