//! Corpora on the worker: built-ins from the binary, others fetched from the coordinator by
//! sha256 once, verified, and cached under the cache directory; their tokens under a
//! tokenizer that is slow to run (GPT-2's BPE) are cached beside them, in `tokens/`.

use std::path::PathBuf;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use gptsweep_gpt::{Corpus, TokenizerKind};
use gptsweep_proto::client::Workers;
use gptsweep_proto::pb;

use crate::backoff::retry;
use crate::error::{Result, WorkerError};

/// Numbers this process's cache writes, for their staging files' names.
static NEXT_WRITE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Where fetched corpora are kept.
#[derive(Debug, Clone)]
pub struct DatasetCache {
    dir: PathBuf,
}

impl DatasetCache {
    /// A cache in `dir`.
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    /// Where the text of the corpus with `sha256` is cached (once [`Self::corpus`] fetched
    /// it; built-in corpora are not).
    pub fn text_path(&self, sha256: &str) -> PathBuf {
        self.dir.join(format!("{sha256}.txt"))
    }

    /// Where tokens of slow tokenizers are cached.
    pub fn tokens_dir(&self) -> PathBuf {
        self.dir.join("tokens")
    }

    /// The corpus `name` with `sha256`, from the binary, the cache, or the coordinator,
    /// tokenised with `kind`.
    pub async fn corpus(
        &self,
        client: &Workers,
        name: &str,
        sha256: &str,
        builtin: bool,
        kind: TokenizerKind,
    ) -> Result<Arc<Corpus>> {
        let bad = |reason: String| WorkerError::Dataset {
            sha256: sha256.to_string(),
            reason,
        };
        let bytes = if builtin {
            None
        } else {
            let path = self.text_path(sha256);
            let bytes = match std::fs::read(&path) {
                Ok(b) if hex::encode(Sha256::digest(&b)) == sha256 => b,
                _ => {
                    let bytes = retry("FetchDataset", || {
                        let mut c = client.clone();
                        let sha = sha256.to_string();
                        async move {
                            gptsweep_proto::client::collect(
                                c.fetch_dataset(pb::FetchDatasetRequest { sha256: sha })
                                    .await?
                                    .into_inner(),
                            )
                            .await
                        }
                    })
                    .await?;
                    if hex::encode(Sha256::digest(&bytes)) != sha256 {
                        return Err(bad("the coordinator sent bytes with another sha256".into()));
                    }
                    std::fs::create_dir_all(&self.dir)
                        .map_err(|e| bad(format!("cannot create {}: {e}", self.dir.display())))?;
                    // A name of this write's own: workers that share a cache dir (Slurm
                    // array tasks on one node) and slots of one worker may fetch the same
                    // corpus at once, and one writer must not truncate another's file.
                    let tmp = self.dir.join(format!(
                        ".{sha256}.{}-{}.partial",
                        std::process::id(),
                        NEXT_WRITE.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                    ));
                    std::fs::write(&tmp, &bytes)
                        .and_then(|_| std::fs::rename(&tmp, &path))
                        .map_err(|e| bad(format!("cannot cache at {}: {e}", path.display())))?;
                    bytes
                }
            };
            Some(bytes)
        };
        // Tokenising is CPU work (up to seconds for BPE on a large corpus): off the
        // runtime's threads.
        let (tokens, name_owned) = (self.tokens_dir(), name.to_string());
        let corpus = tokio::task::spawn_blocking(move || match bytes {
            None => Corpus::load(&name_owned, kind, Some(&tokens)),
            Some(bytes) => Corpus::from_bytes(&name_owned, &bytes, kind, Some(&tokens)),
        })
        .await
        .map_err(|e| bad(format!("tokenising failed: {e}")))??;
        if corpus.sha256() != sha256 {
            return Err(bad(format!(
                "this worker's {name} has sha256 {}; the sweep was planned on another text",
                corpus.sha256()
            )));
        }
        Ok(Arc::new(corpus))
    }
}
