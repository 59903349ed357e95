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
    let _ = std::fs::remove_file(&partial);
    let result = snapshot(&source, &partial).and_then(|()| verify(&partial));
    let backup = match result {
        Ok(backup) => backup,
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            return Err(e);
        }
    };
    durable_rename(&partial, to)?;
    Ok(backup)
}

/// `to` with `.partial` added: where the copy is written until it is complete.
fn partial_name(to: &Path) -> PathBuf {
    let mut name = to.as_os_str().to_owned();
    name.push(".partial");
    PathBuf::from(name)
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

/// Flushes `from` to disk and gives it the name `to`, and flushes the directory's entry.
fn durable_rename(from: &Path, to: &Path) -> Result<(), StoreError> {
    let io = |e: std::io::Error| other(format!("cannot complete {}: {e}", to.display()));
    std::fs::File::open(from)
        .and_then(|f| f.sync_all())
        .map_err(io)?;
    std::fs::rename(from, to).map_err(io)?;
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

        let empty = tempfile::tempdir().unwrap();
        let err = backup(empty.path(), &empty.path().join("b.db"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("no store in"), "{err}");
    }
}
