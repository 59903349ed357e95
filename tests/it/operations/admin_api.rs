//! The admin API as an operator uses it: who may call it, the event list (its filters and
//! pages) and one event's story, an event routed again by the rules in force, each target's
//! lane, the dead-letter list, fixing a template and replaying, dropping, and what cannot be
//! replayed.

use std::time::Duration;

use mqa_relay::store::DeliveryState;
use serde_json::{Value, json};

use crate::support::mock::Answer;
use crate::support::monitorqa::MonitorqaApi;
use crate::support::providers::{SlackWebhook, WebhookReceiver};
use crate::support::relay::{
    ADMIN, Spec, TOKEN, TestRelay, deliveries_of, numbered, spawn_relay, wait_deliveries,
    webhook_target, write_file,
};
use crate::support::wait::{DEADLINE, eventually, sample};

const RULE_AUDITS: &str = "audits to the ERP";
const RULE_ACTIONS: &str = "rejected actions to the kitchen";

fn template(wording: &str) -> String {
    format!("title: '{wording}: {{{{data.correctiveAction.name}}}}'\ntext: Please act again.\n")
}

/// The rejected corrective action sample, named "Repair number `n`".
fn action(n: u64) -> Value {
    let mut event = sample("corrective_action_rejected");
    event["data"]["correctiveAction"]["name"] = Value::from(format!("Repair number {n}"));
    event
}

fn ids(list: &Value, key: &str, field: &str) -> Vec<Value> {
    let items = list[key].as_array().cloned().unwrap_or_default();
    items.iter().map(|item| item[field].clone()).collect()
}

#[tokio::test]
async fn the_admin_api_is_off_without_an_admin_token_and_refuses_wrong_or_webhook_tokens() {
    let off = spawn_relay(Spec {
        admin: false,
        ..Spec::new("targets: {}\nrules: []\n")
    })
    .await;
    for bearer in [None, Some(ADMIN), Some(TOKEN)] {
        let answer = off.call("GET", "/api/events", bearer).await;
        assert_eq!(answer.status, 403, "{bearer:?}: {answer:?}");
    }

    let on = spawn_relay(Spec::new("targets: {}\nrules: []\n")).await;
    for bearer in [None, Some("not-the-admin-token"), Some(TOKEN)] {
        for path in ["/api/events", "/api/dlq"] {
            let answer = on.call("GET", path, bearer).await;
            assert_eq!(answer.status, 401, "{path} with {bearer:?}: {answer:?}");
        }
    }
    assert_eq!(on.admin("GET", "/api/events").await.status, 200);
}

#[tokio::test]
async fn an_operator_finds_a_dead_letter_fixes_the_template_replays_it_and_drops_another() {
    let erp = WebhookReceiver::start().await;
    let slack = SlackWebhook::start().await;
    slack.script([Answer::status(404), Answer::status(404)]);
    let body = format!(
        "targets:\n  erp: {erp}\n  kitchen: {{ kind: slack, url: \"{slack}\", rate_limit: 1000/s, \
         retry: {{ initial: 100ms }} }}\n\
         rules:\n  - name: {RULE_AUDITS}\n    events: \"AUDIT_*\"\n    notify: [erp]\n\
         \x20 - name: {RULE_ACTIONS}\n    events: CORRECTIVE_ACTION_REJECTED\n    notify: [kitchen]\n",
        erp = webhook_target(&erp.url(), ""),
        slack = slack.url(),
    );
    let old = template("Old wording");
    let relay = spawn_relay(Spec {
        body: &body,
        templates: &[("corrective_action_rejected.yaml", &old)],
        ..Spec::default()
    })
    .await;
    let expired = relay.ack(&sample("audit_expired")).await;
    let first = relay.ack(&action(1)).await;
    let second = relay.ack(&action(2)).await;
    let mut elsewhere = sample("audit_assigned");
    elsewhere["company"] = serde_json::json!({"id": "c-contoso-0001", "name": "Contoso Kitchens"});
    let assigned = relay.ack(&elsewhere).await;
    relay.wait_settled().await;

    // The event list: newest first, filtered by type and by company.
    let all = relay.admin("GET", "/api/events").await;
    assert_eq!(all.status, 200, "{all:?}");
    assert_eq!(
        ids(&all.body, "events", "id"),
        [&assigned, &second, &first, &expired].map(|s| Value::from(s.as_str()))
    );
    let by_type = relay.admin("GET", "/api/events?event=AUDIT_EXPIRED").await;
    assert_eq!(
        ids(&by_type.body, "events", "id"),
        [Value::from(expired.as_str())]
    );
    let by_company = relay
        .admin("GET", "/api/events?company=Contoso%20Kitchens")
        .await;
    assert_eq!(
        ids(&by_company.body, "events", "id"),
        [Value::from(assigned.as_str())]
    );
    let limited = relay.admin("GET", "/api/events?limit=2").await;
    assert_eq!(ids(&limited.body, "events", "id").len(), 2);

    // One event's story: matched rules, deliveries, attempts with the provider's answer.
    let story = relay.admin("GET", &format!("/api/events/{first}")).await;
    assert_eq!(story.status, 200, "{story:?}");
    assert_eq!(
        story.body["matched_rules"],
        serde_json::json!([RULE_ACTIONS])
    );
    let delivery = &story.body["deliveries"][0];
    assert_eq!(delivery["target"], "kitchen");
    assert_eq!(delivery["state"], "dead");
    assert_eq!(delivery["history"][0]["outcome"], "dead");
    assert_eq!(delivery["history"][0]["status"], 404);
    let dead_first = delivery["id"].as_i64().expect("a delivery id");
    assert_eq!(
        relay.admin("GET", "/api/events/no-such-event").await.status,
        404
    );

    // The dead-letter list, with the reason.
    let dlq = relay.admin("GET", "/api/dlq").await;
    let dead = dlq.body["dead"].as_array().cloned().unwrap_or_default();
    assert_eq!(dead.len(), 2, "{dlq:?}");
    assert!(
        dead.iter()
            .all(|d| d["target"] == "kitchen" && d["last_status"] == 404)
    );
    let reason = dead[0]["last_error"].as_str().unwrap_or_default();
    assert!(reason.contains("no_service"), "the reason: {reason}");
    let dead_second = dead[1]["id"].as_i64().expect("a delivery id");
    assert_eq!(dead[0]["id"], dead_first);
    let erp_only = relay.admin("GET", "/api/dlq?target=erp").await;
    assert_eq!(erp_only.body["dead"], serde_json::json!([]));

    // The payload a replay would send follows the templates in force.
    let shown = relay.admin("GET", &format!("/api/dlq/{dead_first}")).await;
    assert!(
        shown.body["payload"]
            .to_string()
            .contains("Old wording: Repair number 1")
    );
    let templates = relay.dir().join("templates");
    write_file(
        &templates.join("corrective_action_rejected.yaml"),
        &template("New wording"),
    );
    let reload = relay.admin("POST", "/-/reload").await;
    assert_eq!(reload.status, 200, "{reload:?}");
    let shown = relay.admin("GET", &format!("/api/dlq/{dead_first}")).await;
    let payload = shown.body["payload"].to_string();
    assert!(
        payload.contains("New wording: Repair number 1"),
        "{payload}"
    );

    // Replay: sent with the new template, and the original leaves the list.
    let replay = relay
        .admin("POST", &format!("/api/dlq/{dead_first}/replay"))
        .await;
    assert_eq!(replay.status, 200, "{replay:?}");
    assert_eq!(replay.body["replayed"], dead_first);
    let deliveries = eventually("the replay to be delivered", async || {
        let d = deliveries_of(relay.store(), &first).await;
        (d.len() == 2 && d[1].state == DeliveryState::Delivered).then_some(d)
    })
    .await;
    assert_eq!(deliveries[1].replay_of, Some(dead_first));
    assert_eq!(replay.body["delivery_id"], deliveries[1].id);
    let sent = slack.received().last().expect("the replay").text();
    assert!(sent.contains("New wording: Repair number 1"), "{sent}");
    assert!(!sent.contains("Old wording"), "{sent}");
    let dlq = relay.admin("GET", "/api/dlq").await;
    assert_eq!(ids(&dlq.body, "dead", "id"), [Value::from(dead_second)]);

    // Drop: the other dead letter leaves the list, visibly dropped.
    let dropped = relay
        .admin("DELETE", &format!("/api/dlq/{dead_second}"))
        .await;
    assert_eq!(dropped.status, 200, "{dropped:?}");
    assert_eq!(
        relay.admin("GET", "/api/dlq").await.body["dead"],
        serde_json::json!([])
    );
    let shown = relay.admin("GET", &format!("/api/dlq/{dead_second}")).await;
    assert!(shown.body["dropped_at"].is_string(), "{shown:?}");

    // What cannot be replayed: a delivered delivery, a replayed or dropped dead letter.
    let delivered = wait_deliveries(relay.store(), &expired, 1, DeliveryState::Delivered).await;
    for id in [delivered[0].id, dead_first, dead_second] {
        let answer = relay.admin("POST", &format!("/api/dlq/{id}/replay")).await;
        assert_eq!(answer.status, 409, "replay of {id}: {answer:?}");
    }
    let unknown = relay.admin("POST", "/api/dlq/999999/replay").await;
    assert_eq!(unknown.status, 404);
    assert_eq!(
        erp.received().len(),
        2,
        "the audits went to the ERP once each"
    );
}

/// The ids of the events `GET path` lists.
async fn listed(relay: &TestRelay, path: &str) -> Vec<Value> {
    let answer = relay.admin("GET", path).await;
    assert_eq!(answer.status, 200, "{path}: {answer:?}");
    ids(&answer.body, "events", "id")
}

/// `ids` as the JSON strings a listing holds.
fn strings(ids: &[&String]) -> Vec<Value> {
    ids.iter().map(|id| Value::from(id.as_str())).collect()
}

/// The error a refused call answers: its status, code and message.
async fn refusal(relay: &TestRelay, method: &str, path: &str) -> (u16, String, String) {
    let answer = relay.admin(method, path).await;
    let error = &answer.body["error"];
    let text = |key: &str| error[key].as_str().unwrap_or_default().to_string();
    (answer.status, text("code"), text("message"))
}

#[tokio::test]
async fn an_operator_filters_and_pages_the_events_and_reads_each_target_s_lane() {
    let erp = WebhookReceiver::start().await;
    let slack = SlackWebhook::start().await;
    slack.script([Answer::status(404)]);
    let idle = WebhookReceiver::start().await;
    let body = format!(
        "targets:\n  erp: {erp}\n  kitchen: {{ kind: slack, url: \"{slack}\", rate_limit: 1000/s }}\n\
         \x20 idle: {idle}\n\
         rules:\n  - name: {RULE_AUDITS}\n    events: \"AUDIT_*\"\n    notify: [erp]\n\
         \x20 - name: {RULE_ACTIONS}\n    events: CORRECTIVE_ACTION_REJECTED\n    notify: [kitchen]\n",
        erp = webhook_target(&erp.url(), ""),
        slack = slack.url(),
        idle = webhook_target(&idle.url(), ", rate_limit: 30/min"),
    );
    let relay = spawn_relay(Spec::new(&body)).await;
    let first = relay.ack(&numbered(1)).await;
    let second = relay.ack(&numbered(2)).await;
    let action = relay.ack(&action(1)).await;
    let third = relay.ack(&numbered(3)).await;
    let unmatched = relay.ack(&sample("template_created")).await;
    relay.wait_settled().await;
    let all = strings(&[&unmatched, &third, &action, &second, &first]);
    let audits = strings(&[&third, &second, &first]);

    // Pages of two, each asking for the next with the last one's `next`.
    let mut pages = Vec::new();
    let mut path = "/api/events?limit=2".to_string();
    loop {
        let page = relay.admin("GET", &path).await;
        assert_eq!(page.status, 200, "{page:?}");
        pages.push(ids(&page.body, "events", "id"));
        let Some(next) = page.body["next"].as_str() else {
            break;
        };
        path = format!("/api/events?limit=2&before={next}");
        assert!(pages.len() < 5, "the pages end");
    }
    let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
    assert_eq!(sizes, [2, 2, 1]);
    assert_eq!(pages.concat(), all);

    // Each event with its rules and its deliveries' targets.
    let listing = relay.admin("GET", "/api/events").await;
    let shown = |id: &str| {
        let events = listing.body["events"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        events.into_iter().find(|e| e["id"] == id).expect("listed")
    };
    assert_eq!(shown(&action)["rules"], json!([RULE_ACTIONS]));
    assert_eq!(shown(&action)["targets"], json!(["kitchen"]));
    assert_eq!(shown(&first)["targets"], json!(["erp"]));
    assert_eq!(shown(&unmatched)["rules"], json!([]));
    assert_eq!(shown(&unmatched)["targets"], json!([]));
    assert_eq!(listing.body["next"], Value::Null, "not a full page");

    // The filters.
    let rule = "/api/events?rule=audits%20to%20the%20ERP";
    assert_eq!(listed(&relay, rule).await, audits);
    assert_eq!(
        listed(&relay, "/api/events?target=kitchen").await,
        strings(&[&action])
    );
    assert_eq!(
        listed(&relay, "/api/events?outcome=delivered").await,
        audits
    );
    assert_eq!(
        listed(&relay, "/api/events?outcome=dead").await,
        strings(&[&action])
    );
    assert_eq!(
        listed(&relay, "/api/events?outcome=none").await,
        strings(&[&unmatched])
    );
    assert!(
        listed(&relay, "/api/events?outcome=waiting")
            .await
            .is_empty()
    );
    assert_eq!(listed(&relay, "/api/events?since=1h").await, all);
    assert_eq!(
        listed(&relay, "/api/events?since=2020-01-01T00:00:00Z&target=erp").await,
        audits
    );
    assert!(listed(&relay, "/api/events?until=1h").await.is_empty());

    // What cannot be read is refused, saying what would be.
    let (status, code, message) = refusal(&relay, "GET", "/api/events?outcome=lost").await;
    assert_eq!((status, code.as_str()), (400, "invalid_outcome"));
    assert!(
        message.contains("delivered, waiting, dead, none, unrouted"),
        "{message}"
    );
    let (status, code, message) = refusal(&relay, "GET", "/api/events?since=yesterday").await;
    assert_eq!((status, code.as_str()), (400, "invalid_since"));
    assert!(message.starts_with("`since` is a duration"), "{message}");
    let (status, code, message) = refusal(&relay, "GET", "/api/events?until=yesterday").await;
    assert_eq!((status, code.as_str()), (400, "invalid_until"));
    assert!(message.starts_with("`until` is a duration"), "{message}");
    for cursor in ["12345", "soon.abc", "12345."] {
        let path = format!("/api/events?before={cursor}");
        let (status, code, _) = refusal(&relay, "GET", &path).await;
        assert_eq!((status, code.as_str()), (400, "invalid_before"), "{cursor}");
    }

    // Each target's lane: what it is, where it sends (its host only), how it stands.
    let answer = relay.admin("GET", "/api/targets").await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let targets = answer.body["targets"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let names: Vec<&str> = targets
        .iter()
        .filter_map(|t| t["target"].as_str())
        .collect();
    assert_eq!(names, ["erp", "idle", "kitchen"]);
    let (erp_row, idle_row, kitchen_row) = (&targets[0], &targets[1], &targets[2]);
    let host = |mock_url: String| mock_url.trim_start_matches("http://").to_string();
    assert_eq!(erp_row["kind"], "webhook");
    assert_eq!(erp_row["host"], host(erp.base_url()));
    assert_eq!(erp_row["rate_limit"], Value::Null);
    assert_eq!(
        (erp_row["depth"].as_u64(), erp_row["dead"].as_u64()),
        (Some(0), Some(0))
    );
    assert_eq!(erp_row["delivered_last_hour"], 3);
    assert_eq!(erp_row["last_outcome"], "delivered");
    assert_eq!(erp_row["last_status"], 200);
    assert!(erp_row["last_delivered_at"].is_string(), "{erp_row}");
    assert_eq!(erp_row["last_delivered_at"], erp_row["last_attempt_at"]);
    assert_eq!(erp_row["paused_until"], Value::Null);
    assert_eq!(kitchen_row["kind"], "slack");
    assert_eq!(kitchen_row["host"], host(slack.base_url()));
    assert_eq!(
        kitchen_row["rate_limit"],
        json!({"count": 1000, "per_ms": 1000})
    );
    assert_eq!(kitchen_row["dead"], 1);
    assert_eq!(kitchen_row["last_outcome"], "dead");
    assert_eq!(kitchen_row["last_status"], 404);
    assert_eq!(kitchen_row["last_delivered_at"], Value::Null);
    assert_eq!(kitchen_row["delivered_last_hour"], 0);
    // Configured, never sent to: zeros.
    assert_eq!(idle_row["configured"], true);
    assert_eq!(
        idle_row["rate_limit"],
        json!({"count": 30, "per_ms": 60000})
    );
    assert_eq!(
        (idle_row["depth"].as_u64(), idle_row["dead"].as_u64()),
        (Some(0), Some(0))
    );
    assert_eq!(idle_row["last_attempt_at"], Value::Null);
    for secret in [SlackWebhook::SECRET, "/services/", "/hooks/monitorqa"] {
        assert!(
            !answer.text.contains(secret),
            "{secret} shown: {}",
            answer.text
        );
    }
}

const RULE_KITCHEN: &str = "audits to the kitchen too";

#[tokio::test]
async fn an_operator_reroutes_an_event_by_the_rules_in_force() {
    let erp = WebhookReceiver::start().await;
    let kitchen = WebhookReceiver::start().await;
    let targets = format!(
        "targets:\n  erp: {erp}\n  kitchen: {kitchen}\n",
        erp = webhook_target(&erp.url(), ""),
        kitchen = webhook_target(&kitchen.url(), ""),
    );
    let audits = format!("  - name: {RULE_AUDITS}\n    events: \"AUDIT_*\"\n    notify: [erp]\n");
    let relay = spawn_relay(Spec::new(&format!("{targets}rules:\n{audits}"))).await;
    let id = relay.ack(&numbered(1)).await;
    let unmatched = relay.ack(&sample("template_created")).await;
    relay.wait_settled().await;

    // A rule added since: the event is routed again by the rules in force.
    relay.rewrite_rules(&format!(
        "{targets}rules:\n{audits}  - name: {RULE_KITCHEN}\n    events: \"AUDIT_*\"\n    \
         notify: [kitchen]\n"
    ));
    let reload = relay.admin("POST", "/-/reload").await;
    assert_eq!(reload.status, 200, "{reload:?}");
    let answer = relay
        .admin("POST", &format!("/api/events/{id}/reroute"))
        .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.body["event_id"], id.as_str());
    let created = answer.body["deliveries"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let pairs: Vec<(&str, &str)> = created
        .iter()
        .map(|d| {
            let text = |key: &str| d[key].as_str().unwrap_or_default();
            (text("rule"), text("target"))
        })
        .collect();
    assert_eq!(pairs, [(RULE_AUDITS, "erp"), (RULE_KITCHEN, "kitchen")]);

    let deliveries = wait_deliveries(relay.store(), &id, 3, DeliveryState::Delivered).await;
    let new_ids: Vec<Value> = deliveries[1..].iter().map(|d| Value::from(d.id)).collect();
    assert_eq!(ids(&answer.body, "deliveries", "id"), new_ids);
    assert_eq!(erp.received().len(), 2, "sent again to the ERP");
    assert_eq!(kitchen.received().len(), 1);
    let story = relay.admin("GET", &format!("/api/events/{id}")).await;
    assert_eq!(
        story.body["matched_rules"],
        json!([RULE_AUDITS, RULE_KITCHEN])
    );

    // Nothing matches it now: nothing to send.
    let answer = relay
        .admin("POST", &format!("/api/events/{unmatched}/reroute"))
        .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.body["deliveries"], json!([]));

    let (status, code, _) = refusal(&relay, "POST", "/api/events/no-such-event/reroute").await;
    assert_eq!((status, code.as_str()), (404, "not_found"));
    let (status, _, _) = refusal(&relay, "GET", &format!("/api/events/{id}/reroute")).await;
    assert_eq!(status, 405);
}

#[tokio::test]
async fn an_event_still_waiting_for_its_lookup_is_not_rerouted() {
    let api = MonitorqaApi::start("test-api-key").await;
    api.script([Answer::slow(Duration::from_secs(120))]);
    let erp = WebhookReceiver::start().await;
    let body = format!(
        "monitorqa:\n  api_key: test-api-key\n  base_url: \"{api}\"\n  timeout: 60s\n\
         targets:\n  erp: {erp}\n\
         rules:\n  - name: {RULE_AUDITS}\n    events: \"AUDIT_*\"\n    notify: [erp]\n",
        api = api.base_url(),
        erp = webhook_target(&erp.url(), ""),
    );
    let relay = spawn_relay(Spec::new(&body)).await;
    let id = relay.ack(&sample("audit_expired")).await;
    api.wait_for(1, DEADLINE).await;

    let (status, code, message) =
        refusal(&relay, "POST", &format!("/api/events/{id}/reroute")).await;
    assert_eq!((status, code.as_str()), (409, "not_routed"), "{message}");
    assert!(relay.deliveries(&id).await.is_empty());
    let waiting = relay.admin("GET", "/api/events?outcome=unrouted").await;
    assert_eq!(
        ids(&waiting.body, "events", "id"),
        [Value::from(id.as_str())]
    );
    // Not stopped: a drain would wait for the blocked lookup. The runtime ends with the test.
}

#[tokio::test]
async fn replaying_every_dead_letter_takes_those_dead_since_a_time() {
    let slack = SlackWebhook::start().await;
    slack.script([Answer::status(404), Answer::status(404)]);
    let body = format!(
        "targets:\n  kitchen: {{ kind: slack, url: \"{slack}\", rate_limit: 1000/s }}\n\
         rules:\n  - name: {RULE_ACTIONS}\n    events: CORRECTIVE_ACTION_REJECTED\n    notify: [kitchen]\n",
        slack = slack.url(),
    );
    let relay = spawn_relay(Spec::new(&body)).await;
    relay.ack(&action(1)).await;
    relay.ack(&action(2)).await;
    relay.wait_settled().await;

    let (status, code, _) = refusal(&relay, "POST", "/api/dlq/replay?since=yesterday").await;
    assert_eq!((status, code.as_str()), (400, "invalid_since"));
    let none = relay
        .admin("POST", "/api/dlq/replay?since=2099-01-01T00:00:00Z")
        .await;
    assert_eq!(none.status, 200, "{none:?}");
    assert_eq!(none.body["count"], 0, "none died after then");
    assert_eq!(
        relay.admin("GET", "/api/dlq").await.body["dead"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );

    let all = relay
        .admin("POST", "/api/dlq/replay?target=kitchen&since=1h")
        .await;
    assert_eq!(all.status, 200, "{all:?}");
    assert_eq!(all.body["count"], 2);
    relay.wait_settled().await;
    assert_eq!(relay.admin("GET", "/api/dlq").await.body["dead"], json!([]));
}
