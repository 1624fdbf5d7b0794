//! The search method and the metric that ranks runs: the shared API layer's enums (named
//! once there), and the spec's pair of metric and goal. Kept apart from the spec so that
//! the checks, the planner and early termination need not depend on it for them.

use serde::{Deserialize, Serialize};

pub use gptsweep_api::{Goal, Method, MetricName};

/// What ranks runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metric {
    /// `val_loss` or `train_loss`.
    pub name: MetricName,
    /// Direction.
    pub goal: Goal,
}
