//! End-to-end delivery: a whole relay started in-process (store, router, sender lanes, HTTP
//! server) on 127.0.0.1, MonitorQA events posted to its webhook, and local mocks of Slack,
//! Teams, the email providers and a generic receiver answering as the real services do.
//!
//! Each test reads as a sentence about what reaches a provider, and checks the store's record
//! of it. Every wait is a poll with a deadline.

mod app;
mod escaping;
mod lanes;
mod requests;
mod retries;
mod secrets;
