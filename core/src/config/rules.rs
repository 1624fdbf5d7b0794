//! The single-field rules a table row can name: each checks one value and, when it fails,
//! names the field, the value and the rule.
//!
//! Every size and step count has an upper bound as well as a lower one. The bounds are far
//! beyond any model this trainer can train on one device (GPT-3 has a 2,048-token context,
//! 12,288 wide, 96 layers and heads); they are there so that a typo (`block_size: 1e12`)
//! is refused by name before anything is sized from it, instead of an allocation of
//! terabytes that aborts the process or an estimate that overflows. Whether a model within
//! them fits a device is the memory estimate's question
//! ([`ModelConfig::training_bytes`](super::ModelConfig::training_bytes)).

use crate::error::{GptError, Result};

/// Most sequences a batch may hold.
pub const MAX_BATCH_SIZE: usize = 1 << 16;
/// Longest context, in tokens.
pub const MAX_BLOCK_SIZE: usize = 1 << 20;
/// Widest embedding.
pub const MAX_N_EMBD: usize = 1 << 16;
/// Most attention heads.
pub const MAX_N_HEAD: usize = 1 << 12;
/// Most transformer blocks.
pub const MAX_N_LAYER: usize = 1 << 12;
/// Most optimisation steps (and warm-up steps, steps between evaluations, batches an
/// evaluation averages).
pub const MAX_STEPS: usize = 1_000_000_000;

/// `usize` rule: in `min..=max`.
fn within(field: &'static str, v: usize, min: usize, max: usize) -> Result<()> {
    if !(min..=max).contains(&v) {
        return Err(GptError::invalid(
            field,
            v,
            format!("must be an integer from {min} to {max}"),
        ));
    }
    Ok(())
}

/// Rule of `batch_size`: 1 to [`MAX_BATCH_SIZE`].
pub(crate) fn batch(field: &'static str, v: &usize) -> Result<()> {
    within(field, *v, 1, MAX_BATCH_SIZE)
}

/// Rule of `block_size`: 1 to [`MAX_BLOCK_SIZE`].
pub(crate) fn context(field: &'static str, v: &usize) -> Result<()> {
    within(field, *v, 1, MAX_BLOCK_SIZE)
}

/// Rule of `n_embd`: 1 to [`MAX_N_EMBD`].
pub(crate) fn width(field: &'static str, v: &usize) -> Result<()> {
    within(field, *v, 1, MAX_N_EMBD)
}

/// Rule of `n_head`: 1 to [`MAX_N_HEAD`].
pub(crate) fn heads(field: &'static str, v: &usize) -> Result<()> {
    within(field, *v, 1, MAX_N_HEAD)
}

/// Rule of `n_layer`: 1 to [`MAX_N_LAYER`].
pub(crate) fn depth(field: &'static str, v: &usize) -> Result<()> {
    within(field, *v, 1, MAX_N_LAYER)
}

/// Rule of a step count that must be at least 1: 1 to [`MAX_STEPS`].
pub(crate) fn steps(field: &'static str, v: &usize) -> Result<()> {
    within(field, *v, 1, MAX_STEPS)
}

/// Rule of a step count that may be 0: 0 to [`MAX_STEPS`].
pub(crate) fn steps_or_none(field: &'static str, v: &usize) -> Result<()> {
    within(field, *v, 0, MAX_STEPS)
}

/// The rule of `ok`, which must hold for a finite `v`.
pub(crate) fn finite_in(field: &'static str, v: f64, ok: bool, rule: &str) -> Result<()> {
    if !v.is_finite() || !ok {
        return Err(GptError::invalid(field, v, rule));
    }
    Ok(())
}

/// `f64` rule: in [0, 1) (dropout, betas).
pub(crate) fn fraction(field: &'static str, v: &f64) -> Result<()> {
    finite_in(field, *v, (0.0..1.0).contains(v), "must be in [0, 1)")
}

/// `f64` rule: finite and > 0.
pub(crate) fn strictly_positive(field: &'static str, v: &f64) -> Result<()> {
    finite_in(field, *v, *v > 0.0, "must be > 0")
}

/// `f64` rule: finite and >= 0.
pub(crate) fn non_negative(field: &'static str, v: &f64) -> Result<()> {
    finite_in(field, *v, *v >= 0.0, "must be >= 0")
}

/// `f64` rule of a norm where 0 turns the feature off.
pub(crate) fn norm_or_off(field: &'static str, v: &f64) -> Result<()> {
    finite_in(field, *v, *v >= 0.0, "must be >= 0 (0 disables clipping)")
}
