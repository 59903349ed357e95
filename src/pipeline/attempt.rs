//! One attempt of one claimed delivery: the attempt limit, the render (off the async workers),
//! the send, the provider's answer read by the target's table, and the next state decided by
//! [`super::retry`]. In a conversation (`threads: true`), [`crate::conversation`] says what
//! the delivery posts (the first message, a reply, the parent's edit) and what the answer does
//! to the conversation. It writes nothing: the lane records what it returns.

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use super::offload::{self, OffloadError};
use super::retry::{self, Attempt};
use crate::app::App;
use crate::backoff::RetryPolicy;
use crate::compose::{self, ComposeError, Thread};
use crate::conversation::{self, Answer, Claimed, Post, Sending};
use crate::store::{Claim, Outcome, ThreadDone};
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
    /// What it did in its conversation, if it is in one.
    pub thread: Option<ThreadDone>,
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
    let own = own_object(&claim);
    let post = conversation_post(cfg, &claim, own);
    if let Some(Post::Skip { why }) = &post {
        return skipped(claim, why, started);
    }
    let key = compose::delivery_key(&claim.event.id, claim.delivery_id);
    let (verdict, status, noted, thread) = match prepare(&app, cfg, &claim, post.clone()).await {
        Prepared::Send(request, thread) => {
            let (verdict, status, noted) = send(&client, cfg, &request, post.as_ref()).await;
            (verdict, status, noted, thread)
        }
        Prepared::Failed(verdict) => (verdict, None, None, Thread::default()),
        Prepared::Stopping => {
            return Sent {
                claim,
                outcome: None,
                status: None,
                ms: 0,
                block_until: None,
                thread: None,
            };
        }
    };
    let now_ms = now();
    let done = post.map(|post| {
        let answer = noted.clone().unwrap_or_else(|| match &verdict {
            Verdict::Delivered { provider_id } => Answer::Posted {
                id: cfg
                    .target
                    .own_message_id(&key)
                    .or_else(|| provider_id.clone()),
            },
            _ => Answer::Other,
        });
        in_conversation(&post, &claim, cfg, &answer, (&thread, own), now_ms)
    });
    let at = Attempt {
        number: claim.attempt,
        // A replay is a new delivery: its age counts from when it was queued.
        acknowledged_at_ms: claim.created_at,
        now_ms,
        status,
    };
    let decision = match &noted {
        // The conversation starts again at once, whatever the backoff.
        Some(Answer::ParentGone(error)) => {
            retry::Decision::at_once(now_ms, status, conversation::gone_reason(error))
        }
        _ => retry::decide(&policy(cfg, &claim), verdict, at, fastrand::f64()),
    };
    let mut sent = sent(claim, decision.outcome, status, started);
    sent.block_until = decision.block_target_until;
    sent.thread = done;
    sent
}

/// The target's retry policy for a claim. A delivery's attempts are counted across its steps:
/// the edit of a conversation's first message (which follows its reply) may use twice the
/// target's `max_attempts` in all, and a new first message after the old one was found gone
/// (which follows the reply, and maybe the edit) three times, so that neither is given up for
/// the attempts the steps before it used.
fn policy(cfg: &ConfiguredTarget, claim: &Claim) -> RetryPolicy {
    let mut policy = cfg.retry;
    let restarting = claim
        .conversation
        .as_ref()
        .is_some_and(|c| c.gone_at.is_some());
    let steps = match (claim.object.is_some(), claim.step, restarting) {
        (true, _, true) => 3,
        (true, conversation::UPDATE_STEP, false) => 2,
        _ => 1,
    };
    policy.max_attempts = policy.max_attempts.saturating_mul(steps);
    policy
}

/// Whether the claim's event is about its conversation's own object (not a corrective action
/// in its audit's conversation).
fn own_object(claim: &Claim) -> bool {
    conversation::key(&claim.event.event.kind, &claim.event.event.data)
        .is_some_and(|own| claim.object.as_deref() == Some(own.as_str()))
}

/// What the claim sends in its conversation; `None`: a message of its own. A target that no
/// longer keeps conversations (a reload) sends a queued post as a message of its own, and
/// skips an edit still to make (its reply was posted).
fn conversation_post(cfg: &ConfiguredTarget, claim: &Claim, own: bool) -> Option<Post> {
    claim.object.as_ref()?;
    let Some(threads) = &cfg.threads else {
        return (claim.step == conversation::UPDATE_STEP).then_some(Post::Skip {
            why: "the target no longer keeps conversations",
        });
    };
    let claimed = Claimed {
        step: claim.step,
        kind: &claim.event.event.kind,
        event_id: &claim.event.id,
        own,
        edits: cfg.target.edits_threads(),
    };
    Some(conversation::post(
        &claimed,
        claim.conversation.as_ref(),
        threads,
    ))
}

/// An edit no longer wanted: done, without a send.
fn skipped(claim: Claim, why: &str, started: Instant) -> Sent {
    tracing::info!(
        delivery_id = claim.delivery_id,
        target_name = %claim.target,
        "the edit of the conversation's first message is skipped: {why}"
    );
    let outcome = Outcome::Delivered {
        status: None,
        provider_id: None,
    };
    let mut done = sent(claim, outcome, None, started);
    done.thread = Some(ThreadDone {
        action: "skipped",
        next_step: None,
        conversation: None,
    });
    done
}

/// What the answer to `post` does to the claim's conversation.
fn in_conversation(
    post: &Post,
    claim: &Claim,
    cfg: &ConfiguredTarget,
    answer: &Answer,
    (thread, own): (&Thread, bool),
    now_ms: i64,
) -> ThreadDone {
    let sending = Sending {
        target: &claim.target,
        object_key: claim.object.as_deref().unwrap_or_default(),
        event_id: &claim.event.id,
        kind: &claim.event.event.kind,
        received_at: claim.event.received_at,
        topic: &thread.topic,
        status: &thread.status,
        edits: cfg.target.edits_threads(),
        own,
        now_ms,
    };
    let after = conversation::after(post, claim.conversation.as_ref(), answer, &sending);
    ThreadDone {
        action: post.action(),
        next_step: after.next_step,
        conversation: after.conversation,
    }
}

fn sent(claim: Claim, outcome: Outcome, status: Option<u16>, started: Instant) -> Sent {
    Sent {
        claim,
        outcome: Some(outcome),
        status,
        ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        block_until: None,
        thread: None,
    }
}

/// What [`prepare`] made of a claim.
enum Prepared {
    /// The request, and what a conversation records of its message.
    Send(HttpRequest, Thread),
    /// Nothing to send: the verdict says why (dead, or a render that ran out of time).
    Failed(Verdict),
    Stopping,
}

/// The request for a claim, rendered off the async workers. The claim already counts as an
/// attempt (the store counts it when claiming), and the attempt limit is checked before
/// rendering: a delivery whose render brings the relay down is claimed again with one attempt
/// more, and ends dead at `max_attempts` instead of crashing the relay for ever.
async fn prepare(
    app: &Arc<App>,
    cfg: &ConfiguredTarget,
    claim: &Claim,
    post: Option<Post>,
) -> Prepared {
    let limit = policy(cfg, claim).max_attempts;
    if claim.attempt > limit {
        let reason = format!(
            "gave up: attempt {} exceeds max_attempts {}; earlier attempts were cut off \
             (the relay stopped while rendering or sending)",
            claim.attempt, limit
        );
        return Prepared::Failed(Verdict::dead(reason));
    }
    let ctx = compose::claim_context(claim);
    let key = compose::delivery_key(&claim.event.id, claim.delivery_id);
    let (app, target, template) = (app.clone(), cfg.name.clone(), claim.template.clone());
    let rendered = offload::run(move || {
        let Some(cfg) = app.target(&target) else {
            return Err(ComposeError::UnknownTarget(target));
        };
        let template = template.as_deref();
        match &post {
            Some(post) => {
                compose::request_in_conversation(&app.templates, cfg, template, &ctx, &key, post)
            }
            None => compose::request_for(&app.templates, cfg, template, &ctx, &key)
                .map(|request| (request, Thread::default())),
        }
    })
    .await;
    match rendered {
        Ok(Ok((request, thread))) => Prepared::Send(request, thread),
        Ok(Err(e)) if e.is_transient() => Prepared::Failed(Verdict::retry(None, e.to_string())),
        Ok(Err(e)) => Prepared::Failed(Verdict::dead(e.to_string())),
        Err(OffloadError::Stopping) => Prepared::Stopping,
        Err(e @ OffloadError::Panicked(_)) => Prepared::Failed(Verdict::dead(e.to_string())),
    }
}

/// Sends the request; the verdict, the status, and for a reply or an edit in a conversation
/// what the answer says of the conversation beyond the verdict (its parent gone, a reply
/// posted outside the thread).
async fn send(
    client: &reqwest::Client,
    cfg: &ConfiguredTarget,
    request: &HttpRequest,
    post: Option<&Post>,
) -> (Verdict, Option<u16>, Option<Answer>) {
    match targets::execute(client, request, cfg.timeout).await {
        Ok(response) => {
            let threaded = post.filter(|p| matches!(p, Post::Reply { .. } | Post::Update { .. }));
            let noted = threaded.and_then(|p| cfg.target.conversation_answer(&response, p));
            let verdict = cfg.target.classify(&response, SystemTime::now());
            (verdict, Some(response.status), noted)
        }
        Err(err) => (targets::classify_transport(&err), None, None),
    }
}
