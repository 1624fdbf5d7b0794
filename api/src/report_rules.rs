//! What a worker's evaluations may hold, checked before anything of a report is stored:
//! its numbers are ranked on the leaderboard and drive early termination, so one value out
//! of range (a loss of -inf ranks first, NaN breaks the store) would poison a sweep. These
//! are the checks a report's evaluations pass on their own; the bound on their steps that
//! needs the run (its `max_iters`) is the store's, checked with the lease.

use crate::error::ApiError;
use crate::records::Evaluation;

/// The rule every loss, bits-per-character, throughput and time value keeps.
const FINITE_NON_NEGATIVE: &str = "must be finite and >= 0";

/// Checks the evaluations of one report: every loss and bits-per-character value, the
/// throughput and the training time finite and >= 0; steps from 1 (an evaluation follows
/// a training step) and strictly increasing. The error names the first value that breaks
/// a rule, with its index: `evals[2].val_loss = -inf: must be finite and >= 0`.
pub fn check_evaluations(evals: &[Evaluation]) -> Result<(), ApiError> {
    let out_of_range = |i: usize, field: &str, value: String, rule: String| ApiError::OutOfRange {
        field: format!("evals[{i}].{field}"),
        value,
        rule,
    };
    let mut previous: Option<u64> = None;
    for (i, e) in evals.iter().enumerate() {
        let losses = [
            ("train_loss", e.train_loss),
            ("val_loss", e.val_loss),
            ("train_bpc", e.train_bpc),
            ("val_bpc", e.val_bpc),
        ];
        if let Some((field, v)) = losses.iter().find(|(_, v)| !(v.is_finite() && *v >= 0.0)) {
            return Err(out_of_range(
                i,
                field,
                v.to_string(),
                FINITE_NON_NEGATIVE.into(),
            ));
        }
        let rates = [
            ("tokens_per_sec", e.tokens_per_sec),
            ("train_secs", e.train_secs),
        ];
        if let Some((field, v)) = rates.iter().find(|(_, v)| !(v.is_finite() && *v >= 0.0)) {
            return Err(out_of_range(
                i,
                field,
                v.to_string(),
                FINITE_NON_NEGATIVE.into(),
            ));
        }
        if e.step == 0 {
            return Err(out_of_range(
                i,
                "step",
                "0".into(),
                "must be >= 1 (evaluations follow training steps)".into(),
            ));
        }
        if let Some(p) = previous.filter(|&p| e.step <= p) {
            return Err(out_of_range(
                i,
                "step",
                e.step.to_string(),
                format!(
                    "must be greater than evals[{}].step = {p} (steps increase within a report)",
                    i - 1
                ),
            ));
        }
        previous = Some(e.step);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(step: u64) -> Evaluation {
        Evaluation {
            step,
            train_loss: 2.0,
            val_loss: 2.1,
            train_bpc: 2.9,
            val_bpc: 3.0,
            tokens_per_sec: 1000.0,
            train_secs: 1.5,
        }
    }

    fn refused(evals: &[Evaluation]) -> String {
        check_evaluations(evals).unwrap_err().to_string()
    }

    #[test]
    fn finite_non_negative_values_at_increasing_steps_pass() {
        assert!(check_evaluations(&[]).is_ok());
        let zero = Evaluation {
            train_bpc: 0.0,
            tokens_per_sec: 0.0,
            train_secs: 0.0,
            ..eval(1)
        };
        assert!(check_evaluations(&[zero, eval(10), eval(11)]).is_ok());
    }

    #[test]
    fn a_loss_that_is_not_finite_or_negative_is_named_with_its_index() {
        let with = |f: fn(&mut Evaluation)| {
            let mut e = eval(20);
            f(&mut e);
            vec![eval(1), eval(10), e]
        };
        assert_eq!(
            refused(&with(|e| e.val_loss = f32::NEG_INFINITY)),
            "evals[2].val_loss = -inf: must be finite and >= 0"
        );
        assert_eq!(
            refused(&with(|e| e.val_loss = -5.0)),
            "evals[2].val_loss = -5: must be finite and >= 0"
        );
        assert_eq!(
            refused(&with(|e| e.train_loss = f32::NAN)),
            "evals[2].train_loss = NaN: must be finite and >= 0"
        );
        assert_eq!(
            refused(&with(|e| e.val_bpc = f32::INFINITY)),
            "evals[2].val_bpc = inf: must be finite and >= 0"
        );
        assert_eq!(
            refused(&with(|e| e.train_bpc = -0.5)),
            "evals[2].train_bpc = -0.5: must be finite and >= 0"
        );
        assert_eq!(
            refused(&with(|e| e.tokens_per_sec = f64::NAN)),
            "evals[2].tokens_per_sec = NaN: must be finite and >= 0"
        );
        assert_eq!(
            refused(&with(|e| e.train_secs = -1.0)),
            "evals[2].train_secs = -1: must be finite and >= 0"
        );
    }

    #[test]
    fn a_step_of_zero_or_not_after_the_one_before_is_refused() {
        assert_eq!(
            refused(&[eval(0)]),
            "evals[0].step = 0: must be >= 1 (evaluations follow training steps)"
        );
        assert_eq!(
            refused(&[eval(10), eval(5)]),
            "evals[1].step = 5: must be greater than evals[0].step = 10 (steps increase within a report)"
        );
        assert!(refused(&[eval(10), eval(10)]).starts_with("evals[1].step = 10: must be greater"));
    }
}
