//! The architecture of one GPT ([`ModelConfig`]): the part of the hyperparameters, plus the
//! vocabulary size, needed to build a model and load its weights, and what it costs.

use serde::{Deserialize, Serialize};

use super::Hyperparams;

/// The architecture of one GPT: what is needed to build it and load its weights.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    /// Tokens in the vocabulary.
    pub vocab_size: usize,
    /// Context length.
    pub block_size: usize,
    /// Embedding width.
    pub n_embd: usize,
    /// Attention heads.
    pub n_head: usize,
    /// Transformer blocks.
    pub n_layer: usize,
    /// Dropout probability.
    pub dropout: f64,
}

impl Hyperparams {
    /// The model built from these hyperparameters for a vocabulary of `vocab_size`.
    pub fn model_config(&self, vocab_size: usize) -> ModelConfig {
        ModelConfig {
            vocab_size,
            block_size: self.block_size,
            n_embd: self.n_embd,
            n_head: self.n_head,
            n_layer: self.n_layer,
            dropout: self.dropout,
        }
    }
}

impl ModelConfig {
    /// Parameter count, computed from the shape (equal to the built model's count).
    pub fn num_params(&self) -> usize {
        let (v, t, c) = (self.vocab_size, self.block_size, self.n_embd);
        // per block: qkv (3c^2, no bias) + proj (c^2 + c) + ffn (4c^2 + 4c + 4c^2 + c) + 2 LN (4c)
        let block = 12 * c * c + 10 * c;
        v * c + t * c + self.n_layer * block + 2 * c + c * v + v
    }

    /// Rough bytes of device memory that training takes with AdamW at `batch_size`:
    /// weights, gradients and two moments (4 copies), plus the activations autodiff keeps
    /// (per block about 16 * B*T*C floats and 2 * B*H*T*T for the attention matrices).
    pub fn training_bytes(&self, batch_size: usize) -> u64 {
        let (b, t, c, h) = (
            batch_size as u64,
            self.block_size as u64,
            self.n_embd as u64,
            self.n_head as u64,
        );
        let params = self.num_params() as u64 * 4 * 4;
        let per_block = 16 * b * t * c + 3 * b * h * t * t;
        let logits = 3 * b * t * self.vocab_size as u64;
        params + (self.n_layer as u64 * per_block + 4 * b * t * c + logits) * 4
    }
}
