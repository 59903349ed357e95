//! What only the PostgreSQL store promises: relays sharing one database store a MonitorQA
//! retry once and never lease one delivery twice; the schema is migrated once and a newer one
//! refused; a URL's password is never shown; a relay hears of the work another gives a lane.

use std::time::Duration;

use mqa_relay::clock::now_ms;
use mqa_relay::store::{
    ClaimSpec, DatabaseUrl, DeadLetterError, DeliveryState, NewDelivery, Nudge, Outcome, Store,
    StoreError,
};
use tokio::sync::broadcast;

use super::{Fresh, event, finish_head, routed_to};
use crate::support::wait::eventually_within;

const LEASE: Duration = Duration::from_secs(30);

#[test]
fn a_url_is_shown_without_its_user_or_password() {
    let url = DatabaseUrl::parse("postgres://relay:s3cret-pw@db.internal:6432/mqa").unwrap();
    assert_eq!(url.to_string(), "postgres://db.internal:6432/mqa");
    assert!(!format!("{url:?}").contains("s3cret"));
    let err = DatabaseUrl::parse("postgres://relay:s3cret-pw@db.internal:xx/mqa")
        .err()
        .unwrap();
    assert!(!err.contains("s3cret"), "{err}");
    let tls = DatabaseUrl::parse("postgres://relay:s3cret-pw@db.internal/mqa?sslmode=verify-full")
        .err()
        .unwrap();
    assert!(tls.contains("sslrootcert"), "{tls}");
    assert!(!tls.contains("s3cret"), "{tls}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_relays_storing_the_same_retry_at_once_store_it_once() {
    let test = Fresh::postgres().await;
    let other = Store::open(&test.config).await.unwrap();
    for n in 0..20 {
        let e = event(n);
        let (a, b) = tokio::join!(test.store.ingest(&e), other.ingest(&e));
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!(a.id, b.id, "event {n}: both answer with the one stored");
        assert!(
            a.duplicate != b.duplicate,
            "event {n}: exactly one stored it"
        );
    }
    assert_eq!(test.store.counts().await.unwrap().events, 20);
    other.close().await;
    test.store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_relays_claiming_in_one_lane_at_once_never_lease_the_same_delivery() {
    let test = Fresh::postgres().await;
    let other = Store::open(&test.config).await.unwrap();
    for n in 0..10 {
        routed_to(&test.store, n, "erp").await;
    }
    let now = now_ms();
    let mut leased = Vec::new();
    for round in 0..40 {
        let (a, b) = tokio::join!(
            test.store.claim_next("erp", now, LEASE, "relay-a"),
            other.claim_next("erp", now, LEASE, "relay-b"),
        );
        let claims: Vec<_> = [a.unwrap(), b.unwrap()].into_iter().flatten().collect();
        assert!(
            claims.len() <= 1,
            "round {round}: the lane's head was leased twice"
        );
        for claim in claims {
            leased.push(claim.delivery_id);
            let delivered = Outcome::Delivered {
                status: Some(200),
                provider_id: None,
            };
            assert!(test.store.finish(&claim, &delivered, now).await.unwrap());
        }
        if leased.len() == 10 {
            break;
        }
    }
    let mut in_order = leased.clone();
    in_order.sort_unstable();
    assert_eq!(leased, in_order, "the lane was served in order");
    assert_eq!(leased.len(), 10, "{leased:?}");
    other.close().await;
    test.store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_routers_take_each_unrouted_event_once_until_its_lease_runs_out() {
    let test = Fresh::postgres().await;
    let other = Store::open(&test.config).await.unwrap();
    let mut ids = Vec::new();
    for n in 0..6 {
        ids.push(test.store.ingest(&own_audit(n)).await.unwrap().id);
    }
    let (a, b) = tokio::join!(test.store.unrouted(4), other.unrouted(4));
    let (a, b) = (a.unwrap(), b.unwrap());
    let mut taken: Vec<&str> = a.iter().chain(&b).map(|e| e.id.as_str()).collect();
    assert_eq!(taken.len(), 6, "between them they take every event");
    taken.sort_unstable();
    taken.dedup();
    assert_eq!(taken.len(), 6, "no event is taken by both");
    let mine: Vec<String> = a.iter().map(|e| e.id.clone()).collect();
    let mut in_order = mine.clone();
    in_order.sort_by_key(|id| ids.iter().position(|i| i == id));
    assert_eq!(mine, in_order, "oldest first");
    // A router asking again gets its own back (a batch that failed is tried again), nothing
    // of the other's.
    let again: Vec<String> = test
        .store
        .unrouted(10)
        .await
        .unwrap()
        .iter()
        .map(|e| e.id.clone())
        .collect();
    assert_eq!(again, mine);
    // The other relay dies: once its lease has run out, its events are taken by this one.
    let theirs: Vec<String> = b.iter().map(|e| e.id.clone()).collect();
    test.schema()
        .execute(&format!(
            "UPDATE events SET routing_until = 0 WHERE id IN ('{}')",
            theirs.join("','")
        ))
        .await;
    let now: Vec<String> = ids_of(&test.store.unrouted(10).await.unwrap());
    assert_eq!(now.len(), 6, "{now:?}");
    assert!(theirs.iter().all(|id| now.contains(id)));
    // A relay that stops gives its leases back: the others take its events at once.
    other.close().await;
    let stopping = Store::open(&test.config).await.unwrap();
    let late = [
        test.store.ingest(&own_audit(6)).await.unwrap().id,
        test.store.ingest(&own_audit(7)).await.unwrap().id,
    ];
    assert_eq!(ids_of(&stopping.unrouted(10).await.unwrap()), late);
    assert_eq!(ids_of(&test.store.unrouted(10).await.unwrap()).len(), 6);
    stopping.close().await;
    let after = ids_of(&test.store.unrouted(10).await.unwrap());
    assert_eq!(after.len(), 8, "{after:?}");
    assert!(late.iter().all(|id| after.contains(id)));
    test.store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_router_that_renews_its_leases_keeps_its_batch_and_one_that_does_not_loses_it() {
    let test = Fresh::postgres().await;
    let other = Store::open(&test.config).await.unwrap();
    for n in 0..3 {
        test.store.ingest(&event(n)).await.unwrap();
    }
    let mine = ids_of(&test.store.unrouted(10).await.unwrap());
    assert_eq!(mine.len(), 3);
    test.store.mark_routed(&mine[0], &[], &[]).await.unwrap();
    let expire = "UPDATE events SET routing_until = 1 WHERE routed_at IS NULL";
    // Its lookups took long: it renews before the lease runs out (here: after, on the
    // database's side, which is the harder case), and keeps its events.
    test.schema().execute(expire).await;
    test.store.renew_unrouted(mine.clone()).await.unwrap();
    assert!(
        other.unrouted(10).await.unwrap().is_empty(),
        "renewed leases are kept"
    );
    // Without renewing, another relay takes them once the lease is over.
    test.schema().execute(expire).await;
    assert_eq!(ids_of(&other.unrouted(10).await.unwrap()), mine[1..]);
    // And the first one's renewal can no longer take them back.
    test.store.renew_unrouted(mine.clone()).await.unwrap();
    assert!(test.store.unrouted(10).await.unwrap().is_empty());
    other.close().await;
    test.store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_waits_while_another_relay_routes_an_earlier_one_of_its_object() {
    let test = Fresh::postgres().await;
    let other = Store::open(&test.config).await.unwrap();
    // Two events about one audit (`event(n)` differ only in a sequence number), and one
    // about another audit.
    let first = test.store.ingest(&event(1)).await.unwrap().id;
    let mut another = event(2);
    another
        .data
        .insert("auditId".into(), serde_json::json!("another-audit"));
    let unrelated = test.store.ingest(&another).await.unwrap().id;
    let unrelated = unrelated.as_str();
    let second = test.store.ingest(&event(3)).await.unwrap().id;
    assert_eq!(
        ids_of(&test.store.unrouted(1).await.unwrap()),
        std::slice::from_ref(&first)
    );
    assert_eq!(
        ids_of(&other.unrouted(10).await.unwrap()),
        [unrelated],
        "the later event of the held audit waits"
    );
    test.store.mark_routed(&first, &[], &[]).await.unwrap();
    assert_eq!(
        ids_of(&other.unrouted(10).await.unwrap()),
        [unrelated, second.as_str()],
        "its own, and the one that waited"
    );
    other.close().await;
    test.store.close().await;
}

/// The clock of a machine two minutes fast.
fn two_minutes_ahead() -> i64 {
    now_ms() + 120_000
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_whose_clock_runs_ahead_keeps_the_others_leases_retries_and_pauses() {
    let test = Fresh::postgres().await;
    let mut fast = test.config.clone();
    fast.options.clock = two_minutes_ahead;
    let ahead = Store::open(&fast).await.unwrap();
    let delivered = Outcome::Delivered {
        status: Some(200),
        provider_id: None,
    };

    // By the fast clock the 30 s lease of a send in flight ran out long ago; by the
    // database's it has not.
    routed_to(&test.store, 1, "erp").await;
    let held = claim_now(&test.store, "erp")
        .await
        .expect("the head is due");
    let stolen = ahead
        .claim_next("erp", two_minutes_ahead(), LEASE, "relay-b")
        .await;
    assert!(stolen.unwrap().is_none(), "a lease still running was taken");
    assert!(
        test.store
            .finish(&held, &delivered, now_ms())
            .await
            .unwrap()
    );

    // What the fast relay routes is due now for the others, not in two minutes.
    routed_to(&ahead, 2, "erp").await;
    let due = claim_now(&test.store, "erp").await.expect("due at once");
    assert!(test.store.finish(&due, &delivered, now_ms()).await.unwrap());

    // A retry it schedules in 2 s (by its clock) is due 2 s later for the others.
    routed_to(&ahead, 3, "crm").await;
    let mine = ahead
        .claim_next("crm", two_minutes_ahead(), LEASE, "relay-b")
        .await
        .unwrap();
    let mine = mine.expect("its own delivery");
    let at = two_minutes_ahead();
    let retry = Outcome::Retry {
        at_ms: at + 2_000,
        status: Some(503),
        error: "busy".into(),
    };
    assert!(ahead.finish(&mine, &retry, at).await.unwrap());
    // Each relay shows that next attempt in its own clock.
    for (store, expected) in [(&ahead, at + 2_000), (&test.store, at - 120_000 + 2_000)] {
        let pending = store.deliveries_by_state(DeliveryState::Pending, 10).await;
        let pending = pending.unwrap();
        let shown = pending.iter().find(|d| d.id == mine.delivery_id).unwrap();
        assert!(
            shown.next_attempt_at.abs_diff(expected) < 250,
            "shown {}, expected about {expected}",
            shown.next_attempt_at
        );
    }
    assert!(
        claim_now(&test.store, "crm").await.is_none(),
        "the retry is not due yet"
    );
    claimable_soon(&test.store, "crm", "the retry due for the other relay").await;

    // A Retry-After pause of 2 s it records holds the others for 2 s, not two minutes.
    routed_to(&test.store, 4, "ops").await;
    let pause_end = two_minutes_ahead() + 2_000;
    ahead.block_target("ops", pause_end).await.unwrap();
    assert!(
        claim_now(&test.store, "ops").await.is_none(),
        "the pause holds"
    );
    claimable_soon(&test.store, "ops", "the pause over for the other relay").await;
    ahead.close().await;
    test.store.close().await;
}

/// The head of `target`'s lane, claimed now by the relay on the right clock.
async fn claim_now(store: &Store, target: &str) -> Option<mqa_relay::store::Claim> {
    store
        .claim_next(target, now_ms(), LEASE, "relay-a")
        .await
        .unwrap()
}

/// Waits (10 s at most: seconds, where a clock two minutes off would take minutes) until
/// `target`'s head can be claimed now.
async fn claimable_soon(store: &Store, target: &str, what: &str) {
    eventually_within(what, Duration::from_secs(10), async || {
        claim_now(store, target).await
    })
    .await;
}

/// Event `n`, about an audit of its own (so routers need not take the events in turn).
fn own_audit(n: u64) -> mqa_relay::event::Event {
    let mut e = event(n);
    e.data
        .insert("auditId".into(), serde_json::json!(format!("audit-{n}")));
    e
}

fn ids_of(events: &[mqa_relay::store::StoredEvent]) -> Vec<String> {
    events.iter().map(|e| e.id.clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fifo_lanes_head_waits_while_a_later_delivery_is_in_flight() {
    let test = Fresh::postgres().await;
    routed_to(&test.store, 1, "erp").await;
    routed_to(&test.store, 2, "erp").await;
    // As when two relays' commits land in the other order from their ids: the later delivery
    // is claimed and being sent by another relay when the earlier-numbered one appears.
    let t = now_ms();
    test.schema()
        .execute(&format!(
            "UPDATE deliveries SET state = 'sending', lease_owner = 'relay-b', \
             lease_until = {}, lease_seq = 1, attempts = 1 \
             WHERE id = (SELECT MAX(id) FROM deliveries)",
            t + 30_000
        ))
        .await;
    let claimed = test
        .store
        .claim_next("erp", t, LEASE, "relay-a")
        .await
        .unwrap();
    assert!(
        claimed.is_none(),
        "a second send started while one was in flight: {claimed:?}"
    );
    // And the lane is told to look again when that send's lease ends, not at once (it would
    // claim in a loop meanwhile).
    let due = test.store.next_due_at("erp").await.unwrap();
    let due = due.expect("a lane with work");
    assert!(due >= t + 29_000, "due at {due}, {} ms from now", due - t);
    // Once that send's lease has run out (its relay died), the lane goes on with its head.
    test.schema()
        .execute(
            "UPDATE deliveries SET lease_until = 0 WHERE id = (SELECT MAX(id) FROM deliveries)",
        )
        .await;
    let head = test
        .store
        .claim_next("erp", t, LEASE, "relay-a")
        .await
        .unwrap()
        .expect("the head is due now");
    assert_eq!(head.event.event.data["sequence"], serde_json::json!(1));
    test.store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_event_ends_its_delivery_dead_and_the_lane_goes_on() {
    let test = Fresh::postgres().await;
    routed_to(&test.store, 1, "erp").await;
    let broken = routed_to(&test.store, 2, "erp").await;
    routed_to(&test.store, 3, "erp").await;
    // Another relay has none of these events in memory: its claims read them.
    let other = Store::open(&test.config).await.unwrap();
    test.schema()
        .execute(&format!(
            "UPDATE events SET body = 'not json' WHERE id = '{broken}'"
        ))
        .await;
    let t = now_ms();
    let head = other
        .claim_next("erp", t, LEASE, "relay-b")
        .await
        .unwrap()
        .expect("the head is due");
    let delivered = Outcome::Delivered {
        status: Some(200),
        provider_id: None,
    };
    let (applied, next) = other
        .finish_and_claim_next(&head, &delivered, t + 1, LEASE, "relay-b")
        .await
        .expect("the outcome and the claim are written");
    assert!(applied, "the outcome was committed");
    assert!(next.is_none(), "the unreadable one is not handed out");
    let dead = other
        .deliveries_by_state(DeliveryState::Dead, 10)
        .await
        .unwrap();
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0].event_id, broken);
    let error = dead[0].last_error.clone().unwrap_or_default();
    assert!(error.contains("cannot be sent"), "{error}");
    let attempts = test
        .schema()
        .number(&format!(
            "SELECT COUNT(*) FROM attempts WHERE delivery_id = {} AND outcome = 'dead' \
             AND error LIKE 'cannot be sent%'",
            dead[0].id
        ))
        .await;
    assert_eq!(attempts, 1, "its attempt row says why");
    let third = other
        .claim_next("erp", t + 2, LEASE, "relay-b")
        .await
        .unwrap()
        .expect("the lane goes on with the next one");
    assert_eq!(third.event.event.data["sequence"], serde_json::json!(3));
    other.close().await;
    test.store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_of_a_newer_schema_is_refused_and_a_current_one_opened_again() {
    let test = Fresh::postgres().await;
    let again = Store::open(&test.config)
        .await
        .expect("a second relay opens it");
    again.close().await;
    test.schema()
        .execute("UPDATE schema_version SET version = version + 1")
        .await;
    let refused = Store::open(&test.config).await.err().expect("refused");
    assert!(matches!(refused, StoreError::Other(_)), "{refused:?}");
    assert!(
        refused.to_string().contains("newer than this relay's"),
        "{refused}"
    );
    test.store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_cut_under_the_store_refuse_writes_then_recover_by_themselves() {
    let test = Fresh::postgres().await;
    let stored = test.store.ingest(&event(1)).await.unwrap();
    assert!(!stored.duplicate);
    let cut = test.schema().cut_connections().await;
    assert!(
        cut >= 1,
        "no connection of the store was cut: nothing was tested"
    );

    // A write is either stored or refused as unavailable (never another error, never "stored"
    // when it was not), and the writer connects again by itself.
    let mut recovered = None;
    for n in 2..200u64 {
        match test.store.ingest(&event(n)).await {
            Ok(ingested) => {
                recovered = Some(ingested);
                break;
            }
            Err(StoreError::Unavailable(_)) => {}
            Err(other) => panic!("a lost connection is not {other:?}"),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let recovered = recovered.expect("the store recovered within 200 tries");
    assert!(!recovered.duplicate);
    // Reads recover too, and see everything that was acknowledged.
    let mut counts = None;
    for _ in 0..50 {
        if let Ok(c) = test.store.counts().await {
            counts = Some(c);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let counts = counts.expect("reads recovered");
    // A write refused while its commit was on the wire may have been stored all the same (it
    // is then MonitorQA's retry that finds it): at least what was acknowledged is there.
    assert!(counts.events >= 2, "{counts:?}");
    for id in [&stored.id, &recovered.id] {
        assert!(test.store.event(id).await.unwrap().is_some(), "{id} lost");
    }
    test.store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_relays_keep_one_pace_for_a_target_between_them() {
    let test = Fresh::postgres().await;
    let other = Store::open(&test.config).await.unwrap();
    for n in 0..3 {
        routed_to(&test.store, n, "chat").await;
    }
    // Two sends a second (500 ms apart), unordered, asking for up to ten at a time.
    let spec = |owner: &str| ClaimSpec {
        target: "chat".into(),
        max: 10,
        ordered: false,
        now_ms: now_ms(),
        lease: LEASE,
        owner: owner.into(),
        pace_interval_us: Some(500_000),
    };
    let first = test
        .store
        .lane_write("chat", None, &[], Some(spec("a")), 0)
        .await
        .unwrap();
    assert_eq!(first.claims.len(), 1, "the pace allows one send now");
    let started = std::time::Instant::now();
    let second = other
        .lane_write("chat", None, &[], Some(spec("b")), 0)
        .await
        .unwrap();
    assert!(
        second.claims.is_empty(),
        "the other relay keeps the same pace"
    );
    let wait = second.paced_for_ms.expect("it is told how long to wait");
    assert!((400..=500).contains(&wait), "{wait} ms");
    // Polled: the other relay's next send is allowed once the interval has passed, not before.
    let mut claimed = None;
    for _ in 0..100 {
        let done = other
            .lane_write("chat", None, &[], Some(spec("b")), 0)
            .await
            .unwrap();
        if !done.claims.is_empty() {
            claimed = Some(done);
            break;
        }
        let ms = done.paced_for_ms.expect("paced, not empty").clamp(1, 100);
        tokio::time::sleep(Duration::from_millis(ms as u64)).await;
    }
    let claimed = claimed.expect("the pace let the next send go");
    assert_eq!(claimed.claims.len(), 1);
    assert!(
        started.elapsed() >= Duration::from_millis(480),
        "{:?}",
        started.elapsed()
    );
    other.close().await;
    test.store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_on_two_relays_at_once_deletes_each_finished_event_once() {
    let test = Fresh::postgres().await;
    let other = Store::open(&test.config).await.unwrap();
    for n in 0..30 {
        routed_to(&test.store, n, "erp").await;
        let delivered = Outcome::Delivered {
            status: Some(200),
            provider_id: None,
        };
        finish_head(&test.store, "erp", &delivered).await;
    }
    let later = now_ms() + 60_000;
    let (a, b) = tokio::join!(test.store.prune(later), other.prune(later));
    let (a, b) = (a.unwrap(), b.unwrap());
    // Whoever got there first pruned; the other found the round taken or nothing left.
    let rest = test.store.prune(later).await.unwrap();
    assert_eq!(a + b + rest, 30, "{a} + {b} + {rest}");
    assert_eq!(test.store.counts().await.unwrap().events, 0);
    other.close().await;
    test.store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_relays_replaying_one_dead_letter_at_once_replay_it_once() {
    let test = Fresh::postgres().await;
    let other = Store::open(&test.config).await.unwrap();
    for round in 0..10u64 {
        routed_to(&test.store, 100 + round, &format!("gone-{round}")).await;
        let dead = Outcome::Dead {
            status: Some(410),
            error: "gone".into(),
        };
        let claim = finish_head(&test.store, &format!("gone-{round}"), &dead).await;
        let at = now_ms();
        let (a, b) = tokio::join!(
            test.store.replay(claim.delivery_id, at),
            other.replay(claim.delivery_id, at)
        );
        let answers = [a, b];
        let replayed = answers.iter().filter(|r| matches!(r, Ok(Ok(_)))).count();
        assert_eq!(replayed, 1, "round {round}: {answers:?}");
        let refused = answers
            .iter()
            .any(|r| matches!(r, Ok(Err(DeadLetterError::AlreadyReplayed(..))) | Err(_)));
        assert!(refused, "round {round}: {answers:?}");
    }
    other.close().await;
    test.store.close().await;
}

/// The next nudge `heard`, waiting at most 10 s.
async fn next_nudge(heard: &mut broadcast::Receiver<Nudge>) -> Nudge {
    tokio::time::timeout(Duration::from_secs(10), heard.recv())
        .await
        .expect("a nudge within 10 s")
        .expect("the store still listens")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_hears_of_the_work_another_gives_a_lane_and_not_of_its_own() {
    let test = Fresh::postgres().await;
    let other = Store::open(&test.config).await.unwrap();
    let mut first_hears = test
        .store
        .nudges()
        .expect("a database store hears other relays");
    let mut other_hears = other.nudges().unwrap();
    // Relays of another schema in the same database (other tests run beside this one).
    let elsewhere = Fresh::postgres().await;
    let mut elsewhere_hears = elsewhere.store.nudges().unwrap();
    // Each says when it listens: what was notified before is not coming.
    assert_eq!(next_nudge(&mut first_hears).await, Nudge::Everything);
    assert_eq!(next_nudge(&mut other_hears).await, Nudge::Everything);
    assert_eq!(next_nudge(&mut elsewhere_hears).await, Nudge::Everything);

    let first_event = routed_to(&test.store, 1, "erp").await;
    assert_eq!(
        next_nudge(&mut other_hears).await,
        Nudge::Lane("erp".into())
    );

    // A dead letter the other relay replays: the first relay's lane hears of it, and its own
    // routing to `erp` was not among what it heard.
    routed_to(&test.store, 2, "gone").await;
    assert_eq!(
        next_nudge(&mut other_hears).await,
        Nudge::Lane("gone".into())
    );
    let dead = Outcome::Dead {
        status: Some(410),
        error: "gone".into(),
    };
    let claim = finish_head(&test.store, "gone", &dead).await;
    other
        .replay(claim.delivery_id, now_ms())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        next_nudge(&mut first_hears).await,
        Nudge::Lane("gone".into())
    );
    assert!(
        first_hears.try_recv().is_err(),
        "nothing else was heard by the first relay"
    );

    // A claim given back (a relay shutting down) is heard too.
    let claim = other
        .claim_next("erp", now_ms(), LEASE, "relay-b")
        .await
        .unwrap()
        .expect("the erp delivery");
    assert!(other.release(&claim).await.unwrap());
    assert_eq!(
        next_nudge(&mut first_hears).await,
        Nudge::Lane("erp".into())
    );

    // An event the other relay routes again, to a lane of its own: heard too.
    let late = NewDelivery {
        rule: "late rule".into(),
        target: "late".into(),
        template: None,
        object: None,
    };
    let rerouted = other
        .reroute(&first_event, &[late], now_ms())
        .await
        .unwrap();
    assert_eq!(rerouted.map(|ids| ids.len()), Ok(1));
    assert_eq!(
        next_nudge(&mut first_hears).await,
        Nudge::Lane("late".into())
    );

    // Everything above was notified by now; none of it went to the other schema's relays.
    let heard_elsewhere =
        tokio::time::timeout(Duration::from_millis(300), elsewhere_hears.recv()).await;
    assert!(heard_elsewhere.is_err(), "{heard_elsewhere:?}");
    elsewhere.store.close().await;

    assert!(
        Fresh::sqlite().await.store.nudges().is_none(),
        "the embedded store has no other relay to hear"
    );
    other.close().await;
    test.store.close().await;
}
