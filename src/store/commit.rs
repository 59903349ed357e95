//! Group commit, as every engine does it: callers hand their write to one writer and wait;
//! the writer takes everything queued (up to a batch), makes it in one transaction, commits
//! once, and only then answers each caller with its own answer. While one batch commits the
//! next one queues, so batches grow with the load and one fsync carries many events, outcomes
//! and claims. If the batch fails (disk full, read-only, I/O error), every caller in it gets the
//! error and nothing of it is kept.
//!
//! This module owns what is the same for every engine: a caller's pending write and its reply,
//! the work items themselves (engine-neutral rows), and the writer's counters. Each engine runs
//! the loop on its own terms (SQLite: one thread that owns the write connection).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use tokio::sync::{mpsc, oneshot};

use super::cache::EventCache;
use super::rows::{ClaimSpec, EventRow, FinishRow};
use crate::store::{Claim, Ingested, NewDelivery, StoreError, StoredEvent, WriterStats};

pub(crate) type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

/// One caller's write, its reply, and (once written) its answer.
pub(crate) struct Pending<W, T> {
    pub(crate) work: W,
    reply: Reply<T>,
    pub(crate) answer: Option<Result<T, StoreError>>,
}

impl<W, T> Pending<W, T> {
    /// The write and the receiver its caller waits on.
    pub(crate) fn new(work: W) -> (Pending<W, T>, oneshot::Receiver<Result<T, StoreError>>) {
        let (reply, answer) = oneshot::channel();
        let pending = Pending {
            work,
            reply,
            answer: None,
        };
        (pending, answer)
    }

    /// After the commit: the caller gets its answer.
    pub(crate) fn answer(self) {
        let answer = self
            .answer
            .unwrap_or_else(|| Err(StoreError::Other("the write was not made".into())));
        // The caller may have given up waiting; what was written stays written.
        let _ = self.reply.send(answer);
    }

    /// The batch failed: the caller gets the batch's error.
    pub(crate) fn fail(self, err: StoreError) {
        let _ = self.reply.send(Err(err));
    }
}

impl Pending<EventRow, Ingested> {
    /// After the commit: a new event is handed to the senders in memory, and kept for the
    /// claims when `keep` (an engine shared with other relays keeps only events routed at
    /// intake: another relay may look the others up and enrich them).
    pub(crate) fn remember(&mut self, cache: &EventCache, keep: bool) {
        let Some(Ok(ingested)) = &mut self.answer else {
            return;
        };
        if ingested.duplicate {
            return;
        }
        let stored = Arc::new(StoredEvent {
            id: ingested.id.clone(),
            received_at: ingested.received_at,
            event: std::mem::take(&mut self.work.event),
            enrichment: None,
        });
        if keep {
            cache.insert(stored.clone(), self.work.body.len());
        }
        ingested.event = Some(stored);
    }
}

/// A message to an engine's writer: a write of the group commit, or the engine's own.
pub(crate) trait WriterMessage: Send + 'static {
    fn work(work: Work) -> Self;
    /// Commit what is queued before this message, then stop.
    fn close(done: oneshot::Sender<()>) -> Self;
}

/// The handle callers write through, whatever engine's writer takes the messages.
pub(crate) struct Queue<M> {
    pub(crate) sender: mpsc::Sender<M>,
}

impl<M: WriterMessage> Queue<M> {
    /// Queues `work` for the next batch and waits until it is committed.
    pub(crate) async fn submit<W, T>(
        &self,
        work: W,
        wrap: fn(Pending<W, T>) -> Work,
    ) -> Result<T, StoreError> {
        let (pending, answer) = Pending::new(work);
        self.sender
            .send(M::work(wrap(pending)))
            .await
            .map_err(|_| closed())?;
        answer.await.map_err(|_| closed())?
    }

    pub(crate) async fn ingest(&self, row: EventRow) -> Result<Ingested, StoreError> {
        self.submit(row, |p| Work::Ingest(Box::new(p))).await
    }

    pub(crate) async fn route(&self, rows: Vec<RouteRow>) -> Result<(), StoreError> {
        self.submit(rows, Work::Route).await
    }

    pub(crate) async fn lane(&self, write: LaneWrite) -> Result<LaneDone, StoreError> {
        self.submit(write, |p| Work::Lane(Box::new(p))).await
    }

    pub(crate) async fn probe(&self) -> Result<(), StoreError> {
        self.submit((), Work::Probe).await
    }

    /// Waits until everything queued before this call is committed and the writer stopped.
    pub(crate) async fn close(&self) {
        let (done, stopped) = oneshot::channel();
        if self.sender.send(M::close(done)).await.is_ok() {
            // An error means the writer already stopped: nothing left to wait for.
            let _ = stopped.await;
        }
    }
}

/// What a caller gets once the writer has stopped.
pub(crate) fn closed() -> StoreError {
    StoreError::Unavailable("the store is closed".into())
}

/// Routing of one event by the router (after a lookup, or after a restart).
pub(crate) struct RouteRow {
    pub(crate) event_id: String,
    /// The matched rules' names, as JSON.
    pub(crate) rules: String,
    pub(crate) deliveries: Vec<NewDelivery>,
    /// The event's new enrichment (JSON), if the router added to it.
    pub(crate) enrichment: Option<String>,
}

/// A lane's writes for one commit, in this order: a pause of the lane, the outcomes of its
/// finished sends, then a claim of its next deliveries. One transaction, so a lane that sends back to back pays one
/// commit per round, and an outcome is durable before the claim that follows it.
pub(crate) struct LaneWrite {
    pub(crate) target: String,
    /// A pause of the whole lane (a 429's Retry-After), written first so the claim sees it.
    pub(crate) block_until: Option<i64>,
    pub(crate) finishes: Vec<FinishRow>,
    pub(crate) claim: Option<ClaimSpec>,
}

/// What a lane write did.
#[derive(Debug, Default)]
pub struct LaneDone {
    /// Per outcome, in order: whether it was recorded (false: the claim was stale).
    pub finished: Vec<bool>,
    /// The deliveries claimed, oldest first.
    pub claims: Vec<Claim>,
    /// Nothing was claimed because the target's pace, kept with other relays, allows the next
    /// send only after this many milliseconds.
    pub paced_for_ms: Option<i64>,
}

/// The work items of a group commit.
pub(crate) enum Work {
    /// Boxed: it holds the whole event.
    Ingest(Box<Pending<EventRow, Ingested>>),
    Route(Pending<Vec<RouteRow>, ()>),
    /// Boxed: its answer holds whole claims.
    Lane(Box<Pending<LaneWrite, LaneDone>>),
    /// Readiness asks whether a write that needs the disk works again.
    Probe(Pending<(), ()>),
}

impl Work {
    pub(crate) fn is_event(&self) -> bool {
        matches!(self, Work::Ingest(_))
    }

    pub(crate) fn answer(self) {
        match self {
            Work::Ingest(p) => p.answer(),
            Work::Route(p) => p.answer(),
            Work::Lane(p) => p.answer(),
            Work::Probe(p) => p.answer(),
        }
    }

    pub(crate) fn fail(self, err: StoreError) {
        match self {
            Work::Ingest(p) => p.fail(err),
            Work::Route(p) => p.fail(err),
            Work::Lane(p) => p.fail(err),
            Work::Probe(p) => p.fail(err),
        }
    }
}

/// What the writer has done, for metrics and readiness.
#[derive(Default)]
pub(crate) struct Counters {
    batches: AtomicU64,
    events: AtomicU64,
    writes: AtomicU64,
    largest_batch: AtomicU64,
    /// Pages in the write-ahead log at the last look, and how often it was started over.
    pub(crate) wal_frames: AtomicU64,
    pub(crate) wal_restarts: AtomicU64,
    /// The last group commit failed (disk full, read-only...): readiness says so.
    pub(crate) failing: AtomicBool,
}

impl Counters {
    /// A committed batch of `writes` writes, `events` of them events.
    pub(crate) fn committed(&self, events: usize, writes: usize) {
        let events = events as u64;
        self.batches.fetch_add(1, Ordering::Relaxed);
        self.events.fetch_add(events, Ordering::Relaxed);
        self.writes.fetch_add(writes as u64, Ordering::Relaxed);
        self.largest_batch.fetch_max(events, Ordering::Relaxed);
        self.failing.store(false, Ordering::Relaxed);
    }

    pub(crate) fn failed(&self) {
        self.failing.store(true, Ordering::Relaxed);
    }

    pub(crate) fn batches(&self) -> u64 {
        self.batches.load(Ordering::Relaxed)
    }

    pub(crate) fn stats(&self) -> WriterStats {
        WriterStats {
            batches: self.batches.load(Ordering::Relaxed),
            events: self.events.load(Ordering::Relaxed),
            writes: self.writes.load(Ordering::Relaxed),
            largest_batch: self.largest_batch.load(Ordering::Relaxed),
            wal_frames: self.wal_frames.load(Ordering::Relaxed),
            wal_restarts: self.wal_restarts.load(Ordering::Relaxed),
            failing: self.failing.load(Ordering::Relaxed),
        }
    }
}
