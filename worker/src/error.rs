//! The worker's one error type.

/// What can stop a worker or a run on it.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// The coordinator refused a call for good (bad token, bad version, bad request).
    #[error("coordinator refused {call}: {status}")]
    Refused {
        /// The RPC.
        call: &'static str,
        /// Its status.
        status: tonic::Status,
    },
    /// The run's lease is gone; the run belongs to someone else now.
    #[error("lease lost: {0}")]
    LeaseLost(String),
    /// Training or sampling failed.
    #[error(transparent)]
    Gpt(#[from] gptsweep_gpt::GptError),
    /// A dataset could not be fetched or cached.
    #[error("dataset {sha256}: {reason}")]
    Dataset {
        /// The dataset.
        sha256: String,
        /// Why.
        reason: String,
    },
    /// A malformed run handed out by the coordinator.
    #[error("run {run_id}: {reason}")]
    BadRun {
        /// The run.
        run_id: i64,
        /// What is wrong.
        reason: String,
    },
    /// A check before registering failed: a device that does not compute, a cache
    /// directory that cannot be written. Bad input: the worker takes no work.
    #[error("{0}")]
    Setup(String),
    /// The worker stopped before its work was done: aborted by a second signal, a drain
    /// that outlasted its timeout, or every device disabled.
    #[error("{0}")]
    Stopped(String),
    /// The coordinator address is unusable.
    #[error("{0}")]
    Config(String),
}

/// Result alias for the worker.
pub type Result<T, E = WorkerError> = std::result::Result<T, E>;
