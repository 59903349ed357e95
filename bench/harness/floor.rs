//! The sequential commit floor: how many "append 512 bytes, then sync" a single writer gets per
//! second when each must be durable before the next starts (as each delivery's outcome must be
//! before the relay's next send to the same target), measured and reported.

use std::fmt::Write as _;
use std::fs::OpenOptions;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Result;

/// The bytes appended per commit.
const RECORD: [u8; 512] = [b'x'; 512];

/// Sequential commits of one kind: how many, in how long.
#[derive(Debug, Clone, Copy)]
pub struct Commits {
    pub count: u64,
    pub seconds: f64,
}

impl Commits {
    pub fn per_second(&self) -> f64 {
        self.count as f64 / self.seconds
    }
}

/// Both floors, and the filesystem they were measured on.
#[derive(Debug, Clone)]
pub struct Floor {
    /// `type device on mount point`, from /proc/mounts.
    pub filesystem: String,
    pub fdatasync: Commits,
    pub fsync: Commits,
}

#[derive(Debug, Clone, Copy)]
enum SyncKind {
    /// `fdatasync`: the data and the size, not the other metadata.
    Data,
    /// `fsync`: data and all metadata.
    All,
}

/// Up to `count` sequential commits of each kind in files in `dir`, each kind stopped after
/// `limit`. Blocking.
pub fn measure(dir: &Path, count: u64, limit: Duration) -> Result<Floor> {
    let fdatasync = sequential(&dir.join("fdatasync.log"), SyncKind::Data, count, limit)?;
    let fsync = sequential(&dir.join("fsync.log"), SyncKind::All, count, limit)?;
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_owned());
    Ok(Floor {
        filesystem: filesystem(&mounts, &dir).unwrap_or_else(|| "unknown filesystem".into()),
        fdatasync,
        fsync,
    })
}

/// Appends 512 bytes and syncs, strictly one after another, `count` times or until `limit`.
fn sequential(path: &Path, kind: SyncKind, count: u64, limit: Duration) -> Result<Commits> {
    let mut file = OpenOptions::new().create(true).append(true).open(path)?;
    let start = Instant::now();
    let mut done = 0;
    while done < count && start.elapsed() < limit {
        file.write_all(&RECORD)?;
        match kind {
            SyncKind::Data => file.sync_data()?,
            SyncKind::All => file.sync_all()?,
        }
        done += 1;
    }
    Ok(Commits {
        count: done,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// The mount holding `path` (the longest mount point it is under), as `type device on point`.
fn filesystem(mounts: &str, path: &Path) -> Option<String> {
    mounts
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let (device, point, kind) = (fields.next()?, fields.next()?, fields.next()?);
            Some((device, PathBuf::from(point), kind))
        })
        .filter(|(_, point, _)| path.starts_with(point))
        .max_by_key(|(_, point, _)| point.components().count())
        .map(|(device, point, kind)| format!("{kind} {device} on {}", point.display()))
}

/// Whether `ten_x_rate` deliveries per second to one target exceed what sequential commits
/// allow: each delivery's outcome needs at least one sync before the next send.
pub fn above_floor(ten_x_rate: f64, floor: &Floor) -> bool {
    ten_x_rate > floor.fsync.per_second()
}

/// The "Physical floors" table; `alertmanager_delivered` is Alertmanager's delivered/s at the
/// maximum rate, when it ran.
pub fn section(floor: &Floor, alertmanager_delivered: Option<f64>) -> String {
    let mut out = format!(
        "\n### Physical floors\n\n\
         Sequential commits (append 512 bytes, then sync, strictly one after another) on {}, the \
         filesystem of the relay's data directories.\n\n\
         | floor | measured |\n|---|---|\n",
        floor.filesystem
    );
    for (name, commits) in [("fdatasync", floor.fdatasync), ("fsync", floor.fsync)] {
        let _ = writeln!(
            out,
            "| sequential {name}/s | {:.0} ({} in {:.1} s) |",
            commits.per_second(),
            commits.count,
            commits.seconds
        );
    }
    let _ = writeln!(
        out,
        "| max deliveries/s for one target if each needed only one fsync and no CPU | {:.0} |",
        floor.fsync.per_second()
    );
    if let Some(rate) = alertmanager_delivered {
        let _ = writeln!(
            out,
            "| 10x Alertmanager's delivered/s | {:.0}: {} |",
            10.0 * rate,
            verdict(above_floor(10.0 * rate, floor))
        );
    }
    out
}

fn verdict(above: bool) -> &'static str {
    if above {
        "above the floor: physically impossible for one target under the per-target durability rule"
    } else {
        "at or below the floor: not excluded by the disk"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn floor(fsync_per_second: u64) -> Floor {
        let commits = Commits {
            count: fsync_per_second,
            seconds: 1.0,
        };
        Floor {
            filesystem: "ext4 /dev/vda on /".into(),
            fdatasync: commits,
            fsync: commits,
        }
    }

    #[test]
    fn ten_times_a_rate_above_the_fsync_rate_is_physically_impossible() {
        assert!(above_floor(1_500.0, &floor(1_000)));
        assert!(!above_floor(1_000.0, &floor(1_000)));
        let text = section(&floor(1_000), Some(150.0));
        assert!(
            text.contains("| 10x Alertmanager's delivered/s | 1500: above the floor"),
            "{text}"
        );
    }

    #[test]
    fn without_alertmanager_there_is_no_ten_x_row() {
        let text = section(&floor(1_000), None);
        assert!(!text.contains("Alertmanager"), "{text}");
        assert!(text.contains("| sequential fsync/s | 1000 (1000 in 1.0 s) |"));
    }

    #[test]
    fn the_filesystem_is_the_longest_mount_point_holding_the_path() {
        let mounts = "/dev/vda / ext4 rw 0 0\ntmpfs /tmp tmpfs rw 0 0\ntmpfs /tmpx tmpfs rw 0 0\n";
        let of = |p: &str| filesystem(mounts, Path::new(p));
        assert_eq!(of("/tmp/a/b").as_deref(), Some("tmpfs tmpfs on /tmp"));
        assert_eq!(of("/work/x").as_deref(), Some("ext4 /dev/vda on /"));
    }

    #[test]
    fn sequential_commits_stop_at_the_count() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.log");
        let commits = sequential(&path, SyncKind::Data, 3, Duration::from_secs(10)).unwrap();
        assert_eq!(commits.count, 3);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 3 * 512);
    }
}
