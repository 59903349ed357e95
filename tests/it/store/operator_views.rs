//! What the operator's views read, on each engine (a real SQLite file, a schema of the
//! machine's PostgreSQL): the event listing's filters and its pages, each event's rules and
//! targets.

use std::time::Duration;

use mqa_relay::clock::now_ms;
use mqa_relay::store::{
    Claim, EventFilter, EventOutcome, EventSummary, NewDelivery, Outcome, Store,
};

use super::event;

const LEASE: Duration = Duration::from_secs(30);

fn to(rule: &str, target: &str) -> NewDelivery {
    NewDelivery {
        rule: rule.into(),
        target: target.into(),
        template: None,
    }
}

/// Stores event `n` and routes it: the rules `rules` matched, `deliveries` made.
async fn routed(store: &Store, n: u64, rules: &[&str], deliveries: &[NewDelivery]) -> String {
    let id = store.ingest(&event(n)).await.unwrap().id;
    let rules: Vec<String> = rules.iter().map(|r| r.to_string()).collect();
    store.mark_routed(&id, &rules, deliveries).await.unwrap();
    id
}

/// Claims the head of `target`'s lane now and records `outcome` for it as of `at`.
async fn finish_head(store: &Store, target: &str, outcome: Outcome, at: i64) -> Claim {
    let claim = store
        .claim_next(target, now_ms(), LEASE, "sender-1")
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("the head of {target} is due"));
    assert!(store.finish(&claim, &outcome, at).await.unwrap());
    claim
}

fn delivered() -> Outcome {
    Outcome::Delivered {
        status: Some(200),
        provider_id: None,
    }
}

fn dead() -> Outcome {
    Outcome::Dead {
        status: Some(404),
        error: "webhook not found".into(),
    }
}

async fn list(store: &Store, filter: EventFilter) -> Vec<EventSummary> {
    let filter = EventFilter {
        limit: 100,
        ..filter
    };
    store.list_events(&filter).await.unwrap()
}

async fn ids(store: &Store, filter: EventFilter) -> Vec<String> {
    list(store, filter)
        .await
        .into_iter()
        .map(|e| e.id)
        .collect()
}

/// One event of each outcome: delivered, dead, waiting (on two targets by two rules), routed
/// to nothing, not routed. Returns their ids in that order.
async fn one_of_each(store: &Store) -> [String; 5] {
    let delivered_id = routed(store, 1, &["audits"], &[to("audits", "erp")]).await;
    finish_head(store, "erp", delivered(), now_ms()).await;
    let dead_id = routed(store, 2, &["audits"], &[to("audits", "erp")]).await;
    finish_head(store, "erp", dead(), now_ms()).await;
    let waiting = [
        to("actions", "kitchen"),
        to("actions", "alerts"),
        to("urgent", "kitchen"),
    ];
    let waiting_id = routed(store, 3, &["actions", "urgent"], &waiting).await;
    let nothing_id = routed(store, 4, &[], &[]).await;
    let unrouted_id = store.ingest(&event(5)).await.unwrap().id;
    [delivered_id, dead_id, waiting_id, nothing_id, unrouted_id]
}

async fn the_listing_filters_by_rule_target_and_outcome(store: &Store) {
    let [delivered_id, dead_id, waiting_id, nothing_id, unrouted_id] = one_of_each(store).await;
    let by = |f: fn(&mut EventFilter)| {
        let mut filter = EventFilter::default();
        f(&mut filter);
        filter
    };

    assert_eq!(
        ids(store, EventFilter::default()).await,
        [
            unrouted_id.as_str(),
            nothing_id.as_str(),
            waiting_id.as_str(),
            dead_id.as_str(),
            delivered_id.as_str()
        ]
    );
    assert_eq!(
        ids(store, by(|f| f.rule = Some("audits".into()))).await,
        [dead_id.as_str(), delivered_id.as_str()]
    );
    assert_eq!(
        ids(store, by(|f| f.rule = Some("urgent".into()))).await,
        [waiting_id.as_str()]
    );
    assert_eq!(
        ids(store, by(|f| f.target = Some("erp".into()))).await,
        [dead_id.as_str(), delivered_id.as_str()]
    );
    assert_eq!(
        ids(store, by(|f| f.target = Some("alerts".into()))).await,
        [waiting_id.as_str()]
    );
    assert!(
        ids(store, by(|f| f.target = Some("nowhere".into())))
            .await
            .is_empty()
    );
    let expected = [
        (EventOutcome::Delivered, &delivered_id),
        (EventOutcome::Dead, &dead_id),
        (EventOutcome::Waiting, &waiting_id),
        (EventOutcome::NoDeliveries, &nothing_id),
        (EventOutcome::Unrouted, &unrouted_id),
    ];
    for (outcome, id) in expected {
        let filter = EventFilter {
            outcome: Some(outcome),
            ..EventFilter::default()
        };
        assert_eq!(ids(store, filter).await, [id.as_str()], "{outcome:?}");
    }
    let both = EventFilter {
        rule: Some("audits".into()),
        outcome: Some(EventOutcome::Dead),
        ..EventFilter::default()
    };
    assert_eq!(ids(store, both).await, [dead_id.as_str()]);
}

async fn each_event_shows_its_rules_and_the_targets_of_its_deliveries(store: &Store) {
    let [delivered_id, _, waiting_id, nothing_id, unrouted_id] = one_of_each(store).await;
    let events = list(store, EventFilter::default()).await;
    let of = |id: &str| events.iter().find(|e| e.id == id).expect("listed");
    assert_eq!(of(&delivered_id).rules, ["audits"]);
    assert_eq!(of(&delivered_id).targets, ["erp"]);
    let waiting = of(&waiting_id);
    assert_eq!(waiting.rules, ["actions", "urgent"], "as stored");
    assert_eq!(waiting.targets, ["alerts", "kitchen"], "each once, sorted");
    assert_eq!((waiting.deliveries, waiting.waiting), (3, 3));
    for id in [&nothing_id, &unrouted_id] {
        assert!(of(id).rules.is_empty() && of(id).targets.is_empty(), "{id}");
    }
}

async fn the_listing_filters_by_when_events_were_received(store: &Store) {
    let mut stored = Vec::new();
    for n in 0..3 {
        stored.push(store.ingest(&event(n)).await.unwrap());
        // Each event in a millisecond of its own.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let at = |i: usize| stored[i].received_at;
    let id = |i: usize| stored[i].id.clone();
    let since = EventFilter {
        since_ms: Some(at(1)),
        ..EventFilter::default()
    };
    assert_eq!(
        ids(store, since).await,
        [id(2), id(1)],
        "since is inclusive"
    );
    let until = EventFilter {
        until_ms: Some(at(1)),
        ..EventFilter::default()
    };
    assert_eq!(ids(store, until).await, [id(0)], "until is exclusive");
    let between = EventFilter {
        since_ms: Some(at(0) + 1),
        until_ms: Some(at(2)),
        ..EventFilter::default()
    };
    assert_eq!(ids(store, between).await, [id(1)]);
}

async fn a_cursor_pages_through_every_event_once(store: &Store) {
    // Stored as fast as they come: several share a millisecond, which the id orders.
    for n in 0..5 {
        store.ingest(&event(n)).await.unwrap();
    }
    let all = ids(store, EventFilter::default()).await;
    assert_eq!(all.len(), 5);

    let mut pages = Vec::new();
    let mut before = None;
    loop {
        let filter = EventFilter {
            limit: 2,
            before: before.clone(),
            ..EventFilter::default()
        };
        let page = store.list_events(&filter).await.unwrap();
        let Some(last) = page.last() else { break };
        before = Some((last.received_at, last.id.clone()));
        pages.push(page.iter().map(|e| e.id.clone()).collect::<Vec<_>>());
        assert!(pages.len() <= 5, "the pages end");
    }
    let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
    assert_eq!(sizes, [2, 2, 1]);
    assert_eq!(pages.concat(), all, "in order, no gap, no overlap");
}

super::on_each_engine!(
    the_listing_filters_by_rule_target_and_outcome,
    each_event_shows_its_rules_and_the_targets_of_its_deliveries,
    the_listing_filters_by_when_events_were_received,
    a_cursor_pages_through_every_event_once,
);
