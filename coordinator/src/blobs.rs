//! A folder of immutable blobs named by their sha256, written atomically (staged, then
//! renamed): what datasets and checkpoints are stored as. The folder is the coordinator's:
//! one deleted under it is made again by the next `put`, a failed `put` leaves no staged
//! file, and [`BlobDir::collect`] removes what no row refers to.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};

use crate::error::{CoordinatorError, Result};

/// sha256 of bytes, hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Tells apart staged files of puts running at once.
static STAGED: AtomicU64 = AtomicU64::new(0);

/// The suffix of a blob being written, before its rename.
const PARTIAL: &str = ".partial";

/// Content-addressed blobs `<dir>/<sha256>.<ext>`.
#[derive(Debug, Clone)]
pub struct BlobDir {
    dir: PathBuf,
    ext: &'static str,
    kind: &'static str,
}

impl BlobDir {
    /// The folder `dir` (created if missing) of blobs with extension `ext`; `kind` names
    /// them in errors ("dataset", "checkpoint").
    pub fn open(dir: &Path, ext: &'static str, kind: &'static str) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|source| CoordinatorError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        Ok(Self {
            dir: dir.to_path_buf(),
            ext,
            kind,
        })
    }

    fn path(&self, sha256: &str) -> PathBuf {
        self.dir.join(format!("{sha256}.{}", self.ext))
    }

    /// Stores `bytes` (a no-op if already there); answers their sha256. The folder is
    /// made again if someone removed it; on failure nothing is left behind.
    pub fn put(&self, bytes: &[u8]) -> Result<String> {
        let sha = sha256_hex(bytes);
        let path = self.path(&sha);
        if path.exists() {
            return Ok(sha);
        }
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| CoordinatorError::Io { path, source }
        };
        std::fs::create_dir_all(&self.dir).map_err(io(&self.dir))?;
        let n = STAGED.fetch_add(1, Ordering::Relaxed);
        let tmp = self
            .dir
            .join(format!(".{sha}.{}.{n}{PARTIAL}", std::process::id()));
        let stored = std::fs::write(&tmp, bytes)
            .map_err(io(&tmp))
            .and_then(|()| std::fs::rename(&tmp, &path).map_err(io(&path)));
        if stored.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        stored.map(|()| sha)
    }

    /// The blob with this sha256.
    pub fn get(&self, sha256: &str) -> Result<Vec<u8>> {
        if !is_sha256(sha256) {
            return Err(CoordinatorError::Invalid(format!(
                "{sha256:?} is not a sha256"
            )));
        }
        let path = self.path(sha256);
        std::fs::read(&path).map_err(|source| match source.kind() {
            std::io::ErrorKind::NotFound => CoordinatorError::NotFound(format!(
                "{} {sha256} is not stored on this coordinator (no {})",
                self.kind,
                path.display()
            )),
            _ => CoordinatorError::Io { path, source },
        })
    }

    /// Deletes a blob nothing refers to any more.
    pub fn remove(&self, sha256: &str) {
        let _ = std::fs::remove_file(self.path(sha256));
    }

    /// Removes every blob not in `keep` and every staged file a put left behind (a
    /// coordinator killed mid-write); files that are neither are left alone. Call it only
    /// while no put runs (at start). Answers how many files were removed.
    pub fn collect(&self, keep: &HashSet<String>) -> Result<usize> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(source) => {
                return Err(CoordinatorError::Io {
                    path: self.dir.clone(),
                    source,
                });
            }
        };
        let mut removed = 0;
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            let orphan = match name.strip_suffix(&format!(".{}", self.ext)) {
                _ if name.starts_with('.') && name.ends_with(PARTIAL) => true,
                Some(sha) => is_sha256(sha) && !keep.contains(sha),
                None => false,
            };
            if orphan && std::fs::remove_file(entry.path()).is_ok() {
                removed += 1;
            }
        }
        Ok(removed)
    }
}

/// Whether `s` is a sha256 in hex.
fn is_sha256(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_put_after_the_folder_was_deleted_makes_it_again() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = BlobDir::open(&dir.path().join("b"), "ckpt", "checkpoint").unwrap();
        std::fs::remove_dir_all(dir.path().join("b")).unwrap();
        let sha = blobs.put(b"weights").unwrap();
        assert_eq!(blobs.get(&sha).unwrap(), b"weights");
    }

    #[test]
    fn a_missing_blob_is_not_found_and_an_unreadable_one_is_a_storage_fault() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = BlobDir::open(dir.path(), "ckpt", "checkpoint").unwrap();
        let missing = blobs.get(&"ab".repeat(32)).unwrap_err();
        assert!(
            matches!(missing, CoordinatorError::NotFound(_)),
            "{missing}"
        );
        std::fs::create_dir(dir.path().join(format!("{}.ckpt", "cd".repeat(32)))).unwrap();
        let unreadable = blobs.get(&"cd".repeat(32)).unwrap_err();
        assert!(unreadable.is_storage_fault(), "{unreadable}");
    }

    #[test]
    fn collect_removes_unreferenced_blobs_and_staged_files_only() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = BlobDir::open(dir.path(), "ckpt", "checkpoint").unwrap();
        let kept = blobs.put(b"kept").unwrap();
        let orphan = blobs.put(b"orphan").unwrap();
        std::fs::write(dir.path().join(".x.1.2.partial"), b"half").unwrap();
        std::fs::write(dir.path().join("README"), b"not ours").unwrap();
        let removed = blobs.collect(&HashSet::from([kept.clone()])).unwrap();
        assert_eq!(removed, 2);
        assert!(blobs.get(&kept).is_ok());
        assert!(blobs.get(&orphan).is_err());
        assert!(dir.path().join("README").exists());
    }
}
