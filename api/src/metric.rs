//! What ranks a sweep's runs and how its points are chosen: the metric, its goal and the
//! search method, as enums named once ([`Named`](crate::state::Named)).

use serde::{Deserialize, Serialize};

use crate::state::impl_named;

/// The value that ranks runs.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::VariantArray,
    strum::Display,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum MetricName {
    /// Mean validation loss at an evaluation (a run's best).
    ValLoss,
    /// Mean training loss at an evaluation (a run's latest).
    TrainLoss,
    /// Validation loss in bits per character (a run's best): compares tokenizers.
    ValBpc,
    /// Training loss in bits per character (a run's latest).
    TrainBpc,
}
impl_named!(MetricName, "metric");

impl MetricName {
    /// Whether a run is ranked by its best value of the metric (validation metrics: these
    /// models overfit), rather than its latest (training metrics).
    pub fn ranks_by_best(self) -> bool {
        matches!(self, Self::ValLoss | Self::ValBpc)
    }
}

/// Direction of the metric.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::VariantArray,
    strum::Display,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Goal {
    /// Lower is better (losses).
    Minimize,
    /// Higher is better.
    Maximize,
}
impl_named!(Goal, "goal");

impl Goal {
    /// Whether `a` is strictly better than `b`.
    pub fn better(self, a: f64, b: f64) -> bool {
        match self {
            Self::Minimize => a < b,
            Self::Maximize => a > b,
        }
    }
}

/// How a sweep's points are chosen.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::VariantArray,
    strum::Display,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Method {
    /// Cartesian product of every parameter's values.
    Grid,
    /// Independent seeded draws, `run_cap` of them.
    Random,
    /// Tree-structured Parzen estimator: each run proposed, when a worker asks for
    /// one, from the results so far; `run_cap` of them.
    Tpe,
}
impl_named!(Method, "method");
