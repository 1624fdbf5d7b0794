//! The records both ends of the wire speak: a sweep with its progress, a leaderboard row,
//! one run in full, an attempt, a worker, an evaluation, a sample, and the run a worker
//! leases. The coordinator's store reads and writes them; the CLI prints them; the worker
//! sends and receives them.

use serde::{Deserialize, Serialize};

use crate::ids::{LeaseId, RunId, SweepId, WorkerId};
use crate::metric::{Goal, Method, MetricName};
use crate::progress::RunProgress;
use crate::state::{AttemptState, RunState, SweepState};

/// One evaluation of a run: mean losses over `eval_iters` batches of each split, per token
/// and in bits per character (which compare across tokenizers).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// Completed optimisation steps when it was taken.
    pub step: u64,
    /// Mean loss on train batches.
    pub train_loss: f32,
    /// Mean loss on val batches.
    pub val_loss: f32,
    /// `train_loss` in bits per character of the train text.
    pub train_bpc: f32,
    /// `val_loss` in bits per character of the val text.
    pub val_bpc: f32,
    /// Training throughput since the previous evaluation, tokens per second.
    pub tokens_per_sec: f64,
    /// Seconds spent training up to this evaluation, over all attempts.
    pub train_secs: f64,
}

impl Evaluation {
    /// The value of `metric` at this evaluation.
    pub fn metric(&self, metric: MetricName) -> f32 {
        match metric {
            MetricName::ValLoss => self.val_loss,
            MetricName::TrainLoss => self.train_loss,
            MetricName::ValBpc => self.val_bpc,
            MetricName::TrainBpc => self.train_bpc,
        }
    }
}

/// The wire's form of a trainer's evaluation (the same numbers; steps as the wire counts).
impl From<&gptsweep_core::Eval> for Evaluation {
    fn from(e: &gptsweep_core::Eval) -> Self {
        Self {
            step: e.step as u64,
            train_loss: e.train_loss,
            val_loss: e.val_loss,
            train_bpc: e.train_bpc,
            val_bpc: e.val_bpc,
            tokens_per_sec: e.tokens_per_sec,
            train_secs: e.train_secs,
        }
    }
}

/// A generated text stored with a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
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

impl RunCounts {
    /// The count of runs in `state`, to add to.
    pub fn of_mut(&mut self, state: RunState) -> &mut u32 {
        match state {
            RunState::Queued => &mut self.queued,
            RunState::Running => &mut self.running,
            RunState::Finished => &mut self.finished,
            RunState::Failed => &mut self.failed,
            RunState::Stopped => &mut self.stopped,
            RunState::Cancelled => &mut self.cancelled,
        }
    }

    /// Every run of the sweep.
    pub fn total(&self) -> u32 {
        self.queued + self.running + self.finished + self.failed + self.stopped + self.cancelled
    }
}

/// A sweep with its progress.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepSummary {
    /// Id.
    pub id: SweepId,
    /// Name.
    pub name: String,
    /// Whether it is running, finished or cancelled.
    pub state: SweepState,
    /// Search method.
    pub method: Method,
    /// The metric that ranks its runs.
    pub metric: MetricName,
    /// The metric's direction.
    pub goal: Goal,
    /// Dataset name.
    pub dataset: String,
    /// Runs by state.
    pub runs: RunCounts,
    /// Best metric value so far.
    pub best: Option<f64>,
    /// Run that holds it.
    pub best_run: Option<RunId>,
    /// Creation time, ms since the epoch.
    pub created_at_ms: i64,
    /// Names of the swept parameters.
    pub swept: Vec<String>,
    /// Evaluations stored so far.
    pub evals_stored: u64,
    /// Evaluations a complete sweep stores.
    pub evals_expected: u64,
    /// Runs made so far: all of a grid or random sweep's at submit; a tpe sweep's as
    /// workers ask for them.
    pub proposed: u32,
    /// Runs the sweep makes in all (a tpe sweep's `run_cap`).
    pub run_cap: u32,
    /// What the sweep asks (the sweep file's `description:`; empty when none).
    pub description: String,
    /// Labels to find it by (the sweep file's `tags:`).
    pub tags: Vec<String>,
    /// The precision of every run's products where the sweep fixes one other than f32
    /// (`bf16`); empty where it is f32 or swept (then each run's parameters name it).
    /// Absent from the JSON when empty, so an f32 sweep's documents are as before.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub precision: String,
}

/// Queued runs of a sweep that no live worker's device has the memory for: they are not
/// leased (they could only fail there) and wait for a device large enough.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryShortfall {
    /// How many queued runs fit no live device.
    pub runs: u32,
    /// The smallest training-memory estimate among them, bytes.
    pub needs_bytes: u64,
    /// The most memory a live worker's device offers, bytes.
    pub largest_device_bytes: u64,
}

/// A sweep's status: its summary, and the queued runs too large for every live device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepStatus {
    /// Counts, best run, progress.
    #[serde(flatten)]
    pub summary: SweepSummary,
    /// Queued runs no live worker's device can take, when there are any.
    pub too_large: Option<MemoryShortfall>,
}

/// One run in a leaderboard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeaderboardRow {
    /// Rank by the sweep's metric (1 = best); runs without a value come last.
    pub rank: u32,
    /// Run id.
    pub run: RunId,
    /// State.
    pub state: RunState,
    /// The swept parameters, by name.
    pub params: serde_json::Map<String, serde_json::Value>,
    /// Best validation loss.
    pub best_val_loss: Option<f64>,
    /// Best validation loss in bits per character.
    pub best_val_bpc: Option<f64>,
    /// The step it was reached at.
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
    pub samples: Vec<Sample>,
    /// A running run's latest step, between evaluations.
    pub progress: Option<RunProgress>,
    /// Its name (`gptsweep annotate RUN --name`); empty = none.
    pub name: String,
    /// Its note (`gptsweep annotate RUN --note`); empty = none.
    pub note: String,
    /// When it ended (finished, stopped, failed), ms since the epoch: the order of the
    /// optimisation history.
    pub finished_at_ms: Option<i64>,
}

/// A sweep's leaderboard: the sweep and its runs, best first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Leaderboard {
    /// The sweep, with its progress.
    pub sweep: SweepSummary,
    /// Its runs ranked by the metric.
    pub rows: Vec<LeaderboardRow>,
}

/// One run's loss curves, columnar (the dashboard draws every run of a sweep at once).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunCurves {
    /// Run id.
    pub run: RunId,
    /// State.
    pub state: RunState,
    /// The swept parameters, by name.
    pub params: serde_json::Map<String, serde_json::Value>,
    /// Steps of its evaluations, ascending.
    pub steps: Vec<u64>,
    /// Train loss at each step.
    pub train_loss: Vec<f32>,
    /// Validation loss at each step.
    pub val_loss: Vec<f32>,
}

/// How much one swept hyperparameter mattered in a sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HyperparamImportance {
    /// The hyperparameter.
    pub name: String,
    /// Its share of the summed divergences (0..1; the shares sum to 1, or all are 0).
    pub importance: f64,
    /// The Pearson divergence of the best runs' values from all runs' values.
    pub divergence: f64,
    /// The best runs' values of it, best run first.
    pub top_values: Vec<serde_json::Value>,
    /// The standard deviation of `importance` over bootstrap resamples of the results:
    /// how much it rests on which runs happened to be there (`None` from a coordinator
    /// that does not say).
    pub spread: Option<f64>,
}

/// Which swept hyperparameters mattered in a sweep, by PED-ANOVA.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImportanceReport {
    /// The sweep's name.
    pub sweep: String,
    /// The metric the runs are ranked by.
    pub metric: MetricName,
    /// The results used: "whole runs", or "the rung at evaluation N".
    pub budget: String,
    /// Runs with a result there.
    pub results: u32,
    /// Of which the best runs, compared with all.
    pub top: u32,
    /// Every hyperparameter that varies, most important first.
    pub params: Vec<HyperparamImportance>,
}

/// An attempt at a run: one lease, from start to end.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attempt {
    /// Lease id.
    pub lease: LeaseId,
    /// Worker name and id (`name#id`).
    pub worker: String,
    /// Device.
    pub device: String,
    /// How it stands or ended.
    pub state: AttemptState,
    /// Why it ended.
    pub reason: String,
    /// Start, ms since the epoch.
    pub started_at_ms: i64,
    /// End, ms since the epoch.
    pub ended_at_ms: Option<i64>,
    /// Checkpoint step the attempt started from (0 = scratch).
    pub resumed_from: u64,
}

/// Everything about one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunDetail {
    /// Run id.
    pub run: RunId,
    /// Sweep name.
    pub sweep: String,
    /// State.
    pub state: RunState,
    /// All hyperparameters.
    pub hyperparams: serde_json::Map<String, serde_json::Value>,
    /// The swept ones.
    pub swept: serde_json::Map<String, serde_json::Value>,
    /// Evaluations in step order.
    pub evals: Vec<Evaluation>,
    /// Samples.
    pub samples: Vec<Sample>,
    /// Attempts, oldest first.
    pub attempts: Vec<Attempt>,
    /// Error of the last failure, or why it stopped.
    pub error: String,
    /// Parameter count.
    pub num_params: u64,
    /// A running run's latest step, between evaluations.
    pub progress: Option<RunProgress>,
    /// Its name (`gptsweep annotate RUN --name`); empty = none.
    pub name: String,
    /// Its note (`gptsweep annotate RUN --note`); empty = none.
    pub note: String,
}

/// A registered worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkerInfo {
    /// Id.
    pub id: WorkerId,
    /// Name.
    pub name: String,
    /// Device specs.
    pub devices: Vec<String>,
    /// Last call, ms since the epoch.
    pub last_seen_ms: i64,
    /// Runs it holds now.
    pub running: Vec<RunId>,
    /// Whether it called within the lease timeout (and has not left).
    pub alive: bool,
    /// Why it left (drained on a signal, idle, every device disabled), once it has.
    pub left: Option<String>,
    /// Devices that stopped taking work, with why.
    pub disabled: Vec<DisabledDevice>,
    /// Each device's memory and the runs on it.
    pub loads: Vec<DeviceLoad>,
}

/// One device of a worker: its memory and the runs training on it now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceLoad {
    /// The device spec.
    pub device: String,
    /// What runs may use on it, bytes; 0 = unknown.
    pub memory_bytes: u64,
    /// The training-memory estimates of its runs, summed.
    pub used_bytes: u64,
    /// Its runs.
    pub runs: Vec<RunId>,
}

/// A device of a worker that stopped taking work.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisabledDevice {
    /// The device spec (`cpu`, `cuda:0`).
    pub device: String,
    /// Why: its runs failed this many times in a row, the last error.
    pub reason: String,
}

/// A run handed to a worker.
#[derive(Debug, Clone, PartialEq)]
pub struct LeasedRun {
    /// The run.
    pub run: RunId,
    /// The attempt; every later call about the run names it.
    pub lease: LeaseId,
    /// Sweep name.
    pub sweep: String,
    /// Every hyperparameter, as the trainer's JSON (the worker parses it once).
    pub hyperparams_json: String,
    /// Dataset name.
    pub dataset_name: String,
    /// Dataset sha256.
    pub dataset_sha256: String,
    /// Whether the dataset is compiled into workers.
    pub dataset_builtin: bool,
    /// Sample settings, as the trainer's JSON.
    pub samples_json: String,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// Step of the checkpoint to resume from (0 = from scratch).
    pub resume_step: u64,
}

/// What a submit queued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Submitted {
    /// Sweep id.
    pub id: SweepId,
    /// Sweep name.
    pub name: String,
    /// Runs the sweep makes: all queued now, except a tpe sweep's after its startup runs,
    /// which are proposed as workers ask for them.
    pub runs: u32,
}
