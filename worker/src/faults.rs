//! Whose fault a failed run is. A run's own fault (it diverged, its hyperparameters or
//! data are bad) counts against its attempts; the worker's environment failing (the
//! device, its memory, the disk, a dataset that cannot be fetched or cached) does not: the
//! run is handed back to be trained elsewhere, and the device counts the failure towards
//! `--max-consecutive-failures`.

use gptsweep_gpt::GptError;

use crate::error::WorkerError;

/// Who is to blame for a failed run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The run itself: counted against its attempts.
    Run,
    /// The worker's device, memory or disk: the run is queued again, not counted.
    Worker,
}

/// Words in a panic message that point at the device rather than the run (burn and cubecl
/// panic on a lost device or an exhausted memory pool).
const DEVICE_WORDS: &[&str] = &[
    "out of memory",
    "OutOfMemory",
    "CUDA",
    "cuda",
    "device",
    "Device",
    "driver",
    "allocation",
];

/// The fault of a trainer error.
pub fn of_gpt(err: &GptError) -> Fault {
    match err {
        GptError::Io { .. } | GptError::Device { .. } => Fault::Worker,
        _ => Fault::Run,
    }
}

/// The fault of a worker-side error while preparing or running a run.
pub fn of_worker(err: &WorkerError) -> Fault {
    match err {
        WorkerError::Dataset { .. } => Fault::Worker,
        WorkerError::Gpt(e) => of_gpt(e),
        _ => Fault::Run,
    }
}

/// The fault of a panic on the training thread, from its message.
pub fn of_panic(message: &str) -> Fault {
    if DEVICE_WORDS.iter().any(|w| message.contains(w)) {
        Fault::Worker
    } else {
        Fault::Run
    }
}

/// A panic on the training thread (or a slot process's), from its text
/// ([`gptsweep_api::panic::panic_text`]): whose fault, and the error reported.
pub fn training_panicked(message: &str) -> (Fault, String) {
    (
        of_panic(message),
        format!("training thread panicked: {message}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_failures_are_the_workers_and_bad_runs_are_the_runs() {
        let io = GptError::Io {
            path: "/x".into(),
            source: std::io::Error::other("disk full"),
        };
        assert_eq!(of_gpt(&io), Fault::Worker);
        let device = GptError::Device {
            spec: "cuda:0".into(),
            reason: "lost".into(),
        };
        assert_eq!(of_gpt(&device), Fault::Worker);
        assert_eq!(
            of_gpt(&GptError::invalid("lr", 0, "must be > 0")),
            Fault::Run
        );
        let dataset = WorkerError::Dataset {
            sha256: "ab".into(),
            reason: "cannot cache".into(),
        };
        assert_eq!(of_worker(&dataset), Fault::Worker);
        assert_eq!(
            of_panic("CUDA error: out of memory allocating 2 GiB"),
            Fault::Worker
        );
        assert_eq!(of_panic("index out of bounds: the len is 3"), Fault::Run);
    }
}
