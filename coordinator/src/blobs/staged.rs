//! A blob being written as it arrives: each chunk goes to a staged file in the blob folder
//! (`.upload.<pid>.<n>.partial`) and into its sha256, and the file is renamed to the
//! blob's name (`<sha256>.<ext>`) only once it is complete and accepted. A staged blob
//! dropped before that (a refusal, a failure, a client gone mid-stream) removes its file,
//! so an upload of any size holds one chunk in memory, and nothing half-written is ever
//! named as a blob. A coordinator killed mid-write leaves a staged file, which the next
//! start's collection removes ([`super::BlobDir::collect`]).

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};

use super::{BlobDir, PARTIAL};
use crate::error::{CoordinatorError, Result};

/// Tells apart staged files of writes running at once.
static STAGED: AtomicU64 = AtomicU64::new(0);

/// A blob being written, not yet named.
#[derive(Debug)]
pub struct StagedBlob {
    /// The folder it goes into.
    blobs: BlobDir,
    /// The staged file.
    path: PathBuf,
    /// The staged file, open for writing; `None` once closed.
    file: Option<std::fs::File>,
    /// The sha256 of what was written.
    hasher: Sha256,
    /// Bytes written.
    len: u64,
    /// Renamed into place (or found there): the staged file is no longer ours to remove.
    committed: bool,
}

impl StagedBlob {
    /// A new staged file in `blobs`' folder (made again if someone removed it).
    pub(super) fn create(blobs: &BlobDir) -> Result<Self> {
        std::fs::create_dir_all(&blobs.dir).map_err(|source| CoordinatorError::Io {
            path: blobs.dir.clone(),
            source,
        })?;
        let n = STAGED.fetch_add(1, Ordering::Relaxed);
        let path = blobs
            .dir
            .join(format!(".upload.{}.{n}{PARTIAL}", std::process::id()));
        let file = std::fs::File::create_new(&path).map_err(|source| CoordinatorError::Io {
            path: path.clone(),
            source,
        })?;
        Ok(Self {
            blobs: blobs.clone(),
            path,
            file: Some(file),
            hasher: Sha256::new(),
            len: 0,
            committed: false,
        })
    }

    /// Appends `bytes`.
    pub fn write(&mut self, bytes: &[u8]) -> Result<()> {
        let Some(file) = self.file.as_mut() else {
            return Err(self.io(std::io::ErrorKind::BrokenPipe.into()));
        };
        if let Err(source) = file.write_all(bytes) {
            return Err(self.io(source));
        }
        self.hasher.update(bytes);
        self.len += bytes.len() as u64;
        Ok(())
    }

    /// Bytes written so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether nothing was written yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The sha256 of what was written so far, hex: the name it will be stored under.
    pub fn sha256(&self) -> String {
        hex::encode(self.hasher.clone().finalize())
    }

    /// Names the blob by its sha256 (a no-op if that blob is already stored) and answers
    /// the sha256. On failure the staged file is removed.
    pub fn commit(mut self) -> Result<String> {
        let sha = self.sha256();
        self.file = None;
        let dest = self.blobs.path(&sha);
        if dest.is_file() {
            return Ok(sha);
        }
        std::fs::rename(&self.path, &dest)
            .map_err(|source| CoordinatorError::Io { path: dest, source })?;
        self.committed = true;
        Ok(sha)
    }

    fn io(&self, source: std::io::Error) -> CoordinatorError {
        CoordinatorError::Io {
            path: self.path.clone(),
            source,
        }
    }
}

impl Drop for StagedBlob {
    fn drop(&mut self) {
        if !self.committed {
            self.file = None;
            let _ = std::fs::remove_file(&self.path);
        }
    }
}
