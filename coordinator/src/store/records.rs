//! Domain records the store reads and writes, apart from the generated wire types.

use serde::{Deserialize, Serialize};

use gptsweep_gpt::Eval;

/// What a worker should do with a run after a report or heartbeat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Directive {
    /// Keep training.
    Continue,
    /// Stop now, for the given reason.
    Stop(String),
}

/// How an attempt ended, as the worker says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Trained to max_iters.
    Finished,
    /// Stopped on the coordinator's word.
    Stopped,
    /// Training failed.
    Failed,
}

/// A run handed to a worker.
#[derive(Debug, Clone)]
pub struct LeasedRun {
    /// The run.
    pub run_id: i64,
    /// The attempt (lease) id.
    pub lease_id: i64,
    /// Sweep name.
    pub sweep: String,
    /// Hyperparameters as JSON.
    pub hyperparams_json: String,
    /// Dataset name.
    pub dataset_name: String,
    /// Dataset sha256.
    pub dataset_sha256: String,
    /// Whether the dataset is compiled into workers.
    pub dataset_builtin: bool,
    /// Sample settings as JSON ([`gptsweep_gpt::sample::SamplesSpec`]).
    pub samples_json: String,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// Step of the checkpoint to resume from (0 = from scratch).
    pub resume_step: u64,
}

/// A generated text stored with a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredSample {
    /// The prompt.
    pub prompt: String,
    /// Seed of the draws.
    pub seed: u64,
    /// The continuation.
    pub text: String,
}

/// Counts of a sweep's runs by state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunCounts {
    /// Waiting for a worker.
    pub queued: u32,
    /// Leased to a worker.
    pub running: u32,
    /// Trained to the end.
    pub finished: u32,
    /// Failed.
    pub failed: u32,
    /// Stopped while running.
    pub stopped: u32,
    /// Cancelled before they ran.
    pub cancelled: u32,
}

/// A sweep with its progress.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SweepInfo {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// running, finished or cancelled.
    pub state: String,
    /// grid or random.
    pub method: String,
    /// Metric name.
    pub metric: String,
    /// minimize or maximize.
    pub goal: String,
    /// Dataset name.
    pub dataset: String,
    /// Runs by state.
    pub runs: RunCounts,
    /// Best metric value so far.
    pub best: Option<f64>,
    /// Run that holds it.
    pub best_run: Option<i64>,
    /// Creation time, ms.
    pub created_at_ms: i64,
    /// Names of the swept parameters.
    pub swept: Vec<String>,
    /// Evaluations stored so far.
    pub evals_stored: u64,
    /// Evaluations a complete sweep stores.
    pub evals_expected: u64,
}

/// One run in a leaderboard.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunInfo {
    /// Rank by the sweep's metric (1 = best), over runs that have a value.
    pub rank: u32,
    /// Run id.
    pub run_id: i64,
    /// State.
    pub state: String,
    /// Swept parameters.
    pub swept: serde_json::Value,
    /// Best validation loss.
    pub best_val_loss: Option<f64>,
    /// Its step.
    pub best_step: Option<u64>,
    /// Latest train loss.
    pub last_train_loss: Option<f64>,
    /// Latest step reported.
    pub steps: u64,
    /// Parameter count.
    pub num_params: u64,
    /// Latest throughput.
    pub tokens_per_sec: f64,
    /// Seconds of training.
    pub train_secs: f64,
    /// Samples, when asked for.
    pub samples: Vec<StoredSample>,
}

/// An attempt of a run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AttemptInfo {
    /// Lease id.
    pub lease_id: i64,
    /// Worker name and id.
    pub worker: String,
    /// Device.
    pub device: String,
    /// running, finished, stopped, failed or expired.
    pub state: String,
    /// Why it ended.
    pub reason: String,
    /// Start, ms.
    pub started_at_ms: i64,
    /// End, ms.
    pub ended_at_ms: Option<i64>,
    /// Checkpoint step the attempt started from (0 = scratch).
    pub resumed_from: u64,
}

/// Everything about one run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunDetail {
    /// Run id.
    pub run_id: i64,
    /// Sweep name.
    pub sweep: String,
    /// State.
    pub state: String,
    /// All hyperparameters.
    pub hyperparams: serde_json::Value,
    /// Swept ones.
    pub swept: serde_json::Value,
    /// Evaluations in step order.
    pub evals: Vec<Eval>,
    /// Samples.
    pub samples: Vec<StoredSample>,
    /// Attempts, oldest first.
    pub attempts: Vec<AttemptInfo>,
    /// Error of the last failure.
    pub error: String,
    /// Parameter count.
    pub num_params: u64,
}

/// A registered worker.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkerRecord {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Device specs.
    pub devices: Vec<String>,
    /// Last call, ms.
    pub last_seen_ms: i64,
    /// Runs it holds now.
    pub running: Vec<i64>,
}
