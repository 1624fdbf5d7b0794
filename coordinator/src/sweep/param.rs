//! A swept parameter as the planner sees it: one value, a list, or a range with a
//! distribution, and how to draw from it.

use serde::{Deserialize, Serialize};

use gptsweep_core::rng::Rng;

/// Distribution of a ranged or listed parameter (W&B's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Distribution {
    /// Uniform float in [min, max].
    Uniform,
    /// Uniform integer in [min, max].
    IntUniform,
    /// exp(uniform(ln min, ln max)): for learning rates.
    LogUniformValues,
    /// One of `values`, equally likely.
    Categorical,
}

impl Distribution {
    /// Parses W&B's name.
    pub fn parse(s: &str) -> Option<Self> {
        serde_json::from_value(serde_json::Value::String(s.into())).ok()
    }
}

/// How one hyperparameter varies across the sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Param {
    /// The same value in every run.
    Value(serde_json::Value),
    /// A list: a grid axis, or drawn from with equal probability.
    Values(Vec<serde_json::Value>),
    /// A numeric range.
    Range {
        /// Lower bound.
        min: f64,
        /// Upper bound.
        max: f64,
        /// How values are drawn.
        distribution: Distribution,
    },
}

impl Param {
    /// A range (tests build spaces with it).
    #[cfg(test)]
    pub(crate) fn range(min: f64, max: f64, distribution: Distribution) -> Self {
        Param::Range {
            min,
            max,
            distribution,
        }
    }

    /// The values a grid enumerates, or `None` for a continuous range.
    pub fn grid_values(&self) -> Option<Vec<serde_json::Value>> {
        match self {
            Param::Value(v) => Some(vec![v.clone()]),
            Param::Values(vs) => Some(vs.clone()),
            Param::Range {
                min,
                max,
                distribution: Distribution::IntUniform,
            } => Some(
                (*min as i64..=*max as i64)
                    .map(serde_json::Value::from)
                    .collect(),
            ),
            Param::Range { .. } => None,
        }
    }

    /// One random draw.
    pub fn draw(&self, rng: &mut Rng) -> serde_json::Value {
        match self {
            Param::Value(v) => v.clone(),
            Param::Values(vs) => vs[rng.below(vs.len() as u64) as usize].clone(),
            Param::Range {
                min,
                max,
                distribution,
            } => match distribution {
                Distribution::IntUniform => {
                    let (lo, hi) = (*min as i64 as i128, *max as i64 as i128);
                    let span = (hi - lo + 1).min(u64::MAX as i128) as u64;
                    ((lo + rng.below(span) as i128) as i64).into()
                }
                Distribution::LogUniformValues => {
                    let (lo, hi) = (min.ln(), max.ln());
                    (lo + rng.unit_f64() * (hi - lo)).exp().into()
                }
                Distribution::Uniform | Distribution::Categorical => {
                    (min + rng.unit_f64() * (max - min)).into()
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gptsweep_core::rng::Stream;

    #[test]
    fn draws_stay_within_their_ranges() {
        let mut rng = Rng::keyed(1, Stream::Sample, 0);
        let log = Param::Range {
            min: 1e-4,
            max: 1e-2,
            distribution: Distribution::LogUniformValues,
        };
        let int = Param::Range {
            min: 2.0,
            max: 4.0,
            distribution: Distribution::IntUniform,
        };
        let mut ints = std::collections::BTreeSet::new();
        for _ in 0..500 {
            let v = log.draw(&mut rng).as_f64().unwrap();
            assert!((1e-4..=1e-2).contains(&v));
            ints.insert(int.draw(&mut rng).as_i64().unwrap());
        }
        assert_eq!(ints.into_iter().collect::<Vec<_>>(), vec![2, 3, 4]);
    }
}
