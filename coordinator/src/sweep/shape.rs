//! What planning needs to know of a sweep's corpus under each tokenizer its runs use: the
//! vocabulary (for the parameter count and memory estimate) and the shorter split's
//! length in tokens (for block_size). Measured at submit; a GPT-2 shape only when some
//! run of the sweep may use GPT-2, since encoding a large corpus takes seconds.

use gptsweep_core::{Hyperparams, ModelConfig, TokenizerKind};

use super::param::Param;
use super::spec::SweepSpec;

/// The corpus under one tokenizer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    /// Tokens in the vocabulary.
    pub vocab_size: usize,
    /// Tokens in the shorter of the train and val splits.
    pub shortest_split: usize,
}

/// The corpus under each tokenizer a sweep uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CorpusShapes {
    /// Characters (always measured: the sample prompt is checked against them).
    pub char: Shape,
    /// GPT-2's BPE, when the sweep may use it.
    pub gpt2: Option<Shape>,
}

impl CorpusShapes {
    /// A corpus measured for characters only.
    pub fn chars(vocab_size: usize, shortest_split: usize) -> Self {
        Self {
            char: Shape {
                vocab_size,
                shortest_split,
            },
            gpt2: None,
        }
    }

    /// The model of a planned run (planning checked that its tokenizer's shape exists).
    pub fn model_of(&self, hp: &Hyperparams) -> ModelConfig {
        let shape = self.of(hp.tokenizer).unwrap_or(self.char);
        hp.model_config(shape.vocab_size)
    }

    /// A run's parameter count and training-memory estimate (bytes), as stored with it.
    pub fn estimates(&self, hp: &Hyperparams) -> (u64, u64) {
        let model = self.model_of(hp);
        (
            model.num_params() as u64,
            model.training_bytes(hp.batch_size),
        )
    }

    /// The shape under `kind`, if it was measured.
    pub fn of(&self, kind: TokenizerKind) -> Option<Shape> {
        match kind {
            TokenizerKind::Char => Some(self.char),
            TokenizerKind::Gpt2 => self.gpt2,
        }
    }
}

impl SweepSpec {
    /// Whether any run of this sweep may use `kind`: its fixed tokenizer, or a value of
    /// the swept one.
    pub fn may_use(&self, kind: TokenizerKind) -> bool {
        let named = |v: &serde_json::Value| v.as_str() == Some(kind.name());
        match self.parameters.get("tokenizer") {
            Some(Param::Value(v)) => named(v),
            Some(Param::Values(vs)) => vs.iter().any(named),
            Some(Param::Range { .. }) | None => self.base.tokenizer == kind,
        }
    }
}
