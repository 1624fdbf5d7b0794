//! Checkpoint blobs of runs under `<state>/checkpoints/`, named by sha256 and written
//! atomically; the database says which one is each run's latest.

use std::path::{Path, PathBuf};

use crate::datasets::sha256_hex;
use crate::error::{CoordinatorError, Result};

/// Largest checkpoint accepted, bytes (a 100M-parameter model with AdamW is ~1.2 GB).
pub const MAX_CHECKPOINT_BYTES: usize = 4 << 30;

/// The folder of checkpoint blobs.
#[derive(Debug, Clone)]
pub struct CheckpointStore {
    dir: PathBuf,
}

impl CheckpointStore {
    /// The store in `dir`, created if missing.
    pub fn open(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|source| CoordinatorError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        Ok(Self {
            dir: dir.to_path_buf(),
        })
    }

    fn path(&self, sha256: &str) -> PathBuf {
        self.dir.join(format!("{sha256}.ckpt"))
    }

    /// Stores `bytes`; answers their sha256.
    pub fn put(&self, bytes: &[u8]) -> Result<String> {
        let sha = sha256_hex(bytes);
        let path = self.path(&sha);
        if !path.exists() {
            let tmp = self.dir.join(format!(".{sha}.partial"));
            std::fs::write(&tmp, bytes).map_err(|source| CoordinatorError::Io {
                path: tmp.clone(),
                source,
            })?;
            std::fs::rename(&tmp, &path).map_err(|source| CoordinatorError::Io {
                path: path.clone(),
                source,
            })?;
        }
        Ok(sha)
    }

    /// The blob with this sha256.
    pub fn get(&self, sha256: &str) -> Result<Vec<u8>> {
        std::fs::read(self.path(sha256))
            .map_err(|_| CoordinatorError::NotFound(format!("checkpoint {sha256} is not stored")))
    }

    /// Deletes a blob no run refers to any more.
    pub fn remove(&self, sha256: &str) {
        let _ = std::fs::remove_file(self.path(sha256));
    }
}
