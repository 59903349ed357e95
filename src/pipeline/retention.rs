//! Retention: once an hour, events older than `server.retention` that need nobody any more
//! (every delivery delivered, dropped, or dead and replayed) are deleted with their history.
//! Open dead letters are kept until dropped or replayed (see [`crate::store::Store::prune`]).

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::app::Relay;
use crate::clock::{millis, now_ms};

/// How often retention runs at most.
const EVERY: Duration = Duration::from_secs(3600);

/// Prunes now, then every hour (or every `keep`, if shorter), until `shutdown`.
pub async fn run(relay: Arc<Relay>, keep: Duration, shutdown: CancellationToken) {
    // At least a second apart, so `retention: 0s` cannot spin.
    let every = EVERY.min(keep).max(Duration::from_secs(1));
    loop {
        let before = now_ms().saturating_sub(millis(keep));
        match relay.store.prune(before).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(events = n, "pruned events older than the retention"),
            Err(e) => tracing::warn!("pruning failed; will try again: {e}"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}
