//! The embedded SQLite backend: one write connection, a small read pool, WAL, `synchronous=FULL`.
//!
//! SQLite has one writer. Every write takes the single connection of `write`, so they queue
//! fairly instead of fighting over the file lock; the hot ones (intake's events, routing, claims,
//! outcomes) go through the group-commit writer, many to one transaction and fsync. Reads use
//! their own connections and never block the writer (WAL).

mod admin;
mod lane_writes;
mod lanes;
mod read;
mod wal;
mod writer;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use super::schema;
use super::{FileIdentity, StoreError, StoreOptions, WriterStats};
use crate::event::Event;
use crate::store::Ingested;

/// How long a connection waits for the file lock before answering "busy".
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// The size (bytes) the write-ahead log's file is cut back to once the log started over.
const JOURNAL_SIZE_LIMIT: u64 = 64 * 1024 * 1024;
/// Readers: the router, senders, admin and metrics read concurrently.
const READ_CONNECTIONS: u32 = 4;

pub(super) struct SqliteStore {
    write: SqlitePool,
    read: SqlitePool,
    writer: writer::Writer,
    file: Arc<FileIdentity>,
}

impl SqliteStore {
    pub(super) async fn open(data_dir: &Path, opts: StoreOptions) -> Result<Self, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|e| {
            StoreError::Unavailable(format!("cannot create {}: {e}", data_dir.display()))
        })?;
        let file = data_dir.join("relay.db");
        let options = SqliteConnectOptions::new()
            .filename(&file)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT)
            // After the log started over (see `wal`), its file shrinks back to this.
            .pragma("journal_size_limit", JOURNAL_SIZE_LIMIT.to_string());
        // No ping on acquire (sqlx's default): each would be one more round trip to the
        // connection's worker thread per transaction, and a local file has no peer to lose.
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            .after_release(|conn, _| Box::pin(release_clean(conn)))
            .connect_with(options.clone())
            .await
            .map_err(classify)?;
        // The write connection has the file open (sqlx connects at once): this is its identity.
        let identity = FileIdentity::of(&file).map_err(|e| {
            StoreError::Unavailable(format!("cannot look at {}: {e}", file.display()))
        })?;
        let identity = Arc::new(identity);
        migrate(&write).await?;
        let read = SqlitePoolOptions::new()
            .max_connections(READ_CONNECTIONS)
            .test_before_acquire(false)
            .connect_with(options)
            .await
            .map_err(classify)?;
        let writer = writer::Writer::start(write.clone(), opts, identity.clone());
        Ok(SqliteStore {
            write,
            read,
            writer,
            file: identity,
        })
    }

    pub(super) fn file(&self) -> &FileIdentity {
        &self.file
    }

    pub(super) async fn ingest(&self, event: &Event) -> Result<Ingested, StoreError> {
        self.writer.ingest(event).await
    }

    pub(super) async fn probe_write(&self) -> Result<(), StoreError> {
        self.writer.probe().await
    }

    pub(super) fn writer_stats(&self) -> WriterStats {
        self.writer.stats()
    }

    pub(super) async fn close(&self) {
        self.writer.close().await;
        self.write.close().await;
        self.read.close().await;
    }
}

/// Whether a write connection may go back to the pool. A write that failed half-way (disk
/// full, I/O error) can leave it inside a transaction that sqlx no longer tracks (its rollback
/// failed); every later `commit` would then only release a savepoint of that transaction:
/// answered as durable, never written. Such a connection is closed (SQLite rolls it back) and
/// the pool opens a fresh one. The depth read here is the worker's own count: a committed
/// transaction is at zero already; a dropped one (a failed batch) is usually still open, its
/// rollback queued, so such a connection is closed even when the rollback would have worked: a fresh connection after a failure costs little, a round trip on every release
/// costs every transaction.
async fn release_clean(conn: &mut sqlx::SqliteConnection) -> Result<bool, sqlx::Error> {
    use sqlx::Connection;
    Ok(!conn.is_in_transaction())
}

/// Brings the schema to the version this binary knows, one migration per transaction.
async fn migrate(pool: &SqlitePool) -> Result<(), StoreError> {
    let version: i64 = sqlx::query_scalar("PRAGMA user_version")
        .fetch_one(pool)
        .await
        .map_err(classify)?;
    if version > schema::current_version() {
        return Err(StoreError::Other(format!(
            "the database has schema version {version}, newer than this binary's {}",
            schema::current_version()
        )));
    }
    for (index, sql) in schema::MIGRATIONS
        .iter()
        .enumerate()
        .skip(version_index(version))
    {
        let mut tx = pool.begin().await.map_err(classify)?;
        sqlx::raw_sql(*sql)
            .execute(&mut *tx)
            .await
            .map_err(classify)?;
        // PRAGMA takes no parameters; the number is ours, not input.
        let set = format!("PRAGMA user_version = {}", index + 1);
        sqlx::raw_sql(sqlx::AssertSqlSafe(set))
            .execute(&mut *tx)
            .await
            .map_err(classify)?;
        tx.commit().await.map_err(classify)?;
    }
    Ok(())
}

fn version_index(version: i64) -> usize {
    usize::try_from(version).unwrap_or(0)
}

/// Disk full, read-only, I/O errors, a locked or unopenable file, a closed pool: the store may
/// recover, so the caller should try again later. Everything else is a bug or corruption.
pub(super) fn classify(err: sqlx::Error) -> StoreError {
    // Primary SQLite result codes (the low byte of the extended code).
    const PERM: i32 = 3;
    const BUSY: i32 = 5;
    const LOCKED: i32 = 6;
    const NOMEM: i32 = 7;
    const READONLY: i32 = 8;
    const IOERR: i32 = 10;
    const FULL: i32 = 13;
    const CANTOPEN: i32 = 14;
    let transient = match &err {
        sqlx::Error::Database(db) => {
            let primary = db
                .code()
                .and_then(|c| c.parse::<i32>().ok())
                .map(|c| c & 0xff);
            matches!(
                primary,
                Some(PERM | BUSY | LOCKED | NOMEM | READONLY | IOERR | FULL | CANTOPEN)
            )
        }
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        _ => false,
    };
    if transient {
        StoreError::Unavailable(err.to_string())
    } else {
        StoreError::Other(err.to_string())
    }
}

/// Milliseconds since the Unix epoch.
pub(super) fn now_ms() -> i64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}

/// A duration in milliseconds, saturating.
pub(super) fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod lane_tests;
#[cfg(test)]
mod tests;
