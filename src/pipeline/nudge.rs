//! Other relays on the same database, heard: their nudges ([`crate::store::Store::nudges`])
//! become wake-ups of this relay's lanes, so a delivery another relay routed, replayed or gave
//! back starts now, not at the lane's next periodic look. On the embedded store there is no
//! other relay and this loop ends at once.

use std::sync::Arc;

use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

use crate::app::Relay;
use crate::store::Nudge;

/// Passes nudges on until `shutdown`.
pub async fn run(relay: Arc<Relay>, shutdown: CancellationToken) {
    let Some(mut nudges) = relay.store.nudges() else {
        return;
    };
    loop {
        let nudge = tokio::select! {
            _ = shutdown.cancelled() => return,
            nudge = nudges.recv() => nudge,
        };
        match nudge {
            Ok(Nudge::Lane(target)) => relay.wake_lanes([target.as_str()]),
            // Nudges were missed: every loop looks.
            Ok(Nudge::Everything) | Err(RecvError::Lagged(_)) => {
                relay.wake_senders();
                relay.new_events.notify_one();
            }
            Err(RecvError::Closed) => return,
        }
    }
}
