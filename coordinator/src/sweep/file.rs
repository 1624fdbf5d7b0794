//! The sweep file exactly as written: serde types with every value spanned, so that any
//! later check can point at its line and column. Unknown keys are refused by serde, and
//! `check/unknown_keys.rs` reads on past each to report them all.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_saphyr::Spanned;

/// A scalar as YAML gives it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Scalar {
    /// `true` / `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// Text.
    Str(String),
}

impl Scalar {
    /// The value as JSON, for deserialising into typed hyperparameters.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Scalar::Bool(b) => (*b).into(),
            Scalar::Int(i) => (*i).into(),
            Scalar::Float(x) => serde_json::Number::from_f64(*x)
                .map(serde_json::Value::Number)
                .unwrap_or(serde_json::Value::Null),
            Scalar::Str(s) => s.clone().into(),
        }
    }

    /// The value as a number, if it is one.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Scalar::Int(i) => Some(*i as f64),
            Scalar::Float(x) => Some(*x),
            _ => None,
        }
    }
}

/// How one parameter is swept (W&B's vocabulary).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParamFile {
    /// A single fixed value.
    pub value: Option<Spanned<Scalar>>,
    /// A list of values (grid axis, or categorical draws).
    pub values: Option<Spanned<Vec<Scalar>>>,
    /// Lower bound of a range.
    pub min: Option<Spanned<Scalar>>,
    /// Upper bound of a range.
    pub max: Option<Spanned<Scalar>>,
    /// uniform | int_uniform | log_uniform_values | categorical.
    pub distribution: Option<Spanned<String>>,
    /// W&B's nested parameters: named to be refused with a reason.
    pub parameters: Option<Spanned<IgnoredAny>>,
    /// W&B's normal distributions' mean: refused with a reason.
    pub mu: Option<Spanned<IgnoredAny>>,
    /// W&B's normal distributions' spread: refused with a reason.
    pub sigma: Option<Spanned<IgnoredAny>>,
    /// W&B's quantisation step: refused with a reason.
    pub q: Option<Spanned<IgnoredAny>>,
    /// W&B's weights of `values`: refused with a reason.
    pub probabilities: Option<Spanned<IgnoredAny>>,
}

/// `metric:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricFile {
    /// val_loss or train_loss.
    pub name: Spanned<String>,
    /// minimize (maximize is refused: every metric is a loss).
    pub goal: Option<Spanned<String>>,
    /// W&B's value that ends the sweep when a run reaches it: refused with a reason.
    pub target: Option<Spanned<IgnoredAny>>,
}

/// `samples:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SamplesFile {
    /// Text each sample continues.
    pub prompt: Option<Spanned<String>>,
    /// Characters per sample.
    pub length: Option<Spanned<i64>>,
    /// Softmax temperature.
    pub temperature: Option<Spanned<f64>>,
    /// Top-k filter.
    pub top_k: Option<Spanned<i64>>,
    /// Samples per run.
    pub count: Option<Spanned<i64>>,
    /// Seed of the first sample (the next ones use seed + 1, ...).
    pub seed: Option<Spanned<u64>>,
}

/// `early_terminate:` (W&B's keys; `max_iter`, `s` and `strict` are named to be refused
/// with a reason rather than as unknown).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EarlyTerminateFile {
    /// hyperband.
    #[serde(rename = "type")]
    pub kind: Spanned<String>,
    /// Steps to the first rung.
    pub min_iter: Option<Spanned<i64>>,
    /// Keep 1/eta of the runs at each rung (default 3).
    pub eta: Option<Spanned<i64>>,
    /// W&B's alternative to min_iter: refused, naming the min_iter of the same rungs.
    pub max_iter: Option<Spanned<i64>>,
    /// W&B's bracket count with max_iter.
    pub s: Option<Spanned<i64>>,
    /// W&B's stricter pruning variant; not supported.
    pub strict: Option<Spanned<IgnoredAny>>,
}

/// `tpe:`: the options of `method: tpe` (Optuna's names).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TpeFile {
    /// Random runs before the model is used.
    pub n_startup: Option<Spanned<i64>>,
    /// Candidates drawn per proposal.
    pub n_ei_candidates: Option<Spanned<i64>>,
    /// Fraction of results in the "below" group.
    pub gamma: Option<Spanned<f64>>,
}

/// A whole sweep file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepFile {
    /// Unique per coordinator; defaults to the file's stem.
    pub name: Option<Spanned<String>>,
    /// What the sweep asks, shown by `sweeps` and the dashboard.
    pub description: Option<Spanned<String>>,
    /// Labels to find it by.
    pub tags: Option<Spanned<Vec<Spanned<String>>>>,
    /// A built-in corpus name or a path on the submitting machine.
    pub dataset: Option<Spanned<String>>,
    /// char or gpt2: every run's tokenizer (sweep it under `parameters:` instead).
    pub tokenizer: Option<Spanned<String>>,
    /// grid | random | tpe.
    pub method: Spanned<String>,
    /// What ranks the runs.
    pub metric: Option<Spanned<MetricFile>>,
    /// Most runs to plan; required for random and tpe.
    pub run_cap: Option<Spanned<i64>>,
    /// Seed of the random search.
    pub seed: Option<Spanned<u64>>,
    /// Swept parameters.
    pub parameters: Option<Spanned<BTreeMap<String, Spanned<ParamFile>>>>,
    /// Fixed hyperparameters of every run.
    pub train: Option<Spanned<BTreeMap<String, Spanned<Scalar>>>>,
    /// Options of `method: tpe`.
    pub tpe: Option<Spanned<TpeFile>>,
    /// Early termination of runs that fall behind.
    pub early_terminate: Option<Spanned<EarlyTerminateFile>>,
    /// Text each finished run generates.
    pub samples: Option<Spanned<SamplesFile>>,
    /// Refuse models whose training needs more memory than this many GiB (default 80).
    pub max_memory_gb: Option<Spanned<f64>>,
    /// Drop the grid points that are no valid model instead of refusing the sweep.
    pub skip_impossible: Option<Spanned<bool>>,
    /// W&B's agent key: the script each run executes (refused with a reason in
    /// `check/wandb.rs`, rather than as an unknown key, which would stop at the first).
    pub program: Option<Spanned<IgnoredAny>>,
    /// W&B's agent key: the command line of each run.
    pub command: Option<Spanned<IgnoredAny>>,
    /// W&B's project the runs are logged to.
    pub project: Option<Spanned<IgnoredAny>>,
    /// W&B's user or team.
    pub entity: Option<Spanned<IgnoredAny>>,
}
