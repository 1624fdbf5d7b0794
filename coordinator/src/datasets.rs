//! Corpora by sha256 under `<state>/datasets/`, so that workers on any machine can fetch
//! the exact text a sweep was planned on. Built-in corpora are served from the binary.
//! An upload is written as it arrives ([`DatasetStore::stage`]), and checked on the way
//! as `Corpus::from_bytes` would check it whole ([`gptsweep_core::text_check`]).

use std::path::Path;

use gptsweep_core::corpus::{BUILTIN_TINYSHAKESPEARE, TINYSHAKESPEARE};

pub use crate::blobs::sha256_hex;
use crate::blobs::{BlobDir, Chunks, StagedBlob, static_chunks};
use crate::error::Result;

/// Largest dataset accepted, bytes: the limit clients read datasets under (one number).
pub const MAX_DATASET_BYTES: usize = gptsweep_core::input_file::MAX_DATASET_BYTES as usize;

/// The folder of stored corpora.
#[derive(Debug, Clone)]
pub struct DatasetStore {
    blobs: BlobDir,
}

impl DatasetStore {
    /// The store in `dir`, created if missing.
    pub fn open(dir: &Path) -> Result<Self> {
        Ok(Self {
            blobs: BlobDir::open(dir, "txt", "dataset")?,
        })
    }

    /// Starts storing an uploaded corpus: a staged file, named by its sha256 on commit.
    pub fn stage(&self) -> Result<StagedBlob> {
        self.blobs.stage()
    }

    /// Deletes a stored corpus nothing refers to any more.
    pub fn remove(&self, sha256: &str) {
        self.blobs.remove(sha256);
    }

    /// Removes stored corpora not in `keep` and leftover staged files; see
    /// [`BlobDir::collect`].
    pub fn collect(&self, keep: &std::collections::HashSet<String>) -> Result<usize> {
        self.blobs.collect(keep)
    }

    /// Removes stored corpora not in `keep`, leaving uploads under way alone; see
    /// [`BlobDir::collect_blobs`].
    pub fn collect_blobs(&self, keep: &std::collections::HashSet<String>) -> Result<usize> {
        self.blobs.collect_blobs(keep)
    }

    /// The bytes of a stored or built-in corpus.
    pub fn get(&self, sha256: &str) -> Result<Vec<u8>> {
        match builtin_by_sha(sha256) {
            Some(text) => Ok(text.as_bytes().to_vec()),
            None => self.blobs.get(sha256),
        }
    }

    /// The bytes of a stored or built-in corpus in chunks of `chunk` bytes (a fetch).
    pub fn chunks(&self, sha256: &str, chunk: usize) -> Result<Chunks> {
        match builtin_by_sha(sha256) {
            Some(text) => Ok(static_chunks(text.as_bytes(), chunk)),
            None => self.blobs.chunks(sha256, chunk),
        }
    }
}

/// The built-in corpus with this sha256.
pub fn builtin_by_sha(sha256: &str) -> Option<&'static str> {
    (sha256 == builtin_sha(BUILTIN_TINYSHAKESPEARE)).then_some(TINYSHAKESPEARE)
}

/// sha256 of a built-in corpus by name.
pub fn builtin_sha(name: &str) -> &'static str {
    static SHA: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    debug_assert_eq!(name, BUILTIN_TINYSHAKESPEARE);
    SHA.get_or_init(|| sha256_hex(TINYSHAKESPEARE.as_bytes()))
}
