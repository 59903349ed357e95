//! The durable store: events, deliveries and delivery attempts.
//!
//! One type, [`Store`], over the embedded SQLite file (today) and PostgreSQL (later, for several
//! replicas). Intake's writes go through a group-commit writer: many events per transaction and
//! fsync, each caller answered only once its event is durable. Deliveries are leased, not locked,
//! for the length of a send. The store knows nothing of target kinds.
//!
//! (Interface stub: the SQLite implementation replaces the bodies below.)

use std::path::Path;
use std::time::Duration;

use crate::event::Event;

/// Why a store call failed. Callers branch on it: `Unavailable` means "try again later" (intake
/// answers 503 so MonitorQA retries), anything else is a bug or corruption.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
    #[error("store error: {0}")]
    Other(String),
}

#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Identical events within this window are acknowledged with the first one's id.
    pub dedup_window: Duration,
    /// The most events one group commit writes.
    pub max_batch: usize,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            dedup_window: Duration::from_secs(600),
            max_batch: 512,
        }
    }
}

/// What intake learns when it stores an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ingested {
    pub id: String,
    /// True when this is a MonitorQA retry of an event already stored within the window.
    pub duplicate: bool,
}

#[derive(Clone)]
pub struct Store {}

impl Store {
    pub async fn open_sqlite(_data_dir: &Path, _opts: StoreOptions) -> Result<Store, StoreError> {
        Err(StoreError::Other("not implemented".into()))
    }

    /// Stores one event durably (group commit) and returns its id.
    pub async fn ingest(&self, _event: &Event) -> Result<Ingested, StoreError> {
        Err(StoreError::Other("not implemented".into()))
    }
}
