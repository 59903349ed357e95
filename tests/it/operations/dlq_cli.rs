//! `mqa-relay dlq` on the store of a running relay: list (text and JSON), show, replay and
//! drop, and the exit codes of each.

use std::process::Output;
use std::time::Duration;

use mqa_relay::store::DeliveryState;
use serde_json::Value;

use crate::support::mock::Answer;
use crate::support::process::{BIN, RelayProcess, dlq, open_store};
use crate::support::providers::WebhookReceiver;
use crate::support::relay::{
    TOKEN, deliveries_of, numbered, seq_of, wait_settled, webhook_target, write_file,
};
use crate::support::wait::eventually;

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs `dlq <args>` and checks its exit code; returns its standard output.
fn dlq_ok(dir: &std::path::Path, args: &[&str]) -> String {
    let out = dlq(dir, args);
    assert_eq!(out.status.code(), Some(0), "dlq {args:?}: {}", stderr(&out));
    stdout(&out)
}

/// Runs `dlq <args>`, which must fail with exit code 1; returns its error output.
fn dlq_fails(dir: &std::path::Path, args: &[&str]) -> String {
    let out = dlq(dir, args);
    assert_eq!(out.status.code(), Some(1), "dlq {args:?}: {}", stdout(&out));
    stderr(&out)
}

#[tokio::test]
async fn the_dlq_command_lists_shows_replays_and_drops_dead_letters_of_a_running_relay() {
    let erp = WebhookReceiver::start().await;
    erp.script([Answer::status(404), Answer::status(404)]);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let rules = format!(
        "server:\n  token: {TOKEN}\ntargets:\n  erp: {}\n\
         rules:\n  - name: all\n    events: \"*\"\n    notify: [erp]\n",
        webhook_target(&erp.url(), "")
    );
    write_file(&dir.path().join("rules.yaml"), &rules);
    let relay = RelayProcess::start(dir.path(), 1, TOKEN).await;
    let store = open_store(&dir.path().join("data")).await;
    let mut events = Vec::new();
    for seq in 1..=3 {
        events.push(relay.ack(&numbered(seq)).await);
    }
    let counts = wait_settled(&store, Duration::from_secs(20)).await;
    assert_eq!((counts.dead, counts.delivered), (2, 1), "{counts:?}");
    let first = deliveries_of(&store, &events[0]).await[0].id;
    let second = deliveries_of(&store, &events[1]).await[0].id;

    // list: one line per dead letter with its target and reason; --json for programs.
    let text = dlq_ok(dir.path(), &["list"]);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    for (line, id) in lines.iter().zip([first, second]) {
        assert!(line.trim_start().starts_with(&id.to_string()), "{line}");
        assert!(line.contains("erp") && line.contains("404"), "{line}");
    }
    let json: Value = serde_json::from_str(&dlq_ok(dir.path(), &["list", "--json"]))
        .expect("list --json prints JSON");
    let listed: Vec<i64> = json
        .as_array()
        .expect("an array")
        .iter()
        .map(|d| {
            assert_eq!(d["state"], "dead");
            assert_eq!(d["last_status"], 404);
            d["id"].as_i64().expect("an id")
        })
        .collect();
    assert_eq!(listed, [first, second]);
    let other = dlq_ok(dir.path(), &["list", "--target", "kitchen"]);
    assert_eq!(other.trim(), "no dead deliveries");

    // show: the error of each attempt and the payload a replay would send.
    let shown: Value = serde_json::from_str(&dlq_ok(dir.path(), &["show", &first.to_string()]))
        .expect("show prints JSON");
    assert!(
        shown["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("404")),
        "{shown}"
    );
    assert_eq!(shown["history"][0]["status"], 404);
    assert_eq!(seq_of(&shown["payload"]), 1, "{shown}");

    // replay: the running relay sends it again.
    let replayed = dlq_ok(dir.path(), &["replay", &first.to_string()]);
    let prefix = format!("delivery {first} replayed as delivery ");
    let new_id: i64 = replayed
        .trim()
        .strip_prefix(&prefix)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{replayed}"));
    let first_event = events[0].clone();
    eventually("the running relay to deliver the replay", async || {
        let d = deliveries_of(&store, &first_event).await;
        d.iter()
            .any(|d| d.id == new_id && d.state == DeliveryState::Delivered)
            .then_some(())
    })
    .await;
    let last = erp.received().last().expect("a request").json();
    assert_eq!(seq_of(&last), 1);
    let again = dlq_fails(dir.path(), &["replay", &first.to_string()]);
    assert!(again.contains("already replayed"), "{again}");

    // replay --all --since: only those that died since then (none died in the future).
    let none = dlq_ok(
        dir.path(),
        &["replay", "--all", "--since", "2999-01-01T00:00:00Z"],
    );
    assert_eq!(none.trim(), "0 replayed");
    let unreadable = dlq_fails(dir.path(), &["replay", "--all", "--since", "soon"]);
    assert!(unreadable.contains("`--since`"), "{unreadable}");
    assert!(dlq_ok(dir.path(), &["list"]).contains(&second.to_string()));

    // drop: the list is empty afterwards; dropping twice fails.
    let dropped = dlq_ok(dir.path(), &["drop", &second.to_string()]);
    assert_eq!(dropped.trim(), format!("delivery {second} dropped"));
    assert_eq!(dlq_ok(dir.path(), &["list"]).trim(), "no dead deliveries");
    dlq_fails(dir.path(), &["drop", &second.to_string()]);

    // Unknown deliveries and a missing store fail with exit code 1.
    assert!(dlq_fails(dir.path(), &["show", "999999"]).contains("no delivery"));
    dlq_fails(dir.path(), &["replay", "999999"]);
    let nowhere = std::process::Command::new(BIN)
        .args(["dlq", "--data-dir"])
        .arg(dir.path().join("no-store-here"))
        .arg("list")
        .output()
        .expect("run mqa-relay dlq");
    assert_eq!(nowhere.status.code(), Some(1));
    assert!(
        stderr(&nowhere).contains("no store"),
        "{}",
        stderr(&nowhere)
    );
    store.close().await;
}
