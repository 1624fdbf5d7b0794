//! A folder of immutable blobs named by their sha256, written atomically (staged while
//! they stream in, then renamed: [`staged`]) and read back in chunks ([`read`]): what
//! datasets and checkpoints are stored as. The folder is the coordinator's: one deleted
//! under it is made again by the next write, a failed write leaves no staged file, and
//! [`BlobDir::collect`] removes what no row refers to.

mod read;
mod staged;

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{CoordinatorError, Result};

pub use read::{Chunks, READ_AHEAD, static_chunks};
pub use staged::StagedBlob;

/// sha256 of bytes, hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

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

    /// Starts writing a blob: a staged file that becomes the blob on
    /// [`StagedBlob::commit`], and is removed if dropped before.
    pub fn stage(&self) -> Result<StagedBlob> {
        StagedBlob::create(self)
    }

    /// Stores `bytes` (a no-op if already there); answers their sha256. The folder is
    /// made again if someone removed it; on failure nothing is left behind.
    pub fn put(&self, bytes: &[u8]) -> Result<String> {
        let mut staged = self.stage()?;
        staged.write(bytes)?;
        staged.commit()
    }

    /// The blob with this sha256, whole (for what needs all of it at once: measuring a
    /// corpus at submit).
    pub fn get(&self, sha256: &str) -> Result<Vec<u8>> {
        let (mut file, path) = self.open_blob(sha256)?;
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut file, &mut bytes)
            .map_err(|source| CoordinatorError::Io { path, source })?;
        Ok(bytes)
    }

    /// The blob with this sha256 in chunks of `chunk` bytes. It is opened now: a missing
    /// one is refused here, and one removed while it is sent is still sent whole.
    pub fn chunks(&self, sha256: &str, chunk: usize) -> Result<Chunks> {
        let (file, path) = self.open_blob(sha256)?;
        Ok(read::file_chunks(file, &path, chunk))
    }

    /// The blob's file, open for reading, and its path: `NotFound` if it is not stored, a
    /// storage fault if it cannot be read.
    fn open_blob(&self, sha256: &str) -> Result<(std::fs::File, PathBuf)> {
        if !is_sha256(sha256) {
            return Err(CoordinatorError::Invalid(format!(
                "{sha256:?} is not a sha256"
            )));
        }
        let path = self.path(sha256);
        let opened = std::fs::File::open(&path).and_then(|file| {
            if file.metadata()?.is_file() {
                Ok(file)
            } else {
                Err(std::io::Error::other("not a regular file"))
            }
        });
        match opened {
            Ok(file) => Ok((file, path)),
            Err(source) if source.kind() == std::io::ErrorKind::NotFound => {
                Err(CoordinatorError::NotFound(format!(
                    "{} {sha256} is not stored on this coordinator (no {})",
                    self.kind,
                    path.display()
                )))
            }
            Err(source) => Err(CoordinatorError::Io { path, source }),
        }
    }

    /// Deletes a blob nothing refers to any more.
    pub fn remove(&self, sha256: &str) {
        let _ = std::fs::remove_file(self.path(sha256));
    }

    /// Removes every blob not in `keep` and every staged file a write left behind (a
    /// coordinator killed mid-write); files that are neither are left alone. Call it only
    /// while no write runs (at start). Answers how many files were removed.
    pub fn collect(&self, keep: &HashSet<String>) -> Result<usize> {
        self.remove_unkept(keep, true)
    }

    /// Removes every blob not in `keep`, leaving staged files alone (they are the writes
    /// under way): the collection while serving. Call it while no blob is between its
    /// rename and its row (see `crate::uploads::Uploads::commit_lock`). Answers how many
    /// files were removed.
    pub fn collect_blobs(&self, keep: &HashSet<String>) -> Result<usize> {
        self.remove_unkept(keep, false)
    }

    fn remove_unkept(&self, keep: &HashSet<String>, staged_too: bool) -> Result<usize> {
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
                _ if name.starts_with('.') && name.ends_with(PARTIAL) => staged_too,
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
pub(crate) mod tests {
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

    #[test]
    fn collect_blobs_while_serving_leaves_staged_files_to_their_writes() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = BlobDir::open(dir.path(), "txt", "dataset").unwrap();
        let orphan = blobs.put(b"orphan").unwrap();
        let mut writing = blobs.stage().unwrap();
        writing.write(b"under way").unwrap();
        assert_eq!(blobs.collect_blobs(&HashSet::new()).unwrap(), 1);
        assert!(blobs.get(&orphan).is_err());
        let sha = writing.commit().unwrap();
        assert_eq!(blobs.get(&sha).unwrap(), b"under way");
        assert_eq!(files_in(dir.path()), vec![format!("{sha}.txt")]);
    }

    #[test]
    fn a_staged_blob_is_named_by_its_sha256_on_commit_and_gone_if_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = BlobDir::open(dir.path(), "txt", "dataset").unwrap();
        let mut staged = blobs.stage().unwrap();
        for chunk in [&b"hello "[..], b"world"] {
            staged.write(chunk).unwrap();
        }
        assert_eq!(staged.len(), 11);
        assert_eq!(files_in(dir.path()).len(), 1, "the staged file");
        let sha = staged.commit().unwrap();
        assert_eq!(sha, sha256_hex(b"hello world"));
        // The same bytes again: the blob is there already, the second staged file goes.
        assert_eq!(blobs.put(b"hello world").unwrap(), sha);
        let mut dropped = blobs.stage().unwrap();
        dropped.write(b"half of some").unwrap();
        drop(dropped);
        assert_eq!(files_in(dir.path()), vec![format!("{sha}.txt")]);
    }

    #[tokio::test]
    async fn a_blob_is_read_in_chunks_of_the_size_asked() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = BlobDir::open(dir.path(), "ckpt", "checkpoint").unwrap();
        let bytes: Vec<u8> = (0..2500u32).map(|i| i as u8).collect();
        let sha = blobs.put(&bytes).unwrap();
        let chunks = read::collect(blobs.chunks(&sha, 1000).unwrap())
            .await
            .unwrap();
        assert_eq!(
            chunks.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![1000, 1000, 500]
        );
        assert_eq!(chunks.concat(), bytes);
        // Opened before it is sent: a blob removed meanwhile is still sent whole.
        let stream = blobs.chunks(&sha, 1000).unwrap();
        blobs.remove(&sha);
        assert_eq!(read::collect(stream).await.unwrap().concat(), bytes);
        let missing = blobs.chunks(&sha, 1000).err().unwrap();
        assert!(
            matches!(missing, CoordinatorError::NotFound(_)),
            "{missing}"
        );
    }

    /// The names of the files in `dir`, sorted (the receive tests use it too).
    pub(crate) fn files_in(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}
