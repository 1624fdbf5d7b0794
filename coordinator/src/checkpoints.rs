//! Checkpoint blobs of runs under `<state>/checkpoints/`, content-addressed; the database
//! says which one is each run's latest.

use std::path::Path;

use crate::blobs::BlobDir;
use crate::error::Result;

/// Largest checkpoint accepted, bytes (a 100M-parameter model with AdamW is ~1.2 GB).
pub const MAX_CHECKPOINT_BYTES: usize = 4 << 30;

/// The folder of checkpoint blobs.
pub type CheckpointStore = BlobDir;

/// Opens `<dir>` as the checkpoint store.
pub fn open(dir: &Path) -> Result<CheckpointStore> {
    BlobDir::open(dir, "ckpt", "checkpoint")
}
