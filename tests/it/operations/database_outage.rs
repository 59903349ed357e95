//! The database goes away under load and comes back: the real binary on the machine's
//! PostgreSQL, reached through a link the test cuts (every connection closed, new ones refused)
//! while events keep arriving. Meanwhile intake answers 503 and acknowledges nothing it did not
//! store, and `/readyz` says not ready; once the link is back both recover by themselves, in
//! the same process, and every acknowledged event reaches the target. With no event arriving,
//! readiness alone notices the database is gone, and that it is back.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::support::link::Link;
use crate::support::postgres::Schema;
use crate::support::process::RelayProcess;
use crate::support::providers::WebhookReceiver;
use crate::support::relay::{TOKEN, numbered, seq_of, write_file};
use crate::support::wait::eventually_within;

const EVENTS: u64 = 600;
/// Posts in flight at once from the load.
const SENDERS: u64 = 4;
const WAIT: Duration = Duration::from_secs(60);

/// What intake answered, by event number.
type Answers = Arc<Mutex<BTreeMap<u64, Vec<u16>>>>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_that_goes_away_under_load_gets_503s_and_recovers_without_a_restart() {
    let schema = Schema::create().await;
    let link = Link::to(schema.server()).await;
    let erp = WebhookReceiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    write_file(
        &dir.path().join("rules.yaml"),
        &format!(
            "server:\n  token: {TOKEN}\n  store: \"{}\"\n\
             targets:\n  erp: {{ kind: webhook, url: \"{}\", max_in_flight: 1, \
             retry: {{ initial: 100ms, max: 1s }} }}\n\
             rules:\n  - name: everything to the ERP\n    events: \"*\"\n    notify: [erp]\n",
            schema.url_through(link.addr()),
            erp.url()
        ),
    );
    let relay = Arc::new(RelayProcess::start(dir.path(), 1, TOKEN).await);
    let pid = relay.pid();

    // The load: event numbers taken in turn by a few concurrent posters, until all are posted.
    let answers: Answers = Arc::default();
    let next = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut load = tokio::task::JoinSet::new();
    for _ in 0..SENDERS {
        let (relay, answers, next) = (relay.clone(), answers.clone(), next.clone());
        load.spawn(async move {
            loop {
                let seq = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                if seq >= EVENTS {
                    return;
                }
                let (status, _) = relay.post(&numbered(seq)).await.expect("the relay answers");
                answers.lock().unwrap().entry(seq).or_default().push(status);
            }
        });
    }
    let answered = |answers: &Answers, status: u16| {
        let answers = answers.lock().unwrap();
        answers.values().filter(|s| s.contains(&status)).count()
    };

    eventually_within("a first share acknowledged", WAIT, async || {
        (answered(&answers, 202) >= 100).then_some(())
    })
    .await;
    link.go_down();
    let refused_before = answered(&answers, 503);
    eventually_within(
        "intake refusing while the database is away",
        WAIT,
        async || (answered(&answers, 503) >= refused_before + 20).then_some(()),
    )
    .await;
    eventually_within("/readyz not ready", WAIT, async || {
        let (status, body) = relay
            .call("GET", "/readyz", None, Duration::from_secs(10))
            .await
            .ok()?;
        (status == 503).then_some(body)
    })
    .await;
    let acked_during = answered(&answers, 202);
    link.come_up();
    eventually_within("/readyz ready again", WAIT, async || {
        let (status, _) = relay
            .call("GET", "/readyz", None, Duration::from_secs(10))
            .await
            .ok()?;
        (status == 200).then_some(())
    })
    .await;
    while load.join_next().await.is_some() {}
    assert!(
        link.refused() > 0,
        "the relay tried the database while it was away"
    );
    assert!(
        answered(&answers, 202) > acked_during,
        "intake takes events again once the database is back"
    );

    // MonitorQA posts every refused event again; now each is taken in.
    let refused: Vec<u64> = answers
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, s)| !s.contains(&202))
        .map(|(seq, s)| {
            assert!(s.iter().all(|st| *st == 503), "event {seq}: {s:?}");
            *seq
        })
        .collect();
    assert!(!refused.is_empty());
    for seq in &refused {
        relay.ack(&numbered(*seq)).await;
    }

    eventually_within("every event at the ERP", WAIT, async || {
        let got: BTreeSet<u64> = erp.received().iter().map(|r| seq_of(&r.json())).collect();
        (got.len() as u64 == EVENTS).then_some(())
    })
    .await;
    let mut times: BTreeMap<u64, usize> = BTreeMap::new();
    for r in erp.received() {
        *times.entry(seq_of(&r.json())).or_default() += 1;
    }
    let repeated: Vec<_> = times.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        repeated.len() <= 1,
        "only the one send in flight when the link went down may repeat: {repeated:?}"
    );
    assert_eq!(relay.pid(), pid, "the same process throughout");
    drop(relay);
    drop(link);
    drop(schema);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_notices_a_database_that_went_away_while_nothing_was_written() {
    let schema = Schema::create().await;
    let link = Link::to(schema.server()).await;
    let dir = tempfile::tempdir().unwrap();
    write_file(
        &dir.path().join("rules.yaml"),
        &format!(
            "server:\n  token: {TOKEN}\n  store: \"{}\"\n\
             targets:\n  erp: {{ kind: webhook, url: \"http://127.0.0.1:9/erp\" }}\n\
             rules:\n  - name: all\n    events: \"*\"\n    notify: [erp]\n",
            schema.url_through(link.addr()),
        ),
    );
    let relay = RelayProcess::start(dir.path(), 1, TOKEN).await;
    let readyz = async || {
        relay
            .call("GET", "/readyz", None, Duration::from_secs(10))
            .await
            .ok()
    };
    assert_eq!(readyz().await.map(|(s, _)| s), Some(200));

    // No event arrives: only readiness itself can find out.
    link.go_down();
    let body = eventually_within("/readyz not ready", WAIT, async || {
        let (status, body) = readyz().await?;
        (status == 503).then_some(body)
    })
    .await;
    assert_eq!(body["error"]["code"], "store_unreachable", "{body}");

    link.come_up();
    eventually_within("/readyz ready again", WAIT, async || {
        let (status, _) = readyz().await?;
        (status == 200).then_some(())
    })
    .await;
    relay.ack(&numbered(1)).await;
    drop(relay);
    drop(link);
    drop(schema);
}
