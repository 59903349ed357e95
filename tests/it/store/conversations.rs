//! Conversations in the store, on each engine: the deliveries of one object are claimed in
//! order while others are not held; a conversation row is written with its delivery's outcome
//! (under the same lease) and handed to the next claim of the object; a delivery that goes on
//! to its next step is pending again at once with it; replays keep their object and step; the
//! listing and retention.

use std::time::Duration;

use mqa_relay::clock::now_ms;
use mqa_relay::store::{
    Claim, ClaimSpec, Conversation, ConversationFilter, DeliveryState, Finish, NewDelivery,
    Outcome, Store, ThreadDone,
};

use super::event;

const TARGET: &str = "quality-slack";
const LEASE: Duration = Duration::from_secs(30);

/// Stores event `n` and routes it to the threaded target, in the conversation of `object`
/// (none: a message of its own); returns the delivery's id.
async fn routed(store: &Store, n: u64, object: Option<&str>) -> i64 {
    let id = store.ingest(&event(n)).await.expect("stored").id;
    let delivery = NewDelivery {
        rule: "all".into(),
        target: TARGET.into(),
        template: None,
        object: object.map(str::to_owned),
    };
    store
        .mark_routed(&id, &["all".into()], &[delivery])
        .await
        .expect("routed");
    let deliveries = crate::support::relay::deliveries_of(store, &id).await;
    deliveries[0].id
}

/// Claims up to `max` deliveries of the lane, several in flight (not FIFO).
async fn claim(store: &Store, max: usize) -> Vec<Claim> {
    let spec = ClaimSpec {
        target: TARGET.into(),
        max,
        ordered: false,
        now_ms: now_ms(),
        lease: LEASE,
        owner: "test".into(),
        pace_interval_us: None,
    };
    let done = store
        .lane_write(TARGET, None, &[], Some(spec), now_ms())
        .await
        .expect("claimed");
    done.claims
}

fn delivered() -> Outcome {
    Outcome::Delivered {
        status: Some(200),
        provider_id: Some("C1/1.000001".into()),
    }
}

fn conversation(object: &str, messages: u32) -> Conversation {
    Conversation {
        target: TARGET.into(),
        object_key: object.into(),
        channel: Some("C1".into()),
        thread_id: "1.000001".into(),
        topic: "Corrective action CA-7".into(),
        state: format!("after {messages} messages"),
        first_event_id: "e1".into(),
        last_event_id: "e1".into(),
        last_kind: "CORRECTIVE_ACTION_ASSIGNED".into(),
        messages,
        restarts: 0,
        opened_at: 1_000,
        updated_at: now_ms(),
        closed_at: None,
        gone_at: None,
        last_received_at: 1_000,
        provisional: false,
    }
}

/// Records `outcome` for `claim` with what it did in its conversation.
async fn finish(store: &Store, claim: &Claim, outcome: &Outcome, thread: &ThreadDone) -> bool {
    let finish = Finish {
        claim,
        outcome,
        thread: Some(thread),
    };
    let done = store
        .lane_finish(TARGET, None, &[finish], None, now_ms())
        .await
        .expect("recorded");
    done.finished[0]
}

async fn one_object_s_deliveries_go_in_order_and_others_do_not_wait(store: &Store) {
    let a1 = routed(store, 1, Some("corrective-action:a")).await;
    let b1 = routed(store, 2, Some("corrective-action:b")).await;
    let a2 = routed(store, 3, Some("corrective-action:a")).await;
    let own = routed(store, 4, None).await;
    let ids = |claims: &[Claim]| claims.iter().map(|c| c.delivery_id).collect::<Vec<_>>();
    let first = claim(store, 10).await;
    assert_eq!(ids(&first), [a1, b1, own], "a's second waits for its first");
    assert_eq!(first[0].object.as_deref(), Some("corrective-action:a"));
    assert_eq!(first[2].object, None);
    assert!(claim(store, 10).await.is_empty(), "a1 is still in flight");
    // A retry of a1 holds a2 too: the lane's next moment is a1's, not a2's.
    let retry = Outcome::Retry {
        at_ms: now_ms() + 60_000,
        status: Some(500),
        error: "down".into(),
    };
    assert!(store.finish(&first[0], &retry, now_ms()).await.unwrap());
    for other in &first[1..] {
        assert!(store.finish(other, &delivered(), now_ms()).await.unwrap());
    }
    assert!(claim(store, 10).await.is_empty(), "a2 waits for a1's retry");
    let next = store
        .next_ready_at(TARGET)
        .await
        .unwrap()
        .expect("a moment");
    assert!(
        next >= now_ms() + 50_000,
        "the next moment is a1's retry, not a2's"
    );
    // Once a1 is done, a2 goes.
    let again = claim_at(store, now_ms() + 61_000).await;
    assert_eq!(ids(&again), [a1]);
    assert!(
        store
            .finish(&again[0], &delivered(), now_ms())
            .await
            .unwrap()
    );
    assert_eq!(ids(&claim(store, 10).await), [a2]);
}

async fn claim_at(store: &Store, at: i64) -> Vec<Claim> {
    let spec = ClaimSpec {
        target: TARGET.into(),
        max: 10,
        ordered: false,
        now_ms: at,
        lease: LEASE,
        owner: "test".into(),
        pace_interval_us: None,
    };
    store
        .lane_write(TARGET, None, &[], Some(spec), at)
        .await
        .expect("claimed")
        .claims
}

async fn a_conversation_is_written_with_its_outcome_and_handed_to_the_next_claim(store: &Store) {
    let object = "corrective-action:a";
    routed(store, 1, Some(object)).await;
    routed(store, 2, Some(object)).await;
    let first = claim(store, 10).await;
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].conversation, None, "none yet");
    let opened = conversation(object, 1);
    let thread = ThreadDone {
        action: "start",
        next_step: None,
        conversation: Some(opened.clone()),
    };
    assert!(finish(store, &first[0], &delivered(), &thread).await);
    let second = claim(store, 10).await;
    assert_eq!(second.len(), 1);
    // A stale claim (its lease ran out and the delivery was claimed again) writes neither its
    // outcome nor its conversation.
    let later = now_ms() + LEASE.as_millis() as i64 + 1_000;
    let again = claim_at(store, later).await;
    assert_eq!(again[0].delivery_id, second[0].delivery_id, "claimed again");
    let stale = ThreadDone {
        conversation: Some(conversation(object, 99)),
        ..thread.clone()
    };
    assert!(!finish(store, &second[0], &delivered(), &stale).await);
    let listed = store
        .conversations(&ConversationFilter {
            limit: 10,
            object: Some(object.into()),
            target: None,
        })
        .await
        .unwrap();
    assert_eq!(
        listed[0].messages, 1,
        "the stale claim's row was not written"
    );
    assert_eq!(second[0].conversation.as_ref(), Some(&opened));
    let details = store
        .delivery(first[0].delivery_id)
        .await
        .unwrap()
        .expect("the delivery");
    assert_eq!(details.attempts[0].action.as_deref(), Some("start"));
    assert_eq!(details.delivery.object_key.as_deref(), Some(object));
}

async fn a_delivery_going_on_to_its_next_step_is_pending_at_once_with_it(store: &Store) {
    let object = "corrective-action:a";
    let id = routed(store, 1, Some(object)).await;
    let first = claim(store, 10).await;
    assert_eq!(first[0].step, 0);
    let replied = ThreadDone {
        action: "reply",
        next_step: Some(1),
        conversation: Some(conversation(object, 2)),
    };
    assert!(finish(store, &first[0], &delivered(), &replied).await);
    let delivery = store.delivery(id).await.unwrap().expect("it").delivery;
    assert_eq!(
        delivery.state,
        DeliveryState::Pending,
        "the edit is still to come"
    );
    let edit = claim(store, 10).await;
    assert_eq!((edit.len(), edit[0].step), (1, 1));
    assert_eq!(edit[0].attempt, 2);
    let updated = ThreadDone {
        action: "update",
        next_step: None,
        conversation: Some(conversation(object, 2)),
    };
    assert!(finish(store, &edit[0], &delivered(), &updated).await);
    let details = store.delivery(id).await.unwrap().expect("it");
    assert_eq!(details.delivery.state, DeliveryState::Delivered);
    let actions: Vec<_> = details
        .attempts
        .iter()
        .map(|a| (a.action.as_deref(), a.outcome.as_str()))
        .collect();
    assert_eq!(
        actions,
        [(Some("reply"), "delivered"), (Some("update"), "delivered")]
    );
}

async fn an_edit_that_cannot_be_made_is_no_dead_letter_and_a_dead_post_replays_in_its_conversation(
    store: &Store,
) {
    let object = "corrective-action:a";
    let edited = routed(store, 1, Some(object)).await;
    let first = claim(store, 10).await;
    let replied = ThreadDone {
        action: "reply",
        next_step: Some(1),
        conversation: None,
    };
    assert!(finish(store, &first[0], &delivered(), &replied).await);
    let edit = claim(store, 10).await;
    let dead = Outcome::Dead {
        status: Some(200),
        error: "cant_update_message".into(),
    };
    assert!(store.finish(&edit[0], &dead, now_ms()).await.unwrap());
    let details = store.delivery(edited).await.unwrap().expect("it");
    assert_eq!(
        details.delivery.state,
        DeliveryState::Delivered,
        "its reply was"
    );
    assert_eq!(
        details.attempts[1].outcome, "dead",
        "the edit's failure is kept"
    );

    // A post that died replays as a post in the same conversation.
    let posted = routed(store, 2, Some(object)).await;
    let post = claim(store, 10).await;
    assert!(store.finish(&post[0], &dead, now_ms()).await.unwrap());
    let replay = store
        .replay(posted, now_ms())
        .await
        .unwrap()
        .expect("replayed");
    let claimed = claim(store, 10).await;
    assert_eq!(claimed[0].delivery_id, replay);
    assert_eq!(
        (claimed[0].object.as_deref(), claimed[0].step),
        (Some(object), 0)
    );
}

async fn conversations_are_listed_by_object_and_target_and_pruned_once_closed(store: &Store) {
    let (a, b) = ("corrective-action:a", "audit:b");
    for (n, object, closed) in [(1, a, true), (2, b, false)] {
        routed(store, n, Some(object)).await;
        let c = claim(store, 10).await;
        let mut row = conversation(object, 1);
        row.closed_at = closed.then_some(1_000);
        let thread = ThreadDone {
            action: "start",
            next_step: None,
            conversation: Some(row),
        };
        assert!(finish(store, &c[0], &delivered(), &thread).await);
    }
    let list = |object: Option<&str>, target: Option<&str>| ConversationFilter {
        limit: 10,
        object: object.map(str::to_owned),
        target: target.map(str::to_owned),
    };
    let objects =
        |found: Vec<Conversation>| found.into_iter().map(|c| c.object_key).collect::<Vec<_>>();
    let all = store.conversations(&list(None, None)).await.unwrap();
    assert_eq!(all.len(), 2);
    let by_id = store.conversations(&list(Some("a"), None)).await.unwrap();
    assert_eq!(objects(by_id), [a], "the bare id finds it");
    let by_key = store
        .conversations(&list(Some(b), Some(TARGET)))
        .await
        .unwrap();
    assert_eq!(objects(by_key), [b]);
    assert!(
        store
            .conversations(&list(None, Some("other")))
            .await
            .unwrap()
            .is_empty()
    );
    // Retention: the closed one goes, the open one stays while it is open.
    store.prune(2_000).await.unwrap();
    let left = store.conversations(&list(None, None)).await.unwrap();
    assert_eq!(objects(left), [b]);
}

super::on_each_engine!(
    one_object_s_deliveries_go_in_order_and_others_do_not_wait,
    a_conversation_is_written_with_its_outcome_and_handed_to_the_next_claim,
    a_delivery_going_on_to_its_next_step_is_pending_at_once_with_it,
    an_edit_that_cannot_be_made_is_no_dead_letter_and_a_dead_post_replays_in_its_conversation,
    conversations_are_listed_by_object_and_target_and_pruned_once_closed,
);
