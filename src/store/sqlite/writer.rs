//! Group commit: one task makes every durable write of the hot path (intake's events, routing,
//! the lanes' claims and outcomes) in one transaction and one fsync per batch.
//!
//! Callers send their write over a channel and wait. The task takes everything queued (up to
//! `max_batch`), writes it in one transaction in arrival order, commits (`synchronous=FULL`:
//! durable), then answers every caller. While one batch commits the next one queues, so the
//! batch grows with the load, and an outcome of one lane shares its fsync with other lanes'
//! outcomes and with intake's events. A caller is answered only after the commit, so a lane
//! never moves on before its outcome is durable. If the batch fails (disk full, read-only
//! file, I/O error), every caller in it gets the error, nothing of it is kept, and the task
//! goes on to the next batch. After each commit, before anyone is answered, the database file
//! is checked to be still the one at its path (`FileIdentity`): a removed or replaced file
//! fails the batch and every later one.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use sqlx::sqlite::SqlitePool;
use sqlx::{QueryBuilder, Sqlite, SqliteConnection, Transaction};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use super::lane_writes::{self as lanes, LaneDone, LaneWrite, RouteRow};
use super::{classify, millis, now_ms, wal};
use crate::event::Event;
use crate::store::schema;
use crate::store::{FileIdentity, Ingested, StoreError, StoreOptions, WriterStats};

/// An event, prepared by its caller (canonical JSON and hash are computed outside the writer).
struct EventRow {
    kind: String,
    company_id: Option<String>,
    company_name: Option<String>,
    body: String,
    dedup_key: String,
}

/// Rows per multi-row statement: well under SQLite's limit of bound values (7 per event).
const ROWS_PER_STATEMENT: usize = 128;

type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

/// One caller's write, its reply, and (once written) its answer.
struct Pending<W, T> {
    work: W,
    reply: Reply<T>,
    answer: Option<Result<T, StoreError>>,
}

impl<W, T> Pending<W, T> {
    /// After the commit: the caller gets its answer.
    fn answer(self) {
        let answer = self
            .answer
            .unwrap_or_else(|| Err(StoreError::Other("the write was not made".into())));
        // The caller may have given up waiting; what was written stays written.
        let _ = self.reply.send(answer);
    }

    fn fail(self, err: StoreError) {
        let _ = self.reply.send(Err(err));
    }
}

enum Job {
    Ingest(Pending<EventRow, Ingested>),
    Route(Pending<Vec<RouteRow>, ()>),
    /// Boxed: its answer holds a whole claim (with the event).
    Lane(Box<Pending<LaneWrite, LaneDone>>),
    /// Readiness asks whether the disk takes writes again (after a failed commit).
    Probe(Pending<(), ()>),
}

impl Job {
    /// Makes this job's writes inside the batch's transaction. An `Err` is a database failure
    /// that aborts the whole batch; a job's own refusal (no such event) is its answer.
    async fn run(&mut self, conn: &mut SqliteConnection, at: Clock) -> Result<(), sqlx::Error> {
        match self {
            // Written together by `insert_events`, before the other jobs.
            Job::Ingest(_) => {}
            Job::Route(p) => p.answer = Some(lanes::route_all(conn, &p.work, at.now).await?),
            Job::Lane(p) => p.answer = Some(lanes::lane_write(conn, &p.work).await?),
            Job::Probe(p) => {
                write_probe(conn, at.now).await?;
                p.answer = Some(Ok(()));
            }
        }
        Ok(())
    }

    fn is_event(&self) -> bool {
        matches!(self, Job::Ingest(_))
    }

    fn answer(self) {
        match self {
            Job::Ingest(p) => p.answer(),
            Job::Route(p) => p.answer(),
            Job::Lane(p) => p.answer(),
            Job::Probe(p) => p.answer(),
        }
    }

    fn fail(self, err: StoreError) {
        match self {
            Job::Ingest(p) => p.fail(err),
            Job::Route(p) => p.fail(err),
            Job::Lane(p) => p.fail(err),
            Job::Probe(p) => p.fail(err),
        }
    }
}

/// The batch's clock: one `now` for every row of the batch.
#[derive(Clone, Copy)]
struct Clock {
    now: i64,
    dedup_window_start: i64,
}

enum Message {
    Job(Job),
    /// Commit what is queued before this message, then stop.
    Close(oneshot::Sender<()>),
}

#[derive(Default)]
struct Counters {
    batches: AtomicU64,
    events: AtomicU64,
    writes: AtomicU64,
    largest_batch: AtomicU64,
    /// Pages in the write-ahead log at the last look, and how often it was started over.
    wal_frames: AtomicU64,
    wal_restarts: AtomicU64,
    /// The last group commit failed (disk full, read-only...): readiness says so.
    failing: AtomicBool,
}

pub(super) struct Writer {
    queue: mpsc::Sender<Message>,
    counters: Arc<Counters>,
}

impl Writer {
    /// Spawns the writer task on the current runtime.
    pub(super) fn start(pool: SqlitePool, opts: StoreOptions, file: Arc<FileIdentity>) -> Writer {
        let max_batch = opts.max_batch.max(1);
        let (queue, inbox) = mpsc::channel(max_batch.saturating_mul(4));
        let counters = Arc::new(Counters::default());
        let task = Task {
            pool,
            max_batch,
            window_ms: millis(opts.dedup_window),
            counters: counters.clone(),
            file,
        };
        tokio::spawn(task.run(inbox));
        Writer { queue, counters }
    }

    pub(super) async fn ingest(&self, event: &Event) -> Result<Ingested, StoreError> {
        let (body, dedup_key) = event.canonical_json_and_dedup_key();
        let row = EventRow {
            kind: event.kind.clone(),
            company_id: event.company_id().map(str::to_owned),
            company_name: event.company_name().map(str::to_owned),
            body,
            dedup_key,
        };
        self.submit(row, Job::Ingest).await
    }

    /// Routing of events, in order, in the next group commit.
    pub(super) async fn route(&self, rows: Vec<RouteRow>) -> Result<(), StoreError> {
        self.submit(rows, Job::Route).await
    }

    /// A lane's outcome and/or claim, in the next group commit; answered once durable.
    pub(super) async fn lane(&self, write: LaneWrite) -> Result<LaneDone, StoreError> {
        self.submit(write, |p| Job::Lane(Box::new(p))).await
    }

    async fn submit<W, T>(&self, work: W, job: fn(Pending<W, T>) -> Job) -> Result<T, StoreError> {
        let (reply, answer) = oneshot::channel();
        let pending = Pending {
            work,
            reply,
            answer: None,
        };
        self.queue
            .send(Message::Job(job(pending)))
            .await
            .map_err(|_| closed())?;
        answer.await.map_err(|_| closed())?
    }

    /// The readiness probe's write, in the next group commit; answered once committed.
    pub(super) async fn probe(&self) -> Result<(), StoreError> {
        self.submit((), Job::Probe).await
    }

    pub(super) fn stats(&self) -> WriterStats {
        WriterStats {
            batches: self.counters.batches.load(Ordering::Relaxed),
            events: self.counters.events.load(Ordering::Relaxed),
            writes: self.counters.writes.load(Ordering::Relaxed),
            largest_batch: self.counters.largest_batch.load(Ordering::Relaxed),
            wal_frames: self.counters.wal_frames.load(Ordering::Relaxed),
            wal_restarts: self.counters.wal_restarts.load(Ordering::Relaxed),
            failing: self.counters.failing.load(Ordering::Relaxed),
        }
    }

    /// Waits until everything queued before this call is committed and the task stopped.
    pub(super) async fn close(&self) {
        let (done, stopped) = oneshot::channel();
        if self.queue.send(Message::Close(done)).await.is_ok() {
            // An error means the task already stopped: nothing left to wait for.
            let _ = stopped.await;
        }
    }
}

fn closed() -> StoreError {
    StoreError::Unavailable("the store is closed".into())
}

struct Task {
    pool: SqlitePool,
    max_batch: usize,
    window_ms: i64,
    counters: Arc<Counters>,
    /// The database file as opened: checked after each commit, before anyone is answered.
    file: Arc<FileIdentity>,
}

impl Task {
    async fn run(self, mut inbox: mpsc::Receiver<Message>) {
        let mut closing = None;
        while closing.is_none() {
            let Some(first) = inbox.recv().await else {
                break;
            };
            let mut batch = Vec::new();
            let mut next = Some(first);
            while let Some(message) = next.take() {
                match message {
                    Message::Job(job) => batch.push(job),
                    Message::Close(done) => closing = Some(done),
                }
                if closing.is_none() && batch.len() < self.max_batch {
                    next = inbox.try_recv().ok();
                }
            }
            if !batch.is_empty() && self.commit(batch).await {
                self.tend_wal().await;
            }
        }
        // Callers still queued behind a close get "closed" when their reply is dropped.
        drop(inbox);
        if let Some(done) = closing {
            let _ = done.send(());
        }
    }

    /// Every [`wal::CHECK_EVERY`] commits, keeps the write-ahead log short (see `wal`). It runs
    /// between batches: while it copies the log (and waits for readers, at most 250 ms) the
    /// next batch queues, as it would behind SQLite's own automatic checkpoint.
    async fn tend_wal(&self) {
        let commits = self.counters.batches.load(Ordering::Relaxed);
        if commits == 0 || !commits.is_multiple_of(wal::CHECK_EVERY) {
            return;
        }
        let checked = match self.pool.acquire().await {
            Ok(mut conn) => wal::tend(&mut conn).await,
            Err(e) => Err(e),
        };
        match checked {
            Ok(check) => {
                let frames = u64::try_from(check.frames).unwrap_or(0);
                self.counters.wal_frames.store(frames, Ordering::Relaxed);
                if check.restarted {
                    self.counters.wal_restarts.fetch_add(1, Ordering::Relaxed);
                }
            }
            Err(e) => tracing::warn!(error = %classify(e), "cannot checkpoint the write-ahead log"),
        }
    }

    /// Writes one batch and answers its callers: each with its answer, or all with the error.
    /// Returns whether it was committed.
    async fn commit(&self, mut batch: Vec<Job>) -> bool {
        // Committed into a file that was removed or replaced is as good as not committed: a
        // restart reads the file now at the path. Checked after the commit, so that nothing
        // is answered unless the file was still the store once its write was durable.
        let written = self
            .write(&mut batch)
            .await
            .and_then(|()| self.file.check());
        match written {
            Ok(()) => {
                let events = batch.iter().filter(|job| job.is_event()).count();
                self.count(events, batch.len());
                self.counters.failing.store(false, Ordering::Relaxed);
                batch.into_iter().for_each(Job::answer);
                true
            }
            Err(err) => {
                self.counters.failing.store(true, Ordering::Relaxed);
                match err {
                    // Logged once, when it was found; every later batch fails the same way.
                    StoreError::Lost(_) => tracing::debug!(writes = batch.len(), "{err}"),
                    _ => tracing::error!(error = %err, writes = batch.len(), "group commit failed"),
                }
                for job in batch {
                    job.fail(err.clone());
                }
                false
            }
        }
    }

    async fn write(&self, batch: &mut [Job]) -> Result<(), StoreError> {
        // Once the file is lost, nothing more is written into it.
        self.file.known_lost()?;
        self.write_batch(batch).await.map_err(classify)
    }

    async fn write_batch(&self, batch: &mut [Job]) -> Result<(), sqlx::Error> {
        let now = now_ms();
        let at = Clock {
            now,
            dedup_window_start: now - self.window_ms,
        };
        let mut tx: Transaction<'static, Sqlite> = self.pool.begin().await?;
        // Intake's events first, in a few multi-row statements: per statement the connection's
        // worker thread is woken and answers, which costs more than the row itself. An event's
        // routing comes in a later batch, so writing the events first changes no outcome.
        let mut events: Vec<&mut Pending<EventRow, Ingested>> = batch
            .iter_mut()
            .filter_map(|job| match job {
                Job::Ingest(p) => Some(p),
                _ => None,
            })
            .collect();
        for chunk in events.chunks_mut(ROWS_PER_STATEMENT) {
            let rows: Vec<&EventRow> = chunk.iter().map(|p| &p.work).collect();
            let answers = insert_events(&mut tx, &rows, at).await?;
            for (p, answer) in chunk.iter_mut().zip(answers) {
                p.answer = Some(Ok(answer));
            }
        }
        for job in batch.iter_mut() {
            job.run(&mut tx, at).await?;
        }
        tx.commit().await
    }

    fn count(&self, events: usize, writes: usize) {
        let events = events as u64;
        self.counters.batches.fetch_add(1, Ordering::Relaxed);
        self.counters.events.fetch_add(events, Ordering::Relaxed);
        self.counters
            .writes
            .fetch_add(writes as u64, Ordering::Relaxed);
        self.counters
            .largest_batch
            .fetch_max(events, Ordering::Relaxed);
    }
}

/// For each event, in order: claims its dedup key (when no event with that key was stored after
/// the window's start, nor earlier in this batch) and stores it; otherwise answers with the
/// earlier event's id. Two statements for the lot, plus one look-up per duplicate of an event
/// from an earlier batch.
async fn insert_events(
    conn: &mut SqliteConnection,
    rows: &[&EventRow],
    at: Clock,
) -> Result<Vec<Ingested>, sqlx::Error> {
    let ids: Vec<String> = rows.iter().map(|_| Uuid::now_v7().to_string()).collect();
    let mut claim =
        QueryBuilder::<Sqlite>::new("INSERT INTO dedup (dedup_key, event_id, received_at) ");
    claim.push_values(rows.iter().zip(&ids), |mut values, (row, id)| {
        values
            .push_bind(row.dedup_key.clone())
            .push_bind(id.clone())
            .push_bind(at.now);
    });
    claim
        .push(
            " ON CONFLICT (dedup_key) DO UPDATE
              SET event_id = excluded.event_id, received_at = excluded.received_at
              WHERE dedup.received_at <= ",
        )
        .push_bind(at.dedup_window_start)
        .push(" RETURNING dedup_key, event_id");
    let claimed: HashMap<String, String> = claim
        .build_query_as::<(String, String)>()
        .persistent(false)
        .fetch_all(&mut *conn)
        .await?
        .into_iter()
        .collect();

    let mut answers = Vec::with_capacity(rows.len());
    let mut new_rows = Vec::with_capacity(rows.len());
    for (row, id) in rows.iter().zip(ids) {
        let answer = match claimed.get(&row.dedup_key) {
            Some(owner) if *owner == id => {
                new_rows.push((*row, id.clone()));
                Ingested {
                    id,
                    duplicate: false,
                }
            }
            // An identical event earlier in this batch.
            Some(owner) => Ingested {
                id: owner.clone(),
                duplicate: true,
            },
            None => Ingested {
                id: earlier_event(conn, &row.dedup_key).await?,
                duplicate: true,
            },
        };
        answers.push(answer);
    }
    if new_rows.is_empty() {
        return Ok(answers);
    }
    let mut insert = QueryBuilder::<Sqlite>::new(
        "INSERT INTO events (id, received_at, kind, company_id, company_name, body, dedup_key) ",
    );
    insert.push_values(new_rows, |mut values, (row, id)| {
        values
            .push_bind(id)
            .push_bind(at.now)
            .push_bind(row.kind.clone())
            .push_bind(row.company_id.clone())
            .push_bind(row.company_name.clone())
            .push_bind(row.body.clone())
            .push_bind(row.dedup_key.clone());
    });
    insert.build().persistent(false).execute(&mut *conn).await?;
    Ok(answers)
}

/// Rewrites the probe row with fresh random bytes (random, so that no file system can store
/// them in less room than they take), needing as much room in the log as a burst of events.
async fn write_probe(conn: &mut SqliteConnection, now: i64) -> Result<(), sqlx::Error> {
    let mut filler = vec![0u8; schema::PROBE_BYTES];
    fastrand::fill(&mut filler);
    sqlx::query(
        "INSERT INTO probe (id, written_at, filler) VALUES (1, $1, $2)
         ON CONFLICT (id) DO UPDATE
         SET written_at = excluded.written_at, filler = excluded.filler",
    )
    .bind(now)
    .bind(filler)
    .execute(conn)
    .await?;
    Ok(())
}

/// The id of the event that holds `dedup_key` (stored within the dedup window).
async fn earlier_event(
    conn: &mut SqliteConnection,
    dedup_key: &str,
) -> Result<String, sqlx::Error> {
    sqlx::query_scalar("SELECT event_id FROM dedup WHERE dedup_key = $1")
        .bind(dedup_key)
        .fetch_one(&mut *conn)
        .await
}
