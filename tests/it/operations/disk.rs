//! The store's disk full: intake refuses events with 503 (and Retry-After) instead of
//! acknowledging what it could not store, readiness says so, and everything works again once
//! space returns.
//!
//! The store lives on a small tmpfs mounted by the test (the tests run as root); a file fills
//! it (to the last byte, or but for a small gap that the events then fill) and is deleted to
//! free the space.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use mqa_relay::store::DeliveryState;

use std::time::Duration;

use crate::support::process::{RelayProcess, open_store};
use crate::support::providers::WebhookReceiver;
use crate::support::relay::{
    Spec, TOKEN, TestRelay, numbered, seq_of, spawn_relay, wait_deliveries, webhook_target,
    write_file,
};
use crate::support::wait::eventually;

/// Free space left when the disk is filled while events arrive: room for a few events.
const GAP: u64 = 96 * 1024;

/// A tmpfs mounted for one test; unmounted when dropped.
struct Tmpfs {
    path: PathBuf,
}

impl Tmpfs {
    /// Mounts a tmpfs of `size` (e.g. "8m") at `path`; `Err` says why it could not.
    fn mount(path: &Path, size: &str) -> Result<Tmpfs, String> {
        std::fs::create_dir_all(path).map_err(|e| e.to_string())?;
        let output = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(path)
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !output.status.success() {
            return Err(String::from_utf8_lossy(&output.stderr).trim().to_string());
        }
        Ok(Tmpfs {
            path: path.to_path_buf(),
        })
    }

    /// Fills the file system, then frees `gap` bytes at the end of the filler; returns its
    /// path. Writes into the gap then run out of space part-way, as they do on a real disk.
    fn fill_leaving(&self, gap: u64) -> PathBuf {
        let path = self.fill();
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .expect("open the filler");
        let size = file.metadata().expect("the filler's size").len();
        file.set_len(size.saturating_sub(gap))
            .expect("shorten the filler");
        path
    }

    /// Writes a file until the file system has no byte left; returns its path.
    fn fill(&self) -> PathBuf {
        let path = self.path.join("filler");
        let mut file = std::fs::File::create(&path).expect("create the filler");
        for chunk in [1 << 20, 1 << 12, 1] {
            let bytes = vec![0u8; chunk];
            // A tmpfs of a few MiB takes at most a few thousand chunks of each size.
            for _ in 0..100_000 {
                if file.write_all(&bytes).and_then(|()| file.flush()).is_err() {
                    break;
                }
            }
        }
        assert!(
            file.write_all(&[0]).is_err(),
            "the file system is still not full"
        );
        path
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        // Lazy, so it succeeds even if something still holds a file open.
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

/// Posts numbered events from `first` on until one is refused (at most 500); returns the ids
/// of those acknowledged and the number of the refused one.
async fn post_until_refused(relay: &TestRelay, first: u64) -> (Vec<String>, u64) {
    let mut acked = Vec::new();
    for seq in first..first + 500 {
        let answer = relay.post(&numbered(seq)).await;
        match answer.status {
            202 => acked.push(answer.body["id"].as_str().expect("an id").to_string()),
            503 => return (acked, seq),
            _ => panic!("event {seq} while the disk fills: {answer:?}"),
        }
    }
    panic!("500 events were acknowledged on a disk that was nearly full");
}

#[tokio::test]
async fn a_full_disk_refuses_events_with_503_and_the_relay_recovers_when_space_returns() {
    let base = tempfile::tempdir().expect("a temporary directory");
    let disk = match Tmpfs::mount(&base.path().join("disk"), "8m") {
        Ok(disk) => disk,
        Err(why) => panic!("this test mounts a tmpfs to fill, so it needs root: {why}"),
    };
    let erp = WebhookReceiver::start().await;
    let body = format!(
        "targets:\n  erp: {}\nrules:\n  - name: all\n    events: \"*\"\n    notify: [erp]\n",
        webhook_target(&erp.url(), "")
    );
    let data_dir = disk.path.join("data");
    let mut relay = spawn_relay(Spec {
        body: &body,
        data_dir: Some(data_dir.clone()),
        ..Spec::default()
    })
    .await;
    let first = relay.ack(&numbered(0)).await;
    wait_deliveries(relay.store(), &first, 1, DeliveryState::Delivered).await;

    // The disk fills while events arrive: the write that does not fit stops part-way.
    let filler = disk.fill_leaving(GAP);
    let (mut ids, refused) = post_until_refused(&relay, 1).await;
    ids.insert(0, first);
    // Every event is refused while the disk is full, not only the first ones, and readiness
    // says so every time, also when asked again and again with no event between.
    for seq in refused..refused + 12 {
        let answer = relay.post(&numbered(seq)).await;
        assert_eq!(answer.status, 503, "event {seq} on a full disk: {answer:?}");
        assert!(answer.retry_after.is_some(), "503 without Retry-After");
        let (status, ready) = relay.get_text("/readyz").await;
        assert_eq!(status, 503, "readiness on a full disk: {ready}");
    }
    for _ in 0..5 {
        let (status, ready) = relay.get_text("/readyz").await;
        assert_eq!(status, 503, "readiness asked again on a full disk: {ready}");
    }
    let answer = relay.post(&numbered(refused)).await;
    assert_eq!(
        answer.status, 503,
        "an event after the readiness checks: {answer:?}"
    );
    assert_eq!(
        relay.counts().await.events,
        ids.len() as u64,
        "a refused event was stored"
    );

    std::fs::remove_file(&filler).expect("free the space");
    // Readiness finds out by itself, within the request (a write probe), before any event
    // arrives: a load balancer that stopped sending on 503 would otherwise never send again.
    let (status, ready) = relay.get_text("/readyz").await;
    assert_eq!(
        status, 200,
        "readiness as soon as the disk has room: {ready}"
    );
    // MonitorQA retries each refused event until it is acknowledged.
    for seq in refused..refused + 4 {
        let id = eventually("the relay to acknowledge again", async || {
            let answer = relay.post(&numbered(seq)).await;
            (answer.status == 202).then(|| answer.body["id"].as_str().map(str::to_string))?
        })
        .await;
        ids.push(id);
    }
    let (status, ready) = relay.get_text("/readyz").await;
    assert_eq!(status, 200, "readiness once the disk has room: {ready}");
    for id in &ids {
        wait_deliveries(relay.store(), id, 1, DeliveryState::Delivered).await;
    }
    let seqs: Vec<u64> = erp.received().iter().map(|r| seq_of(&r.json())).collect();
    let expected: Vec<u64> = (0..refused + 4).collect();
    assert_eq!(seqs, expected, "each event delivered once, in order");

    // What was acknowledged is on disk: another store on the file sees it after the stop.
    relay.stop().await;
    let store = open_store(&data_dir).await;
    let counts = store.counts().await.expect("the store answers");
    let n = ids.len() as u64;
    assert_eq!((counts.events, counts.delivered), (n, n), "{counts:?}");
    store.close().await;
    drop(disk);
}

#[tokio::test]
async fn an_outcome_that_meets_a_full_disk_is_recorded_once_space_returns_and_nothing_is_sent_twice()
 {
    let receiver = WebhookReceiver::start_slow(Duration::from_millis(1000)).await;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let disk = match Tmpfs::mount(&dir.path().join("data"), "8m") {
        Ok(disk) => disk,
        Err(why) => panic!("this test mounts a tmpfs to fill, so it needs root: {why}"),
    };
    let rules = format!(
        "server:\n  token: {TOKEN}\n\
         targets:\n  erp: {{ kind: webhook, url: \"{}\", timeout: 5s, retry: {{ initial: 100ms }} }}\n\
         rules:\n  - name: all\n    events: \"*\"\n    notify: [erp]\n",
        receiver.url()
    );
    write_file(&dir.path().join("rules.yaml"), &rules);
    let mut relay = RelayProcess::start(dir.path(), 1, TOKEN).await;
    let first = relay.ack(&numbered(1)).await;
    eventually("the send to be in flight", async || {
        (!receiver.received().is_empty()).then_some(())
    })
    .await;

    // The target answers 200 while the disk is full: its outcome cannot be written, for
    // longer than the first quick tries take.
    let filler = disk.fill();
    relay.wait_log("cannot record the outcome", 1).await;
    std::fs::remove_file(&filler).expect("free the space");

    let store = open_store(&disk.path).await;
    let recorded = wait_deliveries(&store, &first, 1, DeliveryState::Delivered).await;
    assert_eq!(recorded[0].attempts, 1, "{recorded:?}");
    // The lane goes on, in order, and the first message was sent once.
    let second = relay.ack(&numbered(2)).await;
    wait_deliveries(&store, &second, 1, DeliveryState::Delivered).await;
    let seqs: Vec<u64> = receiver
        .received()
        .iter()
        .map(|a| seq_of(&a.json()))
        .collect();
    assert_eq!(seqs, [1, 2], "each event sent once, in order");
    relay.signal("TERM");
    assert_eq!(relay.wait_exit().await, Some(0), "{}", relay.log_text());
    store.close().await;
    drop(disk);
}
