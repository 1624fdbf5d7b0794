//! Collecting what nothing refers to, when the coordinator opens its state (no upload can
//! be under way then): uploaded datasets no sweep uses (after [`UNUSED_DATASET_GRACE`], so
//! that a client between its upload and its submit keeps its corpus), blobs in `datasets/`
//! or `checkpoints/` without a row, and files staged by writes that never finished. A
//! refused submit forgets its dataset at once ([`crate::Coordinator::submit`]); a refused
//! or failed checkpoint upload removes its blob in the service.

use std::time::Duration;

use crate::checkpoints::CheckpointStore;
use crate::clock::now_ms;
use crate::datasets::DatasetStore;
use crate::error::Result;
use crate::store::{ForgetUnusedDatasets, Store, reads};

/// How long an uploaded dataset that no sweep uses is kept.
pub const UNUSED_DATASET_GRACE: Duration = Duration::from_secs(600);

/// What one collection removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Collected {
    /// Dataset rows (and their blobs) no sweep used.
    pub datasets: usize,
    /// Files removed from `datasets/` and `checkpoints/`.
    pub files: usize,
}

/// Forgets unused uploaded datasets, then removes every blob no row refers to and every
/// leftover staged file. Call it before serving.
pub async fn collect_orphans(
    store: &Store,
    datasets: &DatasetStore,
    checkpoints: &CheckpointStore,
) -> Result<Collected> {
    let forgotten = store
        .write(ForgetUnusedDatasets {
            only: None,
            uploaded_before: now_ms() - UNUSED_DATASET_GRACE.as_millis() as i64,
        })
        .await?;
    let (dataset_refs, checkpoint_refs) = reads::blob_refs(&store.pool).await?;
    let files = datasets.collect(&dataset_refs)? + checkpoints.collect(&checkpoint_refs)?;
    Ok(Collected {
        datasets: forgotten.len(),
        files,
    })
}
