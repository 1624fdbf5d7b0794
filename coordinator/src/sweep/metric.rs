//! The search method and the metric that ranks runs: small enums that the checked spec,
//! the planner and early termination all speak, kept apart from the spec so that none of
//! those modules depends on another only for them.

use serde::{Deserialize, Serialize};

/// Search method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Cartesian product of every parameter's values.
    Grid,
    /// Independent seeded draws, `run_cap` of them.
    Random,
}

/// Direction of the metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Goal {
    /// Lower is better (losses).
    Minimize,
    /// Higher is better.
    Maximize,
}

/// What ranks runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metric {
    /// `val_loss` or `train_loss`.
    pub name: String,
    /// Direction.
    pub goal: Goal,
}
