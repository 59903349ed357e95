//! The admin API as an operator uses it: who may call it, the event list and one event's
//! story, the dead-letter list, fixing a template and replaying, dropping, and what cannot be
//! replayed.

use mqa_relay::store::DeliveryState;
use serde_json::Value;

use crate::support::mock::Answer;
use crate::support::providers::{SlackWebhook, WebhookReceiver};
use crate::support::relay::{
    ADMIN, Spec, TOKEN, deliveries_of, spawn_relay, wait_deliveries, webhook_target, write_file,
};
use crate::support::wait::{eventually, sample};

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
