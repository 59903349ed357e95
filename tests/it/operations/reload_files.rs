//! Reloads that meet a hostile rules path, on the real binary: a FIFO, a link to `/dev/zero`,
//! a file far larger than any rules file, and a file system that never answers. Each reload
//! fails with a precise reason (or stays pending), the old rules keep serving, webhooks and
//! HTTP reloads are answered in bounded time, and SIGTERM stops the relay at every moment.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mqa_relay::store::DeliveryState;

use crate::support::process::{RelayProcess, open_store};
use crate::support::providers::WebhookReceiver;
use crate::support::relay::{ADMIN, TOKEN, numbered, wait_deliveries, webhook_target, write_file};
use crate::support::wait::eventually_within;

/// Writes a rules file (with an admin token) that sends every event to `url`.
fn write_rules(dir: &Path, url: &str) {
    let text = format!(
        "server:\n  token: {TOKEN}\n  admin_token: {ADMIN}\n\
         targets:\n  erp: {}\nrules:\n  - name: all\n    events: \"*\"\n    notify: [erp]\n",
        webhook_target(url, "")
    );
    write_file(&dir.join("rules.yaml"), &text);
}

/// Replaces the rules file by a symbolic link to `target`.
fn link_rules(dir: &Path, target: &Path) {
    let rules = dir.join("rules.yaml");
    std::fs::remove_file(&rules).expect("remove the rules file");
    std::os::unix::fs::symlink(target, &rules).expect("link the rules file");
}

/// An event posted now is acknowledged and delivered under the rules the relay started with.
async fn old_rules_keep_serving(relay: &RelayProcess, dir: &Path, seq: u64) {
    let id = relay.ack(&numbered(seq)).await;
    let store = open_store(&dir.join("data")).await;
    wait_deliveries(&store, &id, 1, DeliveryState::Delivered).await;
    store.close().await;
}

/// SIGTERM stops the relay cleanly within the process deadline.
async fn sigterm_stops(mut relay: RelayProcess) {
    relay.signal("TERM");
    assert_eq!(relay.wait_exit().await, Some(0), "{}", relay.log_text());
}

#[tokio::test]
async fn a_fifo_as_rules_file_fails_the_reload_and_sigterm_still_stops_the_relay() {
    let erp = WebhookReceiver::start().await;
    let dir = tempfile::tempdir().expect("a temporary directory");
    write_rules(dir.path(), &erp.url());
    let relay = RelayProcess::start(dir.path(), 1, TOKEN).await;

    let rules = dir.path().join("rules.yaml");
    std::fs::remove_file(&rules).expect("remove the rules file");
    let made = Command::new("mkfifo")
        .arg(&rules)
        .status()
        .expect("run mkfifo");
    assert!(made.success(), "mkfifo failed");
    relay.signal("HUP");
    relay.wait_log("reload failed", 1).await;
    let log = relay.log_text();
    assert!(
        log.contains(&format!(
            "cannot read {}: it is a FIFO (named pipe), not a regular file",
            rules.display()
        )),
        "{log}"
    );

    old_rules_keep_serving(&relay, dir.path(), 1).await;
    sigterm_stops(relay).await;
}

#[tokio::test]
async fn a_rules_file_linked_to_dev_zero_or_far_too_large_fails_the_reload_without_reading_it() {
    let erp = WebhookReceiver::start().await;
    let dir = tempfile::tempdir().expect("a temporary directory");
    write_rules(dir.path(), &erp.url());
    let relay = RelayProcess::start(dir.path(), 1, TOKEN).await;
    let rules = dir.path().join("rules.yaml");

    link_rules(dir.path(), Path::new("/dev/zero"));
    relay.signal("HUP");
    relay.wait_log("reload failed", 1).await;
    let log = relay.log_text();
    let device = format!(
        "cannot read {}: it is a character device, not a regular file",
        rules.display()
    );
    assert!(log.contains(&device), "{log}");

    // A regular file of 64 GiB of zeros (sparse: it takes no disk space).
    std::fs::remove_file(&rules).expect("remove the link");
    let huge = std::fs::File::create(&rules).expect("create the file");
    huge.set_len(64 << 30).expect("make it 64 GiB");
    relay.signal("HUP");
    relay.wait_log("reload failed", 2).await;
    let log = relay.log_text();
    let capped = format!(
        "cannot read {}: it is larger than 4 MiB, the most a rules file or template may hold",
        rules.display()
    );
    assert!(log.contains(&capped), "{log}");
    let peak = relay.peak_rss();
    assert!(
        peak < 256 << 20,
        "the relay's memory peaked at {peak} bytes"
    );

    old_rules_keep_serving(&relay, dir.path(), 1).await;
    sigterm_stops(relay).await;
}

#[tokio::test]
async fn a_reload_stuck_on_a_hung_file_system_leaves_reloads_webhooks_and_sigterm_working() {
    let erp = WebhookReceiver::start().await;
    let dir = tempfile::tempdir().expect("a temporary directory");
    write_rules(dir.path(), &erp.url());
    let relay = RelayProcess::start(dir.path(), 1, TOKEN).await;
    let hung = HungMount::mount(&dir.path().join("hung")).await;
    link_rules(dir.path(), &hung.path.join("rules.yaml"));

    // The first reload never gets an answer from the file system; its HTTP request is
    // answered once the reload's time is up, and the reload goes on in the background.
    let started = Instant::now();
    let (status, body) = reload_over_http(&relay).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (503, Some("reload_timeout")),
        "{body}"
    );
    assert!(started.elapsed() < Duration::from_secs(15), "{started:?}");
    // Later reloads do not queue threads behind it: HTTP is refused at once, SIGHUP says so.
    let started = Instant::now();
    let (status, body) = reload_over_http(&relay).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (503, Some("reload_in_progress")),
        "{body}"
    );
    assert!(started.elapsed() < Duration::from_secs(2), "{started:?}");
    relay.signal("HUP");
    relay.wait_log("a reload is already running", 1).await;

    old_rules_keep_serving(&relay, dir.path(), 1).await;
    sigterm_stops(relay).await;
    drop(hung);
}

/// `POST /-/reload` with the admin token; panics if no answer comes within 20 s.
async fn reload_over_http(relay: &RelayProcess) -> (u16, serde_json::Value) {
    let limit = Duration::from_secs(20);
    match relay.call("POST", "/-/reload", Some(ADMIN), limit).await {
        Ok(answer) => answer,
        Err(e) => panic!("no answer to POST /-/reload within {limit:?}: {e}"),
    }
}

/// A FUSE file system whose server never answers: every look-up inside it waits, as on a
/// network mount whose server is gone. A shell holds the connection (`/dev/fuse`) open without
/// reading it; killing the shell ends the connection, so every waiting call fails, and the
/// mount is then removed. The tests run as root.
struct HungMount {
    path: PathBuf,
    holder: Child,
}

impl HungMount {
    async fn mount(path: &Path) -> HungMount {
        std::fs::create_dir_all(path).expect("create the mount point");
        let script = "exec 3<>/dev/fuse && \
            mount -t fuse -o fd=3,rootmode=40000,user_id=0,group_id=0 mqa-hung \"$1\" && \
            exec sleep 300";
        let mut holder = Command::new("sh")
            .args(["-c", script, "sh"])
            .arg(path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("run sh");
        let wanted = format!(" {} fuse ", path.display());
        eventually_within("the FUSE mount", Duration::from_secs(10), async || {
            if let Ok(Some(status)) = holder.try_wait() {
                panic!(
                    "cannot mount a FUSE file system ({status}); the test needs root and /dev/fuse"
                );
            }
            let mounts = std::fs::read_to_string("/proc/mounts").expect("read /proc/mounts");
            mounts.contains(&wanted).then_some(())
        })
        .await;
        HungMount {
            path: path.to_path_buf(),
            holder,
        }
    }
}

impl Drop for HungMount {
    fn drop(&mut self) {
        let _ = self.holder.kill();
        let _ = self.holder.wait();
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}
