//! The router: new events become deliveries, one per (matched rule, target).
//!
//! For each unrouted event, oldest first, it takes the configuration current at that moment
//! (once per event), evaluates the rules, and writes the deliveries in the same transaction
//! that marks the event routed. It renders and sends nothing.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::app::Relay;
use crate::rules::Match;
use crate::store::{NewDelivery, StoreError, StoredEvent};

/// How often the loop looks for events even when nobody woke it.
const TICK: Duration = Duration::from_secs(1);
/// The pause after a store error before trying again.
const ERROR_PAUSE: Duration = Duration::from_secs(1);
/// Events taken per round of the loop.
const BATCH: usize = 256;

/// Routes up to `limit` unrouted events, oldest first. Returns how many it routed.
pub async fn route_pending(relay: &Relay, limit: usize) -> Result<usize, StoreError> {
    let events = relay.store.unrouted(limit).await?;
    for stored in &events {
        route_one(relay, stored).await?;
    }
    Ok(events.len())
}

async fn route_one(relay: &Relay, stored: &StoredEvent) -> Result<(), StoreError> {
    let app = relay.app();
    let matches = app.config.rules.evaluate(&stored.event.to_value());
    let (rules, deliveries) = plan(&matches);
    tracing::debug!(
        event = %stored.id,
        kind = %stored.event.kind,
        rules = rules.len(),
        deliveries = deliveries.len(),
        "routed"
    );
    relay
        .store
        .mark_routed(&stored.id, &rules, &deliveries)
        .await
}

/// The names of the matched rules and one delivery per (rule, target), in rule order.
pub fn plan(matches: &[Match<'_>]) -> (Vec<String>, Vec<NewDelivery>) {
    let rules = matches.iter().map(|m| m.rule.to_owned()).collect();
    let deliveries = matches
        .iter()
        .flat_map(|m| {
            m.targets.iter().map(|target| NewDelivery {
                rule: m.rule.to_owned(),
                target: target.clone(),
                template: m.template.map(str::to_owned),
            })
        })
        .collect();
    (rules, deliveries)
}

/// Routes until shutdown: drains the backlog, then waits for intake's wake-up, a tick, or
/// shutdown. Store errors are logged and retried after a pause.
pub async fn run(relay: Arc<Relay>, shutdown: CancellationToken) {
    while !shutdown.is_cancelled() {
        let pause = match drain(&relay, &shutdown).await {
            Ok(()) => TICK,
            Err(err) => {
                tracing::error!(error = %err, "routing failed; retrying");
                ERROR_PAUSE
            }
        };
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = relay.new_events.notified() => {}
            _ = tokio::time::sleep(pause) => {}
        }
    }
}

/// Routes batches until none is left (or shutdown begins).
async fn drain(relay: &Relay, shutdown: &CancellationToken) -> Result<(), StoreError> {
    while !shutdown.is_cancelled() {
        if route_pending(relay, BATCH).await? == 0 {
            break;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_target_of_each_match_becomes_one_delivery() {
        let kitchen = vec!["kitchen-slack".to_owned()];
        let quality = vec!["quality-teams".to_owned(), "managers-mail".to_owned()];
        let matches = [
            Match {
                rule: "expired audits",
                targets: &kitchen,
                template: None,
            },
            Match {
                rule: "rejected actions",
                targets: &quality,
                template: Some("urgent-action"),
            },
        ];
        let (rules, deliveries) = plan(&matches);
        assert_eq!(rules, ["expired audits", "rejected actions"]);
        let got: Vec<(&str, &str, Option<&str>)> = deliveries
            .iter()
            .map(|d| (d.rule.as_str(), d.target.as_str(), d.template.as_deref()))
            .collect();
        assert_eq!(
            got,
            [
                ("expired audits", "kitchen-slack", None),
                ("rejected actions", "quality-teams", Some("urgent-action")),
                ("rejected actions", "managers-mail", Some("urgent-action")),
            ]
        );
    }
}
