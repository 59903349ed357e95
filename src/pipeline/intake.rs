//! Intake: a request body becomes a durable event, or a precise reason why not.
//!
//! Parses the envelope, stores the event through the store's group commit, and wakes the
//! router. It never matches rules, renders or sends: MonitorQA's 10 s limit must hold even
//! when every target is down.

use crate::app::Relay;
use crate::event::{EnvelopeError, Event};
use crate::store::{Ingested, StoreError};

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
        Ok((event, _)) => relay.metrics.event_received(&event.kind),
    }
    result.map(|(_, ingested)| ingested)
}

async fn store(relay: &Relay, body: &[u8]) -> Result<(Event, Ingested), IntakeError> {
    if relay.is_draining() {
        return Err(IntakeError::Draining);
    }
    let event = Event::parse(body)?;
    let ingested = relay.store.ingest(&event).await?;
    // Values from the body are logged as strings, never with `%`: the text format writes a
    // string escaped and quoted, so a line break or an ESC in them cannot forge a log line.
    tracing::info!(
        event_id = %ingested.id,
        kind = event.kind.as_str(),
        company = event.company_name().unwrap_or(""),
        duplicate = ingested.duplicate,
        "event {}",
        if ingested.duplicate { "received again (MonitorQA retry), not routed twice" } else { "received" }
    );
    if !ingested.duplicate {
        relay.new_events.notify_one();
    }
    Ok((event, ingested))
}
