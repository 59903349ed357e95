//! A consistent copy of the embedded store while a relay runs on it (`mqa-relay store
//! backup`): SQLite's `VACUUM INTO` on a read-only connection writes one snapshot of the file
//! (WAL: it neither blocks the writer nor waits for it), checked and made durable before it
//! takes the name the operator gave. The copy is a store like any other: put it in a data
//! directory as `relay.db` and a relay starts on it.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

use super::{BUSY_TIMEOUT, database_file};
use crate::store::StoreError;

/// What a backup holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backup {
    pub events: u64,
    pub deliveries: u64,
    pub bytes: u64,
    /// The store's schema version.
    pub schema: i64,
}

/// Copies the store in `data_dir` into the new file `to` (never over an existing one).
pub fn backup(data_dir: &Path, to: &Path) -> Result<Backup, StoreError> {
    let source = database_file(data_dir);
    if !source.is_file() {
        return Err(other(format!("no store in {}", data_dir.display())));
    }
    if to.exists() {
        return Err(other(format!(
            "{} exists: a backup never overwrites a file; name a new one",
            to.display()
        )));
    }
    let partial = partial_name(to);
    let result = create_private(&partial)
        .and_then(|()| snapshot(&source, &partial))
        .and_then(|()| verify(&partial))
        .and_then(|backup| publish(&partial, to).map(|()| backup));
    // Made by this backup alone (created new), so never someone else's file.
    let _ = std::fs::remove_file(&partial);
    result
}

/// `to` with `.partial-<pid>` added: where this process writes the copy until it is complete.
fn partial_name(to: &Path) -> PathBuf {
    let mut name = to.as_os_str().to_owned();
    name.push(format!(".partial-{}", std::process::id()));
    PathBuf::from(name)
}

/// Creates `file`, empty, readable by its owner only (the copy holds every event), failing if
/// it exists. `VACUUM INTO` writes into an empty file.
fn create_private(file: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(file)
        .map(drop)
        .map_err(|e| other(format!("cannot create {}: {e}", file.display())))
}

fn snapshot(source: &Path, into: &Path) -> Result<(), StoreError> {
    let Some(into) = into.to_str() else {
        return Err(other(format!(
            "{} is not a UTF-8 path, which SQLite needs",
            into.display()
        )));
    };
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(source, flags).map_err(|e| sqlite(source, e))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(|e| sqlite(source, e))?;
    conn.execute("VACUUM INTO ?1", [into])
        .map_err(|e| sqlite(source, e))?;
    Ok(())
}

/// Opens the copy on its own and checks it whole before it counts as a backup.
fn verify(file: &Path) -> Result<Backup, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(file, flags).map_err(|e| sqlite(file, e))?;
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .map_err(|e| sqlite(file, e))?;
    if check != "ok" {
        return Err(other(format!(
            "the copy in {} failed its integrity check: {check}",
            file.display()
        )));
    }
    let count = |table: &str| -> Result<u64, StoreError> {
        conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| {
            r.get::<_, i64>(0)
        })
        .map(|n| u64::try_from(n).unwrap_or(0))
        .map_err(|e| sqlite(file, e))
    };
    let schema: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(|e| sqlite(file, e))?;
    Ok(Backup {
        events: count("events")?,
        deliveries: count("deliveries")?,
        bytes: std::fs::metadata(file).map(|m| m.len()).unwrap_or(0),
        schema,
    })
}

/// Flushes `from` to disk, gives it the name `to` as well (a hard link, which fails rather
/// than replace a file that appeared there meanwhile), and flushes the directory's entry.
fn publish(from: &Path, to: &Path) -> Result<(), StoreError> {
    let io = |e: std::io::Error| other(format!("cannot complete {}: {e}", to.display()));
    std::fs::File::open(from)
        .and_then(|f| f.sync_all())
        .map_err(io)?;
    std::fs::hard_link(from, to).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => other(format!(
            "{} appeared while the backup was written: a backup never overwrites a file",
            to.display()
        )),
        _ => io(e),
    })?;
    let dir = match to.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io)
}

fn sqlite(file: &Path, e: rusqlite::Error) -> StoreError {
    other(format!("{}: {e}", file.display()))
}

fn other(message: String) -> StoreError {
    StoreError::Other(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_backup_refuses_to_overwrite_and_names_a_missing_store() {
        let dir = tempfile::tempdir().unwrap();
        let to = dir.path().join("existing.db");
        std::fs::write(&to, b"precious").unwrap();
        std::fs::write(database_file(dir.path()), b"").unwrap();
        let err = backup(dir.path(), &to).unwrap_err().to_string();
        assert!(err.contains("never overwrites"), "{err}");
        assert_eq!(std::fs::read(&to).unwrap(), b"precious");

        // A file that appears between the check and the end is not replaced either.
        let late = dir.path().join("late.db");
        create_private(&partial_name(&late)).unwrap();
        std::fs::write(&late, b"precious too").unwrap();
        let err = publish(&partial_name(&late), &late)
            .unwrap_err()
            .to_string();
        assert!(err.contains("never overwrites"), "{err}");
        assert_eq!(std::fs::read(&late).unwrap(), b"precious too");

        let empty = tempfile::tempdir().unwrap();
        let err = backup(empty.path(), &empty.path().join("b.db"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("no store in"), "{err}");
    }
}
