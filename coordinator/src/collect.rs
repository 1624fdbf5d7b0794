//! Collecting what nothing refers to. When the coordinator opens its state (no upload can
//! be under way then): uploaded datasets no sweep uses (after their grace,
//! [`crate::uploads::UploadLimits::unused_dataset_grace`], so that a client between its
//! upload and its submit keeps its corpus), blobs in `datasets/` or `checkpoints/` without
//! a row, and files staged by writes that never finished. While it serves, every
//! [`crate::uploads::UploadLimits::collect_every`]: uploaded datasets no sweep has used
//! within their grace, and dataset files without a row (a deleted sweep's), so that the
//! disk an unused upload took comes back without a restart. A refused submit forgets its
//! dataset at once ([`crate::Coordinator::submit`]); a refused or failed upload removes
//! its staged file as it ends.

use std::time::Duration;

use crate::Coordinator;
use crate::checkpoints::CheckpointStore;
use crate::clock::now_ms;
use crate::datasets::DatasetStore;
use crate::error::{CoordinatorError, Result};
use crate::store::{ForgetUnusedDatasets, Store, reads};

/// What one collection removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Collected {
    /// Dataset rows (and their blobs) no sweep used.
    pub datasets: usize,
    /// Files removed from `datasets/` and `checkpoints/`.
    pub files: usize,
}

/// Forgets uploaded datasets no sweep has used for `grace`, then removes every blob no
/// row refers to and every leftover staged file. Call it before serving.
pub async fn collect_orphans(
    store: &Store,
    datasets: &DatasetStore,
    checkpoints: &CheckpointStore,
    grace: Duration,
) -> Result<Collected> {
    let forgotten = forget_unused(store, grace).await?;
    let (dataset_refs, checkpoint_refs) = reads::blob_refs(&store.pool).await?;
    let files = datasets.collect(&dataset_refs)? + checkpoints.collect(&checkpoint_refs)?;
    Ok(Collected {
        datasets: forgotten,
        files,
    })
}

/// Forgets uploaded datasets no sweep has used for `grace`; answers how many.
async fn forget_unused(store: &Store, grace: Duration) -> Result<usize> {
    let grace_ms = i64::try_from(grace.as_millis()).unwrap_or(i64::MAX);
    let forgotten = store
        .write(ForgetUnusedDatasets {
            only: None,
            uploaded_before: now_ms().saturating_sub(grace_ms),
        })
        .await?;
    Ok(forgotten.len())
}

impl Coordinator {
    /// Forgets uploaded datasets no sweep has used for their grace and removes every
    /// dataset file no row names, while serving: staged files (uploads under way) are
    /// left alone, and the uploads' commit lock keeps every upload out of the gap between
    /// its blob and its row meanwhile.
    pub async fn collect_unused_datasets(&self) -> Result<Collected> {
        let _commit = self.uploads.commit_lock.lock().await;
        let datasets = forget_unused(&self.store, self.uploads.limits.unused_dataset_grace).await?;
        let (refs, _) = reads::blob_refs(&self.store.pool).await?;
        let files = self.datasets.collect_blobs(&refs)?;
        Ok(Collected { datasets, files })
    }

    /// Collects unused datasets every [`crate::uploads::UploadLimits::collect_every`]
    /// until the coordinator stops.
    pub(crate) fn spawn_collector(&self) {
        let c = self.clone();
        let mut stopping = self.stopping.subscribe();
        tokio::spawn(async move {
            // The first one a period from now: opening the state collected just before.
            let every = c.uploads.limits.collect_every();
            let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = stopping.wait_for(|s| *s) => return,
                }
                match c.collect_unused_datasets().await {
                    Ok(Collected {
                        datasets: 0,
                        files: 0,
                    }) => {}
                    Ok(collected) => tracing::info!(
                        "collected {} unused datasets and {} dataset files no row names",
                        collected.datasets,
                        collected.files
                    ),
                    Err(CoordinatorError::WriterGone) => return,
                    Err(e) => tracing::warn!("collecting unused datasets: {e}"),
                }
            }
        });
    }
}
