//! The data directory's guards, whatever engine keeps the store in it: an exclusive lock that
//! keeps a second relay out ([`DirLock`]), and the identity of the database file
//! ([`FileIdentity`]), so that a file removed or replaced under a running relay is noticed
//! instead of written into a file that no restart will read.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use super::StoreError;

/// The lock file in the data directory. Its content (the holder's process id) is only for the
/// message a second relay prints; the lock itself is the kernel's.
pub const LOCK_FILE: &str = "relay.lock";

/// An exclusive advisory lock (`flock`) on the data directory's [`LOCK_FILE`], held by `serve`
/// for as long as its store is open. Two relays on one store would claim the same lanes and
/// break per-target order. The kernel releases the lock when the process ends, however it
/// ends, so a crash never leaves a stale lock behind. `dlq` and other readers do not take it:
/// SQLite's own locking keeps their writes beside a running relay safe.
#[derive(Debug)]
pub struct DirLock {
    /// Held open: closing it releases the lock.
    _file: File,
}

impl DirLock {
    /// Takes the lock of `dir` (created if needed), or says who holds it.
    pub fn acquire(dir: &Path) -> Result<DirLock, StoreError> {
        std::fs::create_dir_all(dir).map_err(|e| {
            StoreError::Unavailable(format!("cannot create {}: {e}", dir.display()))
        })?;
        let path = dir.join(LOCK_FILE);
        let cannot = |e: std::io::Error| {
            StoreError::Unavailable(format!("cannot lock {}: {e}", path.display()))
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(cannot)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => return Err(held_by_another(dir, &path)),
            Err(TryLockError::Error(e)) => return Err(cannot(e)),
        }
        file.set_len(0)
            .and_then(|()| writeln!(file, "{}", std::process::id()))
            .map_err(cannot)?;
        Ok(DirLock { _file: file })
    }
}

fn held_by_another(dir: &Path, lock: &Path) -> StoreError {
    let holder = std::fs::read_to_string(lock)
        .ok()
        .and_then(|text| text.trim().parse::<u32>().ok())
        .map_or(String::new(), |pid| format!(" (process {pid})"));
    StoreError::InUse(format!(
        "another relay{holder} is using the data directory {} (it holds {}); stop it, or give \
         this relay a data directory of its own (--data-dir)",
        dir.display(),
        lock.display()
    ))
}

/// The database file as it was opened: its path, device and inode. While the path names that
/// same file, what the store commits is what a restart reads.
#[derive(Debug)]
pub struct FileIdentity {
    path: PathBuf,
    device: u64,
    inode: u64,
    /// Set once the file is found removed or replaced: the store stays refused until restart.
    lost: OnceLock<String>,
}

impl FileIdentity {
    /// The identity of the file at `path` now (call it right after opening the file).
    pub fn of(path: &Path) -> std::io::Result<FileIdentity> {
        let meta = std::fs::metadata(path)?;
        Ok(FileIdentity {
            path: path.to_path_buf(),
            device: meta.dev(),
            inode: meta.ino(),
            lost: OnceLock::new(),
        })
    }

    /// The path of the file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `Err` when an earlier [`FileIdentity::check`] found the file lost; no system call.
    pub fn known_lost(&self) -> Result<(), StoreError> {
        match self.lost.get() {
            Some(reason) => Err(StoreError::Lost(reason.clone())),
            None => Ok(()),
        }
    }

    /// `Err` (a [`StoreError::Lost`]) once the path no longer names the file that was opened.
    /// One `stat`; after a loss, no system call at all. The loss is logged once.
    pub fn check(&self) -> Result<(), StoreError> {
        self.known_lost()?;
        let what = match std::fs::metadata(&self.path) {
            Ok(meta) if (meta.dev(), meta.ino()) == (self.device, self.inode) => return Ok(()),
            Ok(_) => "was replaced by another file",
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => "was removed",
            // Not a verdict on the file (a permission or I/O error): the write itself will
            // tell whether the disk works.
            Err(_) => return Ok(()),
        };
        let reason = format!(
            "the database file {} {what} while the relay was running; what it would store now \
             could not be found after a restart, so it acknowledges nothing: restart the relay",
            self.path.display()
        );
        if self.lost.set(reason.clone()).is_ok() {
            tracing::error!("{reason}");
        }
        Err(StoreError::Lost(reason))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_one_directory_is_refused_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let first = DirLock::acquire(dir.path()).unwrap();
        let refused = DirLock::acquire(dir.path()).unwrap_err();
        let expected = format!("another relay (process {}) is using", std::process::id());
        assert!(refused.to_string().contains(&expected), "{refused}");
        drop(first);
        assert!(DirLock::acquire(dir.path()).is_ok());
    }

    #[test]
    fn a_file_removed_or_replaced_is_lost_for_good() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("relay.db");
        std::fs::write(&path, "one").unwrap();
        let identity = FileIdentity::of(&path).unwrap();
        assert!(identity.check().is_ok());
        std::fs::write(&path, "rewritten in place").unwrap();
        assert!(
            identity.check().is_ok(),
            "the same file, changed, is still the file"
        );

        std::fs::remove_file(&path).unwrap();
        let removed = identity.check().unwrap_err().to_string();
        assert!(removed.contains("was removed"), "{removed}");
        std::fs::write(&path, "a new file").unwrap();
        assert!(
            identity.check().is_err(),
            "a new file at the path is not the store"
        );

        let replaced = FileIdentity::of(&path).unwrap();
        let other = dir.path().join("other.db");
        std::fs::write(&other, "other").unwrap();
        std::fs::rename(&other, &path).unwrap();
        let message = replaced.check().unwrap_err().to_string();
        assert!(
            message.contains("was replaced by another file"),
            "{message}"
        );
    }
}
