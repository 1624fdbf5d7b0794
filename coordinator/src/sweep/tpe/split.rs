//! Splitting results into the "below" group (the best, whose density is l(x)) and the
//! "above" group (the rest, g(x)), and the weight of each observation: Optuna's
//! `default_gamma` and `default_weights`.

/// The most results in the "below" group, whatever gamma (Optuna caps it at 25).
const MAX_BELOW: usize = 25;
/// The newest observations that keep full weight; older ones ramp down (Optuna: 25).
const FLAT_WEIGHTS: usize = 25;

/// How many of `n` results go below: `min(ceil(gamma * n), 25)`.
pub fn n_below(gamma: f64, n: usize) -> usize {
    ((gamma * n as f64).ceil() as usize).min(MAX_BELOW)
}

/// Weights of `n` observations in chronological order: 1 for the newest 25, a linear ramp
/// from `1/n` up to 1 for the older ones.
pub fn weights(n: usize) -> Vec<f64> {
    if n < FLAT_WEIGHTS {
        return vec![1.0; n];
    }
    let ramp = n - FLAT_WEIGHTS;
    let mut w: Vec<f64> = (0..ramp)
        .map(|i| {
            let lo = 1.0 / n as f64;
            if ramp == 1 {
                lo
            } else {
                lo + (1.0 - lo) * i as f64 / (ramp - 1) as f64
            }
        })
        .collect();
    w.extend(std::iter::repeat_n(1.0, FLAT_WEIGHTS));
    w
}

/// Splits `scored` ((trial index, score), lower scores better) into the best `below` and
/// the rest; ties go to the older trial. Both groups come back in trial order.
pub fn split(scored: &[(usize, f64)], below: usize) -> (Vec<usize>, Vec<usize>) {
    let mut ranked: Vec<(usize, f64)> = scored.to_vec();
    ranked.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
    let below = below.min(ranked.len());
    let mut good: Vec<usize> = ranked[..below].iter().map(|(i, _)| *i).collect();
    let mut rest: Vec<usize> = ranked[below..].iter().map(|(i, _)| *i).collect();
    good.sort_unstable();
    rest.sort_unstable();
    (good, rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gamma_is_a_tenth_rounded_up_and_capped_at_25() {
        assert_eq!(
            [1, 9, 10, 11, 100, 1000].map(|n| n_below(0.1, n)),
            [1, 1, 1, 2, 10, 25]
        );
    }

    #[test]
    fn old_observations_ramp_down_beyond_the_newest_25() {
        assert_eq!(weights(3), vec![1.0; 3]);
        let w = weights(30);
        assert_eq!(w.len(), 30);
        assert!((w[0] - 1.0 / 30.0).abs() < 1e-12);
        assert!(w[..5].windows(2).all(|p| p[0] < p[1]));
        assert!(w[4] <= 1.0 && w[5..].iter().all(|x| *x == 1.0));
    }

    #[test]
    fn the_best_go_below_and_both_groups_keep_trial_order() {
        let (good, rest) = split(&[(0, 3.0), (1, 1.0), (2, 2.0), (3, 1.0)], 2);
        assert_eq!(good, vec![1, 3]);
        assert_eq!(rest, vec![0, 2]);
    }
}
