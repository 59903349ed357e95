//! Group commit: one task writes every queued event in one transaction and one fsync.
//!
//! Callers send their event over a channel and wait. The task takes everything queued (up to
//! `max_batch`), writes it in one transaction, commits (`synchronous=FULL`: durable), then
//! answers every caller. While one batch commits the next one queues, so the batch grows with
//! the load. If the batch fails (disk full, read-only file, I/O error), every caller in it gets
//! the error, nothing of it is acknowledged, and the task goes on to the next batch.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::sqlite::SqlitePool;
use sqlx::{Sqlite, Transaction};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use super::{classify, millis, now_ms};
use crate::event::Event;
use crate::store::{Ingested, StoreError, StoreOptions, WriterStats};

/// An event, prepared by its caller (canonical JSON and hash are computed outside the writer).
struct EventRow {
    kind: String,
    company_id: Option<String>,
    company_name: Option<String>,
    body: String,
    dedup_key: String,
}

type Reply = oneshot::Sender<Result<Ingested, StoreError>>;

enum Message {
    Ingest(EventRow, Reply),
    /// Commit what is queued before this message, then stop.
    Close(oneshot::Sender<()>),
}

#[derive(Default)]
struct Counters {
    batches: AtomicU64,
    events: AtomicU64,
    largest_batch: AtomicU64,
}

pub(super) struct Writer {
    queue: mpsc::Sender<Message>,
    counters: Arc<Counters>,
}

impl Writer {
    /// Spawns the writer task on the current runtime.
    pub(super) fn start(pool: SqlitePool, opts: StoreOptions) -> Writer {
        let max_batch = opts.max_batch.max(1);
        let (queue, inbox) = mpsc::channel(max_batch.saturating_mul(4));
        let counters = Arc::new(Counters::default());
        let task = Task {
            pool,
            max_batch,
            window_ms: millis(opts.dedup_window),
            counters: counters.clone(),
        };
        tokio::spawn(task.run(inbox));
        Writer { queue, counters }
    }

    pub(super) async fn ingest(&self, event: &Event) -> Result<Ingested, StoreError> {
        let row = EventRow {
            kind: event.kind.clone(),
            company_id: event.company_id().map(str::to_owned),
            company_name: event.company_name().map(str::to_owned),
            body: event.canonical_json(),
            dedup_key: event.dedup_key(),
        };
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Message::Ingest(row, reply))
            .await
            .map_err(|_| closed())?;
        answer.await.map_err(|_| closed())?
    }

    pub(super) fn stats(&self) -> WriterStats {
        WriterStats {
            batches: self.counters.batches.load(Ordering::Relaxed),
            events: self.counters.events.load(Ordering::Relaxed),
            largest_batch: self.counters.largest_batch.load(Ordering::Relaxed),
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
                    Message::Ingest(row, reply) => batch.push((row, reply)),
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
        // Callers still queued behind a close get "closed" when their reply is dropped.
        drop(inbox);
        if let Some(done) = closing {
            let _ = done.send(());
        }
    }

    /// Writes one batch and answers its callers: all with their ids, or all with the error.
    async fn commit(&self, batch: Vec<(EventRow, Reply)>) {
        let rows: Vec<&EventRow> = batch.iter().map(|(row, _)| row).collect();
        match self.write(&rows).await {
            Ok(answers) => {
                self.count(answers.len());
                for ((_, reply), answer) in batch.into_iter().zip(answers) {
                    // The caller may have given up waiting; the event is stored regardless.
                    let _ = reply.send(Ok(answer));
                }
            }
            Err(err) => {
                let err = classify(err);
                tracing::error!(error = %err, events = batch.len(), "group commit failed");
                for (_, reply) in batch {
                    let _ = reply.send(Err(err.clone()));
                }
            }
        }
    }

    async fn write(&self, rows: &[&EventRow]) -> Result<Vec<Ingested>, sqlx::Error> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        let mut answers = Vec::with_capacity(rows.len());
        for row in rows {
            answers.push(insert_event(&mut tx, row, now, now - self.window_ms).await?);
        }
        tx.commit().await?;
        Ok(answers)
    }

    fn count(&self, events: usize) {
        let events = events as u64;
        self.counters.batches.fetch_add(1, Ordering::Relaxed);
        self.counters.events.fetch_add(events, Ordering::Relaxed);
        self.counters
            .largest_batch
            .fetch_max(events, Ordering::Relaxed);
    }
}

/// Claims the dedup key for a new event (when no event with that key was stored after
/// `window_start`) and stores it; otherwise answers with the earlier event's id.
async fn insert_event(
    tx: &mut Transaction<'static, Sqlite>,
    row: &EventRow,
    now: i64,
    window_start: i64,
) -> Result<Ingested, sqlx::Error> {
    let id = Uuid::now_v7().to_string();
    let claimed: Option<String> = sqlx::query_scalar(
        "INSERT INTO dedup (dedup_key, event_id, received_at) VALUES ($1, $2, $3)
         ON CONFLICT (dedup_key) DO UPDATE
             SET event_id = excluded.event_id, received_at = excluded.received_at
             WHERE dedup.received_at <= $4
         RETURNING event_id",
    )
    .bind(&row.dedup_key)
    .bind(&id)
    .bind(now)
    .bind(window_start)
    .fetch_optional(&mut **tx)
    .await?;
    if claimed.is_none() {
        let first: String = sqlx::query_scalar("SELECT event_id FROM dedup WHERE dedup_key = $1")
            .bind(&row.dedup_key)
            .fetch_one(&mut **tx)
            .await?;
        return Ok(Ingested {
            id: first,
            duplicate: true,
        });
    }
    sqlx::query(
        "INSERT INTO events (id, received_at, kind, company_id, company_name, body, dedup_key)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&id)
    .bind(now)
    .bind(&row.kind)
    .bind(&row.company_id)
    .bind(&row.company_name)
    .bind(&row.body)
    .bind(&row.dedup_key)
    .execute(&mut **tx)
    .await?;
    Ok(Ingested {
        id,
        duplicate: false,
    })
}
