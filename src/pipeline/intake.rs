//! Intake: a request body becomes a durable event, or a precise reason why not.
//!
//! Parses the envelope and, when the event needs no MonitorQA lookup, matches it against the
//! rules current at that moment (microseconds) so that the event and its deliveries go into
//! the same group commit, before the answer; the lanes of its targets are woken with the event
//! in memory. An event that needs a lookup is stored unrouted and the router is woken. Intake
//! never renders or sends and waits for no target: MonitorQA's 10 s limit holds even when
//! every target is down.

use crate::app::{App, Relay};
use crate::enrich;
use crate::event::{EnvelopeError, Event};
use crate::store::{Ingested, Routed, StoreError};

/// Why an event was not acknowledged. The server maps each to an HTTP answer.
#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    /// 400: the body is not a MonitorQA event.
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
    /// 503: shutting down; MonitorQA will retry.
    #[error("the relay is shutting down")]
    Draining,
    /// 503: the store cannot take the event now (disk full, read-only); MonitorQA will retry.
    #[error("the event could not be stored: {0}")]
    Store(#[from] StoreError),
}

impl IntakeError {
    /// A stable label for the rejection metric and the JSON error code.
    pub fn code(&self) -> &'static str {
        match self {
            IntakeError::Envelope(e) => e.code(),
            IntakeError::Draining => "draining",
            IntakeError::Store(_) => "store_unavailable",
        }
    }
}

/// Parses and durably stores one event. Returns only once the event is durable.
pub async fn accept(relay: &Relay, body: &[u8]) -> Result<Ingested, IntakeError> {
    let result = store(relay, body).await;
    match &result {
        Err(e) => relay.metrics.event_rejected(e.code()),
        Ok((_, ingested)) if ingested.duplicate => relay.metrics.event_deduplicated(),
        Ok((kind, _)) => relay.metrics.event_received(kind),
    }
    result.map(|(_, ingested)| ingested)
}

async fn store(relay: &Relay, body: &[u8]) -> Result<(String, Ingested), IntakeError> {
    if relay.is_draining() {
        return Err(IntakeError::Draining);
    }
    let event = Event::parse(body)?;
    let routed = route_now(&relay.app(), &event);
    let kind = event.kind.clone();
    let company = event.company_name().unwrap_or("").to_owned();
    let matched = routed
        .as_ref()
        .map(|r| (r.matched_rules.clone(), r.deliveries.len()));
    let ingested = relay.store.ingest_routed(event, routed).await?;
    // Values from the body are logged as strings, never with `%`: the text format writes a
    // string escaped and quoted, so a line break or an ESC in them cannot forge a log line.
    tracing::info!(
        event_id = %ingested.id,
        kind = kind.as_str(),
        company = company.as_str(),
        duplicate = ingested.duplicate,
        "event {}",
        if ingested.duplicate { "received again (MonitorQA retry), not routed twice" } else { "received" }
    );
    match matched {
        _ if ingested.duplicate => {}
        Some((rules, deliveries)) => {
            tracing::info!(event_id = %ingested.id, kind = kind.as_str(), rules = ?rules, deliveries, "event routed");
            relay.wake_lanes(ingested.targets.iter().map(String::as_str));
        }
        None => relay.new_events.notify_one(),
    }
    Ok((kind, ingested))
}

/// The routing of an event that needs no MonitorQA lookup, by the rules current now; `None`
/// when it needs one, or is compared with earlier events of its object (the router routes it
/// once the lookup and the comparison are done).
fn route_now(app: &App, event: &Event) -> Option<Routed> {
    let lookup = app.enricher.is_some() && !matches!(enrich::plan(event), enrich::Plan::NotNeeded);
    // Compared with the object's earlier events: the router reads them from the store.
    if lookup || crate::changes::compared(&event.kind) {
        return None;
    }
    let context = event.to_value();
    let matches = app.config.rules.evaluate(&context);
    let (matched_rules, deliveries) = super::router::plan(&app.config, &matches, &context);
    Some(Routed {
        matched_rules,
        deliveries,
    })
}
