//! Keeping the write-ahead log short under continuous load.
//!
//! SQLite's automatic checkpoint is PASSIVE: it copies the log into the database up to the
//! oldest snapshot a reader still holds, and the log starts over only when a checkpoint got to
//! its end while no reader used it. Under a steady stream the relay always has a reader
//! somewhere (the router, a lane, a scrape) and a commit every few milliseconds, so that moment
//! never comes and the log grows without bound: measured at about 6 MB/s and 480 MB after 80 s
//! at 1 000 events/s, with the memory of its index growing alongside. Every few commits the
//! writer looks at the log's length; past [`RESTART_FRAMES`] it runs a RESTART checkpoint,
//! which waits (at most [`RESTART_WAIT`]) for the readers of older snapshots to finish their
//! short reads, so that the next commit writes the log from its start. The file keeps its
//! size (the log is rewritten in place); `journal_size_limit` (set at open) cuts a file that
//! grew past it, e.g. during a long read that held the log, back to that size.

use std::time::Duration;

use rusqlite::Connection;

/// Commits between two looks at the log's length.
pub(super) const CHECK_EVERY: u64 = 64;
/// A log longer than this (in pages of 4 KiB: 16 MiB) is started over.
const RESTART_FRAMES: i64 = 4096;
/// How long a RESTART checkpoint waits for readers before giving up until the next look.
const RESTART_WAIT: Duration = Duration::from_millis(250);
/// The write connection's usual wait for the file lock, restored after a RESTART.
const USUAL_WAIT: Duration = super::BUSY_TIMEOUT;

/// What one look at the log found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct WalCheck {
    /// Pages in the log when it was looked at.
    pub(super) frames: i64,
    /// A RESTART was run and the log will start over at the next commit.
    pub(super) restarted: bool,
}

/// Looks at the log (a PASSIVE checkpoint, which also copies what it can) and starts it over
/// when it is too long. A failure here costs nothing but a longer log: the caller logs it.
pub(super) fn tend(conn: &Connection) -> Result<WalCheck, rusqlite::Error> {
    let (_, frames, _) = checkpoint(conn, "PRAGMA wal_checkpoint(PASSIVE)")?;
    if frames < RESTART_FRAMES {
        return Ok(WalCheck {
            frames,
            restarted: false,
        });
    }
    conn.busy_timeout(RESTART_WAIT)?;
    let restart = checkpoint(conn, "PRAGMA wal_checkpoint(RESTART)");
    conn.busy_timeout(USUAL_WAIT)?;
    let (busy, _, _) = restart?;
    Ok(WalCheck {
        frames,
        restarted: busy == 0,
    })
}

/// Runs a `wal_checkpoint` pragma: (busy, pages in the log, pages copied).
fn checkpoint(conn: &Connection, pragma: &str) -> Result<(i64, i64, i64), rusqlite::Error> {
    conn.query_row(pragma, [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
}
