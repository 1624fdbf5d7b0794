//! The single-field rules a table row can name: each checks one value and, when it fails,
//! names the field, the value and the rule.

use crate::error::{GptError, Result};

/// `usize` rule: at least 1.
pub(crate) fn positive(field: &'static str, v: &usize) -> Result<()> {
    if *v == 0 {
        return Err(GptError::invalid(field, v, "must be a positive integer"));
    }
    Ok(())
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
