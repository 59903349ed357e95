//! Retries end to end: what is retried (5xx, 429, a timeout) and what is not (4xx), how long
//! a Retry-After holds the target, the attempt limit, and retries that outlive the process.

use std::time::Duration;

use mqa_relay::store::DeliveryState;

use super::{config, gaps};
use crate::support::mock::Answer;
use crate::support::providers::{SlackWebhook, WebhookReceiver};
use crate::support::relay::{Spec, spawn_relay, webhook_target};
use crate::support::wait::{eventually, sample};

#[tokio::test]
async fn a_503_is_retried_and_the_next_success_delivers() {
    let mock = WebhookReceiver::start().await;
    mock.script([Answer::status(503)]);
    let relay = spawn_relay(Spec::new(&config(
        &[("erp", webhook_target(&mock.url(), ""))],
        "*",
    )))
    .await;
    let id = relay.ack(&sample("audit_expired")).await;
    let (delivery, attempts) = relay.wait_state(&id, DeliveryState::Delivered).await;
    assert_eq!(mock.received().len(), 2);
    assert_eq!(delivery.attempts, 2);
    let outcomes: Vec<(&str, Option<u16>)> = attempts
        .iter()
        .map(|a| (a.outcome.as_str(), a.status))
        .collect();
    assert_eq!(outcomes, [("retry", Some(503)), ("delivered", Some(200))]);
    assert!(
        attempts[0]
            .error
            .as_deref()
            .is_some_and(|e| e.contains("503")),
        "{attempts:?}"
    );
}

#[tokio::test]
async fn a_429_with_retry_after_2_holds_the_next_request_back_for_2_seconds() {
    let slack = SlackWebhook::start().await;
    slack.script([Answer::retry_after(429, 2)]);
    let target = format!(
        "{{ kind: slack, url: \"{}\", rate_limit: 1000/s, retry: {{ initial: 100ms }} }}",
        slack.url()
    );
    let relay = spawn_relay(Spec::new(&config(&[("kitchen", target)], "*"))).await;
    let id = relay.ack(&sample("audit_expired")).await;
    let (delivery, attempts) = relay.wait_state(&id, DeliveryState::Delivered).await;
    let received = slack.received();
    assert_eq!(received.len(), 2);
    let waited = received[1].at - received[0].at;
    assert!(
        waited >= Duration::from_millis(1900),
        "the second request came {waited:?} after the 429"
    );
    assert_eq!(delivery.attempts, 2);
    assert_eq!(attempts[0].status, Some(429));
}

#[tokio::test]
async fn a_429_with_retry_after_0_waits_for_the_backoff_instead_of_burning_the_attempts() {
    let mock = WebhookReceiver::start().await;
    mock.always(Answer::retry_after(429, 0));
    let target = format!(
        "{{ kind: webhook, url: \"{}\", retry: {{ max_attempts: 4, initial: 200ms }} }}",
        mock.url()
    );
    let relay = spawn_relay(Spec::new(&config(&[("erp", target)], "*"))).await;
    let id = relay.ack(&sample("audit_expired")).await;
    let (delivery, _) = relay.wait_state(&id, DeliveryState::Dead).await;
    assert_eq!(mock.received().len(), 4, "one request per attempt");
    let times: Vec<_> = mock.received().iter().map(|r| r.at).collect();
    // The backoff after attempt n is 200 ms · 2^(n-1), at least half of it with jitter.
    let floors = [100, 200, 400].map(Duration::from_millis);
    for (n, (gap, floor)) in gaps(&times).into_iter().zip(floors).enumerate() {
        assert!(
            gap >= floor,
            "attempt {} came {gap:?} after the 429, sooner than the backoff ({floor:?})",
            n + 2
        );
    }
    let error = delivery.last_error.unwrap_or_default();
    assert!(error.contains("gave up after 4 attempts"), "{error}");
}

#[tokio::test]
async fn a_request_that_times_out_is_retried() {
    let mock = WebhookReceiver::start().await;
    mock.script([Answer::hang()]);
    let target = webhook_target(&mock.url(), ", timeout: 1s");
    let relay = spawn_relay(Spec::new(&config(&[("erp", target)], "*"))).await;
    let id = relay.ack(&sample("audit_expired")).await;
    let (delivery, attempts) = relay.wait_state(&id, DeliveryState::Delivered).await;
    assert_eq!(mock.received().len(), 2);
    assert_eq!(delivery.attempts, 2);
    assert_eq!(attempts[0].outcome, "retry");
    assert_eq!(attempts[0].status, None);
    let error = attempts[0].error.as_deref().unwrap_or_default();
    assert!(error.contains("timeout"), "{error}");
}

#[tokio::test]
async fn a_slack_404_is_dead_after_one_request_with_slacks_error() {
    let slack = SlackWebhook::start().await;
    slack.script([Answer::error(404, "no_active_hooks")]);
    let target = format!(
        "{{ kind: slack, url: \"{}\", retry: {{ initial: 100ms }} }}",
        slack.url()
    );
    // A second event behind the dead one: once it arrived, the lane is past the first.
    let relay = spawn_relay(Spec::new(&config(&[("kitchen", target)], "*"))).await;
    let id = relay.ack(&sample("audit_expired")).await;
    let next = relay.ack(&sample("audit_deleted")).await;
    let (delivery, attempts) = relay.wait_state(&id, DeliveryState::Dead).await;
    relay.wait_state(&next, DeliveryState::Delivered).await;
    assert_eq!(slack.received().len(), 2, "one request each");
    assert_eq!(delivery.attempts, 1);
    assert_eq!(attempts.len(), 1);
    assert_eq!(delivery.last_status, Some(404));
    let error = delivery.last_error.unwrap_or_default();
    assert!(error.contains("no_active_hooks"), "{error}");
}

#[tokio::test]
async fn a_target_that_always_fails_is_dead_after_max_attempts() {
    let mock = WebhookReceiver::start().await;
    mock.always(Answer::status(500));
    let target = format!(
        "{{ kind: webhook, url: \"{}\", retry: {{ max_attempts: 3, initial: 100ms }} }}",
        mock.url()
    );
    let relay = spawn_relay(Spec::new(&config(&[("erp", target)], "*"))).await;
    let id = relay.ack(&sample("audit_expired")).await;
    let (delivery, attempts) = relay.wait_state(&id, DeliveryState::Dead).await;
    assert_eq!(mock.received().len(), 3);
    assert_eq!(delivery.attempts, 3);
    let outcomes: Vec<&str> = attempts.iter().map(|a| a.outcome.as_str()).collect();
    assert_eq!(outcomes, ["retry", "retry", "dead"]);
    let error = delivery.last_error.unwrap_or_default();
    assert!(error.contains("gave up after 3 attempts"), "{error}");
    assert!(error.contains("500"), "{error}");
}

#[tokio::test]
async fn a_pending_retry_survives_a_restart_and_completes() {
    let mock = WebhookReceiver::start().await;
    mock.always(Answer::status(503));
    // Long enough a backoff that the relay is stopped while the retry waits.
    let target = format!(
        "{{ kind: webhook, url: \"{}\", retry: {{ initial: 2s }} }}",
        mock.url()
    );
    let mut relay = spawn_relay(Spec::new(&config(&[("erp", target)], "*"))).await;
    let id = relay.ack(&sample("audit_expired")).await;
    let state = eventually("the first attempt to be recorded", async || {
        let details = relay.event(&id).await?;
        let (delivery, attempts) = details.deliveries.first()?;
        (!attempts.is_empty()).then_some(delivery.state)
    })
    .await;
    assert_eq!(state, DeliveryState::Pending, "waiting for its retry");
    relay.stop().await;
    let before = mock.received().len();
    assert!(before >= 1);
    mock.always(Answer::ok());

    relay.restart().await;
    let (delivery, attempts) = relay.wait_state(&id, DeliveryState::Delivered).await;
    assert_eq!(attempts.len(), before + 1, "{attempts:?}");
    assert_eq!(delivery.attempts as usize, before + 1);
    assert_eq!(
        mock.received().len(),
        before + 1,
        "one more request, no duplicate"
    );
    assert!(attempts[..before].iter().all(|a| a.status == Some(503)));
}
