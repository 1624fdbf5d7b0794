//! The architecture of one GPT ([`ModelConfig`]): the part of the hyperparameters, plus the
//! vocabulary size, needed to build a model and load its weights, and what it costs.

use serde::{Deserialize, Serialize};

use super::{Hyperparams, Precision};

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
    /// Precision of the matrix products (not of the weights, which are f32 either way):
    /// written only when bf16, so an f32 checkpoint's metadata is as before, and one
    /// written before the field reads as f32.
    #[serde(default, skip_serializing_if = "Precision::is_f32")]
    pub precision: Precision,
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
            precision: self.precision,
        }
    }
}

/// As a user reads it: `vocab_size 65, block_size 64, n_embd 128, n_head 4, n_layer 2,
/// dropout 0.1` (then `, precision bf16` for bf16 products).
impl std::fmt::Display for ModelConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "vocab_size {}, block_size {}, n_embd {}, n_head {}, n_layer {}, dropout {}",
            self.vocab_size, self.block_size, self.n_embd, self.n_head, self.n_layer, self.dropout
        )?;
        if !self.precision.is_f32() {
            write!(f, ", precision {}", self.precision)?;
        }
        Ok(())
    }
}

impl ModelConfig {
    /// Each field where `self` and `other` differ: its name, `self`'s value and `other`'s.
    pub fn differences(&self, other: &Self) -> Vec<(&'static str, String, String)> {
        let fields = |m: &Self| {
            [
                ("vocab_size", m.vocab_size.to_string()),
                ("block_size", m.block_size.to_string()),
                ("n_embd", m.n_embd.to_string()),
                ("n_head", m.n_head.to_string()),
                ("n_layer", m.n_layer.to_string()),
                ("dropout", m.dropout.to_string()),
            ]
        };
        fields(self)
            .into_iter()
            .zip(fields(other))
            .filter(|((_, a), (_, b))| a != b)
            .map(|((name, a), (_, b))| (name, a, b))
            .collect()
    }

    /// Parameter count, computed from the shape (equal to the built model's count);
    /// saturates at `usize::MAX` rather than overflow for a shape past every bound.
    pub fn num_params(&self) -> usize {
        let (v, t, c) = (self.vocab_size, self.block_size, self.n_embd);
        // per block: qkv (3c^2, no bias) + proj (c^2 + c) + ffn (4c^2 + 4c + 4c^2 + c) + 2 LN (4c)
        let block = sum(&[product(&[12, c, c]), product(&[10, c])]);
        sum(&[
            product(&[v, c]),
            product(&[t, c]),
            product(&[self.n_layer, block]),
            product(&[2, c]),
            product(&[c, v]),
            v,
        ])
    }

    /// Rough bytes of device memory that training takes with AdamW at `batch_size`:
    /// weights, gradients and two moments (4 copies), plus the activations autodiff keeps
    /// (per block about 16 * B*T*C floats and 2 * B*H*T*T for the attention matrices).
    /// Saturates at `u64::MAX` rather than overflow, so that any shape can be judged by it.
    pub fn training_bytes(&self, batch_size: usize) -> u64 {
        let (b, t, c, h) = (batch_size, self.block_size, self.n_embd, self.n_head);
        let params = product(&[self.num_params(), 4, 4]);
        let per_block = sum(&[product(&[16, b, t, c]), product(&[3, b, h, t, t])]);
        let logits = product(&[3, b, t, self.vocab_size]);
        let floats = sum(&[
            product(&[self.n_layer, per_block]),
            product(&[4, b, t, c]),
            logits,
        ]);
        u64::try_from(sum(&[params, product(&[floats, 4])])).unwrap_or(u64::MAX)
    }
}

/// The product of `factors`, `usize::MAX` where it would overflow.
fn product(factors: &[usize]) -> usize {
    factors.iter().fold(1, |p: usize, &f| p.saturating_mul(f))
}

/// The sum of `terms`, `usize::MAX` where it would overflow.
fn sum(terms: &[usize]) -> usize {
    terms.iter().fold(0, |s: usize, &t| s.saturating_add(t))
}
