//! One evaluation of a run ([`Eval`]): what the trainer reports, a checkpoint keeps, and a
//! worker streams to the coordinator. Its own module so that the trainer and checkpoints
//! both depend on it rather than on each other.

use serde::{Deserialize, Serialize};

/// One evaluation: mean losses over `eval_iters` batches of each split, in eval mode.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Eval {
    /// Completed optimisation steps when it was taken.
    pub step: usize,
    /// Mean loss on train batches.
    pub train_loss: f32,
    /// Mean loss on val batches.
    pub val_loss: f32,
    /// `train_loss` in bits per character of the train text
    /// ([`crate::Corpus::bits_per_char`]); read back from a checkpoint written before it
    /// existed, 0 until the trainer that resumes it fills it in.
    #[serde(default)]
    pub train_bpc: f32,
    /// `val_loss` in bits per character of the val text.
    #[serde(default)]
    pub val_bpc: f32,
    /// Training throughput since the previous evaluation, tokens per second.
    pub tokens_per_sec: f64,
    /// Seconds spent training (not evaluating) up to this evaluation, over all attempts.
    pub train_secs: f64,
}
