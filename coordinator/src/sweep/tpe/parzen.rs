//! A Parzen estimator: a weighted mixture of product kernels, one per observation plus a
//! prior kernel, over every dimension of the space at once (multivariate TPE). Numeric
//! dimensions take Gaussians truncated to the range (integers: the mass of the unit
//! interval around each integer), categorical ones an Aitchison-Aitken-like kernel. The
//! bandwidths and weights follow Optuna's `_ParzenEstimator` with `multivariate=True`; the
//! module doc of [`super`] gives the rules and their sources.

use gptsweep_core::rng::Rng;

use super::normal;
use super::space::{Dim, Space};

/// Weight of the prior kernel (Optuna's `prior_weight`), also the categorical smoothing.
const PRIOR_WEIGHT: f64 = 1.0;
/// Bandwidth factor of the multivariate rule (Optuna's `SIGMA0_MAGNITUDE`).
const SIGMA0: f64 = 0.2;

/// The kernels of one dimension, one per mixture component (observations, then prior).
#[derive(Debug, Clone)]
enum Kernels {
    /// Truncated Gaussians on `[lo, hi]`.
    Numeric {
        lo: f64,
        hi: f64,
        int: bool,
        mus: Vec<f64>,
        sigmas: Vec<f64>,
        /// log of each Gaussian's mass inside `[lo, hi]`.
        log_norms: Vec<f64>,
    },
    /// Probabilities of each category, per component.
    Categorical { probs: Vec<Vec<f64>> },
}

/// The fitted mixture.
#[derive(Debug, Clone)]
pub struct Parzen {
    /// Normalised component weights.
    weights: Vec<f64>,
    /// Kernels per dimension.
    dims: Vec<Kernels>,
}

impl Parzen {
    /// Fits the mixture to `points` (coordinates in `space`) with observation weights
    /// `obs_weights` (one per point); the prior component is added with weight 1.
    pub fn fit(space: &Space, points: &[Vec<f64>], obs_weights: &[f64]) -> Self {
        debug_assert_eq!(points.len(), obs_weights.len());
        let n = points.len();
        let mut weights: Vec<f64> = obs_weights.to_vec();
        weights.push(PRIOR_WEIGHT);
        let total: f64 = weights.iter().sum();
        weights.iter_mut().for_each(|w| *w /= total);
        let d = space.len();
        let dims = space
            .dims()
            .iter()
            .enumerate()
            .map(|(j, dim)| match dim {
                Dim::Categorical { values } => {
                    let k = values.len();
                    let base = PRIOR_WEIGHT / (n + 1) as f64;
                    let mut probs: Vec<Vec<f64>> = points
                        .iter()
                        .map(|p| {
                            let mut row = vec![base; k];
                            row[(p[j].round() as usize).min(k - 1)] += 1.0;
                            let sum: f64 = row.iter().sum();
                            row.iter().map(|x| x / sum).collect()
                        })
                        .collect();
                    probs.push(vec![1.0 / k as f64; k]);
                    Kernels::Categorical { probs }
                }
                Dim::Numeric { int, .. } => {
                    let (lo, hi) = dim.bounds().expect("a numeric dimension has bounds");
                    let range = hi - lo;
                    let sigma = SIGMA0 * (n.max(1) as f64).powf(-1.0 / (d as f64 + 4.0)) * range;
                    // The magic clip: no kernel narrower than range / min(100, kernels + 1).
                    let min_sigma = range / (100f64).min(n as f64 + 2.0);
                    let sigma = sigma.clamp(min_sigma, range);
                    let mut mus: Vec<f64> = points.iter().map(|p| p[j].clamp(lo, hi)).collect();
                    let mut sigmas = vec![sigma; n];
                    mus.push(0.5 * (lo + hi));
                    sigmas.push(range);
                    let log_norms = mus
                        .iter()
                        .zip(&sigmas)
                        .map(|(m, s)| normal::mass((lo - m) / s, (hi - m) / s).ln())
                        .collect();
                    Kernels::Numeric {
                        lo,
                        hi,
                        int: *int,
                        mus,
                        sigmas,
                        log_norms,
                    }
                }
            })
            .collect();
        Parzen { weights, dims }
    }

    /// One draw: a component by weight, then each dimension from its kernel.
    pub fn sample(&self, rng: &mut Rng) -> Vec<f64> {
        let mut u = rng.unit_f64();
        let mut k = self.weights.len() - 1;
        for (i, w) in self.weights.iter().enumerate() {
            if u < *w {
                k = i;
                break;
            }
            u -= w;
        }
        self.dims
            .iter()
            .map(|dim| match dim {
                Kernels::Categorical { probs } => {
                    let mut u = rng.unit_f64();
                    let row = &probs[k];
                    let mut pick = row.len() - 1;
                    for (c, p) in row.iter().enumerate() {
                        if u < *p {
                            pick = c;
                            break;
                        }
                        u -= p;
                    }
                    pick as f64
                }
                Kernels::Numeric {
                    lo,
                    hi,
                    int,
                    mus,
                    sigmas,
                    ..
                } => {
                    let x = normal::draw_truncated(rng, mus[k], sigmas[k], *lo, *hi);
                    if *int {
                        x.round().clamp(lo + 0.5, hi - 0.5)
                    } else {
                        x
                    }
                }
            })
            .collect()
    }

    /// log density (for integers and categories, log probability) of the mixture at `x`.
    pub fn log_pdf(&self, x: &[f64]) -> f64 {
        let terms: Vec<f64> = (0..self.weights.len())
            .map(|k| {
                let mut t = self.weights[k].ln();
                for (dim, &xi) in self.dims.iter().zip(x) {
                    t += match dim {
                        Kernels::Categorical { probs } => {
                            let row = &probs[k];
                            row[(xi.round().max(0.0) as usize).min(row.len() - 1)].ln()
                        }
                        Kernels::Numeric {
                            int,
                            mus,
                            sigmas,
                            log_norms,
                            ..
                        } => {
                            let (m, s) = (mus[k], sigmas[k]);
                            let p = if *int {
                                normal::mass((xi - 0.5 - m) / s, (xi + 0.5 - m) / s).ln()
                            } else {
                                normal::log_density((xi - m) / s) - s.ln()
                            };
                            p - log_norms[k]
                        }
                    };
                }
                t
            })
            .collect();
        log_sum_exp(&terms)
    }
}

/// log(sum(exp(t))) without overflow; -inf for no terms or all -inf.
fn log_sum_exp(terms: &[f64]) -> f64 {
    let max = terms.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if max == f64::NEG_INFINITY {
        return max;
    }
    max + terms.iter().map(|t| (t - max).exp()).sum::<f64>().ln()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::sweep::param::{Distribution, Param};
    use gptsweep_core::rng::Stream;

    fn space(params: &[(&str, Param)]) -> Space {
        let map: BTreeMap<String, Param> = params
            .iter()
            .map(|(k, p)| (k.to_string(), p.clone()))
            .collect();
        Space::of(&map)
    }

    #[test]
    fn integer_and_categorical_probabilities_sum_to_one() {
        let s = space(&[
            ("a", Param::range(1.0, 6.0, Distribution::IntUniform)),
            ("b", Param::Values(vec!["x".into(), "y".into(), "z".into()])),
        ]);
        let p = Parzen::fit(&s, &[vec![2.0, 0.0], vec![5.0, 2.0]], &[1.0, 1.0]);
        let mut total = 0.0;
        for a in 1..=6 {
            for b in 0..3 {
                total += p.log_pdf(&[a as f64, b as f64]).exp();
            }
        }
        assert!((total - 1.0).abs() < 1e-6, "{total}");
    }

    #[test]
    fn a_continuous_density_integrates_to_one_and_peaks_at_the_observations() {
        let s = space(&[("x", Param::range(0.0, 1.0, Distribution::Uniform))]);
        let p = Parzen::fit(&s, &[vec![0.2], vec![0.25]], &[1.0, 1.0]);
        let steps = 10_000;
        let total: f64 = (0..steps)
            .map(|i| p.log_pdf(&[(i as f64 + 0.5) / steps as f64]).exp() / steps as f64)
            .sum();
        assert!((total - 1.0).abs() < 1e-3, "{total}");
        assert!(p.log_pdf(&[0.22]) > p.log_pdf(&[0.8]));
    }

    #[test]
    fn log_scale_kernels_sit_in_log_space() {
        // Observations at 1e-4 and 1e-3 of [1e-5, 1e-1]: in log space the mixture is
        // symmetric around their geometric mean, so draws below and above it are balanced.
        let s = space(&[(
            "lr",
            Param::range(1e-5, 1e-1, Distribution::LogUniformValues),
        )]);
        let pts: Vec<Vec<f64>> = vec![vec![1e-4f64.ln()], vec![1e-3f64.ln()]];
        let p = Parzen::fit(&s, &pts, &[1.0, 1.0]);
        let mut rng = Rng::keyed(5, Stream::Search, 0);
        let draws: Vec<f64> = (0..4000).map(|_| p.sample(&mut rng)[0]).collect();
        let mid = (1e-4f64 * 1e-3).sqrt().ln();
        let near: Vec<&f64> = draws.iter().filter(|x| (**x - mid).abs() < 2.0).collect();
        let below = near.iter().filter(|x| ***x < mid).count() as f64;
        let share = below / near.len() as f64;
        assert!((share - 0.5).abs() < 0.05, "{share}");
        // Kernels in linear space would put almost every draw above 1e-2.
        assert!(near.len() * 100 > draws.len() * 35, "{} near", near.len());
        assert!(
            draws
                .iter()
                .all(|x| (1e-5f64.ln()..=1e-1f64.ln()).contains(x))
        );
    }
}
