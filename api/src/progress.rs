//! Where a running run is between its evaluations: the latest step its worker reported
//! (with each heartbeat, every few seconds), its throughput over the last seconds, and the
//! ETA that throughput gives. Workers otherwise report only at evaluations, hundreds of
//! steps apart, so without this a running run reads as an empty table. A heartbeat's
//! progress is checked like a report before it is kept ([`check_progress`]).

use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// A running run's latest step, as `show`, `top` and the dashboard give it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunProgress {
    /// Completed steps (a heartbeat's, or the latest evaluation's if later).
    pub step: u64,
    /// The steps the run trains.
    pub max_iters: u64,
    /// Training throughput over the last seconds; 0 when not known yet.
    pub tokens_per_sec: f64,
    /// When the coordinator heard it, ms since the epoch.
    pub reported_at_ms: i64,
    /// How old it was when read, ms.
    pub age_ms: u64,
    /// Seconds left at that throughput; `None` without one.
    pub eta_secs: Option<f64>,
    /// The worker training it (`name#id`).
    pub worker: String,
}

/// Seconds the steps from `step` to `max_iters` take at `tokens_per_sec`, each step
/// `tokens_per_step` tokens (batch_size x block_size); `None` without a throughput.
pub fn eta_secs(
    step: u64,
    max_iters: u64,
    tokens_per_step: u64,
    tokens_per_sec: f64,
) -> Option<f64> {
    (tokens_per_sec > 0.0 && tokens_per_sec.is_finite() && tokens_per_step > 0)
        .then(|| max_iters.saturating_sub(step) as f64 * tokens_per_step as f64 / tokens_per_sec)
}

/// Checks a heartbeat's progress on its own: the throughput finite and >= 0 (the bound on
/// the step, the run's `max_iters`, is the store's, checked with the lease).
pub fn check_progress(tokens_per_sec: f64) -> Result<(), ApiError> {
    if tokens_per_sec.is_finite() && tokens_per_sec >= 0.0 {
        return Ok(());
    }
    Err(ApiError::OutOfRange {
        field: "tokens_per_sec".into(),
        value: tokens_per_sec.to_string(),
        rule: "must be finite and >= 0".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_eta_is_the_steps_left_at_the_throughput() {
        // 1000 steps left of 64 x 32 tokens at 20480 tok/s: 100 s.
        assert_eq!(eta_secs(4000, 5000, 64 * 32, 20_480.0), Some(100.0));
        assert_eq!(eta_secs(5000, 5000, 2048, 20_480.0), Some(0.0));
        assert_eq!(eta_secs(10, 5000, 2048, 0.0), None);
        assert_eq!(eta_secs(10, 5000, 0, 100.0), None);
    }

    #[test]
    fn a_throughput_must_be_finite_and_non_negative() {
        assert!(check_progress(0.0).is_ok());
        assert!(check_progress(1e6).is_ok());
        for bad in [f64::NAN, f64::INFINITY, -1.0] {
            let e = check_progress(bad).unwrap_err().to_string();
            assert!(e.starts_with("tokens_per_sec = "), "{e}");
            assert!(e.ends_with("must be finite and >= 0"), "{e}");
        }
        assert_eq!(
            check_progress(f64::NAN).unwrap_err().to_string(),
            "tokens_per_sec = NaN: must be finite and >= 0"
        );
    }
}
