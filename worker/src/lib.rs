//! gptsweep's worker: one command on any machine with a CPU or NVIDIA GPUs. It registers
//! with a coordinator, then, per device, long-polls for a run, trains the burn GPT,
//! streams each evaluation as it happens, keeps its lease alive, stops when told, and
//! reports samples and the outcome.
//!
//! - [`worker`]: registration, the per-device loops, draining and leaving;
//! - [`stop`]: how a worker is asked to stop (drain, then abort);
//! - [`startup`]: device and cache checks before registering;
//! - [`memory`]: what a device offers runs when packing by memory;
//! - [`health`]: a device's failures in a row, and the switch that disables it;
//! - [`faults`]: whose fault a failed run is (the run's, or the worker's environment);
//! - [`execute`]: one run from lease to finish, driving [`run_loop`] (its decisions);
//! - [`train_task`]: the compute side on a blocking thread;
//! - [`step_rate`]: its throughput over the last seconds, for progress between evaluations;
//! - [`slot_process`]: the same, in a child process (slots as processes);
//! - [`dataset_cache`]: corpora by sha256;
//! - [`kernel_sync`], [`kernel_scope`]: the fleet's kernel cache, fetched before a run and
//!   fed after it, for the devices' scope;
//! - [`backoff`]: retrying through coordinator outages.

pub mod backoff;
pub mod dataset_cache;
pub mod error;
pub mod execute;
pub mod faults;
pub mod health;
pub mod kernel_scope;
pub mod kernel_sync;
pub mod memory;
pub mod run_loop;
pub mod slot_process;
pub mod startup;
pub mod step_rate;
pub mod stop;
pub mod train_task;
pub mod warm_ahead;
pub mod worker;

pub use error::{Result, WorkerError};
pub use stop::{StopHandle, StopLevel};
pub use worker::{Ended, WorkerConfig, run};
