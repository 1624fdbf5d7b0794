//! A run's checkpoint: stored from its lease holder's upload (within the limits of
//! [`super::receive`]), handed back to the attempt that resumes from it, and fetched by a
//! client. Blobs are read in chunks of [`CHUNK`] bytes.

use tokio_stream::Stream;

use gptsweep_api::transfer::CHUNK;
use gptsweep_api::{LeaseId, RunId, WorkerId};

use crate::blobs::Chunks;
use crate::error::{CoordinatorError, Result};
use crate::store::{ResumedFrom, SetCheckpoint, reads};

use super::Coordinator;

/// A run's checkpoint as a client fetches it.
pub struct RunCheckpoint {
    /// Its sha256 (empty when the run has none).
    pub sha256: String,
    /// The step it was taken at.
    pub step: u64,
    /// Whether the client holds it already (nothing is sent then).
    pub cached: bool,
    /// Its bytes, unless cached or absent.
    pub chunks: Option<Chunks>,
}

impl Coordinator {
    /// Stores the checkpoint of `run` at `step` that `worker`, the holder of `lease`,
    /// uploads (`first` chunk, then `rest`); answers its sha256. Refused before its bytes
    /// are read unless the lease is the caller's. When the coordinator has no room or its
    /// storage fails, the lease is kept ([`Coordinator::keep_lease`]).
    pub async fn put_checkpoint(
        &self,
        worker: WorkerId,
        (run, lease, step): (RunId, LeaseId, u64),
        first: Vec<u8>,
        rest: impl Stream<Item = Result<Vec<u8>>> + Send,
    ) -> Result<String> {
        // SetCheckpoint checks again, with the step, as it stores the checkpoint.
        reads::checkpoint_for_lease(&self.store.pool, run, lease, worker).await?;
        let sha = match self.receive_checkpoint(run, first, rest).await {
            Ok(sha) => sha,
            // A full disk or busy slots are the coordinator's: the worker keeps its run.
            Err(e) if e.is_coordinators() => {
                return Err(self
                    .keep_lease("checkpoint not stored", run, lease, worker, e)
                    .await);
            }
            Err(e) => return Err(e),
        };
        let written = self
            .store
            .write(SetCheckpoint {
                run,
                lease,
                worker,
                sha256: sha.clone(),
                step,
                lease_ms: self.lease_ms(),
            })
            .await;
        match written {
            Ok(Some(stale)) => self.checkpoints.remove(&stale),
            Ok(None) => {}
            Err(e) => {
                // A refused upload leaves no blob, unless a run already uses the same one.
                if !reads::checkpoint_in_use(&self.store.pool, &sha)
                    .await
                    .unwrap_or(true)
                {
                    self.checkpoints.remove(&sha);
                }
                return Err(e);
            }
        }
        Ok(sha)
    }

    /// The checkpoint `worker`'s `lease` on `run` resumes from, noted as the step the
    /// attempt resumes from.
    pub async fn resume_checkpoint(
        &self,
        worker: WorkerId,
        run: RunId,
        lease: LeaseId,
    ) -> Result<Chunks> {
        let (sha, step) = reads::checkpoint_for_lease(&self.store.pool, run, lease, worker)
            .await?
            .ok_or_else(|| CoordinatorError::NotFound(format!("run {run} has no checkpoint")))?;
        let chunks = match self.checkpoints.chunks(&sha, CHUNK) {
            Ok(chunks) => chunks,
            Err(e) if e.is_storage_fault() => {
                return Err(self
                    .keep_lease("checkpoint not read", run, lease, worker, e)
                    .await);
            }
            Err(e) => return Err(e),
        };
        // The attempt resumes from what it is handed, not from what its lease offered.
        self.store.write(ResumedFrom { run, lease, step }).await?;
        Ok(chunks)
    }

    /// The latest checkpoint of `run`, for a client that holds `cached_sha256` (empty if
    /// none). A running run replaces its checkpoint (and the old blob goes) as it trains:
    /// one read that finds its blob gone just now is made again. Once open, it is sent
    /// whole.
    pub async fn run_checkpoint(&self, run: RunId, cached_sha256: &str) -> Result<RunCheckpoint> {
        let (mut sha256, mut step) = reads::run_checkpoint(&self.store.pool, run).await?;
        let mut chunks = None;
        for last in [false, true] {
            if cached_sha256 == sha256 {
                break;
            }
            match self.checkpoints.chunks(&sha256, CHUNK) {
                Ok(c) => {
                    chunks = Some(c);
                    break;
                }
                Err(CoordinatorError::NotFound(_)) if !last => {
                    (sha256, step) = reads::run_checkpoint(&self.store.pool, run).await?;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(RunCheckpoint {
            cached: cached_sha256 == sha256,
            sha256,
            step,
            chunks,
        })
    }
}
