//! A corrective action's update says what changed since the relay's last event about the same
//! action, old → new, and says plainly when there is no earlier event to compare with.

use serde_json::Value;

use super::config;
use crate::support::providers::SlackWebhook;
use crate::support::relay::{Spec, spawn_relay};
use crate::support::wait::{DEADLINE, sample};

/// The sample's action as it was when assigned: due on the 22nd, with a shorter description.
fn assigned() -> Value {
    let mut event = sample("corrective_action_updated");
    event["event"] = "CORRECTIVE_ACTION_ASSIGNED".into();
    let action = &mut event["data"]["correctiveAction"];
    action["dueDateUtc"] = "2026-11-22T23:59:59.000Z".into();
    action["description"] = "Call the refrigeration contractor".into();
    event
}

/// The text of a Slack message: the header and every section, in order.
fn slack_text(body: &[u8]) -> String {
    let message: Value = serde_json::from_slice(body).expect("Slack got JSON");
    message["blocks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|b| b["text"]["text"].as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn an_update_says_what_changed_since_the_last_event_about_the_action() {
    let slack = SlackWebhook::start().await;
    let target = format!("{{ kind: slack, url: \"{}\" }}", slack.url());
    let relay = spawn_relay(Spec::new(&config(&[("kitchen", target)], "*"))).await;
    relay.ack(&assigned()).await;
    slack.wait_for(1, DEADLINE).await;
    let id = relay.ack(&sample("corrective_action_updated")).await;
    let received = slack.wait_for(2, DEADLINE).await;
    let text = slack_text(&received[1].body);
    assert!(
        text.contains("Changed since the relay's last event about it:\n")
            && text.contains("• Due: Sun 22 Nov 2026, 23:59 WET → Tue 24 Nov 2026, 23:59 WET")
            && text.contains(
                "• Description: Call the refrigeration contractor → Call the refrigeration \
                 contractor (ticket #5521) and move stock to the backup freezer"
            ),
        "{text}"
    );
    // Nothing else is listed as changed.
    assert_eq!(text.matches("• ").count(), 2, "{text}");
    // The comparison is kept with the event: the API shows what every retry renders.
    let details = relay.admin("GET", &format!("/api/events/{id}")).await;
    assert_eq!(details.status, 200, "{}", details.text);
    assert!(details.text.contains("\"changes\""), "{}", details.text);
    assert!(
        details.text.contains("CORRECTIVE_ACTION_ASSIGNED"),
        "{}",
        details.text
    );
}

#[tokio::test]
async fn an_update_with_no_earlier_event_says_it_cannot_tell_what_changed() {
    let slack = SlackWebhook::start().await;
    let target = format!("{{ kind: slack, url: \"{}\" }}", slack.url());
    let relay = spawn_relay(Spec::new(&config(&[("kitchen", target)], "*"))).await;
    relay.ack(&sample("corrective_action_updated")).await;
    let received = slack.wait_for(1, DEADLINE).await;
    let text = slack_text(&received[0].body);
    assert!(
        text.contains(
            "\nNo earlier event about this action is stored here, so what changed is not known"
        ),
        "{text}"
    );
    assert!(!text.contains('→'), "{text}");
}
