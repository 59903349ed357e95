//! # mqa-relay
//!
//! Turns MonitorQA webhooks into Slack, Microsoft Teams and email notifications.
//!
//! The modules, in the order one event flows through them:
//!
//! 1. [`server`]: the warp routes and the hardened accept loop. `POST /webhook/<token>`
//!    authenticates, caps the body and hands the bytes to intake; also health, reload, the
//!    metrics scrape, the admin API (`server::api`, with the JSON views operators see) and the
//!    operator page under `/ui/` (`server::ui`: the same store calls, as HTML).
//! 2. [`event`]: the MonitorQA envelope `{event, data, company}`: parsing with precise errors,
//!    the dedup key, and the template context.
//! 3. [`pipeline::intake`]: turns a parsed event into a durable row, with its deliveries when no
//!    rule needs a lookup (routed at once, in the same commit), and answers only when it is
//!    durable (group commit in the store).
//! 4. [`store`]: the event, delivery and attempt tables behind one seam with an engine per
//!    database (the embedded SQLite file, on a writer thread of its own; or PostgreSQL, shared
//!    by several relays, over TLS as libpq's `sslmode` says); group commit, leased claims (of
//!    deliveries, and on PostgreSQL of the router's events), per-target lanes, the in-memory
//!    hand-off of new events to the senders; `store::copy` moves an embedded history into
//!    PostgreSQL.
//! 5. [`pipeline::router`]: takes the events that need a MonitorQA lookup (or were found
//!    unrouted after a restart), matches them against the current [`rules`] and writes one
//!    delivery per (rule, target) in the transaction that marks the event routed.
//!    - [`enrich`]: before matching, looks up id-only events in the MonitorQA API (cached).
//!    - [`changes`] (pure): for an updated action or a rescheduled audit, what differs from
//!      the relay's last event about the same object (stored with the event).
//! 6. [`rules`]: compiled matchers (event type, company, `where` conditions), indexed by event
//!    type. Pure and synchronous.
//! 7. [`pipeline::sender`]: one lane per target ([`pipeline::lane`], a step plus a loop):
//!    claims due deliveries (up to `max_in_flight`), paces them, has them composed, sends,
//!    classifies the answers and writes them back in one store call per round.
//!    - [`compose`] (pure): the context, message and request of one delivery to one configured
//!      target; the same code serves `check`, `test`, `send` and the admin API's payload view.
//!    - [`conversation`] (pure): for a target with `threads`, what a delivery posts in its
//!      object's conversation (the parent, a reply, the parent's edit) and what the answer does
//!      to the conversation, which the store writes with the outcome.
//!    - [`pipeline::offload`]: renders run off the threads that answer webhooks.
//!    - [`pipeline::retry`] (pure): a verdict becomes the next state, waiting with [`backoff`]
//!      (the one backoff, shared with the MonitorQA lookups).
//! 8. [`template`]: Handlebars message templates (title, text, fields, link, colour), escaping
//!    per markup, helpers, a render budget, built-in defaults for every event type.
//! 9. [`targets`]: one module per target kind, each owning its section of `rules.yaml`, its
//!    request building and its status → outcome table; one [`targets::ConfiguredTarget`] per
//!    name. No retries, no sleeping, no store.
//!
//! Around them: [`relay`] is the composition root (`serve`, the tests and the benchmarks start a
//! relay with [`relay::start`]); [`config`] loads and validates `rules.yaml` (every error at
//! once, with `file:line:col`) with the [`yaml`] toolkit; [`app`] bundles one loaded
//! configuration (rules, templates, targets) so reload can swap it atomically, and runs the
//! strict template check; [`preview`] (pure) says what a configuration would do with one
//! event, without sending (for `test` and the operator page, with a Slack look-alike);
//! [`pipeline::retention`] deletes what nobody needs any more;
//! [`secret`] keeps tokens and webhook URLs out of logs; [`metrics`] counts what happened;
//! [`clock`] is time as stored and shown; and [`cli`] holds the `serve`, `check`, `test`,
//! `send` and `dlq` commands, thin wrappers over the calls `serve` uses.

pub mod app;
pub mod backoff;
pub mod changes;
pub mod cli;
pub mod clock;
pub mod compose;
pub mod config;
pub mod conversation;
pub mod enrich;
pub mod event;
pub mod metrics;
pub mod pipeline;
pub mod preview;
#[cfg(test)]
mod properties;
pub mod relay;
pub mod rules;
pub mod secret;
pub mod server;
pub mod store;
pub mod targets;
pub mod template;
pub mod yaml;
