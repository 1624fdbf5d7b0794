//! What the hyperparameters imply over a run's steps: the learning rate at each step and
//! the steps after which it evaluates.

use super::{Hyperparams, LrDecay};

impl Hyperparams {
    /// The learning rate at `step` (0-based): linear warm-up, then constant or cosine.
    pub fn lr_at(&self, step: usize) -> f64 {
        if step < self.warmup_iters {
            return self.lr * (step + 1) as f64 / (self.warmup_iters + 1) as f64;
        }
        match self.lr_decay {
            LrDecay::Constant => self.lr,
            LrDecay::Cosine => {
                let min_lr = self.min_lr.unwrap_or(self.lr / 10.0);
                let span = self.max_iters.saturating_sub(self.warmup_iters).max(1) as f64;
                let progress = ((step - self.warmup_iters) as f64 / span).min(1.0);
                min_lr + 0.5 * (1.0 + (std::f64::consts::PI * progress).cos()) * (self.lr - min_lr)
            }
        }
    }

    /// True when an evaluation follows the `done`-th completed step: every `eval_interval`
    /// steps and after the last one. Evaluations are labelled by completed steps, so a run of
    /// 1000 steps with interval 250 reports at 250, 500, 750 and 1000.
    pub fn evaluates_after(&self, done: usize) -> bool {
        done > 0 && (done.is_multiple_of(self.eval_interval) || done == self.max_iters)
    }

    /// The steps (counted as completed steps) after which a complete run evaluates.
    pub fn eval_steps(&self) -> Vec<usize> {
        (1..=self.max_iters)
            .filter(|d| self.evaluates_after(*d))
            .collect()
    }

    /// The number of evaluations a complete run reports.
    pub fn expected_evals(&self) -> usize {
        self.max_iters / self.eval_interval
            + usize::from(!self.max_iters.is_multiple_of(self.eval_interval))
    }
}
