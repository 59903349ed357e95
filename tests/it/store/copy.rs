//! `store copy`: an embedded store's whole history into PostgreSQL, from a file the previous
//! release wrote.

use std::time::Duration;

use mqa_relay::event::Event;
use mqa_relay::store::copy::embedded_to_postgres;
use mqa_relay::store::{
    Conversation, ConversationFilter, DeliveryState, Finish, NewDelivery, Outcome, Store,
    StoreConfig, StoreOptions, ThreadDone,
};

use super::{Fresh, finish_head, routed_to};

/// A store made by the previous release (see tests/fixtures/store/v3-relay.db): three
/// events, two delivered, one pending after four failed attempts.
const FIXTURE: &[u8] = include_bytes!("../../fixtures/store/v3-relay.db");
const PENDING: &str = "01a236d1-e038-7059-90be-845d4fa89db3";
const EXPIRED: &str = "01a236d1-e000-73c6-9c9a-2fc1a064e94e";

/// The fixture with a dead letter of its own and its replay added.
async fn source() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("relay.db"), FIXTURE).unwrap();
    let store = Store::open(&StoreConfig::embedded(dir.path()))
        .await
        .unwrap();
    routed_to(&store, 1, "gone").await;
    let dead = Outcome::Dead {
        status: Some(410),
        error: "gone".into(),
    };
    let claim = finish_head(&store, "gone", &dead).await;
    let now = mqa_relay::clock::now_ms();
    store.replay(claim.delivery_id, now).await.unwrap().unwrap();
    converse(&store).await;
    store.close().await;
    dir
}

/// A delivery in a conversation, whose first message was posted.
async fn converse(store: &Store) {
    let id = store.ingest(&super::event(7)).await.unwrap().id;
    let delivery = NewDelivery {
        rule: "all".into(),
        target: "threads".into(),
        template: None,
        object: Some(OBJECT.into()),
    };
    store
        .mark_routed(&id, &["all".into()], &[delivery])
        .await
        .unwrap();
    let now = mqa_relay::clock::now_ms();
    let lease = Duration::from_secs(30);
    let claim = store
        .claim_next("threads", now, lease, "test")
        .await
        .unwrap()
        .unwrap();
    let conversation = Conversation {
        target: "threads".into(),
        object_key: OBJECT.into(),
        channel: Some("C1".into()),
        thread_id: "1.000001".into(),
        topic: "Corrective action CA-7".into(),
        state: "Assigned".into(),
        first_event_id: id.clone(),
        last_event_id: id,
        last_kind: "CORRECTIVE_ACTION_ASSIGNED".into(),
        messages: 1,
        restarts: 0,
        opened_at: now,
        updated_at: now,
        closed_at: None,
        gone_at: None,
        last_received_at: now,
        provisional: false,
    };
    let thread = ThreadDone {
        action: "start",
        next_step: None,
        conversation: Some(conversation),
    };
    let outcome = Outcome::Delivered {
        status: Some(200),
        provider_id: Some("C1/1.000001".into()),
    };
    let finish = Finish {
        claim: &claim,
        outcome: &outcome,
        thread: Some(&thread),
    };
    store
        .lane_finish("threads", None, &[finish], None, now)
        .await
        .unwrap();
}

const OBJECT: &str = "corrective-action:7";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_embedded_history_arrives_whole_and_a_second_copy_is_refused() {
    let dir = source().await;
    let test = Fresh::postgres().await;
    let url = test.config.database.clone().unwrap();

    let copied = embedded_to_postgres(dir.path(), &url).await.unwrap();
    let rows: Vec<u64> = copied.tables.iter().map(|(_, n)| *n).collect();
    assert_eq!(rows, [5, 5, 4, 6, 8, 1], "{copied:?}");

    let store = &test.store;
    let counts = store.counts().await.unwrap();
    assert_eq!(
        (counts.events, counts.delivered, counts.pending, counts.dead),
        (5, 3, 2, 1)
    );
    // The conversation came along, and the attempt says what it did in it.
    let filter = ConversationFilter {
        limit: 10,
        object: Some(OBJECT.into()),
        target: None,
    };
    let conversations = store.conversations(&filter).await.unwrap();
    assert_eq!(conversations.len(), 1);
    assert_eq!(conversations[0].thread_id, "1.000001");
    let event = store
        .event(&conversations[0].first_event_id)
        .await
        .unwrap()
        .unwrap();
    let (delivery, attempts) = &event.deliveries[0];
    assert_eq!(delivery.object_key.as_deref(), Some(OBJECT));
    assert_eq!(attempts[0].action.as_deref(), Some("start"));
    let pending = store.event(PENDING).await.unwrap().unwrap();
    assert_eq!(pending.deliveries[0].0.attempts, 4);
    assert_eq!(pending.deliveries[0].1.len(), 4, "its history came along");
    // The dead letter is replayed already: the replay points at it.
    let dead = store
        .deliveries_by_state(DeliveryState::Dead, 10)
        .await
        .unwrap();
    let details = store.delivery(dead[0].id).await.unwrap().unwrap();
    assert!(details.replayed_by.is_some(), "{details:?}");
    // New deliveries continue after the copied ids.
    let id = routed_to(store, 2, "erp").await;
    let new = store.event(&id).await.unwrap().unwrap();
    assert!(new.deliveries[0].0.id > 5, "{:?}", new.deliveries[0].0);
    // The dedup keys came along: MonitorQA retrying an old event finds it.
    let long = StoreConfig {
        options: StoreOptions {
            dedup_window: Duration::from_secs(3650 * 24 * 3600),
            ..StoreOptions::default()
        },
        ..test.config.clone()
    };
    let again = Store::open(&long).await.unwrap();
    let retry = Event::parse(include_bytes!(
        "../../../examples/events/audit_expired.json"
    ))
    .unwrap();
    let answer = again.ingest(&retry).await.unwrap();
    assert!(answer.duplicate);
    assert_eq!(answer.id, EXPIRED);
    again.close().await;

    let refused = embedded_to_postgres(dir.path(), &url).await.unwrap_err();
    assert!(
        refused.to_string().contains("already holds events"),
        "{refused}"
    );
    test.store.close().await;
}
