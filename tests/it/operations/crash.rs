//! A crash in the middle of the work: the real binary is killed with SIGKILL while it
//! acknowledges and delivers a stream of events, then started again on the same store. With
//! one send in flight per target at most the interrupted send repeats; with `max_in_flight: 4`
//! at most four do.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use mqa_relay::store::{DeliveryState, Store, StoreCounts};

use crate::support::mock::{Mock, Recorded};
use crate::support::process::{RelayProcess, open_store};
use crate::support::providers::WebhookReceiver;
use crate::support::relay::{TOKEN, deliveries_of, numbered, seq_of, wait_settled, write_file};
use crate::support::wait::eventually;

/// The restarted relay takes back what the killed one had in flight at once, but drains a
/// backlog through a slow receiver: more than the usual deadline.
const AFTER_RESTART: Duration = Duration::from_secs(60);

/// What a kill in the middle of a stream left behind, once the restarted relay settled.
struct Crash {
    /// Sequence number → event id of every event the relay acknowledged.
    acknowledged: BTreeMap<u64, String>,
    /// What the receiver had seen when the relay died.
    before_kill: Vec<Recorded>,
    /// How often each event arrived, over both runs.
    times: BTreeMap<u64, usize>,
    counts: StoreCounts,
    store: Store,
    _dir: tempfile::TempDir,
    _relay: RelayProcess,
    _receiver: Mock<WebhookReceiver>,
}

impl Crash {
    /// The events that arrived more than once.
    fn repeated(&self) -> BTreeSet<u64> {
        self.times
            .iter()
            .filter(|(_, n)| **n > 1)
            .map(|(s, _)| *s)
            .collect()
    }

    /// No acknowledged event is missing, none is dead, each has its one delivery.
    fn assert_nothing_lost(&self) {
        let missing: Vec<&u64> = self
            .acknowledged
            .keys()
            .filter(|seq| !self.times.contains_key(seq))
            .collect();
        assert!(
            missing.is_empty(),
            "acknowledged but never delivered: {missing:?}"
        );
        assert_eq!(self.counts.dead, 0, "{:?}", self.counts);
        assert_eq!(
            self.counts.delivered, self.counts.events,
            "one delivery per event: {:?}",
            self.counts
        );
    }
}

/// Starts the real binary with one webhook target (`max_in_flight` sends at once) behind a
/// receiver that takes 150 ms per answer, posts a backlog, kills the relay with SIGKILL while
/// it sends and while events are still being posted, restarts it on the same store and waits
/// until everything is settled.
async fn kill_mid_stream(max_in_flight: usize) -> Crash {
    let receiver = WebhookReceiver::start_slow(Duration::from_millis(150)).await;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let rules = format!(
        "server:\n  token: {token}\n\
         targets:\n  erp: {{ kind: webhook, url: \"{url}\", timeout: 2s, \
         max_in_flight: {max_in_flight}, retry: {{ initial: 100ms, max: 1s }} }}\n\
         rules:\n  - name: everything to the ERP\n    events: \"*\"\n    notify: [erp]\n",
        token = crate::support::relay::TOKEN,
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
        (receiver.received().len() >= 5).then_some(())
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
    let before_kill = receiver.received();
    assert!(
        before_kill.len() < acknowledged.len(),
        "the kill came after all the work was done; nothing was tested"
    );

    let relay = RelayProcess::start(dir.path(), 2, TOKEN).await;
    let store = open_store(&dir.path().join("data")).await;
    let counts = wait_settled(&store, AFTER_RESTART).await;
    let mut times: BTreeMap<u64, usize> = BTreeMap::new();
    for arrival in &receiver.received() {
        *times.entry(seq_of(&arrival.json())).or_default() += 1;
    }
    Crash {
        acknowledged,
        before_kill,
        times,
        counts,
        store,
        _dir: dir,
        _relay: relay,
        _receiver: receiver,
    }
}

#[tokio::test]
async fn after_sigkill_every_acknowledged_event_arrives_and_only_the_interrupted_send_repeats() {
    let crash = kill_mid_stream(1).await;
    crash.assert_nothing_lost();
    let repeated = crash.repeated();
    assert!(
        crash.times.values().all(|n| *n <= 2) && repeated.len() <= 1,
        "one lane has at most one send in flight, so at most one event may arrive twice: {:?}",
        crash.times
    );
    let cut_off = crash.before_kill.last().filter(|a| !a.answered);
    if let Some(cut_off) = cut_off {
        assert!(
            repeated.contains(&seq_of(&cut_off.json())),
            "a send cut off before its answer is sent again: {:?}",
            crash.times
        );
    }
    if let Some(&seq) = repeated.first() {
        let last_before_kill = crash.before_kill.last().map(|a| seq_of(&a.json()));
        assert_eq!(
            Some(seq),
            last_before_kill,
            "the repeated event is the one whose send the kill interrupted"
        );
        let id = &crash.acknowledged[&seq];
        let deliveries = deliveries_of(&crash.store, id).await;
        assert_eq!(deliveries.len(), 1);
        assert_eq!(deliveries[0].state, DeliveryState::Delivered);
        assert_eq!(
            deliveries[0].attempts, 2,
            "the interrupted send was claimed, then claimed again after the restart"
        );
    }
    crash.store.close().await;
}

#[tokio::test]
async fn after_sigkill_with_four_sends_in_flight_nothing_is_lost_and_at_most_four_repeat() {
    let crash = kill_mid_stream(4).await;
    crash.assert_nothing_lost();
    let repeated = crash.repeated();
    assert!(
        crash.times.values().all(|n| *n <= 2) && repeated.len() <= 4,
        "at most max_in_flight (4) events may arrive twice, each at most twice: {:?}",
        crash.times
    );
    // Only sends the kill interrupted repeat: each repeated event was among the last four to
    // reach the receiver before the kill.
    let last_four: BTreeSet<u64> = crash
        .before_kill
        .iter()
        .rev()
        .take(4)
        .map(|a| seq_of(&a.json()))
        .collect();
    assert!(
        repeated.is_subset(&last_four),
        "repeated {repeated:?}, but the last sends before the kill were {last_four:?}"
    );
    // A send cut off before its answer is sent again.
    for cut_off in crash.before_kill.iter().filter(|a| !a.answered) {
        let seq = seq_of(&cut_off.json());
        assert!(
            repeated.contains(&seq),
            "{seq} was cut off: {:?}",
            crash.times
        );
    }
    for seq in &repeated {
        let deliveries = deliveries_of(&crash.store, &crash.acknowledged[seq]).await;
        assert_eq!(deliveries.len(), 1);
        assert_eq!(deliveries[0].state, DeliveryState::Delivered);
        assert_eq!(
            deliveries[0].attempts, 2,
            "{seq}: claimed again after the restart"
        );
    }
    crash.store.close().await;
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
