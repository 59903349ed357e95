//! Delivery targets: one module per kind, dispatched by an enum.
//!
//! Each kind builds its HTTP request from a rendered message (pure) and classifies the answer
//! with one status → outcome table. Targets never retry, sleep or touch the store: the sender
//! loop in [`crate::pipeline`] decides when to try again.
//!
//! (Interface stub: the target kinds replace this.)
