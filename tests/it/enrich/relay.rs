//! The relay under test for the enrichment tests: a rules file with a `monitorqa` section
//! pointing at the local MonitorQA API, one Slack webhook target, and two rules (one on an
//! enriched field, one for events that stayed unenriched); started in-process on port 0.
//! Also the process-wide log capture, the sample events and the polling helper.

use std::path::Path;

use mqa_relay::relay::{self, RunningRelay as Running, StartOptions};
use mqa_relay::store::EventDetails;
use serde_json::Value;

/// The API key the local MonitorQA API accepts.
pub const KEY: &str = "mqa-api-key-R7d2Kq9wXz";
/// The webhook token of every test relay.
pub const TOKEN: &str = "enrich-test-token-3b9e";
pub use crate::support::wait::{DEADLINE, eventually, sample};
use crate::support::webhook;

/// The rule that routes on a looked-up field.
pub const FOOD_SAFETY: &str = "food safety checks";
/// The rule for audit events the relay could not look up.
pub const UNENRICHED: &str = "audits without details";

pub use crate::support::logs::logs;

/// What the `monitorqa` section says.
pub struct Api<'a> {
    pub base_url: &'a str,
    pub key: &'a str,
    /// `monitorqa.timeout`, e.g. `"300ms"`; `None` keeps the default (3 s).
    pub timeout: Option<&'a str>,
}

/// The rules file: the API, a Slack target at `slack_url`, and the two rules.
pub fn rules(api: &Api<'_>, slack_url: &str) -> String {
    let timeout = api
        .timeout
        .map(|t| format!("  timeout: {t}\n"))
        .unwrap_or_default();
    format!(
        r#"server:
  token: {TOKEN}
monitorqa:
  api_key: "{key}"
  base_url: "{base}"
{timeout}targets:
  slack: {{ kind: slack, url: "{slack_url}", rate_limit: 1000/s }}
rules:
  - name: {FOOD_SAFETY}
    events: "AUDIT_*"
    where: {{ audit.template.name: Food Safety Daily Check }}
    notify: [slack]
  - name: {UNENRICHED}
    events: "AUDIT_*"
    where: {{ audit: {{ exists: false }} }}
    notify: [slack]
  - name: actions that matter
    events: "CORRECTIVE_ACTION_*"
    where: {{ action.priority: 2 }}
    notify: [slack]
"#,
        key = api.key,
        base = api.base_url,
    )
}

/// A relay running in-process with its own rules file and data directory.
pub struct TestRelay {
    pub dir: tempfile::TempDir,
    running: Option<Running>,
    client: reqwest::Client,
}

impl TestRelay {
    /// Writes `rules_yaml` and starts a relay on it.
    pub async fn spawn(rules_yaml: &str) -> TestRelay {
        let dir = tempfile::tempdir().expect("a temporary directory");
        TestRelay::spawn_in(dir, rules_yaml).await
    }

    /// Like [`TestRelay::spawn`], in a directory that may already hold a store (`data/`).
    pub async fn spawn_in(dir: tempfile::TempDir, rules_yaml: &str) -> TestRelay {
        logs();
        std::fs::write(dir.path().join("rules.yaml"), rules_yaml).expect("write rules.yaml");
        let args = StartOptions {
            listen: Some("127.0.0.1:0".parse().expect("an address")),
            data_dir: Some(data_dir(dir.path())),
            ..StartOptions::new(dir.path().join("rules.yaml"))
        };
        let running = match relay::start(args).await {
            Ok(running) => running,
            Err(e) => panic!("the relay does not start: {e:#}"),
        };
        TestRelay {
            dir,
            running: Some(running),
            client: reqwest::Client::new(),
        }
    }

    fn running(&self) -> &Running {
        self.running.as_ref().expect("the relay is running")
    }

    /// Posts an event that must be acknowledged with 202; returns its id.
    pub async fn ack(&self, event: &Value) -> String {
        webhook::ack(&self.client, self.running().addr, TOKEN, event).await
    }

    /// The event as stored, routed or not.
    pub async fn event(&self, id: &str) -> EventDetails {
        let store = &self.running().relay.store;
        let details = store.event(id).await.expect("the store answers");
        details.unwrap_or_else(|| panic!("event {id} is stored"))
    }

    /// The event once the router has routed it.
    pub async fn routed(&self, id: &str) -> EventDetails {
        eventually(&format!("event {id} to be routed"), async || {
            let details = self.event(id).await;
            details.routed_at.is_some().then_some(details)
        })
        .await
    }

    /// `mqa_relay_enrichment_lookups_total{reason="<reason>"}`, 0 when never counted.
    pub fn lookups(&self, reason: &str) -> u64 {
        let text = self.running().relay.metrics.encode();
        let prefix = format!("mqa_relay_enrichment_lookups_total{{reason=\"{reason}\"}} ");
        text.lines()
            .find_map(|line| line.strip_prefix(&prefix))
            .map(|n| n.trim().parse().expect("a counter value"))
            .unwrap_or(0)
    }

    /// Drains and stops the relay, and returns its directory.
    pub async fn stop(mut self) -> tempfile::TempDir {
        if let Some(running) = self.running.take() {
            tokio::time::timeout(DEADLINE, running.stop())
                .await
                .expect("the relay stops within the deadline");
        }
        self.dir
    }
}

/// Where a relay started in `dir` keeps its store.
pub fn data_dir(dir: &Path) -> std::path::PathBuf {
    dir.join("data")
}

/// The sample `name` (an id-only audit event) about the audit `id`.
pub fn about(name: &str, id: &str) -> Value {
    let mut event = sample(name);
    event["data"]["auditId"] = Value::String(id.into());
    event
}

/// The API's answer for audit `id`: the AUDIT_COMPLETED sample's audit under that id, not yet
/// carried out, as `GET /audit/{id}` gives it (no report link, no signatures).
pub fn audit_body(id: &str) -> Value {
    let mut data = sample("audit_completed")["data"].clone();
    let map = data
        .as_object_mut()
        .expect("the sample's data is an object");
    for key in [
        "auditId",
        "reportUrl",
        "auditorSignature",
        "auditeeSignature",
    ] {
        map.remove(key);
    }
    map.insert("id".into(), Value::String(id.into()));
    // Not done yet: what the API says about an audit that is assigned, expired or reopened.
    for (key, value) in [
        ("isStarted", false),
        ("isCompleted", false),
        ("isFailed", false),
    ] {
        map.insert(key.into(), Value::Bool(value));
    }
    for key in [
        "startedAt",
        "startedBy",
        "completeDate",
        "completedBy",
        "score",
        "scoreLabel",
        "scoreColor",
        "completionTime",
    ] {
        map.insert(key.into(), Value::Null);
    }
    data
}

/// Every string in a JSON value, in document order, one per line: what a person can read
/// in a Slack message.
pub fn words(value: &Value) -> String {
    fn walk(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::String(s) => out.push(s.clone()),
            Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
            Value::Object(map) => map.values().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(value, &mut out);
    out.join("\n")
}
