//! `gptsweep importance SWEEP`: how much each swept hyperparameter matters, by PED-ANOVA
//! (Watanabe, Bansal and Hutter, "PED-ANOVA: Efficiently Quantifying Hyperparameter
//! Importance in Arbitrary Subspaces", IJCAI 2023, arXiv:2304.10255; Optuna's
//! `PedAnovaImportanceEvaluator`). For each hyperparameter it compares where the best
//! runs' values lie with where all runs' values lie: the Pearson divergence of the two
//! distributions is that hyperparameter's importance in the region the sweep explored
//! (PED-ANOVA's local importance, with the best 10% against all results). A hyperparameter
//! whose best runs look like all runs does not matter there; one whose best runs crowd
//! into part of its range does. Unlike fANOVA it needs no surrogate model (no random
//! forest to fit), it is exact for the estimated distributions, and it stays meaningful
//! on the few tens of runs a GPT sweep has.
//!
//! On the few tens of runs a sweep has, which runs happened to land in the best 10% moves
//! the shares a lot: [`bootstrap`] refits on resamples of the results and reports each
//! share's standard deviation over them, so that "lr 60% ± 25%" says how far to trust it.
//!
//! Which results: those the tpe model would learn from ([`fidelity::choose`]): whole
//! runs, or with early termination the highest rung that enough runs reached, each run's
//! best value up to there.

mod bootstrap;
mod density;

use serde_json::Value;

use super::metric::Goal;
use super::tpe::{Budget, Dim, Space, Trial, fidelity};

/// Share of the results that form the "best runs" group (PED-ANOVA's and Optuna's
/// default `baseline_quantile`).
pub const TOP_QUANTILE: f64 = 0.1;
/// The best runs are at least this many (Optuna's `min_n_top_trials`).
const MIN_TOP: usize = 2;
/// Results needed before importance means anything: the best runs and more.
pub const MIN_RESULTS: usize = 5;

/// One hyperparameter's importance.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamImportance {
    /// The hyperparameter.
    pub name: String,
    /// Its share of the summed divergences (the shares sum to 1, or all are 0).
    pub share: f64,
    /// The Pearson divergence of the best runs' values from all runs' values.
    pub divergence: f64,
    /// The best runs' values of it, best run first.
    pub top_values: Vec<Value>,
    /// The standard deviation of `share` over bootstrap resamples of the results.
    pub spread: f64,
}

/// The importance of every swept hyperparameter of a sweep.
#[derive(Debug, Clone, PartialEq)]
pub struct Importance {
    /// The budget the results are taken at.
    pub budget: Budget,
    /// Results used.
    pub results: usize,
    /// Of which the best runs.
    pub top: usize,
    /// Every hyperparameter that varies, most important first.
    pub params: Vec<ParamImportance>,
}

/// PED-ANOVA over the sweep's runs; the error says why there is nothing to measure yet.
pub fn ped_anova(
    space: &Space,
    trials: &[Trial],
    rungs: &[u64],
    goal: Goal,
) -> Result<Importance, String> {
    if space.is_empty() {
        return Err("no hyperparameter varies in this sweep".into());
    }
    // The highest budget with enough results for the measure itself too: a higher rung
    // that a few runs reached must not hide a lower one that enough did.
    let enough = (space.len() + 1).max(MIN_RESULTS);
    let Some(fit) = fidelity::choose(trials, rungs, goal, enough) else {
        return Err(format!(
            "no run has a result yet; importance needs at least {MIN_RESULTS}"
        ));
    };
    let mut observed: Vec<(Vec<f64>, f64, usize)> = fit
        .observed
        .iter()
        .filter_map(|(i, score)| Some((space.encode(&trials[*i].swept)?, *score, *i)))
        .collect();
    if observed.len() < MIN_RESULTS {
        return Err(format!(
            "{} a result at {}; importance needs at least {MIN_RESULTS}",
            match observed.len() {
                1 => "1 run has".to_string(),
                n => format!("{n} runs have"),
            },
            fit.budget
        ));
    }
    observed.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.2.cmp(&b.2)));
    let n = observed.len();
    let top = top_count(n);
    let dims = space.dims();
    let coords: Vec<&[f64]> = observed.iter().map(|o| o.0.as_slice()).collect();
    let divergences = divergences(dims, &coords);
    let shares = shares(&divergences);
    let spreads = bootstrap::spreads(dims, &observed);
    let mut params: Vec<ParamImportance> = space
        .names()
        .iter()
        .enumerate()
        .map(|(d, name)| ParamImportance {
            name: name.clone(),
            share: shares[d],
            divergence: divergences[d],
            top_values: observed[..top]
                .iter()
                .map(|o| trials[o.2].swept.get(name).cloned().unwrap_or(Value::Null))
                .collect(),
            spread: spreads[d],
        })
        .collect();
    params.sort_by(|a, b| b.share.total_cmp(&a.share).then(a.name.cmp(&b.name)));
    Ok(Importance {
        budget: fit.budget,
        results: n,
        top,
        params,
    })
}

/// How many of `n` results form the best group.
fn top_count(n: usize) -> usize {
    ((TOP_QUANTILE * n as f64).ceil() as usize).max(MIN_TOP)
}

/// Each dimension's Pearson divergence of the best results from all, for results in
/// coordinates sorted best first.
fn divergences(dims: &[Dim], sorted: &[&[f64]]) -> Vec<f64> {
    let top = top_count(sorted.len());
    dims.iter()
        .enumerate()
        .map(|(d, dim)| {
            let all: Vec<f64> = sorted.iter().map(|o| o[d]).collect();
            let grid = density::grid(dim);
            let p_top = density::pmf(dim, &grid, &all[..top]);
            let p_all = density::pmf(dim, &grid, &all);
            density::pearson(&p_top, &p_all)
        })
        .collect()
}

/// Divergences as shares of their sum (all 0 when they sum to 0).
fn shares(divergences: &[f64]) -> Vec<f64> {
    let total: f64 = divergences.iter().sum();
    divergences
        .iter()
        .map(|d| if total > 0.0 { d / total } else { 0.0 })
        .collect()
}

#[cfg(test)]
mod tests;
