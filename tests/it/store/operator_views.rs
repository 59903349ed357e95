//! What the operator's views read and do, on each engine (a real SQLite file, a schema of the
//! machine's PostgreSQL): the event listing's filters and its pages, each event's rules and
//! targets, every lane's health, an event routed again, and dead letters replayed since a time.

use std::time::Duration;

use mqa_relay::clock::now_ms;
use mqa_relay::store::{
    Claim, DeadFilter, DeliveryState, EventFilter, EventOutcome, EventSummary, NewDelivery,
    Outcome, RerouteError, Store, TargetHealth,
};

use super::event;

const LEASE: Duration = Duration::from_secs(30);
const HOUR: i64 = 3_600_000;

fn to(rule: &str, target: &str) -> NewDelivery {
    NewDelivery {
        rule: rule.into(),
        target: target.into(),
        template: None,
        object: None,
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

fn health_of<'a>(all: &'a [TargetHealth], target: &str) -> &'a TargetHealth {
    all.iter()
        .find(|h| h.target == target)
        .unwrap_or_else(|| panic!("a row for {target}"))
}

async fn every_lane_shows_its_queue_its_last_attempts_and_its_pause(store: &Store) {
    let t = now_ms();
    routed(store, 1, &["audits"], &[to("audits", "erp")]).await;
    finish_head(store, "erp", delivered(), t - 2 * HOUR).await;
    routed(store, 2, &["audits"], &[to("audits", "erp")]).await;
    finish_head(store, "erp", delivered(), t).await;
    routed(store, 3, &["audits"], &[to("audits", "erp")]).await;
    finish_head(store, "erp", dead(), t + 5).await;

    routed(store, 4, &["actions"], &[to("actions", "kitchen")]).await;
    let retry = Outcome::Retry {
        at_ms: t + 60_000,
        status: Some(503),
        error: "busy".into(),
    };
    let waiting = finish_head(store, "kitchen", retry, t + 7).await;
    routed(store, 5, &["actions"], &[to("actions", "kitchen")]).await;
    let paused_until = t + 90_000;
    store.block_target("kitchen", paused_until).await.unwrap();
    // A lane with a row and nothing in it, its pause long over.
    store.block_target("quiet", t - HOUR).await.unwrap();

    let all = store.target_health(t + 10).await.unwrap();
    let names: Vec<&str> = all.iter().map(|h| h.target.as_str()).collect();
    assert_eq!(names, ["erp", "kitchen", "quiet"]);

    let erp = health_of(&all, "erp");
    assert_eq!((erp.depth, erp.oldest_created_at, erp.dead), (0, None, 1));
    assert_eq!(erp.last_delivered_at, Some(t));
    assert_eq!(erp.delivered_last_hour, 1, "the one two hours ago is not");
    assert_eq!(erp.last_attempt_at, Some(t + 5));
    assert_eq!(erp.last_outcome.as_deref(), Some("dead"));
    assert_eq!(erp.last_status, Some(404));
    assert_eq!(erp.last_error.as_deref(), Some("webhook not found"));
    assert_eq!(erp.paused_until, None);

    let kitchen = health_of(&all, "kitchen");
    assert_eq!(kitchen.depth, 2);
    assert_eq!(kitchen.oldest_created_at, Some(waiting.created_at));
    assert_eq!((kitchen.dead, kitchen.last_delivered_at), (0, None));
    assert_eq!(kitchen.last_attempt_at, Some(t + 7));
    assert_eq!(kitchen.last_outcome.as_deref(), Some("retry"));
    assert_eq!(kitchen.last_status, Some(503));
    assert_eq!(kitchen.last_error.as_deref(), Some("busy"));
    assert_eq!(kitchen.paused_until, Some(paused_until));
    assert_eq!(kitchen.delivered_last_hour, 0);

    let quiet = health_of(&all, "quiet");
    let idle = TargetHealth {
        target: "quiet".into(),
        ..TargetHealth::default()
    };
    assert_eq!(quiet, &idle);

    let after_pause = store.target_health(paused_until + 1).await.unwrap();
    assert_eq!(health_of(&after_pause, "kitchen").paused_until, None);
}

async fn a_replayed_dead_letter_leaves_its_lane_s_and_its_event_s_dead_count(store: &Store) {
    let id = routed(store, 1, &["audits"], &[to("audits", "erp")]).await;
    let claim = finish_head(store, "erp", dead(), now_ms()).await;
    assert_eq!(
        health_of(&store.target_health(now_ms()).await.unwrap(), "erp").dead,
        1
    );
    let dead_ones = EventFilter {
        outcome: Some(EventOutcome::Dead),
        ..EventFilter::default()
    };
    assert_eq!(ids(store, dead_ones.clone()).await, [id.as_str()]);

    store
        .replay(claim.delivery_id, now_ms())
        .await
        .unwrap()
        .unwrap();
    let erp = store.target_health(now_ms()).await.unwrap();
    let erp = health_of(&erp, "erp");
    assert_eq!((erp.dead, erp.depth), (0, 1));
    let listed = list(store, EventFilter::default()).await;
    assert_eq!(
        (listed[0].dead, listed[0].waiting),
        (0, 1),
        "counted by its replay"
    );
    assert!(ids(store, dead_ones).await.is_empty());

    let delivered_ones = EventFilter {
        outcome: Some(EventOutcome::Delivered),
        ..EventFilter::default()
    };
    let waiting = ids(store, delivered_ones.clone()).await;
    assert!(waiting.is_empty(), "the replay still waits");
    finish_head(store, "erp", delivered(), now_ms()).await;
    assert_eq!(ids(store, delivered_ones).await, [id.as_str()]);

    let dropped = routed(store, 2, &["audits"], &[to("audits", "erp")]).await;
    let claim = finish_head(store, "erp", dead(), now_ms()).await;
    let done = store.drop_dead(claim.delivery_id, now_ms()).await;
    done.unwrap().unwrap();
    let listed = list(store, EventFilter::default()).await;
    let row = listed.iter().find(|e| e.id == dropped).expect("listed");
    assert_eq!((row.delivered, row.waiting, row.dead), (0, 0, 0));
    for outcome in [
        EventOutcome::Delivered,
        EventOutcome::Waiting,
        EventOutcome::Dead,
    ] {
        let only = EventFilter {
            outcome: Some(outcome),
            ..EventFilter::default()
        };
        assert!(!ids(store, only).await.contains(&dropped), "{outcome:?}");
    }
}

async fn a_rerouted_event_gets_new_deliveries_at_the_tails_of_their_lanes(store: &Store) {
    let first = routed(store, 1, &["audits"], &[to("audits", "erp")]).await;
    let second = routed(store, 2, &["audits"], &[to("audits", "erp")]).await;

    let new = [to("late rule", "erp"), to("late rule", "new-lane")];
    let ids = store
        .reroute(&first, &new, now_ms())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ids.len(), 2);

    // The erp lane: both first deliveries, then the new one.
    let order = [(&first, None), (&second, None), (&first, Some(ids[0]))];
    for (event_id, delivery_id) in order {
        let claim = finish_head(store, "erp", delivered(), now_ms()).await;
        assert_eq!(&claim.event.id, event_id);
        assert_eq!(
            claim.rule,
            if delivery_id.is_some() {
                "late rule"
            } else {
                "audits"
            }
        );
        if let Some(id) = delivery_id {
            assert_eq!(claim.delivery_id, id);
        }
    }
    let other = finish_head(store, "new-lane", delivered(), now_ms()).await;
    assert_eq!((other.delivery_id, &other.event.id), (ids[1], &first));
    let lanes = store.target_health(now_ms()).await.unwrap();
    assert!(
        lanes.iter().any(|h| h.target == "new-lane"),
        "its lane's row"
    );

    let details = store.event(&first).await.unwrap().unwrap();
    assert_eq!(details.matched_rules, ["audits", "late rule"]);
    let created: Vec<i64> = details.deliveries.iter().map(|(d, _)| d.id).collect();
    assert_eq!(&created[1..], &ids[..]);
    assert!(
        details
            .deliveries
            .iter()
            .all(|(d, _)| d.state == DeliveryState::Delivered)
    );

    // Rules join once each, after those the event had.
    let again = [
        to("other", "erp"),
        to("late rule", "erp"),
        to("other", "erp"),
    ];
    let more = store.reroute(&first, &again, now_ms()).await.unwrap();
    assert_eq!(more.map(|ids| ids.len()), Ok(3));
    let details = store.event(&first).await.unwrap().unwrap();
    assert_eq!(details.matched_rules, ["audits", "late rule", "other"]);

    let nothing = store.reroute(&second, &[], now_ms()).await.unwrap();
    assert_eq!(nothing, Ok(Vec::new()));
}

async fn only_a_routed_event_that_exists_can_be_rerouted(store: &Store) {
    let missing = store
        .reroute("no-such-event", &[to("audits", "erp")], now_ms())
        .await
        .unwrap();
    assert_eq!(missing, Err(RerouteError::NotFound("no-such-event".into())));

    let unrouted = store.ingest(&event(1)).await.unwrap().id;
    let refused = store
        .reroute(&unrouted, &[to("audits", "erp")], now_ms())
        .await
        .unwrap();
    assert_eq!(refused, Err(RerouteError::Unrouted(unrouted.clone())));
    let counts = store.counts().await.unwrap();
    assert_eq!((counts.pending, counts.unrouted), (0, 1), "nothing written");
    assert_eq!(store.unrouted(10).await.unwrap()[0].id, unrouted);
}

async fn replaying_all_takes_the_dead_letters_since_a_time(store: &Store) {
    let t = now_ms();
    let mut dead_letters = Vec::new();
    for (n, target, died) in [
        (1, "erp", t - 2 * HOUR),
        (2, "erp", t),
        (3, "kitchen", t),
        (4, "kitchen", t - 2 * HOUR),
    ] {
        routed(store, n, &["audits"], &[to("audits", target)]).await;
        let claim = finish_head(store, target, dead(), died).await;
        dead_letters.push(claim.delivery_id);
    }
    let originals =
        |done: Vec<(i64, i64)>| done.into_iter().map(|(old, _)| old).collect::<Vec<_>>();

    let recent_erp = DeadFilter {
        target: Some("erp".into()),
        since_ms: Some(t - HOUR),
        ..DeadFilter::default()
    };
    let done = store.replay_all(&recent_erp, t).await.unwrap();
    assert_eq!(originals(done), [dead_letters[1]]);

    let recent = DeadFilter {
        since_ms: Some(t - HOUR),
        ..DeadFilter::default()
    };
    let done = store.replay_all(&recent, t).await.unwrap();
    assert_eq!(originals(done), [dead_letters[2]]);

    let any_one = DeadFilter {
        limit: 1,
        ..DeadFilter::default()
    };
    let done = store.replay_all(&any_one, t).await.unwrap();
    assert_eq!(
        originals(done),
        [dead_letters[0], dead_letters[3]],
        "the limit is not a replay's"
    );
    assert!(store.dead_letters(&any_one).await.unwrap().is_empty());
    assert_eq!(store.counts().await.unwrap().pending, 4);
}

super::on_each_engine!(
    the_listing_filters_by_rule_target_and_outcome,
    each_event_shows_its_rules_and_the_targets_of_its_deliveries,
    the_listing_filters_by_when_events_were_received,
    a_cursor_pages_through_every_event_once,
    every_lane_shows_its_queue_its_last_attempts_and_its_pause,
    a_replayed_dead_letter_leaves_its_lane_s_and_its_event_s_dead_count,
    a_rerouted_event_gets_new_deliveries_at_the_tails_of_their_lanes,
    only_a_routed_event_that_exists_can_be_rerouted,
    replaying_all_takes_the_dead_letters_since_a_time,
);
