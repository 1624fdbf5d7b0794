//! How much memory a device offers runs, for packing by memory (`--runs-per-device auto`).
//! `--device-memory` overrides every measurement; otherwise:
//!
//! - **CPU**: the machine's RAM (`MemTotal` in /proc/meminfo).
//! - **NVIDIA GPUs** (`cuda:N`): measured with `nvidia-smi`, which ships with the NVIDIA
//!   driver ([`CudaMemory::measure`]), once, when the worker starts and before it touches a
//!   GPU. A GPU offers its free memory then: its total less what other processes already
//!   hold on it (and what the driver reserves), less [`CUDA_CONTEXT_RESERVE`] for the
//!   worker's own CUDA context, and as much again for each slot that trains in a process of
//!   its own ([`less_slot_contexts`]): each holds a context too. Free rather than total memory because GPU nodes are shared:
//!   a Slurm job or pod beside this worker keeps its memory, and runs packed as if the GPU
//!   were empty would run out of memory (a worker fault each time: the run is requeued,
//!   but the device counts towards `--max-consecutive-failures`).
//!   `cuda:N` is the N-th GPU in CUDA's numbering ([`offered_by_ordinal`]): the N-th entry
//!   of `CUDA_VISIBLE_DEVICES` when that is set (an index or a `GPU-…` UUID), else the N-th
//!   GPU. nvidia-smi numbers GPUs by PCI bus; CUDA does so too only with
//!   `CUDA_DEVICE_ORDER=PCI_BUS_ID` (its default is fastest first). So unless that is set
//!   or the device is named by UUID, a GPU is counted at the least any GPU listed offers:
//!   exact on a node of alike GPUs, and never more than the GPU has.
//! - **Unknown**: wgpu adapters, MIG instances, and every GPU when nvidia-smi is missing
//!   or fails. Packing gives such a device one run at a time; the worker warns and names
//!   `--device-memory` as the fix.

mod nvidia_smi;

pub use nvidia_smi::*;

/// What a measured CUDA device that offered `offered` bytes offers runs when its `slots`
/// slots train in processes of their own ([`crate::slot_process`]): each such process
/// holds a CUDA context, [`CUDA_CONTEXT_RESERVE`] apiece.
pub fn less_slot_contexts(offered: u64, slots: usize) -> u64 {
    offered.saturating_sub((slots as u64).saturating_mul(CUDA_CONTEXT_RESERVE))
}

/// The machine's total RAM in bytes, where /proc/meminfo says.
pub fn total_ram() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    parse_mem_total(&text)
}

/// `MemTotal:  24576000 kB` as bytes.
fn parse_mem_total(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_slot_process_takes_a_context_from_what_a_gpu_offers() {
        let gib = 1u64 << 30;
        assert_eq!(less_slot_contexts(10 * gib, 2), 9 * gib);
        assert_eq!(less_slot_contexts(gib, 4), 0, "never below nothing");
        assert_eq!(less_slot_contexts(gib, usize::MAX), 0);
    }

    #[test]
    fn mem_total_is_read_in_bytes() {
        assert_eq!(
            parse_mem_total("MemFree: 1 kB\nMemTotal:   2048 kB\n"),
            Some(2 << 20)
        );
        assert_eq!(parse_mem_total("nothing"), None);
    }
}
