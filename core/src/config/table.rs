//! The one table of hyperparameters: name, type, default (as a user writes it), rule and
//! help text, each written once. Everything else (the [`Hyperparams`] struct, its
//! `Default`, the sweep file's known names, `gptsweep train`'s flags, the override merge)
//! is generated from it or walks [`HYPERPARAMS`]. Defaults are the lecture's gpt.py.

use super::define::hyperparams;
use super::kind::HyperType;
use super::lr_decay::LrDecay;
use super::precision::Precision;
use super::rules::{
    batch, context, depth, fraction, heads, non_negative, norm_or_off, steps, steps_or_none,
    strictly_positive, width,
};
use super::table_def::HyperparamDef;
use crate::tokenizer::TokenizerKind;

hyperparams! {
    /// Sequences per batch.
    batch_size: usize = 64, batch;
    /// Context length in tokens.
    block_size: usize = 256, context;
    /// Embedding width.
    n_embd: usize = 384, width;
    /// Attention heads per block (must divide n_embd).
    n_head: usize = 6, heads;
    /// Transformer blocks.
    n_layer: usize = 6, depth;
    /// Dropout probability in [0, 1).
    dropout: f64 = 0.2, fraction;
    /// Peak learning rate of AdamW.
    lr: f64 = 3e-4, strictly_positive;
    /// Final learning rate of the cosine schedule (none: lr / 10).
    min_lr: Option<f64> = none;
    /// Steps of linear warm-up from 0 to lr.
    warmup_iters: usize = 0, steps_or_none;
    /// Schedule after warm-up: constant or cosine.
    lr_decay: LrDecay = constant;
    /// Decoupled weight decay of AdamW (PyTorch's default 0.01, as in the lecture).
    weight_decay: f64 = 0.01, non_negative;
    /// AdamW beta1.
    beta1: f64 = 0.9, fraction;
    /// AdamW beta2.
    beta2: f64 = 0.999, fraction;
    /// AdamW epsilon (PyTorch's default 1e-8).
    eps: f64 = 1e-8, strictly_positive;
    /// Clip the global gradient norm to this value; 0 disables clipping.
    grad_clip: f64 = 0, norm_or_off;
    /// Optimisation steps.
    max_iters: usize = 5000, steps;
    /// Steps between evaluations (an evaluation also runs at the last step).
    eval_interval: usize = 500, steps;
    /// Batches averaged per split in an evaluation.
    eval_iters: usize = 200, steps;
    /// Seed of parameter initialisation, batches and dropout.
    seed: u64 = 1337;
    /// Tokenizer: char (the corpus's characters) or gpt2 (GPT-2's BPE, 50,257 tokens).
    tokenizer: TokenizerKind = char;
    /// Precision of the matrix products: f32, or bf16 (f32 weights, AdamW state and loss).
    precision: Precision = f32;
}
