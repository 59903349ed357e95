//! Test support shared by the integration tests: local mock servers that answer like the real
//! Slack, Teams and email providers (see `providers` and `mail_providers`), built on `mock`.
#![allow(dead_code)]

pub mod mail_providers;
pub mod mock;
pub mod providers;
