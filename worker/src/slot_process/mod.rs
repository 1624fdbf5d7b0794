//! Slots as processes: a run of a slot can train in a child process of the worker (the
//! same `gptsweep` binary, `gptsweep slot-child`, hidden), with a device context of its
//! own. Measured on an H100, runs on threads of one process kept the GPU ~21% busy (one
//! CUDA context serialises their launches), while separate processes trained 2.5x faster
//! (74% busy): one context per process is what fills a GPU.
//!
//! When ([`SlotMode`], `gptsweep worker --slot-processes`): by default (`auto`) a device
//! with more than one slot runs them as processes on a GPU (`cuda`, `wgpu`) and as threads
//! on the CPU (threads share its cores through one pool; processes would each start a pool
//! of every core); one slot stays a thread (a process would pay its start and its
//! autotuning again for each run, for nothing to share). `always` and `never` force either
//! way (tests run process slots on the CPU).
//!
//! Everything above the training is unchanged: the worker stays one registered worker;
//! leases, reports, checkpoint uploads, the drain and the fault count are [`crate::execute`]'s
//! as for a thread slot. A child that crashes fails its run as a thread slot's panic does.
//! A drain reaches children through the worker, never by signal: they run in process
//! groups of their own, and exit when the worker closes their stdin or dies.
//!
//! - [`frame`]: the pipes' framing;
//! - [`message`]: what travels in the frames;
//! - [`parent`]: the worker's side;
//! - [`child`]: the child's side.

pub mod child;
pub mod frame;
pub mod message;
pub mod parent;

use std::path::PathBuf;

use gptsweep_gpt::DeviceSpec;

/// Whether a device's slots run as threads of the worker or as child processes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SlotMode {
    /// Processes for two or more slots on a GPU; threads otherwise.
    #[default]
    Auto,
    /// Always processes.
    Always,
    /// Always threads.
    Never,
}

impl SlotMode {
    /// Whether `slots` slots of `device` run as processes.
    pub fn processes(self, device: DeviceSpec, slots: usize) -> bool {
        match self {
            Self::Always => true,
            Self::Never => false,
            Self::Auto => slots > 1 && !matches!(device, DeviceSpec::Cpu),
        }
    }
}

/// How to start a slot process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotProcess {
    /// The `gptsweep` binary (the worker's own).
    pub exe: PathBuf,
    /// Whether the child logs JSON lines, as the worker does.
    pub log_json: bool,
    /// The kernel folder the child compiles into (`GPTSWEEP_KERNEL_DIR`); the node's own
    /// when `None`. A warm-up gets one of its own ([`crate::warm_ahead`]).
    pub kernel_dir: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gpus_with_several_slots_get_processes_by_default_and_flags_force_either_way() {
        let (cpu, gpu, wgpu) = (DeviceSpec::Cpu, DeviceSpec::Cuda(0), DeviceSpec::Wgpu(1));
        assert!(SlotMode::Auto.processes(gpu, 2) && SlotMode::Auto.processes(wgpu, 4));
        assert!(!SlotMode::Auto.processes(gpu, 1));
        assert!(!SlotMode::Auto.processes(cpu, 8));
        assert!(SlotMode::Always.processes(cpu, 1));
        assert!(!SlotMode::Never.processes(gpu, 4));
    }
}
