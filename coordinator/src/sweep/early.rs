//! Early termination: asynchronous successive halving (ASHA, Li et al. 2018) as Ray Tune's
//! `ASHAScheduler` and W&B's `early_terminate: {type: hyperband}` apply it. Rungs sit at
//! evaluations `min_iter * eta^k` (counted in evaluations, as W&B counts logged iterations);
//! a run that reports its metric at a rung is stopped unless it is within the best `1/eta`
//! of every value recorded at that step so far (its own included).
//! Nothing waits for a rung to fill: the first runs at a rung always continue, later ones
//! are judged against all before them, so no worker ever idles for a decision.

use serde::{Deserialize, Serialize};

use super::metric::Goal;

/// `early_terminate:` once checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EarlyTerminate {
    /// The first rung, in evaluations.
    pub min_iter: u64,
    /// Keep the best 1/eta at each rung; rungs are eta times apart.
    pub eta: u64,
}

/// A rung's verdict on one run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Verdict {
    /// Within the best 1/eta: train on.
    Continue,
    /// Worse than `cutoff`, the value the best 1/eta of `peers` runs reach.
    Stop {
        /// The value a run had to reach to continue.
        cutoff: f64,
        /// Runs with a value at this rung, this one included.
        peers: usize,
    },
}

impl EarlyTerminate {
    /// The rungs, in evaluations, strictly before a run's last evaluation `total` (a run
    /// that reaches its last evaluation is done anyway).
    pub fn rungs(&self, total: u64) -> Vec<u64> {
        let mut rungs = Vec::new();
        let mut r = self.min_iter;
        while r < total {
            rungs.push(r);
            match r.checked_mul(self.eta) {
                Some(next) => r = next,
                None => break,
            }
        }
        rungs
    }

    /// The rung (in evaluations) that an evaluation after `step` of `max_iters` steps,
    /// evaluated every `eval_interval`, stands at, if any.
    pub fn rung_at(&self, step: u64, eval_interval: u64, max_iters: u64) -> Option<u64> {
        if eval_interval == 0 || !step.is_multiple_of(eval_interval) {
            return None;
        }
        let n = step / eval_interval;
        let total = max_iters.div_ceil(eval_interval);
        self.rungs(total).contains(&n).then_some(n)
    }

    /// Judges `value` against every value recorded at the rung (`recorded` includes it).
    /// The cutoff is the `1/eta` quantile in the goal's direction, linearly interpolated
    /// (numpy's default percentile); a run stops when strictly worse than it.
    pub fn verdict(&self, value: f64, recorded: &[f64], goal: Goal) -> Verdict {
        let mut sorted: Vec<f64> = recorded.iter().copied().filter(|v| v.is_finite()).collect();
        // Best first, whatever the goal.
        match goal {
            Goal::Minimize => sorted.sort_by(f64::total_cmp),
            Goal::Maximize => sorted.sort_by(|a, b| b.total_cmp(a)),
        }
        if !value.is_finite() {
            return Verdict::Stop {
                cutoff: sorted.first().copied().unwrap_or(f64::NAN),
                peers: recorded.len(),
            };
        }
        let Some(cutoff) = quantile_sorted(&sorted, 1.0 / self.eta as f64) else {
            return Verdict::Continue;
        };
        let worse = match goal {
            Goal::Minimize => value > cutoff,
            Goal::Maximize => value < cutoff,
        };
        if worse {
            Verdict::Stop {
                cutoff,
                peers: recorded.len(),
            }
        } else {
            Verdict::Continue
        }
    }
}

/// The `q` quantile (0..=1) of values already sorted best first, interpolated linearly.
fn quantile_sorted(sorted: &[f64], q: f64) -> Option<f64> {
    let last = sorted.len().checked_sub(1)?;
    let pos = q * last as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    Some(sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ET: EarlyTerminate = EarlyTerminate {
        min_iter: 1,
        eta: 3,
    };

    #[test]
    fn rungs_grow_by_eta_and_stop_before_the_last_evaluation() {
        assert_eq!(ET.rungs(10), vec![1, 3, 9]);
        assert_eq!(ET.rungs(9), vec![1, 3]);
        assert_eq!(ET.rungs(1), Vec::<u64>::new());
        // 5000 steps evaluated every 500: evaluations 1, 3 and 9 (steps 500, 1500, 4500).
        let at = |step| ET.rung_at(step, 500, 5000);
        assert_eq!((at(500), at(1500), at(4500)), (Some(1), Some(3), Some(9)));
        assert_eq!((at(1000), at(5000), at(750)), (None, None, None));
        // A last, partial interval still counts as an evaluation: 950 steps -> 2 of them.
        assert_eq!(ET.rung_at(500, 500, 950), Some(1));
        let huge = EarlyTerminate {
            min_iter: u64::MAX / 2,
            eta: 3,
        };
        assert_eq!(huge.rungs(u64::MAX), vec![u64::MAX / 2]);
    }

    #[test]
    fn the_first_run_at_a_rung_always_continues() {
        assert_eq!(ET.verdict(9.0, &[9.0], Goal::Minimize), Verdict::Continue);
    }

    #[test]
    fn a_run_outside_the_best_third_stops_with_the_cutoff_it_missed() {
        // Best first: 1, 2, 3, 4; the 1/3 quantile is at position 1 -> 2.0.
        let recorded = [3.0, 1.0, 4.0, 2.0];
        assert_eq!(
            ET.verdict(2.0, &recorded, Goal::Minimize),
            Verdict::Continue
        );
        assert_eq!(
            ET.verdict(3.0, &recorded, Goal::Minimize),
            Verdict::Stop {
                cutoff: 2.0,
                peers: 4
            }
        );
        // Of two runs, the worse one is outside the best third.
        assert_eq!(
            ET.verdict(2.5, &[2.0, 2.5], Goal::Minimize),
            Verdict::Stop {
                cutoff: 2.0 + 0.5 / 3.0,
                peers: 2
            }
        );
        assert_eq!(
            ET.verdict(2.0, &[2.0, 2.5], Goal::Minimize),
            Verdict::Continue
        );
    }

    #[test]
    fn maximise_keeps_the_highest_and_non_finite_values_stop() {
        let recorded = [3.0, 1.0, 4.0, 2.0];
        assert_eq!(
            ET.verdict(3.0, &recorded, Goal::Maximize),
            Verdict::Continue
        );
        assert!(matches!(
            ET.verdict(2.0, &recorded, Goal::Maximize),
            Verdict::Stop { .. }
        ));
        assert!(matches!(
            ET.verdict(f64::NAN, &[1.0, f64::NAN], Goal::Minimize),
            Verdict::Stop { .. }
        ));
    }
}
