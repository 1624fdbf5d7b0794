//! A folder of immutable blobs named by their sha256, written atomically (staged, then
//! renamed): what datasets and checkpoints are stored as.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{CoordinatorError, Result};

/// sha256 of bytes, hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

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

    /// Stores `bytes` (a no-op if already there); answers their sha256.
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
        if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(CoordinatorError::Invalid(format!(
                "{sha256:?} is not a sha256"
            )));
        }
        std::fs::read(self.path(sha256)).map_err(|_| {
            CoordinatorError::NotFound(format!(
                "{} {sha256} is not stored on this coordinator",
                self.kind
            ))
        })
    }

    /// Deletes a blob nothing refers to any more.
    pub fn remove(&self, sha256: &str) {
        let _ = std::fs::remove_file(self.path(sha256));
    }
}
