//! The rules a buildable, trainable model must satisfy: one function per single-field rule
//! (named in the table's rows), and the cross-field rules written out in
//! [`Hyperparams::validate`].

use super::{HYPERPARAMS, Hyperparams};
use crate::error::{GptError, Result};

/// `usize` rule: at least 1.
pub(crate) fn positive(field: &'static str, v: &usize) -> Result<()> {
    if *v == 0 {
        return Err(GptError::invalid(field, v, "must be a positive integer"));
    }
    Ok(())
}

fn finite_in(field: &'static str, v: f64, ok: bool, rule: &str) -> Result<()> {
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

impl Hyperparams {
    /// Checks every rule a buildable, trainable model must satisfy: each row's own rule,
    /// then the rules that tie two hyperparameters together.
    pub fn validate(&self) -> Result<()> {
        for def in HYPERPARAMS {
            (def.check)(self)?;
        }
        if !self.n_embd.is_multiple_of(self.n_head) {
            return Err(GptError::invalid(
                "n_embd",
                self.n_embd,
                format!("must be divisible by n_head = {}", self.n_head),
            ));
        }
        if let Some(min_lr) = self.min_lr {
            finite_in(
                "min_lr",
                min_lr,
                min_lr >= 0.0 && min_lr <= self.lr,
                "must be in [0, lr]",
            )?;
        }
        Ok(())
    }
}
