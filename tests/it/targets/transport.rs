//! Transport failures: a provider that never answers, and a port where nothing listens.

use std::time::Duration;

use mqa_relay::targets::{TransportErrorKind, Verdict, classify_transport, execute, http};

use super::{content_for, sample};
use crate::support::config::{quoted, target};
use crate::support::mock::Answer;
use crate::support::providers::{SlackWebhook, closed_port_url};

#[tokio::test]
async fn a_hanging_provider_times_out_and_the_retry_says_it_may_have_arrived() {
    let slack = SlackWebhook::start().await;
    slack.script([Answer::hang()]);
    let url = slack.url();
    let t = target(&format!("{{ kind: slack, url: {} }}", quoted(&url)));
    let req = t.build(&content_for(&t, sample), "k").unwrap();
    let client = http::client().unwrap();

    let err = execute(&client, &req, Duration::from_millis(300))
        .await
        .unwrap_err();
    assert_eq!(err.kind, TransportErrorKind::Timeout);
    assert!(
        !err.message.contains(SlackWebhook::SECRET),
        "{}",
        err.message
    );
    assert!(!err.to_string().contains("127.0.0.1"), "{err}");
    let verdict = classify_transport(&err);
    let Verdict::Retry { reason, .. } = verdict else {
        panic!("{verdict:?}")
    };
    assert!(reason.contains("may have received the message"));
    assert_eq!(slack.received().len(), 1);
}

#[tokio::test]
async fn a_closed_port_is_a_connect_error_that_names_no_url() {
    let url = closed_port_url().await;
    let t = target(&format!("{{ kind: webhook, url: {} }}", quoted(&url)));
    let req = t
        .build(
            &mqa_relay::targets::Content::Event(serde_json::json!({})),
            "k",
        )
        .unwrap();
    let client = http::client().unwrap();

    let err = execute(&client, &req, Duration::from_secs(5))
        .await
        .unwrap_err();
    assert_eq!(err.kind, TransportErrorKind::Connect, "{err:?}");
    assert!(!err.message.contains("hooks/closed"), "{}", err.message);
    let Verdict::Retry { reason, .. } = classify_transport(&err) else {
        panic!()
    };
    assert!(reason.starts_with("could not connect; nothing was sent"));
}
