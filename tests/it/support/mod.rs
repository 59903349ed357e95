//! Test support shared by the integration tests: `browser`, a headless Chromium over
//! WebDriver; local mock servers that answer like the real
//! Slack, Teams, email providers and MonitorQA API (`providers`, `mail_providers`, `monitorqa`),
//! built on `mock`; `config`, configurations read from YAML; `relay`, a relay started in this
//! process; `process`, the real binary run as an operator runs it; `postgres`, a schema of its
//! own in the machine's PostgreSQL for relays that share a database, and `link`, a connection
//! to it that a test can cut, and `tls`, TLS in front of it with the test's own certificates;
//! `logs`, a capture of what the relays log; `tools`, what some tests install (npm packages, Chromium); `properties`, the
//! generated-case tests' fixed seed; and `wait`:
//! deadline-bounded polling and the sample events.

pub mod browser;
pub mod config;
pub mod link;
pub mod logs;
pub mod mail_providers;
pub mod mock;
pub mod monitorqa;
pub mod postgres;
pub mod process;
pub mod properties;
pub mod providers;
pub mod relay;
pub mod tls;
pub mod tools;
pub mod wait;
