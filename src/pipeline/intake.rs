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

/// Parses and durably stores one event. Returns only once the event is durable.
pub async fn accept(relay: &Relay, body: &[u8]) -> Result<Ingested, IntakeError> {
    if relay.is_draining() {
        return Err(IntakeError::Draining);
    }
    let event = Event::parse(body)?;
    let ingested = relay.store.ingest(&event).await?;
    if !ingested.duplicate {
        relay.new_events.notify_one();
    }
    Ok(ingested)
}
