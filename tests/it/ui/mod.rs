//! The operator page, against the real binary: in a real headless Chromium ([`browser`]: signing
//! in, an event's story, a dead letter replayed once, a re-route, the preview of a pasted event
//! against a draft rule, hostile text while tailing, the keyboard alone, every screen at
//! desktop and phone width with no script error, no failed request and nothing axe-core finds
//! wrong), and over plain HTTP ([`security`]: off without a token, refused cross-site and
//! token-less posts, the lockout after wrong tokens, bodies too large or too slow, a resent
//! confirmation, no secret on any screen).

mod browser;
mod security;

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::support::process::{Launch, RelayProcess};
use crate::support::relay::{TOKEN, write_file};
use crate::support::wait::{eventually_within, sample};

/// The admin token of every relay here.
pub const ADMIN: &str = "ui-admin-token-4c1d9e";

/// Waits for answers from a relay that delivers on a busy machine.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// The rejected corrective action sample, named `name`.
pub fn action(name: &str) -> Value {
    let mut event = sample("corrective_action_rejected");
    event["data"]["correctiveAction"]["name"] = Value::from(name);
    event
}

/// `server:` with both tokens, and the store line (`""`: the embedded store).
pub fn server(store: &str) -> String {
    let store = match store {
        "" => String::new(),
        url => format!("  store: \"{url}\"\n"),
    };
    format!("server:\n  token: {TOKEN}\n  admin_token: {ADMIN}\n{store}")
}

/// Writes `rules` to `dir/rules.yaml` and starts the binary on it with `envs`.
pub async fn start(dir: &Path, rules: &str, envs: &[(&str, &str)]) -> RelayProcess {
    write_file(&dir.join("rules.yaml"), rules);
    let how = Launch {
        envs: envs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..Launch::default()
    };
    RelayProcess::start_as(dir, 1, TOKEN, &how).await
}

/// `GET`s `path` with the admin token as Bearer; the status and the body.
pub async fn admin_get(relay: &RelayProcess, path: &str) -> (u16, String) {
    let response = reqwest::Client::new()
        .get(format!("http://{}{path}", relay.addr))
        .bearer_auth(ADMIN)
        .send()
        .await
        .expect("the relay answers");
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

/// Waits until the admin API lists `n` open dead letters; returns their delivery ids.
pub async fn dead_letters(relay: &RelayProcess, n: usize) -> Vec<i64> {
    eventually_within("the dead letters", DEADLINE, async || {
        let (_, body) = admin_get(relay, "/api/dlq").await;
        let list: Value = serde_json::from_str(&body).ok()?;
        let ids: Vec<i64> = list["dead"]
            .as_array()?
            .iter()
            .filter_map(|d| d["id"].as_i64())
            .collect();
        (ids.len() == n).then_some(ids)
    })
    .await
}
