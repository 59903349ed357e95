//! Three relays, the real binary, on one PostgreSQL database behind a round-robin "load
//! balancer": one is killed with SIGKILL in the middle of the stream and started again. Every
//! acknowledged event reaches the target, in order (`max_in_flight: 1`), and only the send the
//! kill interrupted may arrive twice. And a relay whose database is unreachable does not start;
//! a target's pace and pause hold across relays; of two relays, one looks each event up.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::support::mock::Answer;
use crate::support::monitorqa::MonitorqaApi;
use crate::support::postgres::Schema;
use crate::support::process::RelayProcess;
use crate::support::providers::WebhookReceiver;
use crate::support::relay::{TOKEN, numbered, seq_of, webhook_target, write_file};
use crate::support::wait::{eventually_within, sample};

const EVENTS: u64 = 3_000;
/// The killed relay's lease on the send it had in flight runs out after the target's timeout
/// plus 30 s; only then may another relay send that lane's head again.
const AFTER_THE_KILL: Duration = Duration::from_secs(120);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_relays_on_one_database_lose_nothing_when_one_is_killed_and_keep_the_order() {
    let schema = Schema::create().await;
    let erp = WebhookReceiver::start().await;
    let rules = format!(
        "server:\n  token: {TOKEN}\n  store: \"{}\"\n\
         targets:\n  erp: {{ kind: webhook, url: \"{}\", timeout: 2s, max_in_flight: 1, \
         retry: {{ initial: 100ms, max: 1s }} }}\n\
         rules:\n  - name: everything to the ERP\n    events: \"*\"\n    notify: [erp]\n",
        schema.url(),
        erp.url()
    );
    let dirs: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    for dir in &dirs {
        write_file(&dir.path().join("rules.yaml"), &rules);
    }
    let mut relays = Vec::new();
    for dir in &dirs {
        relays.push(Some(RelayProcess::start(dir.path(), 1, TOKEN).await));
    }

    let mut acknowledged = BTreeMap::new();
    for seq in 0..EVENTS {
        let replica = (seq % 3) as usize;
        if seq == EVENTS / 3 {
            // The killed relay's in-flight send, if any, is the only one that may repeat.
            if let Some(relay) = relays[1].take() {
                relay.signal("KILL");
            }
        }
        if seq == EVENTS / 2 {
            relays[1] = Some(RelayProcess::start(dirs[1].path(), 2, TOKEN).await);
        }
        let Some(relay) = relays[replica].as_ref() else {
            // The balancer skips the relay that is down, as a health check would.
            let other = relays[0].as_ref().expect("relay 0 runs");
            acknowledged.insert(seq, other.ack(&numbered(seq)).await);
            continue;
        };
        acknowledged.insert(seq, relay.ack(&numbered(seq)).await);
    }

    eventually_within("every event at the ERP", AFTER_THE_KILL, async || {
        let got = erp.received();
        let distinct: std::collections::BTreeSet<u64> =
            got.iter().map(|r| seq_of(&r.json())).collect();
        (distinct.len() as u64 == EVENTS).then_some(())
    })
    .await;
    // A moment more, so that a late duplicate would be seen.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let arrivals: Vec<u64> = erp.received().iter().map(|r| seq_of(&r.json())).collect();
    assert!(arrivals.len() >= EVENTS as usize);

    let mut times: BTreeMap<u64, usize> = BTreeMap::new();
    for seq in &arrivals {
        *times.entry(*seq).or_default() += 1;
    }
    let missing: Vec<&u64> = acknowledged
        .keys()
        .filter(|s| !times.contains_key(s))
        .collect();
    assert!(
        missing.is_empty(),
        "acknowledged, never delivered: {missing:?}"
    );
    let repeated: Vec<(&u64, &usize)> = times.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        repeated.len() <= 1 && repeated.iter().all(|(_, n)| **n == 2),
        "only the killed relay's one send in flight may repeat: {repeated:?}"
    );
    // Per-target order across the relays: first arrivals in the order of acknowledgement.
    let mut seen = std::collections::BTreeSet::new();
    let firsts: Vec<u64> = arrivals
        .iter()
        .copied()
        .filter(|s| seen.insert(*s))
        .collect();
    let mut sorted = firsts.clone();
    sorted.sort_unstable();
    assert!(
        firsts == sorted,
        "the lane's order was broken across relays"
    );
    drop(relays);
    drop(schema);
}

#[tokio::test]
async fn a_relay_whose_database_cannot_be_reached_exits_saying_so_without_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let rules = format!(
        "server:\n  token: {TOKEN}\n  store: postgres://relay:pw-secret-42@127.0.0.1:1/mqa\n\
         targets:\n  erp: {{ kind: webhook, url: \"http://127.0.0.1:1/hook\" }}\n\
         rules:\n  - name: all\n    events: \"*\"\n    notify: [erp]\n"
    );
    write_file(&dir.path().join("rules.yaml"), &rules);
    let (code, log) = crate::support::process::serve_refused(dir.path(), 1, TOKEN).await;
    assert_eq!(code, Some(1), "{log}");
    assert!(
        log.contains("cannot open the store postgres://127.0.0.1:1/mqa"),
        "{log}"
    );
    assert!(log.contains("Connection refused"), "{log}");
    assert!(!log.contains("pw-secret-42"), "{log}");
    assert!(!log.contains("listening on"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_relays_keep_a_targets_rate_limit_and_its_429_pause_together() {
    let schema = Schema::create().await;
    let chat = WebhookReceiver::start().await;
    // The first send is refused with a three-second pause; it holds every relay, and when it
    // ends all three relays have messages to send (four at a time each, were it not for the
    // pace they share).
    chat.script([crate::support::mock::Answer::retry_after(429, 3)]);
    let rules = format!(
        "server:\n  token: {TOKEN}\n  store: \"{}\"\n\
         targets:\n  chat: {{ kind: webhook, url: \"{}\", rate_limit: 2/s, max_in_flight: 4, \
         retry: {{ initial: 100ms, max: 1s }} }}\n\
         rules:\n  - name: all\n    events: \"*\"\n    notify: [chat]\n",
        schema.url(),
        chat.url()
    );
    let dirs: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let mut relays = Vec::new();
    for (i, dir) in dirs.iter().enumerate() {
        write_file(&dir.path().join("rules.yaml"), &rules);
        relays.push(RelayProcess::start(dir.path(), i as u32 + 1, TOKEN).await);
    }
    const SENT: u64 = 7;
    for seq in 0..SENT {
        relays[(seq % 3) as usize].ack(&numbered(seq)).await;
    }
    let deadline = Duration::from_secs(60);
    eventually_within("every message at the chat", deadline, async || {
        (chat.received().len() as u64 > SENT).then_some(())
    })
    .await;
    let got = chat.received();
    let gaps: Vec<Duration> = got.windows(2).map(|w| w[1].at - w[0].at).collect();
    assert!(
        gaps[0] >= Duration::from_millis(2_900),
        "the 429's pause held every relay: {gaps:?}"
    );
    // The shared pace spaces the sends' starts 500 ms apart. An arrival may be late by the
    // machine's scheduling (then the next one, sent on time, follows it closely), so each
    // arrival is held to the pace counted from every earlier one, less 450 ms for lateness:
    // an unpaced lane fails at once, a 3/s pace from the fourth message on.
    let after_pause = &got[1..];
    for (i, early) in after_pause.iter().enumerate() {
        for (j, late) in after_pause.iter().enumerate().skip(i + 1) {
            let paced = Duration::from_millis(500 * (j - i) as u64)
                .saturating_sub(Duration::from_millis(450));
            assert!(
                late.at - early.at >= paced,
                "two a second across the three relays: arrivals {i} and {j} {:?} apart; gaps {gaps:?}",
                late.at - early.at
            );
        }
    }
    drop(relays);
    drop(schema);
}

/// Two relays on one database with MonitorQA lookups that take 1.5 s each: every event is
/// looked up once, by the relay whose router took it, and delivered once. Without the
/// router's lease the other relay's router, which looks every second, would find each event
/// still unrouted and look it up as well.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_relays_look_each_event_up_once_and_deliver_it_once() {
    const EVENTS: u64 = 8;
    let schema = Schema::create().await;
    let erp = WebhookReceiver::start().await;
    let api = MonitorqaApi::start("lookup-key").await;
    let audit_id = |n: u64| format!("d6f4b0a5-7e8c-4b1d-8f3a-4c5d6e7f{n:04}");
    for n in 0..EVENTS {
        let mut audit = sample("audit_completed")["data"].clone();
        audit["id"] = audit_id(n).into();
        api.with(|a| a.add_audit(&audit_id(n), audit));
    }
    api.always(Answer::slow(Duration::from_millis(1_500)));
    let rules = format!(
        "server:\n  token: {TOKEN}\n  store: \"{}\"\n\
         monitorqa: {{ api_key: lookup-key, base_url: \"{}\" }}\n\
         targets:\n  erp: {}\n\
         rules:\n  - name: everything to the ERP\n    events: \"*\"\n    notify: [erp]\n",
        schema.url(),
        api.base_url(),
        webhook_target(&erp.url(), "")
    );
    let dirs: Vec<tempfile::TempDir> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    let mut relays = Vec::new();
    for dir in &dirs {
        write_file(&dir.path().join("rules.yaml"), &rules);
        relays.push(RelayProcess::start(dir.path(), 1, TOKEN).await);
    }
    for n in 0..EVENTS {
        let mut event = numbered(n);
        event["data"]["auditId"] = audit_id(n).into();
        relays[(n % 2) as usize].ack(&event).await;
    }
    eventually_within(
        "every event at the ERP",
        Duration::from_secs(30),
        async || (erp.received().len() as u64 >= EVENTS).then_some(()),
    )
    .await;
    // A second relay's router looks every second and a lookup takes 1.5 s: a second lookup of
    // an event would have arrived before the first one's answer let the event be sent. Every
    // lookup answered, nothing more is coming.
    eventually_within(
        "every lookup answered",
        Duration::from_secs(10),
        async || api.received().iter().all(|r| r.answered).then_some(()),
    )
    .await;
    let lookups: Vec<String> = api.received().iter().map(|r| r.path.clone()).collect();
    let mut distinct = lookups.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len() as u64, EVENTS, "{lookups:?}");
    assert_eq!(
        lookups.len(),
        distinct.len(),
        "an audit was looked up twice: {lookups:?}"
    );
    let mut seqs: Vec<u64> = erp.received().iter().map(|r| seq_of(&r.json())).collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (0..EVENTS).collect::<Vec<_>>(), "each event once");
}
