//! What a checkpoint is without a model: its metadata ([`CheckpointMeta`]: hyperparameters,
//! architecture, vocabulary, dataset identity, step, evaluations, and the sha256 of the
//! weights and optimiser state), the layout's names and limits, the metadata's checks
//! ([`validate`]) and the streamed check of a whole blob ([`BlobCheck`]). The coordinator
//! checks uploads with these alone; gptsweep-gpt's `Checkpoint` adds the weights (burn).

mod blob_check;
mod validate;

pub use blob_check::BlobCheck;

use serde::{Deserialize, Serialize};

use crate::config::{Hyperparams, ModelConfig};
use crate::corpus::Corpus;
use crate::eval::Eval;
use crate::tokenizer::Tokenizer;

/// Version of the on-disk layout; bumped on incompatible changes.
pub const CHECKPOINT_FORMAT: u32 = 1;
/// The metadata's file name.
pub const META: &str = "meta.json";
/// The weights' file name.
pub const MODEL: &str = "model.mpk";
/// The optimiser state's file name.
pub const OPTIM: &str = "optim.mpk";
/// The first bytes of a checkpoint blob.
pub const BLOB_MAGIC: &[u8; 8] = b"GPTSWCK1";
/// Largest `meta.json` read (a vocabulary and a few thousand evaluations).
pub const MAX_META_BYTES: u64 = 64 << 20;
/// Largest `model.mpk` or `optim.mpk` read.
pub const MAX_WEIGHTS_BYTES: u64 = 16 << 30;

/// The human-readable part of a checkpoint.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckpointMeta {
    /// [`CHECKPOINT_FORMAT`] of the writer.
    pub format: u32,
    /// The run's hyperparameters.
    pub hyperparams: Hyperparams,
    /// The architecture, with the vocabulary size.
    pub model: ModelConfig,
    /// The vocabulary.
    pub tokenizer: Tokenizer,
    /// Name the dataset was loaded under.
    pub dataset_name: String,
    /// sha256 of the dataset text.
    pub dataset_sha256: String,
    /// Completed optimisation steps.
    pub step: usize,
    /// Evaluations up to this step.
    pub evals: Vec<Eval>,
    /// Seconds of training so far.
    pub train_secs: f64,
    /// sha256 of `model.mpk`.
    pub model_sha256: String,
    /// sha256 of `optim.mpk` (empty when the checkpoint holds no optimiser state).
    pub optim_sha256: String,
}

impl CheckpointMeta {
    /// The metadata of a run at `step` (blob hashes are filled in when the weights are captured).
    pub fn new(
        hp: &Hyperparams,
        corpus: &Corpus,
        step: usize,
        evals: Vec<Eval>,
        train_secs: f64,
    ) -> Self {
        Self {
            format: CHECKPOINT_FORMAT,
            hyperparams: hp.clone(),
            model: hp.model_config(corpus.tokenizer().vocab_size()),
            tokenizer: corpus.tokenizer().clone(),
            dataset_name: corpus.name().to_string(),
            dataset_sha256: corpus.sha256().to_string(),
            step,
            evals,
            train_secs,
            model_sha256: String::new(),
            optim_sha256: String::new(),
        }
    }

    /// Why this metadata cannot be loaded (another format, or a field that breaks a rule
    /// or disagrees with another), if it cannot.
    pub fn refusal(&self) -> Option<String> {
        if self.format != CHECKPOINT_FORMAT {
            return Some(format!(
                "format {} is not supported (this gptsweep reads format {CHECKPOINT_FORMAT})",
                self.format
            ));
        }
        self.inconsistency().map(|why| format!("{META}: {why}"))
    }
}
