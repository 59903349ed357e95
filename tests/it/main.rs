//! The integration tests: one binary (`cargo test --test it`; one area with e.g.
//! `cargo test --test it operations::`).
//!
//! - [`support`]: local mock servers answering like Slack, Teams, the email providers and the
//!   MonitorQA API, the in-process relay, the real binary, log capture and polling.
//! - [`targets`]: each target kind builds, sends and classifies against its provider's mock.
//! - [`delivery`]: a whole relay delivering events end to end to the mock providers.
//! - [`enrich`]: MonitorQA lookups, alone and in a relay.
//! - [`operations`]: crashes, slow and failing targets, a full disk, reloads, shutdown, the
//!   admin API, `dlq`, metrics and retention.
//! - [`server`]: the HTTP routes and the accept loop over real sockets.
//! - [`store`]: the embedded store against real SQLite files.
//! - [`binary`]: the real binary, killed, reloaded and checked as an operator does.

mod support;

mod binary;
mod delivery;
mod enrich;
mod operations;
mod server;
mod store;
mod targets;
