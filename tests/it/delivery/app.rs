//! A relay under test: [`spawn_app`] writes a rules file (and templates) into a temporary
//! directory, starts the relay on port 0, and offers posting events and reading the store.
//! Also the process-wide log capture, sample events and polling helpers.

use std::path::Path;
use std::time::{Duration, Instant};

use mqa_relay::relay::{self, RunningRelay as Running, StartOptions};
use mqa_relay::store::{AttemptRecord, DeliveryRecord, DeliveryState, EventDetails, StoreCounts};
use serde_json::Value;

/// The webhook token every test relay accepts.
pub const TOKEN: &str = "delivery-test-token-5c1e";
/// The admin API token of every test relay.
pub const ADMIN_TOKEN: &str = "delivery-admin-token-8d2f";

pub use crate::support::wait::{DEADLINE, eventually, sample};
use crate::support::webhook;

pub use crate::support::logs::logs;

/// A running relay with its own rules file and data directory.
pub struct TestApp {
    dir: tempfile::TempDir,
    running: Option<Running>,
    client: reqwest::Client,
}

/// Starts a relay with `rules_yaml` (everything but the `server:` section, which is added).
pub async fn spawn_app(rules_yaml: &str) -> TestApp {
    spawn_app_with(rules_yaml, &[]).await
}

/// Like [`spawn_app`], with files written into `templates/` beside the rules file.
pub async fn spawn_app_with(rules_yaml: &str, templates: &[(&str, &str)]) -> TestApp {
    logs();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let rules = format!("server:\n  token: {TOKEN}\n  admin_token: {ADMIN_TOKEN}\n{rules_yaml}");
    std::fs::write(dir.path().join("rules.yaml"), rules).expect("write rules.yaml");
    if !templates.is_empty() {
        let tdir = dir.path().join("templates");
        std::fs::create_dir(&tdir).expect("create templates/");
        for (name, text) in templates {
            std::fs::write(tdir.join(name), text).expect("write a template");
        }
    }
    let running = start(dir.path()).await;
    TestApp {
        dir,
        running: Some(running),
        client: reqwest::Client::new(),
    }
}

async fn start(dir: &Path) -> Running {
    let args = StartOptions {
        listen: Some("127.0.0.1:0".parse().expect("an address")),
        data_dir: Some(dir.join("data")),
        ..StartOptions::new(dir.join("rules.yaml"))
    };
    match relay::start(args).await {
        Ok(running) => running,
        Err(e) => panic!("the relay does not start: {e:#}"),
    }
}

impl TestApp {
    fn running(&self) -> &Running {
        self.running.as_ref().expect("the relay is running")
    }

    /// Posts an event that must be acknowledged with 202; returns its id.
    pub async fn ack(&self, event: &Value) -> String {
        webhook::ack(&self.client, self.running().addr, TOKEN, event).await
    }

    /// `GET` on the admin API (`path` starts with `/api/`): the status and the body.
    pub async fn admin_get(&self, path: &str) -> (u16, String) {
        let url = format!("http://{}{path}", self.running().addr);
        let answer = self
            .client
            .get(url)
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .expect("the admin API answers");
        let status = answer.status().as_u16();
        (status, answer.text().await.expect("a readable body"))
    }

    pub async fn event(&self, id: &str) -> Option<EventDetails> {
        self.running()
            .relay
            .store
            .event(id)
            .await
            .expect("the store answers")
    }

    pub async fn counts(&self) -> StoreCounts {
        self.running()
            .relay
            .store
            .counts()
            .await
            .expect("the store answers")
    }

    pub async fn deliveries_in(&self, state: DeliveryState) -> Vec<DeliveryRecord> {
        self.running()
            .relay
            .store
            .deliveries_by_state(state, 1000)
            .await
            .expect("the store answers")
    }

    /// The one delivery of event `id` once it is in `state`, with its attempts.
    pub async fn wait_state(
        &self,
        id: &str,
        state: DeliveryState,
    ) -> (DeliveryRecord, Vec<AttemptRecord>) {
        self.wait_states(id, state, 1).await.remove(0)
    }

    /// The `n` deliveries of event `id`, once all of them are in `state`.
    pub async fn wait_states(
        &self,
        id: &str,
        state: DeliveryState,
        n: usize,
    ) -> Vec<(DeliveryRecord, Vec<AttemptRecord>)> {
        let what = format!("{n} deliveries of event {id} to be {}", state.as_str());
        eventually(&what, async || {
            let details = self.event(id).await?;
            let finished =
                |s: DeliveryState| matches!(s, DeliveryState::Delivered | DeliveryState::Dead);
            if let Some((other, attempts)) = details
                .deliveries
                .iter()
                .find(|(d, _)| d.state != state && finished(d.state))
            {
                panic!("waiting for {what}, but one ended {other:?} after {attempts:?}");
            }
            let done = details.deliveries.len() == n
                && details.deliveries.iter().all(|(d, _)| d.state == state);
            done.then_some(details.deliveries)
        })
        .await
    }

    /// Stops the relay (drain, stop the loops, close the store) and starts a new one on the
    /// same rules file and data directory.
    pub async fn restart(&mut self) {
        self.stop().await;
        self.running = Some(start(self.dir.path()).await);
    }

    /// Drains and stops the relay.
    pub async fn stop(&mut self) {
        if let Some(running) = self.running.take() {
            tokio::time::timeout(DEADLINE, running.stop())
                .await
                .expect("the relay stops within the deadline");
        }
    }
}

/// The rejected corrective action sample, renamed so that events `n` differ (and so are not
/// one event to the dedup).
pub fn numbered_action(n: usize) -> Value {
    let mut event = sample("corrective_action_rejected");
    event["data"]["correctiveAction"]["name"] = Value::String(format!("Repair number {n}"));
    event
}

/// The number given to [`numbered_action`], read from a webhook body (the event as JSON).
pub fn action_number(body: &Value) -> usize {
    body["data"]["correctiveAction"]["name"]
        .as_str()
        .and_then(|name| name.strip_prefix("Repair number "))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("not a numbered action: {body}"))
}

/// The gaps between consecutive arrival times.
pub fn gaps(times: &[Instant]) -> Vec<Duration> {
    times.windows(2).map(|w| w[1] - w[0]).collect()
}

/// A rules file body: `targets` as `(name, flow mapping)` pairs, and one rule sending events
/// of `events` (a name, a glob or `*`) to all of them.
pub fn config(targets: &[(&str, String)], events: &str) -> String {
    let mut out = String::from("targets:\n");
    for (name, body) in targets {
        out.push_str(&format!("  {name}: {body}\n"));
    }
    let names: Vec<&str> = targets.iter().map(|(n, _)| *n).collect();
    out.push_str(&format!(
        "rules:\n  - name: all to {names}\n    events: \"{events}\"\n    notify: [{names}]\n",
        names = names.join(", ")
    ));
    out
}
