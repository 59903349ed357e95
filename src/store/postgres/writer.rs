//! The writer task: it owns the write connection and makes the hot writes, a whole group-commit
//! batch per transaction (see [`crate::store::commit`]).
//!
//! Callers send their write over a channel and await the answer; the task takes everything
//! queued (up to `max_batch`), runs it in one transaction in arrival order, commits, and
//! answers. When a write fails by itself (a constraint, a bug) the batch is rolled back and
//! each write is made again in a transaction of its own, so only that one is answered with its
//! error. When the database is unreachable every caller of the batch gets
//! [`StoreError::Unavailable`] and the next batch connects again.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};
use tokio_postgres::Client;

use super::clock::DbClock;
use super::write::{self, Statements};
use super::{DatabaseUrl, classify, connect};
use crate::store::Ingested;
use crate::store::cache::EventCache;
use crate::store::commit::{Counters, Pending, Queue, Work, WriterMessage};
use crate::store::rows::EventRow;
use crate::store::rows::millis;
use crate::store::{StoreError, StoreOptions};

/// The planner settings of the write connection. Every statement the writer runs finds its
/// rows by an index: a key, or a lane's `(target, id)` index walked in order. On a table that
/// autovacuum has not analyzed yet (a new database, the first minute of a busy one) the planner
/// guesses a lane holds a row or two and picks a bitmap scan and a sort instead; every claim then
/// reads the lane's whole backlog, a growing backlog makes claims slower still, and one relay at
/// 1 000 events/s fell behind for good (BENCHMARKS.md). With the scans the writer never wants
/// turned off, its plans are index walks whatever the statistics say. (They only cost more to
/// the planner; a statement with no index to use would still run.)
const SESSION: &str = "SET enable_seqscan = off; SET enable_bitmapscan = off";

/// Sets up a connection for the writer (see [`SESSION`]).
pub(super) async fn prepare(client: &Client) -> Result<(), StoreError> {
    client.batch_execute(SESSION).await.map_err(classify)
}

/// The longest a batch may take before the connection counts as lost.
const BATCH_LIMIT: std::time::Duration = std::time::Duration::from_secs(30);

pub(super) enum Message {
    Work(Work),
    /// Commit what is queued before this message, then stop.
    Close(oneshot::Sender<()>),
}

impl WriterMessage for Message {
    fn work(work: Work) -> Message {
        Message::Work(work)
    }

    fn close(done: oneshot::Sender<()>) -> Message {
        Message::Close(done)
    }
}

/// The handle callers write through.
pub(super) type Writer = Queue<Message>;

/// Starts the task on `client` (already migrated).
pub(super) fn start(
    client: Client,
    url: DatabaseUrl,
    me: String,
    opts: &StoreOptions,
    cache: Arc<EventCache>,
    counters: Arc<Counters>,
    clock: Arc<DbClock>,
) -> Writer {
    let max_batch = opts.max_batch.max(1);
    let (sender, inbox) = mpsc::channel(max_batch.saturating_mul(4));
    let task = WriterTask {
        client: Some(client),
        statements: Statements::default(),
        url,
        me,
        max_batch,
        window_ms: millis(opts.dedup_window),
        cache,
        counters,
        clock,
    };
    tokio::spawn(task.run(inbox));
    Queue { sender }
}

struct WriterTask {
    /// `None` after the connection was lost: the next batch connects again.
    client: Option<Client>,
    statements: Statements,
    url: DatabaseUrl,
    /// This store's name in the notifications it sends.
    me: String,
    max_batch: usize,
    window_ms: i64,
    cache: Arc<EventCache>,
    counters: Arc<Counters>,
    /// The database's clock, observed at each claim.
    clock: Arc<DbClock>,
}

impl WriterTask {
    async fn run(mut self, mut inbox: mpsc::Receiver<Message>) {
        let mut closing = None;
        while closing.is_none() {
            let Some(first) = inbox.recv().await else {
                break;
            };
            let mut batch = Vec::new();
            let mut next = Some(first);
            while let Some(message) = next.take() {
                match message {
                    Message::Work(work) => batch.push(work),
                    Message::Close(done) => closing = Some(done),
                }
                if closing.is_none() && batch.len() < self.max_batch {
                    next = inbox.try_recv().ok();
                }
            }
            if !batch.is_empty() {
                self.commit(batch).await;
            }
        }
        drop(inbox);
        if let Some(done) = closing {
            let _ = done.send(());
        }
    }

    /// Writes one batch and answers its callers.
    async fn commit(&mut self, mut batch: Vec<Work>) {
        let now = self.clock.relay_now();
        match self.write(&mut batch, now).await {
            Ok(()) => self.answer(batch),
            Err(StoreError::Unavailable(why)) => self.fail(batch, StoreError::Unavailable(why)),
            Err(err) => {
                tracing::warn!(error = %err, writes = batch.len(), "a write of the batch failed; writing each on its own");
                self.one_by_one(batch, now).await;
            }
        }
    }

    /// After a batch failed by one of its writes: each in a transaction of its own.
    async fn one_by_one(&mut self, batch: Vec<Work>, now: i64) {
        for mut work in batch {
            let single = std::slice::from_mut(&mut work);
            match self.write(single, now).await {
                Ok(()) => self.answer(vec![work]),
                Err(err) => {
                    tracing::error!(error = %err, "a write failed and was rolled back; the rest of its batch is kept");
                    self.fail(vec![work], err);
                }
            }
        }
    }

    fn answer(&self, mut batch: Vec<Work>) {
        for work in batch.iter_mut() {
            if let Work::Ingest(p) = work {
                p.remember(&self.cache, p.work.routed.is_some());
            }
        }
        let events = batch.iter().filter(|w| w.is_event()).count();
        self.counters.committed(events, batch.len());
        for work in batch {
            work.answer();
        }
    }

    fn fail(&self, batch: Vec<Work>, err: StoreError) {
        self.counters.failed();
        tracing::error!(error = %err, writes = batch.len(), "group commit failed");
        for work in batch {
            work.fail(err.clone());
        }
    }

    /// The batch in one transaction, committed.
    async fn write(&mut self, batch: &mut [Work], now: i64) -> Result<(), StoreError> {
        let window_start = now - self.window_ms;
        self.connect().await?;
        let Some(client) = self.client.as_mut() else {
            return Err(StoreError::Unavailable("no database connection".into()));
        };
        let statements = &mut self.statements;
        let written = tokio::time::timeout(
            BATCH_LIMIT,
            write_batch(
                client,
                statements,
                batch,
                Stamp {
                    now,
                    window_start,
                    me: &self.me,
                    clock: &self.clock,
                },
                &self.cache,
            ),
        )
        .await;
        let Ok(result) = written else {
            // The database stopped answering mid-batch: nothing of it counts as written, and
            // the next batch starts on a new connection.
            self.client = None;
            return Err(StoreError::Unavailable(
                "the database did not answer within 30 s".into(),
            ));
        };
        if let Err(e) = &result
            && (e.is_closed() || self.client.as_ref().is_some_and(Client::is_closed))
        {
            self.client = None;
        }
        result.map_err(classify)
    }

    /// Connects again when the write connection was lost.
    async fn connect(&mut self) -> Result<(), StoreError> {
        if self.client.as_ref().is_none_or(Client::is_closed) {
            self.statements = Statements::default();
            let client = connect(&self.url).await?;
            prepare(&client).await?;
            self.client = Some(client);
        }
        Ok(())
    }
}

/// What a batch is written with besides its work.
struct Stamp<'a> {
    now: i64,
    window_start: i64,
    /// The sender of the batch's notifications.
    me: &'a str,
    clock: &'a DbClock,
}

/// The batch in one transaction: its events first (pipelined, see [`write::ingest_all`]), then
/// the routings and probes in arrival order, then the lanes' writes in the order of their
/// targets' names: a lane write may wait for its target's row (a 429's pause) while the batch
/// holds the rows of the lanes it claimed in, and two relays' batches that both take rows in
/// one order cannot each wait for the other's. The lanes that got deliveries are notified, once
/// each, in the same transaction: the other relays hear of them when the batch commits.
async fn write_batch(
    client: &mut Client,
    statements: &mut Statements,
    batch: &mut [Work],
    stamp: Stamp<'_>,
    cache: &EventCache,
) -> Result<(), tokio_postgres::Error> {
    let Stamp {
        now,
        window_start,
        me,
        clock,
    } = stamp;
    let tx = client.transaction().await?;
    let mut events: Vec<&mut Pending<EventRow, Ingested>> = Vec::new();
    let mut rest: Vec<&mut Work> = Vec::new();
    for work in batch.iter_mut() {
        match work {
            Work::Ingest(p) => events.push(p),
            other => rest.push(other),
        }
    }
    write::ingest_all(&tx, statements, &mut events, now, window_start, clock).await?;
    rest.sort_by(|a, b| lane_key(a).cmp(&lane_key(b)));
    for work in rest {
        match work {
            Work::Ingest(_) => {}
            Work::Route(p) => write::route(&tx, statements, p, now, clock).await?,
            Work::Lane(p) => write::lane(&tx, statements, p, cache, clock).await?,
            Work::Probe(p) => write::probe(&tx, statements, p, now).await?,
        }
    }
    let fed = fed_lanes(batch);
    if !fed.is_empty() {
        write::notify(&tx, statements, me, &fed).await?;
    }
    tx.commit().await
}

/// The targets the batch gave deliveries to, each once.
fn fed_lanes(batch: &[Work]) -> Vec<&str> {
    let mut targets = std::collections::BTreeSet::new();
    for work in batch {
        match work {
            Work::Ingest(p) => {
                if let Some(Ok(ingested)) = &p.answer {
                    targets.extend(ingested.targets.iter().map(String::as_str));
                }
            }
            Work::Route(p) => {
                let rows = p.work.iter().flat_map(|row| row.deliveries.iter());
                targets.extend(rows.map(|d| d.target.as_str()));
            }
            Work::Lane(_) | Work::Probe(_) => {}
        }
    }
    targets.into_iter().collect()
}

/// Where a write goes in its batch: everything but lane writes first, in arrival order (the
/// sort is stable), then lane writes by target.
fn lane_key(work: &Work) -> Option<&str> {
    match work {
        Work::Lane(p) => Some(p.work.target.as_str()),
        _ => None,
    }
}
