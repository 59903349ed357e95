//! Reading one configuration file (the rules file, a template) without trusting what the path
//! names: only a regular file (a symbolic link to one is followed), at most
//! [`MAX_FILE_BYTES`], and never an `open` that waits, as opening a FIFO waits for a writer.

use std::fs::{File, FileType, Metadata, OpenOptions};
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// The most a rules file or a template may hold: far more than any real one (the example
/// rules file is 10 KiB), far less than what would strain the relay's memory.
pub const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// Why a configuration file could not be read. The caller names the file.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("it is {0}, not a regular file (a symbolic link to a regular file is fine)")]
    NotRegular(&'static str),
    #[error(
        "it is larger than {} MiB, the most a rules file or template may hold",
        MAX_FILE_BYTES >> 20
    )]
    TooLarge,
    #[error("it is not UTF-8 text")]
    NotText,
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// The text of the regular file at `path`, following symbolic links.
pub fn read_text(path: &Path) -> Result<String, ReadError> {
    // Looked at before opening: opening a FIFO for reading waits until a writer comes.
    check(&std::fs::metadata(path)?)?;
    // The path may name something else by now: O_NONBLOCK keeps even a FIFO's open from
    // waiting, and what was opened is checked again.
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    check(&file.metadata()?)?;
    read_capped(file)
}

fn check(meta: &Metadata) -> Result<(), ReadError> {
    if !meta.is_file() {
        return Err(ReadError::NotRegular(describe(meta.file_type())));
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(ReadError::TooLarge);
    }
    Ok(())
}

/// Reads at most one byte past the cap, so a file that grows while it is read is caught too.
fn read_capped(file: File) -> Result<String, ReadError> {
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(ReadError::TooLarge);
    }
    String::from_utf8(bytes).map_err(|_| ReadError::NotText)
}

fn describe(kind: FileType) -> &'static str {
    if kind.is_dir() {
        "a directory"
    } else if kind.is_fifo() {
        "a FIFO (named pipe)"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "a special file"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_regular_file_and_a_link_to_one_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("rules.yaml");
        std::fs::write(&file, "rules: []\n").unwrap();
        let link = dir.path().join("link.yaml");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        assert_eq!(read_text(&file).unwrap(), "rules: []\n");
        assert_eq!(read_text(&link).unwrap(), "rules: []\n");
    }

    #[test]
    fn a_directory_and_a_device_are_refused_by_kind() {
        let dir = tempfile::tempdir().unwrap();
        let refused = |path: &Path| read_text(path).unwrap_err().to_string();
        assert!(refused(dir.path()).starts_with("it is a directory,"));
        assert!(refused(Path::new("/dev/null")).starts_with("it is a character device,"));
    }

    #[test]
    fn a_file_over_the_cap_is_refused_and_one_at_the_cap_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("big.yaml");
        std::fs::write(&file, vec![b'#'; MAX_FILE_BYTES as usize]).unwrap();
        assert_eq!(read_text(&file).unwrap().len() as u64, MAX_FILE_BYTES);
        std::fs::write(&file, vec![b'#'; MAX_FILE_BYTES as usize + 1]).unwrap();
        assert!(matches!(read_text(&file), Err(ReadError::TooLarge)));
    }

    #[test]
    fn bytes_that_are_not_utf8_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("latin1.yaml");
        std::fs::write(&file, b"name: caf\xe9\n").unwrap();
        assert!(matches!(read_text(&file), Err(ReadError::NotText)));
    }
}
