//! Reading a file a user named, bounded: the path must be a regular file (a FIFO, a
//! device such as `/dev/zero` or a directory is refused before it is opened, so nothing
//! hangs or fills memory) no larger than the caller's limit. The size is checked from the
//! metadata first and the read is capped at `limit + 1` bytes, so a file that grows while
//! it is read is still refused rather than read whole. Every user-named input (sweep files,
//! datasets, token files, checkpoints) goes through here.

use std::io::Read;
use std::path::Path;

use crate::error::{GptError, Result};

/// Largest sweep file read: a hand-written YAML file is a few kilobytes.
pub const MAX_SWEEP_FILE_BYTES: u64 = 1 << 20;
/// Largest token or access file read: a token is a few dozen bytes.
pub const MAX_TOKEN_FILE_BYTES: u64 = 64 << 10;
/// Largest PEM file read (`--tls-ca`, `--tls-cert`, `--tls-key`): a chain is a few KiB.
pub const MAX_PEM_FILE_BYTES: u64 = 1 << 20;
/// Largest dataset read (the coordinator refuses larger uploads with the same limit).
pub const MAX_DATASET_BYTES: u64 = 512 << 20;

/// The bytes of the regular file at `path`, at most `limit` of them. `what` names the input
/// in errors ("sweep file", "dataset", "--token-file", ...). A missing path, a path that is
/// not a regular file, or one over the limit is a [`GptError::Input`] (bad input); a
/// failure while reading an accepted file is [`GptError::Io`].
pub fn read_bounded(what: &str, path: &Path, limit: u64) -> Result<Vec<u8>> {
    let bad = |reason: String| GptError::Input {
        what: what.to_string(),
        path: path.to_path_buf(),
        reason,
    };
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => bad("no such file".into()),
        std::io::ErrorKind::PermissionDenied => bad("permission denied".into()),
        _ => bad(e.to_string()),
    })?;
    check_kind_and_size(&meta, limit).map_err(bad)?;
    let file = std::fs::File::open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::PermissionDenied => bad("permission denied".into()),
        _ => GptError::io(path, e),
    })?;
    // The path may have been swapped between the two looks: check what was opened.
    let meta = file.metadata().map_err(|e| GptError::io(path, e))?;
    check_kind_and_size(&meta, limit).map_err(bad)?;
    let mut bytes = Vec::with_capacity(meta.len().min(limit) as usize);
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| GptError::io(path, e))?;
    if bytes.len() as u64 > limit {
        return Err(bad(format!(
            "grew past the limit of {limit} bytes while being read"
        )));
    }
    Ok(bytes)
}

/// [`read_bounded`], then the bytes as UTF-8 text (else a [`GptError::Input`] naming the
/// offset of the first bad byte).
pub fn read_bounded_text(what: &str, path: &Path, limit: u64) -> Result<String> {
    let bytes = read_bounded(what, path, limit)?;
    String::from_utf8(bytes).map_err(|e| GptError::Input {
        what: what.to_string(),
        path: path.to_path_buf(),
        reason: format!(
            "not UTF-8 text: invalid byte at offset {}",
            e.utf8_error().valid_up_to()
        ),
    })
}

fn check_kind_and_size(meta: &std::fs::Metadata, limit: u64) -> std::result::Result<(), String> {
    let kind = meta.file_type();
    if kind.is_dir() {
        return Err("is a directory, not a file".into());
    }
    if !kind.is_file() {
        return Err(
            "is not a regular file (a pipe, socket or device is not read; give a file)".into(),
        );
    }
    if meta.len() > limit {
        return Err(format!(
            "{} bytes is over the limit of {limit} bytes",
            meta.len()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_regular_file_is_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.txt");
        std::fs::write(&p, "hello").unwrap();
        assert_eq!(read_bounded_text("sweep file", &p, 5).unwrap(), "hello");
    }

    #[test]
    fn a_file_over_the_limit_is_refused_before_it_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.txt");
        std::fs::write(&p, "hello!").unwrap();
        let e = read_bounded("dataset", &p, 5).unwrap_err().to_string();
        assert!(e.contains("6 bytes is over the limit of 5 bytes"), "{e}");
        assert!(e.starts_with("dataset "), "{e}");
    }

    #[test]
    fn dev_zero_and_a_fifo_are_refused_without_reading() {
        let e = read_bounded("dataset", Path::new("/dev/zero"), 10).unwrap_err();
        assert!(matches!(e, GptError::Input { .. }));
        assert!(e.to_string().contains("not a regular file"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if made.is_ok_and(|s| s.success()) {
            // Opening a FIFO for reading would block forever: it must not be opened.
            let e = read_bounded("sweep file", &fifo, 10).unwrap_err();
            assert!(e.to_string().contains("not a regular file"), "{e}");
        }
    }

    #[test]
    fn a_directory_a_missing_path_and_non_utf8_are_bad_input() {
        let dir = tempfile::tempdir().unwrap();
        let e = read_bounded("sweep file", dir.path(), 10).unwrap_err();
        assert!(e.to_string().contains("is a directory"), "{e}");
        let e = read_bounded("sweep file", &dir.path().join("nope"), 10).unwrap_err();
        assert!(e.to_string().contains("no such file"), "{e}");
        let p = dir.path().join("bin");
        std::fs::write(&p, [b'a', 0xff]).unwrap();
        let e = read_bounded_text("sweep file", &p, 10).unwrap_err();
        assert!(
            e.to_string()
                .contains("not UTF-8 text: invalid byte at offset 1"),
            "{e}"
        );
    }
}
