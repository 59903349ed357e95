//! The embedded engine: one SQLite file, `relay.db`, in the data directory. WAL,
//! `synchronous=FULL`: a commit is on disk when it returns.
//!
//! One thread owns the write connection and makes every write, a whole group-commit batch per
//! hand-off ([`writer`]); nothing else writes, so writes never wait for SQLite's file lock.
//! Reads use their own connections on tokio's blocking threads ([`read`]) and never block the
//! writer (WAL). The SQL lives in [`write`], [`read`], [`views`] (what operators list) and
//! [`admin`]; the tables in [`schema`].

pub(super) mod admin;
pub mod backup;
mod engine;
pub(super) mod read;
mod schema;
pub(super) mod views;
mod wal;
mod write;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::cache::EventCache;
use super::commit::Counters;
use super::{FileIdentity, StoreError, StoreOptions};

pub(super) use read::Reads;
pub(super) use writer::Writer;

/// How long a connection waits for the file lock before answering "busy" (another process,
/// such as `mqa-relay dlq` or a backup, may hold it briefly).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// The size (bytes) the write-ahead log's file is cut back to once the log started over.
const JOURNAL_SIZE_LIMIT: i64 = 64 * 1024 * 1024;

/// The file of the store in `data_dir`.
pub(super) fn database_file(data_dir: &Path) -> PathBuf {
    data_dir.join("relay.db")
}

/// The engine: the writer thread and the read connections.
pub(super) struct Sqlite {
    pub(super) writer: Writer,
    pub(super) reads: Reads,
    /// The database file as opened (checked by the writer after every commit).
    pub(super) file: Arc<FileIdentity>,
}

impl Sqlite {
    /// Opens (creating if needed) the file, migrates it, and starts the writer thread. The
    /// running relay (`owner`, which holds the data directory's lock) also takes back the
    /// deliveries that a relay before it left in flight.
    pub(super) fn open(
        data_dir: &Path,
        opts: &StoreOptions,
        owner: bool,
        cache: Arc<EventCache>,
        counters: Arc<Counters>,
    ) -> Result<Sqlite, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|e| {
            StoreError::Unavailable(format!("cannot create {}: {e}", data_dir.display()))
        })?;
        let file = database_file(data_dir);
        let mut conn = connect(&file, true).map_err(classify)?;
        // The write connection has the file open: this is its identity.
        let identity = FileIdentity::of(&file).map_err(|e| {
            StoreError::Unavailable(format!("cannot look at {}: {e}", file.display()))
        })?;
        let identity = Arc::new(identity);
        migrate(&mut conn)?;
        if owner {
            recover_in_flight(&conn)?;
        }
        let writer = writer::start(conn, identity.clone(), opts, cache, counters)?;
        Ok(Sqlite {
            writer,
            reads: Reads::new(file),
            file: identity,
        })
    }
}

/// A connection with the store's settings. Only the writer's may create the file.
fn connect(file: &Path, writer: bool) -> Result<Connection, rusqlite::Error> {
    let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    if writer {
        flags |= OpenFlags::SQLITE_OPEN_CREATE;
    }
    let conn = Connection::open_with_flags(file, flags)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // `journal_mode` answers with the mode it set: read it, or the pragma is not run.
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(rusqlite::Error::InvalidQuery);
    }
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "journal_size_limit", JOURNAL_SIZE_LIMIT)?;
    if !writer {
        conn.pragma_update(None, "query_only", "ON")?;
    }
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

/// Brings the schema to the version this binary knows, one migration per transaction.
fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(classify)?;
    if version > schema::current_version() {
        return Err(StoreError::Other(format!(
            "the database has schema version {version}, newer than this binary's {}",
            schema::current_version()
        )));
    }
    let done = usize::try_from(version).unwrap_or(0);
    for (index, sql) in schema::MIGRATIONS.iter().enumerate().skip(done) {
        let tx = conn.transaction().map_err(classify)?;
        tx.execute_batch(sql).map_err(classify)?;
        // PRAGMA takes no parameters; the number is ours, not input.
        tx.pragma_update(None, "user_version", index as i64 + 1)
            .map_err(classify)?;
        tx.commit().map_err(classify)?;
    }
    Ok(())
}

/// Deliveries left `sending` belong to a relay that stopped without recording their outcome
/// (only the lock's holder sends): their leases end now instead of after their length, so they
/// are sent again at once rather than up to a lease later. Each may have reached its target
/// before the stop: that is the duplicate a crash can cause.
fn recover_in_flight(conn: &Connection) -> Result<(), StoreError> {
    let taken = conn
        .execute(
            "UPDATE deliveries SET lease_until = 0 WHERE state = 'sending' AND lease_until > 0",
            [],
        )
        .map_err(classify)?;
    if taken > 0 {
        tracing::warn!(
            deliveries = taken,
            "deliveries were in flight when the relay stopped; they are sent again now"
        );
    }
    Ok(())
}

/// Disk full, read-only, I/O errors, a locked or unopenable file: the store may recover, so the
/// caller should try again later. Everything else is a bug or corruption.
pub(super) fn classify(err: rusqlite::Error) -> StoreError {
    use rusqlite::ErrorCode::*;
    let transient = match &err {
        rusqlite::Error::SqliteFailure(e, _) => matches!(
            e.code,
            PermissionDenied
                | DatabaseBusy
                | DatabaseLocked
                | OutOfMemory
                | ReadOnly
                | SystemIoFailure
                | DiskFull
                | CannotOpen
        ),
        _ => false,
    };
    if transient {
        StoreError::Unavailable(err.to_string())
    } else {
        StoreError::Other(err.to_string())
    }
}

#[cfg(test)]
mod tests;
