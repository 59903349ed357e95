//! Senders: one [`Lane`] per target, each claiming its due deliveries, sending them and writing
//! the outcomes back (see [`super::lane`]).
//!
//! Lanes are independent: a slow or dead target never delays another. Rate limits are paced
//! in the lanes, in one place; backoff is decided by [`super::retry`]. Everything a lane knows
//! between attempts is in the store, so retries survive a restart.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::lane::Lane;
use crate::app::Relay;
use crate::clock::{Clock, SystemClock};

/// How often the set of lanes is compared with the configuration and the queues.
const LOOK_AGAIN: Duration = Duration::from_secs(2);

/// Runs one lane per target until `shutdown`, all sending with `client` (one built by
/// [`crate::targets::http::client`]: it follows no redirect); lanes appear for targets added by
/// a reload and for targets that still have queued deliveries.
pub async fn run(relay: Arc<Relay>, client: reqwest::Client, shutdown: CancellationToken) {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let mut lanes: HashMap<String, JoinHandle<()>> = HashMap::new();
    let mut wake = relay.new_deliveries.subscribe();
    loop {
        for name in lane_names(&relay).await {
            let finished = lanes.get(&name).is_none_or(|h| h.is_finished());
            if finished && lanes.contains_key(&name) {
                // Lanes run until shutdown: one that ended hit a bug. Its claims' leases run
                // out and the deliveries are tried again; say so, then start a new lane.
                tracing::error!(target_name = %name, "a sender lane stopped unexpectedly; restarting it");
            }
            if finished {
                let lane = Lane::new(relay.clone(), name.clone(), client.clone(), clock.clone());
                lanes.insert(name, tokio::spawn(lane.run(shutdown.clone())));
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = wake.changed() => {}
            _ = tokio::time::sleep(LOOK_AGAIN) => {}
        }
    }
    for (_, handle) in lanes {
        if let Err(e) = handle.await {
            tracing::error!("a sender lane ended abnormally: {e}");
        }
    }
}

/// Targets of the current configuration, plus any with queued work (a target removed by a
/// reload still needs its queue dealt with).
async fn lane_names(relay: &Relay) -> Vec<String> {
    let mut names: Vec<String> = relay.app().config.targets.keys().cloned().collect();
    match relay.store.targets_with_work().await {
        Ok(queued) => names.extend(queued),
        Err(e) => tracing::warn!("cannot list targets with queued deliveries: {e}"),
    }
    names.sort();
    names.dedup();
    names
}
