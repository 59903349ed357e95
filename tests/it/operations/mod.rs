//! Operations and faults: the relay's promise under crashes, slow and failing targets, a full
//! disk, duplicates, reloads, shutdown, and what an operator sees and does (admin API, `dlq`,
//! metrics, retention).
//!
//! The promise: every event the relay acknowledged is delivered at least once to every target
//! its rules name, or ends visibly in the dead-letter list with the reason; a duplicate reaches
//! a target only when a crash interrupted that very send.
//!
//! Relays run in-process (`support::relay`) or as the real binary (`support::process`); targets
//! are the local mock providers of `support`, among them a receiver that answers slowly.
//! Every wait is a poll with a deadline.

mod admin_api;
mod backup;
mod crash;
mod data_dir;
mod database_outage;
mod dedup;
mod disk;
mod dlq_cli;
mod events_cli;
mod failing_targets;
mod hostile_templates;
mod metrics;
mod migration;
mod reload;
mod reload_files;
mod replicas;
mod retention;
mod service;
mod shutdown;
