//! Corpora by sha256 under `<state>/datasets/`, so that workers on any machine can fetch
//! the exact text a sweep was planned on. Built-in corpora are served from the binary.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use gptsweep_gpt::Corpus;
use gptsweep_gpt::corpus::{BUILTIN_TINYSHAKESPEARE, TINYSHAKESPEARE};

use crate::error::{CoordinatorError, Result};

/// Largest dataset accepted, bytes.
pub const MAX_DATASET_BYTES: usize = 512 << 20;

/// The folder of stored corpora.
#[derive(Debug, Clone)]
pub struct DatasetStore {
    dir: PathBuf,
}

/// sha256 of bytes, hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

impl DatasetStore {
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
        self.dir.join(format!("{sha256}.txt"))
    }

    /// Checks `bytes` are a usable corpus and stores them (atomically); answers the sha256.
    pub fn put(&self, name: &str, bytes: &[u8]) -> Result<String> {
        if bytes.len() > MAX_DATASET_BYTES {
            return Err(CoordinatorError::Invalid(format!(
                "dataset {name}: {} bytes is over the limit of {MAX_DATASET_BYTES}",
                bytes.len()
            )));
        }
        Corpus::from_bytes(name, bytes).map_err(|e| CoordinatorError::Invalid(e.to_string()))?;
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

    /// The bytes of a stored or built-in corpus.
    pub fn get(&self, sha256: &str) -> Result<Vec<u8>> {
        if let Some(text) = builtin_by_sha(sha256) {
            return Ok(text.as_bytes().to_vec());
        }
        if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(CoordinatorError::Invalid(format!(
                "{sha256:?} is not a sha256"
            )));
        }
        let path = self.path(sha256);
        std::fs::read(&path).map_err(|_| {
            CoordinatorError::NotFound(format!(
                "dataset {sha256} is not stored on this coordinator"
            ))
        })
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
