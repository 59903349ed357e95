//! The sender lanes: one per target, strict FIFO in acknowledgement order, paced at the
//! target's rate limit, independent of each other; and the dedup in front of them.

use std::time::Duration;

use mqa_relay::store::DeliveryState;

use super::{action_number, config, gaps, numbered_action};
use crate::support::mock::Answer;
use crate::support::providers::{SlackWebhook, WebhookReceiver};
use crate::support::relay::{Spec, spawn_relay};
use crate::support::wait::{DEADLINE, eventually, sample};

#[tokio::test]
async fn a_rate_limit_of_2_per_second_spaces_six_messages_half_a_second_apart() {
    let mock = WebhookReceiver::start().await;
    let target = format!(
        "{{ kind: webhook, url: \"{}\", rate_limit: 2/s }}",
        mock.url()
    );
    let relay = spawn_relay(Spec::new(&config(&[("erp", target)], "*"))).await;
    for n in 1..=6 {
        relay.ack(&numbered_action(n)).await;
    }
    let received = mock.wait_for(6, DEADLINE).await;
    assert_eq!(received.len(), 6);
    let times: Vec<_> = received.iter().map(|r| r.at).collect();
    // The pace spaces the sends' starts 500 ms apart; an arrival may be late by the machine's
    // scheduling, so the bound leaves room below 500 ms but not down to a 3/s pace (333 ms).
    for gap in gaps(&times) {
        assert!(
            gap >= Duration::from_millis(400),
            "gaps: {:?}",
            gaps(&times)
        );
    }
}

#[tokio::test]
async fn slack_without_a_rate_limit_is_paced_at_one_message_per_second() {
    let slack = SlackWebhook::start().await;
    let target = format!("{{ kind: slack, url: \"{}\" }}", slack.url());
    let relay = spawn_relay(Spec::new(&config(&[("kitchen", target)], "*"))).await;
    for n in 1..=3 {
        relay.ack(&numbered_action(n)).await;
    }
    let received = slack.wait_for(3, DEADLINE).await;
    let times: Vec<_> = received.iter().map(|r| r.at).collect();
    // The pace spaces the sends' starts a second apart; an arrival may be late by the
    // machine's scheduling by tens of milliseconds on a loaded machine, so the bound is
    // below a second but far above an unpaced lane's milliseconds and a 2/s pace's.
    for gap in gaps(&times) {
        assert!(
            gap >= Duration::from_millis(800),
            "gaps: {:?}",
            gaps(&times)
        );
    }
}

#[tokio::test]
async fn a_target_that_is_down_or_hangs_does_not_hold_back_a_healthy_one() {
    let down = SlackWebhook::start().await;
    down.always(Answer::status(503));
    let hung = WebhookReceiver::start().await;
    hung.always(Answer::hang());
    let healthy = WebhookReceiver::start().await;
    let retry = "retry: { initial: 100ms, max: 200ms }";
    let targets = [
        (
            "down",
            format!(
                "{{ kind: slack, url: \"{}\", rate_limit: 1000/s, {retry} }}",
                down.url()
            ),
        ),
        (
            "hung",
            format!(
                "{{ kind: webhook, url: \"{}\", timeout: 1s, {retry} }}",
                hung.url()
            ),
        ),
        (
            "healthy",
            format!("{{ kind: webhook, url: \"{}\" }}", healthy.url()),
        ),
    ];
    let relay = spawn_relay(Spec::new(&config(&targets, "*"))).await;
    for n in 1..=4 {
        relay.ack(&numbered_action(n)).await;
    }
    let received = healthy.wait_for(4, DEADLINE).await;
    let order: Vec<usize> = received.iter().map(|r| action_number(&r.json())).collect();
    assert_eq!(order, [1, 2, 3, 4]);
    down.wait_for(3, DEADLINE).await;
    hung.wait_for(2, DEADLINE).await;
    let delivered = eventually(
        "the healthy target's 4 deliveries to be recorded",
        async || {
            let delivered = relay.deliveries_in(DeliveryState::Delivered).await;
            (delivered.len() >= 4).then_some(delivered)
        },
    )
    .await;
    assert_eq!(delivered.len(), 4);
    assert!(
        delivered.iter().all(|d| d.target == "healthy"),
        "{delivered:?}"
    );
    assert_eq!(relay.deliveries_in(DeliveryState::Dead).await.len(), 0);
    // The heads of the failing lanes are still being retried; nothing overtook them.
    let down_bodies: Vec<usize> = down
        .received()
        .iter()
        .map(|r| {
            let header = &r.json()["blocks"][0]["text"]["text"];
            let title = header.as_str().unwrap_or_default().to_string();
            title
                .rsplit(' ')
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or(0)
        })
        .collect();
    assert!(down_bodies.iter().all(|n| *n == 1), "{down_bodies:?}");
    assert!(
        hung.received()
            .iter()
            .all(|r| action_number(&r.json()) == 1)
    );
}

#[tokio::test]
async fn five_events_behind_two_503s_arrive_in_acknowledgement_order_each_once() {
    let mock = WebhookReceiver::start().await;
    mock.script([Answer::status(503), Answer::status(503)]);
    let target = format!(
        "{{ kind: webhook, url: \"{}\", retry: {{ initial: 300ms, max: 1s }} }}",
        mock.url()
    );
    let relay = spawn_relay(Spec::new(&config(&[("erp", target)], "*"))).await;
    let mut ids = Vec::new();
    for n in 1..=5 {
        ids.push(relay.ack(&numbered_action(n)).await);
    }
    for id in &ids {
        relay.wait_state(id, DeliveryState::Delivered).await;
    }
    let order: Vec<usize> = mock
        .received()
        .iter()
        .map(|r| action_number(&r.json()))
        .collect();
    assert_eq!(order, [1, 1, 1, 2, 3, 4, 5]);
}

#[tokio::test]
async fn the_same_event_posted_five_times_reaches_its_target_once() {
    let mock = WebhookReceiver::start().await;
    let target = format!("{{ kind: webhook, url: \"{}\" }}", mock.url());
    let relay = spawn_relay(Spec::new(&config(&[("erp", target)], "*"))).await;
    let event = sample("corrective_action_rejected");
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(relay.ack(&event).await);
    }
    assert!(ids.iter().all(|id| *id == ids[0]), "one event: {ids:?}");
    // A different event behind it in the same lane: once that arrived, the lane is past
    // every copy of the first.
    let sentinel = relay.ack(&sample("audit_expired")).await;
    relay.wait_state(&sentinel, DeliveryState::Delivered).await;
    relay.wait_state(&ids[0], DeliveryState::Delivered).await;
    let received = mock.received();
    assert_eq!(received.len(), 2, "the event once, then the other one");
    assert_eq!(received[0].json(), event);
    assert_eq!(received[1].json(), sample("audit_expired"));
    assert_eq!(relay.counts().await.events, 2);
}
