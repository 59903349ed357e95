//! `mqa-relay store backup` beside a running relay, and the backup restored into a working
//! relay: its events, their deliveries still to send, and its dedup keys all come back.

use std::path::Path;
use std::process::{Command, Output};

use crate::support::mock::Answer;
use crate::support::process::{BIN, RelayProcess, events, open_store};
use crate::support::providers::WebhookReceiver;
use crate::support::relay::{TOKEN, numbered, write_file};
use crate::support::wait::eventually;

fn rules(erp: &str, archive: &str) -> String {
    format!(
        "server:\n  token: {TOKEN}\ntargets:\n\
         \x20 erp: {{ kind: webhook, url: \"{erp}\", retry: {{ initial: 500ms, max: 1s }} }}\n\
         \x20 archive: {{ kind: webhook, url: \"{archive}\" }}\n\
         rules:\n  - name: all\n    events: \"*\"\n    notify: [erp, archive]\n"
    )
}

fn backup(dir: &Path, to: &Path) -> Output {
    Command::new(BIN)
        .args(["store", "backup", "--rules"])
        .arg(dir.join("rules.yaml"))
        .arg("--data-dir")
        .arg(dir.join("data"))
        .arg("--to")
        .arg(to)
        .output()
        .expect("run mqa-relay store backup")
}

#[tokio::test]
async fn a_backup_taken_while_the_relay_runs_restores_into_a_working_relay() {
    let erp = WebhookReceiver::start().await;
    erp.always(Answer::status(500));
    let archive = WebhookReceiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    write_file(
        &dir.path().join("rules.yaml"),
        &rules(&erp.url(), &archive.url()),
    );
    let relay = RelayProcess::start(dir.path(), 1, TOKEN).await;
    let mut ids = Vec::new();
    for seq in 1..=3 {
        ids.push(relay.ack(&numbered(seq)).await);
    }
    archive
        .wait_for(3, std::time::Duration::from_secs(20))
        .await;

    let restored = tempfile::tempdir().unwrap();
    let file = restored.path().join("relay-backup.db");
    let out = backup(dir.path(), &file);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("3 events, 6 deliveries"), "{stdout}");
    let names: Vec<_> = std::fs::read_dir(restored.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["relay-backup.db"], "no partial file is left");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the copy holds every event: its owner's alone");

    let again = backup(dir.path(), &file);
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("never overwrites"));

    // Restore: the file as relay.db of a new data directory, a target that now answers.
    drop(relay);
    let healthy = WebhookReceiver::start().await;
    std::fs::create_dir(restored.path().join("data")).unwrap();
    std::fs::copy(&file, restored.path().join("data/relay.db")).unwrap();
    write_file(
        &restored.path().join("rules.yaml"),
        &rules(&healthy.url(), &archive.url()),
    );
    let relay = RelayProcess::start(restored.path(), 1, TOKEN).await;
    let received = healthy
        .wait_for(3, std::time::Duration::from_secs(20))
        .await;
    assert_eq!(
        received.len(),
        3,
        "the erp deliveries still to send were sent"
    );
    let list = events(restored.path(), &["list"]);
    let list = String::from_utf8_lossy(&list.stdout);
    for id in &ids {
        assert!(list.contains(id.as_str()), "{id} in {list}");
    }
    // A MonitorQA retry of an event from before the backup is still recognised.
    assert_eq!(relay.ack(&numbered(1)).await, ids[0]);
    let fresh = relay.ack(&numbered(4)).await;
    let store = open_store(&restored.path().join("data")).await;
    eventually("the new event to be delivered", async || {
        let details = store.event(&fresh).await.ok()??;
        let done = details.deliveries.len() == 2
            && details
                .deliveries
                .iter()
                .all(|(d, _)| d.state == mqa_relay::store::DeliveryState::Delivered);
        done.then_some(())
    })
    .await;
    store.close().await;
}
