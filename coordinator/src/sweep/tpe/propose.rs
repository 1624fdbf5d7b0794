//! One proposal: random while the startup runs are under way, else the model's point. The
//! caller turns [`Decision::Random`] into the same seeded draw `method: random` makes, so
//! this module needs no access to the planner.

use std::collections::BTreeMap;

use serde_json::Value;

use gptsweep_core::rng::{Rng, Stream};

use super::TpeOptions;
use super::fidelity::{self, Budget, Trial, TrialStatus};
use super::parzen::Parzen;
use super::space::Space;
use super::split;
use crate::sweep::metric::Goal;

/// Draws from the model per proposal before giving up on finding a buildable model.
const MAX_DRAWS: usize = 1000;

/// What to run next.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// A random draw, for the reason given.
    Random(String),
    /// The model's point.
    Model {
        /// Its swept hyperparameters.
        swept: BTreeMap<String, Value>,
        /// The budget the model was fit on.
        budget: Budget,
        /// Results it learned from at that budget.
        observed: usize,
        /// Of which in the "below" group.
        below: usize,
    },
}

/// The next point of a tpe sweep: run `index` (from 0), given every run so far (`trials`,
/// pending ones included), the rungs of early termination (none without it), and which
/// points are buildable models. Deterministic in (seed, index, trials).
#[allow(clippy::too_many_arguments)]
pub fn propose(
    space: &Space,
    opts: &TpeOptions,
    seed: u64,
    index: usize,
    trials: &[Trial],
    rungs: &[u64],
    goal: Goal,
    buildable: impl Fn(&BTreeMap<String, Value>) -> bool,
) -> Decision {
    if space.is_empty() {
        return Decision::Random("no parameter varies".into());
    }
    let results = trials
        .iter()
        .filter(|t| {
            matches!(t.status, TrialStatus::Finished | TrialStatus::Stopped) && !t.curve.is_empty()
        })
        .count();
    if results < opts.n_startup {
        return Decision::Random(format!(
            "startup: {results} of the first {} runs have results",
            opts.n_startup
        ));
    }
    let coords: Vec<Option<Vec<f64>>> = trials.iter().map(|t| space.encode(&t.swept)).collect();
    let known = |i: &usize| coords[*i].is_some();
    let Some(mut fit) = fidelity::choose(trials, rungs, goal, space.len() + 1) else {
        return Decision::Random("no run has a result yet".into());
    };
    fit.observed.retain(|(i, _)| known(i));
    let worse: Vec<usize> = fit.worse.iter().copied().filter(known).collect();
    let n = fit.observed.len() + worse.len();
    let n_below = split::n_below(opts.gamma, n).min(fit.observed.len());
    if n_below == 0 {
        return Decision::Random("no run has a result in the space".into());
    }
    let (below, rest) = split::split(&fit.observed, n_below);
    let mut above: Vec<usize> = rest
        .into_iter()
        .chain(worse)
        .chain(fit.pending.iter().copied().filter(known))
        .collect();
    above.sort_unstable();
    let points = |idx: &[usize]| -> Vec<Vec<f64>> {
        idx.iter()
            .map(|i| coords[*i].clone().expect("kept only known points"))
            .collect()
    };
    let l = Parzen::fit(space, &points(&below), &split::weights(below.len()));
    let g = Parzen::fit(space, &points(&above), &split::weights(above.len()));

    let mut rng = Rng::keyed(seed, Stream::Search, index as u64);
    let mut best: Option<(f64, BTreeMap<String, Value>)> = None;
    let mut candidates = 0;
    for _ in 0..MAX_DRAWS {
        if candidates == opts.n_ei_candidates {
            break;
        }
        let swept = space.decode(&l.sample(&mut rng));
        if !buildable(&swept) {
            continue;
        }
        candidates += 1;
        // Scored where the point really is: integers rounded, categories by index.
        let x = space
            .encode(&swept)
            .expect("a decoded point is in the space");
        let score = l.log_pdf(&x) - g.log_pdf(&x);
        if best.as_ref().is_none_or(|(s, _)| score > *s) {
            best = Some((score, swept));
        }
    }
    match best {
        Some((_, swept)) => Decision::Model {
            swept,
            budget: fit.budget,
            observed: fit.observed.len(),
            below: below.len(),
        },
        None => Decision::Random(format!(
            "none of {MAX_DRAWS} draws from the model is a buildable model"
        )),
    }
}
