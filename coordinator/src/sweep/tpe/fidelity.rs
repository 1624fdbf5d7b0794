//! Which results the model learns from. A run's result at a budget of `b` evaluations is
//! its best value among its first `b` (as the rungs of early termination judge it); the
//! full budget is a finished run's best value. Without early termination there is only
//! the full budget; with it, runs stopped at a rung have results only up to there, and the
//! model is fit on the highest budget that at least `n_min` runs reached (BOHB's rule).

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value;

use crate::sweep::metric::Goal;

/// Where a run stands, as far as the model is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrialStatus {
    /// Queued or running: no final result yet (constant liar: counted as worst).
    Pending,
    /// Trained to its last evaluation.
    Finished,
    /// Stopped early (at a rung, or by its worker): results up to where it stopped.
    Stopped,
    /// Failed every attempt: counted as worst.
    Failed,
}

/// One run of the sweep.
#[derive(Debug, Clone, PartialEq)]
pub struct Trial {
    /// Its swept hyperparameters.
    pub swept: BTreeMap<String, Value>,
    /// Where it stands.
    pub status: TrialStatus,
    /// The metric at each of its evaluations so far, in step order.
    pub curve: Vec<f64>,
}

/// A budget the model can be fit on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Budget {
    /// A rung: the first this many evaluations of each run.
    Rung(u64),
    /// Whole runs: finished runs' results.
    Full,
}

impl fmt::Display for Budget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Budget::Rung(b) => write!(f, "the rung at evaluation {b}"),
            Budget::Full => f.write_str("whole runs"),
        }
    }
}

/// The trials sorted for one budget.
#[derive(Debug, Clone, PartialEq)]
pub struct Fit {
    /// The budget.
    pub budget: Budget,
    /// (trial index, score) of every trial with a result there; lower scores are better.
    pub observed: Vec<(usize, f64)>,
    /// Trials known to be worse than any observed one: stopped before the budget, failed,
    /// or with a non-finite result.
    pub worse: Vec<usize>,
    /// Trials still to report there (queued or running).
    pub pending: Vec<usize>,
}

impl Trial {
    /// Its score at `budget` (the best value of the metric so far, negated when higher is
    /// better, so lower is always better); `None` when it has none there.
    fn score(&self, budget: Budget, goal: Goal) -> Option<f64> {
        let n = match budget {
            Budget::Full if self.status == TrialStatus::Finished => self.curve.len(),
            Budget::Full => return None,
            Budget::Rung(b)
                if self.curve.len() as u64 >= b && self.status != TrialStatus::Failed =>
            {
                b as usize
            }
            Budget::Rung(_) => return None,
        };
        let signed = self.curve[..n].iter().map(|v| match goal {
            Goal::Minimize => *v,
            Goal::Maximize => -*v,
        });
        Some(signed.fold(f64::INFINITY, |a, v| if v < a { v } else { a })).filter(|_| n > 0)
    }
}

/// Sorts `trials` for `budget`.
pub fn at(trials: &[Trial], budget: Budget, goal: Goal) -> Fit {
    let mut fit = Fit {
        budget,
        observed: Vec::new(),
        worse: Vec::new(),
        pending: Vec::new(),
    };
    for (i, t) in trials.iter().enumerate() {
        match t.score(budget, goal) {
            Some(s) if s.is_finite() => fit.observed.push((i, s)),
            Some(_) => fit.worse.push(i),
            None if t.status == TrialStatus::Pending => fit.pending.push(i),
            None => fit.worse.push(i),
        }
    }
    fit
}

/// The highest budget (`rungs`, then whole runs) with at least `n_min` observed results;
/// if none has that many, the one with the most (the higher on a tie); `None` when no
/// budget has any.
pub fn choose(trials: &[Trial], rungs: &[u64], goal: Goal, n_min: usize) -> Option<Fit> {
    let mut budgets: Vec<Budget> = rungs.iter().map(|r| Budget::Rung(*r)).collect();
    budgets.push(Budget::Full);
    budgets.sort();
    budgets.dedup();
    let fits: Vec<Fit> = budgets.iter().map(|b| at(trials, *b, goal)).collect();
    if let Some(fit) = fits.iter().rev().find(|f| f.observed.len() >= n_min.max(1)) {
        return Some(fit.clone());
    }
    fits.into_iter()
        .rev()
        .filter(|f| !f.observed.is_empty())
        .max_by_key(|f| f.observed.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trial(status: TrialStatus, curve: &[f64]) -> Trial {
        Trial {
            swept: BTreeMap::new(),
            status,
            curve: curve.to_vec(),
        }
    }

    #[test]
    fn a_rung_result_is_the_best_so_far() {
        let t = trial(TrialStatus::Finished, &[3.0, 2.0, 2.5, 1.0]);
        assert_eq!(t.score(Budget::Rung(3), Goal::Minimize), Some(2.0));
        assert_eq!(t.score(Budget::Full, Goal::Minimize), Some(1.0));
        assert_eq!(t.score(Budget::Rung(2), Goal::Maximize), Some(-3.0));
        assert_eq!(t.score(Budget::Rung(5), Goal::Minimize), None);
    }

    #[test]
    fn stopped_runs_are_the_results_at_their_rung_and_worse_above_it() {
        use TrialStatus::*;
        let trials = [
            trial(Finished, &[3.0, 2.0, 1.5, 1.0]),
            trial(Stopped, &[4.0]),
            trial(Stopped, &[3.5]),
            trial(Pending, &[3.2]),
            trial(Pending, &[]),
            trial(Failed, &[2.0]),
        ];
        let full = at(&trials, Budget::Full, Goal::Minimize);
        assert_eq!(full.observed, vec![(0, 1.0)]);
        assert_eq!(full.worse, vec![1, 2, 5]);
        assert_eq!(full.pending, vec![3, 4]);
        let rung = at(&trials, Budget::Rung(1), Goal::Minimize);
        assert_eq!(rung.observed, vec![(0, 3.0), (1, 4.0), (2, 3.5), (3, 3.2)]);
        assert_eq!(rung.worse, vec![5]);
        assert_eq!(rung.pending, vec![4]);
        // d = 2 dimensions: n_min = 3 results; only the first rung has them.
        let fit = choose(&trials, &[1, 3], Goal::Minimize, 3).unwrap();
        assert_eq!(fit.budget, Budget::Rung(1));
        // With enough finished runs the full budget wins.
        let fit = choose(&trials, &[1, 3], Goal::Minimize, 1).unwrap();
        assert_eq!(fit.budget, Budget::Full);
    }
}
