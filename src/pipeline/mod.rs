//! The long-running loops: intake, router and senders. The one owner of backoff and rate limits.
pub mod intake;
pub mod router;
pub mod sender;
