//! Templates that would stall or kill the relay: one that renders for minutes, one that loops
//! inside a loop over a large event, one that repeats a large value, and a delivery whose
//! earlier attempts were all cut off. The real binary keeps answering webhooks within
//! MonitorQA's 10 s, and each such delivery ends dead with the reason.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mqa_relay::event::Event;
use mqa_relay::store::{DeliveryRecord, DeliveryState, NewDelivery, Store};
use serde_json::{Value, json};

use crate::support::mock::Mock;
use crate::support::process::{BIN, RelayProcess, open_store};
use crate::support::providers::SlackWebhook;
use crate::support::relay::{TOKEN, write_file};
use crate::support::wait::eventually;
use crate::support::wait::sample;

/// MonitorQA gives up on an answer after this long.
const MONITORQA_LIMIT: Duration = Duration::from_secs(10);

/// A rules file sending rejected corrective actions to each Slack mock with template `hostile`, one
/// attempt per delivery, bodies up to 8 MiB.
fn rules(slacks: &[&Mock<SlackWebhook>]) -> String {
    let mut targets = String::new();
    let mut names = Vec::new();
    for (i, slack) in slacks.iter().enumerate() {
        targets.push_str(&format!(
            "  slack-{i}: {{ kind: slack, url: \"{}\", retry: {{ max_attempts: 1 }} }}\n",
            slack.url()
        ));
        names.push(format!("slack-{i}"));
    }
    format!(
        "server:\n  token: {TOKEN}\n  max_body: 8MiB\ntargets:\n{targets}\
         rules:\n  - name: actions\n    events: CORRECTIVE_ACTION_REJECTED\n    \
         notify: [{}]\n    template: hostile\n",
        names.join(", ")
    )
}

fn setup(dir: &std::path::Path, slacks: &[&Mock<SlackWebhook>], template: &str) {
    write_file(&dir.join("rules.yaml"), &rules(slacks));
    std::fs::create_dir_all(dir.join("templates")).expect("create templates/");
    write_file(&dir.join("templates/hostile.yaml"), template);
}

/// The rejected-action sample with `extra` merged into its corrective action.
fn big_action(extra: Value) -> Value {
    let mut event = sample("corrective_action_rejected");
    let Value::Object(fields) = extra else {
        panic!("extra is an object")
    };
    for (k, v) in fields {
        event["data"]["correctiveAction"][k] = v;
    }
    event
}

/// Every delivery in the store, once all `n` of them are dead.
async fn dead_deliveries(store: &Store, n: usize) -> Vec<DeliveryRecord> {
    eventually(&format!("{n} dead deliveries"), async || {
        let dead = store
            .deliveries_by_state(DeliveryState::Dead, 100)
            .await
            .ok()?;
        (dead.len() >= n).then_some(dead)
    })
    .await
}

async fn answered_in_time(client: &reqwest::Client, relay: &RelayProcess, event: &Value) -> u16 {
    let url = format!("http://{}/webhook/{TOKEN}", relay.addr);
    let request = client.post(url).json(event).timeout(MONITORQA_LIMIT);
    match request.send().await {
        Ok(response) => response.status().as_u16(),
        Err(e) => panic!("no answer within MonitorQA's 10 s: {e}"),
    }
}

#[tokio::test]
async fn webhooks_are_answered_in_time_while_two_targets_render_a_template_for_minutes() {
    let (a, b) = (SlackWebhook::start().await, SlackWebhook::start().await);
    let dir = tempfile::tempdir().expect("a temporary directory");
    // Each item writes one character of the whole event, serialised again for each item: a
    // few milliseconds per item, 50 000 items, so minutes of work per render without a budget.
    let slow = "title: '{{data.correctiveAction.name}}'\n\
                text: '{{#each data.correctiveAction.tags}}{{compact ../data 1}}{{/each}}'\n";
    setup(dir.path(), &[&a, &b], slow);
    let relay = RelayProcess::start(dir.path(), 1, TOKEN).await;
    let tags: Vec<Value> = (0..50_000).map(|i| json!({"id": i, "name": "t"})).collect();
    let heavy = big_action(json!({ "tags": tags, "description": "d".repeat(2 << 20) }));
    let id = relay.ack(&heavy).await;

    let store = open_store(&dir.path().join("data")).await;
    eventually("the heavy event to be routed", async || {
        let event = store.event(&id).await.ok()??;
        event.routed_at.map(|_| ())
    })
    .await;
    let client = reqwest::Client::new();
    for n in 0..20 {
        let mut other = sample("audit_expired");
        other["data"]["auditId"] = json!(format!("audit-{n}"));
        assert_eq!(answered_in_time(&client, &relay, &other).await, 202);
        let health = format!("http://{}/healthz", relay.addr);
        let answer = client.get(health).timeout(MONITORQA_LIMIT).send().await;
        assert!(answer.is_ok(), "/healthz answers in time: {answer:?}");
    }

    for delivery in dead_deliveries(&store, 2).await {
        let error = delivery.last_error.unwrap_or_default();
        assert!(
            error.contains("rendering took longer than the render budget"),
            "{error}"
        );
    }
    assert!(a.received().is_empty() && b.received().is_empty());
}

#[tokio::test]
async fn loops_over_a_large_event_end_dead_with_the_budget_and_the_relay_stays_up() {
    let slack = SlackWebhook::start().await;
    let dir = tempfile::tempdir().expect("a temporary directory");
    // Both loops of the issue at once: nested loops over two lists, and a large value
    // repeated once per item (50 000 × 100 KiB would be 5 GB of text).
    let hostile = "title: '{{data.correctiveAction.name}}'\ntext: |-\n  \
                   {{#each data.correctiveAction.tags}}{{#each ../data.correctiveAction.tags}}.{{/each}}{{/each}}\n\
                   fields:\n  Repeated: '{{#each data.correctiveAction.files}}{{../data.correctiveAction.description}}{{/each}}'\n";
    setup(dir.path(), &[&slack], hostile);

    let check = std::process::Command::new(BIN)
        .args(["check", "--rules"])
        .arg(dir.path().join("rules.yaml"))
        .output()
        .expect("run mqa-relay check");
    let warnings = String::from_utf8_lossy(&check.stderr);
    assert!(check.status.success(), "{warnings}");
    assert!(
        warnings.contains("hostile.yaml:3:") && warnings.contains("inside another `{{#each}}`"),
        "check warns about the nested loop with its line: {warnings}"
    );

    let relay = RelayProcess::start(dir.path(), 1, TOKEN).await;
    let tags: Vec<Value> = (0..5_000).map(|i| json!({"id": i})).collect();
    relay.ack(&big_action(json!({ "tags": tags }))).await;
    let files: Vec<Value> = (0..50_000).map(|i| json!({"id": i})).collect();
    let repeated = big_action(json!({ "files": files, "description": "r".repeat(100 << 10) }));
    relay.ack(&repeated).await;

    let store = open_store(&dir.path().join("data")).await;
    let mut reasons: Vec<String> = dead_deliveries(&store, 2)
        .await
        .into_iter()
        .map(|d| d.last_error.unwrap_or_default())
        .collect();
    reasons.sort();
    assert!(reasons[0].contains("200000 iterations"), "{reasons:?}");
    // The output budget (32 MiB), or on a busy machine the time budget (2 s) first: in
    // either case the budget ended it.
    assert!(
        reasons[1].contains("render budget of 32 MiB")
            || reasons[1].contains("longer than the render budget of 2 s"),
        "{reasons:?}"
    );
    assert!(slack.received().is_empty());
    let health = format!("http://{}/healthz", relay.addr);
    let answer = reqwest::get(health).await.expect("the relay is still up");
    assert_eq!(answer.status(), 200);
}

fn now_ms() -> i64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("a clock");
    i64::try_from(since.as_millis()).expect("milliseconds fit")
}

#[tokio::test]
async fn a_delivery_whose_attempts_were_all_cut_off_ends_dead_without_being_rendered_again() {
    let slack = SlackWebhook::start().await;
    let dir = tempfile::tempdir().expect("a temporary directory");
    // Rendered, this template would end the delivery with the output budget's reason; the
    // test shows it is not rendered at all.
    let amplify = "title: x\ntext: '{{#each data.correctiveAction.files}}{{../data.correctiveAction.description}}{{/each}}'\n";
    setup(dir.path(), &[&slack], amplify);

    // The record a relay leaves when each of its attempts brought it down mid-render: the
    // delivery claimed (each claim counts an attempt) and its lease run out, as often as
    // `max_attempts` allows.
    let data = dir.path().join("data");
    let store = open_store(&data).await;
    let files: Vec<Value> = (0..50_000).map(|i| json!({"id": i})).collect();
    let event = big_action(json!({ "files": files, "description": "p".repeat(100 << 10) }));
    let event = Event::from_value(event).expect("a valid event");
    let id = store.ingest(&event).await.expect("stored").id;
    let delivery = NewDelivery {
        rule: "actions".into(),
        target: "slack-0".into(),
        template: Some("hostile".into()),
        object: None,
    };
    store
        .mark_routed(&id, &["actions".into()], &[delivery])
        .await
        .expect("routed");
    // A lease of a millisecond: it has run out by the time the relay starts.
    let lease = Duration::from_millis(1);
    let claim = store
        .claim_next("slack-0", now_ms(), lease, "a relay that crashed")
        .await
        .expect("the store answers")
        .expect("the delivery is claimable");
    assert_eq!(
        claim.attempt, 1,
        "max_attempts is 1: the only attempt is used"
    );
    store.close().await;

    let _relay = RelayProcess::start(dir.path(), 1, TOKEN).await;
    let store = open_store(&data).await;
    let dead = dead_deliveries(&store, 1).await;
    let error = dead[0].last_error.clone().unwrap_or_default();
    assert!(
        error.contains("attempt 2 exceeds max_attempts 1"),
        "ends dead on its attempt count, before rendering: {error}"
    );
    assert!(slack.received().is_empty());
}
