//! A relay under test, in this process ([`spawn_relay`]): a rules file (and templates) in a
//! temporary directory, the relay started through the library's composition root
//! (`relay::start`) on port 0, HTTP calls to it, and its store. Also the numbered events the
//! tests post, and waiting on a store.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use mqa_relay::app::Relay;
use mqa_relay::relay::{self, RunningRelay as Running, StartOptions};
use mqa_relay::store::{
    AttemptRecord, DeliveryRecord, DeliveryState, EventDetails, Store, StoreCounts,
};
use serde_json::Value;

use super::wait::{DEADLINE, eventually, eventually_within, sample};

/// The webhook token of every relay under test.
pub const TOKEN: &str = "test-webhook-token-41d2";
/// The admin token of relays that have one.
pub const ADMIN: &str = "test-admin-token-9c7e";

/// What goes into the rules file besides `server.token`.
pub struct Spec<'a> {
    /// Extra lines of the `server:` section, each indented by two spaces.
    pub server: &'a str,
    /// The rest of the file: `targets:`, `rules:`, `monitorqa:`…
    pub body: &'a str,
    /// Files written into `templates/`.
    pub templates: &'a [(&'a str, &'a str)],
    /// The store's directory (default: `data/` beside the rules file).
    pub data_dir: Option<PathBuf>,
    /// Whether `server.admin_token` is set (to [`ADMIN`]); it is by default.
    pub admin: bool,
}

impl<'a> Spec<'a> {
    /// A relay with an admin token and `body` as the rest of its rules file.
    pub fn new(body: &'a str) -> Spec<'a> {
        Spec {
            body,
            ..Spec::default()
        }
    }
}

impl Default for Spec<'_> {
    fn default() -> Self {
        Spec {
            server: "",
            body: "",
            templates: &[],
            data_dir: None,
            admin: true,
        }
    }
}

/// A relay running in this process, with its own rules file and store.
pub struct TestRelay {
    dir: tempfile::TempDir,
    /// The `server:` section of the rules file.
    server: String,
    data_dir: PathBuf,
    running: Option<Running>,
    client: reqwest::Client,
}

/// One answer of the relay's HTTP server.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    /// The body as JSON, or as a JSON string when it is not JSON.
    pub body: Value,
    /// The body as it came.
    pub text: String,
    pub retry_after: Option<String>,
}

/// Writes the rules file of `spec` (and its templates) into a temporary directory and starts a
/// relay on it, listening on 127.0.0.1 port 0.
pub async fn spawn_relay(spec: Spec<'_>) -> TestRelay {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let admin = match spec.admin {
        true => format!("  admin_token: {ADMIN}\n"),
        false => String::new(),
    };
    let server = format!("server:\n  token: {TOKEN}\n{admin}{}", spec.server);
    write_file(
        &dir.path().join("rules.yaml"),
        &format!("{server}{}", spec.body),
    );
    for (name, text) in spec.templates {
        write_file(&dir.path().join("templates").join(name), text);
    }
    let data_dir = spec.data_dir.unwrap_or_else(|| dir.path().join("data"));
    let running = start(dir.path(), &data_dir).await;
    TestRelay {
        dir,
        server,
        data_dir,
        running: Some(running),
        client: reqwest::Client::new(),
    }
}

impl TestRelay {
    fn running(&self) -> &Running {
        self.running.as_ref().expect("the relay is running")
    }

    pub fn relay(&self) -> &Arc<Relay> {
        &self.running().relay
    }

    pub fn store(&self) -> &Store {
        &self.running().relay.store
    }

    /// The directory of the rules file (templates go into `templates/` in it).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The store's directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Replaces the targets and rules in the rules file (the `server:` section stays); the
    /// relay sees them at its next reload.
    pub fn rewrite_rules(&self, body: &str) {
        self.rewrite_with_server(body, "");
    }

    /// Like [`TestRelay::rewrite_rules`], with `server_lines` (indented by two spaces) added to
    /// the `server:` section.
    pub fn rewrite_with_server(&self, body: &str, server_lines: &str) {
        let text = format!("{}{server_lines}{body}", self.server);
        write_file(&self.dir.path().join("rules.yaml"), &text);
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.running().addr)
    }

    /// Posts one event to the webhook.
    pub async fn post(&self, event: &Value) -> Answer {
        let request = self.client.post(self.url(&format!("/webhook/{TOKEN}")));
        send(request.json(event)).await
    }

    /// Posts an event that must be acknowledged; returns its id.
    pub async fn ack(&self, event: &Value) -> String {
        let answer = self.post(event).await;
        assert_eq!(answer.status, 202, "the relay acknowledges: {answer:?}");
        let id = answer.body["id"].as_str().unwrap_or_default().to_string();
        assert!(!id.is_empty(), "the acknowledgement names the event");
        id
    }

    /// A request to `path` with `Authorization: Bearer <bearer>` (none if `None`).
    pub async fn call(&self, method: &str, path: &str, bearer: Option<&str>) -> Answer {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("an HTTP method");
        let mut request = self.client.request(method, self.url(path));
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        send(request).await
    }

    /// A request to an admin route with the admin token.
    pub async fn admin(&self, method: &str, path: &str) -> Answer {
        self.call(method, path, Some(ADMIN)).await
    }

    /// `GET path` without a token: the status and the body.
    pub async fn get_text(&self, path: &str) -> (u16, String) {
        let answer = self.call("GET", path, None).await;
        (answer.status, answer.text)
    }

    /// The event as stored (`None` if the store does not know it).
    pub async fn event(&self, id: &str) -> Option<EventDetails> {
        self.store().event(id).await.expect("the store answers")
    }

    /// The event once the router has routed it.
    pub async fn routed(&self, id: &str) -> EventDetails {
        eventually(&format!("event {id} to be routed"), async || {
            let details = self.event(id).await?;
            details.routed_at.is_some().then_some(details)
        })
        .await
    }

    pub async fn counts(&self) -> StoreCounts {
        self.store().counts().await.expect("the store answers")
    }

    /// The deliveries of event `id`, in creation order.
    pub async fn deliveries(&self, id: &str) -> Vec<DeliveryRecord> {
        deliveries_of(self.store(), id).await
    }

    /// Every delivery in `state`.
    pub async fn deliveries_in(&self, state: DeliveryState) -> Vec<DeliveryRecord> {
        let store = self.store();
        let deliveries = store.deliveries_by_state(state, 1000).await;
        deliveries.expect("the store answers")
    }

    /// The one delivery of event `id` once it is in `state`, with its attempts.
    pub async fn wait_state(
        &self,
        id: &str,
        state: DeliveryState,
    ) -> (DeliveryRecord, Vec<AttemptRecord>) {
        self.wait_states(id, state, 1).await.remove(0)
    }

    /// The `n` deliveries of event `id`, once all of them are in `state`; panics as soon as
    /// one ends in another state.
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

    /// Waits until every stored event is routed and no delivery is waiting or in flight.
    pub async fn wait_settled(&self) -> StoreCounts {
        wait_settled(self.store(), DEADLINE).await
    }

    /// Stops the relay (drain, stop the loops, close the store) and starts a new one on the
    /// same rules file and data directory.
    pub async fn restart(&mut self) {
        self.stop().await;
        self.running = Some(start(self.dir.path(), &self.data_dir).await);
    }

    /// Drains and stops the relay.
    pub async fn stop(&mut self) {
        if let Some(running) = self.running.take() {
            within("the relay to stop", DEADLINE, running.stop()).await;
        }
    }
}

async fn start(dir: &Path, data_dir: &Path) -> Running {
    let args = StartOptions {
        listen: Some("127.0.0.1:0".parse().expect("an address")),
        data_dir: Some(data_dir.to_path_buf()),
        ..StartOptions::new(dir.join("rules.yaml"))
    };
    match relay::start(args).await {
        Ok(running) => running,
        Err(e) => panic!("the relay does not start: {e:#}"),
    }
}

async fn send(request: reqwest::RequestBuilder) -> Answer {
    let response = request
        .timeout(DEADLINE)
        .send()
        .await
        .expect("the relay answers");
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let text = response.text().await.unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or_else(|_| Value::String(text.clone()));
    Answer {
        status,
        body,
        text,
        retry_after,
    }
}

/// Writes a file, creating its directory; replaces an existing file atomically (a reload
/// never reads half a file).
pub fn write_file(path: &Path, text: &str) {
    let dir = path.parent().expect("a file in a directory");
    std::fs::create_dir_all(dir).expect("create the directory");
    let name = path.file_name().expect("a file name").to_string_lossy();
    let temporary = dir.join(format!(".{name}.new"));
    std::fs::write(&temporary, text).expect("write the file");
    std::fs::rename(&temporary, path).expect("move the file into place");
}

/// Waits until every event in `store` is routed and no delivery is pending or sending.
pub async fn wait_settled(store: &Store, limit: Duration) -> StoreCounts {
    eventually_within(
        "every event routed and every delivery finished",
        limit,
        async || {
            let counts = store.counts().await.ok()?;
            (counts.unrouted == 0 && counts.pending == 0 && counts.sending == 0).then_some(counts)
        },
    )
    .await
}

/// The deliveries of event `id`, in creation order (none if the event is unknown).
pub async fn deliveries_of(store: &Store, id: &str) -> Vec<DeliveryRecord> {
    let details = store.event(id).await.expect("the store answers");
    details
        .map(|d| d.deliveries.into_iter().map(|(d, _)| d).collect())
        .unwrap_or_default()
}

/// Waits until event `id` has `n` deliveries, all in `state`.
pub async fn wait_deliveries(
    store: &Store,
    id: &str,
    n: usize,
    state: DeliveryState,
) -> Vec<DeliveryRecord> {
    let what = format!("{n} deliveries of {id} to be {}", state.as_str());
    eventually(&what, async || {
        let deliveries = deliveries_of(store, id).await;
        let done = deliveries.len() == n && deliveries.iter().all(|d| d.state == state);
        done.then_some(deliveries)
    })
    .await
}

/// Runs `f` with a deadline; panics naming `what` if it does not finish in time.
pub async fn within<T>(what: &str, limit: Duration, f: impl Future<Output = T>) -> T {
    match tokio::time::timeout(limit, f).await {
        Ok(v) => v,
        Err(_) => panic!("timed out after {limit:?} waiting for {what}"),
    }
}

/// The expired-audit sample with `data.seq = seq`: events with different numbers are
/// different events (the dedup sees different content), and a webhook target's body (the
/// event as JSON) says which one arrived.
pub fn numbered(seq: u64) -> Value {
    let mut event = sample("audit_expired");
    event["data"]["seq"] = Value::from(seq);
    event
}

/// The number of a [`numbered`] event, read from a webhook body.
pub fn seq_of(body: &Value) -> u64 {
    body["data"]["seq"]
        .as_u64()
        .unwrap_or_else(|| panic!("not a numbered event: {body}"))
}

/// A webhook target at `url` with short backoffs, plus `extra` keys (", timeout: 1s").
pub fn webhook_target(url: &str, extra: &str) -> String {
    format!("{{ kind: webhook, url: \"{url}\", retry: {{ initial: 100ms, max: 1s }}{extra} }}")
}
