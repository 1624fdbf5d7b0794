//! What ranks a sweep's runs and how its points are chosen: the metric, its goal and the
//! search method, as enums named once ([`Named`]).

use serde::{Deserialize, Serialize};

use crate::state::{Named, named};

named!(
    /// The value that ranks runs.
    MetricName, "metric" {
        /// Mean validation loss at an evaluation (a run's best).
        ValLoss = "val_loss",
        /// Mean training loss at an evaluation (a run's latest).
        TrainLoss = "train_loss",
        /// Validation loss in bits per character (a run's best): compares tokenizers.
        ValBpc = "val_bpc",
        /// Training loss in bits per character (a run's latest).
        TrainBpc = "train_bpc",
    }
);

impl MetricName {
    /// Whether a run is ranked by its best value of the metric (validation metrics: these
    /// models overfit), rather than its latest (training metrics).
    pub fn ranks_by_best(self) -> bool {
        matches!(self, Self::ValLoss | Self::ValBpc)
    }
}

named!(
    /// Direction of the metric.
    Goal, "goal" {
        /// Lower is better (losses).
        Minimize = "minimize",
        /// Higher is better.
        Maximize = "maximize",
    }
);

impl Goal {
    /// Whether `a` is strictly better than `b`.
    pub fn better(self, a: f64, b: f64) -> bool {
        match self {
            Self::Minimize => a < b,
            Self::Maximize => a > b,
        }
    }
}

named!(
    /// How a sweep's points are chosen.
    Method, "method" {
        /// Cartesian product of every parameter's values.
        Grid = "grid",
        /// Independent seeded draws, `run_cap` of them.
        Random = "random",
        /// Tree-structured Parzen estimator: each run proposed, when a worker asks for
        /// one, from the results so far; `run_cap` of them.
        Tpe = "tpe",
    }
);
