//! Test support shared by the integration tests: local mock servers that answer like the real
//! Slack, Teams and email providers (see `providers` and `mail_providers`), built on `mock`,
//! `logs`, a capture of everything the relays log, `process`, the real binary run as an
//! operator runs it, `wait`: deadline-bounded polling and the sample events, and `webhook`: posting events as
//! MonitorQA does.
#![allow(dead_code)]

pub mod logs;
pub mod mail_providers;
pub mod mock;
pub mod monitorqa;
pub mod process;
pub mod providers;
pub mod wait;
pub mod webhook;
