//! The distribution of one hyperparameter over a group of runs, as probabilities on a
//! fixed grid of its values: each listed value for a category or a short integer range,
//! else 50 points evenly spaced across the range (in log space for log-scale ranges).
//! Numbers are smoothed with a Gaussian kernel of Scott's bandwidth (at least one grid
//! step) so that neighbouring values share evidence, as PED-ANOVA's Parzen estimators do;
//! both kinds add one pseudo-observation spread evenly, so no grid point has zero mass.

use crate::sweep::tpe::Dim;

/// Grid points for a numeric range that is not a short integer range.
const GRID_POINTS: usize = 50;

/// The grid of one dimension, in the dimension's coordinates (log space, integers, or
/// category indices: those [`crate::sweep::tpe::Space::encode`] gives).
pub(super) fn grid(dim: &Dim) -> Vec<f64> {
    match dim {
        Dim::Categorical { values } => (0..values.len()).map(|i| i as f64).collect(),
        Dim::Numeric { min, max, int, .. } if *int && max - min < GRID_POINTS as f64 => {
            (*min as i64..=*max as i64).map(|k| k as f64).collect()
        }
        Dim::Numeric { .. } => {
            let (lo, hi) = match dim.bounds() {
                Some((lo, hi)) if matches!(dim, Dim::Numeric { int: true, .. }) => {
                    (lo + 0.5, hi - 0.5)
                }
                Some(b) => b,
                None => unreachable!("numeric"),
            };
            let step = (hi - lo) / (GRID_POINTS - 1) as f64;
            (0..GRID_POINTS).map(|i| lo + step * i as f64).collect()
        }
    }
}

/// Probabilities on `grid` of the values `xs` (coordinates), summing to 1.
pub(super) fn pmf(dim: &Dim, grid: &[f64], xs: &[f64]) -> Vec<f64> {
    let g = grid.len();
    let mut mass = vec![1.0 / g as f64; g];
    match dim {
        Dim::Categorical { .. } => {
            for x in xs {
                let k = (x.round().max(0.0) as usize).min(g - 1);
                mass[k] += 1.0;
            }
        }
        Dim::Numeric { .. } => {
            let step = if g > 1 { grid[1] - grid[0] } else { 1.0 };
            let h = scott(xs).max(step);
            for x in xs {
                let kernel: Vec<f64> = grid
                    .iter()
                    .map(|p| (-0.5 * ((p - x) / h).powi(2)).exp())
                    .collect();
                let total: f64 = kernel.iter().sum();
                for (m, k) in mass.iter_mut().zip(kernel) {
                    *m += k / total;
                }
            }
        }
    }
    let total: f64 = mass.iter().sum();
    mass.iter().map(|m| m / total).collect()
}

/// Scott's rule, `1.06 * min(sd, IQR / 1.34) * n^(-1/5)` (0 for fewer than two values).
fn scott(xs: &[f64]) -> f64 {
    let n = xs.len();
    if n < 2 {
        return 0.0;
    }
    let mean = xs.iter().sum::<f64>() / n as f64;
    let sd = (xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt();
    let mut sorted = xs.to_vec();
    sorted.sort_by(f64::total_cmp);
    let q = |p: f64| {
        let pos = p * (n - 1) as f64;
        let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
        sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
    };
    let iqr = q(0.75) - q(0.25);
    let spread = if iqr > 0.0 { sd.min(iqr / 1.34) } else { sd };
    1.06 * spread * (n as f64).powf(-0.2)
}

/// Pearson divergence of `p` from `q` on the same grid: `sum q (p/q - 1)^2`.
pub(super) fn pearson(p: &[f64], q: &[f64]) -> f64 {
    p.iter()
        .zip(q)
        .map(|(p, q)| q * (p / q - 1.0).powi(2))
        .sum()
}
