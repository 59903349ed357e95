//! `mqa-relay events` on the store of a running relay: the recent events and how their
//! deliveries stand, one event with every attempt, and the deliveries still waiting with the
//! reason and the next try, so that a retrying delivery is visible before it is dead.

use std::process::Output;

use serde_json::Value;

use crate::support::mock::Answer;
use crate::support::process::{RelayProcess, events, open_store};
use crate::support::providers::WebhookReceiver;
use crate::support::relay::{TOKEN, numbered, write_file};
use crate::support::wait::eventually;

fn ok(out: &Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn the_events_command_shows_what_is_delivered_what_is_retrying_and_why() {
    let erp = WebhookReceiver::start().await;
    erp.always(Answer::status(500));
    let archive = WebhookReceiver::start().await;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let rules = format!(
        "server:\n  token: {TOKEN}\ntargets:\n\
         \x20 erp: {{ kind: webhook, url: \"{}\", retry: {{ initial: 1h, max: 1h }} }}\n\
         \x20 archive: {{ kind: webhook, url: \"{}\" }}\n\
         rules:\n  - name: all\n    events: \"*\"\n    notify: [erp, archive]\n",
        erp.url(),
        archive.url()
    );
    write_file(&dir.path().join("rules.yaml"), &rules);
    let relay = RelayProcess::start(dir.path(), 1, TOKEN).await;
    let id = relay.ack(&numbered(1)).await;
    let store = open_store(&dir.path().join("data")).await;
    eventually("one delivered and one retrying", async || {
        let details = store.event(&id).await.ok()??;
        let attempted =
            details.deliveries.len() == 2 && details.deliveries.iter().all(|(_, a)| !a.is_empty());
        attempted.then_some(())
    })
    .await;

    let list = ok(&events(dir.path(), &["list"]));
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 1, "{list}");
    assert!(lines[0].starts_with(&id), "{list}");
    assert!(
        lines[0].contains("1 delivered, 1 waiting, 0 dead"),
        "{list}"
    );
    for (args, listed) in [
        (&["--outcome", "waiting", "--target", "erp"][..], true),
        (&["--outcome", "delivered"][..], false),
        (&["--rule", "all", "--since", "1h"][..], true),
        (&["--until", "1h"][..], false),
    ] {
        let found = ok(&events(dir.path(), &[&["list"][..], args].concat()));
        assert_eq!(found.contains(&id), listed, "{args:?}: {found}");
    }
    let refused = events(dir.path(), &["list", "--outcome", "fine"]);
    assert_eq!(refused.status.code(), Some(2));
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        said.contains("delivered, waiting, dead, none, unrouted"),
        "{said}"
    );

    let waiting = ok(&events(dir.path(), &["waiting"]));
    let lines: Vec<&str> = waiting.lines().collect();
    assert_eq!(lines.len(), 1, "{waiting}");
    for part in [
        "erp",
        "pending",
        "1 attempt",
        "next try",
        "last status 500",
        &id,
    ] {
        assert!(lines[0].contains(part), "{part:?} in {waiting}");
    }
    assert_eq!(
        ok(&events(dir.path(), &["waiting", "--target", "archive"])).trim(),
        "no deliveries waiting"
    );
    let json: Value = serde_json::from_str(&ok(&events(dir.path(), &["waiting", "--json"])))
        .expect("waiting --json prints JSON");
    assert_eq!(json[0]["target"], "erp");
    assert_eq!(json[0]["state"], "pending");

    let show = ok(&events(dir.path(), &["show", &id]));
    assert!(show.contains("rules matched: all"), "{show}");
    assert_eq!(show.matches("    attempt 1 ").count(), 2, "{show}");
    assert!(show.contains("archive  delivered"), "{show}");
    assert!(show.contains("erp  pending"), "{show}");
    let json: Value = serde_json::from_str(&ok(&events(dir.path(), &["show", &id, "--json"])))
        .expect("show --json prints JSON");
    assert_eq!(json["deliveries"].as_array().map(Vec::len), Some(2));

    let missing = events(dir.path(), &["show", "no-such-event"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no event no-such-event"));
    store.close().await;
}
