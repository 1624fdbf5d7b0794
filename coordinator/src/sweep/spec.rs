//! A checked sweep ([`SweepSpec`]): what the coordinator stores and plans from. Every value
//! in it has passed the rules of `check/`; nothing here parses or checks.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use gptsweep_core::Hyperparams;
use gptsweep_core::sample::SamplesSpec;

use super::early::EarlyTerminate;
use super::metric::{Method, Metric};
use super::param::Param;
use super::tpe::TpeOptions;

/// Where the corpus comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DatasetRef {
    /// Compiled into every gptsweep binary.
    Builtin(String),
    /// A file on the submitting machine, uploaded to the coordinator.
    Path(String),
}

/// A validated sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepSpec {
    /// Unique name.
    pub name: String,
    /// What the sweep asks, for people (empty when the file has none).
    #[serde(default)]
    pub description: String,
    /// Labels to find it by.
    #[serde(default)]
    pub tags: Vec<String>,
    /// The corpus.
    pub dataset: DatasetRef,
    /// Search method.
    pub method: Method,
    /// Ranking metric.
    pub metric: Metric,
    /// Most runs to plan (grid: all points when absent).
    pub run_cap: Option<usize>,
    /// Seed of the search.
    pub seed: u64,
    /// Swept parameters by name.
    pub parameters: BTreeMap<String, Param>,
    /// Hyperparameters of every run before the swept ones are applied.
    pub base: Hyperparams,
    /// Samples of each finished run.
    pub samples: SamplesSpec,
    /// Largest training memory estimate accepted, bytes.
    pub max_memory_bytes: u64,
    /// Stop runs that fall behind at the rungs (absent in sweeps stored before it existed).
    #[serde(default)]
    pub early_terminate: Option<EarlyTerminate>,
    /// The options of `method: tpe`; absent for other methods.
    #[serde(default)]
    pub tpe: Option<TpeOptions>,
    /// Grid points that are no valid model are dropped (and counted) instead of refused.
    #[serde(default)]
    pub skip_impossible: bool,
}

/// Hard limit on planned runs, whatever the file says.
pub const MAX_RUNS: usize = 10_000;

impl SweepSpec {
    /// Every rung of early termination, however far (none without it): the budgets the
    /// tpe model and importance may take results at; budgets no run reached hold none.
    pub fn rungs(&self) -> Vec<u64> {
        self.early_terminate
            .map(|e| e.rungs(u64::MAX))
            .unwrap_or_default()
    }
}
