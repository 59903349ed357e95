//! The data directory belongs to one relay: a second relay on it refuses to start (the real
//! binary, twice), and a database file removed or replaced under a running relay stops every
//! acknowledgement, with readiness saying why, instead of acknowledging events into a file
//! that no restart will read.

use std::path::Path;

use crate::support::process::{RelayProcess, serve_refused};
use crate::support::providers::WebhookReceiver;
use crate::support::relay::{
    Spec, TOKEN, TestRelay, numbered, spawn_relay, webhook_target, write_file,
};

fn rules(url: &str) -> String {
    format!(
        "targets:\n  erp: {}\nrules:\n  - name: all\n    events: \"*\"\n    notify: [erp]\n",
        webhook_target(url, "")
    )
}

#[tokio::test]
async fn a_second_relay_on_the_same_data_directory_refuses_to_start_and_names_it() {
    let erp = WebhookReceiver::start().await;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let text = format!("server:\n  token: {TOKEN}\n{}", rules(&erp.url()));
    write_file(&dir.path().join("rules.yaml"), &text);
    let mut first = RelayProcess::start(dir.path(), 1, TOKEN).await;

    let (code, log) = serve_refused(dir.path(), 2, TOKEN).await;
    assert_eq!(code, Some(1), "{log}");
    let data_dir = dir.path().join("data");
    let expected = format!(
        "another relay (process {}) is using the data directory {}",
        first.pid(),
        data_dir.display()
    );
    assert!(log.contains(&expected), "{log}");
    assert!(!log.contains("listening on"), "{log}");
    // The first relay is untouched by the attempt.
    first.ack(&numbered(1)).await;

    // The lock goes with the process: once the first relay stopped, the directory is free.
    first.signal("TERM");
    assert_eq!(first.wait_exit().await, Some(0));
    let mut again = RelayProcess::start(dir.path(), 3, TOKEN).await;
    again.ack(&numbered(2)).await;
    again.signal("TERM");
    assert_eq!(again.wait_exit().await, Some(0));
}

/// Posts five events, none of which may be acknowledged; then `/readyz` must say why.
async fn nothing_is_acknowledged(relay: &TestRelay, happened: &str) {
    for seq in 10..15 {
        let answer = relay.post(&numbered(seq)).await;
        assert_eq!(answer.status, 503, "event {seq}: {answer:?}");
        assert_eq!(answer.body["error"]["code"], "store_unavailable");
    }
    let answer = relay.call("GET", "/readyz", None).await;
    assert_eq!(answer.status, 503, "{answer:?}");
    assert_eq!(
        answer.body["error"]["code"], "store_file_lost",
        "{answer:?}"
    );
    let message = answer.body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains(happened), "{message}");
    assert!(message.contains("restart the relay"), "{message}");
}

#[tokio::test]
async fn a_database_file_removed_under_a_running_relay_stops_acknowledgements_and_readiness() {
    let erp = WebhookReceiver::start().await;
    let relay = spawn_relay(Spec {
        body: &rules(&erp.url()),
        ..Spec::default()
    })
    .await;
    relay.ack(&numbered(1)).await;

    let file = relay.dir().join("data").join("relay.db");
    std::fs::remove_file(&file).expect("remove relay.db");
    nothing_is_acknowledged(&relay, &format!("{} was removed", file.display())).await;
}

#[tokio::test]
async fn a_database_file_replaced_under_a_running_relay_stops_acknowledgements_and_readiness() {
    let erp = WebhookReceiver::start().await;
    let relay = spawn_relay(Spec {
        body: &rules(&erp.url()),
        ..Spec::default()
    })
    .await;
    relay.ack(&numbered(1)).await;

    let data = relay.dir().join("data");
    replace_with_copy(&data.join("relay.db"));
    let replaced = format!(
        "{} was replaced by another file",
        data.join("relay.db").display()
    );
    nothing_is_acknowledged(&relay, &replaced).await;
}

/// Puts a copy of `file` in its place (a restore from a backup, done while running).
fn replace_with_copy(file: &Path) {
    let copy = file.with_extension("db.restored");
    std::fs::copy(file, &copy).expect("copy relay.db");
    std::fs::rename(&copy, file).expect("move the copy into place");
}
