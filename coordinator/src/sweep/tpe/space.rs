//! The search space as the kernels see it: each swept parameter that can vary becomes one
//! dimension, numeric (in log space for `log_uniform_values`, integer-valued for
//! `int_uniform`) or categorical (a `values` list, by index). A point's hyperparameter
//! values are encoded into coordinates and decoded back; parameters that cannot vary (one
//! value, or `min == max`) are kept aside and added to every decoded point.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::sweep::param::{Distribution, Param};

/// One dimension.
#[derive(Debug, Clone, PartialEq)]
pub enum Dim {
    /// A number in `[min, max]`; the kernels work on `ln x` when `log`, on integers when
    /// `int`.
    Numeric {
        /// Lower bound, as written.
        min: f64,
        /// Upper bound, as written.
        max: f64,
        /// Kernels in log space (`log_uniform_values`).
        log: bool,
        /// Integer values only (`int_uniform`).
        int: bool,
    },
    /// One of `values`, by index.
    Categorical {
        /// The listed values.
        values: Vec<Value>,
    },
}

impl Dim {
    /// The kernels' range for a numeric dimension: bounds in log space when `log`,
    /// widened by half a step for integers so that each integer owns a unit interval.
    pub fn bounds(&self) -> Option<(f64, f64)> {
        match *self {
            Dim::Numeric { min, max, log, int } => Some(match (log, int) {
                (true, _) => (min.ln(), max.ln()),
                (false, true) => (min - 0.5, max + 0.5),
                (false, false) => (min, max),
            }),
            Dim::Categorical { .. } => None,
        }
    }
}

/// The dimensions of a sweep, in parameter-name order.
#[derive(Debug, Clone, PartialEq)]
pub struct Space {
    /// Names of the dimensions.
    names: Vec<String>,
    /// The dimensions.
    dims: Vec<Dim>,
    /// Parameters that cannot vary, with their one value.
    fixed: BTreeMap<String, Value>,
}

impl Space {
    /// The space of a sweep's `parameters:`.
    pub fn of(params: &BTreeMap<String, Param>) -> Self {
        let mut space = Space {
            names: Vec::new(),
            dims: Vec::new(),
            fixed: BTreeMap::new(),
        };
        for (name, p) in params {
            let dim = match p {
                Param::Value(v) => {
                    space.fixed.insert(name.clone(), v.clone());
                    continue;
                }
                Param::Values(vs) if vs.len() == 1 => {
                    space.fixed.insert(name.clone(), vs[0].clone());
                    continue;
                }
                Param::Values(vs) => Dim::Categorical { values: vs.clone() },
                Param::Range {
                    min,
                    max,
                    distribution,
                } => {
                    let int = *distribution == Distribution::IntUniform;
                    if min == max {
                        let v = if int {
                            Value::from(*min as i64)
                        } else {
                            Value::from(*min)
                        };
                        space.fixed.insert(name.clone(), v);
                        continue;
                    }
                    Dim::Numeric {
                        min: *min,
                        max: *max,
                        log: *distribution == Distribution::LogUniformValues,
                        int,
                    }
                }
            };
            space.names.push(name.clone());
            space.dims.push(dim);
        }
        space
    }

    /// Number of dimensions.
    pub fn len(&self) -> usize {
        self.dims.len()
    }

    /// Whether nothing varies.
    pub fn is_empty(&self) -> bool {
        self.dims.is_empty()
    }

    /// The names of the dimensions, in order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The dimensions, in name order.
    pub fn dims(&self) -> &[Dim] {
        &self.dims
    }

    /// A point's coordinates; `None` when a value lies outside the space (a value no
    /// longer listed, a non-number for a range).
    pub fn encode(&self, swept: &BTreeMap<String, Value>) -> Option<Vec<f64>> {
        self.names
            .iter()
            .zip(&self.dims)
            .map(|(name, dim)| {
                let v = swept.get(name)?;
                match dim {
                    Dim::Categorical { values } => {
                        values.iter().position(|x| x == v).map(|i| i as f64)
                    }
                    Dim::Numeric { log, .. } => {
                        let x = v.as_f64().filter(|x| x.is_finite())?;
                        match log {
                            true if x > 0.0 => Some(x.ln()),
                            true => None,
                            false => Some(x),
                        }
                    }
                }
            })
            .collect()
    }

    /// The hyperparameter values of coordinates `x` (fixed parameters included): numbers
    /// clamped to their bounds, integers rounded, categories by nearest index.
    pub fn decode(&self, x: &[f64]) -> BTreeMap<String, Value> {
        let mut out = self.fixed.clone();
        for ((name, dim), &xi) in self.names.iter().zip(&self.dims).zip(x) {
            let v = match dim {
                Dim::Categorical { values } => {
                    let i = (xi.round().max(0.0) as usize).min(values.len() - 1);
                    values[i].clone()
                }
                Dim::Numeric { min, max, log, int } => {
                    let v = if *log { xi.exp() } else { xi };
                    if *int {
                        Value::from(v.round().clamp(*min, *max) as i64)
                    } else {
                        Value::from(v.clamp(*min, *max))
                    }
                }
            };
            out.insert(name.clone(), v);
        }
        out
    }
}
