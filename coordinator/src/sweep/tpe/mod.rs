//! `method: tpe`: the tree-structured Parzen estimator (Bergstra et al. 2011) over the
//! sweep's mixed space of categorical, integer, linear and log-scale parameters. Each
//! run after the first `n_startup` is proposed from every result so far, at the moment a
//! worker asks for one. The module is pure (no I/O, no clock): the store gathers the
//! sweep's runs as [`Trial`]s and asks [`propose`] for the next point; the same trials,
//! seed and run index give the same point.
//!
//! The defaults are Optuna's `TPESampler` defaults (v3/v4: `n_startup_trials=10`,
//! `n_ei_candidates=24`, `default_gamma`, `default_weights`, `prior_weight=1.0`,
//! `consider_magic_clip=True`) with `multivariate=True` and `constant_liar=True`, the two
//! flags Optuna recommends for correlated parameters and for distributed workers. Watanabe
//! (2023, "Tree-Structured Parzen Estimator: Understanding Its Algorithm Components and
//! Their Roles for Better Empirical Performance", arXiv:2304.11127) ablates each of these
//! components (splitting rule and its beta, weighting, prior, magic clip, bandwidth,
//! multivariate kernels) with Optuna's implementation as the baseline. Where its tuned
//! variants differ from Optuna's defaults (other weightings, the minimum-bandwidth factor)
//! this module keeps Optuna's: the most used, and the implementation each rule below was
//! checked against; the options a sweep file exposes are those with a plain meaning.
//!
//! The algorithm, step by step, with the choice made at each step and why:
//!
//! - **Random start** (`n_startup`, default 10, Optuna's `n_startup_trials`): until that
//!   many runs have ended with a result (finished, or stopped by early termination, as
//!   Optuna counts complete and pruned trials), runs are seeded random draws, the same ones
//!   `method: random` makes. The first `n_startup` runs are planned at submit.
//! - **Which results** ([`fidelity`]): without early termination a run's result is its best
//!   value of the metric. With `early_terminate`, runs stopped at a rung have results only
//!   up to it; the model is fit on the highest budget (a rung, in evaluations, or the full
//!   run) that at least `d + 1` runs reached, `d` the number of swept dimensions: BOHB's
//!   rule (Falkner et al. 2018, `min_points_in_model = d + 1`). A run's value at a rung is
//!   its best so far, as the rungs judge it. Runs stopped before that budget count as worse
//!   than every run that reached it (Optuna ranks pruned trials below complete ones).
//! - **Split** ([`split`]): the best `min(ceil(gamma * n), 25)` results form the "below"
//!   group, the rest "above", with `gamma = 0.1`: Optuna's `default_gamma`, the "linear"
//!   splitting rule with beta = 0.1 in Watanabe's terms (Hyperopt's is the more exploring
//!   "sqrt" rule, `ceil(0.25 * sqrt(n))`; a sweep of tens of runs wants to exploit sooner).
//!   Observations are weighted by Optuna's `default_weights` (equal for the 25 newest, a
//!   linear ramp down for older ones).
//! - **Parallel workers** (constant liar, Optuna's `constant_liar=True`): runs that are
//!   queued or running are put in "above" as if they had the worst value, so a second worker
//!   asking before the first reports gets a point away from the first's, not the same one.
//!   Failed runs are put there too: a point that failed every attempt is not worth
//!   proposing again nearby (Optuna drops failed trials; here a failure is usually the
//!   model not fitting the device, and dropping it would propose it again).
//! - **Kernels** ([`parzen`]): multivariate, one product kernel per observation over all
//!   dimensions (BOHB's, and Optuna's `multivariate=True`, which Optuna's benchmarks found
//!   better than independent per-parameter kernels when it was added in v2.2; it also lets
//!   `n_embd` and `n_head` be learned together). Numbers: Gaussians truncated to the range, in log space
//!   for `log_uniform_values`, integers as the mass of `[k - 1/2, k + 1/2]` (Optuna's
//!   discrete kernel). Bandwidth: Optuna's multivariate rule `0.2 * n^(-1/(d+4)) * range`
//!   (Scott's rule scaled to the range), clipped by the "magic clip" to at least
//!   `range / min(100, n + 2)` and at most the range. A prior kernel (centre of the range,
//!   width the range; weight 1, Optuna's `prior_weight`) keeps both densities positive
//!   everywhere. Categories: Optuna's Aitchison-Aitken-like kernel, `prior_weight / (n + 1)`
//!   on every category plus 1 on the observed one, normalised. `consider_endpoints` has no
//!   effect on the multivariate bandwidth, so it has no counterpart here.
//! - **Acquisition** ([`propose`]): `n_ei_candidates` (24, Optuna's default) points are
//!   drawn from the "below" density and the one with the largest `log l(x) - log g(x)` is
//!   proposed (maximising that ratio maximises expected improvement, Bergstra et al. 2011).
//!   A drawn point that is not a buildable model (`n_embd % n_head`, memory over
//!   `max_memory_gb`, a block longer than the data) is drawn again, a bounded number of
//!   times; if none is buildable the run is a random draw instead.
//!
//! Randomness is keyed by (seed, run index) ([`gptsweep_core::rng::Stream::Search`]), so a
//! proposal depends on nothing but the sweep's seed, the run's index and the trials.

pub(crate) mod fidelity;
mod normal;
mod parzen;
mod propose;
mod space;
mod split;

use serde::{Deserialize, Serialize};

pub use fidelity::{Budget, Trial, TrialStatus};
pub use propose::{Decision, propose};
pub use space::{Dim, Space};

/// The `tpe:` block of a sweep file once checked.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TpeOptions {
    /// Runs drawn at random before the model is used (Optuna's `n_startup_trials`).
    pub n_startup: usize,
    /// Candidates drawn from the "below" density per proposal (Optuna's `n_ei_candidates`).
    pub n_ei_candidates: usize,
    /// Fraction of results in the "below" group, at most 25 of them (Optuna's
    /// `default_gamma`).
    pub gamma: f64,
}

impl Default for TpeOptions {
    fn default() -> Self {
        Self {
            n_startup: 10,
            n_ei_candidates: 24,
            gamma: 0.1,
        }
    }
}

#[cfg(test)]
mod tests;
