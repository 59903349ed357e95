//! The writer thread: it owns the write connection and makes every write of the store, a whole
//! group-commit batch per wake-up (see [`crate::store::commit`]).
//!
//! Callers on the async runtime send their write over a channel and await the answer; the
//! thread takes everything queued (up to `max_batch`), runs it in one `BEGIN IMMEDIATE`
//! transaction in arrival order, commits, and answers. Each write runs in its own savepoint:
//! one that fails by itself (a constraint, a bug) is rolled back and answered with its error
//! while the rest of the batch commits; a failure of the file (disk full, read-only, I/O)
//! fails the whole batch, and the connection is opened again if it was left in a transaction.
//! After each commit, before anyone is answered, the database file is checked to be still the
//! one at its path ([`FileIdentity`]): a removed or replaced file fails the batch and every
//! later one. Between batches the thread tends the write-ahead log ([`super::wal`]).

use std::any::Any;
use std::path::PathBuf;
use std::sync::Arc;

use rusqlite::{Connection, Transaction, TransactionBehavior};
use tokio::sync::{mpsc, oneshot};

use super::{classify, connect, wal, write};
use crate::store::cache::EventCache;
use crate::store::commit::{Counters, Pending, Queue, Work, WriterMessage, closed};
use crate::store::rows::{millis, now_ms};
use crate::store::{FileIdentity, StoreError, StoreOptions};

/// A write that is not on the hot path (an operator's replay, a pause, retention): a closure
/// run inside the batch's transaction, its result handed back after the commit.
type AdminFn = Box<dyn FnOnce(&Connection) -> Result<Box<dyn Any + Send>, rusqlite::Error> + Send>;

pub(in crate::store) enum Message {
    Work(Work),
    Admin(Pending<AdminFn, Box<dyn Any + Send>>),
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
pub(in crate::store) type Writer = Queue<Message>;

/// Starts the thread on `conn` (already migrated).
pub(in crate::store) fn start(
    conn: Connection,
    file: Arc<FileIdentity>,
    opts: &StoreOptions,
    cache: Arc<EventCache>,
    counters: Arc<Counters>,
) -> Result<Writer, StoreError> {
    let max_batch = opts.max_batch.max(1);
    let (sender, inbox) = mpsc::channel(max_batch.saturating_mul(4));
    let thread = WriterThread {
        path: file.path().to_owned(),
        conn,
        file,
        max_batch,
        window_ms: millis(opts.dedup_window),
        cache,
        counters,
    };
    std::thread::Builder::new()
        .name("mqa-store-writer".into())
        .spawn(move || thread.run(inbox))
        .map_err(|e| StoreError::Other(format!("cannot start the store's writer: {e}")))?;
    Ok(Queue { sender })
}

impl Queue<Message> {
    /// Runs `f` in the next batch's transaction; its result comes back once committed.
    pub(in crate::store) async fn admin<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, rusqlite::Error> + Send + 'static,
    ) -> Result<T, StoreError> {
        let boxed: AdminFn = Box::new(move |tx| f(tx).map(|t| Box::new(t) as Box<dyn Any + Send>));
        let (pending, answer) = Pending::new(boxed);
        self.sender
            .send(Message::Admin(pending))
            .await
            .map_err(|_| closed())?;
        let any = answer.await.map_err(|_| closed())??;
        any.downcast::<T>()
            .map(|t| *t)
            .map_err(|_| StoreError::Other("a write answered with the wrong type".into()))
    }
}

struct WriterThread {
    conn: Connection,
    path: PathBuf,
    /// The database file as opened: checked after each commit, before anyone is answered.
    file: Arc<FileIdentity>,
    max_batch: usize,
    window_ms: i64,
    cache: Arc<EventCache>,
    counters: Arc<Counters>,
}

/// One batch as it is written: every message's work and, once written, its answer.
enum Job {
    Work(Work),
    Admin(Pending<AdminFn, Box<dyn Any + Send>>),
}

impl WriterThread {
    fn run(mut self, mut inbox: mpsc::Receiver<Message>) {
        let mut closing = None;
        while closing.is_none() {
            let Some(first) = inbox.blocking_recv() else {
                break;
            };
            let mut batch = Vec::new();
            let mut next = Some(first);
            while let Some(message) = next.take() {
                match message {
                    Message::Work(work) => batch.push(Job::Work(work)),
                    Message::Admin(admin) => batch.push(Job::Admin(admin)),
                    Message::Close(done) => closing = Some(done),
                }
                if closing.is_none() && batch.len() < self.max_batch {
                    next = inbox.try_recv().ok();
                }
            }
            if !batch.is_empty() && self.commit(batch) {
                self.tend_wal();
            }
        }
        // Callers still queued behind a close get "closed" when their reply is dropped.
        drop(inbox);
        if let Some(done) = closing {
            let _ = done.send(());
        }
    }

    /// Writes one batch and answers its callers. Returns whether it was committed.
    fn commit(&mut self, mut batch: Vec<Job>) -> bool {
        if let Err(lost) = self.file.known_lost() {
            return self.fail(batch, lost);
        }
        let now = now_ms();
        let written = self.write(&mut batch, now);
        // Committed into a file that a restart will not read is not stored: nobody is told
        // otherwise, and nothing more is written.
        if let Err(lost) = self.file.check() {
            return self.fail(batch, lost);
        }
        match written {
            Ok(()) => {
                for job in batch.iter_mut() {
                    if let Job::Work(Work::Ingest(p)) = job {
                        p.remember(&self.cache, true);
                    }
                }
                let events = batch
                    .iter()
                    .filter(|job| matches!(job, Job::Work(w) if w.is_event()))
                    .count();
                self.counters.committed(events, batch.len());
                for job in batch {
                    match job {
                        Job::Work(work) => work.answer(),
                        Job::Admin(admin) => admin.answer(),
                    }
                }
                true
            }
            Err(err) => {
                self.recover_connection();
                self.fail(batch, classify(err))
            }
        }
    }

    fn fail(&self, batch: Vec<Job>, err: StoreError) -> bool {
        self.counters.failed();
        tracing::error!(error = %err, writes = batch.len(), "group commit failed");
        for job in batch {
            match job {
                Job::Work(work) => work.fail(err.clone()),
                Job::Admin(admin) => admin.fail(err.clone()),
            }
        }
        false
    }

    fn write(&mut self, batch: &mut [Job], now: i64) -> Result<(), rusqlite::Error> {
        let window_start = now - self.window_ms;
        let mut tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        for job in batch.iter_mut() {
            run_job(&mut tx, job, now, window_start, &self.cache)?;
        }
        tx.commit()
    }

    /// After a failed batch: a connection left inside a transaction (its rollback failed) would
    /// turn every later commit into the release of a savepoint, answered as durable and never
    /// written. Such a connection is replaced.
    fn recover_connection(&mut self) {
        if self.conn.is_autocommit() {
            return;
        }
        match connect(&self.path, true) {
            Ok(fresh) => self.conn = fresh,
            Err(e) => {
                tracing::error!(error = %classify(e), "cannot reopen the store's write connection")
            }
        }
    }

    /// Every [`wal::CHECK_EVERY`] commits, keeps the write-ahead log short (see `wal`).
    fn tend_wal(&mut self) {
        let commits = self.counters.batches();
        if commits == 0 || !commits.is_multiple_of(wal::CHECK_EVERY) {
            return;
        }
        match wal::tend(&self.conn) {
            Ok(check) => {
                use std::sync::atomic::Ordering::Relaxed;
                let frames = u64::try_from(check.frames).unwrap_or(0);
                self.counters.wal_frames.store(frames, Relaxed);
                if check.restarted {
                    self.counters.wal_restarts.fetch_add(1, Relaxed);
                }
            }
            Err(e) => tracing::warn!(error = %classify(e), "cannot checkpoint the write-ahead log"),
        }
    }
}

/// One job inside its own savepoint. A failure of the file aborts the batch (`Err`); any other
/// failure is this job's alone: rolled back to its savepoint and answered with the error.
fn run_job(
    tx: &mut Transaction<'_>,
    job: &mut Job,
    now: i64,
    window_start: i64,
    cache: &EventCache,
) -> Result<(), rusqlite::Error> {
    let mut sp = tx.savepoint()?;
    let result = match job {
        Job::Work(Work::Ingest(p)) => write::ingest(&sp, p, now, window_start),
        Job::Work(Work::Route(p)) => write::route(&sp, p, now),
        Job::Work(Work::Lane(p)) => write::lane(&sp, p, cache),
        Job::Work(Work::Probe(p)) => write::probe(&sp, p, now),
        Job::Admin(p) => run_admin(&sp, p),
    };
    match result {
        Ok(()) => sp.commit(),
        Err(e) if matches!(classify_ref(&e), StoreError::Unavailable(_)) => Err(e),
        Err(e) => {
            sp.rollback()?;
            tracing::error!(error = %e, "a write failed and was rolled back; the rest of its batch is kept");
            set_error(job, classify(e));
            Ok(())
        }
    }
}

fn run_admin(
    tx: &Connection,
    p: &mut Pending<AdminFn, Box<dyn Any + Send>>,
) -> Result<(), rusqlite::Error> {
    // The closure can run once; it is swapped out for one that is never called.
    let noop: AdminFn = Box::new(|_| Ok(Box::new(()) as Box<dyn Any + Send>));
    let f = std::mem::replace(&mut p.work, noop);
    p.answer = Some(Ok(f(tx)?));
    Ok(())
}

fn classify_ref(e: &rusqlite::Error) -> StoreError {
    match e {
        rusqlite::Error::SqliteFailure(code, msg) => {
            classify(rusqlite::Error::SqliteFailure(*code, msg.clone()))
        }
        other => StoreError::Other(other.to_string()),
    }
}

fn set_error(job: &mut Job, err: StoreError) {
    match job {
        Job::Work(Work::Ingest(p)) => p.answer = Some(Err(err)),
        Job::Work(Work::Route(p)) => p.answer = Some(Err(err)),
        Job::Work(Work::Lane(p)) => p.answer = Some(Err(err)),
        Job::Work(Work::Probe(p)) => p.answer = Some(Err(err)),
        Job::Admin(p) => p.answer = Some(Err(err)),
    }
}
