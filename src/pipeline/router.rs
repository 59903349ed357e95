//! The router: new events become deliveries, one per (matched rule, target).
//!
//! For each unrouted event, oldest first, it takes the configuration current at that moment
//! (once per batch), looks up what the event only names (the MonitorQA API, when configured:
//! see [`crate::enrich`]), evaluates the rules on the enriched event, and writes the
//! deliveries in the same transaction that marks the event routed. An updated action or a
//! rescheduled audit is first compared with the earlier events of its object
//! ([`crate::changes`]). What the lookup found and the comparison are written in the commit that
//! routes the event. It renders and sends nothing. Lookups of a batch run concurrently, so a slow API delays routing by one lookup's
//! time, not one per event; a failed lookup routes the event without enrichment.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use futures_util::{FutureExt, StreamExt};
use serde_json::{Map, Value};

use crate::app::{App, Relay};
use crate::config::Config;
use crate::conversation;
use crate::enrich::{self, Enrichment};
use crate::rules::Match;
use crate::store::{NewDelivery, Routing, StoreError, StoredEvent};

/// How often the loop looks for events even when nobody woke it.
const TICK: Duration = Duration::from_secs(1);
/// The pause after a store error before trying again.
const ERROR_PAUSE: Duration = Duration::from_secs(1);
/// Events taken per round of the loop.
const BATCH: usize = 256;
/// MonitorQA API lookups in flight at once.
const LOOKUPS: usize = 16;
/// Routed events written per commit at most.
const WRITE_BATCH: usize = 64;
/// How long a batch is routed before the leases of the events not yet routed are renewed (a
/// lease on a shared store lasts a minute; one lookup takes at most its time budget, 10 s by
/// default, so the check between two events comes well before the lease ends).
const RENEW_AFTER: Duration = Duration::from_secs(20);

/// Routes up to `limit` unrouted events, oldest first. Returns how many it routed. Lookups run
/// concurrently, and each event is routed as soon as its own lookup (and every earlier one)
/// is done, so one slow lookup does not hold back a whole batch.
pub async fn route_pending(relay: &Relay, limit: usize) -> Result<usize, StoreError> {
    let events = relay.store.unrouted(limit).await?;
    let app = relay.app();
    // Collected first: a lazy `map` in the stream trips the compiler's `Send` check (a known
    // limitation with closures returning futures over borrowed items).
    let lookups: Vec<_> = events
        .iter()
        .map(|stored| lookup(relay, &app, stored))
        .collect();
    let mut enriched = futures_util::stream::iter(lookups).buffered(LOOKUPS);
    let mut ready = Vec::new();
    let mut routed = 0;
    let mut renewed = tokio::time::Instant::now();
    loop {
        if renewed.elapsed() >= RENEW_AFTER {
            // Those routed but not written yet too: the lease must outlast their commit.
            let rest = events[routed - ready.len()..]
                .iter()
                .map(|e| e.id.clone())
                .collect();
            // A failed renewal leaves the leases' last 40 s: routing goes on.
            if let Err(e) = relay.store.renew_unrouted(rest).await {
                tracing::warn!(error = %e, "could not renew the router's leases");
            }
            renewed = tokio::time::Instant::now();
        }
        // Write what is routed whenever the next lookup is still running, so a slow lookup
        // never holds back events that are ready; otherwise batch the writes (one commit).
        let next = match enriched.next().now_or_never() {
            Some(next) => next,
            None => {
                write(relay, &mut ready).await?;
                enriched.next().await
            }
        };
        let Some(enrichment) = next else { break };
        if crate::changes::compared(&events[routed].event.kind)
            && same_object_pending(&events[routed - ready.len()..routed], &events[routed])
        {
            // Its comparison reads the earlier events of its object with what the router
            // added to them: write those of its object routed so far (and the rest) first.
            write(relay, &mut ready).await?;
        }
        ready.push(route_one(relay, &app, &events[routed], enrichment).await?);
        routed += 1;
        if ready.len() >= WRITE_BATCH {
            write(relay, &mut ready).await?;
        }
    }
    write(relay, &mut ready).await?;
    Ok(routed)
}

/// Whether one of `pending` (routed, not written yet) is about the same object as `event`.
fn same_object_pending(pending: &[StoredEvent], event: &StoredEvent) -> bool {
    let Some(object) = event.event.object_key() else {
        return false;
    };
    pending
        .iter()
        .any(|e| e.event.object_key().as_deref() == Some(object.as_str()))
}

/// Writes routed events (deliveries in the events' order) in one commit and wakes the senders.
async fn write(relay: &Relay, ready: &mut Vec<Routing>) -> Result<(), StoreError> {
    if ready.is_empty() {
        return Ok(());
    }
    relay.store.mark_routed_all(ready).await?;
    ready.clear();
    relay.wake_senders();
    Ok(())
}

/// What the MonitorQA API adds to one event (`None` where nothing is needed or found).
async fn lookup(relay: &Relay, app: &App, stored: &StoredEvent) -> Option<Value> {
    let enricher = app.enricher.as_ref()?;
    if stored.enrichment.is_some() {
        // Looked up before a restart interrupted routing: keep what was found.
        return stored.enrichment.clone();
    }
    if matches!(enrich::plan(&stored.event), enrich::Plan::NotNeeded) {
        return None;
    }
    let found = enricher.enrich(&stored.event).await;
    relay.metrics.enrichment(found.outcome.label());
    as_object(&found)
}

/// The enrichment as the object merged into the event's context (`{"audit": …}`).
fn as_object(found: &Enrichment) -> Option<Value> {
    let mut map = Value::Object(Map::new());
    enrich::apply(found, &mut map);
    map.as_object()
        .is_some_and(|m| !m.is_empty())
        .then_some(map)
}

/// What changed since the object's earlier events (see [`crate::changes`]), for an event
/// that is compared and was not compared before a restart interrupted its routing.
async fn compare(relay: &Relay, stored: &StoredEvent) -> Result<Option<Value>, StoreError> {
    let done = stored
        .enrichment
        .as_ref()
        .is_some_and(|e| e.get("changes").is_some());
    if done || !crate::changes::compared(&stored.event.kind) {
        return Ok(None);
    }
    let context = stored.context();
    if !crate::changes::needs_earlier(&context) {
        return Ok(crate::changes::changes(&context, &[]));
    }
    // The newest earlier event nearly always has the details: it is read alone first, and
    // further back only when it has none (each one read is a body parsed).
    let mut earlier = relay.store.earlier_events(stored, 1).await?;
    if !earlier
        .iter()
        .any(|e| crate::changes::has_details(&e.context()))
    {
        earlier = relay
            .store
            .earlier_events(stored, crate::changes::LOOK_BACK)
            .await?;
    }
    let contexts: Vec<(Value, i64)> = earlier
        .iter()
        .map(|e| (e.context(), e.received_at))
        .collect();
    let earlier: Vec<crate::changes::Earlier<'_>> = contexts
        .iter()
        .map(|(context, received_at)| crate::changes::Earlier {
            context,
            received_at: *received_at,
        })
        .collect();
    Ok(crate::changes::changes(&context, &earlier))
}

async fn route_one(
    relay: &Relay,
    app: &App,
    stored: &StoredEvent,
    enrichment: Option<Value>,
) -> Result<Routing, StoreError> {
    let mut stored = stored.clone();
    let mut changed = false;
    if enrichment.is_some() && stored.enrichment.is_none() {
        stored.enrichment = enrichment;
        changed = true;
    }
    if let Some(changes) = compare(relay, &stored).await? {
        let map = stored
            .enrichment
            .get_or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(map) = map {
            map.insert("changes".into(), changes);
        }
        changed = true;
    }
    // Written with the routing, in its commit.
    let enrichment = if changed {
        stored.enrichment.clone()
    } else {
        None
    };
    let context = stored.context();
    let matches = app.config.rules.evaluate(&context);
    let (rules, deliveries) = plan(&app.config, &matches, &context);
    tracing::info!(
        event_id = %stored.id,
        // As a string, escaped in the text format: the event type is the sender's text.
        kind = stored.event.kind.as_str(),
        rules = ?rules,
        deliveries = deliveries.len(),
        "event routed"
    );
    Ok(Routing {
        event_id: stored.id.clone(),
        matched_rules: rules,
        deliveries,
        enrichment,
    })
}

/// The names of the matched rules and one delivery per (rule, target), in rule order. A
/// delivery to a target with `threads: true` names the conversation of the event (`event`:
/// its context), if it has one.
pub fn plan(
    config: &Config,
    matches: &[Match<'_>],
    event: &Value,
) -> (Vec<String>, Vec<NewDelivery>) {
    let rules = matches.iter().map(|m| m.rule.to_owned()).collect();
    let object = |target: &str| {
        let threads = config.targets.get(target)?.threads.as_ref()?;
        conversation::key_for(event, threads)
    };
    let deliveries = matches
        .iter()
        .flat_map(|m| {
            m.targets.iter().map(|target| NewDelivery {
                rule: m.rule.to_owned(),
                target: target.clone(),
                template: m.template.map(str::to_owned),
                object: object(target),
            })
        })
        .collect();
    (rules, deliveries)
}

/// The deliveries the configuration `config` asks for an event (its context: the envelope
/// and what enrichment added), one per (matched rule, target), in rule order.
pub fn deliveries_for(config: &Config, event: &Value) -> Vec<NewDelivery> {
    plan(config, &config.rules.evaluate(event), event).1
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

    const RULES: &str = r#"
targets:
  kitchen-slack: {kind: slack, url: "https://hooks.slack.com/services/T0/B0/x"}
  quality-slack: {kind: slack, token: xoxb-1, channel: C1, threads: true}
  managers-mail:
    kind: email
    provider: sendgrid
    api_key: SG.x
    from: alerts@example.com
    to: [quality@example.com]
rules:
  - {name: expired audits, events: [AUDIT_EXPIRED], notify: [kitchen-slack]}
"#;

    #[test]
    fn each_target_of_each_match_becomes_one_delivery_threaded_ones_with_their_object() {
        let config = crate::config::parse(RULES, std::path::Path::new("rules.yaml"), &|_| None)
            .expect("valid");
        let kitchen = vec!["kitchen-slack".to_owned()];
        let quality = vec!["quality-slack".to_owned(), "managers-mail".to_owned()];
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
        let event = serde_json::json!({
            "event": "CORRECTIVE_ACTION_REJECTED",
            "data": {"correctiveActionId": "a1"},
        });
        let (rules, deliveries) = plan(&config, &matches, &event);
        assert_eq!(rules, ["expired audits", "rejected actions"]);
        let got: Vec<_> = deliveries
            .iter()
            .map(|d| {
                let names = (d.rule.as_str(), d.target.as_str());
                (names, d.template.as_deref(), d.object.as_deref())
            })
            .collect();
        assert_eq!(
            got,
            [
                (("expired audits", "kitchen-slack"), None, None),
                (
                    ("rejected actions", "quality-slack"),
                    Some("urgent-action"),
                    Some("corrective-action:a1")
                ),
                (
                    ("rejected actions", "managers-mail"),
                    Some("urgent-action"),
                    None
                ),
            ]
        );
    }
}
