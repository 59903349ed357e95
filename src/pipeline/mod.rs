//! The long-running loops, and the pure steps they are made of.
//!
//! - [`intake`]: a request body becomes a durable event.
//! - [`router`]: new events are matched against the rules; deliveries are written.
//! - [`sender`]: one [`lane`] per target: due deliveries are claimed, sent ([`attempt`]) and
//!   their outcomes written back, up to `max_in_flight` at a time, paced by [`pace`].
//! - [`nudge`]: what other relays on the same database did wakes this relay's lanes.
//! - [`retention`]: old events that need nobody are deleted, hourly.
//! - [`offload`]: runs renders off the async workers, a bounded number at a time.
//! - [`retry`] (pure): a target's verdict becomes the delivery's next state. The one owner of
//!   backoff.
pub mod attempt;
pub mod intake;
pub mod lane;
pub mod nudge;
pub mod offload;
pub mod pace;
pub(crate) mod report;
pub mod retention;
pub mod retry;
pub mod router;
pub mod sender;
