//! Posting events to an in-process relay's webhook, as MonitorQA does.

use std::fmt::Display;

use serde_json::Value;

use super::wait::DEADLINE;

/// Posts one event to `/webhook/<token>`; returns the status and the acknowledged id (empty
/// when the answer names none).
pub async fn post(
    client: &reqwest::Client,
    addr: impl Display,
    token: &str,
    event: &Value,
) -> (u16, String) {
    let response = client
        .post(format!("http://{addr}/webhook/{token}"))
        .json(event)
        .timeout(DEADLINE)
        .send()
        .await
        .expect("the relay answers");
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    (status, body["id"].as_str().unwrap_or_default().to_string())
}

/// Posts an event that must be acknowledged with 202; returns its id.
pub async fn ack(
    client: &reqwest::Client,
    addr: impl Display,
    token: &str,
    event: &Value,
) -> String {
    let (status, id) = post(client, addr, token, event).await;
    assert_eq!(status, 202, "the relay acknowledges the event");
    assert!(!id.is_empty(), "the acknowledgement names the event");
    id
}
