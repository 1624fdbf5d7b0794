//! How much PED-ANOVA's shares rest on which runs happened to be there: the shares are
//! measured again on [`RESAMPLES`] bootstrap resamples of the results (drawn with
//! replacement, as many as there are), and each share's standard deviation over them is
//! its spread. Seeded: the same results give the same spreads, so a page that polls does
//! not flicker.

use gptsweep_core::rng::{Rng, Stream};

use super::{divergences, shares};
use crate::sweep::tpe::Dim;

/// Resamples measured. 100 puts a spread within about 7% of itself (the standard error of
/// a standard deviation is about `sd / sqrt(2 B)`), at 100 times the cost of the shares
/// alone (each resample is a grid of at most 50 points a hyperparameter, for each result).
pub const RESAMPLES: u64 = 100;
/// The generator's seed: fixed, so spreads depend on the results alone.
const SEED: u64 = 0x5eed_b007;

/// Each dimension's spread of its share, for `observed` (coordinates, score, trial) sorted
/// best first.
pub(super) fn spreads(dims: &[Dim], observed: &[(Vec<f64>, f64, usize)]) -> Vec<f64> {
    let n = observed.len();
    let mut sum = vec![0.0; dims.len()];
    let mut sum_sq = vec![0.0; dims.len()];
    for b in 0..RESAMPLES {
        let mut rng = Rng::keyed(SEED, Stream::Search, b);
        let mut picks: Vec<usize> = (0..n).map(|_| rng.below(n as u64) as usize).collect();
        // `observed` is sorted best first, so sorted picks are too (ties keep their order).
        picks.sort_unstable();
        let resample: Vec<&[f64]> = picks.iter().map(|&i| observed[i].0.as_slice()).collect();
        for (d, share) in shares(&divergences(dims, &resample))
            .into_iter()
            .enumerate()
        {
            sum[d] += share;
            sum_sq[d] += share * share;
        }
    }
    let b = RESAMPLES as f64;
    sum.iter()
        .zip(&sum_sq)
        .map(|(s, sq)| ((sq - s * s / b) / (b - 1.0)).max(0.0).sqrt())
        .collect()
}
