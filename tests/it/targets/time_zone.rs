//! `time_zone:` on a target: the readers' zone, used for times of an event that names no zone
//! of its own (an audit never does), instead of UTC; a name the relay does not know is refused
//! with what was meant.

use mqa_relay::compose::{DeliveryInfo, context, request_for};
use mqa_relay::template::{Templates, sample_event};
use serde_json::Value;

use super::json_body;
use crate::support::config::{configured, refused};

/// An expired audit with the details the MonitorQA lookup adds (due 20 Nov, 13:00 UTC).
fn expired_audit() -> Value {
    let mut event = sample_event("AUDIT_EXPIRED").expect("the sample");
    event["audit"] = sample_event("AUDIT_COMPLETED").expect("the sample")["data"].clone();
    context(&event, &DeliveryInfo::default())
}

fn slack_text(target: &str, event: &Value) -> String {
    let req = request_for(&Templates::builtin(), &configured(target), None, event, "k").unwrap();
    serde_json::to_string(json_body(&req)).unwrap()
}

#[test]
fn an_audits_times_are_shown_in_the_targets_time_zone() {
    let zoned = r#"{ kind: slack, url: "https://hooks.slack.com/services/T/B/x", time_zone: America/New_York }"#;
    let plain = r#"{ kind: slack, url: "https://hooks.slack.com/services/T/B/x" }"#;
    let text = slack_text(zoned, &expired_audit());
    assert!(text.contains("Fri 20 Nov, 08:00 EST"), "{text}");
    assert!(!text.contains("UTC"), "{text}");
    let text = slack_text(plain, &expired_audit());
    assert!(text.contains("Fri 20 Nov, 13:00 UTC"), "{text}");
}

#[test]
fn an_actions_own_zone_is_kept_over_the_targets() {
    let zoned = r#"{ kind: slack, url: "https://hooks.slack.com/services/T/B/x", time_zone: America/New_York }"#;
    let event = sample_event("CORRECTIVE_ACTION_REJECTED").expect("the sample");
    let text = slack_text(zoned, &context(&event, &DeliveryInfo::default()));
    // The audit's zone, Europe/Lisbon, is where the action is done.
    assert!(text.contains("23:59 WET"), "{text}");
}

#[test]
fn an_unknown_time_zone_is_refused_with_the_name_meant() {
    let error = refused(r#"{ kind: teams, url: "https://x.example/w", time_zone: Europe/Lisbn }"#);
    assert!(
        error.contains("`time_zone`: `Europe/Lisbn` is not a time zone name the relay knows")
            && error.contains("did you mean `Europe/Lisbon`?"),
        "{error}"
    );
    assert!(error.starts_with("rules.yaml:2:"), "{error}");
}
