//! NVIDIA GPUs' memory as `nvidia-smi` reports it, mapped to the process's `cuda:N`
//! devices through `CUDA_VISIBLE_DEVICES` (see the parent module for what a GPU offers).

use std::time::Duration;

/// What the worker's own CUDA context and burn's memory pool take on a GPU beyond the
/// runs' estimates, bytes; left out of what a measured GPU offers.
pub const CUDA_CONTEXT_RESERVE: u64 = 512 << 20;

/// The arguments of the nvidia-smi query: one CSV line per GPU, memory in MiB.
pub const NVIDIA_SMI_ARGS: [&str; 2] = [
    "--query-gpu=index,uuid,name,memory.total,memory.used,memory.free",
    "--format=csv,noheader,nounits",
];

/// Longest nvidia-smi may take (a wedged driver can hang it).
pub(crate) const NVIDIA_SMI_TIMEOUT: Duration = Duration::from_secs(15);

const MIB: u64 = 1 << 20;

/// One GPU as nvidia-smi lists it. Memory in bytes; `None` where nvidia-smi answers
/// `[N/A]` or `[Not Supported]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gpu {
    /// nvidia-smi's index (PCI bus order).
    pub index: u32,
    /// `GPU-…`.
    pub uuid: String,
    /// The product name.
    pub name: String,
    /// All of its memory.
    pub total: Option<u64>,
    /// What processes hold now.
    pub used: Option<u64>,
    /// What is free now (the total less `used` and the driver's reserve).
    pub free: Option<u64>,
}

impl Gpu {
    /// What it offers runs, bytes: its free memory less [`CUDA_CONTEXT_RESERVE`]; `None`
    /// when unknown or nothing is left.
    pub fn offered(&self) -> Option<u64> {
        let free = match (self.free, self.total, self.used) {
            (Some(f), Some(t), Some(u)) => f.min(t.saturating_sub(u)),
            (Some(f), _, _) => f,
            (None, Some(t), Some(u)) => t.saturating_sub(u),
            _ => return None,
        };
        Some(free.saturating_sub(CUDA_CONTEXT_RESERVE)).filter(|&b| b > 0)
    }
}

/// The GPUs in the output of `nvidia-smi` with [`NVIDIA_SMI_ARGS`]; `None` when it is not
/// that output (a line without six fields, an index that is not a number or appears twice,
/// a UUID without `GPU-`, memory that is neither a number of MiB nor `[…]`, or no GPU).
pub fn parse_nvidia_smi(csv: &str) -> Option<Vec<Gpu>> {
    let mut gpus: Vec<Gpu> = Vec::new();
    for line in csv.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        let n = fields.len();
        if n < 6 {
            return None;
        }
        let index: u32 = fields[0].parse().ok()?;
        let uuid = fields[1];
        if !uuid.starts_with("GPU-") || gpus.iter().any(|g| g.index == index) {
            return None;
        }
        let mib = |s: &str| -> Option<Option<u64>> {
            if s.starts_with('[') || s == "N/A" {
                Some(None)
            } else {
                s.parse::<u64>().ok()?.checked_mul(MIB).map(Some)
            }
        };
        gpus.push(Gpu {
            index,
            uuid: uuid.to_string(),
            // A name with a comma in it spans several fields.
            name: fields[2..n - 3].join(", "),
            total: mib(fields[n - 3])?,
            used: mib(fields[n - 2])?,
            free: mib(fields[n - 1])?,
        });
    }
    (!gpus.is_empty()).then_some(gpus)
}

/// What each CUDA device of this process offers runs, by ordinal (`cuda:N` is entry N;
/// `None`: unknown). `visible` is `CUDA_VISIBLE_DEVICES`: unset, every GPU in order; else
/// its entries in order (an index, a `GPU-` UUID or a unique prefix of one, or a `MIG-`
/// instance, which is unknown), up to the first entry CUDA would not accept (it ignores that
/// one and the rest). `pci_bus_order` is whether `CUDA_DEVICE_ORDER=PCI_BUS_ID`: only then
/// does CUDA number GPUs as nvidia-smi does; otherwise a GPU chosen by number is counted at
/// the least that any GPU listed offers.
pub fn offered_by_ordinal(
    gpus: &[Gpu],
    visible: Option<&str>,
    pci_bus_order: bool,
) -> Vec<Option<u64>> {
    let least = || {
        gpus.iter()
            .map(Gpu::offered)
            .collect::<Option<Vec<u64>>>()?
            .into_iter()
            .min()
    };
    // CUDA numbers the GPUs it can see from 0; in PCI bus order that is nvidia-smi's order.
    let mut in_order: Vec<&Gpu> = gpus.iter().collect();
    in_order.sort_by_key(|g| g.index);
    let by_number = |k: usize| -> Option<u64> {
        let gpu = in_order.get(k)?;
        if pci_bus_order {
            gpu.offered()
        } else {
            least()
        }
    };
    let Some(visible) = visible else {
        return (0..gpus.len()).map(by_number).collect();
    };
    let mut offered = Vec::new();
    for entry in visible.split(',').map(str::trim) {
        if let Ok(k) = entry.parse::<usize>() {
            offered.push(by_number(k));
        } else if entry.starts_with("GPU-") {
            let mut matching = gpus.iter().filter(|g| g.uuid.starts_with(entry));
            offered.push(match (matching.next(), matching.next()) {
                (Some(g), None) => g.offered(),
                _ => None,
            });
        } else if entry.starts_with("MIG-") {
            offered.push(None);
        } else {
            break;
        }
    }
    offered
}

/// What nvidia-smi said about this machine's GPUs, mapped to this process's CUDA devices.
/// The default is "not measured".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CudaMemory {
    /// What each CUDA device offers runs, by ordinal.
    pub offered: Vec<Option<u64>>,
    /// Why nothing was measured (nvidia-smi missing, failed, or never asked).
    pub problem: Option<String>,
}

impl Default for CudaMemory {
    fn default() -> Self {
        Self::unmeasured("not measured")
    }
}

impl CudaMemory {
    /// Nothing measured, with the reason.
    pub fn unmeasured(problem: impl Into<String>) -> Self {
        Self {
            offered: Vec::new(),
            problem: Some(problem.into()),
        }
    }

    /// Runs `nvidia-smi` and maps its GPUs to this process's CUDA devices by
    /// `CUDA_VISIBLE_DEVICES` and `CUDA_DEVICE_ORDER`. Call it before this process touches
    /// a GPU, so that its own CUDA contexts are not counted as other processes' memory.
    pub async fn measure() -> Self {
        Self::measure_with("nvidia-smi").await
    }

    /// [`CudaMemory::measure`] with another program in nvidia-smi's place.
    pub async fn measure_with(program: &str) -> Self {
        let gpus = match run_query(program).await {
            Ok(gpus) => gpus,
            Err(problem) => return Self::unmeasured(problem),
        };
        for g in &gpus {
            let mib = |b: Option<u64>| b.map_or("?".to_string(), |b| (b / MIB).to_string());
            tracing::info!(
                "nvidia-smi: GPU {} {} ({}): {} MiB, {} MiB in use",
                g.index,
                g.name,
                g.uuid,
                mib(g.total),
                mib(g.used)
            );
        }
        let visible = std::env::var("CUDA_VISIBLE_DEVICES").ok();
        let pci = std::env::var("CUDA_DEVICE_ORDER").is_ok_and(|o| o.trim() == "PCI_BUS_ID");
        Self {
            offered: offered_by_ordinal(&gpus, visible.as_deref(), pci),
            problem: None,
        }
    }

    /// What `cuda:ordinal` offers runs, or why that is unknown.
    pub fn of(&self, ordinal: usize) -> Result<u64, String> {
        if let Some(problem) = &self.problem {
            return Err(problem.clone());
        }
        match self.offered.get(ordinal) {
            Some(Some(bytes)) => Ok(*bytes),
            Some(None) => Err(
                "nvidia-smi reports no free memory for it (a MIG instance, [N/A], or full)".into(),
            ),
            None => Err("nvidia-smi does not list it (see CUDA_VISIBLE_DEVICES)".into()),
        }
    }
}

/// The GPUs nvidia-smi lists, or a one-line reason why not.
async fn run_query(program: &str) -> Result<Vec<Gpu>, String> {
    let child = tokio::process::Command::new(program)
        .args(NVIDIA_SMI_ARGS)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = match tokio::time::timeout(NVIDIA_SMI_TIMEOUT, child).await {
        Err(_) => {
            return Err(format!(
                "{program} did not answer in {NVIDIA_SMI_TIMEOUT:?}"
            ));
        }
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(format!(
                "{program} not found (it comes with the NVIDIA driver)"
            ));
        }
        Ok(Err(e)) => return Err(format!("{program}: {e}")),
        Ok(Ok(out)) => out,
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        let said = String::from_utf8_lossy(&out.stderr);
        let said = said
            .lines()
            .chain(stdout.lines())
            .find(|l| !l.trim().is_empty());
        return Err(format!(
            "{program} failed ({}): {}",
            out.status,
            said.unwrap_or("no output").trim()
        ));
    }
    parse_nvidia_smi(&stdout).ok_or_else(|| {
        format!(
            "{program}: unexpected output: {:?}",
            stdout.lines().next().unwrap_or("")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two GPUs as a real nvidia-smi prints them (with [`NVIDIA_SMI_ARGS`]): an H100 with
    /// another process holding 10 GiB, and an idle A100.
    const TWO: &str = "0, GPU-1a2b3c4d-0000-1111-2222-333344445555, NVIDIA H100 80GB HBM3, 81559, 10240, 70784\n\
                       1, GPU-9f8e7d6c-aaaa-bbbb-cccc-ddddeeeeffff, NVIDIA A100-SXM4-40GB, 40960, 0, 40442\n";

    fn two() -> Vec<Gpu> {
        parse_nvidia_smi(TWO).unwrap()
    }

    #[test]
    fn nvidia_smi_lines_are_read_in_bytes() {
        let gpus = two();
        assert_eq!(gpus.len(), 2);
        assert_eq!(
            gpus[0],
            Gpu {
                index: 0,
                uuid: "GPU-1a2b3c4d-0000-1111-2222-333344445555".into(),
                name: "NVIDIA H100 80GB HBM3".into(),
                total: Some(81559 * MIB),
                used: Some(10240 * MIB),
                free: Some(70784 * MIB),
            }
        );
        assert_eq!(gpus[1].name, "NVIDIA A100-SXM4-40GB");
        // Offered: free memory less the worker's own context.
        assert_eq!(gpus[0].offered(), Some(70784 * MIB - CUDA_CONTEXT_RESERVE));
        assert_eq!(gpus[1].offered(), Some(40442 * MIB - CUDA_CONTEXT_RESERVE));
    }

    #[test]
    fn unavailable_fields_commas_in_names_and_older_drivers_are_handled() {
        let gpus = parse_nvidia_smi(
            "0, GPU-aa, Tesla T4, [N/A], [N/A], [N/A]\n\
             1, GPU-bb, Some, Odd Name, 16000, 1000, [Not Supported]\n\
             2, GPU-cc, Old, 8000, 8000, 0\n",
        )
        .unwrap();
        assert_eq!(gpus[0].offered(), None, "memory [N/A]: unknown");
        assert_eq!(gpus[1].name, "Some, Odd Name");
        // No free column: total less used.
        assert_eq!(gpus[1].offered(), Some(15000 * MIB - CUDA_CONTEXT_RESERVE));
        assert_eq!(gpus[2].offered(), None, "a full GPU offers nothing");
    }

    #[test]
    fn anything_but_nvidia_smi_output_is_refused() {
        for garbage in [
            "",
            "\n\n",
            "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.",
            "No devices were found",
            "index, uuid, name, memory.total [MiB], memory.used [MiB], memory.free [MiB]",
            "0, GPU-aa, T4, 15360 MiB, 0 MiB, 15000 MiB",
            "0, GPU-aa, T4, 15360, 0",
            "x, GPU-aa, T4, 15360, 0, 15000",
            "0, aa, T4, 15360, 0, 15000",
            "0, GPU-aa, T4, 15360, 0, 15000\n0, GPU-bb, T4, 15360, 0, 15000",
            "0, GPU-aa, T4, -5, 0, 15000",
        ] {
            assert_eq!(parse_nvidia_smi(garbage), None, "{garbage:?}");
        }
    }

    #[test]
    fn without_cuda_visible_devices_every_gpu_is_a_device_in_order() {
        let gpus = two();
        let (h100, a100) = (gpus[0].offered(), gpus[1].offered());
        assert_eq!(offered_by_ordinal(&gpus, None, true), vec![h100, a100]);
        // CUDA's default order (fastest first) may differ from nvidia-smi's: both GPUs are
        // counted at the least either offers.
        assert_eq!(offered_by_ordinal(&gpus, None, false), vec![a100, a100]);
        // Alike GPUs lose nothing by that.
        let alike = parse_nvidia_smi(
            "0, GPU-aa, NVIDIA L4, 23034, 0, 22500\n1, GPU-bb, NVIDIA L4, 23034, 0, 22500",
        )
        .unwrap();
        let l4 = Some(22500 * MIB - CUDA_CONTEXT_RESERVE);
        assert_eq!(offered_by_ordinal(&alike, None, false), vec![l4, l4]);
    }

    #[test]
    fn cuda_visible_devices_picks_and_reorders_gpus_by_index_or_uuid() {
        let gpus = two();
        let (h100, a100) = (gpus[0].offered(), gpus[1].offered());
        assert_eq!(offered_by_ordinal(&gpus, Some("1"), true), vec![a100]);
        assert_eq!(
            offered_by_ordinal(&gpus, Some("1,0"), true),
            vec![a100, h100]
        );
        // UUIDs (and unique prefixes) name a GPU whatever the order.
        assert_eq!(
            offered_by_ordinal(
                &gpus,
                Some("GPU-9f8e7d6c-aaaa-bbbb-cccc-ddddeeeeffff"),
                false
            ),
            vec![a100]
        );
        assert_eq!(
            offered_by_ordinal(&gpus, Some(" GPU-1a2b , GPU-9f8e"), false),
            vec![h100, a100]
        );
        // An index nobody lists, an ambiguous or unknown UUID and a MIG instance: unknown.
        assert_eq!(
            offered_by_ordinal(&gpus, Some("5,GPU-,GPU-0000,MIG-abc"), true),
            vec![None, None, None, None]
        );
        // Hidden GPUs, and CUDA's rule that an invalid entry ends the list.
        assert_eq!(offered_by_ordinal(&gpus, Some(""), true), vec![]);
        assert_eq!(offered_by_ordinal(&gpus, Some("-1"), true), vec![]);
        assert_eq!(
            offered_by_ordinal(&gpus, Some("0,bogus,1"), true),
            vec![h100]
        );
    }

    #[test]
    fn cuda_memory_says_why_a_device_is_unknown() {
        let gpus = two();
        let m = CudaMemory {
            offered: offered_by_ordinal(&gpus, Some("0,MIG-x"), true),
            problem: None,
        };
        assert_eq!(m.of(0), Ok(gpus[0].offered().unwrap()));
        assert!(m.of(1).unwrap_err().contains("MIG"));
        assert!(m.of(2).unwrap_err().contains("does not list it"));
        let none = CudaMemory::unmeasured("nvidia-smi not found");
        assert_eq!(none.of(0), Err("nvidia-smi not found".to_string()));
    }

    #[tokio::test]
    async fn a_missing_nvidia_smi_is_a_reason_not_an_error() {
        let m = CudaMemory::measure_with("/nonexistent/nvidia-smi").await;
        assert_eq!(m.offered, vec![]);
        let problem = m.problem.unwrap();
        assert!(problem.contains("not found"), "{problem}");
        // A program that fails says how.
        let m = CudaMemory::measure_with("false").await;
        assert!(m.problem.unwrap().starts_with("false failed"));
    }
}
