//! A crash in the middle of the work: the real binary is killed with SIGKILL while it
//! acknowledges and delivers a stream of events, then started again on the same store.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use mqa_relay::store::DeliveryState;

use crate::harness::{
    TOKEN, deliveries_of, eventually, numbered, seq_of, wait_settled, write_file,
};
use crate::process::{RelayProcess, open_store};
use crate::slow::SlowReceiver;

/// The restarted relay takes back what the killed one had in flight at once, but drains a
/// backlog through a slow receiver: more than the usual deadline.
const AFTER_RESTART: Duration = Duration::from_secs(60);

#[tokio::test]
async fn after_sigkill_every_acknowledged_event_arrives_and_only_the_interrupted_send_repeats() {
    let receiver = SlowReceiver::start(Duration::from_millis(150)).await;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let rules = format!(
        "server:\n  token: {token}\n\
         targets:\n  erp: {{ kind: webhook, url: \"{url}\", timeout: 2s, \
         retry: {{ initial: 100ms, max: 1s }} }}\n\
         rules:\n  - name: everything to the ERP\n    events: \"*\"\n    notify: [erp]\n",
        token = crate::harness::TOKEN,
        url = receiver.url()
    );
    write_file(&dir.path().join("rules.yaml"), &rules);
    let relay = RelayProcess::start(dir.path(), 1, TOKEN).await;

    // A backlog first, then more events posted while the relay is killed.
    let mut acknowledged = BTreeMap::new();
    for seq in 0..25 {
        acknowledged.insert(seq, relay.ack(&numbered(seq)).await);
    }
    eventually("the relay to be sending the backlog", async || {
        (receiver.arrivals().len() >= 5).then_some(())
    })
    .await;
    let (late, ()) = tokio::join!(post_until_refused(&relay, 25..60), async {
        tokio::time::sleep(Duration::from_millis(150)).await;
        relay.signal("KILL");
    });
    acknowledged.extend(late);
    drop(relay); // reaps the killed process
    // A request the relay wrote just before it died may still be in the receiver's socket.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before_kill = receiver.arrivals();
    assert!(
        before_kill.len() < acknowledged.len(),
        "the kill came after all the work was done; nothing was tested"
    );

    let _relay = RelayProcess::start(dir.path(), 2, TOKEN).await;
    let store = open_store(&dir.path().join("data")).await;
    let counts = wait_settled(&store, AFTER_RESTART).await;
    let arrivals = receiver.arrivals();
    let mut times: BTreeMap<u64, usize> = BTreeMap::new();
    for arrival in &arrivals {
        *times.entry(seq_of(&arrival.body)).or_default() += 1;
    }

    let missing: Vec<&u64> = acknowledged
        .keys()
        .filter(|seq| !times.contains_key(seq))
        .collect();
    assert!(
        missing.is_empty(),
        "acknowledged but never delivered: {missing:?}"
    );
    assert_eq!(counts.dead, 0, "{counts:?}");
    assert_eq!(
        counts.delivered, counts.events,
        "one delivery per event: {counts:?}"
    );

    let repeated: BTreeSet<u64> = times
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(s, _)| *s)
        .collect();
    assert!(
        times.values().all(|n| *n <= 2) && repeated.len() <= 1,
        "one lane has at most one send in flight, so at most one event may arrive twice: {times:?}"
    );
    let cut_off = before_kill.last().filter(|a| !a.answered);
    if let Some(cut_off) = cut_off {
        assert!(
            repeated.contains(&seq_of(&cut_off.body)),
            "a send cut off before its answer is sent again: {times:?}"
        );
    }
    if let Some(&seq) = repeated.first() {
        let last_before_kill = before_kill.last().map(|a| seq_of(&a.body));
        assert_eq!(
            Some(seq),
            last_before_kill,
            "the repeated event is the one whose send the kill interrupted"
        );
        let id = &acknowledged[&seq];
        let deliveries = deliveries_of(&store, id).await;
        assert_eq!(deliveries.len(), 1);
        assert_eq!(deliveries[0].state, DeliveryState::Delivered);
        assert_eq!(
            deliveries[0].attempts, 2,
            "the interrupted send was claimed, then claimed again after the restart"
        );
    }
    store.close().await;
}

/// Posts events `seqs` one after another until the relay stops answering; returns the ones it
/// acknowledged.
async fn post_until_refused(
    relay: &RelayProcess,
    seqs: std::ops::Range<u64>,
) -> BTreeMap<u64, String> {
    let mut acknowledged = BTreeMap::new();
    for seq in seqs {
        match relay.post(&numbered(seq)).await {
            Ok((202, body)) => {
                let id = body["id"].as_str().expect("an event id").to_string();
                acknowledged.insert(seq, id);
            }
            Ok((status, body)) => panic!("the relay answered {status}: {body}"),
            Err(_) => break,
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    acknowledged
}
