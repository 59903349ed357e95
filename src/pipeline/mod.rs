//! The long-running loops, and the pure steps they are made of.
//!
//! - [`intake`]: a request body becomes a durable event.
//! - [`router`]: new events are matched against the rules; deliveries are written.
//! - [`sender`]: per target, due deliveries are sent; outcomes written back.
//! - [`retention`]: old events that need nobody are deleted, hourly.
//! - [`compose`] (pure): the context, message and request of one delivery.
//! - [`offload`]: runs renders off the async workers, a bounded number at a time.
//! - [`retry`] (pure): a target's verdict becomes the delivery's next state. The one owner of
//!   backoff.
pub mod compose;
pub mod intake;
pub mod offload;
pub mod retention;
pub mod retry;
pub mod router;
pub mod sender;
