//! The integration tests, one binary: `cargo test --test it`, or one area with e.g.
//! `cargo test --test it operations::`. The modules:
//!
//! - [`support`]: what the tests stand on. `mock`, a scriptable HTTP server on 127.0.0.1, and
//!   on it the providers: `providers` (Slack, Teams, a webhook receiver, an echoing service),
//!   `mail_providers` (SendGrid, Mailgun, Postmark, Resend) and `monitorqa` (the MonitorQA
//!   API); `config`, configurations read from YAML; `relay`, a relay started in this process
//!   (`spawn_relay`); `process`, the real binary; `logs`, the capture of every log line; `wait`,
//!   polling with a deadline and the sample events.
//! - [`targets`]: each target kind builds its request, sends it to its provider's mock and
//!   classifies the answer (`email`, `slack`, `teams`, `webhook`, `transport`, `secrets`), and
//!   the answer tables they check (`table`).
//! - [`delivery`]: a whole relay delivering events end to end: the exact requests, retries,
//!   the lanes, hostile values, and secrets kept out of logs and the store.
//! - [`enrich`]: MonitorQA lookups, by the enricher alone (`lookups`) and in a relay that routes
//!   on them (`routing`).
//! - [`operations`]: the relay's promise under crashes, slow and failing targets, a full disk,
//!   duplicates, reloads and shutdown, and what an operator sees and does (admin API, `dlq`,
//!   metrics, retention, data directory, migration).
//! - [`server`]: the HTTP routes, the accept loop over real sockets, and the access log.
//! - [`store`]: the embedded store against real SQLite files: intake, the delivery queue and
//!   the router.
//! - [`binary`]: the real binary as an operator drives it: killed, reloaded, `check` and `test`.
//! - [`ui`]: the operator page against the real binary, in a real headless Chromium and over
//!   plain HTTP.
//! - [`docs`]: every command README.md and rules.example.yaml show, run or checked against the
//!   binary.

mod support;

mod binary;
mod delivery;
mod docs;
mod enrich;
mod operations;
mod server;
mod store;
mod targets;
mod ui;
