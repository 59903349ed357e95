//! # mqa-relay
//!
//! Turns MonitorQA webhooks into Slack, Microsoft Teams and email notifications.
//!
//! The modules, in the order one event flows through them:
//!
//! 1. [`server`]: the warp routes and the hardened accept loop. `POST /webhook/<token>`
//!    authenticates, caps the body and hands the bytes to intake; also health, reload and admin.
//! 2. [`event`]: the MonitorQA envelope `{event, data, company}`: parsing with precise errors,
//!    the dedup key, and the template context.
//! 3. [`pipeline::intake`]: turns a parsed event into a durable row and answers only when it is
//!    durable (group commit in the store).
//! 4. [`store`]: the event, delivery and attempt tables (embedded SQLite today, PostgreSQL
//!    later, behind one type); group commit, leased claims, per-target lanes.
//! 5. [`pipeline::router`]: takes new events, matches them against the current [`rules`] and
//!    writes one delivery per (rule, target) in the transaction that marks the event routed.
//!    - [`enrich`]: before matching, looks up id-only events in the MonitorQA API (cached).
//! 6. [`rules`]: compiled matchers (event type, company, `where` conditions), indexed by event
//!    type. Pure and synchronous.
//! 7. [`pipeline::sender`]: per target, claims due deliveries, renders them with [`template`],
//!    builds the request with [`targets`], sends, classifies the answer and writes it back.
//!    - [`pipeline::compose`] (pure): the context, message and request of one delivery; the
//!      same code serves `check`, `test`, `send` and the admin API's payload view.
//!    - [`pipeline::retry`] (pure): a verdict becomes the next state; the one owner of backoff.
//! 8. [`template`]: Handlebars message templates (title, text, fields, link, colour), escaping
//!    per markup, helpers, built-in defaults for every event type.
//! 9. [`targets`]: one module per target kind: pure request building and a status → outcome
//!    table. No retries, no sleeping, no store.
//!
//! Around them: [`config`] loads and validates `rules.yaml` (every error at once, with
//! `file:line:col`), [`secret`] keeps tokens and webhook URLs out of logs, [`app`] bundles one
//! loaded configuration (rules, templates, targets) so reload can swap it atomically and runs
//! the strict template check, [`metrics`] counts what happened, [`admin`] is what operators
//! see and do (events, dead letters, replay, retention), and [`cli`] holds the `serve`,
//! `check`, `test`, `send` and `dlq` commands, thin wrappers over the calls `serve` uses.

pub mod app;
pub mod backoff;
pub mod cli;
pub mod clock;
pub mod config;
pub mod enrich;
pub mod event;
pub mod metrics;
pub mod pipeline;
pub mod relay;
pub mod rules;
pub mod secret;
pub mod server;
pub mod store;
pub mod targets;
pub mod template;
